#!/usr/bin/env python3
"""Layering of src/ from its #include lines (doc/architecture.md):
no include cycle between modules (a module is a file name without .c/.h), and the
store's private headers are included only by the store's own files."""
import os
import re
import sys

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
STORE_FILES = {"store", "store_types", "store_imap", "append", "index", "mbox", "lock", "compact",
               "folders", "mime_cache", "side", "store_check", "index_file"}
STORE_PRIVATE = {"index", "mbox", "lock", "compact", "folders", "mime_cache", "side", "store_check",
                 "append"}


def include_graph():
    edges = {}
    for name in sorted(os.listdir(SRC)):
        if not name.endswith((".c", ".h")):
            continue
        mod = name[:-2]
        edges.setdefault(mod, set())
        with open(os.path.join(SRC, name)) as f:
            for line in f:
                m = re.match(r'\s*#\s*include\s+"([A-Za-z0-9_]+)\.h"', line)
                if m and m.group(1) != mod:
                    edges[mod].add((m.group(1), name))
    return edges


def cycles(edges):
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(t for t, _ in edges[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(t for t, _ in edges.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def main():
    edges = include_graph()
    passed = failed = 0

    def check(what, ok, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
            print("ok - " + what)
        else:
            failed += 1
            print("FAIL - " + what + (": " + detail if detail else ""))

    check("%d modules read from src/" % len(edges), len(edges) > 20)
    found = cycles(edges)
    check("no include cycle between modules", not found,
          "; ".join(" <-> ".join(c) for c in found))
    leaks = sorted("%s includes %s.h" % (src, target)
                   for mod, deps in edges.items() if mod not in STORE_FILES
                   for target, src in deps if target in STORE_PRIVATE)
    check("store internals used only inside the store", not leaks, "; ".join(leaks))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
