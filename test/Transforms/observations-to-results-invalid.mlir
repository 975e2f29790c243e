// RUN: quant-opt %s --split-input-file --verify-diagnostics --qc-observations-to-results

// A tensor inside a loop or branch body has no value at the return.
func.func @in_region(%c: i1, %x: tensor<4x64xf32>) {
  scf.if %c {
    // expected-error @+1 {{qc-observations-to-results: 'x:input' is observed inside a region; only tensors of the function body can be returned}}
    qc.observe "x:input", %x : tensor<4x64xf32>
  }
  return
}
