// Every quant-run error: one line naming the file and the problem, exit code
// 1, and no output directory or file left behind.

// RUN: %python %lit_tools/quant-run-npy.py clean %t.out
// RUN: %python %lit_tools/quant-run-npy.py save %t.x.npy float32 "np.zeros((2, 3))"
// RUN: %python %lit_tools/quant-run-npy.py save %t.x32.npy float32 "np.zeros((3, 2))"
// RUN: %python %lit_tools/quant-run-npy.py save %t.xi.npy int32 "np.zeros((2, 3))"
// RUN: %python %lit_tools/quant-run-npy.py save %t.x4.npy float32 "[1, 2, 3, 4]"

// RUN: %python %lit_tools/quant-run-npy.py exit-code 1 -- quant-run %s --entry nope --input %t.x.npy --output-dir %t.out 2>&1 | FileCheck %s --check-prefix=NO-ENTRY
// NO-ENTRY: quant-run: error: {{.*}}errors.mlir: no function 'nope' (functions: f, dynamic, scalar, bf, unlowered)

// RUN: %python %lit_tools/quant-run-npy.py exit-code 1 -- quant-run %s --entry declared --output-dir %t.out 2>&1 | FileCheck %s --check-prefix=DECLARED
// DECLARED: quant-run: error: {{.*}}errors.mlir: function 'declared' is only a declaration (no body)

// RUN: %python %lit_tools/quant-run-npy.py exit-code 1 -- quant-run %s --entry f --input x=%t.x32.npy --output-dir %t.out 2>&1 | FileCheck %s --check-prefix=SHAPE
// SHAPE: quant-run: error: {{.*}}x32.npy: argument 'x' of 'f' expects f32 [2, 3] (tensor<2x3xf32>) but the file holds f32 [3, 2]

// RUN: %python %lit_tools/quant-run-npy.py exit-code 1 -- quant-run %s --entry f --input x=%t.xi.npy --output-dir %t.out 2>&1 | FileCheck %s --check-prefix=DTYPE
// DTYPE: quant-run: error: {{.*}}xi.npy: argument 'x' of 'f' expects f32 [2, 3] (tensor<2x3xf32>) but the file holds i32 [2, 3]

// RUN: %python %lit_tools/quant-run-npy.py exit-code 1 -- quant-run %s --entry f --input x=%t.missing.npy --output-dir %t.out 2>&1 | FileCheck %s --check-prefix=MISSING-FILE
// MISSING-FILE: quant-run: error: {{.*}}missing.npy: cannot open

// RUN: %python %lit_tools/quant-run-npy.py exit-code 1 -- quant-run %s --entry f --input %s --output-dir %t.out 2>&1 | FileCheck %s --check-prefix=NOT-NPY
// NOT-NPY: quant-run: error: {{.*}}errors.mlir: not a .npy file

// RUN: %python %lit_tools/quant-run-npy.py exit-code 1 -- quant-run %s --entry f --output-dir %t.out 2>&1 | FileCheck %s --check-prefix=NO-INPUT
// NO-INPUT: quant-run: error: {{.*}}errors.mlir: no input for argument 'x' of 'f' (pass --input x=FILE.npy)

// RUN: %python %lit_tools/quant-run-npy.py exit-code 1 -- quant-run %s --entry f --input y=%t.x.npy --output-dir %t.out 2>&1 | FileCheck %s --check-prefix=UNKNOWN-NAME
// UNKNOWN-NAME: quant-run: error: {{.*}}errors.mlir: function 'f' has no argument 'y' (arguments: x)

// RUN: %python %lit_tools/quant-run-npy.py exit-code 1 -- quant-run %s --entry f --input %t.x.npy --input %t.x.npy --output-dir %t.out 2>&1 | FileCheck %s --check-prefix=TOO-MANY
// TOO-MANY: quant-run: error: {{.*}}errors.mlir: too many inputs: function 'f' takes 1 argument(s) (x)

// RUN: %python %lit_tools/quant-run-npy.py exit-code 1 -- quant-run %s --entry f --input x=%t.x.npy --input x=%t.x.npy --output-dir %t.out 2>&1 | FileCheck %s --check-prefix=TWICE
// TWICE: quant-run: error: {{.*}}errors.mlir: argument 'x' is given twice

// RUN: %python %lit_tools/quant-run-npy.py exit-code 1 -- quant-run %s --entry dynamic --input %t.x.npy --output-dir %t.out 2>&1 | FileCheck %s --check-prefix=DYNAMIC
// DYNAMIC: quant-run: error: {{.*}}errors.mlir: argument 'x' of 'dynamic' has dynamic shape tensor<?x4xf32>; specialise it

// RUN: %python %lit_tools/quant-run-npy.py exit-code 1 -- quant-run %s --entry scalar --input %t.x.npy --output-dir %t.out 2>&1 | FileCheck %s --check-prefix=SCALAR
// SCALAR: quant-run: error: {{.*}}errors.mlir: argument 'arg0' of 'scalar' has type f32; quant-run exchanges ranked tensors only

// RUN: %python %lit_tools/quant-run-npy.py exit-code 1 -- quant-run %s --entry bf --input %t.x.npy --output-dir %t.out 2>&1 | FileCheck %s --check-prefix=BF16
// BF16: quant-run: error: {{.*}}errors.mlir: result '0' of 'bf' has element type bf16; quant-run supports f32, f16, f64, i1, i8, i16, i32, i64, ui8

// An op the CPU pipeline does not lower is named at its location.
// RUN: %python %lit_tools/quant-run-npy.py exit-code 1 -- quant-run %s --entry unlowered --input %t.x4.npy --output-dir %t.out 2>&1 | FileCheck %s --check-prefix=UNLOWERED
// UNLOWERED: errors.mlir:{{[0-9]+}}:8: error: 'arith.scaling_truncf' is not lowered to LLVM by the CPU pipeline
// UNLOWERED: quant-run: error: {{.*}}errors.mlir: cannot compile 'unlowered': an operation is not lowered to LLVM (see above)

// RUN: %python %lit_tools/quant-run-npy.py absent %t.out

func.func @f(%x: tensor<2x3xf32> {qc.name = "x"}) -> tensor<2x3xf32> {
  return %x : tensor<2x3xf32>
}
func.func @dynamic(%x: tensor<?x4xf32> {qc.name = "x"}) -> tensor<?x4xf32> {
  return %x : tensor<?x4xf32>
}
func.func @scalar(%x: f32) -> f32 {
  return %x : f32
}
func.func @bf(%x: tensor<2x3xf32>) -> tensor<2x3xbf16> {
  %y = arith.truncf %x : tensor<2x3xf32> to tensor<2x3xbf16>
  return %y : tensor<2x3xbf16>
}
func.func @unlowered(%x: tensor<4xf32>) -> tensor<4xf32> {
  %c0 = arith.constant 0 : index
  %s = arith.constant 1.0 : f8E8M0FNU
  %v = tensor.extract %x[%c0] : tensor<4xf32>
  %t = arith.scaling_truncf %v, %s : f32, f8E8M0FNU to f8E4M3FN
  %w = arith.scaling_extf %t, %s : f8E4M3FN, f8E8M0FNU to f32
  %y = tensor.insert %w into %x[%c0] : tensor<4xf32>
  return %y : tensor<4xf32>
}
func.func private @declared(tensor<2xf32>) -> tensor<2xf32>
