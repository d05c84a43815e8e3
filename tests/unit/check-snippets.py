#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every C snippet in README.md and docs/*.md compiles against the built
library, as a user would build it: each ```c block is a whole translation
unit (its own #include lines), compiled with -Wall -Werror; a block with
main() is a whole program, linked and run (it must exit 0 within 30 s).
C code outside ```c blocks is an error, so that no snippet escapes.

    check-snippets.py SOURCE_ROOT INCLUDE_DIR LIBRARY SANITIZE CC... -- PKG_CONFIG_FLAGS...
"""

import glob
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import doccheck  # noqa: E402
import tempfile

# A line of C that calls the library: "geerpc_server_new(&s);",
# "int r = geerpc_client_call(...);".
C_CALL = re.compile(r"^\s*(?:[\w*\s]+=\s*)?geerpc_[a-z0-9_]+\(.*\);")


def blocks(path):
    """(line, info, text) of each fenced block, and the indented lines
    outside fences that look like C."""
    fenced, stray = [], []
    with open(path) as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^(```+)\s*(.*)$", lines[i])
        if m:
            start, fence, info = i + 1, m.group(1), m.group(2).strip()
            i += 1
            body = []
            while i < len(lines) and not lines[i].startswith(fence):
                body.append(lines[i])
                i += 1
            fenced.append((start, info, "\n".join(body) + "\n"))
            if info.split()[:1] != ["c"]:
                stray += [(start + 1 + k, line) for k, line in enumerate(body) if C_CALL.match(line)]
        elif lines[i].startswith("    ") and C_CALL.match(lines[i]):
            stray.append((i + 1, lines[i]))
        i += 1
    return fenced, stray


def main(argv):
    sep = argv.index("--")
    root, include_dir, library, sanitize = argv[1:5]
    cc = argv[5:sep]
    pkg_flags = argv[sep + 1:]
    libdir = os.path.dirname(library)
    flags = ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror", "-I" + include_dir]
    if sanitize not in ("", "none"):
        flags.append("-fsanitize=" + sanitize)
    link = ["-L" + libdir, "-lgeerpc", "-Wl,-rpath," + libdir, "-pthread"] + pkg_flags

    docs = [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "*.md")))
    problems, compiled, ran = [], 0, 0
    with tempfile.TemporaryDirectory(prefix="geerpc-snippets-") as tmp:
        for doc in docs:
            name = os.path.relpath(doc, root)
            fenced, stray = blocks(doc)
            for line, text in stray:
                problems.append(f"{name}:{line}: C code outside a ```c block (make it one, so that it is "
                                f"compiled): {text.strip()}")
            for line, info, text in fenced:
                if info.split()[:1] != ["c"]:
                    continue
                src = os.path.join(tmp, f"snippet-{compiled}.c")
                with open(src, "w") as f:
                    f.write(f'#line {line} "{name}"\n' + text)
                compiled += 1
                program = re.search(r"^int main\(", text, re.M) is not None
                out = src[:-2]
                cmd = cc + flags + ([src, "-o", out] + link if program else ["-c", src, "-o", out + ".o"])
                p = subprocess.run(cmd, capture_output=True, text=True)
                if p.returncode != 0:
                    problems.append(f"{name}:{line}: the C snippet does not compile:\n{p.stderr}")
                    continue
                if program:
                    try:
                        r = subprocess.run([out], capture_output=True, text=True, timeout=30)
                        ran += 1
                        if r.returncode != 0:
                            problems.append(f"{name}:{line}: the program exits {r.returncode}: {r.stdout}{r.stderr}")
                    except subprocess.TimeoutExpired:
                        problems.append(f"{name}:{line}: the program did not finish within 30 s")
    if compiled == 0:
        problems.append("no ```c block found in README.md or docs/")
    return doccheck.report(problems, f"{compiled} C snippets compile, {ran} whole programs run")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
