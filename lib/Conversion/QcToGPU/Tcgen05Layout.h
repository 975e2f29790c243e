//===- Tcgen05Layout.h - Bit layouts of the sm_100a tcgen05 GEMM -*- C++ -*-===//
//
// The descriptor words and shared-memory offsets qc_tcgen05_block_scale_gemm
// (NVVMTcgen05Gemm.cpp) builds, as plain functions of integers so that unit
// tests check them on the host (test/unit/Tcgen05LayoutTest.cpp). The PTX ISA
// sections each field comes from are cited in NVVMTcgen05Gemm.cpp. No MLIR.
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_LIB_CONVERSION_QCTOGPU_TCGEN05LAYOUT_H
#define QUANTC_LIB_CONVERSION_QCTOGPU_TCGEN05LAYOUT_H

#include <cstdint>

namespace quantc::gpukernels::tcgen05 {

/// Operand types of the instruction descriptor (PTX ISA 9.0, 9.7.16.4.2,
/// table "Instruction descriptor format for .kind::mxf8f6f4, .kind::mxf4 and
/// .kind::mxf4nvf4", atype/btype rows).
enum class OperandType : uint32_t {
  E4M3 = 0,       // .kind::mxf8f6f4
  E5M2 = 1,       // .kind::mxf8f6f4
  E2M1Packed = 1, // .kind::mxf4 / .kind::mxf4nvf4 (two codes per byte)
};

/// The 32-bit instruction descriptor of a block-scaled tcgen05.mma with A and
/// B K-major (no transpose), dense, not negated:
///   bits 4-5   scale factor ID of B (first byte of its 32-bit TMEM column)
///   bits 7-9   atype, bits 10-12 btype
///   bits 17-22 N >> 3
///   bit  23    scale type: 0 = UE4M3, 1 = UE8M0
///   bits 24-28 M >> 4
///   bits 29-30 scale factor ID of A
///   bit  31    K: 0 = the dense K of the kind (32 for mxf8f6f4, 64 for mxf4*)
/// All other bits (sparsity, negation, transposes, reserved) are 0.
constexpr uint32_t blockScaleInstructionDescriptor(OperandType a, OperandType b,
                                                   bool ue8m0Scales,
                                                   uint32_t m, uint32_t n,
                                                   uint32_t scaleIdA,
                                                   uint32_t scaleIdB) {
  return (scaleIdB & 3u) << 4 | static_cast<uint32_t>(a) << 7 |
         static_cast<uint32_t>(b) << 10 | (n >> 3) << 17 |
         (ue8m0Scales ? 1u : 0u) << 23 | (m >> 4) << 24 |
         (scaleIdA & 3u) << 29;
}

/// The constant bits of a shared-memory matrix descriptor without swizzling
/// (PTX ISA 9.0, 9.7.16.4.1): LBO >> 4 at bits 16-29, SBO >> 4 at bits
/// 32-45, the fixed version 0b001 at bits 46-48, base offset 0 (bits 49-51),
/// relative LBO mode (bit 52 = 0), swizzle mode 0 (bits 61-63).
constexpr uint64_t sharedDescriptorConstant(uint64_t leadingByteOffset,
                                            uint64_t strideByteOffset) {
  return ((leadingByteOffset >> 4) & 0x3FFF) << 16 |
         ((strideByteOffset >> 4) & 0x3FFF) << 32 | uint64_t(1) << 46;
}

/// The full descriptor of the matrix at shared address `address` (start
/// address >> 4 in bits 0-13).
constexpr uint64_t sharedDescriptor(uint64_t address,
                                    uint64_t leadingByteOffset,
                                    uint64_t strideByteOffset) {
  return ((address >> 4) & 0x3FFF) |
         sharedDescriptorConstant(leadingByteOffset, strideByteOffset);
}

/// Byte of scale `c` (0-3) of row `r` (0-127) in a 128 x 4 scale-factor tile
/// as tcgen05.cp .32x128b.warpx4 reads it: 32 rows of 16 bytes, row r % 32
/// holding the 4 scales of rows r % 32, 32 + r % 32, 64 + r % 32, 96 + r % 32
/// in its 4 words (the format library's nv_sf128x4 tile, Layout.h).
constexpr int64_t scaleTileByte(int64_t r, int64_t c) {
  return (r % 32) * 16 + (r / 32) * 4 + c;
}

/// Byte of code chunk (row r, 16-byte chunk `chunk` along K) in a stage tile
/// of 128 rows x `rowBytes` bytes in the no-swizzle K-major core-matrix
/// layout: core matrix (r / 8, chunk) at 128 (r / 8 · rowBytes / 16 + chunk),
/// its row r % 8 at 16 (r % 8). Leading byte offset (next core matrix along
/// K) 128, stride byte offset (next 8 rows) 8 · rowBytes.
constexpr int64_t codeTileByte(int64_t r, int64_t chunk, int64_t rowBytes) {
  return 128 * ((r / 8) * (rowBytes / 16) + chunk) + 16 * (r % 8);
}

} // namespace quantc::gpukernels::tcgen05

#endif // QUANTC_LIB_CONVERSION_QCTOGPU_TCGEN05LAYOUT_H
