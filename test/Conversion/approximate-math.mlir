// RUN: quant-opt %s --quantc-approximate-math | FileCheck %s
// RUN: %python %S/Inputs/approximate_math_check.py --quant-run quant-run --mlir %S/Inputs/approximate-math-run.mlir --work %t | FileCheck %s --check-prefix=EXP

// exp becomes arithmetic (no math.exp, no libm call left), on scalars and
// vectors alike; powf by 2 becomes a multiplication; log stays (libm).

// CHECK-LABEL: func.func @exp_scalar
// CHECK-NOT:     math.exp
// CHECK:         math.fma
// CHECK-NOT:     math.exp
// CHECK:         return
func.func @exp_scalar(%x: f32) -> f32 {
  %r = math.exp %x : f32
  return %r : f32
}

// CHECK-LABEL: func.func @exp_vector
// CHECK-NOT:     math.exp
// CHECK:         math.fma {{.*}} : vector<16xf32>
// CHECK:         return
func.func @exp_vector(%x: vector<16xf32>) -> vector<16xf32> {
  %r = math.exp %x : vector<16xf32>
  return %r : vector<16xf32>
}

// CHECK-LABEL: func.func @square
// CHECK-NEXT:    %[[R:.*]] = arith.mulf %arg0, %arg0 : f32
// CHECK-NEXT:    return %[[R]]
func.func @square(%x: f32) -> f32 {
  %two = arith.constant 2.0 : f32
  %r = math.powf %x, %two : f32
  return %r : f32
}

// CHECK-LABEL: func.func @log_stays
// CHECK-NEXT:    math.log %arg0 : f32
func.func @log_stays(%x: f32) -> f32 {
  %r = math.log %x : f32
  return %r : f32
}

// Through quant-run's pipeline (which runs this pass), exp of special and
// ordinary values against float64 numpy:
// EXP: NaN ok
// EXP: -inf ok
// EXP: +inf ok
// EXP: overflow ok
// EXP: underflow ok
// EXP: max relative error {{[0-9.e+-]+}} <= 2e-07 over 100000 values in [-87, 88]: ok
