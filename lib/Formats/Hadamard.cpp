//===- Hadamard.cpp - Hadamard matrices and transforms --------------------===//
//
// Base Hadamard matrices (orders 1, 12, 20, 28, 36, 40, 52, 60, 108, 140, 156,
// 172, plus powers of two) and the orthonormal transform of size 2^k * m
// whose arithmetic order is fixed by include/quantc/Formats/Hadamard.h.
//
// Constructions used for the base orders:
//   order  construction
//   2^k    Sylvester: H_{2n} = [[H_n, H_n], [H_n, -H_n]]
//   12     Paley I,  q = 11
//   20     Paley I,  q = 19
//   28     Paley I,  q = 27 = 3^3 (GF(27) = GF(3)[x] / (x^3 + 2x + 1))
//   36     Paley II, q = 17
//   40     Sylvester doubling of the order-20 matrix
//   52     Paley II, q = 25 = 5^2 (GF(25) = GF(5)[x] / (x^2 + 3))
//   60     Paley I,  q = 59
//   108    Paley I,  q = 107
//   140    Paley I,  q = 139
//   156    Williamson, n = 39
//   172    Williamson, n = 43
// Every matrix is checked (H H^T = m I) by test/unit/HadamardTest.cpp.
//
// Step 2 of the transform (header comment) starts each output's f32
// accumulator at +0.0f and adds H[r][j] * x[j] for j = 0, 1, ..., m-1 (the
// products are exact, so fused multiply-adds give the same bits); this only
// decides the sign of exact-zero outputs, e.g. +0.0f for x = (-0.0f).
//
//===----------------------------------------------------------------------===//

#include "quantc/Formats/Hadamard.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

namespace quantc {
namespace {

using Matrix = std::vector<int8_t>; // row-major, m x m, entries +1 / -1

bool isPowerOfTwo(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

/// (-1)^popcount(v): the sign of Sylvester entry (i, j) for v = i & j.
int sylvesterSign(uint64_t v) {
  int parity = 0;
  for (; v; v &= v - 1)
    parity ^= 1;
  return parity ? -1 : 1;
}

//===----------------------------------------------------------------------===//
// Small finite fields GF(p^k)
//===----------------------------------------------------------------------===//

/// GF(p^k) with elements encoded as integers sum_i c_i p^i (c_i in [0, p)),
/// i.e. as coefficient vectors of polynomials of degree < k over GF(p).
/// Multiplication reduces modulo a fixed monic irreducible polynomial.
class FiniteField {
public:
  /// `modulus` holds the low coefficients of the monic degree-k modulus:
  /// x^k + modulus[k-1] x^(k-1) + ... + modulus[0]. Empty for k = 1.
  FiniteField(int p, int k, std::vector<int> modulus)
      : p(p), k(k), modulus(std::move(modulus)) {
    q = 1;
    for (int i = 0; i < k; ++i)
      q *= p;
    assert(static_cast<int>(this->modulus.size()) == (k == 1 ? 0 : k));
    // Multiplication table, then the quadratic character from the squares.
    mulTable.assign(static_cast<size_t>(q) * q, 0);
    for (int a = 0; a < q; ++a)
      for (int b = 0; b < q; ++b)
        mulTable[static_cast<size_t>(a) * q + b] = mulSlow(a, b);
    chi.assign(q, -1);
    chi[0] = 0;
    for (int a = 1; a < q; ++a)
      chi[mul(a, a)] = 1;
  }

  int order() const { return q; }

  int add(int a, int b) const {
    int r = 0, scale = 1;
    for (int i = 0; i < k; ++i, a /= p, b /= p, scale *= p)
      r += ((a % p + b % p) % p) * scale;
    return r;
  }
  int neg(int a) const {
    int r = 0, scale = 1;
    for (int i = 0; i < k; ++i, a /= p, scale *= p)
      r += ((p - a % p) % p) * scale;
    return r;
  }
  int sub(int a, int b) const { return add(a, neg(b)); }
  int mul(int a, int b) const {
    return mulTable[static_cast<size_t>(a) * q + b];
  }
  /// Quadratic character: 0 for 0, +1 for nonzero squares, -1 otherwise.
  int quadraticCharacter(int a) const { return chi[a]; }

private:
  int mulSlow(int a, int b) const {
    std::vector<int> ca(k), cb(k), prod(2 * k - 1, 0);
    for (int i = 0; i < k; ++i, a /= p, b /= p) {
      ca[i] = a % p;
      cb[i] = b % p;
    }
    for (int i = 0; i < k; ++i)
      for (int j = 0; j < k; ++j)
        prod[i + j] = (prod[i + j] + ca[i] * cb[j]) % p;
    // Reduce: x^d = x^(d-k) * x^k = -x^(d-k) * (modulus[k-1] x^(k-1) + ...).
    for (int d = 2 * k - 2; d >= k; --d) {
      int c = prod[d];
      if (c == 0)
        continue;
      prod[d] = 0;
      for (int i = 0; i < k; ++i)
        prod[d - k + i] = ((prod[d - k + i] - c * modulus[i]) % p + p) % p;
    }
    int r = 0, scale = 1;
    for (int i = 0; i < k; ++i, scale *= p)
      r += prod[i] * scale;
    return r;
  }

  int p, k, q;
  std::vector<int> modulus;
  std::vector<int> mulTable;
  std::vector<int> chi;
};

/// The field of order q used by the Paley constructions.
FiniteField fieldOfOrder(int q) {
  switch (q) {
  case 27: // x^3 + 2x + 1 over GF(3): cubic without roots, so irreducible.
    return FiniteField(3, 3, {1, 2, 0});
  case 25: // x^2 + 3 over GF(5): -3 = 2 is a non-square mod 5.
    return FiniteField(5, 2, {3, 0});
  default: // q prime
    return FiniteField(q, 1, {});
  }
}

/// Jacobsthal matrix Q[i][j] = chi(x_i - x_j) over GF(q), q x q.
std::vector<int> jacobsthal(const FiniteField &f) {
  int q = f.order();
  std::vector<int> jm(static_cast<size_t>(q) * q);
  for (int i = 0; i < q; ++i)
    for (int j = 0; j < q; ++j)
      jm[static_cast<size_t>(i) * q + j] = f.quadraticCharacter(f.sub(i, j));
  return jm;
}

//===----------------------------------------------------------------------===//
// Constructions
//===----------------------------------------------------------------------===//

Matrix sylvester(int n) {
  Matrix h(static_cast<size_t>(n) * n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      h[static_cast<size_t>(i) * n + j] =
          static_cast<int8_t>(sylvesterSign(static_cast<uint64_t>(i & j)));
  return h;
}

/// [[H, H], [H, -H]].
Matrix doubled(const Matrix &h, int n) {
  int m = 2 * n;
  Matrix r(static_cast<size_t>(m) * m);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      int8_t v = h[static_cast<size_t>(i) * n + j];
      r[static_cast<size_t>(i) * m + j] = v;
      r[static_cast<size_t>(i) * m + j + n] = v;
      r[static_cast<size_t>(i + n) * m + j] = v;
      r[static_cast<size_t>(i + n) * m + j + n] = static_cast<int8_t>(-v);
    }
  return r;
}

/// Paley I, q = 3 (mod 4), order q + 1:
///   H = [[1, 1^T], [-1, Q + I]],
/// Q the (skew-symmetric) Jacobsthal matrix, Q Q^T = q I - J, Q 1 = 0.
Matrix paleyI(int q) {
  FiniteField f = fieldOfOrder(q);
  assert(q % 4 == 3);
  std::vector<int> jm = jacobsthal(f);
  int m = q + 1;
  Matrix h(static_cast<size_t>(m) * m);
  h[0] = 1;
  for (int j = 1; j < m; ++j)
    h[j] = 1;
  for (int i = 1; i < m; ++i) {
    h[static_cast<size_t>(i) * m] = -1;
    for (int j = 1; j < m; ++j) {
      int v = jm[static_cast<size_t>(i - 1) * q + (j - 1)] + (i == j ? 1 : 0);
      h[static_cast<size_t>(i) * m + j] = static_cast<int8_t>(v);
    }
  }
  return h;
}

/// Paley II, q = 1 (mod 4), order 2(q + 1): the symmetric conference matrix
///   S = [[0, 1^T], [1, Q]]  (S^2 = q I)
/// with every 0 replaced by [[1, -1], [-1, -1]] and every +-1 by
/// +-[[1, 1], [1, -1]].
Matrix paleyII(int q) {
  FiniteField f = fieldOfOrder(q);
  assert(q % 4 == 1);
  std::vector<int> jm = jacobsthal(f);
  int c = q + 1, m = 2 * c;
  auto conf = [&](int i, int j) -> int {
    if (i == 0 && j == 0)
      return 0;
    if (i == 0 || j == 0)
      return 1;
    return jm[static_cast<size_t>(i - 1) * q + (j - 1)];
  };
  Matrix h(static_cast<size_t>(m) * m);
  for (int i = 0; i < c; ++i)
    for (int j = 0; j < c; ++j) {
      int s = conf(i, j);
      int block[2][2];
      if (s == 0) {
        block[0][0] = 1, block[0][1] = -1, block[1][0] = -1, block[1][1] = -1;
      } else {
        block[0][0] = s, block[0][1] = s, block[1][0] = s, block[1][1] = -s;
      }
      for (int di = 0; di < 2; ++di)
        for (int dj = 0; dj < 2; ++dj)
          h[static_cast<size_t>(2 * i + di) * m + 2 * j + dj] =
              static_cast<int8_t>(block[di][dj]);
    }
  return h;
}

/// Williamson construction, order 4n, from the first rows of four symmetric
/// circulant +-1 matrices A, B, C, D of odd order n with
/// A^2 + B^2 + C^2 + D^2 = 4n I, arranged as
///   [[ A,  B,  C,  D],
///    [-B,  A, -D,  C],
///    [-C,  D,  A, -B],
///    [-D, -C,  B,  A]].
/// Rows are given as strings of '+' / '-'.
Matrix williamson(const char *const rows[4]) {
  int n = static_cast<int>(std::strlen(rows[0]));
  int m = 4 * n;
  // Block layout: which of A..D sits in block (I, J), and its sign.
  static const int which[4][4] = {
      {0, 1, 2, 3}, {1, 0, 3, 2}, {2, 3, 0, 1}, {3, 2, 1, 0}};
  static const int sign[4][4] = {
      {1, 1, 1, 1}, {-1, 1, -1, 1}, {-1, 1, 1, -1}, {-1, -1, 1, 1}};
  Matrix h(static_cast<size_t>(m) * m);
  for (int bi = 0; bi < 4; ++bi)
    for (int bj = 0; bj < 4; ++bj) {
      const char *row = rows[which[bi][bj]];
      assert(static_cast<int>(std::strlen(row)) == n);
      for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) {
          // Circulant: entry (i, j) = first row at (j - i) mod n.
          int v = row[((j - i) % n + n) % n] == '+' ? 1 : -1;
          h[static_cast<size_t>(bi * n + i) * m + bj * n + j] =
              static_cast<int8_t>(sign[bi][bj] * v);
        }
    }
  return h;
}

// First rows of symmetric circulant Williamson matrices. This is published
// mathematical data: n = 43 is one of the Baumert-Hall solutions listed in
// M. Hall, "Combinatorial Theory", 2nd ed. (1983); n = 39 is from
// S. London, "Constructing new Turyn type sequences, T-sequences and Hadamard
// matrices", PhD thesis, University of Illinois at Chicago (2013). Both were
// transcribed from the tabulation in SageMath's Hadamard-matrix module (data
// only). Each row r satisfies r[i] = r[n - i] (symmetric circulant), and the
// unit test checks symmetry, the periodic-autocorrelation condition and
// H H^T = 4n I.
const char *const kWilliamson39[4] = {
    "+++--+-+-----+--++----++--+-----+-+--++",
    "+++--++-+---+-+--+----+--+-+---+-++--++",
    "++++---+--++----+-+--+-+----++--+---+++",
    "+---++-+-+-----+++-++-+++-----+-+-++---",
};
const char *const kWilliamson43[4] = {
    "++---++++-+--+--++--------++--+--+-++++---+",
    "+++-+-++--+-+-++++-+----+-++++-+-+--++-+-++",
    "++-++++++----+-+--++-++-++--+-+----++++++-+",
    "+---++--++++-+-+++-++--++-+++-+-++++--++---",
};

Matrix buildBase(int m) {
  switch (m) {
  case 1:
    return Matrix{1};
  case 12:
    return paleyI(11);
  case 20:
    return paleyI(19);
  case 28:
    return paleyI(27);
  case 36:
    return paleyII(17);
  case 40:
    return doubled(paleyI(19), 20);
  case 52:
    return paleyII(25);
  case 60:
    return paleyI(59);
  case 108:
    return paleyI(107);
  case 140:
    return paleyI(139);
  case 156:
    return williamson(kWilliamson39);
  case 172:
    return williamson(kWilliamson43);
  default:
    return Matrix{};
  }
}

/// Largest power-of-two order served by hadamardBaseMatrix (Sylvester
/// matrices 2, 4, 8, ..., in the natural order (-1)^popcount(i & j), i.e. the
/// matrix the FWHT part applies). Not part of hadamardBaseOrders(): the
/// transform handles powers of two with the FWHT.
constexpr int kMaxSylvesterOrder = 1024;

/// A base matrix in the two forms the transform uses.
struct BaseEntry {
  int m = 0;
  Matrix h;              // row-major int8
  std::vector<float> hT; // transposed (column-major), as f32 +-1
};

const BaseEntry *baseEntry(int m) {
  static std::mutex mutex;
  static std::map<int, std::unique_ptr<BaseEntry>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(m);
  if (it != cache.end())
    return it->second.get();
  Matrix h = buildBase(m);
  if (h.empty())
    return nullptr;
  auto e = std::make_unique<BaseEntry>();
  e->m = m;
  e->h = std::move(h);
  e->hT.resize(e->h.size());
  for (int r = 0; r < m; ++r)
    for (int j = 0; j < m; ++j)
      e->hT[static_cast<size_t>(j) * m + r] =
          static_cast<float>(e->h[static_cast<size_t>(r) * m + j]);
  const BaseEntry *ptr = e.get();
  cache.emplace(m, std::move(e));
  return ptr;
}

/// The transform of one vector (header file comment, steps 1-4) with the
/// size already decomposed; `tmp` has at least m floats.
void transformOne(float *x, int64_t powerOfTwo, const BaseEntry *base,
                  float scale, const float *signs, float *tmp) {
  const int64_t m = base->m;
  const int64_t n = powerOfTwo * m;
  // 1. Random signs (exact: s is +-1).
  if (signs)
    for (int64_t i = 0; i < n; ++i)
      x[i] = x[i] * signs[i];
  // 2. H_m within each chunk of m consecutive elements. Output r is
  //    acc = +0.0f; for j = 0..m-1: acc = acc + H[r][j] * x[j], in f32
  //    (H[r][j] * x[j] is exact, so an FMA gives the same result). The
  //    loop runs j outer / r inner so that each acc still sums in order j.
  if (m > 1) {
    const float *hT = base->hT.data();
    for (int64_t a = 0; a < powerOfTwo; ++a) {
      float *chunk = x + a * m;
      for (int64_t r = 0; r < m; ++r)
        tmp[r] = 0.0f;
      for (int64_t j = 0; j < m; ++j) {
        const float xj = chunk[j];
        const float *col = hT + j * m;
        for (int64_t r = 0; r < m; ++r)
          tmp[r] = tmp[r] + col[r] * xj;
      }
      std::memcpy(chunk, tmp, sizeof(float) * static_cast<size_t>(m));
    }
  }
  // 3. Fast Walsh-Hadamard across chunks (stride m): for h = 1, 2, 4, ...,
  //    pairs (a, a + h) in blocks of 2h: (u, v) -> (u + v, u - v).
  for (int64_t h = 1; h < powerOfTwo; h *= 2)
    for (int64_t a0 = 0; a0 < powerOfTwo; a0 += 2 * h)
      for (int64_t a = a0; a < a0 + h; ++a) {
        float *u = x + a * m;
        float *v = x + (a + h) * m;
        for (int64_t b = 0; b < m; ++b) {
          const float uu = u[b], vv = v[b];
          u[b] = uu + vv;
          v[b] = uu - vv;
        }
      }
  // 4. Normalization by the f32 constant (float)(1 / sqrt(n)).
  for (int64_t i = 0; i < n; ++i)
    x[i] = x[i] * scale;
}

float normalization(int64_t n) {
  return static_cast<float>(1.0 / std::sqrt(static_cast<double>(n)));
}

} // namespace

const std::vector<int> &hadamardBaseOrders() {
  static const std::vector<int> orders = {1,  12, 20,  28,  36,  40,
                                          52, 60, 108, 140, 156, 172};
  return orders;
}

std::optional<HadamardSize> decomposeHadamardSize(int64_t n) {
  if (n <= 0)
    return std::nullopt;
  const std::vector<int> &orders = hadamardBaseOrders();
  for (auto it = orders.rbegin(); it != orders.rend(); ++it) {
    int64_t m = *it;
    if (n % m == 0 && isPowerOfTwo(n / m))
      return HadamardSize{n / m, m};
  }
  return std::nullopt;
}

std::vector<int8_t> hadamardBaseMatrix(int m) {
  if (m <= 0)
    return {};
  if (m > 1 && isPowerOfTwo(m))
    return m <= kMaxSylvesterOrder ? sylvester(m) : std::vector<int8_t>{};
  const BaseEntry *e = baseEntry(m);
  return e ? e->h : std::vector<int8_t>{};
}

// Random signs: a splitmix64 generator started at state = seed. Each call
//   state += 0x9E3779B97F4A7C15;
//   z = state;
//   z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
//   z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
//   return z ^ (z >> 31);
// yields the next 64-bit output; output j (j = 0, 1, ...) covers elements
// i in [64 j, 64 j + 64): s[i] = -1.0f if bit (i - 64 j) (bit 0 = least
// significant) of output j is set, else +1.0f. A prefix of the sign vector
// for n is the sign vector for any smaller n with the same seed.
std::vector<float> hadamardRandomSigns(int64_t n, uint64_t seed) {
  if (n <= 0)
    return {};
  std::vector<float> s(static_cast<size_t>(n));
  uint64_t state = seed;
  uint64_t bits = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (i % 64 == 0) {
      state += 0x9E3779B97F4A7C15ull;
      uint64_t z = state;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      bits = z ^ (z >> 31);
    }
    s[static_cast<size_t>(i)] = ((bits >> (i % 64)) & 1) ? -1.0f : 1.0f;
  }
  return s;
}

bool hadamardTransform(float *x, int64_t n, const float *signs) {
  std::optional<HadamardSize> size = decomposeHadamardSize(n);
  if (!size || !x)
    return false;
  const BaseEntry *base = baseEntry(static_cast<int>(size->base));
  if (!base)
    return false;
  std::vector<float> tmp(static_cast<size_t>(size->base));
  transformOne(x, size->powerOfTwo, base, normalization(n), signs, tmp.data());
  return true;
}

bool hadamardTransformAxis(float *data, const std::vector<int64_t> &shape,
                           int axis, const float *signs) {
  const int rank = static_cast<int>(shape.size());
  if (axis < 0)
    axis += rank;
  if (axis < 0 || axis >= rank)
    return false;
  for (int64_t d : shape)
    if (d < 0)
      return false;
  const int64_t n = shape[axis];
  std::optional<HadamardSize> size = decomposeHadamardSize(n);
  if (!size)
    return false;
  const BaseEntry *base = baseEntry(static_cast<int>(size->base));
  if (!base)
    return false;
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d)
    outer *= shape[d];
  for (int d = axis + 1; d < rank; ++d)
    inner *= shape[d];
  if (outer == 0 || inner == 0)
    return true;
  if (!data)
    return false;
  const float scale = normalization(n);
  std::vector<float> tmp(static_cast<size_t>(size->base));
  if (inner == 1) {
    for (int64_t o = 0; o < outer; ++o)
      transformOne(data + o * n, size->powerOfTwo, base, scale, signs,
                   tmp.data());
    return true;
  }
  // Gather each line (stride `inner`), transform it, scatter it back.
  std::vector<float> line(static_cast<size_t>(n));
  for (int64_t o = 0; o < outer; ++o) {
    float *slab = data + o * n * inner;
    for (int64_t q = 0; q < inner; ++q) {
      for (int64_t k = 0; k < n; ++k)
        line[static_cast<size_t>(k)] = slab[k * inner + q];
      transformOne(line.data(), size->powerOfTwo, base, scale, signs,
                   tmp.data());
      for (int64_t k = 0; k < n; ++k)
        slab[k * inner + q] = line[static_cast<size_t>(k)];
    }
  }
  return true;
}

std::vector<double> hadamardMatrix(int64_t n, const float *signs) {
  std::optional<HadamardSize> size = decomposeHadamardSize(n);
  if (!size)
    return {};
  const BaseEntry *base = baseEntry(static_cast<int>(size->base));
  if (!base)
    return {};
  const int64_t m = size->base, p = size->powerOfTwo;
  const double scale = 1.0 / std::sqrt(static_cast<double>(n));
  // Q = (H_{2^k} kron H_m) diag(s) / sqrt(n); row i = a m + b, column
  // j = a' m + b': Q[i][j] = (-1)^popcount(a & a') H_m[b][b'] s[j] / sqrt(n).
  std::vector<double> q(static_cast<size_t>(n) * static_cast<size_t>(n));
  for (int64_t a = 0; a < p; ++a)
    for (int64_t b = 0; b < m; ++b) {
      double *row = q.data() + (a * m + b) * n;
      const int8_t *hrow = base->h.data() + b * m;
      for (int64_t a2 = 0; a2 < p; ++a2) {
        double sylv = sylvesterSign(static_cast<uint64_t>(a & a2)) * scale;
        for (int64_t b2 = 0; b2 < m; ++b2) {
          int64_t j = a2 * m + b2;
          double v = sylv * hrow[b2];
          row[j] = signs ? v * signs[j] : v;
        }
      }
    }
  return q;
}

} // namespace quantc
