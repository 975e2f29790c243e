// RUN: quant-opt %s --quantc-stage-gpu-buffers --split-input-file --verify-diagnostics | FileCheck %s

// Each memref operand of a synchronous launch gets a device buffer on one
// stream; which way it is copied comes from qc.operand_access ("in" is only
// copied to the device, "out" only back), scalars pass through.

module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @scale(%in: memref<4xf32>, %out: memref<4xf32>, %n: index) kernel {
      gpu.return
    }
  }
  // CHECK-LABEL: func.func @by_attribute
  // CHECK-SAME:    (%[[A:.*]]: memref<4xf32>, %[[B:.*]]: memref<4xf32>)
  // CHECK:         %[[T0:.*]] = gpu.wait async
  // CHECK-NEXT:    %[[DA:.*]], %[[T1:.*]] = gpu.alloc async [%[[T0]]] () : memref<4xf32>
  // CHECK-NEXT:    %[[T2:.*]] = gpu.memcpy async [%[[T1]]] %[[DA]], %[[A]]
  // CHECK-NEXT:    %[[DB:.*]], %[[T3:.*]] = gpu.alloc async [%[[T2]]] () : memref<4xf32>
  // CHECK-NOT:     gpu.memcpy
  // CHECK-NEXT:    %[[T4:.*]] = gpu.launch_func async [%[[T3]]] @k::@scale {{.*}} args(%[[DA]] : memref<4xf32>, %[[DB]] : memref<4xf32>, %{{.*}} : index)
  // CHECK-NEXT:    %[[T5:.*]] = gpu.memcpy async [%[[T4]]] %[[B]], %[[DB]]
  // CHECK-NEXT:    %[[T6:.*]] = gpu.dealloc async [%[[T5]]] %[[DA]]
  // CHECK-NEXT:    %[[T7:.*]] = gpu.dealloc async [%[[T6]]] %[[DB]]
  // CHECK-NEXT:    gpu.wait [%[[T7]]]
  // CHECK-NEXT:    return
  func.func @by_attribute(%a: memref<4xf32>, %b: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    %c4 = arith.constant 4 : index
    gpu.launch_func @k::@scale blocks in (%c1, %c1, %c1) threads in (%c4, %c1, %c1)
        args(%a : memref<4xf32>, %b : memref<4xf32>, %c4 : index) {qc.operand_access = ["in", "out"]}
    return
  }
}

// -----

// Without the attribute, the kernel's llvm.readonly / llvm.writeonly say the
// direction; an operand with neither is copied both ways.

module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @attrs(%in: memref<4xf32> {llvm.readonly}, %out: memref<4xf32> {llvm.writeonly}, %io: memref<2xi8>) kernel {
      gpu.return
    }
  }
  // CHECK-LABEL: func.func @by_kernel_args
  // CHECK-SAME:    (%[[A:.*]]: memref<4xf32>, %[[B:.*]]: memref<4xf32>, %[[C:.*]]: memref<2xi8>)
  // CHECK:         gpu.alloc async
  // CHECK-NEXT:    gpu.memcpy async [%{{.*}}] %{{.*}}, %[[A]]
  // CHECK-NEXT:    gpu.alloc async
  // CHECK-NEXT:    %[[DC:.*]], %{{.*}} = gpu.alloc async
  // CHECK-NEXT:    gpu.memcpy async [%{{.*}}] %[[DC]], %[[C]]
  // CHECK-NEXT:    gpu.launch_func async
  // CHECK-NEXT:    gpu.memcpy async [%{{.*}}] %[[B]], %{{.*}}
  // CHECK-NEXT:    gpu.memcpy async [%{{.*}}] %[[C]], %[[DC]]
  // CHECK-COUNT-3: gpu.dealloc async
  // CHECK-NEXT:    gpu.wait [%{{.*}}]
  func.func @by_kernel_args(%a: memref<4xf32>, %b: memref<4xf32>, %c: memref<2xi8>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @k::@attrs blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)
        args(%a : memref<4xf32>, %b : memref<4xf32>, %c : memref<2xi8>)
    return
  }
}

// -----

// A launch that is already asynchronous is left alone.

module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @one(%in: memref<4xf32>) kernel {
      gpu.return
    }
  }
  // CHECK-LABEL: func.func @already_async
  // CHECK-NOT:     gpu.alloc
  // CHECK:         gpu.launch_func async [%{{.*}}] @k::@one
  func.func @already_async(%a: memref<4xf32>) {
    %c1 = arith.constant 1 : index
    %t = gpu.wait async
    %t1 = gpu.launch_func async [%t] @k::@one blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)
        args(%a : memref<4xf32>)
    gpu.wait [%t1]
    return
  }
}

// -----

module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @strided(%in: memref<4xf32, strided<[2]>>) kernel {
      gpu.return
    }
  }
  func.func @strided(%a: memref<4xf32, strided<[2]>>) {
    %c1 = arith.constant 1 : index
    // expected-error @+1 {{quantc-stage-gpu-buffers: operand #0 must be a static, contiguous memref, got 'memref<4xf32, strided<[2]>>'}}
    gpu.launch_func @k::@strided blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1)
        args(%a : memref<4xf32, strided<[2]>>)
    return
  }
}
