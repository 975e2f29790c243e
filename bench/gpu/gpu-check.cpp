//===- gpu-check.cpp - GPU tests and benchmarks without MLIR --------------===//
//
// Runs on a GPU machine that has the CUDA driver but not necessarily LLVM or
// MLIR: everything compiled by quantc is prepared elsewhere by
// scripts/gpu-prepare.sh (build/gpu-artifacts) and this program only loads it.
//
//   gpu-check device
//       the device, driver and compute capability (JSON on stdout).
//   gpu-check test --cases DIR/tests.txt [--json OUT.json]
//       Each line names a shared object compiled by quantc-lower-to-cuda from
//       one qc.matmul function (host code + PTX, calling the mgpu* entry
//       points this executable exports), the function, M N K and the weight
//       format. Random x and W (W quantized and packed by the format library)
//       go through the compiled function on the GPU; the result is compared
//       with the CPU reference path's arithmetic: W dequantized by the format
//       library, y = sum over k = 0, 1, ... of x*w in f32. A format column
//       "W act A" is a qc.matmul with `act <A>`: the reference then uses x
//       fake-quantized in A by the format library.
//   gpu-check bench --kernels DIR/kernels.txt [--json OUT.json]
//       Each line names a kernel of qc-lower-gpu (its PTX file and launch
//       shape); it is timed with CUDA events on device-resident data, the
//       weights rotated over enough copies to stream from HBM. Also measures
//       a device-to-device copy (the HBM bandwidth probe).
//
// Tolerances (stated, not tuned per case): the error of each output is
// measured against S = sum_k |x_k w_k| (its scale-free error bound).
// GEMV/SIMT kernels accumulate in f32 in another order than the reference:
// |err| <= 1e-5 S. The mma.sync GEMM rounds x and w to f16 (2^-11 relative
// each): |err| <= 2e-3 S.
//
//===----------------------------------------------------------------------===//

#include "quantc/Conversion/GpuChips.h"
#include "quantc/Formats/Format.h"
#include "quantc/Runtime/CudaDriver.h"

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace quantc;
using namespace quantc::cuda;

namespace {

[[noreturn]] void fail(const std::string &message) {
  std::fprintf(stderr, "gpu-check: error: %s\n", message.c_str());
  std::exit(1);
}

std::string jsonEscape(const std::string &s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

const Device &device() {
  std::string error;
  const Device *d = openDevice(error);
  if (!d)
    fail(error);
  return *d;
}

std::string deviceJson() {
  const Device &d = device();
  std::ostringstream os;
  os << "{\"name\": \"" << jsonEscape(d.name) << "\", \"compute_capability\": \""
     << d.computeMajor << "." << d.computeMinor
     << "\", \"multiprocessors\": " << d.multiprocessors
     << ", \"memory_bytes\": " << d.memoryBytes
     << ", \"driver_version\": " << d.driverVersion << "}";
  return os.str();
}

std::vector<float> randomNormal(size_t n, uint32_t seed, float sigma) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

struct PackedWeights {
  std::vector<uint8_t> bytes;
  std::vector<float> dequantized;
};

PackedWeights makeWeights(const std::string &spec, int64_t n, int64_t k,
                          uint32_t seed, bool needDequantized) {
  std::string error;
  std::optional<Format> format = parseFormat(spec, error);
  if (!format)
    fail("format '" + spec + "': " + error);
  std::vector<float> w = randomNormal(size_t(n) * k, seed, 0.05f);
  std::optional<QuantizedTensor> q = quantize(w.data(), {n, k}, *format, error);
  if (!q)
    fail("quantize " + spec + ": " + error);
  PackedWeights out;
  out.bytes = pack(*q);
  if (needDequantized)
    out.dequantized = dequantize(*q);
  return out;
}

template <typename F> void parallelFor(int64_t n, F body) {
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int64_t i = t; i < n; i += threads)
        body(i);
    });
  for (std::thread &thread : pool)
    thread.join();
}

/// {allocated, aligned, offset, sizes..., strides...} for a dense buffer.
struct Descriptor {
  std::vector<int64_t> fields;
  Descriptor(void *data, std::vector<int64_t> shape) {
    size_t rank = shape.size();
    fields.resize(3 + 2 * rank);
    fields[0] = fields[1] = reinterpret_cast<int64_t>(data);
    int64_t stride = 1;
    for (size_t d = rank; d-- > 0;) {
      fields[3 + d] = shape[d];
      fields[3 + rank + d] = stride;
      stride *= shape[d];
    }
  }
};

//===----------------------------------------------------------------------===//
// test
//===----------------------------------------------------------------------===//

struct TestCase {
  std::string library, function, format, chip;
  int64_t m, n, k;
  double tolerance;
};

std::vector<TestCase> readTests(const std::string &path) {
  std::ifstream in(path);
  if (!in)
    fail("cannot read " + path);
  std::string dir = path.substr(0, path.find_last_of('/') + 1);
  std::vector<TestCase> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    std::istringstream is(line);
    TestCase c;
    is >> c.library >> c.function >> c.m >> c.n >> c.k >> c.chip >> c.tolerance;
    std::getline(is, c.format);
    c.format.erase(0, c.format.find_first_not_of(' '));
    c.library = dir + c.library;
    cases.push_back(c);
  }
  return cases;
}

int runTests(const std::string &casesPath, const std::string &jsonPath) {
  std::vector<TestCase> cases = readTests(casesPath);
  device();
  std::map<std::string, void *> libraries;
  std::ostringstream json;
  json << "{\"device\": " << deviceJson() << ", \"cases\": [";
  int passed = 0, failed = 0, skipped = 0;
  std::map<std::string, PackedWeights> weightCache;
  for (size_t index = 0; index < cases.size(); ++index) {
    const TestCase &c = cases[index];
    auto start = std::chrono::steady_clock::now();
    std::string problem;
    double worst = 0, tolerance = c.tolerance;
    // Chip paths the device does not run (sm_100a on an H200, ...).
    int chipIndex = gpuChipIndex(c.chip.c_str());
    if (chipIndex < 0 || !gpuChipRunsOn(kGpuChips[chipIndex], device().computeMajor,
                                        device().computeMinor)) {
      std::printf("SKIP: %-12s M=%-4lld N=%-6lld K=%-6lld %s: not run by this device\n",
                  c.format.c_str(), (long long)c.m, (long long)c.n,
                  (long long)c.k, c.chip.c_str());
      ++skipped;
      continue;
    }
    void *&library = libraries[c.library];
    if (!library) {
      // The module's constructor loads its PTX through mgpuModuleLoadJIT.
      library = dlopen(c.library.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!library)
        problem = std::string("dlopen: ") + dlerror();
      std::string loadError = takeCudaRuntimeError();
      if (problem.empty() && !loadError.empty())
        problem = "loading the module: " + loadError;
    }
    using Entry = void (*)(void *, void *, void *);
    Entry entry = nullptr;
    if (problem.empty()) {
      entry = reinterpret_cast<Entry>(
          dlsym(library, ("_mlir_ciface_" + c.function).c_str()));
      if (!entry)
        problem = "no function _mlir_ciface_" + c.function;
    }
    if (problem.empty()) {
      std::string weightFormat = c.format.substr(0, c.format.find(" act "));
      std::string key = weightFormat + "/" + std::to_string(c.n) + "x" +
                        std::to_string(c.k);
      if (!weightCache.count(key))
        weightCache[key] = makeWeights(weightFormat, c.n, c.k, 7, true);
      PackedWeights &w = weightCache[key];
      std::vector<float> x = randomNormal(size_t(c.m) * c.k, 11 + c.m, 1.0f);
      // "W act A": the reference multiplies x as A quantizes it.
      std::vector<float> xReference = x;
      if (size_t at = c.format.find(" act "); at != std::string::npos) {
        std::string error, spec = c.format.substr(at + 5);
        std::optional<Format> act = parseFormat(spec, error);
        std::optional<std::vector<float>> xq =
            act ? fakeQuantize(x.data(), {c.m, c.k}, *act, error) : std::nullopt;
        if (!xq)
          fail("act format '" + spec + "': " + error);
        xReference = std::move(*xq);
      }
      std::vector<float> y(size_t(c.m) * c.n, NAN);
      Descriptor dx(x.data(), {c.m, c.k});
      Descriptor dw(w.bytes.data(), {int64_t(w.bytes.size())});
      Descriptor dy(y.data(), {c.m, c.n});
      entry(dx.fields.data(), dw.fields.data(), dy.fields.data());
      std::string runError = takeCudaRuntimeError();
      if (!runError.empty())
        problem = runError;
      std::vector<double> worstRow(c.m, 0.0);
      if (problem.empty())
        parallelFor(c.m, [&](int64_t i) {
          const float *xr = &xReference[size_t(i) * c.k];
          double rowWorst = 0;
          for (int64_t j = 0; j < c.n; ++j) {
            const float *wr = &w.dequantized[size_t(j) * c.k];
            float sum = 0.0f;
            double bound = 1e-30;
            for (int64_t kk = 0; kk < c.k; ++kk) {
              sum += xr[kk] * wr[kk];
              bound += std::fabs(double(xr[kk]) * wr[kk]);
            }
            double got = y[size_t(i) * c.n + j];
            double err = std::isnan(got) ? INFINITY : std::fabs(got - sum) / bound;
            rowWorst = std::max(rowWorst, err);
          }
          worstRow[i] = rowWorst;
        });
      for (double e : worstRow)
        worst = std::max(worst, e);
      if (problem.empty() && !(worst <= tolerance))
        problem = "error " + std::to_string(worst) + " > " +
                  std::to_string(tolerance) + " (relative to sum |x w|)";
    }
    double seconds = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start)
                         .count();
    bool ok = problem.empty();
    (ok ? passed : failed)++;
    std::printf("%s: %-12s M=%-4lld N=%-6lld K=%-6lld %-7s max err %.2e (tol %.0e) %.1fs%s%s\n",
                ok ? "PASS" : "FAIL", c.format.c_str(), (long long)c.m,
                (long long)c.n, (long long)c.k, c.chip.c_str(), worst,
                tolerance, seconds, ok ? "" : "  ", problem.c_str());
    std::fflush(stdout);
    json << (passed + failed > 1 ? ", " : "") << "{\"format\": \""
         << jsonEscape(c.format) << "\", \"chip\": \"" << c.chip
         << "\", \"m\": " << c.m << ", \"n\": " << c.n << ", \"k\": " << c.k
         << ", \"max_error\": " << (std::isfinite(worst) ? worst : 1e300)
         << ", \"tolerance\": " << tolerance << ", \"passed\": "
         << (ok ? "true" : "false") << ", \"problem\": \""
         << jsonEscape(problem) << "\"}";
  }
  json << "], \"passed\": " << passed << ", \"failed\": " << failed
       << ", \"skipped\": " << skipped << "}\n";
  if (!jsonPath.empty())
    std::ofstream(jsonPath) << json.str();
  std::printf("%d passed, %d failed, %d skipped (chip paths this device does "
              "not run)\n", passed, failed, skipped);
  return failed ? 1 : 0;
}

//===----------------------------------------------------------------------===//
// bench
//===----------------------------------------------------------------------===//

struct KernelSpec {
  std::string name, format, ptx;
  int64_t m, n, k;
  unsigned grid[3], block[3];
  /// Optional `key=value` tokens before the format: `smem=BYTES` (dynamic
  /// shared memory), `act=FORMAT` (activations quantized in FORMAT) and
  /// `args=x:w:y` (the default), `act:w:y` (a GEMM reading the packed
  /// activations) or `x:act` (the activation quantization kernel).
  int smem = 0;
  std::string act, args = "x:w:y";
};

std::vector<KernelSpec> readKernels(const std::string &path) {
  std::ifstream in(path);
  if (!in)
    fail("cannot read " + path);
  std::string dir = path.substr(0, path.find_last_of('/') + 1);
  std::vector<KernelSpec> kernels;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    std::istringstream is(line);
    KernelSpec k;
    is >> k.name >> k.ptx >> k.m >> k.n >> k.k >> k.grid[0] >> k.grid[1] >>
        k.grid[2] >> k.block[0] >> k.block[1] >> k.block[2];
    std::string rest;
    std::getline(is, rest);
    std::istringstream tokens(rest);
    std::string token;
    std::streampos formatStart = 0;
    while (tokens >> token) {
      size_t eq = token.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == token.size())
        break;
      std::string key = token.substr(0, eq), value = token.substr(eq + 1);
      if (key == "smem")
        k.smem = std::stoi(value);
      else if (key == "act")
        k.act = value;
      else if (key == "args")
        k.args = value;
      else
        break;
      formatStart = tokens.tellg();
    }
    k.format = rest.substr(size_t(formatStart));
    k.format.erase(0, k.format.find_first_not_of(' '));
    k.ptx = dir + k.ptx;
    kernels.push_back(k);
  }
  return kernels;
}

void checked(CUresult result, const char *what) {
  std::string error;
  if (!check(result, what, error))
    fail(error);
}

struct Timer {
  CUevent start, stop;
  Timer() {
    checked(driver().cuEventCreate(&start, 0), "cuEventCreate");
    checked(driver().cuEventCreate(&stop, 0), "cuEventCreate");
  }
  ~Timer() {
    driver().cuEventDestroy(start);
    driver().cuEventDestroy(stop);
  }
};

/// Median time in seconds of `run` (one launch), timing batches of launches.
template <typename F> double medianSeconds(F run, int batches, int perBatch) {
  const DriverApi &a = driver();
  Timer t;
  for (int i = 0; i < 3; ++i)
    run(i);
  checked(a.cuCtxSynchronize(), "warm-up");
  std::vector<double> times;
  int counter = 0;
  for (int b = 0; b < batches; ++b) {
    checked(a.cuEventRecord(t.start, nullptr), "cuEventRecord");
    for (int i = 0; i < perBatch; ++i)
      run(counter++);
    checked(a.cuEventRecord(t.stop, nullptr), "cuEventRecord");
    checked(a.cuEventSynchronize(t.stop), "kernel run");
    float ms = 0;
    checked(a.cuEventElapsedTime(&ms, t.start, t.stop), "cuEventElapsedTime");
    times.push_back(ms * 1e-3 / perBatch);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

double probeHbm(std::ostringstream &json) {
  const DriverApi &a = driver();
  size_t bytes = size_t(1) << 31; // 2 GiB each way
  CUdeviceptr src = 0, dst = 0;
  checked(a.cuMemAlloc(&src, bytes), "cuMemAlloc");
  checked(a.cuMemAlloc(&dst, bytes), "cuMemAlloc");
  checked(a.cuMemsetD8(src, 1, bytes), "cuMemsetD8");
  double seconds = medianSeconds(
      [&](int) { checked(a.cuMemcpyDtoD(dst, src, bytes), "cuMemcpyDtoD"); }, 5,
      2);
  a.cuMemFree(src);
  a.cuMemFree(dst);
  double readWrite = 2.0 * bytes / seconds / 1e9;
  std::printf("HBM probe: device-to-device copy of %zu MiB: %.1f GB/s read+write "
              "(%.1f GB/s each way)\n",
              bytes >> 20, readWrite, readWrite / 2);
  json << "\"hbm_copy_gbps_read_plus_write\": " << readWrite;
  return readWrite;
}

int runBench(const std::string &kernelsPath, const std::string &jsonPath) {
  std::vector<KernelSpec> kernels = readKernels(kernelsPath);
  device();
  const DriverApi &a = driver();
  std::ostringstream json;
  json << "{\"device\": " << deviceJson() << ", ";
  double hbm = probeHbm(json);
  json << ", \"kernels\": [";
  std::map<std::string, CUmodule> modules;
  std::map<std::string, std::pair<std::vector<CUdeviceptr>, size_t>> weights;
  for (size_t index = 0; index < kernels.size(); ++index) {
    const KernelSpec &k = kernels[index];
    CUmodule &module = modules[k.ptx];
    if (!module) {
      std::ifstream in(k.ptx, std::ios::binary);
      std::string text((std::istreambuf_iterator<char>(in)),
                       std::istreambuf_iterator<char>());
      if (text.empty())
        fail("cannot read " + k.ptx);
      std::string error;
      module = loadModule(text.c_str(), error);
      if (!module)
        fail(k.ptx + ": " + error);
    }
    CUfunction function = nullptr;
    checked(a.cuModuleGetFunction(&function, module, k.name.c_str()),
            "cuModuleGetFunction");
    // Enough copies of W that the rotation streams from HBM, not L2.
    std::string key = k.format + "/" + std::to_string(k.n) + "x" +
                      std::to_string(k.k);
    // Named references, not structured bindings: the timing lambda below
    // captures them (a C++20 extension for bindings).
    std::vector<CUdeviceptr> &copies = weights[key].first;
    size_t &bytes = weights[key].second;
    if (copies.empty()) {
      // Timing does not depend on the values: random bytes of the packed
      // size stand in for quantized weights (quantizing 58M weights on the
      // host would take longer than the benchmark).
      std::string error;
      std::optional<Format> format = parseFormat(k.format, error);
      std::optional<int64_t> size =
          format ? packedSizeInBytes({k.n, k.k}, *format, error) : std::nullopt;
      if (!size)
        fail(k.format + ": " + error);
      PackedWeights w;
      w.bytes.resize(*size);
      std::mt19937 rng(5);
      for (uint8_t &b : w.bytes)
        b = uint8_t(rng());
      bytes = w.bytes.size();
      size_t count = std::clamp<size_t>((size_t(512) << 20) / bytes + 1, 2, 64);
      for (size_t i = 0; i < count; ++i) {
        CUdeviceptr p = 0;
        checked(a.cuMemAlloc(&p, bytes), "cuMemAlloc");
        checked(a.cuMemcpyHtoD(p, w.bytes.data(), bytes), "cuMemcpyHtoD");
        copies.push_back(p);
      }
    }
    std::vector<float> x = randomNormal(size_t(k.m) * k.k, 3, 1.0f);
    CUdeviceptr dx = 0, dy = 0, dact = 0;
    checked(a.cuMemAlloc(&dx, x.size() * 4), "cuMemAlloc");
    checked(a.cuMemcpyHtoD(dx, x.data(), x.size() * 4), "cuMemcpyHtoD");
    checked(a.cuMemAlloc(&dy, size_t(k.m) * k.n * 4), "cuMemAlloc");
    if (!k.act.empty()) {
      // The packed activations: random bytes of the act format's size (the
      // GEMM's timing does not depend on the values).
      std::string error;
      std::optional<Format> actFormat = parseFormat(k.act, error);
      std::optional<int64_t> size =
          actFormat ? packedSizeInBytes({k.m, k.k}, *actFormat, error)
                    : std::nullopt;
      if (!size)
        fail(k.act + ": " + error);
      std::vector<uint8_t> bytes(*size);
      std::mt19937 rng(7);
      for (uint8_t &b : bytes)
        b = uint8_t(rng() & 0x77); // finite E4M3 codes, moderate scales
      checked(a.cuMemAlloc(&dact, bytes.size()), "cuMemAlloc");
      checked(a.cuMemcpyHtoD(dact, bytes.data(), bytes.size()),
              "cuMemcpyHtoD");
    }
    if (k.smem > 48 * 1024)
      checked(a.cuFuncSetAttribute(function, /*MAX_DYNAMIC_SHARED_SIZE=*/8,
                                   k.smem),
              "cuFuncSetAttribute");
    double flops = 2.0 * k.m * k.n * k.k;
    int perBatch = flops > 1e11 ? 2 : 20;
    double seconds = medianSeconds(
        [&](int i) {
          CUdeviceptr w = copies[i % copies.size()];
          std::vector<void *> params;
          std::istringstream names(k.args);
          std::string arg;
          while (std::getline(names, arg, ':'))
            params.push_back(arg == "x"     ? (void *)&dx
                             : arg == "act" ? (void *)&dact
                             : arg == "w"   ? (void *)&w
                                            : (void *)&dy);
          checked(a.cuLaunchKernel(function, k.grid[0], k.grid[1], k.grid[2],
                                   k.block[0], k.block[1], k.block[2], k.smem,
                                   nullptr, params.data(), nullptr),
                  "cuLaunchKernel");
        },
        7, perBatch);
    a.cuMemFree(dx);
    a.cuMemFree(dy);
    if (dact)
      a.cuMemFree(dact);
    double gbps = bytes / seconds / 1e9;
    double tflops = flops / seconds / 1e12;
    std::printf("%-12s M=%-5lld N=%-6lld K=%-6lld %-16s %9.1f us %8.1f GB/s "
                "(%4.0f%% of the copy's HBM traffic) %7.2f TFLOP/s\n",
                k.format.c_str(), (long long)k.m, (long long)k.n,
                (long long)k.k, k.name.c_str(), seconds * 1e6, gbps,
                100.0 * gbps / hbm, tflops);
    std::fflush(stdout);
    json << (index ? ", " : "") << "{\"format\": \"" << jsonEscape(k.format)
         << "\", \"kernel\": \"" << k.name << "\", \"ptx\": \""
         << jsonEscape(std::filesystem::path(k.ptx).filename().string())
         << "\", \"act\": \""
         << jsonEscape(k.act) << "\", \"m\": " << k.m
         << ", \"n\": " << k.n << ", \"k\": " << k.k
         << ", \"weight_bytes\": " << bytes << ", \"seconds\": " << seconds
         << ", \"weight_gbps\": " << gbps << ", \"tflops\": " << tflops << "}";
  }
  json << "]}\n";
  if (!jsonPath.empty())
    std::ofstream(jsonPath) << json.str();
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto option = [&](const std::string &name) -> std::string {
    for (size_t i = 0; i + 1 < args.size(); ++i)
      if (args[i] == name)
        return args[i + 1];
    return "";
  };
  if (args.empty())
    fail("usage: gpu-check device | test --cases FILE [--json F] | bench "
         "--kernels FILE [--json F]");
  if (args[0] == "device") {
    std::printf("%s\n", deviceJson().c_str());
    return 0;
  }
  if (args[0] == "test")
    return runTests(option("--cases"), option("--json"));
  if (args[0] == "bench")
    return runBench(option("--kernels"), option("--json"));
  fail("unknown command '" + args[0] + "'");
}
