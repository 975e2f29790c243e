//===- OnnxText.cpp - ONNX text featurization -> linalg + scf -------------===//
//
// TfIdfVectorizer on integer token ids (string tensors are not supported by
// the importer yet). The n-gram pool is an attribute, so each output column's
// n-gram (its length, tokens and weight) becomes a constant table; each
// output element counts its n-gram's matches in its row with scf loops over
// the skip distance, the start position and the n-gram's tokens. Unigrams
// count once per position (a skip distance means nothing for them).
//
//===----------------------------------------------------------------------===//

#include "quantc/Import/OnnxLowering.h"
#include "quantc/Import/OnnxOpRegistry.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;

namespace quantc {
namespace {

LogicalResult lowerTfIdfVectorizer(OnnxNodeContext &ctx) {
  OnnxDType dtype = ctx.inputDType(0);
  if (dtype != OnnxDType::Int32 && dtype != OnnxDType::Int64)
    return ctx.emitError("only int32 / int64 token ids are supported, not " +
                         onnxDTypeName(dtype));
  ArrayRef<int64_t> shape = ctx.inputShape(0);
  if (shape.empty() || shape.size() > 2)
    return ctx.emitError("the input must be [N] or [B, N]");
  std::string mode = ctx.attrString("mode", "");
  int64_t minGram = ctx.requireAttrInt("min_gram_length");
  int64_t maxGram = ctx.requireAttrInt("max_gram_length");
  int64_t maxSkip = ctx.requireAttrInt("max_skip_count");
  SmallVector<int64_t> ngramCounts = ctx.attrInts("ngram_counts");
  SmallVector<int64_t> ngramIndexes = ctx.attrInts("ngram_indexes");
  SmallVector<int64_t> pool = ctx.attrInts("pool_int64s");
  SmallVector<float> weights = ctx.attrFloats("weights");
  if (ctx.failed())
    return failure();
  if (mode != "TF" && mode != "IDF" && mode != "TFIDF")
    return ctx.emitError("mode '" + mode + "' is not TF, IDF or TFIDF");
  if (pool.empty())
    return ctx.emitError("pool_int64s is required (string pools are not "
                         "supported)");
  if (minGram < 1 || maxGram < minGram || maxSkip < 0)
    return ctx.emitError("min/max_gram_length or max_skip_count is invalid");

  // The pool's n-grams: ngram_counts[n-1] is where the n-grams start.
  struct Gram {
    int64_t length;
    SmallVector<int64_t> tokens;
  };
  SmallVector<Gram> grams;
  for (size_t n = 1; n <= ngramCounts.size(); ++n) {
    int64_t start = ngramCounts[n - 1];
    int64_t end = n < ngramCounts.size() ? ngramCounts[n] : (int64_t)pool.size();
    if (start < 0 || end > (int64_t)pool.size() || start > end ||
        (end - start) % n != 0)
      return ctx.emitError("ngram_counts does not split pool_int64s into "
                           "n-grams");
    for (int64_t p = start; p < end; p += n)
      grams.push_back({(int64_t)n, SmallVector<int64_t>(pool.begin() + p,
                                                       pool.begin() + p + n)});
  }
  if (ngramIndexes.size() != grams.size())
    return ctx.emitError("ngram_indexes has " + std::to_string(ngramIndexes.size()) +
                         " entries for " + std::to_string(grams.size()) +
                         " n-grams");
  if (!weights.empty() && weights.size() != grams.size())
    return ctx.emitError("weights must have one entry per n-gram");
  int64_t columns = 0;
  for (int64_t index : ngramIndexes) {
    if (index < 0)
      return ctx.emitError("ngram_indexes must be >= 0");
    columns = std::max(columns, index + 1);
  }
  int64_t width = std::max<int64_t>(1, maxGram);
  // Per output column: n-gram length (0: none counted), tokens, weight.
  std::vector<int64_t> lengths(columns, 0), tokens(columns * width, 0);
  std::vector<double> columnWeights(columns, 1.0);
  std::vector<bool> taken(columns, false);
  for (auto [g, gram] : llvm::enumerate(grams)) {
    int64_t c = ngramIndexes[g];
    if (taken[c])
      return ctx.emitError("two n-grams share output column " + std::to_string(c));
    taken[c] = true;
    if (!weights.empty())
      columnWeights[c] = weights[g];
    if (gram.length < minGram || gram.length > maxGram)
      continue;
    lengths[c] = gram.length;
    for (int64_t j = 0; j < gram.length; ++j)
      tokens[c * width + j] = gram.tokens[j];
  }

  OpBuilder &b = ctx.builder();
  Location loc = ctx.loc();
  Value lengthTable = materializeKnownTensor(
      b, loc, KnownTensor::fromInts(OnnxDType::Int64, {columns}, lengths));
  Value tokenTable = materializeKnownTensor(
      b, loc, KnownTensor::fromInts(OnnxDType::Int64, {columns, width}, tokens));
  Value weightTable = materializeKnownTensor(
      b, loc, KnownTensor::fromDoubles(OnnxDType::Float, {columns}, columnWeights));
  bool batched = shape.size() == 2;
  int64_t rowLength = shape.back();
  SmallVector<int64_t> outShape;
  if (batched)
    outShape.push_back(shape[0]);
  outShape.push_back(columns);
  Value x = ctx.input(0);
  Type f32 = b.getF32Type();
  Value result = buildIndexedTensor(
      b, loc, outShape, f32,
      [&](OpBuilder &nb, Location l, ValueRange coords) -> Value {
        auto idx = [&](OpBuilder &ob, int64_t v) -> Value {
          return arith::ConstantIndexOp::create(ob, l, v);
        };
        Value column = coords.back();
        Value length = arith::IndexCastOp::create(
            nb, l, nb.getIndexType(),
            tensor::ExtractOp::create(nb, l, lengthTable, ValueRange{column}));
        Value isUnigram = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq,
                                                length, idx(nb, 1));
        Value counted = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::sgt,
                                              length, idx(nb, 0));
        Value zero = idx(nb, 0);
        auto skips = scf::ForOp::create(
            nb, l, zero, idx(nb, maxSkip + 1), idx(nb, 1), ValueRange{zero},
            [&](OpBuilder &sb, Location sl, Value skip, ValueRange total) {
              Value stride = arith::AddIOp::create(sb, sl, skip, idx(sb, 1));
              // A unigram counts at skip 0 only.
              Value active = arith::AndIOp::create(
                  sb, sl, counted,
                  arith::OrIOp::create(
                      sb, sl,
                      arith::XOrIOp::create(sb, sl, isUnigram,
                                            arith::ConstantIntOp::create(sb, sl, 1, 1)),
                      arith::CmpIOp::create(sb, sl, arith::CmpIPredicate::eq, skip,
                                            idx(sb, 0))));
              auto starts = scf::ForOp::create(
                  sb, sl, idx(sb, 0), idx(sb, rowLength), idx(sb, 1),
                  ValueRange{total[0]},
                  [&](OpBuilder &ib, Location il, Value start, ValueRange count) {
                    Value yes = arith::ConstantIntOp::create(ib, il, 1, 1);
                    auto match = scf::ForOp::create(
                        ib, il, idx(ib, 0), idx(ib, width), idx(ib, 1),
                        ValueRange{yes},
                        [&](OpBuilder &jb, Location jl, Value j, ValueRange ok) {
                          Value position = arith::AddIOp::create(
                              jb, jl, start, arith::MulIOp::create(jb, jl, j, stride));
                          Value used = arith::CmpIOp::create(
                              jb, jl, arith::CmpIPredicate::slt, j, length);
                          Value inside = arith::CmpIOp::create(
                              jb, jl, arith::CmpIPredicate::slt, position,
                              idx(jb, rowLength));
                          Value clamped = arith::MinSIOp::create(
                              jb, jl, position, idx(jb, rowLength - 1));
                          SmallVector<Value> at;
                          if (batched)
                            at.push_back(coords[0]);
                          at.push_back(clamped);
                          Value token = convertScalar(
                              jb, jl, tensor::ExtractOp::create(jb, jl, x, at), dtype,
                              OnnxDType::Int64);
                          Value wanted = tensor::ExtractOp::create(
                              jb, jl, tokenTable, ValueRange{column, j});
                          Value equal = arith::AndIOp::create(
                              jb, jl, inside,
                              arith::CmpIOp::create(jb, jl, arith::CmpIPredicate::eq,
                                                    token, wanted));
                          // Unused token slots match anything.
                          Value fine = arith::OrIOp::create(
                              jb, jl, equal,
                              arith::XOrIOp::create(
                                  jb, jl, used,
                                  arith::ConstantIntOp::create(jb, jl, 1, 1)));
                          scf::YieldOp::create(
                              jb, jl, arith::AndIOp::create(jb, jl, ok[0], fine).getResult());
                        });
                    Value hit = arith::AndIOp::create(ib, il, match.getResult(0), active);
                    Value next = arith::AddIOp::create(ib, il, count[0], idx(ib, 1));
                    scf::YieldOp::create(
                        ib, il, arith::SelectOp::create(ib, il, hit, next, count[0]).getResult());
                  });
              scf::YieldOp::create(sb, sl, starts.getResult(0));
            });
        Value count = arith::UIToFPOp::create(
            nb, l, f32,
            arith::IndexCastOp::create(nb, l, nb.getI64Type(), skips.getResult(0)));
        Value weight = tensor::ExtractOp::create(nb, l, weightTable, ValueRange{column});
        if (mode == "TF")
          return count;
        if (mode == "TFIDF")
          return arith::MulFOp::create(nb, l, count, weight);
        Value present = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT, count,
                                              createScalarConstant(nb, l, f32, 0.0));
        return arith::SelectOp::create(nb, l, present, weight,
                                       createScalarConstant(nb, l, f32, 0.0));
      });
  ctx.setOutput(0, result, OnnxDType::Float);
  return success();
}

} // namespace

void registerOnnxTextOps(OnnxOpRegistry &registry) {
  registry.add("TfIdfVectorizer", lowerTfIdfVectorizer, nullptr, 9);
}

} // namespace quantc
