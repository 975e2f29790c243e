// Every element type quant-run exchanges, in and out, bit-exact.

// RUN: %python %lit_tools/quant-run-npy.py clean %t.out

// i32 wraps around: 5 * 2147483647 + 3 = 2147483646 (mod 2^32).
// RUN: %python %lit_tools/quant-run-npy.py save %t.i32.npy int32 "[1, -7, 2147483647, 100]"
// RUN: quant-run %s --entry int32 --input %t.i32.npy --output-dir %t.out
// RUN: %python %lit_tools/quant-run-npy.py show %t.out/0.npy | FileCheck %s --check-prefix=I32
// I32:      0.npy: int32 (4)
// I32-NEXT:   8 -32 2147483646 503
func.func @int32(%x: tensor<4xi32>) -> tensor<4xi32> {
  %c2 = arith.constant dense<2> : tensor<4xi32>
  %c3 = arith.constant dense<3> : tensor<4xi32>
  %shifted = arith.shli %x, %c2 : tensor<4xi32>
  %times5 = arith.addi %shifted, %x : tensor<4xi32>
  %y = arith.addi %times5, %c3 : tensor<4xi32>
  return %y : tensor<4xi32>
}

// i8 wraps around too: 3 * 100 = 44, 3 * -128 = -128 (mod 2^8).
// RUN: %python %lit_tools/quant-run-npy.py save %t.i8.npy int8 "[100, -128, 7, -1]"
// RUN: quant-run %s --entry int8 --input %t.i8.npy --output-dir %t.out
// RUN: %python %lit_tools/quant-run-npy.py show %t.out/0.npy | FileCheck %s --check-prefix=I8
// I8:      0.npy: int8 (4)
// I8-NEXT:   44 -128 21 -3
func.func @int8(%x: tensor<4xi8>) -> tensor<4xi8> {
  %c3 = arith.constant dense<3> : tensor<4xi8>
  %y = arith.muli %x, %c3 : tensor<4xi8>
  return %y : tensor<4xi8>
}

// i16 in, i64 out: sign extension, then x * 2^32 + 7.
// RUN: %python %lit_tools/quant-run-npy.py save %t.i16.npy int16 "[-32768, 32767, -2, 300]"
// RUN: quant-run %s --entry widen --input %t.i16.npy --output-dir %t.out
// RUN: %python %lit_tools/quant-run-npy.py show %t.out/0.npy | FileCheck %s --check-prefix=WIDEN
// WIDEN:      0.npy: int64 (4)
// WIDEN-NEXT:   -140737488355321 140733193388039 -8589934585 1288490188807
func.func @widen(%x: tensor<4xi16>) -> tensor<4xi64> {
  %wide = arith.extsi %x : tensor<4xi16> to tensor<4xi64>
  %scale = arith.constant dense<4294967296> : tensor<4xi64>
  %c7 = arith.constant dense<7> : tensor<4xi64>
  %scaled = arith.muli %wide, %scale : tensor<4xi64>
  %y = arith.addi %scaled, %c7 : tensor<4xi64>
  return %y : tensor<4xi64>
}

// i1 (NumPy bool) in and out, and a comparison that produces i1 from f32.
// RUN: %python %lit_tools/quant-run-npy.py save %t.a.npy bool "[True, True, False, False]"
// RUN: %python %lit_tools/quant-run-npy.py save %t.b.npy bool "[True, False, True, False]"
// RUN: %python %lit_tools/quant-run-npy.py save %t.f.npy float32 "[0.5, -1, 2, 0]"
// RUN: quant-run %s --entry logic --input %t.a.npy --input %t.b.npy --input %t.f.npy --output-dir %t.out
// RUN: %python %lit_tools/quant-run-npy.py show %t.out/xor.npy %t.out/positive.npy | FileCheck %s --check-prefix=BOOL
// BOOL:      xor.npy: bool (4)
// BOOL-NEXT:   false true true false
// BOOL-NEXT: positive.npy: bool (4)
// BOOL-NEXT:   true false true false
func.func @logic(%a: tensor<4xi1>, %b: tensor<4xi1>, %f: tensor<4xf32>)
    -> (tensor<4xi1> {qc.name = "xor"}, tensor<4xi1> {qc.name = "positive"}) {
  %xor = arith.xori %a, %b : tensor<4xi1>
  %zero = arith.constant dense<0.0> : tensor<4xf32>
  %positive = arith.cmpf ogt, %f, %zero : tensor<4xf32>
  return %xor, %positive : tensor<4xi1>, tensor<4xi1>
}

// f16 arithmetic rounds and overflows in f16: 2 * 40000 = inf.
// RUN: %python %lit_tools/quant-run-npy.py save %t.f16.npy float16 "[1.5, -3, 0.125, 40000]"
// RUN: quant-run %s --entry half --input %t.f16.npy --output-dir %t.out
// RUN: %python %lit_tools/quant-run-npy.py show %t.out/0.npy | FileCheck %s --check-prefix=F16
// F16:      0.npy: float16 (4)
// F16-NEXT:   3.5 -5.5 0.75 inf
func.func @half(%x: tensor<4xf16>) -> tensor<4xf16> {
  %c2 = arith.constant dense<2.0> : tensor<4xf16>
  %half = arith.constant dense<0.5> : tensor<4xf16>
  %doubled = arith.mulf %x, %c2 : tensor<4xf16>
  %y = arith.addf %doubled, %half : tensor<4xf16>
  return %y : tensor<4xf16>
}

// f64 keeps double precision (correctly rounded division, as in NumPy).
// RUN: %python %lit_tools/quant-run-npy.py save %t.f64.npy float64 "[1, 2, 1e300, -0.1]"
// RUN: quant-run %s --entry double --input %t.f64.npy --output-dir %t.out
// RUN: %python %lit_tools/quant-run-npy.py show %t.out/0.npy | FileCheck %s --check-prefix=F64
// F64:      0.npy: float64 (4)
// F64-NEXT:   0.3333333333333333 0.6666666666666666 3.3333333333333335e+299 -0.03333333333333333
func.func @double(%x: tensor<4xf64>) -> tensor<4xf64> {
  %c3 = arith.constant dense<3.0> : tensor<4xf64>
  %y = arith.divf %x, %c3 : tensor<4xf64>
  return %y : tensor<4xf64>
}

// ui8 (NumPy uint8) passes through tensor ops (arith needs signless integers).
// RUN: %python %lit_tools/quant-run-npy.py save %t.u8.npy uint8 "[0, 128, 255, 7]"
// RUN: quant-run %s --entry bytes --input %t.u8.npy --output-dir %t.out
// RUN: %python %lit_tools/quant-run-npy.py show %t.out/0.npy | FileCheck %s --check-prefix=U8
// U8:      0.npy: uint8 (2)
// U8-NEXT:   255 7
func.func @bytes(%x: tensor<4xui8>) -> tensor<2xui8> {
  %tail = tensor.extract_slice %x[2] [2] [1] : tensor<4xui8> to tensor<2xui8>
  return %tail : tensor<2xui8>
}
