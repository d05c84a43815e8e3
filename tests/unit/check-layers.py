#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The layer rule of docs/ARCHITECTURE.md: a file includes headers of its
own layer and of lower ones, never of a higher one.

    check-layers.py SRC_DIR [EXTRA_DIR...]   check the tree; exit 1 on a violation
    check-layers.py --self-test               prove that a violation is caught

Layers, lowest first. Library headers are included by their folder
("basic/log.h", "rpc/server-internal.h"), so an include line names the
layer it reaches; an unqualified include of a library header is a
violation too, since it would hide the layer. The public API
("geerpc/*.h") may be included from anywhere and includes only itself.
"""
import os
import re
import sys
import tempfile

LAYERS = ["basic", "codec", "http", "rpc", "cluster", "shared", "programs"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(path, src):
    rel = os.path.relpath(path, src).split(os.sep)
    if rel[0] == "include":
        return "public"
    if rel[0] in ("basic", "shared"):
        return rel[0]
    if rel[0] == "libgeerpc" and len(rel) > 2 and rel[1] in LAYERS:
        return rel[1]
    if rel[0] == "libgeerpc":
        return None  # a file directly in libgeerpc/ belongs to no layer
    return "programs"


def library_headers(src):
    """basename -> layer, for every header of a layer folder"""
    names = {}
    for layer in LAYERS:
        base = os.path.join(src, layer if layer in ("basic", "shared") else os.path.join("libgeerpc", layer))
        if os.path.isdir(base):
            for f in os.listdir(base):
                if f.endswith(".h"):
                    names[f] = layer
    return names


def check(src, extra):
    problems = []
    headers = library_headers(src)
    files = []
    for top in [src] + extra:
        for dp, _, fn in os.walk(top):
            files += [os.path.join(dp, f) for f in fn if f.endswith((".c", ".h"))]
    for path in sorted(files):
        mine = layer_of(path, src) if os.path.abspath(path).startswith(os.path.abspath(src) + os.sep) else "programs"
        if mine is None:
            problems.append(f"{path}: in libgeerpc/ but in no layer folder ({', '.join(LAYERS[1:5])})")
            continue
        text = open(path, encoding="utf-8", errors="replace").read()
        for m in INCLUDE.finditer(text):
            inc = m.group(1)
            line = text.count("\n", 0, m.start()) + 1
            head = inc.split("/")[0] if "/" in inc else None
            if head == "geerpc":
                continue
            if mine == "public":
                problems.append(f'{path}:{line}: public header includes "{inc}"')
                continue
            if head in LAYERS:
                theirs = head
            elif inc in headers:
                problems.append(f'{path}:{line}: "{inc}" must be included as "{headers[inc]}/{inc}"')
                continue
            else:
                continue  # a program's own header, config.h, a test helper
            if LAYERS.index(theirs) > LAYERS.index(mine):
                problems.append(f'{path}:{line}: layer {mine} includes "{inc}" of the higher layer {theirs}')
    return problems


def self_test():
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "src")
        def put(rel, text):
            p = os.path.join(src, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            open(p, "w").write(text)
        put("basic/log.h", "#pragma once\n")
        put("libgeerpc/rpc/server.c", '#include "basic/log.h"\n#include "codec/codec.h"\n')
        put("libgeerpc/codec/codec.h", '#include "rpc/server-internal.h"\n')
        put("libgeerpc/rpc/server-internal.h", '#include "log.h"\n')
        put("libgeerpc/stray.c", "")
        put("include/geerpc/x.h", '#include "basic/log.h"\n#include "geerpc/defs.h"\n')
        put("geeregistry/main.c", '#include "shared/cli.h"\n#include "rpc/server-internal.h"\n')
        got = check(src, [])
        expect = ["codec.h:1: layer codec includes", "server-internal.h:1: \"log.h\" must be included",
                  "stray.c: in libgeerpc/ but in no layer", "x.h:1: public header includes \"basic/log.h\""]
        missing = [e for e in expect if not any(e in p for p in got)]
        if missing or len(got) != len(expect):
            print("self-test failed; expected", expect, "got", got, file=sys.stderr)
            return 1
    print("self-test: each violation was caught")
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    src, extra = sys.argv[1], sys.argv[2:]
    problems = check(src, extra)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return 1
    print(f"layers: {' < '.join(LAYERS)}: no file includes a higher layer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
