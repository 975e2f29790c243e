//===- QcDialect.cpp - qc dialect, attribute and type registration --------===//

#include "qc/QcDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::qc;

#include "qc/QcDialect.cpp.inc"

void QcDialect::initialize() {
  registerAttributesAndTypes();
  addOperations<
#define GET_OP_LIST
#include "qc/QcOps.cpp.inc"
      >();
}

Operation *QcDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                          Type type, Location loc) {
  auto elements = dyn_cast<ElementsAttr>(value);
  if (!elements)
    return nullptr;
  if (isa<PackedType>(type))
    return ConstantOp::create(builder, loc, type, elements);
  if (isa<RankedTensorType>(type) && elements.getType() == type)
    return arith::ConstantOp::create(builder, loc, type, cast<TypedAttr>(value));
  return nullptr;
}

std::optional<int64_t> mlir::qc::normalizeAxis(int64_t axis, int64_t rank) {
  int64_t normalized = axis < 0 ? axis + rank : axis;
  if (normalized < 0 || normalized >= rank)
    return std::nullopt;
  return normalized;
}

std::string mlir::qc::formatShape(ArrayRef<int64_t> shape) {
  std::string text;
  llvm::raw_string_ostream os(text);
  llvm::interleave(shape, os, "x");
  return text;
}
