#!/usr/bin/env bash
# The test command: installs dependencies, builds, runs the whole fast suite
# (lit + FileCheck, numerics through quant-run/quant-tensor, GoogleTest unit
# tests), prints the ONNX node-test conformance counts, and ends with the
# line "N passed, N failed".
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${QUANTC_BUILD_DIR:-$root/build}"

start=$(date +%s)
# Everything the lit suites use (check-quantc's dependencies) is built.
if ! "$root/scripts/build.sh" all; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "build: $(( $(date +%s) - start )) s"

log="$build/lit-results.txt"
/usr/bin/python3 /usr/lib/llvm-22/bin/lit -v --order=lexical \
  "$build/test" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# lit's summary counts every GoogleTest case individually; it pads the
# names to the longest one printed ("  Passed     : 259 (98.11%)" when a
# test was unsupported, "  Passed: 263 (100.00%)" otherwise).
count() { grep -E "^  $1 *: +[0-9]+" "$log" | sed -E 's/.*: +([0-9]+).*/\1/' | head -1; }
passed=$(( $(count Passed || true) + 0 ))
expected_fail=$(( $(count "Expectedly Failed" || true) + 0 ))
passed=$(( passed + expected_fail ))
failed=0
for kind in Failed "Unexpectedly Passed" Unresolved Timed\ Out; do
  failed=$(( failed + $(count "$kind" || true) + 0 ))
done
skipped=$(( $(count Unsupported || true) + 0 ))

# ONNX conformance (integration_test/onnx-node): the counts are printed on
# every run; a wrong answer, a crash, or a test of expected-pass.txt that no
# longer passes counts as one failure.
node_data=/usr/share/libonnx-testdata/data/node
if [ -d "$node_data" ] && [ -x "$build/bin/quant-run" ]; then
  node_work="$build/onnx-node-work"
  rm -rf "$node_work"
  if /usr/bin/python3 "$root/integration_test/onnx-node/run_node_tests.py" \
      --quant-run "$build/bin/quant-run" --work-dir "$node_work" --quiet \
      --expected-pass "$root/integration_test/onnx-node/expected-pass.txt"; then
    passed=$(( passed + 1 ))
  else
    failed=$(( failed + 1 ))
  fi
  rm -rf "$node_work"
else
  echo "ONNX node tests: skipped (no $node_data)"
fi
echo "total: $(( $(date +%s) - start )) s; skipped (unsupported here): $skipped"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
