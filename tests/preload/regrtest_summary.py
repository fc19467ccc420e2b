# tests/preload/regrtest_summary.py: reduces the JUnit XML of a `python3 -m
# test --junit-xml` run to what must not depend on the allocator: one sorted
# line per test case with its outcome, then the totals. Timings and skip
# messages are left out (they may vary from run to run).
# Usage: python3 regrtest_summary.py results.xml
import sys
import xml.etree.ElementTree as ET

cases = []
for case in ET.parse(sys.argv[1]).getroot().iter("testcase"):
    outcome = "ok"
    for child in case:
        if child.tag in ("skipped", "failure", "error"):
            outcome = child.tag
            if child.tag != "skipped":
                # Into the log (stderr), for whoever reads a failure.
                text = (child.get("message") or child.text or "").strip()
                print("%s %s: %s" % (case.get("name"), child.tag, text[:2000]), file=sys.stderr)
            break
    cases.append("%s %s" % (case.get("name"), outcome))
cases.sort()
print("\n".join(cases))
totals = {}
for line in cases:
    outcome = line.rsplit(" ", 1)[1]
    totals[outcome] = totals.get(outcome, 0) + 1
print("total: %d test cases, %s" % (len(cases), ", ".join("%s %d" % kv for kv in sorted(totals.items()))))
