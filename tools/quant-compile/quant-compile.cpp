//===- quant-compile.cpp - ONNX model -> quantized, compiled model --------===//
//
// quant-compile MODEL.onnx|MODEL.mlir [--recipe R] [--calib DIR|synthetic:N]
//               [--input-shape NAME=DIMS ...] [--target CPU]
//               [--emit so|obj|llvm|mlir] -o OUT
//
// Assembles the quantization pipeline of docs/quantization-pipeline.md; every
// stage is a pass quant-opt runs alone:
//
//   import (quant-translate --import-onnx)
//   qc-quantize{recipe=R}            fake-quantize weights and activations
//   calibration, qc-smooth{...}      when the recipe smooths or equalizes
//                                    (SmoothQuant reads the statistics of
//                                    the unsmoothed model; they are taken
//                                    again after it)
//   qc-rotate{mode=...}              when the recipe rotates
//   calibration (--calib)
//   qc-allocate-bits{budget=...}     when the recipe allocates (auto:BITS)
//   qc-bias-correct{record=true}     when the recipe corrects biases
//   qc-clip{...}                     when the recipe clips
//   qc-gptq{...}                     when the recipe rounds with GPTQ
//   qc-bias-correct{...}             when the recipe corrects biases
//   the report's measurements        with --report
//   qc-fold-weights, canonicalize    packed weights, qc.matmul
//
// Without --recipe the float model is compiled. Stages the recipe asks for
// whose pass is still a stub ("not implemented yet") are skipped with a note,
// so the driver keeps working while the accuracy passes land one by one. The
// result is written as MLIR, or compiled ahead of time by
// quantc/Target/AotLibrary.h into LLVM IR, an object or a shared library with
// the C API of quantc/Runtime/quantc_model.h and a header beside it.
//
//===----------------------------------------------------------------------===//

#include "Calibration.h"

#include "quantc/Conversion/Pipelines.h"
#include "quantc/Import/OnnxImporter.h"
#include "quantc/Runtime/Npy.h"
#include "quantc/Target/AotLibrary.h"
#include "quantc/Transforms/Passes.h"
#include "quantc/Transforms/Recipes.h"

#include "qc/QcDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <functional>
#include <optional>
#include <string>

using namespace mlir;
namespace cl = llvm::cl;

static const char *const kOverview = R"(quantize and compile an ONNX model

  quant-compile MODEL.onnx|MODEL.mlir [--recipe R] [--calib DIR|synthetic:N]
                [--bias-correct] [--report REPORT.md]
                [--input-shape NAME=DIMS ...] [--input-value NAME=FILE.npy ...]
                [--target CPU] [--entry NAME]
                [--emit so|obj|llvm|mlir] -o OUT

Imports the model (or reads float MLIR from quant-translate), applies the
recipe (qc-quantize), runs the accuracy passes the recipe asks for
(qc-rotate, qc-allocate-bits, qc-clip, qc-gptq, and qc-bias-correct with
--bias-correct or "bias_correct": true) where they are implemented, then
packs the quantized weights at compile time (qc-fold-weights): quantized
layers become qc.matmul on !qc.packed weights.
Without --recipe the model stays in float. --report measures the model as
compiled (after clipping, GPTQ and bias correction) against the float model.

Recipes: int8, w8a8-mxint8, w4a16-mxfp4, w4a16-nvfp4, w4a8-mxfp4, w4a8-int4,
w4a4-nvfp4, w4a4-nvint4, w4a16-nvfp4-gptq, w4a16-mxfp4-gptq, w4a8-int4-gptq,
w8a8-int8-smooth (SmoothQuant), auto:BITS (formats per layer for BITS bits
per weight; GPTQ, SmoothQuant and auto need --calib), auto-latency:US
(formats per layer for a predicted latency of US microseconds per run of the
whole model, from the latency profile of --latency-profile or the built-in
one), or a JSON recipe file (see
include/quantc/Transforms/Recipes.h): {"weights": "nvfp4", "activations":
"mxint8", "rotate": "auto", "clip": {...}, "layers": [{"match": "layers.0.*",
"weights": "int8", "activations": null}], "skip": ["head*"]}.

Layers a format cannot quantize (a reduction dimension that is not a multiple
of the block size) stay in float with a warning naming them.

Output (--emit; by default from the extension of -o: .so, .o, .ll, .mlir;
else so):
  so    a shared library holding the model's code, its weights (packed
        weights stay packed) and quantc's runtime, exporting only the C API
        of quantc_model.h (quantc_model_create / _run / _destroy,
        introspection, threads, quantc_model_last_error). It needs only libc,
        libm and libstdc++. A header OUT-stem.h is written beside it: the C
        API and the model's inputs and outputs (names, dtypes, shapes) as
        macros. Run it with `quant-run OUT.so` or link it (examples/).
  obj   the same code as a position-independent object (and the header);
        link it with libQuantcModelRuntime.a for the C API.
  llvm  the optimised LLVM IR, as text.
  mlir  the quantized MLIR; `quant-run OUT.mlir --entry main` runs it.
so, obj and llvm are lowered exactly as quant-run lowers a model (the same
kernels and pipeline), then optimised at O3 for --target:
  x86-64, x86-64-v3 (AVX2, FMA), x86-64-v4 (AVX-512),
  x86-64-v4-vnni (AVX-512 with VNNI, BF16, VBMI), native (this machine).
The qc.matmul kernels are generated for that target too (qc-lower-cpu).
--target cuda:sm_80,sm_90a,... embeds GPU kernels (PTX, and cubins where
ptxas is available) for each chip listed; the library runs the qc.matmuls
on the chip the device is (quantc_model_create fails without one).

Files appear whole or not at all: each is written under a temporary name and
renamed at the end, so a failure (an unwritable path, an operation the CPU
pipeline cannot lower, a link error) leaves no output. Errors are one line,
`quant-compile: error: ...` naming the file, and exit code 1.
)";

static cl::OptionCategory compileCategory("quant-compile options");

static cl::opt<std::string> inputFilename(cl::Positional,
                                          cl::desc("<model.onnx|model.mlir>"),
                                          cl::cat(compileCategory));

static cl::opt<std::string>
    recipeName("recipe", cl::value_desc("name|file.json"),
               cl::desc("The quantization recipe (default: none, the model "
                        "is compiled in float)"),
               cl::cat(compileCategory));

static cl::opt<std::string> calibSpec(
    "calib", cl::value_desc("DIR|synthetic:N"),
    cl::desc("Calibration data: DIR/<sample>/<input>.npy, or N seeded random "
             "samples"),
    cl::cat(compileCategory));

static cl::opt<std::string> calibStatsDir(
    "calib-stats", cl::value_desc("DIR"),
    cl::desc("Keep the calibration statistics in DIR (stats.json, XᵀX "
             ".npy files); without --calib, read them from DIR instead of "
             "calibrating"),
    cl::cat(compileCategory));

static cl::opt<int64_t> hessianMaxMib(
    "hessian-max-mib", cl::value_desc("MiB"), cl::init(2048),
    cl::desc("Largest input Hessian XᵀX calibration collects for one layer "
             "(GPTQ, bit allocation): K² doubles for a matmul, "
             "(kh·kw·in/groups)² per group for a convolution; larger layers "
             "are warned about and keep round-to-nearest"),
    cl::cat(compileCategory));

static cl::opt<std::string> latencyProfile(
    "latency-profile", cl::value_desc("FILE.json"),
    cl::desc("Measured speeds for auto-latency:US recipes (written by "
             "bench/latency_profile.py; default: the built-in profile of "
             "the development machine)"),
    cl::cat(compileCategory));

static cl::opt<std::string> reportPath(
    "report", cl::value_desc("REPORT.md"),
    cl::desc("Write what was decided and measured per layer and for the "
             "model (Markdown; JSON and a PNG plot beside it)"),
    cl::cat(compileCategory));

static cl::list<std::string> inputShapes(
    "input-shape", cl::value_desc("name=DIMS"),
    cl::desc("Fix the shape of a graph input, e.g. x=1x3x224x224 "
             "(repeatable)"),
    cl::cat(compileCategory));

static cl::list<std::string> inputValues(
    "input-value", cl::value_desc("name=FILE.npy"),
    cl::desc("Compile for this value of a graph input (repeatable): "
             "computations on it fold at import, e.g. an If on Silero VAD's "
             "sample rate inlines the taken branch, so that calibration sees "
             "its layers. The input stays an argument; other values are "
             "then wrong"),
    cl::cat(compileCategory));

static cl::opt<std::string>
    emitKind("emit", cl::value_desc("so|obj|llvm|mlir"),
             cl::desc("What to write: a shared library with the C API, an "
                      "object, LLVM IR or the quantized MLIR (default: from "
                      "the extension of -o, else so)"),
             cl::cat(compileCategory));

static cl::opt<std::string> cpuTarget(
    "target", cl::init("native"),
    cl::value_desc("x86-64|x86-64-v3|x86-64-v4|x86-64-v4-vnni|native|"
                   "cuda:CHIP[,CHIP...]"),
    cl::desc("The CPU to compile for (so, obj, llvm): kernels and "
             "optimisation (default native, this machine); cuda:sm_80,sm_90a "
             "runs the qc.matmuls on NVIDIA GPUs (code for each chip listed: "
             "sm_80, sm_90a, sm_100a, sm_120a; the library picks the "
             "device's) and the rest on this machine"),
    cl::cat(compileCategory));

static cl::opt<bool> fpContract(
    "fp-contract", cl::init(true), cl::value_desc("true|false"),
    cl::desc("Float matmuls and convolutions multiply and add with one "
             "rounding (FMA) where the target has FMA (default true); false: "
             "a multiply and an add, the same bits as the scalar loops and as "
             "targets without FMA"),
    cl::cat(compileCategory));

static cl::opt<std::string>
    entryName("entry", cl::init("main"), cl::value_desc("name"),
              cl::desc("The function to compile (so, obj, llvm; default "
                       "main, the ONNX importer's)"),
              cl::cat(compileCategory));

static cl::opt<std::string> linkerDriver(
    "linker", cl::Hidden, cl::value_desc("path"),
    cl::desc("The compiler driver that links shared libraries (default "
             "clang-22 with lld)"),
    cl::cat(compileCategory));

static cl::opt<std::string> outputFilename("o", cl::value_desc("file"),
                                           cl::desc("Output file (required; "
                                                    "'-' for stdout)"),
                                           cl::cat(compileCategory));

static cl::opt<bool> biasCorrect(
    "bias-correct",
    cl::desc("Correct the mean output shift of quantized layers in their "
             "biases (qc-bias-correct; needs --calib or --calib-stats), "
             "whatever the recipe says"),
    cl::cat(compileCategory));

static cl::opt<bool> quiet("quiet",
                           cl::desc("Print errors only (no remarks, notes "
                                    "or warnings)"),
                           cl::cat(compileCategory));

static int reportError(const llvm::Twine &message) {
  llvm::errs() << "quant-compile: error: " << message << "\n";
  return 1;
}

static void note(const llvm::Twine &message) {
  if (!quiet)
    llvm::errs() << "quant-compile: note: " << message << "\n";
}

/// Prints the passes' diagnostics as one line each; layer names are in the
/// messages, the imported model's locations add nothing.
static LogicalResult printDiagnostic(Diagnostic &diagnostic) {
  const char *severity = "error";
  switch (diagnostic.getSeverity()) {
  case DiagnosticSeverity::Error:
    break;
  case DiagnosticSeverity::Warning:
    severity = "warning";
    break;
  case DiagnosticSeverity::Remark:
    severity = "remark";
    break;
  case DiagnosticSeverity::Note:
    severity = "note";
    break;
  }
  if (quiet && diagnostic.getSeverity() != DiagnosticSeverity::Error)
    return success();
  llvm::errs() << "quant-compile: " << severity << ": " << diagnostic.str()
               << "\n";
  for (Diagnostic &attached : diagnostic.getNotes())
    llvm::errs() << "quant-compile: note: " << attached.str() << "\n";
  return success();
}

/// Compile time per stage, and everything else --report prints.
static quantc::Report report;

/// printDiagnostic with the operation's place first: the ONNX node
/// ("node 'fc1': ...") or the MLIR file position ("f.mlir:12:8: ...").
static LogicalResult printLocatedDiagnostic(Diagnostic &diagnostic) {
  std::string place;
  Location location = diagnostic.getLocation();
  if (auto fused = dyn_cast<FusedLoc>(location))
    if (!fused.getLocations().empty())
      location = fused.getLocations().front();
  if (auto name = dyn_cast<NameLoc>(location))
    place = "node '" + name.getName().str() + "': ";
  else if (auto file = dyn_cast<FileLineColLoc>(location))
    place = file.getFilename().str() + ":" + std::to_string(file.getLine()) +
            ":" + std::to_string(file.getColumn()) + ": ";
  if (!place.empty()) {
    std::string message = place + diagnostic.str();
    Diagnostic located(diagnostic.getLocation(), diagnostic.getSeverity());
    located << message;
    return printDiagnostic(located);
  }
  return printDiagnostic(diagnostic);
}

/// quantc::calibrate, with the warnings of its instrumentation (layers that
/// go without statistics) printed like the stages' (MLIR drops warnings when
/// no handler takes them); its errors come back as the llvm::Error.
static llvm::Expected<quantc::CalibrationStats>
calibrateShowingWarnings(ModuleOp module,
                         const quantc::CalibrationOptions &options) {
  ScopedDiagnosticHandler handler(
      module.getContext(), [](Diagnostic &diagnostic) {
        if (diagnostic.getSeverity() == DiagnosticSeverity::Error)
          return failure();
        return printDiagnostic(diagnostic);
      });
  return quantc::calibrate(module, options);
}

/// Runs `addPasses`'s passes on `module`. A pass that reports "not
/// implemented yet" is skipped with a note (the module is unchanged: stubs
/// fail before touching it); any other failure is an error.
static LogicalResult
runStage(ModuleOp module, llvm::StringRef stage,
         llvm::function_ref<void(PassManager &)> addPasses,
         bool *skipped = nullptr) {
  PassManager pm(module.getContext());
  addPasses(pm);
  std::vector<std::string> errors;
  LogicalResult result = success();
  auto start = std::chrono::steady_clock::now();
  auto recordTime = llvm::make_scope_exit([&] {
    report.addStageTime(stage.str(),
                        std::chrono::duration<double>(
                            std::chrono::steady_clock::now() - start)
                            .count());
  });
  {
    ScopedDiagnosticHandler handler(
        module.getContext(), [&](Diagnostic &diagnostic) {
          if (diagnostic.getSeverity() == DiagnosticSeverity::Error) {
            errors.push_back(diagnostic.str());
            return success();
          }
          return printDiagnostic(diagnostic);
        });
    result = pm.run(module);
  }
  if (skipped)
    *skipped = false;
  if (succeeded(result))
    return success();
  if (skipped && llvm::any_of(errors, [](const std::string &error) {
        return llvm::StringRef(error).contains("not implemented yet");
      })) {
    *skipped = true;
    note(stage + " is skipped: its pass is not implemented yet");
    return success();
  }
  // Passes name themselves ("qc-allocate-bits: ..."); others get the stage.
  std::string prefix = (stage + ": ").str();
  for (const std::string &error : errors)
    llvm::errs() << "quant-compile: error: "
                 << (llvm::StringRef(error).starts_with(prefix) ? "" : prefix)
                 << error << "\n";
  if (errors.empty())
    llvm::errs() << "quant-compile: error: " << stage << " failed\n";
  return failure();
}

/// A directory under the system's temporary directory, removed with
/// everything in it when this goes out of scope.
struct TemporaryDirectory {
  std::string path;
  bool create(std::string &error) {
    llvm::SmallString<128> created;
    if (std::error_code ec = llvm::sys::fs::createUniqueDirectory(
            "quantc-calibration", created)) {
      error = "cannot create a temporary directory: " + ec.message();
      return false;
    }
    path = std::string(created);
    return true;
  }
  ~TemporaryDirectory() {
    if (!path.empty())
      llvm::sys::fs::remove_directories(path);
  }
};

/// Checks --calib: an existing directory or synthetic:N with N > 0.
static bool checkCalibSpec(const std::string &spec, std::string &error) {
  llvm::StringRef text(spec);
  if (text.consume_front("synthetic:")) {
    unsigned samples;
    if (text.getAsInteger(10, samples) || samples == 0) {
      error = "--calib synthetic:N needs a positive sample count, got '" +
              spec + "'";
      return false;
    }
    return true;
  }
  if (!llvm::sys::fs::is_directory(spec)) {
    error = "--calib " + spec + ": not a directory (DIR/<sample>/<input>.npy) "
                                "nor synthetic:N";
    return false;
  }
  return true;
}

/// --emit's default for an output file name.
static std::string emitKindForOutput(llvm::StringRef path) {
  llvm::StringRef extension = llvm::sys::path::extension(path);
  if (extension == ".o")
    return "obj";
  if (extension == ".ll")
    return "llvm";
  if (extension == ".mlir")
    return "mlir";
  return "so";
}

/// Writes `module` as --emit says: MLIR text, or through the AOT writer an
/// object, LLVM IR or a shared library (with its header). `recipe` is null
/// for the float model. Returns the exit code.
static int emitModule(MLIRContext &context, ModuleOp module,
                      const quantc::Recipe *recipe) {
  if (emitKind == "mlir") {
    if (llvm::Error writeError = llvm::writeToOutput(
            outputFilename, [&](llvm::raw_ostream &os) -> llvm::Error {
              module.print(os);
              os << "\n";
              return llvm::Error::success();
            }))
      return reportError(outputFilename + ": cannot write (" +
                         llvm::toString(std::move(writeError)) + ")");
    return 0;
  }
  quantc::AotOptions options;
  options.entry = entryName;
  options.cpuTarget = cpuTarget;
  options.fpContract = fpContract;
  // cuda:sm_80,sm_90a: the qc.matmuls run on NVIDIA GPUs, the rest on this
  // machine's CPU.
  if (llvm::StringRef(cpuTarget).starts_with("cuda:")) {
    options.cpuTarget = "native";
    options.cudaChips = cpuTarget.substr(5);
  }
  options.linker = linkerDriver;
  options.emit = emitKind == "so"    ? quantc::AotEmit::SharedLibrary
                 : emitKind == "obj" ? quantc::AotEmit::Object
                                     : quantc::AotEmit::LLVMIR;
  options.description = llvm::sys::path::filename(inputFilename).str() +
                        (recipe ? ", recipe " + recipeName : ", float");
  if (emitKind != "llvm" && outputFilename != "-") {
    llvm::SmallString<256> header(outputFilename);
    llvm::sys::path::replace_extension(header, ".h");
    options.headerPath = header.str().str();
  }
  // Lowering diagnostics (an op the CPU pipeline cannot lower) print one
  // line each before the error, with the node or line they are about.
  ScopedDiagnosticHandler handler(&context, printLocatedDiagnostic);
  if (llvm::Error aotError =
          quantc::writeAotArtifact(module, outputFilename, options))
    return reportError(inputFilename + ": " +
                       llvm::toString(std::move(aotError)));
  return 0;
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  cl::HideUnrelatedOptions(compileCategory);
  cl::ParseCommandLineOptions(argc, argv, kOverview);

  if (inputFilename.empty())
    return reportError("no input model (quant-compile MODEL.onnx [--recipe R] "
                       "-o OUT.so)");
  if (outputFilename.empty())
    return reportError("-o OUT is required");
  if (emitKind.empty())
    emitKind = emitKindForOutput(outputFilename);
  if (emitKind != "so" && emitKind != "obj" && emitKind != "llvm" &&
      emitKind != "mlir")
    return reportError("--emit " + emitKind + ": expected so, obj, llvm or "
                                              "mlir");

  std::string error;
  std::optional<quantc::Recipe> recipe;
  if (!recipeName.empty()) {
    recipe = quantc::loadRecipe(recipeName, error);
    if (!recipe)
      return reportError(error);
  }
  if (recipe && biasCorrect && !recipe->biasCorrect)
    recipe->biasCorrect = quantc::BiasCorrectOptions();
  if (!recipe && biasCorrect)
    return reportError("--bias-correct is about a quantization recipe; give "
                       "--recipe");
  if (!calibSpec.empty() && !checkCalibSpec(calibSpec, error))
    return reportError(error);
  if (!recipe &&
      (!calibSpec.empty() || !calibStatsDir.empty() || !reportPath.empty()))
    return reportError("--calib, --calib-stats and --report are about a "
                       "quantization recipe; give --recipe");

  quantc::OnnxImportOptions importOptions;
  for (const std::string &spec : inputShapes)
    if (!quantc::parseInputShapeSpec(spec, importOptions, error))
      return reportError(error);
  for (llvm::StringRef spec : inputValues) {
    auto [name, file] = spec.split('=');
    if (name.empty() || file.empty())
      return reportError("--input-value " + spec.str() +
                         ": expected NAME=FILE.npy");
    std::optional<quantc::HostTensor> tensor =
        quantc::readNpy(file.str(), error);
    if (!tensor)
      return reportError("--input-value " + spec.str() + ": " + error);
    std::optional<quantc::KnownTensor> known =
        quantc::knownTensorFromHost(*tensor);
    if (!known)
      return reportError("--input-value " + spec.str() +
                         ": unsupported element type");
    importOptions.fixedInputs[name] = std::move(*known);
  }

  DialectRegistry registry;
  quantc::registerOnnxImportDialects(registry);
  registry.insert<qc::QcDialect>();
  // Everything the JIT lowering needs (calibration runs the model).
  quantc::registerQuantcDialects(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  context.printOpOnDiagnostic(false);

  OwningOpRef<ModuleOp> module;
  if (llvm::StringRef(inputFilename).ends_with(".mlir")) {
    if (!inputShapes.empty())
      return reportError("--input-shape applies to ONNX models; " +
                         inputFilename + " already has static shapes");
    if (!inputValues.empty())
      return reportError("--input-value applies to ONNX models, not " +
                         inputFilename);
    llvm::SourceMgr sourceMgr;
    SourceMgrDiagnosticHandler handler(sourceMgr, &context);
    module = parseSourceFile<ModuleOp>(inputFilename, sourceMgr,
                                       ParserConfig(&context));
    if (!module)
      return 1;
  } else {
    auto start = std::chrono::steady_clock::now();
    module = quantc::importOnnxModel(inputFilename, context, importOptions,
                                     error);
    if (!module)
      return reportError(error);
    report.addStageTime("import", std::chrono::duration<double>(
                                      std::chrono::steady_clock::now() - start)
                                      .count());
  }

  // Without a recipe the float model is the result.
  if (!recipe)
    return emitModule(context, *module, nullptr);

  // 1. The recipe as fake-quantization.
  if (failed(runStage(*module, "qc-quantize", [&](PassManager &pm) {
        qc::QcQuantizeOptions options;
        options.recipe = recipeName;
        pm.addPass(qc::createQcQuantize(options));
      })))
    return 1;

  // SmoothQuant and cross-layer equalization, before rotation (per channel
  // of the original basis). SmoothQuant reads statistics of the model as
  // quantized so far; everything after it calibrates again on the smoothed
  // model. With --calib-stats they are kept in DIR/before-smooth.
  if (recipe->smooth || recipe->equalize) {
    std::string smoothStats;
    std::optional<TemporaryDirectory> temporarySmoothStats;
    if (recipe->smooth && !calibSpec.empty()) {
      quantc::CalibrationOptions options;
      options.source = calibSpec;
      options.hessian = false;
      options.progress = quiet ? nullptr : &llvm::errs();
      auto start = std::chrono::steady_clock::now();
      llvm::Expected<quantc::CalibrationStats> stats =
          calibrateShowingWarnings(*module, options);
      if (!stats)
        return reportError("calibration before smoothing: " +
                           llvm::toString(stats.takeError()));
      if (calibStatsDir.empty()) {
        temporarySmoothStats.emplace();
        if (!temporarySmoothStats->create(error))
          return reportError(error);
        smoothStats = temporarySmoothStats->path;
      } else {
        llvm::SmallString<256> dir(calibStatsDir.getValue());
        llvm::sys::path::append(dir, "before-smooth");
        smoothStats = std::string(dir);
      }
      if (!stats->write(smoothStats, error))
        return reportError(error);
      report.addStageTime("calibration before smoothing",
                          std::chrono::duration<double>(
                              std::chrono::steady_clock::now() - start)
                              .count());
    } else if (recipe->smooth && !calibStatsDir.empty()) {
      llvm::SmallString<256> dir(calibStatsDir.getValue());
      llvm::sys::path::append(dir, "before-smooth");
      if (!llvm::sys::fs::is_directory(dir))
        return reportError("--calib-stats " + calibStatsDir +
                           ": no before-smooth/ statistics for recipe '" +
                           recipeName +
                           "' (written by a run with --calib and this "
                           "recipe)");
      smoothStats = std::string(dir);
    } else if (recipe->smooth) {
      note("recipe '" + recipeName +
           "' smooths activations (SmoothQuant), which needs calibration "
           "statistics (--calib DIR|synthetic:N); not smoothed");
    }
    if (!smoothStats.empty() || recipe->equalize) {
      if (failed(runStage(*module, "qc-smooth", [&](PassManager &pm) {
            qc::QcSmoothOptions options;
            options.smoothQuant = !smoothStats.empty();
            options.statsDir = smoothStats;
            if (recipe->smooth) {
              options.alpha = recipe->smooth->alpha;
              options.bias = recipe->smooth->bias;
            }
            options.equalizeLayers = recipe->equalize;
            pm.addPass(qc::createQcSmooth(options));
          })))
        return 1;
    }
  }

  // 2. Rotation.
  if (recipe->rotate != quantc::RotateMode::Off) {
    bool skipped;
    if (failed(runStage(
            *module, "qc-rotate",
            [&](PassManager &pm) {
              qc::QcRotateOptions options;
              options.mode = quantc::rotateModeName(recipe->rotate);
              pm.addPass(qc::createQcRotate(options));
            },
            &skipped)))
      return 1;
  }

  // The float model the report measures against: the (rotated) model
  // before anything changes a weight (qc-clip clamps copies, qc-gptq and
  // qc-bias-correct replace constants); its fake_quants are dropped when it
  // runs.
  OwningOpRef<ModuleOp> floatReference;
  if (!reportPath.empty())
    floatReference = cast<ModuleOp>((*module)->clone());

  // 3. Calibration statistics of the activations the (rotated) layers see,
  // for static activation scales and activation clipping.
  std::string statsDir;
  std::optional<TemporaryDirectory> temporaryStats;
  if (!calibSpec.empty()) {
    quantc::CalibrationOptions options;
    options.source = calibSpec;
    // XᵀX is channels² doubles per layer: only passes that need it ask.
    options.hessian = recipe->gptq || recipe->allocate;
    options.hessianMaxMib = hessianMaxMib;
    options.progress = quiet ? nullptr : &llvm::errs();
    auto start = std::chrono::steady_clock::now();
    llvm::Expected<quantc::CalibrationStats> stats =
        calibrateShowingWarnings(*module, options);
    if (!stats)
      return reportError("calibration: " + llvm::toString(stats.takeError()));
    if (calibStatsDir.empty()) {
      temporaryStats.emplace();
      if (!temporaryStats->create(error))
        return reportError(error);
      statsDir = temporaryStats->path;
    } else {
      statsDir = calibStatsDir;
    }
    if (!stats->write(statsDir, error))
      return reportError(error);
    double seconds = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start)
                         .count();
    if (stats->all().empty())
      note("calibration collected nothing: no quantized layer reads a "
           "tensor of the model's top-level body (layers inside If/Loop "
           "bodies cannot be observed yet); activation scales stay dynamic");
    else
      note(llvm::formatv("calibrated {0} layer input(s) on {1} sample(s) in "
                         "{2:f1} s",
                         stats->all().size(), stats->samples, seconds)
               .str());
    report.addStageTime("calibration", seconds);
  } else if (!calibStatsDir.empty()) {
    statsDir = calibStatsDir; // statistics of an earlier run
  }

  // Per-layer weight formats under the recipe's budget (before clipping,
  // which tunes the chosen formats).
  if (recipe->allocate) {
    if (statsDir.empty())
      return reportError("recipe '" + recipeName +
                         "' chooses formats from calibration statistics: "
                         "give --calib DIR|synthetic:N (or --calib-stats)");
    if (failed(runStage(*module, "qc-allocate-bits", [&](PassManager &pm) {
          qc::QcAllocateBitsOptions options;
          options.statsDir = statsDir;
          options.budget = recipe->allocate->budget;
          options.profileFile = latencyProfile;
          if (!recipe->allocate->candidates.empty())
            options.candidates = llvm::join(recipe->allocate->candidates, ";");
          // The budget -> predicted error frontier, beside the report.
          if (!reportPath.empty()) {
            llvm::SmallString<256> frontier(reportPath.getValue());
            llvm::sys::path::replace_extension(frontier, "frontier.json");
            options.frontierFile = std::string(frontier);
          }
          if (recipe->gptq) {
            options.useGptq = true;
            options.damp = recipe->gptq->damp;
            options.actOrder = recipe->gptq->actOrder;
          }
          pm.addPass(qc::createQcAllocateBits(options));
        })))
      return 1;
  }

  // Bias correction needs each layer's float W·E[x], which qc-clip
  // (clamped copies) and qc-gptq (packed codes) do not keep: recorded now.
  bool correctBiases = recipe->biasCorrect && !statsDir.empty();
  if (recipe->biasCorrect && statsDir.empty())
    note("recipe '" + recipeName +
         "' corrects biases from calibration means, which needs calibration "
         "statistics (--calib DIR|synthetic:N); biases stay as they are");
  if (correctBiases &&
      failed(runStage(*module, "qc-bias-correct (record)", [&](PassManager &pm) {
        qc::QcBiasCorrectOptions options;
        options.statsDir = statsDir;
        options.record = true;
        pm.addPass(qc::createQcBiasCorrect(options));
      })))
    return 1;

  // 4. Clipping ratios and static activation scales. Activation clipping
  // reads calibration statistics; without them activations keep dynamic
  // minmax scales.
  if (statsDir.empty() && recipe->clip &&
      recipe->clip->activations != "minmax") {
    note("clip.activations=" + recipe->clip->activations +
         " needs calibration statistics (--calib DIR|synthetic:N); "
         "activations keep dynamic minmax scales");
    recipe->clip->activations = "minmax";
  }
  if (recipe->clip || !statsDir.empty()) {
    bool skipped;
    if (failed(runStage(
            *module, "qc-clip",
            [&](PassManager &pm) {
              qc::QcClipOptions options;
              options.weights = recipe->clip ? recipe->clip->weights : "minmax";
              options.activations =
                  recipe->clip ? recipe->clip->activations : "minmax";
              if (recipe->clip)
                options.percentile = recipe->clip->percentile;
              options.statsFile = statsDir;
              pm.addPass(qc::createQcClip(options));
            },
            &skipped)))
      return 1;
  }

  // GPTQ rounding (the layers record GPTQ's predicted layer SQNR).
  if (recipe->gptq) {
    if (statsDir.empty()) {
      note("recipe '" + recipeName +
           "' rounds weights with GPTQ, which needs calibration statistics "
           "(--calib DIR|synthetic:N); weights keep round-to-nearest");
    } else if (failed(runStage(*module, "qc-gptq", [&](PassManager &pm) {
                 qc::QcGptqOptions options;
                 options.statsDir = statsDir;
                 options.damp = recipe->gptq->damp;
                 options.blockSize = recipe->gptq->blockSize;
                 options.actOrder = recipe->gptq->actOrder;
                 pm.addPass(qc::createQcGptq(options));
               }))) {
      return 1;
    }
  }

  // The mean output shift each layer's final weights cause, out of its bias.
  if (correctBiases &&
      failed(runStage(*module, "qc-bias-correct", [&](PassManager &pm) {
        qc::QcBiasCorrectOptions options;
        options.statsDir = statsDir;
        options.addBias = recipe->biasCorrect->addBias;
        pm.addPass(qc::createQcBiasCorrect(options));
      })))
    return 1;

  // What the report says about the layers, measured on the model as it will
  // be compiled (clipped, GPTQ-rounded, bias-corrected; before
  // qc-fold-weights, whose packed model computes the same) against the
  // float model: weight QSNR and, with --calib, the output SQNR of every
  // layer and of the model on calibration samples.
  if (!reportPath.empty()) {
    report.model = inputFilename;
    report.recipe = recipeName;
    report.calibration = calibSpec;
    report.collectLayers(*floatReference, *module);
    if (!calibSpec.empty()) {
      quantc::CalibrationOptions options;
      options.source = calibSpec;
      auto start = std::chrono::steady_clock::now();
      llvm::Expected<quantc::Fidelity> fidelity = quantc::measureFidelity(
          *floatReference, *module, options, /*maxSamples=*/8);
      if (!fidelity)
        return reportError("the report's fidelity run: " +
                           llvm::toString(fidelity.takeError()));
      report.setFidelity(*fidelity);
      report.addStageTime("fidelity run (report)",
                          std::chrono::duration<double>(
                              std::chrono::steady_clock::now() - start)
                              .count());
    }
    floatReference = nullptr;
  }

  // 5. Packed weights and qc.matmul.
  if (failed(runStage(*module, "qc-fold-weights", [&](PassManager &pm) {
        pm.addPass(qc::createQcFoldWeights());
        pm.addPass(createCanonicalizerPass());
      })))
    return 1;

  if (int status = emitModule(context, *module, &*recipe))
    return status;

  if (!reportPath.empty()) {
    std::string plotNote;
    if (!report.write(reportPath, error, plotNote))
      return reportError("--report: " + error);
    if (!plotNote.empty())
      note(plotNote);
  }
  return 0;
}
