#!/usr/bin/env python3
"""Plans and post-processes the GPU bundle (scripts/make-gpu-bundle.sh).

Subcommands (all paths are explicit; nothing here touches the source tree):

  plan OUTDIR              writes OUTDIR/check/<case>.mlir + OUTDIR/check/cases.tsv
                           and OUTDIR/bench/<case>.mlir + OUTDIR/bench/list.tsv
  table CASES.tsv OUT.cpp  the C++ table of the compiled check functions
  bench-manifest LIST.tsv KERNELDIR PTXDIR OUT.tsv
                           reads <case>.kernels.mlir (after qc-lower-gpu) and
                           <case>.ptx.mlir (after quantc-gpu-to-ptx) for each
                           bench case, extracts the PTX to PTXDIR/<case>.ptx and
                           writes the launch manifest (kernel, grid, block, bytes)
  extract-mlir-ptx IN.mlir OUT.ptx
                           the PTX of the (single) gpu.binary of an MLIR file
  elf-ptx EXE OUTDIR       every PTX image embedded in an executable (the
                           `*_binary` objects of gpu-to-llvm), one file each;
                           prints how many
  merge-hashes CASES.tsv HASHES.tsv OUT.tsv
                           adds the input hashes `qc-gpu-check gen` printed

Check cases: y = x . W^T with W[N, K] packed in a format and x [.., K] f32/f16.
The function of case NAME is @NAME with llvm.emit_c_interface, so that the
driver calls _mlir_ciface_NAME(x*, w*, y*) (the result is an out-parameter).
"""
import os
import re
import struct
import sys

# ----------------------------------------------------------------------------
# The cases
# ----------------------------------------------------------------------------

# Main matrix: the formats users deploy, decode (GEMV) and prefill (mma.sync)
# rows, at a real layer size.
MAIN_FORMATS = ["mxfp4", "nvfp4", "int4_g32", "mxfp8_e4m3", "int8"]
MAIN_M = [1, 16, 128]

# Every other format the kernels read (scale types, zero points, 3/5/6-bit
# codes that straddle bytes, 2-D blocks, per-channel minifloats), at a small
# shape whose N (320) is not a multiple of the 128-wide GEMM tile.
SWEEP_FORMATS = [
    "mxfp4", "nvfp4", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp8_e4m3", "mxfp8_e5m2",
    "mxint8", "nvint4", "int4_g128", "int4_g32, scale = bf16", "uint4", "int3",
    "int5", "e4m3", "e5m2, saturate = false",
    "int4, granularity = block2d, block = 16, block2 = 32",
]
SWEEP_M = [3, 200]
SWEEP_K, SWEEP_N = 768, 320

# Benchmarks: the issue's shapes (K x N) and rows, weights random on the device.
BENCH_SHAPES = [(4096, 4096), (4096, 14336), (14336, 4096)]
BENCH_N = [1, 16, 128, 4096]
BENCH_FORMATS = ["mxfp4", "nvfp4", "int4_g32", "mxfp8_e4m3", "int8"]
BENCH_ACT = "f16"


def slug(fmt):
    s = re.sub(r"[^a-z0-9]+", "_", fmt.lower()).strip("_")
    return s


def check_cases():
    """(name, x_shape, x_dtype, n, k, format, y_dtype, note)"""
    cases = []

    def add(name, xshape, xdt, n, k, fmt, ydt, note):
        cases.append(dict(name=name, xshape=xshape, xdtype=xdt, n=n, k=k,
                          format=fmt, ydtype=ydt, note=note))

    for fmt in MAIN_FORMATS:
        for m in MAIN_M:
            add(f"c_{slug(fmt)}_m{m}_4096x4096", [m, 4096], "f32", 4096, 4096,
                fmt, "f32", "main")
    # The first row count that leaves the GEMV kernel.
    add("c_mxfp4_m17_4096x4096", [17, 4096], "f32", 4096, 4096, "mxfp4", "f32",
        "gemv/gemm boundary")
    # The activation/result type the benchmarks run.
    for fmt in ["mxfp4", "nvfp4", "mxfp8_e4m3", "int8"]:
        for m in [1, 128]:
            add(f"c_{slug(fmt)}_m{m}_4096x4096_f16", [m, 4096], "f16", 4096, 4096,
                fmt, "f16", "f16 activations and results (as benchmarked)")
    # The benchmark shapes that are not square, decode and prefill.
    for (k, n) in [(4096, 14336), (14336, 4096)]:
        for m in [1, 128]:
            add(f"c_mxfp4_m{m}_{k}x{n}", [m, k], "f32", n, k, "mxfp4", "f32",
                "benchmark shape")
    add("c_mxfp8_e4m3_m1_14336x4096", [1, 14336], "f32", 4096, 14336,
        "mxfp8_e4m3", "f32", "benchmark shape")
    for fmt in SWEEP_FORMATS:
        for m in SWEEP_M:
            add(f"c_{slug(fmt)}_m{m}_{SWEEP_K}x{SWEEP_N}", [m, SWEEP_K], "f32",
                SWEEP_N, SWEEP_K, fmt, "f32", "format sweep")
    # K not a multiple of 32: the SIMT kernel.
    add("c_int8_m5_1000x300_simt", [5, 1000], "f32", 300, 1000, "int8", "f32",
        "SIMT kernel (K % 32 != 0)")
    add("c_e4m3_m40_1000x300_simt", [40, 1000], "f32", 300, 1000, "e4m3", "f32",
        "SIMT kernel (K % 32 != 0)")
    # Rank-3 activations, collapsed to [M, K] and expanded back.
    add("c_nvfp4_rank3_2x100x256", [2, 100, 256], "f32", 192, 256, "nvfp4",
        "f32", "rank-3 activations")
    return cases


def bench_cases():
    out = []
    for (k, n) in BENCH_SHAPES:
        for m in BENCH_N:
            for fmt in BENCH_FORMATS:
                out.append(dict(name=f"b_{slug(fmt)}_m{m}_{k}x{n}", m=m, k=k,
                                n=n, format=fmt))
    return out


def tensor_type(shape, dt):
    return "tensor<" + "x".join(str(d) for d in shape) + "x" + dt + ">"


def matmul_func(name, xshape, xdt, n, k, fmt, ydt):
    yshape = list(xshape[:-1]) + [n]
    xt, yt = tensor_type(xshape, xdt), tensor_type(yshape, ydt)
    wt = f"!qc.packed<{n}x{k}, {fmt}>"
    return (f"func.func @{name}(%x: {xt}, %w: {wt}) -> {yt} "
            f"attributes {{llvm.emit_c_interface}} {{\n"
            f"  %y = qc.matmul %x, %w : {xt}, {wt} -> {yt}\n"
            f"  return %y : {yt}\n}}\n")


def cmd_plan(outdir):
    check = os.path.join(outdir, "check")
    bench = os.path.join(outdir, "bench")
    os.makedirs(check, exist_ok=True)
    os.makedirs(bench, exist_ok=True)
    # Seeds: one per distinct input, so that cases sharing a weight share the
    # regenerated tensor (and its cost) on the device.
    xseeds, wseeds = {}, {}
    with open(os.path.join(check, "cases.tsv"), "w") as f:
        f.write("#name\tx_shape\tx_dtype\tx_seed\tn\tk\tformat\tw_seed\ty_dtype\tnote\n")
        for c in check_cases():
            xkey = ("x".join(map(str, c["xshape"])), c["xdtype"])
            wkey = (c["n"], c["k"], c["format"])
            xs = xseeds.setdefault(xkey, 1000 + len(xseeds))
            ws = wseeds.setdefault(wkey, 2000 + len(wseeds))
            with open(os.path.join(check, c["name"] + ".mlir"), "w") as m:
                m.write(matmul_func(c["name"], c["xshape"], c["xdtype"], c["n"],
                                    c["k"], c["format"], c["ydtype"]))
            f.write("\t".join([c["name"], xkey[0], c["xdtype"], str(xs),
                               str(c["n"]), str(c["k"]), c["format"], str(ws),
                               c["ydtype"], c["note"]]) + "\n")
    with open(os.path.join(bench, "list.tsv"), "w") as f:
        for b in bench_cases():
            with open(os.path.join(bench, b["name"] + ".mlir"), "w") as m:
                m.write(matmul_func(b["name"], [b["m"], b["k"]], BENCH_ACT,
                                    b["n"], b["k"], b["format"], BENCH_ACT))
            f.write("\t".join([b["name"], b["format"], str(b["m"]), str(b["n"]),
                               str(b["k"])]) + "\n")
    return 0


def read_tsv(path):
    rows = []
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        rows.append(line.rstrip("\n").split("\t"))
    return rows


def cmd_table(cases_tsv, out_cpp):
    names = [r[0] for r in read_tsv(cases_tsv)]
    lines = ["// Generated by scripts/gpu-bundle/plan.py: the compiled check functions.",
             "#include \"bundle_cases.h\"", "extern \"C\" {"]
    for n in names:
        lines.append(f"void _mlir_ciface_{n}(void *, void *, void *);")
    lines.append("}")
    lines.append("const CheckFunction kCheckFunctions[] = {")
    for n in names:
        lines.append(f"    {{\"{n}\", &_mlir_ciface_{n}}},")
    lines.append("    {nullptr, nullptr}};")
    with open(out_cpp, "w") as f:
        f.write("\n".join(lines) + "\n")
    return 0


# ----------------------------------------------------------------------------
# PTX extraction
# ----------------------------------------------------------------------------

def unescape_mlir(text):
    """MLIR string attributes: \\\\, \\" and \\XX (hex) escapes."""
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in "\\\"":
                out += nxt.encode()
                i += 2
                continue
            if nxt == "n":
                out += b"\n"
                i += 2
                continue
            if nxt == "t":
                out += b"\t"
                i += 2
                continue
            out.append(int(text[i + 1:i + 3], 16))
            i += 3
            continue
        out += c.encode()
        i += 1
    return bytes(out)


def mlir_ptx(path):
    text = open(path, encoding="utf-8").read()
    objs = re.findall(r'assembly = "((?:[^"\\]|\\.)*)"', text)
    if not objs:  # the generic form prints the object as a plain string
        objs = re.findall(r'#gpu\.object<[^,]*<[^>]*>,\s*"((?:[^"\\]|\\.)*)"', text)
    return [unescape_mlir(o) for o in objs]


def cmd_extract_mlir_ptx(inp, out):
    objs = mlir_ptx(inp)
    if len(objs) != 1:
        print(f"plan.py: {inp}: expected one PTX object, found {len(objs)}",
              file=sys.stderr)
        return 1
    open(out, "wb").write(objs[0])
    return 0


def parse_kernel(path):
    text = open(path, encoding="utf-8").read()
    kernels = []
    for m in re.finditer(r"gpu\.func @(\w+)\(", text):
        start = m.start()
        line_end = text.find("{\n", start)
        header = text[start:line_end]
        grid = re.search(r"known_grid_size = array<i32: (\d+), (\d+), (\d+)>", header)
        block = re.search(r"known_block_size = array<i32: (\d+), (\d+), (\d+)>", header)
        mems = re.findall(r"memref<([0-9x]+)x(\w+)(?:,[^>]*)?>", header.split(")")[0])
        kernels.append(dict(name=m.group(1),
                            grid=[int(g) for g in grid.groups()] if grid else None,
                            block=[int(b) for b in block.groups()] if block else None,
                            args=mems))
    return kernels


def cmd_bench_manifest(list_tsv, kernel_dir, ptx_dir, out_tsv):
    os.makedirs(ptx_dir, exist_ok=True)
    rows = []
    for name, fmt, m, n, k in read_tsv(list_tsv):
        ks = parse_kernel(os.path.join(kernel_dir, name + ".kernels.mlir"))
        if len(ks) != 1 or not ks[0]["grid"] or not ks[0]["block"] or len(ks[0]["args"]) != 3:
            print(f"plan.py: {name}: expected one kernel with known grid/block "
                  f"and three memref arguments, got {ks}", file=sys.stderr)
            return 1
        kern = ks[0]
        wshape, wdt = kern["args"][1]
        if wdt != "i8" or "x" in wshape:
            print(f"plan.py: {name}: weight argument is not memref<Bxi8>", file=sys.stderr)
            return 1
        objs = mlir_ptx(os.path.join(kernel_dir, name + ".ptx.mlir"))
        if len(objs) != 1:
            print(f"plan.py: {name}: expected one PTX object", file=sys.stderr)
            return 1
        ptx = objs[0]
        if f".entry {kern['name']}(".encode() not in ptx:
            print(f"plan.py: {name}: PTX lacks .entry {kern['name']}", file=sys.stderr)
            return 1
        open(os.path.join(ptx_dir, name + ".ptx"), "wb").write(ptx)
        kind = ("gemv" if kern["name"].startswith("qc_gemv") else
                "mma" if "mma" in kern["name"] else "simt")
        rows.append([name, fmt, m, n, k, BENCH_ACT, BENCH_ACT, kern["name"], kind,
                     ",".join(map(str, kern["grid"])), ",".join(map(str, kern["block"])),
                     wshape, name + ".ptx"])
    with open(out_tsv, "w") as f:
        f.write("#name\tformat\tm\tn\tk\tx_dtype\ty_dtype\tkernel\tkind\tgrid\tblock\tweight_bytes\tptx\n")
        for r in rows:
            f.write("\t".join(map(str, r)) + "\n")
    return 0


def cmd_kernel_kinds(cases_tsv, kernel_dir, out_tsv):
    """Adds the kernel kind (gemv, mma, simt) of each check case."""
    rows = read_tsv(cases_tsv)
    with open(out_tsv, "w") as f:
        for r in rows:
            ks = parse_kernel(os.path.join(kernel_dir, r[0] + ".kernels.mlir"))
            names = ",".join(k["name"] for k in ks) or "none"
            kind = ("gemv" if names.startswith("qc_gemv") else
                    "mma" if "mma" in names else
                    "simt" if "simt" in names else "cpu")
            f.write(f"{r[0]}\t{kind}\n")
    return 0


# ----------------------------------------------------------------------------
# Embedded PTX of an ELF executable
# ----------------------------------------------------------------------------

def elf_sections(data):
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise ValueError("not an ELF64 file")
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    secs = []
    for i in range(shnum):
        off = shoff + i * shentsize
        name, stype, flags, addr, offset, size, link, info, align, entsize = \
            struct.unpack_from("<IIQQQQIIQQ", data, off)
        secs.append(dict(name=name, type=stype, addr=addr, offset=offset, size=size,
                         link=link, entsize=entsize))
    strtab = secs[shstrndx]
    for s in secs:
        end = data.index(b"\0", strtab["offset"] + s["name"])
        s["sname"] = data[strtab["offset"] + s["name"]:end].decode()
    return secs


def elf_symbols(data, secs):
    out = []
    for s in secs:
        if s["type"] != 2:  # SHT_SYMTAB
            continue
        strs = secs[s["link"]]
        for i in range(s["size"] // 24):
            name, info, other, shndx, value, size = struct.unpack_from(
                "<IBBHQQ", data, s["offset"] + i * 24)
            end = data.index(b"\0", strs["offset"] + name)
            out.append((data[strs["offset"] + name:end].decode(), shndx, value, size))
    return out


def cmd_elf_ptx(exe, outdir):
    data = open(exe, "rb").read()
    secs = elf_sections(data)
    syms = elf_symbols(data, secs)
    os.makedirs(outdir, exist_ok=True)
    count = 0
    for name, shndx, value, size in syms:
        if not name.endswith("_binary") or size == 0 or shndx == 0 or shndx >= len(secs):
            continue
        sec = secs[shndx]
        blob = data[sec["offset"] + value - sec["addr"]:
                    sec["offset"] + value - sec["addr"] + size]
        if b".target" not in blob[:4096]:
            continue
        blob = blob.rstrip(b"\0")
        target = re.search(rb"\.target\s+(\w+)", blob).group(1).decode()
        path = os.path.join(outdir, f"{count:03d}_{name}.{target}.ptx")
        open(path, "wb").write(blob)
        count += 1
    print(count)
    return 0 if count else 1


def cmd_merge_hashes(cases_tsv, hashes_tsv, out_tsv):
    hashes = {r[0]: r[1:] for r in read_tsv(hashes_tsv)}
    with open(cases_tsv) as f, open(out_tsv, "w") as o:
        for line in f:
            if line.startswith("#"):
                o.write(line.rstrip("\n") + "\tx_hash\tw_hash\n")
                continue
            name = line.split("\t")[0]
            if name not in hashes:
                print(f"plan.py: no hashes for {name}", file=sys.stderr)
                return 1
            o.write(line.rstrip("\n") + "\t" + "\t".join(hashes[name]) + "\n")
    return 0


def main(argv):
    cmds = {
        "plan": (cmd_plan, 1),
        "table": (cmd_table, 2),
        "bench-manifest": (cmd_bench_manifest, 4),
        "kernel-kinds": (cmd_kernel_kinds, 3),
        "extract-mlir-ptx": (cmd_extract_mlir_ptx, 2),
        "elf-ptx": (cmd_elf_ptx, 2),
        "merge-hashes": (cmd_merge_hashes, 3),
    }
    if len(argv) < 2 or argv[1] not in cmds or len(argv) - 2 != cmds[argv[1]][1]:
        print(__doc__, file=sys.stderr)
        return 2
    fn, _ = cmds[argv[1]]
    return fn(*argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
