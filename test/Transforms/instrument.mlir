// RUN: not quant-opt %s --qc-instrument 2>&1 | FileCheck %s
// qc-instrument is declared (issue 4) but not implemented: it must fail
// loudly rather than return the module unchanged, which a calibration run
// would silently mistake for "no statistics".
// CHECK: error: qc-instrument is not implemented yet
func.func @f(%x: tensor<1x16xf32>) -> tensor<1x16xf32> {
  %0 = qc.fake_quant %x as <int8> : tensor<1x16xf32>
  return %0 : tensor<1x16xf32>
}
