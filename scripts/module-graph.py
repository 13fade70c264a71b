#!/usr/bin/env python3
"""The module graph of a crate's src/: which module imports which, and every cycle.

A module is a file (`a/mod.rs` is module `a`). An edge A -> B means A names B in a
`use` or an inline path (`crate::b::X`, `super::b::X`, or a child's name in a `use`).
Declaring a child (`mod b;`) is not an import. Exits 1 if any cycle exists, printing
each strongly connected component; otherwise prints the modules bottom-up by layer.

With `--doc FILE` it also checks the layer order FILE declares: the table under its
"Module map" heading lists modules top to bottom (`crm/`, `breaker/guard`, several to a
row), and each module may import only modules of its own row or rows below it. Every
module must fall under a row. Exits 1 on an upward import or a module the map lacks,
so the doc cannot drift from the code.

Usage: scripts/module-graph.py [SRC_DIR] [--doc docs/architecture.md]
"""
import os
import re
import sys

args = [a for a in sys.argv[1:]]
doc = None
if "--doc" in args:
    i = args.index("--doc")
    doc = args[i + 1] if i + 1 < len(args) else None
    del args[i : i + 2]
    if doc is None:
        sys.exit("--doc needs a file")
src = args[0] if args else "shared/src"

modules = {}  # module path (tuple) -> file
for root, _, files in os.walk(src):
    for f in files:
        if not f.endswith(".rs"):
            continue
        rel = os.path.relpath(os.path.join(root, f), src)
        parts = rel[:-3].split(os.sep)
        if parts[-1] in ("mod", "lib", "main"):
            parts = parts[:-1]
        modules[tuple(parts)] = os.path.join(root, f)


def resolve(path):
    """The deepest known module that `path` (a tuple of segments) lies in."""
    for n in range(len(path), -1, -1):
        if tuple(path[:n]) in modules:
            return tuple(path[:n])
    return None


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    # A unit-test module (last in its file by convention) is not part of the layering.
    text = re.split(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text)[0]
    return "\n".join(line.split("//")[0] for line in text.splitlines())


edges = {m: set() for m in modules}
seg = r"[A-Za-z_][A-Za-z0-9_]*"
for mod, path in modules.items():
    text = strip_comments(open(path, encoding="utf-8").read())
    # Inline and `use` paths anchored at crate:: or super::.
    for m in re.finditer(rf"\b(crate|super(?:::super)*)((?:::{seg})+)", text):
        anchor, rest = m.group(1), m.group(2).split("::")[1:]
        if anchor == "crate":
            base = []
        else:
            ups = anchor.count("super")
            # A file `a/b.rs` (module a::b) is inside a; `a/mod.rs` (module a) too.
            base = list(mod[: len(mod) - ups])
        target = resolve(base + rest)
        if target is not None and target != mod:
            edges[mod].add(target)
    # `use child::X` from a module to its own child.
    for m in re.finditer(rf"\buse\s+({seg})::", text):
        first = m.group(1)
        if first in ("crate", "super", "self", "std", "core"):
            continue
        child = mod + (first,)
        if child in modules:
            edges[mod].add(child)

# Tarjan's strongly connected components.
index, low, on, stack, sccs, counter = {}, {}, set(), [], [], [0]


def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in sorted(edges[v]):
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        sccs.append(comp)


sys.setrecursionlimit(10_000)
for v in sorted(modules):
    if v not in index:
        visit(v)

name = lambda m: "::".join(m) or "crate"
cycles = [c for c in sccs if len(c) > 1]
if cycles:
    for c in cycles:
        print("cycle:", " <-> ".join(sorted(name(m) for m in c)))
    sys.exit(1)

# Layers: a module's layer is one above the highest layer it imports.
layer = {}


def depth(m):
    if m not in layer:
        layer[m] = 1 + max((depth(d) for d in edges[m]), default=-1)
    return layer[m]


for m in modules:
    depth(m)
print(f"{len(modules)} modules, {sum(len(e) for e in edges.values())} imports, no cycles")
for lvl in range(max(layer.values()) + 1):
    ms = sorted(name(m) for m in modules if layer[m] == lvl)
    print(f"layer {lvl}: {', '.join(ms)}")


def declared_rows(path):
    """The module map's rows, top to bottom: each a list of module tuples."""
    text = open(path, encoding="utf-8").read()
    part = text.split("## Module map", 1)
    if len(part) < 2:
        sys.exit(f"{path}: no 'Module map' section")
    rows = []
    for line in part[1].splitlines():
        if line.startswith("## "):
            break
        if not line.startswith("|") or line.startswith("|---"):
            continue
        first = line.split("|")[1]
        names = re.findall(r"`([a-z_/]+)`", first)
        mods = [tuple(n.strip("/").split("/")) for n in names]
        if mods:
            rows.append(mods)
    return rows


if doc:
    rows = declared_rows(doc)

    def row_of(m):
        """The row of the deepest declared module that `m` lies in."""
        best = None
        for i, mods in enumerate(rows):
            for d in mods:
                if m[: len(d)] == d and (best is None or len(d) > best[1]):
                    best = (i, len(d))
        return None if best is None else best[0]

    problems = []
    for m in sorted(modules):
        if m and row_of(m) is None:
            problems.append(f"{name(m)}: in no row of {doc}'s module map")
    for a in sorted(modules):
        for b in sorted(edges[a]):
            ra, rb = row_of(a), row_of(b)
            if ra is not None and rb is not None and rb < ra:
                problems.append(f"{name(a)} imports {name(b)}, listed above it in {doc}")
    if problems:
        for p in problems:
            print(p)
        sys.exit(1)
    print(f"the layer order of {doc} holds: {len(rows)} rows")
