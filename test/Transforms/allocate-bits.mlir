// RUN: rm -rf %t && mkdir -p %t
// RUN: quant-tensor gen --shape 64x32 --seed 1 %t/x.npy
// RUN: %python -c "import numpy as np; np.save('%t/big.npy', 10 * np.load('%t/x.npy'))"
// RUN: %python %lit_tools/write_stats.py %t/stats a=%t/x.npy b=%t/x.npy c=%t/big.npy
// RUN: quant-opt %s --qc-allocate-bits="stats=%t/stats budget=5.5 candidates=int8;mxfp4;mxfp6_e2m3 frontier=%t/frontier.json" 2>%t/remarks | FileCheck %s
// RUN: FileCheck %s --check-prefix=REMARK < %t/remarks
// RUN: FileCheck %s --check-prefix=FRONTIER < %t/frontier.json
// RUN: quant-opt %s --qc-allocate-bits="stats=%t/stats budget=9bits candidates=int8,mxfp4,mxfp6_e2m3" 2>/dev/null | FileCheck %s --check-prefix=ALL8
// RUN: quant-opt %s --qc-allocate-bits="stats=%t/stats budget=236B candidates=int8,mxfp4,mxfp6_e2m3 gptq=true" 2>/dev/null | FileCheck %s --check-prefix=BYTES
// RUN: %python -c "import json; k = [{'k': 32, 'n': 4, 'gemv_GBs': 0.02, 'gemm_GOPs': 0.25}]; json.dump({'threads': 1, 'dram_GBs': 10, 'cache_GBs': 20, 'cache_bytes': 1e6, 'float_GFLOPs': 1, 'elementwise_GBs': 1, 'reduction_GBs': 1, 'transpose_GBs': 1, 'kernels': {'int8/a16': k, 'mxfp4/a16': k, 'mxfp6_e2m3/a16': k}}, open('%t/profile.json', 'w'))"
// RUN: quant-opt %s --qc-allocate-bits="stats=%t/stats budget=12us candidates=int8,mxfp4,mxfp6_e2m3 profile=%t/profile.json tokens=1" 2>&1 | FileCheck %s --check-prefix=LATENCY
// RUN: not quant-opt %s --qc-allocate-bits="stats=%t/stats budget=3 candidates=int8,mxfp4" 2>&1 | FileCheck %s --check-prefix=SMALL
// RUN: not quant-opt %s --qc-allocate-bits="stats=%t/stats budget=5parsecs" 2>&1 | FileCheck %s --check-prefix=UNIT
// RUN: not quant-opt %s --qc-allocate-bits="stats=%t/stats budget=5 candidates=mxfp5" 2>&1 | FileCheck %s --check-prefix=CANDIDATE

// Three layers of [K, N] = [32, 4]. Per layer: int8 144 bytes (9 bits per
// weight with the f32 row scales), mxfp6_e2m3 100 (6.25), mxfp4 68 (4.25).
// 5.5 bits per weight is 264 bytes for the 384 weights: every layer in
// mxfp4 (204 bytes) leaves room to raise one layer to mxfp6 (236), not two
// (268) nor one to int8 (280). The layer whose input is 10x larger (c) has
// 100x the output error, so it gets the 6 bits.
// CHECK-LABEL: func @three_layers
// CHECK: qc.fake_quant %{{.*}} as <mxfp4, axis = 0>
// CHECK: linalg.matmul {qc.bits = 4.250000e+00 : f64, qc.weight_format = "mxfp4"}
// CHECK: qc.fake_quant %{{.*}} as <mxfp4, axis = 0>
// CHECK: linalg.matmul {qc.bits = 4.250000e+00 : f64, qc.weight_format = "mxfp4"}
// CHECK: qc.fake_quant %{{.*}} as <mxfp6_e2m3, axis = 0>
// CHECK: linalg.matmul {qc.bits = 6.250000e+00 : f64, qc.weight_format = "mxfp6_e2m3"}
// REMARK: remark: qc-allocate-bits: 3 weight(s), budget 5.5: 4.917 bits/weight (236 bytes), predicted layer output SQNR {{[0-9.]+}} dB; 2 mxfp4, 1 mxfp6_e2m3; best uniform within budget: mxfp4 at {{[0-9.]+}} dB
// FRONTIER: "budget": "5.5",
// FRONTIER: "chosen": {
// FRONTIER-NEXT: "cost": 236,
// FRONTIER: "frontier": [
// FRONTIER: "bits_per_weight": 4.25,
// FRONTIER: "bits_per_weight": 9,
// FRONTIER: "layers": [
// FRONTIER: "chosen": "mxfp4",
// FRONTIER: "name": "a",
// FRONTIER: "chosen": "mxfp6_e2m3",
// FRONTIER: "name": "c",
// ALL8-COUNT-3: qc.weight_format = "int8"
// BYTES: qc.weight_format = "mxfp4"
// BYTES: qc.weight_format = "mxfp4"
// BYTES: qc.weight_format = "mxfp6_e2m3"
// A latency budget, with a profile where every kernel reads weights at
// 0.02 GB/s and multiplies at 0.25 GOP/s, and one token (tokens=1), so
// every layer is memory bound (68 bytes: 3.4 us in mxfp4, 100: 5 us in
// mxfp6, 144: 7.2 us in int8; 2·N·K = 256 ops take 1.024 us). 12 us fit
// three mxfp4 layers (10.2 us) with one of them in mxfp6 (11.8 us).
// LATENCY: remark: qc-allocate-bits: 3 weight(s), budget 12us: 4.917 bits/weight (236 bytes, predicted latency 11.8 us = matmuls 11.8 + float code 0.0, profile {{.*}}profile.json), predicted layer output SQNR {{.*}}; 2 mxfp4, 1 mxfp6_e2m3
// LATENCY: qc.weight_format = "mxfp4"
// LATENCY: qc.weight_format = "mxfp4"
// LATENCY: qc.weight_format = "mxfp6_e2m3"
// SMALL: qc-allocate-bits: budget 3: the smallest choice takes 4.250 bits/weight (0 weight(s) keep their formats; the most bits at its smallest: 'a', 4.25 bits/weight)
// UNIT: qc-allocate-bits: budget '5parsecs': unknown unit 'parsecs'
// CANDIDATE: qc-allocate-bits: candidate 'mxfp5': unknown format 'mxfp5'
func.func @three_layers(%x: tensor<64x32xf32>) -> (tensor<64x4xf32>, tensor<64x4xf32>, tensor<64x4xf32>) {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<64x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<64x4xf32>) -> tensor<64x4xf32>
  %wa = arith.constant dense<[[-0.40, -0.66, -0.12, 0.21],
      [0.57, 0.05, -0.28, -0.39],
      [0.37, 0.82, 0.14, -0.62],
      [-0.48, 0.80, 0.10, -0.87],
      [-0.04, -0.58, -0.31, -0.24],
      [-0.36, 0.28, -0.03, -0.29],
      [0.20, 0.41, -0.82, -0.13],
      [-0.49, -0.09, -0.64, 0.01],
      [-0.02, -0.15, -0.52, -0.20],
      [-0.55, -0.68, 0.11, -0.55],
      [0.59, 0.36, -1.00, 0.14],
      [-0.55, 0.02, 0.02, -0.99],
      [-0.12, -0.13, 0.48, -0.59],
      [0.37, -0.55, -0.17, -0.42],
      [0.72, 0.28, 1.22, 0.32],
      [0.42, 0.42, -0.30, -0.04],
      [0.68, -0.20, 0.09, -0.01],
      [0.30, -0.18, -0.08, 0.12],
      [0.05, -0.43, 0.45, -0.65],
      [-0.60, -0.64, 0.48, -0.18],
      [-0.49, -0.57, 0.21, -0.53],
      [-0.64, 0.31, -0.60, -0.16],
      [-0.00, -0.22, -0.03, 0.67],
      [-0.26, -0.63, -0.92, -0.10],
      [-0.18, 0.13, -0.23, -0.24],
      [-0.36, -0.26, 0.08, -0.19],
      [0.05, 0.95, 0.24, -0.79],
      [0.87, 0.17, -0.47, 0.45],
      [0.01, -0.31, -0.32, -0.50],
      [0.02, 0.53, -0.16, 0.21],
      [0.94, -0.61, 0.13, -0.15],
      [-0.53, -0.51, -0.01, 0.22]]> : tensor<32x4xf32>
  %qa = qc.fake_quant %wa as <int8, axis = 0> : tensor<32x4xf32>
  %ya = linalg.matmul ins(%x, %qa : tensor<64x32xf32>, tensor<32x4xf32>)
                      outs(%init : tensor<64x4xf32>) -> tensor<64x4xf32> loc("a")
  %wb = arith.constant dense<[[-0.27, 0.03, 0.36, 0.15],
      [0.43, 0.23, 0.24, 0.91],
      [0.31, 0.06, 0.35, -0.46],
      [-0.17, 0.40, 0.32, 0.77],
      [0.01, -0.73, 0.97, 0.55],
      [-0.53, 0.69, 3.00, -0.91],
      [-0.21, -0.25, 0.80, -0.40],
      [-0.13, -0.14, -0.19, -0.46],
      [0.11, 0.54, 0.31, -0.46],
      [-0.57, 0.06, -0.35, -0.32],
      [-0.84, 0.98, 0.46, -0.49],
      [0.45, 0.67, -1.19, -0.27],
      [-0.19, 0.32, -0.06, -0.12],
      [-0.03, 0.93, 1.08, -0.26],
      [-0.46, 1.35, -0.49, -0.29],
      [0.02, 0.24, 0.51, 0.20],
      [-0.44, 0.25, 0.12, 0.94],
      [-0.01, -0.67, -0.52, 0.73],
      [-0.27, -1.05, -0.29, 0.00],
      [0.59, -0.51, 0.33, 0.40],
      [-0.35, -0.09, 0.88, 0.86],
      [0.43, 0.17, 0.57, -0.07],
      [-0.05, -0.43, 0.00, -0.04],
      [1.39, -0.10, 0.64, 0.66],
      [-0.09, 0.58, -1.09, 0.05],
      [0.43, -1.20, -0.58, 0.53],
      [-0.13, -0.55, -0.19, -0.27],
      [0.36, 0.23, -0.14, -0.33],
      [-0.03, 0.66, 0.17, 0.32],
      [-0.08, -0.65, -0.36, 0.33],
      [0.05, -0.45, -0.81, 0.06],
      [-0.17, -0.18, -0.16, 0.14]]> : tensor<32x4xf32>
  %qb = qc.fake_quant %wb as <int8, axis = 0> : tensor<32x4xf32>
  %yb = linalg.matmul ins(%x, %qb : tensor<64x32xf32>, tensor<32x4xf32>)
                      outs(%init : tensor<64x4xf32>) -> tensor<64x4xf32> loc("b")
  %wc = arith.constant dense<[[0.15, 0.48, 0.46, 0.67],
      [0.40, -0.17, -0.03, 0.25],
      [-0.16, 0.27, 0.58, -0.40],
      [-0.89, 0.60, 0.01, 0.35],
      [-0.67, 0.87, 0.37, -0.06],
      [-0.18, 0.06, -0.08, -0.14],
      [-0.56, 0.63, -0.02, 0.04],
      [0.05, -1.18, 0.26, -0.16],
      [-0.14, 0.03, -0.49, 0.42],
      [-0.35, -0.45, -0.43, 0.08],
      [0.37, -0.30, -0.76, 0.53],
      [-0.53, 0.60, -0.03, -0.35],
      [-0.32, 0.23, 0.44, -0.10],
      [0.47, 1.04, -0.10, -0.57],
      [-0.53, -0.70, -0.32, -0.36],
      [-0.66, 0.27, -1.31, -0.66],
      [1.01, 0.52, 0.26, 0.23],
      [0.89, 0.27, 0.04, -0.62],
      [-0.04, -0.37, -0.35, -0.36],
      [-0.02, -0.16, 0.44, -0.66],
      [-0.08, 0.93, 0.02, 0.60],
      [0.57, 0.66, 0.37, -0.69],
      [-0.13, -0.19, -0.77, -0.23],
      [-0.63, -0.83, 0.11, -0.02],
      [-0.34, -0.48, -0.27, -0.20],
      [-0.20, -0.03, -0.22, 0.19],
      [0.26, 0.18, -0.33, -0.31],
      [0.22, -0.10, -0.02, -1.25],
      [-1.35, 0.17, 0.16, 0.70],
      [0.36, 0.11, 0.01, -0.71],
      [0.44, -0.30, 0.25, 0.10],
      [0.14, 0.45, -0.24, -0.19]]> : tensor<32x4xf32>
  %qc = qc.fake_quant %wc as <int8, axis = 0> : tensor<32x4xf32>
  %yc = linalg.matmul ins(%x, %qc : tensor<64x32xf32>, tensor<32x4xf32>)
                      outs(%init : tensor<64x4xf32>) -> tensor<64x4xf32> loc("c")
  return %ya, %yb, %yc : tensor<64x4xf32>, tensor<64x4xf32>, tensor<64x4xf32>
}
