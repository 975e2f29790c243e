//===- OnnxTensorData.h - ONNX TensorProto contents, decoded -----*- C++ -*-===//
//
// Internal to lib/Import: reading the elements of a TensorProto (raw_data,
// the typed repeated fields, or an external data file) into a caller-owned
// buffer in MLIR's storage layout, so that an initializer is copied exactly
// once, from the model into the resource blob that holds it. Also the
// conversion between such bytes and KnownTensor.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_LIB_IMPORT_ONNXTENSORDATA_H
#define QUANTC_LIB_IMPORT_ONNXTENSORDATA_H

#include "quantc/Import/OnnxOpRegistry.h"

#include "onnx/onnx_pb.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"

#include <string>

namespace quantc {

/// Dimensions larger than this are rejected as malformed (they overflow the
/// 32-bit index arithmetic of most consumers and no real tensor has them).
constexpr int64_t kMaxOnnxDim = (int64_t(1) << 31) - 1;

/// Validates the dtype and dims of `tensor` (supported type, dims in
/// [0, 2^31), total size without overflow) and returns its shape. `what`
/// names the tensor in errors ("initializer 'w'").
bool getTensorProtoShape(const onnx::TensorProto &tensor,
                         llvm::SmallVectorImpl<int64_t> &shape,
                         const std::string &what, std::string &error);

/// Checks, before anything is allocated, that `tensor` holds exactly
/// `expectedBytes` of data (raw_data, a typed field, or its external range),
/// so that a malformed file with huge dims fails cleanly.
bool validateTensorProtoData(const onnx::TensorProto &tensor,
                             llvm::StringRef baseDir, uint64_t expectedBytes,
                             const std::string &what, std::string &error);

/// Copies the elements of `tensor` into `dest`, which holds exactly
/// numElements * onnxDTypeSize(dtype) bytes: from raw_data, from the typed
/// fields (float_data, int32_data, ...), or from its external data file,
/// which must lie under `baseDir`.
bool readTensorProtoData(const onnx::TensorProto &tensor,
                         llvm::StringRef baseDir, llvm::MutableArrayRef<char> dest,
                         const std::string &what, std::string &error);

/// Checks that a tensor with external data names a location inside the
/// model's folder (relative, no escaping `..`); true for other tensors.
bool checkExternalDataLocation(const onnx::TensorProto &tensor,
                               const std::string &what, std::string &error);

/// Decodes little-endian storage bytes of `dtype` into a host constant.
KnownTensor decodeKnownTensor(OnnxDType dtype, llvm::ArrayRef<int64_t> shape,
                              llvm::ArrayRef<char> bytes);
/// Encodes a host constant into storage bytes (numElements * size).
void encodeKnownTensor(const KnownTensor &tensor, llvm::MutableArrayRef<char> dest);

} // namespace quantc

#endif // QUANTC_LIB_IMPORT_ONNXTENSORDATA_H
