#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Keeps the man pages (docs/man/*.scd) and the programs in step, both
ways: every option (and, for geerpcctl, every command and each command's
options) that a program's --help lists is documented in its page, and the
page documents nothing the program does not have. libgeerpc(3) names
every exported function of libgeerpc.sym and no other.

    check-man.py MAN_DIR SYMBOL_FILE PROGRAM=BINARY:PAGE...
    check-man.py --self-test
"""

import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import doccheck  # noqa: E402

# A definition term: "*-r*, *--registry*=_URL_" or "*--json*", possibly
# indented (a command's own options sit under it).
TERM_OPTION = re.compile(r"^(\t*)\*(?:(-[A-Za-z0-9])\*, \*)?(--[a-z][a-z0-9-]*)\*")
TERM_COMMAND = re.compile(r"^\*([a-z][a-z-]*)\*(?:\s|$)")


def parse_page(text):
    """Like doccheck.parse(), from the page's OPTIONS and COMMANDS."""
    options, commands = {}, {}
    section, command, in_code = None, None, False
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        if line.startswith("# "):
            section = line[2:].strip()
            command = None
            continue
        m = TERM_OPTION.match(line)
        if section == "COMMANDS":
            c = TERM_COMMAND.match(line)
            if c:
                command = c.group(1)
                commands[command] = {}
            elif m and command and m.group(1):
                commands[command][m.group(3)] = m.group(2)
        elif section == "OPTIONS" and m and not m.group(1):
            options[m.group(3)] = m.group(2)
    return options, commands


def describe(opt, short):
    return f"{short}, {opt}" if short else opt


def compare(program, page, where, from_help, from_page, problems):
    for opt, short in sorted(from_help.items()):
        if opt not in from_page:
            problems.append(f"{program} --help lists {describe(opt, short)}{where}, but {page} does not document it: "
                            f"add a '*{opt}*' entry{where.replace(' of ', ' under ') or ' under OPTIONS'}")
        elif from_page[opt] != short:
            problems.append(f"{program} --help gives {opt} the short form {short or 'none'}, {page} gives "
                            f"{from_page[opt] or 'none'}{where}: make them agree")
    for opt in sorted(set(from_page) - set(from_help)):
        problems.append(f"{page} documents {opt}{where}, but {program} --help does not list it: "
                        f"remove it from the page, or add the option to the program")


def check_program(program, binary, page_path, problems):
    page = os.path.relpath(page_path)
    h_opts, h_cmds = doccheck.parse(doccheck.run_help(binary))
    with open(page_path) as f:
        p_opts, p_cmds = parse_page(f.read())
    if not h_opts:
        problems.append(f"{program} --help lists no options: cannot check {page}")
    compare(program, page, "", h_opts, p_opts, problems)
    for cmd in sorted(h_cmds):
        if cmd not in p_cmds:
            problems.append(f"{program} --help lists the command '{cmd}', but {page} does not document it: "
                            f"add a '*{cmd}*' entry under COMMANDS")
            continue
        compare(program, page, f" (an option of the command '{cmd}')", h_cmds[cmd], p_cmds[cmd], problems)
    for cmd in sorted(set(p_cmds) - set(h_cmds)):
        problems.append(f"{page} documents the command '{cmd}', but {program} --help does not list it")


def check_library(page_path, sym_path, problems):
    page = os.path.relpath(page_path)
    with open(sym_path) as f:
        exported = set(re.findall(r"^\s*(geerpc_[a-z0-9_]+);", f.read(), re.M))
    with open(page_path) as f:
        named = set(re.findall(r"\b(geerpc_[a-z0-9_]+)\*?\(\)", f.read()))
    for s in sorted(exported - named):
        problems.append(f"libgeerpc.sym exports {s}(), but {page} does not name it: add '*{s}*()' to the section "
                        f"of its header")
    for s in sorted(named - exported):
        problems.append(f"{page} names {s}(), which libgeerpc.sym does not export: remove it or fix its name")


def self_test():
    help_text = ("Usage: x\n\nCommands:\n  run ARG     does it\n    -n --count=N   how many\n"
                 "  stop\n\nOptions:\n  -v --verbose   more\n     --json     json\n")
    page = ("x(1)\n\n# COMMANDS\n\n*run* _ARG_\n\tdoes it\n\n\t*-n*, *--count*=_N_\n\t\thow many\n\n"
            "# OPTIONS\n\n*-v*, *--verbose*\n\tmore\n\n*--extra*\n\tnot there\n")
    h = doccheck.parse(help_text)
    p = parse_page(page)
    assert h == ({"--verbose": "-v", "--json": None}, {"run": {"--count": "-n"}, "stop": {}}), h
    assert p == ({"--verbose": "-v", "--extra": None}, {"run": {"--count": "-n"}}), p
    problems = []
    compare("x", "x.1.scd", "", h[0], p[0], problems)
    assert len(problems) == 2 and "--json" in problems[0] and "--extra" in problems[1], problems
    print("self-test passed")


def main(argv):
    if argv[1:] == ["--self-test"]:
        self_test()
        return 0
    man_dir, sym_path, programs = argv[1], argv[2], argv[3:]
    problems = []
    for spec in programs:
        program, rest = spec.split("=", 1)
        binary, page = rest.rsplit(":", 1)
        check_program(program, binary, os.path.join(man_dir, page), problems)
    check_library(os.path.join(man_dir, "libgeerpc.3.scd"), sym_path, problems)
    return doccheck.report(problems, f"the man pages match {len(programs)} programs' --help and libgeerpc.sym")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
