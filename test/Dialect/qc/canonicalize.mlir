// RUN: quant-opt %s -canonicalize -split-input-file | FileCheck %s
// Folders quantize constants through the format library; values below are
// hand-computed.

// int8 per row: amax 127 -> scale 1; 2.6 -> 3, -3.5 -> -4 (ties to even).
// CHECK-LABEL: func @fold_fake_quant_int8
// CHECK: %[[C:.*]] = arith.constant dense<{{\[}}[1.000000e+00, 3.000000e+00, -4.000000e+00, 1.270000e+02]]> : tensor<1x4xf32>
// CHECK-NEXT: return %[[C]]
func.func @fold_fake_quant_int8() -> tensor<1x4xf32> {
  %c = arith.constant dense<[[1.0, 2.6, -3.5, 127.0]]> : tensor<1x4xf32>
  %0 = qc.fake_quant %c as <int8> : tensor<1x4xf32>
  return %0 : tensor<1x4xf32>
}

// -----

// mxfp4: amax 6 -> E8M0 scale 2^(2-2) = 1; e2m1 grid 0,0.5,1,1.5,2,3,4,6 with
// ties to even: 2.5 -> 2, 3.5 -> 4, 5 -> 4, 0.25 -> 0, 0.75 -> 1, -1.25 -> -1.
// CHECK-LABEL: func @fold_fake_quant_mxfp4
// CHECK: arith.constant dense<{{\[}}[6.000000e+00, 2.000000e+00, 4.000000e+00, 4.000000e+00, 0.000000e+00, 1.000000e+00, -1.000000e+00, 1.500000e+00, 0.000000e+00
func.func @fold_fake_quant_mxfp4() -> tensor<1x32xf32> {
  %c = arith.constant dense<[[6.0, 2.5, 3.5, 5.0, 0.25, 0.75, -1.25, 1.6,
                              0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                              0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                              0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]]> : tensor<1x32xf32>
  %0 = qc.fake_quant %c as <mxfp4> : tensor<1x32xf32>
  return %0 : tensor<1x32xf32>
}

// -----

// fake_quant never folds away on a non-constant input.
// CHECK-LABEL: func @no_fold_fake_quant
// CHECK: %[[Q:.*]] = qc.fake_quant %arg0 as <mxfp4>
// CHECK: return %[[Q]]
func.func @no_fold_fake_quant(%x: tensor<2x32xf32>) -> tensor<2x32xf32> {
  %0 = qc.fake_quant %x as <mxfp4> : tensor<2x32xf32>
  return %0 : tensor<2x32xf32>
}

// -----

// quantize of a constant folds to the packed bytes: codes 1, 3, -4, 127, then
// the f32 scale 1.0 little-endian (00 00 80 3F).
// CHECK-LABEL: func @fold_quantize
// CHECK: %[[P:.*]] = qc.constant dense<[1, 3, -4, 127, 0, 0, -128, 63]> : tensor<8xi8> : !qc.packed<1x4, int8>
// CHECK-NEXT: return %[[P]]
func.func @fold_quantize() -> !qc.packed<1x4, int8> {
  %c = arith.constant dense<[[1.0, 2.6, -3.5, 127.0]]> : tensor<1x4xf32>
  %p = qc.quantize %c : tensor<1x4xf32> -> !qc.packed<1x4, int8>
  return %p : !qc.packed<1x4, int8>
}

// -----

// dequantize of packed bytes folds to values: int4 per row, codes 7 and -3
// (0xD7 = low nibble 7, high nibble -3), scale 0.5.
// CHECK-LABEL: func @fold_dequantize
// CHECK: arith.constant dense<{{\[}}[3.500000e+00, -1.500000e+00]]> : tensor<1x2xf32>
func.func @fold_dequantize() -> tensor<1x2xf32> {
  %p = qc.constant dense<[-41, 0, 0, 0, 63]> : tensor<5xi8> : !qc.packed<1x2, int4>
  %0 = qc.dequantize %p : !qc.packed<1x2, int4> -> tensor<1x2xf32>
  return %0 : tensor<1x2xf32>
}

// -----

// Orthonormal Hadamard of size 2: [1, 1] -> [2/sqrt(2), 0]; size 4 of e0 is
// the first column / 2.
// CHECK-LABEL: func @fold_hadamard
// CHECK: arith.constant dense<{{\[}}[1.41421354, 0.000000e+00]]> : tensor<1x2xf32>
// CHECK: arith.constant dense<5.000000e-01> : tensor<1x4xf32>
func.func @fold_hadamard() -> (tensor<1x2xf32>, tensor<1x4xf32>) {
  %c = arith.constant dense<[[1.0, 1.0]]> : tensor<1x2xf32>
  %0 = qc.hadamard %c along 1 : tensor<1x2xf32>
  %e = arith.constant dense<[[1.0, 0.0, 0.0, 0.0]]> : tensor<1x4xf32>
  %1 = qc.hadamard %e along 1 : tensor<1x4xf32>
  return %0, %1 : tensor<1x2xf32>, tensor<1x4xf32>
}

// -----

// Folders honour the layout of the packed type: the int8 codes 1, 3, -4, 127
// land in bytes 0..3 of the first 64-byte chunk of the x86_n16k4 tile, the f32
// scale 1.0 at byte 64 (after the codes), and the tile is 128 bytes; the
// dequantize folder reads them back from there.
// CHECK-LABEL: func @fold_layout_roundtrip
// CHECK-DAG: qc.constant dense<"0x0103FC7F{{0+}}803F{{0+}}"> : tensor<128xi8> : !qc.packed<1x4, int8, layout = x86_n16k4>
// CHECK-DAG: arith.constant dense<{{\[}}[1.000000e+00, 3.000000e+00, -4.000000e+00, 1.270000e+02]]> : tensor<1x4xf32>
func.func @fold_layout_roundtrip() -> (!qc.packed<1x4, int8, layout = x86_n16k4>, tensor<1x4xf32>) {
  %c = arith.constant dense<[[1.0, 2.6, -3.5, 127.0]]> : tensor<1x4xf32>
  %p = qc.quantize %c : tensor<1x4xf32> -> !qc.packed<1x4, int8, layout = x86_n16k4>
  %d = qc.dequantize %p : !qc.packed<1x4, int8, layout = x86_n16k4> -> tensor<1x4xf32>
  return %p, %d : !qc.packed<1x4, int8, layout = x86_n16k4>, tensor<1x4xf32>
}
