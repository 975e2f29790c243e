//===- Epilogue.h - Elementwise consumers fused into matmul kernels -*- C++ -*-===//
//
// qc-lower-cpu folds a linalg.generic that consumes a qc.matmul's result
// (bias add, activation, residual add, the product of a SwiGLU: whatever
// scalar arith / math ops its body holds) into the kernel's store, and an
// online qc.hadamard of its input into the kernel's prep phase. This is the
// matching on tensors (for LowerCpu.cpp) and the vector form of the
// epilogue's ops (for X86MatmulKernel.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_LIB_CONVERSION_QCTOCPU_EPILOGUE_H
#define QUANTC_LIB_CONVERSION_QCTOCPU_EPILOGUE_H

#include "quantc/Conversion/QcToCPU.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/Operation.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>

namespace quantc::cpu {

/// A linalg.generic to fold into the kernel of the matmul whose result it
/// consumes.
struct EpilogueMatch {
  mlir::linalg::GenericOp generic;
  /// tensor.expand_shape / collapse_shape ops between the matmul and the
  /// generic (each keeps the last dimension, N, as it is), in order.
  llvm::SmallVector<mlir::Operation *> reshapes;
  MatmulEpilogue epilogue;
  /// The tensors behind `epilogue.operands`, as the generic reads them.
  llvm::SmallVector<mlir::Value> operandValues;
};

/// The generic `result` (a matmul's [..., N] f32 result) flows into, when the
/// fold keeps every element's arithmetic as it is: the result has no other
/// user (after reshapes that only regroup its rows), the generic is
/// elementwise (all loops parallel, one result of the same shape, identity
/// maps for the result and the matmul), reads other f32 tensors per output
/// (identity map), per column (only the last loop) or once (no loop), does not
/// read its init, and its body holds only arith / math elementwise ops on
/// scalars (values from outside: scalar arith.constant).
std::optional<EpilogueMatch> matchMatmulEpilogue(mlir::Value result,
                                                 int64_t n);

/// A qc.hadamard along K whose result only feeds a matmul's input (possibly
/// through reshapes of its rows): the kernel can rotate x itself.
struct HadamardMatch {
  mlir::Operation *hadamard = nullptr;
  /// Reshapes from the hadamard to the matmul, the matmul's side first.
  llvm::SmallVector<mlir::Operation *> reshapes;
  /// The hadamard's input: what the kernel reads as x.
  mlir::Value input;
  OnlineHadamard rotation;
};

/// The qc.hadamard behind `input` (a matmul's [..., K] f32 input), if it
/// rotates along the last axis and nothing else reads its result.
std::optional<HadamardMatch> matchOnlineHadamard(mlir::Value input, int64_t k);

/// The epilogue's ops applied lane by lane to `y` (vector<W x f32>), with
/// `operands` the epilogue's operands as vectors of the same lanes; emitted
/// at `b`'s insertion point. Returns the vector to store.
mlir::Value emitEpilogueOps(mlir::ImplicitLocOpBuilder &b,
                            const MatmulEpilogue &epilogue, mlir::Value y,
                            llvm::ArrayRef<mlir::Value> operands);

} // namespace quantc::cpu

#endif // QUANTC_LIB_CONVERSION_QCTOCPU_EPILOGUE_H
