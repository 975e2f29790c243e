//===- Kernels.h - GPU kernels for qc.matmul --------------------*- C++ -*-===//
//
// The kernel generators of qc-lower-gpu and what they share: the problem a
// kernel solves, the launch shape it was generated for, and the reader of the
// canonical packed weight layout that decodes codes and scales in registers.
//
// Every kernel computes y[M, N] = x[M, K] · W[N, K]ᵀ for static shapes and
// takes three memrefs: x (f32/f16/bf16, or with `act` the bytes of x in the
// act format's canonical packed layout, written by qc_quantize_act), the
// packed weight bytes (memref<B x i8>, canonical layout) and y.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_LIB_CONVERSION_QCTOGPU_KERNELS_H
#define QUANTC_LIB_CONVERSION_QCTOGPU_KERNELS_H

#include "quantc/Formats/Format.h"
#include "quantc/Transforms/FormatCodegen.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include <array>
#include <optional>
#include <string>

namespace quantc::gpukernels {

/// What one kernel computes.
struct MatmulProblem {
  int64_t m = 0, n = 0, k = 0;
  Format format;
  mlir::Type inputElementType;  // f32, f16 or bf16
  mlir::Type resultElementType; // f32, f16 or bf16
  int64_t weightBytes = 0;      // size of the packed weights
  /// Set for kernels that read x quantized (qc.matmul's `act`): x is then
  /// `actBytes` bytes in the act format's canonical layout.
  std::optional<Format> act;
  int64_t actBytes = 0;
  /// The weights' codes canonical and their scales in NVIDIA's 128 x 4
  /// scale-factor tiles (layout nv_sf128x4, quantc/Formats/Layout.h), as
  /// the tcgen05 GEMM reads them; else the canonical layout.
  bool nvScaleTiles = false;
};

/// Whether `e` is the OCP minifloat E<exponentBits>M<mantissaBits> (the
/// FP8/FP6/FP4 element types the block-scaled MMAs read).
bool isOcpMinifloat(const ElementType &e, int exponentBits, int mantissaBits);
/// Blocks of `size` along K (axis -1) with `scale`, symmetric, with an NV
/// f32 tensor scale iff `nv`.
bool isBlockFormat(const Format &f, int64_t size, ScaleType scale, bool nv);

/// x[M, K] of qc.matmul quantized in its `act` format on the GPU.
struct ActQuantProblem {
  int64_t m = 0, k = 0;
  Format format;
  mlir::Type inputElementType; // x: f32, f16 or bf16
  int64_t packedBytes = 0;     // size of the canonical packed layout
};

/// The grid and block a kernel was generated for (also recorded on the
/// gpu.func as known_grid_size / known_block_size).
struct LaunchShape {
  std::array<int64_t, 3> grid = {1, 1, 1};
  std::array<int64_t, 3> block = {1, 1, 1};
  /// Dynamic shared memory the launch asks for (0: the kernel's static
  /// workgroup buffers only).
  int64_t dynamicSharedBytes = 0;
};

/// Static facts about the canonical packed layout of W[N, K] and the IR that
/// reads it on the device: words of codes, the scale that multiplies a run of
/// codes along K, and the value of a code.
class PackedWeightReader {
public:
  explicit PackedWeightReader(const MatmulProblem &problem);

  /// Empty if the kernels can read this format/shape; else why not.
  static std::string whyUnsupported(const MatmulProblem &problem);

  const MatmulProblem &problem;
  int bits;
  int64_t codeBytes, scaleOffset, scaleBytes, zeroPointOffset,
      tensorScaleOffset;
  /// Number of consecutive k (starting at multiples of it) that share one
  /// scale in a row: K for per-channel/per-tensor, the block along K for
  /// blocks; 1 when scales vary along K element by element (axis-0 blocks).
  int64_t runLength;

  /// Loads `numBytes` bytes starting at byte `offset` of `weights` as
  /// little-endian i32 words (the last one zero-padded), with vector loads
  /// of at most `alignment` bytes (a power of two that divides every offset
  /// this is called with).
  llvm::SmallVector<mlir::Value> loadWords(mlir::ImplicitLocOpBuilder &b,
                                           mlir::Value weights,
                                           mlir::Value offset,
                                           int64_t numBytes,
                                           int64_t alignment) const;
  /// The byte offset of code (n, k), k a multiple of 8 / gcd(8, bits).
  mlir::Value codeByteOffset(mlir::ImplicitLocOpBuilder &b, mlir::Value n,
                             mlir::Value k) const;
  /// Code `j` (0-based) of the bit stream held in `words` (an i32).
  mlir::Value extractCode(Emitter &em, llvm::ArrayRef<mlir::Value> words,
                          int64_t j) const;

  /// The NV second-level scale (f32), or null for other formats. Load once.
  mlir::Value loadTensorScale(Emitter &em, mlir::Value weights) const;

  /// What multiplies a run of codes: the decoded scale (times the tensor
  /// scale and any fixed-point factor), and for asymmetric formats the
  /// constant 2^23 + zero point used by decodeCode.
  struct RunScale {
    mlir::Value scale;
    mlir::Value zeroPointBias;
  };
  /// The scale of element (n, k) of W.
  RunScale loadRunScale(Emitter &em, mlir::Value weights, mlir::Value n,
                        mlir::Value k, mlir::Value tensorScale) const;

  /// The unscaled f32 value of a code: the element's value for symmetric
  /// formats (without the fixed-point factor, which is in the run scale),
  /// code - zero point for asymmetric ones.
  mlir::Value decodeCode(Emitter &em, mlir::Value code,
                         const RunScale &scale) const;

private:
  ElementInfo element;
  bool fastMinifloat = false;
  mlir::Value loadLittleEndian(Emitter &em, mlir::Value weights,
                               mlir::Value offset, int64_t count,
                               int64_t alignment) const;
  mlir::Value scaleIndex(mlir::ImplicitLocOpBuilder &b, mlir::Value n,
                         mlir::Value k) const;
};

/// Largest power of two (at most `cap`) dividing every one of `values`.
int64_t commonAlignment(std::initializer_list<int64_t> values, int64_t cap = 16);

/// Chunks of 32 codes per thread, `rowsPerBlock` weight rows per CTA (0:
/// 4 for M <= 4, else 2), shuffle reduction. Requires K % 32 == 0 and runs
/// of 16 or a multiple of 32.
bool gemvApplies(const MatmulProblem &problem);
mlir::gpu::GPUFuncOp emitGemvKernel(mlir::OpBuilder &builder,
                                    mlir::Location loc, llvm::StringRef name,
                                    const MatmulProblem &problem,
                                    LaunchShape &launch,
                                    int64_t rowsPerBlock = 0);

/// 128x128x32 tiles in shared memory (f16), mma.sync.m16n8k16 f32-accumulate.
/// Requires K % 32 == 0 and runs that are multiples of 16.
bool mmaSyncGemmApplies(const MatmulProblem &problem);
mlir::gpu::GPUFuncOp emitMmaSyncGemmKernel(mlir::OpBuilder &builder,
                                           mlir::Location loc,
                                           llvm::StringRef name,
                                           const MatmulProblem &problem,
                                           LaunchShape &launch);

/// sm_90a: 128x128x64 tiles in shared memory (bf16, wgmma core-matrix
/// layout), two warpgroups on wgmma.mma_async.m64n128k16 f32-accumulate.
/// Requires K % 64 == 0 and runs that are multiples of 16.
bool wgmmaGemmApplies(const MatmulProblem &problem);
mlir::gpu::GPUFuncOp emitWgmmaGemmKernel(mlir::OpBuilder &builder,
                                         mlir::Location loc,
                                         llvm::StringRef name,
                                         const MatmulProblem &problem,
                                         LaunchShape &launch);

/// sm_90a, FP8 (E4M3/E5M2) weights x FP8 activations (packed on the GPU in
/// the act format's canonical layout): MXFP8 x MXFP8, or per-channel /
/// per-tensor x per-row / per-tensor f32 scales. 128x128 tiles, K in stages of 128
/// through a cp.async ring, wgmma.mma_async.m64n128k32 e4m3 with f32
/// accumulators (E8M0 scales folded in per MX block). Requires K % 128 == 0.
/// Kernel arguments: (packed x, packed W, y).
bool wgmmaFp8GemmApplies(const MatmulProblem &problem);
mlir::gpu::GPUFuncOp emitWgmmaFp8GemmKernel(mlir::OpBuilder &builder,
                                            mlir::Location loc,
                                            llvm::StringRef name,
                                            const MatmulProblem &problem,
                                            LaunchShape &launch);

/// One thread per output, f32, any shape the reader supports.
mlir::gpu::GPUFuncOp emitSimtMatmulKernel(mlir::OpBuilder &builder,
                                          mlir::Location loc,
                                          llvm::StringRef name,
                                          const MatmulProblem &problem,
                                          LaunchShape &launch);

/// Empty if qc_quantize_act takes activations of rank `rank` flattened to
/// [M, K] in `act`; else why not.
std::string whyActUnsupported(const Format &act, int64_t rank, int64_t m,
                              int64_t k);
/// qc_quantize_act(x: memref<MxKxT>, bytes: memref<B x i8>): x in the
/// canonical packed layout of the act format, byte for byte what the format
/// library's quantize + pack write (ActQuantKernel.cpp). Formats whose
/// scales depend on the whole tensor (actNeedsTensorStats) take
/// (x, stats, bytes), stats written before by qc_act_stats(x, stats).
mlir::gpu::GPUFuncOp emitQuantizeActKernel(mlir::OpBuilder &builder,
                                           mlir::Location loc,
                                           llvm::StringRef name,
                                           const ActQuantProblem &problem,
                                           LaunchShape &launch);
/// qc_dequantize_act(bytes, x': memref<MxKxT>): the packed activations
/// decoded back to x's element type (fake quantization), for the kernels
/// that read float activations.
mlir::gpu::GPUFuncOp emitDequantizeActKernel(mlir::OpBuilder &builder,
                                             mlir::Location loc,
                                             llvm::StringRef name,
                                             const ActQuantProblem &problem,
                                             LaunchShape &launch);
mlir::MemRefType packedActMemRefType(mlir::MLIRContext *ctx, int64_t bytes);
/// Per-tensor scales and NV tensor scales without a calibrated amax.
bool actNeedsTensorStats(const Format &act);
/// qc_act_stats(x, stats: memref<P x 5 x f32>): per CTA, max |x|, max
/// finite |x|, NaN/Inf seen, min x, max x.
mlir::gpu::GPUFuncOp emitActStatsKernel(mlir::OpBuilder &builder,
                                        mlir::Location loc,
                                        llvm::StringRef name,
                                        const ActQuantProblem &problem,
                                        LaunchShape &launch);
int64_t actStatsPartials(const ActQuantProblem &problem);
mlir::MemRefType actStatsMemRefType(mlir::MLIRContext *ctx,
                                    const ActQuantProblem &problem);
/// The packed activations seen as a weight of M rows (same canonical
/// layout), for PackedWeightReader.
MatmulProblem actAsWeightProblem(const ActQuantProblem &problem);

/// sm_120a: mma.sync block_scale (kind::mxf4nvf4 / kind::mxf8f6f4) on packed
/// activations and weights of the same kind: MXFP4 x MXFP4, NVFP4 x NVFP4,
/// MXFP8 (e4m3/e5m2) x MXFP8. 16 x 128 CTA tiles, fragments straight from
/// global memory (the small-M kernel). Requires `act` and K % 64 (fp4) / 32
/// (fp8).
bool blockScaleMmaApplies(const MatmulProblem &problem);
mlir::gpu::GPUFuncOp emitBlockScaleMmaKernel(mlir::OpBuilder &builder,
                                             mlir::Location loc,
                                             llvm::StringRef name,
                                             const MatmulProblem &problem,
                                             LaunchShape &launch);
/// sm_120a: the same MMAs on 128 x 128 CTA tiles staged by cp.async through
/// a 4-slot ring in dynamic shared memory, fragments by ldmatrix; besides
/// the pairs above every pair of OCP MX formats (FP8/FP6/FP4 elements, E8M0
/// per 32) on kind::mxf8f6f4, FP6/FP4 codes unpacked into 8-bit containers
/// by ldmatrix. Requires `act` and K % 128.
bool blockScaleGemmApplies(const MatmulProblem &problem);
mlir::gpu::GPUFuncOp emitBlockScaleGemmKernel(mlir::OpBuilder &builder,
                                              mlir::Location loc,
                                              llvm::StringRef name,
                                              const MatmulProblem &problem,
                                              LaunchShape &launch);
/// sm_100a: tcgen05.mma block_scale (cta_group::1, M = 128, N = 256 where
/// N >= 1024 else 128, f32 accumulator in tensor memory) on packed
/// activations and weights of the same kind: MXFP8 (e4m3/e5m2) x MXFP8
/// (kind::mxf8f6f4, K % 128 == 0), MXFP4 x MXFP4 and NVFP4 x NVFP4
/// (kind::mxf4nvf4, K % 256 == 0). Operand tiles staged by cp.async in a
/// 4-slot ring, scales copied to tensor memory by tcgen05.cp. Kernel
/// arguments: (packed x, packed W, y).
bool tcgen05BlockScaleGemmApplies(const MatmulProblem &problem);
mlir::gpu::GPUFuncOp emitTcgen05BlockScaleGemmKernel(
    mlir::OpBuilder &builder, mlir::Location loc, llvm::StringRef name,
    const MatmulProblem &problem, LaunchShape &launch);
/// The MLIR type whose arith.truncf from f32 rounds like the format
/// library's element `e` (f4E2M1FN, f6E2M3FN, f6E3M2FN, f8E4M3FN, f8E5M2 for
/// the saturating OCP minifloats; quantc-gpu-to-ptx lowers those truncf to
/// cvt.rn.satfinite), or null.
mlir::Type minifloatStorageType(mlir::MLIRContext *ctx, const ElementType &e);

/// Creates an empty kernel `name` taking (x, weights, y) with the access
/// attributes the staging pass and NVPTX rely on, and `workgroup` shared
/// buffers; the builder is left at the start of its body.
mlir::gpu::GPUFuncOp createKernel(mlir::OpBuilder &builder, mlir::Location loc,
                                  llvm::StringRef name,
                                  const MatmulProblem &problem,
                                  const LaunchShape &launch,
                                  mlir::TypeRange workgroup = {});

/// Stores accumulator `value` (f32) at y[row, col] in y's element type, behind
/// a bounds check of the row (column) where `guardRows` (`guardCols`) says
/// M (N) is not a multiple of the kernel's tile.
void storeResult(mlir::ImplicitLocOpBuilder &b, mlir::Value value,
                 mlir::Value y, mlir::Value row, mlir::Value col,
                 const MatmulProblem &problem, bool guardRows, bool guardCols);

/// Creates an empty kernel `name` taking `inputs` (read-only, no alias) and
/// `output` (write-only), with 16-byte aligned `workgroup` buffers; the
/// builder is left at the start of its body.
mlir::gpu::GPUFuncOp createKernel(mlir::OpBuilder &builder, mlir::Location loc,
                                  llvm::StringRef name, mlir::TypeRange inputs,
                                  mlir::MemRefType output,
                                  const LaunchShape &launch,
                                  mlir::TypeRange workgroup = {});

/// Index arithmetic the kernel generators share: constants, sums, products,
/// quotients, remainders and unsigned comparisons with constants.
inline mlir::Value idx(mlir::ImplicitLocOpBuilder &b, int64_t v) {
  return mlir::arith::ConstantIndexOp::create(b, v).getResult();
}
inline mlir::Value add(mlir::ImplicitLocOpBuilder &b, mlir::Value l,
                       mlir::Value r) {
  return mlir::arith::AddIOp::create(b, l, r).getResult();
}
inline mlir::Value addc(mlir::ImplicitLocOpBuilder &b, mlir::Value l,
                        int64_t r) {
  return r ? add(b, l, idx(b, r)) : l;
}
inline mlir::Value mulc(mlir::ImplicitLocOpBuilder &b, mlir::Value l,
                        int64_t r) {
  return mlir::arith::MulIOp::create(b, l, idx(b, r)).getResult();
}
inline mlir::Value divc(mlir::ImplicitLocOpBuilder &b, mlir::Value l,
                        int64_t r) {
  return mlir::arith::DivUIOp::create(b, l, idx(b, r)).getResult();
}
inline mlir::Value remc(mlir::ImplicitLocOpBuilder &b, mlir::Value l,
                        int64_t r) {
  return mlir::arith::RemUIOp::create(b, l, idx(b, r)).getResult();
}
inline mlir::Value minc(mlir::ImplicitLocOpBuilder &b, mlir::Value l,
                        int64_t r) {
  return mlir::arith::MinUIOp::create(b, l, idx(b, r)).getResult();
}
inline mlir::Value ult(mlir::ImplicitLocOpBuilder &b, mlir::Value l,
                       int64_t r) {
  return mlir::arith::CmpIOp::create(b, mlir::arith::CmpIPredicate::ult, l,
                                     idx(b, r))
      .getResult();
}

/// Byte addressing of the cp.async kernels: a memref's base as an LLVM
/// global pointer (generic -> global address space), the dynamic shared
/// memory's address as an i64 (and, with `memref`, the dynamic shared
/// memory as memref<?xi8>), pointers `byteOffset` / `address` bytes in,
/// and one cp.async of `bytes` (4, 8 or 16; 16 bypasses L1 with .cg, the
/// others, which .cg does not take, use .ca).
mlir::Value indexToI64(mlir::ImplicitLocOpBuilder &b, mlir::Value index);
mlir::Value globalBytePointer(mlir::ImplicitLocOpBuilder &b,
                              mlir::Value memref);
mlir::Value globalByteAt(mlir::ImplicitLocOpBuilder &b, mlir::Value base,
                         mlir::Value byteOffset);
mlir::Value dynamicSharedAddress(mlir::ImplicitLocOpBuilder &b,
                                 mlir::Value *memref = nullptr);
mlir::Value sharedPointerAt(mlir::ImplicitLocOpBuilder &b,
                            mlir::Value address);
void copyAsync(mlir::ImplicitLocOpBuilder &b, mlir::Value sharedPointer,
               mlir::Value globalPointer, int64_t bytes);

/// cp.async copies of `rows` rows of `rowBytes` bytes (a multiple of
/// `chunk`): row r from byte globalRowBytes * min(row0 + r, lastRow) +
/// globalColumnByte of `global` (rows past the tile's last valid one copy
/// that row) to shared byte sharedByte + r * rowBytes past the i64 address
/// `sharedBase`, chunk c of the tile by thread c % threads (behind a bounds
/// check for the last partial round).
void copyRowsAsync(mlir::ImplicitLocOpBuilder &b, mlir::Value tid,
                   int64_t threads, mlir::Value global, int64_t globalRowBytes,
                   mlir::Value globalColumnByte, mlir::Value row0,
                   int64_t lastRow, mlir::Value sharedBase,
                   mlir::Value sharedByte, int64_t rows, int64_t rowBytes,
                   int64_t chunk);

/// The prologue of a cp.async software pipeline of `steps` steps through
/// `stages` ring slots: `issue(b, s)` copies step s into slot s for
/// s < stages (one commit group each, empty past the last step, so that
/// the groups per step stay fixed), then waits for step 0's group and
/// synchronizes the CTA.
void emitCpAsyncPrologue(
    mlir::ImplicitLocOpBuilder &b, int64_t stages, int64_t steps,
    llvm::function_ref<void(mlir::ImplicitLocOpBuilder &, int64_t)> issue);

/// Where 16-byte chunk `chunk` of a K-major, unswizzled core-matrix tile
/// whose rows hold `chunksPerRow` chunks goes: its row (row group
/// chunk / (8 chunksPerRow), row chunk % 8 in the group) and its K chunk
/// ((chunk / 8) % chunksPerRow); the chunk itself is byte 16 chunk of the
/// tile, so consecutive threads fill consecutive shared bytes.
std::pair<mlir::Value, mlir::Value>
coreMatrixChunkPlace(mlir::ImplicitLocOpBuilder &b, mlir::Value chunk,
                     int64_t chunksPerRow);

/// cp.async of a K-major, unswizzled core-matrix tile of `tileBytes` bytes
/// (rows of `chunksPerRow` 16-byte chunks, placed by coreMatrixChunkPlace):
/// chunk c of the tile by thread c % threads from byte globalRowBytes *
/// min(row0 + row, lastRow) + globalColumnByte + 16 kChunk of `global` to
/// shared byte sharedOffset + 16 c past the i64 address `sharedBase`.
/// `tileBytes` is a multiple of 16 threads.
void copyCoreMatrixTileAsync(mlir::ImplicitLocOpBuilder &b, mlir::Value tid,
                             int64_t threads, mlir::Value global,
                             int64_t globalRowBytes,
                             mlir::Value globalColumnByte, mlir::Value row0,
                             int64_t lastRow, mlir::Value sharedBase,
                             int64_t sharedOffset, int64_t tileBytes,
                             int64_t chunksPerRow);

/// The memref types of the three kernel arguments.
mlir::MemRefType inputMemRefType(const MatmulProblem &problem);
mlir::MemRefType weightMemRefType(const MatmulProblem &problem);
mlir::MemRefType resultMemRefType(const MatmulProblem &problem);

} // namespace quantc::gpukernels

#endif // QUANTC_LIB_CONVERSION_QCTOGPU_KERNELS_H
