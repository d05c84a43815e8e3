#!/bin/bash
# Runs as PID 1 of fresh pid, mount, uts, net and cgroup namespaces (see
# test-systemd.sh): hides the host's units, generators and state behind
# private mounts, shows the staged install in place, and becomes systemd.
# Every mount here is private to the namespace: the host sees none of it.
#
#   boot.sh UNIT_FOLDER STAGED_PREFIX PREFIX TARGET SCRATCH_DIR
set -euo pipefail

units=$1
staged_prefix=$2
prefix=$3
target=$4
scratch=$5

# Nothing below may propagate to the host.
mount --make-rprivate /

# The staged install, merged over the real prefix: the binaries and units
# appear where `meson install` without --destdir would have put them.
mount -t overlay geerpc-stage -o "lowerdir=$staged_prefix:$prefix" "$prefix"

# /etc, writable inside only: the test configures /etc/geerpc as an admin
# would. The writes land in a tmpfs.
mount -t tmpfs -o mode=0755 geerpc-test "$scratch"
mkdir "$scratch/upper" "$scratch/work"
mount -t overlay geerpc-etc -o "lowerdir=/etc,upperdir=$scratch/upper,workdir=$scratch/work" /etc

# Each directory once: /lib may be a symlink to /usr/lib (merged /usr).
declare -A seen=()
mount_over() { # mount_over DIR MOUNT-ARGS...
        local d
        [[ -d $1 ]] || return 0
        d=$(realpath "$1")
        [[ -z ${seen[$d]:-} ]] || return 0
        seen[$d]=1
        mount "${@:2}" "$d"
}

# Only the units we chose: the basic targets, journald and ours.
mount_over /usr/lib/systemd/system --bind "$units"
mount_over /lib/systemd/system --bind "$units"

# No generators, no host configuration, no host state: empty tmpfs over
# each. /var/log and /var/lib also keep the journal and DynamicUser's state
# directories off the host's disk; /tmp and /var/tmp keep PrivateTmp's.
for d in /usr/lib/systemd/system-generators /lib/systemd/system-generators \
        /usr/local/lib/systemd/system-generators /etc/systemd/system-generators \
        /etc/systemd/system /run /tmp /var/tmp /var/lib /var/log /var/cache; do
        mount_over "$d" -t tmpfs -o mode=0755 geerpc-test
done
chmod 1777 /tmp /var/tmp

# A cgroup2 hierarchy rooted at the cgroup the test made for us: systemd runs
# in unified mode (where the BPF firewall of IPAddressDeny= works) and its
# cgroups stay under ours.
mount -t cgroup2 cgroup2 /sys/fs/cgroup

# systemd moves mounts (credentials) from helper namespaces into its own: it
# needs shared propagation, which it does not set up itself in a container.
mount --make-rshared /

ip link set lo up

# The journal of this systemd only, not the host kernel's ring buffer.
mkdir -p /run/systemd/journald.conf.d
printf '[Journal]\nReadKMsg=no\n' >/run/systemd/journald.conf.d/geerpc-test.conf

export container=geerpc-test
# journal, else the console (the test's log file): never the host's kmsg.
exec /lib/systemd/systemd --system --unit="$target" --log-target=journal
