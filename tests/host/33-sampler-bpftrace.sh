#!/bin/bash
# SPDX-License-Identifier: MIT
# 33-sampler-bpftrace: the sampler's count of run-queue waits for a cgroup
# (usage.waits deltas) agrees within 10% with an independent bpftrace
# script (tests/host/runqlat-count.bt) counting the same waits of the same
# cgroup in the same interval; so does the time they took (waits *
# wait_avg_us deltas): a count alone would not see waits charged to the
# wrong task of a pair that take turns. The task mixes both kinds of wait: a sleeper
# waking every 10 ms and a spinner, both on CPU 0, so there are wakeups and
# preemptions. bpftrace prints a CLOCK_MONOTONIC stamp per wait; the
# interval is from the first usage read to the second, each bracketed by
# clock readings.
. "$(dirname "$0")/lib.sh"

require_cmd bpftrace taskset perl unshare
[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF (/sys/kernel/btf/vmlinux)"
SPIN=$(realpath "$BUILD/tests/bin/spin" 2>/dev/null) && [ -x "$SPIN" ] ||
	fail "$BUILD/tests/bin/spin is missing; run make first"
BT=$(realpath "$(dirname "$0")/runqlat-count.bt")
[ -r "$BT" ] || fail "$BT is missing"

WINDOW_S=3
AGREE_PCT=10

# bpftrace stamps with CLOCK_MONOTONIC; the shell has only CLOCK_REALTIME
# ($EPOCHREALTIME, free to read): take the offset between them once
MONO_OFFSET_NS=$(perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC,CLOCK_REALTIME -e '
	my $m = clock_gettime(CLOCK_MONOTONIC); my $r = clock_gettime(CLOCK_REALTIME);
	my $m2 = clock_gettime(CLOCK_MONOTONIC);
	printf "%.0f\n", ($r - ($m + $m2) / 2) * 1e9') ||
	skip "perl cannot read CLOCK_MONOTONIC (Time::HiRes)"
mono_ns() { echo $((${EPOCHREALTIME/./} * 1000 - MONO_OFFSET_NS)); }
# bpftrace's own process away from CPU 0: otherwise each wait it prints
# wakes it up there, it preempts the task, which makes another wait, and
# waits come in bursts that a read can fall in the middle of
BT_CPU=$(($(nproc) - 1))

# bpftrace reads tracepoint formats from tracefs: if it is not mounted,
# mount it in a mount namespace of bpftrace's own (nothing is left behind)
if [ -d /sys/kernel/tracing/events/sched ] || [ -d /sys/kernel/debug/tracing/events/sched ]; then
	BT_PREFIX=()
else
	unshare -m --propagation private sh -c 'mount -t tracefs tracefs /sys/kernel/tracing &&
		[ -d /sys/kernel/tracing/events/sched ]' 2>/dev/null ||
		skip "no tracefs for bpftrace and cannot mount one in a private mount namespace"
	# shellcheck disable=SC2016 # expanded by that sh
	BT_PREFIX=(unshare -m --propagation private sh -c
		'mount -t tracefs tracefs /sys/kernel/tracing && exec "$@"' sh)
fi

# usage.waits of a running task and their total in ns, bracketed by clock
# readings: "T_NS WAITS WAIT_NS READ_US"
read_waits() {
	local ta tb j w
	ta=$(mono_ns) || return 1
	j=$(task_json "$1") || return 1
	tb=$(mono_ns) || return 1
	w=$(jqr "$j" '.usage | "\(.waits) \(.waits * .wait_avg_us * 1000 | floor)"')
	[[ $w =~ ^[0-9]+\ [0-9]+$ ]] || {
		echo "task $1: usage is $(jqr "$j" .usage -c)" >&2
		return 1
	}
	echo "$(((ta + tb) / 2)) $w $(((tb - ta) / 1000))"
}

start_htmd
st=$(ctl -o json status) || fail "status failed"
if [ "$(jqr "$st" .sampler.state)" != attached ]; then
	bpftool prog show >/dev/null 2>&1 || skip "BPF not usable here: $(jqr "$st" .sampler.reason)"
	fail "sampler is '$(jqr "$st" .sampler.state)' ($(jqr "$st" .sampler.reason)) though BPF works here"
fi
ok "sampler attached"

say "a task with a sleeper and a spinner on CPU 0"
id=$(submit --name mixed -- taskset -c 0 sh -c \
	"'$SPIN' 15 & exec perl -e 'select(undef, undef, undef, 0.01) while 1'") ||
	fail "submit failed"
wait_state "$id" running
cgid=$(task_field "$id" cgroup_id)
cg=$(task_field "$id" cgroup)
wait_until 5 eval '[ "$(cg_count "$cg")" -ge 2 ]' || fail "task $id: no spinner and sleeper in $cg"
ok "task $id: cgroup $cg, id $cgid"

say "bpftrace counts the waits of cgroup $cgid"
bg taskset -c "$BT_CPU" "${BT_PREFIX[@]}" bpftrace -B line "$BT" "$cgid" >"$T/bt.out" 2>"$T/bt.err"
BT_PID=$!
if ! wait_until 30 grep -qx ready "$T/bt.out"; then
	sed 's/^/    bpftrace| /' "$T/bt.err" "$T/bt.out" | head -n 20
	fail "bpftrace did not attach within 30 s"
fi
ok "bpftrace attached (pid $BT_PID)"
sleep 0.5 # it learns the task's pids as they are switched out

r0=$(read_waits "$id") || fail "task $id: cannot read usage.waits"
sleep "$WINDOW_S"
r1=$(read_waits "$id") || fail "task $id: cannot read usage.waits"
kill -INT "$BT_PID"
wait_until 10 pid_gone "$BT_PID" || fail "bpftrace did not exit within 10 s of SIGINT"
wait "$BT_PID" 2>/dev/null
expect_rc 0 "htmctl cancel $id" ctl cancel "$id"

read -r t0 w0 ns0 us0 <<<"$r0"
read -r t1 w1 ns1 us1 <<<"$r1"
sampler=$((w1 - w0))
sampler_ms=$(awk -v a="$ns0" -v b="$ns1" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')
res=$(awk -v t0="$t0" -v t1="$t1" '
	$1 == "w" { all++; if ($2 >= t0 && $2 <= t1) { w++; ns += $3 } }
	$1 == "k" { if ($2 >= t0 && $2 <= t1) k++ }
	END { printf "%d %.1f %d %d\n", w, ns / 1e6, k, all }' "$T/bt.out")
read -r bt bt_ms wake bt_all <<<"$res"
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
info "over $secs s: sampler $sampler waits, $sampler_ms ms; bpftrace $bt waits, $bt_ms ms" \
	"($wake wakeups; $bt_all waits over its whole run); reads took $us0 and $us1 us"
[ "$bt" -gt 200 ] || fail "bpftrace counted only $bt waits in $secs s (test setup: expected hundreds)" \
	"$(head -n 5 "$T/bt.err")"

# agree WHAT SAMPLER BPFTRACE
agree() {
	local d
	d=$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%+.2f%%", (b > 0 ? 100 * (a - b) / b : 100) }')
	if awk -v a="$2" -v b="$3" -v p="$AGREE_PCT" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b > 0 && d <= b * p / 100) }'; then
		ok "$1: sampler $2, bpftrace $3 ($d, within $AGREE_PCT%)"
	else
		fail_later "$1: sampler $2, bpftrace $3 in the same $secs s ($d, over $AGREE_PCT%)"
	fi
}
agree "waits of cgroup $cgid" "$sampler" "$bt"
agree "time those waits took, ms" "$sampler_ms" "$bt_ms"

stop_htmd
finish
