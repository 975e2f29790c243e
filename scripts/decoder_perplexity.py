#!/usr/bin/python3
"""Perplexity of the test decoder (scripts/make-test-decoder.py) on its held-out evaluation set.

Run with /usr/bin/python3 (numpy; torch for --torch and for the float reference; onnx for
--onnx-numpy). The evaluation set is ${QUANTC_CACHE:-$HOME/.cache/quantc}/test-decoder/
eval_tokens.npy: int64 [N, 129]; sequence i is fed as input_ids = tokens[i:i+1, :128]
(int64 [1, 128]) and its logits [1, 128, 256] are scored against tokens[i, 1:].

Where the logits come from (pick one):
  --torch                 the float PyTorch model (state_dict.pt in the cache)
  --onnx-numpy [MODEL]    a small numpy interpreter of the ONNX graph (default: the cached
                          model.onnx); it checks the exported graph, not a fast runtime
  --logits-dir DIR        precomputed logits: DIR/<i>/logits.npy (or DIR/<i>.npy), i = 0..N-1
  --runner 'CMD'          a shell command run once per sequence; {input} is replaced by an
                          input_ids.npy it should read, {outdir} by a directory where it must
                          write logits.npy, {i} by the sequence number, {model} by --model
  --quant-run [MODEL]     shorthand for --runner with
                          'build/bin/quant-run {model} --input input_ids={input} --output-dir {outdir}'
                          (--quant-run-args adds options, e.g. a recipe's flags)
  --write-inputs DIR      only write DIR/<i>/input_ids.npy for an external runner, then exit

Unless --no-reference is given, the float PyTorch model's logits are computed too and the report
adds the output SQNR of the evaluated logits against them (dB), the largest absolute difference and
the perplexity change relative to float. --expect-ppl-within PCT and --expect-sqnr DB turn the
report into a test (exit code 1 when violated). --json FILE writes the numbers.
"""

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def cache_dir():
    root = os.environ.get("QUANTC_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "quantc")
    return os.path.join(root, "test-decoder")


# --------------------------------------------------------------------------------------------
# A minimal numpy interpreter for the ONNX ops the decoder export uses (and a few neighbours).
# --------------------------------------------------------------------------------------------
class OnnxNumpy:
    def __init__(self, path):
        import onnx
        from onnx import numpy_helper
        self.onnx, self.nh = onnx, numpy_helper
        m = onnx.load(path)
        self.graph = m.graph
        self.consts = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}

    def _attrs(self, node):
        return {a.name: self.onnx.helper.get_attribute_value(a) for a in node.attribute}

    def run(self, feeds):
        env = dict(self.consts)
        env.update(feeds)
        for node in self.graph.node:
            ins = [env[n] if n else None for n in node.input]
            fn = getattr(self, "op_" + node.op_type, None)
            if fn is None:
                raise NotImplementedError(f"OnnxNumpy: op {node.op_type} ({node.name})")
            outs = fn(ins, self._attrs(node))
            for name, v in zip(node.output, outs):
                env[name] = v
        return {o.name: env[o.name] for o in self.graph.output}

    # elementwise
    def op_Add(self, i, a): return [i[0] + i[1]]
    def op_Sub(self, i, a): return [i[0] - i[1]]
    def op_Mul(self, i, a): return [i[0] * i[1]]
    def op_Div(self, i, a): return [i[0] / i[1]]
    def op_Pow(self, i, a): return [np.power(i[0], i[1]).astype(i[0].dtype)]
    def op_Sqrt(self, i, a): return [np.sqrt(i[0])]
    def op_Reciprocal(self, i, a): return [(1 / i[0]).astype(i[0].dtype)]
    def op_Neg(self, i, a): return [-i[0]]
    def op_Exp(self, i, a): return [np.exp(i[0])]
    def op_Tanh(self, i, a): return [np.tanh(i[0])]
    def op_Identity(self, i, a): return [i[0]]
    def op_Sigmoid(self, i, a): return [(0.5 * (1 + np.tanh(0.5 * i[0]))).astype(i[0].dtype)]
    def op_Where(self, i, a): return [np.where(i[0], i[1], i[2])]
    def op_Equal(self, i, a): return [i[0] == i[1]]

    def op_Cast(self, i, a):
        from onnx import mapping
        return [i[0].astype(mapping.TENSOR_TYPE_TO_NP_TYPE[a["to"]])]

    # linear algebra / reductions
    def op_MatMul(self, i, a): return [np.matmul(i[0], i[1])]

    def op_ReduceMean(self, i, a):
        axes = a.get("axes")
        if axes is None and len(i) > 1 and i[1] is not None:
            axes = i[1].tolist()
        axes = tuple(axes) if axes is not None else None
        return [np.mean(i[0], axis=axes, keepdims=bool(a.get("keepdims", 1))).astype(i[0].dtype)]

    def op_Softmax(self, i, a):
        x = i[0]
        ax = a.get("axis", -1)
        e = np.exp(x - x.max(axis=ax, keepdims=True))
        return [(e / e.sum(axis=ax, keepdims=True)).astype(x.dtype)]

    # data movement
    def op_Gather(self, i, a): return [np.take(i[0], i[1], axis=a.get("axis", 0))]
    def op_Transpose(self, i, a): return [np.transpose(i[0], a.get("perm"))]
    def op_Concat(self, i, a): return [np.concatenate(i, axis=a["axis"])]
    def op_Shape(self, i, a): return [np.array(i[0].shape, dtype=np.int64)]
    def op_Constant(self, i, a): return [self.nh.to_array(a["value"])]

    def op_Reshape(self, i, a):
        x, shape = i[0], [int(s) for s in i[1]]
        if not a.get("allowzero", 0):
            shape = [x.shape[k] if s == 0 else s for k, s in enumerate(shape)]
        return [x.reshape(shape)]

    def op_Unsqueeze(self, i, a):
        axes = a.get("axes") if "axes" in a else i[1].tolist()
        x = i[0]
        for ax in sorted(int(v) % (x.ndim + len(axes)) for v in axes):
            x = np.expand_dims(x, ax)
        return [x]

    def op_Squeeze(self, i, a):
        axes = a.get("axes") if "axes" in a else (i[1].tolist() if len(i) > 1 and i[1] is not None else None)
        return [np.squeeze(i[0], axis=tuple(axes) if axes is not None else None)]

    def op_Slice(self, i, a):
        x, starts, ends = i[0], i[1].tolist(), i[2].tolist()
        axes = i[3].tolist() if len(i) > 3 and i[3] is not None else list(range(len(starts)))
        steps = i[4].tolist() if len(i) > 4 and i[4] is not None else [1] * len(starts)
        idx = [slice(None)] * x.ndim
        for s, e, ax, st in zip(starts, ends, axes, steps):
            idx[ax] = slice(s, e, st)
        return [x[tuple(idx)]]


# --------------------------------------------------------------------------------------------
# Logit sources
# --------------------------------------------------------------------------------------------
def load_decoder_module():
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_test_decoder",
                                                  os.path.join(HERE, "make-test-decoder.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def torch_logits(cache, inputs):
    mod = load_decoder_module()
    import torch
    torch.set_num_threads(1)
    with open(os.path.join(cache, "meta.json")) as f:
        cfg = json.load(f)["config"]
    model = mod.Decoder(cfg)
    model.load_state_dict(torch.load(os.path.join(cache, "state_dict.pt")))
    model.eval()
    with torch.no_grad():
        return np.stack([model(torch.from_numpy(x)).numpy()[0] for x in inputs])


def onnx_numpy_logits(model_path, inputs):
    ev = OnnxNumpy(model_path)
    return np.stack([ev.run({"input_ids": x})["logits"][0] for x in inputs])


def read_logits(path, T, V):
    a = np.load(path)
    if a.shape not in ((1, T, V), (T, V)):
        raise SystemExit(f"decoder_perplexity: {path}: logits shape {a.shape}, expected [1, {T}, {V}]")
    return a.reshape(T, V).astype(np.float32)


def logits_dir(d, n, T, V):
    out = []
    for i in range(n):
        p = os.path.join(d, str(i), "logits.npy")
        if not os.path.exists(p):
            p = os.path.join(d, f"{i}.npy")
        out.append(read_logits(p, T, V))
    return np.stack(out)


def runner_logits(cmd, model, inputs, T, V, verbose):
    out = []
    with tempfile.TemporaryDirectory(prefix="decoder-ppl-") as tmp:
        for i, x in enumerate(inputs):
            inp = os.path.join(tmp, str(i), "input_ids.npy")
            od = os.path.join(tmp, str(i), "out")
            os.makedirs(os.path.dirname(inp))
            np.save(inp, x)
            c = (cmd.replace("{input}", shlex.quote(inp)).replace("{outdir}", shlex.quote(od))
                 .replace("{i}", str(i)).replace("{model}", shlex.quote(model or "")))
            if verbose or i == 0:
                print(f"+ {c}", file=sys.stderr, flush=True)
            r = subprocess.run(c, shell=True, capture_output=True, text=True)
            if r.returncode != 0:
                raise SystemExit(f"decoder_perplexity: runner failed on sequence {i} "
                                 f"(exit {r.returncode}):\n{r.stdout}{r.stderr}")
            out.append(read_logits(os.path.join(od, "logits.npy"), T, V))
    return np.stack(out)


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------
def nll(logits, targets):
    """Mean negative log-likelihood (nats) of targets [N, T] under logits [N, T, V], in float64."""
    x = logits.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    lse = (m[..., 0] + np.log(np.exp(x - m).sum(axis=-1)))
    picked = np.take_along_axis(x, targets[..., None], axis=-1)[..., 0]
    return float((lse - picked).mean())


def sqnr_db(ref, got):
    ref = ref.astype(np.float64)
    err = ((ref - got.astype(np.float64)) ** 2).sum()
    return float("inf") if err == 0 else float(10 * math.log10((ref ** 2).sum() / err))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 2)[2])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--torch", action="store_true")
    src.add_argument("--onnx-numpy", nargs="?", const="", metavar="MODEL")
    src.add_argument("--logits-dir", metavar="DIR")
    src.add_argument("--runner", metavar="CMD")
    src.add_argument("--quant-run", nargs="?", const="", metavar="MODEL")
    src.add_argument("--write-inputs", metavar="DIR")
    ap.add_argument("--cache", default=cache_dir(), help="test-decoder cache (default: %(default)s)")
    ap.add_argument("--model", help="substituted for {model} in --runner (default: cached model.onnx)")
    ap.add_argument("--quant-run-bin", default=os.path.join(REPO, "build", "bin", "quant-run"))
    ap.add_argument("--quant-run-args", default="", help="extra arguments for quant-run")
    ap.add_argument("--limit", type=int, help="evaluate only the first N sequences")
    ap.add_argument("--no-reference", action="store_true", help="skip the float PyTorch reference")
    ap.add_argument("--expect-ppl-within", type=float, metavar="PCT",
                    help="fail unless perplexity <= float perplexity * (1 + PCT/100)")
    ap.add_argument("--expect-sqnr", type=float, metavar="DB", help="fail unless output SQNR >= DB")
    ap.add_argument("--label", default=None, help="name of this configuration in the report")
    ap.add_argument("--json", metavar="FILE", help="write the results as JSON")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    tok_path = os.path.join(args.cache, "eval_tokens.npy")
    if not os.path.exists(tok_path):
        raise SystemExit(f"decoder_perplexity: {tok_path} missing; run scripts/make-test-decoder.py")
    tokens = np.load(tok_path).astype(np.int64)
    if args.limit:
        tokens = tokens[: args.limit]
    N, T = tokens.shape[0], tokens.shape[1] - 1
    V = 256
    inputs = [tokens[i:i + 1, :T].copy() for i in range(N)]
    targets = tokens[:, 1:]
    model_path = os.path.join(args.cache, "model.onnx")

    if args.write_inputs is not None:
        for i, x in enumerate(inputs):
            os.makedirs(os.path.join(args.write_inputs, str(i)), exist_ok=True)
            np.save(os.path.join(args.write_inputs, str(i), "input_ids.npy"), x)
        print(f"wrote {N} inputs to {args.write_inputs}/<i>/input_ids.npy")
        return

    t0 = time.time()
    if args.torch:
        label, logits = "float (PyTorch)", torch_logits(args.cache, inputs)
    elif args.onnx_numpy is not None:
        p = args.onnx_numpy or model_path
        label, logits = f"ONNX numpy ({p})", onnx_numpy_logits(p, inputs)
    elif args.logits_dir:
        label, logits = f"logits in {args.logits_dir}", logits_dir(args.logits_dir, N, T, V)
    else:
        if args.runner:
            cmd, m = args.runner, args.model or model_path
        else:
            m = args.quant_run or args.model or model_path
            cmd = (f"{shlex.quote(args.quant_run_bin)} {{model}} --input input_ids={{input}} "
                   f"--output-dir {{outdir}} {args.quant_run_args}").strip()
        label, logits = f"runner: {cmd}", runner_logits(cmd, m, inputs, T, V, args.verbose)
    elapsed = time.time() - t0
    label = args.label or label

    res = dict(label=label, sequences=N, predictions=int(targets.size), seconds=elapsed)
    res["nll"] = nll(logits, targets)
    res["perplexity"] = math.exp(res["nll"])
    ok = True
    if not args.no_reference and not args.torch:
        ref = torch_logits(args.cache, inputs)
        res["float_perplexity"] = math.exp(nll(ref, targets))
        res["ppl_change_pct"] = 100 * (res["perplexity"] / res["float_perplexity"] - 1)
        res["sqnr_db"] = sqnr_db(ref, logits)
        res["max_abs_diff"] = float(np.abs(ref - logits).max())
        res["top1_agreement"] = float((ref.argmax(-1) == logits.argmax(-1)).mean())

    print(f"{label}: perplexity {res['perplexity']:.4f} (NLL {res['nll']:.4f} nats/byte) "
          f"over {N} x {T} predictions, {elapsed:.1f} s")
    if "float_perplexity" in res:
        print(f"  vs float: perplexity {res['float_perplexity']:.4f} ({res['ppl_change_pct']:+.3f} %), "
              f"output SQNR {res['sqnr_db']:.2f} dB, max |diff| {res['max_abs_diff']:.3e}, "
              f"top-1 agreement {100 * res['top1_agreement']:.2f} %")
    if args.expect_ppl_within is not None:
        if "float_perplexity" not in res:
            raise SystemExit("decoder_perplexity: --expect-ppl-within needs the float reference")
        if not res["perplexity"] <= res["float_perplexity"] * (1 + args.expect_ppl_within / 100):
            print(f"FAIL: perplexity is not within {args.expect_ppl_within} % of float")
            ok = False
    if args.expect_sqnr is not None:
        if "sqnr_db" not in res:
            raise SystemExit("decoder_perplexity: --expect-sqnr needs the float reference")
        if not res["sqnr_db"] >= args.expect_sqnr:
            print(f"FAIL: output SQNR {res['sqnr_db']:.2f} dB < {args.expect_sqnr} dB")
            ok = False
    res["ok"] = ok
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
