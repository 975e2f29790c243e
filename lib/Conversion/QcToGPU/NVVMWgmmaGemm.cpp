//===- NVVMWgmmaGemm.cpp - Prefill kernel on sm_90a warpgroup MMA ---------===//
//
// y[M, N] = x[M, K] · W[N, K]ᵀ on Hopper's asynchronous warpgroup MMA
// (wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16):
//
//   * A CTA of 256 threads (2 warpgroups) computes a 128 x 128 tile of y;
//     warpgroup g the rows 64g .. 64g + 63, as one m64n128 accumulator (64
//     f32 per thread, carried through the K loop as one LLVM struct so that
//     nothing touches the registers between wgmma and its wait).
//   * Per step of 64 along K every thread converts 2 x 16 activations to
//     bf16 and decodes 2 x 16 weight codes times their scale to bf16, and
//     stores them into shared memory in the wgmma "core matrix" layout;
//     then fence.proxy.async by every writer (generic-proxy stores -> async
//     proxy) and a CTA barrier, and each warpgroup issues 4 wgmma k16 steps
//     and waits for them before the barrier that frees the tiles.
//   * Staged path (even code widths: 2, 4, 6, 8 bits): x and code rows are
//     copied by cp.async (16 bytes, .cg) into a ring of S raw slots in
//     dynamic shared memory, S steps ahead, and the bf16 tiles are
//     double-buffered: per step one barrier (after the wait for step s + 1's
//     copies), then the warpgroups issue step s's wgmmas on one tile buffer,
//     decode step s + 1 from its raw slot into the other while the tensor
//     cores run, fence the stores, and wait for the wgmmas. S = 3, else 2,
//     where the ring and the 64 KiB of bf16 tiles fit 113 KiB (two CTAs per
//     SM, as 128 registers per thread allow): f16/bf16 x with 4-bit codes
//     2 x 20 KiB. Where even 2 slots do not (f32 x: 36 KiB a slot with 4-bit
//     codes), the CTA is alone on its SM anyway and takes up to 4 slots in
//     227 KiB (4 x 36 + 64 = 208 KiB). Scales stay global loads; odd code
//     widths keep the register path. Same conversions: bit-identical.
//
// Layouts relied on (PTX ISA 8.0, section 9.7.15 "Asynchronous Warpgroup
// Level Matrix Multiply-Accumulate Instructions"):
//
//   Shared memory, K-major, no swizzle (9.7.15.5.1, "Shared Memory Matrix
//   Layout"): a core matrix is 8 rows x 16 bytes (8 bf16 along K) stored as
//   128 contiguous bytes, row r at byte 16 r. This kernel stores the tile
//   [R rows][64 k] as core matrices (row group G = r / 8, K chunk C = k / 8)
//   at byte 128 (8 G + C): K-adjacent core matrices are 128 bytes apart
//   (the descriptor's leading dimension byte offset, LBO) and 8-row groups
//   1024 bytes apart (stride dimension byte offset, SBO). The k16 step j
//   starts at byte 256 j of the tile (plus 8 x 1024 for warpgroup 1's A).
//
//   Matrix descriptor (9.7.15.5.1.1): bits 0-13 start address >> 4, 16-29
//   LBO >> 4, 32-45 SBO >> 4, 49-51 base offset (0), 62-63 swizzle mode
//   (0: none). A and B are both K-major: nvvm.wgmma.mma_async with layout
//   A = row, B = col, i.e. imm-trans-a = imm-trans-b = 0.
//
//   Accumulator D of .m64nNk16 (9.7.15.5.2, "Register Fragments"): warp w of
//   the warpgroup holds rows 16 w .. 16 w + 15; with lane = 4 group + quad,
//   register 4 i + r (i < N / 8) is row 16 w + group + 8 (r >= 2), column
//   8 i + 2 quad + (r odd).
//
// Numerics: activations and dequantized weights (value x block scale) are
// rounded to bf16 (relative error <= 2^-9 each), products summed in f32:
// |y - y_ref| <= ~3.9e-3 sum_k |x_k w_k|. Taken when K % 64 == 0 and the
// weight scales run in multiples of 16 along K; else the mma.sync kernel.
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace quantc::gpukernels {

namespace {
constexpr int64_t kTileM = 128, kTileN = 128, kTileK = 64;
constexpr int64_t kThreads = 256;
constexpr int64_t kWarpgroupRows = 64;
constexpr int64_t kAccumulators = kTileN / 2; // per thread, m64n128 f32
constexpr int64_t kCoreMatrixElements = 64;   // 8 rows x 8 bf16
constexpr int64_t kLeadingByteOffset = 128;   // next core matrix along K
constexpr int64_t kStrideByteOffset = 1024;   // next 8-row group
/// Two CTAs per SM on sm_90a; one CTA's most.
constexpr int64_t kSharedBudget = 113 * 1024, kMaxShared = 227 * 1024;
} // namespace

bool wgmmaGemmApplies(const MatmulProblem &problem) {
  PackedWeightReader reader(problem);
  return problem.k % kTileK == 0 && reader.runLength % 16 == 0;
}

mlir::gpu::GPUFuncOp emitWgmmaGemmKernel(OpBuilder &builder, Location loc,
                                         StringRef name,
                                         const MatmulProblem &problem,
                                         LaunchShape &launch) {
  MLIRContext *ctx = builder.getContext();
  const int64_t m = problem.m, n = problem.n, k = problem.k;
  launch.grid = {(n + kTileN - 1) / kTileN, (m + kTileM - 1) / kTileM, 1};
  launch.block = {kThreads, 1, 1};

  Type bf16 = builder.getBF16Type(), f32 = builder.getF32Type();
  Type i64 = builder.getI64Type();
  auto workgroup = mlir::gpu::AddressSpaceAttr::get(
      ctx, mlir::gpu::AddressSpace::Workgroup);
  auto tileType = MemRefType::get({kTileM * kTileK}, bf16, AffineMap(),
                                  workgroup);
  Type inputType = problem.inputElementType;
  const int64_t inputBytes = inputType.getIntOrFloatBitWidth() / 8;
  const int64_t bits = problem.format.element.bits;
  const bool staged = bits % 2 == 0 && bits <= 8;
  // Staged path, all in dynamic shared memory: x slots [S][128][64] (input
  // type), code slots [S][128][2 bits words], then the bf16 tiles A [2][128
  // x 64] and B [2][128 x 64] (16 KiB each, core-matrix layout).
  const int64_t xRowBytes = kTileK * inputBytes, codeRowBytes = kTileK * bits / 8;
  const int64_t xSlotBytes = kTileM * xRowBytes,
                codeSlotBytes = kTileN * codeRowBytes;
  const int64_t tileBytes = kTileM * kTileK * 2;
  auto fits = [&](int64_t stages, int64_t budget) {
    return 4 * tileBytes + stages * (xSlotBytes + codeSlotBytes) <= budget;
  };
  const int64_t rawStages = // S of the header
      fits(3, kSharedBudget)   ? 3
      : fits(2, kSharedBudget) ? 2
      : fits(4, kMaxShared)    ? 4
      : fits(3, kMaxShared)    ? 3
                               : 2;
  const int64_t codeBase = rawStages * xSlotBytes;
  const int64_t tileBase = codeBase + rawStages * codeSlotBytes;
  if (staged)
    launch.dynamicSharedBytes = tileBase + 4 * tileBytes;

  OpBuilder::InsertionGuard guard(builder);
  SmallVector<Type, 2> workgroupTiles;
  if (!staged)
    workgroupTiles = {tileType, tileType};
  mlir::gpu::GPUFuncOp func =
      createKernel(builder, loc, name, problem, launch, workgroupTiles);
  if (!staged)
    for (unsigned i = 0; i < 2; ++i)
      func.setWorkgroupAttributionAttr(i, LLVM::LLVMDialect::getAlignAttrName(),
                                       builder.getI64IntegerAttr(128));
  ImplicitLocOpBuilder b(loc, builder);
  Emitter em(b);
  PackedWeightReader reader(problem);
  Value x = func.getArgument(0), weights = func.getArgument(1),
        y = func.getArgument(2);
  Value shared, dynamicAddress, tileA, tileB;
  if (staged) {
    dynamicAddress = dynamicSharedAddress(b, &shared);
    auto bufferedTile = [&](int64_t offset) {
      return memref::ViewOp::create(
                 b,
                 MemRefType::get({2 * kTileM * kTileK}, bf16, AffineMap(),
                                 workgroup),
                 shared, idx(b, offset), ValueRange{})
          .getResult();
    };
    tileA = bufferedTile(tileBase);
    tileB = bufferedTile(tileBase + 2 * tileBytes);
  } else {
    tileA = func.getWorkgroupAttributions()[0];
    tileB = func.getWorkgroupAttributions()[1];
  }


  Value tid = mlir::gpu::ThreadIdOp::create(b, mlir::gpu::Dimension::x);
  Value tileRow0 = mulc(
      b, mlir::gpu::BlockIdOp::create(b, mlir::gpu::Dimension::y), kTileM);
  Value tileCol0 = mulc(
      b, mlir::gpu::BlockIdOp::create(b, mlir::gpu::Dimension::x), kTileN);
  Value warpgroup = divc(b, tid, 128);
  Value warpInGroup = remc(b, divc(b, tid, 32), 4);
  Value lane = remc(b, tid, 32);
  Value group = divc(b, lane, 4);
  Value quad = mulc(b, remc(b, lane, 4), 2);
  Value tensorScale = reader.loadTensorScale(em, weights);

  // The shared address (18 bits) of each tile, for the descriptors.
  auto sharedAddress = [&](Value tile) {
    Value pointer = memref::ExtractAlignedPointerAsIndexOp::create(b, tile);
    return arith::IndexCastUIOp::create(b, i64, pointer).getResult();
  };
  Value addressA = sharedAddress(tileA), addressB = sharedAddress(tileB);
  // Descriptor bits that do not depend on the start address.
  const int64_t descriptorConstant = ((kLeadingByteOffset >> 4) << 16) |
                                     ((kStrideByteOffset >> 4) << 32);
  auto descriptor = [&](ImplicitLocOpBuilder &ib, Value address) {
    Value field = arith::AndIOp::create(
        ib, arith::ShRUIOp::create(ib, address,
                                   arith::ConstantIntOp::create(ib, i64, 4)),
        arith::ConstantIntOp::create(ib, i64, 0x3FFF));
    return arith::OrIOp::create(
               ib, field,
               arith::ConstantIntOp::create(ib, i64, descriptorConstant))
        .getResult();
  };
  // This warpgroup's rows of A start 8 row groups further for warpgroup 1.
  Value addressA0 = arith::AddIOp::create(
      b, addressA,
      arith::MulIOp::create(
          b, arith::IndexCastUIOp::create(b, i64, warpgroup),
          arith::ConstantIntOp::create(
              b, i64, (kWarpgroupRows / 8) * kStrideByteOffset)));

  // Element offset of (row, k) of a tile in the core-matrix layout.
  auto tileOffset = [&](ImplicitLocOpBuilder &ib, Value row, Value kChunk) {
    Value core = add(ib, mulc(ib, divc(ib, row, 8), kTileK / 8), kChunk);
    return add(ib, mulc(ib, core, kCoreMatrixElements),
               mulc(ib, remc(ib, row, 8), 8));
  };

  const int64_t xAlignment = commonAlignment({k * inputBytes, 8 * inputBytes});
  const int64_t unitBytes = 16 * reader.bits / 8;
  const int64_t wAlignment = commonAlignment({k * reader.bits / 8, unitBytes});
  auto vec = [&](int64_t size, Type t) { return VectorType::get({size}, t); };

  SmallVector<Type> fields(kAccumulators, f32);
  auto accumulatorType = LLVM::LLVMStructType::getLiteral(ctx, fields);
  Value zeros = LLVM::UndefOp::create(b, accumulatorType);
  Value zero = em.f32c(0.0f);
  for (int64_t i = 0; i < kAccumulators; ++i)
    zeros = LLVM::InsertValueOp::create(b, zeros, zero, ArrayRef<int64_t>{i});

  // One unit of the tiles: 16 k of one row of A and of B (512 units per
  // tile, two per thread), converted / decoded to bf16 and stored at
  // element `bufferElements` of the tiles. `loadX(half)` gives the unit's
  // 8 x of half `half` (input type), `words` its 16 codes' i32 words; kAt is
  // the unit's first k in W (for its scale).
  auto fillUnit = [&](ImplicitLocOpBuilder &lb, Value row, Value kChunk,
                      Value kAt, Value bufferElements,
                      llvm::function_ref<Value(int64_t)> loadX,
                      llvm::function_ref<SmallVector<Value>(Value bRow)> words) {
    Emitter le(lb);
    Value zeroHalf = arith::ConstantOp::create(
        lb, DenseElementsAttr::get(vec(8, bf16), lb.getZeroAttr(bf16)));
    // Activations: 16 values (two halves of 8) -> bf16, zero past M.
    Value aValid = ult(lb, add(lb, tileRow0, row), m);
    auto loadHalf = [&](int64_t half) {
      Value a = loadX(half);
      if (!inputType.isF32())
        a = arith::ExtFOp::create(lb, vec(8, f32), a);
      return arith::TruncFOp::create(lb, vec(8, bf16), a).getResult();
    };
    // Weights: 16 codes of one scale run, decoded and scaled -> bf16.
    Value bRow = add(lb, tileCol0, row);
    Value bValid = ult(lb, bRow, n);
    bRow = arith::MinUIOp::create(lb, bRow, idx(lb, n - 1));
    SmallVector<Value> codeWords = words(bRow);
    PackedWeightReader::RunScale scale =
        reader.loadRunScale(le, weights, bRow, kAt, tensorScale);
    SmallVector<Value> values;
    for (int64_t j = 0; j < 16; ++j)
      values.push_back(le.fmul(
          reader.decodeCode(le, reader.extractCode(le, codeWords, j), scale),
          scale.scale));
    for (int64_t half = 0; half < 2; ++half) {
      Value chunk = addc(lb, kChunk, half);
      Value w = vector::FromElementsOp::create(
          lb, vec(8, f32), ArrayRef<Value>(values).slice(8 * half, 8));
      w = arith::TruncFOp::create(lb, vec(8, bf16), w);
      auto part = [&](Value v, Value valid) {
        return arith::SelectOp::create(lb, valid, v, zeroHalf).getResult();
      };
      Value offset = tileOffset(lb, row, chunk);
      if (bufferElements)
        offset = add(lb, offset, bufferElements);
      vector::StoreOp::create(lb, part(loadHalf(half), aValid), tileA,
                              ValueRange{offset}, /*nontemporal=*/false,
                              llvm::MaybeAlign(16));
      vector::StoreOp::create(lb, part(w, bValid), tileB, ValueRange{offset},
                              /*nontemporal=*/false, llvm::MaybeAlign(16));
    }
  };
  // The generic-proxy stores of the tiles become visible to wgmma (async
  // proxy) after each writer's fence and a barrier.
  auto fenceProxy = [&](ImplicitLocOpBuilder &lb) {
    NVVM::FenceProxyOp::create(
        lb, NVVM::ProxyKindAttr::get(ctx, NVVM::ProxyKind::async_shared),
        NVVM::SharedSpaceAttr::get(ctx, NVVM::SharedSpace::shared_cta));
  };
  // The warpgroup's 4 wgmma k16 steps on the tiles `bufferBytes` in.
  auto issueWgmmas = [&](ImplicitLocOpBuilder &lb, Value sums,
                         Value bufferBytes) {
    NVVM::WgmmaFenceAlignedOp::create(lb);
    for (int64_t j = 0; j < kTileK / 16; ++j) {
      auto offset = [&](Value address, int64_t bytes) {
        Value at = arith::AddIOp::create(
            lb, address, arith::ConstantIntOp::create(lb, i64, bytes));
        return bufferBytes ? arith::AddIOp::create(lb, at, bufferBytes).getResult()
                           : at;
      };
      Value descA = descriptor(lb, offset(addressA0, 256 * j));
      Value descB = descriptor(lb, offset(addressB, 256 * j));
      sums = NVVM::WgmmaMmaAsyncOp::create(
          lb, accumulatorType, sums, descA, descB,
          NVVM::MMAShapeAttr::get(ctx, 64, kTileN, 16), NVVM::WGMMATypes::bf16,
          NVVM::WGMMATypes::bf16, NVVM::WGMMATypes::f32,
          NVVM::WGMMAScaleOut::one, NVVM::WGMMAScaleIn::one,
          NVVM::WGMMAScaleIn::one, NVVM::MMALayout::row, NVVM::MMALayout::col,
          /*satfinite=*/nullptr);
    }
    NVVM::WgmmaGroupSyncAlignedOp::create(lb);
    return sums;
  };

  Value sums;
  if (!staged) {
    auto loop = scf::ForOp::create(
        b, idx(b, 0), idx(b, k / kTileK), idx(b, 1), ValueRange{zeros},
        [&](OpBuilder &nested, Location nestedLoc, Value step, ValueRange acc) {
          ImplicitLocOpBuilder lb(nestedLoc, nested);
          Value k0 = mulc(lb, step, kTileK);
          for (int64_t unit = 0; unit < 2; ++unit) {
            Value u = addc(lb, tid, unit * kThreads);
            Value row = divc(lb, u, 4);
            Value kChunk = mulc(lb, remc(lb, u, 4), 2); // of 8 k
            Value kAt = add(lb, k0, mulc(lb, kChunk, 8));
            Value aRow = arith::MinUIOp::create(lb, add(lb, tileRow0, row),
                                                idx(lb, m - 1));
            fillUnit(
                lb, row, kChunk, kAt, Value(),
                [&](int64_t half) {
                  return vector::LoadOp::create(
                             lb, vec(8, inputType), x,
                             ValueRange{aRow, addc(lb, kAt, 8 * half)},
                             /*nontemporal=*/false,
                             llvm::MaybeAlign(xAlignment))
                      .getResult();
                },
                [&](Value bRow) {
                  return reader.loadWords(
                      lb, weights, reader.codeByteOffset(lb, bRow, kAt),
                      unitBytes, wAlignment);
                });
          }
          fenceProxy(lb);
          mlir::gpu::BarrierOp::create(lb);
          Value result = issueWgmmas(lb, acc[0], Value());
          NVVM::WgmmaWaitGroupSyncOp::create(lb, 0);
          // Every warpgroup is done reading the tiles before they are
          // refilled.
          mlir::gpu::BarrierOp::create(lb);
          scf::YieldOp::create(lb, result);
        });
    sums = loop.getResult(0);
  } else {
    const int64_t steps = k / kTileK;
    Type i32 = b.getI32Type();
    Value xStages = memref::ViewOp::create(
        b,
        MemRefType::get({rawStages, kTileM, kTileK}, inputType, AffineMap(),
                        workgroup),
        shared, idx(b, 0), ValueRange{});
    Value codeStages = memref::ViewOp::create(
        b,
        MemRefType::get({rawStages, kTileN, 2 * bits}, i32, AffineMap(),
                        workgroup),
        shared, idx(b, codeBase), ValueRange{});
    Value xGlobal = globalBytePointer(b, x),
          weightGlobal = globalBytePointer(b, weights);
    const int64_t codeChunk = commonAlignment({k * bits / 8, codeRowBytes});
    auto issueCopies = [&](ImplicitLocOpBuilder &ib, Value step, Value slot) {
      copyRowsAsync(ib, tid, kThreads, xGlobal, k * inputBytes,
                    mulc(ib, step, xRowBytes), tileRow0, m - 1, dynamicAddress,
                    mulc(ib, slot, xSlotBytes), kTileM, xRowBytes,
                    commonAlignment({k * inputBytes, xRowBytes}));
      copyRowsAsync(ib, tid, kThreads, weightGlobal, k * bits / 8,
                    mulc(ib, step, codeRowBytes), tileCol0, n - 1,
                    dynamicAddress,
                    addc(ib, mulc(ib, slot, codeSlotBytes), codeBase), kTileN,
                    codeRowBytes, codeChunk);
    };
    // Step `step` decoded from its raw slot into tile buffer `buffer`.
    const int64_t wordsPerUnit = bits / 2;
    auto decode = [&](ImplicitLocOpBuilder &db, Value step, Value buffer) {
      Value slot = remc(db, step, rawStages);
      Value k0 = mulc(db, step, kTileK);
      Value bufferElements = mulc(db, buffer, kTileM * kTileK);
      for (int64_t unit = 0; unit < 2; ++unit) {
        Value u = addc(db, tid, unit * kThreads);
        Value row = divc(db, u, 4);
        Value quarter = remc(db, u, 4);
        Value kChunk = mulc(db, quarter, 2); // of 8 k
        Value kAt = add(db, k0, mulc(db, kChunk, 8));
        Value column = mulc(db, quarter, 16);
        fillUnit(
            db, row, kChunk, kAt, bufferElements,
            [&](int64_t half) {
              return vector::LoadOp::create(
                         db, vec(8, inputType), xStages,
                         ValueRange{slot, row, addc(db, column, 8 * half)},
                         /*nontemporal=*/false, llvm::MaybeAlign(16))
                  .getResult();
            },
            [&](Value) {
              Value packed = vector::LoadOp::create(
                  db, vec(wordsPerUnit, i32), codeStages,
                  ValueRange{slot, row, mulc(db, quarter, wordsPerUnit)},
                  /*nontemporal=*/false,
                  llvm::MaybeAlign(commonAlignment({2 * bits, 8 * bits})));
              SmallVector<Value> words;
              for (int64_t w = 0; w < wordsPerUnit; ++w)
                words.push_back(vector::ExtractOp::create(db, packed, w));
              return words;
            });
      }
      fenceProxy(db);
    };

    // Prologue: steps 0 .. S - 1 in flight (a group each, empty past the
    // last step), step 0 decoded into buffer 0.
    emitCpAsyncPrologue(b, rawStages, steps,
                        [&](ImplicitLocOpBuilder &ib, int64_t s) {
                          issueCopies(ib, idx(ib, s), idx(ib, s));
                        });
    decode(b, idx(b, 0), idx(b, 0));

    // Step s: after the wait for step s + 1's copies, the barrier publishes
    // them and step s's fenced tiles, and retires step s - 1's wgmmas (each
    // warpgroup waited for its own) and every read of raw slot s % S. Then:
    // refill slot s % S with step s + S, issue step s's wgmmas on buffer
    // s % 2, decode step s + 1 into buffer (s + 1) % 2 meanwhile, and wait.
    auto loop = scf::ForOp::create(
        b, idx(b, 0), idx(b, steps), idx(b, 1), ValueRange{zeros},
        [&](OpBuilder &nested, Location nestedLoc, Value step, ValueRange acc) {
          ImplicitLocOpBuilder lb(nestedLoc, nested);
          NVVM::CpAsyncWaitGroupOp::create(lb, rawStages - 2);
          mlir::gpu::BarrierOp::create(lb);
          Value refill = addc(lb, step, rawStages);
          {
            auto ahead = scf::IfOp::create(lb, ult(lb, refill, steps),
                                           /*withElse=*/false);
            ImplicitLocOpBuilder ib(lb.getLoc(), ahead.getThenBodyBuilder());
            issueCopies(ib, refill, remc(ib, step, rawStages));
          }
          NVVM::CpAsyncCommitGroupOp::create(lb);
          Value bufferBytes = arith::IndexCastUIOp::create(
              lb, i64, mulc(lb, remc(lb, step, 2), tileBytes));
          Value result = issueWgmmas(lb, acc[0], bufferBytes);
          Value next = addc(lb, step, 1);
          {
            auto more = scf::IfOp::create(lb, ult(lb, next, steps),
                                          /*withElse=*/false);
            ImplicitLocOpBuilder db(lb.getLoc(), more.getThenBodyBuilder());
            decode(db, next, remc(db, next, 2));
          }
          NVVM::WgmmaWaitGroupSyncOp::create(lb, 0);
          scf::YieldOp::create(lb, result);
        });
    NVVM::CpAsyncWaitGroupOp::create(b, 0);
    sums = loop.getResult(0);
  }

  Value rowBase = add(b, add(b, tileRow0, mulc(b, warpgroup, kWarpgroupRows)),
                      add(b, mulc(b, warpInGroup, 16), group));
  Value colBase = add(b, tileCol0, quad);
  const bool guardRows = m % kTileM != 0, guardCols = n % kTileN != 0;
  for (int64_t i = 0; i < kTileN / 8; ++i)
    for (int64_t r = 0; r < 4; ++r) {
      Value row = addc(b, rowBase, r >= 2 ? 8 : 0);
      Value col = addc(b, colBase, 8 * i + (r % 2));
      Value value =
          LLVM::ExtractValueOp::create(b, sums, ArrayRef<int64_t>{4 * i + r});
      storeResult(b, value, y, row, col, problem, guardRows, guardCols);
    }
  mlir::gpu::ReturnOp::create(b);
  return func;
}

} // namespace quantc::gpukernels
