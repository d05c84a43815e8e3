#!/bin/bash
# The shared library exports exactly the functions its version script
# lists, all named geerpc_*, and every one of them exists.
set -euo pipefail
lib=$1 sym=$2
exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort -u)
listed=$(sed -n 's/^[[:space:]]*\(geerpc_[a-z0-9_]*\);$/\1/p' "$sym" | sort -u)
if [[ "$exported" != "$listed" ]]; then
        echo "exported symbols differ from $sym:"
        diff <(echo "$exported") <(echo "$listed") || true
        exit 1
fi
if grep -v '^geerpc_' <<<"$exported"; then
        echo "symbols outside the geerpc_ namespace are exported"
        exit 1
fi
echo "$(wc -l <<<"$exported") symbols exported, all listed"
