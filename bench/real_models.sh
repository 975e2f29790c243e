#!/usr/bin/env bash
# Whole-model float latency: quantc (quant-run's JIT, --benchmark) against
# ONNX Runtime (onnxruntime-node, bench/ort/run_model.js) on the real models,
# same input, same machine, 1 and 2 threads. Prints a Markdown table of
# median milliseconds and the ratio ORT / quantc (> 1: quantc is faster).
#
#   bench/real_models.sh [RUNS]        (default 50 timed calls each)
#
# Needs the cached models (scripts/fetch-real-models.sh), a build
# (scripts/build.sh) and onnxruntime-node (bench/ort/run.sh installs it).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-50}"
bin="$root/build/bin"
work="${TMPDIR:-/tmp}/quantc-real-model-bench"
if [ ! -d "$root/bench/ort/node_modules/onnxruntime-node" ]; then
  npm install --ignore-scripts --no-audit --no-fund --prefix "$root/bench/ort" onnxruntime-node@1.30.0 >/dev/null
fi
export NODE_PATH="$root/bench/ort/node_modules"

# One seeded input set per model, written by the same code as the tests.
/usr/bin/python3 -c "
import sys; sys.path.insert(0, '$root/scripts')
from real_model_recipes import models, write_samples
for name, (path, shapes, make, *_) in models().items():
    write_samples('$work/' + name, make, 1, seed=4)
    open('$work/' + name + '/model', 'w').write(path)
"

echo "| model | threads | quantc median ms | ONNX Runtime median ms | ORT / quantc |"
echo "|---|---|---|---|---|"
for name in blazeface-front blazeface-back silero-vad; do
  model="$(cat "$work/$name/model")"
  inputs=()
  for f in "$work/$name/0"/*.npy; do
    b="$(basename "$f" .npy)"
    inputs+=(--input "$b=$f")
  done
  for threads in 1 2; do
    q=$("$bin/quant-run" "$model" "${inputs[@]}" --threads "$threads" \
          --benchmark "$runs" --output-dir "$work/$name/out" | sed -nE 's/.*median: ([0-9.]+) us.*/\1/p')
    o=$(node "$root/bench/ort/run_model.js" "$model" --inputs "$work/$name/0" \
          --threads "$threads" --time "$runs" | awk '{print $1}')
    qms=$(awk -v q="$q" 'BEGIN{printf "%.3f", q/1000}')
    ratio=$(awk -v q="$q" -v o="$o" 'BEGIN{printf "%.2f", o/(q/1000)}')
    echo "| $name | $threads | $qms | $o | $ratio |"
  done
done
