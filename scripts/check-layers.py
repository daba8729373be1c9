#!/usr/bin/env python3
"""Fails when an #include in src/ points up the layer order, across modules of
the same layer, or closes an include cycle between files.

Layers, lowest first (docs/architecture.md): a module includes its own files
and the modules of lower layers only."""
import os
import re
import sys

LAYERS = [
    ["base"],
    ["model"],
    ["sys"],
    ["ktap", "console", "kbuild", "patchwork", "mail"],
    ["store"],
    ["runner", "judge", "bisect"],
    ["vm", "report"],
    ["engine"],
    ["web"],
    ["cli"],
]
RANK = {m: i for i, layer in enumerate(LAYERS) for m in layer}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def main():
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    src = os.path.normpath(sys.argv[1] if len(sys.argv) > 1 else src)
    problems = []
    graph = {}
    for module in sorted(os.listdir(src)):
        folder = os.path.join(src, module)
        if not os.path.isdir(folder):
            continue
        if module not in RANK:
            problems.append(f"src/{module}/: a module the layer order does not name (scripts/check-layers.py)")
            continue
        for name in sorted(os.listdir(folder)):
            if not name.endswith((".h", ".cc")):
                continue
            rel = f"{module}/{name}"
            graph[rel] = []
            with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as f:
                for no, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    target = m.group(1)
                    graph[rel].append(target)
                    to = target.split("/", 1)[0]
                    if to == module or to not in RANK:
                        continue
                    if RANK[to] > RANK[module]:
                        problems.append(f"src/{rel}:{no}: {module} (layer {RANK[module]}) includes {target} (layer {RANK[to]}): up the layer order")
                    elif RANK[to] == RANK[module]:
                        problems.append(f"src/{rel}:{no}: {module} includes {target}: modules of one layer stay apart")
    # Cycles between files (depth-first search, colours).
    colour = {}
    stack = []

    def visit(node):
        colour[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if nxt not in graph:
                continue
            if colour.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                problems.append("include cycle: " + " -> ".join(cycle))
            elif nxt not in colour:
                visit(nxt)
        stack.pop()
        colour[node] = 2

    for node in sorted(graph):
        if node not in colour:
            visit(node)
    for p in problems:
        print(p)
    print(f"check-layers: {len(graph)} files, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
