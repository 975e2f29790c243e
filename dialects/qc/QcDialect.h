//===- QcDialect.h - the qc dialect ------------------------------*- C++ -*-===//
#ifndef QC_QCDIALECT_H
#define QC_QCDIALECT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "quantc/Formats/Format.h"
#include "llvm/ADT/Hashing.h"

namespace quantc {
/// Lets #qc.format store a quantc::Format as its uniqued parameter.
llvm::hash_code hash_value(const Format &format);
} // namespace quantc

#include "qc/QcDialect.h.inc"

#define GET_ATTRDEF_CLASSES
#include "qc/QcAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "qc/QcTypes.h.inc"

#define GET_OP_CLASSES
#include "qc/QcOps.h.inc"

namespace mlir::qc {
/// Normalizes a possibly negative axis against `rank`; std::nullopt if out of range.
std::optional<int64_t> normalizeAxis(int64_t axis, int64_t rank);
/// "64x128" for error messages.
std::string formatShape(ArrayRef<int64_t> shape);

/// A dense constant of `type` (f32, f16 or bf16 elements) from f32 values,
/// rounding to the element type to nearest even.
DenseElementsAttr makeFloatConstant(RankedTensorType type,
                                    ArrayRef<float> values);

/// The packed bytes `bytes` as the value of a qc.constant of `type`.
DenseElementsAttr makeByteConstant(PackedType type, ArrayRef<uint8_t> bytes);

/// Whether `weights` is a qc.constant or a qc.quantize of a dense float
/// constant, i.e. weights known at compile time.
bool isConstantQuantized(Operation *weights);

/// The quantized tensor (codes and raw scales, through the format library)
/// of such weights, whatever their layout; std::nullopt with `error` set if
/// they cannot be read.
std::optional<quantc::QuantizedTensor>
readConstantQuantized(Operation *weights, std::string &error);
} // namespace mlir::qc

#endif // QC_QCDIALECT_H
