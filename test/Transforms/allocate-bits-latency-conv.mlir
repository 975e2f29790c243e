// RUN: rm -rf %t && mkdir -p %t
// RUN: quant-tensor gen --shape 1x4x6x6 --seed 5 %t/conv.npy
// RUN: %python %lit_tools/write_stats.py %t/stats conv1=%t/conv.npy --patches conv1=3x3
// RUN: %python -c "import json; json.dump({'threads': 1, 'dram_GBs': 10, 'cache_GBs': 20, 'cache_bytes': 1e6, 'float_GFLOPs': 1, 'elementwise_GBs': 1, 'reduction_GBs': 0.5, 'transpose_GBs': 0.25, 'kernels': {'int8/a16': [{'k': 36, 'n': 2, 'gemv_GBs': 1000, 'gemm_GOPs': 0.2304}]}}, open('%t/profile.json', 'w'))"
// RUN: quant-opt %s --qc-allocate-bits="stats=%t/stats budget=20us candidates=int8 profile=%t/profile.json" 2>&1 | FileCheck %s
// RUN: not quant-opt %s --qc-allocate-bits="stats=%t/stats budget=5us candidates=int8 profile=%t/profile.json" 2>&1 | FileCheck %s --check-prefix=TIGHT

// A 3x3 convolution's M is its output positions, not the activation's
// elements over the weight's columns: x [1, 4, 6, 6] through a 3x3 kernel
// (stride 1, no padding) gives 4 x 4 = 16 positions for each of the 2 output
// channels, so the layer is 2·16·2·36 = 2304 OP, at 0.2304 GOP/s 10 us
// (the weight bytes at 1000 GB/s take nanoseconds). Counting 144 / 36 = 4
// rows instead would predict 2.5 us.
// CHECK: remark: qc-allocate-bits: 1 weight(s), budget 20us: {{.*}}predicted latency 10.0 us = matmuls 10.0 + float code 0.0
// CHECK: qc.weight_format = "int8"
// TIGHT: qc-allocate-bits: budget 5us: the fastest choice is predicted to take 10.0 us (matmuls 10.0 + float code 0.0
#conv_x = affine_map<(n, g, m, oh, ow, c, kh, kw) -> (n, g, c, oh + kh, ow + kw)>
#conv_w = affine_map<(n, g, m, oh, ow, c, kh, kw) -> (g, m, c, kh, kw)>
#conv_y = affine_map<(n, g, m, oh, ow, c, kh, kw) -> (n, g, m, oh, ow)>
func.func @conv(%x: tensor<1x1x4x6x6xf32>) -> tensor<1x1x2x4x4xf32> {
  %w = arith.constant dense<0.5> : tensor<2x4x3x3xf32>
  %wq = qc.fake_quant %w as <int8, axis = 1> : tensor<2x4x3x3xf32>
  %wg = tensor.expand_shape %wq [[0, 1], [2], [3], [4]] output_shape [1, 2, 4, 3, 3] : tensor<2x4x3x3xf32> into tensor<1x2x4x3x3xf32>
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<1x1x2x4x4xf32>
  %init = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x1x2x4x4xf32>) -> tensor<1x1x2x4x4xf32>
  %y = linalg.generic {indexing_maps = [#conv_x, #conv_w, #conv_y],
      iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%x, %wg : tensor<1x1x4x6x6xf32>, tensor<1x2x4x3x3xf32>) outs(%init : tensor<1x1x2x4x4xf32>) {
  ^bb0(%a: f32, %b: f32, %acc: f32):
    %p = arith.mulf %a, %b : f32
    %s = arith.addf %acc, %p : f32
    linalg.yield %s : f32
  } -> tensor<1x1x2x4x4xf32> loc("conv1")
  return %y : tensor<1x1x2x4x4xf32>
}
