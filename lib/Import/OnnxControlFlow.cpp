//===- OnnxControlFlow.cpp - ONNX ops with subgraphs -> scf ---------------===//
//
// Ops whose attributes hold subgraphs, imported through the context's
// subgraph hook (OnnxNodeContext::importSubgraph): the lowering creates the
// region, points the builder into it, imports the graph there and yields its
// outputs: If (scf.if; a condition known at import time inlines the taken
// branch).
//
// Loop and Scan are unrolled at import time: every iteration imports the
// body once, with the iteration number (Loop) bound as a known constant so
// that the body's shape logic (Slice by the iteration number, say) folds to
// static shapes, and scan outputs are stacked with tensor.concat. So Loop
// needs its trip count or its condition known at import time at every
// iteration (the condition may not be computed from run-time data), and
// both are bounded by kMaxUnrolledIterations.
//
//===----------------------------------------------------------------------===//

#include "quantc/Import/OnnxLowering.h"
#include "quantc/Import/OnnxOpRegistry.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Matchers.h"

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

/// Unrolling beyond this many body imports is rejected.
constexpr int64_t kMaxUnrolledIterations = 4096;

/// The value of a body output if it is a constant (a known value the
/// importer materialized), as a bool.
std::optional<bool> constantCondition(Value value) {
  DenseElementsAttr attr;
  if (!matchPattern(value, m_Constant(&attr)) || attr.getNumElements() != 1)
    return std::nullopt;
  if (attr.getElementType().isInteger(1))
    return *attr.getValues<bool>().begin();
  return std::nullopt;
}

/// `parts` (same shape) stacked along a new axis `axis`.
Value stack(OpBuilder &b, Location loc, ArrayRef<Value> parts, int64_t axis) {
  auto type = cast<RankedTensorType>(parts[0].getType());
  SmallVector<int64_t> shape(type.getShape());
  shape.insert(shape.begin() + axis, 1);
  SmallVector<Value> expanded;
  for (Value part : parts)
    expanded.push_back(reshapeTensor(b, loc, part, shape));
  if (expanded.size() == 1)
    return expanded[0];
  return tensor::ConcatOp::create(b, loc, axis, expanded);
}

/// Slice `index` of `value` along `axis`, without that axis.
Value sliceAlong(OpBuilder &b, Location loc, Value value, int64_t axis,
                 int64_t index) {
  auto type = cast<RankedTensorType>(value.getType());
  SmallVector<OpFoldResult> offsets, sizes, strides;
  SmallVector<int64_t> shape;
  for (int64_t d = 0; d < type.getRank(); ++d) {
    offsets.push_back(b.getIndexAttr(d == axis ? index : 0));
    sizes.push_back(b.getIndexAttr(d == axis ? 1 : type.getDimSize(d)));
    strides.push_back(b.getIndexAttr(1));
    if (d != axis)
      shape.push_back(type.getDimSize(d));
  }
  Value slice =
      tensor::ExtractSliceOp::create(b, loc, value, offsets, sizes, strides);
  return reshapeTensor(b, loc, slice, shape);
}

LogicalResult lowerLoop(OnnxNodeContext &ctx) {
  const onnx::GraphProto *body = ctx.attrGraph("body");
  if (ctx.failed())
    return failure();
  if (!body)
    return ctx.emitError("attribute 'body' is required");
  std::optional<int64_t> tripCount;
  if (ctx.hasInput(0)) {
    std::optional<SmallVector<int64_t>> m = ctx.constantInts(0);
    if (!m || m->size() != 1)
      return ctx.emitError("the trip count M must be known at import time");
    tripCount = (*m)[0];
  }
  bool condition = true;
  if (ctx.hasInput(1)) {
    std::optional<SmallVector<int64_t>> c = ctx.constantInts(1);
    if (!c || c->size() != 1)
      return ctx.emitError("the initial condition must be known at import "
                           "time");
    condition = (*c)[0] != 0;
  }
  int64_t limit = tripCount ? *tripCount : kMaxUnrolledIterations + 1;
  if (limit > kMaxUnrolledIterations)
    return ctx.emitError("a loop of more than " +
                         std::to_string(kMaxUnrolledIterations) +
                         " iterations (or one bounded only by its condition) "
                         "is not supported");
  unsigned numCarried = ctx.numInputs() > 2 ? ctx.numInputs() - 2 : 0;
  SmallVector<Value> carried;
  SmallVector<OnnxDType> carriedDTypes;
  for (unsigned i = 0; i < numCarried; ++i) {
    carried.push_back(ctx.input(2 + i));
    carriedDTypes.push_back(ctx.inputDType(2 + i));
  }
  SmallVector<SmallVector<Value>> scans;
  SmallVector<OnnxDType> scanDTypes;
  int64_t iterations = 0;
  for (int64_t i = 0; i < limit && condition; ++i, ++iterations) {
    SmallVector<Value> inputs = {Value(), Value()};
    inputs.append(carried.begin(), carried.end());
    auto iterationNumber = std::make_shared<KnownTensor>(
        KnownTensor::fromInts(OnnxDType::Int64, {}, {i}));
    auto conditionIn = std::make_shared<KnownTensor>(
        KnownTensor::fromInts(OnnxDType::Bool, {}, {1}));
    SmallVector<std::shared_ptr<const KnownTensor>> known = {iterationNumber,
                                                             conditionIn};
    SmallVector<Value> outputs;
    SmallVector<OnnxDType> dtypes;
    if (failed(ctx.importSubgraph(*body, inputs, outputs, dtypes, known)))
      return failure();
    if (outputs.size() < 1 + numCarried)
      return ctx.emitError("the body has " + std::to_string(outputs.size()) +
                           " outputs, fewer than 1 + " +
                           std::to_string(numCarried) + " loop-carried values");
    std::optional<bool> next = constantCondition(outputs[0]);
    if (!next)
      return ctx.emitError("the loop condition is computed at run time "
                           "(only loops whose iteration count is known at "
                           "import time are supported)");
    condition = *next;
    for (unsigned k = 0; k < numCarried; ++k) {
      if (outputs[1 + k].getType() != carried[k].getType())
        return ctx.emitError("loop-carried value " + std::to_string(k) +
                             " changes its shape or type between iterations");
      carried[k] = outputs[1 + k];
      carriedDTypes[k] = dtypes[1 + k];
    }
    size_t numScans = outputs.size() - 1 - numCarried;
    scans.resize(numScans);
    scanDTypes.resize(numScans);
    for (size_t j = 0; j < numScans; ++j) {
      Value value = outputs[1 + numCarried + j];
      if (!scans[j].empty() && scans[j][0].getType() != value.getType())
        return ctx.emitError("scan output " + std::to_string(j) +
                             " changes its shape between iterations");
      scans[j].push_back(value);
      scanDTypes[j] = dtypes[1 + numCarried + j];
    }
  }
  if (!tripCount && condition)
    return ctx.emitError("the loop runs past " +
                         std::to_string(kMaxUnrolledIterations) +
                         " iterations");
  unsigned numScanOutputs = ctx.numOutputs() - numCarried;
  if (iterations == 0 && numScanOutputs > 0)
    return ctx.emitError("a loop of zero iterations with scan outputs is not "
                         "supported");
  for (unsigned k = 0; k < numCarried; ++k)
    ctx.setOutput(k, carried[k], carriedDTypes[k]);
  for (unsigned j = 0; j < numScanOutputs && j < scans.size(); ++j)
    if (ctx.hasOutput(numCarried + j))
      ctx.setOutput(numCarried + j,
                    stack(ctx.builder(), ctx.loc(), scans[j], 0), scanDTypes[j]);
  return success();
}

/// Scan (opset 9+; opset 8 with its leading batch axis): the body runs once
/// per element of the scan axis (in the scan direction), states threaded
/// through, scan outputs stacked along their axes.
LogicalResult lowerScan(OnnxNodeContext &ctx) {
  const onnx::GraphProto *body = ctx.attrGraph("body");
  int64_t numScanInputs = ctx.requireAttrInt("num_scan_inputs");
  if (ctx.failed())
    return failure();
  if (!body)
    return ctx.emitError("attribute 'body' is required");
  bool batched = ctx.opset() < 9;
  unsigned first = batched ? 1 : 0; // opset 8: sequence_lens first
  if (batched && ctx.hasInput(0))
    return ctx.emitError("sequence_lens is not supported");
  int64_t numStates = (int64_t)ctx.numInputs() - first - numScanInputs;
  if (numScanInputs < 1 || numStates < 0)
    return ctx.emitError("num_scan_inputs does not fit the inputs");
  SmallVector<int64_t> inputAxes =
      batched ? SmallVector<int64_t>(numScanInputs, 1)
              : ctx.attrInts("scan_input_axes",
                             SmallVector<int64_t>(numScanInputs, 0));
  SmallVector<int64_t> inputDirections = ctx.attrInts(
      batched ? "directions" : "scan_input_directions",
      SmallVector<int64_t>(numScanInputs, 0));
  int64_t numScanOutputs = (int64_t)ctx.numOutputs() - numStates;
  SmallVector<int64_t> outputAxes =
      batched ? SmallVector<int64_t>(numScanOutputs, 0)
              : ctx.attrInts("scan_output_axes",
                             SmallVector<int64_t>(numScanOutputs, 0));
  SmallVector<int64_t> outputDirections =
      batched ? SmallVector<int64_t>(numScanOutputs, 0)
              : ctx.attrInts("scan_output_directions",
                             SmallVector<int64_t>(numScanOutputs, 0));
  if (ctx.failed())
    return failure();
  if ((int64_t)inputAxes.size() != numScanInputs ||
      (int64_t)inputDirections.size() != numScanInputs ||
      (int64_t)outputAxes.size() != numScanOutputs ||
      (int64_t)outputDirections.size() != numScanOutputs)
    return ctx.emitError("scan axes/directions do not match the scan inputs "
                         "and outputs");
  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  int64_t batch = 1;
  if (batched) {
    batch = ctx.inputShape(first)[0];
    for (unsigned i = first; i < ctx.numInputs(); ++i)
      if (ctx.inputRank(i) < 1 || ctx.inputShape(i)[0] != batch)
        return ctx.emitError("every input must have the batch size first");
  }
  int64_t length = -1;
  for (int64_t j = 0; j < numScanInputs; ++j) {
    unsigned index = first + numStates + j;
    FailureOr<int64_t> axis =
        normalizeAxis(ctx, inputAxes[j], ctx.inputRank(index), "scan_input_axes");
    if (failed(axis))
      return failure();
    inputAxes[j] = *axis;
    int64_t size = ctx.inputShape(index)[*axis];
    if (length >= 0 && size != length)
      return ctx.emitError("scan inputs have different lengths");
    length = size;
  }
  if (length < 1)
    return ctx.emitError("an empty scan is not supported");
  if (batch * length > kMaxUnrolledIterations)
    return ctx.emitError("a scan of more than " +
                         std::to_string(kMaxUnrolledIterations) +
                         " steps is not supported");
  // Per batch entry (one entry without opset 8's batch axis).
  SmallVector<SmallVector<Value>> finalStates(numStates);
  SmallVector<SmallVector<Value>> scanResults(numScanOutputs);
  SmallVector<OnnxDType> dtypes(numStates + numScanOutputs);
  for (int64_t n = 0; n < batch; ++n) {
    SmallVector<Value> states, scanInputs;
    for (int64_t k = 0; k < numStates; ++k) {
      Value state = ctx.input(first + k);
      states.push_back(batched ? sliceAlong(b, loc, state, 0, n) : state);
    }
    for (int64_t j = 0; j < numScanInputs; ++j) {
      Value input = ctx.input(first + numStates + j);
      scanInputs.push_back(batched ? sliceAlong(b, loc, input, 0, n) : input);
    }
    SmallVector<SmallVector<Value>> steps(numScanOutputs);
    for (int64_t t = 0; t < length; ++t) {
      SmallVector<Value> inputs(states);
      for (int64_t j = 0; j < numScanInputs; ++j) {
        int64_t position = inputDirections[j] ? length - 1 - t : t;
        int64_t axis = batched ? inputAxes[j] - 1 : inputAxes[j];
        inputs.push_back(sliceAlong(b, loc, scanInputs[j], axis, position));
      }
      SmallVector<Value> outputs;
      SmallVector<OnnxDType> outputDTypes;
      if (failed(ctx.importSubgraph(*body, inputs, outputs, outputDTypes)))
        return failure();
      if ((int64_t)outputs.size() != numStates + numScanOutputs)
        return ctx.emitError("the body has " + std::to_string(outputs.size()) +
                             " outputs, the node " +
                             std::to_string(numStates + numScanOutputs));
      for (int64_t k = 0; k < numStates; ++k) {
        if (outputs[k].getType() != states[k].getType())
          return ctx.emitError("state " + std::to_string(k) +
                               " changes its shape or type");
        states[k] = outputs[k];
      }
      for (int64_t j = 0; j < numScanOutputs; ++j) {
        Value value = outputs[numStates + j];
        if (!steps[j].empty() && steps[j][0].getType() != value.getType())
          return ctx.emitError("scan output " + std::to_string(j) +
                               " changes its shape between steps");
        steps[j].push_back(value);
      }
      dtypes.assign(outputDTypes.begin(), outputDTypes.end());
    }
    for (int64_t k = 0; k < numStates; ++k)
      finalStates[k].push_back(states[k]);
    for (int64_t j = 0; j < numScanOutputs; ++j) {
      if (outputDirections[j])
        std::reverse(steps[j].begin(), steps[j].end());
      int64_t rank = cast<RankedTensorType>(steps[j][0].getType()).getRank() + 1;
      FailureOr<int64_t> axis =
          normalizeAxis(ctx, outputAxes[j], rank, "scan_output_axes");
      if (failed(axis))
        return failure();
      scanResults[j].push_back(stack(b, loc, steps[j], *axis));
    }
  }
  for (int64_t k = 0; k < numStates; ++k)
    ctx.setOutput(k, batched ? stack(b, loc, finalStates[k], 0) : finalStates[k][0],
                  dtypes[k]);
  for (int64_t j = 0; j < numScanOutputs; ++j)
    if (ctx.hasOutput(numStates + j))
      ctx.setOutput(numStates + j,
                    batched ? stack(b, loc, scanResults[j], 0) : scanResults[j][0],
                    dtypes[numStates + j]);
  return success();
}

} // namespace

void registerOnnxControlFlowOps(OnnxOpRegistry &registry) {
  registry.add("If", lowerIf);
  registry.add("Loop", lowerLoop);
  registry.add("Scan", lowerScan, nullptr, 8);
}

} // namespace quantc
