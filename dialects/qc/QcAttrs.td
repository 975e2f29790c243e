//===- QcAttrs.td - qc attributes and types ----------------*- tablegen -*-===//
#ifndef QC_ATTRS_TD
#define QC_ATTRS_TD

include "qc/QcBase.td"
include "mlir/IR/BuiltinTypeInterfaces.td"

def Qc_FormatAttr : AttrDef<Qc_Dialect, "Format"> {
  let mnemonic = "format";
  let summary = "A quantization format: element type, granularity and scales";
  let description = [{
    Every quantization format in one attribute. It is written as a named
    alias, optionally followed by overrides of single fields:

    ```mlir
    #qc.format<mxfp4>                         // e2m1, block 32, E8M0 scale (OCP MX)
    #qc.format<mxfp4, scale_rounding = ceil>  // never clips the block maximum
    #qc.format<nvfp4>                         // e2m1, block 16, E4M3 + f32 tensor scale
    #qc.format<int4_g128>                     // int4, block 128, f32 scales
    #qc.format<e3m2>                          // minifloat, one f32 scale per slice
    #qc.format<e4m3, block = 16, scale = e8m0, axis = 0>
    ```

    Aliases: mxfp4, mxfp6_e2m3, mxfp6_e3m2, mxfp8_e4m3, mxfp8_e5m2, mxint8,
    nvfp4, nvint4, int8, int4, int4_g32, int4_g128 and every minifloat eXmY
    of 3 to 8 bits (X >= 1); a `_g<N>` suffix gives any of them blocks of N.
    Fields: element, granularity (tensor | axis | block | block2d), axis,
    block, block2, scale (f32 | f16 | bf16 | e8m0 | e4m3), scale_rounding
    (floor | ceil | nearest), second_level_scale, symmetric, clip, amax (a static per-tensor amax), saturate,
    special (finite | nan | ieee), bias. The printed form is canonical: the
    closest alias plus the fields that differ from it.
  }];
  let parameters = (ins AttrParameter<"::quantc::Format", "the format">:$value);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

def Qc_PackedType : TypeDef<Qc_Dialect, "Packed", [ShapedTypeInterface]> {
  let mnemonic = "packed";
  let summary = "A quantized tensor as stored: packed codes, scales and layout";
  let description = [{
    `!qc.packed<64x128, mxfp4>` is a 64x128 tensor quantized in MXFP4 and
    stored in a byte layout. The layout is part of the type: `canonical`
    (the default, not printed) is the format library's layout: element codes
    as an LSB-first bit stream in C order (two 4-bit codes per byte, element
    2i in the low nibble), then one scale per block in C order of the scale
    grid, then zero points, then the f32 tensor scale of NV formats.
    Targets may choose other layouts (`layout = <name>`); the format library
    describes them (quantc/Formats/Layout.h), e.g. `x86_n16k8`, the 16-column
    tiles of the CPU kernels.

    ```mlir
    !qc.packed<4096x4096, nvfp4>
    !qc.packed<64x128, mxfp4, scale_rounding = ceil>
    !qc.packed<4096x4096, mxfp4, layout = x86_n16k8>
    ```
  }];
  let parameters = (ins
    ArrayRefParameter<"int64_t", "the logical shape">:$shape,
    "::mlir::qc::FormatAttr":$format,
    DefaultValuedParameter<"::mlir::StringAttr", "nullptr", "the byte layout">:$layout
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    // ShapedTypeInterface.
    bool hasRank() const { return true; }
    ::mlir::Type getElementType() const {
      return ::mlir::Float32Type::get(getContext());
    }
    ::mlir::ShapedType cloneWith(std::optional<::llvm::ArrayRef<int64_t>> shape,
                                 ::mlir::Type elementType) const;

    /// The layout name ("canonical" when unset).
    ::llvm::StringRef getLayoutName() const;
    /// Size of the packed bytes in the type's layout.
    int64_t getSizeInBytes() const;
    /// The byte tensor this type is stored as after qc-expand-formats.
    ::mlir::RankedTensorType getStorageType() const;
  }];
}

#endif // QC_ATTRS_TD
