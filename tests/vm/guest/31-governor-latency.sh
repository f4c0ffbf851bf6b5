#!/bin/sh
# Latency of critical work under load, on a real kernel. A request-serving
# probe (a request every 20 ms, 12 ms of CPU each: 60% of a CPU) shares
# CPU 0 with two CPU-bound low tasks. It runs three times in this boot:
#   alone     - the probe by itself: the reference p99
#   observe   - with the load, under htmd --observe: every decision is made
#               and logged but nothing is written, so this is the load with
#               no governor (what the governor saves)
#   governed  - with the same load under htmd governing
# The governed p99 response time must be within 15% of the alone p99.
# What does the work when governing: the priority's cgroup settings
# (critical cpu.weight 10000, low cpu.weight 10 and cpu.idle), so the probe
# preempts the spinners at each request; a run-queue budget breach of the
# probe would cap and then freeze the low class on top (the log shows
# whether any happened). The probe prints its run-queue wait and late timer
# wakeups (host stalls under TCG) beside the percentiles, so a failure can
# be told apart from a noisy host.
# vm: timeout=240
set -eu
. "${0%/*}/lib.sh"
need probe spin taskset jq

# Seconds per probe run: 1500 requests, so p99 is the 15th worst. Under
# TCG the host sometimes stops the guest for ~60 ms; the requests queued
# behind such a stop are late in a cascade of ~8, which at 750 requests
# alone decided the p99 (seen once in a clean run). Twice as long, one such
# stop no longer does.
DUR=${LAT_DURATION:-30}
LIMIT_PCT=115
mnt=$(cgroup2_root)

# Budget breaches are the signal here: the PSI, memory and backlog
# thresholds are pinned out of reach so that no other stress signal can do
# the governor's work (a cpu_some level would cap or freeze the spinners
# whatever the probe sees). Slots for all three tasks.
cat >/tmp/lat.json <<'J'
{ "slots": 4, "bpf_pin_dir": "",
  "stress": { "cpu_some": [1001, 1002, 1003], "memory_some": [1001, 1002, 1003],
              "memory_full": [1001, 1002, 1003], "io_some": [1001, 1002, 1003],
              "memory_available": [0.0003, 0.0002, 0.0001],
              "queue_backlog": [1e7, 2e7, 3e7] } }
J

p99() { jq -r .p99_ms "$1"; }
# loaded MODE ROOT [htmd args]: two low spinners and the probe, all on CPU
# 0, under an htmd with its own cgroup root; the probe's JSON line goes to
# /tmp/lat-MODE.json. htmd is stopped and its cgroups are gone afterwards,
# so the next run starts clean.
loaded() {
	_mode=$1 _root=$2
	shift 2
	htmd_start --config /tmp/lat.json --cgroup-root "$_root" "$@"
	# longer than the probe: cancelled once it is done
	s1=$($HTMCTL submit -q -p low --name spin1 -- taskset -c 0 spin $((DUR * 4)))
	s2=$($HTMCTL submit -q -p low --name spin2 -- taskset -c 0 spin $((DUR * 4)))
	for s in $s1 $s2; do
		wait_for 10 sh -c "$HTMCTL -o json show $s | jq -e '.state == \"running\"' >/dev/null" ||
			fail "$_mode: low task $s did not start"
	done
	sleep 1	# the spinners own CPU 0 when the first request arrives
	p=$($HTMCTL submit -q -p critical --name probe -- taskset -c 0 probe -w 3 "$DUR")
	$HTMCTL wait "$p" --timeout $((DUR * 4))s >/dev/null ||
		fail "$_mode: probe task $p did not succeed: $($HTMCTL -o json show "$p" | jq -c '{state, reason}')"
	log=$($HTMCTL -o json show "$p" | jq -r .log)
	grep '^{' "$log" | tail -n 1 > "/tmp/lat-$_mode.json"
	[ -s "/tmp/lat-$_mode.json" ] || fail "$_mode: no result line in $log: $(head -c 300 "$log")"
	gov=$($HTMCTL -o json status | jq -c '.governor | {level, breach_steps, observe}')
	info "$_mode: probe $(cat "/tmp/lat-$_mode.json")"
	info "$_mode: governor $gov, low class cpu.max $(cat "$_root/low/cpu.max"), $(grep frozen "$_root/low/cgroup.events")"
	: > "$HTMD_LOG"
	$HTMCTL cancel "$s1" >/dev/null || :
	$HTMCTL cancel "$s2" >/dev/null || :
	htmd_stop
	wait_for 10 sh -c "! ls -d $_root/*/task-* >/dev/null 2>&1" ||
		fail "$_mode: task cgroups left after the run: $(ls -d "$_root"/*/task-*)"
	rm -rf "$HTM_STATE"	# the next htmd replays nothing of this run
}

# 1. alone, from the test's own cgroup
taskset -c 0 probe -w 3 "$DUR" > /tmp/lat-alone.json || fail "probe alone failed"
info "alone: probe $(cat /tmp/lat-alone.json)"

# 2. observe-only, in a cgroup tree of its own: it writes no weight, so its
# classes keep the kernel's defaults, and the governed run's tree starts clean
obs_root=$mnt/htm-observe.slice
loaded observe "$obs_root" --observe
for c in "$obs_root"/*/; do rmdir "$c" 2>/dev/null || :; done
rmdir "$obs_root" 2>/dev/null || :

# 3. governed
loaded governed "$mnt/htm.slice"

a=$(p99 /tmp/lat-alone.json)
o=$(p99 /tmp/lat-observe.json)
g=$(p99 /tmp/lat-governed.json)
bound=$(awk -v a="$a" -v l=$LIMIT_PCT 'BEGIN { printf "%.2f", a * l / 100 }')
info "p99 response time: alone $a ms, observe-only $o ms, governed $g ms (bound $bound ms)"
# The load must hurt without the governor, or the governed figure proves nothing.
if awk -v o="$o" -v b="$bound" 'BEGIN { exit !(o > b) }'; then
	result_pass latency-load-hurts
else
	result_fail latency-load-hurts "observe-only p99 $o ms is within the bound $bound ms: the load did not contend"
fi
if awk -v g="$g" -v b="$bound" 'BEGIN { exit !(g <= b) }'; then
	result_pass latency-governed-p99
else
	result_fail latency-governed-p99 "governed p99 $g ms > $bound ms ($LIMIT_PCT% of alone $a ms); observe-only $o ms"
	fail "governed p99 $g ms over $LIMIT_PCT% of the alone p99 $a ms"
fi
exit 0
