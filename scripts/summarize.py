#!/usr/bin/python3
"""Counts meson's real test results (testlog.json of every pass) and prints
the closing line "N passed, N failed". Exit status 1 when anything failed or
a pass could not build."""
import json
import pathlib
import sys

logs = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "_logs")
passed = failed = skipped = 0
for f in sorted(logs.glob("*.testlog.json")):
    pass_name = f.name.split(".")[0]
    for line in f.read_text().splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        res = r.get("result", "")
        if res in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif res == "SKIP":
            skipped += 1
        else:
            failed += 1
            print(f"FAILED [{pass_name}] {r.get('name')}: {res}")
for f in sorted(logs.glob("*.buildfail")):
    failed += 1
    print(f"FAILED [{f.stem}] build failed (see _logs/)")
if passed + failed == 0:
    print("no test ran")
    failed = 1
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed else 0)
