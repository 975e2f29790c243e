//===- MachineLimits.h - Measured bandwidth and peak throughput ---*- C++ -*-===//
//
// The limits benchmark results are reported against: read bandwidth from DRAM
// and from the caches, and the peak rate of f32 FMA, bf16 dot products and
// int8 dot products, each on 1..threads threads. Measured, not looked up, so
// that "fraction of the machine" means this machine under its current load.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_BENCH_MACHINELIMITS_H
#define QUANTC_BENCH_MACHINELIMITS_H

#include <cstdint>

namespace quantc::bench {

struct MachineLimits {
  int threads = 1;
  /// Read bandwidth in GB/s: a buffer much larger than the last-level cache,
  /// and one of 8 MiB that stays in it.
  double dramReadGBs = 0;
  double cacheReadGBs = 0;
  /// Peak rates in G operations/s (a multiply-add counts 2): f32 FMA
  /// (vfmadd231ps zmm), bf16 dot products (vdpbf16ps zmm), int8 dot products
  /// (vpdpbusd zmm). 0 when the CPU lacks the instruction.
  double fmaGops = 0;
  double bf16Gops = 0;
  double vnniGops = 0;
};

/// Measures every limit with `threads` threads (each thread reads its own
/// slice; peak loops run independently on every thread).
MachineLimits measureMachineLimits(int threads);

/// Reads `bytes` from `data` as four sequential streams (one per quarter)
/// and returns a sum of them: the read-bandwidth probe's access pattern, for
/// timing a read of given bytes (the benchmarks read the very weights a
/// kernel streams, right after timing it).
int64_t readStreams(const uint8_t *data, int64_t bytes);

} // namespace quantc::bench

#endif // QUANTC_BENCH_MACHINELIMITS_H
