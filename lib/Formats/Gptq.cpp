//===- Gptq.cpp - GPTQ: error-compensating rounding, any format -----------===//
//
// See Gptq.h for the algorithm and the choices around scales and act-order.
// Working storage is column-major (one contiguous N-vector per column), since
// every step of GPTQ reads or updates whole columns.
//
//===----------------------------------------------------------------------===//

#include "quantc/Formats/Gptq.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace quantc {

namespace {

/// In-place lower Cholesky factor of the row-major symmetric `a` [n, n]
/// (only the lower triangle is read; the upper is zeroed). False when a
/// pivot is not positive.
bool choleskyLower(std::vector<double> &a, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    double *rowJ = &a[j * n];
    double diagonal = rowJ[j];
    for (int64_t k = 0; k < j; ++k)
      diagonal -= rowJ[k] * rowJ[k];
    if (!(diagonal > 0.0))
      return false;
    double pivot = std::sqrt(diagonal);
    rowJ[j] = pivot;
    for (int64_t i = j + 1; i < n; ++i) {
      double *rowI = &a[i * n];
      double sum = rowI[j];
      for (int64_t k = 0; k < j; ++k)
        sum -= rowI[k] * rowJ[k];
      rowI[j] = sum / pivot;
    }
    for (int64_t k = j + 1; k < n; ++k)
      rowJ[k] = 0.0;
  }
  return true;
}

/// The inverse of the lower triangular `l` [n, n], row by row from
/// L·M = I: M[i] = (e_i − Σ_{k<i} L[i][k]·M[k]) / L[i][i].
std::vector<double> invertLower(const std::vector<double> &l, int64_t n) {
  std::vector<double> m(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    double *rowI = &m[i * n];
    rowI[i] = 1.0;
    for (int64_t k = 0; k < i; ++k) {
      double coefficient = l[i * n + k];
      if (coefficient == 0.0)
        continue;
      const double *rowK = &m[k * n];
      for (int64_t j = 0; j <= k; ++j)
        rowI[j] -= coefficient * rowK[j];
    }
    double inverse = 1.0 / l[i * n + i];
    for (int64_t j = 0; j <= i; ++j)
      rowI[j] *= inverse;
  }
  return m;
}

} // namespace

std::optional<GptqHessian> prepareGptqHessian(const double *hessian,
                                              int64_t columns,
                                              const GptqOptions &options,
                                              std::string &error) {
  if (columns <= 0) {
    error = "GPTQ needs a Hessian with at least one column";
    return std::nullopt;
  }
  if (options.blockSize <= 0) {
    error = "GPTQ block size must be positive, got " +
            std::to_string(options.blockSize);
    return std::nullopt;
  }
  if (!(options.dampening >= 0.0)) {
    error = "GPTQ dampening must be non-negative";
    return std::nullopt;
  }
  const int64_t n = columns;
  for (int64_t i = 0; i < n * n; ++i)
    if (!std::isfinite(hessian[i])) {
      error = "the Hessian holds NaN or Inf";
      return std::nullopt;
    }

  GptqHessian result;
  result.columns = n;
  result.blockSize = options.blockSize;
  result.dead.assign(n, false);
  std::vector<double> diagonal(n);
  for (int64_t j = 0; j < n; ++j) {
    diagonal[j] = hessian[j * n + j];
    if (diagonal[j] == 0.0) {
      result.dead[j] = true;
      ++result.deadColumns;
    }
  }

  result.order.resize(n);
  std::iota(result.order.begin(), result.order.end(), 0);
  if (options.actOrder)
    std::sort(result.order.begin(), result.order.end(),
              [&](int64_t a, int64_t b) {
                // Ties keep the original order: the result is deterministic.
                return diagonal[a] != diagonal[b] ? diagonal[a] > diagonal[b]
                                                  : a < b;
              });

  // H in processing order, dead columns' diagonal set to 1, reversed (J·H·J):
  // the lower Cholesky factor L' of J·H·J gives R = J·L'·J, upper with
  // R·Rᵀ = H, and U = R⁻¹ = J·L'⁻¹·J is then the upper factor of H⁻¹
  // (Uᵀ·U = R⁻ᵀ·R⁻¹ = H⁻¹) — two triangular O(n³/3) steps instead of
  // factor, invert and factor again.
  double meanDiagonal = 0.0;
  for (int64_t j = 0; j < n; ++j)
    meanDiagonal += result.dead[j] ? 1.0 : diagonal[j];
  meanDiagonal /= static_cast<double>(n);
  std::vector<double> reversed(n * n);
  auto fill = [&](double damping) {
    for (int64_t i = 0; i < n; ++i) {
      int64_t row = result.order[n - 1 - i];
      for (int64_t j = 0; j <= i; ++j) {
        int64_t column = result.order[n - 1 - j];
        double value = hessian[row * n + column];
        if (i == j)
          value = (result.dead[row] ? 1.0 : value) + damping;
        else if (result.dead[row] || result.dead[column])
          value = 0.0;
        reversed[i * n + j] = value;
      }
    }
  };
  double damping = options.dampening * meanDiagonal;
  bool factored = false;
  for (int attempt = 0; attempt < 5 && !factored; ++attempt) {
    if (attempt > 0)
      damping = damping > 0.0 ? damping * 10.0 : 1e-6 * meanDiagonal;
    fill(damping);
    factored = choleskyLower(reversed, n);
  }
  if (!factored) {
    error = "the Hessian is not positive definite, even damped by " +
            std::to_string(damping) + " (mean diagonal " +
            std::to_string(meanDiagonal) + ")";
    return std::nullopt;
  }
  result.damping = damping;
  std::vector<double> inverse = invertLower(reversed, n);
  result.inverseCholesky.assign(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i; j < n; ++j)
      result.inverseCholesky[i * n + j] = inverse[(n - 1 - i) * n + (n - 1 - j)];
  return result;
}

std::optional<GptqResult>
gptqQuantize(const float *weights, int64_t rows, int64_t columns,
             const GptqHessian &hessian, const Format &format,
             std::string &error, std::optional<float> tensorScaleOverride) {
  const int64_t n = rows, k = columns;
  if (hessian.columns != k) {
    error = "the Hessian has " + std::to_string(hessian.columns) +
            " columns, the weight " + std::to_string(k);
    return std::nullopt;
  }
  if ((format.granularity == Granularity::PerAxis ||
       format.granularity == Granularity::Block) &&
      format.axis != -1 && format.axis != 1) {
    error = "GPTQ quantizes along the last axis; format '" +
            printFormat(format) + "' runs along axis " +
            std::to_string(format.axis);
    return std::nullopt;
  }
  for (int64_t i = 0; i < n * k; ++i)
    if (!std::isfinite(weights[i])) {
      error = "the weight holds NaN or Inf";
      return std::nullopt;
    }
  // The scale grid of the whole tensor: [scaleRows, scaleColumns], one
  // column group of `groupWidth` columns per scale column.
  std::optional<std::vector<int64_t>> grid = scaleShape({n, k}, format, error);
  if (!grid)
    return std::nullopt;
  int64_t scaleRows = grid->empty() ? 1 : (*grid)[0];
  int64_t scaleColumns = grid->empty() ? 1 : (*grid)[1];
  int64_t groupWidth = k / scaleColumns;
  int64_t rowsPerScale = n / scaleRows;

  // The NV second-level scale from the original weights, as quantize() would.
  std::optional<QuantizedTensor> whole =
      chooseScales(weights, {n, k}, format, tensorScaleOverride, error);
  if (!whole)
    return std::nullopt;
  const float tensorScale = whole->tensorScale;

  QuantizedTensor q;
  q.shape = {n, k};
  q.format = format;
  q.tensorScale = tensorScale;
  q.codes.assign(n * k, 0);
  q.scales.assign(scaleRows * scaleColumns, 0);
  if (!format.symmetric)
    q.zeroPoints.assign(scaleRows * scaleColumns, 0);
  std::vector<float> scaleValues(scaleRows * scaleColumns, 0.0f);
  std::vector<bool> groupChosen(scaleColumns, false);

  // Working weights, column-major in processing order.
  std::vector<int64_t> position(k);
  for (int64_t p = 0; p < k; ++p)
    position[hessian.order[p]] = p;
  std::vector<float> work(k * n);
  for (int64_t p = 0; p < k; ++p) {
    int64_t column = hessian.order[p];
    float *dst = &work[p * n];
    if (hessian.dead[column])
      std::fill(dst, dst + n, 0.0f);
    else
      for (int64_t r = 0; r < n; ++r)
        dst[r] = weights[r * k + column];
  }
  const double *u = hessian.inverseCholesky.data();
  const int64_t batch = hessian.blockSize;
  std::vector<float> errors(batch * n);
  std::vector<float> group;

  // Fixes the scales of column group `g` from its current weights, when the
  // column at processing position `p` of the batch starting at `batchStart`
  // is the group's first.
  auto chooseGroup = [&](int64_t g, int64_t p, int64_t batchStart,
                         int64_t batchEnd) -> bool {
    group.assign(n * groupWidth, 0.0f);
    for (int64_t c = 0; c < groupWidth; ++c) {
      int64_t pc = position[g * groupWidth + c];
      const float *column = &work[pc * n];
      for (int64_t r = 0; r < n; ++r)
        group[r * groupWidth + c] = column[r];
      if (pc < batchEnd)
        continue; // in the batch: already up to date
      for (int64_t t = batchStart; t < p; ++t) {
        float factor = static_cast<float>(u[t * k + pc]);
        const float *e = &errors[(t - batchStart) * n];
        for (int64_t r = 0; r < n; ++r)
          group[r * groupWidth + c] -= e[r] * factor;
      }
    }
    std::optional<QuantizedTensor> scales = chooseScales(
        group.data(), {n, groupWidth}, format, tensorScale, error);
    if (!scales)
      return false;
    for (int64_t s = 0; s < scaleRows; ++s) {
      int64_t index = s * scaleColumns + g;
      q.scales[index] = scales->scales[s];
      if (!format.symmetric)
        q.zeroPoints[index] = scales->zeroPoints[s];
      scaleValues[index] = blockScaleValue(*scales, s);
    }
    groupChosen[g] = true;
    return true;
  };

  for (int64_t batchStart = 0; batchStart < k; batchStart += batch) {
    int64_t batchEnd = std::min(batchStart + batch, k);
    for (int64_t p = batchStart; p < batchEnd; ++p) {
      int64_t column = hessian.order[p];
      int64_t g = column / groupWidth;
      if (!groupChosen[g] && !chooseGroup(g, p, batchStart, batchEnd))
        return std::nullopt;
      float *w = &work[p * n];
      float *e = &errors[(p - batchStart) * n];
      const float pivot = static_cast<float>(u[p * k + p]);
      for (int64_t r = 0; r < n; ++r) {
        int64_t s = (r / rowsPerScale) * scaleColumns + g;
        uint8_t zeroPoint = format.symmetric ? 0 : q.zeroPoints[s];
        uint8_t code = encodeInBlock(w[r], scaleValues[s], zeroPoint, format);
        q.codes[r * k + column] = code;
        float value = decodeInBlock(code, scaleValues[s], zeroPoint, format);
        e[r] = (w[r] - value) / pivot;
      }
      for (int64_t j = p + 1; j < batchEnd; ++j) {
        float factor = static_cast<float>(u[p * k + j]);
        if (factor == 0.0f)
          continue;
        float *target = &work[j * n];
        for (int64_t r = 0; r < n; ++r)
          target[r] -= e[r] * factor;
      }
    }
    // The batch's errors reach the columns after it in one pass.
    for (int64_t j = batchEnd; j < k; ++j) {
      float *target = &work[j * n];
      for (int64_t t = batchStart; t < batchEnd; ++t) {
        float factor = static_cast<float>(u[t * k + j]);
        if (factor == 0.0f)
          continue;
        const float *e = &errors[(t - batchStart) * n];
        for (int64_t r = 0; r < n; ++r)
          target[r] -= e[r] * factor;
      }
    }
  }

  GptqResult result;
  result.dequantized = dequantize(q);
  result.quantized = std::move(q);
  return result;
}

double hessianWeightedError(const float *weights, const float *quantized,
                            int64_t rows, int64_t columns,
                            const double *hessian) {
  const int64_t k = columns;
  std::vector<double> delta(k), product(k);
  double total = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < k; ++c)
      delta[c] = static_cast<double>(quantized[r * k + c]) -
                 static_cast<double>(weights[r * k + c]);
    double rowError = 0.0;
    for (int64_t i = 0; i < k; ++i) {
      if (delta[i] == 0.0)
        continue;
      const double *h = &hessian[i * k];
      double sum = 0.0;
      for (int64_t j = 0; j < k; ++j)
        sum += h[j] * delta[j];
      rowError += delta[i] * sum;
    }
    total += rowError;
  }
  return total;
}

} // namespace quantc
