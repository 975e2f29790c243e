//===- AllocateBits.cpp - qc-allocate-bits: formats under a budget --------===//
//
// Sensitivity is measured, not modelled: every candidate format is applied
// to every weight through the format library (or GPTQ), and its error is
// the layer output error it causes on the calibration data,
// tr(ΔW·H·ΔWᵀ) = Σ over calibration rows x of |x·ΔWᵀ|². Summing it over
// layers treats an output error anywhere as equally bad (the usual Hessian
// proxy of the loss); costs are the packed bytes the library reports, so
// scales, zero points and NV tensor scales are counted. The knapsack is
// exact (quantc/Formats/BitAllocation.h).
//
// The remark compares the result with the best uniform candidate within
// the same budget, on the same predicted error.
//
//===----------------------------------------------------------------------===//

#include "quantc/Transforms/Passes.h"

#include "quantc/Formats/BitAllocation.h"
#include "quantc/Formats/Gptq.h"
#include "quantc/Transforms/LatencyModel.h"
#include "quantc/Transforms/LayerWeights.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <limits>

namespace mlir::qc {
#define GEN_PASS_DEF_QCALLOCATEBITS
#include "quantc/Transforms/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

enum class BudgetKind { BitsPerWeight, Bytes, Seconds };

struct Budget {
  BudgetKind kind = BudgetKind::BitsPerWeight;
  double value = 0;
};

/// "5", "5bits", "4.5 bits", "2MiB", "1500000B", "300us", "2ms".
std::optional<Budget> parseBudget(StringRef text, std::string &error) {
  StringRef trimmed = text.trim();
  size_t numberEnd = 0;
  while (numberEnd < trimmed.size() &&
         (llvm::isDigit(trimmed[numberEnd]) || trimmed[numberEnd] == '.' ||
          trimmed[numberEnd] == 'e' || trimmed[numberEnd] == 'E' ||
          ((trimmed[numberEnd] == '-' || trimmed[numberEnd] == '+') &&
           numberEnd > 0 &&
           (trimmed[numberEnd - 1] == 'e' || trimmed[numberEnd - 1] == 'E'))))
    ++numberEnd;
  double number;
  StringRef unit = trimmed.substr(numberEnd).trim();
  if (numberEnd == 0 || trimmed.substr(0, numberEnd).getAsDouble(number) ||
      !(number > 0) || !std::isfinite(number)) {
    error = "budget '" + text.str() +
            "' is not a positive number with an optional unit (bits, B, KB, "
            "KiB, MB, MiB, us, ms)";
    return std::nullopt;
  }
  Budget budget;
  std::string lower = unit.lower();
  if (lower.empty() || lower == "bits" || lower == "bit") {
    budget = {BudgetKind::BitsPerWeight, number};
  } else if (lower == "b") {
    budget = {BudgetKind::Bytes, number};
  } else if (lower == "kb") {
    budget = {BudgetKind::Bytes, number * 1e3};
  } else if (lower == "kib") {
    budget = {BudgetKind::Bytes, number * 1024};
  } else if (lower == "mb") {
    budget = {BudgetKind::Bytes, number * 1e6};
  } else if (lower == "mib") {
    budget = {BudgetKind::Bytes, number * 1024 * 1024};
  } else if (lower == "us") {
    budget = {BudgetKind::Seconds, number * 1e-6};
  } else if (lower == "ms") {
    budget = {BudgetKind::Seconds, number * 1e-3};
  } else {
    error = "budget '" + text.str() + "': unknown unit '" + unit.str() +
            "' (bits, B, KB, KiB, MB, MiB, us, ms)";
    return std::nullopt;
  }
  return budget;
}

/// One candidate of one weight.
struct Candidate {
  int format = 0; // index into the candidate list
  /// The format as the weight's fake_quant spells it.
  quantc::Format sourceFormat;
  int64_t bytes = 0;
  double seconds = 0;
  double error = 0;
};

struct WeightChoices {
  quantc::LayerWeight *weight = nullptr;
  std::vector<Candidate> candidates;
  double signal = 0; // tr(W·H·Wᵀ)
};

struct QcAllocateBitsPass
    : mlir::qc::impl::QcAllocateBitsBase<QcAllocateBitsPass> {
  using QcAllocateBitsBase::QcAllocateBitsBase;

  /// The latency model (quantc/Transforms/LatencyModel.h) and what it needs
  /// to know of the whole model.
  quantc::LatencyProfile profile;
  bool weightsCached = true;

  /// The packed bytes of `weight` in its current format (4 per element
  /// when the format cannot pack it).
  static int64_t currentBytes(const quantc::LayerWeight &weight) {
    std::string unused;
    return quantc::packedSizeInBytes({weight.rows, weight.columns},
                                     weight.format, unused)
        .value_or(weight.rows * weight.columns * 4);
  }

  /// Predicted seconds of `weight`'s layers with `bytes` of packed weights
  /// in `format`: M from each layer's result (or `tokens`), float
  /// or int8 activations as the layer's activation quantizer says.
  double latency(int64_t bytes, const quantc::LayerWeight &weight,
                 const quantc::Format &format) const {
    std::string name = quantc::printFormat(format);
    double seconds = 0;
    for (const quantc::QuantizedLayer &layer : weight.layers) {
      // M = outputs per output channel: rows of a matmul, output positions
      // (batch x spatial) of a convolution, whatever its kernel and strides.
      int64_t m = tokens;
      auto type =
          dyn_cast<RankedTensorType>(layer.layer.op->getResult(0).getType());
      if (m <= 0)
        m = type && type.hasStaticShape() && weight.rows > 0
                ? type.getNumElements() / weight.rows
                : 1;
      bool int8Activations = false;
      Value input =
          linalg::LinalgOp(layer.layer.op).getDpsInputs()[layer.layer.activationInput];
      if (auto quant = input.getDefiningOp<FakeQuantOp>()) {
        const quantc::Format &act = quant.getFormat().getValue();
        int8Activations = act.element.kind == quantc::ElementKind::Int &&
                          act.element.bits == 8;
      }
      seconds += quantc::matmulSeconds(profile, std::max<int64_t>(m, 1),
                                       weight.rows, weight.columns,
                                       static_cast<double>(bytes), name,
                                       int8Activations, weightsCached);
    }
    return seconds;
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto fail = [&](const Twine &message) {
      module.emitError() << "qc-allocate-bits: " << message;
      signalPassFailure();
    };
    if (statsDir.empty())
      return fail("stats=DIR is required (the calibration statistics "
                  "directory with each layer's XᵀX)");
    if (budget.empty())
      return fail("budget=... is required (bits per weight, e.g. 5; bytes, "
                  "e.g. 2MiB; or latency, e.g. 300us)");
    std::string error;
    std::optional<Budget> parsedBudget = parseBudget(budget, error);
    if (!parsedBudget)
      return fail(error);
    if (tokens < 0)
      return fail("tokens must be 0 (from the model) or positive");
    if (profileFile.empty()) {
      profile = quantc::LatencyProfile::builtIn();
    } else {
      std::optional<quantc::LatencyProfile> read =
          quantc::LatencyProfile::read(profileFile, error);
      if (!read)
        return fail(error);
      profile = std::move(*read);
    }

    // Candidate formats.
    std::vector<quantc::Format> formats;
    std::vector<std::string> formatNames;
    SmallVector<StringRef> specs;
    StringRef(candidates).split(specs,
                                StringRef(candidates).contains(';') ? ';' : ',',
                                -1, /*KeepEmpty=*/false);
    for (StringRef spec : specs) {
      std::optional<quantc::Format> format =
          quantc::parseFormat(spec.trim().str(), error);
      if (!format)
        return fail("candidate '" + spec.trim() + "': " + error);
      formats.push_back(*format);
      formatNames.push_back(quantc::printFormat(*format));
    }
    if (formats.empty() || formats.size() > 255)
      return fail("candidates: give 1 to 255 formats");

    std::optional<quantc::CalibrationStats> stats =
        quantc::CalibrationStats::read(statsDir, error);
    if (!stats)
      return fail(error);

    std::vector<std::string> skipped;
    std::vector<quantc::LayerWeight> weights =
        quantc::collectLayerWeights(module, skipped);
    for (const std::string &why : skipped)
      mlir::emitWarning(module.getLoc())
          << "qc-allocate-bits: layer " << why << "; it keeps its format";

    // The latency model: whether the weights fit the cache (at their
    // formats before allocation), and the float code around the layers,
    // which no choice changes.
    bool byLatency = parsedBudget->kind == BudgetKind::Seconds;
    double floatCodeSeconds = 0;
    if (byLatency) {
      double modelBytes = 0;
      for (const quantc::LayerWeight &weight : weights)
        modelBytes += static_cast<double>(currentBytes(weight));
      weightsCached = modelBytes <= profile.cacheBytes;
      std::optional<quantc::FloatCodeEstimate> floatCode =
          quantc::estimateFloatCode(module, profile, error);
      if (!floatCode)
        return fail(error);
      floatCodeSeconds = floatCode->seconds();
    }

    // Measure every candidate on every weight with statistics.
    std::vector<WeightChoices> choices;
    int64_t fixedBytes = 0, totalElements = 0;
    double fixedSeconds = floatCodeSeconds;
    // A weight no candidate applies to counts against the budget as it is.
    auto keepFormat = [&](const quantc::LayerWeight &weight,
                          const std::string &why) {
      int64_t bytes = currentBytes(weight);
      fixedBytes += bytes;
      fixedSeconds += latency(bytes, weight, weight.format);
      mlir::emitWarning(weight.layers.front().layer.op->getLoc())
          << "qc-allocate-bits: layer '" << weight.name
          << "' keeps its format: " << why;
    };
    for (quantc::LayerWeight &weight : weights) {
      totalElements += weight.rows * weight.columns;
      std::string whyNot;
      std::optional<std::vector<double>> hessian =
          quantc::layerHessian(weight, *stats, whyNot);
      std::optional<std::vector<quantc::GptqHessian>> prepared;
      if (hessian && useGptq) {
        quantc::GptqOptions options;
        options.dampening = damp;
        options.actOrder = actOrder;
        prepared =
            quantc::prepareLayerHessian(weight, *hessian, options, whyNot);
        if (!prepared)
          hessian.reset();
      }
      if (!hessian) {
        keepFormat(weight, whyNot);
        continue;
      }
      WeightChoices choice;
      choice.weight = &weight;
      std::vector<float> zeros(weight.matrix.size(), 0.0f);
      choice.signal = quantc::layerError(weight, *hessian, zeros.data());
      for (size_t f = 0; f < formats.size(); ++f) {
        // The candidate along the weight's reduction axis, and as the
        // matrix sees it (a convolution's per-channel scales are blocks of
        // one kernel offset's input channels there).
        quantc::Format source = quantc::sourceFormat(weight, formats[f]);
        std::string unused;
        std::optional<quantc::Format> matrix =
            quantc::matrixFormat(weight, source, unused);
        if (!matrix)
          continue;
        quantc::Format format = *matrix;
        std::optional<int64_t> bytes = quantc::packedSizeInBytes(
            {weight.rows, weight.columns}, format, unused);
        if (!bytes || !quantc::packedSizeInBytes(weight.sourceShape, source,
                                                 unused))
          continue; // the reduction size does not fit the format's blocks
        std::optional<std::vector<float>> quantized;
        if (prepared) {
          std::optional<quantc::GptqResult> result =
              quantc::gptqQuantizeLayer(weight, *prepared, format, unused);
          if (result)
            quantized = std::move(result->dequantized);
        } else {
          quantized = quantc::fakeQuantize(weight.matrix.data(),
                                           {weight.rows, weight.columns},
                                           format, unused);
        }
        if (!quantized)
          continue;
        Candidate candidate;
        candidate.format = static_cast<int>(f);
        candidate.sourceFormat = source;
        candidate.bytes = *bytes;
        candidate.seconds = latency(*bytes, weight, formats[f]);
        candidate.error = quantc::layerError(weight, *hessian, quantized->data());
        choice.candidates.push_back(candidate);
      }
      if (choice.candidates.empty()) {
        keepFormat(weight, "no candidate fits its reduction size " +
                               std::to_string(weight.columns));
        continue;
      }
      choices.push_back(std::move(choice));
    }
    if (choices.empty()) {
      mlir::emitRemark(module.getLoc())
          << "qc-allocate-bits: no layer to allocate";
      return;
    }

    // The knapsack, in the budget's currency.
    bool bySize = parsedBudget->kind != BudgetKind::Seconds;
    double total = parsedBudget->kind == BudgetKind::BitsPerWeight
                       ? parsedBudget->value * totalElements / 8.0
                       : parsedBudget->value;
    double available = total - (bySize ? fixedBytes : fixedSeconds);
    if (bySize)
      available = std::floor(available);
    std::vector<std::vector<quantc::KnapsackItem>> groups;
    for (const WeightChoices &choice : choices) {
      std::vector<quantc::KnapsackItem> items;
      for (const Candidate &c : choice.candidates)
        items.push_back({bySize ? static_cast<double>(c.bytes) : c.seconds,
                         c.error});
      groups.push_back(std::move(items));
    }
    if (bySize) {
      // In the budget's own unit, with the weight that needs the most bits
      // per weight at its smallest (often: only int8 fits its reduction
      // size).
      double smallest = fixedBytes, worstBits = 0;
      std::string worstName;
      for (const WeightChoices &choice : choices) {
        double least = INFINITY;
        for (const Candidate &c : choice.candidates)
          least = std::min(least, static_cast<double>(c.bytes));
        smallest += least;
        double elements = static_cast<double>(choice.weight->rows) *
                          choice.weight->columns;
        if (8.0 * least / elements > worstBits) {
          worstBits = 8.0 * least / elements;
          worstName = choice.weight->name;
        }
      }
      if (smallest > total) {
        bool bits = parsedBudget->kind == BudgetKind::BitsPerWeight;
        return fail(llvm::formatv(
                        "budget {0}: the smallest choice takes {1} ({2} "
                        "weight(s) keep their formats; the most bits at its "
                        "smallest: '{3}', {4:F2} bits/weight)",
                        budget,
                        bits ? llvm::formatv("{0:F3} bits/weight",
                                             8.0 * smallest / totalElements)
                                   .str()
                             : llvm::formatv("{0:F0} bytes", smallest).str(),
                        weights.size() - choices.size(), worstName, worstBits)
                        .str());
      }
    } else {
      // In the budget's own unit: the knapsack's message speaks seconds.
      double fastest = fixedSeconds;
      for (const auto &group : groups) {
        double least = INFINITY;
        for (const quantc::KnapsackItem &item : group)
          least = std::min(least, item.cost);
        fastest += least;
      }
      if (fastest > total)
        return fail(llvm::formatv("budget {0}: the fastest choice is "
                                  "predicted to take {1:F1} us (matmuls "
                                  "{2:F1} + float code {3:F1}; profile {4})",
                                  budget, fastest * 1e6,
                                  (fastest - floatCodeSeconds) * 1e6,
                                  floatCodeSeconds * 1e6, profile.source)
                        .str());
    }
    std::optional<quantc::KnapsackSolution> solution =
        quantc::solveMultipleChoiceKnapsack(groups, std::max(available, 0.0),
                                            error);
    if (!solution)
      return fail("budget " + budget + ": " + error);

    // The best uniform candidate within the same budget, for the remark.
    double uniformError = std::numeric_limits<double>::infinity();
    std::string uniformName;
    for (size_t f = 0; f < formats.size(); ++f) {
      double cost = 0, err = 0;
      bool everywhere = true;
      for (const WeightChoices &choice : choices) {
        auto it = llvm::find_if(choice.candidates, [&](const Candidate &c) {
          return c.format == static_cast<int>(f);
        });
        if (it == choice.candidates.end()) {
          everywhere = false;
          break;
        }
        cost += bySize ? static_cast<double>(it->bytes) : it->seconds;
        err += it->error;
      }
      if (everywhere && cost <= available && err < uniformError) {
        uniformError = err;
        uniformName = formatNames[f];
      }
    }

    // Apply.
    MLIRContext *ctx = module.getContext();
    int64_t chosenBytes = fixedBytes;
    double chosenSeconds = fixedSeconds;
    std::vector<int> histogram(formats.size(), 0);
    for (size_t i = 0; i < choices.size(); ++i) {
      WeightChoices &choice = choices[i];
      const Candidate &c = choice.candidates[solution->choice[i]];
      quantc::LayerWeight &weight = *choice.weight;
      chosenBytes += c.bytes;
      chosenSeconds += c.seconds;
      ++histogram[c.format];
      weight.fakeQuant.setFormatAttr(FormatAttr::get(ctx, c.sourceFormat));
      double bits = 8.0 * c.bytes / (weight.rows * weight.columns);
      for (quantc::QuantizedLayer &layer : weight.layers) {
        Operation *op = layer.layer.op.getOperation();
        op->setAttr("qc.weight_format",
                    StringAttr::get(ctx, formatNames[c.format]));
        op->setAttr("qc.bits", FloatAttr::get(Float64Type::get(ctx), bits));
      }
    }

    double signal = 0;
    for (const WeightChoices &choice : choices)
      signal += choice.signal;
    auto predictedSqnr = [&](double err) {
      return quantc::decibels(signal, err);
    };
    std::string mix;
    for (size_t f = 0; f < formats.size(); ++f)
      if (histogram[f])
        mix += (mix.empty() ? "" : ", ") + std::to_string(histogram[f]) +
               " " + formatNames[f];
    InFlightDiagnostic remark = mlir::emitRemark(module.getLoc());
    remark << "qc-allocate-bits: " << choices.size() << " weight(s), budget "
           << budget << ": "
           << llvm::formatv("{0:F3}", 8.0 * chosenBytes / totalElements).str()
           << " bits/weight (" << chosenBytes << " bytes";
    if (!bySize)
      remark << llvm::formatv(", predicted latency {0:F1} us = matmuls {1:F1} "
                              "+ float code {2:F1}, profile {3}",
                              chosenSeconds * 1e6,
                              (chosenSeconds - floatCodeSeconds) * 1e6,
                              floatCodeSeconds * 1e6, profile.source)
                    .str();
    remark << "), predicted layer output SQNR "
           << llvm::formatv("{0:F2}", predictedSqnr(solution->error)).str()
           << " dB; " << mix;
    if (!uniformName.empty())
      remark << "; best uniform within budget: " << uniformName << " at "
             << llvm::formatv("{0:F2}", predictedSqnr(uniformError)).str()
             << " dB";
    if (!solution->exactCosts)
      remark << " (costs rounded up to "
             << llvm::formatv("{0:G3}", solution->unit).str() << ")";

    if (!frontierFile.empty() &&
        failed(writeFrontier(choices, formatNames, groups, *solution, bySize,
                             bySize ? fixedBytes : fixedSeconds,
                             totalElements, signal)))
      return signalPassFailure();
  }

  /// The JSON for reports: the frontier (budget -> least predicted error)
  /// over the whole range of budgets, the chosen point, and every weight's
  /// candidates.
  LogicalResult
  writeFrontier(const std::vector<WeightChoices> &choices,
                const std::vector<std::string> &formatNames,
                const std::vector<std::vector<quantc::KnapsackItem>> &groups,
                const quantc::KnapsackSolution &solution, bool bySize,
                double fixedCost, int64_t totalElements, double signal) {
    double least = 0, most = 0;
    for (const auto &group : groups) {
      double lo = INFINITY, hi = 0;
      for (const quantc::KnapsackItem &item : group) {
        lo = std::min(lo, item.cost);
        hi = std::max(hi, item.cost);
      }
      least += lo;
      most += hi;
    }
    const int steps = 64;
    std::vector<double> budgets;
    for (int s = 0; s <= steps; ++s)
      budgets.push_back(least + (most - least) * s / steps);
    std::vector<double> errors = quantc::knapsackFrontier(groups, budgets);
    llvm::json::Array points;
    for (size_t s = 0; s < budgets.size(); ++s) {
      if (!std::isfinite(errors[s]))
        continue;
      llvm::json::Object point;
      double cost = budgets[s] + fixedCost;
      if (bySize) {
        point["bytes"] = cost;
        point["bits_per_weight"] = 8.0 * cost / totalElements;
      } else {
        point["seconds"] = cost;
      }
      point["error"] = errors[s];
      point["predicted_sqnr_db"] = quantc::decibels(signal, errors[s]);
      points.push_back(std::move(point));
    }
    llvm::json::Array layers;
    for (size_t i = 0; i < choices.size(); ++i) {
      const WeightChoices &choice = choices[i];
      llvm::json::Array candidates;
      for (const Candidate &c : choice.candidates) {
        double bits =
            8.0 * c.bytes / (choice.weight->rows * choice.weight->columns);
        candidates.push_back(llvm::json::Object{
            {"format", formatNames[c.format]},
            {"bytes", c.bytes},
            {"bits_per_weight", bits},
            {"seconds", c.seconds},
            {"error", c.error},
            {"sqnr_db", quantc::decibels(choice.signal, c.error)}});
      }
      layers.push_back(llvm::json::Object{
          {"name", choice.weight->name},
          {"shape", llvm::json::Array{choice.weight->rows,
                                      choice.weight->columns}},
          {"chosen",
           formatNames[choice.candidates[solution.choice[i]].format]},
          {"candidates", std::move(candidates)}});
    }
    llvm::json::Object root{
        {"budget", budget},
        {"cost", bySize ? "bytes" : "seconds"},
        {"chosen",
         llvm::json::Object{{"cost", solution.cost + fixedCost},
                            {"error", solution.error},
                            {"predicted_sqnr_db",
                             quantc::decibels(signal, solution.error)}}},
        {"frontier", std::move(points)},
        {"layers", std::move(layers)}};
    std::error_code ec;
    llvm::raw_fd_ostream os(frontierFile, ec);
    if (ec)
      return getOperation().emitError()
             << "qc-allocate-bits: " << frontierFile << ": " << ec.message();
    os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root))) << "\n";
    return success();
  }
};

} // namespace
