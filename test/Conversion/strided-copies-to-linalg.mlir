// RUN: quant-opt %s --quantc-strided-copies-to-linalg | FileCheck %s

// Copying into the interior of a padded buffer (a strided view) becomes a
// linalg.copy, which lowers to loops LLVM vectorizes, instead of a call of
// the runtime's element-by-element memrefCopy. Contiguous and dynamically
// shaped copies stay memref.copy.

// CHECK-LABEL: func.func @copies
// CHECK: linalg.copy ins(%arg0 : memref<1x24x64x64xf32>) outs(%{{.+}} : memref<1x24x64x64xf32, strided<[104544, 4356, 66, 1], offset: 67>>)
// CHECK: memref.copy %arg0, %arg1 : memref<1x24x64x64xf32> to memref<1x24x64x64xf32>
// CHECK: memref.copy %arg2, %arg3 : memref<?xf32> to memref<?xf32>
func.func @copies(%a: memref<1x24x64x64xf32>, %b: memref<1x24x64x64xf32>,
                  %c: memref<?xf32>, %d: memref<?xf32>) {
  %padded = memref.alloc() : memref<1x24x66x66xf32>
  %interior = memref.subview %padded[0, 0, 1, 1] [1, 24, 64, 64] [1, 1, 1, 1]
      : memref<1x24x66x66xf32> to memref<1x24x64x64xf32, strided<[104544, 4356, 66, 1], offset: 67>>
  memref.copy %a, %interior : memref<1x24x64x64xf32> to memref<1x24x64x64xf32, strided<[104544, 4356, 66, 1], offset: 67>>
  memref.copy %a, %b : memref<1x24x64x64xf32> to memref<1x24x64x64xf32>
  memref.copy %c, %d : memref<?xf32> to memref<?xf32>
  memref.dealloc %padded : memref<1x24x66x66xf32>
  return
}
