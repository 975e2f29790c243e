//===- Passes.h - qc passes --------------------------------------*- C++ -*-===//
#ifndef QUANTC_TRANSFORMS_PASSES_H
#define QUANTC_TRANSFORMS_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/Pass.h"
#include "qc/QcDialect.h"

namespace mlir::qc {

#define GEN_PASS_DECL
#include "quantc/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "quantc/Transforms/Passes.h.inc"

} // namespace mlir::qc

#endif // QUANTC_TRANSFORMS_PASSES_H
