#!/usr/bin/python3
"""Tables from quantc-bench-cpu JSON output (--benchmark_out=FILE.json), with
repetitions folded to their medians: the time per call, and BW%, each
repetition's GB/s as a fraction of reads of the same weight bytes interleaved
with its calls (read_GB/s: this shared machine's DRAM bandwidth changes within
seconds, so the kernel and its reference see the same moments), with the
lowest repetition's BW% after it.

With --state-split GBS (streaming benchmarks only) the repetitions are also
split by their paired read: at or above GBS GB/s ("fast": this VM's DRAM
flips between about 33-38 and 50-58 GB/s at 2 threads) and below it, with
the median, range and count of BW% for each, per benchmark and pooled over
the shapes of each format / activations / threads; then the same split of
each repetition's median single call against its median single read
(median_call_GB/s / median_read_GB/s): where it is near 100 while BW% is not,
a few slow calls (OS, other tenants) make the difference, not every call.
Runs with --quantc_versus also get, per benchmark and state, the median
versus_speedup (the first kernel's time over the second's, both timed next
to each other) and the second kernel's BW%.

  summarize.py RESULTS.json [MORE.json ...] [--markdown] [--state-split GBS]
"""
import argparse
import json
import re
import statistics


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--state-split", type=float, metavar="GBS")
    args = parser.parse_args()
    runs = [json.load(open(path)) for path in args.results]
    context = runs[0].get("context", {})
    for t in (1, 2):
        keys = ["dram_read_GBs", "cache_read_GBs", "fma_GFLOPs", "bf16_GFLOPs", "vnni_GOPs"]
        values = [context.get("t%d_%s" % (t, k), "?") for k in keys]
        print("limits at start-up, %d thread(s): DRAM %s GB/s, cache %s GB/s, FMA %s GFLOP/s, "
              "bf16 dot %s GFLOP/s, VNNI %s GOP/s" % ((t,) + tuple(values)))
    reps = {}
    for data in runs:
        for b in data["benchmarks"]:
            if b.get("run_type") == "aggregate" or "error_occurred" in b:
                continue
            name = re.sub(r"/min_time:[^/]*|/real_time|/manual_time|/repeats:\d+", "",
                          b["run_name"])
            reps.setdefault(name, []).append(b)
    rows = []
    for name, bs in reps.items():
        med = lambda key: statistics.median(b.get(key, 0) for b in bs)
        rows.append((name, med("real_time"), min(b.get("min_us", 0) for b in bs),
                     med("GB/s"), med("read_GB/s"), med("GOP/s"), med("BW%"),
                     min(b.get("BW%", 0) for b in bs), med("peak%"),
                     bs[0].get("label", "")))
    rows.sort()
    if args.markdown:
        print("| benchmark | µs | fastest call µs | GB/s | read GB/s | GOP/s | % BW | lowest % BW | % peak | kernel |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
        for r in rows:
            print("| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.0f | %.0f | %.0f | %s |" % r)
    else:
        for r in rows:
            print("%-44s %9.1f us (fastest %7.1f) %6.1f GB/s (read %6.1f) %7.1f GOP/s %4.0f%% BW (low %3.0f) %4.0f%% peak  %s"
                  % r)
    if args.state_split is not None:
        print_state_split(reps, args.state_split)


def print_state_split(reps, threshold):
    """BW% of streaming repetitions whose paired read was fast / slow."""
    def describe(values):
        if not values:
            return "%-22s" % "-"
        return "%-22s" % ("%.0f (%.0f-%.0f, n=%d)" % (statistics.median(values), min(values),
                                                     max(values), len(values)))
    pooled = {}
    print("streaming BW%%, paired read >= %g GB/s | below:" % threshold)
    for name in sorted(reps):
        if not name.endswith("/stream"):
            continue
        fast = [b["BW%"] for b in reps[name] if b.get("read_GB/s", 0) >= threshold]
        slow = [b["BW%"] for b in reps[name] if b.get("read_GB/s", 0) < threshold]
        print("%-44s %s %s" % (name, describe(fast), describe(slow)))
        medians = [(100.0 * b["median_call_GB/s"] / b["median_read_GB/s"], b["read_GB/s"])
                   for b in reps[name] if b.get("median_read_GB/s", 0) > 0]
        if medians:
            print("%-44s %s %s" % ("  median call / median read",
                                   describe([m for m, r in medians if r >= threshold]),
                                   describe([m for m, r in medians if r < threshold])))
        versus = [(b["versus_speedup"], b["versus_BW%"], b["read_GB/s"])
                  for b in reps[name] if "versus_speedup" in b]
        if versus:
            for label, index in (("  versus: speedup x100", 0), ("  versus: its BW%", 1)):
                scale = 100.0 if index == 0 else 1.0
                print("%-44s %s %s" % (label,
                                       describe([v[index] * scale for v in versus if v[2] >= threshold]),
                                       describe([v[index] * scale for v in versus if v[2] < threshold])))
        # format/act/K..xN../M1/t2/stream -> format/act/M1/t2 over all shapes
        parts = name.split("/")
        key = "/".join(parts[:2] + parts[3:5]) + " (all shapes)"
        pooled.setdefault(key, ([], []))
        pooled[key][0].extend(fast)
        pooled[key][1].extend(slow)
    for key in sorted(pooled):
        print("%-44s %s %s" % (key, describe(pooled[key][0]), describe(pooled[key][1])))


if __name__ == "__main__":
    main()
