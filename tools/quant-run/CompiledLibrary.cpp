//===- CompiledLibrary.cpp - quant-run MODEL.so ---------------------------===//

#include "CompiledLibrary.h"

#include "quantc/Runtime/quantc_model.h"

#include "llvm/ADT/StringExtras.h"

#include <dlfcn.h>

namespace quantrun {

/// The C API's entry points, looked up in the library.
struct CompiledLibrary::Api {
  decltype(&quantc_model_create) create;
  decltype(&quantc_model_destroy) destroy;
  decltype(&quantc_model_num_inputs) numInputs;
  decltype(&quantc_model_num_outputs) numOutputs;
  decltype(&quantc_model_input_info) inputInfo;
  decltype(&quantc_model_output_info) outputInfo;
  decltype(&quantc_model_run) run;
  decltype(&quantc_model_set_num_threads) setNumThreads;
  decltype(&quantc_model_last_error) lastError;
};

/// "tensor<4x16x64xf32>", as quant-run describes MLIR arguments.
static std::string tensorTypeText(const quantc_tensor_info &info) {
  std::string text = "tensor<";
  for (int64_t dim = 0; dim < info.rank; ++dim)
    text += std::to_string(info.shape[dim]) + "x";
  return text + quantc::dtypeName(static_cast<quantc::DType>(info.dtype)) + ">";
}

llvm::Expected<std::unique_ptr<CompiledLibrary>>
CompiledLibrary::load(const std::string &path) {
  // dlopen searches the library path for a bare name; quant-run means a file.
  std::string file = path.find('/') == std::string::npos ? "./" + path : path;
  std::unique_ptr<CompiledLibrary> library(new CompiledLibrary());
  library->handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library->handle)
    return llvm::createStringError(path + ": cannot load (" + dlerror() + ")");
  auto api = std::make_unique<Api>();
  std::string missing;
  auto lookup = [&](auto &function, const char *name) {
    function = reinterpret_cast<std::remove_reference_t<decltype(function)>>(
        dlsym(library->handle, name));
    if (!function && missing.empty())
      missing = name;
  };
  lookup(api->create, "quantc_model_create");
  lookup(api->destroy, "quantc_model_destroy");
  lookup(api->numInputs, "quantc_model_num_inputs");
  lookup(api->numOutputs, "quantc_model_num_outputs");
  lookup(api->inputInfo, "quantc_model_input_info");
  lookup(api->outputInfo, "quantc_model_output_info");
  lookup(api->run, "quantc_model_run");
  lookup(api->setNumThreads, "quantc_model_set_num_threads");
  lookup(api->lastError, "quantc_model_last_error");
  if (!missing.empty())
    return llvm::createStringError(
        path + ": not a model compiled by quant-compile (no " + missing + ")");
  library->api = std::move(api);
  Api &c = *library->api;
  auto failure = [&](const char *what) {
    return llvm::createStringError(path + ": " + what + ": " + c.lastError());
  };

  quantc_model *model;
  if (c.create(&model) != QUANTC_OK)
    return failure("cannot create the model");
  library->model = model;
  int64_t inputCount, outputCount;
  if (c.numInputs(model, &inputCount) != QUANTC_OK ||
      c.numOutputs(model, &outputCount) != QUANTC_OK)
    return failure("cannot read the signature");
  quantc::EntrySignature &signature = library->entrySignature;
  signature.entry = "main";
  auto describe = [&](const quantc_tensor_info &info) {
    quantc::TensorSpec spec;
    spec.name = info.name;
    spec.dtype = static_cast<quantc::DType>(info.dtype);
    spec.shape.assign(info.shape, info.shape + info.rank);
    spec.mlirType = tensorTypeText(info);
    spec.acceptsUnsignedBytes = info.dtype == QUANTC_DTYPE_I8;
    return spec;
  };
  for (int64_t index = 0; index < inputCount; ++index) {
    quantc_tensor_info info;
    if (c.inputInfo(model, index, &info) != QUANTC_OK)
      return failure("cannot read the signature");
    signature.arguments.push_back(describe(info));
  }
  for (int64_t index = 0; index < outputCount; ++index) {
    quantc_tensor_info info;
    if (c.outputInfo(model, index, &info) != QUANTC_OK)
      return failure("cannot read the signature");
    signature.results.push_back(describe(info));
    signature.results.back().acceptsUnsignedBytes = false;
  }
  return library;
}

CompiledLibrary::~CompiledLibrary() {
  if (model)
    api->destroy(static_cast<quantc_model *>(model));
  // The library stays loaded: its thread pool's workers live until exit.
}

llvm::Error CompiledLibrary::setNumThreads(int threads) {
  if (api->setNumThreads(static_cast<quantc_model *>(model), threads) !=
      QUANTC_OK)
    return llvm::createStringError(api->lastError());
  return llvm::Error::success();
}

llvm::Error CompiledLibrary::run(llvm::ArrayRef<quantc::HostTensor> inputs,
                                 std::vector<quantc::HostTensor> &outputs) {
  outputs.resize(entrySignature.results.size());
  for (auto [output, result] : llvm::zip(outputs, entrySignature.results)) {
    size_t bytes = result.numElements() * quantc::dtypeSize(result.dtype);
    if (output.dtype == result.dtype && output.shape == result.shape &&
        output.bytes.size() == bytes)
      continue;
    output.dtype = result.dtype;
    output.shape = result.shape;
    output.bytes.assign(bytes, 0);
  }
  auto toC = [](const quantc::HostTensor &tensor, quantc_dtype dtype) {
    return quantc_tensor{const_cast<uint8_t *>(tensor.bytes.data()),
                         static_cast<int64_t>(tensor.shape.size()),
                         tensor.shape.data(), dtype};
  };
  std::vector<quantc_tensor> cInputs, cOutputs;
  for (auto [input, argument] : llvm::zip(inputs, entrySignature.arguments)) {
    // uint8 bytes for a signless i8 argument are passed as what they are.
    quantc_dtype dtype = static_cast<quantc_dtype>(input.dtype);
    if (argument.acceptsUnsignedBytes && input.dtype == quantc::DType::U8)
      dtype = QUANTC_DTYPE_I8;
    cInputs.push_back(toC(input, dtype));
  }
  for (const quantc::HostTensor &output : outputs)
    cOutputs.push_back(toC(output, static_cast<quantc_dtype>(output.dtype)));
  if (api->run(static_cast<quantc_model *>(model), cInputs.data(),
               static_cast<int64_t>(cInputs.size()), cOutputs.data(),
               static_cast<int64_t>(cOutputs.size())) != QUANTC_OK)
    return llvm::createStringError(api->lastError());
  return llvm::Error::success();
}

} // namespace quantrun
