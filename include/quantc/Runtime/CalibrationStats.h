//===- CalibrationStats.h - Activation statistics from calibration -*- C++ -*-===//
//
// What a calibration run collects for each observed tensor (a `qc.observe`
// that qc-instrument put on a quantized layer's activation input), and the
// statistics directory that qc-clip, qc-smooth, qc-gptq, qc-bias-correct and
// qc-allocate-bits read. No MLIR here: the calibration driver accumulates
// the tensors the instrumented model returns (qc-observations-to-results),
// and the passes read the directory back.
//
// A tensor is seen as rows x channels: the channel axis is the last one (the
// reduction axis of the layer it feeds), every other dimension is a row.
// Memory is bounded by the statistics, never by the number of samples: the
// histogram keeps a fixed bin count and doubles its range (merging bin pairs)
// when a larger |x| arrives; XᵀX is channels² doubles.
//
// A convolution's input (PatchGeometry) gets the Hessian GPTQ needs for the
// convolution's weight W[out, taps·in]: Σ p·pᵀ over its im2col patches p,
// one per output position, and one such matrix per group. A patch's element
// (tap t, input channel c) is column t·(in/groups) + c, taps in C order of the
// kernel offsets: each tap's run of input channels is contiguous, as the
// weight formats' blocks along the input channels are.
//
// The directory: `stats.json` (every tensor's scalars, per-channel vectors and
// histogram) and `<key>.xtx.npy` (f64 [columns, columns], or [groups,
// columns, columns] for a grouped convolution) for the tensors that asked
// for XᵀX, `<key>` being the name with characters outside
// [A-Za-z0-9._-] replaced by '_'. stats.json reads
//
//   {"samples": 8,
//    "tensors": {"layers.0/q_proj:input": {
//        "observations": 8, "rows": 512, "channels": 256,
//        "min": -3.1, "max": 2.9, "amax": 3.1,
//        "channel_amax": [...], "channel_mean": [...],
//        "channel_mean_square": [...], "channel_min": [...],
//        "channel_max": [...],
//        "histogram_range": 4.0, "histogram": [2048 counts],
//        "xtx": "layers.0_q_proj_input.xtx.npy"}}}
//
// ("histogram", "channel_mean_square", "channel_min", "channel_max" and "xtx"
// may be absent; tests write such files by hand.)
//
// When quant-compile calibrates: after qc-quantize and qc-rotate, on a copy
// of the module whose qc.fake_quant ops are removed (the float activations
// the rotated model computes), one JIT run per sample.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_RUNTIME_CALIBRATIONSTATS_H
#define QUANTC_RUNTIME_CALIBRATIONSTATS_H

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace quantc {

/// Bins of the |x| histogram (as in TensorRT's entropy calibration).
constexpr int kHistogramBins = 2048;

/// The patches of a convolution's (already padded) input, per dimension of
/// the tensor as qc.observe's kernel / strides / dilations / group_axis give
/// them: dimension d is read at o·strides[d] + t·dilations[d] for output
/// index o and kernel offset t < kernel[d]. The channel axis and the group
/// axis have kernel 1 and stride 1; every other dimension (batch, spatial)
/// indexes output positions.
struct PatchGeometry {
  std::vector<int64_t> kernel, strides, dilations;
  int64_t channelAxis = -1;
  /// -1: one group.
  int64_t groupAxis = -1;

  /// Checks the geometry against a tensor shape; empty when it fits.
  std::string verify(const std::vector<int64_t> &shape) const;
  /// Kernel taps (the product of `kernel`).
  int64_t taps() const;
};

struct TensorStats {
  /// Observations (one per sample and call site) and rows seen in total.
  int64_t observations = 0;
  int64_t rows = 0;
  int64_t channels = 0;
  /// Over every element seen.
  double min = 0, max = 0, amax = 0;
  /// Per channel (the last axis): max |x|, and the mean of x and of x² over
  /// all rows (the latter weighs a weight column's quantization error by the
  /// power of the input it multiplies).
  std::vector<double> channelAmax;
  std::vector<double> channelMean;
  std::vector<double> channelMeanSquare;
  /// Per channel: the smallest and largest x (SmoothQuant with bias centres
  /// each channel on its mid-range).
  std::vector<double> channelMin, channelMax;
  /// kHistogramBins counts of |x| over [0, histogramRange]: bin i holds
  /// [i, i+1) * histogramRange / kHistogramBins (the last bin includes its
  /// upper edge). NaN/Inf elements are not counted.
  std::vector<uint64_t> histogram;
  double histogramRange = 0;
  /// Σ over rows of xᵀx (or over patches of p·pᵀ), [hessianGroups,
  /// hessianColumns, hessianColumns] row-major, in f64; empty unless the
  /// tensor was observed with "hessian". For a plain tensor hessianColumns
  /// is `channels` and there is one group.
  std::vector<double> xtx;
  int64_t hessianGroups = 1;
  int64_t hessianColumns = 0;

  /// Adds `rows` rows of `channels` contiguous f32 values.
  void accumulate(const float *data, int64_t rows, int64_t channels,
                  bool withXtx);

  /// Adds the patch Hessian of one convolution input of `shape` (C order)
  /// to `xtx` (the other statistics come from `accumulate`). The geometry
  /// must fit the shape (PatchGeometry::verify) and stay the same from call
  /// to call; calls that do not fit are ignored, as `accumulate` ignores a
  /// changed channel count.
  void accumulatePatchHessian(const float *data,
                              const std::vector<int64_t> &shape,
                              const PatchGeometry &geometry);

  /// The smallest value c such that the fraction `p` (0..1] of the counted
  /// |x| lies at or below c, read from the histogram (upper bin edge).
  double percentile(double p) const;
};

class CalibrationStats {
public:
  /// The statistics of `name`, or null when calibration never observed it.
  const TensorStats *lookup(const std::string &name) const;
  TensorStats &getOrCreate(const std::string &name) { return tensors[name]; }
  const std::map<std::string, TensorStats> &all() const { return tensors; }
  /// Calibration samples run (for the report).
  int64_t samples = 0;

  /// Writes the directory (created if missing). False + `error` on failure.
  bool write(const std::string &dir, std::string &error) const;
  /// Reads a directory written by `write`; the error names the file.
  static std::optional<CalibrationStats> read(const std::string &dir,
                                              std::string &error);

private:
  std::map<std::string, TensorStats> tensors;
};

/// The key calibration statistics of a layer's activation input are stored
/// under: the layer's name (quantc::layerName) followed by ":input".
std::string activationStatsKey(const std::string &layerName);

} // namespace quantc

#endif // QUANTC_RUNTIME_CALIBRATIONSTATS_H
