//===- OnnxTensor.cpp - ONNX element types, tensor data, host constants ---===//
//
// Everything about the contents of ONNX tensors that needs no MLIR IR: the
// element type table, reading a TensorProto's elements (raw, typed fields or
// external file) in one copy, and KnownTensor, the host-side constants that
// shape computations are folded on.
//
//===----------------------------------------------------------------------===//

#include "OnnxTensorData.h"

#include "quantc/Import/OnnxImporter.h"

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cmath>
#include <cstring>
#include <limits>

using namespace mlir;

namespace quantc {

//===----------------------------------------------------------------------===//
// Element types
//===----------------------------------------------------------------------===//

std::string onnxDTypeName(OnnxDType dtype) {
  switch (dtype) {
  case OnnxDType::Undefined:
    return "undefined";
  case OnnxDType::Float:
    return "float32";
  case OnnxDType::UInt8:
    return "uint8";
  case OnnxDType::Int8:
    return "int8";
  case OnnxDType::UInt16:
    return "uint16";
  case OnnxDType::Int16:
    return "int16";
  case OnnxDType::Int32:
    return "int32";
  case OnnxDType::Int64:
    return "int64";
  case OnnxDType::String:
    return "string";
  case OnnxDType::Bool:
    return "bool";
  case OnnxDType::Float16:
    return "float16";
  case OnnxDType::Double:
    return "float64";
  case OnnxDType::UInt32:
    return "uint32";
  case OnnxDType::UInt64:
    return "uint64";
  case OnnxDType::Complex64:
    return "complex64";
  case OnnxDType::Complex128:
    return "complex128";
  case OnnxDType::BFloat16:
    return "bfloat16";
  case OnnxDType::Float8E4M3FN:
    return "float8e4m3fn";
  case OnnxDType::Float8E4M3FNUZ:
    return "float8e4m3fnuz";
  case OnnxDType::Float8E5M2:
    return "float8e5m2";
  case OnnxDType::Float8E5M2FNUZ:
    return "float8e5m2fnuz";
  case OnnxDType::UInt4:
    return "uint4";
  case OnnxDType::Int4:
    return "int4";
  case OnnxDType::Float4E2M1:
    return "float4e2m1";
  }
  return "type code " + std::to_string(static_cast<int32_t>(dtype));
}

Type onnxDTypeToMlir(OnnxDType dtype, MLIRContext *context) {
  switch (dtype) {
  case OnnxDType::Float:
    return Float32Type::get(context);
  case OnnxDType::Double:
    return Float64Type::get(context);
  case OnnxDType::Float16:
    return Float16Type::get(context);
  case OnnxDType::BFloat16:
    return BFloat16Type::get(context);
  case OnnxDType::Float8E4M3FN:
    return Float8E4M3FNType::get(context);
  case OnnxDType::Float8E4M3FNUZ:
    return Float8E4M3FNUZType::get(context);
  case OnnxDType::Float8E5M2:
    return Float8E5M2Type::get(context);
  case OnnxDType::Float8E5M2FNUZ:
    return Float8E5M2FNUZType::get(context);
  case OnnxDType::Bool:
    return IntegerType::get(context, 1);
  case OnnxDType::Int8:
  case OnnxDType::UInt8:
    return IntegerType::get(context, 8);
  case OnnxDType::Int16:
  case OnnxDType::UInt16:
    return IntegerType::get(context, 16);
  case OnnxDType::Int32:
  case OnnxDType::UInt32:
    return IntegerType::get(context, 32);
  case OnnxDType::Int64:
  case OnnxDType::UInt64:
    return IntegerType::get(context, 64);
  default:
    // string, complex, and the 4-bit types (packed two per byte in ONNX;
    // not yet read).
    return nullptr;
  }
}

int onnxDTypeSize(OnnxDType dtype) {
  switch (dtype) {
  case OnnxDType::Bool:
  case OnnxDType::Int8:
  case OnnxDType::UInt8:
  case OnnxDType::Float8E4M3FN:
  case OnnxDType::Float8E4M3FNUZ:
  case OnnxDType::Float8E5M2:
  case OnnxDType::Float8E5M2FNUZ:
    return 1;
  case OnnxDType::Int16:
  case OnnxDType::UInt16:
  case OnnxDType::Float16:
  case OnnxDType::BFloat16:
    return 2;
  case OnnxDType::Int32:
  case OnnxDType::UInt32:
  case OnnxDType::Float:
    return 4;
  case OnnxDType::Int64:
  case OnnxDType::UInt64:
  case OnnxDType::Double:
    return 8;
  default:
    return 0;
  }
}

bool isOnnxFloat(OnnxDType dtype) {
  switch (dtype) {
  case OnnxDType::Float:
  case OnnxDType::Double:
  case OnnxDType::Float16:
  case OnnxDType::BFloat16:
  case OnnxDType::Float8E4M3FN:
  case OnnxDType::Float8E4M3FNUZ:
  case OnnxDType::Float8E5M2:
  case OnnxDType::Float8E5M2FNUZ:
    return true;
  default:
    return false;
  }
}

bool isOnnxUnsigned(OnnxDType dtype) {
  return dtype == OnnxDType::UInt8 || dtype == OnnxDType::UInt16 ||
         dtype == OnnxDType::UInt32 || dtype == OnnxDType::UInt64;
}

bool isOnnxInteger(OnnxDType dtype) {
  return isOnnxUnsigned(dtype) || dtype == OnnxDType::Int8 ||
         dtype == OnnxDType::Int16 || dtype == OnnxDType::Int32 ||
         dtype == OnnxDType::Int64;
}

OnnxDType onnxDTypeFromMlir(Type type) {
  if (type.isF32())
    return OnnxDType::Float;
  if (type.isF64())
    return OnnxDType::Double;
  if (type.isF16())
    return OnnxDType::Float16;
  if (type.isBF16())
    return OnnxDType::BFloat16;
  if (isa<Float8E4M3FNType>(type))
    return OnnxDType::Float8E4M3FN;
  if (isa<Float8E4M3FNUZType>(type))
    return OnnxDType::Float8E4M3FNUZ;
  if (isa<Float8E5M2Type>(type))
    return OnnxDType::Float8E5M2;
  if (isa<Float8E5M2FNUZType>(type))
    return OnnxDType::Float8E5M2FNUZ;
  if (auto intType = dyn_cast<IntegerType>(type)) {
    bool isUnsigned = intType.isUnsigned();
    switch (intType.getWidth()) {
    case 1:
      return OnnxDType::Bool;
    case 8:
      return isUnsigned ? OnnxDType::UInt8 : OnnxDType::Int8;
    case 16:
      return isUnsigned ? OnnxDType::UInt16 : OnnxDType::Int16;
    case 32:
      return isUnsigned ? OnnxDType::UInt32 : OnnxDType::Int32;
    case 64:
      return isUnsigned ? OnnxDType::UInt64 : OnnxDType::Int64;
    default:
      break;
    }
  }
  return OnnxDType::Undefined;
}

static const llvm::fltSemantics *smallFloatSemantics(OnnxDType dtype) {
  switch (dtype) {
  case OnnxDType::Float16:
    return &llvm::APFloat::IEEEhalf();
  case OnnxDType::BFloat16:
    return &llvm::APFloat::BFloat();
  case OnnxDType::Float8E4M3FN:
    return &llvm::APFloat::Float8E4M3FN();
  case OnnxDType::Float8E4M3FNUZ:
    return &llvm::APFloat::Float8E4M3FNUZ();
  case OnnxDType::Float8E5M2:
    return &llvm::APFloat::Float8E5M2();
  case OnnxDType::Float8E5M2FNUZ:
    return &llvm::APFloat::Float8E5M2FNUZ();
  default:
    return nullptr;
  }
}

//===----------------------------------------------------------------------===//
// KnownTensor
//===----------------------------------------------------------------------===//

int64_t KnownTensor::numElements() const {
  int64_t count = 1;
  for (int64_t dim : shape)
    count *= dim;
  return count;
}

double KnownTensor::getDouble(int64_t index) const {
  if (isFloat())
    return floats[index];
  if (dtype == OnnxDType::UInt64)
    return static_cast<double>(static_cast<uint64_t>(ints[index]));
  return static_cast<double>(ints[index]);
}

int64_t KnownTensor::getInt(int64_t index) const {
  if (!isFloat())
    return ints[index];
  double value = floats[index];
  if (std::isnan(value))
    return 0;
  if (value >= 9.2233720368547758e18)
    return std::numeric_limits<int64_t>::max();
  if (value <= -9.2233720368547758e18)
    return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(value); // truncates toward zero, like Cast
}

int64_t KnownTensor::wrapInt(OnnxDType dtype, int64_t value) {
  switch (dtype) {
  case OnnxDType::Bool:
    return value != 0;
  case OnnxDType::Int8:
    return static_cast<int8_t>(value);
  case OnnxDType::UInt8:
    return static_cast<uint8_t>(value);
  case OnnxDType::Int16:
    return static_cast<int16_t>(value);
  case OnnxDType::UInt16:
    return static_cast<uint16_t>(value);
  case OnnxDType::Int32:
    return static_cast<int32_t>(value);
  case OnnxDType::UInt32:
    return static_cast<uint32_t>(value);
  default:
    return value;
  }
}

double KnownTensor::roundFloat(OnnxDType dtype, double value) {
  if (dtype == OnnxDType::Double)
    return value;
  if (dtype == OnnxDType::Float)
    return static_cast<double>(static_cast<float>(value));
  if (const llvm::fltSemantics *semantics = smallFloatSemantics(dtype)) {
    llvm::APFloat converted(value);
    bool losesInfo = false;
    converted.convert(*semantics, llvm::APFloat::rmNearestTiesToEven,
                      &losesInfo);
    converted.convert(llvm::APFloat::IEEEdouble(),
                      llvm::APFloat::rmNearestTiesToEven, &losesInfo);
    return converted.convertToDouble();
  }
  return value;
}

KnownTensor KnownTensor::fromInts(OnnxDType dtype, ArrayRef<int64_t> shape,
                                  ArrayRef<int64_t> values) {
  KnownTensor tensor;
  tensor.dtype = dtype;
  tensor.shape.assign(shape.begin(), shape.end());
  if (isOnnxFloat(dtype)) {
    tensor.floats.reserve(values.size());
    for (int64_t value : values)
      tensor.floats.push_back(roundFloat(dtype, static_cast<double>(value)));
  } else {
    tensor.ints.reserve(values.size());
    for (int64_t value : values)
      tensor.ints.push_back(wrapInt(dtype, value));
  }
  return tensor;
}

KnownTensor KnownTensor::fromDoubles(OnnxDType dtype, ArrayRef<int64_t> shape,
                                     ArrayRef<double> values) {
  KnownTensor source;
  source.dtype = OnnxDType::Double;
  source.shape.assign(shape.begin(), shape.end());
  source.floats.assign(values.begin(), values.end());
  return source.castTo(dtype);
}

KnownTensor KnownTensor::castTo(OnnxDType to) const {
  KnownTensor result;
  result.dtype = to;
  result.shape = shape;
  int64_t count = numElements();
  if (isOnnxFloat(to)) {
    result.floats.reserve(count);
    for (int64_t i = 0; i < count; ++i)
      result.floats.push_back(roundFloat(to, getDouble(i)));
    return result;
  }
  result.ints.reserve(count);
  for (int64_t i = 0; i < count; ++i) {
    if (to == OnnxDType::Bool && isFloat())
      result.ints.push_back(floats[i] != 0.0 || std::isnan(floats[i]));
    else
      result.ints.push_back(wrapInt(to, getInt(i)));
  }
  return result;
}

//===----------------------------------------------------------------------===//
// Storage bytes <-> KnownTensor
//===----------------------------------------------------------------------===//

template <typename T> static T loadScalar(const char *data) {
  T value;
  std::memcpy(&value, data, sizeof(T));
  return value;
}

template <typename T> static void storeScalar(char *data, T value) {
  std::memcpy(data, &value, sizeof(T));
}

KnownTensor decodeKnownTensor(OnnxDType dtype, ArrayRef<int64_t> shape,
                              ArrayRef<char> bytes) {
  KnownTensor tensor;
  tensor.dtype = dtype;
  tensor.shape.assign(shape.begin(), shape.end());
  int size = onnxDTypeSize(dtype);
  int64_t count = tensor.numElements();
  const llvm::fltSemantics *semantics = smallFloatSemantics(dtype);
  for (int64_t i = 0; i < count; ++i) {
    const char *element = bytes.data() + i * size;
    switch (dtype) {
    case OnnxDType::Float:
      tensor.floats.push_back(loadScalar<float>(element));
      break;
    case OnnxDType::Double:
      tensor.floats.push_back(loadScalar<double>(element));
      break;
    case OnnxDType::Bool:
      tensor.ints.push_back(loadScalar<uint8_t>(element) != 0);
      break;
    case OnnxDType::Int8:
      tensor.ints.push_back(loadScalar<int8_t>(element));
      break;
    case OnnxDType::UInt8:
      tensor.ints.push_back(loadScalar<uint8_t>(element));
      break;
    case OnnxDType::Int16:
      tensor.ints.push_back(loadScalar<int16_t>(element));
      break;
    case OnnxDType::UInt16:
      tensor.ints.push_back(loadScalar<uint16_t>(element));
      break;
    case OnnxDType::Int32:
      tensor.ints.push_back(loadScalar<int32_t>(element));
      break;
    case OnnxDType::UInt32:
      tensor.ints.push_back(loadScalar<uint32_t>(element));
      break;
    case OnnxDType::Int64:
    case OnnxDType::UInt64:
      tensor.ints.push_back(loadScalar<int64_t>(element));
      break;
    default: {
      // 16- and 8-bit floats: through APFloat from their bit pattern.
      uint64_t bits = size == 2 ? loadScalar<uint16_t>(element)
                                : loadScalar<uint8_t>(element);
      llvm::APFloat value(*semantics, llvm::APInt(size * 8, bits));
      bool losesInfo = false;
      value.convert(llvm::APFloat::IEEEdouble(),
                    llvm::APFloat::rmNearestTiesToEven, &losesInfo);
      tensor.floats.push_back(value.convertToDouble());
      break;
    }
    }
  }
  return tensor;
}

void encodeKnownTensor(const KnownTensor &tensor, MutableArrayRef<char> dest) {
  int size = onnxDTypeSize(tensor.dtype);
  int64_t count = tensor.numElements();
  const llvm::fltSemantics *semantics = smallFloatSemantics(tensor.dtype);
  for (int64_t i = 0; i < count; ++i) {
    char *element = dest.data() + i * size;
    switch (tensor.dtype) {
    case OnnxDType::Float:
      storeScalar<float>(element, static_cast<float>(tensor.floats[i]));
      break;
    case OnnxDType::Double:
      storeScalar<double>(element, tensor.floats[i]);
      break;
    case OnnxDType::Bool:
    case OnnxDType::Int8:
    case OnnxDType::UInt8:
      storeScalar<uint8_t>(element, static_cast<uint8_t>(tensor.ints[i]));
      break;
    case OnnxDType::Int16:
    case OnnxDType::UInt16:
      storeScalar<uint16_t>(element, static_cast<uint16_t>(tensor.ints[i]));
      break;
    case OnnxDType::Int32:
    case OnnxDType::UInt32:
      storeScalar<uint32_t>(element, static_cast<uint32_t>(tensor.ints[i]));
      break;
    case OnnxDType::Int64:
    case OnnxDType::UInt64:
      storeScalar<int64_t>(element, tensor.ints[i]);
      break;
    default: {
      llvm::APFloat value(tensor.floats[i]);
      bool losesInfo = false;
      value.convert(*semantics, llvm::APFloat::rmNearestTiesToEven,
                    &losesInfo);
      uint64_t bits = value.bitcastToAPInt().getZExtValue();
      if (size == 2)
        storeScalar<uint16_t>(element, static_cast<uint16_t>(bits));
      else
        storeScalar<uint8_t>(element, static_cast<uint8_t>(bits));
      break;
    }
    }
  }
}

//===----------------------------------------------------------------------===//
// TensorProto
//===----------------------------------------------------------------------===//

static uint64_t numElements(ArrayRef<int64_t> dims) {
  uint64_t count = 1;
  for (int64_t dim : dims)
    count *= static_cast<uint64_t>(dim);
  return count;
}

static std::string formatDims(ArrayRef<int64_t> dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i)
    text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + "]";
}

bool getTensorProtoShape(const onnx::TensorProto &tensor,
                         SmallVectorImpl<int64_t> &shape,
                         const std::string &what, std::string &error) {
  auto dtype = static_cast<OnnxDType>(tensor.data_type());
  if (onnxDTypeSize(dtype) == 0) {
    error = what + " has element type " + onnxDTypeName(dtype) +
            ", which quantc does not support yet";
    return false;
  }
  shape.clear();
  int64_t count = 1;
  for (int64_t dim : tensor.dims()) {
    if (dim < 0 || dim > kMaxOnnxDim) {
      error = what + " has dimension " + std::to_string(dim) +
              " (dims must lie in [0, 2^31))";
      return false;
    }
    shape.push_back(dim);
    if (dim != 0 && count > (std::numeric_limits<int64_t>::max() >> 4) / dim) {
      error = what + " has " + formatDims(shape) + "... elements, too many";
      return false;
    }
    count *= dim;
  }
  return true;
}

/// The external data file of `tensor` and the byte range in it.
struct ExternalDataRef {
  std::string location;
  uint64_t offset = 0;
  std::optional<uint64_t> length;
};

static bool parseExternalData(const onnx::TensorProto &tensor,
                              ExternalDataRef &ref, const std::string &what,
                              std::string &error) {
  for (const auto &entry : tensor.external_data()) {
    const std::string &key = entry.key();
    const std::string &value = entry.value();
    if (key == "location") {
      ref.location = value;
    } else if (key == "offset" || key == "length") {
      uint64_t number = 0;
      if (llvm::StringRef(value).getAsInteger(10, number)) {
        error = what + ": external data " + key + " '" + value +
                "' is not a number";
        return false;
      }
      if (key == "offset")
        ref.offset = number;
      else
        ref.length = number;
    }
  }
  if (ref.location.empty()) {
    error = what + ": external data has no location";
    return false;
  }
  return true;
}

/// Whether `location` stays inside the model's folder: relative, and no
/// component leads out of it.
static bool isContainedRelativePath(llvm::StringRef location) {
  if (llvm::sys::path::is_absolute(location) ||
      llvm::sys::path::has_root_name(location) || location.starts_with("/") ||
      location.starts_with("\\"))
    return false;
  int depth = 0;
  for (auto it = llvm::sys::path::begin(location),
            end = llvm::sys::path::end(location);
       it != end; ++it) {
    if (*it == "..") {
      if (--depth < 0)
        return false;
    } else if (*it != ".") {
      ++depth;
    }
  }
  return true;
}

bool checkExternalDataLocation(const onnx::TensorProto &tensor,
                               const std::string &what, std::string &error) {
  if (tensor.data_location() != onnx::TensorProto_DataLocation_EXTERNAL)
    return true;
  ExternalDataRef ref;
  if (!parseExternalData(tensor, ref, what, error))
    return false;
  if (!isContainedRelativePath(ref.location)) {
    error = what + ": external data location '" + ref.location +
            "' is outside the model's folder";
    return false;
  }
  return true;
}

static bool readExternalData(const onnx::TensorProto &tensor,
                             llvm::StringRef baseDir, MutableArrayRef<char> dest,
                             const std::string &what, std::string &error) {
  if (!checkExternalDataLocation(tensor, what, error))
    return false;
  ExternalDataRef ref;
  if (!parseExternalData(tensor, ref, what, error))
    return false;
  llvm::SmallString<256> path(baseDir);
  llvm::sys::path::append(path, ref.location);
  uint64_t fileSize = 0;
  if (std::error_code ec = llvm::sys::fs::file_size(path, fileSize)) {
    error = what + ": cannot read external data file '" + path.str().str() +
            "' (" + ec.message() + ")";
    return false;
  }
  uint64_t length = ref.length.value_or(fileSize >= ref.offset
                                            ? fileSize - ref.offset
                                            : 0);
  if (ref.offset > fileSize || length > fileSize - ref.offset) {
    error = what + ": external data range [" + std::to_string(ref.offset) +
            ", +" + std::to_string(length) + ") lies beyond the end of '" +
            path.str().str() + "' (" + std::to_string(fileSize) + " bytes)";
    return false;
  }
  if (length != dest.size()) {
    error = what + ": external data holds " + std::to_string(length) +
            " bytes but the tensor's shape needs " + std::to_string(dest.size());
    return false;
  }
  if (length == 0)
    return true;
  auto slice = llvm::MemoryBuffer::getFileSlice(path, length, ref.offset,
                                                /*IsVolatile=*/false);
  if (!slice) {
    error = what + ": cannot read external data file '" + path.str().str() +
            "' (" + slice.getError().message() + ")";
    return false;
  }
  std::memcpy(dest.data(), (*slice)->getBufferStart(), length);
  return true;
}

/// Copies `count` values of a typed repeated field into `dest`, converting
/// each to the element's storage (the int32_data of a float16 tensor holds
/// its bit patterns, of an int8 tensor its values, ...).
template <typename Field, typename Store>
static bool copyTypedField(const Field &field, int64_t count, Store store,
                           const std::string &what, const char *fieldName,
                           std::string &error) {
  if (static_cast<int64_t>(field.size()) != count) {
    error = what + " has " + std::to_string(field.size()) + " values in " +
            fieldName + " but its shape needs " + std::to_string(count);
    return false;
  }
  for (int64_t i = 0; i < count; ++i)
    store(i, field.Get(static_cast<int>(i)));
  return true;
}

bool validateTensorProtoData(const onnx::TensorProto &tensor,
                             llvm::StringRef baseDir, uint64_t expectedBytes,
                             const std::string &what, std::string &error) {
  auto dtype = static_cast<OnnxDType>(tensor.data_type());
  int size = onnxDTypeSize(dtype);
  uint64_t count = size ? expectedBytes / size : 0;
  if (tensor.data_location() == onnx::TensorProto_DataLocation_EXTERNAL) {
    if (!checkExternalDataLocation(tensor, what, error))
      return false;
    ExternalDataRef ref;
    if (!parseExternalData(tensor, ref, what, error))
      return false;
    llvm::SmallString<256> path(baseDir);
    llvm::sys::path::append(path, ref.location);
    uint64_t fileSize = 0;
    if (std::error_code ec = llvm::sys::fs::file_size(path, fileSize)) {
      error = what + ": cannot read external data file '" + path.str().str() +
              "' (" + ec.message() + ")";
      return false;
    }
    uint64_t available = ref.offset <= fileSize ? fileSize - ref.offset : 0;
    uint64_t length = ref.length.value_or(available);
    if (length != expectedBytes || length > available) {
      error = what + ": external data holds " + std::to_string(length) +
              " bytes (of " + std::to_string(available) +
              " in the file) but the tensor's shape needs " +
              std::to_string(expectedBytes);
      return false;
    }
    return true;
  }
  uint64_t held = 0;
  const char *field = "raw_data";
  if (tensor.has_raw_data()) {
    if (tensor.raw_data().size() != expectedBytes) {
      error = what + " has " + std::to_string(tensor.raw_data().size()) +
              " bytes of raw_data but its shape needs " +
              std::to_string(expectedBytes);
      return false;
    }
    return true;
  }
  switch (dtype) {
  case OnnxDType::Float:
    held = tensor.float_data_size(), field = "float_data";
    break;
  case OnnxDType::Double:
    held = tensor.double_data_size(), field = "double_data";
    break;
  case OnnxDType::Int64:
    held = tensor.int64_data_size(), field = "int64_data";
    break;
  case OnnxDType::UInt32:
  case OnnxDType::UInt64:
    held = tensor.uint64_data_size(), field = "uint64_data";
    break;
  default:
    held = tensor.int32_data_size(), field = "int32_data";
    break;
  }
  if (held != count) {
    error = what + " has " + std::to_string(held) + " values in " + field +
            " but its shape needs " + std::to_string(count);
    return false;
  }
  return true;
}

bool readTensorProtoData(const onnx::TensorProto &tensor,
                         llvm::StringRef baseDir, MutableArrayRef<char> dest,
                         const std::string &what, std::string &error) {
  if (!validateTensorProtoData(tensor, baseDir, dest.size(), what, error))
    return false;
  auto dtype = static_cast<OnnxDType>(tensor.data_type());
  int size = onnxDTypeSize(dtype);
  int64_t count = size ? static_cast<int64_t>(dest.size()) / size : 0;
  if (tensor.data_location() == onnx::TensorProto_DataLocation_EXTERNAL)
    return readExternalData(tensor, baseDir, dest, what, error);
  if (tensor.has_raw_data()) {
    const std::string &raw = tensor.raw_data();
    if (raw.size() != dest.size()) {
      error = what + " has " + std::to_string(raw.size()) +
              " bytes of raw_data but its shape needs " +
              std::to_string(dest.size());
      return false;
    }
    if (!raw.empty())
      std::memcpy(dest.data(), raw.data(), raw.size());
    return true;
  }
  char *out = dest.data();
  switch (dtype) {
  case OnnxDType::Float:
    return copyTypedField(
        tensor.float_data(), count,
        [&](int64_t i, float v) { storeScalar<float>(out + 4 * i, v); }, what,
        "float_data", error);
  case OnnxDType::Double:
    return copyTypedField(
        tensor.double_data(), count,
        [&](int64_t i, double v) { storeScalar<double>(out + 8 * i, v); },
        what, "double_data", error);
  case OnnxDType::Int64:
    return copyTypedField(
        tensor.int64_data(), count,
        [&](int64_t i, int64_t v) { storeScalar<int64_t>(out + 8 * i, v); },
        what, "int64_data", error);
  case OnnxDType::UInt32:
  case OnnxDType::UInt64:
    return copyTypedField(
        tensor.uint64_data(), count,
        [&](int64_t i, uint64_t v) {
          if (size == 4)
            storeScalar<uint32_t>(out + 4 * i, static_cast<uint32_t>(v));
          else
            storeScalar<uint64_t>(out + 8 * i, v);
        },
        what, "uint64_data", error);
  default:
    // int32, int16, int8, uint16, uint8, bool, float16, bfloat16, float8:
    // one int32_data value per element, truncated to the element's size.
    return copyTypedField(
        tensor.int32_data(), count,
        [&](int64_t i, int32_t v) {
          switch (size) {
          case 1:
            storeScalar<uint8_t>(out + i, static_cast<uint8_t>(v));
            break;
          case 2:
            storeScalar<uint16_t>(out + 2 * i, static_cast<uint16_t>(v));
            break;
          default:
            storeScalar<int32_t>(out + 4 * i, v);
            break;
          }
        },
        what, "int32_data", error);
  }
}

//===----------------------------------------------------------------------===//
// Tensor files (.pb)
//===----------------------------------------------------------------------===//

static std::optional<DType> hostDType(OnnxDType dtype) {
  switch (dtype) {
  case OnnxDType::Float:
    return DType::F32;
  case OnnxDType::Float16:
    return DType::F16;
  case OnnxDType::Double:
    return DType::F64;
  case OnnxDType::Int8:
    return DType::I8;
  case OnnxDType::Int16:
    return DType::I16;
  case OnnxDType::Int32:
    return DType::I32;
  case OnnxDType::Int64:
    return DType::I64;
  case OnnxDType::UInt8:
    return DType::U8;
  case OnnxDType::Bool:
    return DType::Bool;
  default:
    return std::nullopt;
  }
}

std::optional<KnownTensor> knownTensorFromHost(const HostTensor &tensor) {
  OnnxDType dtype = OnnxDType::Undefined;
  switch (tensor.dtype) {
  case DType::F32:
    dtype = OnnxDType::Float;
    break;
  case DType::F16:
    dtype = OnnxDType::Float16;
    break;
  case DType::F64:
    dtype = OnnxDType::Double;
    break;
  case DType::I8:
    dtype = OnnxDType::Int8;
    break;
  case DType::I16:
    dtype = OnnxDType::Int16;
    break;
  case DType::I32:
    dtype = OnnxDType::Int32;
    break;
  case DType::I64:
    dtype = OnnxDType::Int64;
    break;
  case DType::U8:
    dtype = OnnxDType::UInt8;
    break;
  case DType::Bool:
    dtype = OnnxDType::Bool;
    break;
  }
  if (dtype == OnnxDType::Undefined)
    return std::nullopt;
  return decodeKnownTensor(
      dtype, tensor.shape,
      ArrayRef<char>(reinterpret_cast<const char *>(tensor.bytes.data()),
                     tensor.bytes.size()));
}

std::optional<HostTensor> readOnnxTensorFile(const std::string &path,
                                             std::string &name,
                                             std::string &error) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer) {
    error = path + ": cannot open (" + buffer.getError().message() + ")";
    return std::nullopt;
  }
  onnx::TensorProto tensor;
  if (!tensor.ParseFromArray((*buffer)->getBufferStart(),
                             static_cast<int>((*buffer)->getBufferSize()))) {
    error = path + ": not a serialized ONNX TensorProto";
    return std::nullopt;
  }
  name = tensor.name();
  std::string what = path + ": tensor" +
                     (name.empty() ? std::string() : " '" + name + "'");
  // A SequenceProto / OptionalProto file often parses as a TensorProto with
  // nonsense dims or data; say what the file probably is.
  auto notATensor = [&]() -> std::optional<HostTensor> {
    if (static_cast<OnnxDType>(tensor.data_type()) != OnnxDType::String)
      error += " (is the file a SequenceProto or OptionalProto? quant-run "
               "reads TensorProto files only; sequences and optionals are not "
               "supported)";
    return std::nullopt;
  };
  SmallVector<int64_t> shape;
  if (!getTensorProtoShape(tensor, shape, what, error))
    return notATensor();
  auto dtype = static_cast<OnnxDType>(tensor.data_type());
  if (dtype == OnnxDType::Undefined) {
    error = what + " has no element type";
    return notATensor();
  }
  std::optional<DType> host = hostDType(dtype);
  if (!host) {
    error = what + " has element type " + onnxDTypeName(dtype) +
            ", which quant-run cannot exchange yet";
    return std::nullopt;
  }
  llvm::StringRef baseDir = llvm::sys::path::parent_path(path);
  uint64_t bytes = numElements(shape) * dtypeSize(*host);
  if (!validateTensorProtoData(tensor, baseDir, bytes, what, error))
    return notATensor();
  HostTensor result;
  result.dtype = *host;
  result.shape.assign(shape.begin(), shape.end());
  result.bytes.resize(bytes);
  if (!readTensorProtoData(
          tensor, baseDir,
          MutableArrayRef<char>(reinterpret_cast<char *>(result.bytes.data()),
                                result.bytes.size()),
          what, error))
    return std::nullopt;
  return result;
}

} // namespace quantc
