// RUN: quant-opt %s | FileCheck %s
// RUN: quant-opt %s | quant-opt | FileCheck %s
// Every op and every named format parses and prints in canonical form.

// CHECK-LABEL: func @format_ops
func.func @format_ops(%x: tensor<8x64xf32>) -> (tensor<8x64xf32>, tensor<8x64xf32>) {
  // CHECK: qc.fake_quant %{{.*}} as <nvfp4> : tensor<8x64xf32>
  %0 = qc.fake_quant %x as <nvfp4> : tensor<8x64xf32>
  // CHECK: qc.quantize %{{.*}} : tensor<8x64xf32> -> !qc.packed<8x64, mxfp4>
  %p = qc.quantize %x : tensor<8x64xf32> -> !qc.packed<8x64, mxfp4>
  // CHECK: qc.dequantize %{{.*}} : !qc.packed<8x64, mxfp4> -> tensor<8x64xf32>
  %d = qc.dequantize %p : !qc.packed<8x64, mxfp4> -> tensor<8x64xf32>
  return %0, %d : tensor<8x64xf32>, tensor<8x64xf32>
}

// CHECK-LABEL: func @aliases
func.func @aliases(%x: tensor<4x128xf32>) {
  // CHECK: as <mxfp4>
  %0 = qc.fake_quant %x as <mxfp4> : tensor<4x128xf32>
  // CHECK: as <mxfp6_e2m3>
  %1 = qc.fake_quant %x as <mxfp6_e2m3> : tensor<4x128xf32>
  // CHECK: as <mxfp6_e3m2>
  %2 = qc.fake_quant %x as <mxfp6_e3m2> : tensor<4x128xf32>
  // CHECK: as <mxfp8_e4m3>
  %3 = qc.fake_quant %x as <mxfp8_e4m3> : tensor<4x128xf32>
  // CHECK: as <mxfp8_e5m2>
  %4 = qc.fake_quant %x as <mxfp8_e5m2> : tensor<4x128xf32>
  // CHECK: as <mxint8>
  %5 = qc.fake_quant %x as <mxint8> : tensor<4x128xf32>
  // CHECK: as <nvint4>
  %6 = qc.fake_quant %x as <nvint4> : tensor<4x128xf32>
  // CHECK: as <int8>
  %7 = qc.fake_quant %x as <int8> : tensor<4x128xf32>
  // CHECK: as <int4>
  %8 = qc.fake_quant %x as <int4> : tensor<4x128xf32>
  // CHECK: as <int4_g32>
  %9 = qc.fake_quant %x as <int4_g32> : tensor<4x128xf32>
  // CHECK: as <int4_g128>
  %10 = qc.fake_quant %x as <int4_g128> : tensor<4x128xf32>
  // CHECK: as <e3m2>
  %11 = qc.fake_quant %x as <e3m2> : tensor<4x128xf32>
  // CHECK: as <e1m1>
  %12 = qc.fake_quant %x as <e1m1> : tensor<4x128xf32>
  // CHECK: as <e7m0>
  %13 = qc.fake_quant %x as <e7m0> : tensor<4x128xf32>
  // CHECK: as <e2m1_g32>
  %14 = qc.fake_quant %x as <e2m1_g32> : tensor<4x128xf32>
  return
}

// Overrides print as the closest alias plus the fields that differ.
// CHECK-LABEL: func @overrides
func.func @overrides(%x: tensor<4x128xf32>) {
  // CHECK: as <mxfp4, scale_rounding = ceil>
  %0 = qc.fake_quant %x as <mxfp4, scale_rounding = ceil> : tensor<4x128xf32>
  // CHECK: as <mxfp4, scale_rounding = nearest>
  %1 = qc.fake_quant %x as <mxfp4, scale_rounding = nearest> : tensor<4x128xf32>
  // The long form of an alias prints as the alias.
  // CHECK: as <mxfp4>
  %2 = qc.fake_quant %x as <e2m1, block = 32, scale = e8m0> : tensor<4x128xf32>
  // CHECK: as <mxfp4_g4, axis = 0>
  %3 = qc.fake_quant %x as <mxfp4, axis = 0, block = 4> : tensor<4x128xf32>
  // CHECK: clip = 0.9
  %4 = qc.fake_quant %x as <int8, clip = 0.9> : tensor<4x128xf32>
  return
}

// CHECK-LABEL: func @matmul
func.func @matmul(%x: tensor<2x8x128xf32>, %w: !qc.packed<256x128, nvfp4>) -> (tensor<2x8x256xf32>, tensor<2x8x256xf32>) {
  // CHECK: qc.matmul %{{.*}}, %{{.*}} : tensor<2x8x128xf32>, !qc.packed<256x128, nvfp4> -> tensor<2x8x256xf32>
  %0 = qc.matmul %x, %w : tensor<2x8x128xf32>, !qc.packed<256x128, nvfp4> -> tensor<2x8x256xf32>
  // CHECK: qc.matmul %{{.*}}, %{{.*}} act <mxint8> : tensor<2x8x128xf32>
  %1 = qc.matmul %x, %w act <mxint8> : tensor<2x8x128xf32>, !qc.packed<256x128, nvfp4> -> tensor<2x8x256xf32>
  return %0, %1 : tensor<2x8x256xf32>, tensor<2x8x256xf32>
}

// CHECK-LABEL: func @hadamard_and_observe
func.func @hadamard_and_observe(%x: tensor<8x1536xf16>) -> tensor<8x1536xf16> {
  // CHECK: qc.hadamard %{{.*}} along 1 : tensor<8x1536xf16>
  %0 = qc.hadamard %x along 1 : tensor<8x1536xf16>
  // CHECK: qc.hadamard %{{.*}} along -1 seed 42 : tensor<8x1536xf16>
  %1 = qc.hadamard %0 along -1 seed 42 : tensor<8x1536xf16>
  // CHECK: qc.observe "layer0.input", %{{.*}} {stats = ["amax", "hessian"]} : tensor<8x1536xf16>
  qc.observe "layer0.input", %1 {stats = ["amax", "hessian"]} : tensor<8x1536xf16>
  return %1 : tensor<8x1536xf16>
}

// CHECK-LABEL: func @packed_constant
func.func @packed_constant() -> !qc.packed<1x4, int8> {
  // 4 int8 codes + one f32 scale (1.0 = 0x3F800000, little-endian).
  // CHECK: qc.constant dense<[1, 2, 3, 4, 0, 0, -128, 63]> : tensor<8xi8> : !qc.packed<1x4, int8>
  %0 = qc.constant dense<[1, 2, 3, 4, 0, 0, -128, 63]> : tensor<8xi8> : !qc.packed<1x4, int8>
  return %0 : !qc.packed<1x4, int8>
}
