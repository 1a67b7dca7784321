#!/usr/bin/env python3
"""Keeps ARCHITECTURE.md true to the code's imports (run by `make lint`).

It reads the floor block of ARCHITECTURE.md (the first ``` block after the
line that says how many floors there are): one floor a line, highest first,
each line starting with the top-level folders on that floor ("cmd/ localstack/");
a line that says "beside" names a package that stands apart and may import
nothing of the module. It fails when
  - the number of floors the text says is not the number of floor lines,
  - a top-level folder holding packages is on no floor, or a floor names a
    folder that holds none,
  - a package imports (outside its tests) a package on a higher floor, or the
    package beside the floors imports any package of the module, or is
    imported by core/ or infra/,
  - a package of the module is not named in ARCHITECTURE.md (as `path`),
  - a path ARCHITECTURE.md names in backticks under one of the floors'
    folders does not exist.
"""
import json
import os
import re
import subprocess
import sys

NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.chdir(root)
    doc = open("ARCHITECTURE.md", encoding="utf-8").read()
    errors = []

    m = re.search(r"The code has (\w+) floors.*?```\n(.*?)```", doc, re.S)
    if not m:
        sys.exit("archcheck: ARCHITECTURE.md has no 'The code has N floors' line followed by a ``` block")
    said, block = m.group(1), m.group(2)
    floor_of, beside = {}, set()
    floors = 0
    for line in block.splitlines():
        dirs = re.match(r"((?:[a-z]+/\s+)+)", line + " ")
        if not dirs:
            continue
        names = [d.rstrip("/") for d in dirs.group(1).split()]
        if "beside" in line:
            beside.update(names)
            continue
        floors += 1
        for n in names:
            floor_of[n] = -floors  # higher lines are higher floors
    if NUMBERS.get(said) != floors:
        errors.append(f"ARCHITECTURE.md says {said} floors; its block lists {floors}")

    mod = subprocess.run(["go", "list", "-m"], capture_output=True, text=True, check=True).stdout.strip()
    out = subprocess.run(["go", "list", "-json", "./..."], capture_output=True, text=True, check=True).stdout
    pkgs = [json.loads("{" + chunk) for chunk in ("\n" + out).split("\n{")[1:]]
    rel = lambda p: p[len(mod) + 1:] if p.startswith(mod + "/") else ("" if p == mod else None)

    tops = set()
    for p in pkgs:
        path = rel(p["ImportPath"])
        top = path.split("/")[0]
        tops.add(top)
        if top not in floor_of and top not in beside:
            errors.append(f"{path}: its folder {top}/ is on no floor of ARCHITECTURE.md")
        if f"`{path}`" not in doc:
            errors.append(f"{path}: not named in ARCHITECTURE.md (as `{path}`)")
        for imp in p.get("Imports", []):
            ipath = rel(imp)
            if ipath is None:
                continue
            itop = ipath.split("/")[0]
            if top in beside:
                errors.append(f"{path} imports {ipath}: {top}/ stands beside the floors and imports nothing of the module")
            elif itop in beside:
                if top in ("core", "infra"):
                    errors.append(f"{path} imports {ipath}: {top}/ does not use {itop}/")
            elif top in floor_of and itop in floor_of and floor_of[itop] > floor_of[top]:
                errors.append(f"{path} imports {ipath}: up from {top}/ to {itop}/")
    for d in list(floor_of) + list(beside):
        if d not in tops:
            errors.append(f"ARCHITECTURE.md puts {d}/ on a floor, but it holds no package")

    for name in sorted(set(re.findall(r"`([a-z][\w./-]*)`", doc))):
        top = name.split("/")[0]
        if "/" in name and (top in floor_of or top in beside) and not os.path.exists(name):
            errors.append(f"ARCHITECTURE.md names `{name}`, which does not exist")

    if errors:
        print("archcheck: ARCHITECTURE.md and the code disagree:")
        for e in errors:
            print("  " + e)
        sys.exit(1)
    print(f"archcheck: {len(pkgs)} packages on {floors} floors; every import runs downwards and every package is on the map")


if __name__ == "__main__":
    main()
