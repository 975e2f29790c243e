//===- PackedWeights.cpp - Reading the canonical packed layout on a GPU ---===//
//
// Device-side IR for the canonical layout (quantc/Formats/Format.h, pack()):
// codes as an LSB-first bit stream in C order of W[N, K], then one scale per
// block in C order of the scale grid, then zero points, then the NV tensor
// scale. Scales decode with the arithmetic qc-expand-formats uses
// (FormatCodegen.h); codes decode with integer tricks that give the same
// values for every code a quantizer produces (see decodeCode).
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include "llvm/Support/MathExtras.h"

#include <cmath>
#include <numeric>

using namespace mlir;

namespace quantc::gpukernels {

int64_t commonAlignment(std::initializer_list<int64_t> values, int64_t cap) {
  int64_t alignment = cap;
  for (int64_t v : values) {
    if (v == 0)
      continue;
    alignment = std::min<int64_t>(alignment, int64_t(1)
                                                 << llvm::countr_zero(
                                                        uint64_t(v)));
  }
  return alignment;
}

static int64_t normalizedAxis(const Format &format) {
  return format.axis < 0 ? format.axis + 2 : format.axis;
}

PackedWeightReader::PackedWeightReader(const MatmulProblem &problem)
    : problem(problem), bits(problem.format.element.bits),
      element(describeElement(problem.format.element)) {
  const Format &format = problem.format;
  int64_t n = problem.n, k = problem.k;
  int64_t numScales = 1;
  runLength = k;
  switch (format.granularity) {
  case Granularity::PerTensor:
    break;
  case Granularity::PerAxis:
    numScales = normalizedAxis(format) == 1 ? n : k;
    runLength = normalizedAxis(format) == 1 ? k : 1;
    break;
  case Granularity::Block:
    numScales = n * k / format.blockSize;
    runLength = normalizedAxis(format) == 1 ? format.blockSize : 1;
    break;
  case Granularity::Block2D:
    numScales = (n / format.blockSize) * (k / format.blockSize2);
    runLength = format.blockSize2;
    break;
  }
  codeBytes = (n * k * bits + 7) / 8;
  scaleOffset = codeBytes;
  scaleBytes = scaleBits(format.scaleType) / 8;
  zeroPointOffset = scaleOffset + numScales * scaleBytes;
  tensorScaleOffset = zeroPointOffset + (format.symmetric ? 0 : numScales);

  const ElementType &e = format.element;
  // Placing a minifloat's sign and magnitude bits into an f32 gives its value
  // times 2^(bias - 127), subnormals included; the codes that are not finite
  // numbers (NaN, Inf) only occur in blocks whose scale is NaN (the library
  // gives a block holding NaN/Inf a NaN scale) unless overflow makes Inf.
  fastMinifloat = e.kind == ElementKind::Float && e.exponentBits <= 7 &&
                  e.bias >= 0 && e.bias <= 126 &&
                  (e.saturate || e.special == SpecialValues::FiniteOnly);
}

std::string PackedWeightReader::whyUnsupported(const MatmulProblem &problem) {
  auto isFloat = [](Type t) { return t.isF32() || t.isF16() || t.isBF16(); };
  if (!isFloat(problem.inputElementType) || !isFloat(problem.resultElementType))
    return "activations and results must be f32, f16 or bf16";
  if (problem.format.granularity == Granularity::Block ||
      problem.format.granularity == Granularity::PerAxis) {
    int64_t axis = normalizedAxis(problem.format);
    if (axis != 0 && axis != 1)
      return "the weight format's axis must be 0 or 1";
  }
  return "";
}

Value PackedWeightReader::scaleIndex(ImplicitLocOpBuilder &b, Value n,
                                     Value k) const {
  const Format &format = problem.format;
  auto c = [&](int64_t v) { return arith::ConstantIndexOp::create(b, v); };
  auto mul = [&](Value x, int64_t y) {
    return y == 1 ? x : arith::MulIOp::create(b, x, c(y)).getResult();
  };
  auto div = [&](Value x, int64_t y) {
    return y == 1 ? x : arith::DivUIOp::create(b, x, c(y)).getResult();
  };
  auto add = [&](Value x, Value y) { return arith::AddIOp::create(b, x, y); };
  int64_t kk = problem.k;
  switch (format.granularity) {
  case Granularity::PerTensor:
    return c(0);
  case Granularity::PerAxis:
    return normalizedAxis(format) == 1 ? n : k;
  case Granularity::Block:
    if (normalizedAxis(format) == 1)
      return add(mul(n, kk / format.blockSize), div(k, format.blockSize));
    return add(mul(div(n, format.blockSize), kk), k);
  case Granularity::Block2D:
    return add(mul(div(n, format.blockSize), kk / format.blockSize2),
               div(k, format.blockSize2));
  }
  llvm_unreachable("unknown granularity");
}

Value PackedWeightReader::codeByteOffset(ImplicitLocOpBuilder &b, Value n,
                                         Value k) const {
  auto c = [&](int64_t v) { return arith::ConstantIndexOp::create(b, v); };
  Value element = arith::AddIOp::create(
      b, arith::MulIOp::create(b, n, c(problem.k)), k);
  Value bitOffset = arith::MulIOp::create(b, element, c(bits));
  return arith::DivUIOp::create(b, bitOffset, c(8));
}

SmallVector<Value> PackedWeightReader::loadWords(ImplicitLocOpBuilder &b,
                                                 Value weights, Value offset,
                                                 int64_t numBytes,
                                                 int64_t alignment) const {
  SmallVector<Value> words;
  int64_t position = 0;
  Type i8 = b.getI8Type(), i32 = b.getI32Type();
  while (numBytes - position >= 4 && alignment >= 4) {
    int64_t piece = std::min<int64_t>({alignment, 16, numBytes - position});
    piece = int64_t(1) << llvm::Log2_64(piece); // a power of two, >= 4
    Value at = position ? arith::AddIOp::create(
                              b, offset,
                              arith::ConstantIndexOp::create(b, position))
                              .getResult()
                        : offset;
    Value bytes = vector::LoadOp::create(
        b, VectorType::get({piece}, i8), weights, ValueRange{at},
        /*nontemporal=*/false, llvm::MaybeAlign(std::min(alignment, piece)));
    Value asWords = vector::BitCastOp::create(
        b, VectorType::get({piece / 4}, i32), bytes);
    for (int64_t i = 0; i < piece / 4; ++i)
      words.push_back(vector::ExtractOp::create(b, asWords, i));
    position += piece;
  }
  // Unaligned or trailing bytes, assembled little-endian into words.
  Emitter em(b);
  while (position < numBytes) {
    Value word = em.i32c(0);
    for (int64_t i = 0; i < 4 && position < numBytes; ++i, ++position) {
      Value at = arith::AddIOp::create(
          b, offset, arith::ConstantIndexOp::create(b, position));
      Value byte = memref::LoadOp::create(b, weights, ValueRange{at});
      word = em.bor(word, em.shl(em.byteToI32(byte), em.i32c(8 * i)));
    }
    words.push_back(word);
  }
  return words;
}

Value PackedWeightReader::extractCode(Emitter &em, ArrayRef<Value> words,
                                      int64_t j) const {
  int64_t bit = j * bits;
  int64_t word = bit / 32, shift = bit % 32;
  Value value = shift ? em.lshr(words[word], em.i32c(shift)) : words[word];
  if (shift + bits > 32)
    value = em.bor(value, em.shl(words[word + 1], em.i32c(32 - shift)));
  if (shift + bits == 32)
    return value;
  return em.band(value, em.i32c((1 << bits) - 1));
}

Value PackedWeightReader::loadLittleEndian(Emitter &em, Value weights,
                                           Value offset, int64_t count,
                                           int64_t alignment) const {
  ImplicitLocOpBuilder &b = em.b;
  if (count >= 2 && alignment >= count) {
    Value bytes = vector::LoadOp::create(
        b, VectorType::get({count}, b.getI8Type()), weights, ValueRange{offset},
        /*nontemporal=*/false, llvm::MaybeAlign(count));
    Value word = vector::BitCastOp::create(
        b, VectorType::get({1}, b.getIntegerType(count * 8)), bytes);
    Value scalar = vector::ExtractOp::create(b, word, 0);
    return count == 4 ? scalar : arith::ExtUIOp::create(b, em.i32(), scalar);
  }
  Value value = em.i32c(0);
  for (int64_t i = 0; i < count; ++i) {
    Value at = arith::AddIOp::create(b, offset, em.idx(i));
    Value byte = memref::LoadOp::create(b, weights, ValueRange{at});
    value = em.bor(value, em.shl(em.byteToI32(byte), em.i32c(8 * i)));
  }
  return value;
}

Value PackedWeightReader::loadTensorScale(Emitter &em, Value weights) const {
  if (!problem.format.secondLevelScale)
    return Value();
  int64_t alignment = commonAlignment({tensorScaleOffset}, 4);
  return em.floatOf(loadLittleEndian(em, weights, em.idx(tensorScaleOffset), 4,
                                     alignment));
}

PackedWeightReader::RunScale
PackedWeightReader::loadRunScale(Emitter &em, Value weights, Value n, Value k,
                                 Value tensorScale) const {
  ImplicitLocOpBuilder &b = em.b;
  const Format &format = problem.format;
  Value index = scaleIndex(b, n, k);
  Value offset = arith::AddIOp::create(
      b, em.idx(scaleOffset), arith::MulIOp::create(b, index, em.idx(scaleBytes)));
  int64_t alignment = commonAlignment({scaleOffset, scaleBytes}, scaleBytes);
  Value raw = loadLittleEndian(em, weights, offset, scaleBytes, alignment);
  RunScale run;
  run.scale = emitDecodeScale(em, format.scaleType, raw, tensorScale);
  const ElementType &e = format.element;
  if (format.symmetric && e.kind == ElementKind::Int && e.fractionBits)
    run.scale = em.fmul(run.scale, em.f32c(std::ldexp(1.0f, -e.fractionBits)));
  if (!format.symmetric) {
    Value at = arith::AddIOp::create(b, em.idx(zeroPointOffset), index);
    Value zeroPoint = em.byteToI32(memref::LoadOp::create(b, weights, ValueRange{at}));
    run.zeroPointBias = em.fadd(arith::UIToFPOp::create(b, em.f32(), zeroPoint),
                                em.f32c(8388608.0f));
  }
  return run;
}

Value PackedWeightReader::decodeCode(Emitter &em, Value code,
                                     const RunScale &scale) const {
  const Format &format = problem.format;
  const ElementType &e = format.element;
  // 0x4B000000 is 2^23: OR-ing an integer below 2^23 into its mantissa and
  // subtracting 2^23 converts it exactly, without the slow I2F unit.
  auto magic = [&](Value unsignedCode) {
    return em.floatOf(em.bor(unsignedCode, em.i32c(0x4B000000)));
  };
  if (!format.symmetric)
    return em.fsub(magic(code), scale.zeroPointBias);
  if (e.kind == ElementKind::Int) {
    if (!e.isSigned)
      return em.fsub(magic(code), em.f32c(8388608.0f));
    // Flipping the sign bit maps [-2^(b-1), 2^(b-1)) onto [0, 2^b).
    int32_t half = 1 << (e.bits - 1);
    return em.fsub(magic(arith::XOrIOp::create(em.b, code, em.i32c(half))),
                   em.f32c(8388608.0f + float(half)));
  }
  if (fastMinifloat) {
    int m = e.mantissaBits;
    Value sign = em.shl(em.lshr(code, em.i32c(e.bits - 1)), em.i32c(31));
    Value magnitude =
        em.shl(em.band(code, em.i32c((1 << (e.bits - 1)) - 1)), em.i32c(23 - m));
    return em.fmul(em.floatOf(em.bor(sign, magnitude)),
                   em.f32c(std::ldexp(1.0f, 127 - e.bias)));
  }
  return emitDecodeElement(em, code, element);
}

//===----------------------------------------------------------------------===//
// Kernel signature
//===----------------------------------------------------------------------===//

MemRefType inputMemRefType(const MatmulProblem &problem) {
  if (problem.act)
    return packedActMemRefType(problem.inputElementType.getContext(),
                               problem.actBytes);
  return MemRefType::get({problem.m, problem.k}, problem.inputElementType);
}

MemRefType weightMemRefType(const MatmulProblem &problem) {
  return MemRefType::get({problem.weightBytes},
                         IntegerType::get(problem.inputElementType.getContext(), 8));
}

MemRefType resultMemRefType(const MatmulProblem &problem) {
  return MemRefType::get({problem.m, problem.n}, problem.resultElementType);
}

Value indexToI64(ImplicitLocOpBuilder &b, Value index) {
  return arith::IndexCastUIOp::create(b, b.getI64Type(), index).getResult();
}

Value globalBytePointer(ImplicitLocOpBuilder &b, Value memref) {
  MLIRContext *ctx = b.getContext();
  Value address = indexToI64(
      b, memref::ExtractAlignedPointerAsIndexOp::create(b, memref));
  Value generic =
      LLVM::IntToPtrOp::create(b, LLVM::LLVMPointerType::get(ctx), address);
  return LLVM::AddrSpaceCastOp::create(b, LLVM::LLVMPointerType::get(ctx, 1),
                                       generic)
      .getResult();
}

Value globalByteAt(ImplicitLocOpBuilder &b, Value base, Value byteOffset) {
  return LLVM::GEPOp::create(b, LLVM::LLVMPointerType::get(b.getContext(), 1),
                             b.getI8Type(), base,
                             ValueRange{indexToI64(b, byteOffset)})
      .getResult();
}

Value dynamicSharedAddress(ImplicitLocOpBuilder &b, Value *memref) {
  auto workgroup = mlir::gpu::AddressSpaceAttr::get(
      b.getContext(), mlir::gpu::AddressSpace::Workgroup);
  Value shared = mlir::gpu::DynamicSharedMemoryOp::create(
      b, MemRefType::get({ShapedType::kDynamic}, b.getI8Type(), AffineMap(),
                         workgroup));
  if (memref)
    *memref = shared;
  return indexToI64(b,
                    memref::ExtractAlignedPointerAsIndexOp::create(b, shared));
}

Value sharedPointerAt(ImplicitLocOpBuilder &b, Value address) {
  return LLVM::IntToPtrOp::create(
             b, LLVM::LLVMPointerType::get(b.getContext(), 3), address)
      .getResult();
}

void copyAsync(ImplicitLocOpBuilder &b, Value sharedPointer,
               Value globalPointer, int64_t bytes) {
  NVVM::CpAsyncOp::create(
      b, sharedPointer, globalPointer,
      b.getI32IntegerAttr(bytes),
      NVVM::LoadCacheModifierKindAttr::get(
          b.getContext(), bytes == 16 ? NVVM::LoadCacheModifierKind::CG
                                      : NVVM::LoadCacheModifierKind::CA),
      Value());
}

void storeResult(ImplicitLocOpBuilder &b, Value value, Value y, Value row,
                 Value col, const MatmulProblem &problem, bool guardRows,
                 bool guardCols) {
  if (!problem.resultElementType.isF32())
    value = arith::TruncFOp::create(b, problem.resultElementType, value);
  auto below = [&](Value index, int64_t bound) -> Value {
    return arith::CmpIOp::create(b, arith::CmpIPredicate::ult, index,
                                 arith::ConstantIndexOp::create(b, bound));
  };
  Value inside;
  if (guardRows)
    inside = below(row, problem.m);
  if (guardCols) {
    Value colInside = below(col, problem.n);
    inside = inside ? arith::AndIOp::create(b, inside, colInside).getResult()
                    : colInside;
  }
  if (!inside) {
    memref::StoreOp::create(b, value, y, ValueRange{row, col});
    return;
  }
  auto ifOp = scf::IfOp::create(b, inside, /*withElse=*/false);
  ImplicitLocOpBuilder thenBuilder(b.getLoc(), ifOp.getThenBodyBuilder());
  memref::StoreOp::create(thenBuilder, value, y, ValueRange{row, col});
}

mlir::gpu::GPUFuncOp createKernel(OpBuilder &builder, Location loc,
                                  StringRef name, TypeRange inputs,
                                  MemRefType output, const LaunchShape &launch,
                                  TypeRange workgroup) {
  MLIRContext *ctx = builder.getContext();
  SmallVector<Type> arguments(inputs.begin(), inputs.end());
  arguments.push_back(output);
  auto func = mlir::gpu::GPUFuncOp::create(
      builder, loc, name, builder.getFunctionType(arguments, {}), workgroup,
      TypeRange{});
  func->setAttr(mlir::gpu::GPUDialect::getKernelFuncAttrName(),
                builder.getUnitAttr());
  auto dims = [&](const std::array<int64_t, 3> &d) {
    return DenseI32ArrayAttr::get(
        ctx, {int32_t(d[0]), int32_t(d[1]), int32_t(d[2])});
  };
  func.setKnownBlockSizeAttr(dims(launch.block));
  func.setKnownGridSizeAttr(dims(launch.grid));
  // Inputs are read-only and never alias the output: NVPTX then loads them
  // through the non-coherent cache (ld.global.nc). The access attributes
  // also tell quantc-stage-gpu-buffers which way to copy each buffer.
  Attribute unit = builder.getUnitAttr();
  for (unsigned i = 0; i < arguments.size(); ++i) {
    func.setArgAttr(i, LLVM::LLVMDialect::getNoAliasAttrName(), unit);
    func.setArgAttr(i,
                    i + 1 < arguments.size()
                        ? LLVM::LLVMDialect::getReadonlyAttrName()
                        : LLVM::LLVMDialect::getWriteOnlyAttrName(),
                    unit);
  }
  // Shared buffers are read and written with 16-byte vector accesses; by
  // default their globals would only be aligned to the element type.
  for (unsigned i = 0; i < workgroup.size(); ++i)
    func.setWorkgroupAttributionAttr(i, LLVM::LLVMDialect::getAlignAttrName(),
                                     builder.getI64IntegerAttr(16));
  builder.setInsertionPointToStart(&func.getBody().front());
  return func;
}

mlir::gpu::GPUFuncOp createKernel(OpBuilder &builder, Location loc,
                                  StringRef name, const MatmulProblem &problem,
                                  const LaunchShape &launch,
                                  TypeRange workgroup) {
  return createKernel(builder, loc, name,
                      {inputMemRefType(problem), weightMemRefType(problem)},
                      resultMemRefType(problem), launch, workgroup);
}

bool isOcpMinifloat(const ElementType &e, int exponentBits, int mantissaBits) {
  ElementType ocp = ElementType::minifloat(exponentBits, mantissaBits);
  return e.kind == ElementKind::Float && e.exponentBits == ocp.exponentBits &&
         e.mantissaBits == ocp.mantissaBits && e.bias == ocp.bias &&
         e.special == ocp.special;
}

bool isBlockFormat(const Format &f, int64_t size, ScaleType scale, bool nv) {
  int64_t axis = f.axis < 0 ? f.axis + 2 : f.axis;
  return f.granularity == Granularity::Block && axis == 1 &&
         f.blockSize == size && f.scaleType == scale && f.symmetric &&
         f.secondLevelScale == nv;
}

void emitCpAsyncPrologue(
    ImplicitLocOpBuilder &b, int64_t stages, int64_t steps,
    llvm::function_ref<void(ImplicitLocOpBuilder &, int64_t)> issue) {
  for (int64_t s = 0; s < stages; ++s) {
    if (s < steps)
      issue(b, s);
    NVVM::CpAsyncCommitGroupOp::create(b);
  }
  NVVM::CpAsyncWaitGroupOp::create(b, stages - 1);
  mlir::gpu::BarrierOp::create(b);
}

std::pair<Value, Value> coreMatrixChunkPlace(ImplicitLocOpBuilder &b,
                                             Value chunk,
                                             int64_t chunksPerRow) {
  Value row = add(b, mulc(b, divc(b, chunk, 8 * chunksPerRow), 8),
                  remc(b, chunk, 8));
  Value kChunk = remc(b, divc(b, chunk, 8), chunksPerRow);
  return {row, kChunk};
}

void copyCoreMatrixTileAsync(ImplicitLocOpBuilder &b, Value tid,
                             int64_t threads, Value global,
                             int64_t globalRowBytes, Value globalColumnByte,
                             Value row0, int64_t lastRow, Value sharedBase,
                             int64_t sharedOffset, int64_t tileBytes,
                             int64_t chunksPerRow) {
  for (int64_t u = 0; u < tileBytes / 16 / threads; ++u) {
    Value chunk = addc(b, tid, u * threads);
    auto [row, kChunk] = coreMatrixChunkPlace(b, chunk, chunksPerRow);
    Value globalRow = minc(b, add(b, row0, row), lastRow);
    Value source =
        add(b, add(b, mulc(b, globalRow, globalRowBytes), globalColumnByte),
            mulc(b, kChunk, 16));
    Value destination = add(
        b, sharedBase,
        indexToI64(b, addc(b, mulc(b, chunk, 16), sharedOffset)));
    copyAsync(b, sharedPointerAt(b, destination), globalByteAt(b, global, source),
              16);
  }
}

} // namespace quantc::gpukernels
