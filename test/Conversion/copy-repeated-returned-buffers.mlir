// RUN: quant-opt %s --split-input-file --quantc-copy-repeated-returned-buffers | FileCheck %s

// The second occurrence of a returned buffer becomes a fresh copy.

// CHECK-LABEL: func.func @returned_twice
// CHECK: %[[A:.+]] = memref.alloc() : memref<4xf32>
// CHECK: %[[COPY:.+]] = memref.alloc() : memref<4xf32>
// CHECK: memref.copy %[[A]], %[[COPY]] : memref<4xf32> to memref<4xf32>
// CHECK: return %[[A]], %[[COPY]] : memref<4xf32>, memref<4xf32>
func.func @returned_twice() -> (memref<4xf32>, memref<4xf32>) {
  %a = memref.alloc() : memref<4xf32>
  return %a, %a : memref<4xf32>, memref<4xf32>
}

// -----

// Every repeat gets its own copy; other results and their order stay.

// CHECK-LABEL: func.func @returned_three_times
// CHECK-SAME: (%[[B:[^:]+]]: memref<2x3xf32>)
// CHECK: %[[A:.+]] = memref.alloc() : memref<2x3xf32>
// CHECK: %[[COPY1:.+]] = memref.alloc() : memref<2x3xf32>
// CHECK: memref.copy %[[A]], %[[COPY1]]
// CHECK: %[[COPY2:.+]] = memref.alloc() : memref<2x3xf32>
// CHECK: memref.copy %[[A]], %[[COPY2]]
// CHECK: return %[[A]], %[[B]], %[[COPY1]], %[[COPY2]] :
func.func @returned_three_times(%b: memref<2x3xf32>)
    -> (memref<2x3xf32>, memref<2x3xf32>, memref<2x3xf32>, memref<2x3xf32>) {
  %a = memref.alloc() : memref<2x3xf32>
  return %a, %b, %a, %a
      : memref<2x3xf32>, memref<2x3xf32>, memref<2x3xf32>, memref<2x3xf32>
}

// -----

// Distinct buffers: nothing to copy.

// CHECK-LABEL: func.func @distinct_buffers_unchanged
// CHECK: %[[A:.+]] = memref.alloc() : memref<4xf32>
// CHECK: %[[B:.+]] = memref.alloc() : memref<4xf32>
// CHECK-NOT: memref.copy
// CHECK: return %[[A]], %[[B]] :
func.func @distinct_buffers_unchanged() -> (memref<4xf32>, memref<4xf32>) {
  %a = memref.alloc() : memref<4xf32>
  %b = memref.alloc() : memref<4xf32>
  return %a, %b : memref<4xf32>, memref<4xf32>
}

// -----

// Dynamically shaped allocations are not hoisted into out-parameters, so
// returning one twice does not crash and is left alone; so are non-memrefs.

// CHECK-LABEL: func.func @dynamic_shape_and_scalars_unchanged
// CHECK-SAME: (%[[N:[^:]+]]: index, %[[X:[^:]+]]: f32)
// CHECK: %[[A:.+]] = memref.alloc(%[[N]]) : memref<?xf32>
// CHECK-NOT: memref.alloc
// CHECK-NOT: memref.copy
// CHECK: return %[[A]], %[[A]], %[[X]], %[[X]] :
func.func @dynamic_shape_and_scalars_unchanged(%n: index, %x: f32)
    -> (memref<?xf32>, memref<?xf32>, f32, f32) {
  %a = memref.alloc(%n) : memref<?xf32>
  return %a, %a, %x, %x : memref<?xf32>, memref<?xf32>, f32, f32
}
