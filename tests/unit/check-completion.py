#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The bash completion of geerpcctl, asked as bash asks it: sources the
file in a bash, sets COMP_WORDS/COMP_CWORD for a command line and runs the
completion function; checks what it offers against geerpcctl --help (both
ways, so that a new command or option must be added to the completion)
and the values of --mode, --output and --log-level.

    check-completion.py COMPLETION_FILE GEERPCCTL
"""

import os
import shlex
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import doccheck  # noqa: E402


def complete(path, words):
    """What the completion offers for the command line `words`, the last
    being the word under the cursor."""
    script = (f"source {shlex.quote(path)} || exit 1\n"
              "complete -p geerpcctl >/dev/null || { echo 'no complete -F for geerpcctl' >&2; exit 1; }\n"
              "func=$(complete -p geerpcctl | sed -n 's/.*-F \\([^ ]*\\).*/\\1/p')\n"
              f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)})\n"
              f"COMP_CWORD={len(words) - 1}\n"
              "COMP_LINE=\"${COMP_WORDS[*]}\"; COMP_POINT=${#COMP_LINE}\n"
              "\"$func\" geerpcctl \"${COMP_WORDS[COMP_CWORD]}\" \"${COMP_WORDS[COMP_CWORD-1]}\"\n"
              "printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    p = subprocess.run(["bash", "--norc", "--noprofile", "-O", "extglob", "-c", script], capture_output=True,
                       text=True, timeout=30)
    if p.returncode != 0:
        raise SystemExit(f"FAIL: completing {words}: bash exited with {p.returncode}: {p.stderr}")
    return set(line for line in p.stdout.splitlines() if line)


def with_short(options):
    return set(options) | {s for s in options.values() if s}


def main(argv):
    path, geerpcctl = argv[1], argv[2]
    options, commands = doccheck.parse(doccheck.run_help(geerpcctl))
    problems = []

    def expect(words, want, what):
        got = complete(path, words)
        for w in sorted(want - got):
            problems.append(f"completing {' '.join(words)!r}: {w} is missing ({what}): add it to {path}")
        for w in sorted(got - want):
            problems.append(f"completing {' '.join(words)!r}: {w} is offered but is not {what}")

    expect(["geerpcctl", ""], set(commands), "a command in geerpcctl --help")
    expect(["geerpcctl", "-"], with_short(options), "an option in geerpcctl --help")
    for cmd, own in commands.items():
        expect(["geerpcctl", "--server", "tcp@127.0.0.1:1", cmd, "-"], with_short(options) | with_short(own),
               f"an option of '{cmd}' or a global one in geerpcctl --help")
    expect(["geerpcctl", "--mode", ""], {"random", "roundrobin", "hash:"}, "a --mode")
    expect(["geerpcctl", "--mode", "=", "ro"], {"roundrobin"}, "a --mode")
    expect(["geerpcctl", "-o", ""], {"json", "table", "plain"}, "an --output mode")
    expect(["geerpcctl", "--output", "="], {"json", "table", "plain"}, "an --output mode")
    expect(["geerpcctl", "call", "--log-level", "d"], {"debug"}, "a --log-level")
    expect(["geerpcctl", "--timeout", ""], set(), "anything (a duration)")
    expect(["geerpcctl", "se"], {"servers", "services"}, "a command")
    expect(["geerpcctl", "dr"], {"drain"}, "a command")
    return doccheck.report(problems, f"the completion offers geerpcctl's {len(commands)} commands and {len(options)} options and their values")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
