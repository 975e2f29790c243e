// RUN: quant-opt %s --qc-rotate -split-input-file --mlir-elide-resource-strings-if-larger=16 2>/dev/null | FileCheck %s
// RUN: quant-opt %s --qc-rotate -split-input-file -o /dev/null 2>&1 | FileCheck %s --check-prefix=REMARK
// RUN: quant-opt %s --qc-rotate="random-signs=true seed=7" -split-input-file 2>/dev/null | FileCheck %s --check-prefix=SIGNS
// RUN: quant-opt %s --qc-rotate="mode=auto" -split-input-file 2>/dev/null | FileCheck %s --check-prefix=AUTO
// RUN: quant-opt %s --qc-rotate="mode=off" -split-input-file 2>&1 | FileCheck %s --check-prefix=OFF
//
// The IR is what the ONNX importer and qc-quantize produce: linalg.matmul
// layers with qc.fake_quant on the constant weight (along K) and on the
// activation, elementwise ops as linalg.generic, reshapes through a flat
// tensor. The numbers are checked by rotate-equivalence.test.

// mode=off leaves every function as it is.
// OFF-NOT: remark
// OFF-NOT: qc.rotation

// Insert: one layer whose activation is a function argument. Its rotation
// cannot be absorbed upstream, so it runs online; Q folds into the weight's
// rows: the all-ones column becomes (√16, 0, ..., 0).
// REMARK-LABEL: remark: qc-rotate: 1 quantized layer(s): 0 fused, 1 online, 0 rejected; 1 online qc.hadamard, 1 weight and 0 table fold(s), 0 norm gain(s) folded; rotation regions: 1 x 16
// CHECK-LABEL: func @insert
// CHECK-SAME: (%[[X:.*]]: tensor<4x16xf32>)
// CHECK: %[[H:.*]] = qc.hadamard %[[X]] along 1 : tensor<4x16xf32>
// CHECK: %[[W:.*]] = arith.constant dense<{{\[}}[4.000000e+00], [0.000000e+00], [0.000000e+00],
// CHECK: %[[WQ:.*]] = qc.fake_quant %[[W]] as <nvint4, axis = 0>
// CHECK: %[[XQ:.*]] = qc.fake_quant %[[H]] as <nvint4>
// CHECK: linalg.matmul {qc.rotation = "online"} ins(%[[XQ]], %[[WQ]] :
// SIGNS-LABEL: func @insert
// OFF-LABEL: func @insert
// OFF-NOT: qc.hadamard
// OFF: linalg.matmul ins
// SIGNS: qc.hadamard %{{.*}} along 1 seed 7 : tensor<4x16xf32>
func.func @insert(%x: tensor<4x16xf32>) -> tensor<4x1xf32> {
  %w = arith.constant dense<1.0> : tensor<16x1xf32>
  %wq = qc.fake_quant %w as <nvint4, axis = 0> : tensor<16x1xf32>
  %xq = qc.fake_quant %x as <nvint4> : tensor<4x16xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x1xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<4x1xf32>) -> tensor<4x1xf32>
  %y = linalg.matmul ins(%xq, %wq : tensor<4x16xf32>, tensor<16x1xf32>) outs(%acc : tensor<4x1xf32>) -> tensor<4x1xf32>
  return %y : tensor<4x1xf32>
}

// -----

// Fold into the producer: the second layer's activation is the first
// layer's result, so the first layer writes it rotated (its weight's columns
// absorb Q) and only the first layer's own input rotation stays online.
// REMARK-LABEL: remark: qc-rotate: 2 quantized layer(s): 1 fused, 1 online, 0 rejected; 1 online qc.hadamard, 2 weight and 0 table fold(s)
// CHECK-LABEL: func @fold_into_producer
// CHECK-COUNT-1: qc.hadamard
// CHECK-NOT: qc.hadamard
// CHECK: linalg.matmul {qc.rotation = "online"}
// CHECK-NOT: qc.hadamard
// CHECK: linalg.matmul {qc.rotation = "fused"}
func.func @fold_into_producer(%x: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %w1 = arith.constant dense<0.5> : tensor<16x16xf32>
  %w2 = arith.constant dense<0.25> : tensor<16x16xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<4x16xf32>) -> tensor<4x16xf32>
  %w1q = qc.fake_quant %w1 as <nvint4, axis = 0> : tensor<16x16xf32>
  %xq = qc.fake_quant %x as <nvint4> : tensor<4x16xf32>
  %y1 = linalg.matmul ins(%xq, %w1q : tensor<4x16xf32>, tensor<16x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %w2q = qc.fake_quant %w2 as <nvint4, axis = 0> : tensor<16x16xf32>
  %y1q = qc.fake_quant %y1 as <nvint4> : tensor<4x16xf32>
  %y2 = linalg.matmul ins(%y1q, %w2q : tensor<4x16xf32>, tensor<16x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %y2 : tensor<4x16xf32>
}

// -----

// Propagate through the residual stream: embedding (a Gather of a constant
// table) -> RMSNorm with a gain -> layer "q" -> layer "o" -> residual add ->
// RMSNorm -> head. The norm gains fold into the rows of "q" and "head" (the
// gain generics disappear), the rotation passes the norms (x / rms(x), with
// sum(x²) rotation invariant), the residual add and the reshapes, starts in
// the embedding table's columns and in "o"'s columns, and ends in the rows
// of "q", "o" (its own input: q's columns) and "head": nothing runs online.
// REMARK-LABEL: remark: qc-rotate: 3 quantized layer(s): 3 fused, 0 online, 0 rejected; 0 online qc.hadamard, 3 weight and 1 table fold(s), 2 norm gain(s) folded; rotation regions: 2 x 16
// CHECK-LABEL: func @residual_stream
// CHECK-NOT: qc.hadamard
// CHECK: %[[TABLE:.*]] = arith.constant dense_resource<qc_rotated> : tensor<10x16xf32>
// CHECK: tensor.extract %[[TABLE]]
// CHECK-NOT: qc.hadamard
// CHECK: linalg.matmul {qc.rotation = "fused"}
// CHECK: linalg.matmul {qc.rotation = "fused"}
// CHECK: linalg.matmul {qc.rotation = "fused"}
// CHECK-NOT: qc.hadamard
// CHECK: return
#id3 = affine_map<(d0, d1, d2) -> (d0, d1, d2)>
#row3 = affine_map<(d0, d1, d2) -> (d0, d1)>
#ch3 = affine_map<(d0, d1, d2) -> (d2)>
#id2 = affine_map<(d0, d1) -> (d0, d1)>
func.func @residual_stream(%ids: tensor<1x4xi64>) -> tensor<1x4x8xf32> {
  %table = arith.constant dense<[[0.1, -0.2, 0.3, 0.4, 0.5, -0.6, 0.7, 0.8, 0.9, 1.0, 1.1, -1.2, 1.3, 1.4, 1.5, 1.6],
                                 [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0],
                                 [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
                                 [-1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0, -1.0, 1.0],
                                 [3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                                 [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6],
                                 [2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 2.0, -2.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                                 [0.3, 0.3, 0.3, 0.3, -0.3, -0.3, -0.3, -0.3, 0.3, 0.3, 0.3, 0.3, -0.3, -0.3, -0.3, -0.3],
                                 [1.5, 0.0, -1.5, 0.0, 1.5, 0.0, -1.5, 0.0, 1.5, 0.0, -1.5, 0.0, 1.5, 0.0, -1.5, 0.0],
                                 [0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0, -0.1, -0.2, -0.3, -0.4, -0.5, -0.6, -0.7, -0.8]]> : tensor<10x16xf32>
  %gain1 = arith.constant dense<[1.0, 2.0, 0.5, 1.0, 16.0, 1.0, 1.0, 0.25, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]> : tensor<16xf32>
  %gain2 = arith.constant dense<[0.5, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 16.0, 1.0, 1.0, 1.0]> : tensor<16xf32>
  %wq_proj = arith.constant dense<0.125> : tensor<16x16xf32>
  %wo_proj = arith.constant dense<-0.25> : tensor<16x16xf32>
  %whead = arith.constant dense<0.5> : tensor<16x8xf32>
  %zero = arith.constant 0.0 : f32
  %eps = arith.constant 1.0e-5 : f32
  %n = arith.constant 16.0 : f32

  // x0 = table[ids]
  %e3 = tensor.empty() : tensor<1x4x16xf32>
  %x0 = linalg.generic {indexing_maps = [#row3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%ids : tensor<1x4xi64>) outs(%e3 : tensor<1x4x16xf32>) {
  ^bb0(%i: i64, %o: f32):
    %idx = arith.index_cast %i : i64 to index
    %c = linalg.index 2 : index
    %v = tensor.extract %table[%idx, %c] : tensor<10x16xf32>
    linalg.yield %v : f32
  } -> tensor<1x4x16xf32>

  // n1 = x0 / sqrt(mean(x0²) + eps) * gain1
  %sq0 = linalg.generic {indexing_maps = [#id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x0 : tensor<1x4x16xf32>) outs(%e3 : tensor<1x4x16xf32>) {
  ^bb0(%a: f32, %o: f32):
    %m = arith.mulf %a, %a : f32
    linalg.yield %m : f32
  } -> tensor<1x4x16xf32>
  %e2r = tensor.empty() : tensor<1x4xf32>
  %zr = linalg.fill ins(%zero : f32) outs(%e2r : tensor<1x4xf32>) -> tensor<1x4xf32>
  %sum0 = linalg.generic {indexing_maps = [#id3, #row3], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%sq0 : tensor<1x4x16xf32>) outs(%zr : tensor<1x4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %a, %acc : f32
    linalg.yield %s : f32
  } -> tensor<1x4xf32>
  %rms0 = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%sum0 : tensor<1x4xf32>) outs(%e2r : tensor<1x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %mean = arith.divf %a, %n : f32
    %plus = arith.addf %mean, %eps : f32
    %r = math.sqrt %plus : f32
    linalg.yield %r : f32
  } -> tensor<1x4xf32>
  %u0 = linalg.generic {indexing_maps = [#id3, #row3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x0, %rms0 : tensor<1x4x16xf32>, tensor<1x4xf32>) outs(%e3 : tensor<1x4x16xf32>) {
  ^bb0(%a: f32, %r: f32, %o: f32):
    %d = arith.divf %a, %r : f32
    linalg.yield %d : f32
  } -> tensor<1x4x16xf32>
  %n1 = linalg.generic {indexing_maps = [#id3, #ch3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%u0, %gain1 : tensor<1x4x16xf32>, tensor<16xf32>) outs(%e3 : tensor<1x4x16xf32>) {
  ^bb0(%a: f32, %g: f32, %o: f32):
    %m = arith.mulf %a, %g : f32
    linalg.yield %m : f32
  } -> tensor<1x4x16xf32>

  // q = n1 · Wq ; o = q · Wo (as MatMul imports: through a flat tensor)
  %e2 = tensor.empty() : tensor<4x16xf32>
  %acc16 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<4x16xf32>) -> tensor<4x16xf32>
  %n1f = tensor.collapse_shape %n1 [[0, 1, 2]] : tensor<1x4x16xf32> into tensor<64xf32>
  %n12 = tensor.expand_shape %n1f [[0, 1]] output_shape [4, 16] : tensor<64xf32> into tensor<4x16xf32>
  %wqq = qc.fake_quant %wq_proj as <nvint4, axis = 0> : tensor<16x16xf32>
  %n1q = qc.fake_quant %n12 as <nvint4> : tensor<4x16xf32>
  %q = linalg.matmul ins(%n1q, %wqq : tensor<4x16xf32>, tensor<16x16xf32>) outs(%acc16 : tensor<4x16xf32>) -> tensor<4x16xf32>
  %woq = qc.fake_quant %wo_proj as <nvint4, axis = 0> : tensor<16x16xf32>
  %qq = qc.fake_quant %q as <nvint4> : tensor<4x16xf32>
  %attn = linalg.matmul ins(%qq, %woq : tensor<4x16xf32>, tensor<16x16xf32>) outs(%acc16 : tensor<4x16xf32>) -> tensor<4x16xf32>
  %of = tensor.collapse_shape %attn [[0, 1]] : tensor<4x16xf32> into tensor<64xf32>
  %o3 = tensor.expand_shape %of [[0, 1, 2]] output_shape [1, 4, 16] : tensor<64xf32> into tensor<1x4x16xf32>

  // x1 = x0 + o
  %x1 = linalg.generic {indexing_maps = [#id3, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x0, %o3 : tensor<1x4x16xf32>, tensor<1x4x16xf32>) outs(%e3 : tensor<1x4x16xf32>) {
  ^bb0(%a: f32, %b: f32, %c: f32):
    %s = arith.addf %a, %b : f32
    linalg.yield %s : f32
  } -> tensor<1x4x16xf32>

  // n2 = x1 / sqrt(mean(x1²) + eps) * gain2, with powf(x, 2) as Pow imports
  %two = arith.constant dense<2.0> : tensor<f32>
  %sq1 = linalg.generic {indexing_maps = [#id3, affine_map<(d0, d1, d2) -> ()>, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x1, %two : tensor<1x4x16xf32>, tensor<f32>) outs(%e3 : tensor<1x4x16xf32>) {
  ^bb0(%a: f32, %p: f32, %o: f32):
    %m = math.powf %a, %p : f32
    linalg.yield %m : f32
  } -> tensor<1x4x16xf32>
  %sum1 = linalg.generic {indexing_maps = [#id3, #row3], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%sq1 : tensor<1x4x16xf32>) outs(%zr : tensor<1x4xf32>) {
  ^bb0(%a: f32, %acc: f32):
    %s = arith.addf %acc, %a : f32
    linalg.yield %s : f32
  } -> tensor<1x4xf32>
  %rms1 = linalg.generic {indexing_maps = [#id2, #id2], iterator_types = ["parallel", "parallel"]}
      ins(%sum1 : tensor<1x4xf32>) outs(%e2r : tensor<1x4xf32>) {
  ^bb0(%a: f32, %o: f32):
    %mean = arith.divf %a, %n : f32
    %plus = arith.addf %mean, %eps : f32
    %r = math.sqrt %plus : f32
    linalg.yield %r : f32
  } -> tensor<1x4xf32>
  %u1 = linalg.generic {indexing_maps = [#id3, #row3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%x1, %rms1 : tensor<1x4x16xf32>, tensor<1x4xf32>) outs(%e3 : tensor<1x4x16xf32>) {
  ^bb0(%a: f32, %r: f32, %o: f32):
    %d = arith.divf %a, %r : f32
    linalg.yield %d : f32
  } -> tensor<1x4x16xf32>
  %n2 = linalg.generic {indexing_maps = [#ch3, #id3, #id3], iterator_types = ["parallel", "parallel", "parallel"]}
      ins(%gain2, %u1 : tensor<16xf32>, tensor<1x4x16xf32>) outs(%e3 : tensor<1x4x16xf32>) {
  ^bb0(%g: f32, %a: f32, %o: f32):
    %m = arith.mulf %g, %a : f32
    linalg.yield %m : f32
  } -> tensor<1x4x16xf32>

  // logits = n2 · Whead
  %n2f = tensor.collapse_shape %n2 [[0, 1, 2]] : tensor<1x4x16xf32> into tensor<64xf32>
  %n22 = tensor.expand_shape %n2f [[0, 1]] output_shape [4, 16] : tensor<64xf32> into tensor<4x16xf32>
  %e8 = tensor.empty() : tensor<4x8xf32>
  %acc8 = linalg.fill ins(%zero : f32) outs(%e8 : tensor<4x8xf32>) -> tensor<4x8xf32>
  %whq = qc.fake_quant %whead as <nvint4, axis = 0> : tensor<16x8xf32>
  %n2q = qc.fake_quant %n22 as <nvint4> : tensor<4x16xf32>
  %logits = linalg.matmul ins(%n2q, %whq : tensor<4x16xf32>, tensor<16x8xf32>) outs(%acc8 : tensor<4x8xf32>) -> tensor<4x8xf32>
  %lf = tensor.collapse_shape %logits [[0, 1]] : tensor<4x8xf32> into tensor<32xf32>
  %l3 = tensor.expand_shape %lf [[0, 1, 2]] output_shape [1, 4, 8] : tensor<32xf32> into tensor<1x4x8xf32>
  return %l3 : tensor<1x4x8xf32>
}

// -----

// Propagate through a reshape into heads: o_proj's input is P·V per head of
// 16 channels, so its rotation shrinks from 32 to one Hadamard of 16 per
// head and folds into v_proj's weight columns (head by head) through the
// transposes and the batch matmul. v_proj's own input is an argument: online.
// REMARK-LABEL: remark: qc-rotate: 2 quantized layer(s): 1 fused, 1 online, 0 rejected; 1 online qc.hadamard, 2 weight and 0 table fold(s), 0 norm gain(s) folded; rotation regions: 1 x 16, 1 x 32
// CHECK-LABEL: func @per_head
// CHECK: qc.hadamard %{{.*}} along 1 : tensor<4x32xf32>
// CHECK-NOT: qc.hadamard
// CHECK: linalg.matmul {qc.rotation = "online"}
// CHECK: linalg.batch_matmul
// CHECK: linalg.matmul {qc.rotation = "fused"}
func.func @per_head(%x: tensor<4x32xf32>, %p: tensor<2x4x4xf32>) -> tensor<4x32xf32> {
  %wv = arith.constant dense<0.5> : tensor<32x32xf32>
  %wo = arith.constant dense<0.25> : tensor<32x32xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x32xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<4x32xf32>) -> tensor<4x32xf32>
  %wvq = qc.fake_quant %wv as <nvint4, axis = 0> : tensor<32x32xf32>
  %xq = qc.fake_quant %x as <nvint4> : tensor<4x32xf32>
  %v = linalg.matmul ins(%xq, %wvq : tensor<4x32xf32>, tensor<32x32xf32>) outs(%acc : tensor<4x32xf32>) -> tensor<4x32xf32>
  %v3 = tensor.expand_shape %v [[0], [1, 2]] output_shape [4, 2, 16] : tensor<4x32xf32> into tensor<4x2x16xf32>
  %et = tensor.empty() : tensor<2x4x16xf32>
  %vt = linalg.transpose ins(%v3 : tensor<4x2x16xf32>) outs(%et : tensor<2x4x16xf32>) permutation = [1, 0, 2]
  %accb = linalg.fill ins(%zero : f32) outs(%et : tensor<2x4x16xf32>) -> tensor<2x4x16xf32>
  %pv = linalg.batch_matmul ins(%p, %vt : tensor<2x4x4xf32>, tensor<2x4x16xf32>) outs(%accb : tensor<2x4x16xf32>) -> tensor<2x4x16xf32>
  %eb = tensor.empty() : tensor<4x2x16xf32>
  %back = linalg.transpose ins(%pv : tensor<2x4x16xf32>) outs(%eb : tensor<4x2x16xf32>) permutation = [1, 0, 2]
  %z = tensor.collapse_shape %back [[0], [1, 2]] : tensor<4x2x16xf32> into tensor<4x32xf32>
  %woq = qc.fake_quant %wo as <nvint4, axis = 0> : tensor<32x32xf32>
  %zq = qc.fake_quant %z as <nvint4> : tensor<4x32xf32>
  %y = linalg.matmul ins(%zq, %woq : tensor<4x32xf32>, tensor<32x32xf32>) outs(%acc : tensor<4x32xf32>) -> tensor<4x32xf32>
  return %y : tensor<4x32xf32>
}

// -----

// What cannot be absorbed stays online: down_proj's input is the elementwise
// SwiGLU product, of width 48 = 12 x 4 (a non-power-of-two Hadamard size).
// gate and up share one online rotation of their common input.
// REMARK-LABEL: remark: qc-rotate: 3 quantized layer(s): 0 fused, 3 online, 0 rejected; 2 online qc.hadamard
// CHECK-LABEL: func @swiglu
// CHECK: qc.hadamard %{{.*}} along 1 : tensor<4x16xf32>
// CHECK: linalg.matmul {qc.rotation = "online"}
// CHECK: linalg.matmul {qc.rotation = "online"}
// CHECK: %[[S:.*]] = linalg.generic
// CHECK: qc.hadamard %[[S]] along 1 : tensor<4x48xf32>
// CHECK: linalg.matmul {qc.rotation = "online"}
func.func @swiglu(%x: tensor<4x16xf32>) -> tensor<4x16xf32> {
  %w1 = arith.constant dense<0.5> : tensor<16x48xf32>
  %w3 = arith.constant dense<0.25> : tensor<16x48xf32>
  %w2 = arith.constant dense<0.125> : tensor<48x16xf32>
  %zero = arith.constant 0.0 : f32
  %e48 = tensor.empty() : tensor<4x48xf32>
  %acc48 = linalg.fill ins(%zero : f32) outs(%e48 : tensor<4x48xf32>) -> tensor<4x48xf32>
  %xq = qc.fake_quant %x as <nvint4> : tensor<4x16xf32>
  %w1q = qc.fake_quant %w1 as <nvint4, axis = 0> : tensor<16x48xf32>
  %g = linalg.matmul ins(%xq, %w1q : tensor<4x16xf32>, tensor<16x48xf32>) outs(%acc48 : tensor<4x48xf32>) -> tensor<4x48xf32>
  %w3q = qc.fake_quant %w3 as <nvint4, axis = 0> : tensor<16x48xf32>
  %u = linalg.matmul ins(%xq, %w3q : tensor<4x16xf32>, tensor<16x48xf32>) outs(%acc48 : tensor<4x48xf32>) -> tensor<4x48xf32>
  %s = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]}
      ins(%g, %u : tensor<4x48xf32>, tensor<4x48xf32>) outs(%e48 : tensor<4x48xf32>) {
  ^bb0(%a: f32, %b: f32, %o: f32):
    %neg = arith.negf %a : f32
    %ex = math.exp %neg : f32
    %one = arith.constant 1.0 : f32
    %den = arith.addf %ex, %one : f32
    %silu = arith.divf %a, %den : f32
    %m = arith.mulf %silu, %b : f32
    linalg.yield %m : f32
  } -> tensor<4x48xf32>
  %e16 = tensor.empty() : tensor<4x16xf32>
  %acc16 = linalg.fill ins(%zero : f32) outs(%e16 : tensor<4x16xf32>) -> tensor<4x16xf32>
  %sq = qc.fake_quant %s as <nvint4> : tensor<4x48xf32>
  %w2q = qc.fake_quant %w2 as <nvint4, axis = 0> : tensor<48x16xf32>
  %y = linalg.matmul ins(%sq, %w2q : tensor<4x48xf32>, tensor<48x16xf32>) outs(%acc16 : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %y : tensor<4x16xf32>
}

// -----

// A value that leaves the function must stay un-rotated: the second layer's
// rotation cannot be fused into the first layer's columns, so it runs online
// on that layer's operand only; the returned value is untouched.
// REMARK: remark: qc-rotate: the rotation of '{{.*}}' cannot be fused: 'func.return' needs the un-rotated value; its layers are rotated online one by one
// REMARK-LABEL: remark: qc-rotate: 2 quantized layer(s): 0 fused, 2 online, 0 rejected; 2 online qc.hadamard
// CHECK-LABEL: func @returned
// CHECK: %[[Y1:.*]] = linalg.matmul {qc.rotation = "online"}
// CHECK: %[[H:.*]] = qc.hadamard %[[Y1]] along 1
// CHECK: qc.fake_quant %[[H]] as <nvint4>
// CHECK: %[[Y2:.*]] = linalg.matmul {qc.rotation = "online"}
// CHECK: return %[[Y1]], %[[Y2]]
func.func @returned(%x: tensor<4x16xf32>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
  %w1 = arith.constant dense<0.5> : tensor<16x16xf32>
  %w2 = arith.constant dense<0.25> : tensor<16x16xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<4x16xf32>) -> tensor<4x16xf32>
  %w1q = qc.fake_quant %w1 as <nvint4, axis = 0> : tensor<16x16xf32>
  %xq = qc.fake_quant %x as <nvint4> : tensor<4x16xf32>
  %y1 = linalg.matmul ins(%xq, %w1q : tensor<4x16xf32>, tensor<16x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %w2q = qc.fake_quant %w2 as <nvint4, axis = 0> : tensor<16x16xf32>
  %y1q = qc.fake_quant %y1 as <nvint4> : tensor<4x16xf32>
  %y2 = linalg.matmul ins(%y1q, %w2q : tensor<4x16xf32>, tensor<16x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  return %y1, %y2 : tensor<4x16xf32>, tensor<4x16xf32>
}

// -----

// Cancel: the activation is already rotated by the same involutory
// Hadamard (unsigned, power-of-two size), so H·H = I and the layer reads the
// un-rotated value with its weight rows rotated.
// REMARK-LABEL: remark: qc-rotate: 1 quantized layer(s): 1 fused, 0 online, 0 rejected; 0 online qc.hadamard, 1 weight and 0 table fold(s), 0 norm gain(s) folded, 1 H·H pair(s) cancelled
// CHECK-LABEL: func @cancel
// CHECK-SAME: (%[[X:.*]]: tensor<4x16xf32>)
// CHECK: qc.fake_quant %[[X]] as <nvint4>
// SIGNS-LABEL: func @cancel
// SIGNS: qc.hadamard %{{.*}} along 1 :
// SIGNS: qc.hadamard %{{.*}} along 1 seed 7 :
func.func @cancel(%x: tensor<4x16xf32>) -> tensor<4x1xf32> {
  %h = qc.hadamard %x along 1 : tensor<4x16xf32>
  %w = arith.constant dense<1.0> : tensor<16x1xf32>
  %wq = qc.fake_quant %w as <nvint4, axis = 0> : tensor<16x1xf32>
  %xq = qc.fake_quant %h as <nvint4> : tensor<4x16xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x1xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<4x1xf32>) -> tensor<4x1xf32>
  %y = linalg.matmul ins(%xq, %wq : tensor<4x16xf32>, tensor<16x1xf32>) outs(%acc : tensor<4x1xf32>) -> tensor<4x1xf32>
  return %y : tensor<4x1xf32>
}

// -----

// mode=auto measures each quantized layer's weight error with and without
// the rotation: an outlier in a column is spread by the rotation (NVINT4's
// error drops), so the rotation stays.
// AUTO-LABEL: func @auto_outlier
// AUTO: qc.hadamard
// AUTO: linalg.matmul {qc.rotation = "online", qc.rotation_gain_db = {{[1-9][0-9.]*e\+00}} : f64}
func.func @auto_outlier(%x: tensor<4x16xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[[8.0, -6.0], [0.5, -0.2], [-0.5, 1.0], [1.2, -1.0], [0.2, 0.2], [-0.8, 1.5], [1.0, -0.5], [0.0, 0.8], [-1.0, -1.2], [0.8, 0.0], [-0.2, 1.2], [-1.2, -0.8], [0.5, 0.5], [-0.5, -1.5], [1.2, -0.2], [0.2, 1.0]]> : tensor<16x2xf32>
  %wq = qc.fake_quant %w as <nvint4, axis = 0> : tensor<16x2xf32>
  %xq = qc.fake_quant %x as <nvint4> : tensor<4x16xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x2xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<4x2xf32>) -> tensor<4x2xf32>
  %y = linalg.matmul ins(%xq, %wq : tensor<4x16xf32>, tensor<16x2xf32>) outs(%acc : tensor<4x2xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

// A weight that NVFP4 represents exactly (every value on the E2M1 grid times
// one scale) can only lose by the rotation: rejected, nothing changes.
// AUTO-LABEL: func @auto_exact
// AUTO-NOT: qc.hadamard
// AUTO: linalg.matmul {qc.rotation = "rejected", qc.rotation_gain_db = -1.000000e+02 : f64}
func.func @auto_exact(%x: tensor<4x16xf32>) -> tensor<4x2xf32> {
  %w = arith.constant dense<[[0.5, 2.0], [1.0, 3.0], [1.5, 4.0], [2.0, 6.0], [3.0, -0.5], [4.0, -1.0], [6.0, -1.5], [-0.5, -2.0], [-1.0, -3.0], [-1.5, -4.0], [-2.0, -6.0], [-3.0, 1.0], [-4.0, 2.0], [-6.0, 0.5], [1.0, 1.0], [2.0, 1.5]]> : tensor<16x2xf32>
  %wq = qc.fake_quant %w as <nvfp4, axis = 0> : tensor<16x2xf32>
  %xq = qc.fake_quant %x as <nvfp4> : tensor<4x16xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x2xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<4x2xf32>) -> tensor<4x2xf32>
  %y = linalg.matmul ins(%xq, %wq : tensor<4x16xf32>, tensor<16x2xf32>) outs(%acc : tensor<4x2xf32>) -> tensor<4x2xf32>
  return %y : tensor<4x2xf32>
}

// -----

// Two layers share one rotation (their common input, produced by a layer
// whose columns could absorb it). One gains, the other does not: the shared
// rotation is dropped, the gaining layer is rotated on its own, online, and
// the other is left alone. With mode=on both would be fused.
// AUTO-LABEL: func @auto_split_region
// AUTO: %[[P:.*]] = linalg.matmul {qc.rotation = "rejected"
// AUTO: %[[H:.*]] = qc.hadamard %[[P]] along 1
// AUTO: %[[A:.*]] = qc.fake_quant %[[H]] as <nvint4>
// AUTO: linalg.matmul {qc.rotation = "online", qc.rotation_gain_db = {{[1-9][0-9.]*e\+00}} : f64} ins(%[[A]],
// AUTO: %[[B:.*]] = qc.fake_quant %[[P]] as <nvfp4>
// AUTO: linalg.matmul {qc.rotation = "rejected", qc.rotation_gain_db = -1.000000e+02 : f64} ins(%[[B]],
// CHECK-LABEL: func @auto_split_region
// CHECK: qc.hadamard %arg0
// CHECK-NOT: qc.hadamard
// CHECK: linalg.matmul {qc.rotation = "online"}
// CHECK: linalg.matmul {qc.rotation = "fused"}
// CHECK: linalg.matmul {qc.rotation = "fused"}
func.func @auto_split_region(%x: tensor<4x16xf32>) -> (tensor<4x2xf32>, tensor<4x2xf32>) {
  %wp = arith.constant dense<[[0.5, 2.0], [1.0, 3.0], [1.5, 4.0], [2.0, 6.0], [3.0, -0.5], [4.0, -1.0], [6.0, -1.5], [-0.5, -2.0], [-1.0, -3.0], [-1.5, -4.0], [-2.0, -6.0], [-3.0, 1.0], [-4.0, 2.0], [-6.0, 0.5], [1.0, 1.0], [2.0, 1.5]]> : tensor<16x2xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<4x16xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%e : tensor<4x16xf32>) -> tensor<4x16xf32>
  %wp16 = arith.constant dense<1.0> : tensor<16x16xf32>
  %wpq = qc.fake_quant %wp16 as <nvfp4, axis = 0> : tensor<16x16xf32>
  %xq = qc.fake_quant %x as <nvfp4> : tensor<4x16xf32>
  %p = linalg.matmul ins(%xq, %wpq : tensor<4x16xf32>, tensor<16x16xf32>) outs(%acc : tensor<4x16xf32>) -> tensor<4x16xf32>
  %e2 = tensor.empty() : tensor<4x2xf32>
  %acc2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<4x2xf32>) -> tensor<4x2xf32>
  %wa = arith.constant dense<[[8.0, -6.0], [0.5, -0.2], [-0.5, 1.0], [1.2, -1.0], [0.2, 0.2], [-0.8, 1.5], [1.0, -0.5], [0.0, 0.8], [-1.0, -1.2], [0.8, 0.0], [-0.2, 1.2], [-1.2, -0.8], [0.5, 0.5], [-0.5, -1.5], [1.2, -0.2], [0.2, 1.0]]> : tensor<16x2xf32>
  %waq = qc.fake_quant %wa as <nvint4, axis = 0> : tensor<16x2xf32>
  %pa = qc.fake_quant %p as <nvint4> : tensor<4x16xf32>
  %ya = linalg.matmul ins(%pa, %waq : tensor<4x16xf32>, tensor<16x2xf32>) outs(%acc2 : tensor<4x2xf32>) -> tensor<4x2xf32>
  %wbq = qc.fake_quant %wp as <nvfp4, axis = 0> : tensor<16x2xf32>
  %pb = qc.fake_quant %p as <nvfp4> : tensor<4x16xf32>
  %yb = linalg.matmul ins(%pb, %wbq : tensor<4x16xf32>, tensor<16x2xf32>) outs(%acc2 : tensor<4x2xf32>) -> tensor<4x2xf32>
  return %ya, %yb : tensor<4x2xf32>, tensor<4x2xf32>
}
