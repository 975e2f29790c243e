//===- quant-tensor.cpp - Quantize, pack and measure .npy tensors ---------===//
//
// A command-line front end to the format library (lib/Formats) for .npy
// files: fake-quantize, pack and unpack a tensor, measure QSNR and storage
// cost of formats (optionally after a Hadamard rotation), compare two files
// bit for bit, and generate seeded test tensors. Lit tests and the README
// demo use it to check numerics without Python.
//
// Every failure prints one line "quant-tensor: error: <subject>: <problem>"
// and exits with status 1; outputs are written only after everything
// succeeded, through writeNpy's atomic rename, so a failure creates no file.
//
//===----------------------------------------------------------------------===//

#include "quantc/Formats/Format.h"
#include "quantc/Formats/Hadamard.h"
#include "quantc/Runtime/Npy.h"

#include <algorithm>
#include <charconv>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

using namespace quantc;

namespace {

//===----------------------------------------------------------------------===//
// Errors and small text helpers
//===----------------------------------------------------------------------===//

[[noreturn]] void fail(const std::string &message) {
  std::fprintf(stderr, "quant-tensor: error: %s\n", message.c_str());
  std::exit(1);
}

std::string trim(const std::string &s) {
  size_t begin = s.find_first_not_of(" \t");
  if (begin == std::string::npos)
    return "";
  size_t end = s.find_last_not_of(" \t");
  return s.substr(begin, end - begin + 1);
}

std::vector<std::string> split(const std::string &s, char separator) {
  std::vector<std::string> parts;
  size_t begin = 0;
  while (true) {
    size_t end = s.find(separator, begin);
    parts.push_back(s.substr(begin, end - begin));
    if (end == std::string::npos)
      return parts;
    begin = end + 1;
  }
}

std::string join(const std::vector<std::string> &parts, const char *glue) {
  std::string s;
  for (size_t i = 0; i < parts.size(); ++i)
    s += (i ? glue : "") + parts[i];
  return s;
}

/// "256x4096"; "scalar" for a 0-d shape.
std::string shapeToString(const std::vector<int64_t> &shape) {
  if (shape.empty())
    return "scalar";
  std::vector<std::string> dims;
  for (int64_t d : shape)
    dims.push_back(std::to_string(d));
  return join(dims, "x");
}

/// All 17 significant digits of a double.
std::string formatExactly(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  return buffer;
}

std::string jsonString(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

/// JSON has no Inf/NaN: an exact reconstruction (infinite QSNR) or an
/// all-zero input (undefined QSNR) becomes null.
std::string jsonNumber(double value) {
  if (!std::isfinite(value))
    return "null";
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.6f", value);
  return buffer;
}

//===----------------------------------------------------------------------===//
// Command-line parsing
//===----------------------------------------------------------------------===//

struct OptionInfo {
  const char *name;      // "--format"
  const char *valueName; // "SPEC", or nullptr for a flag
  const char *help;
};

class Args;

struct Command {
  const char *name;
  const char *usage; // Everything after "quant-tensor NAME".
  const char *summary;
  const char *description;
  std::vector<OptionInfo> options;
  std::vector<const char *> positionals; // Names, for messages.
  bool takesFormat;
  int (*run)(const Args &);
};

/// The parsed command line of one subcommand: option values and positionals.
class Args {
public:
  Args(const Command &command, int argc, char **argv);

  const std::string &positional(size_t i) const { return positionals[i]; }
  bool has(const char *name) const { return values.count(name) != 0; }
  std::string value(const char *name, const std::string &fallback = "") const {
    auto it = values.find(name);
    return it == values.end() ? fallback : it->second;
  }
  std::string required(const char *name) const {
    if (!has(name))
      failUsage(std::string("missing ") + name);
    return value(name);
  }
  [[noreturn]] void failUsage(const std::string &problem) const {
    fail(std::string(command.name) + ": " + problem + " (see 'quant-tensor " +
         command.name + " --help')");
  }

private:
  const Command &command;
  std::map<std::string, std::string> values;
  std::vector<std::string> positionals;
};

void printCommandHelp(const Command &command);

Args::Args(const Command &command, int argc, char **argv) : command(command) {
  bool optionsEnded = false;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (optionsEnded || arg.size() < 2 || arg[0] != '-') {
      positionals.push_back(arg);
      continue;
    }
    if (arg == "--") {
      optionsEnded = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      printCommandHelp(command);
      std::exit(0);
    }
    std::string name = arg, inlineValue;
    bool hasInlineValue = false;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      inlineValue = arg.substr(eq + 1);
      hasInlineValue = true;
    }
    const OptionInfo *option = nullptr;
    for (const OptionInfo &o : command.options)
      if (name == o.name)
        option = &o;
    if (!option)
      failUsage("unknown option '" + name + "'");
    if (values.count(name))
      failUsage(name + " given twice");
    if (!option->valueName) {
      if (hasInlineValue)
        failUsage(name + " takes no value");
      values[name] = "";
    } else if (hasInlineValue) {
      values[name] = inlineValue;
    } else if (i + 1 < argc) {
      values[name] = argv[++i];
    } else {
      failUsage(name + " needs a value (" + option->valueName + ")");
    }
  }
  if (positionals.size() != command.positionals.size()) {
    std::vector<std::string> names(command.positionals.begin(),
                                   command.positionals.end());
    if (names.empty())
      failUsage("takes no file arguments, got '" + positionals[0] + "'");
    failUsage("expected " + std::to_string(names.size()) + " file argument" +
              (names.size() == 1 ? "" : "s") + " (" + join(names, " ") +
              "), got " + std::to_string(positionals.size()));
  }
}

int64_t parseInteger(const std::string &text, const char *what) {
  int64_t value = 0;
  const char *end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end)
    fail(std::string(what) + ": expected an integer, got '" + text + "'");
  return value;
}

double parseReal(const std::string &text, const char *what) {
  char *end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(value))
    fail(std::string(what) + ": expected a number, got '" + text + "'");
  return value;
}

uint64_t parseSeed(const std::string &text) {
  int64_t seed = parseInteger(text, "--seed");
  if (seed < 0)
    fail("--seed: expected a non-negative integer, got '" + text + "'");
  return static_cast<uint64_t>(seed);
}

/// "4x64" -> {4, 64}.
std::vector<int64_t> parseShape(const std::string &text, const char *what) {
  std::vector<int64_t> shape;
  for (const std::string &dim : split(text, 'x')) {
    int64_t d = parseInteger(trim(dim), what);
    if (d < 0)
      fail(std::string(what) + ": dimensions must be non-negative, got '" +
           text + "'");
    shape.push_back(d);
  }
  return shape;
}

//===----------------------------------------------------------------------===//
// Formats and tensors
//===----------------------------------------------------------------------===//

/// Accepts the library's spec syntax ("mxfp4, scale_rounding = ceil") and the
/// compact command-line form ("mxfp4:scale_rounding=ceil"), in which ':'
/// separates the overrides, so no spaces or quotes are needed.
Format parseFormatSpec(const std::string &spec, const Args &args) {
  std::string librarySpec = spec;
  std::replace(librarySpec.begin(), librarySpec.end(), ':', ',');
  std::string error;
  std::optional<Format> format = parseFormat(librarySpec, error);
  if (!format)
    fail("format '" + spec + "': " + error);
  // Command-line overrides apply on top of the spec's own.
  const std::pair<const char *, const char *> overrides[] = {
      {"--axis", "axis"}, {"--scale-rounding", "scale_rounding"}};
  for (auto [flag, key] : overrides)
    if (args.has(flag) && !applyFormatOption(*format, key, args.value(flag),
                                             error))
      fail(std::string(flag) + ": " + error);
  std::string problem = verifyFormat(*format);
  if (!problem.empty())
    fail("format '" + spec + "': " + problem);
  return *format;
}

/// An input file as f32 values.
struct Input {
  std::string path;
  HostTensor tensor;
  std::vector<float> values;
  const std::vector<int64_t> &shape() const { return tensor.shape; }
};

Input readInput(const std::string &path) {
  std::string error;
  std::optional<HostTensor> tensor = readNpy(path, error);
  if (!tensor)
    fail(error);
  Input input{path, std::move(*tensor), {}};
  input.values = toFloat32(input.tensor);
  return input;
}

void writeOutput(const std::string &path, const HostTensor &tensor) {
  std::string error;
  if (!writeNpy(path, tensor, error))
    fail(error);
}

QuantizedTensor quantizeInput(const Input &input, const Format &format) {
  std::string error;
  std::optional<QuantizedTensor> q =
      quantize(input.values.data(), input.shape(), format, error);
  if (!q)
    fail(input.path + ": " + error);
  return std::move(*q);
}

//===----------------------------------------------------------------------===//
// Subcommands
//===----------------------------------------------------------------------===//

int runFakeQuant(const Args &args) {
  Format format = parseFormatSpec(args.required("--format"), args);
  Input input = readInput(args.positional(0));
  std::vector<float> result = dequantize(quantizeInput(input, format));
  writeOutput(args.positional(1), fromFloat32(result, input.shape()));
  return 0;
}

struct QsnrRow {
  std::string spec;
  Format format;
  double qsnr;
  double bits;
};

/// The --formats list: ';'-separated full specs if the text has a ';', else
/// ','-separated names in the compact form.
std::vector<std::string> splitFormatList(const std::string &list) {
  bool semicolons = list.find(';') != std::string::npos;
  std::vector<std::string> specs;
  for (const std::string &item : split(list, semicolons ? ';' : ',')) {
    std::string spec = trim(item);
    if (spec.empty())
      continue;
    if (!semicolons && spec.find('=') != std::string::npos &&
        spec.find(':') == std::string::npos)
      fail("--formats: '" + spec +
           "' is not a format; separate full specs with ';' or write "
           "overrides as name:key=value");
    specs.push_back(spec);
  }
  if (specs.empty())
    fail("--formats: no format given");
  return specs;
}

/// Rotates `x` (the values of `input`) by the orthonormal Hadamard transform
/// along `format`'s axis, with the random signs of `seed` if given.
void rotateAlongAxis(std::vector<float> &x, const Input &input,
                     const std::string &spec, const Format &format,
                     std::optional<uint64_t> seed) {
  const std::vector<int64_t> &shape = input.shape();
  int rank = static_cast<int>(shape.size());
  int axis = format.axis < 0 ? format.axis + rank : format.axis;
  if (axis < 0 || axis >= rank)
    fail(input.path + ": format '" + spec + "': axis " +
         std::to_string(format.axis) + " is out of range for shape " +
         shapeToString(shape));
  int64_t size = shape[axis];
  std::vector<float> signs;
  if (seed)
    signs = hadamardRandomSigns(size, *seed);
  if (!decomposeHadamardSize(size) ||
      !hadamardTransformAxis(x.data(), shape, axis,
                             seed ? signs.data() : nullptr))
    fail(input.path + ": cannot rotate axis " + std::to_string(axis) +
         " of size " + std::to_string(size) +
         ": not 2^k times a known Hadamard order");
}

void printQsnrJson(const Input &input, bool hadamard,
                   std::optional<uint64_t> seed,
                   const std::vector<QsnrRow> &rows) {
  std::vector<std::string> dims;
  for (int64_t d : input.shape())
    dims.push_back(std::to_string(d));
  std::printf("{\n  \"input\": %s,\n  \"shape\": [%s],\n  \"hadamard\": %s,\n"
              "  \"seed\": %s,\n  \"results\": [\n",
              jsonString(input.path).c_str(), join(dims, ", ").c_str(),
              hadamard ? "true" : "false",
              seed ? std::to_string(*seed).c_str() : "null");
  for (size_t i = 0; i < rows.size(); ++i)
    std::printf("    {\"spec\": %s, \"format\": %s, \"qsnr_db\": %s, "
                "\"bits_per_element\": %s}%s\n",
                jsonString(rows[i].spec).c_str(),
                jsonString(printFormat(rows[i].format)).c_str(),
                jsonNumber(rows[i].qsnr).c_str(),
                jsonNumber(rows[i].bits).c_str(),
                i + 1 < rows.size() ? "," : "");
  std::printf("  ]\n}\n");
}

void printQsnrTable(const Input &input, bool hadamard,
                    std::optional<uint64_t> seed,
                    const std::vector<QsnrRow> &rows) {
  if (hadamard)
    std::printf("# %s: %s, Hadamard-rotated along each format's axis (%s)\n",
                input.path.c_str(), shapeToString(input.shape()).c_str(),
                seed ? ("random signs, seed " + std::to_string(*seed)).c_str()
                     : "no random signs");
  int width = 6; // "format"
  for (const QsnrRow &row : rows)
    width = std::max(width, static_cast<int>(row.spec.size()));
  std::printf("%-*s  %9s  %12s\n", width, "format", "QSNR (dB)",
              "bits/element");
  for (const QsnrRow &row : rows)
    std::printf("%-*s  %9.2f  %12.4f\n", width, row.spec.c_str(), row.qsnr,
                row.bits);
}

int runQsnr(const Args &args) {
  std::vector<std::string> specs = splitFormatList(args.required("--formats"));
  bool hadamard = args.has("--hadamard");
  if (args.has("--seed") && !hadamard)
    args.failUsage("--seed needs --hadamard");
  std::optional<uint64_t> seed;
  if (args.has("--seed"))
    seed = parseSeed(args.value("--seed"));
  std::vector<Format> formats;
  for (const std::string &spec : specs)
    formats.push_back(parseFormatSpec(spec, args));

  Input input = readInput(args.positional(0));
  std::vector<QsnrRow> rows;
  for (size_t i = 0; i < specs.size(); ++i) {
    std::vector<float> x = input.values;
    // The rotation is orthonormal, so the error measured in the rotated
    // domain equals the error after rotating Q(Hx) back.
    if (hadamard)
      rotateAlongAxis(x, input, specs[i], formats[i], seed);
    std::string error;
    std::optional<std::vector<float>> q =
        fakeQuantize(x.data(), input.shape(), formats[i], error);
    if (!q)
      fail(input.path + ": format '" + specs[i] + "': " + error);
    rows.push_back({specs[i], formats[i],
                    qsnrDecibels(x.data(), q->data(),
                                 static_cast<int64_t>(x.size())),
                    bitsPerElement(input.shape(), formats[i])});
  }
  if (args.has("--json"))
    printQsnrJson(input, hadamard, seed, rows);
  else
    printQsnrTable(input, hadamard, seed, rows);
  return 0;
}

int runHadamard(const Args &args) {
  Input input = readInput(args.positional(0));
  const std::vector<int64_t> &shape = input.shape();
  int rank = static_cast<int>(shape.size());
  int64_t axisValue =
      args.has("--axis") ? parseInteger(args.value("--axis"), "--axis") : -1;
  int axis = static_cast<int>(axisValue < 0 ? axisValue + rank : axisValue);
  if (axis < 0 || axis >= rank)
    fail(input.path + ": axis " + std::to_string(axisValue) +
         " is out of range for shape " + shapeToString(shape));
  std::vector<float> signs;
  if (args.has("--seed"))
    signs = hadamardRandomSigns(shape[axis], parseSeed(args.value("--seed")));
  std::vector<float> x = input.values;
  if (!hadamardTransformAxis(x.data(), shape, axis,
                             signs.empty() ? nullptr : signs.data()))
    fail(input.path + ": cannot rotate axis " + std::to_string(axis) +
         " of size " + std::to_string(shape[axis]) +
         ": not 2^k times a known Hadamard order");
  writeOutput(args.positional(1), fromFloat32(x, shape));
  return 0;
}

int runPack(const Args &args) {
  Format format = parseFormatSpec(args.required("--format"), args);
  Input input = readInput(args.positional(0));
  std::vector<uint8_t> bytes = pack(quantizeInput(input, format));
  HostTensor packed;
  packed.dtype = DType::U8;
  packed.shape = {static_cast<int64_t>(bytes.size())};
  packed.bytes = std::move(bytes);
  writeOutput(args.positional(1), packed);
  return 0;
}

int runUnpack(const Args &args) {
  Format format = parseFormatSpec(args.required("--format"), args);
  std::vector<int64_t> shape = parseShape(args.required("--shape"), "--shape");
  const std::string &path = args.positional(0);
  std::string error;
  std::optional<HostTensor> packed = readNpy(path, error);
  if (!packed)
    fail(error);
  if (packed->dtype != DType::U8)
    fail(path + ": expected packed bytes (uint8), found " +
         dtypeName(packed->dtype));
  std::optional<QuantizedTensor> q = unpack(
      packed->bytes.data(), packed->bytes.size(), shape, format, error);
  if (!q)
    fail(path + ": " + error);
  writeOutput(args.positional(1), fromFloat32(dequantize(*q), shape));
  return 0;
}

/// Element i as a double: exact for every dtype except int64 beyond 2^53.
std::vector<double> valuesAsDouble(const HostTensor &tensor) {
  int64_t n = tensor.numElements();
  std::vector<double> values(n);
  auto convert = [&](auto type) {
    using T = decltype(type);
    for (int64_t i = 0; i < n; ++i) {
      T v;
      std::memcpy(&v, tensor.bytes.data() + i * sizeof(T), sizeof(T));
      values[i] = static_cast<double>(v);
    }
  };
  switch (tensor.dtype) {
  case DType::F64:
    convert(double());
    break;
  case DType::I32:
    convert(int32_t());
    break;
  case DType::I64:
    convert(int64_t());
    break;
  default: {
    // Every value of the narrower types is exact in f32.
    std::vector<float> f = toFloat32(tensor);
    values.assign(f.begin(), f.end());
  }
  }
  return values;
}

/// Element i in the shortest text that reads back as the same value of its
/// dtype: integers in full, f32/f16 as the shortest float, f64 as the
/// shortest double.
std::string formatElement(const HostTensor &tensor,
                          const std::vector<double> &values, int64_t i) {
  char buffer[64];
  std::to_chars_result r;
  switch (tensor.dtype) {
  case DType::F32:
  case DType::F16:
    r = std::to_chars(buffer, buffer + sizeof(buffer),
                      static_cast<float>(values[i]));
    break;
  case DType::F64:
    r = std::to_chars(buffer, buffer + sizeof(buffer), values[i]);
    break;
  case DType::I64: {
    // Beyond 2^53 the double is not exact; read the element itself.
    int64_t v;
    std::memcpy(&v, tensor.bytes.data() + i * sizeof(v), sizeof(v));
    r = std::to_chars(buffer, buffer + sizeof(buffer), v);
    break;
  }
  default:
    r = std::to_chars(buffer, buffer + sizeof(buffer),
                      static_cast<int64_t>(values[i]));
  }
  return std::string(buffer, r.ptr);
}

/// "[1, 5]" for flat index 13 of shape 2x8.
std::string multiIndex(int64_t flat, const std::vector<int64_t> &shape) {
  std::vector<std::string> parts(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    parts[d] = std::to_string(flat % shape[d]);
    flat /= shape[d];
  }
  return "[" + join(parts, ", ") + "]";
}

int runCompare(const Args &args) {
  bool tolerance = args.has("--rtol") || args.has("--atol");
  if (tolerance && args.has("--exact"))
    args.failUsage("--exact excludes --rtol/--atol");
  double rtol = parseReal(args.value("--rtol", "0"), "--rtol");
  double atol = parseReal(args.value("--atol", "0"), "--atol");
  if (rtol < 0 || atol < 0)
    args.failUsage("tolerances must be non-negative");
  std::string error;
  const std::string &pathA = args.positional(0), &pathB = args.positional(1);
  std::optional<HostTensor> a = readNpy(pathA, error);
  if (!a)
    fail(error);
  std::optional<HostTensor> b = readNpy(pathB, error);
  if (!b)
    fail(error);
  if (a->shape != b->shape) {
    std::printf("mismatch: shape %s (%s) vs %s (%s)\n",
                shapeToString(a->shape).c_str(), pathA.c_str(),
                shapeToString(b->shape).c_str(), pathB.c_str());
    return 1;
  }
  std::vector<double> va = valuesAsDouble(*a), vb = valuesAsDouble(*b);
  bool sameDType = a->dtype == b->dtype;
  int size = dtypeSize(a->dtype);
  auto equal = [&](int64_t i) {
    double x = va[i], y = vb[i];
    if (std::isnan(x) || std::isnan(y))
      return std::isnan(x) && std::isnan(y);
    if (tolerance)
      return x == y || std::fabs(x - y) <= atol + rtol * std::fabs(y);
    // Bitwise: -0 differs from +0. Same dtypes compare their bytes, which
    // also keeps int64 exact.
    if (sameDType)
      return std::memcmp(a->bytes.data() + i * size,
                         b->bytes.data() + i * size, size) == 0;
    return x == y && std::signbit(x) == std::signbit(y);
  };
  int64_t n = static_cast<int64_t>(va.size()), mismatches = 0, first = -1;
  for (int64_t i = 0; i < n; ++i)
    if (!equal(i) && mismatches++ == 0)
      first = i;
  if (mismatches == 0) {
    std::printf("match: %lld elements\n", static_cast<long long>(n));
    return 0;
  }
  std::string textA = formatElement(*a, va, first),
              textB = formatElement(*b, vb, first);
  if (textA == textB) {
    // The shortest f32 and f64 texts of different values can coincide.
    textA = formatExactly(va[first]);
    textB = formatExactly(vb[first]);
  }
  std::printf("mismatch: %lld of %lld elements differ; first at %s: %s = %s, "
              "%s = %s\n",
              static_cast<long long>(mismatches), static_cast<long long>(n),
              multiIndex(first, a->shape).c_str(), pathA.c_str(), textA.c_str(),
              pathB.c_str(), textB.c_str());
  return 1;
}

/// Uniform double in [0, 1) from the top 53 bits; written out rather than
/// std::uniform_real_distribution, whose algorithm the standard leaves open.
double uniform01(std::mt19937_64 &rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

int runGen(const Args &args) {
  std::vector<int64_t> shape = parseShape(args.required("--shape"), "--shape");
  uint64_t seed = parseSeed(args.value("--seed", "0"));
  std::string dist = args.value("--dist", "normal");
  if (dist != "normal" && dist != "uniform")
    fail("--dist: expected 'normal' or 'uniform', got '" + dist + "'");
  int64_t outliers =
      parseInteger(args.value("--outlier-channels", "0"), "--outlier-channels");
  double outlierScale =
      parseReal(args.value("--outlier-scale", "10"), "--outlier-scale");
  if (shape.empty())
    fail("--shape: gen needs at least one dimension");
  int64_t channels = shape.back();
  if (outliers < 0 || outliers > channels)
    fail("--outlier-channels: " + std::to_string(outliers) +
         " is not between 0 and the last dimension (" +
         std::to_string(channels) + ")");

  // A bound that keeps the element count and the file size well in range.
  const int64_t maxElements = int64_t(1) << 32;
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d != 0 && n > maxElements / d)
      fail("--shape: " + shapeToString(shape) + " has more than 2^32 elements");
    n *= d;
  }
  std::vector<float> values(n);
  std::mt19937_64 rng(seed);
  if (dist == "uniform") {
    for (float &v : values)
      v = static_cast<float>(2.0 * uniform01(rng) - 1.0);
  } else {
    // Box-Muller: each pair of uniforms gives two independent normals.
    const double twoPi = 6.283185307179586476925;
    for (int64_t i = 0; i < n; i += 2) {
      double u1 = 1.0 - uniform01(rng); // (0, 1], so the log is finite
      double u2 = uniform01(rng);
      double radius = std::sqrt(-2.0 * std::log(u1));
      values[i] = static_cast<float>(radius * std::cos(twoPi * u2));
      if (i + 1 < n)
        values[i + 1] = static_cast<float>(radius * std::sin(twoPi * u2));
    }
  }
  // Outlier channels k = 0..K-1 sit at the centres of K equal slices of the
  // last axis: index floor((2k + 1) * C / (2K)).
  for (int64_t k = 0; k < outliers; ++k) {
    int64_t channel = (2 * k + 1) * channels / (2 * outliers);
    for (int64_t i = channel; i < n; i += channels)
      values[i] = static_cast<float>(values[i] * outlierScale);
  }
  writeOutput(args.positional(0), fromFloat32(values, shape));
  return 0;
}

int runPrint(const Args &args) {
  const std::string &path = args.positional(0);
  std::string error;
  std::optional<HostTensor> tensor = readNpy(path, error);
  if (!tensor)
    fail(error);
  const std::vector<int64_t> &shape = tensor->shape;
  std::printf("%s: %s %s\n", path.c_str(), dtypeName(tensor->dtype),
              shapeToString(shape).c_str());
  std::vector<double> values = valuesAsDouble(*tensor);
  // One line per row of the last axis, prefixed by the leading indices.
  int64_t rowLength = shape.empty() ? 1 : shape.back();
  if (rowLength == 0)
    return 0;
  std::vector<int64_t> leading(shape.begin(),
                               shape.empty() ? shape.end() : shape.end() - 1);
  for (size_t start = 0; start < values.size(); start += rowLength) {
    std::string line =
        leading.empty() ? "" : multiIndex(start / rowLength, leading) + " ";
    for (int64_t j = 0; j < rowLength; ++j)
      line += (j ? " " : "") + formatElement(*tensor, values, start + j);
    std::printf("%s\n", line.c_str());
  }
  return 0;
}

int runFormats(const Args &) {
  std::printf("%-12s  %-8s  %-16s  %s\n", "name", "element", "granularity",
              "scale");
  for (const std::string &name : namedFormats()) {
    std::string error;
    std::optional<Format> f = parseFormat(name, error);
    if (!f)
      fail("format '" + name + "': " + error);
    const ElementType &e = f->element;
    std::string element =
        e.kind == ElementKind::Int
            ? std::string(e.isSigned ? "int" : "uint") + std::to_string(e.bits)
            : "e" + std::to_string(e.exponentBits) + "m" +
                  std::to_string(e.mantissaBits);
    std::string granularity = granularityName(f->granularity);
    if (f->granularity == Granularity::Block)
      granularity += " " + std::to_string(f->blockSize);
    else if (f->granularity == Granularity::Block2D)
      granularity += " " + std::to_string(f->blockSize) + "x" +
                     std::to_string(f->blockSize2);
    std::string scale = scaleTypeName(f->scaleType);
    if (f->secondLevelScale)
      scale += " + f32 per tensor";
    if (!f->symmetric)
      scale += " + zero point";
    std::printf("%-12s  %-8s  %-16s  %s\n", name.c_str(), element.c_str(),
                granularity.c_str(), scale.c_str());
  }
  return 0;
}

//===----------------------------------------------------------------------===//
// Help
//===----------------------------------------------------------------------===//

const OptionInfo kAxisOption = {
    "--axis", "A",
    "quantize along axis A (negative counts from the end); overrides the "
    "format's axis"};
const OptionInfo kScaleRoundingOption = {
    "--scale-rounding", "floor|ceil|nearest",
    "how power-of-two (e8m0) scales round the block exponent; overrides the "
    "format's"};

const std::vector<Command> &commands() {
  static const std::vector<Command> all = {
      {"fake-quant", "--format SPEC [--axis A] [--scale-rounding R] IN.npy OUT.npy",
       "quantize then dequantize a tensor; writes f32",
       "Reads any numeric .npy (f32, f16, f64, integers, bool), converts it to "
       "f32,\nquantizes and dequantizes it with the format, and writes the f32 "
       "result.",
       {{"--format", "SPEC", "the format (see 'format specs' below)"},
        kAxisOption,
        kScaleRoundingOption},
       {"IN.npy", "OUT.npy"},
       true,
       runFakeQuant},
      {"qsnr",
       "--formats LIST [--hadamard [--seed S]] [--axis A] [--json] IN.npy",
       "QSNR and storage cost of each format on a tensor",
       "Prints one row per format: QSNR = -10 log10(|x - Q(x)|^2 / |x|^2) in "
       "dB, and\nthe storage bits per element with scales included. LIST is "
       "comma-separated\nspecs in the compact form (mxfp4,nvfp4:clip=0.9), or "
       "';'-separated full specs\n(\"e2m1, block = 32; int4_g32\").\n\n"
       "--hadamard rotates x by an orthonormal Hadamard transform along each "
       "format's\nquantized axis before quantizing, and measures the QSNR in "
       "the rotated domain;\nbecause the rotation is orthonormal, this equals "
       "the QSNR measured after\nrotating Q(Hx) back. --seed S adds the random "
       "sign flips of seed S\n(quantc::hadamardRandomSigns).",
       {{"--formats", "LIST", "the formats to measure"},
        {"--hadamard", nullptr, "rotate before quantizing"},
        {"--seed", "S", "random signs for the rotation (needs --hadamard)"},
        kAxisOption,
        kScaleRoundingOption,
        {"--json", nullptr,
         "print JSON: {input, shape, hadamard, seed, results: [{spec, format, "
         "qsnr_db, bits_per_element}]}; a non-finite QSNR is null"}},
       {"IN.npy"},
       true,
       runQsnr},
      {"hadamard", "[--axis A] [--seed S] IN.npy OUT.npy",
       "rotate a tensor by the orthonormal Hadamard transform",
       "Applies (H_2^k kron H_m) diag(s) / sqrt(n) along axis A (default -1) "
       "to every line,\nwith n = 2^k * m and m a known Hadamard order; s are "
       "the seeded random signs\n(--seed) or all ones. Writes f32; this is "
       "what qc.hadamard computes.",
       {{"--axis", "A", "the rotated axis (default -1)"},
        {"--seed", "S", "random signs from this seed (default: none)"}},
       {"IN.npy", "OUT.npy"},
       false,
       runHadamard},
      {"pack", "--format SPEC [--axis A] [--scale-rounding R] IN.npy OUT.npy",
       "quantize a tensor and write the packed bytes",
       "Writes quantc::pack's canonical layout as a 1-d uint8 .npy: the codes "
       "as an\nLSB-first bit stream (element 2i of a 4-bit format in the low "
       "nibble), the\nscales, zero points, and the f32 tensor scale of "
       "two-level formats.",
       {{"--format", "SPEC", "the format"}, kAxisOption, kScaleRoundingOption},
       {"IN.npy", "OUT.npy"},
       true,
       runPack},
      {"unpack",
       "--format SPEC --shape DIMS [--axis A] [--scale-rounding R] IN.npy "
       "OUT.npy",
       "decode packed bytes back to f32 values",
       "Reads a uint8 .npy written by 'pack' and writes dequantize(unpack(...)) "
       "as f32\nwith the given shape; pack then unpack equals fake-quant bit "
       "for bit.",
       {{"--format", "SPEC", "the format the bytes were packed with"},
        {"--shape", "DIMS", "the tensor's shape, e.g. 4x64"},
        kAxisOption,
        kScaleRoundingOption},
       {"IN.npy", "OUT.npy"},
       true,
       runUnpack},
      {"compare", "[--exact | --rtol R --atol A] A.npy B.npy",
       "compare two tensors; exit status 1 if they differ",
       "Prints \"match: N elements\", or the number of differing elements and "
       "the first\none with both values, and exits with status 1. Shapes must "
       "be equal; dtypes may\ndiffer (values are compared exactly as numbers).\n"
       "--exact (the default): bitwise equality (-0 differs from +0); NaN "
       "equals NaN.\n--rtol/--atol: |a - b| <= atol + rtol * |b|, as "
       "numpy.allclose; NaN equals NaN.",
       {{"--exact", nullptr, "bitwise equality (default)"},
        {"--rtol", "R", "relative tolerance (default 0)"},
        {"--atol", "A", "absolute tolerance (default 0)"}},
       {"A.npy", "B.npy"},
       false,
       runCompare},
      {"gen",
       "--shape DIMS [--seed S] [--dist normal|uniform] [--outlier-channels K "
       "[--outlier-scale F]] OUT.npy",
       "write a seeded random f32 tensor",
       "Standard normal (Box-Muller) or uniform [-1, 1) values from "
       "std::mt19937_64\nseeded with S; the transforms are written out (no "
       "std:: distributions), so a\nseed gives the same tensor with every "
       "standard library.\nWith --outlier-channels K, K channels of the "
       "last axis, at the centres of K\nequal slices (index floor((2k+1) C / "
       "2K)), are multiplied by F.",
       {{"--shape", "DIMS", "the shape, e.g. 256x4096"},
        {"--seed", "S", "the random seed (default 0)"},
        {"--dist", "normal|uniform", "the distribution (default normal)"},
        {"--outlier-channels", "K", "number of outlier channels (default 0)"},
        {"--outlier-scale", "F", "outlier channel multiplier (default 10)"}},
       {"OUT.npy"},
       false,
       runGen},
      {"print", "IN.npy", "print a tensor's dtype, shape and values",
       "Prints \"IN.npy: DTYPE SHAPE\", then one line per row of the last "
       "axis, prefixed by\nthe row's leading indices. Values are printed in "
       "the shortest form that reads\nback exactly.",
       {},
       {"IN.npy"},
       false,
       runPrint},
      {"formats", "", "list the named formats",
       "Lists every named format with its element type, granularity and "
       "scale.",
       {},
       {},
       false,
       runFormats},
  };
  return all;
}

/// Prints `text` indented, wrapping a comma-separated list at 80 columns.
void printWrapped(const std::vector<std::string> &words, const char *indent) {
  std::string line = indent;
  for (size_t i = 0; i < words.size(); ++i) {
    std::string word = words[i] + (i + 1 < words.size() ? "," : "");
    if (line.size() + word.size() + 1 > 80 && line != indent) {
      std::printf("%s\n", line.c_str());
      line = indent;
    }
    line += (line == indent ? "" : " ") + word;
  }
  std::printf("%s\n", line.c_str());
}

void printFormatSpecHelp() {
  std::printf(
      "\nformat specs:\n"
      "  A named format, optionally followed by \", key = value\" overrides:\n"
      "    mxfp4   \"mxfp4, scale_rounding = ceil\"   \"e2m1, block = 32, "
      "scale = e8m0\"\n"
      "  or the same in the compact form, where ':' separates overrides and "
      "no quotes\n  are needed:\n"
      "    mxfp4   mxfp4:scale_rounding=ceil   e2m1:block=32:scale=e8m0\n"
      "  keys: element, block, block2, granularity, axis, scale, "
      "scale_rounding,\n"
      "        second_level_scale, symmetric, clip, amax, saturate, special, bias\n"
      "  a _gN suffix gives a format one scale per N elements: int4_g64, "
      "e4m3_g32\n"
      "  named formats ('quant-tensor formats' describes them):\n");
  printWrapped(namedFormats(), "    ");
}

void printCommandHelp(const Command &command) {
  std::string summary = command.summary;
  summary[0] = static_cast<char>(std::toupper(summary[0]));
  std::printf("usage: quant-tensor %s %s\n\n%s.\n\n%s\n", command.name,
              command.usage, summary.c_str(), command.description);
  if (!command.options.empty()) {
    std::printf("\noptions:\n");
    // "  --flag VALUE   help text", the help wrapped in its own column.
    const size_t column = 24;
    for (const OptionInfo &o : command.options) {
      std::string line = std::string("  ") + o.name +
                         (o.valueName ? std::string(" ") + o.valueName : "");
      if (line.size() + 2 > column) {
        std::printf("%s\n", line.c_str());
        line.clear();
      }
      for (const std::string &word : split(o.help, ' ')) {
        if (line.size() > column && line.size() + word.size() + 1 > 80) {
          std::printf("%s\n", line.c_str());
          line.clear();
        }
        line.resize(std::max(line.size(), column), ' ');
        line += (line.size() > column ? " " : "") + word;
      }
      std::printf("%s\n", line.c_str());
    }
  }
  if (command.takesFormat)
    printFormatSpecHelp();
}

void printToolHelp() {
  std::printf("usage: quant-tensor COMMAND [options] FILES...\n"
              "       quant-tensor COMMAND --help\n\n"
              "Quantizes, packs and measures .npy tensors with quantc's "
              "format library.\n\ncommands:\n");
  for (const Command &c : commands())
    std::printf("  %-12s %s\n", c.name, c.summary);
  std::printf("\nErrors print one line \"quant-tensor: error: ...\" and exit "
              "with status 1;\noutput files are only created when a command "
              "succeeds.\n");
  printFormatSpecHelp();
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    printToolHelp();
    return 1;
  }
  std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    // "quant-tensor help COMMAND" is "quant-tensor COMMAND --help".
    for (const Command &command : commands())
      if (argc > 2 && command.name == std::string(argv[2])) {
        printCommandHelp(command);
        return 0;
      }
    printToolHelp();
    return 0;
  }
  for (const Command &command : commands())
    if (name == command.name)
      return command.run(Args(command, argc - 2, argv + 2));
  fail("unknown command '" + name + "' (see 'quant-tensor --help')");
}
