# shellcheck shell=bash
# SPDX-License-Identifier: MIT
#
# Shared helpers for the host tier. Every tests/host/NN-name.sh sources this
# file; tests/run.sh runs them as `BUILD=build bash tests/host/NN-name.sh`
# from the repository root, as root, with a 300 s limit.
#
# What sourcing gives a test:
#   $T            its own temp dir (mode 0755 so uid 65534 can reach sockets)
#   $SOCK $STATE  htmd's socket and state dir inside $T
#   $CG_MOUNT     the cgroup2 mount, read from /proc/self/mountinfo
#   $CG_ROOT      <mount>/htm-test-<pid>-<name>, the daemon's cgroup root
#   $HTMD $HTMCTL absolute paths of the binaries under test
#   start_htmd [ARGS]  stop_htmd [PID]  ctl ARGS  fail MSG  ok MSG  say MSG
#   wait_until SECONDS CMD...  capture CMD...  expect_rc N DESC CMD...
# and an EXIT trap that stops every htmd it started, kills whatever is left
# in the test's cgroup trees (cgroup.kill), removes them bottom-up and
# deletes $T, also when the test failed half way.
#
# Exit codes: 0 pass, 77 skip (after a last line "skip: why"), else fail.

set -u -o pipefail
export LC_ALL=C

BUILD=${BUILD:-build}
TEST_NAME=$(basename "$0" .sh)
T=
HTMD_PID=
HTMD_PIDS=()
BG_PIDS=()
BG_GROUPS=()

say() { printf '\n== %s\n' "$*"; }
ok() { printf 'ok: %s\n' "$*"; }
info() { printf '   %s\n' "$*"; }

skip() {
	printf 'skip: %s\n' "$*"
	exit 77
}

# Print why, the tail of the daemon's log (without libbpf's debug chatter),
# and why again as the last line (tests/run.sh shows a failed log's tail),
# then fail the test. Never call it inside $(...): it would only leave the
# subshell.
fail() {
	printf 'FAIL: %s\n' "$1"
	if [ -n "$T" ] && [ -s "$T/htmd.log" ]; then
		echo "--- htmd.log, last 30 lines (libbpf debug lines left out):"
		grep -v 'debug: libbpf' "$T/htmd.log" | tail -n 30 | sed 's/^/    | /'
		echo "--- end of htmd.log"
	fi
	[ $# -gt 1 ] && printf '%s\n' "${@:2}"
	printf 'FAIL: %s\n' "$1"
	exit 1
}

# Record a failed check and carry on (for independent checks), then
# `finish` at the end exits 1 if any were recorded.
FAILED_CHECKS=()
fail_later() {
	printf 'FAIL: %s\n' "$*"
	FAILED_CHECKS+=("$*")
}

finish() {
	local f lines=()
	if [ ${#FAILED_CHECKS[@]} -gt 0 ]; then
		for f in "${FAILED_CHECKS[@]}"; do
			lines+=("  - $f")
		done
		fail "$TEST_NAME: ${#FAILED_CHECKS[@]} check(s) failed" "${lines[@]}"
	fi
	echo PASS
	exit 0
}

require_root() {
	[ "$(id -u)" = 0 ] || skip "not root (the host tier needs root for cgroups and BPF)"
}

require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "$c is not installed"
	done
}

# First cgroup2 mount point in our mount namespace (octal escapes decoded).
cgroup2_mount() {
	local m
	m=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") {
			if ($(i + 1) == "cgroup2") { print $5; exit }
			break } }' /proc/self/mountinfo)
	[ -n "$m" ] && printf '%b\n' "$m"
}

now_us() { echo "${EPOCHREALTIME/./}"; }

# wait_until SECONDS CMD...: poll CMD every 50 ms; 0 once it succeeds, 1 on
# timeout. CMD runs in this shell, so it may call fail.
wait_until() {
	local limit deadline
	limit=$(awk -v s="$1" 'BEGIN { printf "%d", s * 1000000 }')
	shift
	deadline=$(($(now_us) + limit))
	while :; do
		"$@" && return 0
		[ "$(now_us)" -ge "$deadline" ] && return 1
		sleep 0.05
	done
}

# elapsed_ms START_US: milliseconds since a now_us reading
elapsed_ms() { echo $((($(now_us) - $1) / 1000)); }

# A pid is alive if it exists and is not a zombie (a zombie is dead, only
# not reaped yet). With a start time (field 22 of stat), only that very
# process counts, not a later one that reused the pid.
pid_alive() { # PID [STARTTIME]
	local stat rest
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	rest=${stat##*) }
	set -- "$1" "${2:-}" $rest
	[ "$3" = Z ] && return 1
	[ -z "$2" ] || [ "${22}" = "$2" ]
}

pid_starttime() {
	local stat rest
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	rest=${stat##*) }
	set -- $rest
	echo "${20}"
}

pid_gone() { ! pid_alive "$@"; }

# The cgroup2 directory a process is in, as an absolute path.
proc_cgroup() {
	local line
	line=$(grep '^0::' "/proc/$1/cgroup" 2>/dev/null) || return 1
	line=${line#0::}
	[ "$line" = / ] && line=
	echo "$CG_MOUNT$line"
}

cg_populated() { grep -q '^populated 1' "$1/cgroup.events" 2>/dev/null; }

ctl() { "$HTMCTL" --socket "$SOCK" "$@"; }

# capture CMD...: run it, leave stdout in $OUT, stderr in $ERR, status in $RC
capture() {
	OUT=$("$@" 2>"$T/.stderr")
	RC=$?
	ERR=$(cat "$T/.stderr")
}

show_output() {
	[ -n "${OUT:-}" ] && printf '%s\n' "$OUT" | head -n 20 | sed 's/^/    stdout| /'
	[ -n "${ERR:-}" ] && printf '%s\n' "$ERR" | head -n 20 | sed 's/^/    stderr| /'
	return 0
}

# expect_rc N DESCRIPTION CMD...: CMD must exit with N
expect_rc() {
	local want=$1 desc=$2
	shift 2
	capture "$@"
	if [ "$RC" != "$want" ]; then
		show_output
		fail "$desc: expected exit $want, got $RC"
	fi
	ok "$desc (exit $want)"
}

# jq over a JSON text: jqr JSON FILTER [jq args]
jqr() {
	local json=$1 filter=$2
	shift 2
	printf '%s\n' "$json" | jq -r "$@" "$filter"
}

task_json() { ctl -o json show "$1"; }

# task_field ID FIELD (a jq path without the dot, e.g. state)
task_field() {
	local j
	j=$(task_json "$1") || return 1
	jqr "$j" ".$2"
}

task_state_is() { [ "$(task_field "$1" state 2>/dev/null)" = "$2" ]; }

# wait_state ID STATE [SECONDS]
wait_state() {
	wait_until "${3:-10}" task_state_is "$1" "$2" ||
		fail "task $1 did not reach state $2 within ${3:-10} s (now $(task_field "$1" state))"
}

# submit [htmctl submit options] -- CMD...: prints the new task id
submit() {
	local id
	id=$(ctl submit -q "$@") || return 1
	[[ $id =~ ^[0-9]+$ ]] || return 1
	echo "$id"
}

# The pids in a cgroup, one per line.
cg_pids() { cat "$1/cgroup.procs" 2>/dev/null; }

cg_count() { cg_pids "$1" | wc -l; }

# record_pids CG: prints "pid starttime" lines for every process in CG
record_pids() {
	local p st
	for p in $(cg_pids "$1"); do
		st=$(pid_starttime "$p") && echo "$p $st"
	done
}

# assert_all_dead FILE WHAT
assert_all_dead() {
	local p st alive=
	while read -r p st; do
		pid_alive "$p" "$st" && alive="$alive $p"
	done <"$1"
	if [ -n "$alive" ]; then
		for p in $alive; do
			info "still alive: $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) in $(proc_cgroup "$p")"
		done
		fail "$2: processes still alive:$alive"
	fi
	ok "$2: all $(wc -l <"$1") recorded processes are gone"
}

# A shell snippet that waits until FILE exists (at most 60 s): tasks that
# must stay running until the test lets them go.
hold_until() {
	printf 'i=0; while [ ! -e %q ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done' "$1"
}

htmd_alive() { [ -n "$HTMD_PID" ] && pid_alive "$HTMD_PID"; }

htmd_ready() {
	htmd_alive || fail "htmd (pid $HTMD_PID) exited during startup"
	ctl status >/dev/null 2>&1
}

# Settings every htmd of this test gets so that it shares and changes
# nothing global that other daemons on the machine (a developer's, another
# test's) rely on: its own BPF pin directory, and no flipping of the
# kernel.task_delayacct sysctl (a SIGKILLed htmd cannot restore it). And
# stress thresholds out of reach: the host's own load (this build machine
# sits at high IO pressure) must not make the governor hold back the work a
# test submits; the governor's own tests set the thresholds they need.
# Each key only if this htmd knows it.
STRESS_OFF='"stress": { "cpu_some": [1001, 1002, 1003], "memory_some": [1001, 1002, 1003],
	"memory_full": [1001, 1002, 1003], "io_some": [1001, 1002, 1003],
	"budget_breaches": [1e7, 2e7, 3e7], "memory_available": [0.0003, 0.0002, 0.0001],
	"queue_backlog": [1e8, 2e8, 3e8] }'
base_config() {
	local kv
	if [ -z "${BASE_CONFIG:-}" ]; then
		BASE_CONFIG='{}'
		for kv in "\"bpf_pin_dir\": \"/sys/fs/bpf/htm-test-$$-$TEST_NAME\"" \
			'"delay_accounting": false' "$STRESS_OFF" \
			${HTM_RUNQUEUE_CLOCK:+"\"runqueue_clock\": \"$HTM_RUNQUEUE_CLOCK\""}; do
			echo "{ $kv }" >"$T/.probe.json"
			"$HTMD" --check-config "$T/.probe.json" >/dev/null 2>&1 &&
				BASE_CONFIG=$(jq -c --argjson b "{ $kv }" '. + $b' <<<"$BASE_CONFIG")
		done
	fi
	echo "$BASE_CONFIG"
}

# config_json 'JSON OBJECT': the test's settings over the base ones
config_json() {
	jq -n --argjson a "$(base_config)" --argjson b "$1" '$a * $b'
}

# write_config FILE 'JSON OBJECT': a config file with the base settings
write_config() {
	config_json "$2" >"$1.tmp" && mv "$1.tmp" "$1"
}

# start_htmd [EXTRA ARGS]: start htmd in the background with this test's
# socket, state dir and cgroup root (and, without --config among the
# arguments, a config file holding just the base settings); wait (<= 10 s)
# until `status` answers.
start_htmd() {
	local a has_config=
	for a in "$@"; do
		case $a in -c | --config | --config=*) has_config=1 ;; esac
	done
	if [ -z "$has_config" ]; then
		write_config "$T/base.json" '{}'
		set -- --config "$T/base.json" "$@"
	fi
	echo "+ htmd --socket $SOCK --state-dir $STATE --cgroup-root $CG_ROOT -v $*" >>"$T/htmd.log"
	"$HTMD" --socket "$SOCK" --state-dir "$STATE" --cgroup-root "$CG_ROOT" -v "$@" \
		>>"$T/htmd.log" 2>&1 </dev/null &
	HTMD_PID=$!
	HTMD_PIDS+=("$HTMD_PID")
	wait_until 10 htmd_ready || fail "htmd did not answer 'status' within 10 s"
	ok "htmd started (pid $HTMD_PID)"
}

# stop_htmd [PID]: SIGTERM, then it must exit within 10 s. Sets HTMD_RC and
# HTMD_STOP_MS.
stop_htmd() {
	local pid=${1:-$HTMD_PID} t0
	[ -n "$pid" ] || return 0
	t0=$(now_us)
	kill -TERM "$pid" 2>/dev/null
	if ! wait_until 10 pid_gone "$pid"; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		fail "htmd (pid $pid) did not exit within 10 s of SIGTERM"
	fi
	wait "$pid" 2>/dev/null
	HTMD_RC=$?
	HTMD_STOP_MS=$(elapsed_ms "$t0")
	[ "$pid" = "$HTMD_PID" ] && HTMD_PID=
	[ "$HTMD_RC" = 0 ] || fail "htmd (pid $pid) exited with $HTMD_RC after SIGTERM, expected 0"
	ok "htmd (pid $pid) exited with 0, $HTMD_STOP_MS ms after SIGTERM"
}

# Is PID a background job of this shell not yet reaped? Only those are
# signalled by cleanup: a reaped pid may belong to someone else by now.
our_job() { jobs -p | grep -qx "$1"; }

# Start a helper process in the background and have cleanup kill it.
bg() {
	"$@" &
	BG_PIDS+=("$!")
}

# bg_group 'SHELL COMMAND': run a pipeline in its own process group (setsid)
# in the background; cleanup kills the whole group.
bg_group() {
	setsid bash -c "$1" &
	BG_GROUPS+=("$!")
}

# Kill every background helper (bg, bg_group, the coprocess) now.
kill_bg() {
	local p
	for p in "${BG_GROUPS[@]}"; do
		our_job "$p" || continue
		kill -KILL -- "-$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	for p in "${BG_PIDS[@]}"; do
		our_job "$p" || continue
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	BG_GROUPS=()
	BG_PIDS=()
}

# --- a raw protocol connection, kept open (socat as a coprocess) ---
conn_open() {
	coproc CONN { exec socat - "UNIX-CONNECT:$SOCK"; }
	CONN_CHILD=$CONN_PID # bash unsets CONN_PID once it reaps the coprocess
	CONN_W=${CONN[1]}
	CONN_R=${CONN[0]}
	BG_PIDS+=("$CONN_CHILD")
}

conn_send() { printf '%s\n' "$1" >&"$CONN_W"; }

# conn_recv [SECONDS]: one reply line into $REPLY_LINE; 1 if none came
# shellcheck disable=SC2034 # REPLY_LINE is for the caller
conn_recv() {
	REPLY_LINE=
	IFS= read -r -t "${1:-5}" REPLY_LINE <&"$CONN_R"
}

conn_close() {
	[ -e "/proc/$$/fd/$CONN_W" ] && exec {CONN_W}>&-
	[ -e "/proc/$$/fd/$CONN_R" ] && exec {CONN_R}<&-
	wait "$CONN_CHILD" 2>/dev/null
	return 0
}

cleanup() {
	local rc=$? problems=0 p root n
	trap - EXIT
	set +e
	kill_bg 2>/dev/null
	for p in "${HTMD_PIDS[@]}"; do
		our_job "$p" || continue
		pid_alive "$p" || { wait "$p" 2>/dev/null; continue; }
		kill -TERM "$p" 2>/dev/null
		if ! wait_until 10 pid_gone "$p"; then
			echo "cleanup: htmd $p still running 10 s after SIGTERM, killing it"
			kill -KILL "$p" 2>/dev/null
			problems=1
		fi
		wait "$p" 2>/dev/null
	done
	if [ -n "${CG_MOUNT:-}" ]; then
		for root in "$CG_MOUNT/htm-test-$$-"*; do
			[ -d "$root" ] || continue
			if cg_populated "$root"; then
				n=$(find "$root" -name cgroup.procs -exec cat {} + 2>/dev/null | wc -l)
				echo "cleanup: killing $n process(es) left in $root"
				if [ -e "$root/cgroup.kill" ]; then
					echo 1 >"$root/cgroup.kill"
				else
					# shellcheck disable=SC2046 # pids, one per word
					kill -KILL $(find "$root" -name cgroup.procs -exec cat {} + 2>/dev/null) 2>/dev/null
				fi
				wait_until 5 eval '! cg_populated "$root"' ||
					echo "cleanup: $root still populated"
			fi
			find "$root" -depth -type d -exec rmdir {} \; 2>/dev/null
			if [ -d "$root" ]; then
				echo "cleanup: could not remove $root"
				problems=1
			fi
		done
	fi
	for root in /sys/fs/bpf/htm-test-$$-*; do
		[ -d "$root" ] && rm -rf "$root"
	done
	[ -n "$T" ] && rm -rf "$T"
	[ "$rc" = 0 ] && [ "$problems" != 0 ] && rc=1
	exit "$rc"
}

# --- set up ---
require_root
require_cmd jq socat awk
CG_MOUNT=$(cgroup2_mount) || true
[ -n "$CG_MOUNT" ] && [ -d "$CG_MOUNT" ] || skip "no cgroup2 mount in /proc/self/mountinfo"
[ -e "$CG_MOUNT/cgroup.procs" ] || skip "$CG_MOUNT is not a cgroup2 hierarchy"

for b in htmd htmctl; do
	[ -x "$BUILD/$b" ] || {
		echo "FAIL: $BUILD/$b is missing; run make first"
		exit 1
	}
done
HTMD=$(realpath "$BUILD/htmd")
HTMCTL=$(realpath "$BUILD/htmctl")

T=$(mktemp -d /tmp/htm-host.XXXXXX)
chmod 0755 "$T"
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
SOCK=$T/htmd.sock
STATE=$T/state
CG_ROOT=$CG_MOUNT/htm-test-$$-$TEST_NAME
: >"$T/htmd.log"
echo "test $TEST_NAME: temp dir $T, cgroup root $CG_ROOT"

BASE_CONFIG=$(base_config)
