//===- LowerCpu.cpp - qc-lower-cpu: qc.matmul to generated x86 kernels ----===//
//
// Two phases over the module:
//
//  1. Layouts: for every qc.matmul whose weights are a qc.constant and for
//     which planMatmulKernel finds a kernel, the constant is repacked into
//     the plan's layout (unpacked and packed by the format library) and the
//     matmul takes the new constant, whose type names the layout:
//       %w = qc.constant ... : !qc.packed<4096x4096, mxfp4, layout = x86_n16k8>
//     With pack-only the pass stops here (for tests and inspection).
//  2. Kernels: every qc.matmul whose weights are a constant in an x86 layout
//     becomes a call to the generated kernel on memrefs: the activations via
//     bufferization.to_buffer, the weights as a 64-byte aligned memref.global,
//     the result a fresh buffer returned as a restrict tensor. Matmuls with
//     the same plan share one kernel. An elementwise linalg.generic that is
//     the matmul's only consumer is folded into the kernel's store
//     (Epilogue.h): the call takes its place and replaces its result.
//
// Everything else (weights that are not constants, formats or shapes without
// a kernel) is left to qc-expand-formats' reference lowering.
//
//===----------------------------------------------------------------------===//

#include "Epilogue.h"

#include "quantc/Conversion/Passes.h"
#include "quantc/Conversion/QcToCPU.h"
#include "quantc/Formats/Layout.h"

#include "qc/QcDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Debug.h"

#include <map>

#define DEBUG_TYPE "qc-lower-cpu"

namespace quantc {
#define GEN_PASS_DEF_QCLOWERCPU
#include "quantc/Conversion/Passes.h.inc"
} // namespace quantc

using namespace mlir;
using namespace mlir::qc;
using namespace quantc::cpu;

namespace {

struct QcLowerCpuPass : quantc::impl::QcLowerCpuBase<QcLowerCpuPass> {
  using QcLowerCpuBase::QcLowerCpuBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    std::string error;
    std::optional<CpuTarget> parsed = CpuTarget::parse(target, error);
    if (!parsed) {
      module.emitError() << "qc-lower-cpu: " << error;
      return signalPassFailure();
    }
    cpuTarget = *parsed;

    SmallVector<MatmulOp> matmuls;
    module.walk([&](MatmulOp op) { matmuls.push_back(op); });
    for (MatmulOp op : matmuls)
      if (failed(chooseLayout(op)))
        return signalPassFailure();
    eraseDeadConstants();
    if (packOnly)
      return;
    for (MatmulOp op : matmuls)
      if (failed(lowerToKernel(op)))
        return signalPassFailure();
    eraseDeadConstants();
  }

private:
  struct Problem {
    int64_t m, n, k;
    /// The op that makes the weights: a qc.constant, or a qc.quantize of a
    /// float constant (quantized here, as its folder would).
    Operation *weights;
  };

  /// The shape and constant weights of a matmul the kernels can take.
  std::optional<Problem> problemOf(MatmulOp op) {
    auto inputType = cast<RankedTensorType>(op.getInput().getType());
    auto resultType = cast<RankedTensorType>(op.getType());
    if (!inputType.hasStaticShape() || !inputType.getElementType().isF32() ||
        !resultType.getElementType().isF32())
      return std::nullopt;
    Operation *weights = op.getWeight().getDefiningOp();
    if (!isConstantQuantized(weights))
      return std::nullopt;
    auto weightType = cast<PackedType>(op.getWeight().getType());
    Problem problem;
    problem.n = weightType.getShape()[0];
    problem.k = weightType.getShape()[1];
    problem.m = inputType.getNumElements() / problem.k;
    problem.weights = weights;
    return problem;
  }

  std::optional<MatmulKernelPlan> planFor(MatmulOp op, const Problem &problem,
                                          bool allowScalePairs = true) {
    auto weightType = cast<PackedType>(op.getWeight().getType());
    std::optional<quantc::Format> act;
    if (std::optional<FormatAttr> attr = op.getAct())
      act = attr->getValue();
    std::string whyNot;
    std::optional<MatmulKernelPlan> plan = planMatmulKernel(
        problem.m, problem.n, problem.k, weightType.getFormat().getValue(), act,
        cpuTarget, allowBF16, whyNot, allowI16, allowScalePairs);
    LLVM_DEBUG(if (!plan) llvm::dbgs()
               << "qc-lower-cpu: no kernel for " << op << ": " << whyNot
               << "\n");
    return plan;
  }

  /// Phase 1: repack constant weights into the plan's layout.
  LogicalResult chooseLayout(MatmulOp op) {
    std::optional<Problem> problem = problemOf(op);
    if (!problem)
      return success();
    std::optional<MatmulKernelPlan> plan = planFor(op, *problem);
    if (!plan)
      return success();
    auto weightType = cast<PackedType>(op.getWeight().getType());
    if (weightType.getLayoutName() == plan->layout)
      return success();
    auto key = std::make_pair(problem->weights, plan->layout);
    auto cached = repacked.find(key);
    if (cached == repacked.end()) {
      std::string error;
      std::optional<quantc::QuantizedTensor> tensor =
          readConstantQuantized(problem->weights, error);
      if (!tensor)
        return problem->weights->emitError()
               << "qc-lower-cpu: cannot read the packed weights: " << error;
      std::vector<uint8_t> packed = quantc::packLayout(*tensor, plan->layout);
      if (packed.empty() && plan->scalePairs) {
        // Scales that do not fold in pairs: the plan without them.
        plan = planFor(op, *problem, /*allowScalePairs=*/false);
        if (weightType.getLayoutName() == plan->layout)
          return success();
        key = std::make_pair(problem->weights, plan->layout);
        cached = repacked.find(key);
        if (cached != repacked.end()) {
          op.getWeightMutable().assign(cached->second.getResult());
          maybeDead.insert(problem->weights);
          return success();
        }
        packed = quantc::packLayout(*tensor, plan->layout);
      }
      MLIRContext *ctx = op.getContext();
      auto newType =
          PackedType::get(ctx, weightType.getShape(), weightType.getFormat(),
                          StringAttr::get(ctx, plan->layout));
      OpBuilder builder(problem->weights);
      builder.setInsertionPointAfter(problem->weights);
      auto newConstant = ConstantOp::create(builder, problem->weights->getLoc(),
                                            newType,
                                            makeByteConstant(newType, packed));
      cached = repacked.try_emplace(key, newConstant).first;
    }
    op.getWeightMutable().assign(cached->second.getResult());
    maybeDead.insert(problem->weights);
    return success();
  }

  /// Phase 2: replace the matmul by a call to its kernel.
  LogicalResult lowerToKernel(MatmulOp op) {
    std::optional<Problem> problem = problemOf(op);
    auto weightType = cast<PackedType>(op.getWeight().getType());
    if (!problem || !isa<ConstantOp>(problem->weights) ||
        weightType.getLayoutName() == "canonical")
      return success();
    std::optional<MatmulKernelPlan> plan = planFor(op, *problem);
    if (plan && plan->scalePairs && plan->layout != weightType.getLayoutName())
      plan = planFor(op, *problem, /*allowScalePairs=*/false);
    if (!plan || plan->layout != weightType.getLayoutName())
      return op.emitError() << "qc-lower-cpu: weights in layout '"
                            << weightType.getLayoutName()
                            << "' have no kernel for target '"
                            << cpuTarget.name << "'"
                            << (plan ? " (it uses '" + plan->layout + "')"
                                     : std::string());
    ModuleOp module = getOperation();
    MLIRContext *ctx = op.getContext();
    std::optional<EpilogueMatch> fused;
    if (fuseEpilogues)
      fused = matchMatmulEpilogue(op.getResult(), problem->n);
    // An online rotation of x: in the prep phase of kernels that quantize x
    // row by row (not with one dynamic scale for the whole tensor, whose
    // amax would have to be of the rotated x).
    std::optional<HadamardMatch> rotated;
    if (fuseHadamard && plan->act &&
        !(plan->act->granularity == quantc::Granularity::PerTensor &&
          plan->act->staticAmax == 0.0f))
      rotated = matchOnlineHadamard(op.getInput(), problem->k);
    std::string kernelName = "__" + plan->kernelKey();
    if (rotated)
      kernelName += "_" + rotated->rotation.key;
    if (fused)
      kernelName += "_ep" + fused->epilogue.key;
    func::FuncOp kernel =
        emitMatmulKernel(module, *plan, kernelName,
                         fused ? &fused->epilogue : nullptr,
                         rotated ? &rotated->rotation : nullptr);

    // With an epilogue the call takes the generic's place: everything it
    // reads is defined before the generic (x before the matmul).
    ImplicitLocOpBuilder b(op.getLoc(), op);
    if (fused)
      b.setInsertionPoint(fused->generic);
    Type f32 = b.getF32Type();
    int64_t m = problem->m, n = problem->n, k = problem->k;

    // x as [M, K] (before the rotation the kernel does itself).
    Value input = rotated ? rotated->input : op.getInput();
    auto inputType = cast<RankedTensorType>(input.getType());
    auto matrixType = RankedTensorType::get({m, k}, f32);
    SmallVector<ReassociationIndices> toMatrix(2);
    for (int64_t i = 0; i + 1 < inputType.getRank(); ++i)
      toMatrix[0].push_back(i);
    toMatrix[1].push_back(inputType.getRank() - 1);
    if (inputType.getRank() == 1)
      input = tensor::ExpandShapeOp::create(
          b, matrixType, input, ArrayRef<ReassociationIndices>{{0, 1}});
    else if (inputType.getRank() > 2)
      input = tensor::CollapseShapeOp::create(b, input, toMatrix);
    Value xBuffer = bufferization::ToBufferOp::create(
        b, MemRefType::get({m, k}, f32), input, /*read_only=*/true);

    Value wBuffer =
        weightGlobal(cast<ConstantOp>(problem->weights), weightType, b);
    auto yType = MemRefType::get({m, n}, f32);
    Value yBuffer = memref::AllocOp::create(b, yType, b.getI64IntegerAttr(64));
    SmallVector<Value> arguments = {xBuffer, wBuffer, yBuffer};
    if (fused)
      for (auto [kind, value] :
           llvm::zip(fused->epilogue.operands, fused->operandValues))
        arguments.push_back(epilogueOperandBuffer(b, kind, value, m, n));
    func::CallOp::create(b, kernel, arguments);
    Value result = bufferization::ToTensorOp::create(
        b, RankedTensorType::get({m, n}, f32), yBuffer, UnitAttr::get(ctx),
        UnitAttr::get(ctx));

    auto resultType = cast<RankedTensorType>(
        fused ? fused->generic.getResult(0).getType() : op.getType());
    SmallVector<ReassociationIndices> fromMatrix(2);
    for (int64_t i = 0; i + 1 < resultType.getRank(); ++i)
      fromMatrix[0].push_back(i);
    fromMatrix[1].push_back(resultType.getRank() - 1);
    if (resultType.getRank() == 1)
      result = tensor::CollapseShapeOp::create(
          b, resultType, result, ArrayRef<ReassociationIndices>{{0, 1}});
    else if (resultType.getRank() > 2)
      result = tensor::ExpandShapeOp::create(b, resultType, result, fromMatrix);
    if (fused) {
      fused->generic.getResult(0).replaceAllUsesWith(result);
      fused->generic.erase();
      for (Operation *reshape : llvm::reverse(fused->reshapes))
        reshape->erase();
    } else {
      op.replaceAllUsesWith(result);
    }
    op.erase();
    if (rotated) {
      for (Operation *reshape : rotated->reshapes)
        reshape->erase();
      rotated->hadamard->erase();
    }
    maybeDead.insert(problem->weights);
    return success();
  }

  /// An epilogue operand as the kernel takes it: [N], [M, N] or a scalar,
  /// read-only, identity layout.
  Value epilogueOperandBuffer(ImplicitLocOpBuilder &b,
                              MatmulEpilogue::OperandKind kind, Value value,
                              int64_t m, int64_t n) {
    auto type = cast<RankedTensorType>(value.getType());
    Type f32 = b.getF32Type();
    SmallVector<int64_t> shape;
    SmallVector<ReassociationIndices> groups;
    switch (kind) {
    case MatmulEpilogue::OperandKind::Column:
      shape = {n};
      groups.resize(1);
      for (int64_t i = 0; i < type.getRank(); ++i)
        groups[0].push_back(i);
      break;
    case MatmulEpilogue::OperandKind::Matrix:
      shape = {m, n};
      groups.resize(2);
      for (int64_t i = 0; i + 1 < type.getRank(); ++i)
        groups[0].push_back(i);
      groups[1].push_back(type.getRank() - 1);
      break;
    case MatmulEpilogue::OperandKind::Scalar:
      break;
    }
    auto target = RankedTensorType::get(shape, f32);
    if (type != target) {
      if (kind == MatmulEpilogue::OperandKind::Matrix && type.getRank() == 1)
        value = tensor::ExpandShapeOp::create(
            b, target, value, ArrayRef<ReassociationIndices>{{0, 1}});
      else
        value = tensor::CollapseShapeOp::create(b, target, value, groups);
    }
    return bufferization::ToBufferOp::create(b, MemRefType::get(shape, f32),
                                             value, /*read_only=*/true);
  }

  /// The weights as a constant, 64-byte aligned memref.global (one per
  /// constant op).
  Value weightGlobal(ConstantOp weights, PackedType type,
                     ImplicitLocOpBuilder &b) {
    ModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    auto memrefType =
        MemRefType::get({type.getSizeInBytes()}, IntegerType::get(ctx, 8));
    auto found = globals.find(weights.getOperation());
    std::string globalName;
    if (found != globals.end()) {
      globalName = found->second;
    } else {
      globalName = "__qc_weights_" + std::to_string(globals.size());
      while (module.lookupSymbol(globalName))
        globalName += "_";
      OpBuilder moduleBuilder(ctx);
      moduleBuilder.setInsertionPointToStart(module.getBody());
      auto elements = cast<ElementsAttr>(weights.getValue());
      memref::GlobalOp::create(
          moduleBuilder, weights.getLoc(), StringAttr::get(ctx, globalName),
          StringAttr::get(ctx, "private"), TypeAttr::get(memrefType), elements,
          UnitAttr::get(ctx), moduleBuilder.getI64IntegerAttr(64));
      globals[weights.getOperation()] = globalName;
    }
    return memref::GetGlobalOp::create(b, memrefType, globalName);
  }

  /// Weight ops whose last user may have gone; erased between the phases (not
  /// earlier: the maps below are keyed by their addresses).
  void eraseDeadConstants() {
    for (Operation *weights : maybeDead)
      if (weights->use_empty())
        weights->erase();
    maybeDead.clear();
    repacked.clear();
  }

  CpuTarget cpuTarget;
  std::map<std::pair<Operation *, std::string>, ConstantOp> repacked;
  llvm::DenseMap<Operation *, std::string> globals;
  llvm::SetVector<Operation *> maybeDead;
};

} // namespace
