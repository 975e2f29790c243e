//===- QcToCPU.h - qc.matmul kernels generated for x86 CPUs ------*- C++ -*-===//
//
// qc-lower-cpu replaces `qc.matmul` with constant weights by a call to a
// kernel generated for the target ISA. This header is its API for the pass
// and for the benchmarks, which generate the same kernels for shapes of their
// own:
//
//   1. CpuTarget: the ISA level (x86-64, -v3, -v4, -v4-vnni or the host).
//   2. planMatmulKernel: picks how the kernel computes (f32 FMA, bf16 dot
//      products or int8 dot products with VNNI), the packed weight layout, and
//      the register tiling for the shape class (GEMV, small M, large M).
//   3. emitMatmulKernel: emits the kernel into a module as
//        func.func @name(%x: memref<MxKxf32>, %w: memref<Bxi8>,
//                        %y: memref<MxNxf32>)
//      whose work runs in llvm.func tasks (vector / LLVM dialects, x86
//      intrinsics through llvm.call_intrinsic) under quantc_parallel_for.
//
// Arithmetic (what tests check):
//   * F32 / BF16 modes: y[m, n] = sum over scale groups g of
//     scale(n, g) * sum_{k in g} w(n, k) * x(m, k), times the NV tensor
//     scale, in f32 (bf16 mode rounds x to bf16 first). Within a group the
//     order of the sum differs from the reference, so results agree with it
//     within the f32 accumulation bound.
//   * F32 mode with `act` set (no VNNI, or weight codes that are not small
//     integers): x is fake-quantized exactly as the format library does, then
//     multiplied as above, so results agree with the reference within the
//     same bound.
//   * I16 mode (no `act`, VNNI targets): x is rounded to q = round(x / s),
//     s = amax / 32639 per block of 32 (|x - s q| <= s / 2), and multiplied
//     exactly in integers; results agree with the reference within the f32
//     bound plus sum_k (s_k / 2) |w_k|.
//   * I8 mode (`act` set): x is quantized per activation block exactly as the
//     format library quantizes it; for every dot group g (the smaller of the
//     weight and activation blocks) the integer dot product d = sum codeW *
//     codeX is exact, and with f32 rounding after every operation:
//        s   = wScale(n, g) * xScale(m, g)   (the factors that vary per group)
//        acc = fma(float(d), s, acc)         (g = 0, 1, ...; acc starts at 0;
//                                             one rounding, acc + d when no
//                                             factor varies)
//        y   = ((acc * wScale(n)) * xScale(m)) * c
//     where wScale(n) / xScale(m) are the per-channel / per-row scales when the
//     weights / activations have one scale per row, and c is the product of
//     the element factors (2^-1 for E2M1 codes as integers, 2^-6 for MXINT8)
//     and the NV tensor scale. E4M3 weight scales (NV formats) enter as
//     value * 2^-8, which their f16 decode gives exactly, and c carries the
//     2^8. test/lit-tools/cpu_kernel_check.py implements this formula.
//   * I8 mode with `scalePairs` (E4M3 scales of 16-blocks, activation blocks
//     of 32 or one per row; layout x86_n16k8_s32, quantc/Formats/Layout.h):
//     the two 16-blocks of every 32 of K share one epilogue. With d0, d1 the
//     exact integer dot products of the two halves, A, B the layout's
//     multipliers and F its factor for that 32 of K (wScale = F * A, F * B
//     exactly):
//        D   = A d0 + B d1                   (exact, i32: vpmaddwd)
//        s   = xScale(m, g) * F              (F without block activation
//                                             scales)
//        acc = fma(float(D), s, acc)
//     and y as above with c without the 2^8. I16 mode with `scalePairs`
//     computes D per limb and fma(fma(float(D_hi), 256, float(D_lo)), s,
//     acc), within the I16 bound.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_CONVERSION_QCTOCPU_H
#define QUANTC_CONVERSION_QCTOCPU_H

#include "quantc/Formats/Format.h"
#include "quantc/Formats/Layout.h"

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mlir {
class Block;
class ModuleOp;
namespace func {
class FuncOp;
} // namespace func
} // namespace mlir

namespace quantc::cpu {

/// An x86 ISA level and the features the kernels use.
struct CpuTarget {
  /// The name it was parsed from ("x86-64-v4", "native", ...).
  std::string name;
  /// LLVM's CPU name for the kernels ("x86-64-v4", "znver4", ...).
  std::string cpu;
  /// Extra LLVM target features ("+avx512vnni", ...).
  std::vector<std::string> features;
  bool sse2 = true;
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512 = false; // F, BW, DQ, VL, CD
  bool avx512vnni = false;
  bool avx512bf16 = false;
  bool avx512vbmi = false;

  /// "x86-64", "x86-64-v3", "x86-64-v4", "x86-64-v4-vnni" (v4 + VNNI + BF16 +
  /// VBMI: Sapphire Rapids, Zen 4 and later) or "native" (the host).
  static std::optional<CpuTarget> parse(llvm::StringRef name,
                                        std::string &error);
  /// The widest f32 vector the kernels use: 16 (AVX-512), 8 (AVX2) or 4.
  int vectorLanes() const { return avx512 ? 16 : avx2 ? 8 : 4; }
  /// Vector registers: 32 zmm with AVX-512, else 16 (ymm / xmm).
  int vectorRegisters() const { return avx512 ? 32 : 16; }
};

/// How a kernel multiplies.
enum class KernelMode {
  /// Weights decoded to f32 in registers, f32 FMA.
  F32,
  /// Weights decoded to bf16, activations rounded to bf16, vdpbf16ps.
  BF16,
  /// Activations quantized to int8 per block, weights as unsigned integers
  /// (code + offset), vpdpbusd (without VNNI vpmaddubsw + vpmaddwd, 4-bit and
  /// 8-bit integer weights); the offset is taken back with the per-group sum
  /// of activation codes.
  I8,
  /// Float activations as 16-bit fixed point per block of 32 (scale
  /// amax / 32639), split into two int8 limbs hi * 256 + lo; weights as in
  /// I8 and two vpdpbusd per weight vector. Finer than bf16 (the error of
  /// every x is at most amax * 2^-16 against |x| * 2^-9) and, without bf16
  /// tables, cheaper: a W4A16 kernel on VNNI targets.
  I16,
};

llvm::StringRef kernelModeName(KernelMode mode);

/// Everything the emitter needs to generate one kernel.
struct MatmulKernelPlan {
  // The problem: y[M, N] = x[M, K] * W[N, K]^T.
  int64_t m = 0, n = 0, k = 0;
  Format weight;
  std::optional<Format> act;
  CpuTarget target;

  KernelMode mode = KernelMode::F32;
  /// The weight layout (quantc/Formats/Layout.h) and its geometry.
  std::string layout;
  LayoutGeometry geometry;
  /// f32 lanes of one vector (16, 8 or 4); a 16-column tile is 16 / lanes
  /// vectors.
  int lanes = 16;
  /// Register tile: rows of x and 16-column tiles per step.
  int rowsPerStep = 1;
  int tilesPerStep = 4;
  /// Group g of a step's tiles takes tiles g, g + G, g + 2 G, ... (G the
  /// number of groups) instead of tilesPerStep consecutive tiles: each of a
  /// step's tiles continues the line stream of the previous group's, so a
  /// thread walks tilesPerStep long sequential streams through the weights
  /// (quarters of them) instead of starting new ones every tile (GEMVs
  /// streaming from DRAM read 10-15 % faster). Only when the tiles divide
  /// into full groups (numTiles % tilesPerStep == 0, N % 16 == 0).
  bool stridedGroups = false;
  /// Independent accumulators per output vector inside a scale group (hides
  /// the latency of the FMA / dot chain when the tile is small).
  int chains = 1;
  /// F32 mode with block scales: multiply decoded weights by their scale
  /// (once per group, shared by all rows) instead of keeping per-group
  /// accumulators. Pays off when many rows share the weights.
  bool prescale = false;
  /// F32 mode with `act`: the prep phase fake-quantizes x (quantize then
  /// dequantize, as the format library does) and the kernel multiplies the
  /// result in f32; for targets without VNNI and weights whose codes are not
  /// small integers.
  bool fakeQuantizedAct = false;
  /// F32 mode with codes of more than 4 bits (one per byte): every vector
  /// holds 4 k of lanes / 4 columns, sign- or zero-extended straight from a
  /// 16-byte load (vpmovsxbd), and multiplies x[k .. k+3] repeated; the k
  /// lanes of a column are added once at the end.
  bool byteLanes = false;
  /// Software prefetch distance in bytes along each tile's code stream (and
  /// the matching distance along its scales); 0 for none. GEMVs stream
  /// every weight byte once, from DRAM when the model is larger than the
  /// caches.
  int64_t prefetchBytes = 0;
  /// Elements of K per dot group: the scale epilogue runs once per group.
  int64_t groupK = 0;
  /// Activation block along K (I8 mode; K for one scale per row).
  int64_t actBlock = 0;
  /// Weight block along K (K for per-channel weights).
  int64_t weightBlock = 0;
  /// I8 / I16 modes, E4M3 scales of 16-blocks: the two blocks of every 32
  /// of K are multiplied in one chain per 8 columns (and limb) and scaled
  /// with one integer vpmaddwd and one f32 epilogue (layout x86_n16k8_s32).
  /// groupK stays 16 (the activation code sums are per block); the kernel
  /// steps 32.
  bool scalePairs = false;

  /// Code tables of the weight element: f32 values (F32 mode with a table),
  /// bf16 bits (BF16 mode), unsigned integers code value * elementScale +
  /// offset (I8 and I16 modes).
  std::vector<float> f32Table;
  std::vector<uint16_t> bf16Table;
  std::vector<uint8_t> u8Table;
  /// I8 mode: the unsigned weight is code value * weightIntScale + offset.
  int32_t weightOffset = 0;
  /// I8 mode without VNNI, 8-bit integer weights: the chunk bytes are the
  /// signed codes (offset 0); the kernel multiplies |w| by x with the sign
  /// of w (vpabsb, vpsignb), which vpmaddubsw takes without saturating.
  bool signedWeightBytes = false;
  /// Constant factor of the result (element scales of integer codes).
  float resultFactor = 1.0f;

  int64_t numTileGroups() const {
    return (geometry.numTiles + tilesPerStep - 1) / tilesPerStep;
  }
  /// Whether stridedGroups can hold for this plan's tiling.
  bool tilesFillGroups() const {
    return n % 16 == 0 && geometry.numTiles % tilesPerStep == 0;
  }
  /// A name that identifies the generated code (same name, same kernel).
  std::string kernelKey() const;
};

/// Chooses the kernel for y = x * W^T with x [m, k] f32 and W [n, k] in
/// `weight`, `act` the activation format of qc.matmul (if any). Returns
/// std::nullopt and a reason when no kernel fits (the caller then keeps the
/// reference lowering). `allowBF16` lets W4A16 kernels round activations to
/// bf16 where the target has AVX512-BF16.
/// `allowI16` lets them use 16-bit fixed-point activations (I16) on VNNI
/// targets instead. `allowScalePairs` lets NV formats use x86_n16k8_s32
/// (callers pass false when their weights do not fold into it: packLayout
/// returns nothing). `allowDense6` lets 6-bit codes use x86_n16k4_d6 on
/// VBMI targets (4 codes in 3 bytes) instead of one byte each.
std::optional<MatmulKernelPlan>
planMatmulKernel(int64_t m, int64_t n, int64_t k, const Format &weight,
                 const std::optional<Format> &act, const CpuTarget &target,
                 bool allowBF16, std::string &whyNot, bool allowI16 = true,
                 bool allowScalePairs = true, bool allowDense6 = true);

/// Elementwise ops fused into a kernel's store (qc-lower-cpu folds a
/// linalg.generic that consumes the matmul into it): every output vector goes
/// through the scalar arith / math ops of `body`, applied lane by lane, before
/// it is stored, so y is written once. The ops are the generic's own, in its
/// order, so every element is computed as the unfused code computes it.
struct MatmulEpilogue {
  /// The tensors the ops read besides the matmul's output; the kernel takes
  /// them as extra memref arguments after y, in this order.
  enum class OperandKind {
    Column, ///< memref<N x f32>: one value per output column (a bias).
    Matrix, ///< memref<M x N x f32>: one value per output (a residual).
    Scalar, ///< memref<f32>: one value for all outputs.
  };
  std::vector<OperandKind> operands;
  /// Scalar ops ending in a terminator whose one operand is the result;
  /// values it uses from outside must be scalar arith.constants.
  mlir::Block *body = nullptr;
  /// Per argument of `body`: kMatmulOutput, kUnused, kSplat (an f32
  /// constant, `argumentSplats[i]`, in every lane, as the canonicalizer would
  /// inline it) or an index into `operands`.
  static constexpr int kMatmulOutput = -1, kUnused = -2, kSplat = -3;
  std::vector<int> argumentSources;
  std::vector<float> argumentSplats;
  /// Identifies the ops and operand kinds (part of the kernel's name).
  std::string key;
};

/// A qc.hadamard along K of x done in the prep phase, row by row in a
/// stack buffer, before the row is quantized (instead of a pass of its own
/// over memory). The same operations in the same order as qc-expand-formats'
/// lowering of qc.hadamard, so the same bits: x * signs, H_base on every chunk
/// of `base` elements (sum = sum + h * x from 0), the Walsh-Hadamard
/// butterflies (u + v, u - v) level by level, then * scale.
struct OnlineHadamard {
  int64_t powerOfTwo = 1, base = 1;
  /// Random signs (empty: none) and the base matrix (base x base, row-major;
  /// empty when base is 1), as f32.
  std::vector<float> signs, baseMatrix;
  /// f32(1 / sqrt(K)).
  float scale = 1.0f;
  /// Identifies the transform (part of the kernel's name).
  std::string key;
};

/// Emits the kernel of `plan` into `module` under `name` (and the helper
/// llvm.funcs `name`_task / `name`_prep) unless a function of that name
/// exists; returns the entry function. The weights argument holds the bytes
/// of `plan.layout`. With `epilogue`, the entry function takes its operands
/// after y and the kernel applies its ops before every store. With
/// `hadamard` (plans with `act` and a prep phase, not per-tensor dynamic
/// activations), x is rotated along K row by row before it is quantized.
mlir::func::FuncOp emitMatmulKernel(mlir::ModuleOp module,
                                    const MatmulKernelPlan &plan,
                                    llvm::StringRef name,
                                    const MatmulEpilogue *epilogue = nullptr,
                                    const OnlineHadamard *hadamard = nullptr);

} // namespace quantc::cpu

#endif // QUANTC_CONVERSION_QCTOCPU_H
