//===- QcBase.td - qc dialect definition -------------------*- tablegen -*-===//
#ifndef QC_BASE_TD
#define QC_BASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def Qc_Dialect : Dialect {
  let name = "qc";
  let cppNamespace = "::mlir::qc";
  let summary = "Block-scaled low-bit quantization";
  let description = [{
    The `qc` dialect describes quantized tensors and the operations on them:
    one `#qc.format` attribute covers every format quantc knows (MX, NV, INT,
    minifloats ExMy), `!qc.packed` is a quantized tensor as stored (codes,
    scales, layout), and the ops quantize, dequantize, simulate quantization,
    multiply by packed weights, rotate by Hadamard transforms and observe
    tensors for calibration. Constant folding goes through quantc's format
    library, so folded constants are bit-identical to the runtime kernels.
  }];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  let hasConstantMaterializer = 1;
  let extraClassDeclaration = [{
    void registerAttributesAndTypes();
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
}

#endif // QC_BASE_TD
