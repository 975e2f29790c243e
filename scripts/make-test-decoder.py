#!/usr/bin/python3
"""Train and export quantc's test decoder: a small Llama-style byte-level language model.

Run with /usr/bin/python3 (Debian's python3-torch 1.13, python3-onnx 1.12, python3-numpy):

    /usr/bin/python3 scripts/make-test-decoder.py [--force] [--threads 1]

Model (class Decoder): byte vocabulary (256, no tokenizer), 4 layers, hidden 256, 4 heads of 64,
rotary position embeddings (constant cos/sin tables), causal self-attention with an additive
constant mask, RMSNorm with an affine weight, SwiGLU feed-forward of width 768 = 12 * 64 (so
quantc's non-power-of-two Hadamard sizes are exercised), untied input embedding and output head,
no biases anywhere.

Data: the regular files of /usr/share/common-licenses (Debian's base-files; symlinks such as
GPL -> GPL-3 are skipped so no text appears twice), sorted by name and concatenated as bytes.
Apache-2.0 and MPL-2.0 are held out: they are never trained on and give the validation loss and
the evaluation set. The other files are the training text. The SHA-256 of both texts is stored in
meta.json so a different machine's corpus is visible.

Training: seed 0, Adam (betas 0.9/0.95), linear warm-up then cosine decay of the learning rate,
batches of random 129-byte windows. Training runs on the CPU with ONE thread (the default) and
torch.use_deterministic_algorithms(True); torch's CPU kernels are then deterministic, so the same
machine and torch build give bit-identical weights. (More threads change reduction order.)
Training stops at a fixed step count; the script fails unless the validation loss ends below
0.8 x the unigram model's cross-entropy on the same held-out text (both in nats per byte).

Outlier channels: real LLMs have a few massive-activation channels in the residual stream and
the norm outputs; a model this small trained this briefly has almost none, so quantization
methods that exist for outliers (Hadamard rotation) show little here. After training and before
anything is evaluated or exported, the script therefore multiplies OUTLIERS["count"] (4) channels
of every RMSNorm gain (attn_norm and ffn_norm of each layer and the final norm; the same seeded
channels everywhere, as massive activations sit in fixed channels) by OUTLIERS["alpha"] = 16 and
divides the matching input rows of the linear layers that read the norm (wq/wk/wv, w1/w3, head)
by 16. A power of two scales exactly in f32, so the function is unchanged bit for bit (checked:
the logits before and after must agree exactly); the norm outputs now carry realistic outliers.
meta.json records the channels, alpha and the check.

Output, OUTSIDE the repository, in ${QUANTC_CACHE:-$HOME/.cache/quantc}/test-decoder/:
    model.onnx            opset 17, input_ids int64 [1, 128] -> logits float32 [1, 128, 256]
    state_dict.pt         the PyTorch weights (float reference for scripts/decoder_perplexity.py)
    eval_tokens.npy       int64 [16, 129]: 16 held-out windows; input = [:, :128], target = [:, 1:]
    calib/<i>/input_ids.npy   int64 [1, 128], i = 0..63, windows of the training text
    meta.json             config, losses, unigram entropy, float perplexity, op list, script hash
Re-running when meta.json records this script's SHA-256 and every file is present does nothing
but print the cached summary. --force retrains.
"""

import argparse
import hashlib
import json
import math
import os
import sys
import time

# One BLAS thread unless the caller asks otherwise (must happen before torch loads OpenBLAS).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

CORPUS_DIR = "/usr/share/common-licenses"
HELD_OUT = ("Apache-2.0", "MPL-2.0")

CONFIG = dict(
    vocab=256,
    dim=256,
    n_layers=4,
    n_heads=4,
    head_dim=64,
    ffn_dim=768,      # 12 * 64: a 2^k * m size for non-power-of-two Hadamard rotation
    seq_len=128,
    norm_eps=1e-5,
    rope_theta=10000.0,
    mask_value=-1e4,  # additive causal mask; finite so every tensor stays finite (also in f16)
)

TRAIN = dict(
    seed=0,
    steps=500,
    batch=16,
    lr=3e-3,
    min_lr_ratio=0.1,
    warmup=30,
    betas=(0.9, 0.95),
    grad_clip=1.0,
)

# Outlier-channel emulation (see the module docstring): channels chosen by a seeded permutation.
OUTLIERS = dict(count=4, alpha=16.0, seed=4)

N_EVAL = 16
N_CALIB = 64
OPSET = 17


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------
class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        # Exports as Pow, ReduceMean, Add, Sqrt, Div, Mul.
        ms = x.pow(2).mean(-1, keepdim=True)
        return x / torch.sqrt(ms + self.eps) * self.weight


def rotary_tables(seq_len, head_dim, theta):
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    ang = torch.arange(seq_len, dtype=torch.float64)[:, None] * inv[None, :]
    ang = torch.cat([ang, ang], dim=-1)  # [T, head_dim], rotate_half convention
    return torch.cos(ang).float(), torch.sin(ang).float()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)  # Slice, Neg, Concat


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.h, self.d = c["n_heads"], c["head_dim"]
        dim = c["dim"]
        self.wq = nn.Linear(dim, self.h * self.d, bias=False)
        self.wk = nn.Linear(dim, self.h * self.d, bias=False)
        self.wv = nn.Linear(dim, self.h * self.d, bias=False)
        self.wo = nn.Linear(self.h * self.d, dim, bias=False)

    def forward(self, x, cos, sin, mask, B, T):
        q = self.wq(x).reshape(B, T, self.h, self.d).transpose(1, 2)
        k = self.wk(x).reshape(B, T, self.h, self.d).transpose(1, 2)
        v = self.wv(x).reshape(B, T, self.h, self.d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        att = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.d)
        att = torch.softmax(att + mask, dim=-1)
        y = torch.matmul(att, v).transpose(1, 2).reshape(B, T, self.h * self.d)
        return self.wo(y)


class FeedForward(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.w1 = nn.Linear(c["dim"], c["ffn_dim"], bias=False)  # gate
        self.w3 = nn.Linear(c["dim"], c["ffn_dim"], bias=False)  # up
        self.w2 = nn.Linear(c["ffn_dim"], c["dim"], bias=False)  # down

    def forward(self, x):
        g = self.w1(x)
        return self.w2(g * torch.sigmoid(g) * self.w3(x))  # SiLU as Sigmoid + Mul


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attn_norm = RMSNorm(c["dim"], c["norm_eps"])
        self.attn = Attention(c)
        self.ffn_norm = RMSNorm(c["dim"], c["norm_eps"])
        self.ffn = FeedForward(c)

    def forward(self, x, cos, sin, mask, B, T):
        x = x + self.attn(self.attn_norm(x), cos, sin, mask, B, T)
        return x + self.ffn(self.ffn_norm(x))


class Decoder(nn.Module):
    def __init__(self, c=CONFIG):
        super().__init__()
        self.c = dict(c)
        self.embed = nn.Embedding(c["vocab"], c["dim"])
        self.layers = nn.ModuleList([Block(c) for _ in range(c["n_layers"])])
        self.norm = RMSNorm(c["dim"], c["norm_eps"])
        self.head = nn.Linear(c["dim"], c["vocab"], bias=False)
        cos, sin = rotary_tables(c["seq_len"], c["head_dim"], c["rope_theta"])
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        T = c["seq_len"]
        mask = torch.triu(torch.full((T, T), c["mask_value"]), diagonal=1)
        self.register_buffer("mask", mask, persistent=False)

    def init_weights(self):
        std = 0.02
        for name, p in self.named_parameters():
            if name.endswith("norm.weight"):
                nn.init.ones_(p)
            elif name.endswith("wo.weight") or name.endswith("w2.weight"):
                nn.init.normal_(p, 0.0, std / math.sqrt(2 * self.c["n_layers"]))
            else:
                nn.init.normal_(p, 0.0, std)

    def forward(self, ids):
        # Python ints, so the ONNX export has constant Reshape shapes instead of Shape/Gather chains.
        B, T = int(ids.shape[0]), int(ids.shape[1])
        if T == self.c["seq_len"]:  # exported as three shared constants, not one copy per use
            cos, sin, mask = self.cos, self.sin, self.mask
        else:
            cos, sin, mask = self.cos[:T], self.sin[:T], self.mask[:T, :T]
        x = self.embed(ids)
        for layer in self.layers:
            x = layer(x, cos, sin, mask, B, T)
        return self.head(self.norm(x))


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------
def load_corpus():
    names = sorted(n for n in os.listdir(CORPUS_DIR)
                   if os.path.isfile(os.path.join(CORPUS_DIR, n))
                   and not os.path.islink(os.path.join(CORPUS_DIR, n)))
    missing = [h for h in HELD_OUT if h not in names]
    if missing:
        sys.exit(f"make-test-decoder: {CORPUS_DIR} lacks {missing}")
    train, held = [], []
    for n in names:
        with open(os.path.join(CORPUS_DIR, n), "rb") as f:
            (held if n in HELD_OUT else train).append(f.read())
    train_names = [n for n in names if n not in HELD_OUT]
    return (np.frombuffer(b"".join(train), dtype=np.uint8).astype(np.int64),
            np.frombuffer(b"".join(held), dtype=np.uint8).astype(np.int64),
            train_names)


def unigram_xent(train, held):
    """Cross-entropy (nats/byte) on `held` of the add-one-smoothed byte unigram of `train`,
    and the entropy of the training text's own unigram distribution."""
    counts = np.bincount(train, minlength=256).astype(np.float64) + 1.0
    p = counts / counts.sum()
    xent = float(-np.log(p[held]).mean())
    q = np.bincount(train, minlength=256).astype(np.float64)
    q = q[q > 0] / q.sum()
    ent = float(-(q * np.log(q)).sum())
    return xent, ent


def held_out_windows(held, T):
    """All non-overlapping (T+1)-byte windows of the held-out text."""
    n = len(held) // (T + 1)
    return held[: n * (T + 1)].reshape(n, T + 1)


def eval_windows(held_w, n):
    """n windows spread evenly over the held-out windows."""
    idx = np.linspace(0, len(held_w) - 1, n).round().astype(np.int64)
    return held_w[idx]


@torch.no_grad()
def mean_nll(model, windows, batch=16):
    model.eval()
    tot, cnt = 0.0, 0
    w = torch.from_numpy(windows)
    for i in range(0, len(w), batch):
        b = w[i:i + batch]
        logits = model(b[:, :-1])
        tot += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), b[:, 1:].reshape(-1),
                               reduction="sum").item()
        cnt += b[:, 1:].numel()
    model.train()
    return tot / cnt


@torch.no_grad()
def emulate_outlier_channels(model, windows):
    """Multiplies OUTLIERS["count"] channels of every RMSNorm gain by alpha and divides the
    matching input columns of the nn.Linear weights ([out, in]) that read the norm by alpha.
    alpha is a power of two, so (u * 16g) * (w / 16) rounds exactly like (u * g) * w: the logits
    on `windows` must not change at all. Returns the channels and the largest logit change."""
    alpha = OUTLIERS["alpha"]
    assert math.log2(alpha).is_integer(), "alpha must be a power of two to be exact in f32"
    g = torch.Generator().manual_seed(OUTLIERS["seed"])
    channels = sorted(torch.randperm(model.c["dim"], generator=g)[:OUTLIERS["count"]].tolist())
    pairs = []
    for layer in model.layers:
        pairs.append((layer.attn_norm, [layer.attn.wq, layer.attn.wk, layer.attn.wv]))
        pairs.append((layer.ffn_norm, [layer.ffn.w1, layer.ffn.w3]))
    pairs.append((model.norm, [model.head]))
    model.eval()
    ids = torch.from_numpy(windows[:, :-1])
    before = model(ids)
    for norm, readers in pairs:
        norm.weight[channels] *= alpha
        for linear in readers:
            linear.weight[:, channels] /= alpha
    after = model(ids)
    model.train()
    return channels, float((after - before).abs().max())


# --------------------------------------------------------------------------------------------
# Train / export
# --------------------------------------------------------------------------------------------
def train(model, train_tok, held_w, log):
    T = CONFIG["seq_len"]
    g = torch.Generator().manual_seed(TRAIN["seed"] + 1)
    data = torch.from_numpy(train_tok)
    opt = torch.optim.Adam(model.parameters(), lr=TRAIN["lr"], betas=TRAIN["betas"])
    steps, warm = TRAIN["steps"], TRAIN["warmup"]

    def lr_at(s):
        if s < warm:
            return TRAIN["lr"] * (s + 1) / warm
        t = (s - warm) / max(1, steps - warm)
        lo = TRAIN["lr"] * TRAIN["min_lr_ratio"]
        return lo + 0.5 * (TRAIN["lr"] - lo) * (1 + math.cos(math.pi * t))

    t0 = time.time()
    ema = None
    for s in range(steps):
        starts = torch.randint(0, len(data) - T - 1, (TRAIN["batch"],), generator=g)
        b = torch.stack([data[i:i + T + 1] for i in starts.tolist()])
        for grp in opt.param_groups:
            grp["lr"] = lr_at(s)
        logits = model(b[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, 256), b[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), TRAIN["grad_clip"])
        opt.step()
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        if (s + 1) % 50 == 0 or s == 0:
            msg = f"step {s + 1:4d}/{steps}  train loss (ema) {ema:.4f}  lr {lr_at(s):.2e}"
            if (s + 1) % 200 == 0 or s + 1 == steps:
                msg += f"  val loss {mean_nll(model, held_w):.4f}"
            log(f"{msg}  {time.time() - t0:.0f} s")
    return time.time() - t0


def export_onnx(model, path):
    import onnx
    model.eval()
    dummy = torch.zeros(1, CONFIG["seq_len"], dtype=torch.int64)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the int(shape) TracerWarning: shapes are fixed on purpose
        torch.onnx.export(model, (dummy,), path, opset_version=OPSET,
                          input_names=["input_ids"], output_names=["logits"],
                          do_constant_folding=True, dynamic_axes=None)
    m = onnx.load(path)
    # Name each MatMul weight after its module ("layers.0.attn.wq.weight_t" = weight transposed,
    # [in, out]) instead of torch's "onnx::MatMul_407", so reports and per-layer overrides read well.
    inits = {t.name: t for t in m.graph.initializer}
    renames = {}
    for n in m.graph.node:
        if n.op_type == "MatMul" and n.input[1] in inits and n.input[1].startswith("onnx::"):
            renames[n.input[1]] = n.name.strip("/").replace("/", ".").rsplit(".MatMul", 1)[0] + ".weight_t"
    for t in m.graph.initializer:
        t.name = renames.get(t.name, t.name)
    # The exporter inlines the rotary tables and the mask as one Constant node per use; share one
    # initializer each (rope_cos, rope_sin, causal_mask) instead.
    from onnx import numpy_helper
    tables = {"rope_cos": model.cos.numpy(), "rope_sin": model.sin.numpy(), "causal_mask": model.mask.numpy()}
    used, keep = set(), []
    for n in m.graph.node:
        if n.op_type == "Constant" and n.attribute[0].name == "value":
            v = numpy_helper.to_array(n.attribute[0].t)
            hit = [k for k, t in tables.items() if v.shape == t.shape and np.array_equal(v, t)]
            if hit:
                renames[n.output[0]] = hit[0]
                used.add(hit[0])
                continue
        keep.append(n)
    del m.graph.node[:]
    m.graph.node.extend(keep)
    for k in sorted(used):
        m.graph.initializer.append(numpy_helper.from_array(tables[k], k))
    for n in m.graph.node:
        for k, name in enumerate(n.input):
            if name in renames:
                n.input[k] = renames[name]
    onnx.checker.check_model(m)
    onnx.save(m, path)
    onnx.checker.check_model(m)
    ops = {}
    for n in m.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    return dict(sorted(ops.items()))


def script_hash():
    with open(os.path.abspath(__file__), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def cache_dir():
    root = os.environ.get("QUANTC_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "quantc")
    return os.path.join(root, "test-decoder")


def summary(meta):
    c, r = meta["config"], meta["results"]
    lines = [
        f"test decoder: {c['n_layers']} layers, dim {c['dim']}, {c['n_heads']} heads x {c['head_dim']}, "
        f"SwiGLU {c['ffn_dim']}, vocab {c['vocab']}, seq {c['seq_len']}; {meta['params']:,} parameters",
        f"  train loss {r['train_loss']:.4f}  val loss {r['val_loss']:.4f}  "
        f"unigram val xent {r['unigram_val_xent']:.4f} (ratio {r['val_loss'] / r['unigram_val_xent']:.3f}) "
        f"nats/byte",
        f"  outlier channels {meta['outlier_channels']['channels']} of every RMSNorm gain "
        f"x {meta['outlier_channels']['alpha']:g} (function unchanged)",
        f"  float perplexity on eval set ({meta['eval']['sequences']}x{meta['eval']['predictions_per_sequence']}"
        f" predictions): {r['eval_perplexity']:.4f}",
        f"  ONNX opset {meta['onnx']['opset']}, ops: "
        + ", ".join(f"{k} {v}" for k, v in meta["onnx"]["ops"].items()),
        f"  training {meta['timing']['train_s']:.0f} s, total {meta['timing']['total_s']:.0f} s "
        f"({meta['timing']['threads']} thread(s))",
        f"  cache: {meta['cache_dir']}",
    ]
    return "\n".join(lines)


FILES = ("model.onnx", "state_dict.pt", "eval_tokens.npy", "meta.json")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--force", action="store_true", help="retrain even if the cache is current")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (default 1; only 1 is deterministic)")
    args = ap.parse_args()

    out = cache_dir()
    h = script_hash()
    meta_path = os.path.join(out, "meta.json")
    if not args.force and os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        complete = all(os.path.exists(os.path.join(out, n)) for n in FILES) and all(
            os.path.exists(os.path.join(out, "calib", str(i), "input_ids.npy")) for i in range(N_CALIB))
        if meta.get("script_sha256") == h and complete:
            print("make-test-decoder: cache is current (same script hash); nothing to do")
            print(summary(meta))
            return
        print("make-test-decoder: cache is stale or incomplete; rebuilding")

    t_start = time.time()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(TRAIN["seed"])
    np.random.seed(TRAIN["seed"])

    def log(m):
        print(m, flush=True)

    train_tok, held_tok, train_names = load_corpus()
    T = CONFIG["seq_len"]
    held_w = held_out_windows(held_tok, T)
    uni_xent, uni_ent = unigram_xent(train_tok, held_tok)
    log(f"corpus: {len(train_tok):,} training bytes ({len(train_names)} files), "
        f"{len(held_tok):,} held-out bytes ({', '.join(HELD_OUT)}; {len(held_w)} windows of {T + 1})")
    log(f"unigram: training-text entropy {uni_ent:.4f} nats/byte; cross-entropy on held-out "
        f"{uni_xent:.4f} nats/byte (target: val loss < {0.8 * uni_xent:.4f})")

    model = Decoder(CONFIG)
    model.init_weights()
    params = sum(p.numel() for p in model.parameters())
    log(f"model: {params:,} parameters")

    train_s = train(model, train_tok, held_w, log)

    outlier_channels, outlier_diff = emulate_outlier_channels(model, eval_windows(held_w, N_EVAL))
    log(f"outlier channels {outlier_channels} of every RMSNorm gain x {OUTLIERS['alpha']:g}, "
        f"reader rows / {OUTLIERS['alpha']:g}: logits change by {outlier_diff:.3e} (must be 0)")
    if outlier_diff != 0.0:
        sys.exit("make-test-decoder: the outlier-channel emulation changed the model's function")

    # Final losses: training loss over a fixed sample of training windows, val over all held-out.
    rng = np.random.default_rng(TRAIN["seed"] + 2)
    starts = rng.integers(0, len(train_tok) - T - 1, size=128)
    train_w = np.stack([train_tok[s:s + T + 1] for s in starts])
    train_loss = mean_nll(model, train_w)
    val_loss = mean_nll(model, held_w)
    eval_tok = eval_windows(held_w, N_EVAL)
    eval_nll = mean_nll(model, eval_tok)
    log(f"final: train loss {train_loss:.4f}, val loss {val_loss:.4f}, unigram {uni_xent:.4f}, "
        f"ratio {val_loss / uni_xent:.3f}; eval perplexity {math.exp(eval_nll):.4f}")
    if not val_loss < 0.8 * uni_xent:
        sys.exit("make-test-decoder: validation loss is not below 0.8 x the unigram cross-entropy")

    os.makedirs(out, exist_ok=True)
    tmp = out + ".tmp"
    if os.path.exists(tmp):
        import shutil
        shutil.rmtree(tmp)
    os.makedirs(tmp)
    torch.save(model.state_dict(), os.path.join(tmp, "state_dict.pt"))
    np.save(os.path.join(tmp, "eval_tokens.npy"), eval_tok.astype(np.int64))
    # Calibration samples: windows of the training text (seeded), the distribution a user calibrates on.
    rng = np.random.default_rng(TRAIN["seed"] + 3)
    cstarts = rng.integers(0, len(train_tok) - T, size=N_CALIB)
    for i, s in enumerate(cstarts):
        os.makedirs(os.path.join(tmp, "calib", str(i)))
        np.save(os.path.join(tmp, "calib", str(i), "input_ids.npy"),
                train_tok[s:s + T].reshape(1, T).astype(np.int64))
    ops = export_onnx(model, os.path.join(tmp, "model.onnx"))
    log("onnx ops: " + ", ".join(f"{k} {v}" for k, v in ops.items()))

    # The exported graph must compute what PyTorch computes: evaluate it with a small numpy
    # interpreter (onnx 1.12 has no reference runtime) on one eval sequence.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from decoder_perplexity import OnnxNumpy  # noqa: E402
    ids = eval_tok[:1, :T].astype(np.int64)
    ref = model(torch.from_numpy(ids)).detach().numpy()
    got = OnnxNumpy(os.path.join(tmp, "model.onnx")).run({"input_ids": ids})["logits"]
    max_err = float(np.abs(got - ref).max())
    rel = max_err / float(np.abs(ref).max())
    log(f"onnx (numpy evaluation) vs torch logits: max abs diff {max_err:.3e} (relative {rel:.3e})")
    if not rel < 1e-4:
        sys.exit("make-test-decoder: the exported ONNX graph does not match the PyTorch model")

    def sha(b):
        return hashlib.sha256(b.astype(np.uint8).tobytes()).hexdigest()

    meta = dict(
        script_sha256=h,
        cache_dir=out,
        config=CONFIG,
        train=dict(TRAIN, betas=list(TRAIN["betas"])),
        params=params,
        corpus=dict(dir=CORPUS_DIR, train_files=train_names, held_out_files=list(HELD_OUT),
                    train_bytes=int(len(train_tok)), held_out_bytes=int(len(held_tok)),
                    train_sha256=sha(train_tok), held_out_sha256=sha(held_tok)),
        results=dict(train_loss=train_loss, val_loss=val_loss, unigram_val_xent=uni_xent,
                     unigram_train_entropy=uni_ent, eval_nll=eval_nll,
                     eval_perplexity=math.exp(eval_nll), val_perplexity=math.exp(val_loss)),
        eval=dict(file="eval_tokens.npy", sequences=N_EVAL, predictions_per_sequence=T,
                  note="input = tokens[i, :128] as int64 [1, 128]; targets = tokens[i, 1:]"),
        calib=dict(dir="calib", samples=N_CALIB, file="<i>/input_ids.npy", shape=[1, T]),
        outlier_channels=dict(
            channels=outlier_channels, alpha=OUTLIERS["alpha"], seed=OUTLIERS["seed"],
            norms="attn_norm and ffn_norm of every layer, and the final norm",
            readers_divided="wq, wk, wv (attn_norm); w1, w3 (ffn_norm); head (final norm)",
            logits_max_abs_change=outlier_diff,
            note="gain channels x alpha, the readers' input rows / alpha: exact in f32, "
                 "function unchanged; gives the norm outputs realistic outlier channels"),
        onnx=dict(file="model.onnx", opset=OPSET, inputs={"input_ids": ["int64", [1, T]]},
                  outputs={"logits": ["float32", [1, T, CONFIG["vocab"]]]}, ops=ops,
                  numpy_vs_torch_max_abs=max_err),
        versions=dict(torch=torch.__version__, numpy=np.__version__, python=sys.version.split()[0]),
        timing=dict(train_s=train_s, total_s=time.time() - t_start, threads=args.threads),
    )
    with open(os.path.join(tmp, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
    # Replace the old cache contents only once everything is written.
    import shutil
    for n in sorted(os.listdir(tmp), key=lambda n: n == "meta.json"):  # meta.json last
        dst = os.path.join(out, n)
        if os.path.isdir(dst):
            shutil.rmtree(dst)
        os.replace(os.path.join(tmp, n), dst)
    os.rmdir(tmp)
    print(summary(meta))


if __name__ == "__main__":
    main()
