// Memref descriptors of any rank: rank 0 (a NumPy scalar array) and rank 4.

// RUN: %python %lit_tools/quant-run-npy.py clean %t.out

// RUN: %python %lit_tools/quant-run-npy.py save %t.s.npy float32 "2.5"
// RUN: %python %lit_tools/quant-run-npy.py save %t.v.npy float32 "[1, -2, 4]"
// RUN: quant-run %s --entry scalar --input s=%t.s.npy --input v=%t.v.npy --output-dir %t.out
// RUN: %python %lit_tools/quant-run-npy.py show %t.out/squared.npy %t.out/scaled.npy | FileCheck %s --check-prefix=RANK0
// RANK0:      squared.npy: float32 ()
// RANK0-NEXT:   6.25
// RANK0-NEXT: scaled.npy: float32 (3)
// RANK0-NEXT:   2.5 -5 10
func.func @scalar(%s: tensor<f32> {qc.name = "s"}, %v: tensor<3xf32> {qc.name = "v"})
    -> (tensor<f32> {qc.name = "squared"}, tensor<3xf32> {qc.name = "scaled"}) {
  %squared = arith.mulf %s, %s : tensor<f32>
  %empty = tensor.empty() : tensor<3xf32>
  %sv = linalg.broadcast ins(%s : tensor<f32>) outs(%empty : tensor<3xf32>) dimensions = [0]
  %scaled = arith.mulf %v, %sv : tensor<3xf32>
  return %squared, %scaled : tensor<f32>, tensor<3xf32>
}

// Rank 4 with a permutation (NCHW -> NHWC) plus an offset that depends on the
// position, so that any stride mistake shows: y[n,h,w,c] = x[n,c,h,w] + 1000*c.
// RUN: %python %lit_tools/quant-run-npy.py save %t.x.npy float32 "np.arange(24).reshape(2, 3, 2, 2)"
// RUN: quant-run %s --entry nchw_to_nhwc --input %t.x.npy --output-dir %t.out
// RUN: %python %lit_tools/quant-run-npy.py show %t.out/0.npy | FileCheck %s --check-prefix=RANK4
// RANK4:      0.npy: float32 (2, 2, 2, 3)
// RANK4-NEXT:   0 1004 2008
// RANK4-NEXT:   1 1005 2009
// RANK4-NEXT:   2 1006 2010
// RANK4-NEXT:   3 1007 2011
// RANK4-NEXT:   12 1016 2020
// RANK4-NEXT:   13 1017 2021
// RANK4-NEXT:   14 1018 2022
// RANK4-NEXT:   15 1019 2023
#nchw = affine_map<(n, h, w, c) -> (n, c, h, w)>
#nhwc = affine_map<(n, h, w, c) -> (n, h, w, c)>
func.func @nchw_to_nhwc(%x: tensor<2x3x2x2xf32>) -> tensor<2x2x2x3xf32> {
  %empty = tensor.empty() : tensor<2x2x2x3xf32>
  %y = linalg.generic {indexing_maps = [#nchw, #nhwc],
                       iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%x : tensor<2x3x2x2xf32>) outs(%empty : tensor<2x2x2x3xf32>) {
  ^bb0(%in: f32, %out: f32):
    %c = linalg.index 3 : index
    %ci = arith.index_cast %c : index to i32
    %cf = arith.sitofp %ci : i32 to f32
    %k = arith.constant 1000.0 : f32
    %offset = arith.mulf %cf, %k : f32
    %r = arith.addf %in, %offset : f32
    linalg.yield %r : f32
  } -> tensor<2x2x2x3xf32>
  return %y : tensor<2x2x2x3xf32>
}

// A strided slice returned as is: the copy into the result buffer is not
// contiguous; quantc-strided-copies-to-linalg makes it a loop nest instead of
// a call of memrefCopy (the MLIR runner utilities quant-run loads into the
// JIT, still used for dynamically shaped copies).
// RUN: %python %lit_tools/quant-run-npy.py save %t.m.npy float32 "np.arange(12).reshape(3, 4)"
// RUN: quant-run %s --entry strided_slice --input %t.m.npy --output-dir %t.out --print-ir-after-lowering | FileCheck %s --check-prefix=STRIDED-IR
// RUN: %python %lit_tools/quant-run-npy.py show %t.out/0.npy | FileCheck %s --check-prefix=STRIDED
// STRIDED-IR-NOT: llvm.call @memrefCopy
// STRIDED:      0.npy: float32 (3, 2)
// STRIDED-NEXT:   1 3
// STRIDED-NEXT:   5 7
// STRIDED-NEXT:   9 11
func.func @strided_slice(%x: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %s = tensor.extract_slice %x[0, 1] [3, 2] [1, 2] : tensor<3x4xf32> to tensor<3x2xf32>
  return %s : tensor<3x2xf32>
}
