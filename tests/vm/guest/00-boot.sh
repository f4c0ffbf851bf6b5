#!/bin/sh
# Smoke test of the VM pipeline: the guest kernel has what the governor needs.
set -eu
. "${0%/*}/lib.sh"

cg=$(cgroup2_root)
[ -n "$cg" ] || fail "no cgroup2 mount in /proc/self/mountinfo"
info "cgroup2 at $cg: $(cat "$cg/cgroup.controllers")"
for c in cpu memory io; do
	grep -qw "$c" "$cg/cgroup.controllers" || fail "controller $c missing from $cg/cgroup.controllers"
done
for r in cpu memory io; do
	[ -r "/proc/pressure/$r" ] || fail "/proc/pressure/$r missing (PSI off?)"
done
info "psi cpu: $(head -n 1 /proc/pressure/cpu)"
[ -r /sys/kernel/btf/vmlinux ] || fail "/sys/kernel/btf/vmlinux missing (no BTF)"
grep -q ' /sys/fs/bpf bpf ' /proc/mounts || fail "bpffs not mounted on /sys/fs/bpf"
[ -c /dev/ttyS1 ] || fail "/dev/ttyS1 missing"
ip link show lo | grep -q 'UP' || fail "loopback is down"
info "$(nproc) cpus, $(awk '/MemTotal/ { print $2 " kB" }' /proc/meminfo)"
exit 0
