//===- ActQuantKernel.cpp - qc.matmul's `act` quantized on the GPU --------===//
//
// qc_quantize_act writes x[M, K] (f32, f16 or bf16) in the canonical packed
// layout of the `act` format: the bytes quantc::pack(quantc::quantize(x))
// writes (codes as an LSB-first bit stream in C order, one scale per block in
// C order, zero points, the NV f32 tensor scale). Scales, zero points and
// codes come from the block arithmetic qc-expand-formats uses
// (FormatCodegen.h: emitBlockQuantization, emitCodeInBlock), fed with the same
// block statistics (max/min/OR reductions, whose result does not depend on
// the order), so every byte equals the reference's.
//
// A scale group is G consecutive elements of a row: the block (Block along
// K), the row (PerAxis along K) or the tensor (PerTensor). Kernels that need
// no tensor-wide value share a group among T threads of a CTA of 128 (T = the
// group's chunks of 8 elements when that is a power of two up to 128, else
// 128 for larger groups, each thread taking every T-th chunk): each thread
// reduces its chunks, the group's T statistics meet in shared memory by a
// tree of top-level barriers (log2 T steps), and every thread then writes
// its chunks' codes (8 elements = `bits` whole bytes at a time), its group's
// first thread the scale and zero point. A group of another size (blocks of
// 24, say) is one thread's, which reads it twice. A tensor-wide reduction
// (PerTensor granularity; the NV tensor scale without a static amax) runs
// first in qc_act_stats: up to 64 CTAs of 256 threads, partial statistics in
// shared memory, one barrier, thread 0 writes its CTA's; qc_quantize_act's
// threads then each combine those partials and share out the groups (or, per
// tensor, chunks of 8 elements).
//
// Codes of the OCP minifloats (e2m1, e2m3, e3m2, e4m3, e5m2, saturating) are
// arith.truncf to f4E2M1FN / f6E2M3FN / f6E3M2FN / f8E4M3FN / f8E5M2, which
// quantc-gpu-to-ptx lowers to cvt.rn.satfinite where the chip has it and to
// the library's integer arithmetic elsewhere (GpuPipelines.cpp).
//
// qc_dequantize_act turns the packed bytes back into x's element type
// (quantize + dequantize = qc.fake_quant, as the reference lowering of
// qc.matmul does) for the kernels that read float activations: one thread per
// 8 elements, decoding with PackedWeightReader (the packed activation is a
// "weight" of M rows).
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <algorithm>

using namespace mlir;

namespace quantc::gpukernels {

namespace {
constexpr int64_t kGroupThreads = 128;
constexpr int64_t kReduceThreads = 256;
constexpr int64_t kChunk = 8; // elements per store: `bits` whole bytes

int64_t groupSize(const ActQuantProblem &p) {
  switch (p.format.granularity) {
  case Granularity::PerTensor:
    return p.m * p.k;
  case Granularity::PerAxis:
    return p.k;
  case Granularity::Block:
    return p.format.blockSize;
  case Granularity::Block2D:
    break;
  }
  return 0;
}

bool needsTensorReduction(const Format &format) {
  return format.granularity == Granularity::PerTensor ||
         (format.secondLevelScale && format.staticAmax <= 0.0f);
}

/// scf.for over [lb, ub) by `step` carrying `init`.
ValueRange forRange(ImplicitLocOpBuilder &b, Value lb, Value ub, Value step,
                    ValueRange init,
                    function_ref<SmallVector<Value>(ImplicitLocOpBuilder &,
                                                    Value, ValueRange)>
                        body) {
  auto loop = scf::ForOp::create(
      b, lb, ub, step, init,
      [&](OpBuilder &nested, Location loc, Value i, ValueRange args) {
        ImplicitLocOpBuilder nb(loc, nested);
        scf::YieldOp::create(nb, body(nb, i, args));
      });
  return loop.getResults();
}

/// Runs `body` in an scf.if on `condition`.
void ifThen(ImplicitLocOpBuilder &b, Value condition,
            function_ref<void(ImplicitLocOpBuilder &)> body) {
  auto ifOp = scf::IfOp::create(b, condition, /*withElseRegion=*/false);
  ImplicitLocOpBuilder tb(b.getLoc(), ifOp.getThenBodyBuilder());
  body(tb);
}

Value loadF32(ImplicitLocOpBuilder &b, Value memref, ValueRange indices) {
  Value v = memref::LoadOp::create(b, memref, indices);
  return v.getType().isF32() ? v : arith::ExtFOp::create(b, b.getF32Type(), v);
}

/// Stores the `count` low bytes of `value` (i32 or i64) little-endian at
/// byte `offset`.
void storeLittleEndian(Emitter &em, Value bytes, Value offset, Value value,
                       int64_t count) {
  ImplicitLocOpBuilder &b = em.b;
  Type type = value.getType();
  for (int64_t i = 0; i < count; ++i) {
    Value shifted =
        i ? arith::ShRUIOp::create(b, value,
                                   arith::ConstantOp::create(
                                       b, b.getIntegerAttr(type, 8 * i)))
                .getResult()
          : value;
    Value byte = arith::TruncIOp::create(b, b.getI8Type(), shifted);
    Value at = i ? arith::AddIOp::create(b, offset, em.idx(i)).getResult()
                 : offset;
    memref::StoreOp::create(b, byte, bytes, ValueRange{at});
  }
}

/// Folds element `v` into block statistics `acc` (max |x|, NaN/Inf seen,
/// min x, max x): the one-element step of every reduction here.
SmallVector<Value> foldElement(ImplicitLocOpBuilder &b, ValueRange acc,
                               Value v) {
  Emitter e(b);
  Value a = e.fabs(v);
  return {arith::MaxNumFOp::create(b, acc[0], a),
          arith::OrIOp::create(b, acc[1], e.isNonFinite(a)),
          arith::MinNumFOp::create(b, acc[2], v),
          arith::MaxNumFOp::create(b, acc[3], v)};
}

/// The kernel-side facts of one act format.
struct ActQuantizer {
  const ActQuantProblem &p;
  ElementInfo element;
  PackedWeightReader layout; // offsets of the canonical layout
  Type nativeType;           // f4E2M1FN, ... or null
  int64_t group;

  ActQuantizer(const ActQuantProblem &p, const MatmulProblem &asWeight)
      : p(p), element(describeElement(p.format.element)), layout(asWeight),
        group(groupSize(p)) {
    nativeType = minifloatStorageType(p.inputElementType.getContext(),
                                      p.format.element);
  }

  /// Statistics of the `count` elements of `row` from `col0`.
  BlockStats rowStats(ImplicitLocOpBuilder &b, Value x, Value row, Value col0,
                      int64_t count) const {
    Emitter em(b);
    Value zero = em.f32c(0.0f);
    Value falseV = arith::ConstantOp::create(b, b.getBoolAttr(false));
    ValueRange stats = forRange(
        b, em.idx(0), em.idx(count), em.idx(1),
        ValueRange{zero, falseV, zero, zero},
        [&](ImplicitLocOpBuilder &ib, Value j, ValueRange args) {
          return foldElement(
              ib, args, loadF32(ib, x, {row, arith::AddIOp::create(ib, col0, j)}));
        });
    return {stats[0], stats[1], stats[2], stats[3]};
  }

  /// The code of `v` in its block: the shared block arithmetic, with the
  /// element rounding of the OCP minifloats left to arith.truncf.
  Value code(Emitter &em, Value v, const BlockQuantization &q) const {
    if (!nativeType || !p.format.symmetric)
      return emitCodeInBlock(em, v, q, p.format, element);
    ImplicitLocOpBuilder &b = em.b;
    Value narrow =
        arith::TruncFOp::create(b, nativeType, em.fdiv(v, q.scale.value));
    Value bits = arith::BitcastOp::create(
        b, b.getIntegerType(nativeType.getIntOrFloatBitWidth()), narrow);
    return em.select(q.nonFinite, em.i32c(0),
                     arith::ExtUIOp::create(b, em.i32(), bits));
  }

  /// Writes the scale (and zero point) of scale group `g`.
  void storeScale(Emitter &em, Value bytes, Value g,
                  const BlockQuantization &q) const {
    ImplicitLocOpBuilder &b = em.b;
    Value offset = arith::AddIOp::create(
        b, em.idx(layout.scaleOffset),
        arith::MulIOp::create(b, g, em.idx(layout.scaleBytes)));
    storeLittleEndian(em, bytes, offset, q.scale.bits, layout.scaleBytes);
    if (q.zeroPoint)
      storeLittleEndian(
          em, bytes, arith::AddIOp::create(b, em.idx(layout.zeroPointOffset), g),
          q.zeroPoint, 1);
  }

  void storeTensorScale(Emitter &em, Value bytes, Value tensorScale) const {
    storeLittleEndian(em, bytes, em.idx(layout.tensorScaleOffset),
                      em.bitsOf(tensorScale), 4);
  }

  /// Quantizes the 8 elements of `row` from `col0` and stores their codes.
  void storeChunk(ImplicitLocOpBuilder &b, Value x, Value bytes, Value row,
                  Value col0, const BlockQuantization &q) const {
    Emitter em(b);
    const int bits = p.format.element.bits;
    Type i64 = b.getI64Type();
    Value word = arith::ConstantOp::create(b, b.getI64IntegerAttr(0));
    for (int64_t j = 0; j < kChunk; ++j) {
      Value v = loadF32(
          b, x, {row, arith::AddIOp::create(b, col0, em.idx(j)).getResult()});
      Value c = arith::ExtUIOp::create(b, i64, code(em, v, q));
      if (j)
        c = arith::ShLIOp::create(
            b, c, arith::ConstantOp::create(b, b.getI64IntegerAttr(j * bits)));
      word = arith::OrIOp::create(b, word, c);
    }
    // Element (row, col0) starts byte ((row * K + col0) / 8) * bits.
    Value element =
        arith::AddIOp::create(b, arith::MulIOp::create(b, row, em.idx(p.k)), col0);
    Value offset = arith::MulIOp::create(
        b, arith::DivUIOp::create(b, element, em.idx(kChunk)), em.idx(bits));
    storeLittleEndian(em, bytes, offset, word, bits);
  }

  /// Everything of scale group `g` (not per tensor): statistics, scale,
  /// codes.
  void quantizeGroup(ImplicitLocOpBuilder &b, Value x, Value bytes, Value g,
                     Value tensorScale) const {
    Emitter em(b);
    Value first = arith::MulIOp::create(b, g, em.idx(group));
    Value row = arith::DivUIOp::create(b, first, em.idx(p.k));
    Value col0 = arith::RemUIOp::create(b, first, em.idx(p.k));
    BlockStats stats = rowStats(b, x, row, col0, group);
    BlockQuantization q =
        emitBlockQuantization(em, p.format, element, stats, tensorScale);
    storeScale(em, bytes, g, q);
    forRange(b, em.idx(0), em.idx(group), em.idx(kChunk), {},
             [&](ImplicitLocOpBuilder &cb, Value j, ValueRange) {
               storeChunk(cb, x, bytes, row,
                          arith::AddIOp::create(cb, col0, j), q);
               return SmallVector<Value>{};
             });
  }
};

/// Threads that share one scale group in qc_quantize_act: the group's chunks
/// of 8 when a power of two up to a CTA, a CTA for larger groups (rows of
/// K > 1024), 0 where a group is one thread's (other sizes, groups across
/// rows).
int64_t threadsPerGroup(const ActQuantProblem &p, int64_t group) {
  const int64_t chunks = group / kChunk;
  if (p.k % group != 0)
    return 0;
  if (chunks > kGroupThreads)
    return kGroupThreads;
  return llvm::isPowerOf2_64(chunks) ? chunks : 0;
}

/// Runs `body(row, col0, carried)` over the chunks of 8 elements that one of
/// the T threads sharing a scale group (`lane`) takes: chunks lane, lane + T,
/// ... below `chunks` of the group starting at element `first` of x[M, K].
ValueRange forLaneChunks(
    ImplicitLocOpBuilder &b, Value first, Value lane, Value chunks,
    int64_t threads, int64_t k, ValueRange init,
    function_ref<SmallVector<Value>(ImplicitLocOpBuilder &, Value, Value,
                                    ValueRange)>
        body) {
  return forRange(
      b, lane, chunks, arith::ConstantIndexOp::create(b, threads), init,
      [&](ImplicitLocOpBuilder &cb, Value chunk, ValueRange carried) {
        Emitter ce(cb);
        Value element = arith::AddIOp::create(
            cb, first, arith::MulIOp::create(cb, chunk, ce.idx(kChunk)));
        return body(cb, arith::DivUIOp::create(cb, element, ce.idx(k)),
                    arith::RemUIOp::create(cb, element, ce.idx(k)), carried);
      });
}

/// The statistics one thread of those sharing a scale group gathers from
/// its chunks (forLaneChunks). Combined with max/min/OR only, as the
/// one-thread reduction is.
BlockStats laneStats(ImplicitLocOpBuilder &b, Value x, Value first, Value lane,
                     Value chunks, int64_t threads, int64_t k) {
  Emitter em(b);
  Value zero = em.f32c(0.0f);
  Value falseV = arith::ConstantOp::create(b, b.getBoolAttr(false));
  ValueRange stats = forLaneChunks(
      b, first, lane, chunks, threads, k, ValueRange{zero, falseV, zero, zero},
      [&](ImplicitLocOpBuilder &cb, Value row, Value col0, ValueRange acc) {
        Emitter ce(cb);
        SmallVector<Value> next(acc.begin(), acc.end());
        for (int64_t j = 0; j < kChunk; ++j)
          next = foldElement(
              cb, next,
              loadF32(cb, x, {row, arith::AddIOp::create(cb, col0, ce.idx(j))}));
        return next;
      });
  return {stats[0], stats[1], stats[2], stats[3]};
}

/// Per-thread statistics of the tensor: max |x|, max finite |x|, NaN/Inf
/// seen (0/1), min x, max x. Combined with max/min only, so any split
/// gives the same values.
constexpr int64_t kStats = 5;

SmallVector<Value> combineStats(ImplicitLocOpBuilder &b, ValueRange acc,
                                ArrayRef<Value> more) {
  return {arith::MaxNumFOp::create(b, acc[0], more[0]),
          arith::MaxNumFOp::create(b, acc[1], more[1]),
          arith::MaximumFOp::create(b, acc[2], more[2]),
          arith::MinNumFOp::create(b, acc[3], more[3]),
          arith::MaxNumFOp::create(b, acc[4], more[4])};
}

Value globalThreadIndex(ImplicitLocOpBuilder &b, int64_t threads) {
  Value tid = mlir::gpu::ThreadIdOp::create(b, mlir::gpu::Dimension::x);
  Value bid = mlir::gpu::BlockIdOp::create(b, mlir::gpu::Dimension::x);
  return arith::AddIOp::create(
      b,
      arith::MulIOp::create(b, bid, arith::ConstantIndexOp::create(b, threads)),
      tid);
}

} // namespace

MatmulProblem actAsWeightProblem(const ActQuantProblem &p) {
  MatmulProblem w;
  w.m = 1;
  w.n = p.m;
  w.k = p.k;
  w.format = p.format;
  w.inputElementType = p.inputElementType;
  w.resultElementType = p.inputElementType;
  w.weightBytes = p.packedBytes;
  return w;
}

Type minifloatStorageType(MLIRContext *ctx, const ElementType &e) {
  if (e.kind != ElementKind::Float || !e.saturate)
    return {};
  auto is = [&](int exponentBits, int mantissaBits) {
    ElementType ocp = ElementType::minifloat(exponentBits, mantissaBits);
    ocp.saturate = true;
    return e == ocp;
  };
  if (is(2, 1))
    return Float4E2M1FNType::get(ctx);
  if (is(2, 3))
    return Float6E2M3FNType::get(ctx);
  if (is(3, 2))
    return Float6E3M2FNType::get(ctx);
  if (is(4, 3))
    return Float8E4M3FNType::get(ctx);
  if (is(5, 2))
    return Float8E5M2Type::get(ctx);
  return {};
}

std::string whyActUnsupported(const Format &act, int64_t rank, int64_t m,
                              int64_t k) {
  if (act.granularity == Granularity::Block2D)
    return "2-D blocks of activations are not implemented on the GPU";
  if (act.granularity == Granularity::Block ||
      act.granularity == Granularity::PerAxis) {
    int64_t axis = act.axis < 0 ? act.axis + rank : act.axis;
    if (axis != rank - 1)
      return "activations must be quantized along K (the last axis) on the "
             "GPU";
  }
  if (k % kChunk != 0)
    return "quantized activations need K to be a multiple of 8 on the GPU";
  if (act.granularity == Granularity::Block && act.blockSize % kChunk != 0)
    return "activation blocks must be a multiple of 8 elements on the GPU";
  (void)m;
  return "";
}

MemRefType packedActMemRefType(MLIRContext *ctx, int64_t bytes) {
  return MemRefType::get({bytes}, IntegerType::get(ctx, 8));
}

mlir::gpu::GPUFuncOp emitQuantizeActKernel(OpBuilder &builder, Location loc,
                                           StringRef name,
                                           const ActQuantProblem &p,
                                           LaunchShape &launch) {
  MLIRContext *ctx = builder.getContext();
  MatmulProblem asWeight = actAsWeightProblem(p);
  ActQuantizer quantizer(p, asWeight);
  const Format &format = p.format;
  const int64_t numGroups = p.m * p.k / quantizer.group;
  const bool reduce = needsTensorReduction(format);
  auto xType = MemRefType::get({p.m, p.k}, p.inputElementType);
  auto bytesType = packedActMemRefType(ctx, p.packedBytes);
  OpBuilder::InsertionGuard guard(builder);

  const int64_t threads = reduce ? 0 : threadsPerGroup(p, quantizer.group);
  if (threads) {
    // T threads per group, 128 / T groups per CTA; the statistics meet in
    // shared memory ([stat][thread]; the NaN/Inf flag as 0 / 1).
    const int64_t groupsPerCta = kGroupThreads / threads;
    launch.grid = {(numGroups + groupsPerCta - 1) / groupsPerCta, 1, 1};
    launch.block = {kGroupThreads, 1, 1};
    auto workgroup = mlir::gpu::AddressSpaceAttr::get(
        ctx, mlir::gpu::AddressSpace::Workgroup);
    auto sharedType = MemRefType::get({4, kGroupThreads},
                                      builder.getF32Type(), AffineMap(),
                                      workgroup);
    mlir::gpu::GPUFuncOp func = createKernel(builder, loc, name, {xType},
                                             bytesType, launch, {sharedType});
    ImplicitLocOpBuilder b(loc, builder);
    Emitter em(b);
    Value x = func.getArgument(0), bytes = func.getArgument(1);
    Value shared = func.getWorkgroupAttributions()[0];
    Value tid = mlir::gpu::ThreadIdOp::create(b, mlir::gpu::Dimension::x);
    Value bid = mlir::gpu::BlockIdOp::create(b, mlir::gpu::Dimension::x);
    Value lane = arith::RemUIOp::create(b, tid, em.idx(threads));
    Value leader = arith::SubIOp::create(b, tid, lane);
    Value g = arith::AddIOp::create(
        b, arith::MulIOp::create(b, bid, em.idx(groupsPerCta)),
        arith::DivUIOp::create(b, tid, em.idx(threads)));
    Value valid =
        arith::CmpIOp::create(b, arith::CmpIPredicate::ult, g, em.idx(numGroups));
    // A thread past the last group takes no chunks.
    Value first = arith::MulIOp::create(b, g, em.idx(quantizer.group));
    Value chunks = arith::SelectOp::create(
        b, valid, em.idx(quantizer.group / kChunk), em.idx(0));
    BlockStats mine = laneStats(b, x, first, lane, chunks, threads, p.k);
    Value flag = em.select(mine.nonFinite, em.f32c(1.0f), em.f32c(0.0f));
    for (auto [s, v] : llvm::enumerate(
             SmallVector<Value>{mine.amax, flag, mine.lo, mine.hi}))
      memref::StoreOp::create(b, v, shared, ValueRange{em.idx(s), tid});
    mlir::gpu::BarrierOp::create(b);
    // Tree steps: lanes below `half` fold in the lane `half` above.
    for (int64_t half = threads / 2; half >= 1; half /= 2) {
      ifThen(b,
             arith::CmpIOp::create(b, arith::CmpIPredicate::ult, lane,
                                   em.idx(half)),
             [&](ImplicitLocOpBuilder &tb) {
               Emitter te(tb);
               Value other = arith::AddIOp::create(tb, tid, te.idx(half));
               SmallVector<Value> a, o;
               for (int64_t st = 0; st < 4; ++st) {
                 a.push_back(memref::LoadOp::create(
                     tb, shared, ValueRange{te.idx(st), tid}));
                 o.push_back(memref::LoadOp::create(
                     tb, shared, ValueRange{te.idx(st), other}));
               }
               SmallVector<Value> folded = {
                   arith::MaxNumFOp::create(tb, a[0], o[0]),
                   arith::MaxNumFOp::create(tb, a[1], o[1]),
                   arith::MinNumFOp::create(tb, a[2], o[2]),
                   arith::MaxNumFOp::create(tb, a[3], o[3])};
               for (int64_t st = 0; st < 4; ++st)
                 memref::StoreOp::create(tb, folded[st], shared,
                                         ValueRange{te.idx(st), tid});
             });
      mlir::gpu::BarrierOp::create(b);
    }
    SmallVector<Value> all;
    for (int64_t st = 0; st < 4; ++st)
      all.push_back(
          memref::LoadOp::create(b, shared, ValueRange{em.idx(st), leader}));
    BlockStats stats{all[0], em.fcmp(arith::CmpFPredicate::OGT, all[1],
                                     em.f32c(0.0f)),
                     all[2], all[3]};
    Value tensorScale =
        format.secondLevelScale
            ? emitTensorScale(em, format, quantizer.element, Value())
            : Value();
    BlockQuantization q = emitBlockQuantization(em, format, quantizer.element,
                                                stats, tensorScale);
    ifThen(b,
           arith::AndIOp::create(
               b, valid,
               arith::CmpIOp::create(b, arith::CmpIPredicate::eq, lane,
                                     em.idx(0))),
           [&](ImplicitLocOpBuilder &tb) {
             Emitter te(tb);
             quantizer.storeScale(te, bytes, g, q);
           });
    forLaneChunks(b, first, lane, chunks, threads, p.k, {},
                  [&](ImplicitLocOpBuilder &cb, Value row, Value col0,
                      ValueRange) {
                    quantizer.storeChunk(cb, x, bytes, row, col0, q);
                    return SmallVector<Value>{};
                  });
    if (tensorScale)
      ifThen(b,
             arith::CmpIOp::create(
                 b, arith::CmpIPredicate::eq,
                 arith::AddIOp::create(b, tid, bid), em.idx(0)),
             [&](ImplicitLocOpBuilder &tb) {
               Emitter te(tb);
               quantizer.storeTensorScale(te, bytes, tensorScale);
             });
    mlir::gpu::ReturnOp::create(b);
    return func;
  }

  if (!reduce) {
    launch.grid = {(numGroups + kGroupThreads - 1) / kGroupThreads, 1, 1};
    launch.block = {kGroupThreads, 1, 1};
    mlir::gpu::GPUFuncOp func =
        createKernel(builder, loc, name, {xType}, bytesType, launch);
    ImplicitLocOpBuilder b(loc, builder);
    Emitter em(b);
    Value x = func.getArgument(0), bytes = func.getArgument(1);
    Value g = globalThreadIndex(b, kGroupThreads);
    // A static NV tensor scale is a constant; thread 0 stores it.
    Value tensorScale =
        format.secondLevelScale
            ? emitTensorScale(em, format, quantizer.element, Value())
            : Value();
    ifThen(b, arith::CmpIOp::create(b, arith::CmpIPredicate::ult, g,
                                    em.idx(numGroups)),
           [&](ImplicitLocOpBuilder &tb) {
             quantizer.quantizeGroup(tb, x, bytes, g, tensorScale);
           });
    if (tensorScale)
      ifThen(b,
             arith::CmpIOp::create(b, arith::CmpIPredicate::eq, g, em.idx(0)),
             [&](ImplicitLocOpBuilder &tb) {
               Emitter te(tb);
               quantizer.storeTensorScale(te, bytes, tensorScale);
             });
    mlir::gpu::ReturnOp::create(b);
    return func;
  }

  // Tensor-wide statistics from qc_act_stats: every thread combines the
  // CTAs' partials, then the threads share out the groups (or, per tensor,
  // chunks of 8 elements).
  const int64_t total = p.m * p.k;
  const int64_t work = format.granularity == Granularity::PerTensor
                           ? total / kChunk
                           : numGroups;
  launch.grid = {(work + kGroupThreads - 1) / kGroupThreads, 1, 1};
  launch.block = {kGroupThreads, 1, 1};
  mlir::gpu::GPUFuncOp func = createKernel(
      builder, loc, name, {xType, actStatsMemRefType(ctx, p)}, bytesType,
      launch);
  ImplicitLocOpBuilder b(loc, builder);
  Emitter em(b);
  Value x = func.getArgument(0), partials = func.getArgument(1),
        bytes = func.getArgument(2);
  Value zero = em.f32c(0.0f);
  ValueRange all = forRange(
      b, em.idx(0), em.idx(actStatsPartials(p)), em.idx(1),
      ValueRange{zero, zero, zero, zero, zero},
      [&](ImplicitLocOpBuilder &ib, Value cta, ValueRange args) {
        Emitter e(ib);
        SmallVector<Value> more;
        for (int64_t s = 0; s < kStats; ++s)
          more.push_back(
              memref::LoadOp::create(ib, partials, ValueRange{cta, e.idx(s)}));
        return combineStats(ib, args, more);
      });
  Value tensorScale =
      format.secondLevelScale
          ? emitTensorScale(em, format, quantizer.element, all[1])
          : Value();
  Value index = globalThreadIndex(b, kGroupThreads);
  Value isThread0 =
      arith::CmpIOp::create(b, arith::CmpIPredicate::eq, index, em.idx(0));
  Value inside =
      arith::CmpIOp::create(b, arith::CmpIPredicate::ult, index, em.idx(work));
  if (format.granularity == Granularity::PerTensor) {
    BlockStats stats{all[0],
                     em.fcmp(arith::CmpFPredicate::OGT, all[2], zero), all[3],
                     all[4]};
    BlockQuantization q = emitBlockQuantization(em, format, quantizer.element,
                                                stats, tensorScale);
    ifThen(b, isThread0, [&](ImplicitLocOpBuilder &tb) {
      Emitter te(tb);
      quantizer.storeScale(te, bytes, te.idx(0), q);
    });
    ifThen(b, inside, [&](ImplicitLocOpBuilder &cb) {
      Value first = arith::MulIOp::create(
          cb, index, arith::ConstantIndexOp::create(cb, kChunk));
      Value k = arith::ConstantIndexOp::create(cb, p.k);
      quantizer.storeChunk(cb, x, bytes, arith::DivUIOp::create(cb, first, k),
                           arith::RemUIOp::create(cb, first, k), q);
    });
  } else {
    ifThen(b, inside, [&](ImplicitLocOpBuilder &gb) {
      quantizer.quantizeGroup(gb, x, bytes, index, tensorScale);
    });
  }
  if (tensorScale)
    ifThen(b, isThread0, [&](ImplicitLocOpBuilder &tb) {
      Emitter te(tb);
      quantizer.storeTensorScale(te, bytes, tensorScale);
    });
  mlir::gpu::ReturnOp::create(b);
  return func;
}

bool actNeedsTensorStats(const Format &format) {
  return needsTensorReduction(format);
}

int64_t actStatsPartials(const ActQuantProblem &p) {
  // About 16 elements per thread, at most 64 CTAs (the quantizer's threads
  // each combine all partials).
  int64_t perCta = kReduceThreads * 16;
  return std::clamp<int64_t>((p.m * p.k + perCta - 1) / perCta, 1, 64);
}

MemRefType actStatsMemRefType(MLIRContext *ctx, const ActQuantProblem &p) {
  return MemRefType::get({actStatsPartials(p), kStats},
                         Float32Type::get(ctx));
}

mlir::gpu::GPUFuncOp emitActStatsKernel(OpBuilder &builder, Location loc,
                                        StringRef name,
                                        const ActQuantProblem &p,
                                        LaunchShape &launch) {
  MLIRContext *ctx = builder.getContext();
  const int64_t ctas = actStatsPartials(p), total = p.m * p.k;
  launch.grid = {ctas, 1, 1};
  launch.block = {kReduceThreads, 1, 1};
  auto workgroup = mlir::gpu::AddressSpaceAttr::get(
      ctx, mlir::gpu::AddressSpace::Workgroup);
  auto sharedType = MemRefType::get({kStats, kReduceThreads},
                                    builder.getF32Type(), AffineMap(),
                                    workgroup);
  OpBuilder::InsertionGuard guard(builder);
  mlir::gpu::GPUFuncOp func = createKernel(
      builder, loc, name, {MemRefType::get({p.m, p.k}, p.inputElementType)},
      actStatsMemRefType(ctx, p), launch, {sharedType});
  ImplicitLocOpBuilder b(loc, builder);
  Emitter em(b);
  Value x = func.getArgument(0), partials = func.getArgument(1);
  Value shared = func.getWorkgroupAttributions()[0];
  Value tid = mlir::gpu::ThreadIdOp::create(b, mlir::gpu::Dimension::x);
  Value bid = mlir::gpu::BlockIdOp::create(b, mlir::gpu::Dimension::x);
  Value first = arith::AddIOp::create(
      b, arith::MulIOp::create(b, bid, em.idx(kReduceThreads)), tid);
  Value zero = em.f32c(0.0f);
  ValueRange mine = forRange(
      b, first, em.idx(total), em.idx(ctas * kReduceThreads),
      ValueRange{zero, zero, zero, zero, zero},
      [&](ImplicitLocOpBuilder &ib, Value i, ValueRange args) {
        Emitter e(ib);
        Value row = arith::DivUIOp::create(ib, i, e.idx(p.k));
        Value col = arith::RemUIOp::create(ib, i, e.idx(p.k));
        Value v = loadF32(ib, x, {row, col});
        Value a = e.fabs(v);
        Value nonFinite = e.isNonFinite(a);
        return combineStats(
            ib, args,
            {a, e.select(nonFinite, e.f32c(0.0f), a),
             e.select(nonFinite, e.f32c(1.0f), e.f32c(0.0f)), v, v});
      });
  for (int64_t s = 0; s < kStats; ++s)
    memref::StoreOp::create(b, mine[s], shared, ValueRange{em.idx(s), tid});
  mlir::gpu::BarrierOp::create(b);
  ifThen(b, arith::CmpIOp::create(b, arith::CmpIPredicate::eq, tid, em.idx(0)),
         [&](ImplicitLocOpBuilder &tb) {
           Emitter te(tb);
           ValueRange all = forRange(
               tb, te.idx(0), te.idx(kReduceThreads), te.idx(1),
               ValueRange{zero, zero, zero, zero, zero},
               [&](ImplicitLocOpBuilder &ib, Value t, ValueRange args) {
                 Emitter e(ib);
                 SmallVector<Value> more;
                 for (int64_t s = 0; s < kStats; ++s)
                   more.push_back(memref::LoadOp::create(
                       ib, shared, ValueRange{e.idx(s), t}));
                 return combineStats(ib, args, more);
               });
           for (int64_t s = 0; s < kStats; ++s)
             memref::StoreOp::create(tb, all[s], partials,
                                     ValueRange{bid, te.idx(s)});
         });
  mlir::gpu::ReturnOp::create(b);
  return func;
}

mlir::gpu::GPUFuncOp emitDequantizeActKernel(OpBuilder &builder, Location loc,
                                             StringRef name,
                                             const ActQuantProblem &p,
                                             LaunchShape &launch) {
  MLIRContext *ctx = builder.getContext();
  MatmulProblem asWeight = actAsWeightProblem(p);
  PackedWeightReader reader(asWeight);
  const int bits = p.format.element.bits;
  const int64_t chunks = p.m * p.k / kChunk;
  launch.grid = {(chunks + kGroupThreads - 1) / kGroupThreads, 1, 1};
  launch.block = {kGroupThreads, 1, 1};
  OpBuilder::InsertionGuard guard(builder);
  mlir::gpu::GPUFuncOp func = createKernel(
      builder, loc, name, {packedActMemRefType(ctx, p.packedBytes)},
      MemRefType::get({p.m, p.k}, p.inputElementType), launch);
  ImplicitLocOpBuilder b(loc, builder);
  Emitter em(b);
  Value bytes = func.getArgument(0), x = func.getArgument(1);
  Value c = globalThreadIndex(b, kGroupThreads);
  ifThen(b, arith::CmpIOp::create(b, arith::CmpIPredicate::ult, c,
                                  em.idx(chunks)),
         [&](ImplicitLocOpBuilder &tb) {
           Emitter te(tb);
           Value first = arith::MulIOp::create(tb, c, te.idx(kChunk));
           Value row = arith::DivUIOp::create(tb, first, te.idx(p.k));
           Value col0 = arith::RemUIOp::create(tb, first, te.idx(p.k));
           Value tensorScale = reader.loadTensorScale(te, bytes);
           PackedWeightReader::RunScale run =
               reader.loadRunScale(te, bytes, row, col0, tensorScale);
           // 8 codes = `bits` bytes from byte c * bits.
           SmallVector<Value> words = reader.loadWords(
               tb, bytes, arith::MulIOp::create(tb, c, te.idx(bits)), bits,
               commonAlignment({bits}));
           for (int64_t j = 0; j < kChunk; ++j) {
             Value code = reader.extractCode(te, words, j);
             Value v = te.fmul(reader.decodeCode(te, code, run), run.scale);
             if (!p.inputElementType.isF32())
               v = arith::TruncFOp::create(tb, p.inputElementType, v);
             memref::StoreOp::create(
                 tb, v, x,
                 ValueRange{row, arith::AddIOp::create(tb, col0, te.idx(j))});
           }
         });
  mlir::gpu::ReturnOp::create(b);
  return func;
}

} // namespace quantc::gpukernels
