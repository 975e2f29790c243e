#!/usr/bin/env bash
# ONNX Runtime on the layers of quantc-bench-cpu: installs onnxruntime-node
# 1.30.0 into bench/ort/node_modules (gitignored; --ignore-scripts: the CPU
# binaries ship in the package), writes the MatMulNBits models into
# bench/ort/models (gitignored) and times them. Extra arguments go to
# time_ort.js, e.g.  bench/ort/run.sh --shapes 4096x4096 --rows 1,32
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ ! -d "$here/node_modules/onnxruntime-node" ]; then
  npm install --ignore-scripts --no-audit --no-fund --prefix "$here" onnxruntime-node@1.30.0
fi
shapes=4096x4096,4096x14336,14336x4096
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[$i]}" = "--shapes" ]; then shapes="${args[$((i + 1))]}"; fi
done
/usr/bin/python3 "$here/make_models.py" "$here/models" --shapes "$shapes" >/dev/null
exec node "$here/time_ort.js" "$here/models" "$@"
