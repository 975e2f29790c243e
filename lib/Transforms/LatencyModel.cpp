//===- LatencyModel.cpp - Roofline latency of a compiled model ------------===//

#include "quantc/Transforms/LatencyModel.h"

#include "quantc/Transforms/QuantizableLayers.h"

#include "qc/QcDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>
#include <cmath>
#include <limits>

using namespace mlir;

namespace quantc {

//===----------------------------------------------------------------------===//
// Profiles
//===----------------------------------------------------------------------===//

namespace {

/// Measured with `bench/latency_profile.py --threads 1` on the 2-core AMD
/// EPYC (Zen 4, AVX-512 VNNI) quantc is developed on; see README, "Measured".
const char kBuiltInProfile[] = R"json(
{"machine":"2-core AMD EPYC Zen 4 (AVX-512 VNNI), 1 thread","threads":1,
"dram_GBs":21.9,"cache_GBs":71.3,"cache_bytes":33554432,"kernels":{
"int8/a16":[{"k":256,"n":256,"gemv_GBs":66.56,"gemm_GOPs":91.622},{"k":256,
"n":768,"gemv_GBs":61.44,"gemm_GOPs":128.172},{"k":768,"n":256,
"gemv_GBs":60.81,"gemm_GOPs":77.741},{"k":1024,"n":1024,"gemv_GBs":70.471,
"gemm_GOPs":135.844},{"k":4096,"n":4096,"gemv_GBs":25.211,
"gemm_GOPs":149.988}],"mxint8/a16":[{"k":256,"n":256,"gemv_GBs":50.53,
"gemm_GOPs":103.11},{"k":256,"n":768,"gemv_GBs":68.729,"gemm_GOPs":88.624},{
"k":768,"n":256,"gemv_GBs":65.141,"gemm_GOPs":117.907},{"k":1024,"n":1024,
"gemv_GBs":74.833,"gemm_GOPs":132.939},{"k":4096,"n":4096,"gemv_GBs":18.049,
"gemm_GOPs":111.104}],"mxfp8_e4m3/a16":[{"k":256,"n":256,"gemv_GBs":13.758,
"gemm_GOPs":63.81},{"k":256,"n":768,"gemv_GBs":13.723,"gemm_GOPs":52.374},{
"k":768,"n":256,"gemv_GBs":13.653,"gemm_GOPs":68.213},{"k":1024,"n":1024,
"gemv_GBs":13.151,"gemm_GOPs":60.374},{"k":4096,"n":4096,"gemv_GBs":11.712,
"gemm_GOPs":68.212}],"mxfp6_e2m3/a16":[{"k":256,"n":256,"gemv_GBs":46.022,
"gemm_GOPs":105.883},{"k":256,"n":768,"gemv_GBs":49.548,
"gemm_GOPs":122.357},{"k":768,"n":256,"gemv_GBs":48.188,
"gemm_GOPs":123.479},{"k":1024,"n":1024,"gemv_GBs":55.966,
"gemm_GOPs":97.43},{"k":4096,"n":4096,"gemv_GBs":20.318,
"gemm_GOPs":114.544}],"mxfp4/a16":[{"k":256,"n":256,"gemv_GBs":30.607,
"gemm_GOPs":161.455},{"k":256,"n":768,"gemv_GBs":38.33,"gemm_GOPs":179.172},
{"k":768,"n":256,"gemv_GBs":34.672,"gemm_GOPs":162.668},{"k":1024,"n":1024,
"gemv_GBs":38.887,"gemm_GOPs":163.004},{"k":4096,"n":4096,"gemv_GBs":22.846,
"gemm_GOPs":188.913}],"nvfp4/a16":[{"k":256,"n":256,"gemv_GBs":26.813,
"gemm_GOPs":134.406},{"k":256,"n":768,"gemv_GBs":32.174,
"gemm_GOPs":151.893},{"k":768,"n":256,"gemv_GBs":29.493,"gemm_GOPs":142.78},
{"k":1024,"n":1024,"gemv_GBs":33.347,"gemm_GOPs":148.284},{"k":4096,
"n":4096,"gemv_GBs":19.858,"gemm_GOPs":155.639}],"nvint4/a16":[{"k":256,
"n":256,"gemv_GBs":27.565,"gemm_GOPs":140.146},{"k":256,"n":768,
"gemv_GBs":31.599,"gemm_GOPs":148.405},{"k":768,"n":256,"gemv_GBs":28.634,
"gemm_GOPs":134.383},{"k":1024,"n":1024,"gemv_GBs":33.206,
"gemm_GOPs":151.785},{"k":4096,"n":4096,"gemv_GBs":19.635,
"gemm_GOPs":148.882}],"int4_g32/a16":[{"k":256,"n":256,"gemv_GBs":28.248,
"gemm_GOPs":155.741},{"k":256,"n":768,"gemv_GBs":36.009,
"gemm_GOPs":171.007},{"k":768,"n":256,"gemv_GBs":36.275,
"gemm_GOPs":159.095},{"k":1024,"n":1024,"gemv_GBs":47.191,
"gemm_GOPs":176.842},{"k":4096,"n":4096,"gemv_GBs":20.672,
"gemm_GOPs":180.219}]},"elementwise_GBs":82.782,"reduction_GBs":5.991,
"transpose_GBs":24.966,"float_GFLOPs":78.398}
)json";

} // namespace

LatencyProfile LatencyProfile::builtIn() {
  std::string error;
  std::optional<LatencyProfile> profile =
      parse(kBuiltInProfile, "built-in profile", error);
  if (!profile)
    llvm::report_fatal_error(llvm::Twine("quantc: ") + error);
  profile->source = "built-in (" + profile->source + ")";
  return *profile;
}

std::optional<LatencyProfile> LatencyProfile::read(StringRef path,
                                                   std::string &error) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path);
  if (!buffer) {
    error = (path + ": cannot read (" + buffer.getError().message() + ")").str();
    return std::nullopt;
  }
  std::optional<LatencyProfile> profile =
      parse((*buffer)->getBuffer(), path, error);
  if (profile)
    profile->source = path.str();
  return profile;
}

std::optional<LatencyProfile> LatencyProfile::parse(StringRef text,
                                                    StringRef path,
                                                    std::string &error) {
  auto fail = [&](const Twine &message) -> std::optional<LatencyProfile> {
    error = (path + ": " + message).str();
    return std::nullopt;
  };
  llvm::Expected<llvm::json::Value> json = llvm::json::parse(text);
  if (!json)
    return fail("not JSON (" + llvm::toString(json.takeError()) + ")");
  const llvm::json::Object *root = json->getAsObject();
  if (!root)
    return fail("expected a JSON object");
  LatencyProfile p;
  if (std::optional<StringRef> machine = root->getString("machine"))
    p.source = machine->str();
  auto number = [&](StringRef key, double &out) {
    std::optional<double> value = root->getNumber(key);
    if (!value || !(*value > 0)) {
      error = (path + ": '" + key + "' must be a positive number").str();
      return false;
    }
    out = *value;
    return true;
  };
  double threads = 1;
  if (!number("threads", threads) || !number("dram_GBs", p.dramGBs) ||
      !number("cache_GBs", p.cacheGBs) ||
      !number("cache_bytes", p.cacheBytes) ||
      !number("float_GFLOPs", p.floatGflops) ||
      !number("elementwise_GBs", p.elementwiseGBs) ||
      !number("reduction_GBs", p.reductionGBs) ||
      !number("transpose_GBs", p.transposeGBs))
    return std::nullopt;
  p.threads = static_cast<int>(threads);
  const llvm::json::Object *kernels = root->getObject("kernels");
  static const char *kernelsSchema =
      "'kernels' must map \"<format>/a16|a8\" to a list of {\"k\": K, "
      "\"n\": N, \"gemv_GBs\": X, \"gemm_GOPs\": Y} with positive numbers";
  if (!kernels || kernels->empty())
    return fail(kernelsSchema);
  for (const auto &[key, value] : *kernels) {
    const llvm::json::Array *sizes = value.getAsArray();
    if (!sizes || sizes->empty())
      return fail("kernels." + key.str() + ": " + kernelsSchema);
    std::vector<KernelSpeed> speeds;
    for (const llvm::json::Value &size : *sizes) {
      const llvm::json::Object *entry = size.getAsObject();
      auto get = [&](StringRef name) {
        std::optional<double> v = entry ? entry->getNumber(name) : std::nullopt;
        return v && *v > 0 ? *v : 0.0;
      };
      KernelSpeed speed{static_cast<int64_t>(get("k")),
                        static_cast<int64_t>(get("n")), get("gemv_GBs"),
                        get("gemm_GOPs")};
      if (speed.k <= 0 || speed.n <= 0 || !(speed.gemvGBs > 0) ||
          !(speed.gemmGops > 0))
        return fail("kernels." + key.str() + ": " + kernelsSchema);
      speeds.push_back(speed);
    }
    p.kernels[key.str()] = std::move(speeds);
  }
  return p;
}

const KernelSpeed *LatencyProfile::kernel(StringRef format,
                                          bool int8Activations, int64_t n,
                                          int64_t k) const {
  auto nearest = [&](const std::vector<KernelSpeed> &speeds) {
    const KernelSpeed *best = nullptr;
    double target = std::log(static_cast<double>(std::max<int64_t>(n * k, 1)));
    double bestDistance = 0;
    for (const KernelSpeed &speed : speeds) {
      double distance =
          std::fabs(std::log(static_cast<double>(speed.n * speed.k)) - target);
      if (!best || distance < bestDistance) {
        best = &speed;
        bestDistance = distance;
      }
    }
    return best;
  };
  std::string own = (format + (int8Activations ? "/a8" : "/a16")).str();
  std::string other = (format + (int8Activations ? "/a16" : "/a8")).str();
  for (const std::string &key : {own, other}) {
    auto it = kernels.find(key);
    if (it != kernels.end())
      return nearest(it->second);
  }
  const KernelSpeed *slowest = nullptr;
  for (const auto &entry : kernels) {
    const KernelSpeed *speed = nearest(entry.second);
    if (!slowest || speed->gemmGops < slowest->gemmGops)
      slowest = speed;
  }
  return slowest;
}

double matmulSeconds(const LatencyProfile &profile, int64_t m, int64_t n,
                     int64_t k, double weightBytes, StringRef format,
                     bool int8Activations, bool weightsCached) {
  const KernelSpeed *speed = profile.kernel(format, int8Activations, n, k);
  if (!speed)
    return 0;
  // The GEMV figure is the kernel's own read speed (decode and dot product
  // included); streaming from DRAM can only be slower.
  double readGBs = speed->gemvGBs;
  if (!weightsCached)
    readGBs = std::min(readGBs, profile.dramGBs);
  double memory = weightBytes / (readGBs * 1e9);
  double compute = 2.0 * m * n * k / (speed->gemmGops * 1e9);
  return std::max(memory, compute);
}

//===----------------------------------------------------------------------===//
// The float code
//===----------------------------------------------------------------------===//

namespace {

double tensorBytes(Type type) {
  auto shaped = dyn_cast<RankedTensorType>(type);
  if (!shaped || !shaped.hasStaticShape())
    return 0;
  unsigned bits = shaped.getElementType().getIntOrFloatBitWidth();
  return static_cast<double>(shaped.getNumElements()) * std::max(bits, 8u) /
         8.0;
}

/// Whether `value` is computed from constants only (folded or packed at
/// compile time: weight transposes, fake quantization of weights).
bool isCompileTimeValue(Value value, int depth = 0) {
  if (depth > 16)
    return false;
  Operation *op = value.getDefiningOp();
  if (!op)
    return false;
  if (matchPattern(value, m_Constant()) || isa<qc::ConstantOp>(op))
    return true;
  if (op->getNumOperands() == 0)
    return isa<tensor::EmptyOp>(op);
  return llvm::all_of(op->getOperands(), [&](Value operand) {
    return isCompileTimeValue(operand, depth + 1);
  });
}

bool hasPermutedInput(linalg::LinalgOp op) {
  for (OpOperand *input : op.getDpsInputOperands()) {
    AffineMap map = op.getMatchingIndexingMap(input);
    if (map.isProjectedPermutation() && !map.isMinorIdentity() &&
        map.getNumResults() > 1) {
      // Broadcasts (a minor identity of fewer dims) are not transposes.
      SmallVector<unsigned> positions;
      for (AffineExpr expr : map.getResults())
        positions.push_back(cast<AffineDimExpr>(expr).getPosition());
      if (!llvm::is_sorted(positions))
        return true;
    }
  }
  return false;
}

} // namespace

bool isContraction(Operation *op) {
  auto linalgOp = dyn_cast_if_present<linalg::LinalgOp>(op);
  if (!linalgOp || linalgOp.getNumReductionLoops() == 0)
    return false;
  return llvm::count_if(linalgOp.getDpsInputs(), [](Value input) {
           auto type = dyn_cast<ShapedType>(input.getType());
           return type && type.getRank() > 0;
         }) >= 2;
}

std::optional<FloatCodeEstimate>
estimateFloatCode(ModuleOp module, const LatencyProfile &profile,
                  std::string &error) {
  // The CPU pipeline's tensor-level fusion first (quantc-fuse-elementwise's
  // rule), on a copy: one loop per chain of elementwise ops, as the compiled
  // code runs them.
  OwningOpRef<ModuleOp> copy = module.clone();
  {
    RewritePatternSet patterns(module.getContext());
    linalg::populateElementwiseToLinalgConversionPatterns(patterns);
    linalg::populateElementwiseOpsFusionPatterns(
        patterns, [](OpOperand *operand) {
          Operation *producer = operand->get().getDefiningOp();
          return producer && producer->hasOneUse() &&
                 !isContraction(operand->getOwner()) &&
                 !isContraction(producer);
        });
    // No folding: it would quantize the weights' fake_quant of a constant
    // into a plain constant, and the layers would no longer look quantized.
    GreedyRewriteConfig config;
    config.enableFolding(false);
    config.enableConstantCSE(false);
    if (failed(applyPatternsGreedily(copy->getOperation(), std::move(patterns),
                                     config))) {
      error = "the elementwise fusion did not converge";
      return std::nullopt;
    }
  }
  llvm::DenseSet<Operation *> quantized;
  for (const QuantizedLayer &layer : findQuantizedLayers(*copy))
    quantized.insert(linalg::LinalgOp(layer.layer.op).getOperation());

  FloatCodeEstimate estimate;
  copy->walk([&](Operation *op) {
    if (auto slice = dyn_cast<tensor::InsertSliceOp>(op)) {
      if (!isCompileTimeValue(slice.getSource()))
        estimate.transposeSeconds +=
            2 * tensorBytes(slice.getSourceType()) /
            (profile.transposeGBs * 1e9);
      return;
    }
    auto linalgOp = dyn_cast<linalg::LinalgOp>(op);
    if (!linalgOp || quantized.contains(op) || !linalgOp.hasPureTensorSemantics())
      return;
    if (llvm::all_of(linalgOp.getDpsInputs(),
                     [](Value v) { return isCompileTimeValue(v); }))
      return; // folded at compile time
    if (isa<linalg::FillOp>(op))
      return; // fills fold into the kernels or are a memset
    double bytes = 0;
    for (Value input : linalgOp.getDpsInputs())
      bytes += tensorBytes(input.getType());
    for (Value result : op->getResults())
      bytes += tensorBytes(result.getType());
    SmallVector<int64_t> ranges = linalgOp.getStaticLoopRanges();
    double iterations = 1;
    for (int64_t range : ranges)
      iterations *= range > 0 ? static_cast<double>(range) : 1.0;
    bool reduces = linalgOp.getNumReductionLoops() > 0;
    if (isContraction(op))
      estimate.contractionSeconds +=
          2 * iterations / (profile.floatGflops * 1e9);
    else if (reduces)
      estimate.reductionSeconds += bytes / (profile.reductionGBs * 1e9);
    else if (isa<linalg::TransposeOp>(op) || hasPermutedInput(linalgOp))
      estimate.transposeSeconds += bytes / (profile.transposeGBs * 1e9);
    else
      estimate.elementwiseSeconds += bytes / (profile.elementwiseGBs * 1e9);
  });
  return estimate;
}

} // namespace quantc
