// RUN: quant-opt %s --split-input-file --quantc-fill-pad-borders | FileCheck %s

// Padding by one on H and W: the interior is copied right after the fill, so
// only the four slabs around it are filled (rows above and below over the
// full width, then the left and right columns of the interior rows).

// CHECK-LABEL: func.func @pad_hw
// CHECK-NOT: linalg.fill ins(%{{.+}} : f32) outs(%{{.+}} : memref<1x24x66x66xf32>)
// CHECK: %[[BUF:.+]] = memref.alloc() : memref<1x24x66x66xf32>
// CHECK: %[[TOP:.+]] = memref.subview %[[BUF]][0, 0, 0, 0] [1, 24, 1, 66] [1, 1, 1, 1]
// CHECK: linalg.fill ins(%{{.+}} : f32) outs(%[[TOP]]
// CHECK: %[[BOTTOM:.+]] = memref.subview %[[BUF]][0, 0, 65, 0] [1, 24, 1, 66] [1, 1, 1, 1]
// CHECK: linalg.fill ins(%{{.+}} : f32) outs(%[[BOTTOM]]
// CHECK: %[[LEFT:.+]] = memref.subview %[[BUF]][0, 0, 1, 0] [1, 24, 64, 1] [1, 1, 1, 1]
// CHECK: linalg.fill ins(%{{.+}} : f32) outs(%[[LEFT]]
// CHECK: %[[RIGHT:.+]] = memref.subview %[[BUF]][0, 0, 1, 65] [1, 24, 64, 1] [1, 1, 1, 1]
// CHECK: linalg.fill ins(%{{.+}} : f32) outs(%[[RIGHT]]
// CHECK-NOT: linalg.fill
// CHECK: memref.copy %arg0
func.func @pad_hw(%x: memref<1x24x64x64xf32>, %y: memref<1x24x66x66xf32>) {
  %zero = arith.constant 0.0 : f32
  %buf = memref.alloc() : memref<1x24x66x66xf32>
  linalg.fill ins(%zero : f32) outs(%buf : memref<1x24x66x66xf32>)
  %in = memref.subview %buf[0, 0, 1, 1] [1, 24, 64, 64] [1, 1, 1, 1]
      : memref<1x24x66x66xf32> to memref<1x24x64x64xf32, strided<[104544, 4356, 66, 1], offset: 67>>
  memref.copy %x, %in : memref<1x24x64x64xf32> to memref<1x24x64x64xf32, strided<[104544, 4356, 66, 1], offset: 67>>
  memref.copy %buf, %y : memref<1x24x66x66xf32> to memref<1x24x66x66xf32>
  return
}

// -----

// Asymmetric padding (stride-2 convolution): nothing before, one after.

// CHECK-LABEL: func.func @pad_after_only
// CHECK: memref.subview %{{.+}}[0, 0, 64, 0] [1, 4, 1, 65] [1, 1, 1, 1]
// CHECK: memref.subview %{{.+}}[0, 0, 0, 64] [1, 4, 64, 1] [1, 1, 1, 1]
// CHECK-NOT: memref.subview {{.*}} [1, 4, 65, 65]
func.func @pad_after_only(%x: memref<1x4x64x64xf32>, %y: memref<1x4x65x65xf32>) {
  %zero = arith.constant 0.0 : f32
  %buf = memref.alloc() : memref<1x4x65x65xf32>
  linalg.fill ins(%zero : f32) outs(%buf : memref<1x4x65x65xf32>)
  %in = memref.subview %buf[0, 0, 0, 0] [1, 4, 64, 64] [1, 1, 1, 1]
      : memref<1x4x65x65xf32> to memref<1x4x64x64xf32, strided<[16900, 4225, 65, 1]>>
  memref.copy %x, %in : memref<1x4x64x64xf32> to memref<1x4x64x64xf32, strided<[16900, 4225, 65, 1]>>
  memref.copy %buf, %y : memref<1x4x65x65xf32> to memref<1x4x65x65xf32>
  return
}

// -----

// Left alone: the buffer is read between the fill and the copy.

// CHECK-LABEL: func.func @read_in_between
// CHECK: linalg.fill ins(%{{.+}} : f32) outs(%{{.+}} : memref<4x6xf32>)
func.func @read_in_between(%x: memref<2x4xf32>, %y: memref<4x6xf32>) {
  %zero = arith.constant 0.0 : f32
  %buf = memref.alloc() : memref<4x6xf32>
  linalg.fill ins(%zero : f32) outs(%buf : memref<4x6xf32>)
  memref.copy %buf, %y : memref<4x6xf32> to memref<4x6xf32>
  %in = memref.subview %buf[1, 1] [2, 4] [1, 1] : memref<4x6xf32> to memref<2x4xf32, strided<[6, 1], offset: 7>>
  memref.copy %x, %in : memref<2x4xf32> to memref<2x4xf32, strided<[6, 1], offset: 7>>
  return
}
