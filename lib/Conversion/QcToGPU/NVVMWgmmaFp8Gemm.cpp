//===- NVVMWgmmaFp8Gemm.cpp - FP8 GEMM on sm_90a FP8 warpgroup MMA --------===//
//
// y[M, N] = deq(xq)[M, K] · deq(W)[N, K]ᵀ where both operands are FP8 (OCP
// E4M3 or E5M2, each operand its own) in the canonical packed layout (codes,
// one byte per element in C order, then the scales in C order): the
// activations as quantized on the GPU by qc_quantize_act in qc.matmul's
// `act` format, the weights as packed at compile time. Either both are MX
// (one E8M0 scale per 32 along K: mxfp8_e4m3, mxfp8_e5m2), or both carry f32
// scales per row / per tensor (`e4m3` weights per output channel, `e4m3`
// activations per row). The raw codes go straight into
// wgmma.mma_async.sync.aligned.m64n128k32.f32.{e4m3,e5m2}.{e4m3,e5m2}, at
// twice the bf16 rate; the scales are applied on the CUDA cores:
//
//   * A CTA of 256 threads (2 warpgroups) computes a 128 x 128 tile of y;
//     warpgroup g the rows 64g .. 64g + 63 (m64n128: 64 f32 per thread).
//   * K runs in stages (128 = 4 MX blocks; 256 for row/tensor scales where
//     K allows it). Every thread copies its share of a stage with cp.async
//     (16-byte copies of codes straight into the core-matrix layout, one
//     4- or 8-byte copy of a row's scale bytes) into a ring of 4 (3) slots
//     in dynamic shared memory, filled 3 (2) stages ahead of the one being
//     multiplied (cp.async.wait_group slots - 2).
//   * MX: a block is 32 along K = one k32 wgmma. Block j of a stage is
//     multiplied into a fresh block accumulator (scale-d = 0) and then folded
//     into the main f32 accumulator: main += block · 2^(ea - 127) · 2^(ew - 127)
//     with ea the E8M0 scale of the activation row and ew that of the weight
//     column (DeepGEMM-style promotion). Two block accumulators alternate so
//     that the promotion of block j runs while the wgmma of block j + 1 does
//     (wgmma.wait_group 1). Scales are decoded once per stage (each thread
//     its own 4 bytes, E8M0 -> f32 exactly as the format library decodes
//     them, NaN for 0xFF) into one of two f32 buffers; the promotion reads
//     them with 8-byte shared loads.
//   * Row/tensor scales: 4 k32 wgmmas (128 products) accumulate in a block
//     accumulator that is added to the main one, so the tensor cores never
//     sum more than 128 products on their own; y = main · s_x[row] · s_w[col]
//     in the epilogue.
//
// Cost: the MX promotion is 2 f32 operations per accumulator per 32 k (the
// scale product and the FMA), against 32 multiply-adds per accumulator on
// the tensor cores at ~30x the CUDA cores' rate: the CUDA cores bound an
// MXFP8 GEMM on Hopper to about half the FP8 tensor peak. Row/tensor scales
// cost one add per 128 k.
//
// Layouts relied on (PTX ISA 8.0, section 9.7.15 "Asynchronous Warpgroup
// Level Matrix Multiply-Accumulate Instructions"):
//
//   Shared memory, K-major, no swizzle (9.7.15.5.1, "Shared Memory Matrix
//   Layout"): a core matrix is 8 rows x 16 bytes (16 FP8 along K), 128
//   contiguous bytes, row r at byte 16 r. A stage's tile [128 rows][S k]
//   (S = 128 or 256) holds core matrix (row group G = r / 8, K chunk
//   C = k / 16) at byte 128 (G S / 16 + C): K-adjacent core matrices 128
//   bytes apart (leading dimension byte offset, LBO) and 8-row groups 8 S
//   bytes apart (stride dimension byte offset, SBO). The k32 step j starts
//   at byte 256 j of the tile (plus 8 SBO for warpgroup 1's rows of A).
//   FP8 wgmma takes A and B K-major only (no transpose): layout A = row,
//   B = col.
//
//   Matrix descriptor (9.7.15.5.1.1): bits 0-13 start address >> 4, 16-29
//   LBO >> 4, 32-45 SBO >> 4, 49-51 base offset (0), 62-63 swizzle (0).
//
//   Accumulator D of .m64nNk32 (9.7.15.5.2, "Register Fragments", the same
//   as for k16): warp w of the warpgroup holds rows 16 w .. 16 w + 15; with
//   lane = 4 group + quad, register 4 i + r (i < N / 8) is row
//   16 w + group + 8 (r >= 2), column 8 i + 2 quad + (r odd).
//
//   cp.async (9.7.9.25) writes shared memory through the generic proxy and
//   wgmma reads it through the async proxy: after cp.async.wait_group every
//   thread issues fence.proxy.async.shared::cta, then the CTA barrier.
//
// Numerics: FP8 x FP8 products are exact (at most 4-bit significands). MX: the
// wgmma sums a block's 32 products in the tensor core's accumulator (f32 per
// the PTX ISA), the scale 2^(ea + ew - 254) multiplies that sum exactly (a
// power of two, barring f32 under/overflow), and one FMA per block rounds
// it into the main accumulator. With S = sum_k |x_k w_k| (dequantized):
// |y - y_exact| <= e_mma S + (K / 32) 2^-24 S, e_mma the relative error of
// the hardware's block sum (2^-24 for a rounded f32 sum of exact products;
// Hopper's FP8 path is reported to keep fewer accumulator bits, ~14, which a
// fresh accumulator per block confines to that block's 32 products).
// Row/tensor scales: the same with 128-product blocks and K / 128 adds, then
// two f32 multiplies by the scales (2^-24 relative each).
// Rows past M and columns past N read the last row / column and are not
// stored.
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <tuple>

using namespace mlir;

namespace quantc::gpukernels {

namespace {
constexpr int64_t kTileM = 128, kTileN = 128;
constexpr int64_t kMxBlock = 32;
constexpr int64_t kThreads = 256;
constexpr int64_t kWarpgroupRows = 64;
constexpr int64_t kAccumulators = kTileN / 2; // per thread, m64n128 f32
constexpr int64_t kLeadingByteOffset = 128;   // next core matrix along K
// Row/tensor scales: the tensor cores sum at most this many k before the
// block accumulator is added to the main one.
constexpr int64_t kPromotionK = 128;
// Row tiles per group of the CTA raster order.
constexpr int64_t kRasterRows = 8;

/// The K pipeline: stages of 128 along K in 4 ring slots, or for row/tensor
/// scales where K allows it of 256 in 3 slots (the CTA pays the barrier and
/// the refill half as often). MX scales keep 128: with 8 blocks per stage
/// the promotions' scale loads and two block accumulators exceed the 255
/// registers (ptxas spills and serializes the wgmmas).
struct Pipeline {
  int64_t stageK, blocksPerStage, stages;
  int64_t strideByteOffset; // next 8-row group: 8 rows of stageK bytes
  // One ring slot: the A tile, the B tile, then the raw scale bytes of the
  // stage (blocksPerStage per A row, then per B column).
  int64_t tileBytes, rawScaleBytes, slotBytes;
  // Two buffers of decoded f32 scales: [A: block][row], then [B: block][col].
  int64_t decodedFloats, decodedOffset, sharedBytes;

  Pipeline(int64_t k, bool blockScaled) {
    stageK = !blockScaled && k % 256 == 0 ? 256 : 128;
    stages = stageK == 256 ? 3 : 4;
    blocksPerStage = stageK / kMxBlock;
    strideByteOffset = 8 * stageK;
    tileBytes = kTileM * stageK;
    rawScaleBytes = (kTileM + kTileN) * blocksPerStage;
    slotBytes = 2 * tileBytes + rawScaleBytes;
    decodedFloats = (kTileM + kTileN) * blocksPerStage;
    decodedOffset = stages * slotBytes;
    sharedBytes = decodedOffset + 2 * decodedFloats * 4;
  }
};

/// How the scales of an FP8 operand run: one E8M0 scale per 32 along K
/// (MXFP8), or one f32 scale per row (per output channel of W) or per tensor.
enum class Fp8Scaling { MxBlock, PerRow, PerTensor };

/// The FP8 type of the tensor cores that reads `e`'s codes as the format
/// library decodes them: OCP E4M3 (bias 7, NaN at S.1111.111, no
/// infinities) or E5M2 (bias 15, IEEE infinities and NaNs).
std::optional<NVVM::WGMMATypes> tensorCoreFp8Type(const ElementType &e) {
  for (auto [exponent, mantissa, type] :
       {std::tuple{4, 3, NVVM::WGMMATypes::e4m3},
        std::tuple{5, 2, NVVM::WGMMATypes::e5m2}}) {
    ElementType ocp = ElementType::minifloat(exponent, mantissa);
    if (e.kind == ElementKind::Float && e.exponentBits == exponent &&
        e.mantissaBits == mantissa && e.bias == ocp.bias &&
        e.special == ocp.special)
      return type;
  }
  return std::nullopt;
}

/// The scaling of `format` if its elements are FP8 as the tensor cores read
/// them and its scales are ones this kernel applies; nothing otherwise.
std::optional<Fp8Scaling> fp8Scaling(const Format &format) {
  if (!tensorCoreFp8Type(format.element) || format.secondLevelScale ||
      !format.symmetric)
    return std::nullopt;
  if (format.granularity == Granularity::Block &&
      (format.axis == -1 || format.axis == 1) &&
      format.blockSize == kMxBlock && format.scaleType == ScaleType::E8M0)
    return Fp8Scaling::MxBlock;
  if (format.scaleType != ScaleType::F32)
    return std::nullopt;
  if (format.granularity == Granularity::PerTensor)
    return Fp8Scaling::PerTensor;
  if (format.granularity == Granularity::PerAxis &&
      (format.axis == -1 || format.axis == 1))
    return Fp8Scaling::PerRow;
  return std::nullopt;
}
} // namespace

bool wgmmaFp8GemmApplies(const MatmulProblem &problem) {
  if (!problem.act)
    return false;
  std::optional<Fp8Scaling> weight = fp8Scaling(problem.format),
                            activation = fp8Scaling(*problem.act);
  if (!weight || !activation || problem.k % kPromotionK != 0)
    return false;
  // Block scales on both operands, or row/tensor scales on both.
  return (*weight == Fp8Scaling::MxBlock) ==
         (*activation == Fp8Scaling::MxBlock);
}

mlir::gpu::GPUFuncOp emitWgmmaFp8GemmKernel(OpBuilder &builder, Location loc,
                                            StringRef name,
                                            const MatmulProblem &problem,
                                            LaunchShape &launch) {
  MLIRContext *ctx = builder.getContext();
  const int64_t m = problem.m, n = problem.n, k = problem.k;
  launch.grid = {(n + kTileN - 1) / kTileN, (m + kTileM - 1) / kTileM, 1};
  launch.block = {kThreads, 1, 1};

  Type f32 = builder.getF32Type(), i32 = builder.getI32Type(),
       i64 = builder.getI64Type();
  auto workgroup = mlir::gpu::AddressSpaceAttr::get(
      ctx, mlir::gpu::AddressSpace::Workgroup);

  // (packed activations, packed weights, y) with the argument attributes of
  // createKernel.
  OpBuilder::InsertionGuard guard(builder);
  const Format &actFormat = *problem.act;
  const Fp8Scaling weightScaling = *fp8Scaling(problem.format),
                   actScaling = *fp8Scaling(actFormat);
  const bool blockScaled = weightScaling == Fp8Scaling::MxBlock;
  const NVVM::WGMMATypes actFp8Type = *tensorCoreFp8Type(actFormat.element),
                         weightFp8Type = *tensorCoreFp8Type(problem.format.element);
  const Pipeline pipeline(k, blockScaled);
  const int64_t stageK = pipeline.stageK, stages = pipeline.stages,
                blocksPerStage = pipeline.blocksPerStage,
                strideByteOffset = pipeline.strideByteOffset,
                tileBytes = pipeline.tileBytes, slotBytes = pipeline.slotBytes,
                decodedFloats = pipeline.decodedFloats,
                decodedOffset = pipeline.decodedOffset;
  launch.dynamicSharedBytes = pipeline.sharedBytes;
  mlir::gpu::GPUFuncOp func = createKernel(
      builder, loc, name,
      {packedActMemRefType(ctx, problem.actBytes), weightMemRefType(problem)},
      resultMemRefType(problem), launch);

  ImplicitLocOpBuilder b(loc, builder);
  Emitter em(b);
  Value act = func.getArgument(0), weights = func.getArgument(1),
        y = func.getArgument(2);
  const int64_t scalesPerRow = k / kMxBlock;
  const int64_t actScaleOffset = m * k, weightScaleOffset = n * k;

  auto i64c = [&](ImplicitLocOpBuilder &ib, int64_t v) {
    return arith::ConstantIntOp::create(ib, i64, v).getResult();
  };

  Value tid = mlir::gpu::ThreadIdOp::create(b, mlir::gpu::Dimension::x);
  // CTAs in launch order walk groups of kRasterRows row tiles column by
  // column: the CTAs resident at once share their A and B tiles in L2
  // instead of all reading different columns of W.
  const int64_t rowTiles = launch.grid[1], colTiles = launch.grid[0];
  Value linear = add(
      b, mlir::gpu::BlockIdOp::create(b, mlir::gpu::Dimension::x),
      mulc(b, mlir::gpu::BlockIdOp::create(b, mlir::gpu::Dimension::y),
           colTiles));
  Value groupIndex = divc(b, linear, kRasterRows * colTiles);
  Value inGroup = remc(b, linear, kRasterRows * colTiles);
  Value firstRowTile = mulc(b, groupIndex, kRasterRows);
  // The last group may hold fewer row tiles.
  Value groupRows = arith::MinUIOp::create(
      b, idx(b, kRasterRows),
      arith::SubIOp::create(b, idx(b, rowTiles), firstRowTile));
  Value tileRow0 = mulc(
      b, add(b, firstRowTile, arith::RemUIOp::create(b, inGroup, groupRows)),
      kTileM);
  Value tileCol0 =
      mulc(b, arith::DivUIOp::create(b, inGroup, groupRows), kTileN);
  Value warpgroup = divc(b, tid, 128);
  Value warpInGroup = remc(b, divc(b, tid, 32), 4);
  Value lane = remc(b, tid, 32);
  Value group = divc(b, lane, 4);
  Value quad = mulc(b, remc(b, lane, 4), 2);

  // Global byte addresses of the two packed operands (generic -> global).
  Value actGlobal = globalBytePointer(b, act),
        weightGlobal = globalBytePointer(b, weights);
  Value shared;
  Value sharedAddress = dynamicSharedAddress(b, &shared);
  // The decoded scales as f32 (two buffers) and the raw scale words.
  Value decoded = memref::ViewOp::create(
      b, MemRefType::get({2 * decodedFloats}, f32, AffineMap(), workgroup),
      shared, idx(b, decodedOffset), ValueRange{});
  Value words = memref::ViewOp::create(
      b, MemRefType::get({decodedOffset / 4}, i32, AffineMap(), workgroup),
      shared, idx(b, 0), ValueRange{});

  // Issues the cp.async copies of stage `stage` into its ring slot.
  // Codes: tileBytes / 16 chunks of 16 bytes per operand (4 or 8 per
  // thread); with P = stageK / 16 chunks per row, chunk c is core-matrix row
  // r = c % 8 of K chunk C = (c / 8) % P in row group G = c / (8 P), i.e.
  // byte 16 c of the tile (consecutive threads fill consecutive shared
  // bytes; a warp reads 64 contiguous bytes of each of 8 rows).
  // MX scales: thread t < 128 copies A row t's blocksPerStage bytes, t >= 128
  // B column t - 128's, to byte blocksPerStage t of the slot's scale area.
  auto issueStage = [&](ImplicitLocOpBuilder &ib, Value stage) {
    Value slotAddress = add(
        ib, indexToI64(ib, mulc(ib, remc(ib, stage, stages), slotBytes)),
        sharedAddress);
    Value k0 = mulc(ib, stage, stageK);
    for (int64_t operand = 0; operand < 2; ++operand) {
      Value base = operand == 0 ? actGlobal : weightGlobal;
      Value first = operand == 0 ? tileRow0 : tileCol0;
      const int64_t rows = operand == 0 ? m : n;
      copyCoreMatrixTileAsync(ib, tid, kThreads, base, k, k0, first, rows - 1,
                              slotAddress, operand * tileBytes, tileBytes,
                              stageK / 16);
    }
    if (!blockScaled)
      return;
    Value isA = ult(ib, tid, kTileM);
    Value line = remc(ib, tid, kTileM);
    Value aSource =
        add(ib, addc(ib, mulc(ib, minc(ib, add(ib, tileRow0, line), m - 1),
                              scalesPerRow),
                     actScaleOffset),
            divc(ib, k0, kMxBlock));
    Value bSource =
        add(ib, addc(ib, mulc(ib, minc(ib, add(ib, tileCol0, line), n - 1),
                              scalesPerRow),
                     weightScaleOffset),
            divc(ib, k0, kMxBlock));
    Value source = arith::SelectOp::create(
        ib, isA, globalByteAt(ib, actGlobal, aSource),
        globalByteAt(ib, weightGlobal, bSource));
    Value destination = add(
        ib, slotAddress,
        indexToI64(ib, addc(ib, mulc(ib, tid, blocksPerStage), 2 * tileBytes)));
    copyAsync(ib, sharedPointerAt(ib, destination), source, blocksPerStage);
  };

  const int64_t numStages = k / stageK;
  // Prologue: stages 0 .. stages - 2 in flight, one commit group each
  // (empty groups past the last stage keep the wait count uniform).
  for (int64_t s = 0; s + 1 < stages; ++s) {
    if (s < numStages)
      issueStage(b, idx(b, s));
    NVVM::CpAsyncCommitGroupOp::create(b);
  }

  // Descriptor bits that do not depend on the start address.
  const int64_t descriptorConstant = ((kLeadingByteOffset >> 4) << 16) |
                                     ((strideByteOffset >> 4) << 32);
  auto descriptor = [&](ImplicitLocOpBuilder &ib, Value address) {
    Value field = arith::AndIOp::create(
        ib, arith::ShRUIOp::create(ib, address, i64c(ib, 4)), i64c(ib, 0x3FFF));
    return arith::OrIOp::create(ib, field, i64c(ib, descriptorConstant))
        .getResult();
  };
  // This warpgroup's rows of A start 8 row groups further for warpgroup 1.
  Value rowsOffsetA = arith::MulIOp::create(
      b, indexToI64(b, warpgroup),
      i64c(b, (kWarpgroupRows / 8) * strideByteOffset));
  // Rows of the tile this thread's accumulators hold (and row + 8).
  Value accRow = add(b, mulc(b, warpgroup, kWarpgroupRows),
                     add(b, mulc(b, warpInGroup, 16), group));

  SmallVector<Type> fields(kAccumulators, f32);
  auto accumulatorType = LLVM::LLVMStructType::getLiteral(ctx, fields);
  Value zeros = LLVM::UndefOp::create(b, accumulatorType);
  Value zero = em.f32c(0.0f);
  for (int64_t i = 0; i < kAccumulators; ++i)
    zeros = LLVM::InsertValueOp::create(b, zeros, zero, ArrayRef<int64_t>{i});
  Value fresh = LLVM::UndefOp::create(b, accumulatorType);

  auto loop = scf::ForOp::create(
      b, idx(b, 0), idx(b, numStages), idx(b, 1), ValueRange{zeros},
      [&](OpBuilder &nested, Location nestedLoc, Value stage, ValueRange acc) {
        ImplicitLocOpBuilder lb(nestedLoc, nested);
        Emitter le(lb);
        // Stage `stage` has landed for this thread's copies.
        NVVM::CpAsyncWaitGroupOp::create(lb, stages - 2);
        Value slot = remc(lb, stage, stages);
        Value parity = remc(lb, stage, 2);
        if (blockScaled) {
          // Decode this thread's 4 scale bytes into decoded[parity].
          SmallVector<Value> scaleWords;
          for (int64_t w = 0; w < blocksPerStage / 4; ++w)
            scaleWords.push_back(memref::LoadOp::create(
                lb, words,
                ValueRange{add(lb, mulc(lb, slot, slotBytes / 4),
                               addc(lb, mulc(lb, tid, blocksPerStage / 4),
                                    2 * tileBytes / 4 + w))}));
          Value decodedBase = add(
              lb, mulc(lb, parity, decodedFloats),
              add(lb, mulc(lb, divc(lb, tid, kTileM), kTileM * blocksPerStage),
                  remc(lb, tid, kTileM)));
          for (int64_t j = 0; j < blocksPerStage; ++j) {
            Value bits = le.band(
                le.lshr(scaleWords[j / 4], le.i32c(8 * (j % 4))), le.i32c(0xFF));
            Value scale = emitDecodeScale(le, ScaleType::E8M0, bits, Value());
            memref::StoreOp::create(lb, scale, decoded,
                                    ValueRange{addc(lb, decodedBase, j * kTileM)});
          }
        }
        // cp.async wrote through the generic proxy, wgmma reads through the
        // async proxy: every thread fences, then the barrier publishes the
        // stage (and the decoded scales) to both warpgroups. Past it, every
        // warpgroup has also finished the previous stage, whose slot the
        // next copies reuse.
        NVVM::FenceProxyOp::create(
            lb, NVVM::ProxyKindAttr::get(ctx, NVVM::ProxyKind::async_shared),
            NVVM::SharedSpaceAttr::get(ctx, NVVM::SharedSpace::shared_cta));
        mlir::gpu::BarrierOp::create(lb);
        // The copies of stage + slots - 1 (into the slot of the previous
        // stage, which every warpgroup has finished reading), issued once
        // the first wgmmas of this stage run.
        auto issueAhead = [&] {
          Value ahead = addc(lb, stage, stages - 1);
          auto ifOp = scf::IfOp::create(lb, ult(lb, ahead, numStages),
                                        /*withElse=*/false);
          {
            ImplicitLocOpBuilder tb(nestedLoc, ifOp.getThenBodyBuilder());
            issueStage(tb, ahead);
          }
          NVVM::CpAsyncCommitGroupOp::create(lb);
        };

        Value slotAddress =
            add(lb, indexToI64(lb, mulc(lb, slot, slotBytes)), sharedAddress);
        Value addressA = add(lb, slotAddress, rowsOffsetA);
        Value addressB = add(lb, slotAddress, i64c(lb, tileBytes));
        auto issueBlock = [&](int64_t j, Value into, bool accumulate) {
          if (!accumulate)
            NVVM::WgmmaFenceAlignedOp::create(lb);
          Value descA = descriptor(lb, add(lb, addressA, i64c(lb, 256 * j)));
          Value descB = descriptor(lb, add(lb, addressB, i64c(lb, 256 * j)));
          Value result = NVVM::WgmmaMmaAsyncOp::create(
              lb, accumulatorType, into, descA, descB,
              NVVM::MMAShapeAttr::get(ctx, 64, kTileN, kMxBlock),
              actFp8Type, weightFp8Type,
              NVVM::WGMMATypes::f32,
              accumulate ? NVVM::WGMMAScaleOut::one : NVVM::WGMMAScaleOut::zero,
              NVVM::WGMMAScaleIn::one, NVVM::WGMMAScaleIn::one,
              NVVM::MMALayout::row, NVVM::MMALayout::col,
              /*satfinite=*/nullptr);
          if (!accumulate)
            NVVM::WgmmaGroupSyncAlignedOp::create(lb);
          return result;
        };
        // main += block · 2^(ea - 127) · 2^(ew - 127), per (row, column).
        Value decodedA = mulc(lb, parity, decodedFloats);
        Value decodedB = addc(lb, decodedA, kTileM * blocksPerStage);
        auto promote = [&](int64_t j, Value block, Value sums) {
          Value rowScale[2];
          for (int64_t h = 0; h < 2; ++h)
            rowScale[h] = memref::LoadOp::create(
                lb, decoded,
                ValueRange{add(lb, addc(lb, decodedA, j * kTileM),
                               addc(lb, accRow, 8 * h))});
          for (int64_t i = 0; i < kTileN / 8; ++i) {
            Value pair = vector::LoadOp::create(
                lb, VectorType::get({2}, f32), decoded,
                ValueRange{add(lb, addc(lb, decodedB, j * kTileN + 8 * i),
                               quad)},
                /*nontemporal=*/false, llvm::MaybeAlign(8));
            for (int64_t r = 0; r < 4; ++r) {
              Value columnScale = vector::ExtractOp::create(
                  lb, pair, ArrayRef<int64_t>{r % 2});
              Value scale = le.fmul(rowScale[r / 2], columnScale);
              Value value = LLVM::ExtractValueOp::create(
                  lb, block, ArrayRef<int64_t>{4 * i + r});
              Value old = LLVM::ExtractValueOp::create(
                  lb, sums, ArrayRef<int64_t>{4 * i + r});
              Value updated = LLVM::FMAOp::create(lb, value, scale, old);
              sums = LLVM::InsertValueOp::create(lb, sums, updated,
                                                 ArrayRef<int64_t>{4 * i + r});
            }
          }
          return sums;
        };
        Value sums = acc[0];
        if (!blockScaled) {
          // Row/tensor scales: every 4 k32 steps accumulate in a block
          // accumulator that is then added to the main one (the FP8
          // tensor-core sum never runs longer than 128 products); with
          // stages of 256, the second group runs while the first is added.
          const int64_t perGroup = kPromotionK / kMxBlock;
          SmallVector<Value> groups;
          for (int64_t g = 0; g < blocksPerStage / perGroup; ++g) {
            Value block = fresh;
            for (int64_t j = 0; j < perGroup; ++j)
              block = issueBlock(g * perGroup + j, block, /*accumulate=*/j > 0);
            NVVM::WgmmaGroupSyncAlignedOp::create(lb);
            groups.push_back(block);
            if (g == 0)
              issueAhead();
          }
          for (size_t g = 0; g < groups.size(); ++g) {
            NVVM::WgmmaWaitGroupSyncOp::create(lb, groups.size() - 1 - g);
            for (int64_t i = 0; i < kAccumulators; ++i) {
              Value value = LLVM::ExtractValueOp::create(lb, groups[g],
                                                         ArrayRef<int64_t>{i});
              Value old =
                  LLVM::ExtractValueOp::create(lb, sums, ArrayRef<int64_t>{i});
              sums = LLVM::InsertValueOp::create(
                  lb, sums, le.fadd(old, value), ArrayRef<int64_t>{i});
            }
          }
          scf::YieldOp::create(lb, sums);
          return;
        }
        Value blocks[2];
        blocks[0] = issueBlock(0, fresh, false);
        issueAhead();
        for (int64_t j = 1; j < blocksPerStage; ++j) {
          blocks[j % 2] =
              issueBlock(j, j >= 2 ? blocks[j % 2] : fresh, false);
          // Block j - 1 is done; block j still runs while it is promoted.
          NVVM::WgmmaWaitGroupSyncOp::create(lb, 1);
          sums = promote(j - 1, blocks[(j - 1) % 2], sums);
        }
        NVVM::WgmmaWaitGroupSyncOp::create(lb, 0);
        sums = promote(blocksPerStage - 1, blocks[(blocksPerStage - 1) % 2],
                       sums);
        scf::YieldOp::create(lb, sums);
      });
  // No copies may be in flight when the CTA exits.
  NVVM::CpAsyncWaitGroupOp::create(b, 0);

  Value sums = loop.getResult(0);
  Value rowBase = add(b, tileRow0, accRow);
  Value colBase = add(b, tileCol0, quad);
  // Row/tensor scales: y = sum · s_x[row] · s_w[col] (f32 after the codes).
  Value rowScale[2], columnScale[kTileN / 4];
  if (!blockScaled) {
    auto loadScale = [&](Value base, int64_t offset, Value line,
                         int64_t lines, bool perTensor) {
      Value at = idx(b, offset);
      if (!perTensor)
        at = add(b, at, mulc(b, minc(b, line, lines - 1), 4));
      return LLVM::LoadOp::create(b, f32, globalByteAt(b, base, at),
                                  /*alignment=*/4)
          .getResult();
    };
    for (int64_t h = 0; h < 2; ++h)
      rowScale[h] = loadScale(actGlobal, actScaleOffset, addc(b, rowBase, 8 * h),
                              m, actScaling == Fp8Scaling::PerTensor);
    for (int64_t c = 0; c < kTileN / 4; ++c)
      columnScale[c] = loadScale(
          weightGlobal, weightScaleOffset, addc(b, colBase, 8 * (c / 2) + c % 2),
          n, weightScaling == Fp8Scaling::PerTensor);
  }
  const bool guardRows = m % kTileM != 0, guardCols = n % kTileN != 0;
  for (int64_t i = 0; i < kTileN / 8; ++i)
    for (int64_t r = 0; r < 4; ++r) {
      Value row = addc(b, rowBase, r >= 2 ? 8 : 0);
      Value col = addc(b, colBase, 8 * i + (r % 2));
      Value value =
          LLVM::ExtractValueOp::create(b, sums, ArrayRef<int64_t>{4 * i + r});
      if (!blockScaled)
        value = em.fmul(em.fmul(value, rowScale[r / 2]),
                        columnScale[2 * i + r % 2]);
      storeResult(b, value, y, row, col, problem, guardRows, guardCols);
    }
  mlir::gpu::ReturnOp::create(b);
  return func;
}

} // namespace quantc::gpukernels
