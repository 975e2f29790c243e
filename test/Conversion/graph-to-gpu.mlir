// RUN: quant-opt %s --split-input-file --verify-diagnostics \
// RUN:   --quantc-graph-to-gpu=chip=sm_80 --canonicalize | FileCheck %s

// A function of linalg ops on buffers runs on the device: the arguments are
// copied in once (the output too, as a view of it is read), the constant
// through the runtime's cache, each linalg op a kernel of one thread per
// parallel point (reductions sequential in the thread; the fill before the
// row sum is its starting value, not a kernel), intermediates on the device,
// all on one stream, the frees and the one wait at the end.

// CHECK-LABEL: func.func @graph
// CHECK-SAME:    (%[[X:.*]]: memref<2x8xf32>, %[[Y:.*]]: memref<2x8xf32>)
// CHECK:         %[[T0:.*]] = gpu.wait async
// CHECK-NEXT:    %[[DX:.*]], %[[T1:.*]] = gpu.alloc async [%[[T0]]] () : memref<2x8xf32>
// CHECK-NEXT:    %[[T2:.*]] = gpu.memcpy async [%[[T1]]] %[[DX]], %[[X]]
// CHECK-NEXT:    %[[DY:.*]], %[[T3:.*]] = gpu.alloc async [%[[T2]]] () : memref<2x8xf32>
// CHECK-NEXT:    %[[T4:.*]] = gpu.memcpy async [%[[T3]]] %[[DY]], %[[Y]]
// CHECK-NEXT:    %[[HOST:.*]] = memref.get_global @table : memref<4x8xf32>
// CHECK-NEXT:    %[[PTR:.*]] = memref.extract_aligned_pointer_as_index %[[HOST]]
// CHECK-NEXT:    %[[I64:.*]] = arith.index_cast %[[PTR]] : index to i64
// CHECK-NEXT:    %[[DEV:.*]] = call @quantc_cuda_device_constant(%[[I64]], %c128_i64) : (i64, i64) -> i64
// CHECK:         %[[TABLE:.*]] = builtin.unrealized_conversion_cast %{{.*}} : !llvm.struct<(ptr, ptr, i64, array<2 x i64>, array<2 x i64>)> to memref<4x8xf32>
// CHECK-NEXT:    %[[A:.*]], %[[T5:.*]] = gpu.alloc async [%[[T4]]] () : memref<2x8xf32>
// CHECK-NEXT:    %[[T6:.*]] = gpu.launch_func async [%[[T5]]] @qc_graph_kernels::@qc_generic blocks in (%c1, %c1, %c1) threads in (%c16, %c1, %c1) args(%[[DX]] : memref<2x8xf32>, %[[TABLE]] : memref<4x8xf32>, %[[A]] : memref<2x8xf32>) {qc.operand_access = ["in", "in", "out"]}
// CHECK-NEXT:    %[[S:.*]], %[[T7:.*]] = gpu.alloc async [%[[T6]]] () : memref<2xf32>
// CHECK-NEXT:    %[[T9:.*]] = gpu.launch_func async [%[[T7]]] @qc_graph_kernels::@qc_generic_0 {{.*}} args(%[[A]] : memref<2x8xf32>, %[[S]] : memref<2xf32>) {qc.operand_access = ["in", "out"]}
// CHECK-NEXT:    %[[T10:.*]] = gpu.launch_func async [%[[T9]]] @qc_graph_kernels::@qc_softmax {{.*}} args(%[[A]] : memref<2x8xf32>, %[[DY]] : memref<2x8xf32>) {qc.operand_access = ["in", "out"]}
// CHECK-NEXT:    %[[T11:.*]] = gpu.launch_func async [%[[T10]]] @qc_graph_kernels::@qc_generic_1 {{.*}} args(%[[S]] : memref<2xf32>, %[[DY]] : memref<2x8xf32>) {qc.operand_access = ["in", "inout"]}
// CHECK-NEXT:    %[[T12:.*]] = gpu.memcpy async [%[[T11]]] %[[Y]], %[[DY]]
// CHECK-NEXT:    %[[T13:.*]] = gpu.dealloc async [%[[T12]]] %[[DX]]
// CHECK-NEXT:    %[[T14:.*]] = gpu.dealloc async [%[[T13]]] %[[DY]]
// CHECK-NEXT:    %[[T15:.*]] = gpu.dealloc async [%[[T14]]] %[[A]]
// CHECK-NEXT:    %[[T16:.*]] = gpu.dealloc async [%[[T15]]] %[[S]]
// CHECK-NEXT:    gpu.wait [%[[T16]]]
// CHECK-NEXT:    return

// CHECK:       gpu.module @qc_graph_kernels [#nvvm.target<O = 3, chip = "sm_80", features = "+ptx70">]
// Elementwise with a shifted read of the table: thread i -> (i / 8, i % 8).
// CHECK-LABEL: gpu.func @qc_generic(%{{.*}}: memref<2x8xf32>, %{{.*}}: memref<4x8xf32>, %{{.*}}: memref<2x8xf32>) kernel
// CHECK:         %[[TID:.*]] = gpu.thread_id x
// CHECK:         %[[BID:.*]] = gpu.block_id x
// CHECK:         %[[BASE:.*]] = arith.muli %[[BID]], %c256
// CHECK:         %[[I:.*]] = arith.addi %[[BASE]], %[[TID]]
// CHECK:         %[[IN:.*]] = arith.cmpi ult, %[[I]], %c16
// CHECK:         scf.if %[[IN]]
// CHECK:           %[[COL:.*]] = arith.remui %[[I]], %c8
// CHECK:           %[[ROWS:.*]] = arith.divui %[[I]], %c8
// CHECK:           %[[ROW:.*]] = arith.remui %[[ROWS]], %c2
// CHECK:           %[[XV:.*]] = memref.load %{{.*}}[%[[ROW]], %[[COL]]] : memref<2x8xf32>
// CHECK:           %[[ROW2:.*]] = arith.addi %[[ROW]], %c2
// CHECK:           %[[TV:.*]] = memref.load %{{.*}}[%[[ROW2]], %[[COL]]] : memref<4x8xf32>
// CHECK:           %[[M:.*]] = arith.mulf %[[XV]], %[[TV]]
// CHECK:           memref.store %[[M]], %{{.*}}[%[[ROW]], %[[COL]]]
// CHECK-NOT:   @qc_fill
// A row sum from the fill's 0: the reduction loop in the thread.
// CHECK-LABEL: gpu.func @qc_generic_0
// CHECK:         %[[R:.*]] = arith.remui
// CHECK-NOT:     memref.load %{{.*}} : memref<2xf32>
// CHECK:         %[[SUM:.*]] = scf.for %[[K:.*]] = %c0 to %c8 step %c1 iter_args(%[[ACC:.*]] = %cst) -> (f32)
// CHECK:           %[[V:.*]] = memref.load %{{.*}}[%[[R]], %[[K]]] : memref<2x8xf32>
// CHECK:           %[[E:.*]] = math.exp %[[V]]
// CHECK:           %[[NEXT:.*]] = arith.addf %[[ACC]], %[[E]]
// CHECK:           scf.yield %[[NEXT]]
// CHECK:         memref.store %[[SUM]], %{{.*}}[%[[R]]] : memref<2xf32>
// Softmax: one row per thread, max, then the sum of exp(x - max) (stored),
// then the division.
// CHECK-LABEL: gpu.func @qc_softmax
// CHECK:         %[[MAX:.*]] = scf.for {{.*}} iter_args(%{{.*}} = %cst_0) -> (f32)
// CHECK:           arith.maximumf
// CHECK:         %[[DEN:.*]] = scf.for {{.*}} -> (f32)
// CHECK:           %[[D:.*]] = arith.subf %{{.*}}, %[[MAX]]
// CHECK:           math.exp %[[D]]
// CHECK:         scf.for
// CHECK:           arith.divf %{{.*}}, %[[DEN]]
// The view of the output is rebuilt in the kernel from the buffer.
// CHECK-LABEL: gpu.func @qc_generic_1(
// CHECK-SAME:    %{{.*}}: memref<2xf32>, %[[OUT:.*]]: memref<2x8xf32>) kernel
// CHECK:         %[[VIEW:.*]] = memref.subview %[[OUT]][0, 4] [2, 4] [1, 1]
// CHECK:         memref.load %[[VIEW]]
// CHECK:         memref.store %{{.*}}, %[[VIEW]]
module {
  memref.global "private" constant @table : memref<4x8xf32> = dense<1.5> {alignment = 64 : i64}
  func.func @graph(%x: memref<2x8xf32>, %y: memref<2x8xf32>) {
    %zero = arith.constant 0.0 : f32
    %t = memref.get_global @table : memref<4x8xf32>
    %a = memref.alloc() {alignment = 64 : i64} : memref<2x8xf32>
    linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0 + 2, d1)>, affine_map<(d0, d1) -> (d0, d1)>],
                    iterator_types = ["parallel", "parallel"]}
        ins(%x, %t : memref<2x8xf32>, memref<4x8xf32>) outs(%a : memref<2x8xf32>) {
    ^bb0(%in: f32, %w: f32, %out: f32):
      %m = arith.mulf %in, %w : f32
      linalg.yield %m : f32
    }
    %s = memref.alloc() {alignment = 64 : i64} : memref<2xf32>
    linalg.fill ins(%zero : f32) outs(%s : memref<2xf32>)
    linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0)>],
                    iterator_types = ["parallel", "reduction"]}
        ins(%a : memref<2x8xf32>) outs(%s : memref<2xf32>) {
    ^bb0(%in: f32, %acc: f32):
      %e = math.exp %in : f32
      %r = arith.addf %acc, %e : f32
      linalg.yield %r : f32
    }
    linalg.softmax dimension(1) ins(%a : memref<2x8xf32>) outs(%y : memref<2x8xf32>)
    %v = memref.subview %y[0, 4] [2, 4] [1, 1] : memref<2x8xf32> to memref<2x4xf32, strided<[8, 1], offset: 4>>
    linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0, d1)>],
                    iterator_types = ["parallel", "parallel"]}
        ins(%s : memref<2xf32>) outs(%v : memref<2x4xf32, strided<[8, 1], offset: 4>>) {
    ^bb0(%in: f32, %out: f32):
      %q = arith.addf %in, %out : f32
      linalg.yield %q : f32
    }
    memref.dealloc %a : memref<2x8xf32>
    memref.dealloc %s : memref<2xf32>
    return
  }
}

// -----

// A gather (an embedding lookup reading a table at a loaded index) is a
// kernel too; a memref.copy into the result is a copy kernel; the input is
// only read, the result only written (no copy in).

// CHECK-LABEL: func.func @gather
// CHECK-SAME:    (%[[IDS:.*]]: memref<3xi64>, %[[OUT:.*]]: memref<3x4xf32>)
// CHECK:         %[[DIDS:.*]], %{{.*}} = gpu.alloc async [%{{.*}}] () : memref<3xi64>
// CHECK-NEXT:    gpu.memcpy async [%{{.*}}] %[[DIDS]], %[[IDS]]
// CHECK-NEXT:    %[[DOUT:.*]], %{{.*}} = gpu.alloc async [%{{.*}}] () : memref<3x4xf32>
// CHECK-NOT:     gpu.memcpy
// CHECK:         %[[ROWS:.*]], %{{.*}} = gpu.alloc async
// CHECK-NEXT:    gpu.launch_func async {{.*}} @qc_graph_kernels::@qc_generic {{.*}} args(%[[DIDS]] : memref<3xi64>, %[[ROWS]] : memref<3x4xf32>, %{{.*}} : memref<8x4xf32>) {qc.operand_access = ["in", "out", "in"]}
// CHECK-NEXT:    gpu.launch_func async {{.*}} @qc_graph_kernels::@qc_copy {{.*}} args(%[[ROWS]] : memref<3x4xf32>, %[[DOUT]] : memref<3x4xf32>) {qc.operand_access = ["in", "out"]}
// CHECK-NEXT:    gpu.memcpy async [%{{.*}}] %[[OUT]], %[[DOUT]]
// CHECK-LABEL: gpu.func @qc_generic
// CHECK:         %[[ID:.*]] = memref.load %{{.*}} : memref<3xi64>
// CHECK:         %[[ROW:.*]] = arith.index_cast %[[ID]] : i64 to index
// CHECK:         memref.load %{{.*}}[%[[ROW]], %{{.*}}] : memref<8x4xf32>
module {
  memref.global "private" constant @embedding : memref<8x4xf32> = dense<2.0> {alignment = 64 : i64}
  func.func @gather(%ids: memref<3xi64>, %out: memref<3x4xf32>) {
    %table = memref.get_global @embedding : memref<8x4xf32>
    %rows = memref.alloc() {alignment = 64 : i64} : memref<3x4xf32>
    linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0)>, affine_map<(d0, d1) -> (d0, d1)>],
                    iterator_types = ["parallel", "parallel"]}
        ins(%ids : memref<3xi64>) outs(%rows : memref<3x4xf32>) {
    ^bb0(%id: i64, %o: f32):
      %row = arith.index_cast %id : i64 to index
      %col = linalg.index 1 : index
      %v = memref.load %table[%row, %col] : memref<8x4xf32>
      linalg.yield %v : f32
    }
    memref.copy %rows, %out : memref<3x4xf32> to memref<3x4xf32>
    memref.dealloc %rows : memref<3x4xf32>
    return
  }
}

// -----

// Host work between the kernels (a loop reading a buffer): the function
// stays as it is, with a remark saying why.

// CHECK-LABEL: func.func @host_loop
// CHECK-NOT:     gpu.
// CHECK:         linalg.generic
// expected-remark @below {{quantc-graph-to-gpu: 'host_loop' stays on the host with staged launches: 'scf.for' runs on the host}}
func.func @host_loop(%x: memref<4xf32>, %y: memref<4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>],
                  iterator_types = ["parallel"]}
      ins(%x : memref<4xf32>) outs(%y : memref<4xf32>) {
  ^bb0(%in: f32, %out: f32):
    %n = arith.negf %in : f32
    linalg.yield %n : f32
  }
  scf.for %i = %c0 to %c4 step %c1 {
    %v = memref.load %y[%i] : memref<4xf32>
    %w = arith.addf %v, %v : f32
    memref.store %w, %y[%i] : memref<4xf32>
  }
  return
}
