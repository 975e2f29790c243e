//===- QcAttrs.cpp - #qc.format and !qc.packed ----------------------------===//
//
// Both print a format as the format library's canonical text ("mxfp4",
// "mxfp4, scale_rounding = ceil"), so the IR, quant-tensor and error messages
// use one spelling.
//
//===----------------------------------------------------------------------===//

#include "qc/QcDialect.h"
#include "quantc/Formats/Layout.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cstdio>
#include <cstring>

using namespace mlir;
using namespace mlir::qc;

llvm::hash_code quantc::hash_value(const Format &f) {
  const ElementType &e = f.element;
  uint32_t clipBits, amaxBits;
  std::memcpy(&clipBits, &f.clipRatio, sizeof(clipBits));
  std::memcpy(&amaxBits, &f.staticAmax, sizeof(amaxBits));
  return llvm::hash_combine(
      static_cast<int>(e.kind), e.bits, e.isSigned, e.fractionBits,
      e.exponentBits, e.mantissaBits, e.bias, static_cast<int>(e.special),
      e.saturate, static_cast<int>(f.granularity), f.axis, f.blockSize,
      f.blockSize2, static_cast<int>(f.scaleType),
      static_cast<int>(f.scaleRounding), f.secondLevelScale, f.symmetric,
      clipBits, amaxBits);
}

#define GET_ATTRDEF_CLASSES
#include "qc/QcAttrs.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "qc/QcTypes.cpp.inc"

void QcDialect::registerAttributesAndTypes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "qc/QcAttrs.cpp.inc"
      >();
  addTypes<
#define GET_TYPEDEF_LIST
#include "qc/QcTypes.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Format text inside <...>
//===----------------------------------------------------------------------===//

/// Parses one option value: a keyword, or a number printed back as written
/// (integers without a fraction).
static ParseResult parseOptionValue(AsmParser &parser, std::string &value) {
  StringRef keyword;
  if (succeeded(parser.parseOptionalKeyword(&keyword))) {
    value = keyword.str();
    return success();
  }
  int64_t integer;
  OptionalParseResult parsedInteger = parser.parseOptionalInteger(integer);
  if (parsedInteger.has_value()) {
    if (failed(*parsedInteger))
      return failure();
    value = std::to_string(integer);
    return success();
  }
  double number;
  if (parser.parseFloat(number))
    return failure();
  // Nine significant digits round-trip every f32 (clip ratios are f32).
  char text[32];
  std::snprintf(text, sizeof(text), "%.9g", number);
  value = text;
  return success();
}

/// Parses `alias (, key = value)*` into a format. When `layout` is given, the
/// key `layout` is accepted and stored there instead (for !qc.packed).
static ParseResult parseFormatBody(AsmParser &parser, quantc::Format &format,
                                   std::string *layout) {
  SMLoc loc = parser.getCurrentLocation();
  StringRef alias;
  if (parser.parseKeyword(&alias))
    return failure();
  std::string spec = alias.str();
  while (succeeded(parser.parseOptionalComma())) {
    StringRef key;
    std::string value;
    if (parser.parseKeyword(&key) || parser.parseEqual() ||
        parseOptionValue(parser, value))
      return failure();
    if (layout && key == "layout") {
      *layout = value;
      continue;
    }
    spec += ", " + key.str() + " = " + value;
  }
  std::string error;
  std::optional<quantc::Format> parsed = quantc::parseFormat(spec, error);
  if (!parsed)
    return parser.emitError(loc) << error;
  format = *parsed;
  return success();
}

Attribute FormatAttr::parse(AsmParser &parser, Type) {
  quantc::Format format;
  if (parser.parseLess() || parseFormatBody(parser, format, nullptr) ||
      parser.parseGreater())
    return {};
  return FormatAttr::getChecked(
      [&] { return parser.emitError(parser.getNameLoc()); },
      parser.getContext(), format);
}

void FormatAttr::print(AsmPrinter &printer) const {
  printer << "<" << quantc::printFormat(getValue()) << ">";
}

LogicalResult FormatAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 quantc::Format format) {
  std::string problem = quantc::verifyFormat(format);
  if (!problem.empty())
    return emitError() << "invalid format '" << quantc::printFormat(format)
                       << "': " << problem;
  return success();
}

//===----------------------------------------------------------------------===//
// !qc.packed
//===----------------------------------------------------------------------===//

Type PackedType::parse(AsmParser &parser) {
  SmallVector<int64_t> shape;
  quantc::Format format;
  std::string layout;
  if (parser.parseLess() ||
      parser.parseDimensionList(shape, /*allowDynamic=*/false,
                                /*withTrailingX=*/false) ||
      parser.parseComma() || parseFormatBody(parser, format, &layout) ||
      parser.parseGreater())
    return {};
  MLIRContext *ctx = parser.getContext();
  StringAttr layoutAttr =
      layout.empty() || layout == "canonical" ? StringAttr()
                                              : StringAttr::get(ctx, layout);
  return PackedType::getChecked(
      [&] { return parser.emitError(parser.getNameLoc()); }, ctx, shape,
      FormatAttr::get(ctx, format), layoutAttr);
}

void PackedType::print(AsmPrinter &printer) const {
  printer << "<";
  llvm::interleave(getShape(), printer.getStream(), "x");
  printer << ", " << quantc::printFormat(getFormat().getValue());
  if (getLayout())
    printer << ", layout = " << getLayout().getValue();
  printer << ">";
}

LogicalResult PackedType::verify(function_ref<InFlightDiagnostic()> emitError,
                                 ArrayRef<int64_t> shape, FormatAttr format,
                                 StringAttr layout) {
  if (shape.empty())
    return emitError() << "packed tensor must have rank >= 1";
  for (int64_t dim : shape)
    if (dim <= 0)
      return emitError() << "packed tensor dimensions must be positive, got "
                         << dim;
  std::string error;
  if (!quantc::scaleShape(shape.vec(), format.getValue(), error))
    return emitError() << "shape " << formatShape(shape) << " does not fit format '"
                       << quantc::printFormat(format.getValue()) << "': " << error;
  // Layouts other than the canonical one are described by the format library.
  if (layout) {
    std::string problem =
        quantc::verifyLayout(layout.getValue().str(), shape.vec(),
                             format.getValue());
    if (!problem.empty())
      return emitError() << problem;
  }
  return success();
}

ShapedType PackedType::cloneWith(std::optional<ArrayRef<int64_t>> shape,
                                 Type) const {
  return PackedType::get(getContext(), shape ? *shape : getShape(), getFormat(),
                         getLayout());
}

StringRef PackedType::getLayoutName() const {
  return getLayout() ? getLayout().getValue() : StringRef("canonical");
}

int64_t PackedType::getSizeInBytes() const {
  std::string error;
  // The verifier guarantees the shape fits the format and the layout.
  return *quantc::layoutSizeInBytes(getLayoutName().str(), getShape().vec(),
                                    getFormat().getValue(), error);
}

RankedTensorType PackedType::getStorageType() const {
  return RankedTensorType::get({getSizeInBytes()},
                               IntegerType::get(getContext(), 8));
}
