// RUN: quant-opt %s --quantc-graph-to-gpu="chip=sm_80,sm_90a" --canonicalize | FileCheck %s
// RUN: not quant-opt %s --quantc-graph-to-gpu="chip=sm_80,sm_75" -o %t 2>&1 | FileCheck %s --check-prefix=CHIP
// CHIP: {{.*}}graph-to-gpu-multichip.mlir:{{[0-9]+}}:1: error: quantc-graph-to-gpu: unknown chip 'sm_75' (supported: sm_80, sm_90a, sm_100a, sm_120a)

// Several chips: one gpu.module per chip, and each launch (the float graph's
// and qc-lower-gpu's) picks its chip's kernel through
// quantc_cuda_select_target in an scf.index_switch; its launches go on the
// stream's token and the switch yields none (no chip: the default case does
// nothing), so that the final gpu.wait's token traces back to the stream
// through async ops alone (convert-gpu-to-llvm takes any other token for an
// event).

// CHECK-LABEL: func.func @multi
// CHECK:         %[[T0:.*]] = gpu.wait async
// CHECK:         gpu.alloc async
// CHECK:         gpu.alloc async
// CHECK:         %{{.*}}, %[[TA:[^ ]*]] = gpu.alloc async [%{{.*}}] () : memref<4xf32>
// CHECK:         %[[SEL:.*]] = call @quantc_cuda_select_target(%c3_i32) : (i32) -> i32
// CHECK:         %[[IDX:.*]] = arith.index_cast %[[SEL]] : i32 to index
// CHECK:         scf.index_switch %[[IDX]]{{ *$}}
// CHECK-NEXT:    case 0 {
// CHECK-NEXT:      gpu.launch_func async [%[[TA]]] @k::@scale
// CHECK-NEXT:      scf.yield{{$}}
// CHECK:         case 1 {
// CHECK-NEXT:      gpu.launch_func async [%[[TA]]] @k::@scale
// CHECK-NEXT:      scf.yield{{$}}
// CHECK:         default {
// CHECK-NEXT:    }
// CHECK:         %[[SEL2:.*]] = call @quantc_cuda_select_target(%c3_i32) : (i32) -> i32
// CHECK:         %[[IDX2:.*]] = arith.index_cast %[[SEL2]] : i32 to index
// CHECK:         scf.index_switch %[[IDX2]]{{ *$}}
// CHECK-NEXT:    case 0 {
// CHECK:           gpu.launch_func async [%[[TA]]] @qc_graph_kernels_sm_80::@qc_generic
// CHECK:         case 1 {
// CHECK:           gpu.launch_func async [%[[TA]]] @qc_graph_kernels_sm_90a::@qc_generic
// CHECK:         %[[T1:.*]] = gpu.memcpy async [%[[TA]]]
// CHECK-NEXT:    %[[T2:.*]] = gpu.dealloc async [%[[T1]]]
// CHECK-NEXT:    %[[T3:.*]] = gpu.dealloc async [%[[T2]]]
// CHECK-NEXT:    %[[T4:.*]] = gpu.dealloc async [%[[T3]]]
// CHECK-NEXT:    gpu.wait [%[[T4]]]
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
