//===- NVVMMmaSyncGemm.cpp - Prefill kernel on mma.sync tensor cores -----===//
//
// y[M, N] = x[M, K] · W[N, K]ᵀ for larger M, on the warp-level tensor core
// instruction every target has (mma.sync.aligned.m16n8k16.row.col.f32.f16):
//
//   * A CTA of 256 threads (8 warps, 2 x 4) computes a 128 x 128 tile of y,
//     each warp a 64 x 32 sub-tile (4 x 4 m16n8 accumulators, 64 f32 per
//     thread).
//   * Per step of 32 along K, every thread converts 16 activations
//     (-> f16) and decodes 16 weight codes times their scale (-> f16) into
//     shared memory tiles [128][32 + 8] (the padding keeps the fragment
//     loads free of bank conflicts), then the warps run two k16 steps of
//     mma.sync.
//   * Staged path (even code widths: 2, 4, 6, 8 bits): the raw bytes of x
//     and of the codes are copied by cp.async (16 bytes, .cg, where aligned)
//     into a ring of S slots in dynamic shared memory, issued S steps
//     ahead, and the f16 tiles are double-buffered, so one barrier per
//     step separates "step s + 1 decoded from its raw slot into one tile
//     buffer" from "step s's MMAs read the other": a warp's decoding
//     overlaps other warps' MMAs and no step waits on global memory
//     latency. S = 3 (each copy has two steps to land) where the ring and
//     the 40 KiB of f16 tiles fit in 82 KiB, i.e. two CTAs per SM on sm_80
//     as the kernel's 128 registers per thread allow: f16/bf16
//     activations (3 x 10 KiB with 4-bit codes); f32 activations (16 KiB a
//     slot) get S = 2 (76 KiB with 4-bit codes). Scales stay global loads
//     (a few bytes per 16 codes, L1-resident). Odd code widths (3, 5, 7
//     bits: a thread's 16 codes do not start on a shared-memory word)
//     keep the register path: global loads, decode, store, barrier, MMA,
//     barrier. Both paths make the same conversions, so the results are
//     bit-identical.
//
// Weights are dequantized to f16 (value x block scale, rounded to nearest),
// so the result differs from the f32 reference by f16 rounding of both
// operands; products accumulate in f32.
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
constexpr int64_t kTileM = 128, kTileN = 128, kTileK = 32;
constexpr int64_t kPaddedK = kTileK + 8;
constexpr int64_t kThreads = 256;
constexpr int64_t kWarpTileM = 64, kWarpTileN = 32;
constexpr int64_t kWarpsN = kTileN / kWarpTileN; // 4
constexpr int64_t kMmaTilesM = kWarpTileM / 16;  // 4
constexpr int64_t kMmaTilesN = kWarpTileN / 8;   // 4
constexpr int64_t kAccumulators = kMmaTilesM * kMmaTilesN * 4;
/// Shared memory per CTA that leaves room for two CTAs per SM on sm_80
/// (164 KiB), as its 128 registers per thread do.
constexpr int64_t kSharedBudget = 82 * 1024;

/// The staged path reads a thread's 16 codes (2 bits bytes) as i32 words of
/// shared memory.
bool stagedPathApplies(const MatmulProblem &problem) {
  return problem.format.element.bits % 2 == 0 && problem.format.element.bits <= 8;
}

/// Two k16 steps of mma.sync of every warp on the f16 tiles (buffer
/// `buffer` of double-buffered tiles when not null), accumulating into
/// `sums`.
void emitWarpMmas(ImplicitLocOpBuilder &lb, Value tileA, Value tileB,
                  Value buffer, Value warpRow, Value warpCol, Value group,
                  Value quad, SmallVectorImpl<Value> &sums) {
  MLIRContext *ctx = lb.getContext();
  Type f16 = lb.getF16Type(), f32 = lb.getF32Type();
  auto fragment = VectorType::get({2}, f16);
  auto accumulatorType =
      LLVM::LLVMStructType::getLiteral(ctx, {f32, f32, f32, f32});
  auto loadFragment = [&](Value tile, Value row, Value col) {
    SmallVector<Value, 3> indices;
    if (buffer)
      indices.push_back(buffer);
    indices.append({row, col});
    return vector::LoadOp::create(lb, fragment, tile, indices,
                                  /*nontemporal=*/false, llvm::MaybeAlign(4))
        .getResult();
  };
  for (int64_t ks = 0; ks < kTileK; ks += 16) {
    Value col = addc(lb, quad, ks);
    Value col8 = addc(lb, col, 8);
    SmallVector<std::array<Value, 4>> fragA;
    for (int64_t mt = 0; mt < kMmaTilesM; ++mt) {
      Value r0 = add(lb, warpRow, addc(lb, group, mt * 16));
      Value r8 = addc(lb, r0, 8);
      fragA.push_back({loadFragment(tileA, r0, col),
                       loadFragment(tileA, r8, col),
                       loadFragment(tileA, r0, col8),
                       loadFragment(tileA, r8, col8)});
    }
    SmallVector<std::array<Value, 2>> fragB;
    for (int64_t nt = 0; nt < kMmaTilesN; ++nt) {
      Value row = add(lb, warpCol, addc(lb, group, nt * 8));
      fragB.push_back(
          {loadFragment(tileB, row, col), loadFragment(tileB, row, col8)});
    }
    for (int64_t mt = 0; mt < kMmaTilesM; ++mt)
      for (int64_t nt = 0; nt < kMmaTilesN; ++nt) {
        int64_t base = (mt * kMmaTilesN + nt) * 4;
        Value d = NVVM::MmaOp::create(
            lb, accumulatorType, ValueRange(fragA[mt]), ValueRange(fragB[nt]),
            ValueRange{sums[base], sums[base + 1], sums[base + 2],
                       sums[base + 3]},
            ArrayRef<int64_t>{16, 8, 16}, std::nullopt, std::nullopt,
            std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::f16,
                                          NVVM::MMATypes::f16},
            std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                           NVVM::MMALayout::col});
        for (int64_t i = 0; i < 4; ++i)
          sums[base + i] =
              LLVM::ExtractValueOp::create(lb, d, ArrayRef<int64_t>{i});
      }
  }
}
} // namespace

void copyRowsAsync(ImplicitLocOpBuilder &b, Value tid, int64_t threads,
                   Value global, int64_t globalRowBytes,
                   Value globalColumnByte, Value row0, int64_t lastRow,
                   Value sharedBase, Value sharedByte, int64_t rows,
                   int64_t rowBytes, int64_t chunk) {
  const int64_t perRow = rowBytes / chunk, total = rows * perRow;
  for (int64_t first = 0; first < total; first += threads) {
    auto emitCopy = [&](ImplicitLocOpBuilder &cb) {
      Value c = addc(cb, tid, first);
      Value row = divc(cb, c, perRow);
      Value within = mulc(cb, remc(cb, c, perRow), chunk);
      Value globalRow = minc(cb, add(cb, row0, row), lastRow);
      Value source = add(
          cb, add(cb, mulc(cb, globalRow, globalRowBytes), globalColumnByte),
          within);
      Value destination =
          add(cb, add(cb, sharedByte, mulc(cb, row, rowBytes)), within);
      copyAsync(cb,
                sharedPointerAt(cb, arith::AddIOp::create(
                                        cb, sharedBase,
                                        indexToI64(cb, destination))),
                globalByteAt(cb, global, source), chunk);
    };
    if (first + threads <= total) {
      emitCopy(b);
      continue;
    }
    auto partial = scf::IfOp::create(b, ult(b, addc(b, tid, first), total),
                                     /*withElse=*/false);
    ImplicitLocOpBuilder cb(b.getLoc(), partial.getThenBodyBuilder());
    emitCopy(cb);
  }
}

bool mmaSyncGemmApplies(const MatmulProblem &problem) {
  PackedWeightReader reader(problem);
  return problem.k % kTileK == 0 && reader.runLength % 16 == 0;
}

mlir::gpu::GPUFuncOp emitMmaSyncGemmKernel(OpBuilder &builder, Location loc,
                                           StringRef name,
                                           const MatmulProblem &problem,
                                           LaunchShape &launch) {
  MLIRContext *ctx = builder.getContext();
  const int64_t m = problem.m, n = problem.n, k = problem.k;
  const bool staged = stagedPathApplies(problem);
  launch.grid = {(n + kTileN - 1) / kTileN, (m + kTileM - 1) / kTileM, 1};
  launch.block = {kThreads, 1, 1};

  Type inputType = problem.inputElementType;
  const int64_t inputBytes = inputType.getIntOrFloatBitWidth() / 8;
  const int64_t bits = problem.format.element.bits;
  // Staged path, all in dynamic shared memory (the runtime asks for more
  // than 48 KiB per function only for dynamic shared memory): slot s holds
  // x rows [128][32] (input type) at s * xSlotBytes, after all x slots the
  // code rows [128][bits words] (32 codes of `bits` bits = `bits` i32 words)
  // at codeBase + s * codeSlotBytes, then the f16 tiles A and B
  // [2][128][40].
  const int64_t xRowBytes = kTileK * inputBytes, codeRowBytes = kTileK * bits / 8;
  const int64_t xSlotBytes = kTileM * xRowBytes,
                codeSlotBytes = kTileN * codeRowBytes;
  const int64_t tileBytes = 2 * 2 * kTileM * kPaddedK * 2; // A, B; f16
  const int64_t rawStages = // S of the header
      tileBytes + 3 * (xSlotBytes + codeSlotBytes) <= kSharedBudget ? 3 : 2;
  const int64_t codeBase = rawStages * xSlotBytes;
  const int64_t tileBase = codeBase + rawStages * codeSlotBytes;
  if (staged)
    launch.dynamicSharedBytes = tileBase + tileBytes;

  Type f16 = builder.getF16Type(), f32 = builder.getF32Type();
  auto workgroup = mlir::gpu::AddressSpaceAttr::get(
      ctx, mlir::gpu::AddressSpace::Workgroup);
  auto tileType = [&](int64_t rows) {
    return MemRefType::get({rows, kPaddedK}, f16, AffineMap(), workgroup);
  };
  OpBuilder::InsertionGuard guard(builder);
  SmallVector<Type, 2> workgroupTiles;
  if (!staged)
    workgroupTiles = {tileType(kTileM), tileType(kTileN)};
  mlir::gpu::GPUFuncOp func =
      createKernel(builder, loc, name, problem, launch, workgroupTiles);
  ImplicitLocOpBuilder b(loc, builder);
  Emitter em(b);
  PackedWeightReader reader(problem);
  Value x = func.getArgument(0), weights = func.getArgument(1),
        y = func.getArgument(2);
  Value shared;
  Value sharedAddress;
  Value tileA, tileB;
  if (staged) {
    sharedAddress = dynamicSharedAddress(b, &shared);
    auto bufferedTile = [&](int64_t offset) {
      return memref::ViewOp::create(
                 b,
                 MemRefType::get({2, kTileM, kPaddedK}, f16, AffineMap(),
                                 workgroup),
                 shared, idx(b, offset), ValueRange{})
          .getResult();
    };
    tileA = bufferedTile(tileBase);
    tileB = bufferedTile(tileBase + tileBytes / 2);
  } else {
    tileA = func.getWorkgroupAttributions()[0];
    tileB = func.getWorkgroupAttributions()[1];
  }

  Value tid = mlir::gpu::ThreadIdOp::create(b, mlir::gpu::Dimension::x);
  Value tileRow0 = mulc(
      b, mlir::gpu::BlockIdOp::create(b, mlir::gpu::Dimension::y), kTileM);
  Value tileCol0 = mulc(
      b, mlir::gpu::BlockIdOp::create(b, mlir::gpu::Dimension::x), kTileN);
  Value warp = arith::DivUIOp::create(b, tid, idx(b, 32));
  Value lane = arith::RemUIOp::create(b, tid, idx(b, 32));
  Value warpRow = mulc(b, arith::DivUIOp::create(b, warp, idx(b, kWarpsN)),
                       kWarpTileM);
  Value warpCol = mulc(b, arith::RemUIOp::create(b, warp, idx(b, kWarpsN)),
                       kWarpTileN);
  Value group = arith::DivUIOp::create(b, lane, idx(b, 4));    // 0..7
  Value quad = mulc(b, arith::RemUIOp::create(b, lane, idx(b, 4)), 2);

  // The shared-memory row and 16-wide half this thread fills per K step.
  Value loadRow = arith::DivUIOp::create(b, tid, idx(b, 2));
  Value loadCol = mulc(b, arith::RemUIOp::create(b, tid, idx(b, 2)), 16);
  Value aRow = add(b, tileRow0, loadRow);
  Value aValid = ult(b, aRow, m);
  aRow = arith::MinUIOp::create(b, aRow, idx(b, m - 1));
  Value bRow = add(b, tileCol0, loadRow);
  Value bValid = ult(b, bRow, n);
  bRow = arith::MinUIOp::create(b, bRow, idx(b, n - 1));
  Value tensorScale = reader.loadTensorScale(em, weights);

  const int64_t xAlignment = commonAlignment({k * inputBytes, 16 * inputBytes});
  const int64_t halfRowBytes = 16 * reader.bits / 8;
  const int64_t wAlignment =
      commonAlignment({k * reader.bits / 8, halfRowBytes});
  auto vec16 = [&](Type t) { return VectorType::get({16}, t); };

  // The two paths' shared conversions: 16 activations (input type) -> f16,
  // zero past row M; 16 codes in `words` times their run's scale -> f16,
  // zero past row N. `tileIndices` address the thread's 16 f16 in a tile.
  auto storeActivations = [&](ImplicitLocOpBuilder &lb, Value a,
                              ValueRange tileIndices) {
    if (!inputType.isF16()) {
      if (!inputType.isF32())
        a = arith::ExtFOp::create(lb, vec16(f32), a);
      a = arith::TruncFOp::create(lb, vec16(f16), a);
    }
    Value zero = arith::ConstantOp::create(
        lb, DenseElementsAttr::get(vec16(f16), lb.getF16FloatAttr(0.0f)));
    a = arith::SelectOp::create(lb, aValid, a, zero);
    vector::StoreOp::create(lb, a, tileA, tileIndices,
                            /*nontemporal=*/false, llvm::MaybeAlign(16));
    return zero;
  };
  auto storeWeights = [&](ImplicitLocOpBuilder &lb, ArrayRef<Value> words,
                          Value kBase, Value zero, ValueRange tileIndices) {
    Emitter le(lb);
    PackedWeightReader::RunScale scale =
        reader.loadRunScale(le, weights, bRow, kBase, tensorScale);
    SmallVector<Value> values;
    for (int64_t j = 0; j < 16; ++j)
      values.push_back(le.fmul(
          reader.decodeCode(le, reader.extractCode(le, words, j), scale),
          scale.scale));
    Value w = vector::FromElementsOp::create(lb, vec16(f32), values);
    w = arith::TruncFOp::create(lb, vec16(f16), w);
    w = arith::SelectOp::create(lb, bValid, w, zero);
    vector::StoreOp::create(lb, w, tileB, tileIndices,
                            /*nontemporal=*/false, llvm::MaybeAlign(16));
  };

  SmallVector<Value> zeros(kAccumulators, em.f32c(0.0f));
  ValueRange results;
  if (!staged) {
    auto loop = scf::ForOp::create(
        b, idx(b, 0), idx(b, k / kTileK), idx(b, 1), zeros,
        [&](OpBuilder &nested, Location nestedLoc, Value step, ValueRange acc) {
          ImplicitLocOpBuilder lb(nestedLoc, nested);
          Value kBase = add(lb, mulc(lb, step, kTileK), loadCol);
          Value a = vector::LoadOp::create(lb, vec16(inputType), x,
                                           ValueRange{aRow, kBase},
                                           /*nontemporal=*/false,
                                           llvm::MaybeAlign(xAlignment));
          Value zero = storeActivations(lb, a, ValueRange{loadRow, loadCol});
          SmallVector<Value> words = reader.loadWords(
              lb, weights, reader.codeByteOffset(lb, bRow, kBase),
              halfRowBytes, wAlignment);
          storeWeights(lb, words, kBase, zero, ValueRange{loadRow, loadCol});
          mlir::gpu::BarrierOp::create(lb);

          SmallVector<Value> sums(acc.begin(), acc.end());
          emitWarpMmas(lb, tileA, tileB, Value(), warpRow, warpCol, group,
                       quad, sums);
          mlir::gpu::BarrierOp::create(lb);
          scf::YieldOp::create(lb, sums);
        });
    results = loop.getResults();
  } else {
    const int64_t steps = k / kTileK;
    Value xGlobal = globalBytePointer(b, x),
          weightGlobal = globalBytePointer(b, weights);
    Value xStages = memref::ViewOp::create(
        b,
        MemRefType::get({rawStages, kTileM, kTileK}, inputType, AffineMap(),
                        workgroup),
        shared, idx(b, 0), ValueRange{});
    Type i32 = b.getI32Type();
    Value codeStages = memref::ViewOp::create(
        b,
        MemRefType::get({rawStages, kTileN, bits}, i32, AffineMap(),
                        workgroup),
        shared, idx(b, codeBase), ValueRange{});

    // Copies of step `step` into ring slot `slot`: the tile's x rows, then
    // its code rows, in chunks of `chunk` bytes (16 where the rows allow),
    // chunk c of a tile going to thread c % 256. Rows past M / N copy the
    // last row (their values are zeroed when decoded).
    const int64_t codeChunk = commonAlignment({k * bits / 8, codeRowBytes});
    auto issueCopies = [&](ImplicitLocOpBuilder &ib, Value step, Value slot) {
      copyRowsAsync(ib, tid, kThreads, xGlobal, k * inputBytes,
                    mulc(ib, step, xRowBytes), tileRow0, m - 1, sharedAddress,
                    mulc(ib, slot, xSlotBytes), kTileM, xRowBytes,
                    commonAlignment({k * inputBytes, xRowBytes}));
      copyRowsAsync(ib, tid, kThreads, weightGlobal, k * bits / 8,
                    mulc(ib, step, codeRowBytes), tileCol0, n - 1,
                    sharedAddress, addc(ib, mulc(ib, slot, codeSlotBytes), codeBase),
                    kTileN, codeRowBytes, codeChunk);
    };
    // Step `step` decoded from its raw slot into f16 tile buffer `buffer`.
    const int64_t wordsPerHalf = bits / 2;
    auto decode = [&](ImplicitLocOpBuilder &db, Value step, Value buffer) {
      Value slot = remc(db, step, rawStages);
      Value a = vector::LoadOp::create(db, vec16(inputType), xStages,
                                       ValueRange{slot, loadRow, loadCol},
                                       /*nontemporal=*/false,
                                       llvm::MaybeAlign(16));
      Value zero = storeActivations(db, a, ValueRange{buffer, loadRow, loadCol});
      Value firstWord = mulc(db, divc(db, loadCol, 16), wordsPerHalf);
      Value packed = vector::LoadOp::create(
          db, VectorType::get({wordsPerHalf}, i32), codeStages,
          ValueRange{slot, loadRow, firstWord}, /*nontemporal=*/false,
          llvm::MaybeAlign(commonAlignment({2 * bits, 4 * bits})));
      SmallVector<Value> words;
      for (int64_t w = 0; w < wordsPerHalf; ++w)
        words.push_back(vector::ExtractOp::create(db, packed, w));
      Value kBase = add(db, mulc(db, step, kTileK), loadCol);
      storeWeights(db, words, kBase, zero, ValueRange{buffer, loadRow, loadCol});
    };

    // Prologue: steps 0 .. rawStages - 1 in flight, one group each (empty
    // past the last step, so that the group count per step is fixed); step
    // 0 decoded into buffer 0.
    emitCpAsyncPrologue(b, rawStages, steps,
                        [&](ImplicitLocOpBuilder &ib, int64_t s) {
                          issueCopies(ib, idx(ib, s), idx(ib, s));
                        });
    decode(b, idx(b, 0), idx(b, 0));

    // Step s: wait for step s + 1's group (S - 2 younger ones may stay in
    // flight); the barrier publishes everyone's copies of step s + 1 and
    // step s's f16 tiles, and retires every read of raw slot s % S (step s,
    // decoded last iteration) and of f16 buffer (s + 1) % 2 (step s - 1's
    // MMAs). Then refill slot s % S with step s + S, decode step s + 1 into
    // buffer (s + 1) % 2 and run step s's MMAs on buffer s % 2.
    auto loop = scf::ForOp::create(
        b, idx(b, 0), idx(b, steps), idx(b, 1), zeros,
        [&](OpBuilder &nested, Location nestedLoc, Value step, ValueRange acc) {
          ImplicitLocOpBuilder lb(nestedLoc, nested);
          NVVM::CpAsyncWaitGroupOp::create(lb, rawStages - 2);
          mlir::gpu::BarrierOp::create(lb);
          Value refill = addc(lb, step, rawStages);
          {
            auto ahead =
                scf::IfOp::create(lb, ult(lb, refill, steps), /*withElse=*/false);
            ImplicitLocOpBuilder ib(lb.getLoc(), ahead.getThenBodyBuilder());
            issueCopies(ib, refill, remc(ib, step, rawStages));
          }
          NVVM::CpAsyncCommitGroupOp::create(lb);
          Value next = addc(lb, step, 1);
          {
            auto more =
                scf::IfOp::create(lb, ult(lb, next, steps), /*withElse=*/false);
            ImplicitLocOpBuilder db(lb.getLoc(), more.getThenBodyBuilder());
            decode(db, next, remc(db, next, 2));
          }
          SmallVector<Value> sums(acc.begin(), acc.end());
          emitWarpMmas(lb, tileA, tileB, remc(lb, step, 2), warpRow, warpCol,
                       group, quad, sums);
          scf::YieldOp::create(lb, sums);
        });
    NVVM::CpAsyncWaitGroupOp::create(b, 0);
    results = loop.getResults();
  }

  // Accumulator i of an m16n8 tile holds row group (+8 for i >= 2), column
  // 2 * (lane % 4) (+1 for odd i).
  const bool guardRows = m % kTileM != 0, guardCols = n % kTileN != 0;
  for (int64_t mt = 0; mt < kMmaTilesM; ++mt)
    for (int64_t nt = 0; nt < kMmaTilesN; ++nt)
      for (int64_t i = 0; i < 4; ++i) {
        Value row = add(b, add(b, tileRow0, warpRow),
                        addc(b, group, mt * 16 + (i >= 2 ? 8 : 0)));
        Value col = add(b, add(b, tileCol0, warpCol),
                        addc(b, quad, nt * 8 + (i % 2)));
        Value value = results[(mt * kMmaTilesN + nt) * 4 + i];
        storeResult(b, value, y, row, col, problem, guardRows, guardCols);
      }
  mlir::gpu::ReturnOp::create(b);
  return func;
}

} // namespace quantc::gpukernels
