# SPDX-License-Identifier: MIT
"""Shared by the checks that keep the documentation in step with the
code (check-man.py, check-completion.py, check-catalog.py,
check-snippets.py): what a program's --help says (its options, and for
geerpcctl its commands and each command's own options), and how a check
reports."""

import re
import subprocess

# An option line starts near the left margin ("  -r --registry=URL",
# "     --json"); a help text's continuation lines are far right.
OPTION = re.compile(r"^ {1,8}(?:(-[A-Za-z0-9])[ ,] {0,3})?(--[a-z][a-z0-9-]*)")
COMMAND = re.compile(r"^  ([a-z][a-z-]*)(?:\s|$)")


def run_help(binary):
    p = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise SystemExit(f"{binary} --help exited with {p.returncode}: {p.stderr}")
    return p.stdout


def parse(text):
    """Returns (options, commands): options maps '--long' to its short
    form ('-x' or None) for the global options; commands maps each command
    to the same kind of map for its own options (empty for programs
    without commands)."""
    options, commands = {}, {}
    section, command = None, None
    for line in text.splitlines():
        if not line.strip():
            command = None if section == "commands" else command
            continue
        if not line.startswith(" "):
            section = "commands" if line.startswith("Commands") else "other"
            command = None
            continue
        if section == "commands":
            m = COMMAND.match(line)
            if m:
                command = m.group(1)
                commands[command] = {}
                continue
            m = OPTION.match(line)
            if m and command and line.startswith("    "):
                commands[command][m.group(2)] = m.group(1)
            continue
        m = OPTION.match(line)
        if m:
            options[m.group(2)] = m.group(1)
    return options, commands


def report(problems, summary):
    """Prints each problem as a FAIL line, or the summary when there are
    none; returns the exit status."""
    for p in problems:
        print("FAIL: " + p)
    if not problems:
        print(summary)
    return 1 if problems else 0
