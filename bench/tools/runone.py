#!/usr/bin/env python3
"""One measured run for bench/compare and bench/variants: starts a workload
with (or without) LD_PRELOAD, takes wall time and user+sys time from wait4(2),
checks that "malloc-from:" names the expected library, appends a JSON record."""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time


WHO = "compare"


def fail(msg):
    # Loud on purpose: a run that did not measure what it claims must stop
    # the comparison, not become a silently wrong table.
    sys.stderr.write("\n%s: ERROR: %s\n" % (WHO, msg))
    sys.exit(1)


def same_library(reported, expected):
    if expected == "glibc":
        return re.search(r"/libc(-[0-9.]+)?\.so", reported) is not None
    try:
        return os.path.realpath(reported) == os.path.realpath(expected)
    except OSError:
        return False


def parse_output(text):
    rec = {"malloc_from": None, "result": {}, "rss_series": []}
    for line in text.splitlines():
        if line.startswith("malloc-from: "):
            rec["malloc_from"] = line[len("malloc-from: "):].strip()
        elif line.startswith("result: ") or line.startswith("rss: "):
            kv = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
            if line.startswith("rss: "):
                rec["rss_series"].append([int(kv["t_ms"]), int(kv["rss_kb"])])
            else:
                for k, v in kv.items():
                    try:
                        rec["result"][k] = float(v)
                    except ValueError:
                        rec["result"][k] = v
    return rec


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jsonl", required=True, help="append the record here")
    ap.add_argument("--raw", required=True, help="the run's stdout+stderr go here")
    ap.add_argument("--workload", required=True)
    ap.add_argument("--alloc", required=True)
    ap.add_argument("--preload", default="", help="library for LD_PRELOAD, empty for none")
    ap.add_argument("--expect", required=True, help="library malloc must come from, or 'glibc'")
    ap.add_argument("--rep", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--who", default="compare", help="the calling script, for error messages")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    global WHO
    WHO = a.who
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        fail("no command given")

    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)  # an inherited preload would skew the glibc baseline
    if a.preload:
        env["LD_PRELOAD"] = a.preload

    with open(a.raw, "w") as raw:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=raw, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        timed_out = []

        def kill():
            timed_out.append(True)
            os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(a.timeout, kill)
        timer.start()
        # wait4 gives the child's own rusage. Its ru_maxrss also counts this
        # python's pages copied by fork before exec, so report.py takes the
        # peak from the workload's VmHWM and keeps maxrss_kb only as a fallback.
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.monotonic() - t0
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)

    with open(a.raw) as f:
        text = f.read()
    tail = "\n".join(text.splitlines()[-15:])
    what = "%s under %s (run %d)" % (a.workload, a.alloc, a.rep)
    if timed_out:
        fail("%s took longer than %.0f s and was killed; output in %s" % (what, a.timeout, a.raw))
    if proc.returncode != 0:
        fail("%s exited with status %d; last output:\n%s" % (what, proc.returncode, tail))
    rec = parse_output(text)
    if rec["malloc_from"] is None:
        fail("%s printed no 'malloc-from:' line" % what)
    if not same_library(rec["malloc_from"], a.expect):
        fail("%s: malloc comes from %s, expected %s -- the preload did not take"
             % (what, rec["malloc_from"], a.expect))
    if "elapsed_s" not in rec["result"]:
        fail("%s printed no 'result: ... elapsed_s=' line" % what)

    rec.update({
        "workload": a.workload, "alloc": a.alloc, "rep": a.rep, "cmd": cmd,
        "preload": a.preload, "wall_s": wall, "user_s": ru.ru_utime, "sys_s": ru.ru_stime,
        "maxrss_kb": ru.ru_maxrss,
    })
    with open(a.jsonl, "a") as f:
        f.write(json.dumps(rec) + "\n")
    peak_kb = rec["result"].get("peak_rss_kb", ru.ru_maxrss)
    print("  %-14s %-9s run %d: %.3f s (timed part), %.2f s wall, %.2f s cpu, %.1f MiB peak"
          % (a.workload, a.alloc, a.rep, rec["result"]["elapsed_s"], wall,
             ru.ru_utime + ru.ru_stime, peak_kb / 1024.0), flush=True)


if __name__ == "__main__":
    main()
