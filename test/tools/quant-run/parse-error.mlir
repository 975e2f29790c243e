// A file MLIR cannot parse: MLIR's diagnostic with file:line:col, then the
// one-line quant-run error, exit code 1 and no outputs.

// RUN: %python %lit_tools/quant-run-npy.py clean %t.out
// RUN: %python %lit_tools/quant-run-npy.py exit-code 1 -- quant-run %s --entry f --output-dir %t.out 2>&1 | FileCheck %s
// RUN: %python %lit_tools/quant-run-npy.py absent %t.out

// CHECK: parse-error.mlir:[[# @LINE + 3]]:18: error: expected SSA operand
// CHECK: quant-run: error: {{.*}}parse-error.mlir: cannot parse the MLIR module
func.func @f() -> f32 {
  %0 = arith.addf 1 : f32
  return %0 : f32
}
