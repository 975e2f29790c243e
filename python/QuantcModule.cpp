//===- QuantcModule.cpp - Python bindings of the format library -----------===//
//
// `quantc._quantc`: numpy in, numpy out, through the same library the
// compiler's folders and quant-tensor use, so Python results are
// bit-identical to compiled code. Errors raise ValueError with the library's
// one-line message.
//
//===----------------------------------------------------------------------===//

#include "quantc/Formats/Format.h"
#include "quantc/Formats/Hadamard.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

namespace py = pybind11;
using namespace quantc;

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

std::vector<int64_t> shapeOf(const py::array &a) {
  return std::vector<int64_t>(a.shape(), a.shape() + a.ndim());
}

Format parseOrThrow(const std::string &spec, std::optional<int> axis) {
  std::string error;
  std::optional<Format> format = parseFormat(spec, error);
  if (!format)
    throw py::value_error(error);
  if (axis)
    format->axis = *axis;
  std::string problem = verifyFormat(*format);
  if (!problem.empty())
    throw py::value_error("format '" + spec + "': " + problem);
  return *format;
}

FloatArray toArray(const std::vector<float> &values,
                   const std::vector<int64_t> &shape) {
  FloatArray out(std::vector<py::ssize_t>(shape.begin(), shape.end()));
  std::copy(values.begin(), values.end(), out.mutable_data());
  return out;
}

QuantizedTensor quantizeOrThrow(const FloatArray &x, const Format &format) {
  std::string error;
  std::optional<QuantizedTensor> q = quantize(x.data(), shapeOf(x), format, error);
  if (!q)
    throw py::value_error(error);
  return std::move(*q);
}

} // namespace

PYBIND11_MODULE(_quantc, m) {
  m.doc() = "quantc's bit-exact format library";

  m.def("formats", &namedFormats, "The named formats (mxfp4, nvfp4, ...).");

  m.def(
      "canonical_format",
      [](const std::string &spec) { return printFormat(parseOrThrow(spec, {})); },
      py::arg("spec"),
      "The canonical spelling of a format spec, e.g. 'e2m1, block = 32, "
      "scale = e8m0' -> 'mxfp4'.");

  m.def(
      "fake_quant",
      [](const FloatArray &x, const std::string &spec, std::optional<int> axis) {
        Format format = parseOrThrow(spec, axis);
        return toArray(dequantize(quantizeOrThrow(x, format)), shapeOf(x));
      },
      py::arg("x"), py::arg("format"), py::arg("axis") = py::none(),
      "Quantize then dequantize `x` (converted to float32) in `format`.");

  m.def(
      "pack",
      [](const FloatArray &x, const std::string &spec, std::optional<int> axis) {
        std::vector<uint8_t> bytes = pack(quantizeOrThrow(x, parseOrThrow(spec, axis)));
        py::array_t<uint8_t> out(static_cast<py::ssize_t>(bytes.size()));
        std::copy(bytes.begin(), bytes.end(), out.mutable_data());
        return out;
      },
      py::arg("x"), py::arg("format"), py::arg("axis") = py::none(),
      "Quantize `x` and return the packed bytes (the !qc.packed layout).");

  m.def(
      "unpack",
      [](const py::array_t<uint8_t, py::array::c_style | py::array::forcecast> &bytes,
         const std::vector<int64_t> &shape, const std::string &spec,
         std::optional<int> axis) {
        std::string error;
        std::optional<QuantizedTensor> q =
            unpack(bytes.data(), static_cast<size_t>(bytes.size()), shape,
                   parseOrThrow(spec, axis), error);
        if (!q)
          throw py::value_error(error);
        return toArray(dequantize(*q), shape);
      },
      py::arg("packed"), py::arg("shape"), py::arg("format"),
      py::arg("axis") = py::none(), "Decode packed bytes to float32 values.");

  m.def(
      "bits_per_element",
      [](const std::vector<int64_t> &shape, const std::string &spec) {
        return bitsPerElement(shape, parseOrThrow(spec, {}));
      },
      py::arg("shape"), py::arg("format"),
      "Storage bits per element, scales included.");

  m.def(
      "qsnr",
      [](const FloatArray &x, const FloatArray &y) {
        if (x.size() != y.size())
          throw py::value_error("qsnr: arrays differ in size");
        return qsnrDecibels(x.data(), y.data(), x.size());
      },
      py::arg("reference"), py::arg("approx"),
      "-10 log10(|x - y|^2 / |x|^2) in dB.");

  m.def(
      "hadamard",
      [](const FloatArray &x, int axis, std::optional<uint64_t> seed) {
        std::vector<int64_t> shape = shapeOf(x);
        int rank = static_cast<int>(shape.size());
        int normalized = axis < 0 ? axis + rank : axis;
        if (normalized < 0 || normalized >= rank)
          throw py::value_error("hadamard: axis " + std::to_string(axis) +
                                " is out of range for rank " +
                                std::to_string(rank));
        std::vector<float> values(x.data(), x.data() + x.size());
        std::vector<float> signs;
        if (seed)
          signs = hadamardRandomSigns(shape[normalized], *seed);
        if (!hadamardTransformAxis(values.data(), shape, normalized,
                                   seed ? signs.data() : nullptr))
          throw py::value_error("hadamard: size " +
                                std::to_string(shape[normalized]) +
                                " is not 2^k times a known Hadamard order");
        return toArray(values, shape);
      },
      py::arg("x"), py::arg("axis") = -1, py::arg("seed") = py::none(),
      "The orthonormal (random-sign) Hadamard transform along `axis`, "
      "bit-identical to qc.hadamard.");

  m.def(
      "hadamard_matrix",
      [](int64_t n, std::optional<uint64_t> seed) {
        if (!decomposeHadamardSize(n))
          throw py::value_error("hadamard_matrix: size " + std::to_string(n) +
                                " is not 2^k times a known Hadamard order");
        std::vector<float> signs;
        if (seed)
          signs = hadamardRandomSigns(n, *seed);
        std::vector<double> q = hadamardMatrix(n, seed ? signs.data() : nullptr);
        py::array_t<double> out({n, n});
        std::copy(q.begin(), q.end(), out.mutable_data());
        return out;
      },
      py::arg("n"), py::arg("seed") = py::none(),
      "The dense orthonormal n x n matrix Q of hadamard(): y = Q x.");
}
