//===- Hadamard.h - Hadamard matrices and transforms -------------*- C++ -*-===//
//
// Orthonormal Hadamard transforms of size n = 2^k * m, m one of the known
// Hadamard orders 1, 12, 20, 28, 36, 40, 52, 60, 108, 140, 156, 172. The m x m
// factor is built here (Sylvester doubling, Paley I and II over GF(q)); the
// 2^k factor is applied as a fast Walsh-Hadamard transform.
//
// The transform's arithmetic order is part of its definition, so that the
// qc-expand-formats lowering reproduces it bit for bit:
//   1. optional random signs: x[i] *= s[i]  (s in {+1,-1})
//   2. for each chunk c of m consecutive elements: t = H_m * chunk, each output
//      summed over j = 0..m-1 in order, in f32 (skipped when m = 1)
//   3. fast Walsh-Hadamard over the 2^k chunks: for h = 1, 2, 4, ... < 2^k,
//      pairs (a, a + h) within blocks of 2h: (u, v) -> (u + v, u - v), in f32
//   4. every element times the f32 constant (float)(1 / sqrt(n)).
// i.e. y = (H_{2^k} kron H_m) * diag(s) * x / sqrt(n).
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_FORMATS_HADAMARD_H
#define QUANTC_FORMATS_HADAMARD_H

#include <cstdint>
#include <optional>
#include <vector>

namespace quantc {

/// The known Hadamard orders m usable as the non-power-of-two factor.
const std::vector<int> &hadamardBaseOrders();

/// Splits n = 2^k * m with m the largest known base order dividing n such
/// that n / m is a power of two; std::nullopt if no such split exists.
struct HadamardSize {
  int64_t powerOfTwo; // 2^k
  int64_t base;       // m
};
std::optional<HadamardSize> decomposeHadamardSize(int64_t n);

/// The m x m {+1,-1} Hadamard matrix of a base order (row-major), or an empty
/// vector if m is not a known order. H * H^T = m * I.
std::vector<int8_t> hadamardBaseMatrix(int m);

/// The random sign vector of length n for `seed`: s[i] = +1 or -1, from
/// splitmix64(seed) bit streams. Stable across platforms and versions.
std::vector<float> hadamardRandomSigns(int64_t n, uint64_t seed);

/// In-place orthonormal transform of one vector of length n (see file
/// comment for the exact arithmetic). `signs` may be null (plain Hadamard).
/// Returns false if n is not a supported size.
bool hadamardTransform(float *x, int64_t n, const float *signs = nullptr);

/// Applies the transform along `axis` of a C-order tensor.
bool hadamardTransformAxis(float *data, const std::vector<int64_t> &shape,
                           int axis, const float *signs = nullptr);

/// The dense orthonormal n x n matrix Q of the transform (row-major, double):
/// y = Q x. For tests and for folding rotations into weights.
std::vector<double> hadamardMatrix(int64_t n, const float *signs = nullptr);

} // namespace quantc

#endif // QUANTC_FORMATS_HADAMARD_H
