//===- Npy.h - NumPy .npy reading and writing --------------------*- C++ -*-===//
//
// Reads and writes version 1.0-3.0 .npy files in C order with the element
// types quantc exchanges: f32, f16, f64, bf16 (as '<V2' is not standard, bf16
// is not read), int8/16/32/64, uint8, bool. Errors are one-line messages that
// name the file.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_RUNTIME_NPY_H
#define QUANTC_RUNTIME_NPY_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace quantc {

enum class DType : uint8_t { F32, F16, F64, I8, I16, I32, I64, U8, Bool };

/// Size in bytes of one element.
int dtypeSize(DType t);
/// NumPy descr string ("<f4", "|i1", "|b1", ...).
const char *dtypeDescr(DType t);
/// Name as in MLIR element types ("f32", "i8", "i1", "ui8", ...).
const char *dtypeName(DType t);

/// A dense host tensor: raw little-endian bytes in C order.
struct HostTensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  int64_t numElements() const;
  template <typename T> T *data() { return reinterpret_cast<T *>(bytes.data()); }
  template <typename T> const T *data() const {
    return reinterpret_cast<const T *>(bytes.data());
  }
};

/// Reads `path`; on failure returns std::nullopt with `error` like
/// "x.npy: not a .npy file (bad magic)" or "x.npy: Fortran order is not supported".
std::optional<HostTensor> readNpy(const std::string &path, std::string &error);
/// Writes `tensor` to `path` atomically (temp file + rename), so a failure
/// never leaves a partial file.
bool writeNpy(const std::string &path, const HostTensor &tensor,
              std::string &error);

/// Converts any numeric tensor to f32 values (bool -> 0/1).
std::vector<float> toFloat32(const HostTensor &tensor);
HostTensor fromFloat32(const std::vector<float> &values,
                       const std::vector<int64_t> &shape);

} // namespace quantc

#endif // QUANTC_RUNTIME_NPY_H
