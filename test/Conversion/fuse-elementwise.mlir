// RUN: quant-opt %s --quantc-fuse-elementwise --split-input-file | FileCheck %s

// Nothing is fused into a contraction: the softmax division stays its own
// loop and the batch_matmul behind a collapse_shape stays a batch_matmul
// (upstream's linalg-fuse-elementwise-ops makes both one 5-D generic whose
// transposed operand access quantc-vectorize-contractions cannot tile).

#id = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @attention_values
// CHECK:         %[[P:.*]] = linalg.generic
// CHECK:           arith.divf
// CHECK:         %[[V:.*]] = tensor.collapse_shape
// CHECK:         linalg.batch_matmul ins(%[[P]], %[[V]] : tensor<4x128x128xf32>, tensor<4x128x64xf32>)
func.func @attention_values(%p: tensor<4x128x128xf32>, %s: tensor<4x128x128xf32>, %v: tensor<1x4x128x64xf32>) -> tensor<4x128x64xf32> {
  %z = arith.constant 0.0 : f32
  %e0 = tensor.empty() : tensor<4x128x128xf32>
  %probs = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel", "parallel"]} ins(%p, %s : tensor<4x128x128xf32>, tensor<4x128x128xf32>) outs(%e0 : tensor<4x128x128xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %r = arith.divf %a, %b : f32
    linalg.yield %r : f32
  } -> tensor<4x128x128xf32>
  %c = tensor.collapse_shape %v [[0, 1], [2], [3]] : tensor<1x4x128x64xf32> into tensor<4x128x64xf32>
  %e = tensor.empty() : tensor<4x128x64xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<4x128x64xf32>) -> tensor<4x128x64xf32>
  %y = linalg.batch_matmul ins(%probs, %c : tensor<4x128x128xf32>, tensor<4x128x64xf32>) outs(%f : tensor<4x128x64xf32>) -> tensor<4x128x64xf32>
  return %y : tensor<4x128x64xf32>
}

// -----

// Nor is a contraction fused into its elementwise consumer (bias + ReLU stay
// after the matmul, where the contraction kernels apply them to finished
// tiles).

// CHECK-LABEL: func.func @matmul_then_relu
// CHECK:         %[[MM:.*]] = linalg.matmul
// CHECK:         linalg.generic {{.*}} ins(%[[MM]]
// CHECK:           arith.maximumf
func.func @matmul_then_relu(%x: tensor<8x16xf32>, %w: tensor<16x4xf32>) -> tensor<8x4xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x4xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<8x4xf32>) -> tensor<8x4xf32>
  %y = linalg.matmul ins(%x, %w : tensor<8x16xf32>, tensor<16x4xf32>) outs(%f : tensor<8x4xf32>) -> tensor<8x4xf32>
  %e2 = tensor.empty() : tensor<8x4xf32>
  %r = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>], iterator_types = ["parallel", "parallel"]} ins(%y : tensor<8x4xf32>) outs(%e2 : tensor<8x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.maximumf %a, %z : f32
    linalg.yield %m : f32
  } -> tensor<8x4xf32>
  return %r : tensor<8x4xf32>
}

// -----

// Elementwise chains fuse into one loop, and into a reduction over one
// tensor (RMSNorm's mean of squares reads x once).

#id2 = affine_map<(i, j) -> (i, j)>
// CHECK-LABEL: func.func @chain_and_reduction
// CHECK:         linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%arg0 : tensor<8x32xf32>)
// CHECK:           arith.mulf
// CHECK:           arith.addf
// CHECK-NOT:     linalg.generic
// CHECK:         return
func.func @chain_and_reduction(%x: tensor<8x32xf32>) -> tensor<8xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %sq = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]} ins(%x : tensor<8x32xf32>) outs(%e : tensor<8x32xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.mulf %a, %a : f32
    linalg.yield %m : f32
  } -> tensor<8x32xf32>
  %s0 = tensor.empty() : tensor<8xf32>
  %s1 = linalg.fill ins(%z : f32) outs(%s0 : tensor<8xf32>) -> tensor<8xf32>
  %sum = linalg.generic {indexing_maps = [#id2, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]} ins(%sq : tensor<8x32xf32>) outs(%s1 : tensor<8xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %r = arith.addf %a, %acc : f32
    linalg.yield %r : f32
  } -> tensor<8xf32>
  return %sum : tensor<8xf32>
}
