#!/bin/bash
# The systemd suite: installs the project into a staging directory, boots a
# private systemd in new pid/mount/uts/net/cgroup namespaces with only the
# basic targets, journald and our units (boot.sh), and drives the units
# through systemctl and journalctl inside, as an admin would:
#
#   1. geeregistry.socket: the registry starts on the first GET, is active,
#      and publishes STATUS=.
#   2. geerpc-example@7001/7002.socket: a first connection starts each, both
#      register; geerpcctl call and broadcast work through the registry.
#   3. The journal holds the registry's structured events.
#   4. Restarting the registry loses no server (state directory).
#   5. A hung server is killed by the watchdog, restarted, and registers again.
#   6. Stopping a server deregisters it at once.
# Before them: every unit loads and verifies, tmpfiles.d makes /run/geerpc,
# a C program builds against the installed library with pkg-config, and
# the BPF firewall (IPAddressDeny=) really blocks here. After them: the
# unix-socket variant, and the documented /etc/geerpc configuration and
# token taking effect.
#
# Nothing on the host changes: every mount lives in the private mount
# namespace, state and journal go to tmpfs, and the test's systemd (with
# everything it started) is killed by PID at the end, pass or fail. The
# cgroup it runs in is made for it and removed afterwards.
#
#   test-systemd.sh BUILD_DIR PREFIX BINDIR UNITDIR TMPFILESDIR TEST_HOOKS SANITIZE
set -euo pipefail

build=$(realpath "$1")
prefix=$2
bindir=$3
unitdir=$4
tmpfilesdir=$5
test_hooks=$6
sanitize=${7:-none}
here=$(dirname "$(realpath "$0")")

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
log "staged into $work/stage"

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
in_ns systemd-tmpfiles --create "$tmpfilesdir/geerpc.conf"
[[ $(in_ns stat -c '%a %U %G' /run/geerpc) == "755 root root" ]] || fail "/run/geerpc: $(in_ns stat -c '%a %U %G' /run/geerpc)"
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
log "step 0: units load and verify; tmpfiles.d made /run/geerpc; pkg-config geerpc works; IPAddressDeny= is enforced"

# --- 1: the registry, socket-activated -----------------------------------

ctl start geeregistry.socket
is_active geeregistry.socket active || fail "geeregistry.socket: $(ctl is-active geeregistry.socket)"
is_active geeregistry.service inactive || fail "the registry runs before any request: $(ctl is-active geeregistry.service)"
servers=$(registry_servers) || fail "GET $REGISTRY_URL failed"
[[ -z $servers ]] || fail "a fresh registry lists '$servers'"
wait_until "$STEP_TIMEOUT" "active geeregistry.service" is_active geeregistry.service active
status=$(prop geeregistry.service StatusText)
[[ $status == "0 servers alive" ]] || fail "geeregistry.service: STATUS=$status"
ctl status geeregistry.service | grep -qF "Status: \"$status\"" || fail "systemctl status does not show STATUS=$status"
[[ $(prop geeregistry.service NRestarts) == 0 ]] || fail "the registry restarted"
log "step 1: the first GET started the registry; status: $status"

# --- 2: two example servers ----------------------------------------------

ctl enable --now geerpc-example@7001.socket geerpc-example@7002.socket
for p in 7001 7002; do
        is_active "geerpc-example@$p.socket" active || fail "geerpc-example@$p.socket is not listening"
        is_active "geerpc-example@$p.service" inactive || fail "geerpc-example@$p.service runs before a connection"
done
[[ $(in_ns readlink /etc/systemd/system/sockets.target.wants/geerpc-example@7001.socket) == */geerpc-example@.socket ]] ||
        fail "enable did not link geerpc-example@7001.socket"
# The first connections: an RPC straight to each server.
for p in 7001 7002; do
        out=$(in_ns "$bindir/geerpcctl" --server "tcp@127.0.0.1:$p" --timeout 10s call Foo.Sum '{"Num1":1,"Num2":2}') ||
                fail "the first call to 127.0.0.1:$p failed"
        [[ $out == 3 ]] || fail "Foo.Sum on $p returned '$out'"
done
wait_until "$STEP_TIMEOUT" "registration of both servers" registry_lists "tcp@127.0.0.1:7001,tcp@127.0.0.1:7002"
for p in 7001 7002; do
        is_active "geerpc-example@$p.service" active || fail "geerpc-example@$p.service: $(ctl is-active "geerpc-example@$p.service")"
done
[[ $(geerpcctl servers) == $'tcp@127.0.0.1:7001\ntcp@127.0.0.1:7002' ]] || fail "geerpcctl servers: $(geerpcctl servers)"
[[ $(geerpcctl call Foo.Sum '{"Num1":3,"Num2":4}') == 7 ]] || fail "geerpcctl call: $(geerpcctl call Foo.Sum '{"Num1":3,"Num2":4}')"
[[ $(geerpcctl broadcast Foo.Sum '{"Num1":5,"Num2":6}') == 11 ]] || fail "geerpcctl broadcast: $(geerpcctl broadcast Foo.Sum '{"Num1":5,"Num2":6}')"
status_is() { [[ $(prop geeregistry.service StatusText) == "$1" ]]; }
wait_until "$STEP_TIMEOUT" "STATUS=2 servers alive from the registry" status_is "2 servers alive"
log "step 2: both servers started on first connection, registered; call and broadcast through the registry"

# --- 3: structured events in the journal ----------------------------------

for p in 7001 7002; do
        wait_until "$STEP_TIMEOUT" "journal event 'registered' for $p" \
                journal_has_event "$MESSAGE_ID_REGISTERED" "tcp@127.0.0.1:$p"
done
line=$(in_ns journalctl --no-pager -u geeregistry -o json "MESSAGE_ID=$MESSAGE_ID_REGISTERED" | head -n 1)
for field in GEERPC_SERVER MESSAGE_ID; do
        grep -q "\"$field\":" <<<"$line" || fail "no $field= in $line"
done
log "step 3: journalctl -u geeregistry -o json shows GEERPC_SERVER= and MESSAGE_ID=$MESSAGE_ID_REGISTERED"

# --- 4: the registry restarts, the table survives --------------------------

pids_before="$(prop geerpc-example@7001.service MainPID) $(prop geerpc-example@7002.service MainPID)"
registry_pid=$(prop geeregistry.service MainPID)
ctl restart geeregistry.service
[[ $(prop geeregistry.service MainPID) != "$registry_pid" ]] || fail "the registry did not restart"
servers=$(registry_servers) || fail "GET after the restart failed"
[[ $servers == "tcp@127.0.0.1:7001,tcp@127.0.0.1:7002" ]] || fail "after the restart the registry lists '$servers'"
pids_after="$(prop geerpc-example@7001.service MainPID) $(prop geerpc-example@7002.service MainPID)"
[[ $pids_before == "$pids_after" ]] || fail "the servers restarted too ($pids_before -> $pids_after)"
in_ns test -s /var/lib/private/geeregistry/servers.json || fail "no state file in the registry's StateDirectory"
log "step 4: after systemctl restart geeregistry.service both servers are listed at once"

# --- 5: the watchdog -----------------------------------------------------

if [[ $test_hooks != true ]]; then
        log "step 5: SKIPPED: built without -Dtest_hooks=true, so nothing can hang a server's loop"
else
        unit=geerpc-example@7001.service
        restarts=$(prop $unit NRestarts)
        pid=$(prop $unit MainPID)
        ctl kill -s SIGUSR2 --kill-who=main $unit
        restarted() { (($(prop $unit NRestarts) > restarts)); }
        wait_until "$WATCHDOG_TIMEOUT" "watchdog restart of $unit" restarted
        in_ns journalctl --no-pager -u $unit | grep -q "Watchdog timeout" || fail "no watchdog timeout logged for $unit"
        wait_until "$STEP_TIMEOUT" "active $unit" is_active $unit active
        [[ $(prop $unit MainPID) != "$pid" ]] || fail "$unit kept its PID"
        # Registered again: the server says so, and the registry has heard
        # from it since the hang (the registry still lists it from before,
        # so it logs no new registration; the heartbeat age tells). 7002
        # registered after 7001 and has not heartbeated since (period 4 min).
        registered() { [[ $(prop $unit StatusText) == *"registered at $REGISTRY_URL"* ]]; }
        wait_until "$STEP_TIMEOUT" "'registered' in the status of $unit" registered
        heard_again() { (($(registry_age_ms tcp@127.0.0.1:7001) < $(registry_age_ms tcp@127.0.0.1:7002))); }
        wait_until "$STEP_TIMEOUT" "a heartbeat from the restarted $unit" heard_again
        registry_lists "tcp@127.0.0.1:7001,tcp@127.0.0.1:7002" || fail "after the restart the registry lists '$(registry_servers)'"
        log "step 5: SIGUSR2 hung $unit; the watchdog killed it, NRestarts $restarts -> $(prop $unit NRestarts), registered again"
fi

# --- 6: a stop deregisters at once --------------------------------------

ctl stop geerpc-example@7002.service
servers=$(registry_servers) || fail "GET after the stop failed"
[[ $servers == "tcp@127.0.0.1:7001" ]] || fail "after stopping 7002 the registry lists '$servers'"
wait_until "$STEP_TIMEOUT" "journal event 'deregistered' for 7002" \
        journal_has_event "$MESSAGE_ID_DEREGISTERED" tcp@127.0.0.1:7002
[[ $(prop geerpc-example@7002.service Result) == success ]] || fail "7002 stopped with $(prop geerpc-example@7002.service Result)"
log "step 6: systemctl stop geerpc-example@7002.service deregistered it at once"

# --- the unix-socket variant ----------------------------------------------

ctl start geerpc-example-unix@demo.socket
[[ $(in_ns stat -c %F /run/geerpc/demo.sock) == socket ]] || fail "no socket at /run/geerpc/demo.sock"
out=$(in_ns "$bindir/geerpcctl" --server unix@/run/geerpc/demo.sock --timeout 10s call Foo.Sum '{"Num1":2,"Num2":2}') ||
        fail "the call over /run/geerpc/demo.sock failed"
[[ $out == 4 ]] || fail "Foo.Sum over the unix socket returned '$out'"
wait_until "$STEP_TIMEOUT" "registration of the unix server" \
        registry_lists "tcp@127.0.0.1:7001,unix@/run/geerpc/demo.sock"
log "unix variant: geerpc-example-unix@demo registered unix@/run/geerpc/demo.sock"

# --- 7: configuration and token, as documented ---------------------------

[[ ! -e /etc/geerpc/registry-token ]] || fail "the host has /etc/geerpc/registry-token: steps 1-6 assume none"
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
log "step 7: /etc/geerpc/registry.env, example.env and registry-token take effect; servers register with the token"

log "PASS"
