//===- Recipes.cpp - Quantization recipes: named and JSON -----------------===//

#include "quantc/Transforms/Recipes.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/GlobPattern.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>

using namespace quantc;
using llvm::StringRef;

const char *quantc::rotateModeName(RotateMode mode) {
  switch (mode) {
  case RotateMode::Off:
    return "off";
  case RotateMode::On:
    return "on";
  case RotateMode::Auto:
    return "auto";
  }
  return "off";
}

static Format mustParse(const char *spec) {
  std::string error;
  std::optional<Format> format = parseFormat(spec, error);
  if (!format)
    llvm::report_fatal_error(llvm::Twine("built-in recipe format '") + spec +
                             "' does not parse: " + error);
  return *format;
}

namespace {
struct NamedRecipe {
  const char *name;
  const char *weights;
  const char *activations; // nullptr: float activations
  RotateMode rotate;
  /// Clipping: nullptr = none, else the weight method.
  const char *clipWeights;
  /// Round the weights with qc-gptq.
  bool gptq = false;
  /// Smooth with qc-smooth (alpha 0.5).
  bool smooth = false;
};
} // namespace

// Static per-tensor int8 activations need calibrated scales, hence minmax
// clipping for int8; 4-bit weights profit from an MSE clip search.
static const NamedRecipe kNamedRecipes[] = {
    {"int8", "int8", "int8, granularity = tensor", RotateMode::Off, "minmax"},
    {"w8a8-mxint8", "mxint8", "mxint8", RotateMode::Off, nullptr},
    {"w4a16-mxfp4", "mxfp4", nullptr, RotateMode::Off, "mse"},
    {"w4a16-nvfp4", "nvfp4", nullptr, RotateMode::Off, "mse"},
    {"w4a8-mxfp4", "mxfp4", "mxint8", RotateMode::Off, "mse"},
    {"w4a8-int4", "int4_g32", "int8_g32", RotateMode::Off, "mse"},
    {"w4a4-nvfp4", "nvfp4", "nvfp4", RotateMode::Off, "mse"},
    {"w4a4-nvint4", "nvint4", "nvint4", RotateMode::On, "mse"},
    // GPTQ compensates rounding against the weights it is given: clipping
    // them first (qc-clip bakes per-group ratios into the constant) would
    // make it reproduce the clipped weights, so these clip nothing.
    {"w4a16-nvfp4-gptq", "nvfp4", nullptr, RotateMode::Off, nullptr, true},
    {"w4a16-mxfp4-gptq", "mxfp4", nullptr, RotateMode::Off, nullptr, true},
    {"w4a8-int4-gptq", "int4_g32", "int8_g32", RotateMode::Off, nullptr, true},
    // SmoothQuant moves the per-tensor activation scale's outlier channels
    // into the per-channel weight scales.
    {"w8a8-int8-smooth", "int8", "int8, granularity = tensor", RotateMode::Off,
     "minmax", false, true},
};

std::vector<std::string> quantc::namedRecipes() {
  std::vector<std::string> names;
  for (const NamedRecipe &recipe : kNamedRecipes)
    names.push_back(recipe.name);
  return names;
}

static std::optional<Recipe> namedRecipe(StringRef name) {
  for (const NamedRecipe &named : kNamedRecipes) {
    if (name != named.name)
      continue;
    Recipe recipe;
    recipe.name = named.name;
    recipe.defaults.weights = mustParse(named.weights);
    if (named.activations)
      recipe.defaults.activations = mustParse(named.activations);
    recipe.rotate = named.rotate;
    if (named.clipWeights) {
      recipe.clip = ClipOptions();
      recipe.clip->weights = named.clipWeights;
    }
    if (named.gptq)
      recipe.gptq = GptqRecipeOptions();
    if (named.smooth)
      recipe.smooth = SmoothRecipeOptions();
    return recipe;
  }
  // auto:BITS — qc-allocate-bits picks the formats (GPTQ-measured), int8
  // until it runs (per row: every reduction size fits), then GPTQ rounds.
  // auto-latency:MICROSECONDS — the same under a latency budget (the
  // latency model of qc-allocate-bits, quantc/Transforms/LatencyModel.h).
  for (auto [prefix, unit] : {std::pair<StringRef, StringRef>{"auto:", ""},
                              {"auto-latency:", "us"}}) {
    if (!name.starts_with(prefix))
      continue;
    StringRef value = name.drop_front(prefix.size());
    double number;
    if (value.getAsDouble(number) || !(number > 0) || !std::isfinite(number))
      return std::nullopt;
    Recipe recipe;
    recipe.name = name.str();
    recipe.defaults.weights = mustParse("int8");
    recipe.gptq = GptqRecipeOptions();
    recipe.allocate = AllocateOptions();
    recipe.allocate->budget = (value + unit).str();
    return recipe;
  }
  return std::nullopt;
}

//===----------------------------------------------------------------------===//
// Layer names
//===----------------------------------------------------------------------===//

/// "/layers.0/attn/wq/MatMul" -> "layers.0.attn.wq.MatMul".
static std::string modulePath(StringRef name) {
  std::string path = name.ltrim('/').str();
  llvm::replace(path, '/', '.');
  return path;
}

bool quantc::layerNameMatches(StringRef pattern, StringRef layerName) {
  llvm::Expected<llvm::GlobPattern> glob = llvm::GlobPattern::create(pattern);
  if (!glob) {
    llvm::consumeError(glob.takeError());
    return false;
  }
  return glob->match(layerName) || glob->match(modulePath(layerName));
}

std::optional<LayerFormats> Recipe::formatsFor(StringRef layerName) const {
  for (const std::string &pattern : skip)
    if (layerNameMatches(pattern, layerName))
      return std::nullopt;
  for (const LayerOverride &layer : layers)
    if (layerNameMatches(layer.pattern, layerName))
      return layer.formats.weights ? std::optional(layer.formats)
                                   : std::nullopt;
  if (!defaults.weights)
    return std::nullopt;
  return defaults;
}

bool Recipe::quantizesActivations() const {
  if (defaults.weights && defaults.activations)
    return true;
  return llvm::any_of(layers, [](const LayerOverride &layer) {
    return layer.formats.weights && layer.formats.activations;
  });
}

//===----------------------------------------------------------------------===//
// JSON
//===----------------------------------------------------------------------===//

namespace {
/// Reads one JSON recipe, remembering the first error with its key path.
class RecipeReader {
public:
  RecipeReader(StringRef fileName, std::string &error)
      : fileName(fileName), error(error) {}

  bool fail(const llvm::Twine &key, const llvm::Twine &message) {
    if (error.empty())
      error = (fileName + ": " + key + ": " + message).str();
    return false;
  }

  /// A format spec or null. `present` says whether the key was given.
  bool readFormat(const llvm::json::Object &object, StringRef key,
                  const llvm::Twine &path, std::optional<Format> &format,
                  bool &present) {
    const llvm::json::Value *value = object.get(key);
    present = value != nullptr;
    if (!value)
      return true;
    if (value->getAsNull()) {
      format.reset();
      return true;
    }
    std::optional<StringRef> spec = value->getAsString();
    if (!spec)
      return fail(path, "expected a format name (e.g. \"nvfp4\") or null");
    std::string formatError;
    format = parseFormat(spec->str(), formatError);
    if (!format)
      return fail(path, "'" + *spec + "' is not a format: " + formatError);
    return true;
  }

  /// `key` of `object`, if present, into `flag`; true or false only.
  bool readBool(const llvm::json::Object &object, StringRef key,
                const llvm::Twine &path, bool &flag) {
    const llvm::json::Value *value = object.get(key);
    if (!value)
      return true;
    std::optional<bool> parsed = value->getAsBoolean();
    if (!parsed)
      return fail(path, "expected true or false");
    flag = *parsed;
    return true;
  }

  /// A stage that can be switched on with its defaults (`true`), off
  /// (`false` or `null`), or configured with an object of `keys` that
  /// `readOptions` reads onto the options already there.
  template <typename Options, typename ReadOptions>
  bool readSwitchable(const llvm::json::Object &root, StringRef key,
                      std::optional<Options> &options, StringRef expected,
                      llvm::ArrayRef<StringRef> keys,
                      ReadOptions readOptions) {
    const llvm::json::Value *value = root.get(key);
    if (!value)
      return true;
    if (value->getAsNull()) {
      options.reset();
      return true;
    }
    if (std::optional<bool> flag = value->getAsBoolean()) {
      if (*flag)
        options = options.value_or(Options());
      else
        options.reset();
      return true;
    }
    const llvm::json::Object *object = value->getAsObject();
    if (!object)
      return fail(key, expected);
    if (!checkKeys(*object, key, keys))
      return false;
    Options read = options.value_or(Options());
    if (!readOptions(*object, read))
      return false;
    options = read;
    return true;
  }

  bool checkKeys(const llvm::json::Object &object, const llvm::Twine &where,
                 llvm::ArrayRef<StringRef> known) {
    for (const auto &entry : object) {
      StringRef key = entry.first;
      if (!llvm::is_contained(known, key))
        return fail(where.isTriviallyEmpty() ? llvm::Twine(key)
                                             : where + "." + key,
                    "unknown key (known: " + llvm::join(known, ", ") + ")");
    }
    return true;
  }

  bool checkPattern(StringRef pattern, const llvm::Twine &path) {
    llvm::Expected<llvm::GlobPattern> glob = llvm::GlobPattern::create(pattern);
    if (!glob)
      return fail(path, "'" + pattern +
                            "' is not a glob pattern: " +
                            llvm::toString(glob.takeError()));
    return true;
  }

  std::optional<Recipe> read(StringRef text);

private:
  StringRef fileName;
  std::string &error;
};
} // namespace

std::optional<Recipe> RecipeReader::read(StringRef text) {
  llvm::Expected<llvm::json::Value> parsed = llvm::json::parse(text);
  if (!parsed) {
    error = (fileName + ": not valid JSON: " + llvm::toString(parsed.takeError()))
                .str();
    return std::nullopt;
  }
  const llvm::json::Object *root = parsed->getAsObject();
  if (!root) {
    error = (fileName + ": a recipe must be a JSON object").str();
    return std::nullopt;
  }
  static const StringRef rootKeys[] = {
      "base", "weights", "activations", "rotate", "clip",
      "layers", "skip", "gptq", "allocate", "bias_correct", "smooth",
      "equalize"};
  if (!checkKeys(*root, "", rootKeys))
    return std::nullopt;

  Recipe recipe;
  if (const llvm::json::Value *base = root->get("base")) {
    std::optional<StringRef> baseName = base->getAsString();
    if (!baseName) {
      fail("base", "expected the name of a recipe");
      return std::nullopt;
    }
    std::optional<Recipe> named = namedRecipe(*baseName);
    if (!named) {
      fail("base", "'" + *baseName + "' is not a named recipe (known: " +
                       llvm::join(namedRecipes(), ", ") + ", auto:BITS, auto-latency:US)");
      return std::nullopt;
    }
    recipe = *named;
  }
  recipe.name = fileName.str();

  bool present;
  if (!readFormat(*root, "weights", "weights", recipe.defaults.weights,
                  present) ||
      !readFormat(*root, "activations", "activations",
                  recipe.defaults.activations, present))
    return std::nullopt;

  if (const llvm::json::Value *rotate = root->get("rotate")) {
    std::optional<StringRef> mode = rotate->getAsString();
    if (mode && *mode == "on")
      recipe.rotate = RotateMode::On;
    else if (mode && *mode == "off")
      recipe.rotate = RotateMode::Off;
    else if (mode && *mode == "auto")
      recipe.rotate = RotateMode::Auto;
    else if (std::optional<bool> flag = rotate->getAsBoolean())
      recipe.rotate = *flag ? RotateMode::On : RotateMode::Off;
    else {
      fail("rotate", "expected \"on\", \"off\" or \"auto\"");
      return std::nullopt;
    }
  }

  if (const llvm::json::Value *clip = root->get("clip")) {
    if (clip->getAsNull()) {
      recipe.clip.reset();
    } else if (const llvm::json::Object *object = clip->getAsObject()) {
      static const StringRef clipKeys[] = {"weights", "activations",
                                           "percentile"};
      if (!checkKeys(*object, "clip", clipKeys))
        return std::nullopt;
      ClipOptions options = recipe.clip.value_or(ClipOptions());
      static const StringRef weightMethods[] = {"minmax", "mse"};
      static const StringRef activationMethods[] = {"minmax", "percentile",
                                                    "mse", "entropy"};
      auto readMethod = [&](StringRef key, llvm::ArrayRef<StringRef> known,
                            std::string &method) {
        const llvm::json::Value *value = object->get(key);
        if (!value)
          return true;
        std::optional<StringRef> name = value->getAsString();
        if (!name || !llvm::is_contained(known, *name))
          return fail("clip." + key,
                      "expected one of " + llvm::join(known, ", "));
        method = name->str();
        return true;
      };
      if (!readMethod("weights", weightMethods, options.weights) ||
          !readMethod("activations", activationMethods, options.activations))
        return std::nullopt;
      if (const llvm::json::Value *percentile = object->get("percentile")) {
        std::optional<double> p = percentile->getAsNumber();
        if (!p || *p <= 0 || *p > 100) {
          fail("clip.percentile", "expected a number in (0, 100]");
          return std::nullopt;
        }
        options.percentile = *p;
      }
      recipe.clip = options;
    } else {
      fail("clip", "expected an object or null");
      return std::nullopt;
    }
  }

  if (const llvm::json::Value *layers = root->get("layers")) {
    const llvm::json::Array *array = layers->getAsArray();
    if (!array) {
      fail("layers", "expected an array of {\"match\": ..., \"weights\": ..., "
                     "\"activations\": ...}");
      return std::nullopt;
    }
    for (auto [index, entry] : llvm::enumerate(*array)) {
      std::string path = "layers[" + std::to_string(index) + "]";
      const llvm::json::Object *object = entry.getAsObject();
      if (!object) {
        fail(path, "expected an object");
        return std::nullopt;
      }
      static const StringRef layerKeys[] = {"match", "weights", "activations"};
      if (!checkKeys(*object, path, layerKeys))
        return std::nullopt;
      std::optional<StringRef> match = object->getString("match");
      if (!match) {
        fail(path + ".match", "missing (a glob pattern over layer names)");
        return std::nullopt;
      }
      if (!checkPattern(*match, path + ".match"))
        return std::nullopt;
      // Keys left out inherit the recipe's defaults.
      LayerOverride layer{match->str(), recipe.defaults};
      if (!readFormat(*object, "weights", path + ".weights",
                      layer.formats.weights, present) ||
          !readFormat(*object, "activations", path + ".activations",
                      layer.formats.activations, present))
        return std::nullopt;
      recipe.layers.push_back(std::move(layer));
    }
  }

  if (const llvm::json::Value *skip = root->get("skip")) {
    const llvm::json::Array *array = skip->getAsArray();
    if (!array) {
      fail("skip", "expected an array of glob patterns");
      return std::nullopt;
    }
    for (auto [index, entry] : llvm::enumerate(*array)) {
      std::string path = "skip[" + std::to_string(index) + "]";
      std::optional<StringRef> pattern = entry.getAsString();
      if (!pattern) {
        fail(path, "expected a glob pattern");
        return std::nullopt;
      }
      if (!checkPattern(*pattern, path))
        return std::nullopt;
      recipe.skip.push_back(pattern->str());
    }
  }

  if (!readSwitchable(*root, "gptq", recipe.gptq,
                      "expected true, false, null or an object",
                      {"damp", "block_size", "act_order"},
                      [&](const llvm::json::Object &object,
                          GptqRecipeOptions &options) {
                        if (const llvm::json::Value *damp = object.get("damp")) {
                          std::optional<double> value = damp->getAsNumber();
                          if (!value || *value < 0)
                            return fail("gptq.damp",
                                        "expected a non-negative number");
                          options.damp = *value;
                        }
                        if (const llvm::json::Value *block =
                                object.get("block_size")) {
                          std::optional<int64_t> value = block->getAsInteger();
                          if (!value || *value <= 0)
                            return fail("gptq.block_size",
                                        "expected a positive integer");
                          options.blockSize = *value;
                        }
                        return readBool(object, "act_order", "gptq.act_order",
                                        options.actOrder);
                      }))
    return std::nullopt;

  if (const llvm::json::Value *allocate = root->get("allocate")) {
    if (allocate->getAsNull()) {
      recipe.allocate.reset();
    } else if (const llvm::json::Object *object = allocate->getAsObject()) {
      static const StringRef allocateKeys[] = {"budget", "candidates"};
      if (!checkKeys(*object, "allocate", allocateKeys))
        return std::nullopt;
      AllocateOptions options = recipe.allocate.value_or(AllocateOptions());
      if (const llvm::json::Value *budget = object->get("budget")) {
        if (std::optional<StringRef> text = budget->getAsString())
          options.budget = text->str();
        else if (std::optional<double> number = budget->getAsNumber())
          options.budget = llvm::formatv("{0}", *number).str();
        else {
          fail("allocate.budget", "expected bits per weight (5 or \"5\"), "
                                  "bytes (\"2MiB\") or latency (\"300us\")");
          return std::nullopt;
        }
      }
      if (options.budget.empty()) {
        fail("allocate.budget", "missing");
        return std::nullopt;
      }
      if (const llvm::json::Value *candidates = object->get("candidates")) {
        const llvm::json::Array *array = candidates->getAsArray();
        if (!array) {
          fail("allocate.candidates", "expected an array of format specs");
          return std::nullopt;
        }
        options.candidates.clear();
        for (auto [index, entry] : llvm::enumerate(*array)) {
          std::string path =
              "allocate.candidates[" + std::to_string(index) + "]";
          std::optional<StringRef> spec = entry.getAsString();
          std::string formatError;
          if (!spec || !parseFormat(spec->str(), formatError)) {
            fail(path, spec ? "'" + *spec + "' is not a format: " + formatError
                            : std::string("expected a format spec"));
            return std::nullopt;
          }
          options.candidates.push_back(spec->str());
        }
      }
      recipe.allocate = options;
    } else {
      fail("allocate", "expected an object or null");
      return std::nullopt;
    }
  }

  if (!readSwitchable(*root, "bias_correct", recipe.biasCorrect,
                      "expected true, false, null or an object",
                      {"add_bias"},
                      [&](const llvm::json::Object &object,
                          BiasCorrectOptions &options) {
                        return readBool(object, "add_bias",
                                        "bias_correct.add_bias",
                                        options.addBias);
                      }))
    return std::nullopt;

  if (!readSwitchable(*root, "smooth", recipe.smooth,
                      "expected true, false, null or an object "
                      "{\"alpha\": 0.5, \"bias\": false}",
                      {"alpha", "bias"},
                      [&](const llvm::json::Object &object,
                          SmoothRecipeOptions &options) {
                        if (const llvm::json::Value *alpha =
                                object.get("alpha")) {
                          std::optional<double> value = alpha->getAsNumber();
                          if (!value || *value < 0 || *value > 1)
                            return fail("smooth.alpha",
                                        "expected a number in [0, 1]");
                          options.alpha = *value;
                        }
                        return readBool(object, "bias", "smooth.bias",
                                        options.bias);
                      }))
    return std::nullopt;

  if (!readBool(*root, "equalize", "equalize", recipe.equalize))
    return std::nullopt;

  if (!recipe.defaults.weights && recipe.layers.empty()) {
    fail("weights", "missing: the recipe quantizes nothing (give \"weights\" "
                    "or \"layers\")");
    return std::nullopt;
  }
  return recipe;
}

std::optional<Recipe> quantc::parseRecipeJson(StringRef text,
                                              StringRef fileName,
                                              std::string &error) {
  error.clear();
  return RecipeReader(fileName, error).read(text);
}

std::optional<Recipe> quantc::loadRecipe(StringRef nameOrPath,
                                         std::string &error) {
  error.clear();
  if (std::optional<Recipe> recipe = namedRecipe(nameOrPath))
    return recipe;
  if (!nameOrPath.ends_with(".json") && !nameOrPath.contains('/')) {
    error = ("unknown recipe '" + nameOrPath + "' (named recipes: " +
             llvm::join(namedRecipes(), ", ") +
             ", auto:BITS, auto-latency:MICROSECONDS; or a recipe .json "
             "file)")
                .str();
    return std::nullopt;
  }
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(nameOrPath, /*IsText=*/true);
  if (!buffer) {
    error = (nameOrPath + ": cannot read the recipe: " +
             buffer.getError().message())
                .str();
    return std::nullopt;
  }
  return parseRecipeJson((*buffer)->getBuffer(), nameOrPath, error);
}
