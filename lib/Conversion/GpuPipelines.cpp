//===- GpuPipelines.cpp - Lowering to NVIDIA GPUs -------------------------===//
//
// Only the GPU-side dialects, passes and translations are registered here,
// on top of the CPU ones (Pipelines.cpp); see GpuPipelines.h for the flow.
//
//===----------------------------------------------------------------------===//

#include "quantc/Conversion/GpuPipelines.h"
#include "quantc/Conversion/GpuChips.h"
#include "quantc/Conversion/Passes.h"
#include "quantc/Conversion/Pipelines.h"
#include "quantc/Transforms/FormatCodegen.h"

#include "mlir/Conversion/GPUCommon/GPUCommonPass.h"
#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/GPUToNVVM/GPUToNVVMPass.h"
#include "mlir/Conversion/NVVMToLLVM/NVVMToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVM/NVVM/Target.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "mlir/Transforms/Passes.h"
#include "mlir/Transforms/RegionUtils.h"

using namespace mlir;

namespace quantc {

namespace {
/// gpu.launch_func declares no memory effects, which the CPU pipeline's
/// ownership-based buffer deallocation refuses ("ops with unknown memory side
/// effects are not supported"). A launch of a quantc kernel reads and writes
/// nothing but its memref operands, so say so.
struct LaunchFuncMemoryEffects
    : public MemoryEffectOpInterface::ExternalModel<LaunchFuncMemoryEffects,
                                                    mlir::gpu::LaunchFuncOp> {
  void getEffects(
      Operation *op,
      SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
          &effects) const {
    for (OpOperand &operand : op->getOpOperands()) {
      if (!isa<MemRefType>(operand.get().getType()))
        continue;
      effects.emplace_back(MemoryEffects::Read::get(), &operand,
                           SideEffects::DefaultResource::get());
      effects.emplace_back(MemoryEffects::Write::get(), &operand,
                           SideEffects::DefaultResource::get());
    }
  }
};

/// The format library's element type rounding like arith.truncf to `type`
/// (RNE, saturating to the largest finite value), for the OCP minifloats.
std::optional<ElementType> ocpElementType(Type type) {
  ElementType e;
  if (isa<Float4E2M1FNType>(type))
    e = ElementType::minifloat(2, 1);
  else if (isa<Float6E2M3FNType>(type))
    e = ElementType::minifloat(2, 3);
  else if (isa<Float6E3M2FNType>(type))
    e = ElementType::minifloat(3, 2);
  else if (isa<Float8E4M3FNType>(type))
    e = ElementType::minifloat(4, 3);
  else if (isa<Float8E5M2Type>(type))
    e = ElementType::minifloat(5, 2);
  else
    return std::nullopt;
  e.saturate = true;
  return e;
}

/// arith.truncf from f32 to f4E2M1FN / f6E2M3FN / f6E3M2FN / f8E4M3FN /
/// f8E5M2, which convert-gpu-to-nvvm leaves alone: cvt.rn.satfinite (PTX ISA
/// 9.7.9.21 "cvt": e4m3x2/e5m2x2 from sm_89, e2m1x2/e2m3x2/e3m2x2 on
/// sm_100a/sm_120a) through nvvm.convert.f32x2.to.f{8,6,4}x2 where the chip
/// has it, else the format library's integer arithmetic (emitEncodeElement).
/// Both round to nearest even and saturate out-of-range values (Inf
/// included) to the largest finite value: for finite inputs within the
/// type's range this is arith.truncf; beyond it, the quantizers' behaviour
/// (arith.truncf would give NaN/Inf there).
struct NarrowTruncfToNvvm : OpRewritePattern<arith::TruncFOp> {
  NarrowTruncfToNvvm(MLIRContext *ctx, bool hasF8Convert, bool hasF6F4Convert)
      : OpRewritePattern(ctx), hasF8Convert(hasF8Convert),
        hasF6F4Convert(hasF6F4Convert) {}
  bool hasF8Convert, hasF6F4Convert;

  LogicalResult matchAndRewrite(arith::TruncFOp op,
                                PatternRewriter &rewriter) const override {
    Type type = op.getType();
    std::optional<ElementType> element = ocpElementType(type);
    if (!element || !op.getIn().getType().isF32())
      return failure();
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    const int bits = element->bits;
    Type i16 = b.getI16Type(), i8 = b.getI8Type();
    Value x = op.getIn(), code;
    // The x2 converts put the conversion of their second operand in the
    // low bits.
    if (bits == 8 && hasF8Convert) {
      code = NVVM::ConvertF32x2ToF8x2Op::create(
          b, i16, x, x, NVVM::FPRoundingMode::RN,
          NVVM::SaturationMode::SATFINITE, /*relu=*/false, type);
    } else if (bits == 6 && hasF6F4Convert) {
      code = NVVM::ConvertF32x2ToF6x2Op::create(b, i16, x, x,
                                                /*relu=*/false, type);
    } else if (bits == 4 && hasF6F4Convert) {
      code = NVVM::ConvertF32x2ToF4x2Op::create(b, i8, x, x,
                                                /*relu=*/false, type);
    } else {
      Emitter em(b);
      code = emitEncodeElement(em, x, describeElement(*element));
    }
    Value narrow = arith::TruncIOp::create(b, b.getIntegerType(bits), code);
    rewriter.replaceOpWithNewOp<arith::BitcastOp>(op, type, narrow);
    return success();
  }
};

/// f32 math convert-gpu-to-nvvm would turn into libdevice calls (__nv_fabsf,
/// __nv_rintf, __nv_fmaxf, __nv_fminf; it also rewrites the llvm.intr ops
/// of these), which quantc does not link (PTX from LLVM's NVPTX back end
/// alone): llvm.call_intrinsic of the LLVM intrinsics instead, which NVPTX
/// selects to abs.f32, cvt.rni.f32.f32, max.f32 and min.f32 (the same
/// results: maxnum/minnum return the non-NaN operand, as max/min.f32 do).
template <typename SourceOp>
struct MathToIntrinsic : OpRewritePattern<SourceOp> {
  MathToIntrinsic(MLIRContext *ctx, StringRef intrinsic)
      : OpRewritePattern<SourceOp>(ctx), intrinsic(intrinsic) {}
  std::string intrinsic;
  LogicalResult matchAndRewrite(SourceOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.getType().isF32())
      return failure();
    rewriter.replaceOpWithNewOp<LLVM::CallIntrinsicOp>(
        op, op.getType(), rewriter.getStringAttr(intrinsic),
        op->getOperands());
    return success();
  }
};

/// quantc-gpu-lower-format-math: NarrowTruncfToNvvm (for the chip on the
/// gpu.module's #nvvm.target) and MathToIntrinsic in every gpu.module.
struct LowerNarrowTruncfPass
    : PassWrapper<LowerNarrowTruncfPass,
                  OperationPass<mlir::gpu::GPUModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(LowerNarrowTruncfPass)
  StringRef getArgument() const override {
    return "quantc-gpu-lower-format-math";
  }
  StringRef getDescription() const override {
    return "Lower arith.truncf from f32 to f4E2M1FN/f6E2M3FN/f6E3M2FN/"
           "f8E4M3FN/f8E5M2 in gpu.modules to cvt.rn.satfinite (nvvm.convert) "
           "where the target chip has it, else to integer arithmetic; f32 "
           "absf/roundeven/maxnumf/minnumf to LLVM intrinsics (no libdevice)";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<NVVM::NVVMDialect, arith::ArithDialect,
                    math::MathDialect, LLVM::LLVMDialect>();
  }
  void runOnOperation() override {
    mlir::gpu::GPUModuleOp module = getOperation();
    int sm = 0;
    if (ArrayAttr targets = module.getTargetsAttr())
      for (Attribute target : targets)
        if (auto nvvm = dyn_cast<NVVM::NVVMTargetAttr>(target)) {
          StringRef chip = nvvm.getChip();
          if (chip.consume_front("sm_"))
            (void)chip.take_while(llvm::isDigit).getAsInteger(10, sm);
        }
    // cvt.rn.satfinite.{e4m3x2,e5m2x2}.f32: sm_89 and later; the f6/f4
    // forms: sm_100a and sm_120a (arch-specific chips, as quantc emits).
    RewritePatternSet patterns(&getContext());
    patterns.add<NarrowTruncfToNvvm>(&getContext(), sm >= 89,
                                     sm == 100 || sm == 120);
    patterns.add<MathToIntrinsic<math::AbsFOp>>(&getContext(), "llvm.fabs.f32");
    patterns.add<MathToIntrinsic<math::RoundEvenOp>>(&getContext(),
                                                     "llvm.roundeven.f32");
    patterns.add<MathToIntrinsic<arith::MaxNumFOp>>(&getContext(),
                                                    "llvm.maxnum.f32");
    patterns.add<MathToIntrinsic<arith::MinNumFOp>>(&getContext(),
                                                    "llvm.minnum.f32");
    // The float graph's math (quantc-graph-to-gpu kernels): functions as
    // polynomials (exp, log, erf, tanh, ...; pow and the hyperbolic ones
    // through exp/log first), the rest as intrinsics NVPTX selects
    // (sqrt.rn.f32, fma.rn.f32, cvt.rmi/rpi/rzi.f32.f32, copysign).
    math::populateExpansionPatterns(
        patterns, {"sinh", "cosh", "asinh", "acosh", "atanh", "powf", "fpowi",
                   "rsqrt", "exp2"});
    populateMathPolynomialApproximationPatterns(
        patterns, [](StringRef name) {
          name.consume_front("math.");
          return llvm::is_contained({"exp", "expm1", "log", "log1p", "log2",
                                     "tanh", "erf", "erfc", "atan", "atan2",
                                     "sin", "cos", "asin", "acos", "cbrt"},
                                    name);
        });
    patterns.add<MathToIntrinsic<math::SqrtOp>>(&getContext(), "llvm.sqrt.f32");
    patterns.add<MathToIntrinsic<math::FmaOp>>(&getContext(), "llvm.fma.f32");
    patterns.add<MathToIntrinsic<math::FloorOp>>(&getContext(),
                                                 "llvm.floor.f32");
    patterns.add<MathToIntrinsic<math::CeilOp>>(&getContext(), "llvm.ceil.f32");
    patterns.add<MathToIntrinsic<math::TruncOp>>(&getContext(),
                                                 "llvm.trunc.f32");
    patterns.add<MathToIntrinsic<math::CopySignOp>>(&getContext(),
                                                    "llvm.copysign.f32");
    // The codes' users bitcast back to integers: fold those pairs away.
    arith::BitcastOp::getCanonicalizationPatterns(patterns, &getContext());
    if (failed(applyPatternsGreedily(module, std::move(patterns))))
      return signalPassFailure();
  }
};


/// quantc-test-gpu-kernels-on-host (tests only): every gpu.launch_func of a
/// kernel without shuffles (barriers only at its top level) becomes a call of
/// a host function running the kernel body for each (block, thread) in turn
/// (phase by phase between barriers; shared memory is a host buffer per
/// block),
/// its f4/f6/f8 truncf in the format library's integer rounding; the
/// gpu.modules go away. The CPU pipeline then runs a kernel's exact
/// arithmetic (not its PTX), so lit can check it against the format library
/// on a machine without a GPU.
struct GpuKernelsOnHostPass
    : PassWrapper<GpuKernelsOnHostPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(GpuKernelsOnHostPass)
  StringRef getArgument() const override {
    return "quantc-test-gpu-kernels-on-host";
  }
  StringRef getDescription() const override {
    return "Tests only: run gpu.launch_func kernels (no shuffles, barriers "
           "at the top level only) as host loops over blocks and threads";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<func::FuncDialect, scf::SCFDialect, arith::ArithDialect,
                    math::MathDialect, memref::MemRefDialect>();
  }

  FailureOr<func::FuncOp> hostFunction(ModuleOp module,
                                       mlir::gpu::GPUFuncOp kernel,
                                       std::array<int64_t, 3> grid,
                                       std::array<int64_t, 3> block,
                                       StringRef name) {
    // Phases: the kernel's top-level ops split at its top-level barriers.
    // Every thread of a block runs a phase before any runs the next; a
    // later phase recomputes the earlier phases' side-effect-free ops it
    // needs (thread indices, constants) instead of carrying them over.
    SmallVector<SmallVector<Operation *>> phases(1);
    for (Operation &op : kernel.getBody().front().without_terminator()) {
      if (isa<mlir::gpu::BarrierOp>(op))
        phases.emplace_back();
      else
        phases.back().push_back(&op);
    }
    WalkResult unsupported = kernel.walk([&](Operation *op) {
      bool nested = op->getParentOp() != kernel;
      if (isa<mlir::gpu::ShuffleOp>(op) ||
          (nested && isa<mlir::gpu::BarrierOp, mlir::gpu::ThreadIdOp,
                         mlir::gpu::BlockIdOp, mlir::gpu::BlockDimOp,
                         mlir::gpu::GridDimOp>(op)))
        return WalkResult::interrupt();
      return WalkResult::advance();
    });
    if (unsupported.wasInterrupted() || kernel.getBody().getBlocks().size() != 1)
      return kernel.emitError("quantc-test-gpu-kernels-on-host: kernel '")
             << kernel.getName()
             << "' shuffles, or synchronizes below its top level";
    OpBuilder builder = OpBuilder::atBlockEnd(module.getBody());
    Location loc = kernel.getLoc();
    auto func = func::FuncOp::create(
        builder, loc, name,
        builder.getFunctionType(kernel.getArgumentTypes(), {}));
    func.setPrivate();
    Block *entry = func.addEntryBlock();
    builder.setInsertionPointToStart(entry);
    auto c = [&](int64_t v) {
      return arith::ConstantIndexOp::create(builder, loc, v).getResult();
    };
    // Blocks bz, by, bx (outermost first), each with its shared memory.
    SmallVector<Value> blockIds(3);
    for (int d = 2; d >= 0; --d) {
      auto loop = scf::ForOp::create(builder, loc, c(0), c(grid[d]), c(1));
      blockIds[d] = loop.getInductionVar();
      builder.setInsertionPoint(loop.getBody()->getTerminator());
    }
    IRMapping shared;
    for (auto [from, to] :
         llvm::zip(kernel.getArguments(), func.getArguments()))
      shared.map(from, to);
    for (BlockArgument buffer : kernel.getWorkgroupAttributions()) {
      auto type = cast<MemRefType>(buffer.getType());
      shared.map(buffer, memref::AllocaOp::create(
                             builder, loc,
                             MemRefType::get(type.getShape(),
                                             type.getElementType())));
    }
    OpBuilder::InsertPoint afterBlockLoops = builder.saveInsertionPoint();
    for (size_t phase = 0; phase < phases.size(); ++phase) {
      builder.restoreInsertionPoint(afterBlockLoops);
      SmallVector<Value> threadIds(3);
      for (int d = 2; d >= 0; --d) {
        auto loop = scf::ForOp::create(builder, loc, c(0), c(block[d]), c(1));
        threadIds[d] = loop.getInductionVar();
        builder.setInsertionPoint(loop.getBody()->getTerminator());
      }
      IRMapping mapping = shared;
      auto dim = [](mlir::gpu::Dimension d) { return int(d); };
      auto cloneOp = [&](Operation *op) {
        if (auto id = dyn_cast<mlir::gpu::ThreadIdOp>(op))
          mapping.map(id.getResult(), threadIds[dim(id.getDimension())]);
        else if (auto id = dyn_cast<mlir::gpu::BlockIdOp>(op))
          mapping.map(id.getResult(), blockIds[dim(id.getDimension())]);
        else if (auto id = dyn_cast<mlir::gpu::BlockDimOp>(op))
          mapping.map(id.getResult(), c(block[dim(id.getDimension())]));
        else if (auto id = dyn_cast<mlir::gpu::GridDimOp>(op))
          mapping.map(id.getResult(), c(grid[dim(id.getDimension())]));
        else
          builder.clone(*op, mapping);
      };
      // An earlier phase's side-effect-free op is recomputed only where its
      // operands are (not, e.g., one that reads a loop's statistics).
      auto available = [&](Operation *op) {
        auto mapped = [&](Value v) { return mapping.contains(v); };
        llvm::SetVector<Value> above;
        getUsedValuesDefinedAbove(op->getRegions(), above);
        return llvm::all_of(op->getOperands(), mapped) &&
               llvm::all_of(above, mapped);
      };
      for (size_t earlier = 0; earlier < phase; ++earlier)
        for (Operation *op : phases[earlier])
          if (isMemoryEffectFree(op) && available(op))
            cloneOp(op);
      for (Operation *op : phases[phase])
        cloneOp(op);
    }
    builder.setInsertionPointToEnd(entry);
    func::ReturnOp::create(builder, loc);
    return func;
  }

  /// Device buffers are host buffers: gpu.alloc/memcpy/dealloc become
  /// memref.alloc/copy/dealloc, the runtime's device copy of a constant is
  /// the constant, launches are synchronous, and the stream (tokens, waits)
  /// goes away.
  LogicalResult streamOpsOnHost(ModuleOp module) {
    SmallVector<Operation *> ops;
    WalkResult multiChip = module.walk([&](Operation *op) {
      if (isa<mlir::gpu::WaitOp, mlir::gpu::AllocOp, mlir::gpu::MemcpyOp,
              mlir::gpu::DeallocOp>(op))
        ops.push_back(op);
      else if (auto launch = dyn_cast<mlir::gpu::LaunchFuncOp>(op))
        if (launch.getAsyncToken() || !launch.getAsyncDependencies().empty())
          ops.push_back(op);
      // Multi-chip code picks its launches at run time
      // (quantc_cuda_select_target), which the host emulation has not.
      if (auto select = dyn_cast<scf::IndexSwitchOp>(op)) {
        bool launches = false;
        select.walk([&](mlir::gpu::LaunchFuncOp) { launches = true; });
        if (launches) {
          select.emitError("quantc-test-gpu-kernels-on-host: one chip only");
          return WalkResult::interrupt();
        }
      }
      if (auto call = dyn_cast<func::CallOp>(op))
        if (call.getCallee() == "quantc_cuda_device_constant")
          ops.push_back(op);
      return WalkResult::advance();
    });
    if (multiChip.wasInterrupted())
      return failure();
    for (Operation *op : ops) {
      OpBuilder b(op);
      Location loc = op->getLoc();
      if (auto alloc = dyn_cast<mlir::gpu::AllocOp>(op)) {
        alloc.getMemref().replaceAllUsesWith(memref::AllocOp::create(
            b, loc, alloc.getMemref().getType(), b.getI64IntegerAttr(64)));
      } else if (auto copy = dyn_cast<mlir::gpu::MemcpyOp>(op)) {
        memref::CopyOp::create(b, loc, copy.getSrc(), copy.getDst());
      } else if (auto dealloc = dyn_cast<mlir::gpu::DeallocOp>(op)) {
        memref::DeallocOp::create(b, loc, dealloc.getMemref());
      } else if (auto launch = dyn_cast<mlir::gpu::LaunchFuncOp>(op)) {
        auto sync = mlir::gpu::LaunchFuncOp::create(
            b, loc, launch.getKernelAttr(), launch.getGridSizeOperandValues(),
            launch.getBlockSizeOperandValues(),
            launch.getDynamicSharedMemorySize(), launch.getKernelOperands(),
            Type(), ValueRange{});
        sync->setDiscardableAttrs(launch->getDiscardableAttrDictionary());
      } else if (auto call = dyn_cast<func::CallOp>(op)) {
        call.getResult(0).replaceAllUsesWith(call.getOperand(0));
      }
    }
    // Users first: a token's users come after it.
    for (Operation *op : llvm::reverse(ops)) {
      for (Value result : op->getResults())
        if (!result.use_empty())
          return op->emitError("quantc-test-gpu-kernels-on-host: a stream "
                               "token is used outside the stream ops");
      op->erase();
    }
    if (auto decl =
            module.lookupSymbol<func::FuncOp>("quantc_cuda_device_constant"))
      if (SymbolTable::symbolKnownUseEmpty(decl, module))
        decl.erase();
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    // The narrow truncf in integer arithmetic, as on a chip without cvt.
    RewritePatternSet patterns(ctx);
    patterns.add<NarrowTruncfToNvvm>(ctx, false, false);
    arith::BitcastOp::getCanonicalizationPatterns(patterns, ctx);
    FrozenRewritePatternSet frozen(std::move(patterns));
    for (auto kernels : module.getOps<mlir::gpu::GPUModuleOp>())
      if (failed(applyPatternsGreedily(kernels, frozen)))
        return signalPassFailure();

    if (failed(streamOpsOnHost(module)))
      return signalPassFailure();
    SmallVector<mlir::gpu::LaunchFuncOp> launches;
    module.walk([&](mlir::gpu::LaunchFuncOp op) { launches.push_back(op); });
    llvm::StringMap<func::FuncOp> made;
    for (mlir::gpu::LaunchFuncOp launch : launches) {
      auto kernel = SymbolTable::lookupNearestSymbolFrom<mlir::gpu::GPUFuncOp>(
          launch, launch.getKernel());
      std::array<int64_t, 3> grid, block;
      Value gridValues[3] = {launch.getGridSizeX(), launch.getGridSizeY(),
                             launch.getGridSizeZ()};
      Value blockValues[3] = {launch.getBlockSizeX(), launch.getBlockSizeY(),
                              launch.getBlockSizeZ()};
      for (int d = 0; d < 3; ++d) {
        std::optional<int64_t> g = getConstantIntValue(gridValues[d]);
        std::optional<int64_t> t = getConstantIntValue(blockValues[d]);
        if (!kernel || !g || !t) {
          launch.emitError("quantc-test-gpu-kernels-on-host: the launch needs "
                           "a known kernel and constant sizes");
          return signalPassFailure();
        }
        grid[d] = *g;
        block[d] = *t;
      }
      std::string name = (launch.getKernelModuleName().getValue() + "_" +
                          launch.getKernelName().getValue() + "_host")
                             .str();
      auto it = made.find(name);
      if (it == made.end()) {
        FailureOr<func::FuncOp> func =
            hostFunction(module, kernel, grid, block, name);
        if (failed(func))
          return signalPassFailure();
        it = made.try_emplace(name, *func).first;
      }
      OpBuilder builder(launch);
      func::CallOp::create(builder, launch.getLoc(), it->second,
                           launch.getKernelOperands());
      launch.erase();
    }
    for (auto kernels :
         llvm::make_early_inc_range(module.getOps<mlir::gpu::GPUModuleOp>()))
      kernels.erase();
    module->removeAttr(mlir::gpu::GPUDialect::getContainerModuleAttrName());
  }
};

} // namespace

std::vector<std::string> supportedGpuChips() {
  std::vector<std::string> chips;
  for (const GpuChip &info : kGpuChips)
    chips.push_back(info.name);
  return chips;
}

std::optional<std::string> ptxFeaturesForChip(llvm::StringRef chip) {
  for (const GpuChip &info : kGpuChips)
    if (chip == info.name)
      return std::string(info.ptxFeatures);
  return std::nullopt;
}

std::optional<std::string> chipForComputeCapability(int major, int minor) {
  (void)minor;
  switch (major) {
  case 8:
    return std::string("sm_80");
  case 9:
    return std::string("sm_90a");
  case 10:
    return std::string("sm_100a");
  case 12:
    return std::string("sm_120a");
  default:
    return std::nullopt;
  }
}

void registerQuantcGpuDialects(DialectRegistry &registry) {
  registry.insert<mlir::gpu::GPUDialect, NVVM::NVVMDialect>();
  NVVM::registerNVVMTargetInterfaceExternalModels(registry);
  registerGPUDialectTranslation(registry);
  // gpu.binary's default handler (#gpu.select_object): embeds the object and
  // lowers gpu.launch_func to mgpu* calls when translating to LLVM IR.
  mlir::gpu::registerOffloadingLLVMTranslationInterfaceExternalModels(registry);
  registerNVVMDialectTranslation(registry);
  registry.addExtension(+[](MLIRContext *ctx, mlir::gpu::GPUDialect *) {
    mlir::gpu::LaunchFuncOp::attachInterface<LaunchFuncMemoryEffects>(*ctx);
  });
}

void buildGpuToPtxPipeline(OpPassManager &pm, llvm::StringRef chip) {
  (void)chip; // the chip is on each gpu.module's #nvvm.target
  OpPassManager &kernels = pm.nest<mlir::gpu::GPUModuleOp>();
  kernels.addPass(createSCFToControlFlowPass());
  // Views the quantc-graph-to-gpu kernels rebuild from their buffers.
  kernels.addPass(memref::createExpandStridedMetadataPass());
  kernels.addPass(createLowerAffinePass());
  kernels.addPass(std::make_unique<LowerNarrowTruncfPass>());
  ConvertGpuOpsToNVVMOpsOptions nvvmOptions;
  // Kernels take static memrefs: pass them as plain pointers, so that a
  // launch passes three pointers, not three descriptors.
  nvvmOptions.useBarePtrCallConv = true;
  kernels.addPass(createConvertGpuOpsToNVVMOps(nvvmOptions));
  // NVVM ops written as inline PTX (wgmma.mma_async, ...).
  kernels.addPass(createConvertNVVMToLLVMPass());
  kernels.addPass(createCanonicalizerPass());
  kernels.addPass(createCSEPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  GpuModuleToBinaryPassOptions binaryOptions;
  binaryOptions.compilationTarget = "isa"; // PTX text, no CUDA toolkit
  pm.addPass(createGpuModuleToBinaryPass(binaryOptions));
}

void buildCudaDevicePipeline(OpPassManager &pm, llvm::StringRef chip,
                             bool packBinaries) {
  QcLowerGpuOptions options;
  options.chip = chip.str();
  pm.addPass(createQcLowerGpu(options));
  buildGpuToPtxPipeline(pm, chip);
  if (packBinaries)
    pm.addPass(createPackGpuBinaries());
}

void buildCudaHostPipeline(OpPassManager &pm, llvm::StringRef cpuTarget,
                           llvm::StringRef chips, bool packBinaries,
                           bool fpContract) {
  CpuLoweringHooks hooks;
  hooks.cpuTarget = cpuTarget.str();
  hooks.fpContract = fpContract;
  std::string chipList = chips.str();
  hooks.afterBufferization = [chipList, packBinaries](OpPassManager &p) {
    // The float graph on the GPU where a function allows it, its kernels to
    // PTX; what stays on the host has its launches staged.
    GraphToGpuOptions options;
    options.chip = chipList;
    p.addPass(createGraphToGpu(options));
    buildGpuToPtxPipeline(p, chipList);
    if (packBinaries)
      p.addPass(createPackGpuBinaries());
    p.addPass(createStageGpuBuffers());
  };
  buildCpuLoweringPipeline(pm, hooks);
  GpuToLLVMConversionPassOptions hostOptions;
  hostOptions.kernelBarePtrCallConv = true;
  pm.addPass(createGpuToLLVMConversionPass(hostOptions));
  pm.addPass(createReconcileUnrealizedCastsPass());
}

void buildCudaLoweringPipeline(OpPassManager &pm, llvm::StringRef chip) {
  buildCudaDevicePipeline(pm, chip);
  buildCudaHostPipeline(pm, "native", chip);
}

void buildCudaOnHostTestPipeline(OpPassManager &pm, llvm::StringRef chip,
                                 bool deviceSide, bool fpContract) {
  if (deviceSide) {
    QcLowerGpuOptions options;
    options.chip = chip.str();
    options.gemvMaxRows = 0;
    options.tensorCores = false;
    pm.addPass(createQcLowerGpu(options));
    return;
  }
  CpuLoweringHooks hooks;
  hooks.fpContract = fpContract;
  std::string chipList = chip.str();
  hooks.afterBufferization = [chipList](OpPassManager &p) {
    GraphToGpuOptions options;
    options.chip = chipList;
    p.addPass(createGraphToGpu(options));
    p.addPass(std::make_unique<GpuKernelsOnHostPass>());
  };
  buildCpuLoweringPipeline(pm, hooks);
}

namespace {
struct ChipOptions : public PassPipelineOptions<ChipOptions> {
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("sm_80, sm_90a, sm_100a or sm_120a"),
                           llvm::cl::init("sm_90a")};
};
} // namespace

void registerQuantcGpuPipelines() {
  PassRegistration<LowerNarrowTruncfPass>();
  PassRegistration<GpuKernelsOnHostPass>();
  PassPipelineRegistration<ChipOptions>(
      "quantc-gpu-to-ptx",
      "Lower gpu.module ops (gpu, scf, arith, vector, memref, nvvm) to "
      "gpu.binary ops holding PTX for their #nvvm.target",
      [](OpPassManager &pm, const ChipOptions &options) {
        buildGpuToPtxPipeline(pm, options.chip);
      });
  PassPipelineRegistration<ChipOptions>(
      "quantc-lower-to-cuda",
      "Lower float tensor IR with qc ops to LLVM for the host, with every "
      "qc.matmul the GPU kernels take and the float graph around them "
      "(quantc-graph-to-gpu) running on the GPU (PTX for `chip`)",
      [](OpPassManager &pm, const ChipOptions &options) {
        buildCudaLoweringPipeline(pm, options.chip);
      });
}

} // namespace quantc
