//===- LaunchParallelTasks.cpp - calls to tasks -> quantc_parallel_for ----===//
//
// Runs on the LLVM dialect, where every argument of a task (memref
// descriptors included) is a plain LLVM value that can be stored into a
// context struct; see the pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "quantc/Conversion/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/Matchers.h"

namespace quantc {
#define GEN_PASS_DEF_LAUNCHPARALLELTASKS
#include "quantc/Conversion/Passes.h.inc"
} // namespace quantc

using namespace mlir;

namespace {

constexpr StringLiteral kTaskAttr = "quantc.parallel_task";

/// `void <task>_trampoline(ptr context, i64 begin, i64 end)`: loads the
/// task's leading arguments from the context struct and calls it on
/// [begin, end).
LLVM::LLVMFuncOp getOrCreateTrampoline(ModuleOp module, LLVM::LLVMFuncOp task,
                                       LLVM::LLVMStructType contextType) {
  std::string name = (task.getName() + "_trampoline").str();
  if (auto existing = module.lookupSymbol<LLVM::LLVMFuncOp>(name))
    return existing;
  MLIRContext *ctx = module.getContext();
  ImplicitLocOpBuilder b(task.getLoc(), ctx);
  b.setInsertionPointToEnd(module.getBody());
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto i64 = IntegerType::get(ctx, 64);
  auto type = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx),
                                          {ptr, i64, i64});
  auto trampoline =
      LLVM::LLVMFuncOp::create(b, name, type, LLVM::Linkage::Internal);
  Block *entry = trampoline.addEntryBlock(b);
  b.setInsertionPointToStart(entry);
  SmallVector<Value> arguments;
  for (auto [i, fieldType] : llvm::enumerate(contextType.getBody())) {
    Value field = LLVM::GEPOp::create(
        b, ptr, contextType, entry->getArgument(0),
        ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(i)});
    arguments.push_back(LLVM::LoadOp::create(b, fieldType, field));
  }
  arguments.push_back(entry->getArgument(1));
  arguments.push_back(entry->getArgument(2));
  LLVM::CallOp::create(b, task, arguments);
  LLVM::ReturnOp::create(b, ValueRange{});
  return trampoline;
}

struct LaunchParallelTasksPass
    : quantc::impl::LaunchParallelTasksBase<LaunchParallelTasksPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    auto i64 = IntegerType::get(ctx, 64);

    SmallVector<LLVM::CallOp> launches;
    module.walk([&](LLVM::CallOp call) {
      std::optional<StringRef> callee = call.getCallee();
      if (!callee)
        return;
      auto task = module.lookupSymbol<LLVM::LLVMFuncOp>(*callee);
      if (task && task->hasAttr(kTaskAttr) &&
          call->getParentOfType<LLVM::LLVMFuncOp>() != task)
        launches.push_back(call);
    });
    if (launches.empty())
      return;

    auto parallelFor = module.lookupSymbol<LLVM::LLVMFuncOp>(
        "quantc_parallel_for");
    if (!parallelFor) {
      OpBuilder b(module.getBodyRegion());
      b.setInsertionPointToStart(module.getBody());
      parallelFor = LLVM::LLVMFuncOp::create(
          b, module.getLoc(), "quantc_parallel_for",
          LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx),
                                      {ptr, ptr, i64}));
    }

    for (LLVM::CallOp call : launches) {
      auto task = module.lookupSymbol<LLVM::LLVMFuncOp>(*call.getCallee());
      // Only the trampoline calls it now: internal, so that LLVM inlines it
      // there and a compiled library does not export it.
      if (!task.isExternal()) {
        task.setLinkage(LLVM::Linkage::Internal);
        task->removeAttr(SymbolTable::getVisibilityAttrName());
      }
      ValueRange operands = call.getArgOperands();
      if (operands.size() < 2) {
        call.emitError("quantc.parallel_task callee must end with (begin, "
                       "end) arguments");
        return signalPassFailure();
      }
      ValueRange captured = operands.drop_back(2);
      Value begin = operands[operands.size() - 2];
      Value end = operands.back();
      if (!matchPattern(begin, m_Zero())) {
        call.emitError("quantc.parallel_task launched from a nonzero begin");
        return signalPassFailure();
      }
      SmallVector<Type> fieldTypes(captured.getTypes());
      auto contextType = LLVM::LLVMStructType::getLiteral(ctx, fieldTypes);
      LLVM::LLVMFuncOp trampoline =
          getOrCreateTrampoline(module, task, contextType);

      ImplicitLocOpBuilder b(call.getLoc(), call);
      Value one = LLVM::ConstantOp::create(b, i64, b.getI64IntegerAttr(1));
      Value context = LLVM::AllocaOp::create(b, ptr, contextType, one, 8);
      for (auto [i, value] : llvm::enumerate(captured)) {
        Value field = LLVM::GEPOp::create(
            b, ptr, contextType, context,
            ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(i)});
        LLVM::StoreOp::create(b, value, field);
      }
      Value function = LLVM::AddressOfOp::create(b, trampoline);
      LLVM::CallOp::create(b, parallelFor, ValueRange{function, context, end});
      call.erase();
    }
  }
};

} // namespace
