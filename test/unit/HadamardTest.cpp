//===- HadamardTest.cpp - Tests for quantc/Formats/Hadamard.h -------------===//

#include "quantc/Formats/Hadamard.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

using namespace quantc;

namespace {

std::vector<float> randomVector(int64_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float &x : v)
    x = dist(gen);
  return v;
}

double norm2(const std::vector<float> &v) {
  double s = 0;
  for (float x : v)
    s += static_cast<double>(x) * x;
  return std::sqrt(s);
}

/// y = Q x in double.
std::vector<double> denseApply(const std::vector<double> &q,
                               const std::vector<float> &x) {
  size_t n = x.size();
  std::vector<double> y(n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    double s = 0;
    for (size_t j = 0; j < n; ++j)
      s += q[i * n + j] * x[j];
    y[i] = s;
  }
  return y;
}

/// Straightforward scalar transcription of the header's arithmetic order.
std::vector<float> referenceTransform(std::vector<float> x,
                                      const float *signs) {
  int64_t n = static_cast<int64_t>(x.size());
  auto size = decomposeHadamardSize(n);
  EXPECT_TRUE(size.has_value());
  int64_t p = size->powerOfTwo, m = size->base;
  std::vector<int8_t> h = hadamardBaseMatrix(static_cast<int>(m));
  if (signs)
    for (int64_t i = 0; i < n; ++i)
      x[i] *= signs[i];
  if (m > 1) {
    std::vector<float> t(static_cast<size_t>(m));
    for (int64_t c = 0; c < p; ++c) {
      for (int64_t r = 0; r < m; ++r) {
        float acc = 0.0f;
        for (int64_t j = 0; j < m; ++j)
          acc += static_cast<float>(h[r * m + j]) * x[c * m + j];
        t[r] = acc;
      }
      for (int64_t r = 0; r < m; ++r)
        x[c * m + r] = t[r];
    }
  }
  for (int64_t hs = 1; hs < p; hs *= 2)
    for (int64_t a0 = 0; a0 < p; a0 += 2 * hs)
      for (int64_t a = a0; a < a0 + hs; ++a)
        for (int64_t b = 0; b < m; ++b) {
          float u = x[a * m + b], v = x[(a + hs) * m + b];
          x[a * m + b] = u + v;
          x[(a + hs) * m + b] = u - v;
        }
  float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(n)));
  for (float &v : x)
    v *= scale;
  return x;
}

/// max |Q Q^T - I| over rows `rows` (all pairs among them), Q n x n.
double orthonormalityError(const std::vector<double> &q, int64_t n,
                           const std::vector<int64_t> &rows) {
  double err = 0;
  for (int64_t r1 : rows)
    for (int64_t r2 : rows) {
      if (r2 < r1)
        continue;
      const double *a = q.data() + r1 * n, *b = q.data() + r2 * n;
      double s = 0;
      for (int64_t k = 0; k < n; ++k)
        s += a[k] * b[k];
      err = std::max(err, std::fabs(s - (r1 == r2 ? 1.0 : 0.0)));
    }
  return err;
}

std::vector<int64_t> allRows(int64_t n) {
  std::vector<int64_t> r(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    r[i] = i;
  return r;
}

/// A spread-out subset of rows, including the first and last.
std::vector<int64_t> someRows(int64_t n, int count) {
  std::vector<int64_t> r;
  for (int i = 0; i < count; ++i)
    r.push_back((n - 1) * i / (count - 1));
  r.push_back(1);
  r.push_back(n / 2 + 1);
  std::sort(r.begin(), r.end());
  r.erase(std::unique(r.begin(), r.end()), r.end());
  return r;
}

const std::vector<int64_t> kMatrixSizes = {1,  2,  4,  12,  20,  28,  36,
                                           40, 52, 60, 108, 140, 156, 172,
                                           24, 48, 96, 344, 8,   64};

} // namespace

//===----------------------------------------------------------------------===//
// Base matrices
//===----------------------------------------------------------------------===//

TEST(HadamardBase, OrdersList) {
  std::vector<int> expected = {1,  12, 20,  28,  36,  40,
                               52, 60, 108, 140, 156, 172};
  EXPECT_EQ(hadamardBaseOrders(), expected);
}

TEST(HadamardBase, EveryBaseMatrixIsHadamard) {
  std::vector<int> orders = hadamardBaseOrders();
  for (int m : {2, 4, 8, 16})
    orders.push_back(m);
  for (int m : orders) {
    SCOPED_TRACE(m);
    std::vector<int8_t> h = hadamardBaseMatrix(m);
    ASSERT_EQ(h.size(), static_cast<size_t>(m) * m);
    for (int8_t v : h)
      ASSERT_TRUE(v == 1 || v == -1);
    // H H^T = m I, exactly, in integer arithmetic.
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < m; ++j) {
        int s = 0;
        for (int k = 0; k < m; ++k)
          s += h[i * m + k] * h[j * m + k];
        ASSERT_EQ(s, i == j ? m : 0) << "rows " << i << ", " << j;
      }
    // Orthogonal columns too (H^T H = m I follows, but check it anyway).
    for (int i = 0; i < m; ++i)
      for (int j = i + 1; j < m; ++j) {
        int s = 0;
        for (int k = 0; k < m; ++k)
          s += h[k * m + i] * h[k * m + j];
        ASSERT_EQ(s, 0) << "columns " << i << ", " << j;
      }
  }
}

TEST(HadamardBase, WilliamsonBlocksAreSymmetricCirculant) {
  // 156 and 172 come from the Williamson array: each n x n block is a
  // symmetric circulant matrix (up to sign), n = 39 and 43.
  for (int m : {156, 172}) {
    SCOPED_TRACE(m);
    int n = m / 4;
    std::vector<int8_t> h = hadamardBaseMatrix(m);
    ASSERT_EQ(h.size(), static_cast<size_t>(m) * m);
    for (int bi = 0; bi < 4; ++bi)
      for (int bj = 0; bj < 4; ++bj)
        for (int i = 0; i < n; ++i)
          for (int j = 0; j < n; ++j) {
            int8_t v = h[(bi * n + i) * m + bj * n + j];
            int8_t first = h[(bi * n) * m + bj * n + ((j - i + n) % n)];
            ASSERT_EQ(v, first) << "not circulant";
            ASSERT_EQ(v, h[(bi * n + j) * m + bj * n + i]) << "not symmetric";
          }
    // Periodic autocorrelations of the four first rows sum to zero.
    for (int s = 1; s < n; ++s) {
      int paf = 0;
      for (int b = 0; b < 4; ++b)
        for (int k = 0; k < n; ++k)
          paf += h[b * n + k] * h[b * n + (k + s) % n];
      ASSERT_EQ(paf, 0) << "shift " << s;
    }
  }
}

TEST(HadamardBase, UnknownOrdersAreEmpty) {
  for (int m : {0, -4, 3, 6, 24, 44, 100, 2048})
    EXPECT_TRUE(hadamardBaseMatrix(m).empty()) << m;
  EXPECT_EQ(hadamardBaseMatrix(1), std::vector<int8_t>{1});
  EXPECT_EQ(hadamardBaseMatrix(2), (std::vector<int8_t>{1, 1, 1, -1}));
}

//===----------------------------------------------------------------------===//
// Size decomposition
//===----------------------------------------------------------------------===//

TEST(HadamardDecompose, Examples) {
  struct Case {
    int64_t n, p, m;
  };
  for (Case c : std::vector<Case>{{1, 1, 1},
                                  {2, 2, 1},
                                  {24, 2, 12},
                                  {1536, 128, 12},
                                  {4096, 4096, 1},
                                  {14336, 512, 28},
                                  {11008, 64, 172},
                                  {80, 2, 40},
                                  {40, 1, 40},
                                  {172, 1, 172},
                                  {5120, 128, 40},
                                  {13824, 128, 108}}) {
    SCOPED_TRACE(c.n);
    auto s = decomposeHadamardSize(c.n);
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->powerOfTwo, c.p);
    EXPECT_EQ(s->base, c.m);
  }
  for (int64_t n : {0, -1, -12, 7, 3, 6, 18, 100, 148, 18944, 44})
    EXPECT_FALSE(decomposeHadamardSize(n).has_value()) << n;
}

//===----------------------------------------------------------------------===//
// Random signs
//===----------------------------------------------------------------------===//

TEST(HadamardSigns, MatchSplitmix64Bits) {
  // The first splitmix64 output for seed 0 is 0xE220A8397B1DCDAF.
  std::vector<float> s = hadamardRandomSigns(64, 0);
  ASSERT_EQ(s.size(), 64u);
  const uint64_t first = 0xE220A8397B1DCDAFull;
  for (int i = 0; i < 64; ++i)
    EXPECT_EQ(s[i], ((first >> i) & 1) ? -1.0f : 1.0f) << i;
}

TEST(HadamardSigns, PinnedValues) {
  auto pack = [](const std::vector<float> &s, int begin, int count) {
    uint64_t bits = 0;
    for (int i = 0; i < count; ++i)
      if (s[begin + i] < 0)
        bits |= uint64_t(1) << i;
    return bits;
  };
  std::vector<float> s = hadamardRandomSigns(200, 42);
  std::vector<float> t = hadamardRandomSigns(16, 0x0123456789ABCDEFull);
  // Values computed once from the documented generator (and cross-checked
  // with an independent splitmix64 implementation); they must never change.
  EXPECT_EQ(pack(s, 0, 64), 0xBDD732262FEB6E95ull);
  EXPECT_EQ(pack(s, 64, 64), 0x28EFE333B266F103ull);
  EXPECT_EQ(pack(s, 128, 64), 0x47526757130F9F52ull);
  EXPECT_EQ(pack(s, 192, 8), 0x94ull); // low byte of 0x581CE1FF0E4AE394
  EXPECT_EQ(pack(t, 0, 16), 0xAA9Dull);
  EXPECT_EQ(s[0], -1.0f); // 0x...95: bit 0 set
  EXPECT_EQ(s[1], 1.0f);
  EXPECT_EQ(s[2], -1.0f);
  EXPECT_EQ(s[3], 1.0f);
}

TEST(HadamardSigns, DeterministicAndSeedDependent) {
  std::vector<float> a = hadamardRandomSigns(1000, 7);
  std::vector<float> b = hadamardRandomSigns(1000, 7);
  std::vector<float> c = hadamardRandomSigns(1000, 8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  int minus = 0;
  for (float v : a) {
    ASSERT_TRUE(v == 1.0f || v == -1.0f);
    minus += v < 0;
  }
  EXPECT_GT(minus, 400);
  EXPECT_LT(minus, 600);
  // A shorter vector is a prefix of a longer one.
  std::vector<float> p = hadamardRandomSigns(100, 7);
  EXPECT_TRUE(std::equal(p.begin(), p.end(), a.begin()));
  EXPECT_TRUE(hadamardRandomSigns(0, 7).empty());
}

//===----------------------------------------------------------------------===//
// Dense matrix
//===----------------------------------------------------------------------===//

TEST(HadamardMatrix, OrthonormalSmallAndMedium) {
  for (int64_t n : kMatrixSizes) {
    SCOPED_TRACE(n);
    std::vector<float> signs = hadamardRandomSigns(n, 1234);
    for (const float *s : {static_cast<const float *>(nullptr),
                           static_cast<const float *>(signs.data())}) {
      std::vector<double> q = hadamardMatrix(n, s);
      ASSERT_EQ(q.size(), static_cast<size_t>(n * n));
      EXPECT_LE(orthonormalityError(q, n, allRows(n)), 1e-6);
      // Entries are +-1/sqrt(n).
      for (double v : q)
        ASSERT_NEAR(std::fabs(v), 1.0 / std::sqrt(double(n)), 1e-15);
    }
  }
}

TEST(HadamardMatrix, OrthonormalLargeRowSubset) {
  for (int64_t n : {1536, 4096}) {
    SCOPED_TRACE(n);
    std::vector<float> signs = hadamardRandomSigns(n, 99);
    for (const float *s : {static_cast<const float *>(nullptr),
                           static_cast<const float *>(signs.data())}) {
      std::vector<double> q = hadamardMatrix(n, s);
      ASSERT_EQ(q.size(), static_cast<size_t>(n * n));
      EXPECT_LE(orthonormalityError(q, n, someRows(n, 24)), 1e-6);
    }
  }
}

TEST(HadamardMatrix, UnsupportedIsEmpty) {
  EXPECT_TRUE(hadamardMatrix(7).empty());
  EXPECT_TRUE(hadamardMatrix(0).empty());
  EXPECT_TRUE(hadamardMatrix(100).empty());
}

TEST(HadamardMatrix, ColumnsAreTransformOfUnitVectors) {
  for (int64_t n : {12, 24, 28, 40, 52, 64, 156, 344}) {
    SCOPED_TRACE(n);
    std::vector<float> signs = hadamardRandomSigns(n, 5);
    for (const float *s : {static_cast<const float *>(nullptr),
                           static_cast<const float *>(signs.data())}) {
      std::vector<double> q = hadamardMatrix(n, s);
      for (int64_t j = 0; j < n; ++j) {
        std::vector<float> e(static_cast<size_t>(n), 0.0f);
        e[j] = 1.0f;
        ASSERT_TRUE(hadamardTransform(e.data(), n, s));
        for (int64_t i = 0; i < n; ++i)
          ASSERT_NEAR(e[i], q[i * n + j], 1e-6) << i << ", " << j;
      }
    }
  }
}

//===----------------------------------------------------------------------===//
// Transform
//===----------------------------------------------------------------------===//

TEST(HadamardTransform, PowerOfTwoExact) {
  std::vector<float> x = {1, 1, 1, 1};
  ASSERT_TRUE(hadamardTransform(x.data(), 4));
  EXPECT_EQ(x, (std::vector<float>{2, 0, 0, 0}));
  std::vector<float> y = {3.0f};
  ASSERT_TRUE(hadamardTransform(y.data(), 1));
  EXPECT_EQ(y[0], 3.0f);
  float minus = -1.0f;
  std::vector<float> z = {5.0f};
  ASSERT_TRUE(hadamardTransform(z.data(), 1, &minus));
  EXPECT_EQ(z[0], -5.0f);
}

TEST(HadamardTransform, MatchesDenseMatrix) {
  for (int64_t n : {1, 2, 8, 12, 20, 24, 28, 36, 40, 52, 60, 96, 108, 140, 156,
                    172, 344, 1536}) {
    SCOPED_TRACE(n);
    std::vector<float> signs = hadamardRandomSigns(n, 77);
    for (const float *s : {static_cast<const float *>(nullptr),
                           static_cast<const float *>(signs.data())}) {
      std::vector<double> q = hadamardMatrix(n, s);
      std::vector<float> x = randomVector(n, static_cast<uint32_t>(n));
      std::vector<double> expect = denseApply(q, x);
      ASSERT_TRUE(hadamardTransform(x.data(), n, s));
      double err = 0, ref = 0;
      for (int64_t i = 0; i < n; ++i) {
        err += (x[i] - expect[i]) * (x[i] - expect[i]);
        ref += expect[i] * expect[i];
      }
      EXPECT_LE(std::sqrt(err / ref), 1e-5);
    }
  }
}

TEST(HadamardTransform, BitExactArithmeticOrder) {
  // The header defines the f32 arithmetic order; a plain scalar transcription
  // of it must agree bit for bit (signed zeros included).
  for (int64_t n : {1, 4, 12, 24, 40, 52, 172, 344, 1536, 4096, 11008, 14336}) {
    SCOPED_TRACE(n);
    std::vector<float> signs = hadamardRandomSigns(n, 3);
    for (const float *s : {static_cast<const float *>(nullptr),
                           static_cast<const float *>(signs.data())}) {
      std::vector<float> x = randomVector(n, static_cast<uint32_t>(n + 1));
      x[0] = 0.0f; // exercise zero handling
      std::vector<float> expect = referenceTransform(x, s);
      ASSERT_TRUE(hadamardTransform(x.data(), n, s));
      ASSERT_EQ(std::memcmp(x.data(), expect.data(), sizeof(float) * n), 0);
    }
  }
}

TEST(HadamardTransform, NormPreserving) {
  for (int64_t n : {2, 12, 28, 52, 108, 156, 172, 4096, 5120, 11008, 14336}) {
    SCOPED_TRACE(n);
    std::vector<float> signs = hadamardRandomSigns(n, 11);
    for (const float *s : {static_cast<const float *>(nullptr),
                           static_cast<const float *>(signs.data())}) {
      std::vector<float> x = randomVector(n, static_cast<uint32_t>(2 * n));
      double before = norm2(x);
      ASSERT_TRUE(hadamardTransform(x.data(), n, s));
      EXPECT_NEAR(norm2(x) / before, 1.0, 1e-5);
    }
  }
}

TEST(HadamardTransform, TransposeInverts) {
  for (int64_t n : {12, 20, 36, 40, 60, 140, 172, 48, 1536}) {
    SCOPED_TRACE(n);
    std::vector<float> signs = hadamardRandomSigns(n, 21);
    std::vector<double> q = hadamardMatrix(n, signs.data());
    std::vector<float> x = randomVector(n, 1000 + static_cast<uint32_t>(n));
    std::vector<float> y = x;
    ASSERT_TRUE(hadamardTransform(y.data(), n, signs.data()));
    double err = 0;
    for (int64_t j = 0; j < n; ++j) {
      double back = 0;
      for (int64_t i = 0; i < n; ++i)
        back += q[i * n + j] * y[i];
      err = std::max(err, std::fabs(back - x[j]));
    }
    EXPECT_LE(err, 1e-5);
  }
}

TEST(HadamardTransform, UnsupportedSizeReturnsFalse) {
  for (int64_t n : {0, 3, 7, 14, 100, 148}) {
    SCOPED_TRACE(n);
    std::vector<float> x(static_cast<size_t>(std::max<int64_t>(n, 1)), 1.5f);
    std::vector<float> before = x;
    EXPECT_FALSE(hadamardTransform(x.data(), n));
    EXPECT_EQ(x, before);
  }
  EXPECT_FALSE(hadamardTransform(nullptr, -4));
}

//===----------------------------------------------------------------------===//
// Transform along an axis
//===----------------------------------------------------------------------===//

TEST(HadamardTransformAxis, MatchesPerLineTransforms) {
  const std::vector<int64_t> shape = {12, 20, 8};
  const int64_t total = 12 * 20 * 8;
  for (int axis = 0; axis < 3; ++axis) {
    SCOPED_TRACE(axis);
    int64_t n = shape[axis];
    std::vector<float> signs = hadamardRandomSigns(n, 8 + axis);
    for (const float *s : {static_cast<const float *>(nullptr),
                           static_cast<const float *>(signs.data())}) {
      std::vector<float> data = randomVector(total, 50 + axis);
      std::vector<float> expect = data;
      int64_t strides[3] = {20 * 8, 8, 1};
      // Transform every line along `axis` by hand.
      int o1 = (axis + 1) % 3, o2 = (axis + 2) % 3;
      for (int64_t i = 0; i < shape[o1]; ++i)
        for (int64_t j = 0; j < shape[o2]; ++j) {
          int64_t base = i * strides[o1] + j * strides[o2];
          std::vector<float> line(static_cast<size_t>(n));
          for (int64_t k = 0; k < n; ++k)
            line[k] = expect[base + k * strides[axis]];
          ASSERT_TRUE(hadamardTransform(line.data(), n, s));
          for (int64_t k = 0; k < n; ++k)
            expect[base + k * strides[axis]] = line[k];
        }
      ASSERT_TRUE(hadamardTransformAxis(data.data(), shape, axis, s));
      ASSERT_EQ(std::memcmp(data.data(), expect.data(), sizeof(float) * total),
                0);
      // Negative axes count from the back.
      std::vector<float> data2 = randomVector(total, 50 + axis);
      ASSERT_TRUE(hadamardTransformAxis(data2.data(), shape, axis - 3, s));
      EXPECT_EQ(data2, data);
    }
  }
}

TEST(HadamardTransformAxis, InvalidArguments) {
  std::vector<float> data(12 * 7, 1.0f);
  std::vector<float> before = data;
  EXPECT_FALSE(hadamardTransformAxis(data.data(), {12, 7}, 1)); // 7 unsupported
  EXPECT_FALSE(hadamardTransformAxis(data.data(), {12, 7}, 2)); // bad axis
  EXPECT_FALSE(hadamardTransformAxis(data.data(), {12, 7}, -3));
  EXPECT_FALSE(hadamardTransformAxis(data.data(), {}, 0));
  EXPECT_EQ(data, before);
  EXPECT_TRUE(hadamardTransformAxis(data.data(), {12, 7}, 0));
  // An empty tensor with a supported axis length is a no-op.
  EXPECT_TRUE(hadamardTransformAxis(nullptr, {0, 12}, 1));
}
