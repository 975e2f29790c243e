//===- Format.h - Low-bit number formats, bit-exact --------------*- C++ -*-===//
//
// The one description of every quantization format quantc knows. The dialect's
// #qc.format attribute, the folders, quant-tensor, the lowering passes and the
// kernels' reference paths all read formats through this header. No MLIR here.
//
// Semantics (see DESIGN.md "The format library"):
//  * Elements are integers (symmetric by default) or minifloats ExMy with
//    round-to-nearest-even and saturation to the largest finite value.
//  * A tensor is split along one axis into slices (per-axis) or blocks of N
//    (block); every slice/block has one scale; per-tensor has one scale.
//  * Power-of-two scales (E8M0) are chosen by floor / ceil / nearest rounding
//    of the block's exponent; f32/f16/bf16 scales map amax to the element max.
//  * NVFP4/NVINT4 carry an E4M3 block scale and an f32 second-level scale.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_FORMATS_FORMAT_H
#define QUANTC_FORMATS_FORMAT_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace quantc {

/// How a minifloat treats its all-ones exponent field.
enum class SpecialValues : uint8_t {
  /// Every code is a finite number (OCP FP4/FP6, FPGA minifloats).
  FiniteOnly,
  /// No infinities; only the all-ones code (S.1..1.1..1) is NaN (OCP E4M3).
  FiniteAndNaN,
  /// IEEE-754 style: exponent all ones is Inf (mantissa 0) or NaN (OCP E5M2).
  IEEE,
};

enum class ElementKind : uint8_t { Int, Float };

/// One element of a quantized tensor: an integer of `bits` bits or a
/// minifloat with `exponentBits`/`mantissaBits`.
struct ElementType {
  ElementKind kind = ElementKind::Int;
  /// Total bits of one code, 2..8 (sign included).
  int bits = 8;
  /// Integers: signed two's complement or unsigned.
  bool isSigned = true;
  /// Integers: number of fractional bits (MXINT8 elements are 1.6 fixed point,
  /// i.e. fractionBits = 6 and a code c means c / 64).
  int fractionBits = 0;
  /// Minifloats.
  int exponentBits = 0;
  int mantissaBits = 0;
  int bias = 0;
  SpecialValues special = SpecialValues::FiniteOnly;
  /// Values beyond the largest finite number clamp to it (true) or become
  /// Inf/NaN where the format has them (false).
  bool saturate = true;

  static ElementType integer(int bits, bool isSigned = true,
                             int fractionBits = 0);
  /// eXmY with the default bias 2^(X-1)-1 and the OCP convention for the
  /// special values of e4m3 (FiniteAndNaN) and e5m2 (IEEE); every other
  /// minifloat is FiniteOnly.
  static ElementType minifloat(int exponentBits, int mantissaBits);

  bool operator==(const ElementType &o) const;
  bool operator!=(const ElementType &o) const { return !(*this == o); }
};

enum class Granularity : uint8_t {
  PerTensor,
  /// One scale per slice along `axis` (per output channel for a weight
  /// [out, in] quantized along `in`).
  PerAxis,
  /// One scale per `blockSize` consecutive elements along `axis`.
  Block,
  /// One scale per blockSize x blockSize2 tile of the last two dims
  /// (blockSize along dim -2, blockSize2 along dim -1).
  Block2D,
};

enum class ScaleType : uint8_t { F32, F16, BF16, E8M0, E4M3 };

/// How a power-of-two (E8M0) scale exponent is chosen from a block's amax.
enum class ScaleRounding : uint8_t {
  /// OCP MX: floor(log2(amax)) - emax_elem. Never wastes range, may clip.
  Floor,
  /// Smallest exponent whose scaled element maximum covers amax. Never clips.
  Ceil,
  /// round(log2(amax / elementMax)), ties up.
  Nearest,
};

/// A complete quantization format. Plain value type: compare, hash, copy.
struct Format {
  ElementType element;
  Granularity granularity = Granularity::PerAxis;
  /// The quantized axis (blocks run along it); negative counts from the end.
  int axis = -1;
  int blockSize = 0;  // Block, Block2D
  int blockSize2 = 0; // Block2D
  ScaleType scaleType = ScaleType::F32;
  ScaleRounding scaleRounding = ScaleRounding::Floor;
  /// NVFP4-style per-tensor f32 scale over the block scales.
  bool secondLevelScale = false;
  /// Symmetric (no zero point) or asymmetric with a uint8 zero point per scale.
  bool symmetric = true;
  /// amax is multiplied by this before the scale is chosen (1 = minmax).
  float clipRatio = 1.0f;
  /// A calibrated amax (> 0) replaces the tensor's own amax: the per-tensor
  /// scale of a per-tensor format, or the second-level scale of NVFP4/NVINT4,
  /// is then fixed at compile time ("static" activation quantization) and
  /// larger values saturate. 0 = computed from the data. The clip ratio
  /// still multiplies it.
  float staticAmax = 0.0f;

  bool operator==(const Format &o) const;
  bool operator!=(const Format &o) const { return !(*this == o); }
};

/// Parses a format spec: a named alias ("mxfp4", "nvfp4", "int4_g32", "e3m2",
/// "e2m1_g32", ...) optionally followed by ", key = value" overrides, e.g.
/// "mxfp4, scale_rounding = ceil" or "e4m3, block = 16, scale = e8m0".
/// Keys: element, block, block2, granularity, axis, scale, scale_rounding,
/// second_level_scale, symmetric, clip, amax, saturate, special, bias.
/// Returns std::nullopt and sets `error` to a one-line message otherwise.
std::optional<Format> parseFormat(const std::string &spec, std::string &error);

/// Applies one "key = value" override to `format`; false + `error` if invalid.
bool applyFormatOption(Format &format, const std::string &key,
                       const std::string &value, std::string &error);

/// Canonical text: the shortest alias plus overrides, e.g. "mxfp4" or
/// "mxfp4, scale_rounding = ceil". parseFormat(printFormat(f)) == f.
std::string printFormat(const Format &format);

/// The spelling of a field value in format specs ("block2d", "e8m0", "ceil").
const char *granularityName(Granularity g);
const char *scaleTypeName(ScaleType t);
const char *scaleRoundingName(ScaleRounding r);

/// Every named alias, for --help texts and tests.
std::vector<std::string> namedFormats();

/// Checks the fields for consistency (bits in range, block > 0 for Block, an
/// E8M0 scale only with power-of-two semantics, ...); empty string if legal.
std::string verifyFormat(const Format &format);

//===----------------------------------------------------------------------===//
// Element codes
//===----------------------------------------------------------------------===//

/// Largest finite value of the element (e2m1: 6, e4m3: 448, int8: 127,
/// MXINT8's 1.6 fixed point: 127/64).
double elementMaxFinite(const ElementType &e);
/// emax_elem of OCP MX: floor(log2(elementMaxFinite)).
int elementMaxExponent(const ElementType &e);

/// Encodes an f32 value to the element's code (low `bits` bits of the
/// result): round to nearest even, saturate per `e.saturate`. NaN maps to the
/// NaN code where one exists, else to the code of +0 (callers treat NaN blocks
/// separately). For integers the value is the real number (code / 2^frac).
uint8_t encodeElement(float value, const ElementType &e);
/// Decodes a code to its f32 value (exact: every code is representable).
float decodeElement(uint8_t code, const ElementType &e);

/// Number of bits of one scale in the packed layout.
int scaleBits(ScaleType t);
/// Encodes/decodes one scale value of the scale type (E8M0: exponent byte,
/// E4M3: OCP e4m3fn RNE saturating, F16/BF16: RNE, F32: bits).
uint32_t encodeScale(float value, ScaleType t);
float decodeScale(uint32_t bits, ScaleType t);

//===----------------------------------------------------------------------===//
// Tensors
//===----------------------------------------------------------------------===//

/// Shape of the scale grid of `shape` under `format` (per-tensor: {}).
/// Fails (error set) when the axis is out of range or not divisible by the block.
std::optional<std::vector<int64_t>> scaleShape(const std::vector<int64_t> &shape,
                                               const Format &format,
                                               std::string &error);

/// A quantized tensor in the unpacked form: one code per element (C order of
/// the input), one raw scale per block (C order of the scale grid), the zero
/// points for asymmetric formats and the second-level f32 scale.
struct QuantizedTensor {
  std::vector<int64_t> shape;
  Format format;
  std::vector<uint8_t> codes;
  std::vector<uint32_t> scales;     // raw bits, see encodeScale
  std::vector<uint8_t> zeroPoints;  // asymmetric only
  float tensorScale = 1.0f;         // secondLevelScale only
};

/// Quantizes `data` (C order, `shape`). Fails only on shape/format mismatch.
std::optional<QuantizedTensor> quantize(const float *data,
                                        const std::vector<int64_t> &shape,
                                        const Format &format,
                                        std::string &error);
/// Decodes every element: code value x block scale (x tensor scale).
std::vector<float> dequantize(const QuantizedTensor &q);

/// The first half of quantize(): the scales (and zero points, and the NV
/// tensor scale) it chooses for `data`, with `codes` left empty. Given a
/// `tensorScale`, formats with a second-level scale use it instead of
/// deriving it from `data`; other formats ignore it. Algorithms that choose
/// codes themselves (GPTQ) fix scales with this and encode with
/// encodeInBlock, so their output is exactly what quantize() would store.
std::optional<QuantizedTensor>
chooseScales(const float *data, const std::vector<int64_t> &shape,
             const Format &format, std::optional<float> tensorScale,
             std::string &error);
/// The value the codes of scale `scaleIndex` (C order of the scale grid) of
/// `q` are multiplied with: the decoded scale, times the tensor scale for NV
/// formats. NaN for a block that held NaN or Inf.
float blockScaleValue(const QuantizedTensor &q, int64_t scaleIndex);
/// The code quantize() gives `value` in a block of scale value `scale`
/// (blockScaleValue) and zero point `zeroPoint` (asymmetric formats only).
uint8_t encodeInBlock(float value, float scale, uint8_t zeroPoint,
                      const Format &format);
/// The value dequantize() decodes `code` to in such a block.
float decodeInBlock(uint8_t code, float scale, uint8_t zeroPoint,
                    const Format &format);
/// quantize then dequantize.
std::optional<std::vector<float>> fakeQuantize(const float *data,
                                               const std::vector<int64_t> &shape,
                                               const Format &format,
                                               std::string &error);

/// The packed byte layout ("canonical"): codes as an LSB-first bit stream
/// (element 2i of a 4-bit format in the low nibble of byte i), padded to a
/// byte; then the scales in C order of the scale grid, each little-endian in
/// scaleBits/8 bytes; then the zero points (one byte each, asymmetric only);
/// then the tensor scale as 4 little-endian bytes (secondLevelScale only).
std::vector<uint8_t> pack(const QuantizedTensor &q);
std::optional<QuantizedTensor> unpack(const uint8_t *bytes, size_t size,
                                      const std::vector<int64_t> &shape,
                                      const Format &format, std::string &error);
/// Size in bytes of pack()'s output.
std::optional<int64_t> packedSizeInBytes(const std::vector<int64_t> &shape,
                                         const Format &format,
                                         std::string &error);
/// Storage bits per element, scales and zero points included.
double bitsPerElement(const std::vector<int64_t> &shape, const Format &format);

/// QSNR in dB: -10 log10(|x - y|^2 / |x|^2) accumulated in double.
double qsnrDecibels(const float *reference, const float *approx, int64_t n);

} // namespace quantc

#endif // QUANTC_FORMATS_FORMAT_H
