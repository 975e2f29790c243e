#!/usr/bin/env python3
"""ONNX backend node-test conformance for quantc.

Runs quant-run (import + JIT) on every test directory of the ONNX test data
(/usr/share/libonnx-testdata/data/node by default): model.onnx with each
test_data_set_*/input_*.pb, and compares the results with output_*.pb.

Each test is one of
  pass         every data set's outputs match
  fail         wrong numbers, shapes or types, or quant-run crashed or hung:
               a real failure (quantc must reject what it cannot do, never
               answer wrongly)
  unsupported  quant-run exited with a clean one-line error (an op or type
               quantc does not lower yet); the reason is that message. Tests
               whose expected outputs contradict the spec (TEST_DATA_DEFECTS)
               are listed here too, with the defect as the reason

Tolerances: float32/float64 |actual - expected| <= atol + rtol * |expected|
with rtol = 1e-4, atol = 1e-5 (--rtol/--atol; NaNs and infinities must
match); float16 rtol = atol = 1e-3 (its resolution); integers and bools
exactly. The few tests whose expected values are themselves inexact
(IMPRECISE_REFERENCES: rounded literals, references computed with a short
pi) get atol 1e-4, each with the reason.

  run_node_tests.py [--quant-run PATH] [--data-dir DIR] [--work-dir DIR]
                    [--jobs N] [--tests-from FILE] [--filter REGEX]
                    [--summary FILE] [--results FILE]
                    [--expected-pass FILE] [--write-expected-pass FILE]

--results writes one line per test, `STATUS<TAB>TEST<TAB>REASON`.
--expected-pass FILE makes the exit code 1 unless every test listed there
passes and no test fails; without it, the exit code is 1 iff a test fails.
"""
import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import numpy_helper

DEFAULT_DATA = "/usr/share/libonnx-testdata/data/node"


def result_file_name(name):
    """The file quant-run writes an output to (tools/quant-run resultFileName)."""
    safe = "".join(c if (c.isalnum() and c.isascii()) or c in ".-_" else "_" for c in name)
    if safe in ("", ".", ".."):
        safe = "_" + safe
    return safe + ".npy"


FLOAT_TOLERANCES = {"rtol": 1e-4, "atol": 1e-5}

# Tests whose expected float outputs are only accurate to about 1e-4; they
# are compared with this absolute tolerance instead (quantc's values are the
# exact ones: e.g. HannWindow n = 8, N = 10 is 0.5 - 0.5 cos(1.6 pi) =
# 0.3454915, the data says 0.3455620).
_WINDOW = "reference window computed with pi ~ 3.1415 (errors up to 7e-5)"
IMPRECISE_REFERENCES = {
    **{f"test_{w}window{s}{e}": (1e-4, _WINDOW)
       for w in ("hann", "hamming", "blackman")
       for s in ("", "_symmetric") for e in ("", "_expanded")},
    "test_gridsample_bicubic": (1e-4, "expected output written as 4-decimal literals"),
}

# Tests whose expected outputs contradict the ONNX operator spec; they are
# reported as unsupported with this reason and never as a pass, whatever
# quant-run answers.
TEST_DATA_DEFECTS = {
    "test_adam_multiple": "test data defect: the reference ran with epsilon = 1e-2 "
                          "but the node leaves epsilon at its default 1e-6",
}


def tolerances(dtype, test=None):
    if dtype in (np.float32, np.float64):
        atol = FLOAT_TOLERANCES["atol"]
        if test in IMPRECISE_REFERENCES:
            atol = max(atol, IMPRECISE_REFERENCES[test][0])
        return FLOAT_TOLERANCES["rtol"], atol
    return 1e-3, 1e-3  # float16 (bfloat16 is not exchanged by quant-run)


def compare(name, expected, actual, test=None):
    """None if `actual` matches `expected`, else a one-line reason."""
    if actual.shape != expected.shape:
        return f"output '{name}' has shape {actual.shape}, expected {expected.shape}"
    if actual.dtype != expected.dtype:
        return f"output '{name}' has dtype {actual.dtype}, expected {expected.dtype}"
    if expected.dtype.kind == "f":
        rtol, atol = tolerances(expected.dtype.type, test)
        e = expected.astype(np.float64)
        a = actual.astype(np.float64)
        if not np.array_equal(np.isnan(e), np.isnan(a)):
            return f"output '{name}': NaNs differ"
        finite = ~np.isnan(e)
        same_inf = np.isinf(e) & (e == a)
        close = np.isclose(a, e, rtol=rtol, atol=atol) | same_inf
        bad = finite & ~close
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            worst = float(np.max(np.abs(a[bad] - e[bad])))
            return (f"output '{name}': {int(bad.sum())} of {e.size} values differ "
                    f"(first at {index}: {a[index]!r} vs expected {e[index]!r}; "
                    f"max abs diff {worst:.3g})")
        return None
    if not np.array_equal(actual, expected):
        bad = actual != expected
        index = tuple(int(i) for i in np.argwhere(bad)[0]) if bad.ndim else ()
        return (f"output '{name}': {int(bad.sum())} of {expected.size} values differ "
                f"(first at {index}: {actual[index]!r} vs expected {expected[index]!r})")
    return None


def clean_message(text, test_dir):
    """quant-run's error line without paths, so that reasons group."""
    lines = [l for l in text.strip().splitlines() if l.strip()]
    line = next((l for l in reversed(lines) if "quant-run: error:" in l), lines[-1] if lines else "")
    line = line.replace("quant-run: error: ", "")
    line = line.replace(test_dir + "/", "")
    return line.strip()


def run_test(quant_run, test_dir, work_dir, timeout):
    """Returns (status, reason) for one test directory."""
    name = os.path.basename(test_dir)
    if name in TEST_DATA_DEFECTS:
        return "unsupported", TEST_DATA_DEFECTS[name]
    model_path = os.path.join(test_dir, "model.onnx")
    try:
        model = onnx.load(model_path, load_external_data=False)
        outputs = [o.name for o in model.graph.output]
    except Exception as error:  # a model the Python package cannot read
        return "unsupported", f"onnx.load failed: {error}"
    sets = sorted(d for d in os.listdir(test_dir) if d.startswith("test_data_set_"))
    if not sets:
        return "unsupported", "no test_data_set_*"
    for data_set in sets:
        set_dir = os.path.join(test_dir, data_set)
        out_dir = os.path.join(work_dir, name, data_set)
        shutil.rmtree(out_dir, ignore_errors=True)
        command = [quant_run, model_path, "--input-dir", set_dir, "--output-dir", out_dir]
        # A model whose inputs are all initializers still takes input_<i>.pb
        # files for nothing; quant-run binds only what the graph asks for.
        try:
            process = subprocess.run(command, capture_output=True, text=True,
                                     timeout=timeout)
        except subprocess.TimeoutExpired:
            return "fail", f"{data_set}: quant-run timed out after {timeout} s"
        if process.returncode == 1:
            return "unsupported", clean_message(process.stderr, test_dir)
        if process.returncode != 0:
            return "fail", (f"{data_set}: quant-run exited with {process.returncode} "
                            f"({clean_message(process.stderr, test_dir)[:200]})")
        for index, output in enumerate(outputs):
            expected_path = os.path.join(set_dir, f"output_{index}.pb")
            if not os.path.exists(expected_path):
                continue
            tensor = onnx.TensorProto()
            with open(expected_path, "rb") as f:
                tensor.ParseFromString(f.read())
            expected = numpy_helper.to_array(tensor)
            actual_path = os.path.join(out_dir, result_file_name(output))
            if not os.path.exists(actual_path):
                return "fail", f"{data_set}: no output file for '{output}'"
            reason = compare(output, expected, np.load(actual_path), name)
            if reason:
                return "fail", f"{data_set}: {reason}"
        shutil.rmtree(out_dir, ignore_errors=True)
    return "pass", ""


def group_reason(reason):
    """A reason with node names and shapes removed, for the summary."""
    reason = re.sub(r"node '[^']*' ", "", reason)
    reason = re.sub(r"'[^']*'", "'…'", reason)
    return reason[:110]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quant-run", default=shutil.which("quant-run") or "quant-run")
    parser.add_argument("--data-dir", default=DEFAULT_DATA)
    parser.add_argument("--work-dir", default=None)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=int, default=120)
    parser.add_argument("--rtol", type=float, default=1e-4, help="float32/64 relative tolerance")
    parser.add_argument("--atol", type=float, default=1e-5, help="float32/64 absolute tolerance")
    parser.add_argument("--tests-from", help="run only the tests listed in this file")
    parser.add_argument("--filter", help="run only tests whose name matches this regex")
    parser.add_argument("--summary", help="also write the summary table here")
    parser.add_argument("--results", help="write STATUS<TAB>TEST<TAB>REASON lines here")
    parser.add_argument("--expected-pass", help="fail unless every test listed here passes")
    parser.add_argument("--write-expected-pass", help="write the passing tests here")
    parser.add_argument("--quiet", action="store_true", help="print only the summary counts")
    args = parser.parse_args()

    FLOAT_TOLERANCES["rtol"], FLOAT_TOLERANCES["atol"] = args.rtol, args.atol
    if not os.path.isdir(args.data_dir):
        sys.exit(f"run_node_tests.py: no test data at {args.data_dir} "
                 "(apt install libonnx-testdata)")
    tests = sorted(d for d in os.listdir(args.data_dir)
                   if os.path.isfile(os.path.join(args.data_dir, d, "model.onnx")))
    total_available = len(tests)

    def read_list(path):
        with open(path) as f:
            return [l.split("#")[0].strip() for l in f if l.split("#")[0].strip()]

    if args.tests_from:
        wanted = read_list(args.tests_from)
        missing = [t for t in wanted if t not in tests]
        if missing:
            sys.exit(f"run_node_tests.py: not in {args.data_dir}: {', '.join(missing)}")
        tests = wanted
    if args.filter:
        tests = [t for t in tests if re.search(args.filter, t)]

    work_dir = args.work_dir or tempfile.mkdtemp(prefix="quantc-onnx-node-")
    os.makedirs(work_dir, exist_ok=True)
    start = time.time()
    results = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(run_test, args.quant_run, os.path.join(args.data_dir, t),
                               work_dir, args.timeout): t for t in tests}
        for future in concurrent.futures.as_completed(futures):
            results[futures[future]] = future.result()
    elapsed = time.time() - start

    counts = {"pass": 0, "fail": 0, "unsupported": 0}
    for status, _ in results.values():
        counts[status] += 1
    lines = []
    lines.append(f"ONNX node tests ({args.data_dir}): {len(tests)} run"
                 + (f" of {total_available}" if len(tests) != total_available else "")
                 + f" in {elapsed:.0f} s (float32 rtol {args.rtol:g}, atol {args.atol:g})")
    lines.append(f"  passed:      {counts['pass']}")
    lines.append(f"  failed:      {counts['fail']}   (wrong numbers, crashes, hangs)")
    lines.append(f"  unsupported: {counts['unsupported']}   (rejected with a clean error)")
    failures = sorted(t for t, (s, _) in results.items() if s == "fail")
    if failures:
        lines.append("")
        lines.append("Failures:")
        for t in failures:
            lines.append(f"  {t}: {results[t][1]}")
    if not args.quiet:
        groups = {}
        for t, (s, reason) in results.items():
            if s == "unsupported":
                groups.setdefault(group_reason(reason), []).append(t)
        if groups:
            lines.append("")
            lines.append("Unsupported, by reason:")
            for reason, names in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
                lines.append(f"  {len(names):4d}  {reason}")
    summary = "\n".join(lines)
    print(summary)
    if args.summary:
        with open(args.summary, "w") as f:
            f.write(summary + "\n")
    if args.results:
        with open(args.results, "w") as f:
            for t in sorted(results):
                status, reason = results[t]
                f.write(f"{status}\t{t}\t{reason}\n")
    if args.write_expected_pass:
        with open(args.write_expected_pass, "w") as f:
            f.write("# ONNX node tests that must pass (integration_test/onnx-node).\n"
                    "# Regenerate with run_node_tests.py --write-expected-pass after\n"
                    "# adding lowerings; a test may leave this list only with a reason.\n")
            for t in sorted(t for t, (s, _) in results.items() if s == "pass"):
                f.write(t + "\n")

    status = 0
    if failures:
        status = 1
    if args.expected_pass:
        expected = read_list(args.expected_pass)
        regressed = [t for t in expected if t in results and results[t][0] != "pass"]
        not_run = [t for t in expected if t not in results]
        if args.tests_from is None and args.filter is None and not_run:
            print(f"\nExpected to pass but not found: {', '.join(not_run)}")
            status = 1
        if regressed:
            print("\nExpected to pass but did not:")
            for t in regressed:
                print(f"  {t}: {results[t][0]}: {results[t][1]}")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
