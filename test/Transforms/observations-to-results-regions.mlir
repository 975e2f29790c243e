// RUN: quant-opt %s --split-input-file --verify-diagnostics --qc-observations-to-results

// A tensor inside a loop or branch body has no value at the return: it is
// dropped, with a warning, and the function keeps its signature.
func.func @in_region(%c: i1, %x: tensor<4x64xf32>) {
  scf.if %c {
    // expected-warning @+1 {{qc-observations-to-results: 'x:input' is inside a branch or loop body; calibration cannot return it and collects nothing for it}}
    qc.observe "x:input", %x : tensor<4x64xf32>
  }
  return
}
