//===- Calibration.cpp - quant-compile's calibration run ------------------===//

#include "Calibration.h"

#include "quantc/Runtime/Jit.h"
#include "quantc/Runtime/Npy.h"
#include "quantc/Transforms/Passes.h"
#include "quantc/Transforms/QuantizableLayers.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>

using namespace mlir;
using namespace quantc;

namespace {

/// What to do with one result of the instrumented function.
struct Observation {
  unsigned result;
  std::string key;
  int64_t axis;
  bool hessian;
  /// A convolution input: its Hessian is over patches.
  std::optional<PatchGeometry> patches;
};

llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// The observations among `func`'s results (qc-observations-to-results).
std::vector<Observation> readObservations(func::FuncOp func) {
  std::vector<Observation> observations;
  for (unsigned i = 0; i < func.getNumResults(); ++i) {
    auto key = func.getResultAttrOfType<StringAttr>(i, "qc.observe");
    if (!key)
      continue;
    Observation o{i, key.str(), -1, false, std::nullopt};
    if (auto axis = func.getResultAttrOfType<IntegerAttr>(i, "qc.observe_axis"))
      o.axis = axis.getInt();
    if (auto stats = func.getResultAttrOfType<ArrayAttr>(i, "qc.observe_stats"))
      for (Attribute stat : stats)
        o.hessian |= cast<StringAttr>(stat).getValue() == "hessian";
    auto ints = [&](StringRef name) {
      auto attr = func.getResultAttrOfType<DenseI64ArrayAttr>(i, name);
      return attr ? std::vector<int64_t>(attr.asArrayRef()) : std::vector<int64_t>();
    };
    if (o.hessian && func.getResultAttr(i, "qc.observe_kernel")) {
      PatchGeometry geometry;
      geometry.kernel = ints("qc.observe_kernel");
      geometry.strides = ints("qc.observe_strides");
      geometry.dilations = ints("qc.observe_dilations");
      int64_t rank = geometry.kernel.size();
      geometry.channelAxis = o.axis < 0 ? o.axis + rank : o.axis;
      if (auto group =
              func.getResultAttrOfType<IntegerAttr>(i, "qc.observe_group_axis"))
        geometry.groupAxis = group.getInt();
      o.patches = std::move(geometry);
    }
    observations.push_back(o);
  }
  return observations;
}

/// Makes the qc.observe ops of `module` (a copy) extra results of @main
/// (qc-observations-to-results, dropping the fake quants or not) and says
/// which results they are.
llvm::Expected<std::vector<Observation>> returnObservations(ModuleOp module,
                                                           bool dropFakeQuant) {
  PassManager pm(module.getContext());
  qc::QcObservationsToResultsOptions toResults;
  toResults.dropFakeQuant = dropFakeQuant;
  pm.addPass(qc::createQcObservationsToResults(toResults));
  if (failed(pm.run(module)))
    return makeError("preparing the model's observations failed (see above)");
  return readObservations(module.lookupSymbol<func::FuncOp>("main"));
}

/// JIT-compiles @main of a prepared copy for `caller`.
llvm::Expected<std::unique_ptr<JitFunction>>
compileMain(ModuleOp module, const CalibrationOptions &options,
            llvm::StringRef caller) {
  JitOptions jit;
  jit.caller = caller.str();
  jit.threads = options.threads;
  return JitFunction::compile(module, jit);
}

/// Adds `tensor` (f32, any rank) to `stats` with `axis` as the channel axis:
/// moved last by a copy when it is not.
void accumulate(TensorStats &stats, const HostTensor &tensor, int64_t axis,
                bool hessian, std::vector<float> &scratch) {
  int64_t rank = static_cast<int64_t>(tensor.shape.size());
  if (axis < 0)
    axis += rank;
  int64_t channels = tensor.shape[axis];
  int64_t total = tensor.numElements();
  if (channels == 0 || total == 0)
    return;
  const float *data = tensor.data<float>();
  if (axis != rank - 1) {
    int64_t inner = 1;
    for (int64_t d = axis + 1; d < rank; ++d)
      inner *= tensor.shape[d];
    int64_t outer = total / (inner * channels);
    scratch.resize(total);
    // [outer, channels, inner] -> [outer, inner, channels]
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t i = 0; i < inner; ++i)
          scratch[(o * inner + i) * channels + c] =
              data[(o * channels + c) * inner + i];
    data = scratch.data();
  }
  stats.accumulate(data, total / channels, channels, hessian);
}

//===----------------------------------------------------------------------===//
// Samples
//===----------------------------------------------------------------------===//

/// The range [0, n) of valid indices for an integer argument that ends up
/// indexing a constant table (an embedding lookup: ONNX Gather lowers to a
/// linalg.generic whose body extracts from the table at the clamped index),
/// else nullopt.
std::optional<int64_t> indexRange(BlockArgument argument) {
  std::optional<int64_t> range;
  for (OpOperand &use : argument.getUses()) {
    auto generic = dyn_cast<linalg::GenericOp>(use.getOwner());
    if (!generic || !generic.isDpsInput(&use))
      continue;
    Value element = generic.getMatchingBlockArgument(&use);
    SmallVector<Value> work = {element};
    llvm::DenseSet<Value> seen;
    while (!work.empty()) {
      Value v = work.pop_back_val();
      if (!seen.insert(v).second)
        continue;
      for (OpOperand &inner : v.getUses()) {
        Operation *user = inner.getOwner();
        if (auto extract = dyn_cast<tensor::ExtractOp>(user)) {
          unsigned position = inner.getOperandNumber() - 1;
          auto type = cast<RankedTensorType>(extract.getTensor().getType());
          if (inner.getOperandNumber() > 0 && !type.isDynamicDim(position)) {
            int64_t dim = type.getDimSize(position);
            range = range ? std::min(*range, dim) : dim;
          }
          continue;
        }
        if (user->getNumRegions() == 0 && user->getNumResults() == 1 &&
            isa<arith::ArithDialect>(user->getDialect()))
          work.push_back(user->getResult(0));
      }
    }
  }
  return range;
}

/// A sample source: files of a directory, or seeded random tensors.
class SampleSource {
public:
  static llvm::Expected<SampleSource> open(const std::string &spec,
                                           func::FuncOp original,
                                           uint64_t seed) {
    SampleSource source;
    source.seed = seed;
    llvm::StringRef text(spec);
    if (text.consume_front("synthetic:")) {
      unsigned count = 0;
      if (text.getAsInteger(10, count) || count == 0)
        return makeError("--calib " + spec +
                         ": synthetic:N needs a positive sample count");
      source.synthetic = true;
      source.count = count;
      for (BlockArgument argument : original.getArguments())
        source.ranges.push_back(indexRange(argument));
      return source;
    }
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(spec, ec), end; it != end && !ec;
         it.increment(ec))
      if (llvm::sys::fs::is_directory(it->path()))
        source.directories.push_back(it->path());
    if (ec)
      return makeError("--calib " + spec + ": " + ec.message());
    if (source.directories.empty())
      return makeError("--calib " + spec +
                       ": no sample directories (expected "
                       "DIR/<sample>/<input name>.npy)");
    // Numeric names in numeric order (0, 1, ..., 10), the rest by name.
    llvm::sort(source.directories, [](const std::string &a,
                                      const std::string &b) {
      llvm::StringRef na = llvm::sys::path::filename(a);
      llvm::StringRef nb = llvm::sys::path::filename(b);
      unsigned ia, ib;
      bool numA = !na.getAsInteger(10, ia), numB = !nb.getAsInteger(10, ib);
      if (numA && numB)
        return ia < ib;
      if (numA != numB)
        return numA;
      return na < nb;
    });
    source.count = source.directories.size();
    return source;
  }

  size_t size() const { return count; }
  std::string describe() const {
    return synthetic ? "synthetic samples" : "samples";
  }

  /// Sample `index`'s inputs, one per argument of `signature`.
  llvm::Error read(size_t index, llvm::ArrayRef<TensorSpec> arguments,
                   std::vector<HostTensor> &inputs) {
    inputs.resize(arguments.size());
    for (auto [i, spec] : llvm::enumerate(arguments)) {
      if (synthetic) {
        inputs[i] = generate(index, i, spec);
        continue;
      }
      llvm::SmallString<256> path(directories[index]);
      llvm::sys::path::append(path, spec.name + ".npy");
      std::string error;
      std::optional<HostTensor> tensor = readNpy(std::string(path), error);
      if (!tensor)
        return makeError("calibration sample: " + error);
      if (!spec.accepts(*tensor))
        return makeError("calibration sample " + std::string(path) +
                         ": input '" + spec.name + "' must be " +
                         spec.describe() + ", got " + dtypeName(tensor->dtype) +
                         " of " + std::to_string(tensor->shape.size()) +
                         " dims");
      inputs[i] = std::move(*tensor);
    }
    return llvm::Error::success();
  }

private:
  /// Floats: N(0, 1). Integers: uniform over the index range they are used
  /// with when one is known (token ids), else 0/1. Bools: 0/1.
  HostTensor generate(size_t sample, size_t argument, const TensorSpec &spec) {
    std::mt19937_64 rng(seed * 1000003u + sample * 1009u + argument);
    HostTensor t;
    t.dtype = spec.dtype;
    t.shape = spec.shape;
    int64_t n = spec.numElements();
    t.bytes.assign(n * dtypeSize(spec.dtype), 0);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    int64_t high = argument < ranges.size() && ranges[argument]
                       ? *ranges[argument] - 1
                       : 1;
    std::uniform_int_distribution<int64_t> uniform(0, std::max<int64_t>(high, 0));
    for (int64_t i = 0; i < n; ++i) {
      switch (spec.dtype) {
      case DType::F32:
        t.data<float>()[i] = normal(rng);
        break;
      case DType::F64:
        t.data<double>()[i] = normal(rng);
        break;
      case DType::F16: {
        _Float16 half = static_cast<_Float16>(normal(rng));
        std::memcpy(t.bytes.data() + 2 * i, &half, 2);
        break;
      }
      case DType::I64:
        t.data<int64_t>()[i] = uniform(rng);
        break;
      case DType::I32:
        t.data<int32_t>()[i] = static_cast<int32_t>(uniform(rng));
        break;
      case DType::I16:
        t.data<int16_t>()[i] = static_cast<int16_t>(uniform(rng));
        break;
      case DType::I8:
      case DType::U8:
      case DType::Bool:
        t.bytes[i] = static_cast<uint8_t>(uniform(rng) & 0x7F);
        break;
      }
    }
    return t;
  }

  bool synthetic = false;
  size_t count = 0;
  uint64_t seed = 0;
  std::vector<std::string> directories;
  std::vector<std::optional<int64_t>> ranges;
};

/// Progress: a bar redrawn in place on a terminal, a line per tenth of the
/// samples otherwise (logs, tests).
class Progress {
public:
  Progress(llvm::raw_ostream *os, size_t total, std::string what)
      : os(os), total(total), what(std::move(what)),
        start(std::chrono::steady_clock::now()),
        terminal(os && llvm::sys::Process::StandardErrIsDisplayed()) {}

  void update(size_t done) {
    if (!os)
      return;
    double seconds = elapsed();
    double rate = seconds > 0 ? done / seconds : 0;
    if (terminal) {
      constexpr int width = 30;
      int filled = static_cast<int>(width * done / std::max<size_t>(total, 1));
      *os << "\rcalibrating [" << std::string(filled, '#')
          << std::string(width - filled, ' ') << "] " << done << "/" << total
          << " " << what << ", " << llvm::formatv("{0:f1}", rate) << "/s";
      if (done == total)
        *os << "\n";
      os->flush();
      return;
    }
    size_t step = std::max<size_t>(total / 10, 1);
    if (done % step == 0 || done == total)
      *os << "quant-compile: calibrating: " << done << "/" << total << " "
          << what << "\n";
  }

  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start)
        .count();
  }

private:
  llvm::raw_ostream *os;
  size_t total;
  std::string what;
  std::chrono::steady_clock::time_point start;
  bool terminal;
};

} // namespace

llvm::Expected<CalibrationStats>
quantc::calibrate(ModuleOp module, const CalibrationOptions &options) {
  OwningOpRef<ModuleOp> copy(cast<ModuleOp>(module->clone()));
  auto original = copy->lookupSymbol<func::FuncOp>("main");
  if (!original)
    return makeError("calibration needs the model's function @main");
  llvm::Expected<SampleSource> source =
      SampleSource::open(options.source, original, options.seed);
  if (!source)
    return source.takeError();

  PassManager pm(copy->getContext());
  qc::QcInstrumentOptions instrument;
  instrument.hessian = options.hessian;
  instrument.hessianMaxMib = options.hessianMaxMib;
  pm.addPass(qc::createQcInstrument(instrument));
  if (failed(pm.run(*copy)))
    return makeError("instrumenting the model for calibration failed (see "
                     "above)");
  llvm::Expected<std::vector<Observation>> observations =
      returnObservations(*copy, /*dropFakeQuant=*/true);
  if (!observations)
    return observations.takeError();
  CalibrationStats stats;
  if (observations->empty())
    return stats; // nothing quantized: nothing to observe
  llvm::Expected<std::unique_ptr<JitFunction>> function =
      compileMain(*copy, options, "calibration");
  if (!function)
    return function.takeError();

  Progress progress(options.progress, source->size(), source->describe());
  std::vector<HostTensor> inputs, outputs;
  std::vector<float> scratch;
  for (size_t sample = 0; sample < source->size(); ++sample) {
    if (llvm::Error error =
            source->read(sample, (*function)->inputs(), inputs))
      return std::move(error);
    if (llvm::Error error = (*function)->run(inputs, outputs))
      return std::move(error);
    for (const Observation &o : *observations) {
      const HostTensor &tensor = outputs[o.result];
      if (tensor.dtype != DType::F32)
        continue; // f16/bf16 activations: not observed yet
      TensorStats &tensorStats = stats.getOrCreate(o.key);
      accumulate(tensorStats, tensor, o.axis, o.hessian && !o.patches, scratch);
      if (o.patches)
        tensorStats.accumulatePatchHessian(tensor.data<float>(), tensor.shape,
                                           *o.patches);
    }
    stats.samples = sample + 1;
    progress.update(sample + 1);
  }
  return stats;
}

llvm::Expected<Fidelity>
quantc::measureFidelity(ModuleOp floatModel, ModuleOp module,
                        const CalibrationOptions &options, size_t maxSamples) {
  // Copies of both that return every quantized layer's output (a
  // qc.observe named after the layer) after the model's results; the float
  // one without its fake_quants. Layers are matched by name: GPTQ's packed
  // weights keep the layer's key (findQuantizedLayers includePacked).
  struct Prepared {
    std::unique_ptr<JitFunction> function;
    std::map<std::string, unsigned> resultOfLayer;
  };
  unsigned modelResults = 0;
  std::vector<std::string> outputNames;
  auto prepare = [&](ModuleOp source,
                     bool isFloat) -> llvm::Expected<Prepared> {
    OwningOpRef<ModuleOp> copy(cast<ModuleOp>(source->clone()));
    auto main = copy->lookupSymbol<func::FuncOp>("main");
    if (!main)
      return makeError("the fidelity run needs the model's function @main");
    if (isFloat) {
      modelResults = main.getNumResults();
      outputNames.clear();
      for (unsigned i = 0; i < modelResults; ++i) {
        auto name = main.getResultAttrOfType<StringAttr>(i, "qc.name");
        outputNames.push_back(name ? name.str() : std::to_string(i));
      }
    } else if (main.getNumResults() != modelResults) {
      return makeError("the quantized model has other results than the "
                       "float one");
    }
    for (QuantizedLayer &quantized :
         findQuantizedLayers(*copy, /*includePacked=*/!isFloat)) {
      Operation *op = quantized.layer.op;
      Value result = op->getResult(0);
      auto type = dyn_cast<RankedTensorType>(result.getType());
      if (!type || !type.getElementType().isF32())
        continue;
      OpBuilder b(op->getContext());
      b.setInsertionPointAfter(op);
      qc::ObserveOp::create(b, op->getLoc(),
                            b.getStringAttr(reportName(quantized)), result,
                            b.getStrArrayAttr({}), b.getI64IntegerAttr(-1));
    }
    // The keys are read before the JIT drops the result attributes.
    llvm::Expected<std::vector<Observation>> observations =
        returnObservations(*copy, /*dropFakeQuant=*/isFloat);
    if (!observations)
      return observations.takeError();
    Prepared prepared;
    for (const Observation &o : *observations)
      prepared.resultOfLayer.emplace(o.key, o.result);
    llvm::Expected<std::unique_ptr<JitFunction>> function =
        compileMain(*copy, options, "the fidelity run");
    if (!function)
      return function.takeError();
    prepared.function = std::move(*function);
    return prepared;
  };
  llvm::Expected<Prepared> floatPrepared = prepare(floatModel, true);
  if (!floatPrepared)
    return floatPrepared.takeError();
  llvm::Expected<Prepared> quantPrepared = prepare(module, false);
  if (!quantPrepared)
    return quantPrepared.takeError();
  std::unique_ptr<JitFunction> &floatModelRun = floatPrepared->function;
  std::unique_ptr<JitFunction> &quantModelRun = quantPrepared->function;

  // Result pairs: the model's outputs, then each layer both observe.
  std::vector<std::pair<unsigned, unsigned>> pairs;
  for (unsigned r = 0; r < modelResults; ++r)
    pairs.emplace_back(r, r);
  std::vector<std::string> keys;
  for (const auto &[key, result] : floatPrepared->resultOfLayer) {
    auto it = quantPrepared->resultOfLayer.find(key);
    if (it == quantPrepared->resultOfLayer.end())
      continue;
    keys.push_back(key);
    pairs.emplace_back(result, it->second);
  }

  auto main = floatModel.lookupSymbol<func::FuncOp>("main");
  llvm::Expected<SampleSource> source =
      SampleSource::open(options.source, main, options.seed);
  if (!source)
    return source.takeError();
  size_t samples = std::min(maxSamples, source->size());
  size_t results = pairs.size();
  std::vector<double> signal(results, 0.0), noise(results, 0.0);
  std::vector<HostTensor> inputs, reference, quantized;
  for (size_t sample = 0; sample < samples; ++sample) {
    if (llvm::Error error =
            source->read(sample, floatModelRun->inputs(), inputs))
      return std::move(error);
    if (llvm::Error error = floatModelRun->run(inputs, reference))
      return std::move(error);
    if (llvm::Error error = quantModelRun->run(inputs, quantized))
      return std::move(error);
    for (size_t r = 0; r < results; ++r) {
      std::vector<float> a = toFloat32(reference[pairs[r].first]);
      std::vector<float> q = toFloat32(quantized[pairs[r].second]);
      for (size_t i = 0; i < a.size(); ++i) {
        double d = static_cast<double>(a[i]) - q[i];
        signal[r] += static_cast<double>(a[i]) * a[i];
        noise[r] += d * d;
      }
    }
  }
  auto sqnr = [&](size_t r) {
    return noise[r] == 0 ? INFINITY : 10.0 * std::log10(signal[r] / noise[r]);
  };
  Fidelity fidelity;
  fidelity.samples = samples;
  for (unsigned r = 0; r < modelResults; ++r)
    fidelity.modelOutputSqnr.emplace_back(outputNames[r], sqnr(r));
  for (size_t k = 0; k < keys.size(); ++k)
    fidelity.layerOutputSqnr.emplace(keys[k], sqnr(modelResults + k));
  return fidelity;
}
