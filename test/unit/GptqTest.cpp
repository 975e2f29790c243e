//===- GptqTest.cpp - GPTQ against round-to-nearest and a reference -------===//
//
// With a diagonal Hessian GPTQ has nothing to compensate (U is diagonal), so
// it must reproduce quantize() bit for bit, codes and scales, in any column
// order. With a correlated Hessian it must lower the layer output error
// tr(ΔW·H·ΔWᵀ) below round-to-nearest for every 4- and 8-bit format family,
// and agree with an independent unblocked f64 implementation (the OBS update
// of H⁻¹ after every column) up to rare rounding ties.
//
//===----------------------------------------------------------------------===//

#include "quantc/Formats/Gptq.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace quantc;

namespace {

Format parseOrDie(const std::string &spec) {
  std::string error;
  std::optional<Format> f = parseFormat(spec, error);
  EXPECT_TRUE(f.has_value()) << spec << ": " << error;
  return f.value_or(Format{});
}

std::vector<float> randomWeights(int64_t rows, int64_t columns,
                                 unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> w(rows * columns);
  for (float &x : w)
    x = normal(rng);
  // A few large weights, so blocks differ in range.
  for (int64_t i = 0; i < rows * columns; i += 97)
    w[i] *= 4.0f;
  return w;
}

/// H = XᵀX of `samples` rows of correlated inputs: x = z·A with a random
/// mixing A (each channel a mix of its neighbours) and channel gains that
/// span a factor of 20 (outlier channels, as activations have).
std::vector<double> correlatedHessian(int64_t columns, int64_t samples,
                                      unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> gain(0.2, 4.0);
  std::vector<double> mixing(columns * columns, 0.0);
  for (int64_t i = 0; i < columns; ++i)
    for (int64_t j = std::max<int64_t>(0, i - 8);
         j < std::min<int64_t>(columns, i + 8); ++j)
      mixing[i * columns + j] = normal(rng) + (i == j ? 2.0 : 0.0);
  std::vector<double> gains(columns);
  for (double &g : gains)
    g = gain(rng);
  std::vector<double> h(columns * columns, 0.0), z(columns), x(columns);
  for (int64_t s = 0; s < samples; ++s) {
    for (double &v : z)
      v = normal(rng);
    for (int64_t j = 0; j < columns; ++j) {
      double sum = 0.0;
      for (int64_t i = 0; i < columns; ++i)
        sum += z[i] * mixing[i * columns + j];
      x[j] = sum * gains[j];
    }
    for (int64_t i = 0; i < columns; ++i)
      for (int64_t j = 0; j < columns; ++j)
        h[i * columns + j] += x[i] * x[j];
  }
  return h;
}

GptqResult gptqOrDie(const std::vector<float> &w, int64_t rows,
                     int64_t columns, const std::vector<double> &h,
                     const Format &format, const GptqOptions &options) {
  std::string error;
  std::optional<GptqHessian> prepared =
      prepareGptqHessian(h.data(), columns, options, error);
  EXPECT_TRUE(prepared.has_value()) << error;
  if (!prepared)
    return {};
  std::optional<GptqResult> result =
      gptqQuantize(w.data(), rows, columns, *prepared, format, error);
  EXPECT_TRUE(result.has_value()) << printFormat(format) << ": " << error;
  return result.value_or(GptqResult{});
}

const char *const kFormats[] = {
    "int8",       "int4",       "int4_g32",   "int4_g128", "uint4",
    "mxfp4",      "mxfp6_e2m3", "mxfp8_e4m3", "mxint8",    "nvfp4",
    "nvint4",     "e3m2",       "nvfp4, block2 = 16",
    "mxfp4, scale_rounding = ceil, clip = 0.9"};

TEST(Gptq, DiagonalHessianIsRoundToNearest) {
  const int64_t rows = 48, columns = 256;
  std::vector<float> w = randomWeights(rows, columns, 1);
  std::vector<double> identity(columns * columns, 0.0), diagonal = identity;
  std::mt19937 rng(2);
  std::uniform_real_distribution<double> uniform(0.1, 10.0);
  for (int64_t j = 0; j < columns; ++j) {
    identity[j * columns + j] = 1.0;
    diagonal[j * columns + j] = uniform(rng);
  }
  for (const char *spec : kFormats) {
    Format format = parseOrDie(spec);
    std::string error;
    std::optional<QuantizedTensor> rtn =
        quantize(w.data(), {rows, columns}, format, error);
    ASSERT_TRUE(rtn) << error;
    // H = I in order; a random diagonal with act-order (a shuffled order),
    // with lazy batches that do and do not align with the blocks.
    for (auto [h, actOrder, block] :
         {std::tuple{&identity, false, int64_t{128}},
          std::tuple{&diagonal, true, int64_t{128}},
          std::tuple{&diagonal, true, int64_t{7}}}) {
      GptqOptions options;
      options.actOrder = actOrder;
      options.blockSize = block;
      GptqResult result = gptqOrDie(w, rows, columns, *h, format, options);
      SCOPED_TRACE(std::string(spec) + (actOrder ? ", act-order" : "") +
                   ", block " + std::to_string(block));
      EXPECT_EQ(result.quantized.codes, rtn->codes);
      EXPECT_EQ(result.quantized.scales, rtn->scales);
      EXPECT_EQ(result.quantized.zeroPoints, rtn->zeroPoints);
      EXPECT_EQ(result.quantized.tensorScale, rtn->tensorScale);
      EXPECT_EQ(pack(result.quantized), pack(*rtn));
    }
  }
}

TEST(Gptq, BeatsRoundToNearestOnCorrelatedHessian) {
  const int64_t rows = 64, columns = 256;
  std::vector<float> w = randomWeights(rows, columns, 3);
  std::vector<double> h = correlatedHessian(columns, 2048, 4);
  for (const char *spec :
       {"int4_g32", "mxfp4", "nvfp4", "int8", "nvint4", "int4", "mxfp6_e2m3",
        "mxint8", "uint4", "nvfp4, block2 = 16"}) {
    Format format = parseOrDie(spec);
    std::string error;
    std::optional<std::vector<float>> rtn =
        fakeQuantize(w.data(), {rows, columns}, format, error);
    ASSERT_TRUE(rtn) << error;
    double rtnError =
        hessianWeightedError(w.data(), rtn->data(), rows, columns, h.data());
    for (bool actOrder : {false, true}) {
      GptqOptions options;
      options.actOrder = actOrder;
      GptqResult result = gptqOrDie(w, rows, columns, h, format, options);
      double gptqError = hessianWeightedError(
          w.data(), result.dequantized.data(), rows, columns, h.data());
      std::printf("  %-22s %-9s tr(dW H dWt): RTN %.4g, GPTQ %.4g (%.2fx)\n",
                  spec, actOrder ? "act-order" : "in order", rtnError,
                  gptqError, rtnError / gptqError);
      EXPECT_LT(gptqError, 0.8 * rtnError) << spec;
      // What ships is what GPTQ chose: the packed bytes decode to it.
      std::vector<uint8_t> bytes = pack(result.quantized);
      std::optional<QuantizedTensor> unpacked = unpack(
          bytes.data(), bytes.size(), {rows, columns}, format, error);
      ASSERT_TRUE(unpacked) << error;
      EXPECT_EQ(dequantize(*unpacked), result.dequantized) << spec;
    }
  }
}

/// Unblocked GPTQ in f64 with the explicit inverse Hessian and its OBS
/// update after each column (H⁻¹ ← H⁻¹ − H⁻¹[:,j]·H⁻¹[j,:] / H⁻¹[j][j]),
/// for per-row scales fixed from the original row (int8, per-axis).
std::vector<float> referenceGptqPerRow(const std::vector<float> &w,
                                       int64_t rows, int64_t columns,
                                       std::vector<double> h, double percdamp,
                                       const Format &format) {
  const int64_t k = columns;
  double mean = 0.0;
  for (int64_t j = 0; j < k; ++j)
    mean += h[j * k + j];
  mean /= k;
  for (int64_t j = 0; j < k; ++j)
    h[j * k + j] += percdamp * mean;
  // Gauss-Jordan inverse.
  std::vector<double> a = h, inv(k * k, 0.0);
  for (int64_t i = 0; i < k; ++i)
    inv[i * k + i] = 1.0;
  for (int64_t c = 0; c < k; ++c) {
    double pivot = a[c * k + c];
    for (int64_t j = 0; j < k; ++j) {
      a[c * k + j] /= pivot;
      inv[c * k + j] /= pivot;
    }
    for (int64_t r = 0; r < k; ++r) {
      if (r == c)
        continue;
      double f = a[r * k + c];
      for (int64_t j = 0; j < k; ++j) {
        a[r * k + j] -= f * a[c * k + j];
        inv[r * k + j] -= f * inv[c * k + j];
      }
    }
  }
  std::string error;
  std::vector<float> out(rows * columns);
  for (int64_t r = 0; r < rows; ++r) {
    std::optional<QuantizedTensor> scale =
        chooseScales(&w[r * k], {1, k}, format, std::nullopt, error);
    float s = blockScaleValue(*scale, 0);
    std::vector<double> row(w.begin() + r * k, w.begin() + (r + 1) * k);
    std::vector<double> hinv = inv;
    for (int64_t j = 0; j < k; ++j) {
      float q = decodeInBlock(
          encodeInBlock(static_cast<float>(row[j]), s, 0, format), s, 0,
          format);
      out[r * k + j] = q;
      double err = (row[j] - q) / hinv[j * k + j];
      for (int64_t i = j + 1; i < k; ++i)
        row[i] -= err * hinv[j * k + i];
      double d = hinv[j * k + j];
      std::vector<double> pivotRow(hinv.begin() + j * k,
                                   hinv.begin() + (j + 1) * k);
      for (int64_t a2 = j; a2 < k; ++a2)
        for (int64_t b2 = j; b2 < k; ++b2)
          hinv[a2 * k + b2] -= pivotRow[a2] * pivotRow[b2] / d;
    }
  }
  return out;
}

TEST(Gptq, MatchesUnblockedReference) {
  const int64_t rows = 16, columns = 64;
  std::vector<float> w = randomWeights(rows, columns, 5);
  std::vector<double> h = correlatedHessian(columns, 512, 6);
  Format format = parseOrDie("int4");
  std::vector<float> reference =
      referenceGptqPerRow(w, rows, columns, h, 0.01, format);
  GptqOptions options;
  options.blockSize = 16; // several lazy batches
  GptqResult result = gptqOrDie(w, rows, columns, h, format, options);
  int64_t same = 0;
  for (int64_t i = 0; i < rows * columns; ++i)
    same += reference[i] == result.dequantized[i];
  // f32 working weights vs f64: a rounding tie may flip a code, and its
  // error then propagates within the row; nearly everything must agree.
  EXPECT_GE(same, rows * columns * 95 / 100) << same << " of " << rows * columns;
  double referenceError =
      hessianWeightedError(w.data(), reference.data(), rows, columns, h.data());
  double gptqError = hessianWeightedError(
      w.data(), result.dequantized.data(), rows, columns, h.data());
  EXPECT_NEAR(gptqError / referenceError, 1.0, 0.02);
}

TEST(Gptq, DeadColumnsAreZeroed) {
  const int64_t rows = 8, columns = 64;
  std::vector<float> w = randomWeights(rows, columns, 7);
  std::vector<double> h = correlatedHessian(columns, 256, 8);
  for (int64_t j = 0; j < columns; ++j) { // input 5 never fires
    h[5 * columns + j] = 0.0;
    h[j * columns + 5] = 0.0;
  }
  std::string error;
  std::optional<GptqHessian> prepared =
      prepareGptqHessian(h.data(), columns, GptqOptions{}, error);
  ASSERT_TRUE(prepared) << error;
  EXPECT_EQ(prepared->deadColumns, 1);
  std::optional<GptqResult> result = gptqQuantize(
      w.data(), rows, columns, *prepared, parseOrDie("int4_g32"), error);
  ASSERT_TRUE(result) << error;
  for (int64_t r = 0; r < rows; ++r)
    EXPECT_EQ(result->dequantized[r * columns + 5], 0.0f);
}

TEST(Gptq, Errors) {
  std::string error;
  std::vector<double> notDefinite = {1.0, 2.0, 2.0, 1.0};
  GptqOptions noDamping;
  noDamping.dampening = 0.0;
  EXPECT_FALSE(prepareGptqHessian(notDefinite.data(), 2, noDamping, error));
  EXPECT_NE(error.find("not positive definite"), std::string::npos) << error;

  std::vector<double> identity = {1.0, 0.0, 0.0, 1.0};
  std::optional<GptqHessian> h =
      prepareGptqHessian(identity.data(), 2, GptqOptions{}, error);
  ASSERT_TRUE(h);
  std::vector<float> w = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  EXPECT_FALSE(gptqQuantize(w.data(), 2, 3, *h, parseOrDie("int8"), error));
  EXPECT_NE(error.find("Hessian has 2 columns"), std::string::npos) << error;
  EXPECT_FALSE(
      gptqQuantize(w.data(), 3, 2, *h, parseOrDie("int8, axis = 0"), error));
  EXPECT_NE(error.find("last axis"), std::string::npos) << error;
}

} // namespace
