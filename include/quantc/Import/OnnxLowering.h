//===- OnnxLowering.h - IR building blocks for ONNX op lowerings -*- C++ -*-===//
//
// Helpers every op family uses to build upstream linalg / tensor / arith IR
// on static-shaped tensors: numpy broadcasting, element-wise maps,
// reductions, reshapes, transposes and ONNX Cast semantics. A lowering that
// needs something here that is not yet here adds it here, so that the next
// family finds it.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_IMPORT_ONNXLOWERING_H
#define QUANTC_IMPORT_ONNXLOWERING_H

#include "quantc/Import/OnnxOpRegistry.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/STLFunctionalExtras.h"

#include <optional>

namespace quantc {

/// Builds one scalar result from the scalar inputs of an element-wise map.
using ScalarBodyFn =
    llvm::function_ref<mlir::Value(mlir::OpBuilder &, mlir::Location,
                                   mlir::ValueRange)>;
/// Combines one input element into the accumulator of a reduction.
using CombineFn = llvm::function_ref<mlir::Value(
    mlir::OpBuilder &, mlir::Location, mlir::Value element, mlir::Value acc)>;

int64_t numElementsOf(llvm::ArrayRef<int64_t> shape);

/// The numpy-broadcast shape of `shapes`, or nullopt if they do not broadcast.
std::optional<llvm::SmallVector<int64_t>>
broadcastShapes(llvm::ArrayRef<llvm::ArrayRef<int64_t>> shapes);

/// tensor.empty of a static shape.
mlir::Value createEmptyTensor(mlir::OpBuilder &b, mlir::Location loc,
                              llvm::ArrayRef<int64_t> shape,
                              mlir::Type elementType);
/// A scalar arith.constant of `elementType` (float, integer or i1).
mlir::Value createScalarConstant(mlir::OpBuilder &b, mlir::Location loc,
                                 mlir::Type elementType, double value);
/// An integer scalar constant (exact for all int64 values).
mlir::Value createIntConstant(mlir::OpBuilder &b, mlir::Location loc,
                              mlir::Type elementType, int64_t value);
/// linalg.fill of a tensor.empty with `scalar`.
mlir::Value createFilledTensor(mlir::OpBuilder &b, mlir::Location loc,
                               llvm::ArrayRef<int64_t> shape,
                               mlir::Value scalar);

/// A linalg.generic computing `body` element-wise over `inputs`, each of
/// which broadcasts (numpy rules, aligned on the right) to `resultShape`.
/// Broadcast unit dims are collapsed away first, so that every indexing map
/// is a projected permutation.
mlir::Value buildElementwise(mlir::OpBuilder &b, mlir::Location loc,
                             mlir::ValueRange inputs,
                             llvm::ArrayRef<int64_t> resultShape,
                             mlir::Type resultElementType, ScalarBodyFn body);
/// Like buildElementwise, with the result shape the inputs broadcast to;
/// null (and an error on `ctx`) if they do not broadcast.
mlir::Value buildBroadcastElementwise(OnnxNodeContext &ctx,
                                      mlir::ValueRange inputs,
                                      mlir::Type resultElementType,
                                      ScalarBodyFn body);

/// Builds one element of a tensor from its coordinates (index values).
using IndexedBodyFn = llvm::function_ref<mlir::Value(
    mlir::OpBuilder &, mlir::Location, mlir::ValueRange coordinates)>;

/// A tensor of `shape` whose element at each coordinate is `body(coords)`:
/// a linalg.generic with no inputs whose body reads other tensors with
/// tensor.extract. The form of gathers, index-dependent masks and
/// resampling, where an element's sources depend on its position.
mlir::Value buildIndexedTensor(mlir::OpBuilder &b, mlir::Location loc,
                               llvm::ArrayRef<int64_t> shape,
                               mlir::Type elementType, IndexedBodyFn body);

/// An integer scalar index (any width, signed) as `index`, negative values
/// counted from `size`, then clamped into [0, size): for indices whose
/// out-of-range values ONNX leaves undefined, so that they cannot read
/// outside the tensor.
mlir::Value wrapAndClampIndex(mlir::OpBuilder &b, mlir::Location loc,
                              mlir::Value index, int64_t size);

/// `value` broadcast (materialized) to `shape`.
mlir::Value broadcastTo(mlir::OpBuilder &b, mlir::Location loc,
                        mlir::Value value, llvm::ArrayRef<int64_t> shape);

/// `value` with the same elements in row-major order and `shape` (same
/// number of elements), through tensor.collapse_shape / expand_shape.
mlir::Value reshapeTensor(mlir::OpBuilder &b, mlir::Location loc,
                          mlir::Value value, llvm::ArrayRef<int64_t> shape);

/// linalg.transpose: result dim i is input dim perm[i].
mlir::Value transposeTensor(mlir::OpBuilder &b, mlir::Location loc,
                            mlir::Value value, llvm::ArrayRef<int64_t> perm);

/// Reduces `input` over `axes` (non-negative, unique) starting from `init`;
/// the result drops the axes, or keeps them as size 1 if `keepDims`.
mlir::Value buildReduction(mlir::OpBuilder &b, mlir::Location loc,
                           mlir::Value input, llvm::ArrayRef<int64_t> axes,
                           bool keepDims, mlir::TypedAttr init,
                           CombineFn combine);

/// softmax (or log-softmax if `logarithmic`) of a float tensor along `axis`,
/// shifted by the maximum for range (lib/Import/OnnxLinalg.cpp).
mlir::Value buildSoftmax(mlir::OpBuilder &b, mlir::Location loc,
                         mlir::Value input, int64_t axis, bool logarithmic);

/// numpy matmul of two tensors of one element type (1-D operands, batch
/// broadcasting), accumulating in that type; an error on `ctx` if the shapes
/// do not fit (lib/Import/OnnxLinalg.cpp).
mlir::FailureOr<mlir::Value> buildNumpyMatMul(OnnxNodeContext &ctx,
                                              mlir::Value lhs, mlir::Value rhs);

/// Conv's convolution of `x` by `w` (+ `bias` per output channel if not
/// null) under the node's attributes (strides, pads, dilations, group,
/// auto_pad), in x's element type; float or integer (wrapping) arithmetic
/// (lib/Import/OnnxNN.cpp).
mlir::FailureOr<mlir::Value> buildOnnxConv(OnnxNodeContext &ctx, mlir::Value x,
                                           mlir::Value w, mlir::Value bias);

/// Converts a scalar of ONNX type `from` to `to` with ONNX Cast semantics
/// (sign- or zero-extension by the source's signedness, to bool is != 0).
mlir::Value convertScalar(mlir::OpBuilder &b, mlir::Location loc,
                          mlir::Value scalar, OnnxDType from, OnnxDType to);
/// Element-wise convertScalar over a tensor (returns `value` if the storage
/// type does not change).
mlir::Value convertTensor(mlir::OpBuilder &b, mlir::Location loc,
                          mlir::Value value, OnnxDType from, OnnxDType to);

/// `axis` in [-rank, rank) made non-negative, or an error on `ctx` naming
/// `what` ("axis") when it is out of range.
mlir::FailureOr<int64_t> normalizeAxis(OnnxNodeContext &ctx, int64_t axis,
                                       int64_t rank,
                                       llvm::StringRef what = "axis");
/// Each of `axes` normalized, sorted, and checked for duplicates.
mlir::FailureOr<llvm::SmallVector<int64_t>>
normalizeAxes(OnnxNodeContext &ctx, llvm::ArrayRef<int64_t> axes, int64_t rank,
              llvm::StringRef what = "axes");

/// Materializes a host constant as an arith.constant (dense for small or
/// bool tensors, a dense resource blob otherwise).
mlir::Value materializeKnownTensor(mlir::OpBuilder &b, mlir::Location loc,
                                   const KnownTensor &tensor);
/// The elements attribute materializeKnownTensor uses.
mlir::ElementsAttr knownTensorToAttr(mlir::MLIRContext *context,
                                     const KnownTensor &tensor);

} // namespace quantc

#endif // QUANTC_IMPORT_ONNXLOWERING_H
