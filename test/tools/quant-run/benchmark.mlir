// --benchmark prints the median and minimum time of N calls (never checked
// against a number: tests assert, benchmarks measure) and still writes the
// outputs once. --print-ir-after-lowering shows the LLVM-dialect module.

// RUN: %python %lit_tools/quant-run-npy.py clean %t.out
// RUN: %python %lit_tools/quant-run-npy.py save %t.x.npy float32 "np.arange(1024).reshape(32, 32)"
// RUN: quant-run %s --entry scale --input %t.x.npy --output-dir %t.out --benchmark 5 | FileCheck %s --check-prefix=BENCH
// RUN: %python %lit_tools/quant-run-npy.py show %t.out/0.npy | FileCheck %s --check-prefix=VALUES
// BENCH: median: {{[0-9]+\.[0-9]}} us  min: {{[0-9]+\.[0-9]}} us
// VALUES:      0.npy: float32 (32, 32)
// VALUES-NEXT:   0 2 4 6 8 10 12 14 16 18 20 22 24 26 28 30 32 34 36 38 40 42 44 46 48 50 52 54 56 58 60 62
// VALUES:        1984 1986 1988 1990 1992 1994 1996 1998 2000 2002 2004 2006 2008 2010 2012 2014 2016 2018 2020 2022 2024 2026 2028 2030 2032 2034 2036 2038 2040 2042 2044 2046{{$}}

// RUN: quant-run %s --entry scale --input %t.x.npy --output-dir %t.out --print-ir-after-lowering | FileCheck %s --check-prefix=IR
// IR:     llvm.func @scale(
// IR-NOT: func.func
// IR:     llvm.func @_mlir_ciface_scale(
func.func @scale(%x: tensor<32x32xf32>) -> tensor<32x32xf32> {
  %y = arith.addf %x, %x : tensor<32x32xf32>
  return %y : tensor<32x32xf32>
}
