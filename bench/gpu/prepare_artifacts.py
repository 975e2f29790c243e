#!/usr/bin/env python3
"""Compiles what quantc-gpu-check runs on a GPU machine that has no LLVM/MLIR.

usage: prepare_artifacts.py --out DIR [--chip sm_90a] [--test-chips LIST]
                            [--bin BUILD/bin] [--llvm /usr/lib/llvm-22/bin] [--jobs N]

DIR/tests.txt + DIR/test_<format>_<chip>.so
    For every weight format of integration_test/gpu/cases.txt and every chip
    path of its `chips` (or --test-chips), one shared object compiled end to
    end by `quant-opt --quantc-lower-to-cuda=chip=CHIP` (host code calling the
    mgpu* runtime, PTX embedded), with one function per shape class and row
    count: `t_<N>x<K>_m<M>(x, packed w, y)`. Each line of tests.txt carries
    the chip (quantc-gpu-check skips the chips the device does not run) and
    the tolerance of the kernel's arithmetic (gpu_vs_cpu.tolerance).
DIR/kernels.txt + DIR/kernels*.ptx
    The kernels of `qc-lower-gpu` for --chip at the benchmark shapes
    (bench/gpu/shapes.txt), with the launch shape each was generated for; on
    sm_90a also the mma.sync GEMM (wgmma=false) next to the wgmma one, and
    the W8A8 formats of `act_formats` (activation quantization kernel and
    FP8 wgmma GEMM, each timed alone).
"""
import argparse
import concurrent.futures
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "test", "lit-tools"))
import extract_ptx  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "integration_test", "gpu"))
from gpu_vs_cpu import tolerance  # noqa: E402


# gemv-rows values timed (and tested, GEMV_ROWS_TEST_FORMATS) beside the
# default.
GEMV_ROWS_VARIANTS = (8, 16)
GEMV_ROWS_TEST_FORMATS = ("mxfp4", "nvfp4", "int4_g128", "mxfp8_e4m3", "int8")


def read_table(path):
    table = {}
    for line in open(path):
        line = line.split("#")[0].strip()
        if not line:
            continue
        key, _, value = line.partition(":")
        table[key.strip()] = value.split()
    return table


def ident(text):
    return re.sub(r"[^A-Za-z0-9]", "_", text)


def matmul_function(name, m, n, k, fmt, act=None):
    packed = f"!qc.packed<{n}x{k}, {fmt}>"
    act_attr = f" act <{act}>" if act else ""
    return (f"func.func @{name}(%x: tensor<{m}x{k}xf32>, %w: {packed}) -> tensor<{m}x{n}xf32>"
            f" attributes {{llvm.emit_c_interface}} {{\n"
            f"  %y = qc.matmul %x, %w{act_attr} : tensor<{m}x{k}xf32>, {packed} -> tensor<{m}x{n}xf32>\n"
            f"  return %y : tensor<{m}x{n}xf32>\n}}\n")


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}\n{result.stderr[-4000:]}")
    return result.stdout


def build_test_library(args, fmt, shapes, rows, chip, act=None, variant=""):
    """`act`: qc.matmul's act format; the format column is then
    "FMT act ACT" (quantc-gpu-check fake-quantizes x for the reference).
    `variant`: extra qc-lower-gpu options, applied before the pipeline."""
    base = os.path.join(args.out, f"test_{ident(fmt)}_{chip}" + (f"_act_{ident(act)}" if act else "")
                        + (f"_{ident(variant)}" if variant else ""))
    functions, lines = [], []
    for shape in shapes:
        n, k = (int(v) for v in shape.split("x"))
        for m in rows:
            name = f"t_{n}x{k}_m{m}"
            functions.append(matmul_function(name, int(m), n, k, fmt, act))
            lines.append(f"{os.path.basename(base)}.so {name} {m} {n} {k} {chip} "
                         f"{tolerance(chip, int(m), k, fmt, act):g} {fmt}"
                         + (f" act {act}" if act else ""))
    with open(base + ".mlir", "w") as f:
        f.write("".join(functions))
    first = [f"--qc-lower-gpu=chip={chip} {variant}"] if variant else []
    run([os.path.join(args.bin, "quant-opt"), base + ".mlir", *first,
         f"--quantc-lower-to-cuda=chip={chip}", "-o", base + ".llvm.mlir"])
    run([os.path.join(args.llvm, "mlir-translate"), "--mlir-to-llvmir",
         base + ".llvm.mlir", "-o", base + ".ll"])
    run([os.path.join(args.llvm, "llc"), "-O2", "-relocation-model=pic",
         "-filetype=obj", base + ".ll", "-o", base + ".o"])
    run([os.path.join(args.llvm, "clang"), "-shared", base + ".o", "-o", base + ".so"])
    for suffix in (".llvm.mlir", ".ll", ".o"):
        os.remove(base + suffix)
    return lines


def build_bench_kernels(args, table, variant="", rows=None, act=False):
    """`variant` is extra qc-lower-gpu options (its kernels go to their own
    PTX file); `rows` restricts the M values; `act`: the formats of
    `act_formats`, each as weights and as activations (W8A8), whose functions
    launch the activation quantization kernel and then the GEMM on the
    packed activations (both are timed, each on its own)."""
    functions, problems = [], []
    stem = "kernels" + ("_" + ident(variant) if variant else "") + ("_act" if act else "")
    options = f"chip={args.chip}" + (" " + variant if variant else "")
    for fmt in table["act_formats" if act else "formats"]:
        for shape in table["shapes"]:
            n, k = (int(v) for v in shape.split("x"))
            for m in rows or table["rows"]:
                name = f"b_{ident(fmt)}_{n}x{k}_m{m}"
                functions.append(matmul_function(name, int(m), n, k, fmt, fmt if act else None))
                problems.append((name, int(m), n, k, fmt))
    source = os.path.join(args.out, stem + ".mlir")
    with open(source, "w") as f:
        f.write("".join(functions))
    lowered = run([os.path.join(args.bin, "quant-opt"), source, f"--qc-lower-gpu={options}"])
    # The kernels each function launches (with their dynamic shared memory),
    # and the shape each was made for.
    launches = {}
    for func, body in re.findall(r"func\.func @(\w+)\((.*?)\n  \}", lowered, re.S):
        launches[func] = []
        for line in re.findall(r"gpu\.launch_func\s+@qc_kernels::@\w+[^\n]*", body):
            kernel = re.search(r"@qc_kernels::@(\w+)", line).group(1)
            smem = re.search(r"dynamic_shared_memory_size %c(\d+)", line)
            operands = len(re.findall(r" : memref<", line))
            launches[func].append((kernel, int(smem.group(1)) if smem else 0, operands))
    shapes = {}
    for kernel, attrs in re.findall(r"gpu\.func @(\w+)\(.*?kernel attributes \{([^}]*)\}", lowered):
        block = re.search(r"known_block_size = array<i32: ([\d, ]+)>", attrs).group(1)
        grid = re.search(r"known_grid_size = array<i32: ([\d, ]+)>", attrs).group(1)
        shapes[kernel] = (grid.replace(",", ""), block.replace(",", ""))
    binary = os.path.join(args.out, stem + ".binary.mlir")
    run([os.path.join(args.bin, "quant-opt"), source, f"--qc-lower-gpu={options}",
         "--quantc-gpu-to-ptx", "-o", binary])
    if extract_ptx.extract(binary, os.path.join(args.out, stem + ".ptx")) != 0:
        raise RuntimeError("no PTX in " + binary)
    os.remove(binary)
    lines = []
    for name, m, n, k, fmt in problems:
        for kernel, smem, operands in launches[name]:
            grid, block = shapes[kernel]
            extra = ""
            if act:
                # The quantizer (x -> packed x) and the GEMM (packed x, W ->
                # y); kernels with other operands (the tensor statistics of
                # per-tensor act formats) are not timed.
                if kernel.startswith("qc_quantize_act") and operands == 2:
                    kind = "x:act"
                elif operands == 3 and not kernel.startswith(("qc_act", "qc_quantize_act")):
                    kind = "act:w:y"
                else:
                    continue
                extra = f" act={fmt} args={kind}"
            if smem:
                extra += f" smem={smem}"
            lines.append(f"{kernel} {stem}.ptx {m} {n} {k} {grid} {block}{extra} {fmt}")
    return lines


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--chip", default="sm_90a", help="the chip of the benchmark kernels")
    parser.add_argument("--test-chips", default=None,
                        help="comma-separated chip paths to test (default: cases.txt's chips)")
    parser.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    parser.add_argument("--llvm", default="/usr/lib/llvm-22/bin")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--cases", default=os.path.join(ROOT, "integration_test", "gpu", "cases.txt"))
    parser.add_argument("--bench-shapes", default=os.path.join(ROOT, "bench", "gpu", "shapes.txt"))
    parser.add_argument("--only", choices=["tests", "bench"], default=None)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    if args.only in (None, "bench"):
        table = read_table(args.bench_shapes)
        lines = build_bench_kernels(args, table)
        # The tensor-core kernel at decode sizes too, to place the GEMV/GEMM
        # crossover (gemv-max-rows) from measurements.
        small = [m for m in table["rows"] if int(m) <= 16]
        lines += build_bench_kernels(args, table, "gemv-max-rows=0", small)
        # More W rows per GEMV CTA (x read once per CTA; the default is 4
        # at M <= 4, 2 above), to choose gemv-rows from measurements.
        for rows_per_cta in GEMV_ROWS_VARIANTS:
            lines += build_bench_kernels(args, table, f"gemv-rows={rows_per_cta}", small)
        # On sm_90a: the mma.sync GEMM (the other chips' path) against wgmma.
        if args.chip == "sm_90a":
            large = [m for m in table["rows"] if int(m) > 16]
            lines += build_bench_kernels(args, table, "wgmma=false", large)
            # W8A8 FP8: activations quantized on the GPU, the FP8 wgmma GEMM.
            if table.get("act_formats"):
                lines += build_bench_kernels(args, table, rows=large, act=True)
        with open(os.path.join(args.out, "kernels.txt"), "w") as f:
            f.write(f"# kernel ptx M N K grid(3) block(3) [smem=B act=FORMAT args=A:B:C] format"
                    f"   (chip {args.chip})\n")
            f.write("\n".join(lines) + "\n")
        print(f"prepare: {len(lines)} benchmark kernels")

    if args.only in (None, "tests"):
        cases = read_table(args.cases)
        chips = args.test_chips.split(",") if args.test_chips else cases.get("chips", [args.chip])
        failures = 0
        lines = []
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            futures = {pool.submit(build_test_library, args, fmt, cases["shapes"], cases["rows"], chip):
                       f"{fmt} ({chip})"
                       for fmt in cases["formats"] for chip in chips}
            # Weight/act pairs: activations quantized on the GPU.
            for pair in cases.get("acts", []):
                fmt, act = pair.split("/", 1)
                for chip in chips:
                    futures[pool.submit(build_test_library, args, fmt, cases["shapes"],
                                        cases["rows"], chip, act)] = f"{fmt} act {act} ({chip})"
            # The GEMV with more rows per CTA (M = 16 clamps it to 128 / M).
            small = [m for m in cases["rows"] if int(m) <= 16]
            for rows_per_cta in GEMV_ROWS_VARIANTS:
                variant = f"gemv-rows={rows_per_cta}"
                for fmt in GEMV_ROWS_TEST_FORMATS:
                    for chip in [c for c in chips if c in ("sm_80", "sm_90a")]:
                        futures[pool.submit(build_test_library, args, fmt, cases["shapes"], small,
                                            chip, None, variant)] = f"{fmt} {variant} ({chip})"
            for future in concurrent.futures.as_completed(futures):
                try:
                    lines += future.result()
                except RuntimeError as error:
                    failures += 1
                    print(f"prepare: {futures[future]}: {error}", file=sys.stderr)
        with open(os.path.join(args.out, "tests.txt"), "w") as f:
            f.write("# library function M N K chip tolerance format\n")
            f.write("\n".join(sorted(lines)) + "\n")
        print(f"prepare: {len(lines)} test cases in {len(futures) - failures} libraries")
        if failures:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
