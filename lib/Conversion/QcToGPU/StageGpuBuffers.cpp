//===- StageGpuBuffers.cpp - quantc-stage-gpu-buffers ---------------------===//
//
// A synchronous gpu.launch_func on host memrefs becomes, on one stream:
//
//   %t0 = gpu.wait async
//   %d, %t1 = gpu.alloc async [%t0] ()        (per memref operand)
//   %t2 = gpu.memcpy async [%t1] %d, %host    (operands the kernel reads)
//   %t3 = gpu.launch_func async [%t2] ... args(%d, ...)
//   %t4 = gpu.memcpy async [%t3] %host, %d    (operands the kernel writes)
//   %t5 = gpu.dealloc async [%t4] %d
//   gpu.wait [%t5]
//
// which gpu-to-llvm lowers to mgpuStreamCreate, mgpuMemAlloc, mgpuMemcpy, ...
// Which way each operand goes comes from the `qc.operand_access` attribute
// qc-lower-gpu puts on the launch ("in", "out", "inout"), or from the
// kernel's llvm.readonly / llvm.writeonly argument attributes; by default
// both ways.
//
//===----------------------------------------------------------------------===//

#include "quantc/Conversion/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinOps.h"

namespace quantc {
#define GEN_PASS_DEF_STAGEGPUBUFFERS
#include "quantc/Conversion/Passes.h.inc"
} // namespace quantc

using namespace mlir;

namespace {

struct Access {
  bool in = true, out = true;
};

Access operandAccess(mlir::gpu::LaunchFuncOp launch, unsigned index) {
  Access access;
  if (auto list = launch->getAttrOfType<ArrayAttr>("qc.operand_access")) {
    if (index < list.size())
      if (auto kind = dyn_cast<StringAttr>(list[index])) {
        access.in = kind.getValue() != "out";
        access.out = kind.getValue() != "in";
      }
    return access;
  }
  auto kernel = SymbolTable::lookupNearestSymbolFrom<mlir::gpu::GPUFuncOp>(
      launch, launch.getKernel());
  if (!kernel)
    return access;
  if (kernel.getArgAttr(index, LLVM::LLVMDialect::getReadonlyAttrName()))
    access.out = false;
  if (kernel.getArgAttr(index, LLVM::LLVMDialect::getWriteOnlyAttrName()))
    access.in = false;
  return access;
}

struct StageGpuBuffersPass
    : quantc::impl::StageGpuBuffersBase<StageGpuBuffersPass> {
  void runOnOperation() override {
    SmallVector<mlir::gpu::LaunchFuncOp> launches;
    getOperation().walk([&](mlir::gpu::LaunchFuncOp launch) {
      if (!launch.getAsyncToken() && launch.getAsyncDependencies().empty() &&
          launch->getParentOfType<func::FuncOp>())
        launches.push_back(launch);
    });
    for (mlir::gpu::LaunchFuncOp launch : launches)
      if (failed(stage(launch)))
        return signalPassFailure();
  }

  LogicalResult stage(mlir::gpu::LaunchFuncOp launch) {
    OpBuilder b(launch);
    Location loc = launch.getLoc();
    Type tokenType = mlir::gpu::AsyncTokenType::get(b.getContext());
    Value token =
        mlir::gpu::WaitOp::create(b, loc, tokenType, ValueRange{}).getAsyncToken();
    SmallVector<Value> operands(launch.getKernelOperands());
    SmallVector<std::pair<Value, Value>> staged; // (host, device)
    SmallVector<Access> accesses;
    for (auto [index, operand] : llvm::enumerate(operands)) {
      auto type = dyn_cast<MemRefType>(operand.getType());
      if (!type)
        continue;
      if (!type.hasStaticShape() || !type.getLayout().isIdentity())
        return launch.emitError()
               << "quantc-stage-gpu-buffers: operand #" << index
               << " must be a static, contiguous memref, got " << type;
      auto alloc = mlir::gpu::AllocOp::create(b, loc, type, tokenType,
                                              ValueRange{token}, ValueRange{},
                                              ValueRange{});
      token = alloc.getAsyncToken();
      Access access = operandAccess(launch, index);
      if (access.in)
        token = mlir::gpu::MemcpyOp::create(b, loc, tokenType, ValueRange{token},
                                            alloc.getMemref(), operand)
                    .getAsyncToken();
      staged.push_back({operand, alloc.getMemref()});
      accesses.push_back(access);
      operands[index] = alloc.getMemref();
    }
    auto asyncLaunch = mlir::gpu::LaunchFuncOp::create(
        b, loc, launch.getKernelAttr(), launch.getGridSizeOperandValues(),
        launch.getBlockSizeOperandValues(), launch.getDynamicSharedMemorySize(),
        operands, tokenType, ValueRange{token},
        launch.hasClusterSize()
            ? std::optional(launch.getClusterSizeOperandValues())
            : std::nullopt);
    token = asyncLaunch.getAsyncToken();
    for (auto [buffers, access] : llvm::zip(staged, accesses))
      if (access.out)
        token = mlir::gpu::MemcpyOp::create(b, loc, tokenType, ValueRange{token},
                                            buffers.first, buffers.second)
                    .getAsyncToken();
    for (auto &buffers : staged)
      token = mlir::gpu::DeallocOp::create(b, loc, tokenType, ValueRange{token},
                                           buffers.second)
                  .getAsyncToken();
    mlir::gpu::WaitOp::create(b, loc, Type(), ValueRange{token});
    launch.erase();
    return success();
  }
};

} // namespace
