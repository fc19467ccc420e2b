#!/usr/bin/env python3
"""Suite-level ratio of two variants with its uncertainty, from a
bench/variants runs.csv: for each repetition, the geometric mean over the
workloads of variant/baseline (timed section, and CPU = user + sys); then
the median of those per-repetition means and a bootstrap 90 % interval
(resampling repetitions). A ratio below 1 means the variant is faster.

usage: suite_ci.py RUNS.CSV BASELINE VARIANT [--seed N] [--resamples N]
"""
import argparse
import csv
import math
import random
import statistics
import sys
from collections import defaultdict


def per_rep_geomeans(rows, base, var, metric):
    by = defaultdict(dict)  # (workload, rep) -> variant -> value
    for r in rows:
        v = metric(r)
        if v is not None and v > 0:
            by[(r["workload"], int(r["rep"]))][r["variant"]] = v
    reps = defaultdict(list)  # rep -> list of log ratios
    workloads = set()
    for (w, rep), vals in by.items():
        if base in vals and var in vals:
            reps[rep].append(math.log(vals[var] / vals[base]))
            workloads.add(w)
    # Only repetitions in which every workload has both variants.
    full = [rep for rep, logs in reps.items() if len(logs) == len(workloads)]
    return {rep: math.exp(sum(reps[rep]) / len(reps[rep])) for rep in full}, sorted(workloads)


def bootstrap(values, resamples, rng):
    meds = []
    for _ in range(resamples):
        sample = [rng.choice(values) for _ in values]
        meds.append(statistics.median(sample))
    meds.sort()
    return meds[int(0.05 * resamples)], meds[int(0.95 * resamples) - 1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs_csv")
    ap.add_argument("baseline")
    ap.add_argument("variant")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--resamples", type=int, default=10000)
    a = ap.parse_args()
    with open(a.runs_csv, newline="") as f:
        rows = list(csv.DictReader(f))

    def num(r, k):
        try:
            return float(r[k])
        except (KeyError, ValueError):
            return None

    def timed(r):
        return num(r, "result_elapsed_s") or num(r, "wall_s")

    def cpu(r):
        u, s = num(r, "user_s"), num(r, "sys_s")
        return None if u is None or s is None else u + s

    rng = random.Random(a.seed)
    for name, metric in (("time", timed), ("cpu", cpu)):
        means, workloads = per_rep_geomeans(rows, a.baseline, a.variant, metric)
        if len(means) < 2:
            sys.exit(f"suite_ci: fewer than 2 complete repetitions for {name}")
        vals = [means[k] for k in sorted(means)]
        lo, hi = bootstrap(vals, a.resamples, rng)
        print(f"{name}: {a.variant}/{a.baseline} per-repetition suite geomean over {len(workloads)} workloads, "
              f"{len(vals)} repetitions: median {statistics.median(vals):.3f}x, "
              f"90% bootstrap interval {lo:.3f}-{hi:.3f}x, min-max {min(vals):.3f}-{max(vals):.3f}x")


if __name__ == "__main__":
    main()
