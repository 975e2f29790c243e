// RUN: quant-opt %s --split-input-file --quantc-contiguous-inner-loop | FileCheck %s

// A matmul runs i, j, k with k (a reduction) innermost; the pass generalizes
// it and moves j, the output's last dimension, innermost: i, k, j.

// CHECK-DAG: #[[$A:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[$B:.+]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[$C:.+]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-LABEL: func.func @matmul
// CHECK-NOT: linalg.matmul
// CHECK: linalg.generic
// CHECK-SAME: indexing_maps = [#[[$A]], #[[$B]], #[[$C]]]
// CHECK-SAME: iterator_types = ["parallel", "reduction", "parallel"]
// CHECK: arith.mulf
// CHECK: arith.addf
func.func @matmul(%a: memref<4x8xf32>, %b: memref<8x16xf32>, %c: memref<4x16xf32>) {
  linalg.matmul ins(%a, %b : memref<4x8xf32>, memref<8x16xf32>)
                outs(%c : memref<4x16xf32>)
  return
}

// -----

// Already a linalg.generic, on tensors: interchanged in place.

// CHECK-DAG: #[[$A:.+]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[$B:.+]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG: #[[$C:.+]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-LABEL: func.func @generic_matmul_on_tensors
// CHECK: linalg.generic
// CHECK-SAME: indexing_maps = [#[[$A]], #[[$B]], #[[$C]]]
// CHECK-SAME: iterator_types = ["parallel", "reduction", "parallel"]
// CHECK: } -> tensor<4x16xf32>
func.func @generic_matmul_on_tensors(%a: tensor<4x8xf32>, %b: tensor<8x16xf32>,
                                     %c: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %r = linalg.generic {
      indexing_maps = [affine_map<(i, j, k) -> (i, k)>,
                       affine_map<(i, j, k) -> (k, j)>,
                       affine_map<(i, j, k) -> (i, j)>],
      iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<4x8xf32>, tensor<8x16xf32>)
      outs(%c : tensor<4x16xf32>) {
  ^bb0(%x: f32, %y: f32, %acc: f32):
    %m = arith.mulf %x, %y : f32
    %s = arith.addf %acc, %m : f32
    linalg.yield %s : f32
  } -> tensor<4x16xf32>
  return %r : tensor<4x16xf32>
}

// -----

// A convolution runs (n, oh, ow, f, kh, kw, c); f, the output channel, is
// the output's last dimension and the filter's last, so it moves innermost.
// The input, indexed by `ow + kw`, does not depend on f.

// CHECK-DAG: #[[$IN:.+]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1 + d3, d2 + d4, d5)>
// CHECK-DAG: #[[$FILTER:.+]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d3, d4, d5, d6)>
// CHECK-DAG: #[[$OUT:.+]] = affine_map<(d0, d1, d2, d3, d4, d5, d6) -> (d0, d1, d2, d6)>
// CHECK-LABEL: func.func @conv_2d_nhwc_hwcf
// CHECK-NOT: linalg.conv_2d_nhwc_hwcf
// CHECK: linalg.generic
// CHECK-SAME: indexing_maps = [#[[$IN]], #[[$FILTER]], #[[$OUT]]]
// CHECK-SAME: iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction", "parallel"]
func.func @conv_2d_nhwc_hwcf(%in: memref<1x8x8x3xf32>, %filter: memref<3x3x3x4xf32>,
                             %out: memref<1x6x6x4xf32>) {
  linalg.conv_2d_nhwc_hwcf
      ins(%in, %filter : memref<1x8x8x3xf32>, memref<3x3x3x4xf32>)
      outs(%out : memref<1x6x6x4xf32>)
  return
}

// -----

// B is transposed: j indexes B's first dimension, so a j-innermost loop would
// walk B with stride 8. The dot product over contiguous rows stays.

// CHECK-LABEL: func.func @matmul_transposed_b_unchanged
// CHECK-NOT: linalg.generic
// CHECK: linalg.matmul
func.func @matmul_transposed_b_unchanged(%a: memref<4x8xf32>, %b: memref<16x8xf32>,
                                         %c: memref<4x16xf32>) {
  linalg.matmul indexing_maps = [affine_map<(i, j, k) -> (i, k)>,
                                 affine_map<(i, j, k) -> (j, k)>,
                                 affine_map<(i, j, k) -> (i, j)>]
                ins(%a, %b : memref<4x8xf32>, memref<16x8xf32>)
                outs(%c : memref<4x16xf32>)
  return
}

// -----

// No reduction: the innermost loop already walks the output's last dimension.

// CHECK-LABEL: func.func @elementwise_unchanged
// CHECK-NOT: linalg.generic
// CHECK: linalg.add
func.func @elementwise_unchanged(%a: memref<4x8xf32>, %b: memref<4x8xf32>,
                                 %c: memref<4x8xf32>) {
  linalg.add ins(%a, %b : memref<4x8xf32>, memref<4x8xf32>)
             outs(%c : memref<4x8xf32>)
  return
}

// -----

// A row sum: the output's last dimension, i, indexes A's first dimension, so
// an i-innermost loop would walk A with stride 8. The reduction stays inside.

// CHECK-DAG: #[[$IN:.+]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[$OUT:.+]] = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func.func @row_sum_unchanged
// CHECK: linalg.generic
// CHECK-SAME: indexing_maps = [#[[$IN]], #[[$OUT]]]
// CHECK-SAME: iterator_types = ["parallel", "reduction"]
func.func @row_sum_unchanged(%a: memref<4x8xf32>, %sum: memref<4xf32>) {
  linalg.generic {
      indexing_maps = [affine_map<(i, k) -> (i, k)>, affine_map<(i, k) -> (i)>],
      iterator_types = ["parallel", "reduction"]}
      ins(%a : memref<4x8xf32>) outs(%sum : memref<4xf32>) {
  ^bb0(%x: f32, %acc: f32):
    %s = arith.addf %acc, %x : f32
    linalg.yield %s : f32
  }
  return
}
