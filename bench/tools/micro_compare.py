#!/usr/bin/env python3
"""Compares bench_micro builds run alternately (e.g. checks on vs off): each
argument is LABEL=run1.json[,run2.json...], one JSON file per round
(--benchmark_out, with or without --benchmark_repetitions). Prints a markdown
table per case: median time per operation of each label over all its
repetitions of all rounds, the ratio of medians to the first label, and the
median over rounds of the per-round ratio (the rounds ran alternately, so
that one cancels load that changed between rounds).
--cpu: CPU time per operation instead of real time (time_per_op scaled by
cpu_time / real_time), which a loaded machine distorts less: a benchmark
thread that waits for a CPU accrues real time but no CPU time. For
single-threaded cases only: --cpu leaves out the threads:N>1 cases, and the
geometric means are over the threads:1 cases (a multi-threaded case on a
loaded machine is mostly scheduling)."""
import json
import math
import re
import statistics
import sys


CPU = False


def load(path):
    """case -> list of seconds per op (the individual repetitions)."""
    with open(path) as f:
        data = json.load(f)
    out = {}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate" or "time_per_op" not in b:
            continue
        # Only the case, not the policy: builds are compared, not policies.
        t = b["time_per_op"] * (b["cpu_time"] / b["real_time"] if CPU else 1.0)
        out.setdefault(b.get("run_name", b["name"]), []).append(t)
    return out


def geomean(xs):
    xs = [x for x in xs if x]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def main():
    global CPU
    args = sys.argv[1:]
    if args and args[0] == "--cpu":
        CPU = True
        args = args[1:]
    if len(args) < 2:
        sys.exit(__doc__)
    labels, rounds = [], {}
    for arg in args:
        label, _, files = arg.partition("=")
        labels.append(label)
        rounds[label] = [load(p) for p in files.split(",")]
    base = labels[0]
    cases = list(rounds[base][0])
    single = lambda c: not re.search(r"threads:([2-9]|[1-9][0-9]+)$", c)
    if CPU:
        cases = [c for c in cases if single(c)]
    print("| case | " + " | ".join("%s %s ns/op" % (l, "CPU" if CPU else "real") for l in labels) + " | "
          + " | ".join("%s / %s (of medians; per-round median [min–max])" % (l, base) for l in labels[1:]) + " |")
    print("|---|" + "---|" * (2 * len(labels) - 1))
    gm = {l: ([], []) for l in labels[1:]}
    for c in cases:
        med = {}
        for l in labels:
            vals = [v for r in rounds[l] for v in r.get(c, [])]
            med[l] = statistics.median(vals) if vals else None
        cells = ["%.2f" % (med[l] * 1e9) if med[l] else "-" for l in labels]
        for l in labels[1:]:
            per = [statistics.median(rl[c]) / statistics.median(rb[c])
                   for rb, rl in zip(rounds[base], rounds[l]) if c in rb and c in rl]
            if not per or not med[l] or not med[base]:
                cells.append("-")
                continue
            r = med[l] / med[base]
            if single(c):
                gm[l][0].append(r)
                gm[l][1].append(statistics.median(per))
            cells.append("**%.3f×**; %.3f× [%.3f–%.3f]" % (r, statistics.median(per), min(per), max(per)))
        print("| %s | %s |" % (re.sub(r"/real_time", "", c), " | ".join(cells)))
    if sum(map(single, cases)) > 1:
        print("| **geometric mean, threads:1 cases** | " + " | ".join("" for _ in labels) + " | " + " | ".join(
            "**%.3f×**; %.3f×" % (geomean(gm[l][0]), geomean(gm[l][1])) for l in labels[1:]) + " |")


if __name__ == "__main__":
    main()
