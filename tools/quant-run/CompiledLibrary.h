//===- CompiledLibrary.h - quant-run MODEL.so ---------------------*- C++ -*-===//
//
// A model compiled ahead of time by `quant-compile -o MODEL.so`, loaded with
// dlopen and called through its C API (quantc/Runtime/quantc_model.h), with
// the same signature and run() as a JIT-compiled function so that quant-run
// treats both alike.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_TOOLS_QUANT_RUN_COMPILEDLIBRARY_H
#define QUANTC_TOOLS_QUANT_RUN_COMPILEDLIBRARY_H

#include "quantc/Runtime/Jit.h"

#include "llvm/Support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace quantrun {

class CompiledLibrary {
public:
  /// Loads `path` and creates a model instance. Errors name the file.
  static llvm::Expected<std::unique_ptr<CompiledLibrary>>
  load(const std::string &path);
  ~CompiledLibrary();

  /// Inputs and outputs as the library declares them (entry "main").
  const quantc::EntrySignature &signature() const { return entrySignature; }

  /// Sets the library's thread count (its own pool; see quantc_model.h).
  llvm::Error setNumThreads(int threads);

  /// Runs the model; outputs are resized and reused as JitFunction::run does.
  llvm::Error run(llvm::ArrayRef<quantc::HostTensor> inputs,
                  std::vector<quantc::HostTensor> &outputs);

private:
  struct Api;
  CompiledLibrary() = default;

  void *handle = nullptr;
  std::unique_ptr<Api> api;
  void *model = nullptr;
  quantc::EntrySignature entrySignature;
};

} // namespace quantrun

#endif // QUANTC_TOOLS_QUANT_RUN_COMPILEDLIBRARY_H
