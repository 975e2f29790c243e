// RUN: quant-opt %s --quantc-launch-parallel-tasks | FileCheck %s

// A call of a quantc.parallel_task function on [0, 96): its other arguments
// (a memref descriptor, a scalar) go into a stack context struct, and
// quantc_parallel_for runs the trampoline, which loads them back and calls
// the task on the range it is handed.

// CHECK: llvm.func @quantc_parallel_for(!llvm.ptr, !llvm.ptr, i64)
// CHECK-LABEL: llvm.func @caller
// CHECK-SAME: (%[[D:.+]]: !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>, %[[S:.+]]: f32)
// CHECK: %[[CTX:.+]] = llvm.alloca %{{.+}} x !llvm.struct<(struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>, f32)>
// CHECK: %[[F0:.+]] = llvm.getelementptr %[[CTX]][0, 0]
// CHECK: llvm.store %[[D]], %[[F0]]
// CHECK: %[[F1:.+]] = llvm.getelementptr %[[CTX]][0, 1]
// CHECK: llvm.store %[[S]], %[[F1]]
// CHECK: %[[FN:.+]] = llvm.mlir.addressof @task_trampoline
// CHECK: llvm.call @quantc_parallel_for(%[[FN]], %[[CTX]], %{{.+}})
// CHECK-NOT: llvm.call @task(
// CHECK: llvm.return
// CHECK: llvm.func internal @task_trampoline(%[[C:.+]]: !llvm.ptr, %[[B:.+]]: i64, %[[E:.+]]: i64)
// CHECK: %[[L0:.+]] = llvm.load
// CHECK: %[[L1:.+]] = llvm.load {{.*}} -> f32
// CHECK: llvm.call @task(%[[L0]], %[[L1]], %[[B]], %[[E]])
llvm.func @task(%d: !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>, %s: f32,
                %begin: i64, %end: i64) attributes {quantc.parallel_task} {
  llvm.return
}

llvm.func @caller(%d: !llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>, %s: f32) {
  %zero = llvm.mlir.constant(0 : i64) : i64
  %count = llvm.mlir.constant(96 : i64) : i64
  llvm.call @task(%d, %s, %zero, %count) : (!llvm.struct<(ptr, ptr, i64, array<1 x i64>, array<1 x i64>)>, f32, i64, i64) -> ()
  llvm.return
}
