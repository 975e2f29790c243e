//===- LatencyModel.h - Roofline latency of a compiled model -----*- C++ -*-===//
//
// What qc-allocate-bits' latency budgets measure: a roofline per operation,
// time = max(bytes moved / bandwidth, operations / throughput), summed over
// the model, with the bandwidths and throughputs of *this machine running
// quantc's own code* rather than datasheet peaks. A profile holds them:
//
//   - the machine: DRAM and cache read bandwidth, the cache size deciding
//     which one weights stream from;
//   - each matmul kernel (weight format x float or int8 activations): the
//     weight bytes per second of its GEMV (one row) and the operations per
//     second of its GEMM (many rows);
//   - the float code around the matmuls: f32 contractions (attention's
//     batched matmuls, unquantized layers) in FLOP/s, elementwise loops,
//     reductions and transposes/copies in bytes per second.
//
// `bench/latency_profile.py` measures a profile on the machine it runs on
// (quant-compile + quant-run on one-layer models and small probes) and
// writes it as JSON; `LatencyProfile::builtIn()` is the one measured on the
// machine quantc is developed on (README, "Measured"), used when no file is
// given.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_TRANSFORMS_LATENCYMODEL_H
#define QUANTC_TRANSFORMS_LATENCYMODEL_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"

#include <optional>
#include <string>
#include <vector>

namespace quantc {

/// One matmul kernel's measured speed on an [N, K] weight: small layers
/// run further from the machine's limits than large ones (the activation
/// prep, tile edges and thread dispatch weigh more), so a profile measures
/// each kernel at several sizes and a layer takes the nearest one's figures.
struct KernelSpeed {
  int64_t k = 0, n = 0;
  /// Weight bytes per second at one activation row (GEMV), GB/s.
  double gemvGBs = 0;
  /// 2·M·N·K per second at many rows (GEMM), GOP/s.
  double gemmGops = 0;
};

struct LatencyProfile {
  /// Where the figures come from (a file, or "built-in").
  std::string source;
  int threads = 1;
  double dramGBs = 0, cacheGBs = 0;
  /// Weights up to this many bytes in total are read from cache.
  double cacheBytes = 0;
  /// By "<weight format>/a16" (float activations) or "<format>/a8" (int8):
  /// the sizes measured.
  llvm::StringMap<std::vector<KernelSpeed>> kernels;
  /// The float code: f32 contractions, GFLOP/s; elementwise loops,
  /// reductions, transposes and copies, GB/s of bytes read and written.
  double floatGflops = 0, elementwiseGBs = 0, reductionGBs = 0,
         transposeGBs = 0;

  /// The profile measured on the development machine (1 thread).
  static LatencyProfile builtIn();
  /// Reads bench/latency_profile.py's JSON; nullopt with `error` naming the
  /// file and the key.
  static std::optional<LatencyProfile> read(llvm::StringRef path,
                                            std::string &error);
  /// The same from JSON text; errors name `path`.
  static std::optional<LatencyProfile>
  parse(llvm::StringRef text, llvm::StringRef path, std::string &error);

  /// The speed of the kernel for `format` (printed spelling) with float or
  /// int8 activations on an [n, k] weight: the measured size nearest in
  /// log(n·k) of the exact entry, else of the same format with the other
  /// activation kind, else of the slowest kernel of the profile
  /// (pessimistic); nullptr only for an empty profile.
  const KernelSpeed *kernel(llvm::StringRef format, bool int8Activations,
                            int64_t n, int64_t k) const;
};

/// Predicted seconds of one quantized matmul: M rows of K against an
/// [N, K] weight of `weightBytes` packed bytes in `format`.
/// `weightsCached`: the model's weights fit the cache.
double matmulSeconds(const LatencyProfile &profile, int64_t m, int64_t n,
                     int64_t k, double weightBytes, llvm::StringRef format,
                     bool int8Activations, bool weightsCached);

/// A linalg op that multiplies two or more tensors and reduces (matmul,
/// batch_matmul, convolutions, such generics): what the CPU pipeline keeps
/// apart from elementwise fusion (quantc-fuse-elementwise) for its
/// contraction kernels, and what the latency model times as FLOPs.
bool isContraction(mlir::Operation *op);

/// The float code's share of a model: everything but the quantized layers
/// (findQuantizedLayers) and work on constants, estimated on a copy of
/// `module` after the elementwise fusion the CPU pipeline does.
struct FloatCodeEstimate {
  double contractionSeconds = 0, elementwiseSeconds = 0,
         reductionSeconds = 0, transposeSeconds = 0;
  double seconds() const {
    return contractionSeconds + elementwiseSeconds + reductionSeconds +
           transposeSeconds;
  }
};
std::optional<FloatCodeEstimate>
estimateFloatCode(mlir::ModuleOp module, const LatencyProfile &profile,
                  std::string &error);

} // namespace quantc

#endif // QUANTC_TRANSFORMS_LATENCYMODEL_H
