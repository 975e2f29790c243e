//===- NVVMBlockScaleMma.cpp - sm_120a block-scaled mma.sync GEMM ---------===//
//
// qc.matmul with packed activations (qc_quantize_act's bytes) and weights of
// the same block-scaled kind on sm_120a's
//
//   mma.sync.aligned.m16n8k64.row.col.kind::mxf4nvf4.block_scale
//       .scale_vec::2X.f32.e2m1.e2m1.f32.ue8m0         MXFP4 x MXFP4
//       .scale_vec::4X.f32.e2m1.e2m1.f32.ue4m3         NVFP4 x NVFP4
//   mma.sync.aligned.m16n8k32.row.col.kind::mxf8f6f4.block_scale
//       .scale_vec::1X.f32.{e4m3,e5m2}.{e4m3,e5m2}.f32.ue8m0   MXFP8 x MXFP8
//
// (PTX ISA 9.0 section 9.7.14.3 "Block Scaling for mma.sync", 9.7.14.5
// "Matrix multiply-accumulate operation using mma instruction"; ptx87,
// nvvm.mma.block_scale). The codes and scales multiply in the tensor core:
// nothing is decoded in registers. NVFP4's two f32 tensor scales multiply the
// f32 accumulators at the end.
//
// Layouts relied on (PTX ISA 9.0 9.7.14.5.11 "Matrix Fragments for
// mma.m16n8k64" with .e2m1, Figures 93-96, and 9.7.14.5.10 "Matrix Fragments
// for mma.m16n8k32" with .e4m3/.e5m2;
// groupID = lane / 4, t = lane % 4; sub-byte elements packed with the
// lowest k in the lowest bits of a .b32):
//   A (16 x k, row): a0 = row g, k = t*E .. t*E+E-1 (E = 8 codes for e2m1, 4
//     for fp8: one .b32); a1 = row g+8, same k; a2, a3 = the same at k +
//     kstep/2.
//   B (k x 8, col): b0 = column g, k = t*E ..; b1 = the same at k + kstep/2.
//   C/D: c0, c1 = row g, columns 2t, 2t+1; c2, c3 = row g+8.
//   scale_A (16 x SF, 9.7.14.3 Table 35-37, Figures 43-45): thread-id-a = 0
//     selects the lanes with l % 4 in {0, 1}; lane l holds row l/4 + 8*(l%2)
//     (Figure 43); byte-id-a = 0 selects byte 0 (1X), bytes 0-1 (2X) or all
//     four (4X), the k chunks in order. scale_B (SF x 8): thread-id-b = 0
//     selects the lanes with l % 4 == 0, lane l holding column l/4. Every
//     lane loads the scales of its row / column; the hardware ignores the
//     others.
// In the canonical packed layout (codes in C order of [rows, K], element 2i
// in the low nibble; scales in C order of [rows, K / block]) every one of
// these registers is 4 consecutive bytes, and a lane's scales for one k step
// are SF consecutive bytes: the canonical layout is already what the
// fragments want, so weights keep it (no GPU layout in qc.packed).
//
// Tiling: a CTA of 4 warps computes 16 rows x 128 columns, a warp 16 x 32
// (4 MMAs per k step sharing the A fragment), fragments loaded straight from
// global memory (each weight byte is read by one CTA per 16 rows; M <= 16,
// the decode case, reads the weights once, as the GEMV kernel does, which is
// why this kernel serves every M instead of falling back to the GEMV on
// fake-quantized activations). Rows/columns past M/N read row M-1 / N-1 and
// are not stored. Not done: staging tiles in shared memory with cp.async.
//
// Verified by construction and ptxas only (no sm_120 device).
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace quantc::gpukernels {

namespace {
constexpr int64_t kWarps = 4;
constexpr int64_t kTilesN = 4; // m16n8 tiles per warp along N
constexpr int64_t kCtaM = 16, kCtaN = kWarps * kTilesN * 8;

/// The block-scaled MMA a weight/act format pair maps to.
struct BlockScaleKind {
  NVVM::MMABlockScaleKind kind;
  NVVM::ScaleVecSize scaleVec;
  NVVM::BlockScaleFormat scaleFormat;
  NVVM::MMATypes typeA, typeB;
  int64_t kStep;          // k of one MMA
  int64_t scalesPerStep;  // scale bytes of one row per k step
  bool tensorScales;      // NV: f32 tensor scales multiply the result
};

bool isOcpMinifloat(const ElementType &e, int exponentBits, int mantissaBits) {
  ElementType ocp = ElementType::minifloat(exponentBits, mantissaBits);
  return e.kind == ElementKind::Float && e.exponentBits == ocp.exponentBits &&
         e.mantissaBits == ocp.mantissaBits && e.bias == ocp.bias &&
         e.special == ocp.special;
}

std::optional<NVVM::MMATypes> fp8Type(const ElementType &e) {
  if (isOcpMinifloat(e, 4, 3))
    return NVVM::MMATypes::e4m3;
  if (isOcpMinifloat(e, 5, 2))
    return NVVM::MMATypes::e5m2;
  return std::nullopt;
}

/// Blocks of `size` along K with `scale`, one level of scales unless `nv`.
bool isBlockFormat(const Format &f, int64_t size, ScaleType scale, bool nv) {
  int64_t axis = f.axis < 0 ? f.axis + 2 : f.axis;
  return f.granularity == Granularity::Block && axis == 1 &&
         f.blockSize == size && f.scaleType == scale && f.symmetric &&
         f.secondLevelScale == nv;
}

std::optional<BlockScaleKind> blockScaleKind(const MatmulProblem &p) {
  if (!p.act)
    return std::nullopt;
  const Format &w = p.format, &a = *p.act;
  BlockScaleKind k;
  auto bothFp4 = isOcpMinifloat(w.element, 2, 1) &&
                 isOcpMinifloat(a.element, 2, 1);
  if (bothFp4 && isBlockFormat(w, 32, ScaleType::E8M0, false) &&
      isBlockFormat(a, 32, ScaleType::E8M0, false)) {
    k = {NVVM::MMABlockScaleKind::MXF4NVF4, NVVM::ScaleVecSize::X2,
         NVVM::BlockScaleFormat::UE8M0, NVVM::MMATypes::e2m1,
         NVVM::MMATypes::e2m1, 64, 2, false};
  } else if (bothFp4 && isBlockFormat(w, 16, ScaleType::E4M3, true) &&
             isBlockFormat(a, 16, ScaleType::E4M3, true)) {
    k = {NVVM::MMABlockScaleKind::MXF4NVF4, NVVM::ScaleVecSize::X4,
         NVVM::BlockScaleFormat::UE4M3, NVVM::MMATypes::e2m1,
         NVVM::MMATypes::e2m1, 64, 4, true};
  } else if (fp8Type(w.element) && fp8Type(a.element) &&
             isBlockFormat(w, 32, ScaleType::E8M0, false) &&
             isBlockFormat(a, 32, ScaleType::E8M0, false)) {
    k = {NVVM::MMABlockScaleKind::MXF8F6F4, NVVM::ScaleVecSize::X1,
         NVVM::BlockScaleFormat::UE8M0, *fp8Type(a.element),
         *fp8Type(w.element), 32, 1, false};
  } else {
    return std::nullopt;
  }
  if (p.k % k.kStep != 0)
    return std::nullopt;
  return k;
}

/// `count` (1, 2 or 4) little-endian bytes at `offset` (a multiple of
/// `count`) as an i32.
Value loadBytes(ImplicitLocOpBuilder &b, Value memref, Value offset,
                int64_t count) {
  Type i32 = b.getI32Type();
  if (count == 1)
    return arith::ExtUIOp::create(
        b, i32, memref::LoadOp::create(b, memref, ValueRange{offset}));
  Value bytes = vector::LoadOp::create(
      b, VectorType::get({count}, b.getI8Type()), memref, ValueRange{offset},
      /*nontemporal=*/false, llvm::MaybeAlign(count));
  Value word = vector::ExtractOp::create(
      b,
      vector::BitCastOp::create(
          b, VectorType::get({1}, b.getIntegerType(count * 8)), bytes),
      0);
  return count == 4 ? word : arith::ExtUIOp::create(b, i32, word).getResult();
}

} // namespace

bool blockScaleMmaApplies(const MatmulProblem &problem) {
  return blockScaleKind(problem).has_value();
}

mlir::gpu::GPUFuncOp emitBlockScaleMmaKernel(OpBuilder &builder, Location loc,
                                             StringRef name,
                                             const MatmulProblem &problem,
                                             LaunchShape &launch) {
  MLIRContext *ctx = builder.getContext();
  const BlockScaleKind kind = *blockScaleKind(problem);
  const int64_t m = problem.m, n = problem.n, k = problem.k;
  launch.grid = {(n + kCtaN - 1) / kCtaN, (m + kCtaM - 1) / kCtaM, 1};
  launch.block = {kWarps * 32, 1, 1};
  OpBuilder::InsertionGuard guard(builder);
  mlir::gpu::GPUFuncOp func = createKernel(builder, loc, name, problem, launch);
  ImplicitLocOpBuilder b(loc, builder);
  Emitter em(b);
  Value x = func.getArgument(0), weights = func.getArgument(1),
        y = func.getArgument(2);

  // Where codes and scales start in the two canonical layouts.
  PackedWeightReader weightLayout(problem);
  MatmulProblem actProblem = actAsWeightProblem(ActQuantProblem{
      m, k, *problem.act, problem.inputElementType, problem.actBytes});
  PackedWeightReader actLayout(actProblem);
  const int bits = problem.format.element.bits; // = the act's (4 or 8)
  const int64_t elementsPerReg = 32 / bits;
  const int64_t blockSize = problem.format.blockSize;

  auto c = [](ImplicitLocOpBuilder &lb, int64_t v) { return idx(lb, v); };

  Value tid = mlir::gpu::ThreadIdOp::create(b, mlir::gpu::Dimension::x);
  Value lane = arith::RemUIOp::create(b, tid, c(b, 32));
  Value warp = arith::DivUIOp::create(b, tid, c(b, 32));
  Value group = arith::DivUIOp::create(b, lane, c(b, 4));
  Value quad = arith::RemUIOp::create(b, lane, c(b, 4));
  Value row0 = mulc(
      b, mlir::gpu::BlockIdOp::create(b, mlir::gpu::Dimension::y), kCtaM);
  Value col0 = add(
      b,
      mulc(b, mlir::gpu::BlockIdOp::create(b, mlir::gpu::Dimension::x), kCtaN),
      mulc(b, warp, kTilesN * 8));
  // Rows of a0/a1 and the scale row of this lane; columns of each n tile.
  Value rowA0 = minc(b, add(b, row0, group), m - 1);
  Value rowA8 = minc(b, add(b, row0, add(b, group, c(b, 8))), m - 1);
  Value rowScale = minc(
      b,
      add(b, add(b, row0, group),
          mulc(b, arith::RemUIOp::create(b, lane, c(b, 2)), 8)),
      m - 1);
  SmallVector<Value> cols;
  for (int64_t nt = 0; nt < kTilesN; ++nt)
    cols.push_back(minc(b, add(b, col0, add(b, group, c(b, nt * 8))), n - 1));

  // Byte offset of the register holding codes (row, kBase + quad * E + dk).
  auto codeOffset = [&](ImplicitLocOpBuilder &lb, Value row, Value kBase,
                        int64_t dk) {
    Value element =
        add(lb, add(lb, mulc(lb, row, k), kBase),
            add(lb, mulc(lb, quad, elementsPerReg), c(lb, dk)));
    return arith::DivUIOp::create(lb, mulc(lb, element, bits), c(lb, 8))
        .getResult();
  };
  auto scaleOffset = [&](ImplicitLocOpBuilder &lb, const PackedWeightReader &l,
                         Value row, Value step) {
    return add(lb, c(lb, l.scaleOffset),
               add(lb, mulc(lb, row, k / blockSize),
                   mulc(lb, step, kind.scalesPerStep)));
  };

  Type f32 = b.getF32Type(), i16 = b.getI16Type();
  auto accumulatorType =
      LLVM::LLVMStructType::getLiteral(ctx, {f32, f32, f32, f32});
  SmallVector<Value> init(kTilesN * 4, em.f32c(0.0f));
  auto loop = scf::ForOp::create(
      b, c(b, 0), c(b, k / kind.kStep), c(b, 1), init,
      [&](OpBuilder &nested, Location nl, Value step, ValueRange args) {
        ImplicitLocOpBuilder lb(nl, nested);
        SmallVector<Value> sums(args.begin(), args.end());
        Value kBase = mulc(lb, step, kind.kStep);
        const int64_t half = kind.kStep / 2;
        SmallVector<Value> fragA = {
            loadBytes(lb, x, codeOffset(lb, rowA0, kBase, 0), 4),
            loadBytes(lb, x, codeOffset(lb, rowA8, kBase, 0), 4),
            loadBytes(lb, x, codeOffset(lb, rowA0, kBase, half), 4),
            loadBytes(lb, x, codeOffset(lb, rowA8, kBase, half), 4)};
        Value scaleA = loadBytes(lb, x, scaleOffset(lb, actLayout, rowScale, step),
                                 kind.scalesPerStep);
        Value zero16 = arith::ConstantOp::create(lb, lb.getI16IntegerAttr(0));
        for (int64_t nt = 0; nt < kTilesN; ++nt) {
          SmallVector<Value> fragB = {
              loadBytes(lb, weights, codeOffset(lb, cols[nt], kBase, 0), 4),
              loadBytes(lb, weights, codeOffset(lb, cols[nt], kBase, half), 4)};
          Value scaleB =
              loadBytes(lb, weights,
                        scaleOffset(lb, weightLayout, cols[nt], step),
                        kind.scalesPerStep);
          Value d = NVVM::MmaBlockScaleOp::create(
              lb, accumulatorType, fragA, fragB,
              ValueRange{sums[nt * 4], sums[nt * 4 + 1], sums[nt * 4 + 2],
                         sums[nt * 4 + 3]},
              scaleA, zero16, zero16, scaleB, zero16, zero16,
              ArrayRef<int64_t>{16, 8, kind.kStep},
              std::array<NVVM::MMATypes, 2>{kind.typeA, kind.typeB},
              kind.scaleVec, kind.scaleFormat, kind.kind);
          for (int64_t i = 0; i < 4; ++i)
            sums[nt * 4 + i] =
                LLVM::ExtractValueOp::create(lb, d, ArrayRef<int64_t>{i});
        }
        scf::YieldOp::create(lb, sums);
      });
  (void)i16;

  // NVFP4: the scales in the MMA are the E4M3 block scales; the two f32
  // tensor scales multiply the result.
  Value tensorScale;
  if (kind.tensorScales) {
    auto load = [&](Value memref, int64_t offset) {
      return em.floatOf(loadBytes(b, memref, c(b, offset), 4));
    };
    tensorScale = em.fmul(load(x, actLayout.tensorScaleOffset),
                          load(weights, weightLayout.tensorScaleOffset));
  }
  const bool guardRows = m % kCtaM != 0, guardCols = n % kCtaN != 0;
  for (int64_t nt = 0; nt < kTilesN; ++nt)
    for (int64_t i = 0; i < 4; ++i) {
      Value row = add(b, add(b, row0, group), c(b, i >= 2 ? 8 : 0));
      Value col = add(b, add(b, col0, c(b, nt * 8 + i % 2)), mulc(b, quad, 2));
      Value value = loop.getResult(nt * 4 + i);
      if (tensorScale)
        value = em.fmul(value, tensorScale);
      storeResult(b, value, y, row, col, problem, guardRows, guardCols);
    }
  mlir::gpu::ReturnOp::create(b);
  return func;
}

} // namespace quantc::gpukernels
