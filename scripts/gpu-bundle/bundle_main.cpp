//===- bundle_main.cpp - The GPU bundle's driver ---------------------------===//
//
// One program, built twice by scripts/make-gpu-bundle.sh:
//   qc-gpu-check  with every check function compiled in (quantc-lower-to-cuda
//                 host code + embedded PTX, called through _mlir_ciface_*)
//   qc-gpu-bench  without them (its kernels come from PTX files)
// Both need only glibc and, at run time, libcuda.so.1 (opened with dlopen by
// lib/Runtime/CudaDriver.cpp, compiled in).
//
//   info                         the device, as JSON; exit 1 without one
//   gen   --cases T --out D      writes the inputs of every case of T to D
//                                (x_<seed>.npy, w_<seed>.npy; D = "-": none)
//                                and prints "name<TAB>x_hash<TAB>w_hash"
//   check --cases T --expected D [--json F] [--only S] [--dry-run 1]
//                                regenerates the inputs (bit-identical: integer
//                                PRNG + quantc's format library; verified
//                                against the hashes in T), runs each compiled
//                                function on the GPU and compares with
//                                D/<name>.npy (the CPU path's output);
//                                --dry-run 1: without a device, everything
//                                but the GPU (the calls fail, cleanly)
//   bench --manifest T --ptx D [--json F] [--min-ms N] [--only S]
//                                launches each kernel of T on device buffers
//                                (random weight bytes made here, rotated over
//                                more memory than the L2 holds) and times it
//                                with CUDA events around a CUDA graph of
//                                back-to-back launches
//
// Errors are one line "qc-gpu-*: error: ..." and exit status 1.
//
//===----------------------------------------------------------------------===//

#include "bundle_cases.h"

#include "quantc/Formats/Format.h"
#include "quantc/Runtime/CudaDriver.h"
#include "quantc/Runtime/Npy.h"

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <thread>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

using namespace quantc;
namespace cu = quantc::cuda;

namespace {

const char *gProgram = "qc-gpu-bundle";

[[noreturn]] void fail(const std::string &message) {
  std::fprintf(stderr, "%s: error: %s\n", gProgram, message.c_str());
  std::exit(1);
}

//===----------------------------------------------------------------------===//
// Small utilities
//===----------------------------------------------------------------------===//

std::string jsonString(const std::string &s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string jsonNumber(double v) {
  if (!std::isfinite(v))
    return "null";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

struct Table {
  std::map<std::string, size_t> column;
  std::vector<std::vector<std::string>> rows;
  const std::string &get(const std::vector<std::string> &row,
                         const std::string &name) const {
    auto it = column.find(name);
    if (it == column.end() || it->second >= row.size())
      fail("table has no column '" + name + "'");
    return row[it->second];
  }
  bool has(const std::string &name) const { return column.count(name) != 0; }
};

std::vector<std::string> splitTabs(const std::string &line) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : line) {
    if (c == '\t') {
      out.push_back(cur);
      cur.clear();
    } else if (c != '\r') {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

/// A TSV whose first line is "#col1<TAB>col2...".
Table readTable(const std::string &path) {
  std::ifstream in(path);
  if (!in)
    fail(path + ": cannot open");
  Table t;
  std::string line;
  bool header = false;
  while (std::getline(in, line)) {
    if (line.empty())
      continue;
    if (line[0] == '#') {
      if (!header) {
        std::vector<std::string> names = splitTabs(line.substr(1));
        for (size_t i = 0; i < names.size(); ++i)
          t.column[names[i]] = i;
        header = true;
      }
      continue;
    }
    t.rows.push_back(splitTabs(line));
  }
  if (!header)
    fail(path + ": no '#' header line");
  return t;
}

std::vector<int64_t> parseShape(const std::string &s) {
  std::vector<int64_t> shape;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, 'x'))
    shape.push_back(std::stoll(part));
  return shape;
}

int64_t product(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

uint64_t fnv1a(const std::vector<uint8_t> &bytes) {
  uint64_t h = 1469598103934665603ull;
  for (uint8_t b : bytes) {
    h ^= b;
    h *= 1099511628211ull;
  }
  return h;
}

std::string hex64(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

/// splitmix64: integer-only, so that a seed gives the same stream everywhere.
struct Rng {
  uint64_t state;
  explicit Rng(uint64_t seed) : state(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
};

/// Approximately standard normal values (Irwin-Hall of 4 uniforms) computed
/// with integer sums, one int->float conversion and one multiply, both
/// correctly rounded: the same bits on every IEEE machine, no libm.
std::vector<float> gaussian(int64_t count, uint64_t seed) {
  Rng rng(seed);
  const float scale = static_cast<float>(1.7320508075688772 / 16777216.0);
  std::vector<float> out(count);
  for (int64_t i = 0; i < count; ++i) {
    int64_t s = 0;
    for (int j = 0; j < 4; ++j)
      s += static_cast<int64_t>(rng.next() >> 40) - (int64_t(1) << 23);
    out[i] = static_cast<float>(s) * scale;
  }
  return out;
}

/// f32 -> IEEE binary16, round to nearest even (no F16C / libgcc dependence).
uint16_t toHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t absx = x & 0x7FFFFFFFu;
  if (absx >= 0x7F800000u) // inf / nan
    return sign | 0x7C00u | (absx > 0x7F800000u ? 0x200u : 0u);
  if (absx >= 0x477FF000u) // rounds to >= 65520: overflow to inf
    return sign | 0x7C00u;
  if (absx < 0x38800000u) { // subnormal half (or zero)
    if (absx < 0x33000000u)
      return sign;
    uint32_t mant = (absx & 0x7FFFFFu) | 0x800000u;
    int shift = 126 - static_cast<int>(absx >> 23); // 14..24
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1)))
      ++half;
    return sign | half;
  }
  uint32_t half = ((absx >> 23) - 112) << 10 | ((absx >> 13) & 0x3FFu);
  uint32_t rem = absx & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1)))
    ++half;
  return sign | half;
}

//===----------------------------------------------------------------------===//
// Inputs
//===----------------------------------------------------------------------===//

HostTensor makeActivations(const std::vector<int64_t> &shape,
                           const std::string &dtype, uint64_t seed) {
  std::vector<float> values = gaussian(product(shape), seed);
  HostTensor t;
  t.shape = shape;
  if (dtype == "f32") {
    t.dtype = DType::F32;
    t.bytes.resize(values.size() * 4);
    std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  } else if (dtype == "f16") {
    t.dtype = DType::F16;
    t.bytes.resize(values.size() * 2);
    for (size_t i = 0; i < values.size(); ++i) {
      uint16_t h = toHalf(values[i]);
      std::memcpy(t.bytes.data() + 2 * i, &h, 2);
    }
  } else {
    fail("unsupported activation type '" + dtype + "'");
  }
  return t;
}

/// W[n, k] ~ N(0, 1), quantized along k and packed (canonical layout), as
/// `quant-tensor pack` writes it: a 1-d uint8 tensor.
HostTensor makeWeights(int64_t n, int64_t k, const std::string &spec,
                       uint64_t seed) {
  std::string error;
  std::optional<Format> format = parseFormat(spec, error);
  if (!format)
    fail("format '" + spec + "': " + error);
  std::vector<float> values = gaussian(n * k, seed);
  std::optional<QuantizedTensor> q =
      quantize(values.data(), {n, k}, *format, error);
  if (!q)
    fail("quantize '" + spec + "': " + error);
  HostTensor t;
  t.dtype = DType::U8;
  t.bytes = pack(*q);
  t.shape = {static_cast<int64_t>(t.bytes.size())};
  return t;
}

struct CaseInputs {
  std::map<std::string, HostTensor> xs_, ws_; // by seed
  const HostTensor &x(const Table &t, const std::vector<std::string> &row) {
    const std::string &seed = t.get(row, "x_seed");
    auto it = xs_.find(seed);
    if (it == xs_.end())
      it = xs_.emplace(seed, makeActivations(parseShape(t.get(row, "x_shape")),
                                            t.get(row, "x_dtype"),
                                            std::stoull(seed)))
               .first;
    return it->second;
  }
  /// Generates every input of `rows` not generated yet, on all cores (the
  /// large weights dominate the check's run time otherwise).
  void prefetch(const Table &t, const std::vector<const std::vector<std::string> *> &rows) {
    std::vector<std::function<void()>> work;
    std::map<std::string, HostTensor> newXs, newWs;
    for (const auto *row : rows) {
      const std::string &xs = t.get(*row, "x_seed"), &wsd = t.get(*row, "w_seed");
      if (!xs_.count(xs) && !newXs.count(xs)) {
        HostTensor *slot = &newXs[xs];
        auto shape = parseShape(t.get(*row, "x_shape"));
        std::string dtype = t.get(*row, "x_dtype");
        work.push_back([=] { *slot = makeActivations(shape, dtype, std::stoull(xs)); });
      }
      if (!ws_.count(wsd) && !newWs.count(wsd)) {
        HostTensor *slot = &newWs[wsd];
        int64_t n = std::stoll(t.get(*row, "n")), k = std::stoll(t.get(*row, "k"));
        std::string format = t.get(*row, "format");
        work.push_back([=] { *slot = makeWeights(n, k, format, std::stoull(wsd)); });
      }
    }
    // Largest first would be better; the pool is small enough not to matter.
    std::atomic<size_t> next{0};
    unsigned threads = std::max(1u, std::min(16u, std::thread::hardware_concurrency()));
    std::vector<std::thread> pool;
    for (unsigned i = 0; i < threads; ++i)
      pool.emplace_back([&] {
        for (size_t j; (j = next++) < work.size();)
          work[j]();
      });
    for (std::thread &th : pool)
      th.join();
    for (auto &[k, v] : newXs)
      xs_.emplace(k, std::move(v));
    for (auto &[k, v] : newWs)
      ws_.emplace(k, std::move(v));
  }
  const HostTensor &w(const Table &t, const std::vector<std::string> &row) {
    const std::string &seed = t.get(row, "w_seed");
    auto it = ws_.find(seed);
    if (it == ws_.end())
      it = ws_.emplace(seed, makeWeights(std::stoll(t.get(row, "n")),
                                        std::stoll(t.get(row, "k")),
                                        t.get(row, "format"), std::stoull(seed)))
               .first;
    return it->second;
  }
};

/// `only`: substrings separated by '|'; empty matches everything.
bool matches(const std::string &name, const std::string &only) {
  if (only.empty())
    return true;
  std::stringstream ss(only);
  std::string part;
  while (std::getline(ss, part, '|'))
    if (!part.empty() && name.find(part) != std::string::npos)
      return true;
  return false;
}

//===----------------------------------------------------------------------===//
// Options
//===----------------------------------------------------------------------===//

struct Options {
  std::map<std::string, std::string> values;
  std::string get(const std::string &key, const std::string &fallback = "") const {
    auto it = values.find(key);
    return it == values.end() ? fallback : it->second;
  }
  std::string need(const std::string &key) const {
    auto it = values.find(key);
    if (it == values.end())
      fail("missing --" + key);
    return it->second;
  }
};

Options parseOptions(int argc, char **argv, int first) {
  Options o;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || i + 1 >= argc)
      fail("bad argument '" + a + "' (options are --name value)");
    o.values[a.substr(2)] = argv[++i];
  }
  return o;
}

void writeText(const std::string &path, const std::string &text) {
  if (path.empty())
    return;
  std::ofstream out(path);
  if (!out)
    fail(path + ": cannot write");
  out << text;
}

//===----------------------------------------------------------------------===//
// info
//===----------------------------------------------------------------------===//

const cu::Device *device() {
  std::string error;
  const cu::Device *d = cu::openDevice(error);
  if (!d)
    fail(error);
  return d;
}

std::string deviceJson(const cu::Device &d) {
  std::ostringstream s;
  s << "{\"name\": " << jsonString(d.name) << ", \"compute_capability\": \""
    << d.computeMajor << "." << d.computeMinor
    << "\", \"multiprocessors\": " << d.multiprocessors
    << ", \"memory_bytes\": " << d.memoryBytes
    << ", \"driver_version\": " << d.driverVersion << "}";
  return s.str();
}

int runInfo() {
  const cu::Device *d = device();
  std::printf("%s\n", deviceJson(*d).c_str());
  return 0;
}

//===----------------------------------------------------------------------===//
// gen
//===----------------------------------------------------------------------===//

int runGen(const Options &o) {
  Table t = readTable(o.need("cases"));
  std::string out = o.need("out");
  CaseInputs inputs;
  std::vector<const std::vector<std::string> *> all;
  for (const auto &row : t.rows)
    all.push_back(&row);
  inputs.prefetch(t, all);
  std::map<std::string, bool> written;
  for (const auto &row : t.rows) {
    const HostTensor &x = inputs.x(t, row);
    const HostTensor &w = inputs.w(t, row);
    std::string error;
    std::string xpath = out + "/x_" + t.get(row, "x_seed") + ".npy";
    std::string wpath = out + "/w_" + t.get(row, "w_seed") + ".npy";
    if (out != "-") {
      if (!written[xpath] && !writeNpy(xpath, x, error))
        fail(error);
      if (!written[wpath] && !writeNpy(wpath, w, error))
        fail(error);
      written[xpath] = written[wpath] = true;
    }
    std::printf("%s\t%s\t%s\n", t.get(row, "name").c_str(),
                hex64(fnv1a(x.bytes)).c_str(), hex64(fnv1a(w.bytes)).c_str());
  }
  return 0;
}

//===----------------------------------------------------------------------===//
// check
//===----------------------------------------------------------------------===//

/// A memref descriptor of any rank: {allocated, aligned, offset, sizes, strides}.
std::vector<int64_t> descriptor(void *data, const std::vector<int64_t> &shape) {
  std::vector<int64_t> d;
  d.push_back(reinterpret_cast<int64_t>(data));
  d.push_back(reinterpret_cast<int64_t>(data));
  d.push_back(0);
  for (int64_t s : shape)
    d.push_back(s);
  std::vector<int64_t> strides(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  for (int64_t s : strides)
    d.push_back(s);
  return d;
}

const CheckFunction *findFunction(const std::string &name) {
  for (const CheckFunction *f = kCheckFunctions; f->name; ++f)
    if (name == f->name)
      return f;
  return nullptr;
}

// Tolerance (see run.sh): max|gpu - cpu| <= rel * max|cpu| + 1e-5, rel = 1e-3
// for f32 results, 2e-3 for f16 results (one f16 ulp is up to 2^-10 of a
// value, and the two paths may round a result to neighbouring halves).
double relativeTolerance(const std::string &ydtype) {
  return ydtype == "f16" ? 2e-3 : 1e-3;
}
/// The sm_90a GEMM (M > 16, K % 64 == 0; qc-lower-gpu's wgmma kernel)
/// rounds both operands to bf16, 8x coarser than the f16 of mma.sync.
double operandFactor(const std::vector<int64_t> &xShape) {
  std::string error;
  const cu::Device *d = cu::openDevice(error);
  int64_t k = xShape.empty() ? 0 : xShape.back(), m = 1;
  for (size_t i = 0; i + 1 < xShape.size(); ++i)
    m *= xShape[i];
  return d && d->computeMajor == 9 && d->computeMinor == 0 && m > 16 &&
                 k % 64 == 0
             ? 8.0
             : 1.0;
}
constexpr double kAbsoluteTolerance = 1e-5;

int runCheck(const Options &o) {
  Table t = readTable(o.need("cases"));
  std::string expectedDir = o.need("expected");
  std::string only = o.get("only");
  bool dryRun = o.get("dry-run") == "1";
  cu::Device none;
  none.name = "none (dry run)";
  const cu::Device *d = dryRun ? &none : device();
  // Module loads run in global constructors (gpu-to-llvm); their failures
  // are recorded, not reported: surface them here.
  std::string startupError = cu::takeCudaRuntimeError();
  if (!startupError.empty())
    std::printf("startup: %s\n", startupError.c_str());

  CaseInputs inputs;
  {
    std::vector<const std::vector<std::string> *> selected;
    for (const auto &row : t.rows)
      if (matches(t.get(row, "name"), only) && findFunction(t.get(row, "name")))
        selected.push_back(&row);
    auto start = std::chrono::steady_clock::now();
    inputs.prefetch(t, selected);
    std::printf("inputs regenerated in %.1f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::ostringstream json;
  json << "{\"device\": " << deviceJson(*d)
       << ", \"startup_error\": " << jsonString(startupError)
       << ", \"tolerance\": \"max|gpu-cpu| <= rel*max|cpu| + 1e-5; rel 1e-3 (f32 out), 2e-3 (f16 out), x8 for the sm_90a wgmma GEMM (bf16 operands)\""
       << ", \"cases\": [";
  int passed = 0, failed = 0;
  bool first = true;
  for (const auto &row : t.rows) {
    const std::string &name = t.get(row, "name");
    if (!matches(name, only))
      continue;
    std::string error;
    double maxErr = NAN, maxRef = NAN, callMs = NAN;
    int64_t nonFinite = 0, count = 0;
    const std::string &ydtype = t.get(row, "y_dtype");
    double tol = NAN;
    const CheckFunction *fn = findFunction(name);
    if (!fn)
      error = "not compiled into this program";
    const HostTensor *x = nullptr, *w = nullptr;
    if (error.empty()) {
      x = &inputs.x(t, row);
      w = &inputs.w(t, row);
      if (t.has("x_hash") && hex64(fnv1a(x->bytes)) != t.get(row, "x_hash"))
        error = "regenerated activations differ from the build machine's";
      else if (t.has("w_hash") && hex64(fnv1a(w->bytes)) != t.get(row, "w_hash"))
        error = "regenerated weights differ from the build machine's";
    }
    std::optional<HostTensor> expected;
    if (error.empty()) {
      std::string readError;
      expected = readNpy(expectedDir + "/" + name + ".npy", readError);
      if (!expected)
        error = readError;
    }
    if (error.empty()) {
      HostTensor y;
      y.shape = expected->shape;
      y.dtype = ydtype == "f16" ? DType::F16 : DType::F32;
      y.bytes.assign(product(y.shape) * dtypeSize(y.dtype), 0xFF); // NaN
      std::vector<uint8_t> xCopy = x->bytes, wCopy = w->bytes;
      std::vector<int64_t> dx = descriptor(xCopy.data(), x->shape);
      std::vector<int64_t> dw = descriptor(wCopy.data(), w->shape);
      std::vector<int64_t> dy = descriptor(y.bytes.data(), y.shape);
      auto start = std::chrono::steady_clock::now();
      fn->call(dx.data(), dw.data(), dy.data());
      callMs = std::chrono::duration<double, std::milli>(
                   std::chrono::steady_clock::now() - start)
                   .count();
      error = cu::takeCudaRuntimeError();
      std::vector<float> got = toFloat32(y), ref = toFloat32(*expected);
      count = static_cast<int64_t>(ref.size());
      maxErr = 0;
      maxRef = 0;
      for (size_t i = 0; i < ref.size(); ++i) {
        if (!std::isfinite(got[i]) && std::isfinite(ref[i])) {
          ++nonFinite;
          continue;
        }
        maxRef = std::max(maxRef, static_cast<double>(std::fabs(ref[i])));
        maxErr = std::max(maxErr, static_cast<double>(std::fabs(got[i] - ref[i])));
      }
      tol = relativeTolerance(ydtype) * operandFactor(x->shape) * maxRef +
            kAbsoluteTolerance;
      if (error.empty() && nonFinite)
        error = std::to_string(nonFinite) + " of " + std::to_string(count) +
                " results are not finite (kernel did not run or wrote NaN)";
      if (error.empty() && !(maxErr <= tol))
        error = "max |gpu - cpu| " + jsonNumber(maxErr) + " > tolerance " +
                jsonNumber(tol);
    }
    bool ok = error.empty();
    (ok ? passed : failed)++;
    std::printf("%s %-58s %-6s rel.err %-10s %s\n", ok ? "PASS" : "FAIL",
                name.c_str(), t.has("kind") ? t.get(row, "kind").c_str() : "",
                jsonNumber(maxErr / maxRef).c_str(), error.c_str());
    std::fflush(stdout);
    json << (first ? "" : ",") << "\n  {\"name\": " << jsonString(name)
         << ", \"format\": " << jsonString(t.get(row, "format"))
         << ", \"x_shape\": " << jsonString(t.get(row, "x_shape"))
         << ", \"n\": " << t.get(row, "n") << ", \"k\": " << t.get(row, "k")
         << ", \"x_dtype\": " << jsonString(t.get(row, "x_dtype"))
         << ", \"y_dtype\": " << jsonString(ydtype) << ", \"kind\": "
         << jsonString(t.has("kind") ? t.get(row, "kind") : "")
         << ", \"note\": " << jsonString(t.has("note") ? t.get(row, "note") : "")
         << ", \"max_abs_err\": " << jsonNumber(maxErr)
         << ", \"max_abs_ref\": " << jsonNumber(maxRef)
         << ", \"rel_err\": " << jsonNumber(maxErr / maxRef)
         << ", \"tolerance\": " << jsonNumber(tol)
         << ", \"non_finite\": " << nonFinite
         << ", \"call_ms\": " << jsonNumber(callMs)
         << ", \"passed\": " << (ok ? "true" : "false")
         << ", \"error\": " << jsonString(error) << "}";
    first = false;
  }
  json << "\n], \"passed\": " << passed << ", \"failed\": " << failed << "}\n";
  writeText(o.get("json"), json.str());
  std::printf("check: %d passed, %d failed\n", passed, failed);
  return failed == 0 && passed > 0 ? 0 : 1;
}

//===----------------------------------------------------------------------===//
// bench
//===----------------------------------------------------------------------===//

void checkCu(cu::CUresult r, const char *what) {
  std::string error;
  if (!cu::check(r, what, error))
    throw std::runtime_error(error);
}

std::vector<unsigned> parseTriple(const std::string &s) {
  std::vector<unsigned> v;
  std::stringstream ss(s);
  std::string part;
  while (std::getline(ss, part, ','))
    v.push_back(static_cast<unsigned>(std::stoul(part)));
  if (v.size() != 3)
    fail("bad grid/block '" + s + "'");
  return v;
}

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error(path + ": cannot open");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct BenchResult {
  double usMedian = NAN, usMin = NAN;
  int iters = 0, copies = 0;
  std::string timing; // "graph" or "loop" (+ why the graph was not used)
};

/// The CUDA graph entry points (not in quantc::cuda::DriverApi), from the
/// driver quantc already opened. A graph of back-to-back launches times the
/// kernels rather than the CPU's launch rate (~2-4 us per cuLaunchKernel,
/// longer than a 4096x4096 4-bit GEMV).
struct GraphApi {
  using Graph = void *;
  cu::CUresult (*beginCapture)(cu::CUstream, int) = nullptr;
  cu::CUresult (*endCapture)(cu::CUstream, Graph *) = nullptr;
  cu::CUresult (*instantiate)(Graph *, Graph, unsigned long long) = nullptr;
  cu::CUresult (*launch)(Graph, cu::CUstream) = nullptr;
  cu::CUresult (*execDestroy)(Graph) = nullptr;
  cu::CUresult (*destroy)(Graph) = nullptr;
  bool ok = false;
};

const GraphApi &graphApi() {
  static GraphApi g = [] {
    GraphApi a;
    const char *path = std::getenv("QUANTC_LIBCUDA");
    void *lib = dlopen(path ? path : "libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
    if (!lib)
      return a;
    auto get = [&](auto &slot, const char *name) {
      slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(dlsym(lib, name));
      return slot != nullptr;
    };
    a.ok = get(a.beginCapture, "cuStreamBeginCapture_v2") &&
           get(a.endCapture, "cuStreamEndCapture") &&
           get(a.instantiate, "cuGraphInstantiateWithFlags") &&
           get(a.launch, "cuGraphLaunch") &&
           get(a.execDestroy, "cuGraphExecDestroy") &&
           get(a.destroy, "cuGraphDestroy");
    return a;
  }();
  return g;
}

BenchResult benchOne(const Table &t, const std::vector<std::string> &row,
                     const std::string &ptxDir, double minMs) {
  const cu::DriverApi &api = cu::driver();
  int64_t m = std::stoll(t.get(row, "m")), n = std::stoll(t.get(row, "n")),
          k = std::stoll(t.get(row, "k"));
  int64_t wBytes = std::stoll(t.get(row, "weight_bytes"));
  int xSize = t.get(row, "x_dtype") == "f32" ? 4 : 2;
  int ySize = t.get(row, "y_dtype") == "f32" ? 4 : 2;
  std::vector<unsigned> grid = parseTriple(t.get(row, "grid"));
  std::vector<unsigned> block = parseTriple(t.get(row, "block"));

  std::string ptx = readFile(ptxDir + "/" + t.get(row, "ptx"));
  std::string error;
  cu::CUmodule module = cu::loadModule(ptx.c_str(), error);
  if (!module)
    throw std::runtime_error(error);
  struct Cleanup {
    std::vector<cu::CUdeviceptr> buffers;
    cu::CUmodule module;
    cu::CUevent events[2] = {nullptr, nullptr};
    cu::CUstream stream = nullptr;
    ~Cleanup() {
      const cu::DriverApi &a = cu::driver();
      if (stream) {
        a.cuStreamSynchronize(stream);
        a.cuStreamDestroy(stream);
      }
      for (cu::CUdeviceptr p : buffers)
        a.cuMemFree(p);
      for (cu::CUevent e : events)
        if (e)
          a.cuEventDestroy(e);
      a.cuModuleUnload(module);
    }
  } cleanup{{}, module};
  cu::CUfunction function = nullptr;
  checkCu(api.cuModuleGetFunction(&function, module, t.get(row, "kernel").c_str()),
          "cuModuleGetFunction");

  // Rotate over enough weight copies that they do not fit in the L2 cache
  // (50 MiB on H100/H200): at least 256 MiB, at most 64 copies.
  int copies = static_cast<int>(
      std::min<int64_t>(64, std::max<int64_t>(1, ((256ll << 20) + wBytes - 1) / wBytes)));
  auto alloc = [&](size_t bytes) {
    cu::CUdeviceptr p = 0;
    checkCu(api.cuMemAlloc(&p, bytes), "cuMemAlloc");
    cleanup.buffers.push_back(p);
    return p;
  };
  cu::CUdeviceptr x = alloc(m * k * xSize), y = alloc(m * n * ySize);
  std::vector<cu::CUdeviceptr> ws;
  {
    // Random weight bytes: timing does not depend on the values.
    std::vector<uint8_t> bytes(wBytes);
    Rng rng(0xB17E5 + wBytes);
    for (int64_t i = 0; i < wBytes; i += 8) {
      uint64_t r = rng.next();
      std::memcpy(bytes.data() + i, &r, std::min<int64_t>(8, wBytes - i));
    }
    for (int c = 0; c < copies; ++c) {
      ws.push_back(alloc(wBytes));
      checkCu(api.cuMemcpyHtoD(ws.back(), bytes.data(), wBytes), "cuMemcpyHtoD");
    }
    std::vector<uint8_t> xs(m * k * xSize);
    Rng xr(7);
    for (int64_t i = 0; i < m * k; ++i) {
      float v = static_cast<float>(static_cast<int64_t>(xr.next() >> 40) -
                                   (int64_t(1) << 23)) /
                8388608.0f;
      if (xSize == 2) {
        uint16_t h = toHalf(v);
        std::memcpy(xs.data() + 2 * i, &h, 2);
      } else {
        std::memcpy(xs.data() + 4 * i, &v, 4);
      }
    }
    checkCu(api.cuMemcpyHtoD(x, xs.data(), xs.size()), "cuMemcpyHtoD");
  }
  checkCu(api.cuEventCreate(&cleanup.events[0], 0), "cuEventCreate");
  checkCu(api.cuEventCreate(&cleanup.events[1], 0), "cuEventCreate");
  checkCu(api.cuStreamCreate(&cleanup.stream, /*CU_STREAM_NON_BLOCKING=*/1),
          "cuStreamCreate");
  cu::CUevent start = cleanup.events[0], stop = cleanup.events[1];
  cu::CUstream stream = cleanup.stream;

  auto launch = [&](int i) {
    cu::CUdeviceptr w = ws[i % copies];
    void *params[] = {&x, &w, &y};
    checkCu(api.cuLaunchKernel(function, grid[0], grid[1], grid[2], block[0],
                               block[1], block[2], 0, stream, params, nullptr),
            "cuLaunchKernel");
  };
  auto elapsed = [&]() {
    checkCu(api.cuEventRecord(stop, stream), "cuEventRecord");
    checkCu(api.cuEventSynchronize(stop), "cuEventSynchronize (kernel failed?)");
    float ms = 0;
    checkCu(api.cuEventElapsedTime(&ms, start, stop), "cuEventElapsedTime");
    return static_cast<double>(ms);
  };
  auto timeLoop = [&](int iters, int offset) {
    checkCu(api.cuEventRecord(start, stream), "cuEventRecord");
    for (int i = 0; i < iters; ++i)
      launch(offset + i);
    return elapsed();
  };
  // Warm-up (module, clocks, TLBs), then an estimate of one launch.
  timeLoop(std::min(copies, 3), 0);
  double one = timeLoop(4, 3) / 4;
  int iters = static_cast<int>(std::ceil(minMs / 3 / std::max(one, 1e-3)));
  iters = std::max(3, std::min(iters, 2000));
  BenchResult r;
  r.iters = iters;
  r.copies = copies;
  std::vector<double> us;

  const GraphApi &g = graphApi();
  GraphApi::Graph graph = nullptr, exec = nullptr;
  if (g.ok && std::getenv("QC_BENCH_NO_GRAPH") == nullptr) {
    try {
      checkCu(g.beginCapture(stream, /*CU_STREAM_CAPTURE_MODE_THREAD_LOCAL=*/1),
              "cuStreamBeginCapture");
      try {
        for (int i = 0; i < iters; ++i)
          launch(i);
      } catch (...) {
        g.endCapture(stream, &graph);
        throw;
      }
      checkCu(g.endCapture(stream, &graph), "cuStreamEndCapture");
      checkCu(g.instantiate(&exec, graph, 0), "cuGraphInstantiateWithFlags");
      checkCu(g.launch(exec, stream), "cuGraphLaunch"); // warm-up
      checkCu(api.cuStreamSynchronize(stream), "cuStreamSynchronize");
      for (int rep = 0; rep < 3; ++rep) {
        checkCu(api.cuEventRecord(start, stream), "cuEventRecord");
        checkCu(g.launch(exec, stream), "cuGraphLaunch");
        us.push_back(elapsed() * 1000.0 / iters);
      }
      r.timing = "graph";
    } catch (const std::exception &e) {
      us.clear();
      r.timing = std::string("loop (graph failed: ") + e.what() + ")";
    }
    if (exec)
      g.execDestroy(exec);
    if (graph)
      g.destroy(graph);
  } else {
    r.timing = "loop";
  }
  if (us.empty())
    for (int rep = 0; rep < 3; ++rep)
      us.push_back(timeLoop(iters, rep * iters) * 1000.0 / iters);
  std::sort(us.begin(), us.end());
  r.usMedian = us[1];
  r.usMin = us[0];
  checkCu(api.cuCtxSynchronize(), "cuCtxSynchronize");
  return r;
}

int runBench(const Options &o) {
  Table t = readTable(o.need("manifest"));
  std::string ptxDir = o.need("ptx");
  std::string only = o.get("only");
  double minMs = std::stod(o.get("min-ms", "150"));
  const cu::Device *d = device();
  std::ostringstream json;
  json << "{\"device\": " << deviceJson(*d) << ", \"results\": [";
  bool first = true;
  int failures = 0;
  for (const auto &row : t.rows) {
    const std::string &name = t.get(row, "name");
    if (!matches(name, only))
      continue;
    BenchResult r;
    std::string error;
    try {
      r = benchOne(t, row, ptxDir, minMs);
    } catch (const std::exception &e) {
      error = e.what();
      ++failures;
    }
    double m = std::stod(t.get(row, "m")), n = std::stod(t.get(row, "n")),
           k = std::stod(t.get(row, "k"));
    double wBytes = std::stod(t.get(row, "weight_bytes"));
    int xSize = t.get(row, "x_dtype") == "f32" ? 4 : 2;
    int ySize = t.get(row, "y_dtype") == "f32" ? 4 : 2;
    double seconds = r.usMedian * 1e-6;
    double weightGBs = wBytes / seconds / 1e9;
    double totalGBs = (wBytes + m * k * xSize + m * n * ySize) / seconds / 1e9;
    double tflops = 2 * m * n * k / seconds / 1e12;
    std::printf("%-34s %-5s %9s us  %8s GB/s(w)  %8s TFLOP/s  %s\n", name.c_str(),
                t.get(row, "kind").c_str(), jsonNumber(r.usMedian).c_str(),
                jsonNumber(weightGBs).c_str(), jsonNumber(tflops).c_str(),
                error.c_str());
    std::fflush(stdout);
    json << (first ? "" : ",") << "\n  {\"name\": " << jsonString(name)
         << ", \"format\": " << jsonString(t.get(row, "format"))
         << ", \"m\": " << t.get(row, "m") << ", \"n\": " << t.get(row, "n")
         << ", \"k\": " << t.get(row, "k")
         << ", \"kernel\": " << jsonString(t.get(row, "kernel"))
         << ", \"kind\": " << jsonString(t.get(row, "kind"))
         << ", \"weight_bytes\": " << t.get(row, "weight_bytes")
         << ", \"us\": " << jsonNumber(r.usMedian)
         << ", \"us_min\": " << jsonNumber(r.usMin)
         << ", \"iters\": " << r.iters << ", \"weight_copies\": " << r.copies
         << ", \"timing\": " << jsonString(r.timing)
         << ", \"weight_gbps\": " << jsonNumber(weightGBs)
         << ", \"total_gbps\": " << jsonNumber(totalGBs)
         << ", \"tflops\": " << jsonNumber(tflops)
         << ", \"error\": " << jsonString(error) << "}";
    first = false;
    if (!error.empty() && error.find("CUDA_ERROR_ILLEGAL") != std::string::npos)
      break; // the context is gone; later launches would all fail
  }
  json << "\n], \"failures\": " << failures << "}\n";
  writeText(o.get("json"), json.str());
  return failures == 0 ? 0 : 1;
}

} // namespace

int main(int argc, char **argv) {
  std::string self = argv[0];
  size_t slash = self.rfind('/');
  static std::string program = slash == std::string::npos ? self : self.substr(slash + 1);
  gProgram = program.c_str();
  if (argc < 2)
    fail("usage: " + program + " info | gen | check | bench [--option value ...]");
  std::string command = argv[1];
  Options o = parseOptions(argc, argv, 2);
  if (command == "info")
    return runInfo();
  if (command == "gen")
    return runGen(o);
  if (command == "check")
    return runCheck(o);
  if (command == "bench")
    return runBench(o);
  fail("unknown command '" + command + "'");
}
