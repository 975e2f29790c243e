//===- Report.cpp - quant-compile --report --------------------------------===//

#include "Report.h"

#include "quantc/Formats/Format.h"
#include "quantc/Transforms/QuantizableLayers.h"

#include "qc/QcDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

using namespace mlir;
using namespace quantc;

std::string quantc::reportName(const QuantizedLayer &layer) {
  llvm::StringRef key(layer.statsKey);
  key.consume_back(":input");
  return key.str();
}

void Report::collectLayers(ModuleOp floatModel, ModuleOp module) {
  layers.clear();
  // The float weight of each layer, in its weight operand's shape.
  std::map<std::string, std::vector<float>> floatWeights;
  for (QuantizedLayer &quantized : findQuantizedLayers(floatModel)) {
    auto weightQuant =
        quantized.layer.weight.source.getDefiningOp<qc::FakeQuantOp>();
    auto constant = weightQuant.getInput().getDefiningOp<arith::ConstantOp>();
    if (std::optional<std::vector<float>> values =
            readFloatElements(constant.getValue()))
      if (std::optional<std::vector<float>> weight =
              weightOperandValues(quantized.layer, *values))
        floatWeights.emplace(reportName(quantized), std::move(*weight));
  }
  for (QuantizedLayer &quantized :
       findQuantizedLayers(module, /*includePacked=*/true)) {
    QuantizableLayer &layer = quantized.layer;
    Value source = layer.weight.source;
    LayerReport r;
    r.name = reportName(quantized);
    Format format;
    if (auto weightQuant = source.getDefiningOp<qc::FakeQuantOp>()) {
      format = weightQuant.getFormat().getValue();
    } else {
      auto dequantize = source.getDefiningOp<qc::DequantizeOp>();
      format = cast<qc::PackedType>(dequantize.getInput().getType())
                   .getFormat()
                   .getValue();
    }
    r.weightFormat = printFormat(format);
    auto type = cast<RankedTensorType>(source.getType());
    r.weightShape.assign(type.getShape().begin(), type.getShape().end());
    r.floatBytes = type.getNumElements() *
                   ((type.getElementTypeBitWidth() + 7) / 8);
    std::string error;
    r.packedBytes = packedSizeInBytes(r.weightShape, format, error).value_or(0);
    r.bitsPerWeight = bitsPerElement(r.weightShape, format);
    auto reference = floatWeights.find(r.name);
    if (reference != floatWeights.end())
      if (std::optional<std::vector<float>> values =
              quantizedWeightValues(source, error))
        if (std::optional<std::vector<float>> weight =
                weightOperandValues(layer, *values))
          if (weight->size() == reference->second.size())
            r.weightQsnr = qsnrDecibels(reference->second.data(),
                                        weight->data(), weight->size());
    Value activation = layer.op.getDpsInputs()[layer.activationInput];
    if (auto actQuant = activation.getDefiningOp<qc::FakeQuantOp>()) {
      Format act = actQuant.getFormat().getValue();
      r.activationFormat = printFormat(act);
      if (act.staticAmax > 0)
        r.staticAmax = act.staticAmax;
    }
    if (auto rotation = layer.op->getAttrOfType<StringAttr>("qc.rotation"))
      r.rotation = rotation.str();
    layers.push_back(std::move(r));
  }
  if (fidelity)
    setFidelity(*fidelity);
}

void Report::setFidelity(const Fidelity &measured) {
  fidelity = measured;
  for (LayerReport &layer : layers) {
    auto it = measured.layerOutputSqnr.find(layer.name);
    if (it != measured.layerOutputSqnr.end())
      layer.outputSqnr = it->second;
  }
}

/// "inf" rather than a JSON number JSON cannot hold.
static llvm::json::Value number(double value) {
  if (std::isfinite(value))
    return value;
  return value > 0 ? "inf" : "-inf";
}

static std::string decibels(double value) {
  if (std::isinf(value))
    return value > 0 ? "exact" : "-inf";
  return llvm::formatv("{0:f2} dB", value).str();
}

static std::string shapeText(const std::vector<int64_t> &shape) {
  return llvm::join(llvm::map_range(shape, [](int64_t d) {
                      return std::to_string(d);
                    }),
                    "x");
}

bool Report::write(const std::string &path, std::string &error,
                   std::string &plotNote) const {
  int64_t floatBytes = 0, packedBytes = 0;
  for (const LayerReport &layer : layers) {
    floatBytes += layer.floatBytes;
    packedBytes += layer.packedBytes;
  }
  double totalSeconds = 0;
  for (const auto &stage : stages)
    totalSeconds += stage.second;

  // JSON first: the plot reads it.
  llvm::json::Object root;
  root["model"] = model;
  root["recipe"] = recipe;
  root["calibration"] = calibration;
  llvm::json::Array layerArray;
  for (const LayerReport &layer : layers) {
    llvm::json::Object o;
    o["name"] = layer.name;
    o["weight_format"] = layer.weightFormat;
    o["activation_format"] = layer.activationFormat.empty()
                                 ? llvm::json::Value(nullptr)
                                 : llvm::json::Value(layer.activationFormat);
    o["weight_shape"] = llvm::json::Array(layer.weightShape);
    o["bits_per_weight"] = layer.bitsPerWeight;
    o["float_bytes"] = layer.floatBytes;
    o["packed_bytes"] = layer.packedBytes;
    o["weight_qsnr_db"] = number(layer.weightQsnr);
    o["output_sqnr_db"] = layer.outputSqnr ? number(*layer.outputSqnr)
                                           : llvm::json::Value(nullptr);
    o["rotation"] = layer.rotation.empty() ? llvm::json::Value(nullptr)
                                           : llvm::json::Value(layer.rotation);
    o["static_activation_amax"] =
        layer.staticAmax ? llvm::json::Value(*layer.staticAmax)
                         : llvm::json::Value(nullptr);
    layerArray.push_back(std::move(o));
  }
  root["layers"] = std::move(layerArray);
  llvm::json::Object modelObject;
  modelObject["float_weight_bytes"] = floatBytes;
  modelObject["packed_weight_bytes"] = packedBytes;
  if (fidelity) {
    modelObject["fidelity_samples"] = fidelity->samples;
    llvm::json::Object outputs;
    for (const auto &[name, sqnr] : fidelity->modelOutputSqnr)
      outputs[name] = number(sqnr);
    modelObject["output_sqnr_db"] = std::move(outputs);
  }
  llvm::json::Object stageObject;
  for (const auto &[stage, seconds] : stages)
    stageObject[stage] = seconds;
  modelObject["compile_seconds"] = std::move(stageObject);
  root["model_summary"] = std::move(modelObject);

  llvm::SmallString<256> jsonPath(path), pngPath(path);
  llvm::sys::path::replace_extension(jsonPath, "json");
  llvm::sys::path::replace_extension(pngPath, "png");
  if (jsonPath == path)
    jsonPath += ".json";
  auto writeFile = [&](llvm::StringRef file,
                       llvm::function_ref<void(llvm::raw_ostream &)> body) {
    std::error_code ec;
    llvm::raw_fd_ostream os(file, ec);
    if (ec) {
      error = file.str() + ": " + ec.message();
      return false;
    }
    body(os);
    return true;
  };
  if (!writeFile(jsonPath, [&](llvm::raw_ostream &os) {
        os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root)))
           << "\n";
      }))
    return false;

  bool ok = writeFile(path, [&](llvm::raw_ostream &os) {
    os << "# quant-compile report: " << llvm::sys::path::filename(model)
       << "\n\n";
    os << "Recipe `" << recipe << "`; calibration: "
       << (calibration.empty() ? "none" : calibration) << ".\n\n";
    os << "## Model\n\n";
    os << "| | |\n|---|---|\n";
    os << "| quantized layers | " << layers.size() << " |\n";
    os << llvm::formatv("| weights | {0} bytes as float -> {1} bytes packed "
                        "({2:f2}x smaller) |\n",
                        floatBytes, packedBytes,
                        packedBytes ? double(floatBytes) / packedBytes : 0.0);
    if (fidelity) {
      for (const auto &[name, sqnr] : fidelity->modelOutputSqnr)
        os << "| output `" << name << "` SQNR vs float ("
           << fidelity->samples << " calibration samples) | "
           << decibels(sqnr) << " |\n";
    } else {
      os << "| output SQNR vs float | not measured (needs --calib) |\n";
    }
    os << llvm::formatv("| compile time | {0:f2} s |\n\n", totalSeconds);
    os << "## Layers\n\n";
    os << "| layer | weight [shape] | format | bits/weight | weight QSNR | "
          "output SQNR | activations | rotation |\n";
    os << "|---|---|---|---|---|---|---|---|\n";
    for (const LayerReport &layer : layers) {
      std::string activations =
          layer.activationFormat.empty() ? "float" : layer.activationFormat;
      if (layer.staticAmax)
        activations += " (static)";
      os << "| " << layer.name << " | " << shapeText(layer.weightShape)
         << " | " << layer.weightFormat << " | "
         << llvm::formatv("{0:f3}", layer.bitsPerWeight) << " | "
         << decibels(layer.weightQsnr) << " | "
         << (layer.outputSqnr ? decibels(*layer.outputSqnr) : "-") << " | "
         << activations << " | "
         << (layer.rotation.empty() ? "-" : layer.rotation) << " |\n";
    }
    os << "\n## Compile time per stage\n\n| stage | seconds |\n|---|---|\n";
    for (const auto &[stage, seconds] : stages)
      os << "| " << stage << " | " << llvm::formatv("{0:f3}", seconds)
         << " |\n";
  });
  if (!ok)
    return false;

  // The plot: optional (python3-matplotlib), never fatal.
  llvm::ErrorOr<std::string> python =
      llvm::sys::findProgramByName("python3", {"/usr/bin"});
  if (!python || !llvm::sys::fs::exists(QUANTC_REPORT_PLOT_SCRIPT)) {
    plotNote = "no plot: /usr/bin/python3 or " +
               std::string(QUANTC_REPORT_PLOT_SCRIPT) + " is missing";
    return true;
  }
  std::string message;
  std::string jsonArg(jsonPath), pngArg(pngPath);
  llvm::StringRef args[] = {*python, QUANTC_REPORT_PLOT_SCRIPT, jsonArg,
                            pngArg};
  int rc = llvm::sys::ExecuteAndWait(*python, args, std::nullopt, {}, 120, 0,
                                     &message);
  if (rc != 0)
    plotNote = "no plot: " + std::string(QUANTC_REPORT_PLOT_SCRIPT) +
               " failed" + (message.empty() ? "" : " (" + message + ")");
  return true;
}
