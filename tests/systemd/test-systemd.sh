#!/bin/bash
# The systemd suite: installs the project into a staging directory, boots a
# private systemd in new pid/mount/uts/net/cgroup namespaces with only the
# basic targets, journald and our units (boot.sh), and drives the units
# through systemctl and journalctl inside, as an admin would:
#
#   1. README.md's "Install and run under systemd" block, extracted from
#      between its markers and run as written: right after it, with no
#      direct RPC first, both servers are registered and geerpcctl servers,
#      call and broadcast work through the registry.
#   2. The journal holds the registry's structured events, and journalctl -x
#      explains them from the installed catalog.
#   3. Restarting the registry loses no server (state directory).
#   4. Restarting a server refuses no connection (its socket is systemd's).
#   5. The installed daemons carry no test hook: SIGUSR2 kills them (and
#      Restart= brings them back) instead of hanging their loop.
#   6. A hung server (the never-installed test copy, hung by SIGUSR2) is
#      killed by the watchdog, restarted, and registers again.
#   7. Stopping a server deregisters it at once.
# Before them: every unit loads and verifies, a C program builds against
# the installed library with pkg-config, and the BPF firewall
# (IPAddressDeny=) really blocks here. After them: the unix-socket variant,
# and the documented /etc/geerpc configuration and token taking effect.
#
# Nothing on the host changes: every mount lives in the private mount
# namespace, state and journal go to tmpfs, and the test's systemd (with
# everything it started) is killed by PID at the end, pass or fail. The
# cgroup it runs in is made for it and removed afterwards.
#
#   test-systemd.sh BUILD_DIR PREFIX BINDIR UNITDIR TMPFILESDIR CATALOGDIR TEST_HOOKS_BINARY SANITIZE README
set -euo pipefail

build=$(realpath "$1")
prefix=$2
bindir=$3
unitdir=$4
tmpfilesdir=$5
catalogdir=$6
test_hooks_binary=$7
sanitize=${8:-none}
readme=$9
here=$(dirname "$(realpath "$0")")
# Where the suite puts the test copy of geerpc-example in the staged tree
# (meson never installs it).
hooks_exec=$prefix/libexec/geerpc-test/geerpc-example-test-hooks

REGISTRY_URL=http://127.0.0.1:9999/_geerpc_/registry
# From src/basic/log.h.
MESSAGE_ID_REGISTERED=5f0a1c1e9d2b4a0f8a3e6b7c2d1e0f01
MESSAGE_ID_DEREGISTERED=5f0a1c1e9d2b4a0f8a3e6b7c2d1e0f03
# Generous bounds for a shared 2-core machine; each is a deadline, not a
# sleep.
BOOT_TIMEOUT=60
STEP_TIMEOUT=30
# WatchdogSec= of geerpc-example@.service is 10 s; then the kill and restart.
WATCHDOG_TIMEOUT=60

start_us=${EPOCHREALTIME/./}
log() {
        local ms=$(((${EPOCHREALTIME/./} - start_us) / 1000))
        printf '[%3d.%03ds] %s\n' $((ms / 1000)) $((ms % 1000)) "$*"
}
fail() {
        echo "FAIL: $*"
        exit 1
}

work=$build/tests/systemd/boot
sd_pid=
unshare_pid=
cgroup=

# The end, pass or fail: show what went wrong, kill systemd (PID 1 of its
# pid namespace: every process in it dies with it), remove its cgroup.
cleanup() {
        local rc=$?
        trap - EXIT
        if [[ -n $sd_pid ]] && kill -0 "$sd_pid" 2>/dev/null; then
                in_ns journalctl --no-pager -o short-monotonic >"$work/journal.log" 2>&1 || true
                if ((rc != 0)); then
                        echo "--- systemctl list-units --all (inside)"
                        in_ns systemctl --no-pager list-units --all 2>&1 | grep -E 'geer|failed' || true
                        echo "--- last 80 journal lines (all in $work/journal.log)"
                        tail -n 80 "$work/journal.log" || true
                fi
                kill -KILL "$sd_pid" 2>/dev/null || true
        fi
        if [[ -n $unshare_pid ]]; then
                wait "$unshare_pid" 2>/dev/null || true
        fi
        if [[ -n $cgroup && -d $cgroup ]]; then
                # Empty once the namespace's processes are reaped: bounded.
                local i
                for ((i = 0; i < 50; i++)); do
                        find "$cgroup" -depth -type d -exec rmdir {} + 2>/dev/null || true
                        [[ -d $cgroup ]] || break
                        sleep 0.1
                done
                [[ ! -d $cgroup ]] || echo "warning: could not remove $cgroup"
        fi
        [[ -z $sd_pid ]] || log "systemd killed, namespace gone (rc=$rc)"
        exit $rc
}
trap cleanup EXIT
trap 'exit 1' TERM INT

in_ns() { nsenter -t "$sd_pid" -m -p -u -n -C "$@"; }
ctl() { in_ns systemctl --no-pager "$@"; }
prop() { ctl show -p "$2" --value "$1"; }

# wait_until SECONDS WHAT COMMAND...: runs COMMAND every 0.2 s until it
# succeeds; fails the test after SECONDS.
wait_until() {
        local limit=$1 what=$2
        shift 2
        local deadline=$((SECONDS + limit))
        until "$@" >/dev/null 2>&1; do
                ((SECONDS < deadline)) || fail "no $what within ${limit}s"
                sleep 0.2
        done
}

# The registry's list, comma-joined (X-Geerpc-Servers), from inside.
registry_servers() {
        local headers
        headers=$(in_ns curl -sS -f -m 5 -D - -o /dev/null "$REGISTRY_URL") || return 1
        sed -n 's/^X-Geerpc-Servers: *//Ip' <<<"$headers" | tr -d '\r'
}
registry_lists() { [[ "$(registry_servers)" == "$1" ]]; }
# How long ago ADDR last heartbeated, in ms (the JSON body of GET).
registry_age_ms() {
        in_ns curl -sS -f -m 5 -H 'Accept: application/json' "$REGISTRY_URL" |
                python3 -c 'import json, sys
for s in json.load(sys.stdin)["servers"]:
    if s["addr"] == sys.argv[1]:
        print(s["age_ms"])' "$1"
}
is_active() { [[ "$(ctl is-active "$1")" == "$2" ]]; }
geerpcctl() { in_ns "$bindir/geerpcctl" --registry "$REGISTRY_URL" --timeout 10s "$@"; }
# The registry's journal entries with this MESSAGE_ID and GEERPC_SERVER.
journal_events() {
        in_ns journalctl --no-pager -u geeregistry.service -o json "MESSAGE_ID=$1" "GEERPC_SERVER=$2" | grep -c '"MESSAGE_ID"' || true
}
journal_has_event() { (($(journal_events "$1" "$2") >= 1)); }

# --- can we? -----------------------------------------------------------

if ! out=$(unshare --pid --fork --mount --uts --net --cgroup --mount-proc true 2>&1); then
        echo "SKIP: cannot create namespaces here (unshare: $out)"
        exit 77
fi
for tool in nsenter curl ip; do
        command -v "$tool" >/dev/null || fail "$tool is not installed (see .ci/dev)"
done

# --- stage -------------------------------------------------------------

rm -rf "$work"
mkdir -p "$work/units" "$work/etc"
meson install -C "$build" --no-rebuild --quiet --destdir "$work/stage" >"$work/install.log"
for b in geeregistry geerpc-example geerpcctl; do
        [[ -x $work/stage$bindir/$b ]] || fail "meson install did not install $bindir/$b"
done
for u in geeregistry.socket geeregistry.service geerpc-example@.socket geerpc-example@.service \
        geerpc-example-unix@.socket geerpc-example-unix@.service; do
        [[ -f $work/stage$unitdir/$u ]] || fail "meson install did not install $unitdir/$u"
done
[[ -f $work/stage$tmpfilesdir/geerpc.conf ]] || fail "meson install did not install $tmpfilesdir/geerpc.conf"
[[ -f $work/stage$catalogdir/geerpc.catalog ]] || fail "meson install did not install $catalogdir/geerpc.catalog"
[[ -f $work/stage$prefix/share/doc/geerpc/LICENSE ]] || fail "meson install did not install the LICENSE"
# No install carries the test hook; the suite brings its own copy.
for b in geeregistry geerpc-example; do
        ! grep -q "test hook" "$work/stage$bindir/$b" || fail "the installed $b has the test hook"
done
grep -q "test hook" "$test_hooks_binary" || fail "$test_hooks_binary has no test hook"
install -D -m 0755 "$test_hooks_binary" "$work/stage$hooks_exec"
log "staged into $work/stage"

# README.md's block, between its markers, without the fence lines.
readme_block=$(awk '/<!-- systemd-install:end -->/ { on = 0 } on && !/^```/ { print } /<!-- systemd-install:begin -->/ { on = 1 }' "$readme")
grep -q '^geerpcctl .* servers$' <<<"$readme_block" || fail "no 'Install and run under systemd' block with geerpcctl ... servers between the markers in $readme"

# The unit folder that replaces /usr/lib/systemd/system inside.
for u in basic.target sysinit.target sockets.target local-fs.target local-fs-pre.target \
        shutdown.target swap.target umount.target timers.target paths.target slices.target \
        network.target network-online.target multi-user.target \
        systemd-journald.service systemd-journald.socket systemd-journald-dev-log.socket; do
        [[ -f /usr/lib/systemd/system/$u ]] || fail "/usr/lib/systemd/system/$u is missing"
        cp "/usr/lib/systemd/system/$u" "$work/units/"
done
mkdir "$work/units/sockets.target.wants" "$work/units/sysinit.target.wants"
ln -s ../systemd-journald.socket ../systemd-journald-dev-log.socket "$work/units/sockets.target.wants/"
ln -s ../systemd-journald.service "$work/units/sysinit.target.wants/"
# Installed into the very folder we replace (prefix /usr): bring them along.
if [[ $(realpath -m "$unitdir") == $(realpath /usr/lib/systemd/system) ]]; then
        cp "$work/stage$unitdir"/geer* "$work/units/"
fi

# --- boot --------------------------------------------------------------

# A cgroup of our own in the cgroup2 hierarchy: the new cgroup namespace is
# rooted there, and so is everything the private systemd creates.
cg2_root=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }' \
        /proc/self/mountinfo | head -n 1)
if [[ -z $cg2_root ]]; then
        # The private systemd needs a cgroup2 hierarchy of its own.
        echo "SKIP: no cgroup2 hierarchy is mounted here"
        exit 77
fi
cg_self=$(sed -n 's/^0:://p' /proc/self/cgroup)
parent=${cg2_root%/}${cg_self%/}
[[ -d $parent ]] || parent=${cg2_root%/}
cgroup=$parent/geerpc-systemd-test-$$
if ! mkdir "$cgroup" 2>/dev/null; then
        echo "SKIP: cannot create a cgroup for the private systemd ($cgroup is not writable here)"
        exit 77
fi

(
        echo "$BASHPID" >"$cgroup/cgroup.procs"
        exec unshare --pid --fork --mount --uts --net --cgroup --mount-proc \
                "$here/boot.sh" "$work/units" "$work/stage$prefix" "$prefix" multi-user.target "$work/etc"
) >"$work/systemd.log" 2>&1 &
unshare_pid=$!

deadline=$((SECONDS + BOOT_TIMEOUT))
until sd_pid=$(pgrep -P "$unshare_pid"); do
        ((SECONDS < deadline)) || fail "unshare started no process (see $work/systemd.log)"
        kill -0 "$unshare_pid" 2>/dev/null || fail "unshare exited: $(cat "$work/systemd.log")"
        sleep 0.1
done
booted() {
        local s
        s=$(ctl is-system-running 2>/dev/null) || true
        [[ $s == running ]] && return 0
        [[ $s == degraded ]] && fail "boot degraded: $(ctl --failed 2>&1)"
        kill -0 "$sd_pid" 2>/dev/null || fail "systemd died: $(cat "$work/systemd.log")"
        return 1
}
wait_until "$BOOT_TIMEOUT" "boot" booted
log "private systemd $(ctl show -p Version --value) up as PID $sd_pid"

# Test-only drop-ins (in the private /etc). The watchdog step makes a server
# dump core on purpose: no core file, whatever the host's core_pattern.
# Sanitizer builds: LeakSanitizer needs ptrace, which the units' system call
# filter denies; leaks are the other suites' business.
dropin() { # dropin UNIT LINE...
        in_ns mkdir -p "/etc/systemd/system/$1.d"
        printf '%s\n' "[Service]" "${@:2}" | in_ns tee "/etc/systemd/system/$1.d/geerpc-test.conf" >/dev/null
}
asan=()
[[ $sanitize == none ]] || asan=(Environment=ASAN_OPTIONS=detect_leaks=0)
dropin geerpc-example@.service LimitCORE=0 "${asan[@]}"
dropin geerpc-example-unix@.service LimitCORE=0 "${asan[@]}"
((${#asan[@]} == 0)) || dropin geeregistry.service "${asan[@]}"
ctl daemon-reload

# --- 0: installed units and tmpfiles -------------------------------------

for u in geeregistry.socket geeregistry.service geerpc-example@7001.socket geerpc-example@7001.service \
        geerpc-example-unix@demo.socket geerpc-example-unix@demo.service; do
        [[ $(prop "$u" LoadState) == loaded ]] || fail "$u: $(prop "$u" LoadState) ($(prop "$u" LoadError))"
done
out=$(in_ns systemd-analyze verify --man=no geeregistry.socket geeregistry.service \
        geerpc-example@7001.socket geerpc-example@7001.service \
        geerpc-example-unix@demo.socket geerpc-example-unix@demo.service 2>&1) ||
        fail "systemd-analyze verify: $out"
[[ -z $out ]] || fail "systemd-analyze verify: $out"
# The library, headers and .pc as a C user finds them after meson install
# (a sanitizer build's library needs the program built the same way).
user_cflags=
[[ $sanitize == none ]] || user_cflags=-fsanitize=$sanitize
printf '%s\n' '#include <geerpc/geerpc.h>' \
        'int main(void) { geerpc_server *s; if (geerpc_server_new(&s) < 0) return 1; geerpc_server_unref(s); return 0; }' |
        in_ns tee /tmp/geerpc-user.c >/dev/null
in_ns sh -c 'cc $0 -o /tmp/geerpc-user /tmp/geerpc-user.c $(pkg-config --cflags --libs geerpc) \
        -Wl,-rpath,$(pkg-config --variable=libdir geerpc) && /tmp/geerpc-user' "$user_cflags" ||
        fail "cannot build and run a program with pkg-config geerpc and <geerpc/geerpc.h>"

# The BPF firewall is live here, so that step 2 shows IPAddressAllow=localhost
# is what the servers need: denied, a connection attempt to a closed port
# times out (curl: 28) instead of being refused (curl: 7).
printf '%s\n' "[Service]" "Type=oneshot" "IPAddressDeny=any" \
        "ExecStart=/bin/sh -c 'curl -s --connect-timeout 2 http://127.0.0.1:1/; echo curl: \$\$?'" |
        in_ns tee /etc/systemd/system/geerpc-test-firewall.service >/dev/null
ctl daemon-reload
ctl start geerpc-test-firewall.service
out=$(in_ns journalctl --no-pager -o cat -u geerpc-test-firewall.service | grep '^curl: ')
[[ $out == "curl: 28" ]] || fail "IPAddressDeny=any did not block a connection ($out): no BPF firewall?"
log "step 0: units load and verify; pkg-config geerpc works; IPAddressDeny= is enforced"

# --- 1: README.md's block, as written ---------------------------------------

is_active geeregistry.service inactive || fail "the registry runs before anything asked for it"
# The meson line builds and installs the build tree, which the suite has
# installed already (the staged tree is the prefix in here): it is checked,
# not run. Every other line runs as an admin would type it.
readme_prelude='meson() {
        case "$*" in
        "setup build" | "compile -C build" | "install -C build") echo "(suite) meson $*: installed already" ;;
        *) echo "unexpected in the README block: meson $*" >&2; return 1 ;;
        esac
}'
if ! in_ns env PATH="$bindir:$PATH" SYSTEMD_PAGER= bash -c "$readme_prelude
set -euxo pipefail
$readme_block" >"$work/readme-block.log" 2>&1; then
        cat "$work/readme-block.log"
        fail "README.md's 'Install and run under systemd' block failed (output above)"
fi
# Right after it: no direct RPC has touched the servers.
[[ $(geerpcctl servers) == $'tcp@127.0.0.1:7001\ntcp@127.0.0.1:7002' ]] || fail "geerpcctl servers: $(geerpcctl servers)"
[[ $(geerpcctl call Foo.Sum '{"Num1":3,"Num2":4}') == 7 ]] || fail "geerpcctl call: $(geerpcctl call Foo.Sum '{"Num1":3,"Num2":4}')"
[[ $(geerpcctl broadcast Foo.Sum '{"Num1":5,"Num2":6}') == 11 ]] || fail "geerpcctl broadcast: $(geerpcctl broadcast Foo.Sum '{"Num1":5,"Num2":6}')"
grep -qx 'tcp@127.0.0.1:7001' "$work/readme-block.log" || fail "the README's own geerpcctl servers did not list 7001: $(cat "$work/readme-block.log")"
grep -qx '7' "$work/readme-block.log" || fail "the README's own geerpcctl call did not print 7"
[[ $(in_ns stat -c '%a %U %G' /run/geerpc) == "755 root root" ]] || fail "/run/geerpc: $(in_ns stat -c '%a %U %G' /run/geerpc)"
for p in 7001 7002; do
        is_active "geerpc-example@$p.service" active || fail "geerpc-example@$p.service: $(ctl is-active "geerpc-example@$p.service")"
        is_active "geerpc-example@$p.socket" active || fail "geerpc-example@$p.socket is not listening"
        [[ $(in_ns readlink "/etc/systemd/system/multi-user.target.wants/geerpc-example@$p.service") == */geerpc-example@.service ]] ||
                fail "enable did not make multi-user.target want geerpc-example@$p.service (no start at boot)"
        [[ $(in_ns readlink "/etc/systemd/system/sockets.target.wants/geerpc-example@$p.socket") == */geerpc-example@.socket ]] ||
                fail "enable did not enable geerpc-example@$p.socket with its service"
done
[[ $(prop geeregistry.service TriggeredBy) == *geeregistry.socket* ]] || fail "the registry was not socket-activated"
status_is() { [[ $(prop geeregistry.service StatusText) == "$1" ]]; }
wait_until "$STEP_TIMEOUT" "STATUS=2 servers alive from the registry" status_is "2 servers alive"
ctl status geeregistry.service | grep -qF 'Status: "2 servers alive"' || fail "systemctl status does not show the registry's STATUS="
[[ $(prop geeregistry.service NRestarts) == 0 ]] || fail "the registry restarted"
log "step 1: README.md's block ran as written; both servers registered with no client first; servers, call and broadcast work"

# --- 2: structured events in the journal, explained ----------------------------------

for p in 7001 7002; do
        wait_until "$STEP_TIMEOUT" "journal event 'registered' for $p" \
                journal_has_event "$MESSAGE_ID_REGISTERED" "tcp@127.0.0.1:$p"
done
line=$(in_ns journalctl --no-pager -u geeregistry -o json "MESSAGE_ID=$MESSAGE_ID_REGISTERED" | head -n 1)
for field in GEERPC_SERVER MESSAGE_ID; do
        grep -q "\"$field\":" <<<"$line" || fail "no $field= in $line"
done
explained="A server registered with the geerpc registry: tcp@127.0.0.1:7001"
grep -qF "$explained" "$work/readme-block.log" || fail "the README's journalctl -x shows no explanation from the catalog"
out=$(in_ns journalctl --no-pager -x -u geeregistry "MESSAGE_ID=$MESSAGE_ID_REGISTERED" "GEERPC_SERVER=tcp@127.0.0.1:7001")
grep -qF "$explained" <<<"$out" || fail "journalctl -x does not explain the registration: $out"
grep -qF "sent its first heartbeat to geeregistry" <<<"$out" || fail "journalctl -x shows no catalog text: $out"
log "step 2: journalctl -o json shows GEERPC_SERVER= and MESSAGE_ID=; journalctl -x explains them from the catalog"

# --- 3: the registry restarts, the table survives --------------------------

pids_before="$(prop geerpc-example@7001.service MainPID) $(prop geerpc-example@7002.service MainPID)"
registry_pid=$(prop geeregistry.service MainPID)
ctl restart geeregistry.service
[[ $(prop geeregistry.service MainPID) != "$registry_pid" ]] || fail "the registry did not restart"
servers=$(registry_servers) || fail "GET after the restart failed"
[[ $servers == "tcp@127.0.0.1:7001,tcp@127.0.0.1:7002" ]] || fail "after the restart the registry lists '$servers'"
pids_after="$(prop geerpc-example@7001.service MainPID) $(prop geerpc-example@7002.service MainPID)"
[[ $pids_before == "$pids_after" ]] || fail "the servers restarted too ($pids_before -> $pids_after)"
in_ns test -s /var/lib/private/geeregistry/servers.json || fail "no state file in the registry's StateDirectory"
log "step 3: after systemctl restart geeregistry.service both servers are listed at once"

# --- 4: a server restarts, no connection is refused -------------------------

unit=geerpc-example@7001.service
pid=$(prop $unit MainPID)
# 30 calls straight to 7001, each on a new connection. A connection the
# old instance accepted just before it stopped is still read and answered
# (it closes once quiet); a refused one would mean the socket was not
# systemd's. Every call succeeds.
calls() {
        local i
        for ((i = 0; i < 30; i++)); do
                in_ns "$bindir/geerpcctl" --server tcp@127.0.0.1:7001 --timeout 20s call Foo.Sum '{"Num1":1,"Num2":1}' || true
                sleep 0.05
        done
}
calls >"$work/restart-calls.log" 2>&1 &
calls_pid=$!
sleep 0.3
ctl restart $unit
wait "$calls_pid"
[[ $(prop $unit MainPID) != "$pid" ]] || fail "$unit did not restart"
! grep -qi "refused" "$work/restart-calls.log" || fail "a connection was refused while $unit restarted: $(cat "$work/restart-calls.log")"
ok=$(grep -cx 2 "$work/restart-calls.log" || true)
((ok == 30)) || fail "only $ok of 30 calls succeeded across the restart: $(cat "$work/restart-calls.log")"
wait_until "$STEP_TIMEOUT" "7001 listed again" registry_lists "tcp@127.0.0.1:7001,tcp@127.0.0.1:7002"
log "step 4: all 30 calls across systemctl restart $unit answered, none refused; it registered again"

# --- 5: installed daemons have no hang hook --------------------------------

for unit in geerpc-example@7002.service geeregistry.service; do
        restarts=$(prop $unit NRestarts)
        since=$(in_ns date '+%Y-%m-%d %H:%M:%S')
        ctl kill -s SIGUSR2 --kill-who=main $unit
        restarted() { (($(prop $unit NRestarts) > restarts)) && is_active $unit active; }
        # Well before WatchdogSec=10s could have fired on a hang.
        wait_until 8 "a quick restart of $unit after SIGUSR2 (did it hang?)" restarted
        out=$(in_ns journalctl --no-pager -u $unit --since "$since")
        grep -q "status=12/USR2" <<<"$out" || fail "$unit did not die of SIGUSR2: $out"
        ! grep -q -e "Watchdog timeout" -e "test hook" <<<"$out" || fail "$unit hung on SIGUSR2: $out"
done
wait_until "$STEP_TIMEOUT" "both servers listed after the restarts" registry_lists "tcp@127.0.0.1:7001,tcp@127.0.0.1:7002"
log "step 5: the installed geerpc-example and geeregistry die of SIGUSR2 and are restarted; no hang hook"

# --- 6: the watchdog, with the test copy ------------------------------------

unit=geerpc-example@7003.service
in_ns mkdir -p "/etc/systemd/system/$unit.d"
printf '%s\n' "[Service]" "ExecStart=" "ExecStart=$hooks_exec --registry=\${GEERPC_REGISTRY} \$GEERPC_EXAMPLE_ARGS" |
        in_ns tee "/etc/systemd/system/$unit.d/geerpc-test-hooks.conf" >/dev/null
ctl daemon-reload
ctl start $unit
registry_lists "tcp@127.0.0.1:7001,tcp@127.0.0.1:7002,tcp@127.0.0.1:7003" || fail "7003 not registered when start returned: $(registry_servers)"
restarts=$(prop $unit NRestarts)
pid=$(prop $unit MainPID)
ctl kill -s SIGUSR2 --kill-who=main $unit
restarted() { (($(prop $unit NRestarts) > restarts)); }
wait_until "$WATCHDOG_TIMEOUT" "watchdog restart of $unit" restarted
in_ns journalctl --no-pager -u $unit | grep -q "Watchdog timeout" || fail "no watchdog timeout logged for $unit"
in_ns journalctl --no-pager -u $unit | grep -q "test hook: SIGUSR2 received" || fail "the test copy did not hang on purpose"
wait_until "$STEP_TIMEOUT" "active $unit" is_active $unit active
[[ $(prop $unit MainPID) != "$pid" ]] || fail "$unit kept its PID"
# Active again means registered again (READY=1 follows the first heartbeat).
age=$(registry_age_ms tcp@127.0.0.1:7003)
((age < 5000)) || fail "no heartbeat from the restarted $unit (age ${age}ms)"
[[ $(prop $unit StatusText) == *"registered at $REGISTRY_URL"* ]] || fail "$unit: $(prop $unit StatusText)"
ctl stop $unit
registry_lists "tcp@127.0.0.1:7001,tcp@127.0.0.1:7002" || fail "after stopping 7003 the registry lists '$(registry_servers)'"
log "step 6: SIGUSR2 hung $unit (the test copy); the watchdog killed it, NRestarts $restarts -> $(prop $unit NRestarts), registered again"

# --- 7: a stop deregisters at once --------------------------------------

ctl stop geerpc-example@7002.service
servers=$(registry_servers) || fail "GET after the stop failed"
[[ $servers == "tcp@127.0.0.1:7001" ]] || fail "after stopping 7002 the registry lists '$servers'"
wait_until "$STEP_TIMEOUT" "journal event 'deregistered' for 7002" \
        journal_has_event "$MESSAGE_ID_DEREGISTERED" tcp@127.0.0.1:7002
[[ $(prop geerpc-example@7002.service Result) == success ]] || fail "7002 stopped with $(prop geerpc-example@7002.service Result)"
log "step 7: systemctl stop geerpc-example@7002.service deregistered it at once"

# --- the unix-socket variant ----------------------------------------------

ctl enable --now geerpc-example-unix@demo.service
[[ $(in_ns stat -c %F /run/geerpc/demo.sock) == socket ]] || fail "no socket at /run/geerpc/demo.sock"
registry_lists "tcp@127.0.0.1:7001,unix@/run/geerpc/demo.sock" || fail "the unix server is not registered: $(registry_servers)"
out=$(in_ns "$bindir/geerpcctl" --server unix@/run/geerpc/demo.sock --timeout 10s call Foo.Sum '{"Num1":2,"Num2":2}') ||
        fail "the call over /run/geerpc/demo.sock failed"
[[ $out == 4 ]] || fail "Foo.Sum over the unix socket returned '$out'"
log "unix variant: enabling geerpc-example-unix@demo.service registered unix@/run/geerpc/demo.sock"

# --- 8: configuration and token, as documented ---------------------------

[[ ! -e /etc/geerpc/registry-token ]] || fail "the host has /etc/geerpc/registry-token: steps 1-7 assume none"
in_ns mkdir -p /etc/geerpc
echo GEEREGISTRY_TIMEOUT=1m | in_ns tee /etc/geerpc/registry.env >/dev/null
echo GEERPC_EXAMPLE_ARGS=--heartbeat=20s | in_ns tee /etc/geerpc/example.env >/dev/null
in_ns sh -c 'umask 077; echo s3cret-token >/etc/geerpc/registry-token'
ctl restart geeregistry.service geerpc-example@7001.service geerpc-example-unix@demo.service
timeout_s=$(in_ns curl -sS -f -m 5 -H 'Accept: application/json' "$REGISTRY_URL" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["timeout_s"])')
[[ $timeout_s == 60 ]] || fail "registry.env: the registry's timeout is ${timeout_s}s, not 60s"
post() { in_ns curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST -H 'X-Geerpc-Server: tcp@127.0.0.1:9' "$@" "$REGISTRY_URL"; }
[[ $(post) == 401 ]] || fail "the token file did not make POST need a token: $(post)"
[[ $(post -H 'Authorization: Bearer s3cret-token') == 200 ]] || fail "POST with the token: $(post -H 'Authorization: Bearer s3cret-token')"
pid=$(prop geerpc-example@7001.service MainPID)
cmdline=$(in_ns cat "/proc/$pid/cmdline" | tr '\0' ' ')
[[ $cmdline == *" --heartbeat=20s"* ]] ||
        fail "example.env: GEERPC_EXAMPLE_ARGS did not reach the command line"
for unit in geerpc-example@7001.service geerpc-example-unix@demo.service; do
        registered() { [[ $(prop $unit StatusText) == *"registered at $REGISTRY_URL"* ]]; }
        wait_until "$STEP_TIMEOUT" "registration of $unit with the token" registered
done
log "step 8: /etc/geerpc/registry.env, example.env and registry-token take effect; servers register with the token"

# --- 9: a heartbeat outage is one journal entry the catalog explains --------

# A server whose registry does not answer (nothing listens on port 9): its
# first failed heartbeat carries the catalog's MESSAGE_ID, the retries (logged
# at debug level here) do not.
MESSAGE_ID_HEARTBEAT_FAILED=5f0a1c1e9d2b4a0f8a3e6b7c2d1e0f06
outage_unit=geerpc-heartbeat-outage.service
in_ns systemd-run --quiet --unit="$outage_unit" -p Type=exec --setenv=GEERPC_LOG_LEVEL=debug \
        "$bindir/geerpc-example" --listen=tcp@127.0.0.1:7009 --registry=http://127.0.0.1:9/_geerpc_/registry
outage_events() {
        in_ns journalctl --no-pager -u "$outage_unit" -o json "MESSAGE_ID=$MESSAGE_ID_HEARTBEAT_FAILED" \
                "GEERPC_ADDR=tcp@127.0.0.1:7009" | grep -c '"MESSAGE_ID"' || true
}
outage_logged() { (($(outage_events) >= 1)); }
wait_until "$STEP_TIMEOUT" "heartbeat-failed entry from $outage_unit" outage_logged
retries() { (($(in_ns journalctl --no-pager -u "$outage_unit" -o cat | grep -c 'failed: ') >= 3)); }
wait_until "$STEP_TIMEOUT" "three failed heartbeats from $outage_unit" retries
[[ $(outage_events) == 1 ]] || fail "the outage was logged with its MESSAGE_ID $(outage_events) times, not once"
out=$(in_ns journalctl --no-pager -x -u "$outage_unit" "MESSAGE_ID=$MESSAGE_ID_HEARTBEAT_FAILED")
grep -qF "could not send its heartbeat to the registry" <<<"$out" || fail "journalctl -x does not explain the failed heartbeat: $out"
ctl stop "$outage_unit"
log "step 9: a server that cannot reach its registry logs one entry with MESSAGE_ID=$MESSAGE_ID_HEARTBEAT_FAILED, explained by journalctl -x"

log "PASS"
