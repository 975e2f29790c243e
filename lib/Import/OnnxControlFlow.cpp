//===- OnnxControlFlow.cpp - ONNX ops with subgraphs -> scf ---------------===//
//
// Ops whose attributes hold subgraphs, imported through the context's
// subgraph hook (OnnxNodeContext::importSubgraph): the lowering creates the
// region, points the builder into it, imports the graph there and yields its
// outputs. So far: If (scf.if; a condition known at import time inlines the
// taken branch). Loop and Scan belong here too.
//
//===----------------------------------------------------------------------===//

#include "quantc/Import/OnnxLowering.h"
#include "quantc/Import/OnnxOpRegistry.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

namespace quantc {
namespace {

std::string typeText(Type type) {
  std::string text;
  llvm::raw_string_ostream os(text);
  type.print(os);
  return text;
}

LogicalResult lowerIf(OnnxNodeContext &ctx) {
  const onnx::GraphProto *thenGraph = ctx.attrGraph("then_branch");
  const onnx::GraphProto *elseGraph = ctx.attrGraph("else_branch");
  if (ctx.failed())
    return failure();
  if (!thenGraph || !elseGraph)
    return ctx.emitError("attributes 'then_branch' and 'else_branch' are "
                         "required");
  if (ctx.inputDType(0) != OnnxDType::Bool ||
      numElementsOf(ctx.inputShape(0)) != 1)
    return ctx.emitError("the condition must be a single bool");

  // A condition known at import time: the taken branch, inline.
  if (const KnownTensor *cond = ctx.knownInput(0)) {
    SmallVector<Value> outputs;
    SmallVector<OnnxDType> dtypes;
    if (failed(ctx.importSubgraph(cond->ints[0] ? *thenGraph : *elseGraph, {},
                                  outputs, dtypes)))
      return failure();
    if (outputs.size() != ctx.numOutputs())
      return ctx.emitError("the branch has " + std::to_string(outputs.size()) +
                           " outputs, the node " +
                           std::to_string(ctx.numOutputs()));
    for (auto [index, value] : llvm::enumerate(outputs))
      ctx.setOutput(index, value, dtypes[index]);
    return success();
  }

  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value cond = tensor::ExtractOp::create(
      b, loc, reshapeTensor(b, loc, ctx.input(0), {}), ValueRange{});
  // The result types are those of the imported branches: import both into a
  // result-less scf.if first, then move the regions into the final one.
  auto draft = scf::IfOp::create(b, loc, TypeRange{}, cond,
                                 /*addThenBlock=*/true, /*addElseBlock=*/true);
  SmallVector<Value> branchOutputs[2];
  SmallVector<OnnxDType> branchDTypes[2];
  Block *blocks[2] = {draft.thenBlock(), draft.elseBlock()};
  const onnx::GraphProto *graphs[2] = {thenGraph, elseGraph};
  for (int branch = 0; branch < 2; ++branch) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToEnd(blocks[branch]);
    if (failed(ctx.importSubgraph(*graphs[branch], {}, branchOutputs[branch],
                                  branchDTypes[branch]))) {
      draft.erase();
      return failure();
    }
    scf::YieldOp::create(b, loc, branchOutputs[branch]);
  }
  auto fail = [&](const Twine &message) {
    draft.erase();
    return ctx.emitError(message);
  };
  if (branchOutputs[0].size() != ctx.numOutputs() ||
      branchOutputs[1].size() != ctx.numOutputs())
    return fail("the branches have " + std::to_string(branchOutputs[0].size()) +
                " and " + std::to_string(branchOutputs[1].size()) +
                " outputs, the node " + std::to_string(ctx.numOutputs()));
  SmallVector<Type> types;
  for (size_t i = 0; i < branchOutputs[0].size(); ++i) {
    Type thenType = branchOutputs[0][i].getType();
    Type elseType = branchOutputs[1][i].getType();
    if (thenType != elseType || branchDTypes[0][i] != branchDTypes[1][i])
      return fail("output " + std::to_string(i) + " is " + typeText(thenType) +
                  " in then_branch but " + typeText(elseType) +
                  " in else_branch (branches of different shapes are not "
                  "supported)");
    types.push_back(thenType);
  }
  auto ifOp = scf::IfOp::create(b, loc, types, cond, /*addThenBlock=*/false,
                                /*addElseBlock=*/false);
  ifOp.getThenRegion().takeBody(draft.getThenRegion());
  ifOp.getElseRegion().takeBody(draft.getElseRegion());
  draft.erase();
  for (auto [index, result] : llvm::enumerate(ifOp.getResults()))
    ctx.setOutput(index, result, branchDTypes[0][index]);
  return success();
}

} // namespace

void registerOnnxControlFlowOps(OnnxOpRegistry &registry) {
  registry.add("If", lowerIf);
}

} // namespace quantc
