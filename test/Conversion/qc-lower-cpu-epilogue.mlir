// RUN: quant-opt %s --split-input-file --qc-lower-cpu="target=x86-64-v4-vnni" | FileCheck %s
// RUN: quant-opt %s --split-input-file --qc-lower-cpu="target=x86-64-v4-vnni epilogues=0" | FileCheck %s --check-prefix=OFF
// RUN: quant-opt %s --split-input-file --qc-lower-cpu="target=x86-64-v3" | FileCheck %s --check-prefix=AVX2

// An elementwise generic that is the matmul's only consumer folds into the
// kernel's store: the call takes the generic's place with the bias as an
// extra [N] argument, the generic is gone, and the task applies the body's
// ops (cloned onto vectors) to every output vector before it stores it. N = 40
// ends in a partial tile: the bias is read there with a masked load.

// CHECK-LABEL: func.func @bias_relu
// CHECK-NOT: linalg.generic
// CHECK: %[[B:.*]] = bufferization.to_buffer %arg1 read_only : tensor<40xf32> to memref<40xf32>
// CHECK: call @[[K:__qc_matmul_5x40x128_int4_g32_act_int8_g32_x86_64_v4_vnni_i8_x86_n16k8_si_ob_r[0-9]+t[0-9]+c[0-9]+_ep[0-9a-f]+]](%{{.*}}, %{{.*}}, %[[Y:[a-z0-9_]+]], %[[B]])
// CHECK: %[[R:.*]] = bufferization.to_tensor %[[Y]]
// CHECK-NOT: linalg.generic
// CHECK: return %[[R]]
// CHECK: llvm.func internal @[[K]]_task(
// CHECK: %[[BIAS:.*]] = llvm.intr.masked.load %{{.*}} : (!llvm.ptr, vector<16xi1>, vector<16xf32>) -> vector<16xf32>
// CHECK: %[[SUM:.*]] = arith.addf %{{.*}}, %[[BIAS]] : vector<16xf32>
// CHECK: %[[RELU:.*]] = arith.maximumf %[[SUM]], %{{.*}} : vector<16xf32>
// CHECK: llvm.intr.masked.store %[[RELU]],
// CHECK: func.func private @[[K]](%{{.*}}: memref<5x128xf32>, %{{.*}}: memref<{{[0-9]+}}xi8>, %{{.*}}: memref<5x40xf32>, %{{.*}}: memref<40xf32>)

// Without the fold the generic stays after a plain kernel.
// OFF-LABEL: func.func @bias_relu
// OFF: call @__qc_matmul_5x40x128_int4_g32_act_int8_g32_x86_64_v4_vnni_i8_x86_n16k8_si_ob_r{{[0-9]+t[0-9]+c[0-9]+}}(
// OFF: linalg.generic
// OFF: arith.maximumf

// On AVX2 targets the same ops after the integer kernel's 16-lane tiles
// (vpmaddubsw; two ymm registers per vector).
// AVX2-LABEL: func.func @bias_relu
// AVX2: call @[[K:__qc_matmul_5x40x128_int4_g32_act_int8_g32_x86_64_v3_i8_[a-z0-9_]+_ep[0-9a-f]+]](
// AVX2: llvm.func internal @[[K]]_task(
// AVX2: llvm.x86.avx2.pmadd.ub.sw
// AVX2: arith.addf %{{.*}} : vector<16xf32>
// AVX2: arith.maximumf %{{.*}} : vector<16xf32>
#id = affine_map<(d0, d1) -> (d0, d1)>
#col = affine_map<(d0, d1) -> (d1)>
func.func @bias_relu(%x: tensor<5x128xf32>, %bias: tensor<40xf32>) -> tensor<5x40xf32> {
  %c = arith.constant dense<1.5> : tensor<40x128xf32>
  %w = qc.quantize %c : tensor<40x128xf32> -> !qc.packed<40x128, int4_g32>
  %y = qc.matmul %x, %w act <int8_g32> : tensor<5x128xf32>, !qc.packed<40x128, int4_g32> -> tensor<5x40xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<5x40xf32>
  %r = linalg.generic {indexing_maps = [#id, #col, #id], iterator_types = ["parallel", "parallel"]}
      ins(%y, %bias : tensor<5x40xf32>, tensor<40xf32>) outs(%e : tensor<5x40xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.addf %a, %b : f32
    %m = arith.maximumf %s, %zero : f32
    linalg.yield %m : f32
  } -> tensor<5x40xf32>
  return %r : tensor<5x40xf32>
}

// -----

// A residual add behind a reshape of the rows ([6, 64] -> [2, 3, 64]): the
// residual is collapsed to [M, N] and read per output; the result takes the
// generic's shape. GELU (erf form) on a splat-constant operand: the constant
// becomes a splat vector, as the canonicalizer would inline it.
// CHECK-LABEL: func.func @residual
// CHECK-NOT: linalg.generic
// CHECK: %[[RES:.*]] = tensor.collapse_shape %arg1 {{\[\[}}0, 1], [2]] : tensor<2x3x64xf32> into tensor<6x64xf32>
// CHECK: %[[RB:.*]] = bufferization.to_buffer %[[RES]] read_only : tensor<6x64xf32> to memref<6x64xf32>
// CHECK: call @[[K:__qc_matmul_6x64x32_mxfp4_x86_64_v4_vnni_i16_[a-z0-9_]+_ep[0-9a-f]+]](%{{.*}}, %{{.*}}, %[[Y:[a-z0-9_]+]], %[[RB]])
// CHECK: %[[T:.*]] = bufferization.to_tensor %[[Y]]
// CHECK: %[[R:.*]] = tensor.expand_shape %[[T]] {{\[\[}}0, 1], [2]] output_shape [2, 3, 64] : tensor<6x64xf32> into tensor<2x3x64xf32>
// CHECK: return %[[R]]
// CHECK: llvm.func internal @[[K]]_task(
// CHECK: %[[RV:.*]] = llvm.load %{{.*}} {alignment = 1 : i64} : !llvm.ptr -> vector<16xf32>
// CHECK: %[[HALF:.*]] = arith.constant dense<5.000000e-01> : vector<16xf32>
// CHECK: %[[SUM:.*]] = arith.addf %[[RV]], %{{.*}} : vector<16xf32>
// CHECK: arith.mulf %[[SUM]], %{{.*}} : vector<16xf32>
// CHECK: math.erf %{{.*}} : vector<16xf32>
// CHECK: arith.mulf %{{.*}}, %[[HALF]] : vector<16xf32>
// CHECK: llvm.store
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
func.func @residual(%x: tensor<6x32xf32>, %skip: tensor<2x3x64xf32>) -> tensor<2x3x64xf32> {
  %c = arith.constant dense<0.25> : tensor<64x32xf32>
  %w = qc.quantize %c : tensor<64x32xf32> -> !qc.packed<64x32, mxfp4>
  %y = qc.matmul %x, %w : tensor<6x32xf32>, !qc.packed<64x32, mxfp4> -> tensor<6x64xf32>
  %y3 = tensor.expand_shape %y [[0, 1], [2]] output_shape [2, 3, 64] : tensor<6x64xf32> into tensor<2x3x64xf32>
  %half = arith.constant dense<0.5> : tensor<2x3x64xf32>
  %rsqrt2 = arith.constant 0.70710678 : f32
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<2x3x64xf32>
  %r = linalg.generic {indexing_maps = [#id3, #id3, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%skip, %y3, %half : tensor<2x3x64xf32>, tensor<2x3x64xf32>, tensor<2x3x64xf32>) outs(%e : tensor<2x3x64xf32>) {
  ^bb0(%s: f32, %a: f32, %h: f32, %o: f32):
    %sum = arith.addf %s, %a : f32
    %t = arith.mulf %sum, %rsqrt2 : f32
    %erf = math.erf %t : f32
    %p = arith.addf %erf, %one : f32
    %g = arith.mulf %sum, %p : f32
    %out = arith.mulf %g, %h : f32
    linalg.yield %out : f32
  } -> tensor<2x3x64xf32>
  return %r : tensor<2x3x64xf32>
}

// -----

// SwiGLU after elementwise fusion: silu(gate) * up reads both matmuls. The
// first one lowered takes the generic (its call placed where the generic
// was, after both matmuls) and reads the other's result per output; the
// other stays a plain kernel. A rank-0 operand is read once per vector.
// CHECK-LABEL: func.func @swiglu
// CHECK-NOT: linalg.generic
// CHECK: call @[[UP:__qc_matmul_4x48x64_int4_g32_act_int8_g32_x86_64_v4_vnni_i8_[a-z0-9_]+c[0-9]+]](%{{.*}}, %{{.*}}, %[[U:[a-z0-9_]+]])
// CHECK: %[[UT:.*]] = bufferization.to_tensor %[[U]]
// CHECK: %[[UB:.*]] = bufferization.to_buffer %[[UT]] read_only : tensor<4x48xf32> to memref<4x48xf32>
// CHECK: %[[SB:.*]] = bufferization.to_buffer %arg1 read_only : tensor<f32> to memref<f32>
// CHECK: call @[[GATE:__qc_matmul_4x48x64_int4_g32_act_int8_g32_x86_64_v4_vnni_i8_[a-z0-9_]+_ep[0-9a-f]+]](%{{.*}}, %{{.*}}, %{{.*}}, %[[UB]], %[[SB]])
// CHECK: llvm.func internal @[[GATE]]_task(
// CHECK: arith.negf %{{.*}} : vector<16xf32>
// CHECK: math.exp %{{.*}} : vector<16xf32>
// CHECK: arith.divf %{{.*}} : vector<16xf32>
// CHECK: arith.mulf %{{.*}} : vector<16xf32>
// CHECK: arith.mulf %{{.*}} : vector<16xf32>
// CHECK: func.func private @[[GATE]](%{{.*}}: memref<4x64xf32>, %{{.*}}: memref<{{[0-9]+}}xi8>, %{{.*}}: memref<4x48xf32>, %{{.*}}: memref<4x48xf32>, %{{.*}}: memref<f32>)
#id = affine_map<(d0, d1) -> (d0, d1)>
#scalar = affine_map<(d0, d1) -> ()>
func.func @swiglu(%x: tensor<4x64xf32>, %scale: tensor<f32>) -> tensor<4x48xf32> {
  %cg = arith.constant dense<0.5> : tensor<48x64xf32>
  %cu = arith.constant dense<-0.5> : tensor<48x64xf32>
  %wg = qc.quantize %cg : tensor<48x64xf32> -> !qc.packed<48x64, int4_g32>
  %wu = qc.quantize %cu : tensor<48x64xf32> -> !qc.packed<48x64, int4_g32>
  %gate = qc.matmul %x, %wg act <int8_g32> : tensor<4x64xf32>, !qc.packed<48x64, int4_g32> -> tensor<4x48xf32>
  %up = qc.matmul %x, %wu act <int8_g32> : tensor<4x64xf32>, !qc.packed<48x64, int4_g32> -> tensor<4x48xf32>
  %one = arith.constant 1.0 : f32
  %e = tensor.empty() : tensor<4x48xf32>
  %r = linalg.generic {indexing_maps = [#id, #id, #scalar, #id], iterator_types = ["parallel", "parallel"]}
      ins(%gate, %up, %scale : tensor<4x48xf32>, tensor<4x48xf32>, tensor<f32>) outs(%e : tensor<4x48xf32>) {
  ^bb0(%g: f32, %u: f32, %s: f32, %o: f32):
    %n = arith.negf %g : f32
    %ex = math.exp %n : f32
    %d = arith.addf %ex, %one : f32
    %sig = arith.divf %one, %d : f32
    %silu = arith.mulf %g, %sig : f32
    %p = arith.mulf %silu, %u : f32
    %q = arith.mulf %p, %s : f32
    linalg.yield %q : f32
  } -> tensor<4x48xf32>
  return %r : tensor<4x48xf32>
}

// -----

// What stays as it is: a result with another user, a generic that reduces,
// one that reads a per-row ([M]) operand, one whose body reads its init or
// an index, and one that is not a reshape of rows away (a transpose).
// CHECK-LABEL: func.func @not_fused
// CHECK-NOT: _ep
// CHECK-COUNT-6: linalg.generic
// CHECK: return
#id = affine_map<(d0, d1) -> (d0, d1)>
#row = affine_map<(d0, d1) -> (d0)>
#tr = affine_map<(d0, d1) -> (d1, d0)>
func.func @not_fused(%x: tensor<4x64xf32>, %rows: tensor<4xf32>, %init: tensor<4x32xf32>)
    -> (tensor<4x32xf32>, tensor<4x32xf32>, tensor<4xf32>, tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x32xf32>, tensor<32x4xf32>) {
  %c = arith.constant dense<0.5> : tensor<32x64xf32>
  %w = qc.quantize %c : tensor<32x64xf32> -> !qc.packed<32x64, int4_g32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x32xf32>
  // Two users.
  %y0 = qc.matmul %x, %w act <int8_g32> : tensor<4x64xf32>, !qc.packed<32x64, int4_g32> -> tensor<4x32xf32>
  %r0 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%y0 : tensor<4x32xf32>) outs(%e : tensor<4x32xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.maximumf %a, %zero : f32
    linalg.yield %m : f32
  } -> tensor<4x32xf32>
  // A reduction over the columns.
  %y1 = qc.matmul %x, %w act <int8_g32> : tensor<4x64xf32>, !qc.packed<32x64, int4_g32> -> tensor<4x32xf32>
  %e1 = tensor.empty() : tensor<4xf32>
  %r1 = linalg.generic {indexing_maps = [#id, #row], iterator_types = ["parallel", "reduction"]}
      ins(%y1 : tensor<4x32xf32>) outs(%e1 : tensor<4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.addf %a, %o : f32
    linalg.yield %s : f32
  } -> tensor<4xf32>
  // A per-row operand.
  %y2 = qc.matmul %x, %w act <int8_g32> : tensor<4x64xf32>, !qc.packed<32x64, int4_g32> -> tensor<4x32xf32>
  %r2 = linalg.generic {indexing_maps = [#id, #row, #id], iterator_types = ["parallel", "parallel"]}
      ins(%y2, %rows : tensor<4x32xf32>, tensor<4xf32>) outs(%e : tensor<4x32xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %s = arith.mulf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<4x32xf32>
  // The init is read.
  %y3 = qc.matmul %x, %w act <int8_g32> : tensor<4x64xf32>, !qc.packed<32x64, int4_g32> -> tensor<4x32xf32>
  %r3 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%y3 : tensor<4x32xf32>) outs(%init : tensor<4x32xf32>) {
  ^bb0(%a: f32, %o: f32):
    %s = arith.addf %a, %o : f32
    linalg.yield %s : f32
  } -> tensor<4x32xf32>
  // An index.
  %y4 = qc.matmul %x, %w act <int8_g32> : tensor<4x64xf32>, !qc.packed<32x64, int4_g32> -> tensor<4x32xf32>
  %r4 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%y4 : tensor<4x32xf32>) outs(%e : tensor<4x32xf32>) {
  ^bb0(%a: f32, %o: f32):
    %i = linalg.index 1 : index
    %ii = arith.index_cast %i : index to i32
    %f = arith.sitofp %ii : i32 to f32
    %s = arith.addf %a, %f : f32
    linalg.yield %s : f32
  } -> tensor<4x32xf32>
  // A transposed consumer.
  %y5 = qc.matmul %x, %w act <int8_g32> : tensor<4x64xf32>, !qc.packed<32x64, int4_g32> -> tensor<4x32xf32>
  %et = tensor.empty() : tensor<32x4xf32>
  %r5 = linalg.generic {indexing_maps = [#tr, #id], iterator_types = ["parallel", "parallel"]}
      ins(%y5 : tensor<4x32xf32>) outs(%et : tensor<32x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.maximumf %a, %zero : f32
    linalg.yield %m : f32
  } -> tensor<32x4xf32>
  return %y0, %r0, %r1, %r2, %r3, %r4, %r5 : tensor<4x32xf32>, tensor<4x32xf32>, tensor<4xf32>, tensor<4x32xf32>, tensor<4x32xf32>, tensor<4x32xf32>, tensor<32x4xf32>
}
