//===- Passes.td - passes of the CPU lowering pipeline -----*- tablegen -*-===//
//
// The passes quantc adds to the upstream ones in `quantc-lower-to-llvm`
// (lib/Conversion/Pipelines.cpp). The flag names the file
// (lib/Conversion/<CamelCase>.cpp) and the lit test
// (test/Conversion/<flag-without-quantc->.mlir).
//
//===----------------------------------------------------------------------===//
#ifndef QUANTC_CONVERSION_PASSES_TD
#define QUANTC_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def CopyRepeatedReturnedBuffers
    : Pass<"quantc-copy-repeated-returned-buffers", "::mlir::ModuleOp"> {
  let summary = "Copy memrefs that a func.return returns more than once, so "
                "that buffer-results-to-out-params does not crash on them";
  let description = [{
    Gives every repeated statically shaped memref operand of a `func.return`
    its own `memref.alloc` + `memref.copy`, so that `return %a, %a` becomes
    `return %a, %copy`. Dynamically shaped and non-memref operands are left
    alone.

    Works around an MLIR 22 crash: `buffer-results-to-out-params` with
    `hoist-static-allocs` erases an allocation returned twice while it still
    has the second use (llvm/llvm-project#219492, fixed after 22 by #220232).
    Only statically shaped allocations are hoisted, so only they crash. A
    function returning one tensor under two names is ordinary (an ONNX graph
    output that is also an intermediate), so the pipeline must not crash on
    it. Drop this pass once the fix is in the LLVM quantc builds with.

    Example:

    ```mlir
    %a = memref.alloc() : memref<4xf32>
    return %a, %a : memref<4xf32>, memref<4xf32>
    ```

    becomes

    ```mlir
    %a = memref.alloc() : memref<4xf32>
    %copy = memref.alloc() : memref<4xf32>
    memref.copy %a, %copy : memref<4xf32> to memref<4xf32>
    return %a, %copy : memref<4xf32>, memref<4xf32>
    ```
  }];
  let dependentDialects = ["::mlir::memref::MemRefDialect"];
}

def ContiguousInnerLoop : Pass<"quantc-contiguous-inner-loop"> {
  let summary = "Reorder linalg loops so that a reduction is not the innermost "
                "loop when the output's last dimension can be";
  let description = [{
    For a linalg op with one output whose innermost loop is a reduction
    (matmul, convolution), moves the loop of the output's last dimension
    innermost, generalizing named ops to `linalg.generic` as needed.

    Without it, `C[i,j] += A[i,k] * B[k,j]` lowers to loops i, j, k: the inner
    loop is a scalar dot product walking down a column of B. As i, k, j the
    inner loop is an axpy over contiguous rows that LLVM vectorizes (about 14x
    faster for a 256^3 f32 matmul). Each output element still adds its terms
    in the same order, so results are bit-identical.

    The op is left as it is unless every operand indexed by the new inner
    loop is walked along its last dimension with unit stride (`d` or `d + e`
    with `e` independent of `d`, as a convolution's `ow + kw`); otherwise the
    reordering would trade a dot product for strided accesses.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

#endif // QUANTC_CONVERSION_PASSES_TD
