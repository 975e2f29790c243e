//===- NVVMBlockScaleMma.cpp - sm_120a block-scaled mma.sync GEMM ---------===//
//
// qc.matmul with packed activations (qc_quantize_act's bytes) and block-
// scaled weights on sm_120a's
//
//   mma.sync.aligned.m16n8k64.row.col.kind::mxf4nvf4.block_scale
//       .scale_vec::2X.f32.e2m1.e2m1.f32.ue8m0         MXFP4 x MXFP4
//       .scale_vec::4X.f32.e2m1.e2m1.f32.ue4m3         NVFP4 x NVFP4
//   mma.sync.aligned.m16n8k32.row.col.kind::mxf8f6f4.block_scale
//       .scale_vec::1X.f32.{e4m3,e5m2,e3m2,e2m3,e2m1}x2.f32.ue8m0
//                                   any other pair of OCP MX formats
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
// Two kernels:
//
// Small M (qc_mma_block_scale, M <= 16 for MXFP4, NVFP4, MXFP8 pairs): a CTA
// of 4 warps computes 16 rows x 128 columns, a warp 16 x 32 (4 MMAs per k
// step sharing the A fragment), fragments loaded straight from global
// memory: each weight byte is read by one CTA per 16 rows, so at M <= 16 the
// weights are read once, as the GEMV kernel does. It stays the M <= 16
// choice: the staged GEMM would read the weights once too, but run 8 times
// the MMAs on clamped rows and hold 68 KiB of shared memory per CTA.
// Rows/columns past M/N read row M-1 / N-1 and are not stored.
//
// Staged GEMM (qc_block_scale_gemm, M > 16, and every M for the pairs the
// small kernel lacks; K % 128 == 0): a CTA of 8 warps computes 128 x 128,
// warp (w / 4, w % 4) rows 64 (w / 4) .. +63 and columns 32 (w % 4) .. +31
// (4 x 4 m16n8 tiles: 4 A fragments, 8 B registers, 64 f32 accumulators
// per thread). K runs in stages whose rows are 64 bytes of shared memory
// (128 FP4 codes for kind::mxf4nvf4, 64 codes for kind::mxf8f6f4), in a
// ring of 4 slots in dynamic shared memory filled 3 stages ahead by
// cp.async (PTX ISA 9.7.9.25; cp.async.wait_group 2, then the CTA barrier,
// which also proves every warp done with the slot the next copies reuse).
// A slot is the A tile [128][64 B], the B tile, then per row (A rows, then
// B rows) the aligned 4-byte (8 for NVFP4) word of scales that holds the
// stage's (MXFP4: 4 scales = 2 k64 steps x 2X; NVFP4: 8 = 2 x 4X;
// kind::mxf8f6f4: the stage's 2 scales are bytes 2 (s % 2), +1 of the
// word shared with the neighbouring stage: cp.async copies 4, 8 or 16
// bytes, never 2). Every scale and code copy is aligned because K % 128 == 0.
//
//   Shared layout and swizzle: row r of a tile at byte 64 r, its 16-byte
//   chunk c at 16 (c ^ ((r >> 1) & 3)). An ldmatrix phase reads one 16-byte
//   chunk of 8 consecutive rows; rows r and r + 1 share a 128-byte line, and
//   (r & 1, (r >> 1) & 3) takes all 8 values over 8 consecutive rows, so the
//   8 reads hit the 8 distinct 16-byte bank groups (conflict-free), and 8
//   consecutive threads' cp.async writes fill one line. ldmatrix rather than
//   ld.shared: one instruction loads the 4 registers of a fragment.
//
//   Fragments (ldmatrix, PTX ISA 9.7.14.5.15): lanes 8q .. 8q + 7 give the
//   row addresses of matrix q, lane l receives row l / 4 of each matrix,
//   bytes 4 (l % 4) .. +3 in register q. .m8n8 .b16 on 16-byte chunks of
//   FP8 or packed FP4 gives exactly the A/B fragments above (register =
//   4 bytes of one row at byte 4 t, the second k half 16 bytes on): A tile
//   mt = matrices (rows 0-7, chunk 2j), (8-15, 2j), (0-7, 2j + 1), (8-15,
//   2j + 1) for k step j; B tiles 2p, 2p + 1 = (tile 2p, chunk 2j), (2p,
//   2j + 1), (2p + 1, 2j), (2p + 1, 2j + 1). The scales are read from the
//   slot with 4-byte ld.shared by every lane for its own row / column (the
//   rows of 9.7.14.3 above) and shifted to byte 0.
//
//   FP6 and FP4 in kind::mxf8f6f4 (every pair of OCP MX formats that is
//   not MXFP4 x MXFP4: FP8, FP6, FP4 elements on either side, each with its
//   own type, e.g. W4A8 = MXFP4 weights x MXFP8 E4M3 activations): the MMA
//   takes one code per byte (9.7.14.5.x, m16n8k32 fragments, 4 codes per
//   .b32), FP6 in bits 0-5 with the 2 MSBs zero (PTX ISA 5.2.3, "e2m3 /
//   e3m2 data format"), E2M1 in bits 2-5 (the container of kind::f8f6f4;
//   CUTLASS's SM120 fp4_shift_A/B documents the same placement). Both
//   operands keep the canonical packed layout in global memory (weights as
//   packed at compile time, activations as qc_quantize_act writes them): the
//   containers are made on the way in. cp.async copies each run of 16 codes
//   (8 bytes of FP4, 12 bytes of FP6 as three 4-byte copies: 12 c is a
//   multiple of 4, not of 8) to the start of a 16-byte chunk, the source
//   formats .b4x16_p64 / .b6x16_p32 of ldmatrix (9.7.14.5.15: 16 codes then
//   64 / 32 bits of padding, codes as an LSB-first bit stream like the
//   canonical layout), and ldmatrix .m8n16 .b8x16.b4x16_p64 / .b6x16_p32
//   expands them to one code per byte, low bits; E2M1 registers are then
//   shifted left by 2 (the codes' upper bits are zero, so no carry between
//   bytes). So the weights stay 4 / 6 bits in memory, qc_quantize_act keeps
//   one layout for every consumer, and the expansion costs nothing but the
//   shift. The shared footprint of FP6/FP4 is that of FP8 (16 bytes per 16
//   codes).
//
// Rows/columns past M/N read the last row / column and are not stored.
//
// Verified without an sm_120 device (none here or in GPU sessions): ptxas
// -arch=sm_120a, FileCheck, and test/Conversion/qc-lower-gpu-blockscale-
// emulated.test, which runs every kernel variant's IR on the host with
// cp.async, ldmatrix and mma.sync block_scale emulated from the PTX ISA's
// definitions and compares y with the format library's fake-quantized
// product (what the hardware itself does is not checked).
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <tuple>

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

/// The kind::mxf8f6f4 operand type that reads `e`'s codes as the format
/// library decodes them: the OCP FP8 (E4M3, E5M2), FP6 (E3M2, E2M3) and FP4
/// (E2M1) elements.
std::optional<NVVM::MMATypes> f8f6f4Type(const ElementType &e) {
  for (auto [exponent, mantissa, type] :
       {std::tuple{4, 3, NVVM::MMATypes::e4m3},
        std::tuple{5, 2, NVVM::MMATypes::e5m2},
        std::tuple{3, 2, NVVM::MMATypes::e3m2},
        std::tuple{2, 3, NVVM::MMATypes::e2m3},
        std::tuple{2, 1, NVVM::MMATypes::e2m1}})
    if (isOcpMinifloat(e, exponent, mantissa))
      return type;
  return std::nullopt;
}

/// The MMA of a pair: MXFP4 x MXFP4 and NVFP4 x NVFP4 on kind::mxf4nvf4
/// (k64, packed codes: twice kind::mxf8f6f4's rate); any other pair of OCP
/// MX formats (FP8, FP6, FP4 elements, E8M0 scales per 32) on
/// kind::mxf8f6f4 with scale_vec::1X, A (activations) and B (weights) each
/// with its own element type. No K condition (callers check their own).
std::optional<BlockScaleKind> blockScaleKindOf(const MatmulProblem &p) {
  if (!p.act)
    return std::nullopt;
  const Format &w = p.format, &a = *p.act;
  auto bothFp4 = isOcpMinifloat(w.element, 2, 1) &&
                 isOcpMinifloat(a.element, 2, 1);
  if (bothFp4 && isBlockFormat(w, 32, ScaleType::E8M0, false) &&
      isBlockFormat(a, 32, ScaleType::E8M0, false))
    return BlockScaleKind{NVVM::MMABlockScaleKind::MXF4NVF4,
                          NVVM::ScaleVecSize::X2, NVVM::BlockScaleFormat::UE8M0,
                          NVVM::MMATypes::e2m1, NVVM::MMATypes::e2m1, 64, 2,
                          false};
  if (bothFp4 && isBlockFormat(w, 16, ScaleType::E4M3, true) &&
      isBlockFormat(a, 16, ScaleType::E4M3, true))
    return BlockScaleKind{NVVM::MMABlockScaleKind::MXF4NVF4,
                          NVVM::ScaleVecSize::X4, NVVM::BlockScaleFormat::UE4M3,
                          NVVM::MMATypes::e2m1, NVVM::MMATypes::e2m1, 64, 4,
                          true};
  if (f8f6f4Type(w.element) && f8f6f4Type(a.element) &&
      isBlockFormat(w, 32, ScaleType::E8M0, false) &&
      isBlockFormat(a, 32, ScaleType::E8M0, false))
    return BlockScaleKind{NVVM::MMABlockScaleKind::MXF8F6F4,
                          NVVM::ScaleVecSize::X1, NVVM::BlockScaleFormat::UE8M0,
                          *f8f6f4Type(a.element), *f8f6f4Type(w.element), 32,
                          1, false};
  return std::nullopt;
}

/// The pairs the small-M kernel reads straight from global memory: those
/// whose canonical bytes are already the fragments (the mxf4nvf4 pairs and
/// FP8 x FP8; FP6 and FP4 in kind::mxf8f6f4 want one code per byte).
std::optional<BlockScaleKind> blockScaleKind(const MatmulProblem &p) {
  std::optional<BlockScaleKind> k = blockScaleKindOf(p);
  if (!k || p.k % k->kStep != 0)
    return std::nullopt;
  if (k->kind == NVVM::MMABlockScaleKind::MXF8F6F4 &&
      (p.format.element.bits != 8 || p.act->element.bits != 8))
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

namespace {
// The shared-memory staged GEMM (M > 16): 128 x 128 CTA tiles, 8 warps of
// 64 x 32 (4 x 4 m16n8 tiles), K in stages whose rows are 64 bytes of
// shared memory, 4 ring slots.
constexpr int64_t kGemmThreads = 256;
constexpr int64_t kGemmTile = 128;
constexpr int64_t kGemmRowBytes = 64;
constexpr int64_t kGemmStages = 4;
constexpr int64_t kGemmWarpRows = 64, kGemmWarpCols = 32;
constexpr int64_t kGemmTilesM = kGemmWarpRows / 16, kGemmTilesN = kGemmWarpCols / 8;

/// How one operand's codes go from its canonical bytes into a stage's
/// shared-memory rows of 4 chunks of 16 bytes.
enum class CodeCopy {
  Raw16,        // 16 bytes as they are (FP8, or FP4 for kind::mxf4nvf4)
  Fp4Container, // 8 bytes = 16 E2M1 codes, then 8 bytes of padding
  Fp6Container, // 12 bytes = 16 FP6 codes (3 x 4-byte copies), 4 of padding
};

/// Stage geometry of a block-scale kind.
struct GemmStages {
  int64_t stageK;       // elements of a row per stage (64 bytes in shared)
  int64_t stepsPerStage; // MMAs along K per stage
  int64_t windowBytes;  // scale bytes copied per row and stage
  int64_t tileBytes, scaleBytes, slotBytes, sharedBytes;
  explicit GemmStages(const BlockScaleKind &kind) {
    const bool packedFp4 = kind.kind == NVVM::MMABlockScaleKind::MXF4NVF4;
    stageK = packedFp4 ? 128 : 64;
    stepsPerStage = stageK / kind.kStep;
    // Scale bytes per row and stage: 4 (MXFP4, 2X), 8 (NVFP4, 4X), 2
    // (mxf8f6f4, 1X) copied as the aligned 4-byte word that holds them.
    windowBytes = kind.scaleVec == NVVM::ScaleVecSize::X4 ? 8 : 4;
    tileBytes = kGemmTile * kGemmRowBytes;
    scaleBytes = 2 * kGemmTile * windowBytes;
    slotBytes = 2 * tileBytes + scaleBytes;
    sharedBytes = kGemmStages * slotBytes;
  }
};
} // namespace

bool blockScaleGemmApplies(const MatmulProblem &problem) {
  // K % 128: whole stages, and every scale window inside its row.
  return blockScaleKindOf(problem).has_value() && problem.k % 128 == 0;
}

mlir::gpu::GPUFuncOp emitBlockScaleGemmKernel(OpBuilder &builder, Location loc,
                                              StringRef name,
                                              const MatmulProblem &problem,
                                              LaunchShape &launch) {
  MLIRContext *ctx = builder.getContext();
  const BlockScaleKind kind = *blockScaleKindOf(problem);
  const GemmStages geometry(kind);
  const int64_t m = problem.m, n = problem.n, k = problem.k;
  const int64_t stageK = geometry.stageK, tileBytes = geometry.tileBytes,
                slotBytes = geometry.slotBytes,
                windowBytes = geometry.windowBytes;
  const int64_t numStages = k / stageK;
  const bool packedFp4 = kind.kind == NVVM::MMABlockScaleKind::MXF4NVF4;
  launch.grid = {(n + kGemmTile - 1) / kGemmTile,
                 (m + kGemmTile - 1) / kGemmTile, 1};
  launch.block = {kGemmThreads, 1, 1};
  launch.dynamicSharedBytes = geometry.sharedBytes;
  OpBuilder::InsertionGuard guard(builder);
  mlir::gpu::GPUFuncOp func = createKernel(builder, loc, name, problem, launch);
  ImplicitLocOpBuilder b(loc, builder);
  Emitter em(b);
  Value x = func.getArgument(0), weights = func.getArgument(1),
        y = func.getArgument(2);
  Type i32 = b.getI32Type(), i64 = b.getI64Type(), f32 = b.getF32Type();

  PackedWeightReader weightLayout(problem);
  MatmulProblem actProblem = actAsWeightProblem(ActQuantProblem{
      m, k, *problem.act, problem.inputElementType, problem.actBytes});
  PackedWeightReader actLayout(actProblem);

  Value sharedAddress = dynamicSharedAddress(b);

  Value tid = mlir::gpu::ThreadIdOp::create(b, mlir::gpu::Dimension::x);
  Value lane = remc(b, tid, 32), warp = divc(b, tid, 32);
  Value group = divc(b, lane, 4), quad = remc(b, lane, 4);
  Value tileRow0 = mulc(
      b, mlir::gpu::BlockIdOp::create(b, mlir::gpu::Dimension::y), kGemmTile);
  Value tileCol0 = mulc(
      b, mlir::gpu::BlockIdOp::create(b, mlir::gpu::Dimension::x), kGemmTile);
  // Warp (wm, wn) of the 2 x 4 grid: rows 64 wm, columns 32 wn of the tile.
  Value warpRow0 = mulc(b, divc(b, warp, 4), kGemmWarpRows);
  Value warpCol0 = mulc(b, remc(b, warp, 4), kGemmWarpCols);

  struct Operand {
    Value global;
    int64_t rows;
    int bits;
    CodeCopy copy;
    int64_t scaleOffset;
    Value tileRow0;
  };
  auto codeCopy = [&](int bits) {
    if (bits == 8 || packedFp4)
      return CodeCopy::Raw16;
    return bits == 4 ? CodeCopy::Fp4Container : CodeCopy::Fp6Container;
  };
  const Operand operands[2] = {
      {globalBytePointer(b, x), m, problem.act->element.bits,
       codeCopy(problem.act->element.bits), actLayout.scaleOffset, tileRow0},
      {globalBytePointer(b, weights), n, problem.format.element.bits,
       codeCopy(problem.format.element.bits), weightLayout.scaleOffset,
       tileCol0}};
  const int64_t scaleBlock = problem.format.blockSize;
  const int64_t scalesPerRow = k / scaleBlock;

  // Byte offset in a slot of chunk `chunk` (0-3, 16 bytes) of row `row`:
  // rows of 64 bytes, the chunk XORed with bits 1-2 of the row, so that the
  // 8 rows an ldmatrix phase reads (8 x 16 bytes) fall into the 8 distinct
  // 16-byte bank groups of a 128-byte line (rows r and r + 1 share a line;
  // (r & 1, (r >> 1) & 3) takes all 8 values over 8 consecutive rows), and
  // the cp.async writes of 8 consecutive threads fill one line.
  auto swizzled = [&](ImplicitLocOpBuilder &ib, Value row, Value chunk) {
    Value mix = remc(ib, divc(ib, row, 2), 4);
    return add(ib, mulc(ib, row, kGemmRowBytes),
               mulc(ib, arith::XOrIOp::create(ib, chunk, mix), 16));
  };
  // Issues the cp.async copies of stage `stage` into its ring slot: per
  // operand 128 rows x 4 chunks, 2 chunks per thread (thread t + 256 u takes
  // row (t + 256 u) / 4, chunk t % 4: consecutive threads, consecutive
  // shared bytes), then one scale window per row (threads 0-127 the
  // activation rows, 128-255 the weight rows).
  auto issueStage = [&](ImplicitLocOpBuilder &ib, Value stage) {
    Value slotAddress =
        add(ib, indexToI64(ib, mulc(ib, remc(ib, stage, kGemmStages), slotBytes)),
            sharedAddress);
    for (int64_t o = 0; o < 2; ++o) {
      const Operand &op = operands[o];
      const int64_t chunkElements = op.copy == CodeCopy::Raw16 ? 128 / op.bits : 16;
      for (int64_t u = 0; u < kGemmTile * 4 / kGemmThreads; ++u) {
        Value piece = addc(ib, tid, u * kGemmThreads);
        Value row = divc(ib, piece, 4), chunk = remc(ib, piece, 4);
        Value globalRow = minc(ib, add(ib, op.tileRow0, row), op.rows - 1);
        Value element = add(ib, add(ib, mulc(ib, globalRow, k),
                                    mulc(ib, stage, stageK)),
                            mulc(ib, chunk, chunkElements));
        Value source = divc(ib, mulc(ib, element, op.bits), 8);
        Value destination =
            add(ib, slotAddress,
                indexToI64(ib, addc(ib, swizzled(ib, row, chunk), o * tileBytes)));
        switch (op.copy) {
        case CodeCopy::Raw16:
          copyAsync(ib, sharedPointerAt(ib, destination),
                    globalByteAt(ib, op.global, source), 16);
          break;
        case CodeCopy::Fp4Container:
          copyAsync(ib, sharedPointerAt(ib, destination),
                    globalByteAt(ib, op.global, source), 8);
          break;
        case CodeCopy::Fp6Container:
          // 12 bytes at a multiple of 4 (not of 8 for odd chunks).
          for (int64_t w = 0; w < 3; ++w)
            copyAsync(ib,
                      sharedPointerAt(
                          ib, arith::AddIOp::create(
                                  ib, destination,
                                  arith::ConstantIntOp::create(ib, i64, 4 * w))),
                    globalByteAt(ib, op.global, addc(ib, source, 4 * w)), 4);
          break;
        }
      }
    }
    Value isA = ult(ib, tid, kGemmTile);
    Value line = remc(ib, tid, kGemmTile);
    // The window: the aligned windowBytes holding this stage's scales
    // (kind::mxf8f6f4 stages hold 2 scales: the 4-byte word of stages
    // 2 (s / 2) and 2 (s / 2) + 1).
    Value first = mulc(ib, divc(ib, mulc(ib, stage, stageK / scaleBlock),
                                windowBytes),
                       windowBytes);
    Value scaleSource[2];
    for (int64_t o = 0; o < 2; ++o)
      scaleSource[o] = globalByteAt(
          ib, operands[o].global,
          add(ib,
              addc(ib,
                   mulc(ib,
                        minc(ib, add(ib, operands[o].tileRow0, line),
                             operands[o].rows - 1),
                        scalesPerRow),
                   operands[o].scaleOffset),
              first));
    Value source =
        arith::SelectOp::create(ib, isA, scaleSource[0], scaleSource[1]);
    Value destination = add(
        ib, slotAddress,
        indexToI64(ib, addc(ib, mulc(ib, tid, windowBytes), 2 * tileBytes)));
    copyAsync(ib, sharedPointerAt(ib, destination), source, windowBytes);
  };

  // Prologue: stages 0 .. slots - 2 in flight, one commit group each (empty
  // groups past the last stage keep the wait count uniform).
  for (int64_t s = 0; s + 1 < kGemmStages; ++s) {
    if (s < numStages)
      issueStage(b, idx(b, s));
    NVVM::CpAsyncCommitGroupOp::create(b);
  }

  // ldmatrix row addresses of this lane (PTX ISA 9.7.14.5.15): lanes 8q ..
  // 8q + 7 address the rows of matrix q. A, m tile mt, k step j: matrices
  // (rows 0-7, chunk 2j), (rows 8-15, chunk 2j), (rows 0-7, chunk 2j + 1),
  // (rows 8-15, chunk 2j + 1) are a0, a1, a2, a3. B, n tiles 2p and 2p + 1:
  // (tile 2p, chunk 2j), (tile 2p, 2j + 1), (tile 2p + 1, 2j), (2p + 1,
  // 2j + 1) are b0, b1 of tile 2p and b0, b1 of tile 2p + 1.
  Value matrix = divc(b, lane, 8), matrixRow = remc(b, lane, 8);
  auto ldmatrixType = [&](int bits) {
    if (bits == 8 || packedFp4)
      return NVVM::LdStMatrixEltType::B16;
    return bits == 4 ? NVVM::LdStMatrixEltType::B8X16_B4X16_P64
                     : NVVM::LdStMatrixEltType::B8X16_B6X16_P32;
  };
  auto fragmentType =
      LLVM::LLVMStructType::getLiteral(ctx, {i32, i32, i32, i32});
  auto loadMatrices = [&](ImplicitLocOpBuilder &ib, Value slotAddress,
                          int64_t o, Value row, Value chunk) {
    const int bits = operands[o].bits;
    const NVVM::LdStMatrixEltType type = ldmatrixType(bits);
    const bool b16 = type == NVVM::LdStMatrixEltType::B16;
    Value address = add(ib, slotAddress,
                        indexToI64(ib, addc(ib, swizzled(ib, row, chunk),
                                       o * tileBytes)));
    Value result = NVVM::LdMatrixOp::create(
        ib, fragmentType, sharedPointerAt(ib, address), 4,
        NVVM::MMALayout::row,
        NVVM::LdStMatrixShapeAttr::get(ctx, 8, b16 ? 8 : 16), type);
    SmallVector<Value> registers;
    for (int64_t i = 0; i < 4; ++i) {
      Value r = LLVM::ExtractValueOp::create(ib, result, ArrayRef<int64_t>{i});
      // .b4x16_p64 leaves each E2M1 code in bits 0-3 of its byte;
      // kind::mxf8f6f4 reads it from bits 2-5.
      if (type == NVVM::LdStMatrixEltType::B8X16_B4X16_P64)
        r = arith::ShLIOp::create(
            ib, r, arith::ConstantIntOp::create(ib, i32, 2));
      registers.push_back(r);
    }
    return registers;
  };
  auto loadScaleWord = [&](ImplicitLocOpBuilder &ib, Value address) {
    return LLVM::LoadOp::create(ib, i32, sharedPointerAt(ib, address),
                                /*alignment=*/4)
        .getResult();
  };

  auto accumulatorType =
      LLVM::LLVMStructType::getLiteral(ctx, {f32, f32, f32, f32});
  const int64_t numAccumulators = kGemmTilesM * kGemmTilesN * 4;
  SmallVector<Value> init(numAccumulators, em.f32c(0.0f));
  auto loop = scf::ForOp::create(
      b, idx(b, 0), idx(b, numStages), idx(b, 1), init,
      [&](OpBuilder &nested, Location nl, Value stage, ValueRange args) {
        ImplicitLocOpBuilder lb(nl, nested);
        SmallVector<Value> sums(args.begin(), args.end());
        // This thread's copies of the stage have landed; the barrier makes
        // every thread's visible and proves every warp done with the
        // previous stage, whose slot the copies issued next reuse.
        NVVM::CpAsyncWaitGroupOp::create(lb, kGemmStages - 2);
        mlir::gpu::BarrierOp::create(lb);
        Value ahead = addc(lb, stage, kGemmStages - 1);
        auto ifOp = scf::IfOp::create(lb, ult(lb, ahead, numStages),
                                      /*withElse=*/false);
        {
          ImplicitLocOpBuilder tb(nl, ifOp.getThenBodyBuilder());
          issueStage(tb, ahead);
        }
        NVVM::CpAsyncCommitGroupOp::create(lb);

        Value slotAddress = add(
            lb, indexToI64(lb, mulc(lb, remc(lb, stage, kGemmStages), slotBytes)),
            sharedAddress);
        Value scaleBase = arith::AddIOp::create(
            lb, slotAddress,
            arith::ConstantIntOp::create(lb, i64, 2 * tileBytes));
        // kind::mxf8f6f4: the stage's 2 scales are bytes 2 (s % 2) and
        // 2 (s % 2) + 1 of the window.
        Value windowShift;
        if (kind.scaleVec == NVVM::ScaleVecSize::X1)
          windowShift = arith::IndexCastUIOp::create(
              lb, i32, mulc(lb, remc(lb, stage, 2), 16));
        Value zero16 = arith::ConstantOp::create(lb, lb.getI16IntegerAttr(0));
        for (int64_t j = 0; j < geometry.stepsPerStage; ++j) {
          SmallVector<SmallVector<Value>> fragA, fragB(kGemmTilesN);
          SmallVector<Value> scaleA, scaleB;
          // The lane's scale word for k step j in the window of `line`.
          auto scaleOf = [&](Value line, int64_t operand) {
            Value address = add(
                lb, scaleBase,
                indexToI64(lb, addc(lb, mulc(lb, line, windowBytes),
                               operand * kGemmTile * windowBytes +
                                   (kind.scaleVec == NVVM::ScaleVecSize::X4
                                        ? 4 * j
                                        : 0))));
            Value word = loadScaleWord(lb, address);
            int64_t shift = kind.scaleVec == NVVM::ScaleVecSize::X2 ? 16 * j
                            : kind.scaleVec == NVVM::ScaleVecSize::X1 ? 8 * j
                                                                      : 0;
            Value amount = arith::ConstantIntOp::create(lb, i32, shift);
            if (windowShift)
              amount = arith::AddIOp::create(lb, amount, windowShift);
            if (shift == 0 && !windowShift)
              return word;
            return arith::ShRUIOp::create(lb, word, amount).getResult();
          };
          for (int64_t mt = 0; mt < kGemmTilesM; ++mt) {
            Value row = add(lb, addc(lb, warpRow0, 16 * mt),
                            add(lb, matrixRow, mulc(lb, remc(lb, matrix, 2), 8)));
            fragA.push_back(loadMatrices(
                lb, slotAddress, 0, row,
                addc(lb, divc(lb, matrix, 2), 2 * j)));
            // Lane l holds the scales of row l / 4 + 8 (l % 2) (9.7.14.3).
            scaleA.push_back(scaleOf(
                add(lb, addc(lb, warpRow0, 16 * mt),
                    add(lb, group, mulc(lb, remc(lb, lane, 2), 8))),
                0));
          }
          for (int64_t p = 0; p < kGemmTilesN / 2; ++p) {
            Value row = add(lb, addc(lb, warpCol0, 16 * p),
                            add(lb, matrixRow, mulc(lb, divc(lb, matrix, 2), 8)));
            SmallVector<Value> r = loadMatrices(
                lb, slotAddress, 1, row, addc(lb, remc(lb, matrix, 2), 2 * j));
            fragB[2 * p] = {r[0], r[1]};
            fragB[2 * p + 1] = {r[2], r[3]};
          }
          for (int64_t nt = 0; nt < kGemmTilesN; ++nt)
            scaleB.push_back(
                scaleOf(add(lb, addc(lb, warpCol0, 8 * nt), group), 1));
          for (int64_t mt = 0; mt < kGemmTilesM; ++mt)
            for (int64_t nt = 0; nt < kGemmTilesN; ++nt) {
              const int64_t base = (mt * kGemmTilesN + nt) * 4;
              Value d = NVVM::MmaBlockScaleOp::create(
                  lb, accumulatorType, fragA[mt], fragB[nt],
                  ValueRange{sums[base], sums[base + 1], sums[base + 2],
                             sums[base + 3]},
                  scaleA[mt], zero16, zero16, scaleB[nt], zero16, zero16,
                  ArrayRef<int64_t>{16, 8, kind.kStep},
                  std::array<NVVM::MMATypes, 2>{kind.typeA, kind.typeB},
                  kind.scaleVec, kind.scaleFormat, kind.kind);
              for (int64_t i = 0; i < 4; ++i)
                sums[base + i] =
                    LLVM::ExtractValueOp::create(lb, d, ArrayRef<int64_t>{i});
            }
        }
        scf::YieldOp::create(lb, sums);
      });
  // No copies may be in flight when the CTA exits.
  NVVM::CpAsyncWaitGroupOp::create(b, 0);

  Value tensorScale;
  if (kind.tensorScales) {
    auto load = [&](Value memref, int64_t offset) {
      return em.floatOf(loadBytes(b, memref, idx(b, offset), 4));
    };
    tensorScale = em.fmul(load(x, actLayout.tensorScaleOffset),
                          load(weights, weightLayout.tensorScaleOffset));
  }
  const bool guardRows = m % kGemmTile != 0, guardCols = n % kGemmTile != 0;
  Value rowBase = add(b, add(b, tileRow0, warpRow0), group);
  Value colBase = add(b, add(b, tileCol0, warpCol0), mulc(b, quad, 2));
  for (int64_t mt = 0; mt < kGemmTilesM; ++mt)
    for (int64_t nt = 0; nt < kGemmTilesN; ++nt)
      for (int64_t i = 0; i < 4; ++i) {
        Value row = addc(b, rowBase, 16 * mt + (i >= 2 ? 8 : 0));
        Value col = addc(b, colBase, 8 * nt + i % 2);
        Value value = loop.getResult((mt * kGemmTilesN + nt) * 4 + i);
        if (tensorScale)
          value = em.fmul(value, tensorScale);
        storeResult(b, value, y, row, col, problem, guardRows, guardCols);
      }
  mlir::gpu::ReturnOp::create(b);
  return func;
}

} // namespace quantc::gpukernels
