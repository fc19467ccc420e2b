#!/usr/bin/env python3
"""Turns bench_micro's JSON output (--benchmark_format=json or --benchmark_out)
into a markdown table: time per allocator call for the system malloc and for
tarena side by side, with the ratio. With repetitions, the median is used."""
import json
import re
import sys


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: micro_table.py bench_micro.json")
    with open(sys.argv[1]) as f:
        data = json.load(f)
    rows = {}  # case name without the policy -> {policy: seconds per op}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        m = re.match(r"(\w+)<(\w+)Policy>(.*?)(_median)?$", b["name"])
        if not m or "time_per_op" not in b:
            continue
        case = m.group(1) + m.group(3)
        rows.setdefault(case, {})[m.group(2)] = b["time_per_op"]
    print("| case | system ns/op | tarena ns/op | tarena / system |")
    print("|---|---|---|---|")
    for case, v in rows.items():
        s, t = v.get("System"), v.get("Tarena")
        cell = lambda x: "%.1f" % (x * 1e9) if x is not None else "-"
        ratio = "%.2f×" % (t / s) if s and t else "-"
        print("| %s | %s | %s | %s |" % (case.replace("/real_time", ""), cell(s), cell(t), ratio))


if __name__ == "__main__":
    main()
