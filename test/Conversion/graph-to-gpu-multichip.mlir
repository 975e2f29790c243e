// RUN: quant-opt %s --quantc-graph-to-gpu="chip=sm_80,sm_90a" --canonicalize | FileCheck %s
// RUN: not quant-opt %s --quantc-graph-to-gpu="chip=sm_80,sm_75" -o %t 2>&1 | FileCheck %s --check-prefix=CHIP
// CHIP: {{.*}}graph-to-gpu-multichip.mlir:{{[0-9]+}}:1: error: quantc-graph-to-gpu: unknown chip 'sm_75' (supported: sm_80, sm_90a, sm_100a, sm_120a)

// Several chips: one gpu.module per chip, and each launch (the float graph's
// and qc-lower-gpu's) picks its chip's kernel through
// quantc_cuda_select_target in an scf.index_switch that carries the stream's
// token; no chip (default case) passes the token on.

// CHECK-LABEL: func.func @multi
// CHECK:         %[[T0:.*]] = gpu.wait async
// CHECK:         %[[SEL:.*]] = call @quantc_cuda_select_target(%c3_i32) : (i32) -> i32
// CHECK:         %[[IDX:.*]] = arith.index_cast %[[SEL]] : i32 to index
// CHECK:         %[[T1:.*]] = scf.index_switch %[[IDX]] -> !gpu.async.token
// CHECK-NEXT:    case 0 {
// CHECK-NEXT:      %[[L0:.*]] = gpu.launch_func async [%[[TA:.*]]] @k::@scale
// CHECK-NEXT:      scf.yield %[[L0]] : !gpu.async.token
// CHECK:         case 1 {
// CHECK-NEXT:      %[[L1:.*]] = gpu.launch_func async [%[[TA]]] @k::@scale
// CHECK-NEXT:      scf.yield %[[L1]] : !gpu.async.token
// CHECK:         default {
// CHECK-NEXT:      scf.yield %[[TA]] : !gpu.async.token
// CHECK:         %[[SEL2:.*]] = call @quantc_cuda_select_target(%c3_i32) : (i32) -> i32
// CHECK:         %[[IDX2:.*]] = arith.index_cast %[[SEL2]] : i32 to index
// CHECK:         %[[T2:.*]] = scf.index_switch %[[IDX2]] -> !gpu.async.token
// CHECK-NEXT:    case 0 {
// CHECK:           gpu.launch_func async [%[[T1]]] @qc_graph_kernels_sm_80::@qc_generic
// CHECK:         case 1 {
// CHECK:           gpu.launch_func async [%[[T1]]] @qc_graph_kernels_sm_90a::@qc_generic
// CHECK:         gpu.memcpy async [%[[T2]]]
// CHECK:         gpu.wait [
// CHECK:       gpu.module @qc_graph_kernels_sm_80 [#nvvm.target<O = 3, chip = "sm_80", features = "+ptx70">]
// CHECK:         gpu.func @qc_generic
// CHECK:       gpu.module @qc_graph_kernels_sm_90a [#nvvm.target<O = 3, chip = "sm_90a", features = "+ptx80">]
// CHECK:         gpu.func @qc_generic
module attributes {gpu.container_module} {
  func.func private @quantc_cuda_select_target(i32) -> i32
  gpu.module @k {
    gpu.func @scale(%in: memref<4xf32>, %out: memref<4xf32>) kernel {
      gpu.return
    }
  }
  func.func @multi(%x: memref<4xf32>, %y: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    %mask = arith.constant 3 : i32
    %t = memref.alloc() : memref<4xf32>
    %sel = func.call @quantc_cuda_select_target(%mask) : (i32) -> i32
    %i = arith.index_cast %sel : i32 to index
    scf.index_switch %i
    case 0 {
      gpu.launch_func @k::@scale blocks in (%c1, %c1, %c1) threads in (%c4, %c1, %c1)
          args(%x : memref<4xf32>, %t : memref<4xf32>) {qc.operand_access = ["in", "out"]}
      scf.yield
    }
    case 1 {
      gpu.launch_func @k::@scale blocks in (%c1, %c1, %c1) threads in (%c4, %c1, %c1)
          args(%x : memref<4xf32>, %t : memref<4xf32>) {qc.operand_access = ["in", "out"]}
      scf.yield
    }
    default {
      scf.yield
    }
    linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>],
                    iterator_types = ["parallel"]}
        ins(%t : memref<4xf32>) outs(%y : memref<4xf32>) {
    ^bb0(%in: f32, %out: f32):
      %n = arith.negf %in : f32
      linalg.yield %n : f32
    }
    memref.dealloc %t : memref<4xf32>
    return
  }
}
