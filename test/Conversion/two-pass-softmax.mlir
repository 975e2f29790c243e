// RUN: quant-opt %s --split-input-file --verify-diagnostics --quantc-two-pass-softmax --canonicalize --cse | FileCheck %s
// RUN: quant-opt %s --split-input-file --verify-diagnostics --quantc-two-pass-softmax=vector-width=8 --canonicalize --cse | FileCheck %s --check-prefix=AVX2
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/two_pass_softmax_check.py --quant-run quant-run --work %t | FileCheck %s --check-prefix=NUMERICS

// Attention rows (4 heads x 128 queries x 128 keys): a call over the 512
// rows of a kernel that the thread pool splits. Per row, pass 1 walks the
// 8 full vectors carrying (sum, exponent) vectors and a NaN mask: x clamped
// to [-300, 300] (compare + select: one vmaxps / vminps), exp(x) as p * 2^n
// with n rounded through the 1.5 * 2^23 magic number, r reduced with two
// ln2 constants, a degree-6 polynomial, 2^k built in the exponent bits; the
// lanes then reduce (max of exponents, sum). A row with a NaN or a largest
// exponent outside [-274, 288] takes its max (maximumf) and pass 1 again on
// x - max, or is NaN when that max is not finite; pass 2 stores
// p * (1 / sum) * 2^(n - e).

// CHECK-LABEL: func.func @attention
// CHECK-NOT: linalg.softmax
// CHECK: call @[[KERNEL:__quantc_softmax_[0-9]+]](%arg0, %arg1, %c0, %c512)
// CHECK: func.func private @[[KERNEL]](%[[IN:[^ ,)]+]]: memref<4x128x128xf32>, %[[OUT:[^ ,)]+]]: memref<4x128x128xf32>, %{{.+}}: index, %{{.+}}: index) attributes {quantc.parallel_task}
// CHECK-DAG: %[[NAN:[^ ]+]] = arith.constant dense<0x7FC00000> : vector<16xf32>
// CHECK-DAG: %[[HIGHEST:[^ ]+]] = arith.constant 2.880000e+02 : f32
// CHECK-DAG: %[[LOWEST:[^ ]+]] = arith.constant -2.740000e+02 : f32
// CHECK-DAG: %[[INF:[^ ]+]] = arith.constant 0x7F800000 : f32
// CHECK-DAG: %[[MINUS127:[^ ]+]] = arith.constant dense<-1.270000e+02> : vector<16xf32>
// CHECK-DAG: %[[LN2HI:[^ ]+]] = arith.constant dense<0.693145751> : vector<16xf32>
// CHECK-DAG: %[[LN2LO:[^ ]+]] = arith.constant dense<1.42860677E-6> : vector<16xf32>
// CHECK-DAG: %[[LOG2E:[^ ]+]] = arith.constant dense<1.44269502> : vector<16xf32>
// CHECK-DAG: %[[MAGIC:[^ ]+]] = arith.constant dense<0x4B400000> : vector<16xf32>
// CHECK-DAG: %[[CLAMPHI:[^ ]+]] = arith.constant dense<3.000000e+02> : vector<16xf32>
// CHECK-DAG: %[[CLAMPLO:[^ ]+]] = arith.constant dense<-3.000000e+02> : vector<16xf32>
// CHECK-DAG: %[[NEGINF:[^ ]+]] = arith.constant dense<0xFF800000> : vector<16xf32>
// CHECK-DAG: %[[FLOOR:[^ ]+]] = arith.constant dense<-1.000000e+03> : vector<16xf32>
// CHECK-DAG: %[[ZEROS:[^ ]+]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK-DAG: %[[NONAN:[^ ]+]] = arith.constant dense<false> : vector<16xi1>
// CHECK: scf.for %[[ROW:[^ ]+]] = %{{.+}} to %{{.+}} step %c1 {
// CHECK: %[[Q:[^ ]+]] = arith.remui %[[ROW]], %c128
// CHECK: %[[H:[^ ]+]] = arith.divui %[[ROW]], %c128
// CHECK-NOT: arith.remui
// CHECK: scf.for %[[COL:[^ ]+]] = %c0 to %c128 step %c16 iter_args(%[[S:[^ ]+]] = %[[ZEROS]], %[[E:[^ ]+]] = %[[FLOOR]], %[[ANYNAN:[^ ]+]] = %[[NONAN]]) -> (vector<16xf32>, vector<16xf32>, vector<16xi1>)
// CHECK: %[[X:[^ ]+]] = vector.load %[[IN]][%[[H]], %[[Q]], %[[COL]]] : memref<4x128x128xf32>, vector<16xf32>
// CHECK: %[[C0:[^ ]+]] = arith.cmpf ogt, %[[X]], %[[CLAMPLO]]
// CHECK: %[[T0:[^ ]+]] = arith.select %[[C0]], %[[X]], %[[CLAMPLO]]
// CHECK: %[[C1:[^ ]+]] = arith.cmpf olt, %[[T0]], %[[CLAMPHI]]
// CHECK: %[[T:[^ ]+]] = arith.select %[[C1]], %[[T0]], %[[CLAMPHI]]
// CHECK: %[[N0:[^ ]+]] = arith.mulf %[[T]], %[[LOG2E]] fastmath<contract>
// CHECK: %[[N1:[^ ]+]] = arith.addf %[[N0]], %[[MAGIC]] fastmath<contract>
// CHECK: %[[N:[^ ]+]] = arith.subf %[[N1]], %[[MAGIC]] fastmath<contract>
// CHECK: %[[R0:[^ ]+]] = arith.mulf %[[N]], %[[LN2HI]]
// CHECK: %[[R1:[^ ]+]] = arith.subf %[[T]], %[[R0]]
// CHECK: %[[R2:[^ ]+]] = arith.mulf %[[N]], %[[LN2LO]]
// CHECK: %[[R:[^ ]+]] = arith.subf %[[R1]], %[[R2]]
// CHECK-COUNT-6: arith.addf {{.*}} fastmath<contract> : vector<16xf32>
// CHECK: %[[EMAX:[^ ]+]] = arith.maxnumf %[[N]], %[[E]] fastmath<nnan,nsz>
// CHECK: arith.subf %[[E]], %[[EMAX]]
// CHECK: arith.cmpf ogt, %{{.+}}, %[[MINUS127]]
// CHECK: arith.fptosi {{.*}} : vector<16xf32> to vector<16xi32>
// CHECK: arith.shli
// CHECK: arith.bitcast {{.*}} : vector<16xi32> to vector<16xf32>
// CHECK: arith.mulf %[[S]],
// CHECK: arith.subf %[[N]], %[[EMAX]]
// CHECK: %[[ISNAN:[^ ]+]] = arith.cmpf uno, %[[X]], %[[X]] : vector<16xf32>
// CHECK: %[[NANS:[^ ]+]] = arith.ori %[[ANYNAN]], %[[ISNAN]]
// CHECK: scf.yield %{{.+}}, %[[EMAX]], %[[NANS]]
// CHECK: %[[ROWEXP:[^ ]+]] = vector.reduction <maxnumf>, %{{.+}} fastmath<nnan,nsz>
// CHECK: vector.reduction <add>, %{{.+}} fastmath<reassoc>
// CHECK: %[[ROWNAN:[^ ]+]] = vector.reduction <or>
// CHECK: %[[ABOVE:[^ ]+]] = arith.cmpf oge, %[[ROWEXP]], %[[LOWEST]] : f32
// CHECK: %[[BELOW:[^ ]+]] = arith.cmpf ole, %[[ROWEXP]], %[[HIGHEST]] : f32
// CHECK: %[[BOTH:[^ ]+]] = arith.andi %[[ABOVE]], %[[BELOW]]
// CHECK: %[[INRANGE:[^ ]+]] = arith.select %[[ROWNAN]], %false, %[[BOTH]] : i1
// CHECK: %[[SUMS:[^ ]+]]:4 = scf.if %[[INRANGE]] -> (f32, f32, f32, i1) {
// CHECK: } else {
// CHECK: scf.for {{.*}} iter_args
// CHECK: arith.maximumf
// CHECK: %[[MAX:[^ ]+]] = vector.reduction <maximumf>
// CHECK: %[[ABS:[^ ]+]] = math.absf %[[MAX]]
// CHECK: %[[FINITE:[^ ]+]] = arith.cmpf olt, %[[ABS]], %[[INF]]
// CHECK: %[[SHIFT:[^ ]+]] = arith.select %[[FINITE]], %[[MAX]]
// CHECK: scf.for {{.*}} iter_args
// CHECK: vector.broadcast %[[SHIFT]]
// CHECK: scf.yield {{.*}}, %[[SHIFT]], %[[FINITE]]
// CHECK: scf.if %[[SUMS]]#3 {
// CHECK: arith.divf %{{.+}}, %[[SUMS]]#0 : f32
// CHECK: scf.for
// CHECK: vector.load %[[IN]]
// CHECK: vector.broadcast %[[SUMS]]#2
// CHECK: arith.mulf {{.*}} : vector<16xf32>
// CHECK: vector.store {{.*}}, %[[OUT]]
// CHECK: } else {
// CHECK: scf.for
// CHECK: vector.store %[[NAN]], %[[OUT]]
// CHECK-NOT: vector.maskedload
// AVX2-LABEL: func.func @attention
// AVX2: scf.for {{.*}} step %c8 iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xi1>)
func.func @attention(%x: memref<4x128x128xf32>, %y: memref<4x128x128xf32>) {
  linalg.softmax dimension(2) ins(%x : memref<4x128x128xf32>) outs(%y : memref<4x128x128xf32>)
  return
}

// -----

// A row of 20 is one full vector and a tail of 4 lanes: masked loads (past
// the end: -inf, and p = 0 there) and masked stores.

// CHECK-LABEL: func.func @tail
// CHECK: call @[[KERNEL:__quantc_softmax_[0-9]+]](%arg0, %arg1, %c0, %c3)
// CHECK: func.func private @[[KERNEL]]
// CHECK-DAG: %[[MASK:[^ ,)]+]] = arith.constant dense<[true, true, true, true, false, false, false, false, false, false, false, false, false, false, false, false]> : vector<16xi1>
// CHECK-DAG: %[[NEGINF:[^ ,)]+]] = arith.constant dense<0xFF800000> : vector<16xf32>
// CHECK: vector.load
// CHECK: scf.yield
// CHECK: vector.maskedload %arg0[%{{.+}}, %c16], %[[MASK]], %[[NEGINF]]
// CHECK: arith.select %[[MASK]]
// CHECK: arith.select %[[MASK]]
// CHECK: vector.maskedstore %arg1[%{{.+}}, %c16], %[[MASK]]
// AVX2-LABEL: func.func @tail
// AVX2: vector.maskedload {{.*}} : memref<3x20xf32>, vector<8xi1>, vector<8xf32> into vector<8xf32>
func.func @tail(%x: memref<3x20xf32>, %y: memref<3x20xf32>) {
  linalg.softmax dimension(1) ins(%x : memref<3x20xf32>) outs(%y : memref<3x20xf32>)
  return
}

// -----

// Not along the last dimension, f64, dynamic: scalar loops of max, sum of
// exp(x - max), exp(x - max) / sum in index order (the values of the
// importer's former max / exp / sum / div generics).

// CHECK-LABEL: func.func @other_axis_f64_dynamic
// CHECK-NOT: call
// CHECK: %[[N:[^ ,)]+]] = memref.dim %arg0, %c1
// CHECK: scf.for %[[J:[^ ,)]+]] = %c0 to %[[N]] step %c1 {
// CHECK: %[[MAX:[^ ,)]+]] = scf.for %[[I:[^ ,)]+]] = %c0 to %c3 step %c1 iter_args(%[[M:[^ ,)]+]] = %{{[^ )]+}}) -> (f64) {
// CHECK: %[[X:[^ ,)]+]] = memref.load %arg0[%[[I]], %[[J]]]
// CHECK: arith.maximumf %[[X]], %[[M]] : f64
// CHECK: %[[SUM:[^ ,)]+]] = scf.for {{.*}} -> (f64) {
// CHECK: arith.subf %{{.+}}, %[[MAX]] : f64
// CHECK: math.exp
// CHECK: arith.addf
// CHECK: scf.for
// CHECK: math.exp
// CHECK: arith.divf %{{.+}}, %[[SUM]] : f64
// CHECK: memref.store {{.*}}, %arg1[%{{.+}}, %[[J]]]
func.func @other_axis_f64_dynamic(%x: memref<3x?xf64>, %y: memref<3x?xf64>) {
  linalg.softmax dimension(0) ins(%x : memref<3x?xf64>) outs(%y : memref<3x?xf64>)
  return
}

// -----

// A strided last dimension (every other column) takes the scalar loops too.

// CHECK-LABEL: func.func @strided_rows
// CHECK-NOT: call
// CHECK: math.exp
func.func @strided_rows(%x: memref<2x8xf32, strided<[16, 2]>>, %y: memref<2x8xf32>) {
  linalg.softmax dimension(1) ins(%x : memref<2x8xf32, strided<[16, 2]>>) outs(%y : memref<2x8xf32>)
  return
}

// -----

func.func @on_tensors(%x: tensor<4xf32>) -> tensor<4xf32> {
  %e = tensor.empty() : tensor<4xf32>
  // expected-error @below {{quantc-two-pass-softmax runs on buffers; bufferize first}}
  %y = linalg.softmax dimension(0) ins(%x : tensor<4xf32>) outs(%e : tensor<4xf32>) -> tensor<4xf32>
  return %y : tensor<4xf32>
}

// Through quant-run (ONNX Softmax -> linalg.softmax -> this pass), against
// float64 numpy, bit-identical at 1 and 2 threads:
// NUMERICS: ok attention_causal_-inf_4x128x128
// NUMERICS: ok attention_causal_f32min_2x128x128
// NUMERICS: ok tail_3x1
// NUMERICS: ok tail_3x5
// NUMERICS: ok tail_3x16
// NUMERICS: ok tail_3x17
// NUMERICS: ok tail_3x31
// NUMERICS: ok tail_3x100
// NUMERICS: ok tail_3x129
// NUMERICS: ok range_pm80_8x77
// NUMERICS: ok far_rows_8x40
// NUMERICS: ok special_rows_7x21
// NUMERICS: ok axis0_37x5
// NUMERICS: ok axis1_of_3_4x6x5
// NUMERICS: ok vs-three-pass
// NUMERICS-NOT: FAIL
