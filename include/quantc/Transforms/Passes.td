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

#endif // QUANTC_TRANSFORMS_PASSES_TD
