// RUN: quant-opt %s --split-input-file --quantc-vectorize-reductions --canonicalize --cse | FileCheck %s
// RUN: quant-opt %s --split-input-file --quantc-vectorize-reductions=vector-width=8 --canonicalize --cse | FileCheck %s --check-prefix=AVX2
// RUN: rm -rf %t && mkdir -p %t
// RUN: %python %S/Inputs/vectorize_reductions_check.py --quant-run quant-run --work %t | FileCheck %s --check-prefix=NUMERICS

// RMSNorm's sum of squares as the importer and quantc-fuse-elementwise
// leave it (powf by a constant 2 outside the body): a loop over the 128
// rows; per row 4 steps of 4 vectors of 16 (256 = 4 x 64, no tail) into 4
// accumulators, the body on vectors (the constant splat), then
// (a0 + a1) + (a2 + a3), a reassociated reduction across lanes, and the
// output's value added last.

// CHECK-LABEL: func.func @sum_of_squares
// CHECK-NOT: linalg.generic
// CHECK-DAG: %[[TWO:[^ ]+]] = arith.constant dense<2.000000e+00> : vector<16xf32>
// CHECK-DAG: %[[ZEROS:[^ ]+]] = arith.constant dense<0.000000e+00> : vector<16xf32>
// CHECK: scf.for %[[ROW:[^ ]+]] = %c0 to %c128 step %c1 {
// CHECK: %[[ACC:[^ ]+]]:4 = scf.for %[[J:[^ ]+]] = %c0 to %c256 step %c64 iter_args(%[[A0:[^ ]+]] = %[[ZEROS]], %[[A1:[^ ]+]] = %[[ZEROS]], %[[A2:[^ ]+]] = %[[ZEROS]], %[[A3:[^ ]+]] = %[[ZEROS]])
// CHECK: %[[X0:[^ ]+]] = vector.load %arg0[%c0, %[[ROW]], %c0, %[[J]]] : memref<1x128x1x256xf32>, vector<16xf32>
// CHECK: %[[P0:[^ ]+]] = math.powf %[[X0]], %[[TWO]] : vector<16xf32>
// CHECK: %[[S0:[^ ]+]] = arith.addf %[[A0]], %[[P0]] : vector<16xf32>
// CHECK: %[[J1:[^ ]+]] = arith.addi %[[J]], %c16
// CHECK: vector.load %arg0[%c0, %[[ROW]], %c0, %[[J1]]]
// CHECK: arith.addf %[[A1]]
// CHECK: arith.addf %[[A2]]
// CHECK: arith.addf %[[A3]]
// CHECK: scf.yield
// CHECK: %[[L:[^ ]+]] = arith.addf %[[ACC]]#0, %[[ACC]]#1 : vector<16xf32>
// CHECK: %[[R:[^ ]+]] = arith.addf %[[ACC]]#2, %[[ACC]]#3 : vector<16xf32>
// CHECK: %[[LR:[^ ]+]] = arith.addf %[[L]], %[[R]] : vector<16xf32>
// CHECK: %[[SUM:[^ ]+]] = vector.reduction <add>, %[[LR]] fastmath<reassoc> : vector<16xf32> into f32
// CHECK: %[[OLD:[^ ]+]] = memref.load %arg1[%c0, %[[ROW]], %c0]
// CHECK: %[[NEW:[^ ]+]] = arith.addf %[[SUM]], %[[OLD]] : f32
// CHECK: memref.store %[[NEW]], %arg1[%c0, %[[ROW]], %c0]
// AVX2-LABEL: func.func @sum_of_squares
// AVX2: scf.for {{.*}} = %c0 to %c256 step %c32 iter_args
// AVX2: vector.load {{.*}} vector<8xf32>
func.func @sum_of_squares(%x: memref<1x128x1x256xf32>, %out: memref<1x128x1xf32>) {
  %two = arith.constant 2.000000e+00 : f32
  linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>, affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%x : memref<1x128x1x256xf32>) outs(%out : memref<1x128x1xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %sq = math.powf %in, %two : f32
    %s = arith.addf %sq, %acc : f32
    linalg.yield %s : f32
  }
  return
}

// -----

// 164 = two steps of 64, two whole vectors (into a0, a1) and a tail of 4
// lanes: a masked load, its dead lanes replaced by the neutral element
// (-inf for maximumf) before they are combined. A broadcast input (the
// row's mean, not indexed by the reduction) is loaded once and splat.

// CHECK-LABEL: func.func @max_minus_mean_tail
// CHECK-DAG: %[[MASK:[^ ]+]] = arith.constant dense<[true, true, true, true, false, false, false, false, false, false, false, false, false, false, false, false]> : vector<16xi1>
// CHECK-DAG: %[[NEGINF:[^ ]+]] = arith.constant dense<0xFF800000> : vector<16xf32>
// CHECK: scf.for %[[ROW:[^ ]+]] = %c0 to %c6 step %c1 {
// CHECK: %[[MEAN:[^ ]+]] = memref.load %arg1[%[[ROW]]] : memref<6xf32>
// CHECK: %[[MEANS:[^ ]+]] = vector.broadcast %[[MEAN]] : f32 to vector<16xf32>
// CHECK: scf.for {{.*}} = %c0 to %c128 step %c64 iter_args
// CHECK: arith.subf {{.*}}, %[[MEANS]]
// CHECK: arith.maximumf
// CHECK: scf.yield
// CHECK: vector.load %arg0[%[[ROW]], %c128]
// CHECK: vector.load %arg0[%[[ROW]], %c144]
// CHECK: %[[T:[^ ]+]] = vector.maskedload %arg0[%[[ROW]], %c160], %[[MASK]]
// CHECK: %[[D:[^ ]+]] = arith.subf %[[T]], %[[MEANS]]
// CHECK: %[[V:[^ ]+]] = arith.select %[[MASK]], %[[D]], %[[NEGINF]]
// CHECK: arith.maximumf %{{.+}}, %[[V]]
// CHECK: vector.reduction <maximumf>
// CHECK: memref.store {{.*}}, %arg2[%[[ROW]]]
func.func @max_minus_mean_tail(%x: memref<6x164xf32>, %mean: memref<6xf32>, %out: memref<6xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]} ins(%x, %mean : memref<6x164xf32>, memref<6xf32>) outs(%out : memref<6xf32>) {
  ^bb0(%in: f32, %m: f32, %acc: f32):
    %d = arith.subf %in, %m : f32
    %r = arith.maximumf %acc, %d : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// Mul(x, x) fused into the sum reads x twice at the same place: one tensor,
// a sum of squares, vectorized (the two operands load the same vector).

// CHECK-LABEL: func.func @same_tensor_twice
// CHECK-NOT: linalg.generic
// CHECK: %[[X:[^ ]+]] = vector.load %arg0
// CHECK: arith.mulf %[[X]], %[[X]] : vector<16xf32>
// CHECK: vector.reduction <add>
func.func @same_tensor_twice(%x: memref<4x64xf32>, %out: memref<4xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]} ins(%x, %x : memref<4x64xf32>, memref<4x64xf32>) outs(%out : memref<4xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %r = arith.addf %p, %acc : f32
    linalg.yield %r : f32
  }
  return
}

// -----

// Left alone: a reduction not along the inputs' last dimension (a column
// sum), a strided row, two reduction loops, a body with linalg.index, a dot
// product (two inputs along the reduction: a contraction, summed in order),
// a count of i1 (vectors of i1 are packed bits, memrefs of i1 bytes).

// CHECK-LABEL: func.func @left_alone
// CHECK-COUNT-6: linalg.generic
// CHECK-NOT: vector.
func.func @left_alone(%x: memref<8x32xf32>, %y: memref<8x32xf32>, %mask: memref<8x32xi1>, %s: memref<8x16xf32, strided<[32, 2]>>, %cols: memref<32xf32>, %rows: memref<8xf32>, %all: memref<f32>) {
  linalg.generic {indexing_maps = [affine_map<(j, i) -> (i, j)>, affine_map<(j, i) -> (j)>], iterator_types = ["parallel", "reduction"]} ins(%x : memref<8x32xf32>) outs(%cols : memref<32xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %r = arith.addf %in, %acc : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]} ins(%s : memref<8x16xf32, strided<[32, 2]>>) outs(%rows : memref<8xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %r = arith.addf %in, %acc : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> ()>], iterator_types = ["reduction", "reduction"]} ins(%x : memref<8x32xf32>) outs(%all : memref<f32>) {
  ^bb0(%in: f32, %acc: f32):
    %r = arith.addf %in, %acc : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]} ins(%x : memref<8x32xf32>) outs(%rows : memref<8xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %j = linalg.index 1 : index
    %ji = arith.index_cast %j : index to i32
    %jf = arith.sitofp %ji : i32 to f32
    %p = arith.mulf %in, %jf : f32
    %r = arith.addf %p, %acc : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]} ins(%mask : memref<8x32xi1>) outs(%rows : memref<8xf32>) {
  ^bb0(%m: i1, %acc: f32):
    %f = arith.uitofp %m : i1 to f32
    %r = arith.addf %f, %acc : f32
    linalg.yield %r : f32
  }
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]} ins(%x, %y : memref<8x32xf32>, memref<8x32xf32>) outs(%rows : memref<8xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %r = arith.addf %p, %acc : f32
    linalg.yield %r : f32
  }
  return
}

// Through quant-run (ONNX ReduceSum / ReduceMean / ReduceMax / ReduceMin /
// ReduceProd / ReduceSumSquare over the last axis at lengths with and
// without tails, RMSNorm, LayerNormalization, LogSoftmax) against float64
// numpy, bit-identical at 1 and 2 threads:
// NUMERICS-NOT: FAIL
// NUMERICS: ok reducesum_7x300
// NUMERICS: ok reducemean_3x5x64
// NUMERICS: ok reducemax_5x37
// NUMERICS: ok reducemin_5x37
// NUMERICS: ok reduceprod_4x9
// NUMERICS: ok reducesumsquare_6x129
// NUMERICS: ok rmsnorm_128x256
// NUMERICS: ok layernorm_16x100
// NUMERICS: ok logsoftmax_9x77
// NUMERICS: ok long_row_sum_2x100000
// NUMERICS-NOT: FAIL
