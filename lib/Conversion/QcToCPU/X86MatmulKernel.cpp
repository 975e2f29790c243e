//===- X86MatmulKernel.cpp - Generates the CPU kernels of qc.matmul -------===//
//
// One kernel is three functions:
//
//   func.func @K(%x: memref<MxKxf32>, %w: memref<Bxi8>, %y: memref<MxNxf32>)
//       Takes the raw pointers, allocates scratch for prepared activations,
//       and runs the two phases below under quantc_parallel_for.
//   llvm.func @K_prep(%ctx, %rowBegin, %rowEnd)
//       Prepares rows of x: rounds them to bf16 (BF16 mode), quantizes them
//       to int8 per block with the per-group code sums (I8 mode), or pads K
//       (F32 mode when K is not a multiple of the chunk).
//   llvm.func @K_task(%ctx, %groupBegin, %groupEnd)
//       Computes whole column-tile groups: for every step of rows it keeps a
//       rows x tiles x (16 / lanes) register tile of f32 accumulators, walks
//       K one scale group at a time, decodes each 64-byte weight chunk once
//       and multiplies it with every row of the step.
//
// The task and prep functions are llvm.funcs so that buffer deallocation,
// which rejects the x86 intrinsics' unknown memory effects, never looks into
// them; their bodies are scf / arith / vector ops on LLVM pointers, lowered by
// the ordinary pipeline. x86-specific instructions (vpermps, vpermw, vpshufb,
// vpermb, vpdpbusd, vdpbf16ps) are llvm.call_intrinsic; everything else is
// target-independent vector code that LLVM selects for the target's features
// (`target_cpu` / `target_features` on the llvm.funcs).
//
//===----------------------------------------------------------------------===//

#include "quantc/Conversion/QcToCPU.h"

#include "Epilogue.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <cfloat>
#include <cmath>

using namespace mlir;
using namespace quantc;
using namespace quantc::cpu;

namespace {

constexpr arith::IntegerOverflowFlags kIndexFlags =
    arith::IntegerOverflowFlags::nuw | arith::IntegerOverflowFlags::nsw;

/// Slots of the context array every phase reads its pointers from.
enum ContextSlot : int64_t {
  kSlotX = 0,       // x as given (f32, [M, K])
  kSlotW = 1,       // packed weights
  kSlotY = 2,       // y (f32, [M, N])
  kSlotXPrep = 3,   // prepared x: bf16 / int8 codes / padded f32, [M, Kp]
  kSlotXSum = 4,    // I8: i32 sum of codes per row and dot group
  kSlotXScale = 5,  // I8: f32 scale per row and activation block
  kSlotTensorAmax = 6, // dynamic per-tensor activations: bits of max |x|
  kNumSlots = 7,
};

class KernelBuilder {
public:
  KernelBuilder(ModuleOp module, const MatmulKernelPlan &plan, StringRef name,
                const MatmulEpilogue *epilogue, const OnlineHadamard *hadamard)
      : module(module), p(plan), epilogue(epilogue), hadamard(hadamard),
        name(name.str()),
        b(module.getLoc(), module.getContext()) {
    MLIRContext *ctx = module.getContext();
    i1 = b.getI1Type();
    i8 = b.getI8Type();
    i16 = b.getI16Type();
    i32 = b.getI32Type();
    i64 = b.getI64Type();
    f16 = b.getF16Type();
    f32 = b.getF32Type();
    bf16 = b.getBF16Type();
    ptr = LLVM::LLVMPointerType::get(ctx);
    W = p.lanes;
    subVectors = 16 / W;
    vf32 = VectorType::get({W}, f32);
    vi32 = VectorType::get({W}, i32);
    const LayoutGeometry &g = p.geometry;
    kp = g.paddedK;
    numGroups = kp / p.groupK;
    chunksPerGroup = p.groupK / g.kPerChunk;
    blockScales = p.weight.granularity == Granularity::Block;
    if (p.act) {
      actPerRow = p.act->granularity != Granularity::Block;
      actPerTensor = p.act->granularity == Granularity::PerTensor &&
                     p.act->staticAmax == 0.0f;
      numActBlocks = actPerRow ? 1 : p.k / p.actBlock;
    } else if (p.mode == KernelMode::I16) {
      numActBlocks = p.k / p.actBlock;
    }
  }

  func::FuncOp emit();

private:
  //===--------------------------------------------------------------------===//
  // Small builders
  //===--------------------------------------------------------------------===//

  Value c64(int64_t v) {
    return arith::ConstantOp::create(b, b.getI64IntegerAttr(v));
  }
  Value c32(int32_t v) {
    return arith::ConstantOp::create(b, b.getI32IntegerAttr(v));
  }
  Value cf32(float v) {
    return arith::ConstantOp::create(b, b.getF32FloatAttr(v));
  }
  Value splat(VectorType type, Attribute element) {
    return arith::ConstantOp::create(b, DenseElementsAttr::get(type, element));
  }
  Value splatI32(int32_t v) { return splat(vi32, b.getI32IntegerAttr(v)); }
  Value splatF32(float v) { return splat(vf32, b.getF32FloatAttr(v)); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, x, y); }
  /// Index arithmetic (offsets, counts: never negative, far from 2^63)
  /// carries nuw / nsw, which lets LLVM reassociate it into addressing.
  Value addIndex(Value x, Value y) {
    return arith::AddIOp::create(b, x, y, kIndexFlags);
  }
  Value addc(Value x, int64_t c) { return c == 0 ? x : addIndex(x, c64(c)); }
  Value add32(Value x, int32_t c) { return arith::AddIOp::create(b, x, c32(c)); }
  Value mulc(Value x, int64_t c) {
    return c == 1 ? x : arith::MulIOp::create(b, x, c64(c), kIndexFlags);
  }
  Value divc(Value x, int64_t c) {
    return c == 1 ? x : arith::DivUIOp::create(b, x, c64(c)).getResult();
  }
  Value remc(Value x, int64_t c) {
    return arith::RemUIOp::create(b, x, c64(c));
  }
  Value fadd(Value x, Value y) { return arith::AddFOp::create(b, x, y); }
  Value fmul(Value x, Value y) { return arith::MulFOp::create(b, x, y); }
  Value fma(Value x, Value y, Value acc) {
    // llvm.intr.fma, not math.fma: the pipeline's math expansion splits
    // math.fma into a multiply and an add. Targets without FMA (x86-64)
    // multiply and add, which is what llvm.fma would become there anyway
    // (a libm call).
    if (!p.target.fma && !p.target.avx512)
      return fadd(fmul(x, y), acc);
    return LLVM::FMAOp::create(b, x, y, acc);
  }
  /// Lanes of the prep phase's elementwise loops: whole vectors where the
  /// target has them (the same operations per element as the scalar loop,
  /// so the same results), else scalars.
  int prepLanes() const {
    return p.target.avx512 ? 16 : p.target.avx2 ? 8 : 1;
  }
  /// body(k, w) for k in [start, start + count): w = prepLanes() elements at
  /// a time, then single elements.
  void forEachLanes(Value start, int64_t count,
                    function_ref<void(Value, int)> body) {
    int w = prepLanes();
    int64_t full = w > 1 ? count / w * w : 0;
    if (full > 0)
      loop(c64(0), c64(full), w, {}, [&](Value j, ValueRange) {
        body(add(start, j), w);
        return SmallVector<Value>{};
      });
    if (full < count)
      loop(c64(full), c64(count), 1, {}, [&](Value j, ValueRange) {
        body(add(start, j), 1);
        return SmallVector<Value>{};
      });
  }
  Type floatType(int w) {
    return w == 1 ? f32 : Type(VectorType::get({w}, f32));
  }
  Type intType(Type element, int w) {
    return w == 1 ? element : Type(VectorType::get({w}, element));
  }
  Value lanes(Value scalar, int w) {
    return w == 1 ? scalar
                  : vector::BroadcastOp::create(
                        b, VectorType::get({w}, scalar.getType()), scalar)
                        .getResult();
  }
  Value floatConstant(float v, int w) { return lanes(cf32(v), w); }
  Value intConstant(int32_t v, int w) { return lanes(c32(v), w); }
  Value roundEven(Value x) {
    // llvm.roundeven is one vroundps with SSE4.1, and the quantization loops
    // of the prep phase vectorize around it; math.roundeven would be expanded
    // into integer bit tricks that keep them scalar (about 60 instructions
    // per element). Without SSE4.1 it would be a libm call: keep the
    // expansion there.
    if (p.target.avx2 || p.target.avx512)
      return LLVM::RoundEvenOp::create(b, x);
    return math::RoundEvenOp::create(b, x);
  }
  Value lshr(Value x, int64_t bits) {
    if (bits == 0)
      return x;
    return arith::ShRUIOp::create(b, x, splatI32(static_cast<int32_t>(bits)));
  }
  Value shl(Value x, int64_t bits) {
    if (bits == 0)
      return x;
    return arith::ShLIOp::create(b, x, splatI32(static_cast<int32_t>(bits)));
  }
  Value ashr(Value x, int64_t bits) {
    return arith::ShRSIOp::create(b, x, splatI32(static_cast<int32_t>(bits)));
  }
  Value band(Value x, int32_t mask) {
    return arith::AndIOp::create(b, x, splatI32(mask));
  }
  Value bitcast(Type type, Value v) {
    return vector::BitCastOp::create(b, cast<VectorType>(type), v);
  }
  Value gep(Value base, Value byteOffset) {
    return LLVM::GEPOp::create(b, ptr, i8, base, ValueRange{byteOffset});
  }
  Value gepc(Value base, int64_t byteOffset) {
    return byteOffset == 0 ? base : gep(base, c64(byteOffset));
  }
  /// Prefetch for reading into all cache levels (prefetcht0).
  void prefetch(Value address) {
    LLVM::Prefetch::create(b, address, /*rw=*/0, /*hint=*/3, /*cache=*/1);
  }
  Value load(Type type, Value address) {
    return LLVM::LoadOp::create(b, type, address, /*alignment=*/1);
  }
  void store(Value value, Value address) {
    LLVM::StoreOp::create(b, value, address, /*alignment=*/1);
  }
  Value intrinsic(StringRef intrinsicName, Type result, ValueRange args) {
    return LLVM::CallIntrinsicOp::create(b, result,
                                         b.getStringAttr(intrinsicName), args)
        .getResult(0);
  }
  /// A scalar loaded from `address` in every lane.
  Value broadcastLoad(VectorType type, Value address) {
    return vector::BroadcastOp::create(b, type,
                                       load(type.getElementType(), address));
  }

  /// scf.for over i64 [lb, ub) with `init` carried; `body` returns the
  /// values to yield.
  SmallVector<Value>
  loop(Value lb, Value ub, int64_t step, ValueRange init,
       function_ref<SmallVector<Value>(Value, ValueRange)> body) {
    auto forOp = scf::ForOp::create(b, lb, ub, c64(step), init);
    OpBuilder::InsertionGuard guard(b);
    Block *block = forOp.getBody();
    if (!block->empty() && isa<scf::YieldOp>(block->back()))
      block->back().erase();
    b.setInsertionPointToEnd(block);
    SmallVector<Value> results =
        body(forOp.getInductionVar(), forOp.getRegionIterArgs());
    scf::YieldOp::create(b, results);
    return SmallVector<Value>(forOp.getResults());
  }

  /// scf.if with results; both branches return values of the same types.
  SmallVector<Value> ifElse(Value condition, TypeRange types,
                            function_ref<SmallVector<Value>()> thenBody,
                            function_ref<SmallVector<Value>()> elseBody) {
    auto ifOp = scf::IfOp::create(b, types, condition, /*withElse=*/true);
    OpBuilder::InsertionGuard guard(b);
    auto fill = [&](Block *block, function_ref<SmallVector<Value>()> body) {
      if (!block->empty() && isa<scf::YieldOp>(block->back()))
        block->back().erase();
      b.setInsertionPointToEnd(block);
      scf::YieldOp::create(b, body());
    };
    fill(ifOp.thenBlock(), thenBody);
    fill(ifOp.elseBlock(), elseBody);
    return SmallVector<Value>(ifOp.getResults());
  }

  LLVM::LLVMFuncOp createTaskFunction(StringRef taskName);
  void setTargetAttributes(LLVM::LLVMFuncOp func);

  //===--------------------------------------------------------------------===//
  // Weights
  //===--------------------------------------------------------------------===//

  /// Set while emitRowStep emits one dot group of a layout with inline
  /// scales: the group's first chunk, and the offsets in a tile of that
  /// chunk and of the group's scales, which the group loop carries (a few
  /// adds per group instead of a divide and remainder per tile).
  struct GroupCursor {
    Value firstChunk, codeOffset, scaleIndex, scaleOffset;
  };
  std::optional<GroupCursor> cursor;

  /// Address of the 64-byte code chunk `chunk` of tile `tile`.
  Value chunkAddress(Value w, Value tile, Value chunk) {
    const LayoutGeometry &g = p.geometry;
    if (cursor)
      return gep(w, addIndex(mulc(tile, g.tileBytes),
                             addIndex(cursor->codeOffset,
                                      mulc(arith::SubIOp::create(
                                               b, chunk, cursor->firstChunk,
                                               kIndexFlags),
                                           g.chunkBytes))));
    Value offset = mulc(chunk, g.chunkBytes);
    if (g.chunksPerScaleBlock) // scales inline: past the earlier blocks'
      offset = addc(
          addIndex(mulc(divc(chunk, g.chunksPerScaleBlock), g.blockStride),
                   mulc(remc(chunk, g.chunksPerScaleBlock), g.chunkBytes)),
          g.blockCodeOffset);
    return gep(w, addIndex(mulc(tile, g.tileBytes), offset));
  }
  /// Offset in a tile of the 16 scales of scale index `gw` along K (the
  /// layouts' scaleOffsetInTile).
  Value scaleOffsetInTile(Value gw) {
    const LayoutGeometry &g = p.geometry;
    if (cursor && cursor->scaleIndex == gw)
      return cursor->scaleOffset;
    if (g.chunksPerScaleBlock == 0)
      return addc(mulc(gw, 16 * g.scaleBytes), g.codeBytesPerTile);
    Value offset = mulc(divc(gw, g.scaleGroupsPerBlock), g.blockStride);
    if (g.scaleGroupsPerBlock > 1)
      offset = addIndex(offset, mulc(remc(gw, g.scaleGroupsPerBlock),
                                     g.scaleGroupBytes));
    return addc(offset, g.blockScaleOffset);
  }
  /// x86_n16k4_d6: 6-bit codes packed 4 in 3 bytes.
  bool dense6() const { return p.layout == "x86_n16k4_d6"; }
  /// The 64 bytes of a chunk at `address`, one code per byte (as x86_n16k4
  /// holds them): loaded as is, or unpacked from x86_n16k4_d6's 48 bytes
  /// (the load reads 16 bytes past them, inside the tile's scales).
  Value loadChunkBytes(Value address);

  /// The decoded f32 scales of tile `tile`, sub-vector `s`, scale index `gw`.
  Value weightScale(Value w, Value tile, int s, Value gw);

  /// F32 mode: the values of phase `phase` of a chunk dword vector.
  Value decodeF32(Value codes, int phase);
  /// F32 byte lanes: the values of W codes, one per byte.
  Value decodeBytesF32(Value bytes);
  /// Byte lanes: the scales of part `part` (4 k lanes per column), from the
  /// column scales of the tile.
  Value expandScale(Value w, Value tile, int part, Value gw);
  /// Byte lanes: adds the 4 k lanes of every column of parts [4s, 4s+4).
  Value reduceParts(ArrayRef<Value> parts);

  //===--------------------------------------------------------------------===//
  // Phases
  //===--------------------------------------------------------------------===//

  /// E4M3 weight scales decode through f16 (F16C / AVX-512), as the value
  /// times 2^-8.
  bool e4m3ViaF16() const {
    return p.weight.scaleType == ScaleType::E4M3 &&
           (p.target.f16c || p.target.avx512);
  }

  bool needsPrep() const {
    return p.mode != KernelMode::F32 || p.fakeQuantizedAct ||
           p.geometry.paddedK != p.k;
  }
  /// Bytes of one prepared row: int8 codes (I8), the hi then the lo limbs
  /// (I16), bf16 (BF16) or f32 values.
  int64_t prepRowBytes() const {
    int64_t elementBytes = p.mode == KernelMode::I8       ? 1
                           : p.mode == KernelMode::I16  ? 2
                           : p.mode == KernelMode::BF16 ? 2
                                                          : 4;
    return kp * elementBytes;
  }
  bool integerMode() const {
    return p.mode == KernelMode::I8 || p.mode == KernelMode::I16;
  }
  Value emitAbsMaxBits(Value xRow, Value start, int64_t count);
  void emitPrepRowI16(Value xRow, Value prepRow, Value xSum, Value xScale,
                      Value row);
  void emitPrep(LLVM::LLVMFuncOp func);
  void emitPrepRow(Value x, Value xPrep, Value xSum, Value xScale, Value row,
                   Value xRowOverride = {});
  Value f32Global(StringRef suffix, ArrayRef<float> values);
  Value emitHadamardRow(Value xRow, Value line, Value mixed, Value signs,
                        Value baseMatrix);
  void emitTask(LLVM::LLVMFuncOp func);
  void emitTileGroup(Value group, int tiles, int64_t lastTileColumns);
  void emitRowStep(Value m0, int rows, ArrayRef<Value> tileIndex,
                   int64_t lastTileColumns);
  /// A loop of `steps` steps over a layout with inline scales, carrying
  /// `acc` and the offsets in a tile of each step's first chunk (advancing
  /// by `codeStep`) and of its scales, `stepsPerBlock` steps per block of
  /// the layout; returns the final `acc`.
  SmallVector<Value> loopCarryingOffsets(
      int64_t steps, ArrayRef<Value> acc, int64_t stepsPerBlock,
      int64_t codeStep,
      function_ref<SmallVector<Value>(Value, ValueRange, Value, Value)> body);
  /// I8 with scale pairs (x86_n16k8_s32): the K loop, 32 of K per step,
  /// returning the f32 accumulators [row][tile].
  SmallVector<Value> emitScalePairSteps(Value m0, ArrayRef<Value> xRows,
                                        ArrayRef<Value> tileIndex,
                                        SmallVector<Value> facc);
  /// I8 / I16, 4-bit codes: the unsigned weights of the low and high nibbles
  /// of a chunk dword vector (vpdpbusd operands).
  void decodeNibblesU8(Value codes, Value &low, Value &high);
  /// vpshufb of 64 bytes (two AVX2 halves without AVX-512).
  Value shuffleBytes(Value lut, Value index);
  /// acc + the byte dot products of (weights, x codes) pairs, 16 i32 lanes
  /// of 4 u8 * s8 products each: vpdpbusd with VNNI, else (AVX-512BW or
  /// AVX2, weights small enough for vpmaddubsw, see the plan) vpmaddubsw +
  /// vpmaddwd.
  Value byteDots(Value acc, ArrayRef<std::pair<Value, Value>> products);
  /// The sum of the groupK int8 codes at `codes`, as i32 (16 at a time
  /// where the prep phase has 16 lanes).
  Value emitCodeSum(Value codes);
  /// Index of the i32 that holds -offset * (the x codes of `group` of `row`,
  /// limb `limb`): [row][group] (I8), [row][group][limb] (I16), and with
  /// scale pairs [row][pair][limb][half], so that a limb's two halves are
  /// one qword to broadcast.
  Value xSumIndex(Value row, Value group, int limb);
  /// I8 with scale pairs: x codes of every 32 of K reordered so that the
  /// qword at 8 q holds k 4q .. 4q+3 and 16+4q .. 16+4q+3.
  void emitPairOrder(Value prepRow);

  Value applyEpilogue(Value y, Value row, Value column, int64_t columns);

  ModuleOp module;
  const MatmulKernelPlan &p;
  /// Elementwise ops applied before every store (null: none).
  const MatmulEpilogue *epilogue;
  /// Rotation of x along K in the prep phase (null: none).
  const OnlineHadamard *hadamard;
  std::string name;
  ImplicitLocOpBuilder b;
  Type i1, i8, i16, i32, i64, f16, f32, bf16, ptr;
  int W = 16, subVectors = 1;
  VectorType vf32, vi32;
  int64_t kp = 0, numGroups = 0, chunksPerGroup = 0, numActBlocks = 0;
  bool blockScales = false, actPerRow = false;
  /// Activations with one scale for the whole tensor, from its amax at run
  /// time: the entry function reduces it before the prep phase.
  bool actPerTensor = false;
  Value tensorAmaxBits;

  // Values of the task function.
  Value xBase, wBase, yBase, xSumBase, xScaleBase, resultScale;
  SmallVector<Value> epilogueBases;
  int64_t xRowBytes = 0;
};

//===----------------------------------------------------------------------===//
// Entry function
//===----------------------------------------------------------------------===//

func::FuncOp KernelBuilder::emit() {
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;
  MLIRContext *ctx = module.getContext();
  b.setInsertionPointToEnd(module.getBody());

  auto declare = [&](StringRef callee, FunctionType type) {
    if (!module.lookupSymbol(callee)) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(module.getBody());
      auto decl = func::FuncOp::create(b, callee, type);
      decl.setPrivate();
    }
  };
  declare("quantc_parallel_for",
          FunctionType::get(ctx, {ptr, ptr, i64}, {}));
  if (needsPrep()) {
    declare("quantc_kernel_alloc", FunctionType::get(ctx, {i64}, {ptr}));
    declare("quantc_kernel_free", FunctionType::get(ctx, {ptr}, {}));
  }

  LLVM::LLVMFuncOp prep;
  if (needsPrep()) {
    prep = createTaskFunction(name + "_prep");
    emitPrep(prep);
  }
  LLVM::LLVMFuncOp task = createTaskFunction(name + "_task");
  emitTask(task);

  b.setInsertionPointToEnd(module.getBody());
  auto xType = MemRefType::get({p.m, p.k}, f32);
  auto wType = MemRefType::get({p.geometry.totalBytes}, i8);
  auto yType = MemRefType::get({p.m, p.n}, f32);
  SmallVector<Type> argumentTypes = {xType, wType, yType};
  if (epilogue)
    for (MatmulEpilogue::OperandKind kind : epilogue->operands)
      argumentTypes.push_back(
          kind == MatmulEpilogue::OperandKind::Column ? MemRefType::get({p.n}, f32)
          : kind == MatmulEpilogue::OperandKind::Matrix
              ? yType
              : MemRefType::get({}, f32));
  auto entry = func::FuncOp::create(
      b, name, FunctionType::get(ctx, argumentTypes, {}));
  entry.setPrivate();
  Block *body = entry.addEntryBlock();
  b.setInsertionPointToStart(body);

  auto pointerOf = [&](Value memref) {
    Value index = memref::ExtractAlignedPointerAsIndexOp::create(b, memref);
    Value address = arith::IndexCastOp::create(b, i64, index);
    return LLVM::IntToPtrOp::create(b, ptr, address).getResult();
  };
  int64_t numSlots = kNumSlots + (epilogue ? epilogue->operands.size() : 0);
  Value context = LLVM::AllocaOp::create(b, ptr, ptr, c64(numSlots), 8);
  auto setSlot = [&](int64_t slot, Value value) {
    store(value, gepc(context, slot * 8));
  };
  setSlot(kSlotX, pointerOf(body->getArgument(0)));
  setSlot(kSlotW, pointerOf(body->getArgument(1)));
  setSlot(kSlotY, pointerOf(body->getArgument(2)));
  for (int64_t slot = kNumSlots; slot < numSlots; ++slot)
    setSlot(slot, pointerOf(body->getArgument(3 + slot - kNumSlots)));

  Value scratch;
  if (needsPrep()) {
    auto align = [](int64_t bytes) { return (bytes + 63) / 64 * 64; };
    int64_t prepBytes = align(p.m * prepRowBytes());
    int64_t sumBytes = 0, scaleBytes = 0;
    if (p.act || p.mode == KernelMode::I16) {
      sumBytes = align(p.m * numGroups * 4 * (p.mode == KernelMode::I16 ? 2 : 1));
      scaleBytes = align(p.m * numActBlocks * 4);
    }
    scratch = func::CallOp::create(b, "quantc_kernel_alloc", TypeRange{ptr},
                                   ValueRange{c64(prepBytes + sumBytes +
                                                  scaleBytes)})
                  .getResult(0);
    setSlot(kSlotXPrep, scratch);
    setSlot(kSlotXSum, gepc(scratch, prepBytes));
    setSlot(kSlotXScale, gepc(scratch, prepBytes + sumBytes));
    if (actPerTensor) {
      // max |x| over the whole tensor, as unsigned bits (NaN above Inf above
      // every finite value), before any row is quantized.
      Value x = load(ptr, gepc(context, kSlotX * 8));
      Value amax = emitAbsMaxBits(x, c64(0), p.m * p.k);
      store(arith::ExtUIOp::create(b, i64, amax),
            gepc(context, kSlotTensorAmax * 8));
    }
    Value prepFn = LLVM::AddressOfOp::create(b, prep);
    func::CallOp::create(b, "quantc_parallel_for", TypeRange{},
                         ValueRange{prepFn, context, c64(p.m)});
  }
  Value taskFn = LLVM::AddressOfOp::create(b, task);
  func::CallOp::create(b, "quantc_parallel_for", TypeRange{},
                       ValueRange{taskFn, context, c64(p.numTileGroups())});
  if (scratch)
    func::CallOp::create(b, "quantc_kernel_free", TypeRange{},
                         ValueRange{scratch});
  func::ReturnOp::create(b);
  return entry;
}

LLVM::LLVMFuncOp KernelBuilder::createTaskFunction(StringRef taskName) {
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToEnd(module.getBody());
  auto type = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(b.getContext()),
                                          {ptr, i64, i64});
  auto func = LLVM::LLVMFuncOp::create(b, taskName, type,
                                       LLVM::Linkage::Internal);
  setTargetAttributes(func);
  Block *entry = func.addEntryBlock(b);
  (void)entry;
  return func;
}

void KernelBuilder::setTargetAttributes(LLVM::LLVMFuncOp func) {
  func.setTargetCpuAttr(b.getStringAttr(p.target.cpu));
  if (!p.target.features.empty()) {
    SmallVector<StringRef> features(p.target.features.begin(),
                                    p.target.features.end());
    func.setTargetFeaturesAttr(
        LLVM::TargetFeaturesAttr::get(b.getContext(), features));
  }
}

//===----------------------------------------------------------------------===//
// Prep: activations per row
//===----------------------------------------------------------------------===//

void KernelBuilder::emitPrep(LLVM::LLVMFuncOp func) {
  Block *entry = &func.getBody().front();
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(entry);
  Value context = entry->getArgument(0);
  Value x = load(ptr, gepc(context, kSlotX * 8));
  Value xPrep = load(ptr, gepc(context, kSlotXPrep * 8));
  Value xSum = load(ptr, gepc(context, kSlotXSum * 8));
  Value xScale = load(ptr, gepc(context, kSlotXScale * 8));
  if (actPerTensor)
    tensorAmaxBits = load(i32, gepc(context, kSlotTensorAmax * 8));
  // The rotated row lives in a stack buffer (two with a base matrix) that
  // stays in L1 / L2 between the transform and the quantization.
  Value line, mixed, signs, baseMatrix;
  if (hadamard) {
    auto buffer = [&] {
      return LLVM::AllocaOp::create(b, ptr, f32, c64(p.k), 64).getResult();
    };
    line = buffer();
    if (hadamard->base > 1) {
      mixed = buffer();
      // Transposed: column j of H is a contiguous run, one vector per lanes.
      int64_t m = hadamard->base;
      std::vector<float> transposed(m * m);
      for (int64_t r = 0; r < m; ++r)
        for (int64_t j = 0; j < m; ++j)
          transposed[j * m + r] = hadamard->baseMatrix[r * m + j];
      baseMatrix = f32Global("_hadamard_base_t", transposed);
    }
    if (!hadamard->signs.empty())
      signs = f32Global("_hadamard_signs", hadamard->signs);
  }
  loop(entry->getArgument(1), entry->getArgument(2), 1, {},
       [&](Value row, ValueRange) {
         if (hadamard) {
           Value rotated = emitHadamardRow(gep(x, mulc(row, p.k * 4)), line,
                                           mixed, signs, baseMatrix);
           emitPrepRow(x, xPrep, xSum, xScale, row, rotated);
         } else {
           emitPrepRow(x, xPrep, xSum, xScale, row);
         }
         return SmallVector<Value>{};
       });
  LLVM::ReturnOp::create(b, ValueRange{});
}

/// Scalar loops: LLVM vectorizes them (they are simple maps and integer
/// reductions), and the scalar form is what the format library computes.
void KernelBuilder::emitPrepRow(Value x, Value xPrep, Value xSum, Value xScale,
                                Value row, Value xRowOverride) {
  Value xRow = xRowOverride ? xRowOverride : gep(x, mulc(row, p.k * 4));
  Value prepRow = gep(xPrep, mulc(row, prepRowBytes()));
  Value zero = c64(0);

  if (p.mode == KernelMode::I16) {
    emitPrepRowI16(xRow, prepRow, xSum, xScale, row);
    return;
  }
  if (!p.act) {
    int64_t elementBytes = p.mode == KernelMode::BF16 ? 2 : 4;
    loop(zero, c64(p.k), 1, {}, [&](Value k, ValueRange) {
      Value v = load(f32, gep(xRow, mulc(k, 4)));
      if (p.mode == KernelMode::BF16)
        v = arith::TruncFOp::create(b, bf16, v);
      store(v, gep(prepRow, mulc(k, elementBytes)));
      return SmallVector<Value>{};
    });
    if (kp > p.k)
      loop(c64(p.k), c64(kp), 1, {}, [&](Value k, ValueRange) {
        Value z = p.mode == KernelMode::BF16
                      ? arith::ConstantOp::create(b, b.getZeroAttr(bf16))
                      : cf32(0.0f);
        store(z, gep(prepRow, mulc(k, elementBytes)));
        return SmallVector<Value>{};
      });
    return;
  }

  // `act`: quantize every activation block as quantc::quantize does, and
  // keep the codes (I8) or their values (fake quantization, as
  // quantc::dequantize: code * 2^-fractionBits * scale).
  bool keepCodes = p.mode == KernelMode::I8;
  const Format &act = *p.act;
  const ElementType &e = act.element;
  int64_t block = actPerRow ? p.k : p.actBlock;
  float maxFinite = static_cast<float>(elementMaxFinite(e));
  float codeScale = std::ldexp(1.0f, e.fractionBits);
  int lo = -((1 << (e.bits - 1)) - 1), hi = (1 << (e.bits - 1)) - 1;
  loop(zero, c64(p.k / block), 1, {}, [&](Value blockIndex, ValueRange) {
    Value start = mulc(blockIndex, block);
    Value amaxBits = actPerTensor ? tensorAmaxBits
                                  : emitAbsMaxBits(xRow, start, block);
    Value amax = arith::BitcastOp::create(b, f32, amaxBits);
    if (act.staticAmax > 0.0f) {
      // A calibrated per-tensor amax; a row with NaN/Inf still gets the
      // non-finite scale quantc::quantize gives it.
      Value finite = arith::CmpIOp::create(b, arith::CmpIPredicate::ult,
                                           amaxBits, c32(0x7F800000));
      amax = arith::SelectOp::create(b, finite, cf32(act.staticAmax), amax);
    }
    if (act.clipRatio != 1.0f)
      amax = fmul(amax, cf32(act.clipRatio));
    Value isZero =
        arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, amax, cf32(0.0f));
    Value scale, inverse; // x / scale, or x * inverse for power-of-two scales
    if (act.scaleType == ScaleType::F32) {
      Value s = arith::DivFOp::create(b, amax, cf32(maxFinite));
      s = arith::MaximumFOp::create(b, s,
                                    cf32(std::numeric_limits<float>::denorm_min()));
      scale = arith::SelectOp::create(b, isZero, cf32(1.0f), s);
    } else {
      // E8M0, floor: floor(log2(amax)) - emax_elem, clamped to [-127, 127];
      // zero gives -127.
      Value biased = arith::ShRUIOp::create(b, amaxBits, c32(23));
      Value exponent = arith::SubIOp::create(
          b, biased, c32(127 + elementMaxExponent(e)));
      exponent = arith::MaxSIOp::create(b, exponent, c32(-127));
      exponent = arith::MinSIOp::create(b, exponent, c32(127));
      exponent = arith::SelectOp::create(b, isZero, c32(-127), exponent);
      auto powerOfTwo = [&](Value ex) {
        // 2^ex for ex in [-127, 127]; 2^-127 is the subnormal 0x00400000.
        Value normal = arith::ShLIOp::create(b, add32(ex, 127), c32(23));
        Value subnormal = c32(0x00400000);
        Value isSubnormal =
            arith::CmpIOp::create(b, arith::CmpIPredicate::slt, ex, c32(-126));
        return arith::BitcastOp::create(
            b, f32, arith::SelectOp::create(b, isSubnormal, subnormal, normal));
      };
      scale = powerOfTwo(exponent);
      inverse = powerOfTwo(arith::SubIOp::create(b, c32(0), exponent));
    }
    store(scale, gep(xScale, mulc(add(mulc(row, numActBlocks), blockIndex), 4)));
    forEachLanes(start, block, [&](Value k, int w) {
      Value v = load(floatType(w), gep(xRow, mulc(k, 4)));
      Value q = inverse ? fmul(v, lanes(inverse, w))
                        : arith::DivFOp::create(b, v, lanes(scale, w));
      if (codeScale != 1.0f)
        q = fmul(q, floatConstant(codeScale, w));
      q = roundEven(q);
      q = arith::MaxNumFOp::create(b, q, floatConstant(lo, w));
      q = arith::MinNumFOp::create(b, q, floatConstant(hi, w));
      if (keepCodes) {
        store(arith::FPToSIOp::create(b, intType(i8, w), q), gep(prepRow, k));
      } else {
        if (codeScale != 1.0f)
          q = fmul(q, floatConstant(1.0f / codeScale, w));
        store(fmul(q, lanes(scale, w)), gep(prepRow, mulc(k, 4)));
      }
    });
    return SmallVector<Value>{};
  });
  if (kp > p.k)
    loop(c64(p.k), c64(kp), 1, {}, [&](Value k, ValueRange) {
      if (keepCodes)
        store(arith::ConstantOp::create(b, b.getIntegerAttr(i8, 0)),
              gep(prepRow, k));
      else
        store(cf32(0.0f), gep(prepRow, mulc(k, 4)));
      return SmallVector<Value>{};
    });
  if (!keepCodes)
    return;
  // Code sums per dot group, for the weight offset.
  loop(zero, c64(numGroups), 1, {}, [&](Value group, ValueRange) {
    Value sum = emitCodeSum(gep(prepRow, mulc(group, p.groupK)));
    store(arith::MulIOp::create(b, sum, c32(-p.weightOffset)),
          gep(xSum, mulc(xSumIndex(row, group, 0), 4)));
    return SmallVector<Value>{};
  });
  if (p.scalePairs)
    emitPairOrder(prepRow);
}

Value KernelBuilder::emitCodeSum(Value codes) {
  // 16 lanes also on AVX2 (two ymm registers): integer sums, any order.
  if ((p.target.avx512 || p.target.avx2) && p.groupK % 16 == 0) {
    auto v16i8 = VectorType::get({16}, i8);
    auto widen = [&](Value at) {
      return arith::ExtSIOp::create(b, vi32, load(v16i8, at)).getResult();
    };
    Value sum;
    if (p.groupK <= 64) {
      for (int64_t j = 0; j < p.groupK; j += 16)
        sum = sum ? add(sum, widen(gepc(codes, j))) : widen(codes);
    } else {
      sum = loop(c64(0), c64(p.groupK), 16, ValueRange{splatI32(0)},
                 [&](Value j, ValueRange acc) {
                   return SmallVector<Value>{add(acc[0], widen(gep(codes, j)))};
                 })[0];
    }
    return vector::ReductionOp::create(b, vector::CombiningKind::ADD, sum);
  }
  return loop(c64(0), c64(p.groupK), 1, ValueRange{c32(0)},
              [&](Value j, ValueRange acc) {
                Value code = load(i8, gep(codes, j));
                return SmallVector<Value>{add(acc[0], arith::ExtSIOp::create(
                                                          b, i32, code))};
              })[0];
}

Value KernelBuilder::xSumIndex(Value row, Value group, int limb) {
  Value rowGroup = add(mulc(row, numGroups), group);
  if (p.mode != KernelMode::I16)
    return rowGroup;
  if (!p.scalePairs)
    return addc(mulc(rowGroup, 2), limb);
  // rowGroup = 2 (row numGroups / 2 + pair) + half (numGroups is even).
  Value half = arith::AndIOp::create(b, group, c64(1));
  return add(addc(mulc(arith::SubIOp::create(b, rowGroup, half), 2), 2 * limb),
             half);
}

void KernelBuilder::emitPairOrder(Value prepRow) {
  auto v8i32 = VectorType::get({8}, i32);
  loop(c64(0), c64(kp), 32, {}, [&](Value k, ValueRange) {
    Value address = gep(prepRow, k);
    Value dwords = load(v8i32, address);
    store(vector::ShuffleOp::create(b, dwords, dwords,
                                    ArrayRef<int64_t>{0, 4, 1, 5, 2, 6, 3, 7}),
          address);
    return SmallVector<Value>{};
  });
}

/// The address of a constant f32 array, a private global of the module.
Value KernelBuilder::f32Global(StringRef suffix, ArrayRef<float> values) {
  std::string globalName = name + suffix.str();
  auto type = LLVM::LLVMArrayType::get(f32, values.size());
  if (!module.lookupSymbol(globalName)) {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(module.getBody());
    auto tensorType =
        RankedTensorType::get({static_cast<int64_t>(values.size())}, f32);
    LLVM::GlobalOp::create(b, type, /*isConstant=*/true,
                           LLVM::Linkage::Private, globalName,
                           DenseElementsAttr::get(tensorType, values),
                           /*alignment=*/64);
  }
  return LLVM::AddressOfOp::create(b, ptr, globalName);
}

/// qc.hadamard of one row of K values at `xRow` as qc-expand-formats lowers
/// it, op for op: the signs, the base matrix on every chunk, the butterflies,
/// the scale. Returns the buffer that holds the result (`line` or `mixed`).
/// Elementwise steps run on whole vectors where they can (the same operation
/// per element).
Value KernelBuilder::emitHadamardRow(Value xRow, Value line, Value mixed,
                                     Value signs, Value baseMatrix) {
  const OnlineHadamard &h = *hadamard;
  auto at = [&](Value base, Value index) { return gep(base, mulc(index, 4)); };
  // body(i, w) over [start, start + count): the widest vectors that fit, then
  // narrower ones down to 4 lanes (base orders are multiples of 4), then
  // single elements.
  auto forEachRun = [&](Value start, int64_t count,
                        function_ref<void(Value, int)> body) {
    int64_t done = 0;
    for (int w = prepLanes(); w >= 4; w /= 2) {
      int64_t run = (count - done) / w * w;
      if (run > 0)
        loop(c64(done), c64(done + run), w, {}, [&](Value i, ValueRange) {
          body(add(start, i), w);
          return SmallVector<Value>{};
        });
      done += run;
    }
    if (done < count)
      loop(c64(done), c64(count), 1, {}, [&](Value i, ValueRange) {
        body(add(start, i), 1);
        return SmallVector<Value>{};
      });
  };
  // 1. The line, times the signs.
  forEachLanes(c64(0), p.k, [&](Value k, int w) {
    Value v = load(floatType(w), at(xRow, k));
    if (signs)
      v = fmul(v, load(floatType(w), at(signs, k)));
    store(v, at(line, k));
  });
  Value current = line;
  // 2. H_m on every chunk of m consecutive elements: output r of a chunk is
  // sum = sum + h[r][j] x[j] over j from 0; lanes hold consecutive r (the
  // transposed matrix's column j times x[j] in every lane), so each lane
  // adds the same products in the same order.
  int64_t m = h.base;
  if (m > 1) {
    loop(c64(0), c64(h.powerOfTwo), 1, {}, [&](Value chunk, ValueRange) {
      Value first = mulc(chunk, m);
      forEachRun(c64(0), m, [&](Value r, int w) {
        Value sum = loop(c64(0), c64(m), 1, {floatConstant(0.0f, w)},
                         [&](Value j, ValueRange acc) {
                           Value hv = load(floatType(w),
                                           at(baseMatrix, add(mulc(j, m), r)));
                           Value xv = lanes(load(f32, at(line, add(first, j))), w);
                           return SmallVector<Value>{fadd(acc[0], fmul(hv, xv))};
                         })[0];
        store(sum, at(mixed, add(first, r)));
      });
      return SmallVector<Value>{};
    });
    current = mixed;
  }
  // 3. Butterflies across the chunks: pairs (i, i + half) in groups.
  for (int64_t level = 1; level < h.powerOfTwo; level *= 2) {
    int64_t half = level * m;
    loop(c64(0), c64(h.powerOfTwo / (2 * level)), 1, {},
         [&](Value group, ValueRange) {
           Value first = mulc(group, 2 * half);
           forEachRun(first, half, [&](Value i0, int w) {
             Value i1 = addc(i0, half);
             Value u = load(floatType(w), at(current, i0));
             Value v = load(floatType(w), at(current, i1));
             store(fadd(u, v), at(current, i0));
             store(arith::SubFOp::create(b, u, v), at(current, i1));
           });
           return SmallVector<Value>{};
         });
  }
  // 4. The scale.
  forEachLanes(c64(0), p.k, [&](Value k, int w) {
    Value v = load(floatType(w), at(current, k));
    store(fmul(v, floatConstant(h.scale, w)), at(current, k));
  });
  return current;
}

/// The bits of max |x| over `count` f32 values of `xRow` from `start`: an
/// unsigned max of the magnitudes' bits orders non-negative floats (and puts
/// NaN above Inf above every finite value).
Value KernelBuilder::emitAbsMaxBits(Value xRow, Value start, int64_t count) {
  return loop(c64(0), c64(count), 1, ValueRange{c32(0)},
              [&](Value j, ValueRange acc) {
                Value v = load(i32, gep(xRow, mulc(add(start, j), 4)));
                Value magnitude = arith::AndIOp::create(b, v, c32(0x7FFFFFFF));
                return SmallVector<Value>{
                    arith::MaxUIOp::create(b, acc[0], magnitude)};
              })[0];
}

/// I16: per block of 32, s = amax / 32639 (1 for a zero block) and
/// q = round(x / s) in [-32639, 32639], stored as hi = (q + 128) >> 8 in
/// [-127, 127] and lo = q - 256 hi in [-128, 127]; the limbs' code sums per
/// dot group follow.
void KernelBuilder::emitPrepRowI16(Value xRow, Value prepRow, Value xSum,
                                   Value xScale, Value row) {
  Value zero = c64(0);
  const int64_t block = p.actBlock;
  const float qMax = 32639.0f;
  loop(zero, c64(p.k / block), 1, {}, [&](Value blockIndex, ValueRange) {
    Value start = mulc(blockIndex, block);
    Value amaxBits = emitAbsMaxBits(xRow, start, block);
    Value amax = arith::BitcastOp::create(b, f32, amaxBits);
    Value isZero =
        arith::CmpFOp::create(b, arith::CmpFPredicate::OEQ, amax, cf32(0.0f));
    Value scale = arith::SelectOp::create(
        b, isZero, cf32(1.0f), arith::DivFOp::create(b, amax, cf32(qMax)));
    store(scale, gep(xScale, mulc(add(mulc(row, numActBlocks), blockIndex), 4)));
    forEachLanes(start, block, [&](Value k, int w) {
      Value q = arith::DivFOp::create(
          b, load(floatType(w), gep(xRow, mulc(k, 4))), lanes(scale, w));
      q = roundEven(q);
      q = arith::MaxNumFOp::create(b, q, floatConstant(-qMax, w));
      q = arith::MinNumFOp::create(b, q, floatConstant(qMax, w));
      Value qi = arith::FPToSIOp::create(b, intType(i32, w), q);
      Value hi = arith::ShRSIOp::create(
          b, add(qi, intConstant(128, w)), intConstant(8, w));
      Value lo = arith::SubIOp::create(
          b, qi, arith::ShLIOp::create(b, hi, intConstant(8, w)));
      store(arith::TruncIOp::create(b, intType(i8, w), hi), gep(prepRow, k));
      store(arith::TruncIOp::create(b, intType(i8, w), lo),
            gep(prepRow, add(k, c64(kp))));
    });
    return SmallVector<Value>{};
  });
  if (kp > p.k)
    loop(c64(p.k), c64(kp), 1, {}, [&](Value k, ValueRange) {
      Value z = arith::ConstantOp::create(b, b.getIntegerAttr(i8, 0));
      store(z, gep(prepRow, k));
      store(z, gep(prepRow, add(k, c64(kp))));
      return SmallVector<Value>{};
    });
  loop(zero, c64(numGroups), 1, {}, [&](Value group, ValueRange) {
    Value start = mulc(group, p.groupK);
    for (int limb = 0; limb < 2; ++limb) {
      Value sum = emitCodeSum(gep(prepRow, add(c64(limb * kp), start)));
      store(arith::MulIOp::create(b, sum, c32(-p.weightOffset)),
            gep(xSum, mulc(xSumIndex(row, group, limb), 4)));
    }
    return SmallVector<Value>{};
  });
  if (p.scalePairs) {
    emitPairOrder(prepRow);
    emitPairOrder(gep(prepRow, c64(kp)));
  }
}

//===----------------------------------------------------------------------===//
// Weight decoding
//===----------------------------------------------------------------------===//

Value KernelBuilder::weightScale(Value w, Value tile, int s, Value gw) {
  const LayoutGeometry &g = p.geometry;
  Value offset = add(mulc(tile, g.tileBytes),
                     addc(scaleOffsetInTile(gw), s * W * g.scaleColumnStride));
  Value address = gep(w, offset);
  switch (p.weight.scaleType) {
  case ScaleType::F32:
    return load(vf32, address);
  case ScaleType::F16:
    return arith::ExtFOp::create(b, vf32,
                                 load(VectorType::get({W}, f16), address));
  case ScaleType::BF16: {
    Value raw = arith::ExtUIOp::create(b, vi32,
                                       load(VectorType::get({W}, i16), address));
    return bitcast(vf32, shl(raw, 16));
  }
  case ScaleType::E8M0: {
    // 2^(raw - 127): raw as an f32's exponent field; raw 0 is the subnormal
    // 2^-127.
    Value bits;
    if (g.scaleColumnStride > g.scaleBytes) {
      // x86_n16k8_sid: the dwords at the block's byte hold its scales in
      // their low bytes; a shift and a mask, no widening shuffle.
      bits = band(shl(load(vi32, address), 23), 0x7F800000);
    } else {
      Value raw = arith::ExtUIOp::create(
          b, vi32, load(VectorType::get({W}, i8), address));
      bits = shl(raw, 23);
    }
    bits = arith::MaxUIOp::create(b, bits, splatI32(0x400000));
    return bitcast(vf32, bits);
  }
  case ScaleType::E4M3: {
    if (e4m3ViaF16()) {
      // An E4M3 byte shifted left by 7 is the f16 of its value times 2^-8
      // (4 exponent bits into f16's 5, bias 7 vs 15; subnormals map to
      // subnormals), which vcvtph2ps widens exactly; the 2^8 is in the
      // result factor. NaN (0x7F) first becomes 0xFF, an f16 NaN after the
      // shift: raw | ((raw + 1) & 0x80), on bytes.
      auto bytesType = VectorType::get({W}, i8);
      Value raw = load(bytesType, address);
      Value one = splat(bytesType, b.getIntegerAttr(i8, 1));
      Value top = splat(bytesType, b.getIntegerAttr(i8, 0x80));
      Value nanBit = arith::AndIOp::create(b, add(raw, one), top);
      raw = arith::OrIOp::create(b, raw, nanBit);
      auto wordsType = VectorType::get({W}, i16);
      Value words = arith::ExtUIOp::create(b, wordsType, raw);
      words = arith::ShLIOp::create(b, words,
                                    splat(wordsType, b.getIntegerAttr(i16, 7)));
      return arith::ExtFOp::create(b, vf32,
                                   bitcast(VectorType::get({W}, f16), words));
    }
    Value raw = arith::ExtUIOp::create(b, vi32,
                                       load(VectorType::get({W}, i8), address));
    Value magnitude = band(raw, 0x7F);
    Value value = fmul(bitcast(vf32, shl(magnitude, 20)),
                       splatF32(std::ldexp(1.0f, 120)));
    Value isNaN = arith::CmpIOp::create(b, arith::CmpIPredicate::eq, magnitude,
                                        splatI32(0x7F));
    return arith::SelectOp::create(b, isNaN,
                                   splatF32(std::numeric_limits<float>::quiet_NaN()),
                                   value);
  }
  }
  return {};
}

/// The code of phase `phase` sits at bit 8 * (phase % 4) (+ 4 for the high
/// nibble of 4-bit codes) of every dword.
Value KernelBuilder::decodeF32(Value codes, int phase) {
  const ElementType &e = p.weight.element;
  bool fourBit = e.bits == 4;
  int shift = fourBit ? 8 * (phase % 4) + 4 * (phase / 4) : 8 * phase;
  int fieldBits = fourBit ? 4 : 8;
  if (!p.f32Table.empty()) {
    // vpermps reads the low 4 bits of every dword.
    SmallVector<float> table(p.f32Table.begin(), p.f32Table.end());
    Value tableVector = arith::ConstantOp::create(
        b, DenseElementsAttr::get(vf32, ArrayRef<float>(table)));
    return intrinsic("llvm.x86.avx512.permvar.sf.512", vf32,
                     {tableVector, lshr(codes, shift)});
  }
  if (e.kind == ElementKind::Int) {
    // Sign-extend the field: move it to the top, shift back arithmetically.
    Value top = shl(codes, 32 - fieldBits - shift);
    return arith::SIToFPOp::create(b, vf32, ashr(top, 32 - e.bits));
  }
  // Minifloat: sign to bit 31, magnitude under a zero-biased exponent, then
  // times 2^(127 - bias).
  Value code = band(lshr(codes, shift), (1 << e.bits) - 1);
  Value magnitude = band(code, (1 << (e.bits - 1)) - 1);
  Value sign = shl(lshr(code, e.bits - 1), 31);
  Value bits = arith::OrIOp::create(b, shl(magnitude, 23 - e.mantissaBits), sign);
  return fmul(bitcast(vf32, bits), splatF32(std::ldexp(1.0f, 127 - e.bias)));
}

Value KernelBuilder::decodeBytesF32(Value bytes) {
  const ElementType &e = p.weight.element;
  if (e.kind == ElementKind::Int) {
    Value wide = arith::ExtSIOp::create(b, vi32, bytes);
    if (e.bits < 8)
      wide = ashr(shl(wide, 32 - e.bits), 32 - e.bits);
    return arith::SIToFPOp::create(b, vf32, wide);
  }
  Value code = band(arith::ExtUIOp::create(b, vi32, bytes), (1 << e.bits) - 1);
  Value magnitude = band(code, (1 << (e.bits - 1)) - 1);
  Value sign = shl(lshr(code, e.bits - 1), 31);
  Value bits = arith::OrIOp::create(b, shl(magnitude, 23 - e.mantissaBits), sign);
  return fmul(bitcast(vf32, bits), splatF32(std::ldexp(1.0f, 127 - e.bias)));
}

Value KernelBuilder::expandScale(Value w, Value tile, int part, Value gw) {
  int columnsPerPart = W / 4;
  int firstColumn = part * columnsPerPart;
  Value scales = weightScale(w, tile, firstColumn / W, gw);
  SmallVector<int64_t> mask;
  for (int lane = 0; lane < W; ++lane)
    mask.push_back(firstColumn % W + lane / 4);
  return vector::ShuffleOp::create(b, scales, scales, mask);
}

Value KernelBuilder::reduceParts(ArrayRef<Value> parts) {
  // Pairwise: lane l + lane l^1, then + lane l^2: lane 4i holds column i.
  SmallVector<Value> sums;
  for (Value part : parts) {
    for (int distance : {1, 2}) {
      SmallVector<int64_t> mask;
      for (int lane = 0; lane < W; ++lane)
        mask.push_back(lane ^ distance);
      part = fadd(part, vector::ShuffleOp::create(b, part, part, mask));
    }
    sums.push_back(part);
  }
  // Gather lanes 0, 4, 8, ... of the four parts: W / 4 columns each.
  auto gather = [&](Value x, Value y) {
    SmallVector<int64_t> mask;
    for (int lane = 0; lane < W / 4; ++lane)
      mask.push_back(4 * lane);
    for (int lane = 0; lane < W / 4; ++lane)
      mask.push_back(W + 4 * lane);
    return vector::ShuffleOp::create(b, x, y, mask).getResult();
  };
  Value low = gather(sums[0], sums[1]), high = gather(sums[2], sums[3]);
  SmallVector<int64_t> concat;
  for (int lane = 0; lane < W; ++lane)
    concat.push_back(lane);
  return vector::ShuffleOp::create(b, low, high, concat);
}

Value KernelBuilder::loadChunkBytes(Value address) {
  auto v64i8 = VectorType::get({64}, i8);
  Value bytes = load(v64i8, address);
  if (!dense6())
    return bytes;
  // Qword q of the result is bytes 6q .. 6q+5 (vpermb), its byte r the 8
  // bits from bit 6r (vpmultishiftqb); the top 2 bits of each byte are the
  // next code's, which the 64-entry tables and the masks below ignore.
  SmallVector<APInt> gather, shifts;
  for (int lane = 0; lane < 64; ++lane) {
    int q = lane / 8, r = lane % 8;
    gather.push_back(APInt(8, 6 * q + std::min(r, 5)));
    shifts.push_back(APInt(8, 6 * r));
  }
  Value index =
      arith::ConstantOp::create(b, DenseElementsAttr::get(v64i8, gather));
  Value control =
      arith::ConstantOp::create(b, DenseElementsAttr::get(v64i8, shifts));
  Value qwords =
      intrinsic("llvm.x86.avx512.permvar.qi.512", v64i8, {bytes, index});
  return intrinsic("llvm.x86.avx512.pmultishift.qb.512", v64i8,
                   {control, qwords});
}

void KernelBuilder::decodeNibblesU8(Value codes, Value &low, Value &high) {
  auto v64i8 = VectorType::get({64}, i8);
  // The stored nibble s is code s ^ flip (the _ob layouts flip the top bit).
  // The 16-entry table in every 16 lanes. vpermb (VBMI) reads the low 6 bits
  // of each index byte, so the other nibble's bits need no masking; vpshufb
  // reads 4 bits but zeroes the lane when bit 7 is set, so its indices are
  // masked.
  int flip = p.geometry.codeXor & 0xF;
  auto table = [&] {
    SmallVector<APInt> lut;
    for (int lane = 0; lane < 64; ++lane)
      lut.push_back(APInt(8, p.u8Table[(lane % 16) ^ flip]));
    return arith::ConstantOp::create(b, DenseElementsAttr::get(v64i8, lut))
        .getResult();
  };
  // INT4: the byte is the code ^ 8. Stored so (_ob), a mask; else one
  // vpternlogd per nibble, (v ^ 0x88) & 0x0F.
  bool storedIsByte = true, storedXor8IsByte = true;
  for (int c = 0; c < 16; ++c) {
    storedIsByte &= p.u8Table[c ^ flip] == c;
    storedXor8IsByte &= p.u8Table[c ^ flip] == (c ^ 8);
  }
  if (storedIsByte) {
    low = bitcast(v64i8, band(codes, 0x0F0F0F0F));
    high = bitcast(v64i8, band(lshr(codes, 4), 0x0F0F0F0F));
  } else if (storedXor8IsByte) {
    auto flipAndMask = [&](Value v) {
      return bitcast(
          v64i8,
          band(arith::XOrIOp::create(
                   b, v, splatI32(static_cast<int32_t>(0x88888888u))),
               0x0F0F0F0F));
    };
    low = flipAndMask(codes);
    high = flipAndMask(lshr(codes, 4));
  } else if (p.target.avx512vbmi) {
    Value lut = table();
    low = intrinsic("llvm.x86.avx512.permvar.qi.512", v64i8,
                    {lut, bitcast(v64i8, codes)});
    high = intrinsic("llvm.x86.avx512.permvar.qi.512", v64i8,
                     {lut, bitcast(v64i8, lshr(codes, 4))});
  } else {
    Value lut = table();
    Value lowIndex = bitcast(v64i8, band(codes, 0x0F0F0F0F));
    Value highIndex = bitcast(v64i8, band(lshr(codes, 4), 0x0F0F0F0F));
    low = shuffleBytes(lut, lowIndex);
    high = shuffleBytes(lut, highIndex);
  }
}

/// The 64 bytes as two 32-byte halves and back: AVX2 operations on the
/// 16-lane vectors (LLVM keeps a 16 x i32 vector in two ymm registers, so
/// the halves cost nothing).
static SmallVector<int64_t> halfLanes(int half, int64_t lanes) {
  return llvm::to_vector(
      llvm::seq<int64_t>(half * lanes / 2, half * lanes / 2 + lanes / 2));
}

Value KernelBuilder::shuffleBytes(Value lut, Value index) {
  auto v64i8 = VectorType::get({64}, i8);
  if (p.target.avx512)
    return intrinsic("llvm.x86.avx512.pshuf.b.512", v64i8, {lut, index});
  auto v32i8 = VectorType::get({32}, i8);
  SmallVector<Value> halves;
  for (int h = 0; h < 2; ++h)
    halves.push_back(intrinsic(
        "llvm.x86.avx2.pshuf.b", v32i8,
        {vector::ShuffleOp::create(b, lut, lut, halfLanes(h, 64)),
         vector::ShuffleOp::create(b, index, index, halfLanes(h, 64))}));
  return vector::ShuffleOp::create(b, halves[0], halves[1],
                                   llvm::to_vector(llvm::seq<int64_t>(0, 64)));
}

Value KernelBuilder::byteDots(Value acc,
                              ArrayRef<std::pair<Value, Value>> products) {
  if (p.target.avx512vnni) {
    for (auto [weights, xCodes] : products)
      acc = intrinsic("llvm.x86.avx512.vpdpbusd.512", vi32,
                      {acc, weights, xCodes});
    return acc;
  }
  // vpmaddubsw (u8 * s8, adjacent pairs summed in i16) for every product,
  // their i16 sums added (the plan keeps them below 2^15), vpmaddwd by ones
  // (pairs of i16 summed in i32): the same i32 as vpdpbusd. AVX-512BW does
  // it on the whole vector, AVX2 per half. Signed weight bytes: |w| times x
  // with the sign of w.
  auto absolute = [&](Value w) {
    return math::AbsIOp::create(b, w).getResult();
  };
  if (p.target.avx512) {
    auto v32i16 = VectorType::get({32}, i16);
    Value sum;
    for (auto [weights, xCodes] : products) {
      if (p.signedWeightBytes) {
        Value negative = arith::CmpIOp::create(
            b, arith::CmpIPredicate::slt, weights,
            arith::ConstantOp::create(b, b.getZeroAttr(weights.getType())));
        xCodes = arith::SelectOp::create(
            b, negative,
            arith::SubIOp::create(
                b, arith::ConstantOp::create(b, b.getZeroAttr(xCodes.getType())),
                xCodes),
            xCodes);
        weights = absolute(weights);
      }
      Value pairs = intrinsic("llvm.x86.avx512.pmaddubs.w.512", v32i16,
                              {weights, xCodes});
      sum = sum ? arith::AddIOp::create(b, sum, pairs).getResult() : pairs;
    }
    Value ones = arith::ConstantOp::create(
        b, DenseElementsAttr::get(v32i16, APInt(16, 1)));
    return add(acc,
               intrinsic("llvm.x86.avx512.pmaddw.d.512", vi32, {sum, ones}));
  }
  auto v16i16 = VectorType::get({16}, i16);
  auto v8i32 = VectorType::get({8}, i32);
  Value ones = arith::ConstantOp::create(
      b, DenseElementsAttr::get(v16i16, APInt(16, 1)));
  SmallVector<Value> halves;
  for (int h = 0; h < 2; ++h) {
    Value sum;
    for (auto [weights, xCodes] : products) {
      Value w =
          vector::ShuffleOp::create(b, weights, weights, halfLanes(h, 64));
      Value x = vector::ShuffleOp::create(b, xCodes, xCodes, halfLanes(h, 64));
      if (p.signedWeightBytes) {
        x = intrinsic("llvm.x86.avx2.psign.b", w.getType(), {x, w});
        w = absolute(w);
      }
      Value pairs = intrinsic("llvm.x86.avx2.pmadd.ub.sw", v16i16, {w, x});
      sum = sum ? arith::AddIOp::create(b, sum, pairs).getResult() : pairs;
    }
    Value widened = intrinsic("llvm.x86.avx2.pmadd.wd", v8i32, {sum, ones});
    halves.push_back(add(
        vector::ShuffleOp::create(b, acc, acc, halfLanes(h, 16)), widened));
  }
  return vector::ShuffleOp::create(b, halves[0], halves[1],
                                   llvm::to_vector(llvm::seq<int64_t>(0, 16)));
}

//===----------------------------------------------------------------------===//
// Task: column-tile groups
//===----------------------------------------------------------------------===//

void KernelBuilder::emitTask(LLVM::LLVMFuncOp func) {
  Block *entry = &func.getBody().front();
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(entry);
  Value context = entry->getArgument(0);
  xBase = load(ptr, gepc(context, (needsPrep() ? kSlotXPrep : kSlotX) * 8));
  wBase = load(ptr, gepc(context, kSlotW * 8));
  yBase = load(ptr, gepc(context, kSlotY * 8));
  epilogueBases.clear();
  if (epilogue)
    for (size_t i = 0; i < epilogue->operands.size(); ++i)
      epilogueBases.push_back(load(ptr, gepc(context, (kNumSlots + i) * 8)));
  if (integerMode()) {
    xSumBase = load(ptr, gepc(context, kSlotXSum * 8));
    xScaleBase = load(ptr, gepc(context, kSlotXScale * 8));
  }
  xRowBytes = needsPrep() ? prepRowBytes() : p.k * 4;
  // The constant factor of the result, times the NV tensor scale.
  resultScale = nullptr;
  // (Scale pairs multiply by the scales' values, not by value * 2^-8.)
  float factor =
      p.resultFactor * (e4m3ViaF16() && !p.scalePairs ? 256.0f : 1.0f);
  if (factor != 1.0f)
    resultScale = cf32(factor);
  if (p.weight.secondLevelScale) {
    Value s2 = load(f32, gepc(wBase, p.geometry.tensorScaleOffset));
    resultScale = resultScale ? fmul(resultScale, s2) : s2;
  }

  int64_t groups = p.numTileGroups();
  int64_t numTiles = p.geometry.numTiles;
  int lastTiles = static_cast<int>(numTiles - (groups - 1) * p.tilesPerStep);
  int64_t lastColumns = p.n - (numTiles - 1) * 16;
  bool irregularLast = lastTiles != p.tilesPerStep || lastColumns != 16;
  loop(entry->getArgument(1), entry->getArgument(2), 1, {},
       [&](Value group, ValueRange) {
         if (!irregularLast) {
           emitTileGroup(group, p.tilesPerStep, 16);
           return SmallVector<Value>{};
         }
         Value isLast = arith::CmpIOp::create(b, arith::CmpIPredicate::eq,
                                              group, c64(groups - 1));
         ifElse(
             isLast, {},
             [&] {
               emitTileGroup(group, lastTiles, lastColumns);
               return SmallVector<Value>{};
             },
             [&] {
               emitTileGroup(group, p.tilesPerStep, 16);
               return SmallVector<Value>{};
             });
         return SmallVector<Value>{};
       });
  LLVM::ReturnOp::create(b, ValueRange{});
}

void KernelBuilder::emitTileGroup(Value group, int tiles,
                                  int64_t lastTileColumns) {
  SmallVector<Value> tileIndex;
  for (int t = 0; t < tiles; ++t)
    tileIndex.push_back(p.stridedGroups
                            ? addc(group, t * p.numTileGroups())
                            : addc(mulc(group, p.tilesPerStep), t));
  int64_t steps = p.m / p.rowsPerStep;
  int rest = static_cast<int>(p.m % p.rowsPerStep);
  if (steps > 0)
    loop(c64(0), c64(steps), 1, {}, [&](Value step, ValueRange) {
      emitRowStep(mulc(step, p.rowsPerStep), p.rowsPerStep, tileIndex,
                  lastTileColumns);
      return SmallVector<Value>{};
    });
  if (rest)
    emitRowStep(c64(steps * p.rowsPerStep), rest, tileIndex, lastTileColumns);
}

void KernelBuilder::emitRowStep(Value m0, int rows, ArrayRef<Value> tileIndex,
                                int64_t lastTileColumns) {
  const int tiles = static_cast<int>(tileIndex.size());
  const int S = subVectors;
  const int chains = p.chains;
  const bool i16Mode = p.mode == KernelMode::I16;
  // I16 shares the integer machinery of I8; it differs in the activations
  // (two limbs) and the epilogue (hi * 256 + lo).
  const bool i8Mode = integerMode();
  const bool bf16Mode = p.mode == KernelMode::BF16;
  const bool prescale = p.prescale;
  const bool fourBit = p.weight.element.bits == 4;
  const int64_t kc = p.geometry.kPerChunk;

  // Accumulator indexing: F32 keeps one accumulator per sub-vector of a
  // tile (S = 16 / lanes columns each), or with byte lanes one per part of
  // lanes / 4 columns x 4 k.
  const bool byteLanes = p.byteLanes;
  const int P = byteLanes ? 64 / W : S;
  auto fIndex = [&](int r, int t, int s) { return (r * tiles + t) * P + s; };
  int numF = rows * tiles * P;
  // Inner (per group) accumulators: I8 and BF16 cover a whole tile per
  // vector (S = 1); F32 keeps one per part.
  int innerPerTile = (i8Mode || bf16Mode) ? 1 : P;
  auto iIndex = [&](int r, int t, int s, int c) {
    return ((r * tiles + t) * innerPerTile + s) * chains + c;
  };

  SmallVector<Value> xRows;
  for (int r = 0; r < rows; ++r)
    xRows.push_back(gep(xBase, mulc(addc(m0, r), xRowBytes)));

  SmallVector<Value> facc(numF, splatF32(0.0f));
  const LayoutGeometry &geo = p.geometry;
  // Inline scales: the group loop carries its first chunk's and its scales'
  // offsets in a tile (groups never straddle a scale line's block).
  const bool carried =
      geo.chunksPerScaleBlock && geo.chunksPerScaleBlock % chunksPerGroup == 0 &&
      blockScales && p.groupK == p.weightBlock;
  auto groupStep = [&](Value g, ValueRange fIn, Value codeOffset,
                       Value scaleOffset) -> SmallVector<Value> {
    SmallVector<Value> fAcc(fIn.begin(), fIn.end());
    Value gw = blockScales ? mulc(g, p.groupK) : c64(0);
    if (blockScales)
      gw = arith::DivUIOp::create(b, gw, c64(p.weightBlock));
    if (carried)
      cursor = GroupCursor{mulc(g, chunksPerGroup), codeOffset, gw,
                           scaleOffset};
    if (p.prefetchBytes > 0 && blockScales) {
      // The scales stream as well: the line as far ahead, in scale bytes, as
      // the codes are prefetched ahead in code bytes.
      const LayoutGeometry &geo = p.geometry;
      int64_t ahead = p.prefetchBytes * geo.scaleBytesPerTile /
                      std::max<int64_t>(1, geo.codeBytesPerTile);
      for (int t = 0; t < tiles; ++t)
        prefetch(gepc(gep(wBase, add(mulc(tileIndex[t], geo.tileBytes),
                                     scaleOffsetInTile(gw))),
                      std::max<int64_t>(ahead, 64)));
    }
    // Scales of this group's weights, for prescaling.
    SmallVector<Value> groupScale;
    if (prescale)
      for (int t = 0; t < tiles; ++t)
        for (int s = 0; s < P; ++s)
          groupScale.push_back(byteLanes
                                   ? expandScale(wBase, tileIndex[t], s, gw)
                                   : weightScale(wBase, tileIndex[t], s, gw));

    // Inner accumulators start at zero; in I8 mode the first chain starts at
    // -offset * sum(codes of x), which takes the weight offset back out.
    SmallVector<Value> inner;
    for (int r = 0; r < rows; ++r) {
      // -offset * sum(codes) per limb (I16: chain 0 hi, chain 1 lo).
      SmallVector<Value> starts;
      if (i8Mode) {
        int limbs = i16Mode ? 2 : 1;
        for (int limb = 0; limb < limbs; ++limb) {
          Value correction = load(
              i32, gep(xSumBase, mulc(xSumIndex(addc(m0, r), g, limb), 4)));
          starts.push_back(vector::BroadcastOp::create(b, vi32, correction));
        }
      }
      for (int t = 0; t < tiles; ++t)
        for (int s = 0; s < innerPerTile; ++s)
          for (int c = 0; c < chains; ++c)
            inner.push_back(!i8Mode                      ? splatF32(0.0f)
                            : c < (int)starts.size()     ? starts[c]
                                                         : splatI32(0));
    }
    if (prescale)
      inner = fAcc; // accumulate straight into the group-free sums

    // Chunks of this group, unrolled by up to 4.
    int64_t unroll = chunksPerGroup % 4 == 0   ? 4
                     : chunksPerGroup % 2 == 0 ? 2
                                               : 1;
    Value firstChunk = mulc(g, chunksPerGroup);
    inner = loop(c64(0), c64(chunksPerGroup), unroll, inner,
                 [&](Value c0, ValueRange accIn) {
      SmallVector<Value> acc(accIn.begin(), accIn.end());
      auto innerAt = [&](int r, int t, int s, int c) -> Value & {
        return prescale ? acc[fIndex(r, t, s)] : acc[iIndex(r, t, s, c)];
      };
      for (int64_t u = 0; u < unroll; ++u) {
        Value chunk = add(firstChunk, addc(c0, u));
        Value kBase = mulc(chunk, kc);
        if (p.prefetchBytes > 0)
          for (int t = 0; t < tiles; ++t)
            prefetch(gepc(chunkAddress(wBase, tileIndex[t], chunk),
                          p.prefetchBytes));
        if (byteLanes) {
          SmallVector<Value> xRepeated;
          auto v4f32 = VectorType::get({4}, f32);
          SmallVector<int64_t> repeat;
          for (int lane = 0; lane < W; ++lane)
            repeat.push_back(lane % 4);
          for (int r = 0; r < rows; ++r) {
            Value four = load(v4f32, gep(xRows[r], mulc(kBase, 4)));
            xRepeated.push_back(
                vector::ShuffleOp::create(b, four, four, repeat));
          }
          auto bytesType = VectorType::get({W}, i8);
          for (int t = 0; t < tiles; ++t) {
            Value chunkBytes;
            if (dense6())
              chunkBytes =
                  loadChunkBytes(chunkAddress(wBase, tileIndex[t], chunk));
            for (int part = 0; part < P; ++part) {
              Value bytes =
                  dense6()
                      ? vector::ShuffleOp::create(
                            b, chunkBytes, chunkBytes,
                            llvm::to_vector(llvm::seq<int64_t>(part * W,
                                                               part * W + W)))
                            .getResult()
                      : load(bytesType,
                             gepc(chunkAddress(wBase, tileIndex[t], chunk),
                                  part * W));
              Value v = decodeBytesF32(bytes);
              if (prescale)
                v = fmul(v, groupScale[t * P + part]);
              for (int r = 0; r < rows; ++r) {
                Value &a = innerAt(r, t, part, 0);
                a = fma(v, xRepeated[r], a);
              }
            }
          }
        } else if (p.mode == KernelMode::F32) {
          SmallVector<Value> codes; // [t][s]
          for (int t = 0; t < tiles; ++t)
            for (int s = 0; s < S; ++s)
              codes.push_back(load(vi32, gepc(chunkAddress(wBase, tileIndex[t],
                                                           chunk),
                                              4 * s * W)));
          int phases = fourBit ? 8 : 4;
          for (int ph = 0; ph < phases; ++ph) {
            SmallVector<Value> values;
            for (int ts = 0; ts < tiles * S; ++ts) {
              Value v = decodeF32(codes[ts], ph);
              if (prescale)
                v = fmul(v, groupScale[ts]);
              values.push_back(v);
            }
            for (int r = 0; r < rows; ++r) {
              Value xk = broadcastLoad(
                  vf32, gep(xRows[r], mulc(addc(kBase, ph), 4)));
              for (int t = 0; t < tiles; ++t)
                for (int s = 0; s < S; ++s) {
                  Value &a = innerAt(r, t, s, ph % chains);
                  a = fma(values[t * S + s], xk, a);
                }
            }
          }
        } else if (bf16Mode) {
          auto v32i16 = VectorType::get({32}, i16);
          auto v32bf16 = VectorType::get({32}, bf16);
          SmallVector<uint16_t> tableBits(p.bf16Table.begin(),
                                          p.bf16Table.end());
          SmallVector<APInt> tableValues;
          for (uint16_t bits : tableBits)
            tableValues.push_back(APInt(16, bits));
          Value table = arith::ConstantOp::create(
              b, DenseElementsAttr::get(v32i16, tableValues));
          SmallVector<Value> codes;
          for (int t = 0; t < tiles; ++t)
            codes.push_back(
                load(vi32, chunkAddress(wBase, tileIndex[t], chunk)));
          const int shifts[4] = {0, 8, 4, 12};
          for (int q = 0; q < 4; ++q) {
            SmallVector<Value> weights;
            for (int t = 0; t < tiles; ++t) {
              Value index = bitcast(v32i16, lshr(codes[t], shifts[q]));
              Value bits = intrinsic("llvm.x86.avx512.permvar.hi.512", v32i16,
                                     {table, index});
              weights.push_back(bitcast(v32bf16, bits));
            }
            for (int r = 0; r < rows; ++r) {
              Value pair = broadcastLoad(
                  vi32, gep(xRows[r], mulc(addc(kBase, 2 * q), 2)));
              Value xPair = bitcast(v32bf16, pair);
              for (int t = 0; t < tiles; ++t) {
                Value &a = innerAt(r, t, 0, q % chains);
                a = intrinsic("llvm.x86.avx512bf16.dpbf16ps.512", vf32,
                              {a, weights[t], xPair});
              }
            }
          }
        } else { // I8
          auto v64i8 = VectorType::get({64}, i8);
          const ElementType &e = p.weight.element;
          SmallVector<Value> lowWeights, highWeights;
          for (int t = 0; t < tiles; ++t) {
            Value codes = bitcast(
                vi32, loadChunkBytes(chunkAddress(wBase, tileIndex[t], chunk)));
            if (fourBit) {
              decodeNibblesU8(codes, lowWeights.emplace_back(),
                              highWeights.emplace_back());
            } else if (p.signedWeightBytes) {
              lowWeights.push_back(bitcast(v64i8, codes));
            } else if (e.bits == 8 && e.kind == ElementKind::Int) {
              // code + 128: flip the sign bit of every byte.
              lowWeights.push_back(bitcast(
                  v64i8, arith::XOrIOp::create(b, codes,
                                               splatI32(static_cast<int32_t>(
                                                   0x80808080u)))));
            } else {
              SmallVector<APInt> lut;
              for (int lane = 0; lane < 64; ++lane)
                lut.push_back(APInt(
                    8, lane < static_cast<int>(p.u8Table.size())
                           ? p.u8Table[lane]
                           : 0));
              Value table = arith::ConstantOp::create(
                  b, DenseElementsAttr::get(v64i8, lut));
              lowWeights.push_back(intrinsic("llvm.x86.avx512.permvar.qi.512",
                                             v64i8,
                                             {table, bitcast(v64i8, codes)}));
            }
          }
          auto dot = [&](Value &acc, Value weights, Value xCodes) {
            acc = byteDots(acc, {{weights, xCodes}});
          };
          // Without VNNI the nibbles' products share one widening.
          const bool fuseNibbles = fourBit && !p.target.avx512vnni;
          for (int r = 0; r < rows; ++r) {
            // x codes of k .. k+3 (and k+4 .. k+7 for the high nibbles); I16
            // has the lo limbs kp bytes after the hi limbs.
            auto xCodes = [&](int64_t offset) {
              return bitcast(v64i8, broadcastLoad(vi32, gep(xRows[r],
                                                            addc(kBase, offset))));
            };
            Value xLow = xCodes(0);
            Value xHigh = fourBit ? xCodes(4) : Value();
            if (i16Mode) {
              Value xLowLimb = xCodes(kp);
              Value xHighLimb = fourBit ? xCodes(kp + 4) : Value();
              for (int t = 0; t < tiles && fuseNibbles; ++t) {
                Value &hiLimb = innerAt(r, t, 0, 0);
                Value &loLimb = innerAt(r, t, 0, 1);
                hiLimb = byteDots(hiLimb, {{lowWeights[t], xLow},
                                           {highWeights[t], xHigh}});
                loLimb = byteDots(loLimb, {{lowWeights[t], xLowLimb},
                                           {highWeights[t], xHighLimb}});
              }
              for (int t = 0; t < tiles && !fuseNibbles; ++t) {
                dot(innerAt(r, t, 0, 0), lowWeights[t], xLow);
                dot(innerAt(r, t, 0, 1), lowWeights[t], xLowLimb);
                if (fourBit) {
                  dot(innerAt(r, t, 0, 0), highWeights[t], xHigh);
                  dot(innerAt(r, t, 0, 1), highWeights[t], xHighLimb);
                }
              }
              continue;
            }
            for (int t = 0; t < tiles; ++t) {
              if (fuseNibbles && chains == 1) {
                Value &a = innerAt(r, t, 0, 0);
                a = byteDots(a, {{lowWeights[t], xLow},
                                 {highWeights[t], xHigh}});
                continue;
              }
              dot(innerAt(r, t, 0, 0), lowWeights[t], xLow);
              if (fourBit)
                dot(innerAt(r, t, 0, chains - 1), highWeights[t], xHigh);
            }
          }
        }
      }
      return acc;
    });

    if (prescale)
      return inner;

    // Group epilogue: scale the group's sums into the f32 accumulators.
    for (int r = 0; r < rows; ++r) {
      Value xScale;
      if (i8Mode && !actPerRow) {
        Value gx = arith::DivUIOp::create(b, mulc(g, p.groupK), c64(p.actBlock));
        Value address = gep(
            xScaleBase, mulc(add(mulc(addc(m0, r), numActBlocks), gx), 4));
        xScale = broadcastLoad(vf32, address);
      }
      for (int t = 0; t < tiles; ++t) {
        if (i8Mode || bf16Mode) {
          Value sum = inner[iIndex(r, t, 0, 0)];
          if (i16Mode)
            sum = add(shl(sum, 8), inner[iIndex(r, t, 0, 1)]);
          else
            for (int c = 1; c < chains; ++c)
              sum = i8Mode ? add(sum, inner[iIndex(r, t, 0, c)])
                           : fadd(sum, inner[iIndex(r, t, 0, c)]);
          Value &f = fAcc[fIndex(r, t, 0)];
          if (i8Mode) {
            Value d = arith::SIToFPOp::create(b, vf32, sum);
            Value s;
            if (blockScales)
              s = weightScale(wBase, tileIndex[t], 0, gw);
            if (xScale)
              s = s ? fmul(s, xScale) : xScale;
            // One rounding: the integer path is exact up to here, and the
            // model in cpu_kernel_check.py rounds a * b + c exactly once.
            f = s ? LLVM::FMAOp::create(b, d, s, f).getResult() : fadd(f, d);
          } else {
            f = blockScales ? fma(sum, weightScale(wBase, tileIndex[t], 0, gw), f)
                            : fadd(f, sum);
          }
          continue;
        }
        for (int s = 0; s < P; ++s) {
          Value sum = inner[iIndex(r, t, s, 0)];
          for (int c = 1; c < chains; ++c)
            sum = fadd(sum, inner[iIndex(r, t, s, c)]);
          Value &f = fAcc[fIndex(r, t, s)];
          Value scale;
          if (blockScales)
            scale = byteLanes ? expandScale(wBase, tileIndex[t], s, gw)
                              : weightScale(wBase, tileIndex[t], s, gw);
          f = scale ? fma(sum, scale, f) : fadd(f, sum);
        }
      }
    }
    cursor.reset();
    return fAcc;
  };
  if (p.scalePairs) {
    facc = emitScalePairSteps(m0, xRows, tileIndex, facc);
  } else if (!carried) {
    facc = loop(c64(0), c64(numGroups), 1, facc,
                [&](Value g, ValueRange fIn) {
                  return groupStep(g, fIn, Value(), Value());
                });
  } else {
    facc = loopCarryingOffsets(numGroups, facc,
                               geo.chunksPerScaleBlock / chunksPerGroup,
                               chunksPerGroup * geo.chunkBytes, groupStep);
  }

  // Per-channel and per-row scales, the constant factor, and the stores.
  for (int r = 0; r < rows; ++r) {
    Value rowScale;
    if (i8Mode && actPerRow)
      rowScale = broadcastLoad(
          vf32, gep(xScaleBase, mulc(mulc(addc(m0, r), numActBlocks), 4)));
    Value yRow = gep(yBase, mulc(addc(m0, r), p.n * 4));
    for (int t = 0; t < tiles; ++t)
      for (int s = 0; s < S; ++s) {
        Value y = byteLanes
                      ? reduceParts(ArrayRef<Value>(facc).slice(
                            fIndex(r, t, 4 * s), 4))
                      : facc[fIndex(r, t, s)];
        if (!blockScales)
          y = fmul(y, weightScale(wBase, tileIndex[t], s, c64(0)));
        if (rowScale)
          y = fmul(y, rowScale);
        if (resultScale)
          y = fmul(y, vector::BroadcastOp::create(b, vf32, resultScale));
        int64_t columns =
            t == tiles - 1 ? lastTileColumns - s * W : static_cast<int64_t>(W);
        if (columns <= 0)
          continue;
        Value column = add(mulc(tileIndex[t], 16), c64(s * W));
        if (epilogue)
          y = applyEpilogue(y, addc(m0, r), column, columns);
        Value address = gep(yRow, mulc(column, 4));
        if (columns >= W) {
          store(y, address);
          continue;
        }
        SmallVector<bool> lanes(W, false);
        for (int64_t lane = 0; lane < columns; ++lane)
          lanes[lane] = true;
        Value mask = arith::ConstantOp::create(
            b, DenseElementsAttr::get(VectorType::get({W}, i1),
                                      ArrayRef<bool>(lanes)));
        LLVM::MaskedStoreOp::create(b, y, address, mask, 4u);
      }
  }
}

SmallVector<Value> KernelBuilder::loopCarryingOffsets(
    int64_t steps, ArrayRef<Value> acc, int64_t stepsPerBlock,
    int64_t codeStep,
    function_ref<SmallVector<Value>(Value, ValueRange, Value, Value)> body) {
  // Iteration values: [acc..., code offset, scale offset, step in block];
  // past a block's last step both offsets jump to the next block's.
  const LayoutGeometry &geo = p.geometry;
  const int64_t scaleStep = geo.scaleGroupBytes;
  SmallVector<Value> init(acc.begin(), acc.end());
  init.push_back(c64(geo.blockCodeOffset));
  init.push_back(c64(geo.blockScaleOffset));
  init.push_back(c64(0));
  SmallVector<Value> out = loop(
      c64(0), c64(steps), 1, init, [&](Value step, ValueRange in) {
        size_t n = in.size() - 3;
        Value codeOffset = in[n], scaleOffset = in[n + 1], inBlock = in[n + 2];
        SmallVector<Value> next =
            body(step, in.take_front(n), codeOffset, scaleOffset);
        Value following = addc(inBlock, 1);
        Value wrap = arith::CmpIOp::create(b, arith::CmpIPredicate::eq,
                                           following, c64(stepsPerBlock));
        auto advance = [&](Value offset, int64_t within) {
          int64_t toNextBlock = geo.blockStride - (stepsPerBlock - 1) * within;
          return addIndex(offset, arith::SelectOp::create(b, wrap,
                                                          c64(toNextBlock),
                                                          c64(within)));
        };
        next.push_back(advance(codeOffset, codeStep));
        next.push_back(advance(scaleOffset, scaleStep));
        next.push_back(
            arith::SelectOp::create(b, wrap, c64(0), following).getResult());
        return next;
      });
  out.resize(out.size() - 3);
  return out;
}

SmallVector<Value>
KernelBuilder::emitScalePairSteps(Value m0, ArrayRef<Value> xRows,
                                  ArrayRef<Value> tileIndex,
                                  SmallVector<Value> facc) {
  const LayoutGeometry &geo = p.geometry;
  const int rows = static_cast<int>(xRows.size());
  const int tiles = static_cast<int>(tileIndex.size());
  const int64_t pairs = kp / 32;
  // I16: the hi and lo limbs of x in chains of their own.
  const int limbs = p.mode == KernelMode::I16 ? 2 : 1;
  auto v64i8 = VectorType::get({64}, i8);
  auto v32i16 = VectorType::get({32}, i16);
  auto v8i64 = VectorType::get({8}, i64);
  // Chains [row][tile][set][limb].
  auto chain = [&](int r, int t, int set, int limb) {
    return ((r * tiles + t) * 2 + set) * limbs + limb;
  };
  auto pairStep = [&](Value pair, ValueRange fIn, Value codeOffset,
                      Value scaleOffset) -> SmallVector<Value> {
    SmallVector<Value> fAcc(fIn.begin(), fIn.end());
    cursor = GroupCursor{mulc(pair, 4), codeOffset, pair, scaleOffset};
    // A chain's even dwords hold half 0, its odd ones half 1, so it starts
    // at -offset * (the x code sums of the two halves), alternating: one
    // qword the prep phase stored per limb (xSumIndex).
    SmallVector<Value> acc(rows * tiles * 2 * limbs);
    for (int r = 0; r < rows; ++r) {
      for (int limb = 0; limb < limbs; ++limb) {
        Value index = xSumIndex(addc(m0, r), mulc(pair, 2), limb);
        Value start = bitcast(
            vi32, broadcastLoad(v8i64, gep(xSumBase, mulc(index, 4))));
        for (int t = 0; t < tiles; ++t)
          for (int set = 0; set < 2; ++set)
            acc[chain(r, t, set, limb)] = start;
      }
    }
    Value kBase = mulc(pair, 32);
    for (int kk = 0; kk < 2; ++kk) {
      // The x operands of every row and limb first, then tile by tile its
      // two chunks decoded and used at once: the weights of one tile at a
      // time stay live (decoding every tile first spilled: 16 accumulators,
      // 16 decoded chunks and the x operands of a GEMV step exceed 32 zmm).
      SmallVector<Value> xLow(rows * limbs), xHigh(rows * limbs);
      for (int r = 0; r < rows; ++r)
        for (int limb = 0; limb < limbs; ++limb) {
          // The prep phase put k 8kk+j and 16+8kk+j (j < 4) into one qword,
          // and the high nibbles' k 4 after them into the next; I16's lo
          // limbs follow kp bytes after the hi limbs.
          auto xCodes = [&](int64_t offset) {
            return bitcast(v64i8,
                           broadcastLoad(v8i64, gep(xRows[r],
                                                    addc(kBase, offset))));
          };
          xLow[r * limbs + limb] = xCodes(limb * kp + 16 * kk);
          xHigh[r * limbs + limb] = xCodes(limb * kp + 16 * kk + 8);
        }
      for (int t = 0; t < tiles; ++t) {
        Value low[2], high[2]; // [set]
        for (int set = 0; set < 2; ++set) {
          Value chunk = addc(mulc(pair, 4), 2 * kk + set);
          decodeNibblesU8(load(vi32, chunkAddress(wBase, tileIndex[t], chunk)),
                          low[set], high[set]);
        }
        for (int r = 0; r < rows; ++r)
          for (int limb = 0; limb < limbs; ++limb)
            for (int set = 0; set < 2; ++set) {
              Value &a = acc[chain(r, t, set, limb)];
              a = intrinsic("llvm.x86.avx512.vpdpbusd.512", vi32,
                            {a, low[set], xLow[r * limbs + limb]});
              a = intrinsic("llvm.x86.avx512.vpdpbusd.512", vi32,
                            {a, high[set], xHigh[r * limbs + limb]});
            }
      }
    }
    // Epilogue: the halves of column c into the words of dword c, times
    // their multipliers (exact), then one FMA with F * xScale, which all
    // tiles of a row share (I16: the hi limb's sum times 256 plus the lo
    // limb's, in f32).
    Value factor = broadcastLoad(
        vf32, gep(wBase, addc(mulc(pair, 4), geo.pairFactorOffset)));
    for (int r = 0; r < rows; ++r) {
      Value scale = factor;
      if (!actPerRow) {
        Value gx = arith::DivUIOp::create(b, kBase, c64(p.actBlock));
        scale = fmul(broadcastLoad(vf32, gep(xScaleBase,
                                             mulc(add(mulc(addc(m0, r),
                                                           numActBlocks),
                                                      gx),
                                                  4))),
                     factor);
      }
      for (int t = 0; t < tiles; ++t) {
        Value scales = gep(wBase, add(mulc(tileIndex[t], geo.tileBytes),
                                      scaleOffsetInTile(pair)));
        Value multipliers = arith::ExtUIOp::create(
            b, v32i16, load(VectorType::get({32}, i8), scales));
        SmallVector<Value> sums;
        for (int limb = 0; limb < limbs; ++limb) {
          Value words = intrinsic("llvm.x86.avx512.packssdw.512", v32i16,
                                  {acc[chain(r, t, 0, limb)],
                                   acc[chain(r, t, 1, limb)]});
          Value d = intrinsic("llvm.x86.avx512.pmaddw.d.512", vi32,
                              {words, multipliers});
          sums.push_back(arith::SIToFPOp::create(b, vf32, d));
        }
        Value t32 = limbs == 1 ? sums[0]
                               : LLVM::FMAOp::create(b, sums[0],
                                                     splatF32(256.0f), sums[1])
                                     .getResult();
        Value &f = fAcc[r * tiles + t];
        f = LLVM::FMAOp::create(b, t32, scale, f).getResult();
      }
    }
    cursor.reset();
    return fAcc;
  };
  // The multiplier line and chunks of a pair at offsets the loop carries.
  return loopCarryingOffsets(pairs, facc, geo.scaleGroupsPerBlock,
                             4 * geo.chunkBytes, pairStep);
}

/// The epilogue's operands for the W columns from `column` of row `row`
/// (masked loads past N), and its ops on y.
Value KernelBuilder::applyEpilogue(Value y, Value row, Value column,
                                   int64_t columns) {
  Value mask;
  if (columns < W) {
    SmallVector<bool> lanes(W, false);
    for (int64_t lane = 0; lane < columns; ++lane)
      lanes[lane] = true;
    mask = arith::ConstantOp::create(
        b, DenseElementsAttr::get(VectorType::get({W}, i1),
                                  ArrayRef<bool>(lanes)));
  }
  SmallVector<Value> operands;
  for (auto [kind, base] : llvm::zip(epilogue->operands, epilogueBases)) {
    if (kind == MatmulEpilogue::OperandKind::Scalar) {
      operands.push_back(broadcastLoad(vf32, base));
      continue;
    }
    Value element = kind == MatmulEpilogue::OperandKind::Column
                        ? column
                        : add(mulc(row, p.n), column);
    Value address = gep(base, mulc(element, 4));
    operands.push_back(mask ? LLVM::MaskedLoadOp::create(b, vf32, address, mask,
                                                         splatF32(0.0f), 4u)
                                  .getResult()
                            : load(vf32, address));
  }
  return emitEpilogueOps(b, *epilogue, y, operands);
}

} // namespace

func::FuncOp quantc::cpu::emitMatmulKernel(ModuleOp module,
                                           const MatmulKernelPlan &plan,
                                           StringRef name,
                                           const MatmulEpilogue *epilogue,
                                           const OnlineHadamard *hadamard) {
  return KernelBuilder(module, plan, name, epilogue, hadamard).emit();
}
