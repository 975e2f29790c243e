//===- CalibrationStats.cpp - Activation statistics from calibration ------===//
//
// Accumulation, the histogram's range doubling, percentiles, and the statistics directory.
//
//===----------------------------------------------------------------------===//

#include "quantc/Runtime/CalibrationStats.h"
#include "quantc/Runtime/Npy.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

using namespace quantc;

//===----------------------------------------------------------------------===//
// Accumulation
//===----------------------------------------------------------------------===//

/// The histogram's first range: the first observation's amax rounded up to a
/// power of two, so that later doublings keep the bin edges exact binary
/// fractions of it.
static double initialRange(double amax) {
  if (!(amax > 0))
    return 1.0;
  return std::ldexp(1.0, static_cast<int>(std::ceil(std::log2(amax))));
}

/// Doubles the histogram's range until it covers `amax`, merging bin pairs:
/// counts are never spread over bins they did not fall into.
static void growHistogram(TensorStats &stats, double amax) {
  while (amax > stats.histogramRange) {
    auto &h = stats.histogram;
    for (int i = 0; i < kHistogramBins / 2; ++i)
      h[i] = h[2 * i] + h[2 * i + 1];
    std::fill(h.begin() + kHistogramBins / 2, h.end(), 0);
    stats.histogramRange *= 2;
  }
}

void TensorStats::accumulate(const float *data, int64_t newRows,
                             int64_t newChannels, bool withXtx) {
  if (channels == 0) {
    channels = newChannels;
    channelAmax.assign(channels, 0.0);
    channelMean.assign(channels, 0.0);
    channelMeanSquare.assign(channels, 0.0);
    channelMin.assign(channels, std::numeric_limits<double>::infinity());
    channelMax.assign(channels, -std::numeric_limits<double>::infinity());
    histogram.assign(kHistogramBins, 0);
    min = std::numeric_limits<double>::infinity();
    max = -std::numeric_limits<double>::infinity();
  }
  // A call site whose channel count differs cannot share these statistics;
  // qc-instrument keys observations per layer, so this means a bug upstream.
  if (newChannels != channels || newRows <= 0)
    return;

  double blockAmax = 0;
  std::vector<double> sums(channels, 0.0), squares(channels, 0.0);
  for (int64_t r = 0; r < newRows; ++r) {
    const float *row = data + r * channels;
    for (int64_t c = 0; c < channels; ++c) {
      double v = row[c];
      if (!std::isfinite(v))
        continue;
      double a = std::fabs(v);
      min = std::min(min, v);
      max = std::max(max, v);
      blockAmax = std::max(blockAmax, a);
      channelAmax[c] = std::max(channelAmax[c], a);
      channelMin[c] = std::min(channelMin[c], v);
      channelMax[c] = std::max(channelMax[c], v);
      sums[c] += v;
      squares[c] += v * v;
    }
  }
  amax = std::max(amax, blockAmax);
  if (histogramRange == 0)
    histogramRange = initialRange(blockAmax);
  growHistogram(*this, blockAmax);
  double binsPerUnit = kHistogramBins / histogramRange;
  for (int64_t i = 0, e = newRows * channels; i < e; ++i) {
    double a = std::fabs(static_cast<double>(data[i]));
    if (!std::isfinite(a))
      continue;
    auto bin = static_cast<int64_t>(a * binsPerUnit);
    histogram[std::min<int64_t>(bin, kHistogramBins - 1)] += 1;
  }
  // Running means, weighted by rows.
  double total = static_cast<double>(rows + newRows);
  for (int64_t c = 0; c < channels; ++c) {
    channelMean[c] = (channelMean[c] * rows + sums[c]) / total;
    channelMeanSquare[c] = (channelMeanSquare[c] * rows + squares[c]) / total;
  }
  rows += newRows;
  ++observations;

  if (!withXtx)
    return;
  if (xtx.empty()) {
    xtx.assign(channels * channels, 0.0);
    hessianGroups = 1;
    hessianColumns = channels;
  }
  if (hessianGroups != 1 || hessianColumns != channels)
    return; // patch Hessians came first: the same bug upstream
  // Σ_r x_rᵀ x_r, upper triangle then mirrored: the matrix is symmetric.
  std::vector<double> row(channels);
  for (int64_t r = 0; r < newRows; ++r) {
    for (int64_t c = 0; c < channels; ++c) {
      float v = data[r * channels + c];
      row[c] = std::isfinite(v) ? v : 0.0;
    }
    for (int64_t i = 0; i < channels; ++i) {
      double xi = row[i];
      if (xi == 0)
        continue;
      double *out = xtx.data() + i * channels;
      for (int64_t j = i; j < channels; ++j)
        out[j] += xi * row[j];
    }
  }
  // Keep the lower triangle in step so that readers see a full matrix at any
  // time (cheap next to the products above).
  for (int64_t i = 0; i < channels; ++i)
    for (int64_t j = 0; j < i; ++j)
      xtx[i * channels + j] = xtx[j * channels + i];
}

std::string PatchGeometry::verify(const std::vector<int64_t> &shape) const {
  const size_t rank = shape.size();
  if (kernel.size() != rank || strides.size() != rank ||
      dilations.size() != rank)
    return "the patch geometry has " + std::to_string(kernel.size()) +
           " kernel entries for a tensor of rank " + std::to_string(rank);
  if (channelAxis < 0 || channelAxis >= static_cast<int64_t>(rank) ||
      groupAxis >= static_cast<int64_t>(rank) || groupAxis == channelAxis)
    return "the channel or group axis is out of range";
  for (size_t d = 0; d < rank; ++d) {
    if (kernel[d] < 1 || strides[d] < 1 || dilations[d] < 1)
      return "kernel, strides and dilations must be positive";
    bool channelLike = static_cast<int64_t>(d) == channelAxis ||
                       static_cast<int64_t>(d) == groupAxis;
    if (channelLike && (kernel[d] != 1 || strides[d] != 1))
      return "the channel and group axes need kernel 1 and stride 1";
    if (shape[d] < (kernel[d] - 1) * dilations[d] + 1)
      return "dimension " + std::to_string(d) + " of size " +
             std::to_string(shape[d]) + " is smaller than its dilated kernel";
  }
  return "";
}

int64_t PatchGeometry::taps() const {
  int64_t taps = 1;
  for (int64_t k : kernel)
    taps *= k;
  return taps;
}

/// H += Pᵀ·P for `count` patches stored column by column (`patches[c *
/// stride + r]` is column c of patch r), upper triangle only.
static void addPatchGram(const std::vector<double> &patches, int64_t stride,
                         int64_t count, int64_t columns, double *h) {
  for (int64_t i = 0; i < columns; ++i) {
    const double *a = &patches[i * stride];
    bool zero = true;
    for (int64_t r = 0; r < count && zero; ++r)
      zero = a[r] == 0.0;
    if (zero)
      continue; // padding, ReLU zeros
    double *out = h + i * columns;
    for (int64_t j = i; j < columns; ++j) {
      const double *b = &patches[j * stride];
      double sum = 0.0;
      for (int64_t r = 0; r < count; ++r)
        sum += a[r] * b[r];
      out[j] += sum;
    }
  }
}

void TensorStats::accumulatePatchHessian(const float *data,
                                         const std::vector<int64_t> &shape,
                                         const PatchGeometry &geometry) {
  if (!geometry.verify(shape).empty())
    return;
  const int64_t rank = shape.size();
  const int64_t cg = shape[geometry.channelAxis];
  const int64_t groups =
      geometry.groupAxis >= 0 ? shape[geometry.groupAxis] : 1;
  const int64_t taps = geometry.taps();
  const int64_t columns = taps * cg;
  if (xtx.empty()) {
    hessianGroups = groups;
    hessianColumns = columns;
    xtx.assign(groups * columns * columns, 0.0);
  }
  if (hessianGroups != groups || hessianColumns != columns)
    return;

  std::vector<int64_t> strideOf(rank, 1); // element strides of the tensor
  for (int64_t d = rank - 2; d >= 0; --d)
    strideOf[d] = strideOf[d + 1] * shape[d + 1];
  // Output positions and kernel offsets run over every dimension but the
  // channel and group axes.
  std::vector<int64_t> positionDims, outputs;
  for (int64_t d = 0; d < rank; ++d) {
    if (d == geometry.channelAxis || d == geometry.groupAxis)
      continue;
    positionDims.push_back(d);
    outputs.push_back((shape[d] - (geometry.kernel[d] - 1) *
                                      geometry.dilations[d] - 1) /
                          geometry.strides[d] +
                      1);
  }
  // Offset of each tap (C order of the kernel offsets) from the patch origin.
  std::vector<int64_t> tapOffsets(taps, 0);
  for (int64_t t = 0; t < taps; ++t) {
    int64_t rest = t, offset = 0;
    for (int64_t i = positionDims.size() - 1; i >= 0; --i) {
      int64_t d = positionDims[i];
      offset += (rest % geometry.kernel[d]) * geometry.dilations[d] * strideOf[d];
      rest /= geometry.kernel[d];
    }
    tapOffsets[t] = offset;
  }
  int64_t positions = 1;
  for (int64_t o : outputs)
    positions *= o;

  // Patches go through a column-major buffer of `chunk` patches at a time:
  // each Hessian entry is then a dot product of two contiguous vectors.
  constexpr int64_t chunk = 256;
  std::vector<double> patches(columns * chunk);
  std::vector<int64_t> index(positionDims.size(), 0);
  const int64_t channelStride = strideOf[geometry.channelAxis];
  for (int64_t g = 0; g < groups; ++g) {
    const int64_t groupBase =
        geometry.groupAxis >= 0 ? g * strideOf[geometry.groupAxis] : 0;
    double *h = xtx.data() + g * columns * columns;
    std::fill(index.begin(), index.end(), 0);
    int64_t filled = 0;
    for (int64_t p = 0; p < positions; ++p) {
      int64_t origin = groupBase;
      for (size_t i = 0; i < positionDims.size(); ++i)
        origin += index[i] * geometry.strides[positionDims[i]] *
                  strideOf[positionDims[i]];
      for (int64_t t = 0; t < taps; ++t)
        for (int64_t c = 0; c < cg; ++c) {
          float v = data[origin + tapOffsets[t] + c * channelStride];
          patches[(t * cg + c) * chunk + filled] = std::isfinite(v) ? v : 0.0;
        }
      if (++filled == chunk || p + 1 == positions) {
        addPatchGram(patches, chunk, filled, columns, h);
        filled = 0;
      }
      for (int64_t i = positionDims.size() - 1; i >= 0; --i) {
        if (++index[i] < outputs[i])
          break;
        index[i] = 0;
      }
    }
    for (int64_t i = 0; i < columns; ++i)
      for (int64_t j = 0; j < i; ++j)
        h[i * columns + j] = h[j * columns + i];
  }
}

double TensorStats::percentile(double p) const {
  uint64_t total = 0;
  for (uint64_t count : histogram)
    total += count;
  if (total == 0)
    return 0;
  p = std::clamp(p, 0.0, 1.0);
  double wanted = p * static_cast<double>(total);
  uint64_t seen = 0;
  for (int i = 0; i < kHistogramBins; ++i) {
    seen += histogram[i];
    if (static_cast<double>(seen) >= wanted)
      return std::min(amax, (i + 1) * histogramRange / kHistogramBins);
  }
  return amax;
}

//===----------------------------------------------------------------------===//
// The statistics directory
//===----------------------------------------------------------------------===//

std::string quantc::activationStatsKey(const std::string &layerName) {
  return layerName + ":input";
}

const TensorStats *CalibrationStats::lookup(const std::string &name) const {
  auto it = tensors.find(name);
  return it == tensors.end() ? nullptr : &it->second;
}

static std::string fileKey(const std::string &name) {
  std::string key = name;
  for (char &c : key)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
          c == '-'))
      c = '_';
  return key;
}

bool CalibrationStats::write(const std::string &dir, std::string &error) const {
  if (std::error_code ec = llvm::sys::fs::create_directories(dir)) {
    error = dir + ": cannot create the statistics directory: " + ec.message();
    return false;
  }
  llvm::json::Object root;
  root["samples"] = samples;
  llvm::json::Object entries;
  for (const auto &[name, stats] : tensors) {
    llvm::json::Object entry;
    entry["observations"] = stats.observations;
    entry["rows"] = stats.rows;
    entry["channels"] = stats.channels;
    bool seen = stats.rows > 0;
    entry["min"] = seen ? stats.min : 0.0;
    entry["max"] = seen ? stats.max : 0.0;
    entry["amax"] = stats.amax;
    entry["channel_amax"] = llvm::json::Array(stats.channelAmax);
    entry["channel_mean"] = llvm::json::Array(stats.channelMean);
    entry["channel_mean_square"] = llvm::json::Array(stats.channelMeanSquare);
    // A channel that saw no finite value has no extremes: 0.
    auto finite = [](std::vector<double> v) {
      for (double &x : v)
        x = std::isfinite(x) ? x : 0.0;
      return llvm::json::Array(v);
    };
    entry["channel_min"] = finite(stats.channelMin);
    entry["channel_max"] = finite(stats.channelMax);
    entry["histogram_range"] = stats.histogramRange;
    llvm::json::Array histogram;
    for (uint64_t count : stats.histogram)
      histogram.push_back(static_cast<int64_t>(count));
    entry["histogram"] = std::move(histogram);
    if (!stats.xtx.empty()) {
      std::string file = fileKey(name) + ".xtx.npy";
      HostTensor tensor;
      tensor.dtype = DType::F64;
      tensor.shape = {stats.hessianColumns, stats.hessianColumns};
      if (stats.hessianGroups != 1)
        tensor.shape.insert(tensor.shape.begin(), stats.hessianGroups);
      tensor.bytes.resize(stats.xtx.size() * sizeof(double));
      std::memcpy(tensor.bytes.data(), stats.xtx.data(), tensor.bytes.size());
      llvm::SmallString<256> path(dir);
      llvm::sys::path::append(path, file);
      if (!writeNpy(std::string(path), tensor, error))
        return false;
      entry["xtx"] = file;
    }
    entries[name] = std::move(entry);
  }
  root["tensors"] = std::move(entries);

  llvm::SmallString<256> path(dir);
  llvm::sys::path::append(path, "stats.json");
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec) {
    error = std::string(path) + ": " + ec.message();
    return false;
  }
  // Compact: the histograms alone are thousands of numbers per tensor.
  os << llvm::json::Value(std::move(root)) << "\n";
  return true;
}

/// Reads a JSON array of numbers into `out`; false if it is something else.
template <typename T>
static bool readNumbers(const llvm::json::Object &object, llvm::StringRef key,
                        std::vector<T> &out) {
  const llvm::json::Value *value = object.get(key);
  if (!value)
    return true;
  const llvm::json::Array *array = value->getAsArray();
  if (!array)
    return false;
  out.clear();
  for (const llvm::json::Value &element : *array) {
    std::optional<double> number = element.getAsNumber();
    if (!number)
      return false;
    out.push_back(static_cast<T>(*number));
  }
  return true;
}

std::optional<CalibrationStats>
CalibrationStats::read(const std::string &dir, std::string &error) {
  llvm::SmallString<256> path(dir);
  llvm::sys::path::append(path, "stats.json");
  std::string file(path);
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer) {
    error = file + ": " + buffer.getError().message();
    return std::nullopt;
  }
  llvm::Expected<llvm::json::Value> parsed =
      llvm::json::parse((*buffer)->getBuffer());
  if (!parsed) {
    error = file + ": " + llvm::toString(parsed.takeError());
    return std::nullopt;
  }
  const llvm::json::Object *root = parsed->getAsObject();
  const llvm::json::Object *entries =
      root ? root->getObject("tensors") : nullptr;
  if (!entries) {
    error = file + ": expected an object with \"tensors\"";
    return std::nullopt;
  }
  CalibrationStats result;
  result.samples = root->getInteger("samples").value_or(0);
  for (const auto &[key, value] : *entries) {
    std::string name = key.str();
    const llvm::json::Object *entry = value.getAsObject();
    auto bad = [&](const char *what) {
      error = file + ": tensor '" + name + "': " + what;
      return std::nullopt;
    };
    if (!entry)
      return bad("expected an object");
    TensorStats &stats = result.tensors[name];
    stats.observations = entry->getInteger("observations").value_or(0);
    stats.rows = entry->getInteger("rows").value_or(0);
    std::optional<int64_t> channels = entry->getInteger("channels");
    if (!channels || *channels <= 0)
      return bad("\"channels\" must be a positive integer");
    stats.channels = *channels;
    stats.min = entry->getNumber("min").value_or(0);
    stats.max = entry->getNumber("max").value_or(0);
    stats.amax = entry->getNumber("amax").value_or(
        std::max(std::fabs(stats.min), std::fabs(stats.max)));
    stats.histogramRange = entry->getNumber("histogram_range").value_or(0);
    if (!readNumbers(*entry, "channel_amax", stats.channelAmax) ||
        !readNumbers(*entry, "channel_mean", stats.channelMean) ||
        !readNumbers(*entry, "channel_mean_square", stats.channelMeanSquare) ||
        !readNumbers(*entry, "channel_min", stats.channelMin) ||
        !readNumbers(*entry, "channel_max", stats.channelMax) ||
        !readNumbers(*entry, "histogram", stats.histogram))
      return bad("expected arrays of numbers");
    auto sized = [&](const auto &v) {
      return v.empty() || static_cast<int64_t>(v.size()) == stats.channels;
    };
    if (!sized(stats.channelAmax) || !sized(stats.channelMean) ||
        !sized(stats.channelMeanSquare) || !sized(stats.channelMin) ||
        !sized(stats.channelMax))
      return bad("per-channel arrays must have \"channels\" entries");
    if (!stats.histogram.empty() &&
        (stats.histogram.size() != kHistogramBins || !(stats.histogramRange > 0)))
      return bad("\"histogram\" needs 2048 counts and a positive "
                 "\"histogram_range\"");
    if (std::optional<llvm::StringRef> xtxFile = entry->getString("xtx")) {
      llvm::SmallString<256> xtxPath(dir);
      llvm::sys::path::append(xtxPath, *xtxFile);
      std::optional<HostTensor> tensor = readNpy(std::string(xtxPath), error);
      if (!tensor)
        return std::nullopt;
      // [columns, columns], or [groups, columns, columns] (a grouped
      // convolution's patches); columns differ from channels for patches.
      const std::vector<int64_t> &shape = tensor->shape;
      size_t rank = shape.size();
      if (tensor->dtype != DType::F64 || (rank != 2 && rank != 3) ||
          shape[rank - 1] != shape[rank - 2] || shape[rank - 1] <= 0 ||
          (rank == 3 && shape[0] <= 0)) {
        error = std::string(xtxPath) +
                ": expected f64 [columns, columns] or [groups, columns, "
                "columns]";
        return std::nullopt;
      }
      stats.hessianColumns = shape[rank - 1];
      stats.hessianGroups = rank == 3 ? shape[0] : 1;
      stats.xtx.resize(stats.hessianGroups * stats.hessianColumns *
                       stats.hessianColumns);
      std::memcpy(stats.xtx.data(), tensor->bytes.data(),
                  stats.xtx.size() * sizeof(double));
    }
  }
  return result;
}
