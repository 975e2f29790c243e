//===- Passes.h - passes of the CPU lowering pipeline -------------*- C++ -*-===//
//
// Only mlir/Pass/Pass.h here: the dialects the passes depend on are included
// by the files that define them, so that Pipelines.cpp and the tools stay
// cheap to compile.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_CONVERSION_PASSES_H
#define QUANTC_CONVERSION_PASSES_H

#include "mlir/Pass/Pass.h"

namespace quantc {

#define GEN_PASS_DECL
#include "quantc/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "quantc/Conversion/Passes.h.inc"

} // namespace quantc

#endif // QUANTC_CONVERSION_PASSES_H
