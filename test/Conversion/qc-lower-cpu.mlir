// RUN: quant-opt %s --split-input-file --qc-lower-cpu="target=x86-64-v4 pack-only=1" | FileCheck %s --check-prefix=V4
// RUN: quant-opt %s --split-input-file --qc-lower-cpu="target=x86-64-v4-vnni pack-only=1" | FileCheck %s --check-prefix=VNNI
// RUN: quant-opt %s --split-input-file --qc-lower-cpu="target=x86-64-v4-vnni i16=0 pack-only=1" | FileCheck %s --check-prefix=PAIRS
// RUN: quant-opt %s --split-input-file --qc-lower-cpu="target=x86-64-v4-vnni i16=0 bf16=0 pack-only=1" | FileCheck %s --check-prefix=NOBF16
// RUN: quant-opt %s --split-input-file --qc-lower-cpu="target=x86-64-v4-vnni" | FileCheck %s --check-prefix=KERNEL
// RUN: quant-opt %s --split-input-file --qc-lower-cpu="target=x86-64-v4-vnni i16=0" | FileCheck %s --check-prefix=BF16
// RUN: quant-opt %s --split-input-file --qc-lower-cpu="target=x86-64" | FileCheck %s --check-prefix=BASE
// RUN: not quant-opt %s --split-input-file --qc-lower-cpu="target=pentium" 2>&1 | FileCheck %s --check-prefix=BADTARGET

// The layout follows the target: 4-bit weights in 16-column tiles of 8 k
// (VNNI / vpermps order) on AVX-512 (and for the 16-bit fixed-point
// activations of VNNI targets), with the block scales inline (x86_n16k8_sid:
// here the E8M0 scales of 4 blocks, one line before their 16 chunks, a dword
// per column), in k pairs for vdpbf16ps where bf16 activations are chosen
// instead.

// V4-LABEL: func.func @w4a16
// V4: %[[W:.*]] = qc.constant {{.*}} : tensor<3264xi8> : !qc.packed<40x128, mxfp4, layout = x86_n16k8_sid>
// V4: qc.matmul %{{.*}}, %[[W]] : tensor<1x128xf32>, !qc.packed<40x128, mxfp4, layout = x86_n16k8_sid> -> tensor<1x40xf32>
// VNNI-LABEL: func.func @w4a16
// VNNI: qc.matmul {{.*}} !qc.packed<40x128, mxfp4, layout = x86_n16k8_sid>
// PAIRS-LABEL: func.func @w4a16
// PAIRS: qc.matmul {{.*}} !qc.packed<40x128, mxfp4, layout = x86_n16k8p>
// NOBF16-LABEL: func.func @w4a16
// NOBF16: qc.matmul {{.*}} !qc.packed<40x128, mxfp4, layout = x86_n16k8_sid>

// The kernel: x and y as memrefs, the weights a 64-byte aligned global, the
// work in llvm.func tasks for the target run by quantc_parallel_for. On the
// VNNI target x becomes two int8 limbs per block (q = round(x / s),
// hi = (q + 128) >> 8, lo = q - 256 hi) and the weights unsigned bytes.
// KERNEL: memref.global "private" constant @__qc_weights_0 : memref<3264xi8> = dense<{{.*}}> {alignment = 64 : i64}
// KERNEL-LABEL: func.func @w4a16
// KERNEL-NOT: qc.
// KERNEL: %[[X:.*]] = bufferization.to_buffer %arg0 read_only : tensor<1x128xf32> to memref<1x128xf32>
// KERNEL: %[[W:.*]] = memref.get_global @__qc_weights_0 : memref<3264xi8>
// KERNEL: %[[Y:.*]] = memref.alloc() {alignment = 64 : i64} : memref<1x40xf32>
// KERNEL: call @[[K:__qc_matmul_1x40x128_mxfp4_x86_64_v4_vnni_i16_x86_n16k8_sid_r[0-9]+t[0-9]+c[0-9]+p?(f[0-9]+)?]](%[[X]], %[[W]], %[[Y]])
// KERNEL: %[[R:.*]] = bufferization.to_tensor %[[Y]] restrict writable
// KERNEL: return %[[R]]
// KERNEL: llvm.func internal @[[K]]_prep(%{{.*}}: !llvm.ptr, %{{.*}}: i64, %{{.*}}: i64) attributes {target_cpu = "x86-64-v4", target_features = #llvm.target_features<["+avx512vnni", "+avx512bf16", "+avx512vbmi"]>}
// KERNEL: llvm.intr.roundeven(%{{.*}}) : (vector<16xf32>) -> vector<16xf32>
// KERNEL: arith.shrsi
// KERNEL: llvm.func internal @[[K]]_task(
// KERNEL: llvm.call_intrinsic "llvm.x86.avx512.permvar.qi.512"
// KERNEL: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// The E8M0 scales of a block: 16 dwords loaded at the block's byte of the
// scale line, shifted into the exponent field and masked (2139095040 =
// 0x7F800000), raw 0 raised to 2^-127 (4194304 = 0x400000).
// KERNEL: %[[RAW:.*]] = llvm.load %{{.*}} {alignment = 1 : i64} : !llvm.ptr -> vector<16xi32>
// KERNEL-NEXT: %[[C23:.*]] = arith.constant dense<23> : vector<16xi32>
// KERNEL-NEXT: %[[SHIFTED:.*]] = arith.shli %[[RAW]], %[[C23]] : vector<16xi32>
// KERNEL-NEXT: %[[MASK:.*]] = arith.constant dense<2139095040> : vector<16xi32>
// KERNEL-NEXT: %[[MASKED:.*]] = arith.andi %[[SHIFTED]], %[[MASK]] : vector<16xi32>
// KERNEL-NEXT: %[[LOW:.*]] = arith.constant dense<4194304> : vector<16xi32>
// KERNEL-NEXT: arith.maxui %[[MASKED]], %[[LOW]] : vector<16xi32>
// KERNEL: func.func private @[[K]](%{{.*}}: memref<1x128xf32>, %{{.*}}: memref<3264xi8>, %{{.*}}: memref<1x40xf32>)
// KERNEL: call @quantc_kernel_alloc
// KERNEL: llvm.mlir.addressof @[[K]]_prep
// KERNEL: call @quantc_parallel_for
// KERNEL: llvm.mlir.addressof @[[K]]_task
// KERNEL: call @quantc_parallel_for
// KERNEL: call @quantc_kernel_free

// bf16 activations: vpermw decodes codes to bf16 for vdpbf16ps.
// BF16-LABEL: func.func @w4a16
// BF16: call @[[K:__qc_matmul_1x40x128_mxfp4_x86_64_v4_vnni_bf16_x86_n16k8p_r[0-9]+t[0-9]+c[0-9]+p?(f[0-9]+)?]](
// BF16: llvm.func internal @[[K]]_prep(
// BF16: arith.truncf %{{.*}} : f32 to bf16
// BF16: llvm.func internal @[[K]]_task(
// BF16: llvm.call_intrinsic "llvm.x86.avx512.permvar.hi.512"
// BF16: llvm.call_intrinsic "llvm.x86.avx512bf16.dpbf16ps.512"

// The baseline target has no FMA, shuffles or dot products: plain vector code.
// BASE-LABEL: func.func @w4a16
// BASE: call @__qc_matmul_1x40x128_mxfp4_x86_64_f32_x86_n16k8_sid_{{r[0-9]+t[0-9]+c[0-9]+p?}}
// BASE-NOT: llvm.call_intrinsic
// BASE-NOT: math.fma
// BASE: func.func private

// BADTARGET: error: qc-lower-cpu: unknown CPU target 'pentium' (known: x86-64, x86-64-v3, x86-64-v4, x86-64-v4-vnni, native)
func.func @w4a16(%x: tensor<1x128xf32>) -> tensor<1x40xf32> {
  %c = arith.constant dense<1.5> : tensor<40x128xf32>
  %w = qc.quantize %c : tensor<40x128xf32> -> !qc.packed<40x128, mxfp4>
  %y = qc.matmul %x, %w : tensor<1x128xf32>, !qc.packed<40x128, mxfp4> -> tensor<1x40xf32>
  return %y : tensor<1x40xf32>
}

// -----

// int8 activations: vpdpbusd on VNNI targets (int4 codes to unsigned bytes
// with (v ^ 0x88) & 0x0F, E2M1 codes with a 16-entry vpermb table), with the
// weights in VNNI order (one tile of 16 columns; f32 block scales inline,
// x86_n16k8_si: per block of 32, 4 chunks of 64 bytes then its 16 scales of
// 4 bytes); x86-64-v4 lacks vpdpbusd and multiplies the same bytes with
// vpmaddubsw + vpmaddwd (qc-lower-cpu-avx2.mlir), with the same layout.

// V4-LABEL: func.func @w4a8
// V4: qc.matmul %{{.*}}, %{{.*}} act <mxint8> : tensor<2x3x64xf32>, !qc.packed<16x64, int4_g32, layout = x86_n16k8_si_ob> -> tensor<2x3x16xf32>
// VNNI-LABEL: func.func @w4a8
// VNNI: qc.matmul {{.*}} act <mxint8> : tensor<2x3x64xf32>, !qc.packed<16x64, int4_g32, layout = x86_n16k8_si_ob> -> tensor<2x3x16xf32>

// Rank-3 activations are collapsed to [M, K] and the result expanded back.
// KERNEL-LABEL: func.func @w4a8
// KERNEL: %[[X:.*]] = tensor.collapse_shape %arg0 {{\[}}[0, 1], [2]] : tensor<2x3x64xf32> into tensor<6x64xf32>
// KERNEL: bufferization.to_buffer %[[X]] read_only
// KERNEL: call @[[K:__qc_matmul_6x16x64_int4_g32_act_mxint8_x86_64_v4_vnni_i8_x86_n16k8_si_ob_r[0-9]+t[0-9]+c[0-9]+p?(f[0-9]+)?]](
// KERNEL: tensor.expand_shape %{{.*}} {{\[}}[0, 1], [2]] output_shape [2, 3, 16] : tensor<6x16xf32> into tensor<2x3x16xf32>
// KERNEL: llvm.func internal @[[K]]_prep(
// KERNEL: llvm.intr.roundeven(%{{.*}}) : (vector<16xf32>) -> vector<16xf32>
// INT4 codes stored offset binary (x86_n16k8_si_ob) are vpdpbusd's unsigned
// bytes after a mask per nibble: no XOR, no table.
// KERNEL: llvm.func internal @[[K]]_task(
// KERNEL-NOT: arith.xori
// KERNEL-NOT: permvar
// KERNEL: %[[MASK:.*]] = arith.constant dense<252645135> : vector<16xi32>
// KERNEL-NOT: arith.xori
// KERNEL: arith.andi %{{.*}}, %[[MASK]] : vector<16xi32>
// KERNEL-NOT: arith.xori
// KERNEL: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
func.func @w4a8(%x: tensor<2x3x64xf32>) -> tensor<2x3x16xf32> {
  %c = arith.constant dense<-0.75> : tensor<16x64xf32>
  %w = qc.quantize %c : tensor<16x64xf32> -> !qc.packed<16x64, int4_g32>
  %y = qc.matmul %x, %w act <mxint8> : tensor<2x3x64xf32>, !qc.packed<16x64, int4_g32> -> tensor<2x3x16xf32>
  return %y : tensor<2x3x16xf32>
}

// -----

// NV formats with int8 activations in blocks of 32: the two 16-blocks of
// every 32 of K share one epilogue (x86_n16k8_s32: the halves of 8 columns
// in one vpdpbusd chain, vpackssdw + vpmaddwd with the integer scale
// multipliers, one f32 factor); the prep phase puts x codes k and k + 16
// side by side. Scales that do not fold (448 and 2^-9 in one tile and 32 of
// K) take the per-16 epilogue, with the scales inline where K holds 64s of
// them (x86_n16k8_si); without VNNI there is no pair kernel either.

// V4-LABEL: func.func @nv_pairs
// V4: qc.matmul {{.*}} act <int8_g32> : tensor<1x64xf32>, !qc.packed<16x64, nvfp4, layout = x86_n16k8_si>
// V4: qc.matmul {{.*}} act <int8_g32> : tensor<1x32xf32>, !qc.packed<2x32, nvfp4, layout = x86_n16k8>
// VNNI-LABEL: func.func @nv_pairs
// VNNI: qc.matmul {{.*}} act <int8_g32> : tensor<1x64xf32>, !qc.packed<16x64, nvfp4, layout = x86_n16k8_s32>
// VNNI: qc.matmul {{.*}} act <int8_g32> : tensor<1x32xf32>, !qc.packed<2x32, nvfp4, layout = x86_n16k8>
// KERNEL-LABEL: func.func @nv_pairs
// KERNEL: call @[[K:__qc_matmul_1x16x64_nvfp4_act_int8_g32_x86_64_v4_vnni_i8_x86_n16k8_s32_r[0-9]+t[0-9]+c[0-9]+]](
// KERNEL: call @[[K2:__qc_matmul_1x2x32_nvfp4_act_int8_g32_x86_64_v4_vnni_i8_x86_n16k8_r[0-9]+t[0-9]+c[0-9]+]](
// KERNEL: llvm.func internal @[[K]]_prep(
// KERNEL: vector.shuffle %{{.*}}, %{{.*}} [0, 4, 1, 5, 2, 6, 3, 7] : vector<8xi32>, vector<8xi32>
// KERNEL: llvm.func internal @[[K]]_task(
// KERNEL: llvm.call_intrinsic "llvm.x86.avx512.vpdpbusd.512"
// KERNEL: llvm.call_intrinsic "llvm.x86.avx512.packssdw.512"
// KERNEL: llvm.call_intrinsic "llvm.x86.avx512.pmaddw.d.512"
// KERNEL: llvm.intr.fma
// KERNEL: llvm.func internal @[[K2]]_task(
// KERNEL-NOT: packssdw
// KERNEL: func.func private @[[K2]](
func.func @nv_pairs(%x: tensor<1x64xf32>, %x2: tensor<1x32xf32>) -> (tensor<1x16xf32>, tensor<1x2xf32>) {
  %c = arith.constant dense<-0.75> : tensor<16x64xf32>
  %w = qc.quantize %c : tensor<16x64xf32> -> !qc.packed<16x64, nvfp4>
  %y = qc.matmul %x, %w act <int8_g32> : tensor<1x64xf32>, !qc.packed<16x64, nvfp4> -> tensor<1x16xf32>
  %c2 = arith.constant dense<[[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [5.0e-06, 5.0e-06, 5.0e-06, 5.0e-06, 5.0e-06, 5.0e-06, 5.0e-06, 5.0e-06, 5.0e-06, 5.0e-06, 5.0e-06, 5.0e-06, 5.0e-06, 5.0e-06, 5.0e-06, 5.0e-06, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]]> : tensor<2x32xf32>
  %w2 = qc.quantize %c2 : tensor<2x32xf32> -> !qc.packed<2x32, nvfp4>
  %y2 = qc.matmul %x2, %w2 act <int8_g32> : tensor<1x32xf32>, !qc.packed<2x32, nvfp4> -> tensor<1x2xf32>
  return %y, %y2 : tensor<1x16xf32>, tensor<1x2xf32>
}

// -----

// Two matmuls of one shape share a kernel; each constant gets its own global.
// 8-bit codes use the x86_n16k4 layout.

// V4-LABEL: func.func @shared
// V4-COUNT-2: layout = x86_n16k4
// KERNEL-LABEL: func.func @shared
// KERNEL: memref.get_global @[[G0:__qc_weights_[0-9]+]]
// KERNEL: call @[[K:__qc_matmul_4x32x32_int8_x86_64_v4_vnni_i16_x86_n16k4_r[0-9]+t[0-9]+c[0-9]+p?(f[0-9]+)?]](
// KERNEL: memref.get_global @[[G1:__qc_weights_[0-9]+]]
// KERNEL: call @[[K]](
// KERNEL-COUNT-1: func.func private @[[K]](
func.func @shared(%x: tensor<4x32xf32>) -> tensor<4x32xf32> {
  %c0 = arith.constant dense<1.0> : tensor<32x32xf32>
  %c1 = arith.constant dense<2.0> : tensor<32x32xf32>
  %w0 = qc.quantize %c0 : tensor<32x32xf32> -> !qc.packed<32x32, int8>
  %w1 = qc.quantize %c1 : tensor<32x32xf32> -> !qc.packed<32x32, int8>
  %y0 = qc.matmul %x, %w0 : tensor<4x32xf32>, !qc.packed<32x32, int8> -> tensor<4x32xf32>
  %y1 = qc.matmul %y0, %w1 : tensor<4x32xf32>, !qc.packed<32x32, int8> -> tensor<4x32xf32>
  return %y1 : tensor<4x32xf32>
}

// -----

// Left for the reference lowering: weights that are not constants, and
// activation formats the integer kernels do not implement.

// KERNEL-LABEL: func.func @not_lowered
// KERNEL: qc.matmul %arg0, %arg1 : tensor<1x64xf32>, !qc.packed<16x64, mxfp4>
// KERNEL: qc.matmul %arg0, %{{.*}} act <mxfp8_e4m3> : tensor<1x64xf32>, !qc.packed<16x64, mxfp4> -> tensor<1x16xf32>
// KERNEL-NOT: call @__qc_matmul
func.func @not_lowered(%x: tensor<1x64xf32>, %w: !qc.packed<16x64, mxfp4>) -> (tensor<1x16xf32>, tensor<1x16xf32>) {
  %y = qc.matmul %x, %w : tensor<1x64xf32>, !qc.packed<16x64, mxfp4> -> tensor<1x16xf32>
  %c = arith.constant dense<1.0> : tensor<16x64xf32>
  %p = qc.quantize %c : tensor<16x64xf32> -> !qc.packed<16x64, mxfp4>
  %z = qc.matmul %x, %p act <mxfp8_e4m3> : tensor<1x64xf32>, !qc.packed<16x64, mxfp4> -> tensor<1x16xf32>
  return %y, %z : tensor<1x16xf32>, tensor<1x16xf32>
}
