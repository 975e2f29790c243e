// x[4, 256] times the identity (int8 per tensor with amax 127: codes 0/1,
// scale 1) with each act format: y is exactly the activations as the GPU
// quantizes and decodes them (see qc-lower-gpu-act-host.test).
func.func @mxfp4(%x: tensor<4x256xf32>, %w: !qc.packed<256x256, int8, granularity = tensor, amax = 127.0>) -> tensor<4x256xf32> {
  %y = qc.matmul %x, %w act <mxfp4> : tensor<4x256xf32>, !qc.packed<256x256, int8, granularity = tensor, amax = 127.0> -> tensor<4x256xf32>
  return %y : tensor<4x256xf32>
}
func.func @mxfp6_e2m3(%x: tensor<4x256xf32>, %w: !qc.packed<256x256, int8, granularity = tensor, amax = 127.0>) -> tensor<4x256xf32> {
  %y = qc.matmul %x, %w act <mxfp6_e2m3> : tensor<4x256xf32>, !qc.packed<256x256, int8, granularity = tensor, amax = 127.0> -> tensor<4x256xf32>
  return %y : tensor<4x256xf32>
}
func.func @mxfp6_e3m2(%x: tensor<4x256xf32>, %w: !qc.packed<256x256, int8, granularity = tensor, amax = 127.0>) -> tensor<4x256xf32> {
  %y = qc.matmul %x, %w act <mxfp6_e3m2> : tensor<4x256xf32>, !qc.packed<256x256, int8, granularity = tensor, amax = 127.0> -> tensor<4x256xf32>
  return %y : tensor<4x256xf32>
}
func.func @mxfp8_e4m3(%x: tensor<4x256xf32>, %w: !qc.packed<256x256, int8, granularity = tensor, amax = 127.0>) -> tensor<4x256xf32> {
  %y = qc.matmul %x, %w act <mxfp8_e4m3> : tensor<4x256xf32>, !qc.packed<256x256, int8, granularity = tensor, amax = 127.0> -> tensor<4x256xf32>
  return %y : tensor<4x256xf32>
}
func.func @mxfp8_e5m2(%x: tensor<4x256xf32>, %w: !qc.packed<256x256, int8, granularity = tensor, amax = 127.0>) -> tensor<4x256xf32> {
  %y = qc.matmul %x, %w act <mxfp8_e5m2> : tensor<4x256xf32>, !qc.packed<256x256, int8, granularity = tensor, amax = 127.0> -> tensor<4x256xf32>
  return %y : tensor<4x256xf32>
}
func.func @mxint8(%x: tensor<4x256xf32>, %w: !qc.packed<256x256, int8, granularity = tensor, amax = 127.0>) -> tensor<4x256xf32> {
  %y = qc.matmul %x, %w act <mxint8> : tensor<4x256xf32>, !qc.packed<256x256, int8, granularity = tensor, amax = 127.0> -> tensor<4x256xf32>
  return %y : tensor<4x256xf32>
}
func.func @int8(%x: tensor<4x256xf32>, %w: !qc.packed<256x256, int8, granularity = tensor, amax = 127.0>) -> tensor<4x256xf32> {
  %y = qc.matmul %x, %w act <int8> : tensor<4x256xf32>, !qc.packed<256x256, int8, granularity = tensor, amax = 127.0> -> tensor<4x256xf32>
  return %y : tensor<4x256xf32>
}
func.func @uint8(%x: tensor<4x256xf32>, %w: !qc.packed<256x256, int8, granularity = tensor, amax = 127.0>) -> tensor<4x256xf32> {
  %y = qc.matmul %x, %w act <uint8> : tensor<4x256xf32>, !qc.packed<256x256, int8, granularity = tensor, amax = 127.0> -> tensor<4x256xf32>
  return %y : tensor<4x256xf32>
}
func.func @nvfp4_static(%x: tensor<4x256xf32>, %w: !qc.packed<256x256, int8, granularity = tensor, amax = 127.0>) -> tensor<4x256xf32> {
  %y = qc.matmul %x, %w act <nvfp4, amax = 9.5> : tensor<4x256xf32>, !qc.packed<256x256, int8, granularity = tensor, amax = 127.0> -> tensor<4x256xf32>
  return %y : tensor<4x256xf32>
}
func.func @int4_g32(%x: tensor<4x256xf32>, %w: !qc.packed<256x256, int8, granularity = tensor, amax = 127.0>) -> tensor<4x256xf32> {
  %y = qc.matmul %x, %w act <int4_g32> : tensor<4x256xf32>, !qc.packed<256x256, int8, granularity = tensor, amax = 127.0> -> tensor<4x256xf32>
  return %y : tensor<4x256xf32>
}
func.func @nvfp4(%x: tensor<4x256xf32>, %w: !qc.packed<256x256, int8, granularity = tensor, amax = 127.0>) -> tensor<4x256xf32> {
  %y = qc.matmul %x, %w act <nvfp4> : tensor<4x256xf32>, !qc.packed<256x256, int8, granularity = tensor, amax = 127.0> -> tensor<4x256xf32>
  return %y : tensor<4x256xf32>
}
func.func @int8_per_tensor(%x: tensor<4x256xf32>, %w: !qc.packed<256x256, int8, granularity = tensor, amax = 127.0>) -> tensor<4x256xf32> {
  %y = qc.matmul %x, %w act <int8, granularity = tensor> : tensor<4x256xf32>, !qc.packed<256x256, int8, granularity = tensor, amax = 127.0> -> tensor<4x256xf32>
  return %y : tensor<4x256xf32>
}
func.func @uint8_per_tensor(%x: tensor<4x256xf32>, %w: !qc.packed<256x256, int8, granularity = tensor, amax = 127.0>) -> tensor<4x256xf32> {
  %y = qc.matmul %x, %w act <uint8, granularity = tensor> : tensor<4x256xf32>, !qc.packed<256x256, int8, granularity = tensor, amax = 127.0> -> tensor<4x256xf32>
  return %y : tensor<4x256xf32>
}
// 10240 elements: qc_act_stats runs 3 CTAs.
func.func @nvfp4_tall(%x: tensor<40x256xf32>, %w: !qc.packed<256x256, int8, granularity = tensor, amax = 127.0>) -> tensor<40x256xf32> {
  %y = qc.matmul %x, %w act <nvfp4> : tensor<40x256xf32>, !qc.packed<256x256, int8, granularity = tensor, amax = 127.0> -> tensor<40x256xf32>
  return %y : tensor<40x256xf32>
}
// Rows of 1096 = 137 chunks of 8: one CTA per row, its 128 threads taking
// chunks t and t + 128 (9 of them two), the statistics meeting in 7 steps.
func.func @e4m3_rows_wide(%x: tensor<3x1096xf32>, %w: !qc.packed<1096x1096, int8, granularity = tensor, amax = 127.0>) -> tensor<3x1096xf32> {
  %y = qc.matmul %x, %w act <e4m3> : tensor<3x1096xf32>, !qc.packed<1096x1096, int8, granularity = tensor, amax = 127.0> -> tensor<3x1096xf32>
  return %y : tensor<3x1096xf32>
}
func.func @int8_rows_wide(%x: tensor<3x1096xf32>, %w: !qc.packed<1096x1096, int8, granularity = tensor, amax = 127.0>) -> tensor<3x1096xf32> {
  %y = qc.matmul %x, %w act <int8> : tensor<3x1096xf32>, !qc.packed<1096x1096, int8, granularity = tensor, amax = 127.0> -> tensor<3x1096xf32>
  return %y : tensor<3x1096xf32>
}
