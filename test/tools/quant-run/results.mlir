// Result files are named by qc.name, else by index; argument names come from
// qc.name, else arg<i>; inputs bind by name or, in order, by position.

// RUN: %python %lit_tools/quant-run-npy.py clean %t.out
// RUN: %python %lit_tools/quant-run-npy.py save %t.p.npy float32 "[1, 2, 3]"
// RUN: %python %lit_tools/quant-run-npy.py save %t.q.npy float32 "[10, 20, 30]"

// Named results, unnamed arguments bound by position name.
// RUN: quant-run %s --entry split --input arg1=%t.q.npy --input arg0=%t.p.npy --output-dir %t.out
// RUN: %python %lit_tools/quant-run-npy.py show %t.out/difference.npy %t.out/1.npy %t.out/attn_qkv.npy | FileCheck %s --check-prefix=SPLIT

// SPLIT:      difference.npy: float32 (3)
// SPLIT-NEXT:   -9 -18 -27
// SPLIT-NEXT: 1.npy: float32 (3)
// SPLIT-NEXT:   11 22 33
// SPLIT-NEXT: attn_qkv.npy: float32 (3)
// SPLIT-NEXT:   10 40 90
func.func @split(%a: tensor<3xf32>, %b: tensor<3xf32>)
    -> (tensor<3xf32> {qc.name = "difference"}, tensor<3xf32>,
        tensor<3xf32> {qc.name = "attn/qkv"}) {
  %d = arith.subf %a, %b : tensor<3xf32>
  %s = arith.addf %a, %b : tensor<3xf32>
  %p = arith.mulf %a, %b : tensor<3xf32>
  return %d, %s, %p : tensor<3xf32>, tensor<3xf32>, tensor<3xf32>
}

// A named input plus a positional one that fills the remaining argument; a
// result that is an input unchanged and one that is a constant.
// RUN: quant-run %s --entry passthrough --input scale=%t.q.npy --input %t.p.npy --output-dir %t.out
// RUN: %python %lit_tools/quant-run-npy.py show %t.out/x_copy.npy %t.out/constant.npy %t.out/scaled.npy | FileCheck %s --check-prefix=PASS

// PASS:      x_copy.npy: float32 (3)
// PASS-NEXT:   1 2 3
// PASS-NEXT: constant.npy: float32 (3)
// PASS-NEXT:   0.5 0.25 0.125
// PASS-NEXT: scaled.npy: float32 (3)
// PASS-NEXT:   10 40 90
func.func @passthrough(%x: tensor<3xf32> {qc.name = "x"}, %scale: tensor<3xf32> {qc.name = "scale"})
    -> (tensor<3xf32> {qc.name = "x_copy"}, tensor<3xf32> {qc.name = "constant"},
        tensor<3xf32> {qc.name = "scaled"}) {
  %c = arith.constant dense<[0.5, 0.25, 0.125]> : tensor<3xf32>
  %y = arith.mulf %x, %scale : tensor<3xf32>
  return %x, %c, %y : tensor<3xf32>, tensor<3xf32>, tensor<3xf32>
}

// One value returned under two names (an ONNX output that is also used as
// another output) gets two files with the same contents.
// RUN: quant-run %s --entry repeated --input %t.p.npy --output-dir %t.out
// RUN: %python %lit_tools/quant-run-npy.py show %t.out/first.npy %t.out/second.npy | FileCheck %s --check-prefix=REPEATED
// REPEATED:      first.npy: float32 (3)
// REPEATED-NEXT:   2 4 6
// REPEATED-NEXT: second.npy: float32 (3)
// REPEATED-NEXT:   2 4 6
func.func @repeated(%x: tensor<3xf32>)
    -> (tensor<3xf32> {qc.name = "first"}, tensor<3xf32> {qc.name = "second"}) {
  %y = arith.addf %x, %x : tensor<3xf32>
  return %y, %y : tensor<3xf32>, tensor<3xf32>
}

// A function without arguments.
// RUN: quant-run %s --entry constant --output-dir %t.out
// RUN: %python %lit_tools/quant-run-npy.py show %t.out/0.npy | FileCheck %s --check-prefix=CONSTANT
// CONSTANT:      0.npy: int32 (2)
// CONSTANT-NEXT:   5 7
func.func @constant() -> tensor<2xi32> {
  %c = arith.constant dense<[5, 7]> : tensor<2xi32>
  return %c : tensor<2xi32>
}

// Inputs are read-only: a function that updates its argument works on a copy,
// so repeated calls (--benchmark: one warm-up and 3 timed) all see the
// original input and y[1] = x[1] + 1 = 3, not 2 + 4.
// RUN: quant-run %s --entry update --input %t.p.npy --output-dir %t.out --benchmark 3
// RUN: %python %lit_tools/quant-run-npy.py show %t.out/0.npy | FileCheck %s --check-prefix=UPDATE
// UPDATE:      0.npy: float32 (3)
// UPDATE-NEXT:   1 3 3
func.func @update(%x: tensor<3xf32>) -> tensor<3xf32> {
  %one = arith.constant 1.0 : f32
  %i = arith.constant 1 : index
  %v = tensor.extract %x[%i] : tensor<3xf32>
  %w = arith.addf %v, %one : f32
  %y = tensor.insert %w into %x[%i] : tensor<3xf32>
  return %y : tensor<3xf32>
}
