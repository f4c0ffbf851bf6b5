#!/bin/sh
# vm: timeout=3600
# Governor reaction latency on a real 6.1 kernel with the cpu controller,
# as htmd measures it itself (status .reactions: count, p50/p99/max of its
# last <= 1024 reactions of each kind; one htmd per measurement, so each
# starts from an empty ring). Run by tests/bench/governor-reaction.sh
# (VMTEST_GUEST_DIR=tests/vm/bench); prints its figures as plain lines and
# one "RESULT pass vm/bench-<phase>-<key> key=value ..." line per
# measurement, which the host wrapper parses.
#
# Phase breach: budget breach -> cgroup write. From the kernel's timestamp
# of the breach (bpf_ktime_get_ns() in the sampler's sched_switch program,
# when the critical task gets the CPU after waiting longer than its
# budget) to the return of the last cgroup write of the step the breach
# caused (monitor_on_sampler_event() -> governor_breach() ->
# governor_update() -> apply_plan(): journal record, log line, cpu.max or
# cgroup.freeze on the low class, egress map). So it includes the ring
# buffer wake-up, io_uring and htmd's loop. Load, all pinned to CPU 0: a
# critical `spin` with rq_budget 2 ms and a low `spin`. The low class is
# configured as heavy as critical (cpu.weight 10000, not cpu.idle) so that
# it does delay the critical task by a scheduler slice (several ms) each
# time it runs; with the default weights (10 vs 10000, low idle) critical
# work preempts low work at once and nothing breaches. One cycle: breach
# -> ok->elevated (low capped at 20% of a CPU: a reaction) -> the capped
# low still runs, breaches go on -> once breach_hold (100 ms, the minimum)
# has passed, elevated->high (low frozen: a second reaction) -> breaches
# stop -> the hold runs out -> ok (thawed, uncapped; not a reaction) ->
# next breach. Stress thresholds are out of reach so that periodic passes
# never move the level; no PSI triggers.
#
# Phase psi: PSI trigger -> cgroup write. From the moment htmd's loop runs
# the trigger's POLLPRI completion (trigger_fired(): htm_now_mono() on
# entry) to the return of the cgroup writes of the step up that the
# trigger's sampling pass made (event, pass over sampler maps, PSI files
# and meminfo, stress update, apply_plan). The kernel's side (psimon
# noticing the stall, waking the poller, io_uring completing) comes before
# that and is not in the figure. Load: 4 `spin`s in a cgroup of their own
# outside htm's tree, thawed for BURST_MS then frozen for GAP_MS, over and
# over; a burst stalls "some" CPU time at ~100%, and the trigger "some
# 100000 500000" (100 ms of stall in a 500 ms window) fires ~100 ms into
# it, and usually once more a window later (the kernel defers, does not
# drop, a second crossing within the window). Stress: cpu_some thresholds
# [CPU_SOME, 999, 1000], cooldown 0, sample_period 500 ms: the trigger's
# pass sees the stall share of the interval since the previous pass (>=
# 100 ms in <= 600 ms: >= 16%) over CPU_SOME (15) and steps ok->elevated
# (low capped); periodic passes after the burst see no stall and avg10
# (about burst/cycle, 6%) under the exit threshold (0.75 * 15) and step
# down again. A periodic pass that lands in the burst before the trigger
# can step up first (then that burst's trigger is no reaction): bursts,
# triggers fired, steps up and reactions are all printed.
#
# Each phase can run in two kernel states (htm.keys; default held only):
# "toggle", the kernel as it boots (no cgroup has a
# cpu.max quota, so capping the low class switches the kernel's CFS
# bandwidth static key on, and lifting the cap switches it off: code
# patching with cross-CPU synchronisation, which TCG makes very slow, 1.5
# ms idle and tens of ms when the other vCPU is descheduled on the host),
# and "held", with an empty cgroup holding a quota that never binds
# (cpu.max "200000 100000") so the key stays on and a cap is a plain
# write, as on any host where some unit has CPUQuota=.
#
# Knobs, from the kernel command line (VMTEST_APPEND on the host):
#   htm.breaches=N     breach reactions per measurement (1000)
#   htm.psi=N          PSI reactions per measurement (100)
#   htm.burst_ms=N     burst length (200), htm.gap_ms=N pause (3000)
#   htm.cpu_some=N     elevated threshold of cpu_some, percent (15)
#   htm.phases=breach,psi   which phases (both)
#   htm.keys=held          which kernel states (toggle,held for both)
set -eu
. "${0%/*}/lib.sh"
need spin taskset jq

BREACHES=1000 PSI=100 BURST_MS=200 GAP_MS=3000 CPU_SOME=15
PHASES=breach,psi KEYS=held
for a in $(cat /proc/cmdline); do
	case $a in
	htm.breaches=*) BREACHES=${a#*=} ;;
	htm.psi=*) PSI=${a#*=} ;;
	htm.burst_ms=*) BURST_MS=${a#*=} ;;
	htm.gap_ms=*) GAP_MS=${a#*=} ;;
	htm.cpu_some=*) CPU_SOME=${a#*=} ;;
	htm.phases=*) PHASES=${a#*=} ;;
	htm.keys=*) KEYS=${a#*=} ;;
	esac
done
cg=$(cgroup2_root)
grep -qw cpu "$cg/cgroup.controllers" || skip "no cpu controller in $cg"
keyhold=$cg/htm-bench-keyhold
burst=$cg/htm-bench-burst
at_exit "rmdir $keyhold 2>/dev/null"
at_exit "[ ! -d $burst ] || { echo 1 > $burst/cgroup.kill; sleep 0.2; rmdir $burst; }"

sec() { awk -v m="$1" 'BEGIN { printf "%.3f", m / 1000 }'; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
status() { timeout 20 $HTMCTL -o json status; }
avg10() { sed -n 's/^some avg10=\([0-9.]*\) .*/\1/p' /proc/pressure/cpu; }
# a number of us in JSON -> ms with 3 decimals, "-" if absent
us2ms() { jq -r "$1 | if . == null then \"-\" else ((. | round) / 1000 | tostring) end"; }
# p50/p99/max of the numbers on stdin, in ms from us
pcts() {
	sort -n | awk '{ v[NR] = $1 } END {
		if (!NR) { print "n 0"; exit }
		printf "n %d p50 %.3f ms p99 %.3f ms max %.3f ms\n", NR,
			v[int(NR * 0.5) + 1] / 1000, v[int(NR * 0.99) + 1] / 1000, v[NR] / 1000 }'
}
# what htmd and the load are doing, when htmd stops answering
stuck_dump() {
	for p in $HTMD_PID $(grep -lx spin /proc/[0-9]*/comm 2>/dev/null | cut -d/ -f3); do
		echo "--- pid $p: $(tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null) state $(sed -n 's/^State:\t//p' /proc/$p/status 2>/dev/null) wchan $(cat /proc/$p/wchan 2>/dev/null)"
		sed 's/^/    /' /proc/$p/stack 2>/dev/null
	done
	grep . /sys/fs/cgroup/htm.slice/*/cgroup.events /sys/fs/cgroup/htm.slice/*/cpu.max 2>/dev/null
}
steps() { grep -c "governor: $1 -> $2" "$HTMD_LOG" || :; }

key_state() {	# key_state toggle|held
	if [ "$1" = held ]; then
		grep -qw cpu "$cg/cgroup.subtree_control" || echo +cpu > "$cg/cgroup.subtree_control"
		mkdir -p "$keyhold"
		echo "200000 100000" > "$keyhold/cpu.max"
	elif [ -d "$keyhold" ]; then
		echo max > "$keyhold/cpu.max"
		rmdir "$keyhold"
	fi
	q=$(find "$cg" -name cpu.max -exec grep -L '^max ' {} + | sed "s|^$cg/||; s|/cpu.max\$||")
	[ "$1" = held ] || [ -z "$q" ] || info "key $1: but cgroups with a quota: $q"
	[ "$1" = toggle ] || info "key $1: cgroups with a quota: $q"
}

# stress signals out of reach; each phase sets the one it wants
stress_off='"memory_some": [1001, 1002, 1003], "memory_full": [1001, 1002, 1003],
  "io_some": [1001, 1002, 1003], "budget_breaches": [1e7, 2e7, 3e7],
  "memory_available": [0.0003, 0.0002, 0.0001], "queue_backlog": [1e6, 2e6, 3e6]'

# --- budget breach -> write ---------------------------------------------------
breach_run() {	# breach_run KEY
	: > "$HTMD_LOG"
	cat >/tmp/breach.json <<J
{ "slots": 8, "bpf_pin_dir": "", "sample_period": "1s",
  "psi_triggers": { "cpu": "", "memory": "", "io": "" },
  "priorities": { "critical": { "rq_budget": "2ms" },
                  "low": { "cpu_weight": 10000, "cpu_idle": false } },
  "governor": { "breach_hold": "100ms" },
  "stress": { "cpu_some": [1001, 1002, 1003], $stress_off, "cooldown": "0s" } }
J
	htmd_start --config /tmp/breach.json
	key_state "$1"
	st=$(status)
	[ "$(echo "$st" | jq -r .sampler.state)" = attached ] ||
		fail "sampler not attached: $(echo "$st" | jq -c .sampler)"
	crit=$($HTMCTL submit -q -p critical --name crit -- taskset -c 0 spin 3600)
	low=$($HTMCTL submit -q -p low --name low -- taskset -c 0 spin 3600)
	t0=$(now_ms)
	n=0 last=-1 stuck=0 polls=0
	while :; do
		sleep 2
		st=$(status) || { stuck_dump; fail "htmctl status failed or took over 20 s"; }
		n=$(echo "$st" | jq .reactions.budget_breach.count)
		[ "$n" -ge "$BREACHES" ] && break
		polls=$((polls + 1))
		[ $((polls % 15)) != 0 ] ||
			info "breach/$1: $n reactions after $((polls * 2)) s, $(echo "$st" | jq -c '{level: .governor.level, steps: .governor.breach_steps, events: .sampler.breach_events}'), load $(loadavg)"
		if [ "$n" = "$last" ]; then
			stuck=$((stuck + 1))
			[ $stuck -lt 15 ] || fail "breach reactions stuck at $n for 30 s: $(status | jq -c '{governor, reactions}')"
		else
			stuck=0
		fi
		last=$n
	done
	# stop the load first, so nothing moves while the figures are read
	$HTMCTL cancel "$low" >/dev/null || :
	$HTMCTL cancel "$crit" >/dev/null || :
	secs=$(( ($(now_ms) - t0) / 1000 ))
	st=$(status)
	r=$(echo "$st" | jq -c .reactions.budget_breach)
	n=$(echo "$r" | jq .count)
	p50=$(echo "$r" | us2ms .p50_us)
	p99=$(echo "$r" | us2ms .p99_us)
	max=$(echo "$r" | us2ms .max_us)
	ev=$(echo "$st" | jq .sampler.breach_events)
	up1=$(steps ok elevated) up2=$(steps elevated high) up3=$(steps high critical)
	info "breach/$1: $n reactions in $secs s; steps: $up1 ok->elevated (low capped), $up2 elevated->high (low frozen, normal capped), $up3 high->critical (normal frozen); $ev breach events delivered"
	info "breach/$1: breach -> write p50 $p50 ms, p99 $p99 ms, max $max ms (guest load average $(loadavg))"
	# htmd -v logs every event; delivery_us: kernel timestamp -> htmd's handler
	info "breach/$1: of which delivery (kernel timestamp -> htmd's handler), every breach event: $(
		grep '"type":"sampler.budget_breach"' "$HTMD_LOG" |
		sed -n 's/.*"delivery_us":\([0-9.]*\).*/\1/p' | pcts)"
	printf 'RESULT pass vm/bench-breach-%s events=%s p50_ms=%s p99_ms=%s max_ms=%s breach_events=%s caps=%s freezes=%s to_critical=%s seconds=%s\n' \
		"$1" "$n" "$p50" "$p99" "$max" "$ev" "$up1" "$up2" "$up3" "$secs"
	htmd_stop
	key_state toggle
}

# --- PSI trigger -> write -----------------------------------------------------
psi_run() {	# psi_run KEY
	: > "$HTMD_LOG"
	cat >/tmp/psi.json <<J
{ "slots": 8, "bpf_pin_dir": "", "sample_period": "500ms",
  "psi_triggers": { "cpu": "some 100000 500000", "memory": "", "io": "" },
  "stress": { "cpu_some": [$CPU_SOME, 999, 1000], $stress_off, "cooldown": "0s" } }
J
	# what ran before (spinners) must have decayed from avg10 first
	i=0
	while [ $i -lt 120 ] && awk -v a="$(avg10)" -v t="$CPU_SOME" 'BEGIN { exit !(a > t / 4) }'; do
		sleep 1
		i=$((i + 1))
	done
	htmd_start --config /tmp/psi.json
	key_state "$1"
	st=$(status)
	echo "$st" | jq -e '.sampler.psi_triggers | map(select(.resource == "cpu")) | length == 1' >/dev/null ||
		fail "no cpu PSI trigger: $(echo "$st" | jq -c .sampler.psi_triggers)"
	mkdir -p "$burst"
	echo 1 > "$burst/cgroup.freeze"
	for i in 1 2 3 4; do
		sh -c "echo \$\$ > $burst/cgroup.procs && exec spin 36000" &
	done
	sleep 1
	[ "$(wc -l < "$burst/cgroup.procs")" = 4 ] || fail "spinners not in $burst: $(cat "$burst/cgroup.procs")"
	b=$(sec "$BURST_MS") g=$(sec "$GAP_MS")
	info "psi/$1: cpu some avg10 $(avg10) at the start"
	t0=$(now_ms)
	cycles=0 n=0
	while [ $cycles -lt $((PSI * 3)) ]; do
		echo 0 > "$burst/cgroup.freeze"
		sleep "$b"
		echo 1 > "$burst/cgroup.freeze"
		sleep "$g"
		cycles=$((cycles + 1))
		if [ $((cycles % 10)) = 0 ]; then
			st=$(status)
			n=$(echo "$st" | jq .reactions.psi_trigger.count)
			info "psi/$1: $cycles bursts: $n reactions, $(echo "$st" | jq '[.sampler.psi_triggers[].fired] | add') triggers fired, avg10 $(avg10), load $(loadavg)"
			[ "$n" -ge "$PSI" ] && break
		fi
	done
	secs=$(( ($(now_ms) - t0) / 1000 ))
	st=$(status)
	r=$(echo "$st" | jq -c .reactions.psi_trigger)
	n=$(echo "$r" | jq .count)
	fired=$(echo "$st" | jq '[.sampler.psi_triggers[] | select(.resource == "cpu") | .fired] | add')
	pass=$(echo "$st" | us2ms .sampler.pass_avg_us)
	p50=$(echo "$r" | us2ms .p50_us)
	p99=$(echo "$r" | us2ms .p99_us)
	max=$(echo "$r" | us2ms .max_us)
	up=$(steps ok elevated)
	info "psi/$1: $cycles bursts of $BURST_MS ms every $((BURST_MS + GAP_MS)) ms in $secs s: $fired cpu triggers fired, $up steps up, $n by a trigger's pass (reactions)"
	info "psi/$1: trigger -> write p50 $p50 ms, p99 $p99 ms, max $max ms; a sampling pass takes $pass ms on average (guest load average $(loadavg))"
	printf 'RESULT pass vm/bench-psi-%s events=%s p50_ms=%s p99_ms=%s max_ms=%s fired=%s steps_up=%s bursts=%s seconds=%s\n' \
		"$1" "$n" "$p50" "$p99" "$max" "$fired" "$up" "$cycles" "$secs"
	echo 1 > "$burst/cgroup.kill"
	sleep 0.5
	rmdir "$burst" 2>/dev/null || :
	htmd_stop
	key_state toggle
	[ "$n" -gt 0 ] || fail "no PSI reaction recorded ($fired triggers fired)"
}

info "guest: $(nproc) CPUs, kernel $(uname -r), load average $(loadavg)"
for phase in $(echo "$PHASES" | tr , ' '); do
	for key in $(echo "$KEYS" | tr , ' '); do
		case $phase in
		breach) breach_run "$key" ;;
		psi) psi_run "$key" ;;
		*) fail "unknown phase $phase" ;;
		esac
	done
done
exit 0
