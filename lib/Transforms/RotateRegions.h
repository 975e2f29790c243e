//===- RotateRegions.h - qc-rotate's analysis: where a rotation can go -*- C++ -*-===//
//
// A *rotation region* is a set of tensors whose channel axis (the last one)
// can all carry the same orthogonal transform R = I ⊗ Q_b -- Q_b the b x b
// Hadamard transform of the format library, applied to every aligned chunk
// of b consecutive elements of the last axis -- while the program still
// computes the same function. Every tensor v of the region then holds R·v
// instead of v, and the region's boundary absorbs R:
//
//   producers  (where R starts)            consumers  (where R ends)
//   - a layer's constant weight:           - a layer's constant weight:
//     columns rotated, W·Rᵀ                  rows rotated, R·W  (x'·W' = x·W)
//   - a gathered constant table            - a channel sum of squares (RMS):
//     (embedding): columns rotated           invariant, reads R·v as is
//   - anything else: an online
//     qc.hadamard right after it
//
// and the ops inside the region commute with R: layout ops that keep the
// chunks of the last axis (collapse/expand_shape, transposes that keep the
// last axis), elementwise ops that are linear in region values with per-row
// coefficients (residual adds, x / rms(x)), norm gains (x * γ, folded into
// the consuming layers' rows first: W' = diag(γ)·W), and the right operand
// of an activation x activation matmul (attention's P·V, per head).
//
// In the language of "insert, propagate, cancel": every quantized layer in a
// region has had H inserted before it and Hᵀ folded into its weight; the H
// moved backwards through the commuting ops until it met a producer, where it
// cancelled against the Hᵀ folded into that producer's weight (or table), or
// stayed online where the producer cannot absorb it.
//
// A consumer that needs the un-rotated value (a nonlinear op, a function
// result) makes the region infeasible; qc-rotate then rotates its quantized
// layers one by one, online.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_LIB_TRANSFORMS_ROTATEREGIONS_H
#define QUANTC_LIB_TRANSFORMS_ROTATEREGIONS_H

#include "qc/QcDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace quantc::rotate {

/// The smallest chunk a region may shrink to when a reshape splits its
/// channel axis (attention heads): below this a rotation hardly spreads an
/// outlier over a format's block.
constexpr int64_t kMinBlock = 16;

/// A layer (a contraction with one constant operand, QuantizableLayers.h)
/// whose weight qc-rotate can rewrite: an f32 arith.constant, optionally
/// wrapped in qc.fake_quant, reaching the layer through a layout chain that
/// keeps its reduction (and output) dimension.
struct RotatableLayer {
  mlir::linalg::LinalgOp op;
  std::string name;
  unsigned activationInput = 0;
  unsigned weightInput = 1;
  int64_t reductionSize = 0;
  /// The un-quantized activation: the activation fake_quant's input, or the
  /// layer's operand when the activation stays float (W4A16).
  mlir::Value activation;
  /// The activation's fake_quant (null for W4A16). Its result feeds only
  /// layers that share it.
  mlir::qc::FakeQuantOp activationQuant;
  /// The weight's fake_quant on the constant (null for a float layer).
  mlir::qc::FakeQuantOp weightQuant;
  mlir::arith::ConstantOp weightConstant;
  /// Layout ops from the fake_quant (or constant) to the layer.
  llvm::SmallVector<mlir::Operation *> weightChain;
  /// The constant's axis that is the layer's reduction axis K (input side).
  int64_t weightRowAxis = -1;
  /// The constant's axis that is the last axis of the layer's result (output
  /// side), or -1 when the layer cannot take an output-side rotation.
  int64_t weightColumnAxis = -1;

  bool isQuantized() const { return static_cast<bool>(weightQuant); }
};

/// Every rotatable layer of a function, by op.
class LayerIndex {
public:
  explicit LayerIndex(mlir::func::FuncOp func);

  /// The layers in program order.
  llvm::ArrayRef<RotatableLayer *> layers() const { return order; }
  RotatableLayer *lookup(mlir::Operation *op) const {
    auto it = byOp.find(op);
    return it == byOp.end() ? nullptr : it->second.get();
  }
  /// The layers that read `use` as their activation operand on its
  /// reduction (last) axis: directly, or through their activation
  /// fake_quant. Empty if the use is anything else.
  llvm::SmallVector<RotatableLayer *> activationReaders(mlir::OpOperand &use) const;
  /// Layers that were not rotatable, with the reason (for remarks).
  llvm::ArrayRef<std::pair<mlir::Operation *, std::string>> skipped() const {
    return skippedLayers;
  }

private:
  llvm::DenseMap<mlir::Operation *, std::unique_ptr<RotatableLayer>> byOp;
  llvm::SmallVector<RotatableLayer *> order;
  llvm::SmallVector<std::pair<mlir::Operation *, std::string>> skippedLayers;
};

/// A norm gain: y = x * γ with γ a constant vector over the channel axis,
/// whose result feeds only layers' activations (through layout ops and their
/// activation fake_quants), so γ can be folded into their weight rows.
struct FoldableGain {
  mlir::linalg::GenericOp op;
  unsigned carrierInput = 0; // x
  std::vector<float> gamma;
  llvm::SmallVector<RotatableLayer *> readers;
};

struct RotationRegion {
  /// The chunk size b of R = I ⊗ Q_b along the last axis.
  int64_t block = 0;
  /// Every tensor that holds R·v after the rewrite.
  llvm::SetVector<mlir::Value> values;
  /// Layers whose activation is in the region: R folds into their rows.
  llvm::SetVector<RotatableLayer *> consumers;
  /// Layers whose result is in the region: R folds into their columns.
  llvm::SetVector<RotatableLayer *> producers;
  /// Gathers from constant tables (embeddings) producing region values.
  llvm::SetVector<mlir::linalg::GenericOp> tables;
  /// Gains inside the region, folded into the consumers' rows.
  llvm::SmallVector<FoldableGain> gains;
  /// Constant tensors in the region: rotated at compile time.
  llvm::SetVector<mlir::Value> constants;
  /// Producers that cannot absorb R: an online qc.hadamard follows each.
  llvm::SetVector<mlir::Value> online;
  /// Why the region cannot be rotated as a whole; empty if it can.
  std::string infeasible;
  /// The op that needs the un-rotated value, if there is one.
  mlir::Operation *failedAt = nullptr;

  bool isFeasible() const { return infeasible.empty(); }
  /// The quantized layers the region rotates.
  llvm::SmallVector<RotatableLayer *> quantizedConsumers() const;
  /// The gain product folded into `layer`'s rows (empty: none).
  std::vector<float> rowScaleOf(RotatableLayer *layer) const;
};

/// Grows the region around `seed` (a layer's activation) for chunk size
/// `block`, shrinking the chunk where a reshape splits the channel axis into
/// smaller pieces (attention heads) as long as it stays >= kMinBlock and a
/// supported Hadamard size.
RotationRegion buildRotationRegion(const LayerIndex &layers, mlir::Value seed,
                                   int64_t block);

/// True if n is a size the format library's Hadamard transform supports.
bool isHadamardSize(int64_t n);

} // namespace quantc::rotate

#endif // QUANTC_LIB_TRANSFORMS_ROTATEREGIONS_H
