// RUN: quant-opt %s --split-input-file --qc-lower-cpu="target=x86-64-v3" | FileCheck %s
// RUN: quant-opt %s --split-input-file --qc-lower-cpu="target=x86-64-v3 i16=0" | FileCheck %s --check-prefix=NOI16
// RUN: quant-opt %s --split-input-file --qc-lower-cpu="target=x86-64-v4" | FileCheck %s --check-prefix=V4

// AVX2 has no vpdpbusd: the integer kernels of 4-bit weights multiply with
// vpmaddubsw (u8 weight bytes x s8 activation codes, pairs summed in i16),
// add the low and the high nibbles' i16 sums, and widen them with vpmaddwd
// by ones into the i32 lanes vpdpbusd would give. The 16-lane vectors of the
// kernel are two ymm halves; no AVX-512 intrinsic remains. AVX-512 without
// VNNI (x86-64-v4) does the same on whole zmm vectors.

// INT4 (offset binary): the bytes are the masked nibbles, no table.
// CHECK-LABEL: func.func @int4_w4a8
// CHECK: call @[[K:__qc_matmul_1x32x128_int4_g32_act_int8_g32_x86_64_v3_i8_x86_n16k8_si_ob_r1t2c1(f[0-9]+)?]](
// CHECK: llvm.func internal @[[K]]_task(
// CHECK-NOT: avx512
// CHECK-NOT: pshuf
// CHECK: llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"({{.*}}) : (vector<32xi8>, vector<32xi8>) -> vector<16xi16>
// CHECK: llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"
// CHECK: arith.addi %{{.*}} : vector<16xi16>
// CHECK: llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"({{.*}}) : (vector<16xi16>, vector<16xi16>) -> vector<8xi32>
// CHECK-NOT: avx512
// CHECK: func.func private @[[K]](
// V4-LABEL: func.func @int4_w4a8
// V4: call @[[K:__qc_matmul_1x32x128_int4_g32_act_int8_g32_x86_64_v4_i8_x86_n16k8_si_ob_r1t4c1(f[0-9]+)?]](
// V4: llvm.func internal @[[K]]_task(
// V4-NOT: vpdpbusd
// V4: llvm.call_intrinsic "llvm.x86.avx512.pmaddubs.w.512"({{.*}}) : (vector<64xi8>, vector<64xi8>) -> vector<32xi16>
// V4: llvm.call_intrinsic "llvm.x86.avx512.pmaddubs.w.512"
// V4: arith.addi %{{.*}} : vector<32xi16>
// V4: llvm.call_intrinsic "llvm.x86.avx512.pmaddw.d.512"({{.*}}) : (vector<32xi16>, vector<32xi16>) -> vector<16xi32>
// V4-NOT: vpdpbusd
// V4: func.func private @[[K]](
func.func @int4_w4a8(%x: tensor<1x128xf32>) -> tensor<1x32xf32> {
  %c = arith.constant dense<-0.75> : tensor<32x128xf32>
  %w = qc.quantize %c : tensor<32x128xf32> -> !qc.packed<32x128, int4_g32>
  %y = qc.matmul %x, %w act <int8_g32> : tensor<1x128xf32>, !qc.packed<32x128, int4_g32> -> tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}

// -----

// E2M1 codes: a 16-entry vpshufb table per 128-bit lane (bytes 0 .. 24, the
// values times 2 plus 12); float activations as two int8 limbs (I16), each
// limb its own sum, or without I16 the portable f32 kernel.
// CHECK-LABEL: func.func @mxfp4_w4a16
// CHECK: call @[[K:__qc_matmul_2x32x128_mxfp4_x86_64_v3_i16_x86_n16k8_sid_r2t1c2(f[0-9]+)?]](
// CHECK: llvm.func internal @[[K]]_task(
// CHECK-NOT: avx512
// CHECK: llvm.call_intrinsic "llvm.x86.avx2.pshuf.b"
// CHECK: llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"
// CHECK: llvm.call_intrinsic "llvm.x86.avx2.pmadd.wd"
// CHECK-NOT: avx512
// CHECK: func.func private @[[K]](
// NOI16-LABEL: func.func @mxfp4_w4a16
// NOI16: call @__qc_matmul_2x32x128_mxfp4_x86_64_v3_f32_
func.func @mxfp4_w4a16(%x: tensor<2x128xf32>) -> tensor<2x32xf32> {
  %c = arith.constant dense<1.5> : tensor<32x128xf32>
  %w = qc.quantize %c : tensor<32x128xf32> -> !qc.packed<32x128, mxfp4>
  %y = qc.matmul %x, %w : tensor<2x128xf32>, !qc.packed<32x128, mxfp4> -> tensor<2x32xf32>
  return %y : tensor<2x32xf32>
}

// -----

// 8-bit integer codes stay signed bytes: |w| (vpabsb) times x with the sign
// of w (vpsignb), one vpmaddubsw each, no offset. 4-bit weights whose bytes
// could saturate vpmaddubsw's i16 sums keep the f32 kernel (fake-quantized
// activations): E3M0 (values 2^-2 .. 2^4, bytes up to 128 once times 4).
// CHECK-LABEL: func.func @too_wide
// CHECK: call @__qc_matmul_1x16x64_int8_act_int8_g32_x86_64_v3_i8_x86_n16k4_
// CHECK: call @__qc_matmul_1x16x64_e3m0_act_int8_g32_x86_64_v3_f32_
// CHECK: llvm.func internal @__qc_matmul_1x16x64_int8_{{.*}}_task(
// CHECK-NOT: arith.xori
// CHECK: math.absi %{{.*}} : vector<32xi8>
// CHECK: llvm.call_intrinsic "llvm.x86.avx2.psign.b"
// CHECK: llvm.call_intrinsic "llvm.x86.avx2.pmadd.ub.sw"
func.func @too_wide(%x: tensor<1x64xf32>) -> (tensor<1x16xf32>, tensor<1x16xf32>) {
  %c = arith.constant dense<0.5> : tensor<16x64xf32>
  %w8 = qc.quantize %c : tensor<16x64xf32> -> !qc.packed<16x64, int8>
  %y8 = qc.matmul %x, %w8 act <int8_g32> : tensor<1x64xf32>, !qc.packed<16x64, int8> -> tensor<1x16xf32>
  %we = qc.quantize %c : tensor<16x64xf32> -> !qc.packed<16x64, e3m0>
  %ye = qc.matmul %x, %we act <int8_g32> : tensor<1x64xf32>, !qc.packed<16x64, e3m0> -> tensor<1x16xf32>
  return %y8, %ye : tensor<1x16xf32>, tensor<1x16xf32>
}
