#!/bin/bash
# SPDX-License-Identifier: MIT
#
# journal-throughput: task submissions per second over the control socket
# with durable journaling (a reply leaves only after its records are
# fdatasync'ed; group commit: one write + one fdatasync per loop iteration
# for every record pending).
#
#   tests/bench/journal-throughput.sh [BUILD_DIR]      (default: build)
#
# The client is build/tests/bin/htm-loadgen (compiled here from
# tests/bin/htm-loadgen.c if the build has none): C connections, each sends
# a submit and waits for its reply before sending the next. Measured in the
# same run, each configuration on a fresh state dir and a fresh htmd:
#
#   fs       disk   the state dir in /var/tmp (a real disk)
#            tmpfs  the state dir on tmpfs (/dev/shm, or one mounted here):
#                   fdatasync is nearly free, so this is the peer that shows
#                   what durability costs
#   clients  1 and 8
#   mode     run    slots 64, the tasks (`true`) run as they come: 4 records
#                   per task (submit, preflight, running, succeeded), exec
#                   and reaping compete for the 2 CPUs
#            queue  slots 1 held by a blocker, so every task stays queued:
#                   one record per submission, the journal path alone
#
# Printed per configuration: submissions/s, reply latency p50/p99, and from
# the daemon's own counter (status.journal.commits: one write + one
# fdatasync each) fdatasyncs per submission and records per submission.
# (The fdatasyncs go through io_uring, so strace and /proc/PID/io syscw do
# not see them.) Then the ratios disk/tmpfs and 8 clients / 1 client.
#
# Knobs: N (5000 submissions per configuration), WARMUP (300), ROUNDS (1;
# with more, configurations are interleaved and the median is shown), MODES
# ("run queue"), SLOTS (64, for mode run).
# Exit 0 if every configuration ran, 1 otherwise, 77 if it cannot run here.
# Leaves nothing behind: htmd stopped, state dirs, cgroups, mounts removed.

set -u -o pipefail
export LC_ALL=C

BUILD=${1:-build}
N=${N:-5000}
WARMUP=${WARMUP:-300}
ROUNDS=${ROUNDS:-1}
MODES=${MODES:-run queue}
SLOTS=${SLOTS:-64}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

. "$HERE/lib.sh"

[ "$(id -u)" = 0 ] || skip "not root (tasks run in cgroups)"
need_cmds jq awk
need_built
find_cgroup2

T=
DISK=
TMPFS=
TMPFS_MOUNTED=
CG_ROOT=
HTMD_PID=

cleanup() {
	local rc=$? i
	trap - EXIT INT TERM
	set +e
	stop_htmd
	if [ -n "$CG_ROOT" ] && [ -d "$CG_ROOT" ]; then
		if grep -q '^populated 1' "$CG_ROOT/cgroup.events" 2>/dev/null; then
			echo 1 >"$CG_ROOT/cgroup.kill" 2>/dev/null
			for ((i = 0; i < 100; i++)); do
				grep -q '^populated 1' "$CG_ROOT/cgroup.events" || break
				sleep 0.05
			done
		fi
		find "$CG_ROOT" -depth -type d -exec rmdir {} \; 2>/dev/null
		[ -d "$CG_ROOT" ] && say "warning: could not remove $CG_ROOT" >&2
	fi
	[ -n "$DISK" ] && rm -rf "$DISK"
	[ -n "$TMPFS" ] && rm -rf "${TMPFS:?}"/* 2>/dev/null
	[ -n "$TMPFS_MOUNTED" ] && umount "$TMPFS"
	[ -n "$TMPFS" ] && rmdir "$TMPFS" 2>/dev/null
	[ -n "$T" ] && rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

T=$(mktemp -d /tmp/htm-bench-journal.XXXXXX)
chmod 0755 "$T"
DISK=$(mktemp -d /var/tmp/htm-bench-journal.XXXXXX)
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
	TMPFS=$(mktemp -d /dev/shm/htm-bench-journal.XXXXXX)
else
	TMPFS=$(mktemp -d /tmp/htm-bench-tmpfs.XXXXXX)
	mount -t tmpfs -o size=512m htm-bench "$TMPFS" || die "cannot mount a tmpfs"
	TMPFS_MOUNTED=1
fi
[ "$(stat -f -c %T "$TMPFS")" = tmpfs ] || die "$TMPFS is not on tmpfs"
DISK_FS=$(stat -f -c %T "$DISK")
[ "$DISK_FS" = tmpfs ] && die "/var/tmp is on tmpfs here: no real disk to measure"
CG_ROOT=$CG_MOUNT/htm-bench-journal-$$
SOCK=$T/htmd.sock

LOADGEN=$BUILD/tests/bin/htm-loadgen
if [ ! -x "$LOADGEN" ]; then
	LOADGEN=$T/htm-loadgen
	# shellcheck disable=SC2046 # pkg-config output is words
	cc -O2 -Wall -std=gnu11 -D_GNU_SOURCE $(pkg-config --cflags libcjson) \
		"$ROOT/tests/bin/htm-loadgen.c" -o "$LOADGEN" $(pkg-config --libs libcjson) -lpthread ||
		die "cannot build tests/bin/htm-loadgen.c"
fi

ctl() { "$HTMCTL" --socket "$SOCK" "$@"; }

# start DIR SLOTS
start_htmd() {
	local i
	jq -n --arg d "$1" --argjson s "$2" \
		'{bpf_pin_dir: "", delay_accounting: false, slots: $s}' >"$T/htmd.json"
	"$HTMD" --socket "$SOCK" --state-dir "$1" --cgroup-root "$CG_ROOT" \
		--config "$T/htmd.json" >>"$T/htmd.log" 2>&1 </dev/null &
	HTMD_PID=$!
	for ((i = 0; i < 200; i++)); do
		ctl status >/dev/null 2>&1 && return 0
		pid_alive "$HTMD_PID" || break
		sleep 0.05
	done
	tail -n 20 "$T/htmd.log" >&2
	die "htmd did not start on $1"
}

idle() { # no task queued, starting or running
	ctl -o json status | jq -e '.tasks.queued + .tasks.preflight + .tasks.running == 0' >/dev/null
}

# run_one FS CLIENTS MODE: one measurement; appends a line to $T/results:
# fs clients mode per_second p50 p99 commits_per_sub records_per_sub
run_one() {
	local fs=$1 clients=$2 mode=$3 dir s0 s1 i
	case $fs in disk) dir=$DISK/state ;; tmpfs) dir=$TMPFS/state ;; esac
	rm -rf "$dir"
	if [ "$mode" = run ]; then
		start_htmd "$dir" "$SLOTS"
	else
		start_htmd "$dir" 1
		ctl submit -q -- sleep 3600 >/dev/null || die "cannot submit the blocker"
	fi
	"$LOADGEN" -s "$SOCK" -n "$WARMUP" -c "$clients" -q -- true >/dev/null ||
		die "warm-up failed ($fs, $clients clients, $mode)"
	if [ "$mode" = run ]; then
		for ((i = 0; i < 600; i++)); do
			idle && break
			sleep 0.05
		done
	fi
	s0=$(ctl -o json status | jq -c .journal)
	"$LOADGEN" -s "$SOCK" -n "$N" -c "$clients" -q -- true >"$T/lg.json" ||
		die "run failed ($fs, $clients clients, $mode): $(cat "$T/lg.json")"
	s1=$(ctl -o json status | jq -c .journal)
	stop_htmd
	jq -r --argjson a "$s0" --argjson b "$s1" --argjson n "$N" \
		--arg fs "$fs" --arg c "$clients" --arg m "$mode" \
		'"\($fs) \($c) \($m) \(.per_second) \(.p50_ms) \(.p99_ms) \(($b.commits - $a.commits) / $n) \(($b.last_seq - $a.last_seq) / $n)"' \
		"$T/lg.json" >>"$T/results"
	say "  $(tail -n 1 "$T/results" | awk '{ printf "%-5s %s client(s) %-5s %8.0f subs/s  p50 %6.2f ms  p99 %6.2f ms  %.3f fdatasyncs/sub  %.2f records/sub", $1, $2, $3, $4, $5, $6, $7, $8 }')"
}

say "journal-throughput: $N submissions per configuration, $ROUNDS round(s), modes: $MODES"
say "  disk: $DISK ($(df --output=fstype "$DISK" | tail -n 1) on $(df --output=source "$DISK" | tail -n 1)), tmpfs: $TMPFS"
say "  $(nproc) CPUs, kernel $(uname -r), htmd $BUILD/htmd"
: >"$T/results"
configs=()
for mode in $MODES; do
	for fs in disk tmpfs; do
		for c in 1 8; do
			configs+=("$fs $c $mode")
		done
	done
done
for ((r = 0; r < ROUNDS; r++)); do
	say "round $((r + 1))"
	n=${#configs[@]}
	for ((k = 0; k < n; k++)); do
		# shellcheck disable=SC2086 # three words
		run_one ${configs[$(((k + r) % n))]}
	done
done

# medians per configuration
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
get() { # FS CLIENTS MODE COLUMN
	awk -v f="$1" -v c="$2" -v m="$3" -v k="$4" '$1 == f && $2 == c && $3 == m { print $k }' "$T/results" | median
}
say ""
say "results (median of $ROUNDS round(s)):"
printf '  %-6s %-5s %-7s %10s %9s %9s %13s %12s\n' mode fs clients 'subs/s' 'p50 ms' 'p99 ms' 'fdatasync/sub' 'records/sub'
for mode in $MODES; do
	for fs in disk tmpfs; do
		for c in 1 8; do
			printf '  %-6s %-5s %-7s %10.0f %9.2f %9.2f %13.3f %12.2f\n' "$mode" "$fs" "$c" \
				"$(get "$fs" "$c" "$mode" 4)" "$(get "$fs" "$c" "$mode" 5)" "$(get "$fs" "$c" "$mode" 6)" \
				"$(get "$fs" "$c" "$mode" 7)" "$(get "$fs" "$c" "$mode" 8)"
		done
	done
done
say ""
say "ratios:"
for mode in $MODES; do
	for c in 1 8; do
		awk -v d="$(get disk "$c" "$mode" 4)" -v t="$(get tmpfs "$c" "$mode" 4)" -v m="$mode" -v c="$c" \
			'BEGIN { printf "  %-5s disk/tmpfs, %s client(s): %.2f\n", m, c, d / t }'
	done
	for fs in disk tmpfs; do
		awk -v a="$(get "$fs" 8 "$mode" 4)" -v b="$(get "$fs" 1 "$mode" 4)" -v m="$mode" -v f="$fs" \
			'BEGIN { printf "  %-5s 8 clients / 1 client, %-5s: %.2f\n", m, f, a / b }'
	done
done
exit 0
