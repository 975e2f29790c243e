//===- SimtMatmul.cpp - Fallback kernel: one thread per output ------------===//
//
// The kernel for shapes the GEMV and mma.sync kernels do not take (K not a
// multiple of 32, scales that vary along K element by element) and for
// `tensor-cores=false`: thread (m, n) walks K run by run (codes sharing one
// scale), reading each code with byte loads wherever it lies in the bit
// stream. Slow, simple, and the same arithmetic as the fast kernels.
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;

namespace quantc::gpukernels {

namespace {
constexpr int64_t kThreads = 128;

/// The code of element `element` (an index into W's C order) read from the
/// one or two bytes that hold it.
Value loadCodeAt(Emitter &em, Value weights, const PackedWeightReader &reader,
                 Value element) {
  ImplicitLocOpBuilder &b = em.b;
  Value bit = arith::MulIOp::create(b, element, em.idx(reader.bits));
  Value byteIndex = arith::DivUIOp::create(b, bit, em.idx(8));
  Value shift = em.indexToI32(arith::RemUIOp::create(b, bit, em.idx(8)));
  Value word = em.byteToI32(memref::LoadOp::create(b, weights, ValueRange{byteIndex}));
  if (8 % reader.bits != 0) {
    // The next byte exists unless this is the last byte of the buffer.
    Value next = arith::MinUIOp::create(
        b, arith::AddIOp::create(b, byteIndex, em.idx(1)),
        em.idx(reader.problem.weightBytes - 1));
    Value high = em.byteToI32(memref::LoadOp::create(b, weights, ValueRange{next}));
    word = em.bor(word, em.shl(high, em.i32c(8)));
  }
  return em.band(em.lshr(word, shift), em.i32c((1 << reader.bits) - 1));
}
} // namespace

mlir::gpu::GPUFuncOp emitSimtMatmulKernel(OpBuilder &builder, Location loc,
                                          StringRef name,
                                          const MatmulProblem &problem,
                                          LaunchShape &launch) {
  const int64_t m = problem.m, n = problem.n, k = problem.k;
  launch.grid = {(n + kThreads - 1) / kThreads, m, 1};
  launch.block = {kThreads, 1, 1};
  OpBuilder::InsertionGuard guard(builder);
  mlir::gpu::GPUFuncOp func = createKernel(builder, loc, name, problem, launch);
  ImplicitLocOpBuilder b(loc, builder);
  Emitter em(b);
  PackedWeightReader reader(problem);
  Value x = func.getArgument(0), weights = func.getArgument(1),
        y = func.getArgument(2);

  Value row = mlir::gpu::BlockIdOp::create(b, mlir::gpu::Dimension::y);
  Value column = arith::AddIOp::create(
      b,
      arith::MulIOp::create(
          b, mlir::gpu::BlockIdOp::create(b, mlir::gpu::Dimension::x),
          em.idx(kThreads)),
      mlir::gpu::ThreadIdOp::create(b, mlir::gpu::Dimension::x));
  Value inside =
      arith::CmpIOp::create(b, arith::CmpIPredicate::ult, column, em.idx(n));
  auto ifOp = scf::IfOp::create(b, inside, /*withElse=*/false);
  {
    ImplicitLocOpBuilder tb(loc, ifOp.getThenBodyBuilder());
    Emitter te(tb);
    Value tensorScale = reader.loadTensorScale(te, weights);
    const int64_t run = reader.runLength;
    Value rowStart = arith::MulIOp::create(tb, column, te.idx(k));
    auto runs = scf::ForOp::create(
        tb, te.idx(0), te.idx(k / run), te.idx(1), ValueRange{te.f32c(0.0f)},
        [&](OpBuilder &nested, Location nl, Value runIndex, ValueRange acc) {
          ImplicitLocOpBuilder rb(nl, nested);
          Emitter re(rb);
          Value k0 = arith::MulIOp::create(rb, runIndex, re.idx(run));
          PackedWeightReader::RunScale scale =
              reader.loadRunScale(re, weights, column, k0, tensorScale);
          auto inner = scf::ForOp::create(
              rb, re.idx(0), re.idx(run), re.idx(1), ValueRange{re.f32c(0.0f)},
              [&](OpBuilder &nested2, Location nl2, Value j, ValueRange sum) {
                ImplicitLocOpBuilder eb(nl2, nested2);
                Emitter ee(eb);
                Value kk = arith::AddIOp::create(eb, k0, j);
                Value xv = memref::LoadOp::create(eb, x, ValueRange{row, kk});
                if (!xv.getType().isF32())
                  xv = arith::ExtFOp::create(eb, eb.getF32Type(), xv);
                Value code = loadCodeAt(
                    ee, weights, reader, arith::AddIOp::create(eb, rowStart, kk));
                Value w = reader.decodeCode(ee, code, scale);
                scf::YieldOp::create(
                    eb, ValueRange{LLVM::FMAOp::create(eb, xv, w, sum[0])});
              });
          scf::YieldOp::create(
              rb, ValueRange{LLVM::FMAOp::create(rb, inner.getResult(0),
                                                 scale.scale, acc[0])});
        });
    Value result = runs.getResult(0);
    if (!problem.resultElementType.isF32())
      result = arith::TruncFOp::create(tb, problem.resultElementType, result);
    memref::StoreOp::create(tb, result, y, ValueRange{row, column});
  }
  mlir::gpu::ReturnOp::create(b);
  return func;
}

} // namespace quantc::gpukernels
