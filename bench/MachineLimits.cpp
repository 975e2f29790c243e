//===- MachineLimits.cpp - Measured bandwidth and peak throughput ---------===//
//
// Hand-written probes (intrinsics): they measure the machine, they are not
// kernels. Every loop keeps enough independent accumulators to cover the
// instruction's latency, and each measurement is the best of several runs.
//
//===----------------------------------------------------------------------===//

#include "MachineLimits.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

using namespace quantc::bench;

namespace {

using Clock = std::chrono::steady_clock;

/// Runs `work(thread)` on `threads` threads started together; returns the
/// wall time of the slowest in seconds.
double runTogether(int threads, const std::function<void(int)> &work) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  std::vector<double> seconds(threads);
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load())
        std::this_thread::yield();
      auto start = Clock::now();
      work(t);
      seconds[t] = std::chrono::duration<double>(Clock::now() - start).count();
    });
  while (ready.load() < threads)
    std::this_thread::yield();
  go = true;
  for (std::thread &thread : pool)
    thread.join();
  return *std::max_element(seconds.begin(), seconds.end());
}

/// Reads `bytes` as four sequential streams, one per quarter (as a kernel
/// walks four column tiles): more streams in flight than one sequential
/// walk, which measured 20 % lower here.
__attribute__((target("avx512f"), noinline)) int64_t
readSlice(const uint8_t *data, int64_t bytes) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  int64_t quarter = bytes / 4 / 64 * 64;
  const uint8_t *d1 = data + quarter, *d2 = d1 + quarter, *d3 = d2 + quarter;
  for (int64_t i = 0; i + 64 <= quarter; i += 64) {
    a0 = _mm512_add_epi32(a0, _mm512_load_si512(data + i));
    a1 = _mm512_add_epi32(a1, _mm512_load_si512(d1 + i));
    a2 = _mm512_add_epi32(a2, _mm512_load_si512(d2 + i));
    a3 = _mm512_add_epi32(a3, _mm512_load_si512(d3 + i));
  }
  __m512i sum = _mm512_add_epi32(_mm512_add_epi32(a0, a1),
                                 _mm512_add_epi32(a2, a3));
  return _mm512_reduce_add_epi32(sum);
}

double readBandwidth(int threads, int64_t bytesPerThread, int repeats) {
  std::vector<uint8_t *> buffers(threads);
  for (int t = 0; t < threads; ++t) {
    buffers[t] = static_cast<uint8_t *>(std::aligned_alloc(64, bytesPerThread));
    std::memset(buffers[t], t + 1, bytesPerThread);
  }
  std::atomic<int64_t> sink{0};
  double best = 1e30;
  for (int r = 0; r < repeats; ++r)
    best = std::min(best, runTogether(threads, [&](int t) {
                      sink += readSlice(buffers[t], bytesPerThread);
                    }));
  for (uint8_t *buffer : buffers)
    std::free(buffer);
  return threads * (bytesPerThread / 4 / 64 * 64 * 4) / best * 1e-9;
}

constexpr int64_t kPeakIterations = 20'000'000;

__attribute__((target("avx512f,fma"), noinline)) float fmaLoop(int64_t n) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i)
    acc[i] = _mm512_set1_ps(static_cast<float>(i));
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
  for (int64_t i = 0; i < n; ++i)
    for (int j = 0; j < 12; ++j)
      acc[j] = _mm512_fmadd_ps(acc[j], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < 12; ++i)
    s = _mm512_add_ps(s, acc[i]);
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f,avx512bf16"), noinline)) float
bf16Loop(int64_t n) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i)
    acc[i] = _mm512_set1_ps(static_cast<float>(i));
  const __m512bh a = (__m512bh)_mm512_set1_epi16(0x3F80);
  const __m512bh b = (__m512bh)_mm512_set1_epi16(0x0001);
  for (int64_t i = 0; i < n; ++i)
    for (int j = 0; j < 12; ++j)
      acc[j] = _mm512_dpbf16_ps(acc[j], a, b);
  __m512 s = acc[0];
  for (int i = 1; i < 12; ++i)
    s = _mm512_add_ps(s, acc[i]);
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f,avx512vnni"), noinline)) int32_t
vnniLoop(int64_t n) {
  __m512i acc[12];
  for (int i = 0; i < 12; ++i)
    acc[i] = _mm512_set1_epi32(i);
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-1);
  for (int64_t i = 0; i < n; ++i)
    for (int j = 0; j < 12; ++j)
      acc[j] = _mm512_dpbusd_epi32(acc[j], a, b);
  __m512i s = acc[0];
  for (int i = 1; i < 12; ++i)
    s = _mm512_add_epi32(s, acc[i]);
  return _mm512_reduce_add_epi32(s);
}

/// Best-of-3 rate of `loop` in G operations/s, `opsPerIteration` counted per
/// inner iteration of every thread.
template <typename Loop>
double peakRate(int threads, Loop loop, double opsPerIteration) {
  std::atomic<int64_t> sink{0};
  double best = 1e30;
  for (int r = 0; r < 3; ++r)
    best = std::min(best, runTogether(threads, [&](int) {
                      sink += static_cast<int64_t>(loop(kPeakIterations));
                    }));
  return threads * kPeakIterations * opsPerIteration / best * 1e-9;
}

} // namespace

int64_t quantc::bench::readStreams(const uint8_t *data, int64_t bytes) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") ? readSlice(data, bytes) : 0;
}

MachineLimits quantc::bench::measureMachineLimits(int threads) {
  MachineLimits limits;
  limits.threads = threads;
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f"))
    return limits;
  // 512 MiB in all streams from DRAM; 8 MiB in all stays in the L2/L3.
  limits.dramReadGBs = readBandwidth(threads, (512ll << 20) / threads, 5);
  limits.cacheReadGBs = readBandwidth(threads, (8ll << 20) / threads, 50);
  // 12 instructions per iteration of 16 lanes, a multiply-add = 2 ops:
  // FMA 16 x 2, bf16 dot 32 x 2, int8 dot 64 x 2 operations each.
  limits.fmaGops = peakRate(threads, fmaLoop, 12.0 * 32);
  if (__builtin_cpu_supports("avx512bf16"))
    limits.bf16Gops = peakRate(threads, bf16Loop, 12.0 * 64);
  if (__builtin_cpu_supports("avx512vnni"))
    limits.vnniGops = peakRate(threads, vnniLoop, 12.0 * 128);
  return limits;
}
