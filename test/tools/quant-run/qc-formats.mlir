// qc ops run through quant-run: qc-expand-formats is the first pass of the
// CPU lowering, and !qc.packed arguments and results are byte tensors.
//
// MXFP4 (OCP MX): blocks of 32 share the scale 2^(floor(log2(amax)) - 2);
// elements round to E2M1 {0, 0.5, 1, 1.5, 2, 3, 4, 6}, ties to even.
//   row 0: amax 6 -> scale 1: 5 -> 4 (tie, even), 2.5 -> 2, 0.25 -> 0,
//          0.75 -> 1, 1.25 -> 1
//   row 1: amax 0.75 -> scale 1/8: 0.3 -> 2.4/8 -> 2/8, 0.1 -> 0.8/8 -> 1/8,
//          -0.2 -> -1.6/8 -> -1.5/8

// RUN: %python %lit_tools/quant-run-npy.py clean %t.out
// RUN: %python %lit_tools/quant-run-npy.py save %t.x.npy float32 "[[6, 5, 2.5, 0.25, 0.75, 1.25, -3, -0.5] + [0] * 24, [0.75, 0.3, 0.1, -0.2] + [0] * 28]"
// RUN: quant-run %s --entry fake_quant --input %t.x.npy --output-dir %t.out
// RUN: %python %lit_tools/quant-run-npy.py show %t.out/0.npy | FileCheck %s --check-prefix=FAKE
// FAKE:      0.npy: float32 (2, 32)
// FAKE-NEXT:   6 4 2 0 1 1 -3 -0.5 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0{{$}}
// FAKE-NEXT:   0.75 0.25 0.125 -0.1875 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0{{$}}
func.func @fake_quant(%x: tensor<2x32xf32>) -> tensor<2x32xf32> {
  %0 = qc.fake_quant %x as <mxfp4> : tensor<2x32xf32>
  return %0 : tensor<2x32xf32>
}

// The packed form: two E2M1 codes per byte (element 2i in the low nibble),
// then one E8M0 scale byte per block. Codes: 6 = 7, 4 = 6, 2 = 4, 1 = 2,
// 1.5 = 3, 0.5 = 1, sign = 8; so byte 0 = 7 | 6 << 4 = 103 and
// byte 3 = (8 | 5) | (8 | 1) << 4 = 157. Scales: 2^0 = 127, 2^-3 = 124.
// RUN: quant-run %s --entry quantize --input x=%t.x.npy --output-dir %t.out
// RUN: %python %lit_tools/quant-run-npy.py show %t.out/packed.npy | FileCheck %s --check-prefix=PACKED
// PACKED:      packed.npy: uint8 (34)
// PACKED-NEXT:   103 4 34 157 0 0 0 0 0 0 0 0 0 0 0 0 71 178 0 0 0 0 0 0 0 0 0 0 0 0 0 0 127 124{{$}}
func.func @quantize(%x: tensor<2x32xf32> {qc.name = "x"})
    -> (!qc.packed<2x32, mxfp4> {qc.name = "packed"}) {
  %p = qc.quantize %x : tensor<2x32xf32> -> !qc.packed<2x32, mxfp4>
  return %p : !qc.packed<2x32, mxfp4>
}

// The uint8 file written above feeds a packed argument back.
// RUN: quant-run %s --entry dequantize --input packed=%t.out/packed.npy --output-dir %t.out
// RUN: %python %lit_tools/quant-run-npy.py show %t.out/y.npy | FileCheck %s --check-prefix=DEQUANT
// DEQUANT:      y.npy: float32 (2, 32)
// DEQUANT-NEXT:   6 4 2 0 1 1 -3 -0.5 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0{{$}}
// DEQUANT-NEXT:   0.75 0.25 0.125 -0.1875 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0{{$}}
func.func @dequantize(%p: !qc.packed<2x32, mxfp4> {qc.name = "packed"})
    -> (tensor<2x32xf32> {qc.name = "y"}) {
  %y = qc.dequantize %p : !qc.packed<2x32, mxfp4> -> tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}
