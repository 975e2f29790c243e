// RUN: quant-opt %s --split-input-file --qc-lower-cpu="target=x86-64-v4-vnni" | FileCheck %s
// RUN: quant-opt %s --split-input-file --qc-lower-cpu="target=x86-64-v4-vnni hadamard=0" | FileCheck %s --check-prefix=OFF

// A qc.hadamard along K that only an act-quantized matmul reads: the kernel
// takes the un-rotated x and rotates each row in its prep phase (K = 768 =
// 64 x 12: the base matrix on chunks of 12, 6 butterfly levels, the scale
// 1/sqrt(768)) before it quantizes the row.
// CHECK: llvm.mlir.global private constant @{{.*}}_hs9_hadamard_signs(dense<{{.*}}> : tensor<768xf32>)
// CHECK: llvm.mlir.global private constant @{{.*}}_hs9_hadamard_base_t(dense<{{.*}}> : tensor<144xf32>)
// CHECK-LABEL: func.func @online
// CHECK-NOT: qc.hadamard
// CHECK: %[[C:.*]] = tensor.collapse_shape %arg0 {{\[\[}}0, 1], [2]] : tensor<1x4x768xf32> into tensor<4x768xf32>
// CHECK: %[[X:.*]] = bufferization.to_buffer %[[C]] read_only : tensor<4x768xf32> to memref<4x768xf32>
// CHECK: call @[[K:__qc_matmul_4x32x768_int4_g32_act_int8_g32_x86_64_v4_vnni_i8_x86_n16k8_si_ob_r[0-9]+t[0-9]+c[0-9]+_hs9]](%[[X]],
// CHECK: llvm.func internal @[[K]]_prep(
// CHECK: llvm.alloca %{{.*}} x f32 {alignment = 64 : i64}
// CHECK: llvm.alloca %{{.*}} x f32 {alignment = 64 : i64}
// CHECK: arith.mulf %{{.*}} : vector<16xf32>
// CHECK: arith.mulf %{{.*}} : vector<8xf32>
// CHECK: arith.addf %{{.*}} : vector<8xf32>
// CHECK: arith.mulf %{{.*}} : vector<4xf32>
// CHECK: arith.addf %{{.*}} : vector<4xf32>
// CHECK: arith.subf %{{.*}} : vector<8xf32>
// CHECK: arith.subf %{{.*}} : vector<4xf32>
// CHECK-COUNT-5: arith.subf %{{.*}} : vector<16xf32>
// CHECK: arith.constant 0.0360843912 : f32
// CHECK: llvm.intr.roundeven
// CHECK: llvm.func internal @[[K]]_task(

// Without the fold the rotation stays a qc.hadamard before a plain kernel.
// OFF-LABEL: func.func @online
// OFF: qc.hadamard
// OFF: call @__qc_matmul_4x32x768_int4_g32_act_int8_g32_x86_64_v4_vnni_i8_x86_n16k8_si_ob_r{{[0-9]+t[0-9]+c[0-9]+}}(
func.func @online(%x: tensor<1x4x768xf32>) -> tensor<4x32xf32> {
  %c = arith.constant dense<0.5> : tensor<32x768xf32>
  %w = qc.quantize %c : tensor<32x768xf32> -> !qc.packed<32x768, int4_g32>
  %h = qc.hadamard %x along 2 seed 9 : tensor<1x4x768xf32>
  %m = tensor.collapse_shape %h [[0, 1], [2]] : tensor<1x4x768xf32> into tensor<4x768xf32>
  %y = qc.matmul %m, %w act <int8_g32> : tensor<4x768xf32>, !qc.packed<32x768, int4_g32> -> tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}

// -----

// What keeps its qc.hadamard: a rotation something else reads too, one
// before a matmul with float activations (no prep to put it in on this
// path), one before dynamic per-tensor activations (their one scale is the
// amax of the whole rotated x), one along the rows.
// CHECK-LABEL: func.func @kept
// CHECK-COUNT-4: qc.hadamard
// CHECK-NOT: _h(
// CHECK: return
func.func @kept(%x: tensor<4x64xf32>) -> (tensor<4x64xf32>, tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x32xf32>) {
  %c = arith.constant dense<0.5> : tensor<32x64xf32>
  %w = qc.quantize %c : tensor<32x64xf32> -> !qc.packed<32x64, int4_g32>
  %h0 = qc.hadamard %x along 1 : tensor<4x64xf32>
  %y0 = qc.matmul %h0, %w act <int8_g32> : tensor<4x64xf32>, !qc.packed<32x64, int4_g32> -> tensor<4x32xf32>
  %h1 = qc.hadamard %x along 1 seed 1 : tensor<4x64xf32>
  %y1 = qc.matmul %h1, %w : tensor<4x64xf32>, !qc.packed<32x64, int4_g32> -> tensor<4x32xf32>
  %h2 = qc.hadamard %x along 1 seed 2 : tensor<4x64xf32>
  %y2 = qc.matmul %h2, %w act <int8, granularity = tensor> : tensor<4x64xf32>, !qc.packed<32x64, int4_g32> -> tensor<4x32xf32>
  %h3 = qc.hadamard %x along 0 : tensor<4x64xf32>
  %y3 = qc.matmul %h3, %w act <int8_g32> : tensor<4x64xf32>, !qc.packed<32x64, int4_g32> -> tensor<4x32xf32>
  return %h0, %y0, %y1, %y2, %y3 : tensor<4x64xf32>, tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x32xf32>
}
