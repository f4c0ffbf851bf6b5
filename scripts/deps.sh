#!/bin/sh
# Install the Debian packages htm needs, only those missing.
# Checked with dpkg -s so a second run on a provisioned machine takes well
# under a second; `apt-get update` runs once, only when something is missing,
# because a fresh machine has no package lists.
set -eu

build="make gcc clang llvm pkg-config bpftool libbpf-dev libelf-dev zlib1g-dev
libnl-3-dev libnl-genl-3-dev libcjson-dev liburing-dev libssl-dev"
# host tier: bpftrace is the peer the sampler is checked against;
# vm tier: Debian's own 6.1 kernel booted under qemu TCG.
test="bpftrace linux-perf util-linux procps iproute2 qemu-system-x86
linux-image-amd64 busybox-static cpio kmod libclang-rt-14-dev jq socat"

want="$build"
[ "${1:-}" = "--test" ] && want="$build $test"

missing=""
for p in $want; do
	dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing (run as root to install)" >&2
	exit 1
fi
echo "deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
