// RUN: quant-opt %s --qc-expand-formats -split-input-file | FileCheck %s
// The structure of the lowering; bit-exactness against the format library is
// checked by expand-formats-exact.test.

// No qc op survives; the E8M0 scale comes from the f32 exponent field, the
// element rounding is math.roundeven on exactly scaled values.
// CHECK-LABEL: func @fake_quant_mxfp4
// CHECK-NOT: qc.
// CHECK: scf.for
// CHECK: arith.maxnumf
// CHECK: arith.shrui
// CHECK: math.roundeven
// CHECK: tensor.insert
// CHECK-NOT: qc.
// CHECK: return
func.func @fake_quant_mxfp4(%x: tensor<4x64xf32>) -> tensor<4x64xf32> {
  %0 = qc.fake_quant %x as <mxfp4> : tensor<4x64xf32>
  return %0 : tensor<4x64xf32>
}

// -----

// Packed values become byte tensors, also across function boundaries.
// CHECK-LABEL: func @quantize_nvfp4
// CHECK-SAME: (%{{.*}}: tensor<4x64xf32>) -> tensor<148xi8>
// The tensor scale divides the finite amax by 6 * 448.
// CHECK: arith.constant 2.688000e+03 : f32
// 4x64 e2m1 codes = 128 bytes, 16 E4M3 scales, 4 bytes of tensor scale.
// CHECK: arith.constant dense<0> : tensor<148xi8>
// Block scales are clamped to [2^-9, 448] before E4M3 rounding.
// CHECK: arith.constant 0.001953125 : f32
// CHECK: arith.constant 4.480000e+02 : f32
// CHECK: return %{{.*}} : tensor<148xi8>
func.func @quantize_nvfp4(%x: tensor<4x64xf32>) -> !qc.packed<4x64, nvfp4> {
  %p = qc.quantize %x : tensor<4x64xf32> -> !qc.packed<4x64, nvfp4>
  return %p : !qc.packed<4x64, nvfp4>
}

// -----

// CHECK-LABEL: func @dequantize_arg
// 256 one-byte codes + 8 E8M0 scales.
// CHECK-SAME: (%[[P:.*]]: tensor<264xi8>) -> tensor<4x64xf32>
// CHECK: tensor.extract %[[P]]
// CHECK: tensor.expand_shape
func.func @dequantize_arg(%p: !qc.packed<4x64, mxfp8_e4m3>) -> tensor<4x64xf32> {
  %0 = qc.dequantize %p : !qc.packed<4x64, mxfp8_e4m3> -> tensor<4x64xf32>
  return %0 : tensor<4x64xf32>
}

// -----

// A packed constant becomes an arith.constant of its bytes.
// CHECK-LABEL: func @constant
// CHECK: %[[C:.*]] = arith.constant dense<[1, 2, 3, 4, 0, 0, -128, 63]> : tensor<8xi8>
// CHECK: return %[[C]] : tensor<8xi8>
func.func @constant() -> !qc.packed<1x4, int8> {
  %0 = qc.constant dense<[1, 2, 3, 4, 0, 0, -128, 63]> : tensor<8xi8> : !qc.packed<1x4, int8>
  return %0 : !qc.packed<1x4, int8>
}

// -----

// Hadamard of size 24 = 2 * 12: the 12x12 Paley matrix as a constant, one
// butterfly level, and the 1/sqrt(24) normalization.
// CHECK-LABEL: func @hadamard_24
// CHECK: arith.constant dense<{{.*}}> : tensor<144xf32>
// CHECK: arith.constant 0.204124153 : f32
// CHECK-NOT: qc.hadamard
func.func @hadamard_24(%x: tensor<3x24xf32>) -> tensor<3x24xf32> {
  %0 = qc.hadamard %x along 1 : tensor<3x24xf32>
  return %0 : tensor<3x24xf32>
}

// -----

// Random signs are a constant vector from the seed.
// CHECK-LABEL: func @hadamard_seeded
// CHECK: arith.constant dense<{{.*}}> : tensor<16xf32>
// CHECK: arith.mulf
func.func @hadamard_seeded(%x: tensor<16x2xf32>) -> tensor<16x2xf32> {
  %0 = qc.hadamard %x along 0 seed 7 : tensor<16x2xf32>
  return %0 : tensor<16x2xf32>
}

// -----

// qc.matmul's reference lowering: dequantized weights, an f32 contraction
// over K (the reduction iterator) and the batch dims collapsed and restored.
// CHECK-LABEL: func @matmul
// 8x64 e2m1 codes (256 bytes) + 32 E4M3 scales + the f32 tensor scale.
// CHECK-SAME: (%{{.*}}: tensor<2x3x64xf32>, %{{.*}}: tensor<292xi8>) -> tensor<2x3x8xf32>
// CHECK: tensor.collapse_shape %{{.*}} {{\[}}[0, 1], [2]]
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "reduction"]
// CHECK: arith.mulf
// CHECK: arith.addf
// CHECK: tensor.expand_shape
// CHECK-NOT: qc.matmul
func.func @matmul(%x: tensor<2x3x64xf32>, %w: !qc.packed<8x64, nvfp4>) -> tensor<2x3x8xf32> {
  %y = qc.matmul %x, %w : tensor<2x3x64xf32>, !qc.packed<8x64, nvfp4> -> tensor<2x3x8xf32>
  return %y : tensor<2x3x8xf32>
}
