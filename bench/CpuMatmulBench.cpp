//===- CpuMatmulBench.cpp - Benchmarks of the qc-lower-cpu kernels --------===//
//
// Times the kernels qc-lower-cpu generates (quantc/Conversion/QcToCPU.h) for
// the layer shapes of an 8B-class decoder, K x N = 4096 x 4096, 4096 x 14336
// and 14336 x 4096, at n = M = 1, 8, 32, 512 tokens, with 1 and 2 threads,
// with the weights cache-resident (one matrix, reused) and streaming (a
// rotating set of copies several times larger than the last-level cache).
//
// Each benchmark reports, besides the time per call:
//   GB/s      weight bytes (packed layout, scales included) per second
//   min_us    the fastest single call (and min_GB/s its GB/s): on a shared
//             machine the figure least disturbed by other processes
//   GOP/s     2 M N K / time
//   read_GB/s the same weight bytes read by the bandwidth probe's loop (four
//             sequential streams per thread), one read of another copy after
//             every kernel call: DRAM for streaming, cache for resident
//             weights
//   BW%       GB/s as a fraction of read_GB/s
//   peak%     GOP/s as a fraction of the measured peak of the instruction the
//             kernel multiplies with (f32 FMA, vdpbf16ps or vpdpbusd)
// The limits come from MachineLimits (measured at start-up, printed first).
// Benchmarks measure; nothing here asserts on time.
//
//   quantc-bench-cpu [--quantc_target=native|x86-64-v4|...] [--quantc_bf16=0]
//                    [--quantc_i16=0] [--quantc_prefetch=BYTES]
//                    [--quantc_dense6=0] [--quantc_scale_pairs=0]
//                    [--quantc_tiles=N] [--quantc_inline_scales=0]
//                    [--quantc_strided=0]
//                    [--benchmark_filter=REGEX] [--benchmark_out=FILE.json]
//
// Names: <format>/<act>/K<k>xN<n>/M<m>/t<threads>/<cache|stream>, e.g.
// mxfp4/a16/K4096xN4096/M1/t2/cache (a16: float activations).
//
//===----------------------------------------------------------------------===//

#include "MachineLimits.h"

#include "quantc/Conversion/Pipelines.h"
#include "quantc/Conversion/QcToCPU.h"
#include "quantc/Formats/Format.h"
#include "quantc/Formats/Layout.h"
#include "quantc/Runtime/JitSymbols.h"
#include "quantc/Runtime/ThreadPool.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/ExecutionEngine/CRunnerUtils.h"
#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/Support/TargetSelect.h"

#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace mlir;
using namespace quantc;

namespace {

std::string targetName = "native";
std::string shapeList; // --quantc_shapes=KxN,...: instead of the three

/// The kernel choices the command line can override (--quantc_NAME=VALUE).
struct Knobs {
  bool allowBF16 = true;
  bool allowI16 = true;
  int64_t prefetchOverride = -1; // prefetch=BYTES: replaces the plan's
  bool allowOffsetBinary = true; // offset_binary=0: INT4 without _ob
  bool allowInlineScales = true; // inline_scales=0: x86_n16k8 for INT4
  bool allowColumnScales = true; // column_scales=0: x86_n16k8_si for MX
  int tilesOverride = 0;         // tiles=N: 16-column tiles per register step
  bool allowDense6 = true;       // dense6=0: MXFP6 one code per byte
  bool allowStridedGroups = true; // strided=0: consecutive tiles per step
  bool allowScalePairs = true;    // scale_pairs=0: NV scales per 16

  /// Applies "NAME=VALUE"; false if NAME is not a knob.
  bool apply(const std::string &setting);
  /// The knob names, for messages.
  static std::string names();
};

/// NAME=0 turns these off.
const std::pair<const char *, bool Knobs::*> kSwitches[] = {
    {"bf16", &Knobs::allowBF16},
    {"i16", &Knobs::allowI16},
    {"offset_binary", &Knobs::allowOffsetBinary},
    {"inline_scales", &Knobs::allowInlineScales},
    {"column_scales", &Knobs::allowColumnScales},
    {"dense6", &Knobs::allowDense6},
    {"strided", &Knobs::allowStridedGroups},
    {"scale_pairs", &Knobs::allowScalePairs},
};

bool Knobs::apply(const std::string &setting) {
  size_t eq = setting.find('=');
  if (eq == std::string::npos)
    return false;
  std::string name = setting.substr(0, eq), value = setting.substr(eq + 1);
  for (const auto &[switchName, member] : kSwitches)
    if (name == switchName) {
      this->*member = value != "0";
      return true;
    }
  if (name == "prefetch")
    prefetchOverride = std::stoll(value);
  else if (name == "tiles")
    tilesOverride = std::stoi(value);
  else
    return false;
  return true;
}

std::string Knobs::names() {
  std::string list = "prefetch, tiles";
  for (const auto &entry : kSwitches)
    list += std::string(", ") + entry.first;
  return list;
}

/// The items of a comma-separated list, empty ones dropped.
std::vector<std::string> splitList(const std::string &list) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = std::min(list.find(',', start), list.size());
    if (comma > start)
      items.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return items;
}

Knobs knobs;
/// --quantc_versus=NAME=VALUE[,NAME=VALUE]: a second kernel, these knobs
/// applied on top of the others, timed call by call against the first.
std::optional<Knobs> versus;

struct Config {
  std::string format;
  std::string act; // "" for float activations
  int64_t m, n, k;
  int threads;
  bool streaming;
};

using KernelFn = void (*)(StridedMemRefType<float, 2> *,
                          StridedMemRefType<int8_t, 1> *,
                          StridedMemRefType<float, 2> *);

struct CompiledKernel {
  std::unique_ptr<MLIRContext> context;
  std::unique_ptr<ExecutionEngine> engine;
  KernelFn fn = nullptr;
  cpu::MatmulKernelPlan plan;
};

/// Page-aligned bytes, as a compiled model's weights are (a 64-byte aligned
/// memref.global): std::vector's own storage is only 16-byte aligned, which
/// splits every 64-byte load of the kernels over two cache lines.
template <typename T> struct PageAligned {
  using value_type = T;
  PageAligned() = default;
  template <typename U> PageAligned(const PageAligned<U> &) {}
  T *allocate(size_t count) {
    size_t bytes = (count * sizeof(T) + 4095) / 4096 * 4096;
    if (void *p = std::aligned_alloc(4096, bytes))
      return static_cast<T *>(p);
    throw std::bad_alloc();
  }
  void deallocate(T *p, size_t) { std::free(p); }
  template <typename U> bool operator==(const PageAligned<U> &) const {
    return true;
  }
};
using Bytes = std::vector<uint8_t, PageAligned<uint8_t>>;

/// The packed weights of one (format, layout, N, K), and copies for the
/// streaming benchmarks.
struct Weights {
  std::vector<Bytes> copies;
};

std::map<int, bench::MachineLimits> limitsByThreads;

Format parseOrDie(const std::string &spec) {
  std::string error;
  std::optional<Format> format = parseFormat(spec, error);
  if (!format) {
    std::fprintf(stderr, "bad format '%s': %s\n", spec.c_str(), error.c_str());
    std::exit(1);
  }
  return *format;
}

std::optional<cpu::MatmulKernelPlan>
planFor(const Config &c, const Knobs &knobs, std::string &whyNot) {
  std::string error;
  std::optional<cpu::CpuTarget> target =
      cpu::CpuTarget::parse(targetName, error);
  if (!target) {
    whyNot = error;
    return std::nullopt;
  }
  std::optional<Format> act;
  if (!c.act.empty())
    act = parseOrDie(c.act);
  std::optional<cpu::MatmulKernelPlan> plan = cpu::planMatmulKernel(
      c.m, c.n, c.k, parseOrDie(c.format), act, *target, knobs.allowBF16, whyNot,
      knobs.allowI16, knobs.allowScalePairs, knobs.allowDense6);
  if (plan && knobs.prefetchOverride >= 0)
    plan->prefetchBytes = knobs.prefetchOverride;
  if (plan && knobs.tilesOverride > 0) {
    plan->tilesPerStep = knobs.tilesOverride;
    plan->stridedGroups = plan->stridedGroups && plan->tilesFillGroups() &&
                          plan->numTileGroups() > 1;
  }
  if (plan && !knobs.allowStridedGroups)
    plan->stridedGroups = false;
  if (!plan)
    return plan;
  std::string layout = plan->layout;
  // x86_n16k8_sid -> x86_n16k8_si -> x86_n16k8 (the _ob suffix stays).
  if ((!knobs.allowColumnScales || !knobs.allowInlineScales) &&
      layout.rfind("x86_n16k8_sid", 0) == 0)
    layout.erase(12, 1);
  if (!knobs.allowInlineScales && layout.rfind("x86_n16k8_si", 0) == 0)
    layout.replace(0, 12, "x86_n16k8");
  if (!knobs.allowOffsetBinary && layout.size() > 3 &&
      layout.compare(layout.size() - 3, 3, "_ob") == 0)
    layout.resize(layout.size() - 3);
  if (layout != plan->layout) {
    std::string error;
    plan->layout = layout;
    plan->geometry =
        *layoutGeometry(layout, {c.n, c.k}, parseOrDie(c.format), error);
  }
  return plan;
}

/// Generates the kernel into a module with a C-interface wrapper and JITs it.
std::unique_ptr<CompiledKernel> compile(const cpu::MatmulKernelPlan &plan) {
  auto compiled = std::make_unique<CompiledKernel>();
  compiled->plan = plan;
  DialectRegistry registry;
  registerQuantcDialects(registry);
  compiled->context = std::make_unique<MLIRContext>(registry);
  MLIRContext *ctx = compiled->context.get();
  ctx->loadAllAvailableDialects();
  OpBuilder b(ctx);
  Location loc = b.getUnknownLoc();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  func::FuncOp kernel = cpu::emitMatmulKernel(*module, plan, "qc_kernel");
  b.setInsertionPointToEnd(module->getBody());
  auto wrapper = func::FuncOp::create(b, loc, "bench",
                                      kernel.getFunctionType());
  wrapper->setAttr(LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                   UnitAttr::get(ctx));
  Block *body = wrapper.addEntryBlock();
  b.setInsertionPointToStart(body);
  func::CallOp::create(b, loc, kernel, body->getArguments());
  func::ReturnOp::create(b, loc);

  PassManager pm(ctx);
  buildCpuLoweringPipeline(pm);
  if (failed(pm.run(*module))) {
    std::fprintf(stderr, "lowering %s failed\n", plan.kernelKey().c_str());
    std::exit(1);
  }
  auto machineBuilder = llvm::orc::JITTargetMachineBuilder::detectHost();
  machineBuilder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Aggressive);
  auto targetMachine = machineBuilder->createTargetMachine();
  auto optimize = makeOptimizingTransformer(3, 0, targetMachine->get());
  ExecutionEngineOptions options;
  options.transformer = optimize;
  options.jitCodeGenOptLevel = llvm::CodeGenOptLevel::Aggressive;
  auto engine =
      ExecutionEngine::create(*module, options, std::move(*targetMachine));
  if (!engine) {
    std::fprintf(stderr, "JIT failed: %s\n",
                 llvm::toString(engine.takeError()).c_str());
    std::exit(1);
  }
  compiled->engine = std::move(*engine);
  registerKernelRuntimeSymbols(*compiled->engine);
  compiled->engine->initialize();
  auto address = compiled->engine->lookup("_mlir_ciface_bench");
  if (!address) {
    std::fprintf(stderr, "no kernel symbol: %s\n",
                 llvm::toString(address.takeError()).c_str());
    std::exit(1);
  }
  compiled->fn = reinterpret_cast<KernelFn>(*address);
  return compiled;
}

CompiledKernel &compiledFor(const cpu::MatmulKernelPlan &plan) {
  // Never destroyed: tearing down an ORC JIT at exit re-runs its platform's
  // deinitializer lookup, which recompiles the module's unused remainders
  // and fails instruction selection in LLVM 22 after the results are out.
  static auto &cache =
      *new std::map<std::string, std::unique_ptr<CompiledKernel>>();
  std::unique_ptr<CompiledKernel> &slot = cache[plan.kernelKey()];
  if (!slot)
    slot = compile(plan);
  return *slot;
}

Weights &weightsFor(const Config &c, const cpu::MatmulKernelPlan &plan) {
  static std::map<std::string, Weights> cache;
  std::string key = c.format + "/" + plan.layout + "/" + std::to_string(c.n) +
                    "x" + std::to_string(c.k);
  Weights &weights = cache[key];
  if (weights.copies.empty()) {
    std::vector<float> data(c.n * c.k);
    std::mt19937 rng(42);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    for (float &v : data)
      v = normal(rng);
    std::string error;
    std::optional<QuantizedTensor> q =
        quantize(data.data(), {c.n, c.k}, parseOrDie(c.format), error);
    std::vector<uint8_t> packed = packLayout(*q, plan.layout);
    weights.copies.emplace_back(packed.begin(), packed.end());
  }
  if (c.streaming) {
    // A rotating set of at least 160 MiB: five times the 32 MiB L3 here.
    size_t bytes = weights.copies[0].size();
    size_t wanted = std::max<size_t>(3, ((160u << 20) + bytes - 1) / bytes + 1);
    while (weights.copies.size() < wanted)
      weights.copies.push_back(weights.copies[0]);
  }
  return weights;
}

const bench::MachineLimits &limitsFor(int threads) {
  auto it = limitsByThreads.find(threads);
  if (it == limitsByThreads.end())
    it = limitsByThreads.emplace(threads, bench::measureMachineLimits(threads))
             .first;
  return it->second;
}

template <typename T, int N>
StridedMemRefType<T, N> descriptor(T *data, std::array<int64_t, N> sizes) {
  StridedMemRefType<T, N> d;
  d.basePtr = d.data = data;
  d.offset = 0;
  int64_t stride = 1;
  for (int i = N - 1; i >= 0; --i) {
    d.sizes[i] = sizes[i];
    d.strides[i] = stride;
    stride *= sizes[i];
  }
  return d;
}

/// Seconds to read `copy` as the bandwidth probe reads (four sequential
/// streams per thread), split over `threads` threads as a kernel splits its
/// column tiles (contiguous slices).
double readSeconds(const StridedMemRefType<int8_t, 1> &copy, int threads) {
  struct Read {
    const uint8_t *data;
    int64_t bytes, slices;
    std::atomic<int64_t> sink{0};
  } read;
  read.slices = threads;
  read.data = reinterpret_cast<const uint8_t *>(copy.data);
  read.bytes = copy.sizes[0];
  auto task = [](void *context, int64_t begin, int64_t end) {
    auto *r = static_cast<Read *>(context);
    int64_t slice = r->bytes / r->slices / 256 * 256;
    for (int64_t i = begin; i < end; ++i)
      r->sink += bench::readStreams(r->data + i * slice, slice);
  };
  auto start = std::chrono::steady_clock::now();
  quantc_parallel_for(task, &read, threads);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

void runMatmul(benchmark::State &state, Config c) {
  std::string whyNot;
  std::optional<cpu::MatmulKernelPlan> plan = planFor(c, knobs, whyNot);
  if (!plan) {
    state.SkipWithError(("no kernel: " + whyNot).c_str());
    return;
  }
  CompiledKernel &kernel = compiledFor(*plan);
  Weights &weights = weightsFor(c, *plan);
  std::optional<cpu::MatmulKernelPlan> planB;
  if (versus) {
    planB = planFor(c, *versus, whyNot);
    if (!planB) {
      state.SkipWithError(("no --quantc_versus kernel: " + whyNot).c_str());
      return;
    }
  }
  CompiledKernel *kernelB = planB ? &compiledFor(*planB) : nullptr;
  Weights *weightsB = planB ? &weightsFor(c, *planB) : nullptr;
  const bench::MachineLimits &limits = limitsFor(c.threads);
  quantc_set_num_threads(c.threads);

  std::vector<float> x(c.m * c.k), y(c.m * c.n);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float &v : x)
    v = normal(rng);
  auto xd = descriptor<float, 2>(x.data(), {c.m, c.k});
  auto yd = descriptor<float, 2>(y.data(), {c.m, c.n});
  std::vector<StridedMemRefType<int8_t, 1>> wds;
  size_t copies = c.streaming ? weights.copies.size() : 1;
  for (size_t i = 0; i < copies; ++i)
    wds.push_back(descriptor<int8_t, 1>(
        reinterpret_cast<int8_t *>(weights.copies[i].data()),
        {static_cast<int64_t>(weights.copies[i].size())}));
  // One untimed call per copy: page faults and JIT stubs out of the way.
  for (auto &wd : wds)
    kernel.fn(&xd, &wd, &yd);
  std::vector<StridedMemRefType<int8_t, 1>> wdsB;
  std::vector<float> yB(y.size());
  auto ydB = descriptor<float, 2>(yB.data(), {c.m, c.n});
  if (kernelB) {
    for (size_t i = 0; i < copies; ++i)
      wdsB.push_back(descriptor<int8_t, 1>(
          reinterpret_cast<int8_t *>(weightsB->copies[i].data()),
          {static_cast<int64_t>(weightsB->copies[i].size())}));
    for (auto &wd : wdsB)
      kernelB->fn(&xd, &wd, &ydB);
  }

  // Every kernel call is timed on its own and followed by a timed read of
  // another copy of the weights (half the rotation away, so neither warms
  // the other's bytes): the DRAM bandwidth of this shared machine changes
  // within seconds (at 2 threads it flips between about 33 and 55 GB/s), so
  // the kernel is compared with reads interleaved call by call, not with a
  // probe run before or after it. The fastest call is the figure least
  // disturbed by other processes.
  size_t next = 0;
  double fastest = 1e30, kernelSeconds = 0, readTotal = 0;
  std::vector<double> callTimes, readTimes, callTimesB;
  double kernelSecondsB = 0;
  // The --quantc_versus kernel runs next to the first, on a copy a quarter
  // of the rotation away: the same moment of the machine. The two take turns
  // in going first (a call right after a read and one right after a kernel
  // differ by a few percent).
  bool versusFirst = false;
  auto runVersus = [&] {
    auto startB = std::chrono::steady_clock::now();
    kernelB->fn(&xd, &wdsB[(next + wdsB.size() / 4) % wdsB.size()], &ydB);
    double callB = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - startB)
                       .count();
    kernelSecondsB += callB;
    callTimesB.push_back(callB);
    benchmark::ClobberMemory();
  };
  for (auto _ : state) {
    if (kernelB && versusFirst)
      runVersus();
    auto callStart = std::chrono::steady_clock::now();
    kernel.fn(&xd, &wds[next], &yd);
    double call = std::chrono::duration<double>(
                      std::chrono::steady_clock::now() - callStart)
                      .count();
    state.SetIterationTime(call);
    kernelSeconds += call;
    fastest = std::min(fastest, call);
    benchmark::ClobberMemory();
    if (kernelB && !versusFirst)
      runVersus();
    versusFirst = !versusFirst;
    double read = readSeconds(wds[(next + wds.size() / 2) % wds.size()],
                              c.threads);
    readTotal += read;
    callTimes.push_back(call);
    readTimes.push_back(read);
    next = next + 1 == wds.size() ? 0 : next + 1;
  }
  double calls = static_cast<double>(state.iterations());
  double weightBytes = static_cast<double>(weights.copies[0].size());
  double gbs = weightBytes * calls / kernelSeconds * 1e-9;
  double gops = 2.0 * c.m * c.n * c.k * calls / kernelSeconds * 1e-9;
  double readGBs = weightBytes * calls / readTotal * 1e-9;
  double peak = plan->mode == cpu::KernelMode::I8 ||
                        plan->mode == cpu::KernelMode::I16
                    ? limits.vnniGops
                : plan->mode == cpu::KernelMode::BF16 ? limits.bf16Gops
                                                      : limits.fmaGops;
  // Medians of single calls and single reads: a kernel whose mean falls
  // behind the reads' while its median does not loses to slow outliers
  // (calls the OS or the other tenants delayed), not to every call.
  auto median = [](std::vector<double> v) {
    if (v.empty())
      return 0.0;
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  };
  double medianCall = median(callTimes), medianRead = median(readTimes);
  state.counters["median_call_GB/s"] =
      medianCall > 0 ? weightBytes / medianCall * 1e-9 : 0;
  state.counters["median_read_GB/s"] =
      medianRead > 0 ? weightBytes / medianRead * 1e-9 : 0;
  if (kernelB) {
    // Time of the first kernel over the second's (> 1: the second is
    // faster), overall and per median call; the second's BW% against the
    // same reads.
    double weightBytesB = static_cast<double>(weightsB->copies[0].size());
    double gbsB = weightBytesB * calls / kernelSecondsB * 1e-9;
    state.counters["versus_speedup"] = kernelSeconds / kernelSecondsB;
    state.counters["versus_median_speedup"] =
        medianCall / median(callTimesB);
    state.counters["versus_BW%"] = readGBs > 0 ? 100.0 * gbsB / readGBs : 0;
  }
  state.counters["min_us"] = fastest * 1e6;
  state.counters["min_GB/s"] = weightBytes / fastest * 1e-9;
  state.counters["GB/s"] = gbs;
  state.counters["read_GB/s"] = readGBs;
  state.counters["GOP/s"] = gops;
  state.counters["BW%"] = readGBs > 0 ? 100.0 * gbs / readGBs : 0;
  state.counters["peak%"] = peak > 0 ? 100.0 * gops / peak : 0;
  std::string label =
      std::string(cpu::kernelModeName(plan->mode)) + " " + plan->layout;
  if (planB)
    label += " vs " + std::string(cpu::kernelModeName(planB->mode)) + " " +
             planB->layout +
             (planB->kernelKey() == plan->kernelKey() ? " (same kernel)" : "");
  state.SetLabel(label);
}

void registerAll() {
  struct Shape {
    int64_t k, n;
  };
  std::vector<Shape> shapes = {{4096, 4096}, {4096, 14336}, {14336, 4096}};
  if (!shapeList.empty()) {
    // --quantc_shapes=KxN,KxN: these instead (fixed costs, other layers).
    shapes.clear();
    for (const std::string &item : splitList(shapeList)) {
      size_t x = item.find('x');
      if (x == std::string::npos) {
        std::fprintf(stderr, "quantc-bench-cpu: --quantc_shapes wants KxN, got '%s'\n",
                     item.c_str());
        std::exit(1);
      }
      shapes.push_back({std::stoll(item.substr(0, x)),
                        std::stoll(item.substr(x + 1))});
    }
  }
  struct Formats {
    const char *format;
    const char *act;
  };
  // W4A16 / W8A16, and int8 activations as ONNX Runtime's MatMulNBits
  // accuracy level 4 quantizes them (blocks of 32, f32 scales), and MXINT8
  // for the MX formats.
  const Formats formats[] = {
      {"mxfp4", ""},   {"nvfp4", ""},    {"int4_g32", ""},
      {"int8", ""},    {"mxfp4", "mxint8"}, {"nvfp4", "int8_g32"},
      {"int4_g32", "int8_g32"}, {"int8", "int8_g32"},
      {"mxfp8_e4m3", ""}, {"mxfp6_e2m3", "mxint8"}, {"mxint8", "mxint8"},
      {"mxfp6_e2m3", ""}, {"mxfp6_e3m2", ""}, {"mxfp8_e4m3", "mxint8"},
  };
  for (const Formats &f : formats)
    for (const Shape &s : shapes)
      for (int64_t m : {1, 8, 32, 512})
        for (int threads : {1, 2})
          for (bool streaming : {false, true}) {
            Config c{f.format, f.act, m, s.n, s.k, threads, streaming};
            std::string name = std::string(f.format) + "/" +
                               (c.act.empty() ? "a16" : c.act) + "/K" +
                               std::to_string(s.k) + "xN" +
                               std::to_string(s.n) + "/M" + std::to_string(m) +
                               "/t" + std::to_string(threads) + "/" +
                               (streaming ? "stream" : "cache");
            benchmark::RegisterBenchmark(name.c_str(), runMatmul, c)
                ->UseManualTime()
                ->Unit(benchmark::kMicrosecond)
                ->MinTime(m >= 32 ? 0.5 : 0.2);
          }
}

} // namespace

int main(int argc, char **argv) {
  std::vector<char *> rest;
  std::optional<std::string> versusSettings;
  for (int i = 0; i < argc; ++i) {
    std::string argument = argv[i];
    if (argument.rfind("--quantc_target=", 0) == 0)
      targetName = argument.substr(16);
    else if (argument.rfind("--quantc_shapes=", 0) == 0)
      shapeList = argument.substr(16);
    else if (argument.rfind("--quantc_versus=", 0) == 0)
      versusSettings = argument.substr(16);
    else if (argument.rfind("--quantc_", 0) != 0 ||
             !knobs.apply(argument.substr(9)))
      rest.push_back(argv[i]);
  }
  // The second kernel's knobs: the first's, then these.
  if (versusSettings) {
    versus = knobs;
    for (const std::string &setting : splitList(*versusSettings))
      if (!versus->apply(setting)) {
        std::fprintf(stderr,
                     "quantc-bench-cpu: --quantc_versus: unknown setting '%s' "
                     "(NAME=VALUE, NAME one of %s)\n",
                     setting.c_str(), Knobs::names().c_str());
        return 1;
      }
  }
  int restCount = static_cast<int>(rest.size());
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  benchmark::Initialize(&restCount, rest.data());
  for (int threads : {1, 2}) {
    const bench::MachineLimits &l = limitsFor(threads);
    std::string t = "t" + std::to_string(threads) + "_";
    char value[64];
    auto context = [&](const std::string &key, double v) {
      std::snprintf(value, sizeof(value), "%.1f", v);
      benchmark::AddCustomContext(t + key, value);
    };
    context("dram_read_GBs", l.dramReadGBs);
    context("cache_read_GBs", l.cacheReadGBs);
    context("fma_GFLOPs", l.fmaGops);
    context("bf16_GFLOPs", l.bf16Gops);
    context("vnni_GOPs", l.vnniGops);
    std::printf("machine, %d thread(s): DRAM read %.1f GB/s, cache read %.1f "
                "GB/s, f32 FMA %.0f GFLOP/s, bf16 dot %.0f GFLOP/s, int8 dot "
                "(VNNI) %.0f GOP/s\n",
                threads, l.dramReadGBs, l.cacheReadGBs, l.fmaGops, l.bf16Gops,
                l.vnniGops);
  }
  std::printf("kernels for target '%s'%s%s\n", targetName.c_str(),
              knobs.allowBF16 ? "" : " (bf16 off)",
              knobs.allowI16 ? "" : " (i16 off)");
  registerAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::fflush(nullptr);
  std::_Exit(0); // skip the JITs' teardown (see compiledFor)
}
