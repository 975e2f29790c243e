//===- Pipelines.cpp - Lowering pipelines from quantc IR to LLVM ---------===//
//
// Only the dialects and passes the CPU lowering uses are registered here, on
// purpose: mlir/InitAll*.h would cost every including file half a minute of
// compile time and pull in dialects quantc never sees.
//
//===----------------------------------------------------------------------===//

#include "quantc/Conversion/Pipelines.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/ConvertToLLVM/ToLLVMPass.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVM.h"
#include "mlir/Conversion/IndexToLLVM/IndexToLLVM.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MathToLibm/MathToLibm.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Conversion/UBToLLVM/UBToLLVM.h"
#include "mlir/Conversion/VectorToLLVM/ConvertVectorToLLVM.h"
#include "mlir/Conversion/VectorToSCF/VectorToSCF.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Transforms/BufferDeallocationOpInterfaceImpl.h"
#include "mlir/Dialect/Arith/Transforms/BufferViewFlowOpInterfaceImpl.h"
#include "mlir/Dialect/Arith/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/FuncBufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/ControlFlow/Transforms/BufferDeallocationOpInterfaceImpl.h"
#include "mlir/Dialect/ControlFlow/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Index/IR/IndexDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Linalg/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Linalg/Transforms/SubsetInsertionOpInterfaceImpl.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/AllocationOpInterfaceImpl.h"
#include "mlir/Dialect/MemRef/Transforms/BufferViewFlowOpInterfaceImpl.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/BufferDeallocationOpInterfaceImpl.h"
#include "mlir/Dialect/SCF/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/Transforms/SubsetInsertionOpInterfaceImpl.h"
#include "mlir/Dialect/UB/IR/UBOps.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/Vector/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"

#ifdef QUANTC_HAVE_QC_DIALECT
#include "qc/QcDialect.h"
#include "quantc/Transforms/Passes.h"
#endif

using namespace mlir;

namespace {

/// Gives every repeated operand of a func.return of memrefs its own copy, so
/// that `return %a, %a` becomes `return %a, %copy`.
///
/// Works around an MLIR 22 crash: buffer-results-to-out-params with
/// hoist-static-allocs erases an allocation returned twice while it still
/// has the second use (llvm/llvm-project#219492, fixed after 22 by #220232).
/// A function returning one tensor under two names is ordinary (an ONNX
/// graph output that is also an intermediate), so the pipeline must not
/// crash on it. Drop this pass once the fix is in the LLVM quantc builds with.
struct CopyRepeatedReturnedBuffersPass
    : PassWrapper<CopyRepeatedReturnedBuffersPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(CopyRepeatedReturnedBuffersPass)

  StringRef getArgument() const final {
    return "quantc-copy-repeated-returned-buffers";
  }
  StringRef getDescription() const final {
    return "Copy memrefs that a func.return returns more than once";
  }

  void runOnOperation() override {
    getOperation().walk([](func::ReturnOp returnOp) {
      llvm::SmallPtrSet<Value, 4> returned;
      OpBuilder builder(returnOp);
      for (OpOperand &operand : returnOp->getOpOperands()) {
        auto type = dyn_cast<MemRefType>(operand.get().getType());
        if (!type || returned.insert(operand.get()).second)
          continue;
        // Only statically shaped allocations are hoisted, so only they crash.
        if (!type.hasStaticShape())
          continue;
        Location loc = returnOp.getLoc();
        Value copy = memref::AllocOp::create(builder, loc, type);
        memref::CopyOp::create(builder, loc, operand.get(), copy);
        operand.set(copy);
      }
    });
  }
};

/// Whether `expr` walks dimension `dim` with unit stride: `dim` itself or
/// `dim + e` with `e` independent of `dim` (a convolution's `ow + kw`).
static bool isUnitStrideIn(AffineExpr expr, unsigned dim) {
  if (auto dimExpr = dyn_cast<AffineDimExpr>(expr))
    return dimExpr.getPosition() == dim;
  auto sum = dyn_cast<AffineBinaryOpExpr>(expr);
  if (!sum || sum.getKind() != AffineExprKind::Add)
    return false;
  AffineExpr lhs = sum.getLHS(), rhs = sum.getRHS();
  return (isUnitStrideIn(lhs, dim) && !rhs.isFunctionOfDim(dim)) ||
         (isUnitStrideIn(rhs, dim) && !lhs.isFunctionOfDim(dim));
}

/// The loop order ContiguousInnerLoopPass gives `op`, as the old loop index
/// of each new position, or nothing to keep the order it has.
static std::optional<SmallVector<unsigned>>
contiguousInnerLoopOrder(linalg::LinalgOp op) {
  unsigned numLoops = op.getNumLoops();
  if (numLoops < 2 || op.getNumDpsInits() != 1)
    return std::nullopt;
  if (!linalg::isReductionIterator(op.getIteratorTypesArray().back()))
    return std::nullopt;
  AffineMap outputMap = op.getMatchingIndexingMap(op.getDpsInitOperand(0));
  if (outputMap.getNumResults() == 0)
    return std::nullopt;
  auto innerDim = dyn_cast<AffineDimExpr>(outputMap.getResults().back());
  if (!innerDim)
    return std::nullopt;
  unsigned inner = innerDim.getPosition();
  // Every operand that the new inner loop moves through must be walked along
  // its last, contiguous dimension; otherwise the reordering would trade a
  // dot product for strided accesses.
  for (AffineMap map : op.getIndexingMapsArray()) {
    for (auto [position, expr] : llvm::enumerate(map.getResults())) {
      if (!expr.isFunctionOfDim(inner))
        continue;
      if (position + 1 != map.getNumResults() || !isUnitStrideIn(expr, inner))
        return std::nullopt;
    }
  }
  SmallVector<unsigned> order;
  for (unsigned dim = 0; dim < numLoops; ++dim)
    if (dim != inner)
      order.push_back(dim);
  order.push_back(inner);
  return order;
}

/// Reorders the loops of linalg ops whose innermost loop is a reduction so
/// that the innermost loop walks the output's last (contiguous) dimension.
/// `C[i,j] += A[i,k] * B[k,j]` then runs as i, k, j: the inner loop is an
/// axpy over contiguous rows that LLVM vectorizes, where the i, j, k order is
/// a scalar dot product walking down a column of B (about 14x slower for a
/// 256^3 f32 matmul). Each output element still adds its terms in the same
/// order, so results are bit-identical.
struct ContiguousInnerLoopPass
    : PassWrapper<ContiguousInnerLoopPass, OperationPass<>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(ContiguousInnerLoopPass)

  StringRef getArgument() const final { return "quantc-contiguous-inner-loop"; }
  StringRef getDescription() const final {
    return "Reorder linalg loops so that a reduction is not the innermost "
           "loop when the output's last dimension can be";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<linalg::LinalgDialect>();
  }

  void runOnOperation() override {
    SmallVector<linalg::LinalgOp> candidates;
    getOperation()->walk(
        [&](linalg::LinalgOp op) { candidates.push_back(op); });
    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp op : candidates) {
      std::optional<SmallVector<unsigned>> order = contiguousInnerLoopOrder(op);
      if (!order)
        continue;
      rewriter.setInsertionPoint(op);
      auto generic = dyn_cast<linalg::GenericOp>(op.getOperation());
      if (!generic) {
        FailureOr<linalg::GenericOp> generalized =
            linalg::generalizeNamedOp(rewriter, op);
        if (failed(generalized))
          continue;
        generic = *generalized;
      }
      (void)linalg::interchangeGenericOp(rewriter, generic, *order);
    }
  }
};

} // namespace

namespace quantc {

void registerQuantcDialects(DialectRegistry &registry) {
  registry.insert<affine::AffineDialect, arith::ArithDialect,
                  bufferization::BufferizationDialect, cf::ControlFlowDialect,
                  func::FuncDialect, index::IndexDialect, linalg::LinalgDialect,
                  LLVM::LLVMDialect, math::MathDialect, memref::MemRefDialect,
                  scf::SCFDialect, tensor::TensorDialect, ub::UBDialect,
                  vector::VectorDialect>();
#ifdef QUANTC_HAVE_QC_DIALECT
  registry.insert<qc::QcDialect>();
#endif

  // One-shot bufferization: how each op maps from tensors to buffers, and
  // which ops write into a subset of a tensor (for in-place analysis).
  arith::registerBufferizableOpInterfaceExternalModels(registry);
  bufferization::func_ext::registerBufferizableOpInterfaceExternalModels(
      registry);
  cf::registerBufferizableOpInterfaceExternalModels(registry);
  linalg::registerBufferizableOpInterfaceExternalModels(registry);
  linalg::registerSubsetOpInterfaceExternalModels(registry);
  scf::registerBufferizableOpInterfaceExternalModels(registry);
  tensor::registerBufferizableOpInterfaceExternalModels(registry);
  tensor::registerSubsetOpInterfaceExternalModels(registry);
  vector::registerBufferizableOpInterfaceExternalModels(registry);

  // Ownership-based buffer deallocation through branches, loops and selects.
  arith::registerBufferDeallocationOpInterfaceExternalModels(registry);
  arith::registerBufferViewFlowOpInterfaceExternalModels(registry);
  cf::registerBufferDeallocationOpInterfaceExternalModels(registry);
  memref::registerAllocationOpInterfaceExternalModels(registry);
  memref::registerBufferViewFlowOpInterfaceExternalModels(registry);
  scf::registerBufferDeallocationOpInterfaceExternalModels(registry);

  // `convert-to-llvm` finds its patterns through these interfaces.
  arith::registerConvertArithToLLVMInterface(registry);
  cf::registerConvertControlFlowToLLVMInterface(registry);
  index::registerConvertIndexToLLVMInterface(registry);
  registerConvertFuncToLLVMInterface(registry);
  registerConvertMathToLLVMInterface(registry);
  registerConvertMemRefToLLVMInterface(registry);
  ub::registerConvertUBToLLVMInterface(registry);
  vector::registerConvertVectorToLLVMInterface(registry);

  // LLVM dialect -> LLVM IR, for the JIT and for object emission.
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
}

void buildQcExpansionPipeline(OpPassManager &pm) {
#ifdef QUANTC_HAVE_QC_DIALECT
  pm.addPass(qc::createQcExpandFormats());
#else
  (void)pm;
#endif
}

void buildCpuLoweringPipeline(OpPassManager &pm) {
  // qc ops become plain tensor/arith/math/scf first, so that everything below
  // sees only upstream dialects.
  buildQcExpansionPipeline(pm);
  pm.addPass(createCanonicalizerPass());

  // Tensor-level: arith/math applied to whole tensors become linalg.generic,
  // and chains of elementwise generics fuse, so one loop nest reads each input
  // once instead of materialising every intermediate tensor.
  pm.addPass(createConvertElementwiseToLinalgPass());
  pm.addPass(createLinalgElementwiseOpFusionPass());
  pm.addPass(createCanonicalizerPass());

  // Tensors -> buffers. Function boundaries get identity layouts so that a
  // caller can pass plain dense buffers (quant-run, the AOT C API); results
  // become out-parameters so that the caller, not the callee, owns them.
  bufferization::OneShotBufferizePassOptions bufferizeOptions;
  bufferizeOptions.bufferizeFunctionBoundaries = true;
  bufferizeOptions.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(bufferizeOptions));
  pm.addPass(std::make_unique<CopyRepeatedReturnedBuffersPass>());
  bufferization::BufferResultsToOutParamsPassOptions outParamsOptions;
  outParamsOptions.hoistStaticAllocs = true;
  outParamsOptions.modifyPublicFunctions = true;
  pm.addPass(bufferization::createBufferResultsToOutParamsPass(outParamsOptions));
  pm.addPass(createCanonicalizerPass());
  bufferization::buildBufferDeallocationPipeline(pm);

  // Buffers -> loops -> control flow. expand-strided-metadata turns subview
  // offsets and strides into affine.apply, hence lower-affine once more.
  pm.addPass(std::make_unique<ContiguousInnerLoopPass>());
  pm.addPass(createConvertLinalgToLoopsPass());
  pm.addPass(createConvertVectorToSCFPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());

  // Math: ops LLVM has no intrinsic for are expanded into arithmetic where
  // MLIR knows how (tanh, ...), the rest map to LLVM intrinsics (exp, sqrt,
  // ...), and what neither covers becomes a libm call (erf, ...).
  pm.addPass(math::createMathExpandOpsPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createConvertMathToLibmPass());

  pm.addPass(createConvertToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  pm.addPass(createCanonicalizerPass());
}

void registerQuantcPipelines() {
  // The pipeline's own passes, so that quant-opt can run each alone.
  PassRegistration<ContiguousInnerLoopPass>();
  PassRegistration<CopyRepeatedReturnedBuffersPass>();
  PassPipelineRegistration<>(
      "quantc-lower-to-llvm",
      "Lower float tensor IR (func, linalg, tensor, arith, math, scf) and qc "
      "ops to the LLVM dialect for the host CPU; results become "
      "out-parameters",
      buildCpuLoweringPipeline);
}

} // namespace quantc
