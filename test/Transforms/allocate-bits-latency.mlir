// RUN: rm -rf %t && mkdir -p %t
// RUN: quant-tensor gen --shape 8x32 --seed 3 %t/x.npy
// RUN: %python %lit_tools/write_stats.py %t/stats a=%t/x.npy
// RUN: %python -c "import json; k = lambda v, g: [{'k': 32, 'n': 4, 'gemv_GBs': v, 'gemm_GOPs': g}, {'k': 4096, 'n': 4096, 'gemv_GBs': 100 * v, 'gemm_GOPs': 100 * g}]; json.dump({'threads': 1, 'dram_GBs': 10, 'cache_GBs': 20, 'cache_bytes': 1e6, 'float_GFLOPs': 1, 'elementwise_GBs': 1, 'reduction_GBs': 0.5, 'transpose_GBs': 0.25, 'kernels': {'mxfp4/a16': k(0.068, 0.256), 'int8/a16': k(0.144, 0.128)}}, open('%t/profile.json', 'w'))"
// RUN: quant-opt %s --qc-allocate-bits="stats=%t/stats budget=40us candidates=int8,mxfp4 profile=%t/profile.json" 2>&1 | FileCheck %s --check-prefix=FAST
// RUN: quant-opt %s --qc-allocate-bits="stats=%t/stats budget=50us candidates=int8,mxfp4 profile=%t/profile.json" 2>&1 | FileCheck %s --check-prefix=ROOMY
// RUN: not quant-opt %s --qc-allocate-bits="stats=%t/stats budget=30us candidates=int8,mxfp4 profile=%t/profile.json" 2>&1 | FileCheck %s --check-prefix=TIGHT
// RUN: echo '{"threads": 1}' > %t/bad.json
// RUN: not quant-opt %s --qc-allocate-bits="stats=%t/stats budget=40us profile=%t/bad.json" 2>&1 | FileCheck %s --check-prefix=BADPROFILE
// RUN: not quant-opt %s --qc-allocate-bits="stats=%t/stats budget=40us profile=%t/missing.json" 2>&1 | FileCheck %s --check-prefix=MISSING

// The latency model on a block whose numbers are easy to follow, with a
// profile of round figures. The float code around the one quantized layer:
//   exp of x [8, 32] (kept: its result is also returned):
//     1024 + 1024 bytes at 1 GB/s                           =  2.048 us
//   the row sums of exp(x): 1024 + 32 bytes at 0.5 GB/s     =  2.112 us
//   transpose of k [4, 16, 8]: 2048 + 2048 bytes at 0.25 GB/s = 16.384 us
//   batch_matmul [4, 8, 16] x [4, 16, 8]: 2·4·8·8·16 = 8192 FLOP at 1 GFLOP/s
//                                                            =  8.192 us
//   total 28.736 us, whatever the layer's format.
// The layer, x [8, 32] x W [32, 4] (M = 8 rows from x's shape):
//   mxfp4: 68 bytes at 0.068 GB/s = 1 us; 2·8·4·32 = 2048 OP at 0.256 GOP/s
//          = 8 us -> 8 us (compute bound), model 36.736 us;
//   int8:  144 bytes at 0.144 GB/s = 1 us; 2048 OP at 0.128 GOP/s = 16 us
//          -> model 44.736 us.
// (Each kernel also has figures 100x faster measured on a 4096 x 4096
// weight; the layer takes those of the nearest size, 32 x 4.)
// 40 us fits only mxfp4; 50 us fits int8, whose error is smaller; 30 us
// fits neither.
// FAST: remark: qc-allocate-bits: 1 weight(s), budget 40us: 4.250 bits/weight (68 bytes, predicted latency 36.7 us = matmuls 8.0 + float code 28.7, profile {{.*}}profile.json)
// FAST: qc.weight_format = "mxfp4"
// ROOMY: remark: qc-allocate-bits: 1 weight(s), budget 50us: 9.000 bits/weight (144 bytes, predicted latency 44.7 us = matmuls 16.0 + float code 28.7, profile {{.*}}profile.json)
// ROOMY: qc.weight_format = "int8"
// TIGHT: qc-allocate-bits: budget 30us: the fastest choice is predicted to take 36.7 us (matmuls 8.0 + float code 28.7; profile {{.*}}profile.json)
// BADPROFILE: bad.json: 'dram_GBs' must be a positive number
// MISSING: missing.json: cannot read
func.func @block(%x: tensor<8x32xf32>, %k: tensor<4x16x8xf32>, %q: tensor<4x8x16xf32>)
    -> (tensor<8x4xf32>, tensor<8x32xf32>, tensor<8xf32>, tensor<4x8x8xf32>) {
  %zero = arith.constant 0.0 : f32
  %wf = arith.constant dense<0.25> : tensor<32x4xf32>
  %w = qc.fake_quant %wf as <int8, axis = 0> : tensor<32x4xf32>
  %empty = tensor.empty() : tensor<8x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<8x4xf32>) -> tensor<8x4xf32>
  %y = linalg.matmul ins(%x, %w : tensor<8x32xf32>, tensor<32x4xf32>) outs(%init : tensor<8x4xf32>) -> tensor<8x4xf32> loc("a")

  %e = math.exp %x : tensor<8x32xf32>
  %sums0 = tensor.empty() : tensor<8xf32>
  %sums1 = linalg.fill ins(%zero : f32) outs(%sums0 : tensor<8xf32>) -> tensor<8xf32>
  %sums = linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i)>], iterator_types = ["parallel", "reduction"]} ins(%e : tensor<8x32xf32>) outs(%sums1 : tensor<8xf32>) {
  ^bb0(%in: f32, %acc: f32):
    %s = arith.addf %in, %acc : f32
    linalg.yield %s : f32
  } -> tensor<8xf32>

  %kt0 = tensor.empty() : tensor<4x8x16xf32>
  %kt = linalg.transpose ins(%k : tensor<4x16x8xf32>) outs(%kt0 : tensor<4x8x16xf32>) permutation = [0, 2, 1]
  %s0 = tensor.empty() : tensor<4x8x8xf32>
  %s1 = linalg.fill ins(%zero : f32) outs(%s0 : tensor<4x8x8xf32>) -> tensor<4x8x8xf32>
  %scores = linalg.batch_matmul ins(%kt, %k : tensor<4x8x16xf32>, tensor<4x16x8xf32>) outs(%s1 : tensor<4x8x8xf32>) -> tensor<4x8x8xf32>
  return %y, %e, %sums, %scores : tensor<8x4xf32>, tensor<8x32xf32>, tensor<8xf32>, tensor<4x8x8xf32>
}
