//===- QcOps.td - qc operations ----------------------------*- tablegen -*-===//
#ifndef QC_OPS_TD
#define QC_OPS_TD

include "qc/QcBase.td"
include "qc/QcAttrs.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

class Qc_Op<string mnemonic, list<Trait> traits = []>
    : Op<Qc_Dialect, mnemonic, traits>;

def Qc_FloatTensor : RankedTensorOf<[F32, F16, BF16]>;

def Qc_ConstantOp : Qc_Op<"constant", [ConstantLike, Pure]> {
  let summary = "A packed quantized constant";
  let description = [{
    The packed bytes of a quantized tensor, in the layout of the result type.
    Produced by folding `qc.quantize` of a constant and by `qc-fold-weights`.

    ```mlir
    %w = qc.constant dense<"0x..."> : tensor<4128xi8> : !qc.packed<64x128, mxfp4>
    ```
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs Qc_PackedType:$result);
  let assemblyFormat = "$value attr-dict `:` qualified(type($result))";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Qc_QuantizeOp : Qc_Op<"quantize", [Pure]> {
  let summary = "Quantizes a float tensor into a packed format";
  let description = [{
    Chooses one scale per block as the result's format says, rounds every
    element to the format (round to nearest even, saturating) and packs codes
    and scales into the result's layout. Constants fold at compile time.

    ```mlir
    %p = qc.quantize %x : tensor<64x128xf32> -> !qc.packed<64x128, mxfp4>
    ```
  }];
  let arguments = (ins Qc_FloatTensor:$input);
  let results = (outs Qc_PackedType:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` qualified(type($result))";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Qc_DequantizeOp : Qc_Op<"dequantize", [Pure]> {
  let summary = "Decodes a packed tensor to floats";
  let description = [{
    Every element becomes its code's value times its block scale (times the
    tensor scale of NV formats).

    ```mlir
    %y = qc.dequantize %p : !qc.packed<64x128, mxfp4> -> tensor<64x128xf32>
    ```
  }];
  let arguments = (ins Qc_PackedType:$input);
  let results = (outs Qc_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` qualified(type($input)) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Qc_FakeQuantOp : Qc_Op<"fake_quant", [Pure, SameOperandsAndResultType]> {
  let summary = "Quantize then dequantize, in float (simulated quantization)";
  let description = [{
    The value `qc.dequantize(qc.quantize(x))` without materializing the packed
    bytes: the op that calibration and accuracy passes reason about. Unlike
    upstream `quant.dcast(quant.qcast)`, it never folds to its input; a
    constant operand folds to the quantized constant.

    ```mlir
    %y = qc.fake_quant %x as <nvfp4> : tensor<64x128xf32>
    ```
  }];
  let arguments = (ins Qc_FloatTensor:$input, Qc_FormatAttr:$format);
  let results = (outs Qc_FloatTensor:$result);
  let assemblyFormat = "$input `as` $format attr-dict `:` type($input)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Qc_MatmulOp : Qc_Op<"matmul", [Pure]> {
  let summary = "Float or quantized activations times packed weights";
  let description = [{
    `y = x · Wᵀ` with `x : [..., K]`, packed weights `W : [N, K]` quantized
    along K, and `y : [..., N]`, accumulated in f32. With `act` the
    activations are quantized on the fly in that format (per block along K)
    and the products of codes are accumulated per block before scaling
    (W4A8 / W8A8); without it they stay float (W4A16).

    ```mlir
    %y = qc.matmul %x, %w : tensor<8x128xf32>, !qc.packed<256x128, mxfp4> -> tensor<8x256xf32>
    %z = qc.matmul %x, %w act <mxint8> : tensor<8x128xf32>, !qc.packed<256x128, mxfp4> -> tensor<8x256xf32>
    ```
  }];
  let arguments = (ins Qc_FloatTensor:$input, Qc_PackedType:$weight,
                       OptionalAttr<Qc_FormatAttr>:$act);
  let results = (outs Qc_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`act` $act^)? attr-dict `:` type($input) `,` qualified(type($weight)) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Qc_HadamardOp : Qc_Op<"hadamard", [Pure, SameOperandsAndResultType]> {
  let summary = "Orthonormal (random-sign) Hadamard rotation along an axis";
  let description = [{
    Rotates every line along `axis` by the orthonormal transform
    `(H_{2^k} ⊗ H_m) · diag(s) / sqrt(n)` of size `n = 2^k · m`, m one of the
    known Hadamard orders (1, 12, 20, 28, 36, 40, 52, 60, 108, 140, 156, 172).
    With `seed`, s is the seeded random sign vector; without, s = 1. The
    arithmetic order is fixed by the format library, so the lowering and the
    folder agree bit for bit.

    ```mlir
    %y = qc.hadamard %x along 1 : tensor<8x4096xf32>
    %z = qc.hadamard %x along 1 seed 42 : tensor<8x1536xf32>
    ```
  }];
  let arguments = (ins Qc_FloatTensor:$input, I64Attr:$axis,
                       OptionalAttr<I64Attr>:$seed);
  let results = (outs Qc_FloatTensor:$result);
  let assemblyFormat = [{
    $input `along` $axis (`seed` $seed^)? attr-dict `:` type($input)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
  let extraClassDeclaration = [{
    /// The axis as a non-negative dimension index.
    int64_t getNormalizedAxis();
  }];
}

def Qc_ObserveOp : Qc_Op<"observe", [MemoryEffects<[MemWrite]>]> {
  let summary = "Calibration hook: records statistics of a tensor";
  let description = [{
    Marks a tensor whose statistics calibration collects under `name`:
    `amax`, per-channel amax and mean along `axis` (the channel axis, the
    reduction axis of the layer the tensor feeds; default the last), a
    2048-bin |x| histogram, and with `hessian` the proxy XᵀX over the
    channels. Inserted by `qc-instrument` (named by
    quantc::activationStatsKey), turned into extra results of the function
    by `qc-observations-to-results` for a calibration run, never lowered
    otherwise: the statistics it feeds are described in
    include/quantc/Runtime/CalibrationStats.h.

    ```mlir
    qc.observe "layers.0/q_proj:input", %x {stats = ["amax", "hessian"]} : tensor<8x128xf32>
    ```

    For a convolution's input, `kernel`, `strides` and `dilations` (one
    entry per dimension of the tensor; 1 for the channel axis, `group_axis`
    and batch dimensions) describe its patches, and `hessian` is then
    Σ p·pᵀ over the im2col patches p (one per output position and group),
    as GPTQ needs for a convolution's weight:

    ```mlir
    qc.observe "conv:input", %x {stats = ["hessian"], axis = 2, group_axis = 1,
        kernel = array<i64: 1, 1, 1, 3, 3>, strides = array<i64: 1, 1, 1, 2, 2>,
        dilations = array<i64: 1, 1, 1, 1, 1>} : tensor<1x1x8x17x17xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, Qc_FloatTensor:$input,
                       DefaultValuedAttr<StrArrayAttr, "{}">:$stats,
                       DefaultValuedAttr<I64Attr, "-1">:$axis,
                       OptionalAttr<DenseI64ArrayAttr>:$kernel,
                       OptionalAttr<DenseI64ArrayAttr>:$strides,
                       OptionalAttr<DenseI64ArrayAttr>:$dilations,
                       OptionalAttr<I64Attr>:$group_axis);
  let builders = [
    // Plain tensors (no patches), as most observers build them.
    OpBuilder<(ins "StringAttr":$name, "Value":$input, "ArrayAttr":$stats,
                   "IntegerAttr":$axis), [{
      build($_builder, $_state, name, input, stats, axis, nullptr, nullptr,
            nullptr, nullptr);
    }]>
  ];
  let assemblyFormat = "$name `,` $input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

#endif // QC_OPS_TD
