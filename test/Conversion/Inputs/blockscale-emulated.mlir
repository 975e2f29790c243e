// The sm_120a block-scaled GEMMs of qc-lower-gpu-blockscale-emulated.test; in
// this order the kernels are qc_block_scale_gemm, _0 .. _4 (staged, M > 16),
// qc_mma_block_scale, _0, _1 (small M) and qc_block_scale_gemm_5 (the staged
// GEMM of a pair the small-M kernel lacks, at M = 1).
func.func @w4a8(%x: tensor<200x512xf32>, %w: !qc.packed<136x512, mxfp4>) -> tensor<200x136xf32> {
  %y = qc.matmul %x, %w act <mxfp8_e4m3> : tensor<200x512xf32>, !qc.packed<136x512, mxfp4> -> tensor<200x136xf32>
  return %y : tensor<200x136xf32>
}
func.func @mxfp6(%x: tensor<130x256xf32>, %w: !qc.packed<72x256, mxfp6_e2m3>) -> tensor<130x72xf32> {
  %y = qc.matmul %x, %w act <mxfp6_e3m2> : tensor<130x256xf32>, !qc.packed<72x256, mxfp6_e2m3> -> tensor<130x72xf32>
  return %y : tensor<130x72xf32>
}
func.func @a4w6(%x: tensor<64x256xf32>, %w: !qc.packed<72x256, mxfp6_e3m2>) -> tensor<64x72xf32> {
  %y = qc.matmul %x, %w act <mxfp4> : tensor<64x256xf32>, !qc.packed<72x256, mxfp6_e3m2> -> tensor<64x72xf32>
  return %y : tensor<64x72xf32>
}
func.func @mxfp8(%x: tensor<64x256xf32>, %w: !qc.packed<72x256, mxfp8_e4m3>) -> tensor<64x72xf32> {
  %y = qc.matmul %x, %w act <mxfp8_e5m2> : tensor<64x256xf32>, !qc.packed<72x256, mxfp8_e4m3> -> tensor<64x72xf32>
  return %y : tensor<64x72xf32>
}
func.func @mxfp4(%x: tensor<64x1024xf32>, %w: !qc.packed<72x1024, mxfp4>) -> tensor<64x72xf32> {
  %y = qc.matmul %x, %w act <mxfp4> : tensor<64x1024xf32>, !qc.packed<72x1024, mxfp4> -> tensor<64x72xf32>
  return %y : tensor<64x72xf32>
}
func.func @nvfp4(%x: tensor<136x256xf32>, %w: !qc.packed<72x256, nvfp4>) -> tensor<136x72xf16> {
  %y = qc.matmul %x, %w act <nvfp4> : tensor<136x256xf32>, !qc.packed<72x256, nvfp4> -> tensor<136x72xf16>
  return %y : tensor<136x72xf16>
}
func.func @mxfp4_decode(%x: tensor<5x256xf32>, %w: !qc.packed<72x256, mxfp4>) -> tensor<5x72xf32> {
  %y = qc.matmul %x, %w act <mxfp4> : tensor<5x256xf32>, !qc.packed<72x256, mxfp4> -> tensor<5x72xf32>
  return %y : tensor<5x72xf32>
}
func.func @nvfp4_decode(%x: tensor<16x256xf32>, %w: !qc.packed<72x256, nvfp4>) -> tensor<16x72xf32> {
  %y = qc.matmul %x, %w act <nvfp4> : tensor<16x256xf32>, !qc.packed<72x256, nvfp4> -> tensor<16x72xf32>
  return %y : tensor<16x72xf32>
}
func.func @mxfp8_decode(%x: tensor<3x256xf32>, %w: !qc.packed<72x256, mxfp8_e5m2>) -> tensor<3x72xf32> {
  %y = qc.matmul %x, %w act <mxfp8_e4m3> : tensor<3x256xf32>, !qc.packed<72x256, mxfp8_e5m2> -> tensor<3x72xf32>
  return %y : tensor<3x72xf32>
}
func.func @mxfp6_decode(%x: tensor<1x256xf32>, %w: !qc.packed<72x256, mxfp6_e3m2>) -> tensor<1x72xf32> {
  %y = qc.matmul %x, %w act <mxfp8_e4m3> : tensor<1x256xf32>, !qc.packed<72x256, mxfp6_e3m2> -> tensor<1x72xf32>
  return %y : tensor<1x72xf32>
}
