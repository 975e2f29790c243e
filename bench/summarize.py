#!/usr/bin/python3
"""Tables from quantc-bench-cpu JSON output (--benchmark_out=FILE.json), with
repetitions folded to their best (minimum) time, the statistic least
disturbed by other load on a shared machine.

  summarize.py RESULTS.json [--markdown]
"""
import argparse
import json
import re


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    data = json.load(open(args.results))
    context = data.get("context", {})
    for t in (1, 2):
        keys = ["dram_read_GBs", "cache_read_GBs", "fma_GFLOPs", "bf16_GFLOPs", "vnni_GOPs"]
        values = [context.get("t%d_%s" % (t, k), "?") for k in keys]
        print("limits, %d thread(s): DRAM %s GB/s, cache %s GB/s, FMA %s GFLOP/s, "
              "bf16 dot %s GFLOP/s, VNNI %s GOP/s" % ((t,) + tuple(values)))
    best = {}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate" or "error_occurred" in b:
            continue
        name = re.sub(r"/min_time:[^/]*|/real_time|/repeats:\d+", "", b["run_name"])
        if name not in best or b["real_time"] < best[name]["real_time"]:
            best[name] = b
    # The fastest single call over all repetitions (min_us, when recorded).
    fastest = {}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate" or "error_occurred" in b or "min_us" not in b:
            continue
        name = re.sub(r"/min_time:[^/]*|/real_time|/repeats:\d+", "", b["run_name"])
        fastest[name] = min(fastest.get(name, 1e30), b["min_us"])
    rows = []
    for name, b in best.items():
        rows.append((name, b["real_time"], fastest.get(name, 0), b.get("GB/s", 0),
                     b.get("GOP/s", 0), b.get("BW%", 0), b.get("peak%", 0), b.get("label", "")))
    if args.markdown:
        print("| benchmark | µs | fastest call µs | GB/s | GOP/s | % BW | % peak | kernel |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for r in rows:
            print("| %s | %.1f | %.1f | %.1f | %.1f | %.0f | %.0f | %s |" % r)
    else:
        for r in rows:
            print("%-48s %10.1f us (fastest %7.1f) %7.1f GB/s %8.1f GOP/s %5.0f%% BW %5.0f%% peak  %s"
                  % r)


if __name__ == "__main__":
    main()
