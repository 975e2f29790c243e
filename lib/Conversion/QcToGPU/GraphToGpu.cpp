//===- GraphToGpu.cpp - quantc-graph-to-gpu -------------------------------===//
//
// The float graph around the qc.matmul kernels on the GPU, on buffers that
// stay on the device for the whole call. Per host function (one block,
// static shapes):
//
//   linalg op / memref.copy   -> gpu.launch_func of a kernel generated here:
//                                one thread per point of the parallel loops,
//                                the reduction loops sequential in it
//   memref.alloc / dealloc    -> gpu.alloc / gpu.dealloc (frees at the end)
//   memref.get_global         -> the runtime's device copy of the constant
//                                (uploaded once per process)
//   memref arguments          -> copied to the device at entry, the written
//                                ones back at the end
//
// all on one stream. Why a generator of our own rather than linalg ->
// scf.parallel -> gpu-map-parallel-loops -> convert-parallel-loops-to-gpu ->
// gpu-kernel-outlining: that route maps the outermost parallel loop to
// blocks and a nested one to threads (a [1, 64] softmax would launch one
// block of one thread, a [4096] elementwise op 4096 blocks of one thread),
// needs an outlining step per chip for the multi-chip launches, and leaves
// the view ops of a kernel's operands on the host, where they cannot be
// kernel arguments (bare pointers take identity layouts). Here every kernel
// takes the root buffers and rebuilds its views inside, and the parallel
// points are linearized over blocks of 256 threads, the innermost dimension
// fastest, so that neighbouring threads touch neighbouring elements.
//
//===----------------------------------------------------------------------===//

#include "quantc/Conversion/GpuChips.h"
#include "quantc/Conversion/GpuPipelines.h"
#include "quantc/Conversion/Passes.h"

#include "mlir/Dialect/Affine/Utils.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace quantc {
#define GEN_PASS_DEF_GRAPHTOGPU
#include "quantc/Conversion/Passes.h.inc"
} // namespace quantc

using namespace mlir;

namespace {

constexpr int64_t kThreadsPerBlock = 256;
constexpr llvm::StringLiteral kKernelModuleName = "qc_graph_kernels";
constexpr llvm::StringLiteral kSelectTarget = "quantc_cuda_select_target";
constexpr llvm::StringLiteral kDeviceConstant = "quantc_cuda_device_constant";

bool isStaticIdentity(Type type) {
  auto memref = dyn_cast<MemRefType>(type);
  return memref && memref.hasStaticShape() && memref.getLayout().isIdentity();
}

/// View ops a kernel can rebuild from its root buffer: static, the source
/// their only operand.
bool isStaticView(Operation *op) {
  return isa<memref::SubViewOp, memref::ExpandShapeOp,
             memref::CollapseShapeOp, memref::CastOp,
             memref::ReinterpretCastOp, memref::TransposeOp>(op) &&
         op->getNumOperands() == 1 && op->getNumResults() == 1 &&
         cast<MemRefType>(op->getResult(0).getType()).hasStaticShape();
}

/// The buffer a chain of views starts from.
Value rootOf(Value value) {
  while (Operation *def = value.getDefiningOp()) {
    if (!isStaticView(def))
      break;
    value = def->getOperand(0);
  }
  return value;
}

bool isConstantScalar(Value value) {
  return !isa<ShapedType>(value.getType()) && matchPattern(value, m_Constant());
}

/// Ops of a linalg payload the kernels compile (arith, math: the math
/// functions are expanded to polynomials or LLVM intrinsics NVPTX selects,
/// quantc-gpu-to-ptx).
bool isKernelPayloadOp(Operation *op) {
  return isa<arith::ArithDialect, math::MathDialect>(op->getDialect()) ||
         isa<linalg::YieldOp, linalg::IndexOp, memref::LoadOp>(op);
}

/// A buffer the device has: a view of a static argument, allocation or
/// global.
bool isDeviceBuffer(Value value) {
  Value root = rootOf(value);
  return isStaticIdentity(root.getType()) &&
         (isa<BlockArgument>(root) ||
          isa_and_nonnull<memref::AllocOp, memref::GetGlobalOp>(
              root.getDefiningOp()));
}

/// Why `linalg` cannot be a kernel, or empty.
std::string whyNotKernel(linalg::LinalgOp linalg) {
  if (!linalg.hasPureBufferSemantics())
    return "'" + linalg->getName().getStringRef().str() + "' is on tensors";
  for (int64_t size : linalg.getStaticLoopRanges())
    if (ShapedType::isDynamic(size))
      return "'" + linalg->getName().getStringRef().str() +
             "' has dynamic loop bounds";
  for (Value operand : linalg->getOperands()) {
    if (!isa<MemRefType>(operand.getType()))
      continue;
    if (!isDeviceBuffer(operand))
      return "an operand of '" + linalg->getName().getStringRef().str() +
             "' is not a view of a static argument, allocation or global";
  }
  std::string why;
  linalg->walk([&](Operation *op) {
    if (op == linalg.getOperation())
      return WalkResult::advance();
    if (!isKernelPayloadOp(op)) {
      why = "the payload of '" + linalg->getName().getStringRef().str() +
            "' holds '" + op->getName().getStringRef().str() + "'";
      return WalkResult::interrupt();
    }
    // Scalars, and buffers read by gathers (memref.load: tensor.extract
    // of an embedding table, ...).
    for (Value operand : op->getOperands())
      if (!linalg->isAncestor(operand.getParentBlock()->getParentOp()) &&
          !isConstantScalar(operand) &&
          !operand.getType().isIntOrIndexOrFloat() &&
          !(isa<MemRefType>(operand.getType()) && isDeviceBuffer(operand))) {
        why = "the payload of '" + linalg->getName().getStringRef().str() +
              "' uses a value from outside that is not a scalar or a device "
              "buffer";
        return WalkResult::interrupt();
      }
    return WalkResult::advance();
  });
  return why;
}

/// Why `func` cannot run on the device as a whole, or empty.
std::string whyNotDeviceResident(func::FuncOp func) {
  if (!func.getBody().hasOneBlock())
    return "its body has several blocks";
  for (Type type : func.getArgumentTypes())
    if (isa<MemRefType>(type) && !isStaticIdentity(type))
      return "an argument is not a static contiguous memref";
  for (Operation &op : func.getBody().front()) {
    if (auto linalg = dyn_cast<linalg::LinalgOp>(op)) {
      std::string why = whyNotKernel(linalg);
      if (!why.empty())
        return why;
      continue;
    }
    if (auto softmax = dyn_cast<linalg::SoftmaxOp>(op)) {
      for (Value v : {softmax.getInput(), softmax.getOutput()}) {
        auto type = dyn_cast<MemRefType>(v.getType());
        if (!type || !type.hasStaticShape() || !isDeviceBuffer(v))
          return "a linalg.softmax operand is not a static view of an "
                 "argument, allocation or global";
      }
      continue;
    }
    if (auto copy = dyn_cast<memref::CopyOp>(op)) {
      auto source = cast<MemRefType>(copy.getSource().getType());
      auto target = cast<MemRefType>(copy.getTarget().getType());
      if (!source.hasStaticShape() || !target.hasStaticShape())
        return "a memref.copy has dynamic shapes";
      for (Value v : {copy.getSource(), copy.getTarget()}) {
        if (!isDeviceBuffer(v))
          return "a memref.copy reads or writes something else than a view "
                 "of an argument, allocation or global";
      }
      continue;
    }
    if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
      if (!isStaticIdentity(alloc.getType()))
        return "a memref.alloc is not static and contiguous";
      continue;
    }
    if (auto global = dyn_cast<memref::GetGlobalOp>(op)) {
      if (!isStaticIdentity(global.getType()))
        return "a memref.get_global is not static and contiguous";
      continue;
    }
    if (isa<memref::DeallocOp, func::ReturnOp>(op) || isStaticView(&op))
      continue;
    if (auto launch = dyn_cast<gpu::LaunchFuncOp>(op)) {
      if (launch.getAsyncToken() || !launch.getAsyncDependencies().empty())
        return "a gpu.launch_func is already asynchronous";
      for (Value operand : launch.getKernelOperands())
        if (isa<MemRefType>(operand.getType()) &&
            !isStaticIdentity(rootOf(operand).getType()))
          return "a gpu.launch_func operand is not static and contiguous";
      continue;
    }
    if (auto call = dyn_cast<func::CallOp>(op)) {
      if (call.getCallee() == kSelectTarget)
        continue;
      return "it calls '" + call.getCallee().str() + "'";
    }
    if (auto select = dyn_cast<scf::IndexSwitchOp>(op)) {
      // qc-lower-gpu's per-chip launches.
      if (select.getNumResults() != 0)
        return "an scf.index_switch yields values";
      bool launchesOnly = true;
      select->walk([&](Operation *inner) {
        if (inner != select.getOperation() &&
            !isa<gpu::LaunchFuncOp, scf::YieldOp, arith::ConstantOp>(inner))
          launchesOnly = false;
      });
      if (!launchesOnly)
        return "an scf.index_switch does more than launch kernels";
      continue;
    }
    if (isMemoryEffectFree(&op) && op.getNumRegions() == 0 &&
        llvm::none_of(op.getResultTypes(),
                      [](Type t) { return isa<ShapedType>(t); }))
      continue;
    return "'" + op.getName().getStringRef().str() + "' runs on the host";
  }
  return "";
}

/// Emits the kernels of linalg ops into one gpu.module.
class KernelEmitter {
public:
  explicit KernelEmitter(gpu::GPUModuleOp kernels) : kernels(kernels) {}

  /// The kernel computing `op` (a linalg op checked by whyNotKernel, or
  /// linalg.softmax), taking `arguments` (the memref roots and non-constant
  /// scalars it reads), one thread per point of its parallel loops.
  /// `fusedInit`: the value a linalg.fill just before a reduction wrote
  /// into its output, which the kernel starts from instead of loading it.
  gpu::GPUFuncOp emit(Operation *op, ArrayRef<Value> arguments,
                      int64_t parallelPoints, Value fusedInit = {}) {
    Location loc = op->getLoc();
    OpBuilder builder = OpBuilder::atBlockEnd(kernels.getBody());
    SmallVector<Type> types = llvm::to_vector(
        llvm::map_range(arguments, [](Value v) { return v.getType(); }));
    std::string name = ("qc_" + op->getName().stripDialect()).str();
    std::replace(name.begin(), name.end(), '.', '_');
    auto func = gpu::GPUFuncOp::create(builder, loc, name,
                                       builder.getFunctionType(types, {}));
    func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(),
                  builder.getUnitAttr());
    SymbolTable(kernels).insert(func); // unique names: qc_generic_0, ...
    Block &entry = func.getBody().front();
    builder.setInsertionPointToStart(&entry);
    IRMapping mapping;
    for (auto [value, argument] : llvm::zip(arguments, entry.getArguments()))
      mapping.map(value, argument);

    // Views and constants, rebuilt in the kernel from the arguments.
    std::function<Value(Value)> materialize = [&](Value value) -> Value {
      if (Value mapped = mapping.lookupOrNull(value))
        return mapped;
      Operation *def = value.getDefiningOp();
      assert(def && "an argument of the kernel that was not passed");
      for (Value operand : def->getOperands())
        materialize(operand);
      builder.clone(*def, mapping);
      return mapping.lookup(value);
    };
    SmallVector<Value> operands;
    for (Value operand : op->getOperands())
      operands.push_back(materialize(operand));
    // Values the payload uses from outside: constants, or arguments.
    op->walk([&](Operation *inner) {
      for (Value operand : inner->getOperands())
        if (!op->isAncestor(operand.getParentBlock()->getParentOp()))
          materialize(operand);
    });
    Value init = fusedInit ? materialize(fusedInit) : Value();

    auto c = [&](OpBuilder &b, int64_t v) {
      return arith::ConstantIndexOp::create(b, loc, v).getResult();
    };
    Value thread = gpu::ThreadIdOp::create(builder, loc, gpu::Dimension::x);
    Value block = gpu::BlockIdOp::create(builder, loc, gpu::Dimension::x);
    Value linear = arith::AddIOp::create(
        builder, loc,
        arith::MulIOp::create(builder, loc, block, c(builder, kThreadsPerBlock)),
        thread);
    Value inRange =
        arith::CmpIOp::create(builder, loc, arith::CmpIPredicate::ult, linear,
                              c(builder, parallelPoints));
    auto ifOp = scf::IfOp::create(builder, loc, inRange, /*withElse=*/false);
    gpu::ReturnOp::create(builder, loc);
    builder.setInsertionPointToStart(&ifOp.getThenRegion().front());
    if (auto softmax = dyn_cast<linalg::SoftmaxOp>(op))
      emitSoftmax(builder, softmax, operands, linear);
    else
      emitLinalg(builder, cast<linalg::LinalgOp>(op), operands, mapping,
                 linear, init);
    return func;
  }

  /// One row of softmax per thread: max, sum of exp(x - max), then
  /// exp(x - max) / sum (linalg.softmax's decomposition, in its order).
  void emitSoftmax(OpBuilder &builder, linalg::SoftmaxOp softmax,
                   ArrayRef<Value> operands, Value linear) {
    Location loc = softmax.getLoc();
    auto type = cast<MemRefType>(softmax.getInput().getType());
    Type element = type.getElementType();
    const int64_t axis = softmax.getDimension();
    auto c = [&](OpBuilder &b, int64_t v) {
      return arith::ConstantIndexOp::create(b, loc, v).getResult();
    };
    SmallVector<Value> ivs(type.getRank());
    Value rest = linear;
    for (int64_t d = type.getRank() - 1; d >= 0; --d) {
      if (d == axis)
        continue;
      Value size = c(builder, type.getDimSize(d));
      ivs[d] = arith::RemUIOp::create(builder, loc, rest, size);
      rest = arith::DivUIOp::create(builder, loc, rest, size);
    }
    Value x = operands[0], y = operands[1];
    auto at = [&](Value k) {
      SmallVector<Value> index = ivs;
      index[axis] = k;
      return index;
    };
    Value zero = c(builder, 0), one = c(builder, 1),
          n = c(builder, type.getDimSize(axis));
    Value lowest = arith::ConstantOp::create(
        builder, loc,
        builder.getFloatAttr(element, -std::numeric_limits<double>::infinity()));
    auto maxLoop = scf::ForOp::create(
        builder, loc, zero, n, one, ValueRange{lowest},
        [&](OpBuilder &b, Location l, Value k, ValueRange carried) {
          Value v = memref::LoadOp::create(b, l, x, at(k));
          scf::YieldOp::create(
              b, l, ValueRange{arith::MaximumFOp::create(b, l, carried[0], v)});
        });
    Value max = maxLoop.getResult(0);
    Value zeroF = arith::ConstantOp::create(builder, loc,
                                            builder.getFloatAttr(element, 0.0));
    auto sumLoop = scf::ForOp::create(
        builder, loc, zero, n, one, ValueRange{zeroF},
        [&](OpBuilder &b, Location l, Value k, ValueRange carried) {
          Value v = memref::LoadOp::create(b, l, x, at(k));
          Value e = math::ExpOp::create(b, l, arith::SubFOp::create(b, l, v, max));
          memref::StoreOp::create(b, l, e, y, at(k));
          scf::YieldOp::create(
              b, l, ValueRange{arith::AddFOp::create(b, l, carried[0], e)});
        });
    Value sum = sumLoop.getResult(0);
    scf::ForOp::create(builder, loc, zero, n, one, ValueRange{},
                       [&](OpBuilder &b, Location l, Value k, ValueRange) {
                         Value e = memref::LoadOp::create(b, l, y, at(k));
                         memref::StoreOp::create(
                             b, l, arith::DivFOp::create(b, l, e, sum), y,
                             at(k));
                         scf::YieldOp::create(b, l);
                       });
  }

  void emitLinalg(OpBuilder &builder, linalg::LinalgOp linalg,
                  ArrayRef<Value> operands, IRMapping &mapping, Value linear,
                  Value fusedInit) {
    Location loc = linalg.getLoc();
    auto c = [&](OpBuilder &b, int64_t v) {
      return arith::ConstantIndexOp::create(b, loc, v).getResult();
    };
    // The point of the parallel loops, the innermost fastest.
    SmallVector<int64_t> ranges = linalg.getStaticLoopRanges();
    SmallVector<utils::IteratorType> iterators =
        linalg.getIteratorTypesArray();
    const unsigned loops = ranges.size();
    SmallVector<Value> ivs(loops);
    SmallVector<unsigned> reductionDims;
    Value rest = linear;
    for (int d = loops - 1; d >= 0; --d) {
      if (iterators[d] != utils::IteratorType::parallel) {
        reductionDims.insert(reductionDims.begin(), d);
        ivs[d] = c(builder, 0); // outputs never index with these
        continue;
      }
      Value size = c(builder, ranges[d]);
      ivs[d] = arith::RemUIOp::create(builder, loc, rest, size);
      rest = arith::DivUIOp::create(builder, loc, rest, size);
    }

    Block *payload = linalg.getBlock();
    auto indices = [&](OpBuilder &b, OpOperand &operand,
                       ArrayRef<Value> at) {
      SmallVector<Value> result;
      AffineMap map = linalg.getMatchingIndexingMap(&operand);
      for (AffineExpr expr : map.getResults())
        result.push_back(affine::expandAffineExpr(b, loc, expr, at, {}));
      return result;
    };
    auto load = [&](OpBuilder &b, OpOperand &operand, ArrayRef<Value> at) {
      Value source = operands[operand.getOperandNumber()];
      if (!isa<MemRefType>(source.getType()))
        return source;
      return memref::LoadOp::create(b, loc, source, indices(b, operand, at))
          .getResult();
    };
    // Runs the payload at `at` with the outputs' current values; returns
    // the yielded values.
    auto runPayload = [&](OpBuilder &b, ArrayRef<Value> at,
                          ValueRange outputs) {
      IRMapping body = mapping;
      for (OpOperand *input : linalg.getDpsInputOperands()) {
        BlockArgument arg = linalg.getMatchingBlockArgument(input);
        if (!arg.use_empty())
          body.map(arg, load(b, *input, at));
      }
      for (auto [init, value] :
           llvm::zip(linalg.getDpsInitsMutable(), outputs))
        if (value)
          body.map(linalg.getMatchingBlockArgument(&init), value);
      SmallVector<Value> yielded;
      for (Operation &op : payload->getOperations()) {
        if (auto index = dyn_cast<linalg::IndexOp>(op)) {
          body.map(index.getResult(), at[index.getDim()]);
          continue;
        }
        if (auto yield = dyn_cast<linalg::YieldOp>(op)) {
          for (Value v : yield.getValues())
            yielded.push_back(body.lookupOrDefault(v));
          continue;
        }
        b.clone(op, body);
      }
      return yielded;
    };

    SmallVector<Value> initial;
    for (OpOperand &init : linalg.getDpsInitsMutable()) {
      bool needed = !reductionDims.empty() ||
                    !linalg.getMatchingBlockArgument(&init).use_empty();
      initial.push_back(fusedInit ? fusedInit
                        : needed  ? load(builder, init, ivs)
                                  : Value());
    }
    SmallVector<Value> results;
    if (reductionDims.empty()) {
      results = runPayload(builder, ivs, initial);
    } else {
      SmallVector<Value> lbs, ubs, steps;
      for (unsigned d : reductionDims) {
        lbs.push_back(c(builder, 0));
        ubs.push_back(c(builder, ranges[d]));
        steps.push_back(c(builder, 1));
      }
      scf::LoopNest nest = scf::buildLoopNest(
          builder, loc, lbs, ubs, steps, initial,
          [&](OpBuilder &b, Location, ValueRange reductionIvs,
              ValueRange carried) -> scf::ValueVector {
            SmallVector<Value> at = ivs;
            for (auto [d, iv] : llvm::zip(reductionDims, reductionIvs))
              at[d] = iv;
            return runPayload(b, at, carried);
          });
      results = llvm::to_vector(nest.results);
    }
    for (auto [init, value] : llvm::zip(linalg.getDpsInitsMutable(), results))
      memref::StoreOp::create(builder, loc, value,
                              operands[init.getOperandNumber()],
                              indices(builder, init, ivs));
  }

private:
  gpu::GPUModuleOp kernels;
};

struct GraphToGpuPass : quantc::impl::GraphToGpuBase<GraphToGpuPass> {
  using Base::Base;

  SmallVector<std::string> chips;
  SmallVector<gpu::GPUModuleOp> kernelModules;
  int32_t chipMask = 0;
  SmallVector<int64_t> chipIndices;

  /// The chips of the option, else those the module's GPU code targets.
  LogicalResult findChips(ModuleOp module) {
    auto add = [&](StringRef name) {
      name = name.trim();
      if (!name.empty() && !llvm::is_contained(chips, name))
        chips.push_back(name.str());
    };
    for (StringRef name : llvm::split(StringRef(chip), ','))
      add(name);
    if (chips.empty()) {
      auto addTargets = [&](ArrayAttr targets) {
        if (targets)
          for (Attribute target : targets)
            if (auto nvvm = dyn_cast<NVVM::NVVMTargetAttr>(target))
              add(nvvm.getChip());
      };
      module.walk([&](gpu::GPUModuleOp op) { addTargets(op.getTargetsAttr()); });
      module.walk([&](gpu::BinaryOp op) {
        for (Attribute object : op.getObjects())
          if (auto gpuObject = dyn_cast<gpu::ObjectAttr>(object))
            if (auto nvvm = dyn_cast<NVVM::NVVMTargetAttr>(gpuObject.getTarget()))
              add(nvvm.getChip());
      });
    }
    for (const std::string &name : chips)
      if (!quantc::ptxFeaturesForChip(name))
        return mlir::emitError(module.getLoc())
               << "quantc-graph-to-gpu: unknown chip '"
                                  << name << "' (supported: "
                                  << llvm::join(quantc::supportedGpuChips(),
                                                ", ")
                                  << ")";
    return success();
  }

  void makeKernelModules(ModuleOp module) {
    MLIRContext *ctx = module.getContext();
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    UnitAttr::get(ctx));
    for (const std::string &name : chips) {
      std::string symbol = kKernelModuleName.str();
      if (chips.size() > 1)
        symbol += "_" + name;
      auto kernels = module.lookupSymbol<gpu::GPUModuleOp>(symbol);
      if (!kernels) {
        OpBuilder builder = OpBuilder::atBlockEnd(module.getBody());
        auto target = NVVM::NVVMTargetAttr::get(
            ctx, /*optLevel=*/3, "nvptx64-nvidia-cuda", name,
            *quantc::ptxFeaturesForChip(name));
        kernels = gpu::GPUModuleOp::create(builder, module.getLoc(), symbol,
                                           builder.getArrayAttr({target}));
      }
      kernelModules.push_back(kernels);
      chipIndices.push_back(quantc::gpuChipIndex(name.c_str()));
      chipMask |= 1 << chipIndices.back();
    }
    if (chips.size() > 1 && !module.lookupSymbol<func::FuncOp>(kSelectTarget)) {
      OpBuilder builder = OpBuilder::atBlockBegin(module.getBody());
      auto i32 = builder.getI32Type();
      auto decl = func::FuncOp::create(builder, module.getLoc(), kSelectTarget,
                                       builder.getFunctionType({i32}, {i32}));
      decl.setPrivate();
    }
    if (!module.lookupSymbol<func::FuncOp>(kDeviceConstant)) {
      OpBuilder builder = OpBuilder::atBlockBegin(module.getBody());
      auto i64 = builder.getI64Type();
      auto decl =
          func::FuncOp::create(builder, module.getLoc(), kDeviceConstant,
                               builder.getFunctionType({i64, i64}, {i64}));
      decl.setPrivate();
    }
  }

  /// The reduction right after `fill` (nothing but allocations, views and
  /// constants between them) whose only output is exactly the filled buffer,
  /// written in full and not read otherwise: its kernel can start from the
  /// fill's value instead.
  static linalg::LinalgOp reductionFilling(linalg::FillOp fill) {
    Value buffer = fill.getOutputs()[0];
    Value value = fill.getInputs()[0];
    if (isa<ShapedType>(value.getType()))
      return {};
    Operation *next = fill->getNextNode();
    while (next && (isa<memref::AllocOp>(next) || isMemoryEffectFree(next)) &&
           !isa<linalg::LinalgOp>(next))
      next = next->getNextNode();
    auto linalg = dyn_cast_or_null<linalg::LinalgOp>(next);
    if (!linalg || isa<linalg::FillOp>(next) ||
        linalg.getNumReductionLoops() == 0 || linalg.getNumDpsInits() != 1 ||
        linalg.getDpsInitOperand(0)->get() != buffer)
      return {};
    AffineMap map = linalg.getMatchingIndexingMap(linalg.getDpsInitOperand(0));
    if (!map.isProjectedPermutation() ||
        map.getNumResults() != int64_t(linalg.getNumParallelLoops()))
      return {};
    for (OpOperand *input : linalg.getDpsInputOperands())
      if (rootOf(input->get()) == rootOf(buffer))
        return {};
    bool readsBuffer = false;
    linalg->walk([&](memref::LoadOp load) {
      readsBuffer |= rootOf(load.getMemRef()) == rootOf(buffer);
    });
    return readsBuffer ? linalg::LinalgOp() : linalg;
  }

  /// A linalg op or linalg.softmax -> a launch of its kernel (one per chip,
  /// chosen at run time).
  void launchKernel(Operation *op, Value fusedInit = {}) {
    Location loc = op->getLoc();
    int64_t points = 1;
    bool empty = false;
    if (auto softmax = dyn_cast<linalg::SoftmaxOp>(op)) {
      auto type = cast<MemRefType>(softmax.getInput().getType());
      for (auto [d, size] : llvm::enumerate(type.getShape())) {
        empty |= size == 0;
        if (int64_t(d) != int64_t(softmax.getDimension()))
          points *= size;
      }
    } else {
      auto linalg = cast<linalg::LinalgOp>(op);
      for (auto [size, iterator] : llvm::zip(linalg.getStaticLoopRanges(),
                                             linalg.getIteratorTypesArray())) {
        empty |= size == 0;
        if (iterator == utils::IteratorType::parallel)
          points *= size;
      }
    }
    if (empty) {
      op->erase();
      return;
    }
    // Arguments: the root buffers of the operands, and the scalars that are
    // not constants.
    SmallVector<Value> arguments;
    auto addArgument = [&](Value value) {
      if (isa<MemRefType>(value.getType()))
        value = rootOf(value);
      else if (isConstantScalar(value))
        return;
      if (!llvm::is_contained(arguments, value))
        arguments.push_back(value);
    };
    for (Value operand : op->getOperands())
      addArgument(operand);
    op->walk([&](Operation *inner) {
      for (Value operand : inner->getOperands())
        if (!op->isAncestor(operand.getParentBlock()->getParentOp()))
          addArgument(operand);
    });
    if (fusedInit)
      addArgument(fusedInit);

    // Which way each buffer goes, for the copies at the function's ends:
    // written ones are read too unless the whole buffer is overwritten
    // without reading it.
    SmallVector<StringRef> access;
    for (Value argument : arguments) {
      bool reads = false, writes = false;
      auto visit = [&](Value operand, bool isInit, bool payloadReads) {
        if (!isa<MemRefType>(operand.getType()) || rootOf(operand) != argument)
          return;
        if (!isInit) {
          reads = true;
          return;
        }
        writes = true;
        reads |= payloadReads || operand != argument;
      };
      if (auto softmax = dyn_cast<linalg::SoftmaxOp>(op)) {
        visit(softmax.getInput(), false, false);
        visit(softmax.getOutput(), true, false);
      } else {
        auto linalg = cast<linalg::LinalgOp>(op);
        for (OpOperand *input : linalg.getDpsInputOperands())
          visit(input->get(), false, false);
        for (OpOperand &init : linalg.getDpsInitsMutable())
          visit(init.get(), true,
                !fusedInit && linalg.payloadUsesValueFromOperand(&init));
        linalg->walk([&](memref::LoadOp load) {
          visit(load.getMemRef(), false, false);
        });
      }
      access.push_back(!writes ? "in" : reads ? "inout" : "out");
    }
    OpBuilder b(op);
    int64_t threads = std::min(points, kThreadsPerBlock);
    int64_t blocks = (points + kThreadsPerBlock - 1) / kThreadsPerBlock;
    auto launch = [&](OpBuilder &lb, size_t chipIndex) {
      KernelEmitter emitter(kernelModules[chipIndex]);
      gpu::GPUFuncOp kernel = emitter.emit(op, arguments, points, fusedInit);
      auto cl = [&](int64_t v) {
        return arith::ConstantIndexOp::create(lb, loc, v).getResult();
      };
      auto launchOp = gpu::LaunchFuncOp::create(
          lb, loc, kernel, gpu::KernelDim3{cl(blocks), cl(1), cl(1)},
          gpu::KernelDim3{cl(threads), cl(1), cl(1)}, Value(), arguments);
      launchOp->setAttr("qc.operand_access", lb.getStrArrayAttr(access));
    };
    if (chips.size() == 1) {
      launch(b, 0);
    } else {
      Value selected =
          func::CallOp::create(b, loc, kSelectTarget,
                               TypeRange{b.getI32Type()},
                               ValueRange{arith::ConstantIntOp::create(
                                   b, loc, b.getI32Type(), chipMask)})
              .getResult(0);
      Value index =
          arith::IndexCastOp::create(b, loc, b.getIndexType(), selected);
      auto switchOp = scf::IndexSwitchOp::create(
          b, loc, TypeRange{}, index, chipIndices, chipIndices.size());
      for (size_t i = 0; i < chips.size(); ++i) {
        Block &block = switchOp.getCaseRegions()[i].emplaceBlock();
        OpBuilder cb = OpBuilder::atBlockBegin(&block);
        launch(cb, i);
        scf::YieldOp::create(cb, loc);
      }
      // No chip runs here: the runtime recorded why and fails the run.
      Block &fallback = switchOp.getDefaultRegion().emplaceBlock();
      OpBuilder fb = OpBuilder::atBlockBegin(&fallback);
      scf::YieldOp::create(fb, loc);
    }
    op->erase();
  }

  /// Which of `func`'s memref arguments the function reads and writes.
  void argumentAccess(func::FuncOp func, SmallVectorImpl<bool> &read,
                      SmallVectorImpl<bool> &written) {
    unsigned n = func.getNumArguments();
    read.assign(n, false);
    written.assign(n, false);
    auto argumentOf = [&](Value v) -> int {
      auto arg = dyn_cast<BlockArgument>(rootOf(v));
      return arg && arg.getOwner()->getParentOp() == func
                 ? int(arg.getArgNumber())
                 : -1;
    };
    func.walk([&](gpu::LaunchFuncOp launch) {
      auto access = launch->getAttrOfType<ArrayAttr>("qc.operand_access");
      for (auto [i, operand] : llvm::enumerate(launch.getKernelOperands())) {
        int arg = argumentOf(operand);
        if (arg < 0 || !isa<MemRefType>(operand.getType()))
          continue;
        StringRef kind = "inout";
        if (access && i < access.size())
          if (auto s = dyn_cast<StringAttr>(access[i]))
            kind = s.getValue();
        read[arg] = read[arg] || kind != "out";
        written[arg] = written[arg] || kind != "in";
      }
    });
  }

  /// `func` on device buffers, one stream, one wait.
  void makeDeviceResident(func::FuncOp func) {
    Block &body = func.getBody().front();
    Location loc = func.getLoc();
    MLIRContext *ctx = func.getContext();
    Type tokenType = gpu::AsyncTokenType::get(ctx);
    OpBuilder b = OpBuilder::atBlockBegin(&body);
    Value token =
        gpu::WaitOp::create(b, loc, tokenType, ValueRange{}).getAsyncToken();
    SmallVector<bool> read, written;
    argumentAccess(func, read, written);
    SmallVector<Value> freeAtEnd;
    SmallVector<std::pair<Value, Value>> copyBack; // (host, device)
    for (BlockArgument arg : func.getArguments()) {
      auto type = dyn_cast<MemRefType>(arg.getType());
      if (!type || (!read[arg.getArgNumber()] && !written[arg.getArgNumber()]))
        continue;
      auto alloc = gpu::AllocOp::create(b, loc, type, tokenType,
                                        ValueRange{token}, ValueRange{},
                                        ValueRange{}, UnitAttr());
      token = alloc.getAsyncToken();
      Value device = alloc.getMemref();
      arg.replaceAllUsesExcept(device, alloc.getOperation());
      if (read[arg.getArgNumber()])
        token = gpu::MemcpyOp::create(b, loc, tokenType, ValueRange{token},
                                      device, arg)
                    .getAsyncToken();
      if (written[arg.getArgNumber()])
        copyBack.push_back({arg, device});
      freeAtEnd.push_back(device);
    }
    for (Operation &op : llvm::make_early_inc_range(body)) {
      b.setInsertionPoint(&op);
      if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
        auto device = gpu::AllocOp::create(b, op.getLoc(), alloc.getType(),
                                           tokenType, ValueRange{token},
                                           ValueRange{}, ValueRange{},
                                           UnitAttr());
        token = device.getAsyncToken();
        alloc.replaceAllUsesWith(device.getMemref());
        alloc.erase();
      } else if (auto dealloc = dyn_cast<memref::DeallocOp>(op)) {
        // mgpuMemFree waits for the stream: free once, at the end.
        freeAtEnd.push_back(dealloc.getMemref());
        dealloc.erase();
      } else if (auto global = dyn_cast<memref::GetGlobalOp>(op)) {
        b.setInsertionPointAfter(global);
        Operation *hostUse = nullptr;
        Value device = deviceConstant(b, global, hostUse);
        global.getResult().replaceAllUsesExcept(device, hostUse);
      } else if (auto launch = dyn_cast<gpu::LaunchFuncOp>(op)) {
        token = makeAsync(b, launch, token);
      } else if (auto select = dyn_cast<scf::IndexSwitchOp>(op)) {
        token = makeAsync(b, select, token);
      } else if (isa<func::ReturnOp>(op)) {
        for (auto [host, device] : copyBack)
          token = gpu::MemcpyOp::create(b, loc, tokenType, ValueRange{token},
                                        host, device)
                      .getAsyncToken();
        for (Value buffer : freeAtEnd)
          token = gpu::DeallocOp::create(b, loc, tokenType, ValueRange{token},
                                         buffer)
                      .getAsyncToken();
        gpu::WaitOp::create(b, loc, Type(), ValueRange{token});
      }
    }
  }

  /// The device copy of the constant `global` reads, through the runtime's
  /// cache (uploaded on the first call, then reused); the descriptor is
  /// built in the LLVM dialect, as the runtime hands back a pointer.
  Value deviceConstant(OpBuilder &b, memref::GetGlobalOp global,
                       Operation *&hostUse) {
    Location loc = global.getLoc();
    auto type = global.getType();
    auto i64 = b.getI64Type();
    Value pointer =
        memref::ExtractAlignedPointerAsIndexOp::create(b, loc, global);
    hostUse = pointer.getDefiningOp();
    Value host = arith::IndexCastOp::create(b, loc, i64, pointer);
    int64_t bytes =
        type.getNumElements() *
        ((type.getElementTypeBitWidth() + 7) / 8);
    Value size = arith::ConstantIntOp::create(b, loc, i64, bytes);
    Value device = func::CallOp::create(b, loc, kDeviceConstant,
                                        TypeRange{i64}, ValueRange{host, size})
                       .getResult(0);
    auto ptrType = LLVM::LLVMPointerType::get(b.getContext());
    Value devicePointer = LLVM::IntToPtrOp::create(b, loc, ptrType, device);
    int64_t rank = type.getRank();
    SmallVector<Type> fields = {ptrType, ptrType, i64};
    if (rank > 0) {
      fields.push_back(LLVM::LLVMArrayType::get(i64, rank));
      fields.push_back(LLVM::LLVMArrayType::get(i64, rank));
    }
    auto descriptorType = LLVM::LLVMStructType::getLiteral(b.getContext(),
                                                           fields);
    Value descriptor = LLVM::PoisonOp::create(b, loc, descriptorType);
    descriptor = LLVM::InsertValueOp::create(b, loc, descriptor, devicePointer,
                                             ArrayRef<int64_t>{0});
    descriptor = LLVM::InsertValueOp::create(b, loc, descriptor, devicePointer,
                                             ArrayRef<int64_t>{1});
    auto constant = [&](int64_t v) {
      return LLVM::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(v))
          .getResult();
    };
    descriptor = LLVM::InsertValueOp::create(b, loc, descriptor, constant(0),
                                             ArrayRef<int64_t>{2});
    SmallVector<int64_t> strides;
    int64_t offset;
    (void)type.getStridesAndOffset(strides, offset);
    for (int64_t d = 0; d < rank; ++d) {
      descriptor = LLVM::InsertValueOp::create(
          b, loc, descriptor, constant(type.getDimSize(d)),
          ArrayRef<int64_t>{3, d});
      descriptor = LLVM::InsertValueOp::create(
          b, loc, descriptor, constant(strides[d]), ArrayRef<int64_t>{4, d});
    }
    return UnrealizedConversionCastOp::create(b, loc, TypeRange{type},
                                              ValueRange{descriptor})
        .getResult(0);
  }

  /// A synchronous launch as an asynchronous one after `token`.
  Value makeAsync(OpBuilder &b, gpu::LaunchFuncOp launch, Value token) {
    Type tokenType = gpu::AsyncTokenType::get(b.getContext());
    b.setInsertionPoint(launch);
    auto async = gpu::LaunchFuncOp::create(
        b, launch.getLoc(), launch.getKernelAttr(),
        launch.getGridSizeOperandValues(), launch.getBlockSizeOperandValues(),
        launch.getDynamicSharedMemorySize(), launch.getKernelOperands(),
        tokenType, ValueRange{token},
        launch.hasClusterSize()
            ? std::optional(launch.getClusterSizeOperandValues())
            : std::nullopt);
    async->setDiscardableAttrs(launch->getDiscardableAttrDictionary());
    launch.erase();
    return async.getAsyncToken();
  }

  /// The per-chip switch of launches on the stream of `token`, which the
  /// ops after it go on from. The switch yields no token: everything runs in
  /// order on the one stream, and convert-gpu-to-llvm must trace the final
  /// gpu.wait's token to mgpuStreamCreate to synchronize and destroy the
  /// stream; a token yielded by the switch (a block argument once scf is cf)
  /// it would take for an event (mgpuEventSynchronize on a stream:
  /// CUDA_ERROR_CONTEXT_IS_DESTROYED on a real GPU).
  Value makeAsync(OpBuilder &b, scf::IndexSwitchOp select, Value token) {
    b.setInsertionPoint(select);
    auto async = scf::IndexSwitchOp::create(
        b, select.getLoc(), TypeRange{}, select.getArg(), select.getCases(),
        select.getCaseRegions().size());
    auto moveRegion = [&](Region &from, Region &to) {
      to.takeBody(from);
      Value caseToken = token;
      for (Operation &op : llvm::make_early_inc_range(to.front()))
        if (auto launch = dyn_cast<gpu::LaunchFuncOp>(op)) {
          OpBuilder inner(launch);
          caseToken = makeAsync(inner, launch, caseToken);
        }
    };
    for (auto [from, to] :
         llvm::zip(select.getCaseRegions(), async.getCaseRegions()))
      moveRegion(from, to);
    moveRegion(select.getDefaultRegion(), async.getDefaultRegion());
    select.erase();
    return token;
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<func::FuncOp> funcs;
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      bool hasWork = false;
      func.walk([&](Operation *op) {
        if (isa<linalg::LinalgOp, linalg::SoftmaxOp, gpu::LaunchFuncOp>(op))
          hasWork = true;
      });
      if (!hasWork)
        continue;
      std::string why = whyNotDeviceResident(func);
      if (!why.empty()) {
        mlir::emitRemark(func.getLoc())
            << "quantc-graph-to-gpu: '" << func.getSymName()
                          << "' stays on the host with staged launches: "
                          << why;
        continue;
      }
      funcs.push_back(func);
    }
    if (funcs.empty())
      return;
    if (failed(findChips(module)))
      return signalPassFailure();
    if (chips.empty()) {
      mlir::emitRemark(module.getLoc(),
                       "quantc-graph-to-gpu: no chip given and no GPU code in "
                       "the module to take it from: the float graph stays on "
                       "the host");
      return;
    }
    makeKernelModules(module);
    for (func::FuncOp func : funcs) {
      // memref.copy is a linalg.copy kernel too.
      for (auto copy : llvm::make_early_inc_range(
               func.getBody().front().getOps<memref::CopyOp>())) {
        OpBuilder b(copy);
        linalg::CopyOp::create(b, copy.getLoc(), copy.getSource(),
                               copy.getTarget());
        copy.erase();
      }
      SmallVector<Operation *> work;
      for (Operation &op : func.getBody().front())
        if (isa<linalg::LinalgOp, linalg::SoftmaxOp>(op))
          work.push_back(&op);
      llvm::SmallPtrSet<Operation *, 8> launched;
      for (Operation *op : work) {
        if (launched.contains(op))
          continue;
        if (auto fill = dyn_cast<linalg::FillOp>(op))
          if (linalg::LinalgOp reduction = reductionFilling(fill)) {
            // The reduction starts from the fill's value: one kernel.
            Value value = fill.getInputs()[0];
            launched.insert(reduction);
            fill->erase();
            launchKernel(reduction, value);
            continue;
          }
        launchKernel(op);
      }
      makeDeviceResident(func);
    }
  }
};

} // namespace
