#!/usr/bin/env python3
"""Count repeated code outside the tests, at a git revision.

Exports the revision's tracked files into a scratch folder, leaves out test code (files under
`tests/` folders, `tests.rs`, `testing.rs`, and every `#[cfg(test)]` module inside a source file),
then runs the `duplicates` tool over what is left and prints its summary line and the number of
runs (each pair's named run plus its "+N more runs").

    python3 scripts/dup_outside_tests.py [REV ...]      # default: HEAD

The figure issue 19 asks for ("blocks of six or more lines that stand twice, before and after") is
the pair and run counts this prints for the revision before the change and for the one after.
"""
import os
import re
import subprocess
import sys
import tempfile

TEST_FILE = re.compile(r"(^|/)(tests/|tests\.rs$|testing\.rs$)")


def strip_cfg_test(text: str) -> str:
    """Drop each `#[cfg(test)]` item (a module or function) with its braces."""
    out, i = [], 0
    lines = text.split("\n")
    while i < len(lines):
        if lines[i].strip().startswith("#[cfg(test)]"):
            depth, seen = 0, False
            i += 1
            while i < len(lines):
                depth += lines[i].count("{") - lines[i].count("}")
                seen = seen or "{" in lines[i]
                i += 1
                if seen and depth <= 0:
                    break
                if not seen and lines[i - 1].rstrip().endswith(";"):
                    break
            continue
        out.append(lines[i])
        i += 1
    return "\n".join(out)


def export(rev: str, dest: str) -> None:
    names = subprocess.run(
        ["git", "ls-tree", "-r", "-z", "--name-only", rev], check=True, capture_output=True, text=True
    ).stdout.split("\0")
    for name in filter(None, names):
        if TEST_FILE.search(name):
            continue
        blob = subprocess.run(["git", "show", f"{rev}:{name}"], check=True, capture_output=True).stdout
        path = os.path.join(dest, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if name.endswith(".rs"):
            blob = strip_cfg_test(blob.decode("utf-8", "replace")).encode()
        with open(path, "wb") as f:
            f.write(blob)


def count(rev: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        export(rev, tmp)
        out = subprocess.run(
            ["duplicates", "--repo", tmp, "--most", "200", "--seconds", "120"],
            check=True, capture_output=True, text=True,
        ).stdout
    lines = out.split("\n")
    rows = [l for l in lines if re.match(r"^D\d+ ", l)]
    runs = sum(1 + int(m.group(1)) if (m := re.search(r"\(\+(\d+) more runs?\)", r)) else 1 for r in rows)
    plain = [r for r in rows if "boilerplate" not in r]
    plain_runs = sum(
        1 + int(m.group(1)) if (m := re.search(r"\(\+(\d+) more runs?\)", r)) else 1 for r in plain
    )
    print(f"{rev}: {len(rows)} pairs, {runs} runs; not boilerplate: {len(plain)} pairs, {plain_runs} runs")
    print("  " + lines[0])
    if os.environ.get("DUP_ROWS"):
        print("\n".join("  " + r for r in rows))


if __name__ == "__main__":
    for rev in sys.argv[1:] or ["HEAD"]:
        count(rev)
