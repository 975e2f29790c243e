#!/usr/bin/env python3
"""Checks the qc-lower-cpu kernels against the reference semantics of qc.matmul.

For every weight format and number of rows M it writes a function
`y = qc.matmul(x, qc.quantize(W))` with a random constant W [N, K], lowers it
with `quant-opt --qc-lower-cpu=...`, runs it with quant-run and compares:

  * float activations (W4A16 / W8A16 kernels): against the f64 dot product of
    x and the weights dequantized by the format library (quant-tensor
    fake-quant), within the f32 accumulation bound
        |y - ref| <= gamma * sum_k |x_k w_k|,  gamma = 2 (K + 4) 2^-24
    (the kernel and a sequential f32 sum may each be off by (K+1) u), plus
    2^-8 sum_k |x_k w_k| when the kernel rounds x to bf16 (mode bf16), plus
    sum_k (s_k / 2) |w_k| when it holds x as 16-bit fixed point per block of
    32 with step s = amax / 32639 (mode i16);
  * `act` set, integer kernels (mode i8): bit for bit against the model of the
    kernels' integer arithmetic (quantc/Conversion/QcToCPU.h), computed here
    from the codes and scales the format library packs for W and for x
    (quant-tensor pack); and within the bound above against the f64 dot
    product of the fake-quantized x and W; kernels that fake-quantize x and
    multiply in f32 (mode f32 with `act`) within that bound only.

With --via-pipeline quant-run's own pipeline (qc-lower-cpu for the host)
lowers the file instead of quant-opt. It checks that the matmul became a
kernel call (so that the reference
lowering cannot pass in its place) and which mode the kernel uses, and with
--threads that outputs are bit-identical for every thread count. Prints one
line per case; exits 1 if any case fails. Needs numpy; quant-opt, quant-run
and quant-tensor on PATH.

  cpu_kernel_check.py --target x86-64-v4 --formats mxfp4,int8 --rows 1,8,33 \\
      --n 72 --k 256 [--act mxint8] [--bf16 0|1] [--threads 1,2,3] --work DIR
"""
import argparse
import math
import os
import re
import struct
import subprocess
import sys

from fractions import Fraction

import numpy as np


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write("command failed: %s\n%s%s" % (" ".join(cmd), result.stdout, result.stderr))
        raise SystemExit(1)
    return result.stdout


# ---------------------------------------------------------------------------
# The formats the integer model reads (independent of the C++ library)
# ---------------------------------------------------------------------------

# name: (element, bits, block or None for per-row, scale type, second level)
FORMATS = {
    "mxfp4": (("float", 2, 1, 1), 4, 32, "e8m0", False),
    "nvfp4": (("float", 2, 1, 1), 4, 16, "e4m3", True),
    "mxfp6_e2m3": (("float", 2, 3, 1), 6, 32, "e8m0", False),
    "e2m3": (("float", 2, 3, 1), 6, None, "f32", False),
    "int4_g32": (("int", 0), 4, 32, "f32", False),
    "int4_g128": (("int", 0), 4, 128, "f32", False),
    "nvint4": (("int", 0), 4, 16, "e4m3", True),
    "int4": (("int", 0), 4, None, "f32", False),
    "int8": (("int", 0), 8, None, "f32", False),
    "int8_g32": (("int", 0), 8, 32, "f32", False),
    "mxint8": (("int", 6), 8, 32, "e8m0", False),
}
# One scale for the whole tensor (from its amax at run time): to the model,
# a per-row scale that every row shares.
PER_TENSOR = {"int8, granularity = tensor": "int8"}
for _name, _base in PER_TENSOR.items():
    FORMATS[_name] = FORMATS[_base]


def minifloat_value(code, bits, ebits, mbits, bias):
    sign = -1.0 if (code >> (bits - 1)) & 1 else 1.0
    e = (code >> mbits) & ((1 << ebits) - 1)
    m = code & ((1 << mbits) - 1)
    if e == 0:
        return sign * m * 2.0 ** (1 - bias - mbits)
    return sign * (1 + m / 2.0 ** mbits) * 2.0 ** (e - bias)


def element_values(name):
    """Value of every code, as float64."""
    element, bits = FORMATS[name][0], FORMATS[name][1]
    values = []
    for c in range(1 << bits):
        if element[0] == "int":
            v = c - (1 << bits) if c >> (bits - 1) else c
            values.append(v / 2.0 ** element[1])
        else:
            values.append(minifloat_value(c, bits, element[1], element[2], element[3]))
    return np.array(values)


def integer_scale(values):
    """Smallest 2^j that makes every value an integer (the kernels' choice)."""
    for j in range(7):
        if np.all(values * 2.0 ** j == np.round(values * 2.0 ** j)):
            return 2.0 ** j
    raise ValueError("no integer scale")


def decode_scales(raw, kind):
    if kind == "f32":
        return raw.astype(np.uint32).view(np.float32)
    if kind == "e8m0":
        return np.array([np.float32(2.0 ** (int(r) - 127)) for r in raw], np.float32)
    if kind == "e4m3":
        # E4M3 (FN): 0x7F / 0xFF are NaN, the rest finite.
        return np.array([np.float32(np.nan if int(r) & 0x7F == 0x7F else
                                    minifloat_value(int(r), 8, 4, 3, 7)) for r in raw], np.float32)
    raise ValueError(kind)


def unpack_canonical(data, shape, name):
    """Codes [shape], raw scales, tensor scale of the library's canonical bytes."""
    _, bits, block, scale_kind, second = FORMATS[name]
    count = int(np.prod(shape))
    stream = np.unpackbits(data, bitorder="little")
    codes = stream[: count * bits].reshape(count, bits)
    codes = (codes * (1 << np.arange(bits))).sum(axis=1).reshape(shape)
    offset = (count * bits + 7) // 8
    nscales = 1 if name in PER_TENSOR else count // (block or shape[-1])
    width = 4 if scale_kind == "f32" else 1
    raw = data[offset: offset + nscales * width]
    raw = raw.view(np.uint32) if width == 4 else raw.astype(np.uint32)
    tensor_scale = np.float32(1.0)
    if second:
        tensor_scale = np.frombuffer(data[offset + nscales * width:][:4].tobytes(), np.float32)[0]
    scales = decode_scales(raw, scale_kind)
    if name in PER_TENSOR:
        scales = np.repeat(scales, shape[0])
    scales = scales.reshape(shape[0], -1)
    return codes, scales, tensor_scale


def round_to_f32(value):
    """The f32 nearest to the exact rational `value`, ties to even."""
    if value == 0:
        return 0.0
    sign = -1 if value < 0 else 1
    value = abs(value)
    exponent = value.numerator.bit_length() - value.denominator.bit_length()
    if Fraction(2) ** exponent > value:
        exponent -= 1
    exponent = max(exponent, -126)  # subnormals share the smallest exponent
    unit = Fraction(2) ** (exponent - 23)
    steps = value / unit
    whole = steps.numerator // steps.denominator
    rest = steps - whole
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and whole % 2 == 1):
        whole += 1
    return sign * float(whole * unit)


def fma32(a, b, c):
    """a * b + c rounded once to f32, elementwise (float32 arrays)."""
    out = np.empty(a.shape, np.float32)
    for index in np.ndindex(a.shape):
        x, y, z = float(a[index]), float(b[index]), float(c[index])
        if not all(map(math.isfinite, (x, y, z))):
            out[index] = np.float32(x * y + z)  # NaN / Inf: no rounding
            continue
        exact = Fraction(x) * Fraction(y) + Fraction(z)
        if exact == 0:
            # +0 unless both the product and the addend are -0.
            negative = math.copysign(1, x * y) < 0 and math.copysign(1, z) < 0
            out[index] = -0.0 if negative else 0.0
        else:
            out[index] = round_to_f32(exact)
    return out


def scale_pair_multipliers(raw, n, k):
    """Layout x86_n16k8_s32 (quantc/Formats/Layout.h): E4M3 scales of
    16-blocks as integer multipliers A [n, k/16] and f32 factors F [k/32],
    F = 2^Emin over the non-zero scales of a 32 of K (every row)."""
    raw = raw.reshape(n, k // 16).astype(np.int64)
    e, m = (raw >> 3) & 0xF, raw & 7
    mantissa = np.where(e > 0, 8 + m, m)
    exponent = np.maximum(e, 1) - 10
    multipliers = np.zeros((n, k // 16), np.int64)
    factors = np.zeros(k // 32, np.float32)
    for pair in range(k // 32):
        halves = slice(2 * pair, 2 * pair + 2)
        nonzero = mantissa[:, halves] != 0
        low = int(exponent[:, halves][nonzero].min()) if nonzero.any() else 0
        multipliers[:, halves] = np.where(nonzero, mantissa[:, halves] << (exponent[:, halves] - low), 0)
        factors[pair] = np.float32(2.0 ** low)
    assert multipliers.max() <= 255
    return multipliers, factors


def integer_model(x_bytes, w_bytes, m, n, k, wname, aname, scale_pairs=False):
    """The I8 kernels' arithmetic (QcToCPU.h), in float32 with rounding after
    every operation."""
    wcodes, wscales, s2 = unpack_canonical(w_bytes, (n, k), wname)
    if scale_pairs:
        count = n * k * FORMATS[wname][1] // 8
        multipliers, factors = scale_pair_multipliers(w_bytes[count: count + n * k // 16], n, k)
    # E4M3 weight scales are decoded through f16 as value * 2^-8 (exact);
    # the 2^8 joins the constant factor.
    e4m3_factor = 1.0
    if FORMATS[wname][3] == "e4m3":
        wscales = (wscales * np.float32(2.0 ** -8)).astype(np.float32)
        e4m3_factor = 2.0 ** 8
    xcodes, xscales, _ = unpack_canonical(x_bytes, (m, k), aname)
    wvalues, xvalues = element_values(wname), element_values(aname)
    jw, jx = integer_scale(wvalues), integer_scale(xvalues)
    wi = np.round(wvalues[wcodes] * jw).astype(np.int64)
    xi = np.round(xvalues[xcodes] * jx).astype(np.int64)
    bw = FORMATS[wname][2] or k
    bx = FORMATS[aname][2] or k
    g = min(bw, bx)
    acc = np.zeros((m, n), np.float32)
    if scale_pairs:
        # Per 32 of K: D = A d0 + B d1 exact, s = xScale * F, one FMA; no
        # 2^-8 on the scales.
        e4m3_factor = 1.0
        for pair in range(k // 32):
            d = np.zeros((m, n), np.int64)
            for half in range(2):
                ks = slice(32 * pair + 16 * half, 32 * pair + 16 * half + 16)
                d += (xi[:, ks] @ wi[:, ks].T) * multipliers[None, :, 2 * pair + half]
            s = np.full((m, n), factors[pair], np.float32)
            if FORMATS[aname][2]:
                sx = np.broadcast_to(xscales[:, 32 * pair // bx][:, None], (m, n))
                s = (sx * factors[pair]).astype(np.float32)
            acc = fma32(d.astype(np.float32), np.ascontiguousarray(s), acc)
    for group in range(0 if scale_pairs else k // g):
        ks = slice(group * g, (group + 1) * g)
        d = (xi[:, ks] @ wi[:, ks].T).astype(np.float32)  # exact int, then RNE
        s = None
        if FORMATS[wname][2]:
            s = np.broadcast_to(wscales[:, group * g // bw][None, :], (m, n))
        if FORMATS[aname][2]:
            sx = np.broadcast_to(xscales[:, group * g // bx][:, None], (m, n))
            s = sx if s is None else (s * sx).astype(np.float32)
        if s is None:
            acc = (acc + d).astype(np.float32)
        else:
            acc = fma32(d, np.ascontiguousarray(s, np.float32), acc)
    y = acc
    if not FORMATS[wname][2]:
        y = (y * wscales[:, 0][None, :]).astype(np.float32)
    if not FORMATS[aname][2]:
        y = (y * xscales[:, 0][:, None]).astype(np.float32)
    factor = np.float32(e4m3_factor / (jw * jx))
    c = factor
    if FORMATS[wname][4]:
        c = np.float32(factor * s2) if factor != 1 else s2
    if c != 1:
        y = (y * c).astype(np.float32)
    return y


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

def hex_f32(a):
    return '"0x' + a.astype("<f4").tobytes().hex().upper() + '"'


def write_case(path, w, m, k, fmt, act):
    n = w.shape[0]
    a = " act <%s>" % act if act else ""
    with open(path, "w") as f:
        f.write("func.func @main(%%x: tensor<%dx%dxf32>) -> tensor<%dx%dxf32> {\n" % (m, k, m, n))
        f.write("  %%c = arith.constant dense<%s> : tensor<%dx%dxf32>\n" % (hex_f32(w), n, k))
        f.write("  %%p = qc.quantize %%c : tensor<%dx%dxf32> -> !qc.packed<%dx%d, %s>\n" % (n, k, n, k, fmt))
        f.write("  %%y = qc.matmul %%x, %%p%s : tensor<%dx%dxf32>, !qc.packed<%dx%d, %s> -> tensor<%dx%dxf32>\n"
                % (a, m, k, n, k, fmt, m, n))
        f.write("  return %%y : tensor<%dx%dxf32>\n}\n" % (m, n))


def check_case(args, fmt, m, index):
    n, k = args.n, args.k
    rng = np.random.default_rng(1000 + index)
    w = rng.standard_normal((n, k)).astype(np.float32)
    x = rng.standard_normal((m, k)).astype(np.float32)
    # A few outliers so that blocks get different scales.
    x[:, ::37] *= 8
    if args.nan_block:
        # One weight block with a NaN: its scale is NaN, so column 3 of y
        # must be NaN and every other column unaffected.
        w[3, 7] = np.nan
    if args.tiny_block:
        # Column 1's first block 3e-5 times the rest: NV block scales about
        # 2^13 apart in one tile, too far to fold in pairs (x86_n16k8_s32).
        w[1, :16] *= 3e-5
    if args.smallest_scales:
        # Column 1 as small as E8M0 scales go: every block's scale is raw 0,
        # 2^-127 (the kernels decode it apart from the other raw values).
        w[1, :] = np.ldexp(w[1, :] / np.abs(w[1, :]).max(), -125)
    base = os.path.join(args.work, "case%d" % index)
    np.save(base + "_x.npy", x)
    np.save(base + "_w.npy", w)
    write_case(base + ".mlir", w, m, k, fmt, args.act)
    label = "%s%s M=%d N=%d K=%d" % (fmt, " act=" + args.act if args.act else "", m, n, k)
    if args.via_pipeline:
        # quant-run's own pipeline lowers the matmul (qc-lower-cpu, native).
        program = base + ".mlir"
        lowered = run(["quant-run", program, "--entry", "main", "--input", base + "_x.npy",
                       "--output-dir", base + "_probe", "--print-ir-after-lowering"])
    else:
        options = "target=%s bf16=%d i16=%d" % (args.target, args.bf16, args.i16)
        lowered = run(["quant-opt", base + ".mlir", "--qc-lower-cpu=" + options])
        program = base + ".low.mlir"
        with open(program, "w") as f:
            f.write(lowered)
    kernel = re.search(r"call @__qc_matmul_\w*?_(f32|bf16|i8|i16)_(x86_n16k\w+?)_r\d", lowered)
    if not kernel:
        print("FAIL %s: no kernel call after qc-lower-cpu" % label)
        return False
    mode, layout = kernel.group(1), kernel.group(2)
    outputs = []
    for threads in args.threads:
        out = base + "_out%d" % threads
        run(["quant-run", program, "--entry", "main", "--input", base + "_x.npy",
             "--output-dir", out, "--threads", str(threads)])
        outputs.append(np.load(os.path.join(out, "0.npy")))
    y = outputs[0]
    for threads, other in zip(args.threads[1:], outputs[1:]):
        if other.tobytes() != y.tobytes():
            print("FAIL %s: %d threads differ from %d" % (label, threads, args.threads[0]))
            return False

    # Reference: f64 dot of the library's dequantized operands.
    run(["quant-tensor", "fake-quant", "--format", fmt, base + "_w.npy", base + "_wq.npy"])
    wq = np.load(base + "_wq.npy").astype(np.float64)
    xq = x.astype(np.float64)
    if args.act:
        run(["quant-tensor", "fake-quant", "--format", args.act, base + "_x.npy", base + "_xq.npy"])
        xq = np.load(base + "_xq.npy").astype(np.float64)
    ref = xq @ wq.T
    magnitude = np.abs(xq) @ np.abs(wq).T
    gamma = 2.0 * (k + 4) * 2.0 ** -24
    if mode == "bf16":
        gamma += 2.0 ** -8
    nan_mismatches = int(np.sum(np.isnan(y) != np.isnan(ref)))
    finite = ~np.isnan(ref)
    ref, magnitude = np.where(finite, ref, 0.0), np.where(finite, magnitude, 0.0)
    err = np.abs(np.where(finite, y.astype(np.float64), 0.0) - ref)
    bound = gamma * magnitude
    if mode == "i16":
        # x as 16-bit fixed point per block of 32: |x - s q| <= s / 2,
        # s = amax / 32639 (in f32, so allow 1 % more).
        blocks = np.abs(xq).reshape(m, k // 32, 32).max(axis=2) / 32639.0
        half_step = np.repeat(blocks, 32, axis=1) * 0.5 * 1.01
        bound = bound + half_step @ np.abs(np.where(np.isnan(wq), 0.0, wq)).T
    worst = float(np.max(err / np.maximum(bound, 1e-300)))
    status = mode == args.expect_mode and worst <= 1.0 and nan_mismatches == 0
    detail = "mode=%s layout=%s err/bound=%.3f" % (mode, layout, worst)
    if args.nan_block:
        detail += " nan-columns=%d nan-mismatches=%d" % (
            int(np.sum(np.isnan(y).all(axis=0))), nan_mismatches)
    if args.act and mode == "i8":
        run(["quant-tensor", "pack", "--format", fmt, base + "_w.npy", base + "_wp.npy"])
        run(["quant-tensor", "pack", "--format", args.act, base + "_x.npy", base + "_xp.npy"])
        model = integer_model(np.load(base + "_xp.npy").astype(np.uint8),
                              np.load(base + "_wp.npy").astype(np.uint8), m, n, k, fmt, args.act,
                              scale_pairs=layout == "x86_n16k8_s32")
        differ = model.view(np.uint32) != y.view(np.uint32)
        mismatches = int(np.sum(differ & ~(np.isnan(model) & np.isnan(y))))
        status = status and mismatches == 0
        detail += " model-mismatches=%d" % mismatches
    if len(args.threads) > 1:
        detail += " threads=%s identical" % ",".join(map(str, args.threads))
    print("%s %s: %s" % ("ok" if status else "FAIL", label, detail))
    return status


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", required=True)
    parser.add_argument("--formats", required=True)
    parser.add_argument("--rows", default="1,8,33")
    parser.add_argument("--n", type=int, default=72)
    parser.add_argument("--k", type=int, default=256)
    parser.add_argument("--act")
    parser.add_argument("--bf16", type=int, default=1)
    parser.add_argument("--i16", type=int, default=1)
    parser.add_argument("--expect-mode", required=True, choices=["f32", "bf16", "i8", "i16"])
    parser.add_argument("--threads", default="1")
    parser.add_argument("--via-pipeline", action="store_true",
                        help="let quant-run's pipeline lower the matmul (native target) "
                             "instead of quant-opt --qc-lower-cpu=target=...")
    parser.add_argument("--nan-block", action="store_true",
                        help="put a NaN into one weight block (column 3)")
    parser.add_argument("--smallest-scales", action="store_true",
                        help="column 1's weights below 2^-125: E8M0 block "
                             "scales of raw 0 (2^-127)")
    parser.add_argument("--tiny-block", action="store_true",
                        help="scale one weight block (column 1) by 3e-5")
    parser.add_argument("--work", required=True)
    args = parser.parse_args()
    args.threads = [int(t) for t in args.threads.split(",")]
    os.makedirs(args.work, exist_ok=True)
    ok = True
    index = 0
    for fmt in args.formats.split(","):
        for m in map(int, args.rows.split(",")):
            ok &= check_case(args, fmt, m, index)
            index += 1
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
