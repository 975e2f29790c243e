// RUN: quant-opt %s --split-input-file --quantc-vectorize-contractions --canonicalize --cse | FileCheck %s
// RUN: quant-opt %s --split-input-file --quantc-vectorize-contractions=vector-width=8 --canonicalize --cse | FileCheck %s --check-prefix=AVX2
// RUN: quant-opt %s --split-input-file --quantc-vectorize-contractions=fma=1 --canonicalize --cse | FileCheck %s --check-prefix=FMA
// RUN: quant-opt %s --split-input-file --quantc-vectorize-contractions="vector-width=8 vector-registers=16" --canonicalize --cse | FileCheck %s --check-prefix=REG16

// A stride-2 5x5 convolution in the importer's [n, g, f, oh, ow] form with
// its bias broadcast just before: the broadcast is folded into the kernel
// (the bias becomes an operand and starts the accumulators), the 24 output
// channels are two blocks of 12 rows, each work item one output row of 16
// lanes (read as 32 contiguous inputs, every other lane kept), and the
// reductions c, kh, kw loop in order around a multiply and an add (two
// roundings, as the scalar loops: results stay bit-identical).

// CHECK-LABEL: func.func @conv5x5_stride2_bias
// CHECK-NOT: linalg.generic
// CHECK: %[[OUT:.+]] = memref.alloc() : memref<1x1x24x16x16xf32>
// CHECK: call @[[KERNEL:__quantc_contraction_[0-9]+]](%arg0, %arg1, %[[OUT]], %arg2, %c0, %c32)
// CHECK: memref.copy %[[OUT]], %arg3
// CHECK: func.func private @[[KERNEL]]({{.*}}: memref<1x1x3x35x35xf32>, {{.*}}: memref<1x24x3x5x5xf32>, {{.*}}: memref<1x1x24x16x16xf32>, {{.*}}: memref<1x1x24xf32>, {{.*}}: index, {{.*}}: index) attributes {quantc.parallel_task}
// CHECK: scf.for
// CHECK-COUNT-12: memref.load {{.*}} : memref<1x1x24xf32>
// CHECK: scf.for
// CHECK: scf.for
// CHECK: scf.for
// CHECK: vector.maskedload {{.*}} vector<32xi1>, vector<32xf32> into vector<32xf32>
// CHECK: vector.shuffle {{.*}} [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30]
// CHECK: arith.mulf {{.*}} : vector<16xf32>
// CHECK-NEXT: arith.addf {{.*}} : vector<16xf32>
// CHECK-NOT: vector.fma
// CHECK: scf.yield
// CHECK-COUNT-12: vector.{{(masked)?}}store
// With 32 vector registers a tile of 8-lane vectors holds 12 rows of 2; with
// 16 (AVX2) 12 accumulators: 6 rows of 2 (24 accumulators spill there).
// AVX2-LABEL: func.func @conv5x5_stride2_bias
// AVX2-COUNT-12: memref.load {{.*}} : memref<1x1x24xf32>
// AVX2: vector.shuffle {{.*}} [0, 2, 4, 6, 8, 10, 12, 14] : vector<16xf32>, vector<16xf32>
// AVX2: arith.mulf {{.*}} : vector<8xf32>
// REG16-LABEL: func.func @conv5x5_stride2_bias
// REG16: scf.for
// REG16-COUNT-6: memref.load {{.*}} : memref<1x1x24xf32>
// REG16-NOT: memref.load {{.*}} : memref<1x1x24xf32>
// REG16: scf.for
// REG16: arith.mulf {{.*}} : vector<8xf32>
// REG16: scf.yield
// REG16-COUNT-12: vector.{{(masked)?}}store
func.func @conv5x5_stride2_bias(%x: memref<1x1x3x35x35xf32>, %w: memref<1x24x3x5x5xf32>,
                                %b: memref<1x1x24xf32>, %y: memref<1x1x24x16x16xf32>) {
  %out = memref.alloc() : memref<1x1x24x16x16xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2)>,
                                   affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]}
      ins(%b : memref<1x1x24xf32>) outs(%out : memref<1x1x24x16x16xf32>) {
  ^bb0(%in: f32, %o: f32):
    linalg.yield %in : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d0, d1, d5, d3 * 2 + d6, d4 * 2 + d7)>,
                                   affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d1, d2, d5, d6, d7)>,
                                   affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d0, d1, d2, d3, d4)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel",
                                    "reduction", "reduction", "reduction"]}
      ins(%x, %w : memref<1x1x3x35x35xf32>, memref<1x24x3x5x5xf32>)
      outs(%out : memref<1x1x24x16x16xf32>) {
  ^bb0(%in: f32, %in_1: f32, %o: f32):
    %0 = arith.mulf %in, %in_1 : f32
    %1 = arith.addf %o, %0 : f32
    linalg.yield %1 : f32
  }
  memref.copy %out, %y : memref<1x1x24x16x16xf32> to memref<1x1x24x16x16xf32>
  return
}

// -----

// A depthwise 3x3 convolution (24 groups of one channel) whose output was
// zero-filled: the fill is folded (accumulators start at zero), there is no
// row block, and 64 output columns are 4 vectors per item: 24 channels x 64
// rows = 1536 items.

// CHECK-LABEL: func.func @depthwise3x3_zero_fill
// CHECK-NOT: linalg.fill
// CHECK: call @[[KERNEL:__quantc_contraction_[0-9]+]](%arg0, %arg1, %{{.+}}, %c0, %c1536)
// CHECK: func.func private @[[KERNEL]]
// CHECK: %[[ZERO:.+]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK: scf.for %{{.+}} = %c0 to %c3 step %c1 iter_args(%{{.+}} = %[[ZERO]], %{{.+}} = %[[ZERO]], %{{.+}} = %[[ZERO]], %{{.+}} = %[[ZERO]])
// CHECK: scf.for
// CHECK-COUNT-4: vector.{{(masked)?}}load {{.*}} : memref<1x24x1x66x66xf32>
// CHECK: memref.load {{.*}} : memref<24x1x1x3x3xf32>
// CHECK: vector.broadcast
// CHECK-COUNT-4: arith.addf
// CHECK-COUNT-4: vector.{{(masked)?}}store
func.func @depthwise3x3_zero_fill(%x: memref<1x24x1x66x66xf32>, %w: memref<24x1x1x3x3xf32>,
                                  %y: memref<1x24x1x64x64xf32>) {
  %zero = arith.constant 0.0 : f32
  %out = memref.alloc() : memref<1x24x1x64x64xf32>
  linalg.fill ins(%zero : f32) outs(%out : memref<1x24x1x64x64xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d0, d1, d5, d3 + d6, d4 + d7)>,
                                   affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d1, d2, d5, d6, d7)>,
                                   affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d0, d1, d2, d3, d4)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel",
                                    "reduction", "reduction", "reduction"]}
      ins(%x, %w : memref<1x24x1x66x66xf32>, memref<24x1x1x3x3xf32>)
      outs(%out : memref<1x24x1x64x64xf32>) {
  ^bb0(%in: f32, %in_1: f32, %o: f32):
    %0 = arith.mulf %in, %in_1 : f32
    %1 = arith.addf %o, %0 : f32
    linalg.yield %1 : f32
  }
  memref.copy %out, %y : memref<1x24x1x64x64xf32> to memref<1x24x1x64x64xf32>
  return
}

// -----

// linalg.matmul accumulating into a function argument: B (read along the
// output's columns) is x, A the broadcast operand; the tile starts from the
// output. 5 rows in one block (the cap of 8 rows would waste 3), 37 columns
// as 3 vectors whose last has 5 valid lanes.

// CHECK-LABEL: func.func @matmul_odd
// CHECK: call @[[KERNEL:__quantc_contraction_[0-9]+]](%arg1, %arg0, %arg2, %c0, %c1)
// CHECK: func.func private @[[KERNEL]](%{{.+}}: memref<7x37xf32>, %{{.+}}: memref<5x7xf32>, %{{.+}}: memref<5x37xf32>
// CHECK-COUNT-15: vector.{{(masked)?}}load {{.*}} : memref<5x37xf32>
// CHECK: scf.for %{{.+}} = %c0 to %c7
// CHECK-COUNT-3: vector.{{(masked)?}}load {{.*}} : memref<7x37xf32>
// CHECK: memref.load {{.*}} : memref<5x7xf32>
// CHECK-COUNT-15: vector.{{(masked)?}}store {{.*}} : memref<5x37xf32>
// With fma (targets with FMA): one fused multiply-add per product.
// FMA-LABEL: func.func @matmul_odd
// FMA: func.func private @__quantc_contraction_
// FMA: scf.for
// FMA-NOT: arith.mulf
// FMA: llvm.intr.fma({{.*}}) : (vector<16xf32>, vector<16xf32>, vector<16xf32>) -> vector<16xf32>
// FMA-NOT: arith.mulf
// FMA: scf.yield
func.func @matmul_odd(%a: memref<5x7xf32>, %b: memref<7x37xf32>, %c: memref<5x37xf32>) {
  linalg.matmul ins(%a, %b : memref<5x7xf32>, memref<7x37xf32>) outs(%c : memref<5x37xf32>)
  return
}

// -----

// 128 columns are two rows of 4 whole vectors: no masks anywhere (plain loads
// and stores; a partial vector's mask costs a compare and a masked load in
// the reduction loop).

// CHECK-LABEL: func.func @matmul_whole
// CHECK: func.func private @__quantc_contraction_
// CHECK-NOT: masked
// CHECK: vector.load {{.*}} : memref<8x128xf32>, vector<16xf32>
// CHECK-NOT: masked
// CHECK: vector.store
// CHECK-NOT: masked
// CHECK: return
func.func @matmul_whole(%a: memref<4x8xf32>, %b: memref<8x128xf32>, %c: memref<4x128xf32>) {
  linalg.matmul ins(%a, %b : memref<4x8xf32>, memref<8x128xf32>) outs(%c : memref<4x128xf32>)
  return
}

// -----

// Left alone: max pooling (not a multiply-accumulate), a matmul on tensors
// (runs after bufferization), f16, a transposed right operand (its columns
// are not contiguous) and dynamic shapes.

// CHECK-LABEL: func.func @not_matched
// CHECK-NOT: call @__quantc_contraction
// CHECK: linalg.generic
// CHECK: arith.maximumf
// CHECK: linalg.matmul
// CHECK: linalg.matmul
// CHECK: linalg.generic
// CHECK: arith.mulf
// CHECK: linalg.matmul
func.func @not_matched(%x: memref<1x4x8x8xf32>, %k: memref<2x2xf32>, %p: memref<1x4x4x4xf32>,
                       %t: tensor<4x4xf32>, %h: memref<4x4xf16>,
                       %d: memref<?x4xf32>, %e: memref<4x?xf32>, %f: memref<?x?xf32>) -> tensor<4x4xf32> {
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2 * 2 + d4, d3 * 2 + d5)>,
                                   affine_map<(d0, d1, d2, d3, d4, d5) -> (d4, d5)>,
                                   affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2, d3)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]}
      ins(%x, %k : memref<1x4x8x8xf32>, memref<2x2xf32>) outs(%p : memref<1x4x4x4xf32>) {
  ^bb0(%in: f32, %in_1: f32, %o: f32):
    %0 = arith.maximumf %in, %o : f32
    linalg.yield %0 : f32
  }
  %r = linalg.matmul ins(%t, %t : tensor<4x4xf32>, tensor<4x4xf32>) outs(%t : tensor<4x4xf32>) -> tensor<4x4xf32>
  linalg.matmul ins(%h, %h : memref<4x4xf16>, memref<4x4xf16>) outs(%h : memref<4x4xf16>)
  %m = memref.alloc() : memref<4x4xf32>
  linalg.generic {indexing_maps = [affine_map<(i, j, k) -> (i, k)>, affine_map<(i, j, k) -> (j, k)>,
                                   affine_map<(i, j, k) -> (i, j)>],
                  iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%m, %m : memref<4x4xf32>, memref<4x4xf32>) outs(%m : memref<4x4xf32>) {
  ^bb0(%in: f32, %in_1: f32, %o: f32):
    %0 = arith.mulf %in, %in_1 : f32
    %1 = arith.addf %o, %0 : f32
    linalg.yield %1 : f32
  }
  linalg.matmul ins(%d, %e : memref<?x4xf32>, memref<4x?xf32>) outs(%f : memref<?x?xf32>)
  memref.dealloc %m : memref<4x4xf32>
  return %r : tensor<4x4xf32>
}

// -----

// A pointwise convolution followed by the residual add and ReLU, its output
// dead afterwards: the kernel applies the add and the maximum to each
// finished vector (the residual read at the same place) and stores into the
// add's buffer; neither the bias broadcast nor the elementwise op is left,
// and the call takes the elementwise op's place.

// CHECK-LABEL: func.func @pointwise_add_relu
// CHECK-NOT: linalg.generic
// CHECK: %[[OUT:.+]] = memref.alloc() : memref<1x1x8x16x16xf32>
// CHECK: %[[SUM:.+]] = memref.alloc() : memref<1x1x8x16x16xf32>
// CHECK: call @[[KERNEL:__quantc_contraction_[0-9]+]](%arg0, %arg1, %[[OUT]], %arg2, %arg3, %[[SUM]], %c0, %c16)
// CHECK-NEXT: memref.dealloc %[[OUT]]
// CHECK: memref.copy %[[SUM]], %arg4
// CHECK: func.func private @[[KERNEL]]
// CHECK: %[[ZERO:.+]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK: scf.for
// CHECK: arith.mulf
// CHECK: scf.yield
// CHECK: %[[RES:.+]] = vector.{{(masked)?}}load %arg4
// CHECK: %[[ADD:.+]] = arith.addf %[[RES]], %{{.+}} : vector<16xf32>
// CHECK: %[[MAX:.+]] = arith.maximumf %[[ADD]], %[[ZERO]] : vector<16xf32>
// CHECK: vector.{{(masked)?}}store %[[MAX]], %arg5
func.func @pointwise_add_relu(%x: memref<1x1x8x16x16xf32>, %w: memref<1x8x8x1x1xf32>,
                              %b: memref<1x1x8xf32>, %r: memref<1x1x8x16x16xf32>,
                              %y: memref<1x1x8x16x16xf32>) {
  %zero = arith.constant 0.0 : f32
  %out = memref.alloc() : memref<1x1x8x16x16xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2)>,
                                   affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]}
      ins(%b : memref<1x1x8xf32>) outs(%out : memref<1x1x8x16x16xf32>) {
  ^bb0(%in: f32, %o: f32):
    linalg.yield %in : f32
  }
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d0, d1, d5, d3 + d6, d4 + d7)>,
                                   affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d1, d2, d5, d6, d7)>,
                                   affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d0, d1, d2, d3, d4)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel",
                                    "reduction", "reduction", "reduction"]}
      ins(%x, %w : memref<1x1x8x16x16xf32>, memref<1x8x8x1x1xf32>)
      outs(%out : memref<1x1x8x16x16xf32>) {
  ^bb0(%in: f32, %in_1: f32, %o: f32):
    %0 = arith.mulf %in, %in_1 : f32
    %1 = arith.addf %o, %0 : f32
    linalg.yield %1 : f32
  }
  %sum = memref.alloc() : memref<1x1x8x16x16xf32>
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>,
                                   affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>,
                                   affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>],
                  iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]}
      ins(%r, %out : memref<1x1x8x16x16xf32>, memref<1x1x8x16x16xf32>)
      outs(%sum : memref<1x1x8x16x16xf32>) {
  ^bb0(%in: f32, %in_1: f32, %o: f32):
    %0 = arith.addf %in, %in_1 : f32
    %1 = arith.maximumf %0, %zero : f32
    linalg.yield %1 : f32
  }
  memref.dealloc %out : memref<1x1x8x16x16xf32>
  memref.copy %sum, %y : memref<1x1x8x16x16xf32> to memref<1x1x8x16x16xf32>
  return
}
