// quantc-gpu-lower-format-math (run by quantc-gpu-to-ptx): arith.truncf
// from f32 to the OCP minifloats becomes cvt.rn.satfinite (nvvm.convert)
// where the gpu.module's chip has it (f8: sm_89+, f6/f4: sm_100a, sm_120a),
// else the format library's integer rounding; other truncf stay.
// RUN: quant-opt %s --split-input-file \
// RUN:   --pass-pipeline='builtin.module(gpu.module(quantc-gpu-lower-format-math))' \
// RUN:   | FileCheck %s

// CHECK-LABEL: gpu.module @sm120
// CHECK: func.func @f4(%[[X:.*]]: f32)
// CHECK: %[[P:.*]] = nvvm.convert.f32x2.to.f4x2 %[[X]], %[[X]] : i8(f4E2M1FN)
// CHECK: %[[C:.*]] = arith.trunci %[[P]] : i8 to i4
// CHECK: return %[[C]] : i4
// CHECK: func.func @f6(%[[X:.*]]: f32)
// CHECK: nvvm.convert.f32x2.to.f6x2 %[[X]], %[[X]] : i16(f6E2M3FN)
// CHECK: arith.trunci %{{.*}} : i16 to i6
// CHECK: nvvm.convert.f32x2.to.f6x2 %[[X]], %[[X]] : i16(f6E3M2FN)
// CHECK: func.func @f8(%[[X:.*]]: f32)
// CHECK: nvvm.convert.f32x2.to.f8x2 %[[X]], %[[X]] {rnd = #nvvm.fp_rnd_mode<rn>, sat = #nvvm.sat_mode<satfinite>} : i16(f8E4M3FN)
// CHECK: arith.trunci %{{.*}} : i16 to i8
// CHECK: nvvm.convert.f32x2.to.f8x2 %[[X]], %[[X]] {rnd = #nvvm.fp_rnd_mode<rn>, sat = #nvvm.sat_mode<satfinite>} : i16(f8E5M2)
// CHECK: func.func @others(%[[X:.*]]: f32)
// CHECK: arith.truncf %[[X]] : f32 to f16
// CHECK: arith.truncf %[[X]] : f32 to bf16
gpu.module @sm120 [#nvvm.target<chip = "sm_120a">] {
  func.func @f4(%x: f32) -> i4 {
    %t = arith.truncf %x : f32 to f4E2M1FN
    %c = arith.bitcast %t : f4E2M1FN to i4
    return %c : i4
  }
  func.func @f6(%x: f32) -> (i6, i6) {
    %a = arith.truncf %x : f32 to f6E2M3FN
    %b = arith.truncf %x : f32 to f6E3M2FN
    %ca = arith.bitcast %a : f6E2M3FN to i6
    %cb = arith.bitcast %b : f6E3M2FN to i6
    return %ca, %cb : i6, i6
  }
  func.func @f8(%x: f32) -> (i8, i8) {
    %a = arith.truncf %x : f32 to f8E4M3FN
    %b = arith.truncf %x : f32 to f8E5M2
    %ca = arith.bitcast %a : f8E4M3FN to i8
    %cb = arith.bitcast %b : f8E5M2 to i8
    return %ca, %cb : i8, i8
  }
  func.func @others(%x: f32) -> (f16, bf16) {
    %a = arith.truncf %x : f32 to f16
    %b = arith.truncf %x : f32 to bf16
    return %a, %b : f16, bf16
  }
}

// -----

// sm_90a converts f8 only; f4 is rounded in integer arithmetic (round to
// nearest even at the f32 exponent, saturating to 6 = code 7).
// CHECK-LABEL: gpu.module @sm90
// CHECK: func.func @f4(%[[X:.*]]: f32)
// CHECK-NOT: nvvm.convert
// CHECK: "llvm.roundeven.f32"
// CHECK: %[[C:.*]] = arith.trunci %{{.*}} : i32 to i4
// CHECK: return %[[C]]
// CHECK: func.func @f8(%[[X:.*]]: f32)
// CHECK: nvvm.convert.f32x2.to.f8x2 %[[X]], %[[X]] {{.*}} : i16(f8E4M3FN)
gpu.module @sm90 [#nvvm.target<chip = "sm_90a">] {
  func.func @f4(%x: f32) -> i4 {
    %t = arith.truncf %x : f32 to f4E2M1FN
    %c = arith.bitcast %t : f4E2M1FN to i4
    return %c : i4
  }
  func.func @f8(%x: f32) -> i8 {
    %t = arith.truncf %x : f32 to f8E4M3FN
    %c = arith.bitcast %t : f8E4M3FN to i8
    return %c : i8
  }
}

// -----

// sm_80 has no such convert.
// CHECK-LABEL: gpu.module @sm80
// CHECK-NOT: nvvm.convert
// CHECK: "llvm.roundeven.f32"
// CHECK: arith.trunci %{{.*}} : i32 to i8
gpu.module @sm80 [#nvvm.target<chip = "sm_80">] {
  func.func @f8(%x: f32) -> i8 {
    %t = arith.truncf %x : f32 to f8E5M2
    %c = arith.bitcast %t : f8E5M2 to i8
    return %c : i8
  }
}

// -----

// f32 math that convert-gpu-to-nvvm would send to libdevice (not linked)
// becomes LLVM intrinsics.
// CHECK-LABEL: gpu.module @math
// CHECK: llvm.call_intrinsic "llvm.fabs.f32"(%{{.*}}) : (f32) -> f32
// CHECK: llvm.call_intrinsic "llvm.roundeven.f32"(%{{.*}}) : (f32) -> f32
// CHECK: llvm.call_intrinsic "llvm.maxnum.f32"(%{{.*}}, %{{.*}}) : (f32, f32) -> f32
// CHECK: llvm.call_intrinsic "llvm.minnum.f32"(%{{.*}}, %{{.*}}) : (f32, f32) -> f32
// CHECK-NOT: math.
gpu.module @math [#nvvm.target<chip = "sm_80">] {
  func.func @m(%x: f32, %y: f32) -> (f32, f32, f32, f32) {
    %a = math.absf %x : f32
    %r = math.roundeven %x : f32
    %hi = arith.maxnumf %x, %y : f32
    %lo = arith.minnumf %x, %y : f32
    return %a, %r, %hi, %lo : f32, f32, f32, f32
  }
}
