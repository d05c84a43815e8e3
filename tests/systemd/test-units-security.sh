#!/bin/bash
# Installs the project into a staging directory and checks every installed
# unit: `systemd-analyze security --offline=true` must score each service at
# most 1.5 (MAX_EXPOSURE), and `systemd-analyze verify` must find nothing
# wrong but the binaries' absence from the real prefix (they are staged).
#
#   test-units-security.sh BUILD_DIR UNITDIR
set -euo pipefail

build=$1
unitdir=$2
MAX_EXPOSURE=1.5

if ! command -v systemd-analyze >/dev/null; then
        echo "SKIP: systemd-analyze is not installed"
        exit 77
fi

work=$build/tests/systemd/security
rm -rf "$work"
mkdir -p "$work/instances"
meson install -C "$build" --no-rebuild --quiet --destdir "$work/stage" >"$work/install.log"
staged=$work/stage$unitdir

# Templates are analysed as instances (an instance name is what a port or
# socket name replaces), through symlinks named like them.
instance_of() {
        case $1 in
        geerpc-example@.*) echo "${1/@/@7001}" ;;
        *@.*) echo "${1/@/@test}" ;;
        *) echo "$1" ;;
        esac
}
units=()
for f in "$staged"/*.service "$staged"/*.socket; do
        [[ -e $f ]] || continue
        name=$(instance_of "$(basename "$f")")
        ln -s "$f" "$work/instances/$name"
        units+=("$work/instances/$name")
done
if ((${#units[@]} == 0)); then
        echo "FAIL: no units installed under $unitdir"
        exit 1
fi

fail=0
printf '%-40s %s\n' "unit" "exposure (max $MAX_EXPOSURE)"
for u in "${units[@]}"; do
        [[ $u == *.service ]] || continue
        out=$(systemd-analyze security --offline=true --no-pager "$u" 2>&1) || true
        score=$(sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p' <<<"$out")
        if [[ -z $score ]]; then
                echo "$out"
                echo "FAIL: no score for $(basename "$u")"
                fail=1
                continue
        fi
        # Any warning about the file itself (an option systemd does not
        # know, a bad value) means the score ignores that line.
        if warnings=$(grep -E '^/[^ ]*:[0-9]+: ' <<<"$out"); then
                echo "$warnings"
                echo "FAIL: $(basename "$u") has lines systemd ignores"
                fail=1
        fi
        verdict=ok
        if awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s > m) }'; then
                verdict="FAIL: above $MAX_EXPOSURE"
                fail=1
        fi
        printf '%-40s %s  %s\n' "$(basename "$u")" "$score" "$verdict"
done

# verify complains that the binaries are not in the real prefix (they are
# only staged here); anything else is a finding. The systemd suite runs
# verify again where the binaries are in place.
verify=$(systemd-analyze verify --man=no "${units[@]}" 2>&1 | grep -v 'is not executable: No such file or directory' || true)
if [[ -n $verify ]]; then
        echo "$verify"
        echo "FAIL: systemd-analyze verify"
        fail=1
fi
exit $fail
