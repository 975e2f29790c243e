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
#include "quantc/Conversion/GpuChips.h"
#include "quantc/Conversion/GpuPipelines.h"
#include "quantc/Conversion/Passes.h"
#include "quantc/Formats/Layout.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
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
  if (std::optional<qc::FormatAttr> act = op.getAct()) {
    const quantc::Format &format = act->getValue();
    why = whyActUnsupported(format, inputType.getRank(), problem.m, problem.k);
    if (!why.empty())
      return std::nullopt;
    std::string error;
    std::optional<int64_t> bytes =
        quantc::packedSizeInBytes({problem.m, problem.k}, format, error);
    if (!bytes) {
      why = "the act format does not fit the activations: " + error;
      return std::nullopt;
    }
    problem.act = format;
    problem.actBytes = *bytes;
  }
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

/// Whether `problem` runs the sm_100a tcgen05 GEMM on `chip` (which then
/// reads weights known at compile time in nv_sf128x4).
bool usesTcgen05(StringRef chip, const MatmulProblem &problem,
                 int64_t gemvMaxRows, bool tensorCores) {
  return problem.act && tensorCores && chip == "sm_100a" &&
         problem.m > gemvMaxRows && tcgen05BlockScaleGemmApplies(problem);
}

/// Chooses and emits the kernel for `problem` on `chip` into `kernels`: the
/// one place that picks a kernel per chip. With `problem.act` set, only
/// kernels that read the packed activations (qc_quantize_act's bytes)
/// qualify, and null means the chip has none for these formats: the caller
/// then fake-quantizes x and asks again without `act`.
mlir::gpu::GPUFuncOp emitKernelForChip(OpBuilder &kernelBuilder, Location loc,
                                       StringRef chip,
                                       const MatmulProblem &problem,
                                       int64_t gemvMaxRows, bool tensorCores,
                                       bool wgmma, int64_t gemvRows,
                                       LaunchShape &launch) {
  if (problem.act) {
    // Native paths on packed activations, per chip.
    // sm_120a: the staged GEMM for M > gemvMaxRows and for the pairs the
    // small-M kernel lacks; the small-M kernel reads W once per 16 rows.
    if (tensorCores && chip == "sm_120a" && blockScaleGemmApplies(problem) &&
        (problem.m > gemvMaxRows || !blockScaleMmaApplies(problem)))
      return emitBlockScaleGemmKernel(kernelBuilder, loc, "qc_block_scale_gemm",
                                      problem, launch);
    if (tensorCores && chip == "sm_120a" && blockScaleMmaApplies(problem))
      return emitBlockScaleMmaKernel(kernelBuilder, loc, "qc_mma_block_scale",
                                     problem, launch);
    if (usesTcgen05(chip, problem, gemvMaxRows, tensorCores))
      return emitTcgen05BlockScaleGemmKernel(
          kernelBuilder, loc, "qc_tcgen05_block_scale_gemm", problem, launch);
    if (tensorCores && wgmma && chip == "sm_90a" && problem.m > gemvMaxRows &&
        wgmmaFp8GemmApplies(problem))
      return emitWgmmaFp8GemmKernel(kernelBuilder, loc, "qc_wgmma_fp8_gemm",
                                    problem, launch);
    return {};
  }
  if (problem.m <= gemvMaxRows && gemvApplies(problem))
    return emitGemvKernel(kernelBuilder, loc, "qc_gemv", problem, launch,
                          gemvRows);
  // Native paths per chip first; mma.sync (every chip has it) otherwise.
  if (tensorCores && wgmma && chip == "sm_90a" && problem.m > gemvMaxRows &&
      wgmmaGemmApplies(problem))
    return emitWgmmaGemmKernel(kernelBuilder, loc, "qc_wgmma_gemm", problem,
                               launch);
  if (tensorCores && problem.m > gemvMaxRows && mmaSyncGemmApplies(problem))
    return emitMmaSyncGemmKernel(kernelBuilder, loc, "qc_mma_gemm", problem,
                                 launch);
  return emitSimtMatmulKernel(kernelBuilder, loc, "qc_simt_matmul", problem,
                              launch);
}

/// Launches `kernel` (already in `kernels`) on `operands`, recording for
/// quantc-stage-gpu-buffers which way each is copied.
void launchKernel(ImplicitLocOpBuilder &lb, mlir::gpu::GPUModuleOp kernels,
                  mlir::gpu::GPUFuncOp kernel, const LaunchShape &launch,
                  ValueRange operands, ArrayRef<StringRef> access) {
  // Unique names: qc_gemv, qc_gemv_0, ...
  SymbolTable(kernels).insert(kernel);
  auto constant = [&](int64_t v) {
    return arith::ConstantIndexOp::create(lb, v).getResult();
  };
  Value sharedBytes;
  if (launch.dynamicSharedBytes)
    sharedBytes = arith::ConstantIntOp::create(lb, lb.getI32Type(),
                                               launch.dynamicSharedBytes);
  auto launchOp = mlir::gpu::LaunchFuncOp::create(
      lb, kernel,
      mlir::gpu::KernelDim3{constant(launch.grid[0]), constant(launch.grid[1]),
                            constant(launch.grid[2])},
      mlir::gpu::KernelDim3{constant(launch.block[0]),
                            constant(launch.block[1]),
                            constant(launch.block[2])},
      sharedBytes, operands);
  // How quantc-stage-gpu-buffers copies each operand once the kernel is PTX
  // and its argument attributes are gone.
  launchOp->setAttr("qc.operand_access", lb.getStrArrayAttr(access));
}

constexpr llvm::StringLiteral kSelectTarget = "quantc_cuda_select_target";

struct QcLowerGpuPass : quantc::impl::QcLowerGpuBase<QcLowerGpuPass> {
  using Base::Base;

  /// Weights known at compile time repacked into nv_sf128x4 (one constant
  /// per weights, shared by their matmuls) as a read-only buffer, or
  /// std::nullopt for weights only known at run time.
  llvm::DenseMap<Value, Value> nvConstants;
  std::optional<Value> nvScaleTileWeights(ImplicitLocOpBuilder &b,
                                          Value weights) {
    Operation *def = weights.getDefiningOp();
    if (!qc::isConstantQuantized(def))
      return std::nullopt;
    Value &constant = nvConstants[weights];
    if (!constant) {
      std::string error;
      std::optional<quantc::QuantizedTensor> tensor =
          qc::readConstantQuantized(def, error);
      if (!tensor)
        return std::nullopt;
      std::vector<uint8_t> bytes = quantc::packLayout(*tensor, "nv_sf128x4");
      if (bytes.empty())
        return std::nullopt;
      auto type = cast<qc::PackedType>(weights.getType());
      MLIRContext *ctx = b.getContext();
      auto nvType =
          qc::PackedType::get(ctx, type.getShape(), type.getFormat(),
                              StringAttr::get(ctx, "nv_sf128x4"));
      OpBuilder builder(def);
      builder.setInsertionPointAfter(def);
      constant = qc::ConstantOp::create(builder, def->getLoc(), nvType,
                                        qc::makeByteConstant(nvType, bytes));
    }
    auto nvType = cast<qc::PackedType>(constant.getType());
    Value bytes = UnrealizedConversionCastOp::create(
                      b, TypeRange{nvType.getStorageType()},
                      ValueRange{constant})
                      .getResult(0);
    return bufferization::ToBufferOp::create(
        b,
        MemRefType::get({nvType.getStorageType().getDimSize(0)},
                        b.getI8Type()),
        bytes, /*read_only=*/true);
  }

  void runOnOperation() override {
    nvConstants.clear();
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    SmallVector<std::string> chips;
    for (StringRef name : llvm::split(StringRef(chip), ',')) {
      name = name.trim();
      if (!quantc::ptxFeaturesForChip(name)) {
        module.emitError() << "qc-lower-gpu: unknown chip '" << name
                           << "' (supported: "
                           << llvm::join(quantc::supportedGpuChips(), ", ")
                           << ")";
        return signalPassFailure();
      }
      if (!llvm::is_contained(chips, name))
        chips.push_back(name.str());
    }
    const bool multiChip = chips.size() > 1;
    if (gemvRows < 0 || gemvRows > 128) {
      module.emitError() << "qc-lower-gpu: gemv-rows must be 0 (automatic) "
                            "or 1 to 128, got "
                         << static_cast<int64_t>(gemvRows);
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
    // One gpu.module per chip: @qc_kernels for a single chip,
    // @qc_kernels_<chip> for several.
    SmallVector<mlir::gpu::GPUModuleOp> kernelModules;
    for (const std::string &name : chips) {
      std::string symbol = kKernelModuleName.str();
      if (multiChip)
        symbol += "_" + name;
      auto kernels = module.lookupSymbol<mlir::gpu::GPUModuleOp>(symbol);
      if (!kernels) {
        OpBuilder builder = OpBuilder::atBlockEnd(module.getBody());
        auto target = NVVM::NVVMTargetAttr::get(
            ctx, /*optLevel=*/3, "nvptx64-nvidia-cuda", name,
            *quantc::ptxFeaturesForChip(name));
        kernels = mlir::gpu::GPUModuleOp::create(
            builder, module.getLoc(), symbol, builder.getArrayAttr({target}));
      }
      kernelModules.push_back(kernels);
    }
    // Several chips: the runtime says which one the device runs, by its
    // index in kGpuChips (quantc/Conversion/GpuChips.h).
    int32_t chipMask = 0;
    SmallVector<int64_t> chipIndices;
    for (const std::string &name : chips) {
      chipIndices.push_back(quantc::gpuChipIndex(name.c_str()));
      chipMask |= 1 << chipIndices.back();
    }
    if (multiChip && !module.lookupSymbol<func::FuncOp>(kSelectTarget)) {
      OpBuilder builder = OpBuilder::atBlockBegin(module.getBody());
      auto i32 = builder.getI32Type();
      auto decl = func::FuncOp::create(builder, module.getLoc(), kSelectTarget,
                                       builder.getFunctionType({i32}, {i32}));
      decl.setPrivate();
    }

    for (auto &item : work) {
      qc::MatmulOp op = item.first;
      const MatmulProblem &problem = item.second;
      Location loc = op.getLoc();
      OpBuilder builder(op);
      ImplicitLocOpBuilder b(loc, builder);
      Value x = toMatrix(b, op.getInput(), problem.m, problem.k);
      Value xBuffer = bufferization::ToBufferOp::create(
          b, MemRefType::get({problem.m, problem.k}, problem.inputElementType),
          x, /*read_only=*/true);
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
      // `act`: x quantized on the GPU into its packed layout, and for chips
      // without a kernel reading it, decoded back (fake quantization).
      std::optional<ActQuantProblem> act;
      Value actBuffer, fakeQuantBuffer, statsBuffer;
      if (problem.act) {
        act = ActQuantProblem{problem.m, problem.k, *problem.act,
                              problem.inputElementType, problem.actBytes};
        if (actNeedsTensorStats(*problem.act))
          statsBuffer = memref::AllocOp::create(
              b, actStatsMemRefType(b.getContext(), *act));
        actBuffer = memref::AllocOp::create(
            b, packedActMemRefType(b.getContext(), problem.actBytes),
            b.getI64IntegerAttr(64));
        // Used by the chips that fake-quantize (an unused one folds away).
        fakeQuantBuffer = memref::AllocOp::create(
            b, MemRefType::get({problem.m, problem.k},
                               problem.inputElementType),
            b.getI64IntegerAttr(64));
      }

      auto emitLaunch = [&](ImplicitLocOpBuilder &lb, size_t chipIndex) {
        mlir::gpu::GPUModuleOp kernels = kernelModules[chipIndex];
        OpBuilder kernelBuilder = OpBuilder::atBlockEnd(kernels.getBody());
        auto emitFor = [&](const MatmulProblem &p, LaunchShape &launch) {
          return emitKernelForChip(kernelBuilder, loc, chips[chipIndex], p,
                                   gemvMaxRows, tensorCores, wgmma, gemvRows,
                                   launch);
        };
        LaunchShape launch;
        if (!act) {
          mlir::gpu::GPUFuncOp kernel = emitFor(problem, launch);
          launchKernel(lb, kernels, kernel, launch,
                       {xBuffer, weightBuffer, yBuffer}, {"in", "in", "out"});
          return;
        }
        LaunchShape statsLaunch, quantizeLaunch;
        if (statsBuffer)
          launchKernel(lb, kernels,
                       emitActStatsKernel(kernelBuilder, loc, "qc_act_stats",
                                          *act, statsLaunch),
                       statsLaunch, {xBuffer, statsBuffer}, {"in", "out"});
        mlir::gpu::GPUFuncOp quantize = emitQuantizeActKernel(
            kernelBuilder, loc, "qc_quantize_act", *act, quantizeLaunch);
        if (statsBuffer)
          launchKernel(lb, kernels, quantize, quantizeLaunch,
                       {xBuffer, statsBuffer, actBuffer}, {"in", "in", "out"});
        else
          launchKernel(lb, kernels, quantize, quantizeLaunch,
                       {xBuffer, actBuffer}, {"in", "out"});
        // The tcgen05 GEMM copies 128 x 4 scale tiles whole when the
        // weights, known at compile time, are packed that way here.
        if (usesTcgen05(chips[chipIndex], problem, gemvMaxRows, tensorCores))
          if (std::optional<Value> nvWeights =
                  nvScaleTileWeights(lb, op.getWeight())) {
            MatmulProblem nvProblem = problem;
            nvProblem.nvScaleTiles = true;
            nvProblem.weightBytes =
                cast<MemRefType>(nvWeights->getType()).getDimSize(0);
            launchKernel(lb, kernels, emitFor(nvProblem, launch), launch,
                         {actBuffer, *nvWeights, yBuffer},
                         {"in", "in", "out"});
            return;
          }
        if (mlir::gpu::GPUFuncOp kernel = emitFor(problem, launch)) {
          launchKernel(lb, kernels, kernel, launch,
                       {actBuffer, weightBuffer, yBuffer}, {"in", "in", "out"});
          return;
        }
        LaunchShape dequantizeLaunch;
        launchKernel(lb, kernels,
                     emitDequantizeActKernel(kernelBuilder, loc,
                                             "qc_dequantize_act", *act,
                                             dequantizeLaunch),
                     dequantizeLaunch, {actBuffer, fakeQuantBuffer},
                     {"in", "out"});
        MatmulProblem floatProblem = problem;
        floatProblem.act.reset();
        floatProblem.actBytes = 0;
        launchKernel(lb, kernels, emitFor(floatProblem, launch), launch,
                     {fakeQuantBuffer, weightBuffer, yBuffer},
                     {"in", "in", "out"});
      };
      if (!multiChip) {
        emitLaunch(b, 0);
      } else {
        Value selected =
            func::CallOp::create(b, kSelectTarget, TypeRange{b.getI32Type()},
                                 ValueRange{arith::ConstantIntOp::create(
                                     b, b.getI32Type(), chipMask)})
                .getResult(0);
        Value index =
            arith::IndexCastOp::create(b, b.getIndexType(), selected);
        auto switchOp = scf::IndexSwitchOp::create(
            b, TypeRange{}, index, chipIndices, chipIndices.size());
        for (size_t i = 0; i < chips.size(); ++i) {
          Block &block = switchOp.getCaseRegions()[i].emplaceBlock();
          OpBuilder caseBuilder = OpBuilder::atBlockBegin(&block);
          ImplicitLocOpBuilder cb(loc, caseBuilder);
          emitLaunch(cb, i);
          scf::YieldOp::create(cb);
        }
        // No chip runs here: the runtime recorded why and fails the run.
        Block &fallback = switchOp.getDefaultRegion().emplaceBlock();
        OpBuilder fallbackBuilder = OpBuilder::atBlockBegin(&fallback);
        scf::YieldOp::create(fallbackBuilder, loc);
      }
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
