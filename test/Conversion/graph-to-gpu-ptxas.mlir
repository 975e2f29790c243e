// The float graph's kernels (quantc-graph-to-gpu) assemble with ptxas for
// every chip, and their math (exp, log, tanh, erf, pow, sqrt, rsqrt, floor,
// fma) is inline arithmetic or instructions NVPTX selects: no libdevice
// call (__nv_*), which quantc does not link.
// REQUIRES: ptxas
// RUN: quant-opt %s --quantc-graph-to-gpu=chip=sm_80 --quantc-gpu-to-ptx -o %t.sm_80.mlir
// RUN: %python %lit_tools/extract_ptx.py %t.sm_80.mlir %t.sm_80.ptx
// RUN: %ptxas -arch=sm_80 %t.sm_80.ptx -o %t.sm_80.cubin
// RUN: FileCheck %s --implicit-check-not=__nv_ --implicit-check-not=call < %t.sm_80.ptx
// RUN: quant-opt %s --quantc-graph-to-gpu=chip=sm_90a --quantc-gpu-to-ptx -o %t.sm_90a.mlir
// RUN: %python %lit_tools/extract_ptx.py %t.sm_90a.mlir %t.sm_90a.ptx
// RUN: %ptxas -arch=sm_90a %t.sm_90a.ptx -o %t.sm_90a.cubin
// RUN: FileCheck %s --implicit-check-not=__nv_ --implicit-check-not=call < %t.sm_90a.ptx
// RUN: quant-opt %s --quantc-graph-to-gpu=chip=sm_100a --quantc-gpu-to-ptx -o %t.sm_100a.mlir
// RUN: %python %lit_tools/extract_ptx.py %t.sm_100a.mlir %t.sm_100a.ptx
// RUN: %ptxas -arch=sm_100a %t.sm_100a.ptx -o %t.sm_100a.cubin
// RUN: FileCheck %s --implicit-check-not=__nv_ --implicit-check-not=call < %t.sm_100a.ptx
// RUN: quant-opt %s --quantc-graph-to-gpu=chip=sm_120a --quantc-gpu-to-ptx -o %t.sm_120a.mlir
// RUN: %python %lit_tools/extract_ptx.py %t.sm_120a.mlir %t.sm_120a.ptx
// RUN: %ptxas -arch=sm_120a %t.sm_120a.ptx -o %t.sm_120a.cubin
// RUN: FileCheck %s --implicit-check-not=__nv_ --implicit-check-not=call < %t.sm_120a.ptx

// CHECK: .entry qc_generic(
// CHECK: sqrt.rn.f32
// CHECK: .entry qc_generic_0(
// CHECK: .entry qc_softmax(
// CHECK: .entry qc_batch_matmul(
// CHECK: .entry qc_transpose(
func.func @math(%x: memref<4x64xf32>, %y: memref<4x64xf32>, %s: memref<4xf32>,
                %q: memref<2x4x8xf32>, %k: memref<2x8x4xf32>, %p: memref<2x4x4xf32>,
                %t: memref<4x2x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %two = arith.constant 2.0 : f32
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%x : memref<4x64xf32>) outs(%y : memref<4x64xf32>) {
  ^bb0(%in: f32, %out: f32):
    %a = math.exp %in : f32
    %b = math.log %a : f32
    %c = math.tanh %b : f32
    %d = math.erf %c : f32
    %e = math.powf %d, %two : f32
    %f = math.sqrt %e : f32
    %g = math.rsqrt %f : f32
    %h = math.floor %g : f32
    %i = math.fma %h, %g, %f : f32
    %j = math.absf %i : f32
    %n = arith.negf %j : f32
    %m = arith.maximumf %n, %in : f32
    linalg.yield %m : f32
  }
  linalg.fill ins(%zero : f32) outs(%s : memref<4xf32>)
  linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>],
                  iterator_types = ["parallel", "reduction"]}
      ins(%y : memref<4x64xf32>) outs(%s : memref<4xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %sq = arith.mulf %in, %in : f32
    %r = arith.addf %acc, %sq : f32
    linalg.yield %r : f32
  }
  linalg.softmax dimension(1) ins(%y : memref<4x64xf32>) outs(%x : memref<4x64xf32>)
  linalg.batch_matmul ins(%q, %k : memref<2x4x8xf32>, memref<2x8x4xf32>) outs(%p : memref<2x4x4xf32>)
  linalg.transpose ins(%p : memref<2x4x4xf32>) outs(%t : memref<4x2x4xf32>) permutation = [1, 0, 2]
  return
}
