//===- GemvKernel.cpp - Decode-phase kernel: few activation rows ----------===//
//
// y[M, N] = x[M, K] · W[N, K]ᵀ for M <= 16 is bound by reading W once. Each
// CTA of 128 threads owns R consecutive rows of W (R = 4 for M <= 4, else 2,
// so that x is reused from registers across rows; qc-lower-gpu's gemv-rows
// sets R, at most 128 / M). Thread t walks the chunks
// of 32 codes c = t, t + 128, ... of its rows: one 16-byte load per row and
// chunk for 4-bit formats (two for 8-bit), the codes decoded in registers,
// x·w summed in f32 per run of codes that share a scale, the run's scale
// applied once. The threads' sums meet through warp shuffles and shared
// memory.
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace quantc::gpukernels {

namespace {
constexpr int64_t kThreads = 128;
constexpr int64_t kWarps = kThreads / 32;
constexpr int64_t kChunk = 32; // codes per thread and step

struct GemvTiling {
  int64_t rowsPerBlock; // R
  int64_t group;        // x elements loaded at once per activation row
};

/// A CTA's M x R outputs are written one per thread: R <= 128 / M.
GemvTiling chooseTiling(int64_t m, int64_t rowsPerBlock) {
  int64_t rows = rowsPerBlock > 0 ? rowsPerBlock : m <= 4 ? 4 : 2;
  return {std::max<int64_t>(1, std::min(rows, kThreads / m)), m <= 8 ? 8 : 4};
}
} // namespace

bool gemvApplies(const MatmulProblem &problem) {
  PackedWeightReader reader(problem);
  return problem.k % kChunk == 0 &&
         (reader.runLength == 16 || reader.runLength % kChunk == 0);
}

mlir::gpu::GPUFuncOp emitGemvKernel(OpBuilder &builder, Location loc,
                                    StringRef name,
                                    const MatmulProblem &problem,
                                    LaunchShape &launch,
                                    int64_t rowsPerBlock) {
  MLIRContext *ctx = builder.getContext();
  const int64_t m = problem.m, n = problem.n, k = problem.k;
  GemvTiling tiling = chooseTiling(m, rowsPerBlock);
  const int64_t rows = tiling.rowsPerBlock, group = tiling.group;
  const int64_t outputs = m * rows;
  launch.grid = {(n + rows - 1) / rows, 1, 1};
  launch.block = {kThreads, 1, 1};

  auto workgroup = mlir::gpu::AddressSpaceAttr::get(
      ctx, mlir::gpu::AddressSpace::Workgroup);
  auto partialsType = MemRefType::get({kWarps * outputs}, builder.getF32Type(),
                                      AffineMap(), workgroup);
  OpBuilder::InsertionGuard guard(builder);
  mlir::gpu::GPUFuncOp func =
      createKernel(builder, loc, name, problem, launch, {partialsType});
  ImplicitLocOpBuilder b(loc, builder);
  Emitter em(b);
  PackedWeightReader reader(problem);
  Value x = func.getArgument(0), weights = func.getArgument(1),
        y = func.getArgument(2);
  Value partials = func.getWorkgroupAttributions()[0];

  Value tid = mlir::gpu::ThreadIdOp::create(b, mlir::gpu::Dimension::x);
  Value bid = mlir::gpu::BlockIdOp::create(b, mlir::gpu::Dimension::x);
  Value firstRow = arith::MulIOp::create(b, bid, em.idx(rows));
  // Rows past N (last CTA) read row N-1 and are not stored.
  SmallVector<Value> rowIndex;
  for (int64_t r = 0; r < rows; ++r)
    rowIndex.push_back(arith::MinUIOp::create(
        b, arith::AddIOp::create(b, firstRow, em.idx(r)), em.idx(n - 1)));
  Value tensorScale = reader.loadTensorScale(em, weights);

  const int64_t chunkBytes = kChunk * reader.bits / 8;
  const int64_t chunkAlignment =
      commonAlignment({k * reader.bits / 8, chunkBytes});
  const int64_t run = std::min<int64_t>(reader.runLength, kChunk);
  Type inputType = problem.inputElementType;
  const int64_t xAlignment = commonAlignment(
      {group * (inputType.getIntOrFloatBitWidth() / 8),
       k * (inputType.getIntOrFloatBitWidth() / 8)});

  SmallVector<Value> zeros(outputs, em.f32c(0.0f));
  auto loop = scf::ForOp::create(
      b, tid, em.idx(k / kChunk), em.idx(kThreads), zeros,
      [&](OpBuilder &nested, Location nestedLoc, Value chunk,
          ValueRange acc) {
        ImplicitLocOpBuilder lb(nestedLoc, nested);
        Emitter le(lb);
        Value k0 = arith::MulIOp::create(lb, chunk, le.idx(kChunk));
        SmallVector<SmallVector<Value>> words;
        for (int64_t r = 0; r < rows; ++r)
          words.push_back(reader.loadWords(
              lb, weights, reader.codeByteOffset(lb, rowIndex[r], k0),
              chunkBytes, chunkAlignment));
        SmallVector<Value> sums(acc.begin(), acc.end());
        for (int64_t runStart = 0; runStart < kChunk; runStart += run) {
          Value kRun = arith::AddIOp::create(lb, k0, le.idx(runStart));
          SmallVector<PackedWeightReader::RunScale> scales;
          for (int64_t r = 0; r < rows; ++r)
            scales.push_back(
                reader.loadRunScale(le, weights, rowIndex[r], kRun, tensorScale));
          SmallVector<Value> partial(outputs, le.f32c(0.0f));
          for (int64_t g = runStart; g < runStart + run; g += group) {
            Value kg = arith::AddIOp::create(lb, k0, le.idx(g));
            // x[i, kg .. kg + group) for every activation row i.
            SmallVector<SmallVector<Value>> xs(m);
            for (int64_t i = 0; i < m; ++i) {
              Value v = vector::LoadOp::create(
                  lb, VectorType::get({group}, inputType), x,
                  ValueRange{le.idx(i), kg}, /*nontemporal=*/false,
                  llvm::MaybeAlign(xAlignment));
              if (!inputType.isF32())
                v = arith::ExtFOp::create(
                    lb, VectorType::get({group}, lb.getF32Type()), v);
              for (int64_t j = 0; j < group; ++j)
                xs[i].push_back(vector::ExtractOp::create(lb, v, j));
            }
            for (int64_t r = 0; r < rows; ++r)
              for (int64_t j = 0; j < group; ++j) {
                Value code = reader.extractCode(le, words[r], g + j);
                Value w = reader.decodeCode(le, code, scales[r]);
                for (int64_t i = 0; i < m; ++i)
                  partial[i * rows + r] = LLVM::FMAOp::create(
                      lb, xs[i][j], w, partial[i * rows + r]);
              }
          }
          for (int64_t i = 0; i < m; ++i)
            for (int64_t r = 0; r < rows; ++r)
              sums[i * rows + r] = LLVM::FMAOp::create(
                  lb, partial[i * rows + r], scales[r].scale,
                  sums[i * rows + r]);
        }
        scf::YieldOp::create(lb, sums);
      });

  // Sum over the warp's lanes, then over the CTA's warps.
  SmallVector<Value> totals(loop.getResults().begin(), loop.getResults().end());
  for (Value &total : totals)
    for (int32_t offset = 16; offset >= 1; offset /= 2) {
      auto shuffle = mlir::gpu::ShuffleOp::create(
          b, total, offset, /*width=*/32, mlir::gpu::ShuffleMode::XOR);
      total = em.fadd(total, shuffle.getShuffleResult());
    }
  Value lane = arith::RemUIOp::create(b, tid, em.idx(32));
  Value warp = arith::DivUIOp::create(b, tid, em.idx(32));
  Value isLaneZero =
      arith::CmpIOp::create(b, arith::CmpIPredicate::eq, lane, em.idx(0));
  auto storePartials = scf::IfOp::create(b, isLaneZero, /*withElse=*/false);
  {
    ImplicitLocOpBuilder tb(loc, storePartials.getThenBodyBuilder());
    Emitter te(tb);
    Value base = arith::MulIOp::create(tb, warp, te.idx(outputs));
    for (int64_t i = 0; i < outputs; ++i)
      memref::StoreOp::create(
          tb, totals[i], partials,
          ValueRange{arith::AddIOp::create(tb, base, te.idx(i))});
  }
  mlir::gpu::BarrierOp::create(b);

  Value writes =
      arith::CmpIOp::create(b, arith::CmpIPredicate::ult, tid, em.idx(outputs));
  auto storeResult = scf::IfOp::create(b, writes, /*withElse=*/false);
  {
    ImplicitLocOpBuilder tb(loc, storeResult.getThenBodyBuilder());
    Emitter te(tb);
    Value sum = te.f32c(0.0f);
    for (int64_t w = 0; w < kWarps; ++w)
      sum = te.fadd(sum, memref::LoadOp::create(
                             tb, partials,
                             ValueRange{arith::AddIOp::create(
                                 tb, tid, te.idx(w * outputs))}));
    Value row = arith::DivUIOp::create(tb, tid, te.idx(rows));
    Value column = arith::AddIOp::create(
        tb, firstRow, arith::RemUIOp::create(tb, tid, te.idx(rows)));
    Value inRange =
        arith::CmpIOp::create(tb, arith::CmpIPredicate::ult, column, te.idx(n));
    auto store = scf::IfOp::create(tb, inRange, /*withElse=*/false);
    ImplicitLocOpBuilder sb(loc, store.getThenBodyBuilder());
    if (!problem.resultElementType.isF32())
      sum = arith::TruncFOp::create(sb, problem.resultElementType, sum);
    memref::StoreOp::create(sb, sum, y, ValueRange{row, column});
  }
  mlir::gpu::ReturnOp::create(b);
  return func;
}

} // namespace quantc::gpukernels
