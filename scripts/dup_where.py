#!/usr/bin/env python3
"""Where the repeated code outside the tests stands, by kind of code.

    python3 scripts/dup_where.py [REV]          # default: HEAD
    SHOW=code python3 scripts/dup_where.py      # also list the runs of one kind (table, decl, sig, code)

`dup_outside_tests.py` counts runs as the `duplicates` tool reports them: each pair's named run
plus its "+N more runs", some of which overlap the named one (blanking it takes them away too).
This script finds the places themselves: it runs the tool over the revision (tests left out, as
`dup_outside_tests.py` does), records each row's named run, blanks those lines on both sides and
runs the tool again, until no row is left. Each place is put under the kind that most of its lines
belong to, by a plain line scanner (not a parser): word, command and message tables (macro
invocations and `const` slices), struct, enum and const declarations, function signatures with
their attributes, function bodies, migrations and templates.
"""
import os
import re
import subprocess
import sys
import tempfile
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dup_outside_tests import export
rev = sys.argv[1] if len(sys.argv) > 1 else "HEAD"
def kinds(path):
    """Per line of a stripped file: 'table' inside vocabulary!/declared commands/error tables,
    'decl' in a struct/enum body or attributes and const items, 'sig' in a fn signature, else 'code'."""
    lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    out = ["code"] * len(lines)
    if path.endswith(".sql"): return ["sql"] * len(lines)
    if path.endswith(".html"): return ["html"] * len(lines)
    i = 0
    while i < len(lines):
        t = lines[i].strip()
        if re.match(r'^(pub(\([\w:]+\))? )?(struct|enum) \w+.*\{$', t) or re.match(r'^vocabulary!\(|^\w+!\($|^declare_\w+!|^commands!\s*\{|^(pub )?const \w+: &\[', t):
            kind = "decl" if re.match(r'^(pub(\([\w:]+\))? )?(struct|enum)', t) else "table"
            depth = 0
            j = i
            while j < len(lines):
                depth += lines[j].count("{") + lines[j].count("(") + lines[j].count("[") - lines[j].count("}") - lines[j].count(")") - lines[j].count("]")
                out[j] = kind
                j += 1
                if depth <= 0 and j > i: break
            # attributes/doc just above
            k = i - 1
            while k >= 0 and (lines[k].strip().startswith("#[") or lines[k].strip().startswith("///")):
                out[k] = kind; k -= 1
            i = j; continue
        if re.match(r'^(pub(\([\w:]+\))? )?(async )?fn \w+', t):
            j = i
            while j < len(lines) and not lines[j].rstrip().endswith("{") and not lines[j].rstrip().endswith(";"):
                out[j] = "sig"; j += 1
            if j < len(lines): out[j] = "sig"
            k = i - 1
            while k >= 0 and (lines[k].strip().startswith("#[") or lines[k].strip().startswith("///") or lines[k].strip().startswith("responses(") or lines[k].strip().startswith("(status")):
                out[k] = "sig"; k -= 1
            i = j + 1; continue
        if re.match(r'^(pub(\([\w:]+\))? )?const \w+', t) or re.match(r'^(pub(\([\w:]+\))? )?static \w+', t):
            out[i] = "decl"
        i += 1
    return out
with tempfile.TemporaryDirectory() as tmp:
    export(rev, tmp)
    cache = {}
    found = []
    total_rows = None
    passes = 0
    for passes in range(1, 61):
        out = subprocess.run(["duplicates", "--repo", tmp, "--most", "200", "--seconds", "120"], capture_output=True, text=True).stdout
        rows = [l for l in out.split("\n") if re.match(r"^D\d+ ", l)]
        if total_rows is None:
            total_rows = sum(1 + int(x.group(1)) if (x := re.search(r"\(\+(\d+) more runs?\)", r)) else 1 for r in rows)
        if not rows:
            break
        blank = {}
        for r in rows:
            m = re.match(r"^D\d+ (\S+):(\d+)-(\d+) ~ (\S+):(\d+)-(\d+)", r)
            sides = [(m.group(1), int(m.group(2)), int(m.group(3))), (m.group(4), int(m.group(5)), int(m.group(6)))]
            ks = []
            for f, a, b in sides:
                if f not in cache: cache[f] = kinds(os.path.join(tmp, f))
                ks += cache[f][a-1:b]
            # The kind most lines belong to; a tie goes to function bodies first (the count
            # never calls logic a declaration on a tie).
            order = ["table", "decl", "sig", "html", "sql", "code"]
            top = max(order, key=lambda k: (ks.count(k), order.index(k)))
            found.append((top, "boilerplate" in r, r))
            for f, a, b in sides:
                blank.setdefault(f, []).append((a, b))
        for f, spans in blank.items():
            p = os.path.join(tmp, f)
            ls = open(p, encoding="utf-8", errors="replace").read().split("\n")
            for a, b in spans:
                for n in range(a - 1, min(b, len(ls))): ls[n] = ""
            open(p, "w").write("\n".join(ls))
print(f"{rev}: {total_rows} runs counted, standing in {len(found)} places")
if rows:
    print(f"  incomplete: still {len(rows)} rows after {passes} passes; the places above are not all")
t = {}
for k, bp, r in found: t[(k, bp)] = t.get((k, bp), 0) + 1
names = {"table": "word/command/message tables", "decl": "struct, enum and const declarations", "sig": "function signatures (with their attributes)", "code": "function bodies", "sql": "migrations", "html": "templates"}
for k in ["table", "decl", "sig", "code", "sql", "html"]:
    a, b = t.get((k, False), 0), t.get((k, True), 0)
    if a + b: print(f"  {names[k]:46} {a+b:4} ({b} marked boilerplate)")
if os.environ.get("SHOW"):
    for k, bp, r in found:
        if k == os.environ["SHOW"]: print(r)
