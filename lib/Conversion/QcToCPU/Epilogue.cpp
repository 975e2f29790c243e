//===- Epilogue.cpp - Elementwise consumers fused into matmul kernels -----===//
//
// The kernel keeps the generic's scalar body and applies it to whole output
// vectors: every op is re-created with the same name, operands and
// attributes on vector<W x T> instead of T, so no activation is recognised
// by name and each lane computes exactly what the scalar loop computes
// (arith / math ops are elementwise by definition, and the pipeline lowers
// vector and scalar forms the same way: polynomial exp, expanded tanh, libm
// erf per lane).
//
//===----------------------------------------------------------------------===//

#include "Epilogue.h"

#include "quantc/Formats/Hadamard.h"

#include "qc/QcDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/Hashing.h"

#include <cmath>
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace quantc::cpu;

namespace {

/// A reshape that only regroups the leading (row) dimensions: its last
/// reassociation group is the last dimension alone on both sides.
bool keepsLastDimension(Operation *op) {
  SmallVector<ReassociationIndices> groups;
  if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op))
    groups = expand.getReassociationIndices();
  else if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(op))
    groups = collapse.getReassociationIndices();
  else
    return false;
  return !groups.empty() && groups.back().size() == 1;
}

/// The one operation using `value` (possibly through several operands).
Operation *soleUser(Value value) {
  Operation *user = nullptr;
  for (Operation *u : value.getUsers()) {
    if (user && u != user)
      return nullptr;
    user = u;
  }
  return user;
}

bool isScalar(Type type) { return isa<FloatType, IntegerType>(type); }

/// The f32 value of a splat constant tensor.
std::optional<float> splatValue(Value value) {
  DenseElementsAttr attr;
  if (!matchPattern(value, m_Constant(&attr)) || !attr.isSplat() ||
      !attr.getElementType().isF32())
    return std::nullopt;
  return attr.getSplatValue<APFloat>().convertToFloat();
}

} // namespace

std::optional<EpilogueMatch> quantc::cpu::matchMatmulEpilogue(Value result,
                                                              int64_t n) {
  EpilogueMatch match;
  Value value = result;
  Operation *user = soleUser(value);
  while (user && keepsLastDimension(user)) {
    match.reshapes.push_back(user);
    value = user->getResult(0);
    user = soleUser(value);
  }
  auto generic = dyn_cast_or_null<linalg::GenericOp>(user);
  if (!generic || generic.getNumDpsInits() != 1 ||
      generic.getNumResults() != 1 || !generic.hasPureTensorSemantics() ||
      generic.getNumParallelLoops() != generic.getNumLoops())
    return std::nullopt;
  auto valueType = cast<RankedTensorType>(value.getType());
  if (generic.getResult(0).getType() != valueType ||
      !generic.getIndexingMapMatchingResult(generic->getResult(0))
           .isIdentity() ||
      !generic.getRegionOutputArgs()[0].use_empty())
    return std::nullopt;
  int64_t rank = valueType.getRank();

  Block *body = generic.getBlock();
  MatmulEpilogue &epilogue = match.epilogue;
  epilogue.body = body;
  epilogue.argumentSources.assign(body->getNumArguments(),
                                  MatmulEpilogue::kUnused);
  epilogue.argumentSplats.assign(body->getNumArguments(), 0.0f);
  std::string key;
  llvm::raw_string_ostream os(key);
  for (OpOperand *operand : generic.getDpsInputOperands()) {
    BlockArgument argument = generic.getMatchingBlockArgument(operand);
    AffineMap map = generic.getMatchingIndexingMap(operand);
    unsigned index = argument.getArgNumber();
    if (operand->get() == value) {
      if (!map.isIdentity())
        return std::nullopt;
      epilogue.argumentSources[index] = MatmulEpilogue::kMatmulOutput;
      os << "y;";
      continue;
    }
    auto type = dyn_cast<RankedTensorType>(operand->get().getType());
    if (!type || !type.hasStaticShape() || !type.getElementType().isF32())
      return std::nullopt;
    if (argument.use_empty())
      continue;
    if (std::optional<float> splat = splatValue(operand->get())) {
      epilogue.argumentSources[index] = MatmulEpilogue::kSplat;
      epilogue.argumentSplats[index] = *splat;
      os << "splat " << llvm::bit_cast<uint32_t>(*splat) << ";";
      continue;
    }
    // Which loops the operand follows: all in order (one value per output),
    // the last alone (per column) or none (one value); broadcast dimensions
    // of size 1 may index it with a constant 0.
    SmallVector<unsigned> dims;
    for (auto [i, expr] : llvm::enumerate(map.getResults())) {
      if (auto dim = dyn_cast<AffineDimExpr>(expr)) {
        dims.push_back(dim.getPosition());
        continue;
      }
      auto constant = dyn_cast<AffineConstantExpr>(expr);
      if (!constant || constant.getValue() != 0 || type.getDimSize(i) != 1)
        return std::nullopt;
    }
    MatmulEpilogue::OperandKind kind;
    if (map.isIdentity() && type == valueType) {
      kind = MatmulEpilogue::OperandKind::Matrix;
      os << "matrix;";
    } else if (dims.size() == 1 && dims[0] == rank - 1 &&
               isa<AffineDimExpr>(map.getResults().back()) &&
               type.getNumElements() == n) {
      kind = MatmulEpilogue::OperandKind::Column;
      os << "column;";
    } else if (dims.empty() && type.getNumElements() == 1) {
      kind = MatmulEpilogue::OperandKind::Scalar;
      os << "scalar;";
    } else {
      return std::nullopt;
    }
    epilogue.argumentSources[index] =
        static_cast<int>(epilogue.operands.size());
    epilogue.operands.push_back(kind);
    match.operandValues.push_back(operand->get());
  }

  // The body: scalar elementwise arith / math ops only.
  llvm::DenseMap<Operation *, unsigned> position;
  for (Operation &op : body->without_terminator()) {
    StringRef dialect = op.getName().getDialectNamespace();
    if ((dialect != "arith" && dialect != "math") || op.getNumRegions() ||
        (!op.hasTrait<OpTrait::Elementwise>() && !isa<arith::ConstantOp>(op)))
      return std::nullopt;
    if (!llvm::all_of(op.getResultTypes(), isScalar))
      return std::nullopt;
    os << op.getName() << "(";
    for (Value operand : op.getOperands()) {
      if (auto argument = dyn_cast<BlockArgument>(operand);
          argument && argument.getOwner() == body) {
        os << "a" << argument.getArgNumber() << ",";
        continue;
      }
      Operation *def = operand.getDefiningOp();
      if (def && def->getBlock() == body) {
        os << "r" << position.lookup(def) << "."
           << cast<OpResult>(operand).getResultNumber() << ",";
        continue;
      }
      auto constant = operand.getDefiningOp<arith::ConstantOp>();
      if (!constant || !isScalar(constant.getType()))
        return std::nullopt;
      os << constant.getValue() << ",";
    }
    os << ")" << op.getAttrDictionary() << ":";
    for (Type type : op.getResultTypes())
      os << type << ",";
    os << ";";
    position[&op] = position.size();
  }
  Operation *terminator = body->getTerminator();
  if (terminator->getNumOperands() != 1 ||
      !terminator->getOperand(0).getType().isF32())
    return std::nullopt;
  Value yielded = terminator->getOperand(0);
  if (auto argument = dyn_cast<BlockArgument>(yielded))
    os << "yield a" << argument.getArgNumber();
  else if (Operation *def = yielded.getDefiningOp(); def && position.count(def))
    os << "yield r" << position.lookup(def) << "."
       << cast<OpResult>(yielded).getResultNumber();
  else
    return std::nullopt;

  std::string hash;
  llvm::raw_string_ostream(hash)
      << llvm::format_hex_no_prefix(
             static_cast<uint64_t>(llvm::hash_value(key)), 16);
  epilogue.key = hash;
  match.generic = generic;
  return match;
}

std::optional<HadamardMatch> quantc::cpu::matchOnlineHadamard(Value input,
                                                              int64_t k) {
  HadamardMatch match;
  Value value = input;
  Operation *def = value.getDefiningOp();
  while (def && keepsLastDimension(def) && value.hasOneUse()) {
    match.reshapes.push_back(def);
    value = def->getOperand(0);
    def = value.getDefiningOp();
  }
  auto hadamard = dyn_cast_or_null<qc::HadamardOp>(def);
  if (!hadamard || !value.hasOneUse())
    return std::nullopt;
  auto type = cast<RankedTensorType>(hadamard.getType());
  if (!type.hasStaticShape() || !type.getElementType().isF32() ||
      hadamard.getNormalizedAxis() != type.getRank() - 1 ||
      type.getShape().back() != k)
    return std::nullopt;
  std::optional<quantc::HadamardSize> size = quantc::decomposeHadamardSize(k);
  if (!size)
    return std::nullopt;
  OnlineHadamard &rotation = match.rotation;
  rotation.powerOfTwo = size->powerOfTwo;
  rotation.base = size->base;
  if (size->base > 1) {
    std::vector<int8_t> h =
        quantc::hadamardBaseMatrix(static_cast<int>(size->base));
    if (h.empty())
      return std::nullopt;
    rotation.baseMatrix.assign(h.begin(), h.end());
  }
  rotation.key = "h";
  if (std::optional<int64_t> seed = hadamard.getSeed()) {
    rotation.signs =
        quantc::hadamardRandomSigns(k, static_cast<uint64_t>(*seed));
    rotation.key += "s" + std::to_string(*seed);
  }
  // As qc-expand-formats computes it.
  rotation.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(k)));
  match.hadamard = hadamard;
  match.input = hadamard.getInput();
  return match;
}

Value quantc::cpu::emitEpilogueOps(ImplicitLocOpBuilder &b,
                                   const MatmulEpilogue &epilogue, Value y,
                                   ArrayRef<Value> operands) {
  int64_t lanes = cast<VectorType>(y.getType()).getDimSize(0);
  auto vectorOf = [&](Type type) { return VectorType::get({lanes}, type); };
  Block *body = epilogue.body;
  IRMapping map;
  for (BlockArgument argument : body->getArguments()) {
    int source = epilogue.argumentSources[argument.getArgNumber()];
    if (source == MatmulEpilogue::kMatmulOutput)
      map.map(argument, y);
    else if (source == MatmulEpilogue::kSplat)
      map.map(argument,
              arith::ConstantOp::create(
                  b, DenseElementsAttr::get(
                         vectorOf(b.getF32Type()),
                         ArrayRef<Attribute>{b.getF32FloatAttr(
                             epilogue.argumentSplats[argument.getArgNumber()])})));
    else if (source >= 0)
      map.map(argument, operands[source]);
  }
  // Constants, from inside the body or captured from outside, become splats.
  auto lookup = [&](Value value) -> Value {
    if (Value mapped = map.lookupOrNull(value))
      return mapped;
    auto constant = value.getDefiningOp<arith::ConstantOp>();
    Value splat = arith::ConstantOp::create(
        b, DenseElementsAttr::get(vectorOf(value.getType()),
                                  ArrayRef<Attribute>{constant.getValue()}));
    map.map(value, splat);
    return splat;
  };
  for (Operation &op : body->without_terminator()) {
    if (isa<arith::ConstantOp>(op)) {
      lookup(op.getResult(0));
      continue;
    }
    OperationState state(b.getLoc(), op.getName());
    for (Value operand : op.getOperands())
      state.addOperands(lookup(operand));
    state.addAttributes(op.getAttrs());
    for (Type type : op.getResultTypes())
      state.addTypes(vectorOf(type));
    Operation *vectorOp = b.create(state);
    map.map(op.getResults(), vectorOp->getResults());
  }
  return lookup(body->getTerminator()->getOperand(0));
}
