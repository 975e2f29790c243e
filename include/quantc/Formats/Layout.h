//===- Layout.h - Byte layouts of packed tensors -----------------*- C++ -*-===//
//
// A packed tensor's bytes can be arranged in more than one way. The format
// library's pack()/unpack() define the `canonical` layout; target lowerings
// choose others that their kernels load with fewer instructions, and name the
// choice in the type (`!qc.packed<4096x4096, mxfp4, layout = x86_n16k8>`).
// Every layout here holds exactly the codes and raw scales of a
// QuantizedTensor, so moving between layouts never re-quantizes: it is a
// permutation of codes and scales plus zero padding (and, in the _ob
// layouts, a fixed bit flip of every code). No MLIR here.
//
// The x86 layouts serve the kernels of qc-lower-cpu (lib/Conversion/QcToCPU).
// They apply to a weight [N, K] quantized along K (symmetric, per-axis or in
// blocks). Columns (rows of W, outputs of y = x * W^T) are grouped in tiles of
// 16; a tile is self-contained and starts at a multiple of 64 bytes:
//
//   tile t (columns 16t .. 16t+15; missing columns are zero codes):
//     codes:  Kp / kc chunks of 64 bytes, kc = 8 (4-bit codes) or 4
//     scales: for every scale s along K, for every column c of the tile: the
//             raw scale, scaleBits/8 bytes little-endian (missing columns 0)
//     zero bytes up to a multiple of 64
//   after the last tile: x86_n16k8_s32's factors (below), then the f32
//   tensor scale (second-level formats only)
//
// Kp is K rounded up to kc (per-axis formats only; blocks are multiples of
// kc); the codes beyond K are zero. Inside a 64-byte chunk g, byte 4i + j
// belongs to column i of the tile:
//
//   x86_n16k8   4-bit codes: low nibble = k 8g+j, high nibble = k 8g+4+j.
//               With vpdpbusd, the low and high nibbles of a chunk are two
//               16-column x 4-k operands; with vpermps, a shift selects one k
//               in every dword.
//   x86_n16k8p  4-bit codes, pairs for vdpbf16ps: byte j holds k 8g+p(j)
//               (low) and 8g+4+p(j) (high) with p = (0, 2, 1, 3), so that the
//               16-bit halves of a dword shifted by 0, 8, 4, 12 hold the k
//               pairs (0,1), (2,3), (4,5), (6,7) of one column.
//   x86_n16k4   codes of up to 8 bits, one per byte: byte 4i + j = k 4g+j.
//   x86_n16k4_d6
//               6-bit codes (MXFP6), dense: as x86_n16k4, but the 64 codes of
//               a chunk (code e = 4i + j of x86_n16k4's byte order) are the
//               6-bit field at bits 6e .. 6e+5 of 48 little-endian bytes, and
//               chunks follow each other every 48 bytes (6.25 bits per weight
//               with E8M0 scales instead of 8.25). Qword q of x86_n16k4's
//               chunk is bytes 6q .. 6q+5 here, its byte r at bit 6r: a
//               vpermb and a vpmultishiftqb (VBMI) unpack a chunk.
//   x86_n16k8_s32
//               4-bit codes in blocks of 16 with E4M3 scales (NVFP4, NVINT4),
//               K a multiple of 32, laid out so that the two 16-blocks of a
//               32 of K take one scale epilogue. Per 32 of K (block b), 4
//               chunks; chunk 4b + 2kk + set holds the 8 columns of `set`
//               (0: {0,1,4,5,8,9,12,13}, 1: {2,3,6,7,10,11,14,15}); dword
//               2i + h is half h (k 32b+16h .. +15) of the set's column i, its
//               byte j k 32b+16h+8kk+j (low nibble) and +4 (high nibble). So
//               a dot product chain per set holds both halves of 8 columns in
//               adjacent dwords, and vpackssdw of the two sets' chains puts
//               half 0 and half 1 of column c in the two words of dword c.
//               Scales, per 32 of K: 32 bytes, byte 2c + h the integer
//               multiplier of half h of column c, inline: per 64 of K the
//               two 32s' multipliers (64 bytes; 32 and 32 zero bytes for a
//               last 32) then their 8 chunks, so a tile is one stream of
//               lines (as x86_n16k8_si); after the last tile one f32
//               factor F per 32 of K (then the tensor scale). An E4M3 scale
//               is M 2^E (M integer, 0..15); F = 2^Emin over all non-zero
//               scales of that 32 of K (every row) and the multiplier is
//               M 2^(E - Emin) <= 255, so vpmovzxbw + vpmaddwd give
//               s0 d0 + s1 d1 = F (A d0 + B d1) exactly, and F times the
//               activation scale is one product per row. 4.5 bits per weight
//               as x86_n16k8. packLayout fails (empty) for NaN or negative
//               scales and for multipliers above 255 (scales of one 32 of K
//               more than about 2^4 apart); kernels then use x86_n16k8.
//   x86_n16k8_si
//               x86_n16k8 with the scales inline: per group of G blocks along
//               K (G = 1 for 4-byte scales, e.g. INT4 g32 with f32 scales; 2
//               for 2-byte; 4 for E8M0 / E4M3, e.g. MXFP4 per 128 of K) the
//               16 columns' scales of its G blocks (one 64-byte line, block
//               by block), then the group's chunks, so a tile is one
//               sequential stream of 64-byte lines instead of a code stream
//               and a scale stream (a GEMV that streams its weights from DRAM
//               reads half as many streams per tile), read in address order
//               (a scale line after its chunks made MXFP4 GEMVs 40 % slower
//               from DRAM). K a multiple of G blocks.
//   x86_n16k8_sid
//               x86_n16k8_si for one-byte scales (4 blocks per line) with
//               the line's 64 bytes a dword per column: byte 4c + j is column
//               c's scale of the group's block j. A kernel loads the line at
//               offset j as 16 dwords and finds block j's scales in their low
//               bytes (an E8M0 scale is then a shift and a mask from an f32,
//               where block-by-block bytes need a widening shuffle first).
//   x86_n16k8_ob, x86_n16k8_s32_ob, x86_n16k8_si_ob, x86_n16k8_sid_ob
//               the same with every code's top bit inverted (code ^ 8; every
//               chunk byte XOR 0x88, padding codes included): two's
//               complement INT4 codes become offset binary, w + 8, which the
//               integer kernels (vpdpbusd with unsigned weight bytes) take
//               after a mask, instead of a XOR per nibble whose destructive
//               vpternlogd also costs a register copy (W4A16 GEMVs 17 %
//               faster per line on Zen 4).
//
// The NVIDIA layout serves block-scaled tensor-core MMAs that read scale
// factors in 128 x 4 tiles (tcgen05.mma block_scale through tcgen05.cp,
// cuBLASLt's block-scaled GEMMs); it applies to a weight [N, K] in blocks
// along K with one-byte scales (E8M0, E4M3):
//
//   nv_sf128x4  codes as in the canonical layout (the bit stream of W in C
//               order), zero bytes up to a multiple of 16, then the [N, S]
//               scale grid (S = K / block) in tiles of 128 rows x 4 scales,
//               tile (i, j) (rows 128i.., scales 4j..) at 512 (i ceil(S/4) +
//               j), scale (r, c) of a tile at byte (r % 32) 16 + (r / 32) 4 +
//               c; rows past N and scales past S are zero; then the f32
//               tensor scale (second-level formats only).
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_FORMATS_LAYOUT_H
#define QUANTC_FORMATS_LAYOUT_H

#include "quantc/Formats/Format.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace quantc {

/// The geometry of a layout for one shape and format.
struct LayoutGeometry {
  /// Codes per byte lane of a chunk (8 for the 4-bit layouts, else 4).
  int64_t kPerChunk = 0;
  /// Bytes of one chunk of 16 columns x kPerChunk codes (48 for
  /// x86_n16k4_d6, else 64).
  int64_t chunkBytes = 64;
  /// Columns per tile.
  int64_t tileColumns = 16;
  int64_t numTiles = 0;
  /// K rounded up to kPerChunk.
  int64_t paddedK = 0;
  /// Scales along K per column (1 for per-axis formats).
  int64_t scalesPerColumn = 0;
  int64_t scaleBytes = 0;
  /// Bytes of one tile's codes, of its scales, and of the whole tile (padded).
  int64_t codeBytesPerTile = 0;
  int64_t scaleBytesPerTile = 0;
  int64_t tileBytes = 0;
  /// Layouts with scales inline (x86_n16k8_si, x86_n16k8_s32): a tile is a
  /// sequence of blocks of `blockStride` bytes, each `chunksPerScaleBlock`
  /// chunks from `blockCodeOffset` and `scaleGroupsPerBlock` groups of
  /// `scaleGroupBytes` (the 16 columns' scales of one scale index) from
  /// `blockScaleOffset`. chunksPerScaleBlock 0: the scales follow the codes.
  int64_t chunksPerScaleBlock = 0;
  int64_t blockStride = 0;
  int64_t blockCodeOffset = 0;
  int64_t blockScaleOffset = 0;
  int64_t scaleGroupsPerBlock = 1;
  int64_t scaleGroupBytes = 0;
  /// Bytes from one column's scale to the next's (scaleBytes, except in
  /// x86_n16k8_sid: 4, a dword per column).
  int64_t scaleColumnStride = 0;
  /// x86_n16k8_s32: offset of the f32 factors, one per 32 of K, else -1.
  int64_t pairFactorOffset = -1;
  /// Offset of the f32 tensor scale (secondLevelScale only), else -1.
  int64_t tensorScaleOffset = -1;
  int64_t totalBytes = 0;
  /// XORed into every byte of the chunks (0x88 in the _ob layouts, else 0).
  uint8_t codeXor = 0;
};

/// Offset in its tile of chunk `chunk`, and of the scale of column 0 for
/// scale `s` along K (the 16 columns' scales follow each other; for
/// x86_n16k8_s32 `s` is the 32 of K and the group its 32 multiplier bytes),
/// in an x86 layout.
int64_t chunkOffsetInTile(const LayoutGeometry &g, int64_t chunk);
int64_t scaleOffsetInTile(const LayoutGeometry &g, int64_t s);

/// Every layout name the library knows, "canonical" first.
std::vector<std::string> knownLayouts();

/// Checks that `layout` is known and can hold a tensor of `shape` in
/// `format`; returns an empty string if so, else a one-line reason.
std::string verifyLayout(const std::string &layout,
                         const std::vector<int64_t> &shape,
                         const Format &format);

/// The geometry of a non-canonical layout (std::nullopt and `error` set when
/// verifyLayout fails or the layout is canonical).
std::optional<LayoutGeometry> layoutGeometry(const std::string &layout,
                                             const std::vector<int64_t> &shape,
                                             const Format &format,
                                             std::string &error);

/// Size in bytes of a tensor of `shape` in `format` stored in `layout`.
std::optional<int64_t> layoutSizeInBytes(const std::string &layout,
                                         const std::vector<int64_t> &shape,
                                         const Format &format,
                                         std::string &error);

/// The bytes of `q` in `layout` (pack() for "canonical"). Empty if the
/// layout cannot hold q (x86_n16k8_s32: also when its scales do not fold).
std::vector<uint8_t> packLayout(const QuantizedTensor &q,
                                const std::string &layout);

/// Reads a tensor stored in `layout` (unpack() for "canonical").
std::optional<QuantizedTensor>
unpackLayout(const uint8_t *bytes, size_t size, const std::string &layout,
             const std::vector<int64_t> &shape, const Format &format,
             std::string &error);

} // namespace quantc

#endif // QUANTC_FORMATS_LAYOUT_H
