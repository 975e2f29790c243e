// Kernels of qc-lower-gpu-mma-emulated.test (sm_80 mma.sync GEMM, sm_90a
// wgmma GEMM): M and N not multiples of the 128-row tiles, K of at least 8
// (mma.sync) / 4 (wgmma) steps, 8 where f32 x gets 4 wgmma ring slots, so
// that every cp.async ring wraps; 4-, 6- and 8-bit codes (the staged path)
// and 3-bit codes (the register path).
func.func @int4(%x: tensor<200x512xf32>, %w: !qc.packed<136x512, int4_g32>) -> tensor<200x136xf32> {
  %y = qc.matmul %x, %w : tensor<200x512xf32>, !qc.packed<136x512, int4_g32> -> tensor<200x136xf32>
  return %y : tensor<200x136xf32>
}
func.func @nvfp4(%x: tensor<130x256xf16>, %w: !qc.packed<72x256, nvfp4>) -> tensor<130x72xf32> {
  %y = qc.matmul %x, %w : tensor<130x256xf16>, !qc.packed<72x256, nvfp4> -> tensor<130x72xf32>
  return %y : tensor<130x72xf32>
}
func.func @mxfp6(%x: tensor<64x256xbf16>, %w: !qc.packed<72x256, mxfp6_e2m3>) -> tensor<64x72xf32> {
  %y = qc.matmul %x, %w : tensor<64x256xbf16>, !qc.packed<72x256, mxfp6_e2m3> -> tensor<64x72xf32>
  return %y : tensor<64x72xf32>
}
func.func @int8(%x: tensor<64x512xf32>, %w: !qc.packed<72x512, int8>) -> tensor<64x72xf32> {
  %y = qc.matmul %x, %w : tensor<64x512xf32>, !qc.packed<72x512, int8> -> tensor<64x72xf32>
  return %y : tensor<64x72xf32>
}
func.func @int3(%x: tensor<64x256xf32>, %w: !qc.packed<72x256, int3_g32>) -> tensor<64x72xf32> {
  %y = qc.matmul %x, %w : tensor<64x256xf32>, !qc.packed<72x256, int3_g32> -> tensor<64x72xf32>
  return %y : tensor<64x72xf32>
}
