//===- TwoPassSoftmax.cpp - linalg.softmax -> two-pass vector kernel ------===//
//
// Lowers `linalg.softmax` on buffers: along a contiguous last dimension to
// the Two-Pass Softmax algorithm (Dukhan & Ablavatski, 2020) in vectors, run
// over the thread pool; otherwise to the scalar loops of the classic
// three-pass algorithm. See the pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "quantc/Conversion/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <cmath>
#include <limits>

namespace quantc {
#define GEN_PASS_DEF_TWOPASSSOFTMAX
#include "quantc/Conversion/Passes.h.inc"
} // namespace quantc

using namespace mlir;

namespace {

// exp(t) = p * 2^n with n = round(t * log2(e)) and p = exp(r) on
// r = t - n * ln2 in [-ln2/2, ln2/2]. ln2 is split in two (Cody-Waite):
// kLn2Hi has 15 significant bits, so n * kLn2Hi is exact for |n| < 512,
// which the clamp of t below keeps.
constexpr float kLog2E = 0x1.715476p+0f;
constexpr float kLn2Hi = 0x1.62E400p-1f;
constexpr float kLn2Lo = 0x1.7F7D1Cp-20f;
// exp(r) ~ 1 + r * (c1 + r * (c2 + ... + r * c6)) on [-ln2/2, ln2/2]: fitted
// to the relative error (iteratively reweighted least squares, float64):
// 2e-9 relative, about 1.1 ulp in f32 Horner arithmetic.
constexpr float kExpCoefficients[] = {0x1.000000p+0f,  0x1.fffffcp-2f,
                                      0x1.55541ap-3f,  0x1.555822p-5f,
                                      0x1.126788p-7f,  0x1.6ae738p-10f};
// t = x - shift is clamped to [-kClamp, kClamp]: |n| <= 433 < 512. Terms
// clamped from below are exp(-300) relative to 1 and vanish against the
// row's largest term as long as its exponent is at least kLowestExponent
// (x >= -190: their scale 2^(n - n_max) is below 2^-150, flushed to 0);
// rows whose largest exponent is outside [kLowestExponent,
// kHighestExponent] (max x about outside [-190, 200], or clamped), and rows
// holding a NaN, are computed again from their max.
constexpr float kClamp = 300.0f;
constexpr float kLowestExponent = -274.0f;
constexpr float kHighestExponent = 288.0f;
// The running exponent starts below every clamped n.
constexpr float kExponentFloor = -1000.0f;

bool hasUnitInnerStride(MemRefType type) {
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)))
    return false;
  return !strides.empty() && strides.back() == 1;
}

/// Whether the vector kernel applies: f32, static shapes, softmax along the
/// last dimension, which both buffers store contiguously.
bool takesVectorKernel(linalg::SoftmaxOp op) {
  auto input = dyn_cast<MemRefType>(op.getInput().getType());
  auto output = dyn_cast<MemRefType>(op.getOutput().getType());
  if (!input || !output || !input.getElementType().isF32() ||
      !input.hasStaticShape() || !output.hasStaticShape())
    return false;
  return static_cast<int64_t>(op.getDimension()) == input.getRank() - 1 &&
         input.getRank() >= 1 && hasUnitInnerStride(input) &&
         hasUnitInnerStride(output);
}

/// Emits one kernel: `func(in, out, begin, end)` over rows [begin, end).
class SoftmaxKernelBuilder {
public:
  SoftmaxKernelBuilder(linalg::SoftmaxOp op, int64_t vectorWidth,
                       func::FuncOp func)
      : shape(cast<MemRefType>(op.getInput().getType()).getShape()),
        width(vectorWidth), b(op.getLoc(), func.getContext()) {
    Block *entry = func.addEntryBlock();
    b.setInsertionPointToStart(entry);
    input = entry->getArgument(0);
    output = entry->getArgument(1);
    begin = entry->getArgument(2);
    end = entry->getArgument(3);
    f32 = b.getF32Type();
    vectorType = VectorType::get({width}, f32);
    intVectorType = VectorType::get({width}, b.getI32Type());
  }

  void emit();

private:
  /// The (sum, exponent) pair of one row, and whether it holds a NaN.
  struct RowSums {
    Value sum, exponent, anyNaN;
  };

  Value index(int64_t value) {
    return arith::ConstantIndexOp::create(b, value);
  }
  Value scalar(float value) {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(value));
  }
  Value splat(float value) {
    return arith::ConstantOp::create(
        b, DenseElementsAttr::get(vectorType, b.getF32FloatAttr(value)));
  }
  Value mul(Value x, Value y) {
    return arith::MulFOp::create(b, x, y, arith::FastMathFlags::contract);
  }
  Value add(Value x, Value y) {
    return arith::AddFOp::create(b, x, y, arith::FastMathFlags::contract);
  }
  Value sub(Value x, Value y) {
    return arith::SubFOp::create(b, x, y, arith::FastMathFlags::contract);
  }
  /// x > y ? x : y and x < y ? x : y: y where either is NaN. One vmaxps /
  /// vminps on x86, where maxnumf / maximumf take three to six
  /// instructions for their NaN and signed-zero rules.
  Value greater(Value x, Value y) {
    return arith::SelectOp::create(
        b, arith::CmpFOp::create(b, arith::CmpFPredicate::OGT, x, y), x, y);
  }
  Value lesser(Value x, Value y) {
    return arith::SelectOp::create(
        b, arith::CmpFOp::create(b, arith::CmpFPredicate::OLT, x, y), x, y);
  }
  /// max(x, y) of values that are never NaN: one vmaxps.
  Value maxOfNumbers(Value x, Value y) {
    return arith::MaxNumFOp::create(b, x, y,
                                    arith::FastMathFlags::nnan |
                                        arith::FastMathFlags::nsz);
  }
  /// Lanes [0, valid) of a vector of `width`.
  Value tailMask(int64_t valid) {
    SmallVector<bool> lanes(width, false);
    std::fill_n(lanes.begin(), valid, true);
    return arith::ConstantOp::create(
        b, DenseElementsAttr::get(VectorType::get({width}, b.getI1Type()),
                                  ArrayRef<bool>(lanes)));
  }

  /// Indices of element `column` of the row whose outer indices are `outer`.
  SmallVector<Value> indicesAt(ArrayRef<Value> outer, Value column) {
    SmallVector<Value> indices(outer);
    indices.push_back(column);
    return indices;
  }

  /// The input vector at `column` of the row `outer`; with `mask` (a
  /// partial vector) its lanes past the row's end are `padding`.
  Value loadInput(ArrayRef<Value> outer, Value column, Value mask,
                  float padding) {
    SmallVector<Value> indices = indicesAt(outer, column);
    if (!mask)
      return vector::LoadOp::create(b, vectorType, input, indices);
    return vector::MaskedLoadOp::create(b, vectorType, input, indices, mask,
                                        splat(padding));
  }

  /// (p, n) with exp(x - shift) = p * 2^n, for a vector of x.
  std::pair<Value, Value> expPair(Value x, Value shift);
  /// 2^k for integral k <= 0; 0 for k < -126.
  Value exp2Integral(Value k);
  /// Pass 1: the row's (sum, exponent) pair of exp(x - shift).
  RowSums accumulateRow(ArrayRef<Value> outer, Value shift);
  /// The row's max (NaN if it holds one), for rows pass 1 cannot take.
  Value rowMax(ArrayRef<Value> outer);
  /// Pass 2: out = exp(x - shift) / (sum * 2^exponent).
  void normalizeRow(ArrayRef<Value> outer, Value shift, Value sum,
                    Value exponent);
  void fillRow(ArrayRef<Value> outer, float value);
  /// Calls `body(column, mask)` on every vector of the row, mask null for
  /// full vectors, with the loop-carried values `init`; returns them.
  SmallVector<Value>
  forEachVector(ValueRange init,
                function_ref<SmallVector<Value>(Value, Value, ValueRange)> body);

  ArrayRef<int64_t> shape;
  int64_t width;
  ImplicitLocOpBuilder b;
  Value input, output, begin, end;
  Type f32;
  VectorType vectorType, intVectorType;
};

std::pair<Value, Value> SoftmaxKernelBuilder::expPair(Value x, Value shift) {
  // NaN becomes the lower bound, so every lane stays finite (a row with a
  // NaN is detected on the side and written as NaN).
  Value t = arith::SubFOp::create(b, x, vector::BroadcastOp::create(
                                            b, vectorType, shift));
  t = lesser(greater(t, splat(-kClamp)), splat(kClamp));
  // Round to nearest through the 1.5 * 2^23 magic number (roundeven would be
  // a libm call on targets without SSE4.1).
  Value magic = splat(0x1.8p23f);
  Value n = sub(add(mul(t, splat(kLog2E)), magic), magic);
  Value r = sub(t, mul(n, splat(kLn2Hi)));
  r = sub(r, mul(n, splat(kLn2Lo)));
  Value p = splat(kExpCoefficients[5]);
  for (int i = 4; i >= 0; --i)
    p = add(mul(p, r), splat(kExpCoefficients[i]));
  p = add(mul(p, r), splat(1.0f));
  return {p, n};
}

Value SoftmaxKernelBuilder::exp2Integral(Value k) {
  // Biased exponent k + 127 in the exponent field; k = -127 gives the bit
  // pattern of +0.
  k = greater(k, splat(-127.0f));
  Value asInt = arith::FPToSIOp::create(b, intVectorType, k);
  auto intSplat = [&](int32_t value) -> Value {
    return arith::ConstantOp::create(
        b, DenseElementsAttr::get(intVectorType, b.getI32IntegerAttr(value)));
  };
  Value biased = arith::AddIOp::create(b, asInt, intSplat(127));
  Value bits = arith::ShLIOp::create(b, biased, intSplat(23));
  return arith::BitcastOp::create(b, vectorType, bits);
}

SmallVector<Value> SoftmaxKernelBuilder::forEachVector(
    ValueRange init,
    function_ref<SmallVector<Value>(Value, Value, ValueRange)> body) {
  int64_t length = shape.back();
  int64_t full = length / width * width;
  SmallVector<Value> values(init);
  if (full > 0) {
    auto loop = scf::ForOp::create(
        b, index(0), index(full), index(width), values,
        [&](OpBuilder &nested, Location loc, Value column, ValueRange args) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nested.getInsertionBlock(),
                              nested.getInsertionPoint());
          SmallVector<Value> next = body(column, Value(), args);
          scf::YieldOp::create(b, next);
        });
    values = SmallVector<Value>(loop.getResults());
  }
  if (full < length)
    values = body(index(full), tailMask(length - full), values);
  return values;
}

SoftmaxKernelBuilder::RowSums
SoftmaxKernelBuilder::accumulateRow(ArrayRef<Value> outer, Value shift) {
  float inf = std::numeric_limits<float>::infinity();
  auto maskType = VectorType::get({width}, b.getI1Type());
  SmallVector<Value> init = {
      splat(0.0f), splat(kExponentFloor),
      arith::ConstantOp::create(b, DenseElementsAttr::get(maskType, false))};
  SmallVector<Value> lanes = forEachVector(
      init, [&](Value column, Value mask, ValueRange acc) {
        Value x = loadInput(outer, column, mask, -inf);
        auto [p, n] = expPair(x, shift);
        if (mask) {
          // Lanes past the row's end add nothing.
          p = arith::SelectOp::create(b, mask, p, splat(0.0f));
          n = arith::SelectOp::create(b, mask, n, splat(kExponentFloor));
        }
        // sum * 2^exponent + p * 2^n, kept relative to the larger exponent.
        Value exponent = maxOfNumbers(n, acc[1]);
        Value sum = add(mul(acc[0], exp2Integral(sub(acc[1], exponent))),
                        mul(p, exp2Integral(sub(n, exponent))));
        Value anyNaN = arith::OrIOp::create(
            b, acc[2],
            arith::CmpFOp::create(b, arith::CmpFPredicate::UNO, x, x));
        return SmallVector<Value>{sum, exponent, anyNaN};
      });
  // Across lanes: the largest exponent, the lanes' sums rescaled to it.
  Value exponent = vector::ReductionOp::create(
      b, vector::CombiningKind::MAXNUMF, lanes[1],
      arith::FastMathFlags::nnan | arith::FastMathFlags::nsz);
  Value scaled = mul(lanes[0], exp2Integral(sub(
                                   lanes[1], vector::BroadcastOp::create(
                                                 b, vectorType, exponent))));
  // reassoc: a tree of shuffles, fixed at compile time.
  Value sum = vector::ReductionOp::create(b, vector::CombiningKind::ADD,
                                          scaled, arith::FastMathFlags::reassoc);
  Value anyNaN =
      vector::ReductionOp::create(b, vector::CombiningKind::OR, lanes[2]);
  return {sum, exponent, anyNaN};
}

Value SoftmaxKernelBuilder::rowMax(ArrayRef<Value> outer) {
  float inf = std::numeric_limits<float>::infinity();
  SmallVector<Value> lanes = forEachVector(
      {splat(-inf)}, [&](Value column, Value mask, ValueRange acc) {
        Value x = loadInput(outer, column, mask, -inf);
        return SmallVector<Value>{arith::MaximumFOp::create(b, acc[0], x)};
      });
  return vector::ReductionOp::create(b, vector::CombiningKind::MAXIMUMF,
                                     lanes[0]);
}

void SoftmaxKernelBuilder::normalizeRow(ArrayRef<Value> outer, Value shift,
                                        Value sum, Value exponent) {
  Value inverse = vector::BroadcastOp::create(
      b, vectorType, arith::DivFOp::create(b, scalar(1.0f), sum));
  Value rowExponent = vector::BroadcastOp::create(b, vectorType, exponent);
  forEachVector({}, [&](Value column, Value mask, ValueRange) {
    SmallVector<Value> indices = indicesAt(outer, column);
    Value x = loadInput(outer, column, mask, 0.0f);
    auto [p, n] = expPair(x, shift);
    Value y = arith::MulFOp::create(
        b, arith::MulFOp::create(b, p, inverse),
        exp2Integral(sub(n, rowExponent)));
    if (mask)
      vector::MaskedStoreOp::create(b, output, indices, mask, y);
    else
      vector::StoreOp::create(b, y, output, indices);
    return SmallVector<Value>{};
  });
}

void SoftmaxKernelBuilder::fillRow(ArrayRef<Value> outer, float value) {
  Value filled = splat(value);
  forEachVector({}, [&](Value column, Value mask, ValueRange) {
    SmallVector<Value> indices = indicesAt(outer, column);
    if (mask)
      vector::MaskedStoreOp::create(b, output, indices, mask, filled);
    else
      vector::StoreOp::create(b, filled, output, indices);
    return SmallVector<Value>{};
  });
}

void SoftmaxKernelBuilder::emit() {
  auto rowLoop = scf::ForOp::create(b, begin, end, index(1));
  b.setInsertionPointToStart(rowLoop.getBody());
  // The row's outer indices, last dimension fastest.
  SmallVector<Value> outer(shape.size() - 1);
  Value rest = rowLoop.getInductionVar();
  for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d > 0; --d) {
    outer[d] = arith::RemUIOp::create(b, rest, index(shape[d]));
    rest = arith::DivUIOp::create(b, rest, index(shape[d]));
  }
  if (!outer.empty())
    outer[0] = rest;

  // Pass 1 without a shift: exp(x) as (p, n) pairs needs no max first.
  RowSums first = accumulateRow(outer, scalar(0.0f));
  Value inRange = arith::SelectOp::create(
      b, first.anyNaN, arith::ConstantOp::create(b, b.getBoolAttr(false)),
      arith::AndIOp::create(
          b,
          arith::CmpFOp::create(b, arith::CmpFPredicate::OGE, first.exponent,
                                scalar(kLowestExponent)),
          arith::CmpFOp::create(b, arith::CmpFPredicate::OLE, first.exponent,
                                scalar(kHighestExponent))));
  // Other rows (rare): the max first, then pass 1 on x - max. A NaN, +inf
  // or only -inf makes the max non-finite and the row NaN, as max / exp /
  // sum / div gives.
  auto sums = scf::IfOp::create(
      b, inRange,
      [&](OpBuilder &thenBuilder, Location) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(thenBuilder.getInsertionBlock(),
                            thenBuilder.getInsertionPoint());
        scf::YieldOp::create(
            b, ValueRange{first.sum, first.exponent, scalar(0.0f),
                          arith::ConstantOp::create(b, b.getBoolAttr(true))});
      },
      [&](OpBuilder &elseBuilder, Location) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(elseBuilder.getInsertionBlock(),
                            elseBuilder.getInsertionPoint());
        Value max = rowMax(outer);
        Value finite = arith::CmpFOp::create(
            b, arith::CmpFPredicate::OLT, math::AbsFOp::create(b, max),
            scalar(std::numeric_limits<float>::infinity()));
        Value shift = arith::SelectOp::create(b, finite, max, scalar(0.0f));
        RowSums shifted = accumulateRow(outer, shift);
        scf::YieldOp::create(
            b, ValueRange{shifted.sum, shifted.exponent, shift, finite});
      });
  scf::IfOp::create(
      b, sums.getResult(3),
      [&](OpBuilder &nested, Location) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nested.getInsertionBlock(),
                            nested.getInsertionPoint());
        normalizeRow(outer, sums.getResult(2), sums.getResult(0),
                     sums.getResult(1));
        scf::YieldOp::create(b);
      },
      [&](OpBuilder &nested, Location) {
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPoint(nested.getInsertionBlock(),
                            nested.getInsertionPoint());
        fillRow(outer, std::numeric_limits<float>::quiet_NaN());
        scf::YieldOp::create(b);
      });
  b.setInsertionPointAfter(rowLoop);
  func::ReturnOp::create(b);
}

/// Any other softmax: per row, max, then sum of exp(x - max), then
/// exp(x - max) / sum, in scalar loops in index order: the values of the
/// importer's former max / exp / sum / div decomposition.
void lowerToThreePassLoops(linalg::SoftmaxOp op) {
  ImplicitLocOpBuilder b(op.getLoc(), op);
  Value input = op.getInput(), output = op.getOutput();
  auto type = cast<MemRefType>(input.getType());
  Type elementType = type.getElementType();
  int64_t axis = op.getDimension();
  Value zero = arith::ConstantIndexOp::create(b, 0);
  Value one = arith::ConstantIndexOp::create(b, 1);
  SmallVector<Value> indices(type.getRank());
  auto buildRows = [&](auto &&self, int64_t d) -> void {
    if (d == type.getRank()) {
      auto load = [&](Value column) -> Value {
        SmallVector<Value> at(indices);
        at[axis] = column;
        return memref::LoadOp::create(b, input, at);
      };
      Value length = memref::DimOp::create(b, input, axis);
      auto reduce = [&](Value init,
                        function_ref<Value(Value, Value)> combine) -> Value {
        auto loop = scf::ForOp::create(
            b, zero, length, one, ValueRange{init},
            [&](OpBuilder &nested, Location, Value column, ValueRange acc) {
              OpBuilder::InsertionGuard guard(b);
              b.setInsertionPoint(nested.getInsertionBlock(),
                                  nested.getInsertionPoint());
              scf::YieldOp::create(b, combine(load(column), acc[0]));
            });
        return loop.getResult(0);
      };
      Value max = reduce(
          arith::ConstantOp::create(
              b, b.getFloatAttr(elementType,
                                -std::numeric_limits<double>::infinity())),
          [&](Value x, Value acc) {
            return arith::MaximumFOp::create(b, x, acc);
          });
      Value sum = reduce(
          arith::ConstantOp::create(b, b.getFloatAttr(elementType, 0.0)),
          [&](Value x, Value acc) {
            Value e = math::ExpOp::create(b, arith::SubFOp::create(b, x, max));
            return arith::AddFOp::create(b, e, acc);
          });
      scf::ForOp::create(
          b, zero, length, one, ValueRange{},
          [&](OpBuilder &nested, Location, Value column, ValueRange) {
            OpBuilder::InsertionGuard guard(b);
            b.setInsertionPoint(nested.getInsertionBlock(),
                                nested.getInsertionPoint());
            Value e = math::ExpOp::create(
                b, arith::SubFOp::create(b, load(column), max));
            SmallVector<Value> at(indices);
            at[axis] = column;
            memref::StoreOp::create(b, arith::DivFOp::create(b, e, sum),
                                    output, at);
            scf::YieldOp::create(b);
          });
      return;
    }
    if (d == axis) {
      self(self, d + 1);
      return;
    }
    Value size = memref::DimOp::create(b, input, d);
    scf::ForOp::create(
        b, zero, size, one, ValueRange{},
        [&](OpBuilder &nested, Location, Value i, ValueRange) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPoint(nested.getInsertionBlock(),
                              nested.getInsertionPoint());
          indices[d] = i;
          self(self, d + 1);
          scf::YieldOp::create(b);
        });
  };
  buildRows(buildRows, 0);
}

struct TwoPassSoftmaxPass
    : quantc::impl::TwoPassSoftmaxBase<TwoPassSoftmaxPass> {
  using TwoPassSoftmaxBase::TwoPassSoftmaxBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<linalg::SoftmaxOp> work;
    bool onTensors = false;
    module.walk([&](linalg::SoftmaxOp op) {
      if (op->getNumResults() != 0) {
        op.emitError("quantc-two-pass-softmax runs on buffers; bufferize "
                     "first");
        onTensors = true;
        return;
      }
      work.push_back(op);
    });
    if (onTensors)
      return signalPassFailure();
    SymbolTable symbols(module);
    unsigned counter = 0;
    for (linalg::SoftmaxOp op : work) {
      if (!takesVectorKernel(op)) {
        lowerToThreePassLoops(op);
        op->erase();
        continue;
      }
      OpBuilder builder(module.getBodyRegion());
      builder.setInsertionPointToEnd(module.getBody());
      SmallVector<Value> operands = {op.getInput(), op.getOutput()};
      SmallVector<Type> argumentTypes(ValueRange(operands).getTypes());
      Type indexType = builder.getIndexType();
      argumentTypes.append({indexType, indexType});
      auto func = func::FuncOp::create(
          builder, op.getLoc(),
          "__quantc_softmax_" + std::to_string(counter++),
          builder.getFunctionType(argumentTypes, {}));
      func.setPrivate();
      symbols.insert(func);
      // quantc-launch-parallel-tasks splits the rows over the thread pool.
      func->setAttr("quantc.parallel_task", builder.getUnitAttr());
      SoftmaxKernelBuilder(op, vectorWidth, func).emit();

      ArrayRef<int64_t> shape =
          cast<MemRefType>(op.getInput().getType()).getShape();
      int64_t rows = 1;
      for (int64_t size : shape.drop_back())
        rows *= size;
      builder.setInsertionPoint(op);
      operands.push_back(arith::ConstantIndexOp::create(builder, op.getLoc(), 0));
      operands.push_back(
          arith::ConstantIndexOp::create(builder, op.getLoc(), rows));
      func::CallOp::create(builder, op.getLoc(), func, operands);
      op->erase();
    }
  }
};

} // namespace
