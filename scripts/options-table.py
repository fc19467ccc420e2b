#!/usr/bin/env python3
"""Prints the README's option table from src/core/options.def, the one list
of tunables, so the documentation cannot drift from the code.
`--check README.md` exits 1 when the README's table differs."""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def options():
    text = (ROOT / "src/core/options.def").read_text()
    for m in re.finditer(r"^TA_OPTION\((.*?)\)\n(?=TA_OPTION|$)", text + "\n", re.S | re.M):
        args = [a.strip() for a in re.split(r",(?![^(]*\))", m.group(1))]
        field, default, _min, _max, env, mparam, genv, gtun = args[:8]
        doc = " ".join(s.strip().strip('"') for s in args[8:]).strip()
        yield field, default, env.strip('"'), mparam, genv, gtun, doc


def table():
    rows = ["| TARENA_ variable | default | mallopt | glibc env | GLIBC_TUNABLES key | meaning |",
            "|---|---|---|---|---|---|"]
    for field, default, env, mparam, genv, gtun, doc in options():
        cell = lambda v: "—" if v in ("0", "NULL") else f"`{v.strip(chr(34))}`"
        rows.append(f"| `{env}` | {default.replace(' ', '')} | {cell(mparam)} | {cell(genv)} | {cell(gtun)} | {doc} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    t = table()
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        readme = Path(sys.argv[2]).read_text()
        if t not in readme:
            sys.stderr.write("README option table is out of date; regenerate with scripts/options-table.py\n")
            sys.exit(1)
        print("README option table matches options.def")
    else:
        sys.stdout.write(t)
