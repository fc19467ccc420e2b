#!/usr/bin/env python3
"""Statistics for bench/compare and bench/variants: reads the run records
(runs.jsonl), prints a markdown report of medians with min-max spread, ratios
to the baseline (glibc for compare, the first variant for variants) and
geometric means, and writes runs.csv, summary.csv, summary.json and the chart
data. --paired adds the median of the per-repetition ratios, which cancels
load that changes between repetitions (the runs of one repetition are
adjacent in time)."""
import argparse
import csv
import json
import math
import os
import statistics
import sys

# metric key -> (label, unit, how to get it from a run record or None)
METRICS = {
    "time": ("Time of the timed section", "s", lambda r: r["result"].get("elapsed_s")),
    "cpu": ("CPU time, user + sys", "s", lambda r: r["user_s"] + r["sys_s"]),
    "wall": ("Wall time of the whole process", "s", lambda r: r["wall_s"]),
    # The workload's own VmHWM: exec resets it, whereas wait4's ru_maxrss also
    # counts the forked python parent's pages from before exec.
    "peak_rss": ("Peak RSS", "MiB", lambda r: r["result"].get("peak_rss_kb", r["maxrss_kb"]) / 1024.0),
    # memret: RSS at the end of the sampling window (2 s after the free).
    "rss_after_free": ("RSS after the free", "MiB",
                       lambda r: r["result"]["rss_final_kb"] / 1024.0 if "rss_final_kb" in r["result"] else None),
    # frag: RSS at the end with only the last survivors live.
    "final_rss": ("Final RSS", "MiB",
                  lambda r: r["result"]["final_rss_kb"] / 1024.0 if "final_rss_kb" in r["result"] else None),
}


BEFORE_FREE_MS = -200


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def summarise(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values), "values": values}


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def fmt(v):
    if v is None:
        return "-"
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    if v >= 1:
        return "%.2f" % v
    return "%.3f" % v


RATIO_DIGITS = 2


def table(metric, stats, workloads, allocs, base, lines):
    label, unit, _ = METRICS[metric]
    rows = [w for w in workloads if any(stats[w].get(a, {}).get(metric) for a in allocs)]
    if not rows:
        return {}
    lines.append("### %s (%s), median [min–max]%s" % (
        label, unit, ", ratio to %s (lower is better)" % base if base else ""))
    lines.append("")
    lines.append("| workload | " + " | ".join(allocs) + " |")
    lines.append("|---|" + "---|" * len(allocs))
    ratios = {a: [] for a in allocs}
    for w in rows:
        cells = []
        b = stats[w].get(base, {}).get(metric) if base else None
        for a in allocs:
            s = stats[w].get(a, {}).get(metric)
            if s is None:
                cells.append("-")
                continue
            cell = "%s [%s–%s]" % (fmt(s["median"]), fmt(s["min"]), fmt(s["max"]))
            if b and b["median"] > 0 and a != base:
                r = s["median"] / b["median"]
                s["ratio"] = r
                ratios[a].append(r)
                cell += " **%.*f×**" % (RATIO_DIGITS, r)
            elif a == base:
                s["ratio"] = 1.0
            cells.append(cell)
        lines.append("| %s | %s |" % (w, " | ".join(cells)))
    gm = {a: geomean(ratios[a]) for a in allocs}
    if base and len(rows) > 1:
        lines.append("| **geometric mean of ratios** | " + " | ".join(
            "%.*f×" % (RATIO_DIGITS, 1.0) if a == base else ("**%.*f×**" % (RATIO_DIGITS, gm[a]) if gm[a] else "-")
            for a in allocs) + " |")
    lines.append("")
    return gm


def paired_table(metric, runs, workloads, allocs, base, lines):
    """Per workload and variant: the median over repetitions of (this run /
    the baseline's run of the same repetition), with min-max."""
    label, unit, get = METRICS[metric]
    others = [a for a in allocs if a != base]
    out = {}
    rows = []
    for w in workloads:
        by = {}
        for r in runs:
            if r["workload"] == w:
                by.setdefault(r["alloc"], {})[r["rep"]] = get(r)
        row = {}
        for a in others:
            rs = [by[a][k] / by[base][k] for k in by.get(a, {})
                  if by[a][k] and by.get(base, {}).get(k)]
            if rs:
                row[a] = rs
        if row:
            rows.append((w, row))
            out[w] = {a: statistics.median(v) for a, v in row.items()}
    if not rows:
        return {}
    lines.append("### %s: paired ratio to %s, median [min–max] over repetitions" % (label, base))
    lines.append("")
    lines.append("| workload | " + " | ".join(others) + " |")
    lines.append("|---|" + "---|" * len(others))
    for w, row in rows:
        lines.append("| %s | %s |" % (w, " | ".join(
            "**%.*f×** [%.*f–%.*f]" % (RATIO_DIGITS, statistics.median(row[a]), RATIO_DIGITS, min(row[a]),
                                       RATIO_DIGITS, max(row[a])) if a in row else "-" for a in others)))
    gm = {a: geomean([out[w].get(a) for w in out]) for a in others}
    if len(rows) > 1:
        lines.append("| **geometric mean** | " + " | ".join(
            "**%.*f×**" % (RATIO_DIGITS, gm[a]) if gm[a] else "-" for a in others) + " |")
    lines.append("")
    return gm


def write_dat(path, header, rows):
    with open(path, "w") as f:
        f.write(" ".join(header) + "\n")
        for r in rows:
            f.write(" ".join(r) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jsonl", required=True)
    ap.add_argument("--machine", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--allocators", required=True)
    ap.add_argument("--workloads", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--baseline", help="ratios to this allocator/variant (default: glibc if run)")
    ap.add_argument("--kind", default="allocator", help="what the columns are, for the CSV header")
    ap.add_argument("--digits", type=int, default=2, help="decimals of the ratios")
    ap.add_argument("--paired", action="store_true", help="also the per-repetition ratio tables")
    a = ap.parse_args()
    global RATIO_DIGITS
    RATIO_DIGITS = a.digits
    runs = load(a.jsonl)
    allocs = a.allocators.split(",")
    workloads = a.workloads.split(",")
    base = a.baseline if a.baseline else ("glibc" if "glibc" in allocs else None)
    if base and base not in allocs:
        sys.exit("report: baseline %s was not run" % base)

    stats = {w: {} for w in workloads}
    for w in workloads:
        for al in allocs:
            rs = [r for r in runs if r["workload"] == w and r["alloc"] == al]
            if rs:
                stats[w][al] = {m: summarise([get(r) for r in rs]) for m, (_, _, get) in METRICS.items()}

    lines = []
    if a.quick:
        lines += ["**Quick mode: tiny sizes and one run. These figures only show that everything "
                  "runs; they say nothing about speed or memory.**", ""]
    if not base:
        lines += ["(glibc was not run, so there are no ratios.)", ""]
    paired_geo = {}
    geo = {}
    for m in ("time", "cpu", "peak_rss", "rss_after_free", "final_rss", "wall"):
        geo[m] = table(m, stats, workloads, allocs, base, lines)
    if a.paired and base and len(allocs) > 1:
        for m in ("time", "cpu"):
            paired_geo[m] = paired_table(m, runs, workloads, allocs, base, lines)
    lines += ["Time is the workload's own timed section (threads start to join), not process",
              "start-up; peak RSS is the workload's VmHWM (/proc/self/status). memret's figure is RSS 2 s after",
              "freeing everything (threads still alive); frag's final RSS is with only the last",
              "round's survivors live.", ""]
    report = "\n".join(lines)
    print(report)  # compare already printed the machine header above
    with open(a.machine) as f:
        header = f.read().rstrip()
    with open(os.path.join(a.out, "report.md"), "w") as f:
        f.write("```\n%s\n```\n\n%s\n" % (header, report))

    # runs.csv: every run, raw.
    extra = sorted({k for r in runs for k in r["result"]})
    with open(os.path.join(a.out, "runs.csv"), "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["workload", a.kind, "rep", "wall_s", "user_s", "sys_s", "maxrss_kb", "malloc_from"]
                    + ["result_" + k for k in extra])
        for r in runs:
            wr.writerow([r["workload"], r["alloc"], r["rep"], "%.4f" % r["wall_s"], "%.4f" % r["user_s"],
                         "%.4f" % r["sys_s"], r["maxrss_kb"], r["malloc_from"]]
                        + [r["result"].get(k, "") for k in extra])
    # summary.csv / summary.json: the statistics behind the tables.
    with open(os.path.join(a.out, "summary.csv"), "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["workload", a.kind, "metric", "unit", "median", "min", "max", "runs",
                     "ratio_to_%s" % (base or "glibc")])
        for w in workloads:
            for al in allocs:
                for m, s in stats[w].get(al, {}).items():
                    if s:
                        wr.writerow([w, al, m, METRICS[m][1], "%.6g" % s["median"], "%.6g" % s["min"],
                                     "%.6g" % s["max"], s["n"], "%.4f" % s["ratio"] if "ratio" in s else ""])
    series = {}
    for w in workloads:
        for al in allocs:
            rs = [r for r in runs if r["workload"] == w and r["alloc"] == al and r["rss_series"]]
            if rs:
                by_t = {}
                for r in rs:
                    for t, kb in r["rss_series"]:
                        # The sample taken before the free (negative time,
                        # different in every run) goes into one row at
                        # BEFORE_FREE_MS, which charts.gp labels "allocated".
                        by_t.setdefault(t if t >= 0 else BEFORE_FREE_MS, []).append(kb)
                series.setdefault(w, {})[al] = {t: statistics.median(v) for t, v in sorted(by_t.items())}
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump({"machine": open(a.machine).read(), "quick": a.quick, "baseline": base,
                   "allocators": allocs, "workloads": workloads, "stats": stats,
                   "geomean_ratio": geo, "paired_geomean_ratio": paired_geo,
                   "rss_series_kb": series}, f, indent=1)

    # Chart data for bench/tools/charts.gp: one row per workload, one column
    # per allocator; '?' where there is no value.
    def col(w, al, m, ratio):
        s = stats[w].get(al, {}).get(m)
        if not s:
            return "?"
        if ratio:
            return "%.4f" % s["ratio"] if "ratio" in s else "?"
        return "%.3f" % s["median"]
    if base:
        write_dat(os.path.join(a.out, "time_ratio.dat"), ["workload"] + allocs,
                  [[w] + [col(w, al, "time", True) for al in allocs] for w in workloads])
    write_dat(os.path.join(a.out, "peak_rss.dat"), ["workload"] + allocs,
              [[w] + [col(w, al, "peak_rss", False) for al in allocs] for w in workloads])
    for w, per_alloc in series.items():
        ts = sorted({t for s in per_alloc.values() for t in s})
        write_dat(os.path.join(a.out, "%s_rss.dat" % w.replace("@", "_")), ["t_ms"] + allocs,
                  [[str(t)] + ["%.1f" % (per_alloc[al][t] / 1024.0) if al in per_alloc and t in per_alloc[al]
                               else "?" for al in allocs] for t in ts])


if __name__ == "__main__":
    sys.exit(main())
