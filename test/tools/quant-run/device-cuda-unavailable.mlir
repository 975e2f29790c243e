// --device cuda on a machine without the CUDA driver (simulated with
// QUANTC_LIBCUDA pointing at a missing library, so that the test is the same
// on GPU machines) fails with one line and exit code 1, before compiling.
// RUN: env QUANTC_LIBCUDA=%t.no-such-libcuda.so.1 not quant-run %s --entry f --device cuda --output-dir %t 2>&1 | FileCheck %s --check-prefix=NODRIVER --implicit-check-not={{.}}
// NODRIVER: quant-run: error: {{.*}}device-cuda-unavailable.mlir: no CUDA driver ({{.*}}no-such-libcuda.so.1 not found)

// An unknown device is an error too.
// RUN: not quant-run %s --entry f --device tpu --output-dir %t 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// UNKNOWN: quant-run: error: {{.*}}: unknown --device 'tpu' (cpu or cuda)

func.func @f(%x: tensor<1x64xf32>, %w: !qc.packed<32x64, mxfp4>) -> tensor<1x32xf32> {
  %y = qc.matmul %x, %w : tensor<1x64xf32>, !qc.packed<32x64, mxfp4> -> tensor<1x32xf32>
  return %y : tensor<1x32xf32>
}
