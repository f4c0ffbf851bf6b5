#!/bin/sh
# Memory on a real kernel: under memory stress, a low task that allocates
# three times its memory.high is throttled and reclaimed to swap, while a
# critical task's working set stays resident. Every verdict is on figures
# the kernel reports (memory.events, memory.current, memory.swap.current,
# memory.stat, memory.pressure), read from the task cgroups htmd made.
#
# The machine is simulated small: a parent cgroup with memory.max holds
# htmd's root and an ungoverned hog (the rest of the host), so reclaim is
# real and fast under TCG without risking the guest itself. Swap is zram,
# so reclaimed anonymous pages have somewhere to go.
# vm: timeout=120
# shellcheck disable=SC2154  # snapshot() sets the c0_*, l1_*, ... with eval
set -eu
. "${0%/*}/lib.sh"
need memhog jq mkswap swapon swapoff modprobe

MB=1048576
CRIT_MB=96	# the critical task's working set
LOW_MB=192	# what the low task allocates ...
LOW_HIGH_MB=64	# ... against this memory.high
HOST_MB=256	# the rest of the host: a hog outside htmd's root
PARENT_MB=256	# the simulated machine: memory.max around all of it
WINDOW=20	# seconds of stress the verdicts are taken over
failed=0

cg=$(cgroup2_root)
[ -n "$cg" ] || fail "no cgroup2 mount"
grep -qw memory "$cg/cgroup.controllers" || skip "no memory controller"

# --- swap on zram ---------------------------------------------------------------
[ -e /sys/block/zram0 ] || modprobe zram num_devices=1 2>/dev/null ||
	skip "no zram module in the initramfs"
wait_for 2 test -b /dev/zram0 || skip "/dev/zram0 did not appear"
echo 1 > /sys/block/zram0/reset 2>/dev/null || :
echo 768M > /sys/block/zram0/disksize
mkswap /dev/zram0 >/dev/null
swapon /dev/zram0
at_exit "swapoff /dev/zram0 2>/dev/null; echo 1 > /sys/block/zram0/reset 2>/dev/null"
info "guest: $(grep -E '^(MemTotal|MemAvailable|SwapTotal):' /proc/meminfo | tr -s ' ' | tr '\n' ' ')"

# --- the simulated machine --------------------------------------------------------
box=$cg/memtest
echo +memory > "$cg/cgroup.subtree_control"
mkdir -p "$box"
echo $((PARENT_MB * MB)) > "$box/memory.max"
echo +memory > "$box/cgroup.subtree_control"
mkdir -p "$box/host"
# Hooks run last registered first: htmd stops before this, and this runs
# before swapoff, which could not bring the hogs' pages back into a full box.
box_cleanup() {
	echo 1 > "$box/cgroup.kill" 2>/dev/null || :
	wait_for 5 grep -q '^populated 0' "$box/cgroup.events" || :
	for d in "$box"/htm.slice/*/task-* "$box"/htm.slice/* "$box/htm.slice" "$box/host" "$box"; do
		[ -d "$d" ] && rmdir "$d" 2>/dev/null
	done
	:
}
at_exit box_cleanup

# Only memory may raise the stress level, and only to elevated: the
# freeze of low work at high is 30-governor-freeze's subject; here low must
# keep running so the kernel's own throttling of it is what shows. A long
# cooldown keeps a dip in PSI from changing the level mid-window, and a
# run-queue budget out of reach keeps a breach (TCG on a shared host waits
# long) from stepping the level up past the thresholds. Critical keeps its
# default memory.low (25% of RAM); low gets a memory.high.
cat >/tmp/gov.json <<J
{ "slots": 4, "bpf_pin_dir": "", "cgroup_root": "$box/htm.slice",
  "priorities": { "low": { "memory_high": "${LOW_HIGH_MB}M" },
                  "critical": { "rq_budget": "1s" } },
  "stress": { "cpu_some": [1001, 1002, 1003], "memory_some": [10, 1001, 1002],
              "memory_full": [5, 1001, 1002], "io_some": [1001, 1002, 1003],
              "budget_breaches": [1e7, 2e7, 3e7], "memory_available": [0.0003, 0.0002, 0.0001],
              "queue_backlog": [1e8, 2e8, 3e8], "cooldown": "30s" },
  "sample_period": "500ms" }
J
htmd_start --config /tmp/gov.json
root=$box/htm.slice

# --- helpers on kernel figures ------------------------------------------------------
stat_of() { awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' "$1/memory.stat"; }
event_of() { awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' "$1/memory.events"; }
# total= of a memory.pressure line ("some" or "full"): microseconds stalled
psi_total() { awk -v k="$2" '$1 == k { sub("total=", "", $5); print $5 }' "$1/memory.pressure"; }
psi_line() { awk '{ printf "%s %s %s; ", $1, $2, $5 }' "$1/memory.pressure"; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
cur() { cat "$1/memory.current"; }
state_is() { $HTMCTL -o json show "$1" | jq -e --arg s "$2" '.state == $s' >/dev/null; }
task_log() { cat "$HTM_STATE/logs/$1.log" 2>/dev/null || :; }
# snapshot DIR PREFIX: kernel counters into shell variables PREFIX_*
snapshot() {
	eval "$2_high=$(event_of "$1" high) $2_low=$(event_of "$1" low)"
	eval "$2_scan=$(stat_of "$1" pgscan) $2_steal=$(stat_of "$1" pgsteal)"
	eval "$2_majflt=$(stat_of "$1" pgmajfault) $2_some=$(psi_total "$1" some)"
	eval "$2_cur=$(cur "$1") $2_swap=$(cat "$1/memory.swap.current")"
}
describe() {	# describe DIR: one line of what the kernel says
	printf 'current %s MB, swap %s MB, high events %s, low events %s, pgscan %s, pgsteal %s, pgmajfault %s, workingset_refault_anon %s; PSI %s' \
		"$(mb "$(cur "$1")")" "$(mb "$(cat "$1/memory.swap.current")")" \
		"$(event_of "$1" high)" "$(event_of "$1" low)" "$(stat_of "$1" pgscan)" \
		"$(stat_of "$1" pgsteal)" "$(stat_of "$1" pgmajfault)" \
		"$(stat_of "$1" workingset_refault_anon)" "$(psi_line "$1")"
}

# --- the critical service: its working set, touched every 100 ms ----------------------
crit=$($HTMCTL submit -q -p critical --name ws -- memhog -p 100 -r 2 $CRIT_MB 600)
ccg=$root/critical/task-$crit
wait_for 10 state_is "$crit" running || fail "critical task did not start"
wait_for 60 sh -c "[ \$(cat $ccg/memory.current) -ge $((CRIT_MB * MB)) ]" ||
	fail "critical working set never became resident: $(describe "$ccg")"
info "critical memory.low $(mb "$(cat "$ccg/memory.low")") MB (class $(mb "$(cat "$root/critical/memory.low")") MB, root $(mb "$(cat "$root/memory.low")") MB)"
info "critical resident: $(describe "$ccg")"

# --- the stress: low work beyond its memory.high, the host beyond the machine ------------
low=$($HTMCTL submit -q -p low --name hog -- memhog -r 2 $LOW_MB 600)
lcg=$root/low/task-$low
wait_for 10 state_is "$low" running || fail "low task did not start"
sh -c "echo \$\$ > $box/host/cgroup.procs && exec memhog $HOST_MB 600" &
hog=$!
at_exit "kill $hog 2>/dev/null"
[ "$(cat "$lcg/memory.high")" = $((LOW_HIGH_MB * MB)) ] ||
	fail "low task memory.high is $(cat "$lcg/memory.high"), configured ${LOW_HIGH_MB}M"

# the verdicts start once the low task is being throttled and the machine
# is reclaiming
pressed() { [ "$(event_of "$lcg" high)" -gt 0 ] && [ "$(event_of "$box" max)" -gt 0 ]; }
wait_for 60 pressed || fail "no pressure built up: low $(describe "$lcg"); machine max events $(event_of "$box" max)"
snapshot "$ccg" c0
snapshot "$lcg" l0
snapshot "$box/host" h0
b0_max=$(event_of "$box" max)
t0=$(now_ms)
info "pressure on after: low $(describe "$lcg")"

# sample through the window: the worst the critical set and the low task get
crit_min=$c0_cur low_max=$l0_cur seen_level=ok reasons=
while [ $(( $(now_ms) - t0 )) -lt $((WINDOW * 1000)) ]; do
	sleep 2
	c=$(cur "$ccg"); l=$(cur "$lcg")
	[ "$c" -lt "$crit_min" ] && crit_min=$c
	[ "$l" -gt "$low_max" ] && low_max=$l
	top=$($HTMCTL -o json top -n 1 2>/dev/null || :)
	lv=$(printf '%s' "$top" | jq -r '.stress.level // "?"' 2>/dev/null || echo '?')
	[ "$lv" = elevated ] && { seen_level=elevated; reasons=$(printf '%s' "$top" | jq -r '.stress.reasons'); }
	info "t+$(( ($(now_ms) - t0) / 1000 ))s: critical $(mb "$c") MB, low $(mb "$l") MB (+$(mb "$(cat "$lcg/memory.swap.current")") swap, high events $(event_of "$lcg" high)), stress $lv"
done
snapshot "$ccg" c1
snapshot "$lcg" l1
snapshot "$box/host" h1
b1_max=$(event_of "$box" max)
dt_us=$(( ($(now_ms) - t0) * 1000 ))

info "--- after ${WINDOW} s of stress ---"
info "critical: $(describe "$ccg")"
info "low:      $(describe "$lcg")"
info "host hog: $(describe "$box/host")"
info "machine:  memory.max events $b1_max, $(describe "$box")"
info "critical memhog: $(task_log "$crit" | tail -n 1)"
info "low memhog:      $(task_log "$low" | tail -n 1)"
info "system memory PSI: $(tr '\n' ';' < /proc/pressure/memory)"
info "htmd stress: $seen_level ($reasons); low class cpu.max $(cat "$root/low/cpu.max")"
grep 'memory.low' "$HTMD_LOG" | sed 's/^/htmd said: /' || :

# --- verdicts ------------------------------------------------------------------------
crit_pages=$((CRIT_MB * MB / 4096))
slack=$((crit_pages / 100))	# 1% of the working set
ok() { result_pass "$1"; }
bad() { result_fail "$1" "$2"; failed=1; }

# The pressure was real: the machine kept hitting its memory.max and took
# more than the critical working set's worth of pages from the host hog.
if [ $((b1_max - b0_max)) -gt 0 ] && [ $((h1_steal - h0_steal)) -gt $crit_pages ]; then
	ok memory-pressure-real
else
	bad memory-pressure-real "machine memory.max events +$((b1_max - b0_max)), host hog pgsteal +$((h1_steal - h0_steal))"
fi

if [ $((l1_high - l0_high)) -ge 10 ] && [ "$low_max" -le $((LOW_HIGH_MB * MB * 11 / 10)) ] &&
   [ $((l1_steal - l0_steal)) -gt 0 ]; then
	ok memory-low-throttled
else
	bad memory-low-throttled "high events +$((l1_high - l0_high)), memory.current peak $(mb "$low_max") MB vs high $LOW_HIGH_MB MB, pgsteal +$((l1_steal - l0_steal))"
fi

# What it allocated beyond its memory.high went to swap, and kept going
# there: slowed, not stopped. Throttled as it is it gets through its
# allocation slowly, so no fixed total is asked for.
if [ $((l1_swap - l0_swap)) -ge $((8 * MB)) ] && [ $((l1_cur + l1_swap)) -ge $(( (LOW_HIGH_MB + 16) * MB )) ]; then
	ok memory-low-swapped
else
	bad memory-low-swapped "low swap.current $(mb "$l0_swap") -> $(mb "$l1_swap") MB, memory.current $(mb "$l1_cur") MB"
fi

# Protected memory is not even scanned. An unprotected but hot working set
# is scanned hard and still loses few pages, so pgscan is the figure that
# tells protection from luck; memory.events low counts reclaim that went
# below memory.low anyway.
if [ "$crit_min" -ge $((CRIT_MB * MB)) ] && [ "$c1_swap" -le $((slack * 4096)) ] &&
   [ $((c1_scan - c0_scan)) -le $slack ] && [ $((c1_steal - c0_steal)) -le $slack ] &&
   [ $((c1_majflt - c0_majflt)) -le $slack ] && [ "$c1_low" -eq 0 ]; then
	ok memory-critical-resident
else
	bad memory-critical-resident "current min $(mb "$crit_min") MB, swap $(mb "$c1_swap") MB, pgscan +$((c1_scan - c0_scan)), pgsteal +$((c1_steal - c0_steal)), pgmajfault +$((c1_majflt - c0_majflt)), low events $c1_low"
fi

# PSI: the low task stalled on memory, the critical one did not.
crit_stall=$((c1_some - c0_some)); low_stall=$((l1_some - l0_some))
info "memory stall in the window: critical $crit_stall us, low $low_stall us of $dt_us us"
if [ $crit_stall -le $((dt_us / 100)) ] && [ $low_stall -ge $((dt_us / 10)) ]; then
	ok memory-psi
else
	bad memory-psi "critical stalled $crit_stall us, low $low_stall us of $dt_us us"
fi

# htmd saw it as memory stress (and answered with its elevated response).
if [ "$seen_level" = elevated ] && printf '%s' "$reasons" | grep -q '^memory\|; memory'; then
	ok governor-memory-stress
else
	bad governor-memory-stress "htmd stress never reached elevated on a memory signal ($seen_level: $reasons)"
fi

$HTMCTL cancel "$low" >/dev/null || :
$HTMCTL cancel "$crit" >/dev/null || :
kill "$hog" 2>/dev/null || :
htmd_stop
[ $failed = 0 ] || fail "a memory check failed"
exit 0
