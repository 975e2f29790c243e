//===- Layout.cpp - Byte layouts of packed tensors ------------------------===//
//
// See Layout.h for the byte order of each layout. Packing goes through a
// QuantizedTensor, so the codes and raw scales are the format library's own;
// nothing here knows what a code means.
//
//===----------------------------------------------------------------------===//

#include "quantc/Formats/Layout.h"

#include <cmath>
#include <cstring>

namespace quantc {

namespace {

constexpr int64_t kChunkBytes = 64;
constexpr int64_t kTileColumns = 16;

struct LayoutKind {
  const char *name;
  /// Bits of the codes the layout holds (0: any from 1 to 8).
  int codeBits;
  int64_t kPerChunk;
  /// For byte j of a dword: which k (0..3) of the group of 4 it holds.
  int kOrder[4];
  /// x86_n16k8_s32: E4M3 scales of 16-blocks folded in pairs (Layout.h).
  bool scalePairs = false;
  /// x86_n16k4_d6: the 64 codes of a chunk as 6-bit fields in 48 bytes.
  bool dense6 = false;
  /// x86_n16k8_si: each block's scales after its chunks.
  bool inlineScales = false;
  /// The _ob layouts: every code with its top bit inverted (Layout.h).
  bool offsetCodes = false;
  /// x86_n16k8_sid: the inline scale line holds one dword per column.
  bool columnScales = false;
};

const LayoutKind kX86Layouts[] = {
    {"x86_n16k8", 4, 8, {0, 1, 2, 3}},
    {"x86_n16k8p", 4, 8, {0, 2, 1, 3}},
    {"x86_n16k4", 0, 4, {0, 1, 2, 3}},
    {"x86_n16k8_s32", 4, 8, {0, 1, 2, 3}, true},
    {"x86_n16k4_d6", 6, 4, {0, 1, 2, 3}, false, true},
    {"x86_n16k8_si", 4, 8, {0, 1, 2, 3}, false, false, true},
    {"x86_n16k8_ob", 4, 8, {0, 1, 2, 3}, false, false, false, true},
    {"x86_n16k8_s32_ob", 4, 8, {0, 1, 2, 3}, true, false, false, true},
    {"x86_n16k8_si_ob", 4, 8, {0, 1, 2, 3}, false, false, true, true},
    {"x86_n16k8_sid", 4, 8, {0, 1, 2, 3}, false, false, true, false, true},
    {"x86_n16k8_sid_ob", 4, 8, {0, 1, 2, 3}, false, false, true, true, true},
};

/// Bytes of one chunk of 64 codes.
int64_t chunkBytesOf(const LayoutKind &kind) {
  return kind.dense6 ? 48 : kChunkBytes;
}

/// x86_n16k8_s32: bytes of one tile's pair multipliers per 32 of K (16
/// columns x two u8) and of one f32 factor (one per 32 of K, after the
/// tiles).
constexpr int64_t kPairBytes = 32;
constexpr int64_t kFactorBytes = 4;

const LayoutKind *findLayout(const std::string &name) {
  for (const LayoutKind &kind : kX86Layouts)
    if (name == kind.name)
      return &kind;
  return nullptr;
}

int64_t roundUp(int64_t value, int64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

/// x86_n16k8_si: scale indices along K whose 16 columns' scales fill one
/// 64-byte line (1 for 4-byte scales, 4 for E8M0 / E4M3).
int64_t inlineScaleGroups(const Format &format) {
  return std::max<int64_t>(1, 32 / scaleBits(format.scaleType));
}

/// The reason `format` on `shape` cannot use `kind`, or "".
std::string checkX86Layout(const LayoutKind &kind,
                           const std::vector<int64_t> &shape,
                           const Format &format) {
  std::string name = kind.name;
  if (shape.size() != 2)
    return "layout '" + name + "' holds weights [N, K] (rank 2), got rank " +
           std::to_string(shape.size());
  if (shape[0] <= 0 || shape[1] <= 0)
    return "layout '" + name + "' needs a non-empty shape";
  int axis = format.axis < 0 ? format.axis + 2 : format.axis;
  if (format.granularity != Granularity::PerAxis &&
      format.granularity != Granularity::Block)
    return "layout '" + name +
           "' needs one scale per column or blocks along K";
  if (axis != 1)
    return "layout '" + name + "' needs the format quantized along K (axis -1)";
  if (!format.symmetric)
    return "layout '" + name + "' holds symmetric formats only (no zero points)";
  if (kind.codeBits && format.element.bits != kind.codeBits)
    return "layout '" + name + "' holds " + std::to_string(kind.codeBits) +
           "-bit codes, the format has " + std::to_string(format.element.bits);
  if (format.element.bits > 8)
    return "layout '" + name + "' holds codes of at most 8 bits";
  if (kind.scalePairs &&
      (format.granularity != Granularity::Block || format.blockSize != 16 ||
       format.scaleType != ScaleType::E4M3))
    return "layout '" + name + "' holds blocks of 16 with E4M3 scales";
  if (kind.scalePairs && shape[1] % 32 != 0)
    return "layout '" + name + "' needs K a multiple of 32, got " +
           std::to_string(shape[1]);
  if (kind.inlineScales) {
    if (format.granularity != Granularity::Block)
      return "layout '" + name + "' holds blocks along K";
    if (kind.columnScales && scaleBits(format.scaleType) != 8)
      return "layout '" + name + "' holds one-byte scales (E8M0, E4M3)";
    int64_t perLine = inlineScaleGroups(format);
    if (shape[1] % (format.blockSize * perLine) != 0)
      return "layout '" + name + "' needs K a multiple of " +
             std::to_string(format.blockSize * perLine) +
             " (the scales of " + std::to_string(perLine) +
             " blocks fill a 64-byte line), got " + std::to_string(shape[1]);
  }
  if (format.granularity == Granularity::Block &&
      format.blockSize % kind.kPerChunk != 0)
    return "layout '" + name + "' needs blocks that are a multiple of " +
           std::to_string(kind.kPerChunk) + ", the format has " +
           std::to_string(format.blockSize);
  return "";
}

LayoutGeometry computeGeometry(const LayoutKind &kind,
                               const std::vector<int64_t> &shape,
                               const Format &format) {
  LayoutGeometry g;
  int64_t n = shape[0], k = shape[1];
  g.kPerChunk = kind.kPerChunk;
  g.tileColumns = kTileColumns;
  g.numTiles = (n + kTileColumns - 1) / kTileColumns;
  g.paddedK = roundUp(k, kind.kPerChunk);
  g.scalesPerColumn =
      format.granularity == Granularity::Block ? k / format.blockSize : 1;
  g.scaleBytes = scaleBits(format.scaleType) / 8;
  g.scaleColumnStride = g.scaleBytes;
  g.chunkBytes = chunkBytesOf(kind);
  g.codeBytesPerTile = g.paddedK / kind.kPerChunk * g.chunkBytes;
  g.scaleBytesPerTile = g.scalesPerColumn * kTileColumns * g.scaleBytes;
  if (kind.scalePairs) {
    // One u8 multiplier per scale; per 64 of K the two 32s' multipliers
    // (one line) and then their 8 chunks.
    g.scaleBytes = 1;
    g.scaleBytesPerTile = g.paddedK / 32 * kPairBytes;
    g.chunksPerScaleBlock = 64 / kind.kPerChunk;
    g.blockStride = kChunkBytes + g.chunksPerScaleBlock * g.chunkBytes;
    g.blockCodeOffset = kChunkBytes;
    g.scaleGroupsPerBlock = 2;
    g.scaleGroupBytes = kPairBytes;
  }
  if (kind.inlineScales) {
    // Blocks are multiples of kPerChunk and the 16 columns' scales of
    // scaleGroupsPerBlock blocks are one line, so every chunk stays 64-byte
    // aligned. The scale line comes first: a kernel reads it before the
    // blocks' chunks, so the tile's lines are read in address order.
    g.scaleGroupsPerBlock = inlineScaleGroups(format);
    g.chunksPerScaleBlock =
        format.blockSize / kind.kPerChunk * g.scaleGroupsPerBlock;
    g.scaleGroupBytes = kTileColumns * g.scaleBytes;
    if (kind.columnScales) {
      // Column c's scales of the G blocks are the bytes of dword c.
      g.scaleGroupBytes = g.scaleBytes;
      g.scaleColumnStride = g.scaleGroupsPerBlock * g.scaleBytes;
    }
    g.blockCodeOffset = kChunkBytes;
    g.blockStride = kChunkBytes + g.chunksPerScaleBlock * g.chunkBytes;
  }
  if (kind.offsetCodes)
    g.codeXor = 0x88; // both nibbles of every byte
  g.tileBytes = roundUp(g.codeBytesPerTile + g.scaleBytesPerTile, kChunkBytes);
  g.totalBytes = g.numTiles * g.tileBytes;
  if (kind.scalePairs) {
    g.pairFactorOffset = g.totalBytes;
    g.totalBytes += g.paddedK / 32 * kFactorBytes;
  }
  if (format.secondLevelScale) {
    g.tensorScaleOffset = g.totalBytes;
    g.totalBytes += 4;
  }
  return g;
}

/// Byte offset and nibble shift (0 or 4; 0 for byte codes) of code (n, k);
/// for 6-bit fields (x86_n16k4_d6) the bit offset and -1.
struct CodePlace {
  int64_t byte;
  int shift;
};

CodePlace placeCode(const LayoutKind &kind, const LayoutGeometry &g, int64_t n,
                    int64_t k) {
  int64_t tile = n / kTileColumns, column = n % kTileColumns;
  if (kind.scalePairs) {
    // Per 32 of K, 4 chunks: chunk 2 kk + set holds the columns of `set`
    // ({0,1,4,5,8,9,12,13} or {2,3,6,7,10,11,14,15}), dword 2 i + h the
    // half h (k 0..15 or 16..31) of the set's column i, its 8 k from 8 kk.
    int64_t block = k / 32, inBlock = k % 32;
    int64_t half = inBlock / 16, kk = (inBlock % 16) / 8, inChunk = inBlock % 8;
    int64_t set = (column / 2) % 2, i = (column / 4) * 2 + column % 2;
    int64_t chunk = block * 4 + 2 * kk + set;
    return {tile * g.tileBytes + chunkOffsetInTile(g, chunk) +
                4 * (2 * i + half) + inChunk % 4,
            inChunk >= 4 ? 4 : 0};
  }
  int64_t chunk = k / kind.kPerChunk, inChunk = k % kind.kPerChunk;
  int64_t group = inChunk % 4; // k within its dword
  int shift = (kind.kPerChunk == 8 && inChunk >= 4) ? 4 : 0;
  int j = 0;
  while (kind.kOrder[j] != group)
    ++j;
  if (kind.dense6) // the bit offset of the code
    return {8 * (tile * g.tileBytes + chunk * g.chunkBytes) +
                6 * (4 * column + j),
            -1};
  return {tile * g.tileBytes + chunkOffsetInTile(g, chunk) + 4 * column + j,
          shift};
}

int64_t scaleOffset(const LayoutGeometry &g, int64_t n, int64_t s) {
  int64_t tile = n / kTileColumns, column = n % kTileColumns;
  return tile * g.tileBytes + scaleOffsetInTile(g, s) +
         column * g.scaleColumnStride;
}

/// An E4M3 scale as M * 2^E with an integer M (0..15): normal codes
/// (8 + m) * 2^(e - 10), subnormal ones m * 2^-9.
struct IntegerScale {
  int32_t mantissa;
  int exponent;
};

IntegerScale integerScale(uint32_t raw) {
  uint32_t e = (raw >> 3) & 0xF, m = raw & 7;
  return {static_cast<int32_t>(e ? 8 + m : m), static_cast<int>(e ? e : 1) - 10};
}

/// x86_n16k8_s32 scales: for every 32 of K, F = 2^Emin over all non-zero
/// scales of that 32 of K (every row), and per row the multipliers
/// A = M0 2^(E0 - Emin), B = M1 2^(E1 - Emin) of its two 16-blocks, so that
/// s0 d0 + s1 d1 = F (A d0 + B d1). Fails (false) for scales the kernels
/// cannot fold exactly: NaN, negative, or a multiplier above 255 (scales of
/// one 32 of K more than about 2^4 apart).
bool packScalePairs(const QuantizedTensor &q, const LayoutGeometry &g,
                    std::vector<uint8_t> &bytes) {
  int64_t n = q.shape[0], pairs = g.paddedK / 32, perColumn = g.scalesPerColumn;
  for (uint32_t raw : q.scales)
    if (raw >= 0x7F)
      return false;
  for (int64_t pair = 0; pair < pairs; ++pair) {
    int minExponent = 1000;
    for (int64_t row = 0; row < n; ++row)
      for (int64_t half = 0; half < 2; ++half) {
        IntegerScale s = integerScale(q.scales[row * perColumn + 2 * pair + half]);
        if (s.mantissa != 0)
          minExponent = std::min(minExponent, s.exponent);
      }
    if (minExponent == 1000)
      minExponent = 0; // no non-zero scale: any factor
    for (int64_t row = 0; row < n; ++row) {
      int64_t tile = row / kTileColumns, column = row % kTileColumns;
      int64_t base = tile * g.tileBytes + scaleOffsetInTile(g, pair);
      for (int64_t half = 0; half < 2; ++half) {
        IntegerScale s = integerScale(q.scales[row * perColumn + 2 * pair + half]);
        int shift = s.exponent - minExponent;
        if (s.mantissa != 0 && (shift > 7 || (s.mantissa << shift) > 255))
          return false;
        bytes[base + column * 2 + half] =
            static_cast<uint8_t>(s.mantissa == 0 ? 0 : s.mantissa << shift);
      }
    }
    float factor = std::ldexp(1.0f, minExponent);
    std::memcpy(&bytes[g.pairFactorOffset + pair * kFactorBytes], &factor, 4);
  }
  return true;
}

bool unpackScalePairs(const uint8_t *bytes, const LayoutGeometry &g,
                      QuantizedTensor &q, std::string &error) {
  int64_t n = q.shape[0], pairs = g.paddedK / 32, perColumn = g.scalesPerColumn;
  for (int64_t row = 0; row < n; ++row) {
    int64_t tile = row / kTileColumns, column = row % kTileColumns;
    for (int64_t pair = 0; pair < pairs; ++pair) {
      int64_t base = tile * g.tileBytes + scaleOffsetInTile(g, pair);
      float factor;
      std::memcpy(&factor, bytes + g.pairFactorOffset + pair * kFactorBytes, 4);
      for (int64_t half = 0; half < 2; ++half) {
        int32_t multiplier = bytes[base + column * 2 + half];
        float value = static_cast<float>(multiplier) * factor;
        uint32_t raw = encodeScale(value, ScaleType::E4M3);
        if (decodeScale(raw, ScaleType::E4M3) != value) {
          error = "packed scale pair of row " + std::to_string(row) +
                  " is not an E4M3 value";
          return false;
        }
        q.scales[row * perColumn + 2 * pair + half] = raw;
      }
    }
  }
  return true;
}

//===----------------------------------------------------------------------===//
// nv_sf128x4: NVIDIA's block-scale factor layout (Layout.h)
//===----------------------------------------------------------------------===//

constexpr const char *kNvScaleLayout = "nv_sf128x4";
constexpr int64_t kNvScaleTileRows = 128, kNvScaleTileColumns = 4,
                  kNvScaleTileBytes = kNvScaleTileRows * kNvScaleTileColumns;

std::string checkNvScaleLayout(const std::vector<int64_t> &shape,
                               const Format &format) {
  int64_t axis = format.axis < 0 ? format.axis + 2 : format.axis;
  if (shape.size() != 2 || format.granularity != Granularity::Block ||
      axis != 1)
    return std::string(kNvScaleLayout) +
           " holds a 2-d weight [N, K] quantized in blocks along K";
  if (scaleBits(format.scaleType) != 8 || !format.symmetric)
    return std::string(kNvScaleLayout) +
           " holds symmetric formats with one-byte scales (E8M0, E4M3)";
  return "";
}

LayoutGeometry nvScaleGeometry(const std::vector<int64_t> &shape,
                               const Format &format) {
  LayoutGeometry g;
  int64_t n = shape[0], k = shape[1];
  g.scalesPerColumn = k / format.blockSize;
  g.scaleBytes = 1;
  g.scaleColumnStride = 1;
  g.codeBytesPerTile = (n * k * format.element.bits + 7) / 8; // all codes
  int64_t rowTiles = roundUp(n, kNvScaleTileRows) / kNvScaleTileRows;
  int64_t columnTiles =
      roundUp(g.scalesPerColumn, kNvScaleTileColumns) / kNvScaleTileColumns;
  g.numTiles = rowTiles * columnTiles;
  g.scaleBytesPerTile = kNvScaleTileBytes;
  g.tileBytes = kNvScaleTileBytes;
  int64_t scaleStart = roundUp(g.codeBytesPerTile, 16);
  g.totalBytes = scaleStart + g.numTiles * kNvScaleTileBytes;
  if (format.secondLevelScale) {
    g.tensorScaleOffset = g.totalBytes;
    g.totalBytes += 4;
  }
  return g;
}

/// Byte of scale (row, s) in nv_sf128x4.
int64_t nvScaleOffset(const LayoutGeometry &g, int64_t row, int64_t s) {
  int64_t columnTiles =
      roundUp(g.scalesPerColumn, kNvScaleTileColumns) / kNvScaleTileColumns;
  int64_t tile = (row / kNvScaleTileRows) * columnTiles +
                 s / kNvScaleTileColumns;
  int64_t r = row % kNvScaleTileRows, c = s % kNvScaleTileColumns;
  return roundUp(g.codeBytesPerTile, 16) + tile * kNvScaleTileBytes +
         (r % 32) * 16 + (r / 32) * 4 + c;
}

} // namespace

int64_t chunkOffsetInTile(const LayoutGeometry &g, int64_t chunk) {
  if (g.chunksPerScaleBlock == 0)
    return chunk * g.chunkBytes;
  return chunk / g.chunksPerScaleBlock * g.blockStride + g.blockCodeOffset +
         chunk % g.chunksPerScaleBlock * g.chunkBytes;
}

int64_t scaleOffsetInTile(const LayoutGeometry &g, int64_t s) {
  if (g.chunksPerScaleBlock == 0)
    return g.codeBytesPerTile + s * kTileColumns * g.scaleBytes;
  return s / g.scaleGroupsPerBlock * g.blockStride + g.blockScaleOffset +
         s % g.scaleGroupsPerBlock * g.scaleGroupBytes;
}

std::vector<std::string> knownLayouts() {
  std::vector<std::string> names = {"canonical"};
  for (const LayoutKind &kind : kX86Layouts)
    names.push_back(kind.name);
  names.push_back(kNvScaleLayout);
  return names;
}

std::string verifyLayout(const std::string &layout,
                         const std::vector<int64_t> &shape,
                         const Format &format) {
  if (layout == "canonical")
    return "";
  if (layout == kNvScaleLayout) {
    std::string error;
    if (!scaleShape(shape, format, error))
      return error;
    return checkNvScaleLayout(shape, format);
  }
  const LayoutKind *kind = findLayout(layout);
  if (!kind) {
    std::string known;
    for (const std::string &name : knownLayouts())
      known += (known.empty() ? "" : ", ") + name;
    return "unknown packed layout '" + layout + "' (known: " + known + ")";
  }
  std::string error;
  if (!scaleShape(shape, format, error))
    return error;
  return checkX86Layout(*kind, shape, format);
}

std::optional<LayoutGeometry> layoutGeometry(const std::string &layout,
                                             const std::vector<int64_t> &shape,
                                             const Format &format,
                                             std::string &error) {
  if (layout == kNvScaleLayout) {
    error = verifyLayout(layout, shape, format);
    if (!error.empty())
      return std::nullopt;
    return nvScaleGeometry(shape, format);
  }
  const LayoutKind *kind = findLayout(layout);
  if (!kind) {
    error = layout == "canonical" ? "the canonical layout has no tile geometry"
                                  : "unknown packed layout '" + layout + "'";
    return std::nullopt;
  }
  error = verifyLayout(layout, shape, format);
  if (!error.empty())
    return std::nullopt;
  return computeGeometry(*kind, shape, format);
}

std::optional<int64_t> layoutSizeInBytes(const std::string &layout,
                                         const std::vector<int64_t> &shape,
                                         const Format &format,
                                         std::string &error) {
  if (layout == "canonical")
    return packedSizeInBytes(shape, format, error);
  std::optional<LayoutGeometry> g = layoutGeometry(layout, shape, format, error);
  if (!g)
    return std::nullopt;
  return g->totalBytes;
}

std::vector<uint8_t> packLayout(const QuantizedTensor &q,
                                const std::string &layout) {
  if (layout == "canonical")
    return pack(q);
  std::string error;
  std::optional<LayoutGeometry> g =
      layoutGeometry(layout, q.shape, q.format, error);
  if (!g)
    return {};
  if (layout == kNvScaleLayout) {
    std::vector<uint8_t> canonical = pack(q);
    std::vector<uint8_t> bytes(g->totalBytes, 0);
    std::memcpy(bytes.data(), canonical.data(), g->codeBytesPerTile);
    int64_t rows = q.shape[0];
    for (int64_t row = 0; row < rows; ++row)
      for (int64_t s = 0; s < g->scalesPerColumn; ++s)
        bytes[nvScaleOffset(*g, row, s)] =
            static_cast<uint8_t>(q.scales[row * g->scalesPerColumn + s]);
    if (q.format.secondLevelScale)
      std::memcpy(&bytes[g->tensorScaleOffset], &q.tensorScale, 4);
    return bytes;
  }
  const LayoutKind &kind = *findLayout(layout);
  int64_t n = q.shape[0], k = q.shape[1];
  if (static_cast<int64_t>(q.codes.size()) != n * k ||
      static_cast<int64_t>(q.scales.size()) != n * g->scalesPerColumn)
    return {};
  std::vector<uint8_t> bytes(g->totalBytes, 0);
  const uint32_t mask = (1u << q.format.element.bits) - 1;
  for (int64_t row = 0; row < n; ++row)
    for (int64_t col = 0; col < k; ++col) {
      CodePlace place = placeCode(kind, *g, row, col);
      uint32_t code = q.codes[row * k + col] & mask;
      if (place.shift < 0) {
        int64_t byte = place.byte / 8, bit = place.byte % 8;
        bytes[byte] |= static_cast<uint8_t>(code << bit);
        if (bit > 2)
          bytes[byte + 1] |= static_cast<uint8_t>(code >> (8 - bit));
        continue;
      }
      bytes[place.byte] |= static_cast<uint8_t>(code << place.shift);
    }
  // Padding codes (columns past N, K past K) are zero codes too: flip the
  // whole chunks.
  if (g->codeXor)
    for (int64_t tile = 0; tile < g->numTiles; ++tile)
      for (int64_t chunk = 0; chunk < g->paddedK / g->kPerChunk; ++chunk) {
        int64_t base = tile * g->tileBytes + chunkOffsetInTile(*g, chunk);
        for (int64_t i = 0; i < g->chunkBytes; ++i)
          bytes[base + i] ^= g->codeXor;
      }
  if (kind.scalePairs) {
    if (!packScalePairs(q, *g, bytes))
      return {};
  } else {
    for (int64_t row = 0; row < n; ++row)
      for (int64_t s = 0; s < g->scalesPerColumn; ++s) {
        uint32_t raw = q.scales[row * g->scalesPerColumn + s];
        int64_t offset = scaleOffset(*g, row, s);
        for (int64_t b = 0; b < g->scaleBytes; ++b)
          bytes[offset + b] = static_cast<uint8_t>(raw >> (8 * b));
      }
  }
  if (q.format.secondLevelScale) {
    uint32_t raw;
    std::memcpy(&raw, &q.tensorScale, 4);
    for (int b = 0; b < 4; ++b)
      bytes[g->tensorScaleOffset + b] = static_cast<uint8_t>(raw >> (8 * b));
  }
  return bytes;
}

std::optional<QuantizedTensor>
unpackLayout(const uint8_t *bytes, size_t size, const std::string &layout,
             const std::vector<int64_t> &shape, const Format &format,
             std::string &error) {
  if (layout == "canonical")
    return unpack(bytes, size, shape, format, error);
  std::optional<LayoutGeometry> g = layoutGeometry(layout, shape, format, error);
  if (!g)
    return std::nullopt;
  if (static_cast<int64_t>(size) != g->totalBytes) {
    error = "packed " + printFormat(format) + " data in layout '" + layout +
            "' needs " + std::to_string(g->totalBytes) + " bytes, got " +
            std::to_string(size);
    return std::nullopt;
  }
  if (layout == kNvScaleLayout) {
    // The canonical bytes rebuilt: codes, scales in C order, tensor scale.
    std::string canonicalError;
    std::optional<int64_t> canonicalSize =
        packedSizeInBytes(shape, format, canonicalError);
    std::vector<uint8_t> canonical(canonicalSize.value_or(0), 0);
    std::memcpy(canonical.data(), bytes, g->codeBytesPerTile);
    int64_t rows = shape[0];
    for (int64_t row = 0; row < rows; ++row)
      for (int64_t s = 0; s < g->scalesPerColumn; ++s)
        canonical[g->codeBytesPerTile + row * g->scalesPerColumn + s] =
            bytes[nvScaleOffset(*g, row, s)];
    if (format.secondLevelScale)
      std::memcpy(&canonical[canonical.size() - 4],
                  bytes + g->tensorScaleOffset, 4);
    return unpack(canonical.data(), canonical.size(), shape, format, error);
  }
  const LayoutKind &kind = *findLayout(layout);
  int64_t n = shape[0], k = shape[1];
  QuantizedTensor q;
  q.shape = shape;
  q.format = format;
  q.codes.resize(n * k);
  q.scales.resize(n * g->scalesPerColumn);
  const uint32_t mask = (1u << format.element.bits) - 1;
  for (int64_t row = 0; row < n; ++row)
    for (int64_t col = 0; col < k; ++col) {
      CodePlace place = placeCode(kind, *g, row, col);
      if (place.shift < 0) {
        int64_t byte = place.byte / 8, bit = place.byte % 8;
        uint32_t word = bytes[byte] | (bit > 2 ? bytes[byte + 1] << 8 : 0);
        q.codes[row * k + col] = static_cast<uint8_t>((word >> bit) & mask);
        continue;
      }
      uint8_t byte = bytes[place.byte] ^ g->codeXor;
      q.codes[row * k + col] = static_cast<uint8_t>((byte >> place.shift) & mask);
    }
  if (kind.scalePairs) {
    if (!unpackScalePairs(bytes, *g, q, error))
      return std::nullopt;
  } else {
    for (int64_t row = 0; row < n; ++row)
      for (int64_t s = 0; s < g->scalesPerColumn; ++s) {
        int64_t offset = scaleOffset(*g, row, s);
        uint32_t raw = 0;
        for (int64_t b = 0; b < g->scaleBytes; ++b)
          raw |= static_cast<uint32_t>(bytes[offset + b]) << (8 * b);
        q.scales[row * g->scalesPerColumn + s] = raw;
      }
  }
  if (format.secondLevelScale) {
    uint32_t raw = 0;
    for (int b = 0; b < 4; ++b)
      raw |= static_cast<uint32_t>(bytes[g->tensorScaleOffset + b]) << (8 * b);
    std::memcpy(&q.tensorScale, &raw, 4);
  }
  return q;
}

} // namespace quantc
