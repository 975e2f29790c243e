//===- LowerGpu.cpp - qc-lower-gpu ----------------------------------------===//
//
// Replaces qc.matmul with a launch of a kernel generated for its shapes and
// weight format (Kernels.h), on host memrefs of the activations and of the
// packed weight bytes. The kernels go into one gpu.module @qc_kernels that
// targets the chosen chip.
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"

#include "qc/QcDialect.h"
#include "quantc/Conversion/GpuPipelines.h"
#include "quantc/Conversion/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace quantc {
#define GEN_PASS_DEF_QCLOWERGPU
#include "quantc/Conversion/Passes.h.inc"
} // namespace quantc

using namespace mlir;
using namespace quantc::gpukernels;

namespace {

constexpr llvm::StringLiteral kKernelModuleName = "qc_kernels";

/// The problem of `op`, or an explanation of why the GPU kernels do not take it.
std::optional<MatmulProblem> describeMatmul(qc::MatmulOp op, std::string &why) {
  auto inputType = cast<RankedTensorType>(op.getInput().getType());
  auto resultType = cast<RankedTensorType>(op.getType());
  auto weightType = cast<qc::PackedType>(op.getWeight().getType());
  if (op.getAct()) {
    why = "quantized activations (act) are not implemented on the GPU";
    return std::nullopt;
  }
  if (weightType.getLayoutName() != "canonical") {
    why = "the GPU kernels read the canonical packed layout only";
    return std::nullopt;
  }
  if (!inputType.hasStaticShape() || weightType.getShape().size() != 2) {
    why = "dynamic shapes are not supported";
    return std::nullopt;
  }
  MatmulProblem problem;
  problem.n = weightType.getShape()[0];
  problem.k = weightType.getShape()[1];
  problem.m = inputType.getNumElements() / problem.k;
  problem.format = weightType.getFormat().getValue();
  problem.inputElementType = inputType.getElementType();
  problem.resultElementType = resultType.getElementType();
  problem.weightBytes = weightType.getStorageType().getDimSize(0);
  why = PackedWeightReader::whyUnsupported(problem);
  if (!why.empty())
    return std::nullopt;
  return problem;
}

/// [..., K] -> [M, K] (and back for results), as the reference lowering does.
Value toMatrix(ImplicitLocOpBuilder &b, Value value, int64_t rows,
               int64_t cols) {
  auto type = cast<RankedTensorType>(value.getType());
  auto matrixType = RankedTensorType::get({rows, cols}, type.getElementType());
  if (type.getRank() == 2)
    return value;
  if (type.getRank() == 1)
    return tensor::ExpandShapeOp::create(b, matrixType, value,
                                         ArrayRef<ReassociationIndices>{{0, 1}});
  SmallVector<ReassociationIndices> groups(2);
  for (int64_t i = 0; i + 1 < type.getRank(); ++i)
    groups[0].push_back(i);
  groups[1].push_back(type.getRank() - 1);
  return tensor::CollapseShapeOp::create(b, matrixType, value, groups);
}

Value fromMatrix(ImplicitLocOpBuilder &b, Value matrix,
                 RankedTensorType resultType) {
  if (resultType.getRank() == 2)
    return matrix;
  if (resultType.getRank() == 1)
    return tensor::CollapseShapeOp::create(
        b, resultType, matrix, ArrayRef<ReassociationIndices>{{0, 1}});
  SmallVector<ReassociationIndices> groups(2);
  for (int64_t i = 0; i + 1 < resultType.getRank(); ++i)
    groups[0].push_back(i);
  groups[1].push_back(resultType.getRank() - 1);
  return tensor::ExpandShapeOp::create(b, resultType, matrix, groups);
}

struct QcLowerGpuPass : quantc::impl::QcLowerGpuBase<QcLowerGpuPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    std::optional<std::string> features = quantc::ptxFeaturesForChip(chip);
    if (!features) {
      module.emitError() << "qc-lower-gpu: unknown chip '" << chip
                         << "' (supported: "
                         << llvm::join(quantc::supportedGpuChips(), ", ")
                         << ")";
      return signalPassFailure();
    }

    SmallVector<std::pair<qc::MatmulOp, MatmulProblem>> work;
    module.walk([&](qc::MatmulOp op) {
      std::string why;
      if (std::optional<MatmulProblem> problem = describeMatmul(op, why))
        work.push_back({op, *problem});
      else
        op.emitRemark() << "qc-lower-gpu: left for the CPU lowering: " << why;
    });
    if (work.empty())
      return;

    module->setAttr(mlir::gpu::GPUDialect::getContainerModuleAttrName(),
                    UnitAttr::get(ctx));
    auto kernels = module.lookupSymbol<mlir::gpu::GPUModuleOp>(kKernelModuleName);
    if (!kernels) {
      OpBuilder builder = OpBuilder::atBlockEnd(module.getBody());
      auto target = NVVM::NVVMTargetAttr::get(ctx, /*optLevel=*/3,
                                              "nvptx64-nvidia-cuda", chip,
                                              *features);
      kernels = mlir::gpu::GPUModuleOp::create(
          builder, module.getLoc(), kKernelModuleName,
          builder.getArrayAttr({target}));
    }
    SymbolTable kernelSymbols(kernels);

    for (auto &[op, problem] : work) {
      OpBuilder kernelBuilder = OpBuilder::atBlockEnd(kernels.getBody());
      LaunchShape launch;
      mlir::gpu::GPUFuncOp kernel;
      Location loc = op.getLoc();
      if (problem.m <= gemvMaxRows && gemvApplies(problem))
        kernel = emitGemvKernel(kernelBuilder, loc, "qc_gemv", problem, launch);
      else if (tensorCores && problem.m > gemvMaxRows &&
               mmaSyncGemmApplies(problem))
        kernel = emitMmaSyncGemmKernel(kernelBuilder, loc, "qc_mma_gemm",
                                       problem, launch);
      else
        kernel = emitSimtMatmulKernel(kernelBuilder, loc, "qc_simt_matmul",
                                      problem, launch);
      // Unique names: qc_gemv, qc_gemv_0, ...
      kernelSymbols.insert(kernel);

      OpBuilder builder(op);
      ImplicitLocOpBuilder b(loc, builder);
      auto constant = [&](int64_t v) {
        return arith::ConstantIndexOp::create(b, v).getResult();
      };
      Value x = toMatrix(b, op.getInput(), problem.m, problem.k);
      Value xBuffer = bufferization::ToBufferOp::create(
          b, inputMemRefType(problem), x, /*read_only=*/true);
      auto weightType = cast<qc::PackedType>(op.getWeight().getType());
      // The packed value as its bytes; qc-expand-formats later gives the
      // weights this very type, and the cast pair folds away.
      Value bytes = UnrealizedConversionCastOp::create(
                        b, TypeRange{weightType.getStorageType()},
                        ValueRange{op.getWeight()})
                        .getResult(0);
      Value weightBuffer = bufferization::ToBufferOp::create(
          b, weightMemRefType(problem), bytes, /*read_only=*/true);
      Value yBuffer = memref::AllocOp::create(b, resultMemRefType(problem),
                                              b.getI64IntegerAttr(64));
      auto launchOp = mlir::gpu::LaunchFuncOp::create(
          b, kernel,
          mlir::gpu::KernelDim3{constant(launch.grid[0]),
                                constant(launch.grid[1]),
                                constant(launch.grid[2])},
          mlir::gpu::KernelDim3{constant(launch.block[0]),
                                constant(launch.block[1]),
                                constant(launch.block[2])},
          /*dynamicSharedMemorySize=*/Value(),
          ValueRange{xBuffer, weightBuffer, yBuffer});
      // How quantc-stage-gpu-buffers copies each operand once the kernel is
      // PTX and its argument attributes are gone.
      launchOp->setAttr("qc.operand_access",
                        b.getStrArrayAttr({"in", "in", "out"}));
      Value y = bufferization::ToTensorOp::create(
          b, RankedTensorType::get({problem.m, problem.n},
                                   problem.resultElementType),
          yBuffer, /*restrict=*/true, /*writable=*/true);
      op.replaceAllUsesWith(
          fromMatrix(b, y, cast<RankedTensorType>(op.getType())));
      op.erase();
    }
  }
};

} // namespace
