//===- JitSymbols.h - Runtime functions for JIT-compiled kernels -*- C++ -*-===//
//
// Generated CPU kernels call a few runtime functions (quantc_parallel_for,
// quantc_kernel_alloc, ...). An AOT artifact links the runtime library; a JIT
// (quant-run, the benchmarks, calibration) registers their addresses with
// registerKernelRuntimeSymbols before the first call. Header-only so that only
// tools that link the ExecutionEngine include it.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_RUNTIME_JITSYMBOLS_H
#define QUANTC_RUNTIME_JITSYMBOLS_H

#include "quantc/Runtime/ThreadPool.h"

#include "mlir/ExecutionEngine/ExecutionEngine.h"
#include "llvm/ExecutionEngine/Orc/Mangling.h"

namespace quantc {

inline void registerKernelRuntimeSymbols(mlir::ExecutionEngine &engine) {
  engine.registerSymbols([](llvm::orc::MangleAndInterner interner) {
    llvm::orc::SymbolMap symbols;
    auto add = [&](const char *name, void *address) {
      symbols[interner(name)] = {llvm::orc::ExecutorAddr::fromPtr(address),
                                 llvm::JITSymbolFlags::Exported};
    };
    add("quantc_parallel_for", reinterpret_cast<void *>(&quantc_parallel_for));
    add("quantc_kernel_alloc", reinterpret_cast<void *>(&quantc_kernel_alloc));
    add("quantc_kernel_free", reinterpret_cast<void *>(&quantc_kernel_free));
    add("quantc_get_num_threads",
        reinterpret_cast<void *>(&quantc_get_num_threads));
    return symbols;
  });
}

} // namespace quantc

#endif // QUANTC_RUNTIME_JITSYMBOLS_H
