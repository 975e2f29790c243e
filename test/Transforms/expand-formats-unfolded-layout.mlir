// RUN: quant-opt %s --canonicalize --qc-expand-formats -split-input-file -verify-diagnostics

// A qc.quantize of a constant into x86_n16k8_s32 folds to packed bytes when
// the E4M3 scales of every 32 of K fold into byte multipliers: here the two
// 16-blocks' scales are 2^1 apart (1.0 and 2.0 times the same amax). Such
// constants (the folded qc.constant keeps the quantize's location) are the
// CPU lowering's business, not qc-expand-formats'.
func.func @foldable_pairs() -> !qc.packed<1x32, nvfp4, layout = x86_n16k8_s32> {
  // expected-error @+2 {{'qc.constant' op has packed layout 'x86_n16k8_s32', which qc-expand-formats does not lower}}
  %c = arith.constant dense<[[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]]> : tensor<1x32xf32>
  %p = qc.quantize %c : tensor<1x32xf32> -> !qc.packed<1x32, nvfp4, layout = x86_n16k8_s32>
  return %p : !qc.packed<1x32, nvfp4, layout = x86_n16k8_s32>
}

// -----

// Here they are 2^10 apart (block scales 0.4375 = 14 * 2^-5 and
// 448 = 14 * 2^5 after the tensor scale): no byte multiplier holds the
// larger, the quantize stays unfolded, and qc-expand-formats says why.
func.func @unfoldable_pairs() -> !qc.packed<1x32, nvfp4, layout = x86_n16k8_s32> {
  %c = arith.constant dense<[[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0]]> : tensor<1x32xf32>
  // expected-error @+1 {{'qc.quantize' op into packed layout 'x86_n16k8_s32' was not packed at compile time: target layouts need a constant input the layout can hold}}
  %p = qc.quantize %c : tensor<1x32xf32> -> !qc.packed<1x32, nvfp4, layout = x86_n16k8_s32>
  return %p : !qc.packed<1x32, nvfp4, layout = x86_n16k8_s32>
}
