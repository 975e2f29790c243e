// RUN: quant-opt %s -split-input-file -verify-diagnostics
// Every verifier and parser error of the qc attributes, types and ops.

func.func @unknown_format(%x: tensor<4x64xf32>) {
  // expected-error @+1 {{unknown format 'mxfp3'}}
  %0 = qc.fake_quant %x as <mxfp3> : tensor<4x64xf32>
  return
}

// -----

func.func @unknown_key(%x: tensor<4x64xf32>) {
  // expected-error @+1 {{unknown format option 'colour'}}
  %0 = qc.fake_quant %x as <mxfp4, colour = red> : tensor<4x64xf32>
  return
}

// -----

func.func @bad_rounding(%x: tensor<4x64xf32>) {
  // expected-error @+1 {{scale_rounding}}
  %0 = qc.fake_quant %x as <mxfp4, scale_rounding = up> : tensor<4x64xf32>
  return
}

// -----

func.func @bad_clip(%x: tensor<4x64xf32>) {
  // expected-error @+1 {{clip}}
  %0 = qc.fake_quant %x as <int8, clip = 1.5> : tensor<4x64xf32>
  return
}

// -----

func.func @block_not_dividing(%x: tensor<4x48xf32>) {
  // expected-error @+1 {{'qc.fake_quant' op input of shape 4x48 does not fit format 'mxfp4': dimension 1 of size 48 is not divisible by the block size 32}}
  %0 = qc.fake_quant %x as <mxfp4> : tensor<4x48xf32>
  return
}

// -----

func.func @axis_out_of_range(%x: tensor<4x64xf32>) {
  // expected-error @+1 {{axis 2 is out of range}}
  %0 = qc.fake_quant %x as <int8, axis = 2> : tensor<4x64xf32>
  return
}

// -----

// expected-error @+1 {{does not fit format 'nvfp4'}}
func.func @packed_not_dividing(%p: !qc.packed<4x40, nvfp4>) {
  return
}

// -----

// expected-error @+1 {{unknown packed layout 'tiled' (known: canonical, x86_n16k8, x86_n16k8p, x86_n16k4, x86_n16k8_s32, x86_n16k4_d6, x86_n16k8_si, x86_n16k8_ob, x86_n16k8_s32_ob, x86_n16k8_si_ob, x86_n16k8_sid, x86_n16k8_sid_ob, nv_sf128x4)}}
func.func @packed_layout(%p: !qc.packed<4x64, nvfp4, layout = tiled>) {
  return
}

// -----

// expected-error @+1 {{layout 'x86_n16k8' holds 4-bit codes, the format has 8}}
func.func @packed_layout_bits(%p: !qc.packed<4x64, int8, layout = x86_n16k8>) {
  return
}

// -----

// expected-error @+1 {{layout 'x86_n16k4' holds weights [N, K] (rank 2), got rank 3}}
func.func @packed_layout_rank(%p: !qc.packed<2x4x64, mxfp8_e4m3, layout = x86_n16k4>) {
  return
}

// -----

func.func @packed_layout_size() {
  // 20x6 int8 in x86_n16k4: two 16-column tiles of 192 bytes.
  // expected-error @+1 {{'qc.constant' op value must be 384 bytes (tensor<384xi8>)}}
  %0 = qc.constant dense<0> : tensor<126xi8> : !qc.packed<20x6, int8, layout = x86_n16k4>
  return
}

// -----

func.func @quantize_shape(%x: tensor<4x64xf32>) {
  // expected-error @+1 {{'qc.quantize' op input shape 4x64 differs from the packed shape 8x64}}
  %0 = qc.quantize %x : tensor<4x64xf32> -> !qc.packed<8x64, mxfp4>
  return
}

// -----

func.func @quantize_int(%x: tensor<4x64xi32>) {
  // expected-error @+1 {{'qc.quantize' op operand #0 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values}}
  %0 = qc.quantize %x : tensor<4x64xi32> -> !qc.packed<4x64, mxfp4>
  return
}

// -----

func.func @dequantize_shape(%p: !qc.packed<4x64, mxfp4>) {
  // expected-error @+1 {{'qc.dequantize' op result shape 4x32 differs from the packed shape 4x64}}
  %0 = qc.dequantize %p : !qc.packed<4x64, mxfp4> -> tensor<4x32xf32>
  return
}

// -----

func.func @constant_size() {
  // expected-error @+1 {{'qc.constant' op value must be 8 bytes (tensor<8xi8>) for '!qc.packed<1x4, int8>'}}
  %0 = qc.constant dense<0> : tensor<5xi8> : !qc.packed<1x4, int8>
  return
}

// -----

func.func @matmul_k(%x: tensor<8x64xf32>, %w: !qc.packed<256x128, mxfp4>) {
  // expected-error @+1 {{'qc.matmul' op input's last dimension 64 differs from the weight's K = 128}}
  %0 = qc.matmul %x, %w : tensor<8x64xf32>, !qc.packed<256x128, mxfp4> -> tensor<8x256xf32>
  return
}

// -----

func.func @matmul_result(%x: tensor<8x128xf32>, %w: !qc.packed<256x128, mxfp4>) {
  // expected-error @+1 {{'qc.matmul' op result shape 8x128 should be 8x256}}
  %0 = qc.matmul %x, %w : tensor<8x128xf32>, !qc.packed<256x128, mxfp4> -> tensor<8x128xf32>
  return
}

// -----

func.func @matmul_weight_axis(%x: tensor<8x128xf32>, %w: !qc.packed<256x128, mxfp4_g32, axis = 0>) {
  // expected-error @+1 {{must be quantized along K (axis -1)}}
  %0 = qc.matmul %x, %w : tensor<8x128xf32>, !qc.packed<256x128, mxfp4_g32, axis = 0> -> tensor<8x256xf32>
  return
}

// -----

func.func @matmul_weight_rank(%x: tensor<8x128xf32>, %w: !qc.packed<2x256x128, mxfp4>) {
  // expected-error @+1 {{'qc.matmul' op weight must be [N, K], got 2x256x128}}
  %0 = qc.matmul %x, %w : tensor<8x128xf32>, !qc.packed<2x256x128, mxfp4> -> tensor<8x256xf32>
  return
}

// -----

func.func @matmul_act_block(%x: tensor<8x48xf32>, %w: !qc.packed<256x48, int8>) {
  // expected-error @+1 {{'qc.matmul' op input of shape 8x48 does not fit format 'mxint8'}}
  %0 = qc.matmul %x, %w act <mxint8> : tensor<8x48xf32>, !qc.packed<256x48, int8> -> tensor<8x256xf32>
  return
}

// -----

func.func @hadamard_axis(%x: tensor<8x64xf32>) {
  // expected-error @+1 {{'qc.hadamard' op axis 2 is out of range for rank 2}}
  %0 = qc.hadamard %x along 2 : tensor<8x64xf32>
  return
}

// -----

func.func @hadamard_size(%x: tensor<8x44xf32>) {
  // expected-error @+1 {{'qc.hadamard' op dimension 1 has size 44, which is not 2^k * m for a known Hadamard order m}}
  %0 = qc.hadamard %x along 1 : tensor<8x44xf32>
  return
}

// -----

func.func @hadamard_dynamic(%x: tensor<8x?xf32>) {
  // expected-error @+1 {{'qc.hadamard' op rotated dimension 1 must be static}}
  %0 = qc.hadamard %x along 1 : tensor<8x?xf32>
  return
}

// -----

func.func @observe_stat(%x: tensor<8x64xf32>) {
  // expected-error @+1 {{'qc.observe' op unknown statistic 'median'}}
  qc.observe "x", %x {stats = ["median"]} : tensor<8x64xf32>
  return
}

// -----

func.func @observe_patches_partial(%x: tensor<1x4x5x5xf32>) {
  // expected-error @+1 {{'qc.observe' op kernel, strides and dilations go together}}
  qc.observe "x", %x {axis = 1 : i64, kernel = array<i64: 1, 1, 2, 2>} : tensor<1x4x5x5xf32>
  return
}

// -----

func.func @observe_patches_rank(%x: tensor<1x4x5x5xf32>) {
  // expected-error @+1 {{'qc.observe' op kernel has 3 entries, the tensor 4 dimensions}}
  qc.observe "x", %x {axis = 1 : i64, kernel = array<i64: 1, 2, 2>, strides = array<i64: 1, 1, 1>, dilations = array<i64: 1, 1, 1>} : tensor<1x4x5x5xf32>
  return
}

// -----

func.func @observe_patches_channel_kernel(%x: tensor<1x4x5x5xf32>) {
  // expected-error @+1 {{'qc.observe' op the channel and group axes need kernel 1 and stride 1}}
  qc.observe "x", %x {axis = 1 : i64, kernel = array<i64: 1, 2, 2, 2>, strides = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1, 1>} : tensor<1x4x5x5xf32>
  return
}

// -----

func.func @observe_patches_too_small(%x: tensor<1x4x5x5xf32>) {
  // expected-error @+1 {{'qc.observe' op dimension 3 of size 5 is smaller than its dilated kernel}}
  qc.observe "x", %x {axis = 1 : i64, kernel = array<i64: 1, 1, 2, 3>, strides = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1, 3>} : tensor<1x4x5x5xf32>
  return
}

// -----

func.func @observe_group_axis_alone(%x: tensor<1x4x5x5xf32>) {
  // expected-error @+1 {{'qc.observe' op group_axis needs kernel, strides and dilations}}
  qc.observe "x", %x {axis = 1 : i64, group_axis = 0 : i64} : tensor<1x4x5x5xf32>
  return
}

// -----

func.func @observe_name(%x: tensor<8x64xf32>) {
  // expected-error @+1 {{'qc.observe' op needs a non-empty name}}
  qc.observe "", %x : tensor<8x64xf32>
  return
}

// -----

func.func @observe_axis(%x: tensor<8x64xf32>) {
  // expected-error @+1 {{'qc.observe' op axis 2 is out of range for 'tensor<8x64xf32>'}}
  qc.observe "x", %x {axis = 2 : i64} : tensor<8x64xf32>
  return
}
