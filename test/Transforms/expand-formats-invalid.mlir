// RUN: quant-opt %s --qc-expand-formats -split-input-file -verify-diagnostics
// qc-expand-formats computes the canonical byte layout; a target layout is
// an error naming the op and the layout, not a silent misread.

func.func @target_layout(%p: !qc.packed<32x64, mxfp4, layout = x86_n16k8>) -> tensor<32x64xf32> {
  // expected-error @+1 {{'qc.dequantize' op has packed layout 'x86_n16k8', which qc-expand-formats does not lower}}
  %0 = qc.dequantize %p : !qc.packed<32x64, mxfp4, layout = x86_n16k8> -> tensor<32x64xf32>
  return %0 : tensor<32x64xf32>
}

