//===- NVVMTcgen05Gemm.cpp - sm_100a block-scaled tcgen05.mma GEMM --------===//
//
// qc.matmul with packed activations (qc_quantize_act's bytes) and weights of
// the same block-scaled kind on sm_100a's fifth-generation tensor cores:
//
//   tcgen05.mma.cta_group::1.kind::mxf8f6f4.block_scale.scale_vec::1X
//       MXFP8 (E4M3/E5M2, each operand its own) x MXFP8, UE8M0, K 32
//   tcgen05.mma.cta_group::1.kind::mxf4nvf4.block_scale.scale_vec::2X
//       MXFP4 x MXFP4, UE8M0 per 32, K 64
//   tcgen05.mma.cta_group::1.kind::mxf4nvf4.block_scale.scale_vec::4X
//       NVFP4 x NVFP4, UE4M3 per 16, K 64; the two f32 tensor scales multiply
//       the f32 result in the epilogue
//
// y[M, N] = deq(xq)[M, K] · deq(W)[N, K]ᵀ with both operands in the canonical
// packed layout (codes in C order, FP4 element 2i in the low nibble, then the
// one-byte scales in C order of [rows, K / block], then NV's f32 tensor
// scale). The tensor cores multiply codes and scales; nothing is decoded.
//
// Schedule (one CTA of 128 threads = 4 warps per 128 x N tile of y, N = 256
// where N >= 1024, else 128; the MMA's N is the tile's):
//   * K runs in stages of 128 code bytes per row (128 k of FP8, 256 of FP4,
//     i.e. 4 MMAs). Every thread copies its share of a stage with cp.async
//     into a ring of 4 slots in dynamic shared memory, 3 stages ahead: codes
//     as 16-byte chunks straight into the core-matrix layout, and one 4-byte
//     word of scales per row (A) / column (B) per 128 x 4 scale tile,
//     rearranged on the way into the tile order tcgen05.cp reads (the
//     activations arrive in the canonical layout from qc_quantize_act; the
//     weights keep it too, so both operands share one address function and
//     the weights' packed type stays canonical — nv_sf128x4 would save the
//     weights' 4-byte gathers, 96 copies per stage, not done yet).
//     TMA (cp.async.bulk.tensor) is not used: it needs CUtensorMap objects
//     built on the host by cuTensorMapEncodeTiled for every operand, which
//     the mgpu* launch path (lib/Runtime/CudaDriver.cpp) does not have.
//   * Thread 0 issues, per stage, tcgen05.cp of the stage's scale tiles
//     from shared to tensor memory (a per-slot region), the 4 tcgen05.mma
//     and a tcgen05.commit to the slot's mbarrier. tcgen05.cp followed by
//     tcgen05.mma from the same thread is an implicitly pipelined pair
//     (PTX ISA 9.0, 9.7.16.6.x "Pipelined tcgen05 instructions"): no wait
//     between them.
//   * Before refilling the slot of stage s - 1 (with stage s + 3), every
//     thread waits on that slot's mbarrier (phase parity (s - 1) / 4 mod 2),
//     which the commit arrives on once the MMAs of stage s - 1 have read
//     their shared-memory operands and TMEM scales. The MMAs of stage s are
//     then already queued, so the tensor cores keep working while the slot
//     refills.
//   * Epilogue: wait on the last stage's mbarrier (its commit tracks every
//     earlier MMA of the thread), tcgen05.ld the accumulator (warp w reads
//     TMEM lanes 32w .. 32w + 31 = rows of the tile, 32 columns per load),
//     scale (NVFP4), store with bounds checks; warp 0, which allocated the
//     tensor memory (and relinquished the allocation permit right after),
//     deallocates it.
//
// Layouts relied on (PTX ISA 9.0, chapter 9.7.16 "TensorCore 5th Generation
// Family Instructions"):
//
//   Shared memory matrix descriptor (9.7.16.4.1, "Shared Memory Descriptor"):
//   bits 0-13 start address >> 4, 16-29 leading dimension byte offset >> 4,
//   32-45 stride dimension byte offset >> 4, 46-48 the fixed constant 0b001
//   (the descriptor version; wgmma's descriptor had no such field), 49-51
//   base offset (0: no swizzle), 52 LBO mode (0: relative), 61-63 swizzle
//   mode (0: none). Canonical K-major layout without swizzling
//   (9.7.16.10.x "Shared memory layout", same core matrices as wgmma's
//   9.7.15.5.1): a core matrix is 8 rows x 16 bytes (16 FP8 / 32 FP4 codes),
//   128 contiguous bytes; K-adjacent core matrices LBO bytes apart, 8-row
//   groups SBO bytes apart. Here a stage tile [128 or 256 rows][128 bytes]
//   holds core matrix (G = r / 8, C = byte / 16) at 128 (8 G + C): LBO =
//   128, SBO = 1024, and MMA j of the stage (32 bytes of K) starts at byte
//   256 j.
//
//   Instruction descriptor (9.7.16.4.2, table for .kind::mxf8f6f4 / mxf4 /
//   mxf4nvf4): bits 4-5 B scale-factor ID, 7-9 atype, 10-12 btype (E4M3 0,
//   E5M2 1 for mxf8f6f4; E2M1 1 for mxf4nvf4), 13/14 negate (0), 15/16
//   transpose A/B (0: K-major), 17-22 N >> 3, 23 scale type (0 UE4M3,
//   1 UE8M0), 24-28 M >> 4, 29-30 A scale-factor ID, 31 K (0: the kind's
//   dense K). Built by Tcgen05Layout.h (unit-tested).
//
//   Tensor memory (9.7.16.2 "Tensor Memory"): 128 lanes x 512 columns of
//   32 bits per CTA; an address is lane << 16 | column. tcgen05.alloc of a
//   power of two >= 32 columns writes the base address to shared memory
//   (9.7.16.7.1). Warp w of a warpgroup may only access lanes
//   32 (w % 4) .. 32 (w % 4) + 31 (9.7.16.2.x "access restrictions").
//
//   Accumulator D of cta_group::1, M = 128 (9.7.16.10.x "Data path layout",
//   layout D for M = 128): row i of D is TMEM lane i, column j is column
//   base + j, one f32 per cell: N columns. The allocation (256 columns for
//   N = 128, 512 for N = 256) adds 4 slots of scale columns.
//
//   Scale factors (9.7.16.10.x "Block Scaling", scale factor A/B layouts
//   for M = 128 / N = 128): a 32-bit TMEM column holds 4 one-byte scales;
//   the scales of A row r (B column n) are read from column base + r / 32
//   (n / 32) at lane r % 32 of the accessing lane quarter, byte sf_id
//   (scale_vec::1X: one byte = one K block of 32), bytes sf_id, sf_id + 1
//   (2X: sf_id 0 or 2) or all four (4X: sf_id 0), in K order. tcgen05.cp
//   .32x128b.warpx4 (9.7.16.8.x "tcgen05.cp", shape 32x128b with the warpx4
//   multicast) copies 32 rows x 16 bytes of shared memory (descriptor: SBO
//   128 = 8 rows of 16 bytes, no swizzle) into lanes 0-31 of all four lane
//   quarters, 4 columns: so a 512-byte tile with the 4 scales of row r at
//   byte (r % 32) 16 + (r / 32) 4 (NVIDIA's 128 x 4 scale-factor tile,
//   nv_sf128x4 in Layout.h, Tcgen05Layout.h scaleTileByte) lands where the
//   MMA reads it. A stage has 4 (MXFP8), 8 (MXFP4) or 16 (NVFP4) scales per
//   row, i.e. 1, 2 or 4 tiles per operand (and per 128 columns of B: for
//   N = 256 the two halves' tiles of a k group are adjacent, so that column
//   n's scales sit at TMEM column base + n / 32); MMA j reads k group
//   (j · scales per MMA) / 4 with sf_id (j · scales per MMA) % 4.
//
//   tcgen05.ld .32x32b.x32 (9.7.16.8.3): thread t of the warp receives lane
//   32 (w % 4) + t, 32 consecutive columns from the address's column.
//
// Ordering: cp.async writes shared memory through the generic proxy and
// tcgen05.cp / tcgen05.mma read it through the async proxy: after
// cp.async.wait_group every thread issues fence.proxy.async.shared::cta,
// then the CTA barrier. tcgen05 operations and thread synchronization are
// ordered by tcgen05.fence::before_thread_sync / ::after_thread_sync around
// barriers and mbarrier waits (9.7.16.6 "Memory Consistency Model for 5th
// generation of TensorCore operations").
//
// How this was checked: no sm_100 device exists here or in GPU sessions
// (H100/H200), so the kernel has never run. The bit fields were read from
// the PTX ISA sections above and cross-read against public Blackwell kernels
// (CUTLASS cute/arch/mma_sm100_desc.hpp, DeepGEMM's sm100 UTCCP scale path);
// the field packing and the scale-tile / code-tile offsets are unit tests on
// the host (test/unit/Tcgen05LayoutTest.cpp, the scale tile against the
// format library's nv_sf128x4 packing); the emitted PTX assembles with CUDA
// 13's ptxas -arch=sm_100a (test/Conversion/qc-lower-gpu-tcgen05-ptxas.mlir)
// and FileCheck pins the ops and descriptor constants
// (test/Conversion/qc-lower-gpu-tcgen05.mlir).
//
// MLIR 22's nvvm.tcgen05.mma.block_scale lowers to the PTX 8.8 spelling
// (.block32 / .block16, or no scale_vec at all), which PTX 8.7 rejects, and
// LLVM 22 cannot select the mxf4nvf4 variants: the MMA is inline PTX in the
// PTX 8.6/8.7 spelling (.scale_vec::NX); .kind::mxf4nvf4 needs PTX 8.7.
//
// Numerics: the tensor cores form the block-scaled products and sum them in
// f32 (the hardware's internal precision of the block sums is not specified
// beyond "f32 accumulation"); NVFP4's f32 tensor scales multiply once at the
// end (2 roundings). Rows past M and columns past N read the last row /
// column and are not stored.
//
//===----------------------------------------------------------------------===//

#include "Kernels.h"
#include "quantc/Formats/Layout.h"
#include "Tcgen05Layout.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;

namespace quantc::gpukernels {

namespace {
constexpr int64_t kTileM = 128;
// N of a CTA tile (= of the MMA): 256 where N is large (A tiles are read
// half as often per output), else 128.
constexpr int64_t kWideTileMinN = 1024;
constexpr int64_t kThreads = 128;
constexpr int64_t kStageRowBytes = 128; // code bytes per row per stage
constexpr int64_t kMmaRowBytes = 32;    // code bytes per row per MMA
constexpr int64_t kMmasPerStage = kStageRowBytes / kMmaRowBytes;
constexpr int64_t kStages = 4; // ring slots
constexpr int64_t kTileBytesA = kTileM * kStageRowBytes;
constexpr int64_t kCoreMatrixBytes = 128; // LBO: next core matrix along K
constexpr int64_t kStrideBytes = 8 * kStageRowBytes; // SBO: next 8 rows
constexpr int64_t kScaleTileBytes = 512; // 128 rows x 4 one-byte scales
constexpr int64_t kScaleTileStride = 128; // SBO of a scale tile: 8 x 16 B
constexpr int64_t kLoadColumns = 32; // tcgen05.ld .32x32b.x32

/// The block-scaled MMA a weight/act format pair maps to.
struct Tcgen05Kind {
  const char *ptxKind;  // .kind::<ptxKind>
  const char *scaleVec; // .scale_vec::<scaleVec>
  tcgen05::OperandType typeA, typeB;
  bool ue8m0;
  int64_t elementBits, blockSize;
  bool tensorScales; // NV: f32 tensor scales multiply the result

  int64_t stageK() const { return kStageRowBytes * 8 / elementBits; }
  int64_t scalesPerMma() const {
    return kMmaRowBytes * 8 / elementBits / blockSize;
  }
  int64_t scalesPerStage() const { return stageK() / blockSize; }
  int64_t scaleTiles() const { return scalesPerStage() / 4; }
};

/// Shared and tensor memory of one CTA tile of 128 x tileN.
struct Tcgen05Geometry {
  int64_t tileN, halvesB; // B rows per tile, in 128-row halves
  int64_t tileBytesB;
  // Scale tiles per stage: A's (k groups of 4 scales), then B's, k group t
  // of B half h at scaleTilesA + t halvesB + h (B's halves adjacent, so that
  // TMEM column base + n / 32 holds column n's scales).
  int64_t scaleTilesA, scaleTilesB;
  int64_t slotBytes, barrierOffset, tmemSlotOffset, sharedBytes;
  // TMEM: the accumulator (tileN columns), then per slot 4 columns per
  // scale tile; a power of two >= 32 columns.
  int64_t scaleColumnsPerSlot, tmemColumns;

  Tcgen05Geometry(const Tcgen05Kind &kind, int64_t n) {
    tileN = n >= kWideTileMinN ? 256 : 128;
    halvesB = tileN / 128;
    tileBytesB = tileN * kStageRowBytes;
    scaleTilesA = kind.scaleTiles();
    scaleTilesB = kind.scaleTiles() * halvesB;
    slotBytes = kTileBytesA + tileBytesB +
                (scaleTilesA + scaleTilesB) * kScaleTileBytes;
    barrierOffset = kStages * slotBytes;
    tmemSlotOffset = barrierOffset + 8 * kStages;
    sharedBytes = tmemSlotOffset + 16;
    scaleColumnsPerSlot = 4 * (scaleTilesA + scaleTilesB);
    tmemColumns = 32;
    while (tmemColumns < tileN + kStages * scaleColumnsPerSlot)
      tmemColumns *= 2;
  }
};

std::optional<tcgen05::OperandType> fp8Type(const ElementType &e) {
  if (isOcpMinifloat(e, 4, 3))
    return tcgen05::OperandType::E4M3;
  if (isOcpMinifloat(e, 5, 2))
    return tcgen05::OperandType::E5M2;
  return std::nullopt;
}

std::optional<Tcgen05Kind> tcgen05Kind(const MatmulProblem &p) {
  if (!p.act)
    return std::nullopt;
  const Format &w = p.format, &a = *p.act;
  const bool bothFp4 =
      isOcpMinifloat(w.element, 2, 1) && isOcpMinifloat(a.element, 2, 1);
  Tcgen05Kind kind;
  if (bothFp4 && isBlockFormat(w, 32, ScaleType::E8M0, false) &&
      isBlockFormat(a, 32, ScaleType::E8M0, false))
    kind = {"mxf4nvf4", "2X", tcgen05::OperandType::E2M1Packed,
            tcgen05::OperandType::E2M1Packed, true, 4, 32, false};
  else if (bothFp4 && isBlockFormat(w, 16, ScaleType::E4M3, true) &&
           isBlockFormat(a, 16, ScaleType::E4M3, true))
    kind = {"mxf4nvf4", "4X", tcgen05::OperandType::E2M1Packed,
            tcgen05::OperandType::E2M1Packed, false, 4, 16, true};
  else if (fp8Type(w.element) && fp8Type(a.element) &&
           isBlockFormat(w, 32, ScaleType::E8M0, false) &&
           isBlockFormat(a, 32, ScaleType::E8M0, false))
    kind = {"mxf8f6f4", "1X", *fp8Type(a.element), *fp8Type(w.element),
            true, 8, 32, false};
  else
    return std::nullopt;
  if (p.k % kind.stageK() != 0)
    return std::nullopt;
  return kind;
}

} // namespace

bool tcgen05BlockScaleGemmApplies(const MatmulProblem &problem) {
  return tcgen05Kind(problem).has_value();
}

mlir::gpu::GPUFuncOp emitTcgen05BlockScaleGemmKernel(
    OpBuilder &builder, Location loc, StringRef name,
    const MatmulProblem &problem, LaunchShape &launch) {
  MLIRContext *ctx = builder.getContext();
  const Tcgen05Kind kind = *tcgen05Kind(problem);
  const int64_t m = problem.m, n = problem.n, k = problem.k;
  // Dynamic shared memory: the ring of slots (A codes, B codes, A scale
  // tiles, B scale tiles), one mbarrier per slot, the TMEM base address.
  const Tcgen05Geometry geometry(kind, n);
  const int64_t tileN = geometry.tileN, halvesB = geometry.halvesB,
                tileBytesB = geometry.tileBytesB,
                scaleTilesA = geometry.scaleTilesA,
                scaleTilesB = geometry.scaleTilesB,
                slotBytes = geometry.slotBytes,
                barrierOffset = geometry.barrierOffset,
                tmemSlotOffset = geometry.tmemSlotOffset,
                scaleColumnsPerSlot = geometry.scaleColumnsPerSlot,
                tmemColumns = geometry.tmemColumns;
  launch.grid = {(n + tileN - 1) / tileN, (m + kTileM - 1) / kTileM, 1};
  launch.block = {kThreads, 1, 1};
  launch.dynamicSharedBytes = geometry.sharedBytes;

  OpBuilder::InsertionGuard guard(builder);
  mlir::gpu::GPUFuncOp func = createKernel(
      builder, loc, name,
      {packedActMemRefType(ctx, problem.actBytes), weightMemRefType(problem)},
      resultMemRefType(problem), launch);
  ImplicitLocOpBuilder b(loc, builder);
  Emitter em(b);
  Value act = func.getArgument(0), weights = func.getArgument(1),
        y = func.getArgument(2);

  Type i32 = b.getI32Type(), i64 = b.getI64Type();
  auto tensorPtrType = LLVM::LLVMPointerType::get(ctx, 6);
  auto cta1 = NVVM::CTAGroupKindAttr::get(ctx, NVVM::CTAGroupKind::CTA_1);

  // Where codes and scales start in the two canonical layouts.
  PackedWeightReader weightLayout(problem);
  MatmulProblem actProblem = actAsWeightProblem(ActQuantProblem{
      m, k, *problem.act, problem.inputElementType, problem.actBytes});
  PackedWeightReader actLayout(actProblem);
  const int64_t rowBytes = k * kind.elementBits / 8;
  const int64_t scalesPerRow = k / kind.blockSize;
  // nv_sf128x4 weights (problem.nvScaleTiles): where the scale tiles start,
  // tiles per 128 rows, and the tensor scale.
  int64_t nvScaleStart = 0, nvColumnTiles = 0, weightTensorScaleOffset =
                                                   weightLayout.tensorScaleOffset;
  if (problem.nvScaleTiles) {
    std::string error;
    std::optional<LayoutGeometry> nv =
        layoutGeometry("nv_sf128x4", {n, k}, problem.format, error);
    assert(nv && "tcgen05 formats fit nv_sf128x4");
    nvScaleStart = (nv->codeBytesPerTile + 15) / 16 * 16;
    nvColumnTiles = (nv->scalesPerColumn + 3) / 4;
    weightTensorScaleOffset = nv->tensorScaleOffset;
  }

  auto i32c = [&](ImplicitLocOpBuilder &ib, int64_t v) {
    return arith::ConstantIntOp::create(ib, i32, v).getResult();
  };
  auto i64c = [&](ImplicitLocOpBuilder &ib, int64_t v) {
    return arith::ConstantIntOp::create(ib, i64, v).getResult();
  };
  auto toI32 = [&](ImplicitLocOpBuilder &ib, Value index) {
    return arith::IndexCastUIOp::create(ib, i32, index).getResult();
  };

  Value tid = mlir::gpu::ThreadIdOp::create(b, mlir::gpu::Dimension::x);
  Value tileRow0 = mulc(
      b, mlir::gpu::BlockIdOp::create(b, mlir::gpu::Dimension::y), kTileM);
  Value tileCol0 = mulc(
      b, mlir::gpu::BlockIdOp::create(b, mlir::gpu::Dimension::x), tileN);
  Value warp = divc(b, tid, 32);

  // Global byte addresses of the two packed operands (generic -> global).
  Value actGlobal = globalBytePointer(b, act),
        weightGlobal = globalBytePointer(b, weights);
  Value sharedAddress = dynamicSharedAddress(b);
  auto tensorPointer = [&](ImplicitLocOpBuilder &ib, Value address) {
    return LLVM::IntToPtrOp::create(ib, tensorPtrType, address).getResult();
  };
  auto barrierPointer = [&](ImplicitLocOpBuilder &ib, Value slot) {
    return sharedPointerAt(
        ib, add(ib, sharedAddress,
                add(ib, i64c(ib, barrierOffset),
                    arith::MulIOp::create(ib, indexToI64(ib, slot), i64c(ib, 8)))));
  };
  Value tmemSlot =
      sharedPointerAt(b, add(b, sharedAddress, i64c(b, tmemSlotOffset)));

  // Issues the cp.async copies of stage `stage` into its ring slot.
  // Codes: tile bytes / 16 chunks per operand, 8 (16 for B of 256 rows) per
  // thread; chunk c is core-matrix row r = c % 8 of K chunk C = (c / 8) % 8
  // in row group G = c / 64, i.e. byte 16 c of the tile (codeTileByte), so
  // consecutive threads fill consecutive shared bytes.
  // Scales: thread t copies, for each scale tile of the stage, the 4 scale
  // bytes of A row t and of B column t (+ 128 h) (one 4-byte word each,
  // 4-aligned: K / block is a multiple of 4) to scaleTileByte(t, 0) of the
  // tile.
  auto issueStage = [&](ImplicitLocOpBuilder &ib, Value stage) {
    Value slotAddress = add(
        ib, indexToI64(ib, mulc(ib, remc(ib, stage, kStages), slotBytes)),
        sharedAddress);
    Value k0Bytes = mulc(ib, stage, kStageRowBytes);
    constexpr int64_t chunksPerRow = kStageRowBytes / 16;
    for (int64_t operand = 0; operand < 2; ++operand) {
      Value base = operand == 0 ? actGlobal : weightGlobal;
      Value first = operand == 0 ? tileRow0 : tileCol0;
      const int64_t rows = operand == 0 ? m : n;
      copyCoreMatrixTileAsync(ib, tid, kThreads, base, rowBytes, k0Bytes, first,
                              rows - 1, slotAddress, operand * kTileBytesA,
                              operand == 0 ? kTileBytesA : tileBytesB,
                              chunksPerRow);
    }
    // This thread's row of every scale tile: byte (t % 32) 16 + (t / 32) 4.
    Value tileByte = add(ib, mulc(ib, remc(ib, tid, 32), 16),
                         mulc(ib, divc(ib, tid, 32), 4));
    Value s0 = mulc(ib, stage, kind.scalesPerStage());
    // Weights in nv_sf128x4 hold every 128 x 4 scale tile as the 512 bytes
    // the MMA reads: the first 32 threads copy each whole, 16 bytes apiece.
    if (problem.nvScaleTiles) {
      auto ifOp = scf::IfOp::create(ib, ult(ib, tid, 32), /*withElse=*/false);
      ImplicitLocOpBuilder tb(loc, ifOp.getThenBodyBuilder());
      Value columnTile0 = divc(tb, s0, 4);
      for (int64_t half = 0; half < halvesB; ++half) {
        // A half past N (the last CTA of N % 256 != 0) reads the last row
        // block, as the canonical path clamps rows; its results are not
        // stored.
        Value rowBlock =
            minc(tb, divc(tb, addc(tb, tileCol0, 128 * half), 128),
                 (n + 127) / 128 - 1);
        for (int64_t t = 0; t < kind.scaleTiles(); ++t) {
          Value sourceTile =
              add(tb, mulc(tb, rowBlock, nvColumnTiles),
                  addc(tb, columnTile0, t));
          Value source = addc(tb, add(tb, mulc(tb, sourceTile, kScaleTileBytes),
                                      mulc(tb, tid, 16)),
                              nvScaleStart);
          const int64_t tile = scaleTilesA + t * halvesB + half;
          Value destination = add(
              tb, slotAddress,
              indexToI64(tb, addc(tb, mulc(tb, tid, 16),
                             kTileBytesA + tileBytesB +
                                 tile * kScaleTileBytes)));
          copyAsync(tb, sharedPointerAt(tb, destination),
                  globalByteAt(tb, weightGlobal, source), 16);
        }
      }
    }
    for (int64_t operand = 0; operand < (problem.nvScaleTiles ? 1 : 2);
         ++operand)
      for (int64_t half = 0; half < (operand == 0 ? 1 : halvesB); ++half) {
        Value base = operand == 0 ? actGlobal : weightGlobal;
        Value first = operand == 0 ? tileRow0 : tileCol0;
        const int64_t rows = operand == 0 ? m : n;
        const int64_t scaleOffset =
            operand == 0 ? actLayout.scaleOffset : weightLayout.scaleOffset;
        Value line =
            minc(ib, add(ib, first, addc(ib, tid, 128 * half)), rows - 1);
        Value rowScales =
            addc(ib, add(ib, mulc(ib, line, scalesPerRow), s0), scaleOffset);
        for (int64_t t = 0; t < kind.scaleTiles(); ++t) {
          const int64_t tile =
              operand == 0 ? t : scaleTilesA + t * halvesB + half;
          Value destination = add(
              ib, slotAddress,
              indexToI64(ib, addc(ib, tileByte,
                             kTileBytesA + tileBytesB +
                                 tile * kScaleTileBytes)));
          copyAsync(ib, sharedPointerAt(ib, destination),
                  globalByteAt(ib, base, addc(ib, rowScales, 4 * t)), 4);
        }
      }
  };

  // Warp 0 allocates the tensor memory and gives up the right to allocate
  // more (other CTAs on the SM may then allocate); thread 0 sets up one
  // mbarrier per slot (one arrival: the tcgen05.commit).
  Value isWarp0 = ult(b, tid, 32);
  {
    auto ifOp = scf::IfOp::create(b, isWarp0, /*withElse=*/false);
    ImplicitLocOpBuilder tb(loc, ifOp.getThenBodyBuilder());
    NVVM::Tcgen05AllocOp::create(tb, tmemSlot, i32c(tb, tmemColumns), cta1);
    NVVM::Tcgen05RelinquishAllocPermitOp::create(tb, cta1);
  }
  Value isThread0 = ult(b, tid, 1);
  {
    auto ifOp = scf::IfOp::create(b, isThread0, /*withElse=*/false);
    ImplicitLocOpBuilder tb(loc, ifOp.getThenBodyBuilder());
    for (int64_t s = 0; s < kStages; ++s)
      NVVM::MBarrierInitOp::create(tb, barrierPointer(tb, idx(tb, s)),
                                   i32c(tb, 1), Value());
    NVVM::FenceMbarrierInitOp::create(tb);
  }

  const int64_t numStages = k / kind.stageK();
  // Prologue: stages 0 .. kStages - 2 in flight, one commit group each
  // (empty groups past the last stage keep the wait count uniform).
  for (int64_t s = 0; s + 1 < kStages; ++s) {
    if (s < numStages)
      issueStage(b, idx(b, s));
    NVVM::CpAsyncCommitGroupOp::create(b);
  }
  auto tcgen05Fence = [&](ImplicitLocOpBuilder &ib, NVVM::Tcgen05FenceKind f) {
    NVVM::Tcgen05FenceOp::create(ib,
                                 NVVM::Tcgen05FenceKindAttr::get(ctx, f));
  };
  // The TMEM base address (and the initialized mbarriers) reach every
  // thread.
  tcgen05Fence(b, NVVM::Tcgen05FenceKind::BEFORE_THREAD_SYNC);
  mlir::gpu::BarrierOp::create(b);
  tcgen05Fence(b, NVVM::Tcgen05FenceKind::AFTER_THREAD_SYNC);
  Value tmemBase = LLVM::LoadOp::create(b, i32, tmemSlot, /*alignment=*/4);

  // Descriptor bits that do not depend on the start address.
  const uint64_t codeDescriptorConstant =
      tcgen05::sharedDescriptorConstant(kCoreMatrixBytes, kStrideBytes);
  const uint64_t scaleDescriptorConstant =
      tcgen05::sharedDescriptorConstant(0, kScaleTileStride);
  auto descriptor = [&](ImplicitLocOpBuilder &ib, Value address,
                        uint64_t constant) {
    Value field = arith::AndIOp::create(
        ib, arith::ShRUIOp::create(ib, address, i64c(ib, 4)),
        i64c(ib, 0x3FFF));
    return arith::OrIOp::create(ib, field,
                                i64c(ib, static_cast<int64_t>(constant)))
        .getResult();
  };
  const std::string mmaPtx =
      std::string("{\n.reg .pred p;\nsetp.ne.b32 p, $4, 0;\n"
                  "tcgen05.mma.cta_group::1.kind::") +
      kind.ptxKind + ".block_scale.scale_vec::" + kind.scaleVec +
      " [$0], $1, $2, $3, [$5], [$6], p;\n}";
  auto waitBarrier = [&](ImplicitLocOpBuilder &ib, Value slot, Value parity) {
    NVVM::MBarrierTryWaitParityOp::create(ib, barrierPointer(ib, slot),
                                          toI32(ib, parity),
                                          i32c(ib, 0x989680));
  };

  scf::ForOp::create(
      b, idx(b, 0), idx(b, numStages), idx(b, 1), ValueRange{},
      [&](OpBuilder &nested, Location nestedLoc, Value stage, ValueRange) {
        ImplicitLocOpBuilder lb(nestedLoc, nested);
        // Stage `stage` has landed for this thread's copies; the fence makes
        // them visible to the async proxy, the barrier to thread 0.
        NVVM::CpAsyncWaitGroupOp::create(lb, kStages - 2);
        NVVM::FenceProxyOp::create(
            lb, NVVM::ProxyKindAttr::get(ctx, NVVM::ProxyKind::async_shared),
            NVVM::SharedSpaceAttr::get(ctx, NVVM::SharedSpace::shared_cta));
        mlir::gpu::BarrierOp::create(lb);
        tcgen05Fence(lb, NVVM::Tcgen05FenceKind::AFTER_THREAD_SYNC);
        Value slot = remc(lb, stage, kStages);
        {
          auto ifOp = scf::IfOp::create(lb, ult(lb, tid, 1),
                                        /*withElse=*/false);
          ImplicitLocOpBuilder tb(nestedLoc, ifOp.getThenBodyBuilder());
          Value slotAddress =
              add(tb, indexToI64(tb, mulc(tb, slot, slotBytes)), sharedAddress);
          Value scaleColumns =
              add(tb, tmemBase,
                  toI32(tb, addc(tb, mulc(tb, slot, scaleColumnsPerSlot),
                                 tileN)));
          // Scale tile i of the slot to columns + 4 i (the shared order).
          for (int64_t tile = 0; tile < scaleTilesA + scaleTilesB; ++tile) {
            Value source = add(
                tb, slotAddress,
                i64c(tb, kTileBytesA + tileBytesB + tile * kScaleTileBytes));
            NVVM::Tcgen05CpOp::create(
                tb,
                NVVM::Tcgen05CpShapeAttr::get(
                    ctx, NVVM::Tcgen05CpShape::SHAPE_32x128b),
                cta1,
                NVVM::Tcgen05CpMulticastAttr::get(
                    ctx, NVVM::Tcgen05CpMulticast::WARPX4),
                /*srcFormat=*/nullptr,
                tensorPointer(tb, add(tb, scaleColumns, i32c(tb, 4 * tile))),
                descriptor(tb, source, scaleDescriptorConstant));
          }
          // The first MMA of the first stage overwrites the accumulator.
          Value accumulate = arith::ExtUIOp::create(
              tb, i32,
              arith::CmpIOp::create(tb, arith::CmpIPredicate::ne, stage,
                                    idx(tb, 0)));
          for (int64_t j = 0; j < kMmasPerStage; ++j) {
            const int64_t firstScale = j * kind.scalesPerMma();
            const int64_t tile = firstScale / 4, scaleId = firstScale % 4;
            const uint32_t instruction =
                tcgen05::blockScaleInstructionDescriptor(
                    kind.typeA, kind.typeB, kind.ue8m0, kTileM, tileN,
                    scaleId, scaleId);
            Value descA = descriptor(
                tb, add(tb, slotAddress, i64c(tb, j * 2 * kCoreMatrixBytes)),
                codeDescriptorConstant);
            Value descB = descriptor(
                tb,
                add(tb, slotAddress,
                    i64c(tb, kTileBytesA + j * 2 * kCoreMatrixBytes)),
                codeDescriptorConstant);
            Value enable = j == 0 ? accumulate : i32c(tb, 1);
            LLVM::InlineAsmOp::create(
                tb, TypeRange{},
                ValueRange{tmemBase, descA, descB,
                           i32c(tb, static_cast<int32_t>(instruction)), enable,
                           add(tb, scaleColumns, i32c(tb, 4 * tile)),
                           add(tb, scaleColumns,
                               i32c(tb, 4 * (scaleTilesA +
                                             tile * halvesB)))},
                mmaPtx, "r,l,l,r,r,r,r", /*has_side_effects=*/true,
                /*is_align_stack=*/false,
                LLVM::tailcallkind::TailCallKind::None,
                LLVM::AsmDialectAttr::get(ctx, LLVM::AsmDialect::AD_ATT),
                /*operand_attrs=*/ArrayAttr());
          }
          // Arrives on the slot's mbarrier once these MMAs (and every
          // earlier tcgen05 operation of this thread) have completed.
          NVVM::Tcgen05CommitOp::create(tb, barrierPointer(tb, slot), Value(),
                                        cta1);
        }
        // Refill the slot of stage - 1 with stage + kStages - 1 once the
        // MMAs of stage - 1 are done with it (stage 0: that slot is unused).
        Value ahead = addc(lb, stage, kStages - 1);
        {
          auto ifOp = scf::IfOp::create(lb, ult(lb, ahead, numStages),
                                        /*withElse=*/false);
          ImplicitLocOpBuilder tb(nestedLoc, ifOp.getThenBodyBuilder());
          auto notFirst = scf::IfOp::create(
              tb,
              arith::CmpIOp::create(tb, arith::CmpIPredicate::ne, stage,
                                    idx(tb, 0)),
              /*withElse=*/false);
          {
            ImplicitLocOpBuilder wb(nestedLoc, notFirst.getThenBodyBuilder());
            Value previous = addc(wb, stage, -1);
            waitBarrier(wb, remc(wb, previous, kStages),
                        remc(wb, divc(wb, previous, kStages), 2));
          }
          issueStage(tb, ahead);
        }
        NVVM::CpAsyncCommitGroupOp::create(lb);
        scf::YieldOp::create(lb);
      });
  // No copies may be in flight when the CTA exits.
  NVVM::CpAsyncWaitGroupOp::create(b, 0);

  // The last stage's commit covers every MMA.
  const int64_t last = numStages - 1;
  waitBarrier(b, idx(b, last % kStages), idx(b, (last / kStages) % 2));
  tcgen05Fence(b, NVVM::Tcgen05FenceKind::AFTER_THREAD_SYNC);

  Value tensorScale;
  if (kind.tensorScales) {
    auto load = [&](Value base, int64_t offset) {
      return LLVM::LoadOp::create(b, b.getF32Type(),
                                  globalByteAt(b, base, idx(b, offset)),
                                  /*alignment=*/4)
          .getResult();
    };
    tensorScale = em.fmul(load(actGlobal, actLayout.tensorScaleOffset),
                          load(weightGlobal, weightTensorScaleOffset));
  }
  // Thread t holds row t of the tile: TMEM lane 32 w + (t % 32) = t.
  Value laneBase =
      add(b, tmemBase,
          arith::ShLIOp::create(b, toI32(b, mulc(b, warp, 32)), i32c(b, 16)));
  Value row = add(b, tileRow0, tid);
  const bool guardRows = m % kTileM != 0, guardCols = n % tileN != 0;
  auto loadType = VectorType::get({kLoadColumns}, i32);
  for (int64_t chunk = 0; chunk < tileN / kLoadColumns;
       ++chunk) {
    Value values = NVVM::Tcgen05LdOp::create(
        b, loadType, /*pack=*/nullptr,
        NVVM::Tcgen05LdStShapeAttr::get(ctx,
                                        NVVM::Tcgen05LdStShape::SHAPE_32X32B),
        tensorPointer(b, add(b, laneBase, i32c(b, chunk * kLoadColumns))),
        /*offset=*/Value());
    NVVM::Tcgen05WaitOp::create(
        b, NVVM::Tcgen05WaitKindAttr::get(ctx, NVVM::Tcgen05WaitKind::LOAD));
    for (int64_t i = 0; i < kLoadColumns; ++i) {
      Value value = em.floatOf(
          vector::ExtractOp::create(b, values, ArrayRef<int64_t>{i}));
      if (tensorScale)
        value = em.fmul(value, tensorScale);
      storeResult(b, value, y, row, addc(b, tileCol0, chunk * kLoadColumns + i),
                  problem, guardRows, guardCols);
    }
  }
  // Every warp's loads are done before warp 0 frees the tensor memory.
  tcgen05Fence(b, NVVM::Tcgen05FenceKind::BEFORE_THREAD_SYNC);
  mlir::gpu::BarrierOp::create(b);
  {
    auto ifOp = scf::IfOp::create(b, isWarp0, /*withElse=*/false);
    ImplicitLocOpBuilder tb(loc, ifOp.getThenBodyBuilder());
    tcgen05Fence(tb, NVVM::Tcgen05FenceKind::AFTER_THREAD_SYNC);
    NVVM::Tcgen05DeallocOp::create(tb, tensorPointer(tb, tmemBase),
                                   i32c(tb, tmemColumns), cta1);
  }
  mlir::gpu::ReturnOp::create(b);
  return func;
}

} // namespace quantc::gpukernels
