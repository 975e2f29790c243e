//===- Passes.td - qc passes -------------------------------*- tablegen -*-===//
//
// Every qc pass: the flag names the file (lib/Transforms/<CamelCase>.cpp) and
// the lit test (test/Transforms/<flag-without-qc->.mlir).
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_TRANSFORMS_PASSES_TD
#define QUANTC_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def QcExpandFormats : Pass<"qc-expand-formats", "::mlir::ModuleOp"> {
  let summary = "Lower qc format ops to arith/math/scf loops, bit-exact with the format library";
  let description = [{
    Expands the format ops on float tensors into loops of arith/math/scf/
    tensor operations that compute exactly what the format library computes
    (bit for bit): block amax, the scale (E8M0 with floor/ceil/nearest
    rounding, E4M3 block scales with the NVFP4 tensor scale, f32/f16/bf16
    scales), round-to-nearest-even saturating element encoding for every
    integer and minifloat element type, code packing into the canonical
    byte layout, and the Hadamard transform in the library's arithmetic
    order. `!qc.packed` values become `tensor<Nxi8>` byte tensors, also at
    function boundaries. This covers what MLIR 22 leaves undone: E4M3 block
    scales, and f8/f6/f4 conversions that `-convert-to-llvm` skips.

    `qc.matmul` gets its reference lowering here (dequantized weights,
    fake-quantized activations, an f32 contraction over K in order), which
    the target kernels are checked against.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect",
    "::mlir::func::FuncDialect", "::mlir::linalg::LinalgDialect"
  ];
}

def QcQuantize : Pass<"qc-quantize", "::mlir::ModuleOp"> {
  let summary = "Apply a quantization recipe: fake-quantize the weights and activations of every quantizable layer";
  let description = [{
    Finds the quantizable layers (contractions and convolutions with a
    constant operand, named by their NameLoc) and wraps their operands in
    `qc.fake_quant` with the recipe's weight and activation formats; per-layer
    overrides match layer names with glob patterns (first match wins). See
    docs/quantization-pipeline.md.
  }];
  let options = [
    Option<"recipe", "recipe", "std::string", /*default=*/"\"int8\"",
           "A named recipe (int8, w8a8-mxint8, w4a16-mxfp4, w4a16-nvfp4, "
           "w4a8-mxfp4, w4a8-int4, w4a4-nvfp4, w4a4-nvint4, the -gptq variants, "
           "auto:BITS) or a recipe .json file">
  ];
  let dependentDialects = ["::mlir::qc::QcDialect"];
}

def QcInstrument : Pass<"qc-instrument", "::mlir::ModuleOp"> {
  let summary = "Insert qc.observe on the activation input of every quantized layer for calibration";
  let description = [{
    Adds a `qc.observe` keyed by the layer's name
    (quantc::activationStatsKey: `<layer>:input`) on the float activation
    each quantized layer reads (the operand of its activation qc.fake_quant,
    or the activation itself for weight-only recipes): amax, per-channel
    amax and mean along the reduction axis, the |x| histogram, and for
    contractions the Hessian proxy XᵀX. A calibration run
    (`qc-observations-to-results`, then the JIT once per sample) collects
    them into a statistics directory that the accuracy passes read.
  }];
  let options = [
    Option<"hessian", "hessian", "bool", /*default=*/"true",
           "Also collect XᵀX (channels² doubles per layer) for GPTQ and bit allocation">,
    Option<"hessianMaxMib", "hessian-max-mib", "int64_t", /*default=*/"2048",
           "Largest XᵀX collected for one layer, in MiB (groups x columns² "
           "doubles; columns = K, or kh·kw·in/groups for a convolution); a "
           "layer over it goes without, with a warning, and GPTQ rounds it to "
           "nearest">
  ];
  let dependentDialects = ["::mlir::qc::QcDialect"];
}

def QcObservationsToResults : Pass<"qc-observations-to-results", "::mlir::ModuleOp"> {
  let summary = "For a calibration run: return every observed tensor from its function";
  let description = [{
    Each `qc.observe` in a function body becomes an extra result of the
    function (after its own results), whose result attributes say what to
    collect: `qc.observe` (the statistics key), `qc.observe_axis` and
    `qc.observe_stats`. A calibration driver then runs the function once per
    sample and accumulates the returned tensors (CalibrationStats), so the
    memory a run needs is the statistics plus one sample's activations.
    With `drop-fake-quant` (the default) every qc.fake_quant is replaced by
    its operand first: the statistics describe the float activations of the
    (rotated) model, as the passes that read them expect.
  }];
  let options = [
    Option<"dropFakeQuant", "drop-fake-quant", "bool", /*default=*/"true",
           "Replace qc.fake_quant by its operand (calibrate the float model)">
  ];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def QcClip : Pass<"qc-clip", "::mlir::ModuleOp"> {
  let summary = "Choose clipping ratios: MSE search for weights, minmax/percentile/MSE/entropy for activations";
  let description = [{
    Weights: the MSE-optimal clip ratio of each quantized constant (coarse
    grid, then refine) through the format library, written into the `clip`
    field of its format. Activations: from the calibration statistics
    directory (`stats=DIR`, quant-compile --calib), the amax by minmax,
    percentile, MSE over the |x| histogram or entropy (KL), written as the
    static `amax` of every per-tensor (or second-level-scaled) activation
    format, which fixes its scale at compile time. Per-block activation
    scales stay dynamic (a warning says so when a method other than minmax
    was asked for).
  }];
  let options = [
    Option<"weights", "weights", "std::string", /*default=*/"\"mse\"",
           "Weight clipping: minmax | mse">,
    Option<"activations", "activations", "std::string", /*default=*/"\"minmax\"",
           "Activation clipping: minmax | percentile | mse | entropy">,
    Option<"percentile", "percentile", "double", /*default=*/"99.99",
           "The percentile for activations=percentile">,
    Option<"statsFile", "stats", "std::string", /*default=*/"\"\"",
           "The calibration statistics directory (needed for activations)">
  ];
  let dependentDialects = ["::mlir::qc::QcDialect"];
}

def QcSmooth : Pass<"qc-smooth", "::mlir::ModuleOp"> {
  let summary = "SmoothQuant (alpha, optionally with a per-channel shift) and cross-layer equalization, folded into constants";
  let description = [{
    Divides the activation a group of quantized layers reads by a
    per-channel s and multiplies their weights' input channels by s, so the
    float function is unchanged. 1/s is folded into the producer: a norm's
    gain (and its bias), the output channels of the linear layer before (its
    bias too), through positively homogeneous ops (ReLU, PReLU) and layout
    ops; where the producer cannot absorb it the group is skipped with a
    remark. SmoothQuant: s_j = max|X_j|^alpha / max|W_j|^(1-alpha), from the
    calibration statistics of the unsmoothed model (`stats=DIR`), max|W_j|
    over all layers sharing the activation (q, k and v share their norm).
    `bias=true`: MPTQ-ViT's SmoothQuant with bias, x' = (x - z) / s with
    z_j the channel's mid-range, the shift an add after the producer and
    z·W added to each consumer's output. `equalize=true`: data-free
    cross-layer equalization of linear -> (ReLU) -> linear pairs, s_i =
    sqrt(r1_i / r2_i), before SmoothQuant. Run after qc-quantize and before
    qc-rotate; the activations change, so calibrate again afterwards
    (quant-compile does). Layers record `qc.smooth`.

    ```mlir
    // RMSNorm gain g, then x · W:   g' = g / s,   W' = diag(s) · W
    %n = linalg.generic ... ins(%x, %g : tensor<4x2xf32>, tensor<2xf32>) { mulf }
    %xq = qc.fake_quant %n as <int8, granularity = tensor>
    %y = linalg.matmul ins(%xq, %wq : ...)
    ```
  }];
  let options = [
    Option<"statsDir", "stats", "std::string", /*default=*/"\"\"",
           "The calibration statistics directory of the unsmoothed model (SmoothQuant)">,
    Option<"alpha", "alpha", "double", /*default=*/"0.5",
           "Migration strength: s = max|X|^alpha / max|W|^(1-alpha)">,
    Option<"bias", "bias", "bool", /*default=*/"false",
           "Centre each channel on its mid-range first (needs per-channel min/max)">,
    Option<"smoothQuant", "smooth", "bool", /*default=*/"true",
           "Run SmoothQuant (needs stats)">,
    Option<"equalizeLayers", "equalize", "bool", /*default=*/"false",
           "Cross-layer equalization of linear -> linear pairs (data-free)">
  ];
  let dependentDialects = ["::mlir::qc::QcDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def QcRotate : Pass<"qc-rotate", "::mlir::ModuleOp"> {
  let summary = "Hadamard rotation as a compiler transformation: insert, propagate, cancel and fold H/Hᵀ pairs";
  let description = [{
    Inserts `qc.hadamard` on the activation and Hᵀ folded into the constant
    weight around quantized layers, propagates rotations through ops that
    commute with an orthogonal transform of the channel axis, cancels H·Hᵀ
    pairs and folds what remains into constant weights, so only rotations
    that cannot be absorbed run online. mode=auto keeps a rotation only where
    it lowers that layer's quantization error.
  }];
  let options = [
    Option<"mode", "mode", "std::string", /*default=*/"\"on\"",
           "on | off | auto">,
    Option<"randomSigns", "random-signs", "bool", /*default=*/"false",
           "Use the random-sign Hadamard transform">,
    Option<"seed", "seed", "int64_t", /*default=*/"0",
           "Seed of the random signs">
  ];
  let dependentDialects = ["::mlir::qc::QcDialect"];
}

def QcFoldWeights : Pass<"qc-fold-weights", "::mlir::ModuleOp"> {
  let summary = "Quantize and pack constant weights at compile time and form qc.matmul";
  let description = [{
    Turns `qc.fake_quant` of a constant weight into packed bytes
    (`qc.constant` of `!qc.packed`, through the format library; transposed
    to [N, K] when the weight is [K, N]) and rewrites the layer into
    `qc.matmul %x, %packed [act <fmt>]`, so the artifact holds packed bytes,
    not floats, and the target kernels run the matmul.
  }];
  let dependentDialects = ["::mlir::qc::QcDialect"];
}

def QcGptq : Pass<"qc-gptq", "::mlir::ModuleOp"> {
  let summary = "GPTQ: round weights with error compensation from calibration Hessians, any format";
  let description = [{
    For every quantized contraction whose weight is `qc.fake_quant` of a
    constant, reads the layer input's XᵀX from the calibration statistics
    directory (`stats=DIR`, quantc/Runtime/CalibrationStats.h) and quantizes
    the weight with GPTQ (quantc/Formats/Gptq.h) in the fake_quant's own
    format. The fake_quant becomes `qc.dequantize(qc.constant)` of exactly
    the codes and scales GPTQ chose (qc-fold-weights ships that constant as
    it is), and the layer records `qc.rounding = "gptq"` with the predicted
    layer output SQNR on the calibration data (`qc.layer_sqnr`, and
    `qc.layer_sqnr_rtn` for round-to-nearest). A layer without statistics
    keeps round-to-nearest, with a warning naming it; so does one where GPTQ
    would not beat round-to-nearest on its own Hessian. Run it after
    qc-rotate and qc-clip (rotated weights with statistics collected after
    rotation are in the same basis) and before qc-fold-weights.
  }];
  let options = [
    Option<"statsDir", "stats", "std::string", /*default=*/"\"\"",
           "The calibration statistics directory (required)">,
    Option<"damp", "damp", "double", /*default=*/"0.01",
           "Dampening: this fraction of mean(diag H) is added to the diagonal">,
    Option<"blockSize", "block-size", "int64_t", /*default=*/"128",
           "Columns per lazy batch update">,
    Option<"actOrder", "act-order", "bool", /*default=*/"false",
           "Quantize columns in order of decreasing H[j][j]">
  ];
  let dependentDialects = ["::mlir::qc::QcDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def QcBiasCorrect : Pass<"qc-bias-correct", "::mlir::ModuleOp"> {
  let summary = "Correct the expected output shift of quantized layers from calibration means, in their bias";
  let description = [{
    For a quantized layer y = W·x (+ b) the weight error shifts the output
    on average by E[y_q − y] = (Q(W) − W)·E[x], E[x] the per-channel mean
    of the layer input from the calibration statistics (`stats=DIR`, key
    `<layer>:input`). The shift is subtracted from the bias constant the
    layer adds: a convolution's or matmul's init broadcast from a constant,
    or an elementwise add of a constant right after the layer (ONNX Gemm's
    C, MatMul + Add). For a convolution E[x] is per input channel, and every
    kernel tap is taken to read the channel's mean over the padded input
    (border outputs read some padding zeros, interior ones none: the
    correction is right on average over output positions). Q(W) is what
    the model computes with: the fake-quantized constant (clip ratio
    included), or the codes qc-gptq stored. W is the float weight: with
    `record=true` the pass only stores each layer's W·E[x] on it
    (`qc.float_output_mean`), so a later run after qc-clip and qc-gptq,
    which replace the float constant, still knows it; without a record W is
    the fake_quant's constant. Layers without a bias keep their output,
    with a remark, unless `add-bias=true` adds one. The activation
    quantizer's own shift is not corrected (round-to-nearest-even inside
    the range is unbiased; the clipped tail's shift is not per channel in
    the statistics). Run after qc-clip and qc-gptq, before
    qc-fold-weights.
  }];
  let options = [
    Option<"statsDir", "stats", "std::string", /*default=*/"\"\"",
           "The calibration statistics directory (required)">,
    Option<"record", "record", "bool", /*default=*/"false",
           "Only record each layer's float expected output W·E[x] (run before the weights change)">,
    Option<"addBias", "add-bias", "bool", /*default=*/"false",
           "Give a layer without a bias one (an add of a constant after it)">
  ];
  let dependentDialects = ["::mlir::qc::QcDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def QcAllocateBits : Pass<"qc-allocate-bits", "::mlir::ModuleOp"> {
  let summary = "Choose each layer's weight format under a size or latency budget (exact knapsack on Hessian-weighted errors)";
  let description = [{
    For every quantized contraction whose weight is `qc.fake_quant` of a
    constant and every candidate weight format (by default the formats the
    CPU kernels implement), quantizes the weight (round-to-nearest, or GPTQ
    with `gptq=true`) and measures the layer output error on the
    calibration data, tr(ΔW·H·ΔWᵀ) with H the layer input's XᵀX, and the
    packed size (the format library's, scales included). An exact
    multiple-choice knapsack (quantc/Formats/BitAllocation.h) then picks one
    format per layer minimizing the total error within the budget:
    `budget=5` (or `5bits`) average bits per weight, `budget=2MiB` (B, KB,
    KiB, MB, MiB) bytes, or `budget=300us` (us, ms) of predicted latency
    of the whole model (quantc/Transforms/LatencyModel.h): per layer
    max(weight bytes / the kernel's measured read speed, 2·M·N·K / its
    measured GEMM throughput), M the activation rows, plus the float code
    around the layers (contractions, elementwise loops, reductions,
    transposes, each at its measured speed), from `profile=FILE` (written by
    bench/latency_profile.py) or the built-in profile. The chosen format
    replaces the fake_quant's; layers record `qc.weight_format` and
    `qc.bits`. `frontier=FILE` writes the budget → predicted error curve
    and every layer's candidates as JSON. Layers without statistics keep
    their format (counted against the budget), with a warning. Run after
    calibration and before qc-clip and qc-gptq.
  }];
  let options = [
    Option<"statsDir", "stats", "std::string", /*default=*/"\"\"",
           "The calibration statistics directory (required)">,
    Option<"budget", "budget", "std::string", /*default=*/"\"\"",
           "Average bits per weight (5, 5bits), bytes (2MiB) or latency (300us)">,
    Option<"candidates", "candidates", "std::string",
           /*default=*/"\"int8;mxint8;mxfp8_e4m3;mxfp6_e2m3;mxfp4;nvfp4;nvint4;int4_g32\"",
           "Candidate weight formats, separated by ';' (or ',' when no spec has options)">,
    Option<"useGptq", "gptq", "bool", /*default=*/"false",
           "Measure each candidate's error after GPTQ rather than round-to-nearest">,
    Option<"damp", "damp", "double", /*default=*/"0.01",
           "GPTQ dampening (with gptq=true)">,
    Option<"actOrder", "act-order", "bool", /*default=*/"false",
           "GPTQ act-order (with gptq=true)">,
    Option<"tokens", "tokens", "int64_t", /*default=*/"0",
           "Activation rows per call for the latency model (0: from the model's shapes)">,
    Option<"profileFile", "profile", "std::string", /*default=*/"\"\"",
           "Latency profile JSON (bench/latency_profile.py); default: the built-in one">,
    Option<"frontierFile", "frontier", "std::string", /*default=*/"\"\"",
           "Write the budget -> predicted error frontier here (JSON)">
  ];
  let dependentDialects = ["::mlir::qc::QcDialect"];
}

#endif // QUANTC_TRANSFORMS_PASSES_TD
