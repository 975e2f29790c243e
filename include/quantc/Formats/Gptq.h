//===- Gptq.h - GPTQ: error-compensating rounding, any format ----*- C++ -*-===//
//
// GPTQ (Frantar et al., 2022) for every quantc format. W is [rows, columns]
// = [N outputs, K reduction]; H = XᵀX [K, K] (f64) is the Hessian proxy of
// the layer's input. Columns are quantized one at a time, and each column's
// rounding error, divided by the pivot of the upper Cholesky factor U of
// H⁻¹, is spread over the columns not yet quantized with U's row, so the
// layer output error tr(ΔW H ΔWᵀ) shrinks. Updates to columns outside the
// current batch of `blockSize` columns are applied lazily, once per batch.
//
// Scales follow the format's own rule (Format.h chooseScales), fixed when
// GPTQ first reaches a column of the scale's group, from the weights as they
// are at that moment (error-compensated by every column quantized before):
//  * block formats (MX, NV, int4_g32, ...): the block's scale is chosen when
//    its first column is reached, from the block's current weights;
//  * per-channel and per-tensor formats: when the first column is reached,
//    i.e. from the whole original row (tensor);
//  * NV formats' per-tensor second-level scale comes from the original W.
// Elements are encoded with the library's encodeInBlock, so the result is a
// QuantizedTensor that pack() stores exactly as GPTQ chose it; quantize() of
// the dequantized weights need not give the same codes (a block's scale was
// chosen before its later columns moved), which is why callers ship
// `quantized` itself.
//
// Act-order: columns are processed in order of decreasing H[j][j], but
// scale groups stay the format's contiguous blocks in the original column
// order (a packed format has no other grouping). A group's scale is fixed
// when the first of its columns in processing order is reached; no column
// of the group is quantized before then, so the scale still sees the
// group's weights with every earlier compensation applied, including the
// pending (lazy) updates of the current batch, which are applied on the fly
// for the group's columns outside the batch. The rule is the same as without
// act-order; only the moment differs.
//
// Damping adds `dampening` x mean(diag H) to the diagonal; columns with
// H[j][j] == 0 (inputs calibration never saw non-zero) get H[j][j] = 1 and
// their weights set to zero, as in the reference implementation. When H is
// still not positive definite, the damping is multiplied by 10 (up to 4
// times) before giving up.
//
// No MLIR here; qc-gptq and qc-allocate-bits call this.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_FORMATS_GPTQ_H
#define QUANTC_FORMATS_GPTQ_H

#include "quantc/Formats/Format.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace quantc {

struct GptqOptions {
  /// Fraction of mean(diag H) added to H's diagonal (GPTQ's percdamp).
  double dampening = 0.01;
  /// Columns per lazy batch update.
  int64_t blockSize = 128;
  /// Quantize columns in order of decreasing H[j][j].
  bool actOrder = false;
};

/// The part of GPTQ that depends only on H: computed once per layer, shared
/// by every format quantized against it (qc-allocate-bits tries several).
struct GptqHessian {
  int64_t columns = 0;
  /// order[i] is the column quantized i-th.
  std::vector<int64_t> order;
  /// Columns whose H[j][j] was 0: their weights are zeroed.
  std::vector<bool> dead;
  int64_t deadColumns = 0;
  /// The damping actually added to the diagonal (after retries).
  double damping = 0;
  /// U, upper triangular with Uᵀ·U = (damped H)⁻¹, rows and columns in
  /// processing order, row-major [columns, columns].
  std::vector<double> inverseCholesky;
  int64_t blockSize = 128;
};

/// Damps and factors `hessian` ([columns, columns], row-major, symmetric).
/// Fails with a one-line error when it is not positive definite even with
/// 10^4 times the damping, or holds NaN/Inf.
std::optional<GptqHessian> prepareGptqHessian(const double *hessian,
                                              int64_t columns,
                                              const GptqOptions &options,
                                              std::string &error);

struct GptqResult {
  /// [rows, columns], quantized along the last axis: what GPTQ chose.
  QuantizedTensor quantized;
  /// dequantize(quantized).
  std::vector<float> dequantized;
};

/// Quantizes `weights` ([rows, columns], row-major) with GPTQ. `format` must
/// quantize along the last axis (per-axis or block with axis -1 or 1,
/// per-tensor, or 2-D blocks). Fails on a format/shape mismatch, on NaN/Inf
/// weights, or when `hessian` has another column count. `tensorScale`, when
/// given, is the NV formats' second-level scale instead of the one of
/// `weights` (a grouped convolution's groups are quantized one by one but
/// share the whole weight's).
std::optional<GptqResult>
gptqQuantize(const float *weights, int64_t rows, int64_t columns,
             const GptqHessian &hessian, const Format &format,
             std::string &error,
             std::optional<float> tensorScale = std::nullopt);

/// tr((Q − W)·H·(Q − W)ᵀ) in f64: the squared layer-output error over the
/// calibration rows that H = XᵀX summarizes. GPTQ's objective, and
/// qc-allocate-bits' sensitivity.
double hessianWeightedError(const float *weights, const float *quantized,
                            int64_t rows, int64_t columns,
                            const double *hessian);

} // namespace quantc

#endif // QUANTC_FORMATS_GPTQ_H
