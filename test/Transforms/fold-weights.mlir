// qc-fold-weights: qc.fake_quant(constant W) feeding a contraction becomes a
// packed qc.constant [N, K] and the layer a qc.matmul; the activation's
// fake_quant becomes qc.matmul's `act`. Canonicalization keeps the packed
// operand (no qc.dequantize is left to fold it back into floats).
// RUN: quant-opt %s --split-input-file --qc-fold-weights --canonicalize 2>/dev/null | FileCheck %s
// RUN: quant-opt %s --split-input-file --qc-fold-weights 2>&1 >/dev/null | FileCheck %s --check-prefix=SIZES

// x [8, 64] x W [64, 32] (ONNX MatMul): W is transposed to [32, 64] and
// packed along K. Attributes earlier passes left on the layer and on the
// weight's fake_quant move to the qc.matmul.
// CHECK-LABEL: func.func @matmul
// CHECK-SAME: (%[[X:.*]]: tensor<8x64xf32>)
// CHECK-NEXT: %[[W:.*]] = qc.constant dense<"0x{{[0-9A-F]+}}"> : tensor<1088xi8> : !qc.packed<32x64, mxfp4>
// CHECK-NEXT: %[[Y:.*]] = qc.matmul %[[X]], %[[W]] act <mxint8> {qc.rotation = "online", qc.weight_qsnr = 2.000000e+01 : f64} : tensor<8x64xf32>, !qc.packed<32x64, mxfp4> -> tensor<8x32xf32>
// CHECK-NEXT: return %[[Y]]
// SIZES: remark: qc-fold-weights: 1 layer(s) into qc.matmul, weights 8192 bytes as float -> 1088 bytes packed (7.53x smaller){{$}}
func.func @matmul(%x: tensor<8x64xf32>) -> tensor<8x32xf32> {
  %w = arith.constant dense<0.5> : tensor<64x32xf32>
  %wq = qc.fake_quant %w as <mxfp4, axis = 0> {qc.weight_qsnr = 20.0 : f64} : tensor<64x32xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %xq = qc.fake_quant %x as <mxint8> : tensor<8x64xf32>
  %y = linalg.matmul {qc.rotation = "online"} ins(%xq, %wq : tensor<8x64xf32>, tensor<64x32xf32>) outs(%init : tensor<8x32xf32>) -> tensor<8x32xf32> loc("fc1")
  return %y : tensor<8x32xf32>
}

// -----

// Gemm with transB: the constant is already [N, K]; the transpose goes away.
// 1156 bytes = 32x64 E2M1 codes (1024) + 128 E4M3 block scales + the f32
// tensor scale. Without an activation fake_quant (W4A16), qc.matmul has no `act`.
// CHECK-LABEL: func.func @gemm_trans_b
// CHECK-NEXT: %[[W:.*]] = qc.constant {{.*}} : tensor<1156xi8> : !qc.packed<32x64, nvfp4>
// CHECK-NEXT: %[[Y:.*]] = qc.matmul %arg0, %[[W]] : tensor<8x64xf32>, !qc.packed<32x64, nvfp4> -> tensor<8x32xf32>
// CHECK-NEXT: return %[[Y]]
func.func @gemm_trans_b(%x: tensor<8x64xf32>) -> tensor<8x32xf32> {
  %w = arith.constant dense<0.5> : tensor<32x64xf32>
  %wq = qc.fake_quant %w as <nvfp4> : tensor<32x64xf32>
  %te = tensor.empty() : tensor<64x32xf32>
  %wt = linalg.transpose ins(%wq : tensor<32x64xf32>) outs(%te : tensor<64x32xf32>) permutation = [1, 0]
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %y = linalg.matmul ins(%x, %wt : tensor<8x64xf32>, tensor<64x32xf32>) outs(%init : tensor<8x32xf32>) -> tensor<8x32xf32> loc("head")
  return %y : tensor<8x32xf32>
}

// -----

// A batched activation with a broadcast weight: x is collapsed to a matrix
// and the result expanded back to the layer's shape.
// CHECK-LABEL: func.func @batch_matmul
// CHECK: %[[W:.*]] = qc.constant {{.*}} : !qc.packed<32x64, int8>
// CHECK: %[[XM:.*]] = tensor.collapse_shape %arg0 {{\[}}[0, 1], [2]] : tensor<2x8x64xf32> into tensor<16x64xf32>
// CHECK: %[[Y:.*]] = qc.matmul %[[XM]], %[[W]] act <int8, granularity = tensor> : tensor<16x64xf32>, !qc.packed<32x64, int8> -> tensor<16x32xf32>
// CHECK: %[[R:.*]] = tensor.expand_shape %[[Y]] {{\[}}[0, 1], [2]] output_shape [2, 8, 32] : tensor<16x32xf32> into tensor<2x8x32xf32>
// CHECK: return %[[R]]
// CHECK-NOT: linalg.batch_matmul
func.func @batch_matmul(%x: tensor<2x8x64xf32>) -> tensor<2x8x32xf32> {
  %w = arith.constant dense<0.5> : tensor<64x32xf32>
  %wq = qc.fake_quant %w as <int8, axis = 0> : tensor<64x32xf32>
  %be = tensor.empty() : tensor<2x64x32xf32>
  %wb = linalg.broadcast ins(%wq : tensor<64x32xf32>) outs(%be : tensor<2x64x32xf32>) dimensions = [0]
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x8x32xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<2x8x32xf32>) -> tensor<2x8x32xf32>
  %xq = qc.fake_quant %x as <int8, granularity = tensor> : tensor<2x8x64xf32>
  %y = linalg.batch_matmul ins(%xq, %wb : tensor<2x8x64xf32>, tensor<2x64x32xf32>) outs(%init : tensor<2x8x32xf32>) -> tensor<2x8x32xf32> loc("bmm")
  return %y : tensor<2x8x32xf32>
}

// -----

// A linalg.generic contraction y = x · Wᵀ.
#x = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#y = affine_map<(m, n, k) -> (m, n)>
// CHECK-LABEL: func.func @generic
// CHECK-NEXT: %[[W:.*]] = qc.constant {{.*}} : !qc.packed<32x64, int4_g32>
// CHECK-NEXT: qc.matmul %arg0, %[[W]] act <int8_g32> : tensor<8x64xf32>, !qc.packed<32x64, int4_g32> -> tensor<8x32xf32>
func.func @generic(%x: tensor<8x64xf32>) -> tensor<8x32xf32> {
  %w = arith.constant dense<0.5> : tensor<32x64xf32>
  %wq = qc.fake_quant %w as <int4_g32> : tensor<32x64xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %xq = qc.fake_quant %x as <int8_g32> : tensor<8x64xf32>
  %y = linalg.generic {indexing_maps = [#x, #w, #y], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%xq, %wq : tensor<8x64xf32>, tensor<32x64xf32>) outs(%init : tensor<8x32xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %c, %p : f32
    linalg.yield %s : f32
  } -> tensor<8x32xf32> loc("proj")
  return %y : tensor<8x32xf32>
}

// -----

// Accumulating into a non-zero init is not what qc.matmul computes: the
// layer stays, its weight becomes the quantized float constant (2.0 is
// exact in MXFP4), the activation keeps its fake_quant.
// CHECK-LABEL: func.func @nonzero_init
// CHECK: %[[W:.*]] = arith.constant dense<2.000000e+00> : tensor<64x32xf32>
// CHECK: %[[XQ:.*]] = qc.fake_quant %arg0 as <mxint8>
// CHECK: linalg.matmul ins(%[[XQ]], %[[W]] :
// CHECK-NOT: qc.matmul
// SIZES: remark: qc-fold-weights: no layer into qc.matmul; 1 quantized constant(s) (convolutions, ...) stored as their dequantized float values
func.func @nonzero_init(%x: tensor<8x64xf32>) -> tensor<8x32xf32> {
  %w = arith.constant dense<2.0> : tensor<64x32xf32>
  %wq = qc.fake_quant %w as <mxfp4, axis = 0> : tensor<64x32xf32>
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %init = linalg.fill ins(%one : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %xq = qc.fake_quant %x as <mxint8> : tensor<8x64xf32>
  %y = linalg.matmul ins(%xq, %wq : tensor<8x64xf32>, tensor<64x32xf32>) outs(%init : tensor<8x32xf32>) -> tensor<8x32xf32> loc("acc")
  return %y : tensor<8x32xf32>
}

// -----

// Convolutions keep their form: the filter is folded to its quantized float
// values (0.3 in MXFP4: scale 2^(floor(log2 0.3) - 2) = 2^-4, 0.3 / 2^-4 =
// 4.8 rounds to the E2M1 value 4, i.e. 0.25).
// CHECK-LABEL: func.func @conv
// CHECK: %[[W:.*]] = arith.constant dense<2.500000e-01> : tensor<16x32x3x3xf32>
// CHECK: %[[XQ:.*]] = qc.fake_quant %arg0 as <mxint8, axis = 1>
// CHECK: linalg.conv_2d_nchw_fchw ins(%[[XQ]], %[[W]] :
func.func @conv(%x: tensor<1x32x8x8xf32>) -> tensor<1x16x6x6xf32> {
  %w = arith.constant dense<0.3> : tensor<16x32x3x3xf32>
  %wq = qc.fake_quant %w as <mxfp4, axis = 1> : tensor<16x32x3x3xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<1x16x6x6xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x16x6x6xf32>) -> tensor<1x16x6x6xf32>
  %xq = qc.fake_quant %x as <mxint8, axis = 1> : tensor<1x32x8x8xf32>
  %y = linalg.conv_2d_nchw_fchw ins(%xq, %wq : tensor<1x32x8x8xf32>, tensor<16x32x3x3xf32>) outs(%init : tensor<1x16x6x6xf32>) -> tensor<1x16x6x6xf32> loc("conv1")
  return %y : tensor<1x16x6x6xf32>
}

// -----

// One constant feeding two layers: each gets its own packed copy, the float
// constant goes away.
// CHECK-LABEL: func.func @shared_weight
// CHECK-NOT: arith.constant
// CHECK: qc.matmul %arg0, %{{.*}} : tensor<8x64xf32>, !qc.packed<32x64, mxfp4>
// CHECK: qc.matmul %arg1, %{{.*}} : tensor<8x64xf32>, !qc.packed<32x64, mxfp4>
// CHECK-NOT: arith.constant
func.func @shared_weight(%x: tensor<8x64xf32>, %z: tensor<8x64xf32>) -> (tensor<8x32xf32>, tensor<8x32xf32>) {
  %w = arith.constant dense<0.5> : tensor<64x32xf32>
  %wq = qc.fake_quant %w as <mxfp4, axis = 0> : tensor<64x32xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<8x32xf32>
  %init = linalg.fill ins(%zero : f32) outs(%e : tensor<8x32xf32>) -> tensor<8x32xf32>
  %y = linalg.matmul ins(%x, %wq : tensor<8x64xf32>, tensor<64x32xf32>) outs(%init : tensor<8x32xf32>) -> tensor<8x32xf32> loc("a")
  %v = linalg.matmul ins(%z, %wq : tensor<8x64xf32>, tensor<64x32xf32>) outs(%init : tensor<8x32xf32>) -> tensor<8x32xf32> loc("b")
  return %y, %v : tensor<8x32xf32>, tensor<8x32xf32>
}
