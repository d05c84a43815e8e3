#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The journal catalog explains every MESSAGE_ID the code defines, and
nothing else: each LOG_MESSAGE_ID_* of src/basic/log.h has exactly one
entry in catalog/geerpc.catalog, with a Subject: and some text.

    check-catalog.py LOG_H CATALOG
"""

import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import doccheck  # noqa: E402


def main(argv):
    log_h, catalog = argv[1], argv[2]
    with open(log_h) as f:
        defined = dict((i, n) for n, i in re.findall(r'#define LOG_MESSAGE_ID_(\w+) "([0-9a-f]{32})"', f.read()))
    with open(catalog) as f:
        text = f.read()
    entries = re.split(r"^-- ", text, flags=re.M)[1:]
    problems, seen = [], {}
    for e in entries:
        head, _, body = e.partition("\n")
        mid = head.split()[0] if head.split() else ""
        if not re.fullmatch(r"[0-9a-f]{32}", mid):
            problems.append(f"{catalog}: '-- {head}' is not a 128-bit MESSAGE_ID in 32 lowercase hex digits")
            continue
        if mid in seen:
            problems.append(f"{catalog}: MESSAGE_ID {mid} has two entries")
        seen[mid] = True
        if not re.search(r"^Subject: \S", body, re.M):
            problems.append(f"{catalog}: the entry for {mid} has no Subject:")
        if len(re.sub(r"^[A-Z][A-Za-z-]*: .*$", "", body, flags=re.M).strip()) < 40:
            problems.append(f"{catalog}: the entry for {mid} explains nothing")
    for mid, name in sorted(defined.items(), key=lambda x: x[1]):
        if mid not in seen:
            problems.append(f"{log_h} defines LOG_MESSAGE_ID_{name} ({mid}), but {catalog} has no entry for it: "
                            f"add '-- {mid}' with a Subject: and an explanation")
    for mid in sorted(set(seen) - set(defined)):
        problems.append(f"{catalog} explains {mid}, which {log_h} does not define")
    if not defined:
        problems.append(f"no LOG_MESSAGE_ID_* found in {log_h}")
    return doccheck.report(problems, f"{catalog} explains all {len(defined)} MESSAGE_IDs of {log_h}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
