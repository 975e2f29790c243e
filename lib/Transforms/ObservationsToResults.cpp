//===- ObservationsToResults.cpp - qc-observations-to-results -------------===//
//
// Prepares an instrumented module for a calibration run: every qc.observe of
// a function becomes an extra result of that function, annotated with what
// to collect, and (by default) every qc.fake_quant is bypassed. Returning the
// tensors rather than calling into a runtime keeps calibration on the one
// well-trodden path: the same lowering, the same JIT, the same calling
// convention as quant-run; the driver accumulates the statistics from the
// results of each sample (quantc/Runtime/CalibrationStats.h).
//
//===----------------------------------------------------------------------===//

#include "quantc/Transforms/Passes.h"

#include "mlir/IR/Builders.h"

namespace mlir::qc {
#define GEN_PASS_DEF_QCOBSERVATIONSTORESULTS
#include "quantc/Transforms/Passes.h.inc"
} // namespace mlir::qc

using namespace mlir;
using namespace mlir::qc;

namespace {

struct QcObservationsToResultsPass
    : mlir::qc::impl::QcObservationsToResultsBase<QcObservationsToResultsPass> {
  using QcObservationsToResultsBase::QcObservationsToResultsBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (dropFakeQuant) {
      SmallVector<FakeQuantOp> quants;
      module.walk([&](FakeQuantOp op) { quants.push_back(op); });
      for (FakeQuantOp op : quants) {
        op.getResult().replaceAllUsesWith(op.getInput());
        op.erase();
      }
    }
    for (auto func : module.getOps<func::FuncOp>())
      if (!func.isExternal() && failed(convert(func)))
        return signalPassFailure();
  }

  LogicalResult convert(func::FuncOp func) {
    SmallVector<ObserveOp> observes, inRegions;
    func.walk([&](ObserveOp op) {
      // A tensor inside a loop or branch body has no value at the return:
      // that layer gets no statistics (its passes say so), the rest do.
      if (op->getParentOp() != func.getOperation())
        inRegions.push_back(op);
      else
        observes.push_back(op);
    });
    for (ObserveOp op : inRegions) {
      op.emitWarning() << "qc-observations-to-results: '" << op.getName()
                       << "' is inside a branch or loop body; calibration "
                          "cannot return it and collects nothing for it";
      op.erase();
    }
    if (observes.empty())
      return success();
    if (!llvm::hasSingleElement(func.getBody())) {
      func.emitError() << "qc-observations-to-results: functions with "
                          "several blocks are not supported";
      return failure();
    }

    auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
    SmallVector<Value> results(ret.getOperands());
    SmallVector<Type> resultTypes(func.getResultTypes());
    SmallVector<DictionaryAttr> resultAttrs;
    for (unsigned i = 0; i < func.getNumResults(); ++i)
      resultAttrs.push_back(func.getResultAttrDict(i)
                                ? func.getResultAttrDict(i)
                                : DictionaryAttr::get(func.getContext()));
    OpBuilder b(ret);
    for (ObserveOp op : observes) {
      // A copy of its own: the observed tensor may be a function argument or
      // another result, which the function cannot return as a new buffer.
      auto type = cast<RankedTensorType>(op.getInput().getType());
      Value empty = tensor::EmptyOp::create(b, op.getLoc(), type.getShape(),
                                            type.getElementType());
      Value copy = linalg::CopyOp::create(b, op.getLoc(), op.getInput(), empty)
                       .getResult(0);
      results.push_back(copy);
      resultTypes.push_back(op.getInput().getType());
      SmallVector<NamedAttribute> attrs = {
          b.getNamedAttr("qc.observe", op.getNameAttr()),
          b.getNamedAttr("qc.observe_axis", op.getAxisAttr()),
          b.getNamedAttr("qc.observe_stats", op.getStatsAttr()),
      };
      // A convolution input's patch geometry (its Hessian is over patches).
      if (op.getKernelAttr()) {
        attrs.push_back(b.getNamedAttr("qc.observe_kernel", op.getKernelAttr()));
        attrs.push_back(
            b.getNamedAttr("qc.observe_strides", op.getStridesAttr()));
        attrs.push_back(
            b.getNamedAttr("qc.observe_dilations", op.getDilationsAttr()));
        if (op.getGroupAxisAttr())
          attrs.push_back(
              b.getNamedAttr("qc.observe_group_axis", op.getGroupAxisAttr()));
      }
      resultAttrs.push_back(b.getDictionaryAttr(attrs));
      op.erase();
    }
    ret->setOperands(results);
    func.setFunctionType(
        b.getFunctionType(func.getArgumentTypes(), resultTypes));
    func.setAllResultAttrs(resultAttrs);
    return success();
  }
};

} // namespace
