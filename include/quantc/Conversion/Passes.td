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

def FillPadBorders : Pass<"quantc-fill-pad-borders"> {
  let summary = "Fill only the border of a padded buffer whose interior a "
                "copy overwrites next";
  let description = [{
    A padded tensor (`tensor.pad`, or `tensor.insert_slice` into a filled
    tensor) bufferizes to a `linalg.fill` of a fresh buffer followed by a
    copy of the unpadded data into a subview of its interior, so the interior
    is written twice. When the next use of the buffer after the fill is that
    copy (`memref.copy` or `linalg.copy` into a static, unit-stride subview),
    the fill becomes fills of the slabs around the interior, one before and
    one after it along each dimension: for BlazeFace's 3x3 depthwise
    convolutions about 3 % of the buffer instead of all of it.

    ```mlir
    linalg.fill ins(%zero : f32) outs(%buf : memref<1x24x66x66xf32>)
    %in = memref.subview %buf[0, 0, 1, 1] [1, 24, 64, 64] [1, 1, 1, 1] : ...
    memref.copy %x, %in : ...
    ```

    fills `%buf[0, 0, 0, 0] [1, 24, 1, 66]`, `%buf[0, 0, 65, 0] [1, 24, 1,
    66]`, `%buf[0, 0, 1, 0] [1, 24, 64, 1]` and `%buf[0, 0, 1, 65] [1, 24,
    64, 1]` instead.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::memref::MemRefDialect"];
}

def StridedCopiesToLinalg : Pass<"quantc-strided-copies-to-linalg"> {
  let summary = "Turn memref.copy of strided, statically shaped buffers into "
                "linalg.copy";
  let description = [{
    A `memref.copy` whose source or target is not contiguous (the interior of
    a padded tensor, a slice of a concatenation) lowers to a call of MLIR's
    generic runtime `memrefCopy`, which copies one element at a time through
    the strides: on BlazeFace a sixth of the run time. As `linalg.copy` it
    becomes a loop nest whose innermost, contiguous loop LLVM vectorizes.
    Contiguous copies (one memcpy) and dynamic shapes are left alone.

    ```mlir
    memref.copy %a, %sub : memref<1x24x64x64xf32> to memref<1x24x64x64xf32, strided<[104544, 4356, 66, 1], offset: 67>>
    ```

    becomes

    ```mlir
    linalg.copy ins(%a : memref<1x24x64x64xf32>) outs(%sub : memref<1x24x64x64xf32, strided<[104544, 4356, 66, 1], offset: 67>>)
    ```
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def VectorizeContractions
    : Pass<"quantc-vectorize-contractions", "::mlir::ModuleOp"> {
  let summary = "Lower f32 convolutions and matmuls on buffers to "
                "register-tiled vector code split over the thread pool";
  let description = [{
    Matches every linalg op on buffers (named or generic) that computes
    `out += x * w` in f32 with static shapes, where the output's last
    dimension `v` is read from `x`'s last, unit-stride dimension as `s * v + e`
    (`s` <= 4: a stride-s convolution; `e` independent of `v`) and `w` does not
    depend on `v`: grouped, depthwise, strided and dilated convolutions in the
    importer's `[n, g, f, oh, ow]` form, `linalg.matmul`, `batch_matmul`.

    Each such op becomes a call to a kernel function holding a register tile
    of `B` rows of the largest output dimension that `x` does not read (output
    channels, matmul rows) by up to 4 vectors of `vector-width` f32 along `v`:
    the tile is loaded from `out`, updated with products of `x` vectors (a
    masked load; for `s` > 1 a masked load of `s` vectors and a
    `vector.shuffle` keeping every s-th lane) by broadcast `w` scalars for
    every reduction index, in the op's reduction order, and stored with
    masked stores. With `fma` (the CPU pipeline sets it for targets with FMA)
    each product and sum is one `llvm.intr.fma`, one rounding; without, a multiply
    and an add, two roundings as in the scalar loops (bit-identical to them).
    The fused form is the faster one also where FMA and add have pipes of their
    own: a 128x256 by 256x768 matmul on one Zen 4 core ran at 95 GFLOP/s with
    multiply + add and 117 with FMA (92 % of the FMA peak). Rows
    past the end recompute the last row. When the output
    is a fresh buffer last written, just before, by a `linalg.fill` of a
    constant or a broadcast `linalg.generic` (a convolution's bias), the tile
    starts from that value instead and the fill / broadcast is erased: one
    write and one read of the output fewer, the same sums. The kernel runs
    items (outer parallel indices x row blocks) [begin, end) and carries the
    `quantc.parallel_task` attribute, so that `quantc-launch-parallel-tasks`
    runs it over quantc_parallel_for. Every output element is computed by one
    item in one fixed order, so results do not depend on the thread count.
    When the output is dead after an elementwise `linalg.generic` that reads
    it right after the contraction (identity maps, a fresh result buffer; a
    residual add and ReLU), the kernel applies that op's body to each
    finished vector and stores into its result; the op is erased.

    ```mlir
    linalg.matmul ins(%a, %b : memref<8x32xf32>, memref<32x64xf32>)
                  outs(%c : memref<8x64xf32>)
    ```

    becomes `call @__quantc_contraction_0(%b, %a, %c, %c0, %c1)` and a private
    `func.func @__quantc_contraction_0` with an 8x4 tile of
    `vector<16xf32>` accumulators. A tile holds at most 3/4 of
    `vector-registers` accumulators (24 of AVX-512's 32 zmm, 12 of AVX2's 16
    ymm), so that the broadcast `w` scalars and `x` vectors have registers
    too: with 24 accumulators on AVX2 every step spilled, and the float test
    decoder compiled for x86-64-v3 ran 2.5x slower than for x86-64-v4.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"16",
           "f32 lanes per vector (16: AVX-512, 8: AVX2, 4: SSE)">,
    Option<"fma", "fma", "bool", /*default=*/"false",
           "one fused multiply-add per product (llvm.intr.fma; for targets with "
           "FMA) instead of a multiply and an add">,
    Option<"vectorRegisters", "vector-registers", "int64_t", /*default=*/"32",
           "vector registers of the target (32: AVX-512, 16: AVX2 / SSE); "
           "the tile keeps 3/4 of them as accumulators">,
  ];
  let dependentDialects = [
    "::mlir::affine::AffineDialect", "::mlir::arith::ArithDialect",
    "::mlir::func::FuncDialect", "::mlir::LLVM::LLVMDialect",
    "::mlir::memref::MemRefDialect", "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def TwoPassSoftmax : Pass<"quantc-two-pass-softmax", "::mlir::ModuleOp"> {
  let summary = "Lower linalg.softmax on buffers to the two-pass algorithm in "
                "vectors, split over the thread pool";
  let description = [{
    Replaces every `linalg.softmax` on buffers. When the element type is f32,
    the shapes are static and the softmax runs along the last dimension,
    stored contiguously in both buffers (attention rows), it becomes a call
    of a kernel over rows [begin, end) carrying `quantc.parallel_task`
    (`quantc-launch-parallel-tasks` splits the rows over the thread pool;
    each row is computed by one task in one order, so results do not depend
    on the thread count). Per row, the Two-Pass Softmax algorithm (Dukhan &
    Ablavatski, 2020) in vectors of `vector-width` f32, masked at the row's
    tail:

    1. every exp(x) as a pair p * 2^n, n = round(x * log2 e),
       r = x - n * ln2 (ln2 in two constants, Cody-Waite), p = a degree-6
       polynomial in r; summed per lane as sum * 2^e with the running
       largest exponent e (sum * 2^(e - e') + p * 2^(n - e')), then across
       lanes; the plain max of the row on the side;
    2. out = p * (1 / sum) * 2^(n - e) from the recomputed pair.

    No pass over the row for its max first: two reads of the row instead of
    three. x - shift is clamped to [-300, 300] (so n * ln2_hi stays exact and
    -inf masks contribute 0); a row whose max lies outside [-190, 200] runs
    pass 1 again with shift = max (three passes, as the classic algorithm).
    A row holding NaN or +inf, or only -inf, is NaN throughout, as
    max / exp / sum / div gives. Results with 2^(n - e) below 2^-126 flush to
    0 (the classic algorithm's exp flushes there too).

    Any other softmax (f64, dynamic shapes, another dimension, a strided last
    dimension) becomes scalar loops of the classic algorithm in index order
    (max, sum of exp(x - max), exp(x - max) / sum), the values of the max /
    exp / sum / div generics the importer wrote before.

    ```mlir
    linalg.softmax dimension(2) ins(%x : memref<4x128x128xf32>)
                                outs(%y : memref<4x128x128xf32>)
    ```

    becomes `call @__quantc_softmax_0(%x, %y, %c0, %c512)`.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"16",
           "f32 lanes per vector (16: AVX-512, 8: AVX2, 4: SSE)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::func::FuncDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"
  ];
}

def VectorizeReductions : Pass<"quantc-vectorize-reductions"> {
  let summary = "Lower f32 linalg reductions along a contiguous last "
                "dimension to loops over vector accumulators";
  let description = [{
    Matches `linalg.generic` ops on buffers with static shapes, one f32
    output and one reduction loop that exactly one input walks, along its
    last, unit-stride dimension (inputs it does not index are read once per
    output element and broadcast; dot products, such as qc-expand-formats'
    reference `qc.matmul`, keep their sums in order): the means of RMSNorm and LayerNorm,
    ReduceSum / ReduceMean / ReduceMax over the last axis, LogSoftmax's max
    and sum. The body must be elementwise arith / math ops on the inputs
    ending in `yield combine(v, out)` with `combine` one of `addf`, `mulf`,
    `maximumf`, `minimumf`.

    Each becomes loops over the parallel dimensions around a loop over the
    reduction in steps of 4 x `vector-width` lanes into 4 vector
    accumulators (the body applied to vectors; whole vectors past the last
    step and a masked tail, its dead lanes set to the neutral element), then
    (a0 . a1) . (a2 . a3) and a reduction across lanes, combined with the
    output's value. The scalar loops added one element after another (a
    chain of dependent adds, about 6 GB/s); this reassociates float sums and
    products: results differ from the sequential order in the last bits, but
    the order is fixed at compile time (no threads), so they are
    deterministic and do not depend on the thread count. max / min are
    exact in any order.

    ```mlir
    linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>,
                                     affine_map<(i, j) -> (i)>],
                    iterator_types = ["parallel", "reduction"]}
        ins(%x : memref<128x256xf32>) outs(%sum : memref<128xf32>) {
    ^bb0(%in: f32, %acc: f32):
      %sq = arith.mulf %in, %in : f32
      %s = arith.addf %sq, %acc : f32
      linalg.yield %s : f32
    }
    ```

    becomes a loop over the 128 rows, each 4 steps of 4 `vector<16xf32>`
    loads, squares and adds, then `vector.reduction <add>`.
  }];
  let options = [
    Option<"vectorWidth", "vector-width", "int64_t", /*default=*/"16",
           "f32 lanes per vector (16: AVX-512, 8: AVX2, 4: SSE)">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::vector::VectorDialect"
  ];
}

def LaunchParallelTasks
    : Pass<"quantc-launch-parallel-tasks", "::mlir::ModuleOp"> {
  let summary = "Run calls to quantc.parallel_task functions over "
                "quantc_parallel_for";
  let description = [{
    On the LLVM dialect: every `llvm.call` of a function carrying the
    `quantc.parallel_task` attribute, whose last two arguments are `begin`
    (zero) and `end`, becomes a store of the other arguments (memref
    descriptors included) into a stack context struct and
    `quantc_parallel_for(@<task>_trampoline, context, end)`; the trampoline
    loads the arguments back and calls the task on the range it is given.
    Runs after `convert-to-llvm`, where every argument is a plain LLVM value.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def QcLowerGpu : Pass<"qc-lower-gpu", "::mlir::ModuleOp"> {
  let summary = "Lower qc.matmul with packed weights to NVIDIA GPU kernels "
                "(gpu + nvvm dialects)";
  let description = [{
    Replaces every `qc.matmul` whose weights the GPU kernels can read (any
    format of the library whose scales run along K: per tensor, per output
    channel, blocks of 16 or more along K, 2-D blocks; float activations, no
    `act`) with a `gpu.launch_func` of a kernel generated for its shapes and
    format, in a `gpu.module @qc_kernels` targeting `#nvvm.target<chip>`.
    The activations and the weight bytes are passed as host memrefs
    (`bufferization.to_buffer`); `quantc-stage-gpu-buffers` later moves them
    to the device. Other `qc.matmul`s stay for the CPU reference lowering.

    Kernels, chosen by the number of rows M of the activations:
    * GEMV (M <= gemv-max-rows, decode): each CTA of 128 threads owns 2-4
      rows of W; threads walk K in chunks of 32 codes loaded with one 128-bit
      (4-bit formats) or two (8-bit) vector loads, decode the codes in
      registers with integer arithmetic (minifloats: sign and magnitude bits
      placed into an f32 and rescaled by a power of two; integers: the
      2^23 magic-number conversion), sum x*w in f32 per scale block, apply the
      block scale once per block, then reduce with warp shuffles and shared
      memory.
    * GEMM (larger M, prefill): 128x128x32 CTA tiles staged in shared memory
      as f16 (activations rounded to f16, weights dequantized to f16), 8 warps
      of 64x32 each issuing `mma.sync.m16n8k16` with f32 accumulation
      (sm_80, sm_90a, sm_100a, sm_120a all have it).
    * sm_90a GEMM (K % 64 == 0): 128x128x64 CTA tiles of bf16 in the wgmma
      core-matrix layout, 2 warpgroups issuing `wgmma.mma_async.m64n128k16`
      (f32 accumulators); `wgmma=false` keeps mma.sync.
    * A SIMT kernel (one thread per output, f32) for shapes the two others do
      not take (K not a multiple of 32) and when `tensor-cores=false`.

    Example:

    ```mlir
    %y = qc.matmul %x, %w : tensor<1x4096xf32>, !qc.packed<4096x4096, mxfp4> -> tensor<1x4096xf32>
    ```

    becomes `bufferization.to_buffer` of `%x` and of the weight bytes, a
    `memref.alloc` for the result, `gpu.launch_func @qc_kernels::@qc_gemv_0`
    and a `bufferization.to_tensor` of the result.
  }];
  let options = [
    Option<"chip", "chip", "std::string", /*default=*/"\"sm_90a\"",
           "Target GPU: sm_80, sm_90a, sm_100a or sm_120a, or a comma-"
           "separated list of them (one gpu.module per chip, the launch "
           "chosen at run time by quantc_cuda_select_target)">,
    Option<"gemvMaxRows", "gemv-max-rows", "int64_t", /*default=*/"16",
           "Largest number of activation rows M that uses the GEMV kernel">,
    Option<"gemvRows", "gemv-rows", "int64_t", /*default=*/"0",
           "Rows of W per GEMV CTA (each CTA reads x once for all of them); "
           "0: 4 for M <= 4, else 2">,
    Option<"tensorCores", "tensor-cores", "bool", /*default=*/"true",
           "Use mma.sync for M > gemv-max-rows (else the SIMT kernel)">,
    Option<"wgmma", "wgmma", "bool", /*default=*/"true",
           "On sm_90a, use the wgmma kernel for M > gemv-max-rows where it "
           "applies (K % 64 == 0); false: mma.sync">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::func::FuncDialect",
    "::mlir::gpu::GPUDialect", "::mlir::LLVM::LLVMDialect",
    "::mlir::memref::MemRefDialect", "::mlir::NVVM::NVVMDialect",
    "::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def PackGpuBinaries : Pass<"quantc-pack-gpu-binaries", "::mlir::ModuleOp"> {
  let summary = "Pack each PTX object of gpu.binary ops with a cubin for its "
                "chip into one CUDA image the runtime chooses from";
  let description = [{
    Rewrites every `#gpu.object<#nvvm.target<chip = C>, assembly = PTX>` into
    a `bin` object holding a quantc CUDA image (quantc/Runtime/CudaDriver.h):
    a cubin assembled by ptxas for C when ptxas is available, and the PTX.
    The host then loads it with `mgpuModuleLoad(data, size)`; the runtime
    loads the cubin when it runs on the device and JIT-compiles the PTX
    otherwise. A ptxas failure is an error naming the chip.
  }];
  let options = [
    Option<"ptxas", "ptxas", "std::string", /*default=*/"\"\"",
           "The ptxas to run: a path, 'none' for PTX only, or empty to look "
           "for $QUANTC_PTXAS, /usr/local/cuda/bin/ptxas and ptxas on PATH">,
  ];
}

def StageGpuBuffers : Pass<"quantc-stage-gpu-buffers", "::mlir::ModuleOp"> {
  let summary = "Copy the host memref operands of gpu.launch_func to device "
                "memory and back";
  let description = [{
    For every synchronous `gpu.launch_func` in a host function, allocates a
    device buffer for each memref operand, copies the operands the kernel
    reads to the device before the launch and the ones it writes back after
    it, frees the device buffers and waits, all on one stream (async tokens),
    so that `gpu-to-llvm` turns them into `mgpu*` runtime calls. A kernel
    argument marked `llvm.readonly` is only copied in, one marked
    `llvm.writeonly` only copied out.

    Runs on buffers after the CPU pipeline's deallocation passes, which do
    not accept the `gpu.dealloc` it creates.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def GraphToGpu : Pass<"quantc-graph-to-gpu", "::mlir::ModuleOp"> {
  let summary = "Run the float graph of host functions on the GPU: linalg "
                "ops become kernels, buffers live on the device";
  let description = [{
    For every function on buffers (after bufferization) whose body is one
    block of linalg ops on static memrefs, memref.copy/alloc/dealloc/
    get_global, view ops and the qc-lower-gpu launches, everything moves to
    the GPU:
    * each linalg op (and memref.copy) becomes a kernel in
      `gpu.module @qc_graph_kernels` (per chip `@qc_graph_kernels_<chip>`):
      one thread per point of the parallel loops (256 threads a block), the
      reduction loops sequential in the thread, the payload cloned;
    * memref.alloc/dealloc become gpu.alloc/gpu.dealloc (the frees at the
      end of the function), the memref arguments are copied to the device
      once at entry and the written ones back once at the end, and
      memref.get_global becomes the device copy the runtime keeps per
      constant (`quantc_cuda_device_constant`: uploaded on first use, then
      reused by every call);
    * everything runs on one stream (async tokens) with one wait at the end.
    A function holding anything else (host loops reading memrefs, calls, ...)
    is left as it is with a remark saying why: its linalg ops stay on the
    CPU and quantc-stage-gpu-buffers stages its launches.

    `chip` lists the chips as for qc-lower-gpu; empty takes them from the
    module's gpu.binary/gpu.module targets. Several chips: the launches pick
    one through `quantc_cuda_select_target`.
  }];
  let options = [
    Option<"chip", "chip", "std::string", /*default=*/"\"\"",
           "sm_80, sm_90a, sm_100a or sm_120a (comma-separated list for "
           "several); empty: the chips of the module's GPU code">,
  ];
  let dependentDialects = [
    "::mlir::gpu::GPUDialect", "::mlir::NVVM::NVVMDialect",
    "::mlir::LLVM::LLVMDialect", "::mlir::scf::SCFDialect",
    "::mlir::arith::ArithDialect", "::mlir::memref::MemRefDialect",
    "::mlir::func::FuncDialect"
  ];
}

def QcLowerCpu : Pass<"qc-lower-cpu", "::mlir::ModuleOp"> {
  let summary = "Lower qc.matmul with constant weights to x86 kernels "
                "generated for a target ISA";
  let description = [{
    Replaces every `qc.matmul` whose weights are a `qc.constant` by a call to
    a kernel generated for `target` (lib/Conversion/QcToCPU, API in
    quantc/Conversion/QcToCPU.h). Per target, format and shape class the pass
    chooses how the kernel multiplies:

    * float activations (no `act`): on VNNI targets, activations as 16-bit
      fixed point per block of 32 split into two int8 limbs and integer dot
      products (`i16=false` turns this off); else weights decoded in
      registers and f32 FMA, or vdpbf16ps with activations rounded to bf16
      where the target has AVX512-BF16 (4-bit formats; `bf16=false` keeps
      f32);
    * `act` an int8 format: activations quantized per block on the fly,
      integer dot products with vpdpbusd (weights as unsigned code + offset,
      the offset removed with the per-block sum of activation codes; E2M1
      codes are the integers {0, 1, 2, 3, 4, 6, 8, 12} / 2 through a 16-entry
      vpshufb table);

    the packed weight layout, written into the weight type
    (`!qc.packed<..., layout = x86_n16k8>`) and repacked at compile time
    through the format library, and the register tiling (GEMV, small M,
    large M). Work is split over column tiles with quantc_parallel_for, so
    results do not depend on the thread count. An elementwise linalg.generic
    that is the matmul's only consumer (after reshapes of its rows) is folded
    into the kernel's store: its scalar body runs on the output vectors,
    reading [N] / [M, N] / scalar f32 operands, so y is written once
    (`epilogues=false` keeps it separate). A qc.hadamard along K that only
    feeds an act-quantized matmul is done by the kernel's prep phase on each
    row before it is quantized, with the same operations as its reference
    lowering (`hadamard=false` keeps it separate). Matmuls without a kernel (non-
    constant weights, unsupported formats) are left for qc-expand-formats.

    ```mlir
    %y = qc.matmul %x, %w : tensor<1x4096xf32>, !qc.packed<4096x4096, mxfp4> -> tensor<1x4096xf32>
    ```

    becomes

    ```mlir
    %xb = bufferization.to_buffer %x read_only : tensor<1x4096xf32> to memref<1x4096xf32>
    %wb = memref.get_global @__qc_weights_0 : memref<8650752xi8>
    %yb = memref.alloc() {alignment = 64 : i64} : memref<1x4096xf32>
    call @__qc_matmul_1x4096x4096_mxfp4_...(%xb, %wb, %yb) : (...) -> ()
    %y = bufferization.to_tensor %yb restrict writable : memref<1x4096xf32> to tensor<1x4096xf32>
    ```
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"native\"",
           "CPU to generate for: x86-64, x86-64-v3, x86-64-v4, "
           "x86-64-v4-vnni (+VNNI, BF16, VBMI) or native (the host)">,
    Option<"allowBF16", "bf16", "bool", /*default=*/"true",
           "Let W4A16 kernels round activations to bf16 (vdpbf16ps) where "
           "the target has AVX512-BF16">,
    Option<"allowI16", "i16", "bool", /*default=*/"true",
           "Let W4A16 / W8A16 kernels on VNNI targets hold activations as "
           "16-bit fixed point per block of 32 (two int8 limbs, vpdpbusd)">,
    Option<"packOnly", "pack-only", "bool", /*default=*/"false",
           "Only repack constant weights into the kernels' layouts; leave "
           "qc.matmul in place">,
    Option<"fuseEpilogues", "epilogues", "bool", /*default=*/"true",
           "Fold an elementwise linalg.generic that is the only consumer of "
           "a matmul (bias, activation, residual add, SwiGLU product) into "
           "the kernel's store">,
    Option<"fuseHadamard", "hadamard", "bool", /*default=*/"true",
           "Rotate x in the prep phase of act-quantized kernels when it is "
           "a qc.hadamard along K that only the matmul reads">,
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::bufferization::BufferizationDialect",
    "::mlir::func::FuncDialect", "::mlir::LLVM::LLVMDialect",
    "::mlir::math::MathDialect", "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect", "::mlir::tensor::TensorDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def ApproximateMath : Pass<"quantc-approximate-math"> {
  let summary = "Replace f32 exp calls by inline polynomials so that the "
                "loops around them vectorize";
  let description = [{
    LLVM lowers `math.exp` on f32 to calls of libm's `expf`, one element at a
    time, which stops the loop vectorizer: softmax and SiLU then cost a few
    ns per element. This pass rewrites `exp` and `expm1` on f32 (scalars
    and vectors) into MLIR's polynomial approximations (range reduction and
    a polynomial, within 1e-7 relative of the exact value on normal results;
    overflow gives +inf, NaN propagates; results below the smallest normal
    float flush to 0), and applies the math algebraic simplifications
    (`powf(x, 2)` -> `x * x`, `powf(x, 0.5)` -> `sqrt(x)`, ...). `log` is
    left to libm: MLIR's approximation is wrong for subnormal inputs.
    The CPU pipeline runs it on loops, after bufferization.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect", "::mlir::math::MathDialect",
    "::mlir::vector::VectorDialect"
  ];
}

def FuseElementwise : Pass<"quantc-fuse-elementwise"> {
  let summary = "Fuse chains of elementwise linalg ops on tensors, but "
                "nothing into contractions";
  let description = [{
    Upstream's `linalg-fuse-elementwise-ops` (elementwise producer/consumer
    fusion when the producer has one use, reshapes folded by expansion,
    the usual canonicalizations) with one rule: no operand of a contraction
    (a linalg op that reduces over two or more tensors: matmul,
    batch_matmul, convolutions) is fused into it, no contraction into its
    consumer, and no reshape is folded into one. Fusing a transpose or a
    scale into a matmul's operand, or expanding a `batch_matmul` behind a
    `collapse_shape` into a higher-rank `linalg.generic`, turns it into a
    contraction `quantc-vectorize-contractions` cannot tile (strided or
    transposed operands), which then runs as scalar loops: in the test
    decoder, all 8 attention `batch_matmul`s of the quantized models (and
    13 of 37 contractions of the float one) were lost that way.
  }];
  let dependentDialects = [
    "::mlir::affine::AffineDialect", "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

#endif // QUANTC_CONVERSION_PASSES_TD
