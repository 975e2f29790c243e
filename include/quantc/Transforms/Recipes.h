//===- Recipes.h - Quantization recipes: named and JSON ----------*- C++ -*-===//
//
// A recipe says, per quantizable layer, which weight format and which
// activation format qc-quantize applies, and which accuracy passes the driver
// runs (rotation, clipping). qc-quantize{recipe=...} and quant-compile
// --recipe read recipes through this header, so both accept the same names
// and files and report the same errors.
//
// Named recipes (weights / activations):
//   int8          int8 per output channel / int8 per tensor (static: the scale
//                 comes from calibration once qc-clip runs; until then
//                 fake_quant computes it per call)
//   w8a8-mxint8   mxint8 / mxint8
//   w4a16-mxfp4   mxfp4 / float
//   w4a16-nvfp4   nvfp4 / float
//   w4a8-mxfp4    mxfp4 / mxint8
//   w4a8-int4     int4_g32 / int8 per block of 32 (int8_g32)
//   w4a4-nvfp4    nvfp4 / nvfp4
//   w4a4-nvint4   nvint4 / nvint4, with Hadamard rotation (qc-rotate)
//   w4a16-nvfp4-gptq, w4a16-mxfp4-gptq, w4a8-int4-gptq
//                 the recipe without "-gptq", weights rounded by qc-gptq
//   w8a8-int8-smooth
//                 int8 after SmoothQuant (qc-smooth, alpha 0.5; needs
//                 calibration statistics)
//   auto:BITS     each layer's weight format chosen by qc-allocate-bits
//                 among the CPU kernels' formats for BITS average bits per
//                 weight (scales included, e.g. auto:5 or auto:4.5),
//                 errors measured after GPTQ, then GPTQ; float activations
//   auto-latency:US
//                 the same under a predicted latency of US microseconds for
//                 the whole model (qc-allocate-bits' latency model,
//                 quantc/Transforms/LatencyModel.h; --latency-profile)
// The GPTQ and auto recipes need calibration statistics with XᵀX
// (quant-compile --calib); without them weights keep round-to-nearest.
//
// A JSON recipe file:
//   {
//     "base": "w4a8-mxfp4",             // optional: start from a named recipe
//     "weights": "nvfp4",               // a format spec (Format.h) or null
//     "activations": "mxint8",          // a format spec or null (float)
//     "rotate": "on" | "off" | "auto",
//     "clip": {"weights": "mse", "activations": "percentile",
//              "percentile": 99.9},     // or null: no clipping pass
//     "layers": [{"match": "layers.0.*", "weights": "int8",
//                 "activations": null}],// first match wins
//     "skip": ["head*"],                // left in float
//     "gptq": {"damp": 0.01, "block_size": 128, "act_order": false},
//                                       // or true / false / null
//     "allocate": {"budget": "5",       // qc-allocate-bits: bits per weight,
//                  "candidates": ["mxfp4", "nvfp4", "mxfp6_e2m3"]},
//                                       // bytes ("2MiB") or latency ("300us")
//     "bias_correct": true,             // qc-bias-correct (needs --calib);
//                                       // or {"add_bias": true}: layers
//                                       // without a bias get one
//     "smooth": {"alpha": 0.5, "bias": false},
//                                       // qc-smooth (or true / false / null)
//     "equalize": true                  // qc-smooth's cross-layer equalization
//   }
// Formats are quantized along the layer's reduction axis whatever axis the
// spec names. Layer names are the ONNX node names (the ops' NameLoc); a
// pattern (llvm::GlobPattern) matches either the name itself or its module
// path, the name without a leading '/' and with '/' read as '.'
// ("/layers.0/attn/wq/MatMul" is also "layers.0.attn.wq.MatMul").
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_TRANSFORMS_RECIPES_H
#define QUANTC_TRANSFORMS_RECIPES_H

#include "quantc/Formats/Format.h"

#include "llvm/ADT/StringRef.h"

#include <optional>
#include <string>
#include <vector>

namespace quantc {

enum class RotateMode { Off, On, Auto };

const char *rotateModeName(RotateMode mode);

/// Options of the qc-clip pass that a recipe asks for.
struct ClipOptions {
  std::string weights = "mse";        // minmax | mse
  std::string activations = "minmax"; // minmax | percentile | mse | entropy
  double percentile = 99.99;
};

/// Options of the qc-gptq pass that a recipe asks for.
struct GptqRecipeOptions {
  double damp = 0.01;
  int64_t blockSize = 128;
  bool actOrder = false;
};

/// Options of the qc-allocate-bits pass that a recipe asks for.
struct AllocateOptions {
  /// Bits per weight ("5"), bytes ("2MiB") or latency ("300us").
  std::string budget;
  /// Candidate format specs; empty: the pass's default (the CPU kernels').
  std::vector<std::string> candidates;
};

/// Options of the qc-bias-correct pass that a recipe asks for.
struct BiasCorrectOptions {
  bool addBias = false;
};

/// Options of the qc-smooth pass's SmoothQuant that a recipe asks for.
struct SmoothRecipeOptions {
  double alpha = 0.5;
  /// MPTQ-ViT's variant: centre each channel on its mid-range first.
  bool bias = false;
};

/// The formats one layer gets. No weight format: the layer stays in float.
struct LayerFormats {
  std::optional<Format> weights;
  std::optional<Format> activations;
};

/// A per-layer override: layers matching `pattern` get `formats`.
struct LayerOverride {
  std::string pattern;
  LayerFormats formats;
};

struct Recipe {
  /// The recipe's name, or the file it was read from.
  std::string name;
  LayerFormats defaults;
  RotateMode rotate = RotateMode::Off;
  /// Run qc-clip with these options (nullopt: no clipping pass).
  std::optional<ClipOptions> clip;
  std::vector<LayerOverride> layers;
  std::vector<std::string> skip;
  /// Run qc-gptq (after clipping) with these options.
  std::optional<GptqRecipeOptions> gptq;
  /// Run qc-allocate-bits (before clipping) with these options.
  std::optional<AllocateOptions> allocate;
  /// Run qc-bias-correct (after qc-clip and qc-gptq) with these options.
  std::optional<BiasCorrectOptions> biasCorrect;
  /// Run qc-smooth's SmoothQuant (after qc-quantize, before rotation).
  std::optional<SmoothRecipeOptions> smooth;
  /// Run qc-smooth's cross-layer equalization.
  bool equalize = false;

  /// The formats for the layer named `layerName`: a skip pattern leaves it in
  /// float (nullopt), else the first matching override, else the defaults.
  std::optional<LayerFormats> formatsFor(llvm::StringRef layerName) const;
  /// Whether any layer may get an activation format (calibration is useful).
  bool quantizesActivations() const;
};

/// The named recipes, in the order of the table above ("auto:BITS" is a
/// family, not listed).
std::vector<std::string> namedRecipes();

/// A named recipe, or the JSON recipe in the file `nameOrPath` (a name that
/// is not a recipe and ends in .json, or contains a '/', is read as a file).
/// On failure returns nullopt and sets `error` to one line naming the file
/// and key: "r.json: layers[1].weights: 'nvfp5' is not a format: ...".
std::optional<Recipe> loadRecipe(llvm::StringRef nameOrPath, std::string &error);

/// Parses the JSON text of a recipe; `fileName` names it in errors.
std::optional<Recipe> parseRecipeJson(llvm::StringRef text,
                                      llvm::StringRef fileName,
                                      std::string &error);

/// Whether a glob `pattern` matches `layerName` or its module path (see the
/// file comment). A malformed pattern matches nothing.
bool layerNameMatches(llvm::StringRef pattern, llvm::StringRef layerName);

} // namespace quantc

#endif // QUANTC_TRANSFORMS_RECIPES_H
