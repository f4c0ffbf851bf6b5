#!/bin/bash
# SPDX-License-Identifier: MIT
#
# sampler-overhead: what htm's BPF sampler (bpf/sampler.bpf.c) adds to
# scheduling, against nothing and against a bpftrace script doing the same
# job (tests/bench/runqlat-cgroup.bt).
#
#   tests/bench/sampler-overhead.sh [BUILD_DIR]      (default: build)
#
# The load is `perf bench sched pipe` pinned to one CPU: two processes
# bounce a byte through two pipes, so each round trip is two context
# switches and one or two wakeups (none when the writer preempted the
# reader before it slept) and little else; its "usecs/op" is the figure,
# in microseconds per round trip. Three
# configurations, measured in the same run, interleaved round-robin (the
# first configuration rotates each round) so drift hits all alike:
#
#   baseline  nothing of ours attached (checked: no program our htmd or our
#             bpftrace loaded is still in `bpftool prog show`)
#   sampler   htmd running with its sampler attached, and the perf bench
#             submitted to it (`htmctl submit`), so it runs in a governed
#             cgroup the sampler tracks: the expensive path. htmd is started
#             before and stopped after each of these runs.
#   bpftrace  runqlat-cgroup.bt attached, perf bench run plainly.
#
# Then one more sampler run and one more bpftrace run with
# kernel.bpf_stats_enabled=1, for events per second and ns per program run
# (the cost per event; not timed, the stats themselves cost).
#
# Targets (informational, printed as PASS/MISS): the sampler adds at most
# 10% to the round trip, and at most a quarter of what bpftrace adds.
# Exit: 0 if everything ran (whatever the figures), 1 if something failed
# to run, 77 (after a "skip:" line) if it cannot run here (not root, a tool
# missing, no cgroup2).
#
# Knobs (environment): RUNQUEUE_CLOCK (unset: htmd's default; task_storage:
# the fallback), ROUNDS (5, undisturbed rounds wanted), BUDGET (150,
# seconds: no new round starts after that), RUN_SECS (2, seconds per run;
# sets the loop count from a calibration run), LOOPS (fixed loop count
# instead), BENCH_CPU (0), BT_SETTLE (1, seconds after bpftrace attached).
# Leaves nothing behind, also on ^C: our htmd and bpftrace are stopped, the
# cgroup tree and temp dir removed, kernel.bpf_stats_enabled restored.
# Other htm instances on the machine (a developer's htmd, a test's) are
# left alone. Their sampler runs in every configuration, adding its cost to
# each: a run during which one was attached is marked "*", its round is
# left out of the medians and another round is run in its place while the
# time budget lasts. With fewer than 3 undisturbed rounds all rounds count
# and the targets are not judged.
# Other load on the CPU is not detected: the interleaving and the medians
# absorb a few disturbed runs; the min/max columns show the spread.

set -u -o pipefail
export LC_ALL=C

# ^C: perf bench catches SIGINT and exits 0, and bash then drops the
# SIGINT (it assumes the child handled it), so a plain trap would miss most
# ^C. Instead the work runs in its own session, out of the terminal's
# reach, and this wrapper turns ^C (or a SIGTERM, say from `timeout`) into
# a SIGTERM to that whole process group: perf, htmctl, htmd, bpftrace end,
# and the worker's EXIT trap cleans up before the wrapper exits.
if [ -z "${HTM_BENCH_WORKER:-}" ]; then
	HTM_BENCH_WORKER=1 setsid bash "$0" "$@" &
	worker=$!
	stop_worker() {
		trap '' INT TERM
		kill -TERM -- "-$worker" 2>/dev/null
		wait "$worker"
		exit "$1"
	}
	trap 'stop_worker 130' INT
	trap 'stop_worker 143' TERM
	wait "$worker"
	exit $?
fi

BUILD=${1:-build}
ROUNDS=${ROUNDS:-5}
BUDGET=${BUDGET:-150}
RUN_SECS=${RUN_SECS:-2}
LOOPS=${LOOPS:-}
CPU=${BENCH_CPU:-0}
BT_SETTLE=${BT_SETTLE:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
BT_SCRIPT=$HERE/runqlat-cgroup.bt
CONFIGS=(baseline sampler bpftrace)

T=
CG_ROOT=
HTMD_PID=
BT_PID=
STATS_ORIG=
OUR_IDS=" " # every program id our htmd or bpftrace ever held, " 1 2 3 "

. "$HERE/lib.sh"	# say, skip, die, find_cgroup2, pid_alive; stop_htmd redefined below

# --- preconditions ---
[ "$(id -u)" = 0 ] || skip "not root (BPF and cgroups need root)"
need_cmds perf bpftrace bpftool jq taskset unshare awk
need_built
[ -r "$BT_SCRIPT" ] || die "$BT_SCRIPT is missing"
PERF=$(command -v perf)
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS=$ROUNDS is not a positive number"
[[ $BUDGET =~ ^[0-9]+$ ]] || die "BUDGET=$BUDGET is not a number of seconds"
[[ $CPU =~ ^[0-9]+$ ]] && [ -d "/sys/devices/system/cpu/cpu$CPU" ] ||
	die "BENCH_CPU=$CPU is not a CPU of this machine"

find_cgroup2

# --- cleanup: on any exit, ^C included ---
# stop_pid PID SIGNAL SECONDS: signal, wait that long, then SIGKILL; reap.
stop_pid() {
	local pid=$1 i
	kill "-$2" "$pid" 2>/dev/null
	for ((i = 0; i < $3 * 20; i++)); do
		pid_alive "$pid" || break
		sleep 0.05
	done
	if pid_alive "$pid"; then
		say "warning: pid $pid still running $3 s after SIG$2, killing it" >&2
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	return 0
}

restore_stats() {
	if [ -n "$STATS_ORIG" ]; then
		sysctl -q -w "kernel.bpf_stats_enabled=$STATS_ORIG" >/dev/null ||
			say "warning: could not restore kernel.bpf_stats_enabled=$STATS_ORIG" >&2
		STATS_ORIG=
	fi
}

cleanup() {
	local rc=$? i
	trap - EXIT INT TERM
	set +e
	[ -n "$BT_PID" ] && stop_pid "$BT_PID" INT 10
	[ -n "$HTMD_PID" ] && stop_pid "$HTMD_PID" TERM 10
	BT_PID='' HTMD_PID=''
	restore_stats
	if [ -n "$CG_ROOT" ] && [ -d "$CG_ROOT" ]; then
		if grep -q '^populated 1' "$CG_ROOT/cgroup.events" 2>/dev/null; then
			if [ -e "$CG_ROOT/cgroup.kill" ]; then
				echo 1 >"$CG_ROOT/cgroup.kill"
			else
				# shellcheck disable=SC2038 # it cats pids, no file names
				find "$CG_ROOT" -name cgroup.procs -exec cat {} + 2>/dev/null |
					xargs -r kill -KILL 2>/dev/null
			fi
			for ((i = 0; i < 100; i++)); do
				grep -q '^populated 1' "$CG_ROOT/cgroup.events" || break
				sleep 0.05
			done
		fi
		find "$CG_ROOT" -depth -type d -exec rmdir {} \; 2>/dev/null
		if [ -d "$CG_ROOT" ]; then
			say "warning: could not remove $CG_ROOT" >&2
			[ "$rc" = 0 ] && rc=1
		fi
	fi
	[ -n "$T" ] && rm -rf "$T"
	case $rc in 130 | 143) say "interrupted: stopped what we started, removed $CG_ROOT and the temp dir" >&2 ;; esac
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

T=$(mktemp -d /tmp/htm-bench.XXXXXX)
chmod 0755 "$T"
CG_ROOT=$CG_MOUNT/htm-bench-$$
# Every configuration runs perf in a cgroup of the same depth: htmd's task
# cgroups are <root>/critical/task-N, and each cgroup2 level adds PSI
# accounting to every context switch, so a perf run plainly in a shallower
# cgroup would charge that to the sampler.
PLAIN_CG=$CG_ROOT/plain/critical/task-plain
mkdir -p "$PLAIN_CG" || die "cannot create $PLAIN_CG"
SOCK=$T/s.sock
# No BPF pins (the default /sys/fs/bpf/htm belongs to the machine's htmd);
# and, where htmd knows the key, no kernel.task_delayacct flip: it is a
# global switch other daemons here rely on, and it is not the sampler.
# RUNQUEUE_CLOCK=task_storage measures the sampler's fallback (its own
# wakeup stamps in task storage) instead of the kernel's sched_info stamps.
CLOCK_KV=${RUNQUEUE_CLOCK:+, \"runqueue_clock\": \"$RUNQUEUE_CLOCK\"}
echo "{\"bpf_pin_dir\": \"\", \"delay_accounting\": false$CLOCK_KV}" >"$T/htmd.json"
"$HTMD" --check-config "$T/htmd.json" >/dev/null 2>&1 ||
	echo "{\"bpf_pin_dir\": \"\"$CLOCK_KV}" >"$T/htmd.json"
"$HTMD" --check-config "$T/htmd.json" >/dev/null 2>&1 ||
	die "htmd refuses the bench's config: $(cat "$T/htmd.json")"
"$HTMD" --check-config "$T/htmd.json" >/dev/null 2>&1 ||
	die "htmd rejects the config $(cat "$T/htmd.json")"

# --- helpers ---
ctl() { "$HTMCTL" --socket "$SOCK" "$@"; }

# The usecs/op figure of a perf bench sched pipe output file.
usecs_of() { awk '/usecs\/op/ { print $1; found = 1 } END { exit !found }' "$1"; }

# Program ids held by a process (its prog and link fds).
prog_ids_of() {
	grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{ print $2 }' | sort -un
}

remember_ids() {
	local id
	for id in "$@"; do
		[[ $OUR_IDS == *" $id "* ]] || OUR_IDS="$OUR_IDS$id "
	done
}

# JSON of every loaded program: id, name, run_cnt, run_time_ns.
progs_json() {
	bpftool prog show -j 2>/dev/null |
		jq -c '[.[] | {id, name: (.name // ""), run_cnt: (.run_cnt // 0),
			run_time_ns: (.run_time_ns // 0)}]'
}

# wait_unloaded WHO "IDS": after WHO exited, its links are gone at once but
# the kernel frees the programs after an RCU grace period; wait (<= 10 s)
# until none is loaded, so the next run neither sees them nor pays for
# freeing them.
wait_unloaded() {
	local i left
	for ((i = 0; i < 100; i++)); do
		left=$(progs_json | jq -r --arg o "$2" '($o | split(" ") | map(select(. != "") | tonumber)) as $ids
			| [.[] | select(.id as $i | $ids | index($i)) | "\(.id) \(.name)"] | join(", ")')
		[ -z "$left" ] && return 0
		sleep 0.1
	done
	die "$1 exited but its programs are still loaded 10 s later: $left"
}

# The baseline must have nothing of ours: no htmd or bpftrace of ours
# alive, no program they held still loaded.
check_clean() {
	local ids ours
	[ -z "$HTMD_PID" ] && [ -z "$BT_PID" ] || die "baseline: our htmd or bpftrace is still running"
	ids=$(progs_json) || die "bpftool prog show failed"
	ours=$(jq -r --arg o "$OUR_IDS" '($o | split(" ") | map(select(. != "") | tonumber)) as $ours
		| [.[] | select(.id as $i | $ours | index($i))] | map("\(.id) \(.name)") | join(", ")' <<<"$ids")
	[ -z "$ours" ] || die "baseline: programs of ours still loaded: $ours"
}

# How many htm_ programs of other htm instances (anything but our htmd) are
# attached right now: they run in every configuration, so a run during
# which some were is marked, and its round left out of the medians.
foreign_attached() {
	local progs links
	progs=$(progs_json) || return 1
	links=$(bpftool link show -j 2>/dev/null | jq -c '[.[] | .prog_id]') || links='[]'
	jq -r --arg o "$OUR_IDS" --argjson l "${links:-[]}" '
		($o | split(" ") | map(select(. != "") | tonumber)) as $ours
		| [.[] | select((.name | startswith("htm_")) and (.id as $i
			| ($l | index($i)) != null and ($ours | index($i)) == null))] | length' <<<"$progs"
}

# perf_plain OUT: the benchmark, in $PLAIN_CG (as deep as htmd's tasks).
perf_plain() {
	sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$PLAIN_CG" \
		taskset -c "$CPU" "$PERF" bench sched pipe -l "$LOOPS" >"$1" 2>&1 ||
		die "perf bench failed: $(tail -n 3 "$1")"
}

# die_htmd MSG: die, with how our htmd is (alive, or its exit status) and
# the tail of its log.
die_htmd() {
	local how=running rc
	if [ -n "$HTMD_PID" ] && ! pid_alive "$HTMD_PID"; then
		wait "$HTMD_PID"
		rc=$?
		how="exited with status $rc"
		[ "$rc" -gt 128 ] && how="killed by signal $((rc - 128))"
		HTMD_PID=''
	fi
	say "--- our htmd: $how; htmd.log (last 20 lines, libbpf debug left out):" >&2
	grep -v 'debug: libbpf' "$T/htmd.log" | tail -n 20 | sed 's/^/    | /' >&2
	die "$1"
}

htmd_attached() {
	ctl -o json status 2>/dev/null | jq -e '.sampler.state == "attached"' >/dev/null
}

start_htmd() {
	local i
	echo "+ htmd (round $1)" >>"$T/htmd.log"
	"$HTMD" --socket "$SOCK" --state-dir "$T/state" --cgroup-root "$CG_ROOT/htm" \
		--config "$T/htmd.json" >>"$T/htmd.log" 2>&1 </dev/null &
	HTMD_PID=$!
	for ((i = 0; i < 200; i++)); do
		htmd_attached && break
		pid_alive "$HTMD_PID" || break
		sleep 0.05
	done
	htmd_attached ||
		die_htmd "htmd's sampler did not reach state attached within 10 s ($(ctl -o json status 2>&1 | jq -c .sampler 2>/dev/null))"
	# shellcheck disable=SC2046
	remember_ids $(prog_ids_of "$HTMD_PID")
}

# stop_htmd: lib.sh's, plus waiting until the kernel has unloaded the
# programs, so the next configuration runs without them
stop_htmd() {
	local ids
	ids=$(prog_ids_of "$HTMD_PID" | tr '\n' ' ')
	stop_pid "$HTMD_PID" TERM 10
	HTMD_PID=
	wait_unloaded htmd "$ids"
}

# perf_governed OUT: the benchmark as a task of our htmd. Sets WAITS to the
# run-queue waits the sampler counted for the task's cgroup. Priority
# critical: htmd never delays, caps or freezes critical work, whatever
# stress level it computes from this busy machine's PSI, and a critical
# cgroup has a run-queue budget in htm_cg_conf, so the sampler takes its
# longest path (budget check included).
perf_governed() {
	local id json log state i
	id=$(ctl submit -q -p critical --name sampler-bench -- \
		taskset -c "$CPU" "$PERF" bench sched pipe -l "$LOOPS" 2>&1) ||
		die_htmd "htmctl submit failed: $id"
	for ((i = 0; i < 100; i++)); do
		state=$(ctl -o json show "$id" 2>/dev/null | jq -r .state)
		case $state in queued | pending_approval | preflight | "") sleep 0.1 ;; *) break ;; esac
	done
	case $state in
	running | succeeded) ;;
	*) die_htmd "task $id is $state 10 s after its submission: htmd did not run it ($(ctl -o json show "$id" 2>&1 | jq -c '{state, reason}' 2>/dev/null))" ;;
	esac
	ctl wait "$id" --timeout "${WAIT_SECS}s" >/dev/null 2>"$T/wait.err" ||
		die_htmd "the governed perf bench (task $id) did not succeed: $(cat "$T/wait.err"; ctl show "$id" 2>&1 | tail -n 3)"
	json=$(ctl -o json show "$id") || die_htmd "htmctl show $id failed"
	log=$(jq -r '.log // empty' <<<"$json")
	[ -n "$log" ] && [ -r "$log" ] || die "task $id has no readable log ($log)"
	cp "$log" "$1"
	WAITS=$(jq -r '.usage.waits // 0' <<<"$json")
	[[ $WAITS =~ ^[0-9]+$ ]] || WAITS=0
	if [ "$WAITS" -lt "$LOOPS" ]; then
		say "warning: the sampler counted $WAITS run-queue waits for the task's cgroup, expected >= $LOOPS: is its cgroup tracked?" >&2
	fi
}

start_bpftrace() {
	local i
	: >"$T/bpftrace.out"
	if [ -e /sys/kernel/tracing/events/sched ]; then
		bpftrace "$BT_SCRIPT" >"$T/bpftrace.out" 2>&1 </dev/null &
	else
		# bpftrace needs tracefs; mount it where only bpftrace sees it
		unshare -m --propagation private sh -c \
			'mount -t tracefs tracefs /sys/kernel/tracing && exec bpftrace "$1"' \
			sh "$BT_SCRIPT" >"$T/bpftrace.out" 2>&1 </dev/null &
	fi
	BT_PID=$!
	for ((i = 0; i < 600; i++)); do
		grep -q '^Attaching [0-9]* probes' "$T/bpftrace.out" && break
		pid_alive "$BT_PID" || break
		sleep 0.05
	done
	if ! grep -q '^Attaching [0-9]* probes' "$T/bpftrace.out" || ! pid_alive "$BT_PID"; then
		sed 's/^/    | /' "$T/bpftrace.out" | tail -n 20 >&2
		die "bpftrace did not attach within 30 s"
	fi
	sleep "$BT_SETTLE"
	# shellcheck disable=SC2046
	remember_ids $(prog_ids_of "$BT_PID")
}

stop_bpftrace() {
	local ids
	ids=$(prog_ids_of "$BT_PID" | tr '\n' ' ')
	stop_pid "$BT_PID" INT 10
	BT_PID=
	wait_unloaded bpftrace "$ids"
}

# run_config NAME OUT: one measured run of a configuration; the figure in
# $US, the most htm_ programs of other instances attached before or after
# the run in $OTHERS.
run_config() {
	local n
	case $1 in
	baseline)
		check_clean || exit 1
		n=$(foreign_attached) || exit 1
		perf_plain "$2"
		check_clean || exit 1
		;;
	sampler)
		start_htmd "$ROUND"
		sleep 0.3
		n=$(foreign_attached) || exit 1
		perf_governed "$2"
		;;
	bpftrace)
		start_bpftrace
		n=$(foreign_attached) || exit 1
		perf_plain "$2"
		;;
	esac
	OTHERS=$(foreign_attached) || exit 1
	[ "$n" -gt "$OTHERS" ] && OTHERS=$n
	case $1 in
	sampler) stop_htmd ;;
	bpftrace) stop_bpftrace ;;
	esac
	US=$(usecs_of "$2") || die "no usecs/op in the $1 run's output: $(tail -n 3 "$2")"
}

# stats "ID ID ..." JSON_BEFORE JSON_AFTER: per program of the list, the
# delta: id name runs ns
stats_delta() {
	jq -r -n --arg ids "$1" --argjson a "$2" --argjson b "$3" '
		($ids | split(" ") | map(select(. != "") | tonumber)) as $want
		| ($a | map({(.id | tostring): .}) | add // {}) as $before
		| $b[] | select(.id as $i | $want | index($i))
		| "\(.id) \(.name) \(.run_cnt - ($before[.id | tostring].run_cnt // 0)) \(.run_time_ns - ($before[.id | tostring].run_time_ns // 0))"'
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.6f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minimum() { printf '%s\n' "$@" | sort -g | head -n 1; }
maximum() { printf '%s\n' "$@" | sort -g | tail -n 1; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

# --- calibrate ---
START=$EPOCHREALTIME
check_clean
# a warm-up run, then the calibration run
for l in 20000 50000; do
	taskset -c "$CPU" "$PERF" bench sched pipe -l "$l" >"$T/cal.out" 2>&1 ||
		die "perf bench sched pipe does not run: $(tail -n 3 "$T/cal.out")"
done
CAL_US=$(usecs_of "$T/cal.out") || die "no usecs/op in perf bench's output: $(cat "$T/cal.out")"
if [ -z "$LOOPS" ]; then
	LOOPS=$(awk -v s="$RUN_SECS" -v u="$CAL_US" 'BEGIN { n = int(s * 1e6 / u / 10000 + 0.5) * 10000; print (n < 10000) ? 10000 : n }')
fi
[[ $LOOPS =~ ^[1-9][0-9]*$ ]] || die "LOOPS=$LOOPS is not a positive number"
# how long `htmctl wait` waits for a governed run: 30 s + 5 x the expected
WAIT_SECS=$(awk -v n="$LOOPS" -v u="$CAL_US" 'BEGIN { printf "%d", 30 + 5 * n * u / 1e6 }')

say "htm sampler overhead: perf bench sched pipe -l $LOOPS on CPU $CPU (calibration: $CAL_US us per round trip)"
say "sampler runqueue_clock: ${RUNQUEUE_CLOCK:-default (sched_info where the kernel has it)}"
say "kernel $(uname -r), $(nproc) CPUs, htmd $HTMD, $(bpftrace --version 2>/dev/null), $(basename "$BT_SCRIPT")"
say "$ROUNDS undisturbed rounds x ${#CONFIGS[@]} configurations wanted (no new round after ${BUDGET} s), interleaved;"
say "the first configuration rotates each round"
say "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
say ""
printf '%-6s %10s %10s %10s   %s\n' round baseline sampler bpftrace "(us per round trip; order run)"

declare -A RES ALL ROW MED
CLEAN_ROUNDS=0 DIRTY=()
for ((ROUND = 1; CLEAN_ROUNDS < ROUNDS; ROUND++)); do
	if [ "$ROUND" -gt 1 ] && awk -v a="$START" -v b="$EPOCHREALTIME" -v l="$BUDGET" 'BEGIN { exit !(b - a > l) }'; then
		say "(time budget of $BUDGET s used up after $((ROUND - 1)) rounds)"
		break
	fi
	order=()
	for ((k = 0; k < ${#CONFIGS[@]}; k++)); do
		order+=("${CONFIGS[$(((ROUND - 1 + k) % ${#CONFIGS[@]}))]}")
	done
	dirty=0
	declare -A VAL=()
	for c in "${order[@]}"; do
		run_config "$c" "$T/$c.$ROUND.out"
		VAL[$c]=$US
		ROW[$c]=$US
		if [ "$OTHERS" -gt 0 ]; then
			ROW[$c]="$US*"
			dirty=1
		fi
	done
	for c in "${CONFIGS[@]}"; do
		ALL[$c]="${ALL[$c]:-} ${VAL[$c]}"
		[ "$dirty" = 0 ] && RES[$c]="${RES[$c]:-} ${VAL[$c]}"
	done
	if [ "$dirty" = 0 ]; then
		CLEAN_ROUNDS=$((CLEAN_ROUNDS + 1))
	else
		DIRTY+=("$ROUND")
	fi
	printf '%-6s %10s %10s %10s   %s\n' "$ROUND" "${ROW[baseline]}" "${ROW[sampler]}" "${ROW[bpftrace]}" "${order[*]}"
done

# --- summary ---
say ""
if [ ${#DIRTY[@]} -gt 0 ]; then
	say "* another htm instance's htm_ programs were attached during this run (they run in every"
	say "  configuration, adding their cost to each: not ours, left alone)."
	if [ "$CLEAN_ROUNDS" -ge 3 ]; then
		say "  Round(s) ${DIRTY[*]} left out: figures over the $CLEAN_ROUNDS other rounds."
	else
		say "  WARNING: only $CLEAN_ROUNDS round(s) without them: figures over all rounds, not judged."
		say "  Run again when no other htmd is attached."
		for c in "${CONFIGS[@]}"; do RES[$c]=${ALL[$c]}; done
		UNRELIABLE=1
	fi
	say ""
fi
printf '%-10s %10s %10s %10s   %s\n' configuration median min max "(us per round trip)"
for c in "${CONFIGS[@]}"; do
	# shellcheck disable=SC2086
	MED[$c]=$(median ${RES[$c]})
	# shellcheck disable=SC2086
	printf '%-10s %10s %10s %10s\n' "$c" "${MED[$c]}" "$(minimum ${RES[$c]})" "$(maximum ${RES[$c]})"
done
B=${MED[baseline]} S=${MED[sampler]} P=${MED[bpftrace]}
verdict() {
	if [ -n "${UNRELIABLE:-}" ]; then
		echo "n/a (disturbed)"
	else
		awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t) ? "PASS" : "MISS" }'
	fi
}
say ""
R_S=$(calc '%.3f' "$S / $B")
R_P=$(calc '%.3f' "$P / $B")
printf '%-34s %7s  (%+.1f%%, %+.3f us)   target <= 1.10: %s\n' "sampler / baseline" "$R_S" \
	"$(calc '%.4f' "($S / $B - 1) * 100")" "$(calc '%.4f' "$S - $B")" "$(verdict "$R_S" 1.10)"
printf '%-34s %7s  (%+.1f%%, %+.3f us)\n' "bpftrace / baseline" "$R_P" \
	"$(calc '%.4f' "($P / $B - 1) * 100")" "$(calc '%.4f' "$P - $B")"
if awk -v p="$P" -v b="$B" 'BEGIN { exit !(p > b) }'; then
	R_F=$(calc '%.3f' "($S - $B) / ($P - $B)")
	printf '%-34s %7s                          target <= 0.25: %s\n' \
		"(sampler-base) / (bpftrace-base)" "$R_F" "$(verdict "$R_F" 0.25)"
else
	printf '%-34s %7s  (bpftrace added nothing measurable)  target <= 0.25: n/a\n' \
		"(sampler-base) / (bpftrace-base)" n/a
fi

# --- cost per event: bpf_stats on, one more run of each ---
say ""
say "cost per event (kernel.bpf_stats_enabled=1, one more run each, not timed):"
STATS_ORIG=$(sysctl -n kernel.bpf_stats_enabled 2>/dev/null) || STATS_ORIG=
if [ -z "$STATS_ORIG" ] || ! sysctl -q -w kernel.bpf_stats_enabled=1 >/dev/null; then
	STATS_ORIG=
	say "  kernel.bpf_stats_enabled is not available: skipped"
else
	stats_table() { # IDS BEFORE AFTER SECONDS LABEL
		local id name runs ns tot_runs=0 tot_ns=0
		printf '  %-24s %10s %12s %12s %8s\n' "$5 program" runs "runs/s" "runs/trip" "ns/run"
		while read -r id name runs ns; do
			[ "$runs" -gt 0 ] || continue
			printf '  %-24s %10d %12.0f %12.3f %8.1f\n' "$name" "$runs" \
				"$(calc '%.1f' "$runs / $4")" "$(calc '%.4f' "$runs / $LOOPS")" "$(calc '%.2f' "$ns / $runs")"
			tot_runs=$((tot_runs + runs)) tot_ns=$((tot_ns + ns))
		done < <(stats_delta "$1" "$2" "$3")
		STAT_NS_TRIP=$(calc '%.1f' "$tot_ns / $LOOPS")
		printf '  %-24s %10d %12s %12.3f   %s ns of BPF per round trip\n' "total" "$tot_runs" "" \
			"$(calc '%.4f' "$tot_runs / $LOOPS")" "$STAT_NS_TRIP"
	}
	foreign_ids() { # BEFORE JSON: htm_ programs not ours
		jq -r --arg o "$OUR_IDS" '($o | split(" ") | map(select(. != "") | tonumber)) as $ours
			| .[] | select((.name | startswith("htm_")) and (.id as $i | $ours | index($i) | not)) | .id' <<<"$1" | tr '\n' ' '
	}

	ROUND=stats
	start_htmd stats
	sleep 0.3
	ids=$(prog_ids_of "$HTMD_PID" | tr '\n' ' ')
	before=$(progs_json)
	t0=$EPOCHREALTIME
	perf_governed "$T/sampler.stats.out"
	t1=$EPOCHREALTIME
	after=$(progs_json)
	stop_htmd
	secs=$(calc '%.6f' "$t1 - $t0")
	stats_table "$ids" "$before" "$after" "$secs" "sampler"
	SAMPLER_NS=$STAT_NS_TRIP
	switches=$(stats_delta "$ids" "$before" "$after" | awk '$2 == "htm_sched_switch" { print $3 }')
	[ -n "$switches" ] && SW_TRIP=$(calc '%.2f' "$switches / $LOOPS")
	[ -n "$switches" ] && say "  sched_switch events: $(calc '%.0f' "$switches / $secs")/s system-wide during the sampler run ($secs s, $(calc '%.2f' "$switches / $LOOPS") per round trip)"
	fids=$(foreign_ids "$before")
	if [ -n "${fids// /}" ]; then
		foreign=$(stats_delta "$fids" "$before" "$after" | awk '{ n += $4 } END { print n + 0 }')
		[ "$foreign" -gt 0 ] &&
			say "  other htm instances' programs (ids ${fids% }): $(calc '%.1f' "$foreign / $LOOPS") ns per round trip, in every configuration"
	fi
	say ""

	start_bpftrace
	ids=$(prog_ids_of "$BT_PID" | tr '\n' ' ')
	before=$(progs_json)
	t0=$EPOCHREALTIME
	perf_plain "$T/bpftrace.stats.out"
	t1=$EPOCHREALTIME
	after=$(progs_json)
	stop_bpftrace
	stats_table "$ids" "$before" "$after" "$(calc '%.6f' "$t1 - $t0")" "bpftrace"
	BT_NS=$STAT_NS_TRIP
	restore_stats

	say ""
	added() { calc '%.0f' "($1 - $B) * 1000"; }
	say "  timed runs: the sampler adds $(added "$S") ns per round trip, $SAMPLER_NS ns of it inside its programs;"
	say "  bpftrace adds $(added "$P") ns, $BT_NS ns of it inside its programs. The rest is dispatch (raw"
	say "  tracepoint for the sampler; trace event record + perf hook for bpftrace) and whatever the"
	say "  programs cost the code around them (caches)."
	say "  per context switch (a round trip is ${SW_TRIP:-2} switches, with their wakeups): sampler adds $(calc '%.0f' "($S - $B) * 1000 / ${SW_TRIP:-2}") ns,"
	say "  bpftrace $(calc '%.0f' "($P - $B) * 1000 / ${SW_TRIP:-2}") ns"
fi

say ""
say "done in $(calc '%.0f' "$EPOCHREALTIME - $START") s; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
