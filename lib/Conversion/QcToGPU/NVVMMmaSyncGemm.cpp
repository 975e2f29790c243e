//===- NVVMMmaSyncGemm.cpp - Prefill kernel on mma.sync tensor cores -----===//
//
// y[M, N] = x[M, K] · W[N, K]ᵀ for larger M, on the warp-level tensor core
// instruction every target has (mma.sync.aligned.m16n8k16.row.col.f32.f16):
//
//   * A CTA of 256 threads (8 warps, 2 x 4) computes a 128 x 128 tile of y,
//     each warp a 64 x 32 sub-tile (4 x 4 m16n8 accumulators, 64 f32 per
//     thread).
//   * Per step of 32 along K, every thread loads 16 activations (f32 -> f16)
//     and decodes 16 weight codes times their scale (-> f16) into shared
//     memory tiles [128][32 + 8] (the padding keeps the fragment loads free
//     of bank conflicts), then the warps run two k16 steps of mma.sync.
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
} // namespace

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
  launch.grid = {(n + kTileN - 1) / kTileN, (m + kTileM - 1) / kTileM, 1};
  launch.block = {kThreads, 1, 1};

  Type f16 = builder.getF16Type(), f32 = builder.getF32Type();
  auto workgroup = mlir::gpu::AddressSpaceAttr::get(
      ctx, mlir::gpu::AddressSpace::Workgroup);
  auto tileType = [&](int64_t rows) {
    return MemRefType::get({rows, kPaddedK}, f16, AffineMap(), workgroup);
  };
  OpBuilder::InsertionGuard guard(builder);
  mlir::gpu::GPUFuncOp func = createKernel(
      builder, loc, name, problem, launch, {tileType(kTileM), tileType(kTileN)});
  ImplicitLocOpBuilder b(loc, builder);
  Emitter em(b);
  PackedWeightReader reader(problem);
  Value x = func.getArgument(0), weights = func.getArgument(1),
        y = func.getArgument(2);
  Value tileA = func.getWorkgroupAttributions()[0];
  Value tileB = func.getWorkgroupAttributions()[1];


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

  Type inputType = problem.inputElementType;
  const int64_t inputBytes = inputType.getIntOrFloatBitWidth() / 8;
  const int64_t xAlignment = commonAlignment({k * inputBytes, 16 * inputBytes});
  const int64_t halfRowBytes = 16 * reader.bits / 8;
  const int64_t wAlignment =
      commonAlignment({k * reader.bits / 8, halfRowBytes});
  auto vec16 = [&](Type t) { return VectorType::get({16}, t); };
  auto fragment = VectorType::get({2}, f16);
  auto accumulatorType = LLVM::LLVMStructType::getLiteral(ctx, {f32, f32, f32, f32});

  SmallVector<Value> zeros(kAccumulators, em.f32c(0.0f));
  auto loop = scf::ForOp::create(
      b, idx(b, 0), idx(b, k / kTileK), idx(b, 1), zeros,
      [&](OpBuilder &nested, Location nestedLoc, Value step, ValueRange acc) {
        ImplicitLocOpBuilder lb(nestedLoc, nested);
        Emitter le(lb);
        Value kBase = add(lb, mulc(lb, step, kTileK), loadCol);

        // Activations: 16 values, f32 -> f16, zero past row M.
        Value a = vector::LoadOp::create(lb, vec16(inputType), x,
                                         ValueRange{aRow, kBase},
                                         /*nontemporal=*/false,
                                         llvm::MaybeAlign(xAlignment));
        if (!inputType.isF16()) {
          if (!inputType.isF32())
            a = arith::ExtFOp::create(lb, vec16(f32), a);
          a = arith::TruncFOp::create(lb, vec16(f16), a);
        }
        Value zeroA = arith::ConstantOp::create(
            lb, DenseElementsAttr::get(vec16(f16), lb.getF16FloatAttr(0.0f)));
        a = arith::SelectOp::create(lb, aValid, a, zeroA);
        vector::StoreOp::create(lb, a, tileA, ValueRange{loadRow, loadCol},
                                /*nontemporal=*/false, llvm::MaybeAlign(16));

        // Weights: 16 codes of one scale run, decoded and scaled, -> f16.
        SmallVector<Value> words = reader.loadWords(
            lb, weights, reader.codeByteOffset(lb, bRow, kBase), halfRowBytes,
            wAlignment);
        PackedWeightReader::RunScale scale =
            reader.loadRunScale(le, weights, bRow, kBase, tensorScale);
        SmallVector<Value> values;
        for (int64_t j = 0; j < 16; ++j)
          values.push_back(le.fmul(
              reader.decodeCode(le, reader.extractCode(le, words, j), scale),
              scale.scale));
        Value w = vector::FromElementsOp::create(lb, vec16(f32), values);
        w = arith::TruncFOp::create(lb, vec16(f16), w);
        w = arith::SelectOp::create(lb, bValid, w, zeroA);
        vector::StoreOp::create(lb, w, tileB, ValueRange{loadRow, loadCol},
                                /*nontemporal=*/false, llvm::MaybeAlign(16));
        mlir::gpu::BarrierOp::create(lb);

        SmallVector<Value> sums(acc.begin(), acc.end());
        auto loadFragment = [&](Value tile, Value row, Value col) {
          return vector::LoadOp::create(lb, fragment, tile,
                                        ValueRange{row, col},
                                        /*nontemporal=*/false,
                                        llvm::MaybeAlign(4))
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
                  lb, accumulatorType, ValueRange(fragA[mt]),
                  ValueRange(fragB[nt]),
                  ValueRange{sums[base], sums[base + 1], sums[base + 2],
                             sums[base + 3]},
                  ArrayRef<int64_t>{16, 8, 16}, std::nullopt, std::nullopt,
                  std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::f16,
                                                NVVM::MMATypes::f16},
                  std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                                 NVVM::MMALayout::col});
              for (int64_t i = 0; i < 4; ++i)
                sums[base + i] = LLVM::ExtractValueOp::create(
                    lb, d, ArrayRef<int64_t>{i});
            }
        }
        mlir::gpu::BarrierOp::create(lb);
        scf::YieldOp::create(lb, sums);
      });

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
        Value value = loop.getResult((mt * kMmaTilesN + nt) * 4 + i);
        storeResult(b, value, y, row, col, problem, guardRows, guardCols);
      }
  mlir::gpu::ReturnOp::create(b);
  return func;
}

} // namespace quantc::gpukernels
