//===- MatmulKernelPlan.cpp - Choosing a CPU kernel for qc.matmul ---------===//
//
// The plan fixes the compute mode, the weight layout and the register tiling
// for one target, shape class and pair of formats. Code values come from the
// format library (decodeElement / decodeScale): tables are filled from it, and
// the bit tricks the emitter uses instead of tables are checked against it
// for every code here, so a format the tricks do not cover falls back to the
// reference lowering instead of computing something else.
//
//===----------------------------------------------------------------------===//

#include "quantc/Conversion/QcToCPU.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

using namespace quantc;
using namespace quantc::cpu;

llvm::StringRef quantc::cpu::kernelModeName(KernelMode mode) {
  switch (mode) {
  case KernelMode::F32:
    return "f32";
  case KernelMode::BF16:
    return "bf16";
  case KernelMode::I8:
    return "i8";
  case KernelMode::I16:
    return "i16";
  }
  return "?";
}

namespace {

float bitsToFloat(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint32_t floatToBits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return bits;
}

bool sameFloat(float a, float b) {
  return floatToBits(a) == floatToBits(b) || (a == 0.0f && b == 0.0f);
}

/// What the emitter's minifloat decode computes: the magnitude bits moved
/// into an f32 with a zero exponent bias, times 2^(127 - bias) (exact, also
/// for subnormal codes).
float minifloatByBits(uint32_t code, const ElementType &e) {
  uint32_t magnitude = code & ((1u << (e.bits - 1)) - 1);
  uint32_t sign = (code >> (e.bits - 1)) & 1;
  float value = bitsToFloat((magnitude << (23 - e.mantissaBits)) | (sign << 31));
  return value * std::ldexp(1.0f, 127 - e.bias);
}

/// What the emitter's scale decode computes from raw scale bits.
float scaleByBits(uint32_t raw, ScaleType type) {
  switch (type) {
  case ScaleType::E8M0:
    return bitsToFloat(std::max(raw << 23, 0x400000u));
  case ScaleType::E4M3:
    if ((raw & 0x7F) == 0x7F)
      return std::nanf("");
    return bitsToFloat((raw & 0x7F) << 20) * std::ldexp(1.0f, 120);
  case ScaleType::BF16:
    return bitsToFloat(raw << 16);
  case ScaleType::F16:
  case ScaleType::F32:
    return decodeScale(raw, type); // the hardware conversion / a plain load
  }
  return 0.0f;
}

/// Checks the scale decode against the library for every raw value. E8M0's
/// NaN (0xFF) decodes to +Inf, which a NaN block (all codes zero) turns into
/// NaN all the same; E4M3 scales of NV formats are never negative.
bool scaleDecodeMatchesLibrary(ScaleType type) {
  if (type == ScaleType::F32 || type == ScaleType::F16)
    return true;
  int count = type == ScaleType::BF16 ? 65536 : 256;
  for (int raw = 0; raw < count; ++raw) {
    if (type == ScaleType::E4M3 && raw >= 0x80)
      continue;
    float expected = decodeScale(raw, type);
    float got = scaleByBits(raw, type);
    if (type == ScaleType::E8M0 && raw == 0xFF)
      continue;
    if (std::isnan(expected) ? !std::isnan(got) : !sameFloat(expected, got))
      return false;
  }
  return true;
}

/// Codes whose value the library defines as a finite number.
std::vector<int> finiteCodes(const ElementType &e) {
  std::vector<int> codes;
  for (int c = 0; c < (1 << e.bits); ++c)
    if (std::isfinite(decodeElement(c, e)))
      codes.push_back(c);
  return codes;
}

bool minifloatDecodeMatchesLibrary(const ElementType &e) {
  if (e.kind != ElementKind::Float || e.exponentBits > 8 ||
      e.mantissaBits > 22 || e.bias < -100 || e.bias > 126)
    return false;
  for (int c : finiteCodes(e))
    if (!sameFloat(minifloatByBits(c, e), decodeElement(c, e)))
      return false;
  return true;
}

bool isSignedInteger(const ElementType &e) {
  return e.kind == ElementKind::Int && e.isSigned;
}

/// Integer weights for vpdpbusd: every finite code value times 2^j is an
/// integer for the smallest such j <= 6; the unsigned operand is that integer
/// plus an offset that makes the smallest one >= 0. Fills the table of all
/// codes (non-finite codes map to the offset, i.e. zero).
bool integerWeights(const ElementType &e, std::vector<uint8_t> &table,
                    int32_t &offset, float &factor) {
  std::vector<int> codes = finiteCodes(e);
  for (int j = 0; j <= 6; ++j) {
    double scale = std::ldexp(1.0, j);
    bool integral = true;
    double lo = 0, hi = 0;
    for (int c : codes) {
      double v = static_cast<double>(decodeElement(c, e)) * scale;
      if (v != std::nearbyint(v)) {
        integral = false;
        break;
      }
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    if (!integral)
      continue;
    if (hi - lo > 255)
      return false;
    offset = static_cast<int32_t>(-lo);
    factor = static_cast<float>(1.0 / scale);
    table.assign(1u << e.bits, static_cast<uint8_t>(offset));
    for (int c : codes)
      table[c] = static_cast<uint8_t>(
          std::nearbyint(decodeElement(c, e) * scale) + offset);
    return true;
  }
  return false;
}

/// Whether the unsigned weight bytes suit the target's byte dot product.
/// vpdpbusd takes any; vpmaddubsw (AVX2, AVX-512BW) adds two u8 * s8
/// products with i16 saturation, and the kernels add the results of two of
/// them (the low and the high nibbles) in i16 before widening:
/// 4 * max byte * 128 (x codes and limbs are in [-128, 127]) must stay
/// below 2^15.
bool fitsByteDots(const std::vector<uint8_t> &table, const CpuTarget &target) {
  if (target.avx512vnni)
    return true;
  int maxByte = 0;
  for (uint8_t u : table)
    maxByte = std::max<int>(maxByte, u);
  return 4 * maxByte * 128 <= 32767;
}

/// The activation formats whose quantization the I8 kernels implement: int8
/// codes (optionally fixed point, as MXINT8), symmetric, one f32 or E8M0
/// (floor) scale per block along K or per row.
bool supportedActivationFormat(const Format &f, std::string &why) {
  const ElementType &e = f.element;
  if (!isSignedInteger(e) || e.bits != 8) {
    why = "activations must be quantized to signed 8-bit integers";
    return false;
  }
  if (!f.symmetric || f.secondLevelScale) {
    why = "activations must be symmetric with one scale level";
    return false;
  }
  if (f.scaleType != ScaleType::F32 &&
      !(f.scaleType == ScaleType::E8M0 &&
        f.scaleRounding == ScaleRounding::Floor)) {
    why = "activation scales must be f32 or E8M0 with floor rounding";
    return false;
  }
  // A per-tensor scale (static, or from the tensor's amax reduced before
  // the rows are quantized) is a per-row scale that does not depend on the
  // row.
  if (f.granularity != Granularity::Block &&
      f.granularity != Granularity::PerAxis &&
      f.granularity != Granularity::PerTensor) {
    why = "activations need one scale per block along K, per row or per "
          "tensor";
    return false;
  }
  if (f.axis != -1) {
    why = "activations must be quantized along K (axis -1)";
    return false;
  }
  return true;
}

} // namespace

std::string MatmulKernelPlan::kernelKey() const {
  std::string key = "qc_matmul_" + std::to_string(m) + "x" +
                    std::to_string(n) + "x" + std::to_string(k) + "_" +
                    printFormat(weight);
  if (act)
    key += "_act_" + printFormat(*act);
  key += "_" + target.name + "_" + kernelModeName(mode).str() + "_" + layout +
         "_r" + std::to_string(rowsPerStep) + "t" +
         std::to_string(tilesPerStep) + "c" + std::to_string(chains) +
         (prescale ? "p" : "") + (stridedGroups ? "s" : "") +
         (prefetchBytes ? "f" + std::to_string(prefetchBytes) : "");
  std::string name;
  for (char c : key)
    name += (std::isalnum(static_cast<unsigned char>(c)) || c == '_')
                ? c
                : (c == '-' ? '_' : c == '=' || c == ',' || c == ' ' ? '_' : 'x');
  return name;
}

std::optional<MatmulKernelPlan>
quantc::cpu::planMatmulKernel(int64_t m, int64_t n, int64_t k,
                              const Format &weight,
                              const std::optional<Format> &act,
                              const CpuTarget &target, bool allowBF16,
                              std::string &whyNot, bool allowI16,
                              bool allowScalePairs, bool allowDense6) {
  MatmulKernelPlan plan;
  plan.m = m;
  plan.n = n;
  plan.k = k;
  plan.weight = weight;
  plan.act = act;
  plan.target = target;
  if (m <= 0 || n <= 0 || k <= 0) {
    whyNot = "empty matmul";
    return std::nullopt;
  }
  const ElementType &e = weight.element;
  if (weight.granularity != Granularity::Block &&
      weight.granularity != Granularity::PerAxis) {
    whyNot = "weights need block or per-channel scales";
    return std::nullopt;
  }
  if (!weight.symmetric) {
    whyNot = "asymmetric weights (zero points) have no kernel yet";
    return std::nullopt;
  }
  if (!scaleDecodeMatchesLibrary(weight.scaleType)) {
    whyNot = "the weight scale type has no vector decode";
    return std::nullopt;
  }
  bool fourBit = e.bits == 4;
  // Byte dot products: vpdpbusd with AVX512-VNNI; without VNNI (AVX-512BW
  // or AVX2), vpmaddubsw + vpmaddwd for 4-bit weights, whose bytes are small
  // enough that the i16 sums of vpmaddubsw never saturate (checked on the
  // table below).
  bool byteDots = target.avx512vnni || (target.avx2 && fourBit);
  plan.weightBlock =
      weight.granularity == Granularity::Block ? weight.blockSize : k;

  // Compute mode.
  if (act) {
    if (!supportedActivationFormat(*act, whyNot))
      return std::nullopt;
    plan.actBlock =
        act->granularity == Granularity::Block ? act->blockSize : k;
    // Integer dot products need byte dot products (above) and weight codes
    // that are small integers times a power of two with a byte decode on
    // this target.
    bool xorInt8 = e.bits == 8 && isSignedInteger(e);
    // Without VNNI 8-bit codes go in signed (|w| <= 128 and |x| <= 127: a
    // vpmaddubsw pair stays below 2^15).
    bool signedBytes = xorInt8 && !target.avx512vnni && target.avx2;
    bool integerCodes = integerWeights(e, plan.u8Table, plan.weightOffset,
                                       plan.resultFactor) &&
                        (signedBytes || fitsByteDots(plan.u8Table, target));
    bool byteDecode = fourBit || xorInt8 || (e.bits <= 6 && target.avx512vbmi);
    if ((byteDots || signedBytes) && integerCodes && byteDecode) {
      plan.mode = KernelMode::I8;
      plan.resultFactor *= std::ldexp(1.0f, -act->element.fractionBits);
      if (signedBytes) {
        plan.signedWeightBytes = true;
        plan.weightOffset = 0;
      }
    } else {
      plan.u8Table.clear();
      plan.weightOffset = 0;
      plan.resultFactor = 1.0f;
      plan.fakeQuantizedAct = true;
    }
  }
  if (!act && allowI16 && byteDots && k % 32 == 0) {
    bool xorInt8 = e.bits == 8 && isSignedInteger(e);
    bool byteDecode = fourBit || xorInt8 || (e.bits <= 6 && target.avx512vbmi);
    if (byteDecode &&
        integerWeights(e, plan.u8Table, plan.weightOffset,
                       plan.resultFactor) &&
        fitsByteDots(plan.u8Table, target)) {
      plan.mode = KernelMode::I16;
      plan.actBlock = 32;
    } else {
      plan.u8Table.clear();
      plan.weightOffset = 0;
      plan.resultFactor = 1.0f;
    }
  }
  if (!act && plan.mode != KernelMode::I16) {
    plan.mode = KernelMode::F32;
    if (fourBit && allowBF16 && target.avx512bf16) {
      plan.bf16Table.resize(32);
      bool exact = true;
      for (int c = 0; c < 16; ++c) {
        float v = decodeElement(c, e);
        uint32_t bits = floatToBits(v);
        if ((bits & 0xFFFF) != 0 || !std::isfinite(v))
          exact = false;
        plan.bf16Table[c] = plan.bf16Table[c + 16] =
            static_cast<uint16_t>(bits >> 16);
      }
      if (exact)
        plan.mode = KernelMode::BF16;
      else
        plan.bf16Table.clear();
    }
  }
  if (plan.mode == KernelMode::F32) {
    if (fourBit && target.avx512) {
      for (int c = 0; c < 16; ++c)
        plan.f32Table.push_back(decodeElement(c, e));
    } else if (isSignedInteger(e) && (e.bits == 4 || e.bits == 8)) {
      plan.resultFactor = std::ldexp(1.0f, -e.fractionBits);
    } else if (!minifloatDecodeMatchesLibrary(e)) {
      whyNot = "no vector decode for the weight element";
      return std::nullopt;
    }
  }

  // NV formats with int8 or 16-bit activations: both 16-blocks of a 32 in
  // one epilogue. The halves' dot products pass through vpackssdw, so they must
  // fit in i16: 16 * max |integer weight| * 128 <= 2^15 - 1.
  // I16 has activation blocks of 32. Its pairs cost a second pack and
  // multiply per limb, which pays only while the kernel streams weights
  // (n = 1: 1.30x -> 1.13x int4_g32); from M = 8 on they are slower
  // (4096x4096, 1 thread: 1937 vs 1667 us at M = 8, 232 vs 111 ms at 512).
  if (allowScalePairs && target.avx512vnni &&
      (plan.mode == KernelMode::I8 ||
       (plan.mode == KernelMode::I16 && m == 1)) &&
      fourBit && weight.granularity == Granularity::Block &&
      weight.blockSize == 16 && weight.scaleType == ScaleType::E4M3 &&
      k % 32 == 0 &&
      (!act || act->granularity != Granularity::Block ||
       act->blockSize % 32 == 0)) {
    int maxWeight = 0;
    for (uint8_t u : plan.u8Table)
      maxWeight = std::max(maxWeight, std::abs(u - plan.weightOffset));
    plan.scalePairs = 16 * maxWeight * 128 <= 32767;
  }

  // Layout.
  // 6-bit codes: 4 in 3 bytes where VBMI unpacks them (vpermb +
  // vpmultishiftqb), one per byte elsewhere.
  // 4-bit codes in blocks: the scales inline after the chunks of the blocks
  // they fill a line for, one stream per tile (x86_n16k8_si), where K holds
  // whole lines of them.
  // E8M0 scales inline a dword per column (x86_n16k8_sid): their decode is
  // then a shift and a mask, without the byte widening that competes with
  // the E2M1 lookups for the shuffle ports.
  bool inlineScales = fourBit && weight.granularity == Granularity::Block &&
                      verifyLayout("x86_n16k8_si", {n, k}, weight).empty();
  const char *inlineLayout = weight.scaleType == ScaleType::E8M0
                                 ? "x86_n16k8_sid"
                                 : "x86_n16k8_si";
  plan.layout = plan.scalePairs ? "x86_n16k8_s32"
                : fourBit
                    ? (plan.mode == KernelMode::BF16 ? "x86_n16k8p"
                       : inlineScales               ? inlineLayout
                                                    : "x86_n16k8")
                : e.bits == 6 && target.avx512vbmi && allowDense6
                    ? "x86_n16k4_d6"
                    : "x86_n16k4";
  // INT4 for the integer kernels: the codes stored offset binary (_ob), so
  // that their unsigned bytes are the stored nibbles (a mask, no XOR).
  bool offsetBinary = fourBit && plan.u8Table.size() == 16 &&
                      (plan.mode == KernelMode::I8 ||
                       plan.mode == KernelMode::I16);
  for (int c = 0; offsetBinary && c < 16; ++c)
    offsetBinary = plan.u8Table[c] == (c ^ 8);
  if (offsetBinary)
    plan.layout += "_ob";
  std::string error;
  std::optional<LayoutGeometry> geometry =
      layoutGeometry(plan.layout, {n, k}, weight, error);
  if (!geometry) {
    whyNot = error;
    return std::nullopt;
  }
  plan.geometry = *geometry;
  int64_t kc = geometry->kPerChunk, kp = geometry->paddedK;
  if (weight.granularity == Granularity::PerAxis)
    plan.weightBlock = kp;

  // Dot groups.
  if (plan.mode == KernelMode::I16) {
    plan.groupK = std::min<int64_t>(plan.weightBlock, plan.actBlock);
  } else if (plan.mode == KernelMode::I8) {
    int64_t bx = act->granularity == Granularity::Block ? plan.actBlock : kp;
    if (act->granularity != Granularity::Block)
      plan.actBlock = kp;
    int64_t bw = plan.weightBlock;
    if (bx % bw != 0 && bw % bx != 0) {
      whyNot = "activation blocks of " + std::to_string(bx) +
               " and weight blocks of " + std::to_string(bw) + " do not nest";
      return std::nullopt;
    }
    plan.groupK = std::min(bx, bw);
    if (plan.groupK % kc != 0) {
      whyNot = "activation blocks must be a multiple of " + std::to_string(kc);
      return std::nullopt;
    }
  } else {
    plan.groupK = plan.weightBlock;
  }

  // Register tiling for the shape class.
  plan.lanes = plan.mode == KernelMode::F32 ? target.vectorLanes() : 16;
  plan.byteLanes = plan.mode == KernelMode::F32 && !fourBit && plan.lanes == 16;
  bool blockScales = weight.granularity == Granularity::Block;
  if (plan.byteLanes) {
    // Four accumulators per tile and row (one per 4 columns).
    plan.rowsPerStep = static_cast<int>(std::min<int64_t>(m, 6));
    plan.tilesPerStep = m == 1 ? 2 : 1;
    plan.chains = 1;
    plan.prescale = m > 1 && blockScales;
  } else if (m == 1) {
    plan.rowsPerStep = 1;
    plan.tilesPerStep = plan.lanes == 16 ? 4 : plan.lanes == 8 ? 2 : 1;
    // Four tiles give four independent dot chains per group; the I8 chain
    // of a group is 2 * groupK / kc vpdpbusd long, short enough to overlap.
    plan.chains = plan.mode == KernelMode::I8 ? 1 : 2;
  } else if (plan.mode == KernelMode::F32) {
    plan.prescale = blockScales;
    plan.rowsPerStep = static_cast<int>(
        std::min<int64_t>(m, plan.lanes == 16 ? 6 : plan.lanes == 8 ? 3 : 2));
    plan.tilesPerStep = plan.lanes == 16 ? 2 : 1;
    plan.chains = 1;
  } else {
    plan.rowsPerStep = static_cast<int>(std::min<int64_t>(m, 4));
    plan.tilesPerStep = 2;
    plan.chains = plan.rowsPerStep * plan.tilesPerStep >= 4 ? 1 : 2;
  }
  // AVX2 integer kernels: a 16-column tile is two ymm registers for its
  // integer sums (four for I16's two limbs) and two for its f32 sums, out of
  // 16; the tiling above is for 32 zmm registers. Measured on 4096x4096
  // (x86-64-v3 on Zen 4, 1 thread): at n = 1 four tiles are 0-8 % slower
  // than two, one 3-8 % slower; at n = 32 a second tile of two rows is 2-7 %
  // faster for I8 and 9 % slower for I16 (its limbs' sums spill).
  if (!target.avx512 &&
      (plan.mode == KernelMode::I8 || plan.mode == KernelMode::I16)) {
    plan.rowsPerStep = m == 1 ? 1 : static_cast<int>(std::min<int64_t>(m, 2));
    plan.tilesPerStep = m == 1 || plan.mode == KernelMode::I8 ? 2 : 1;
    plan.chains = 1;
  }
  // I16 keeps the two limbs' sums apart: chain 0 for hi, chain 1 for lo.
  if (plan.mode == KernelMode::I16)
    plan.chains = 2;
  plan.stridedGroups = plan.tilesPerStep > 1 && plan.tilesFillGroups() &&
                       plan.numTileGroups() > 1;
  return plan;
}
