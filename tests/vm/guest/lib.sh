# Helpers for guest tests of the VM tier (POSIX sh, busybox ash).
# Source it with:   . "${0%/*}/lib.sh"
#
# /init runs each test with its output captured; conventions:
#   exit 0 pass; exit 77 skip, reason from the last "skip: ..." line;
#   anything else fail, reason from the last "FAIL: ..." line.
#   A test may print extra "RESULT pass|fail|skip vm/<name> ..." lines for
#   sub-checks; /init forwards them to the host as they are.
# After each test /init kills every process the test left running and removes
# /tmp/htm-state, /run/htm and /tmp/htmd.log.

HTM_SOCK=/run/htm/test.sock
HTM_STATE=/tmp/htm-state
HTMD_LOG=/tmp/htmd.log
HTMCTL="htmctl --socket $HTM_SOCK"
HTMD_PID=
: "${HTMD_START_TIMEOUT:=10}"

# --- exit hooks -------------------------------------------------------------
# at_exit "command": run at exit, last registered first.
_lib_exit_hooks=
at_exit() { _lib_exit_hooks="$1
$_lib_exit_hooks"; }
_lib_on_exit() {
	_rc=$?
	trap - EXIT
	_hooks=$_lib_exit_hooks
	_lib_exit_hooks=
	if [ -n "$_hooks" ]; then
		_old_ifs=$IFS
		IFS='
'
		for _h in $_hooks; do IFS=$_old_ifs; eval "$_h" || :; done
		IFS=$_old_ifs
	fi
	exit $_rc
}
trap _lib_on_exit EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# --- verdicts ---------------------------------------------------------------
info() { printf '%s\n' "$*"; }

# Milliseconds since boot; busybox date has no %N, /proc/uptime has 10 ms resolution.
now_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }

fail() {
	if [ -s "$HTMD_LOG" ]; then	# only exists if this test started htmd
		echo "--- last lines of $HTMD_LOG ---"
		tail -n 20 "$HTMD_LOG"
	fi
	printf 'FAIL: %s\n' "$*"
	exit 1
}

skip() {
	printf 'skip: %s\n' "$*"
	exit 77
}

# sub-check results, forwarded to the host by /init
result_pass() { printf 'RESULT pass vm/%s\n' "$1"; }
result_fail() { _r=$1; shift; printf 'RESULT fail vm/%s %s\n' "$_r" "$*"; }
result_skip() { _r=$1; shift; printf 'RESULT skip vm/%s %s\n' "$_r" "$*"; }

# --- processes --------------------------------------------------------------
# alive PID: true while PID exists and is not a zombie (kill -0 succeeds on
# an unreaped child, so it cannot tell).
alive() {
	[ -r "/proc/$1/stat" ] || return 1
	read -r _stat < "/proc/$1/stat" 2>/dev/null || return 1
	_s=${_stat##*) }
	_s=${_s%% *}
	[ "$_s" != Z ]
}

# wait_for SECONDS COMMAND...: retry COMMAND every 0.1 s until it succeeds.
wait_for() {
	_n=$(($1 * 10)); shift
	while [ $_n -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		_n=$((_n - 1))
	done
	"$@"
}

# --- the daemon ---------------------------------------------------------------
# htmd_start [extra htmd args]: start htmd in the background, log appended to
# /tmp/htmd.log, and wait (HTMD_START_TIMEOUT, default 10 s) until
# `htmctl status` answers. Fails the test if it does not come up. The daemon
# is stopped at exit if the test does not do it.
htmd_start() {
	command -v htmd >/dev/null 2>&1 || fail "htmd is not in the initramfs (not built?)"
	command -v htmctl >/dev/null 2>&1 || fail "htmctl is not in the initramfs (not built?)"
	[ -z "$HTMD_PID" ] || fail "htmd_start: htmd already running (pid $HTMD_PID)"
	mkdir -p "${HTM_SOCK%/*}" "$HTM_STATE"
	echo "=== htmd --socket $HTM_SOCK --state-dir $HTM_STATE -v $* ===" >> "$HTMD_LOG"
	htmd --socket "$HTM_SOCK" --state-dir "$HTM_STATE" -v "$@" >> "$HTMD_LOG" 2>&1 &
	HTMD_PID=$!
	at_exit htmd_stop
	_n=$((HTMD_START_TIMEOUT * 10))
	while [ $_n -gt 0 ]; do
		if $HTMCTL status >/dev/null 2>&1; then
			info "htmd running (pid $HTMD_PID)"
			return 0
		fi
		if ! alive "$HTMD_PID"; then
			_rc=0
			wait "$HTMD_PID" || _rc=$?
			HTMD_PID=
			fail "htmd exited with status $_rc during startup"
		fi
		sleep 0.1
		_n=$((_n - 1))
	done
	fail "htmd not ready within $HTMD_START_TIMEOUT s ($HTMCTL status kept failing)"
}

# quiet_config FILE [MEMBERS]: an htmd config whose stress levels cannot
# be reached (the guest's own PSI, io_some especially, is high under TCG and
# would freeze normal and low work), plus any extra top-level MEMBERS, e.g.
# '"slots": 4'. For tests of something other than the governor.
quiet_config() {
	cat >"$1" <<J
{ ${2:+$2,}
  "stress": { "cpu_some": [1001, 1002, 1003], "memory_some": [1001, 1002, 1003],
              "memory_full": [1001, 1002, 1003], "io_some": [1001, 1002, 1003],
              "budget_breaches": [1e7, 2e7, 3e7], "memory_available": [0.0003, 0.0002, 0.0001],
              "queue_backlog": [1e8, 2e8, 3e8] } }
J
}

# htmd_stop [SECONDS]: SIGTERM, wait (default 10 s), then SIGKILL. Always
# returns 0 (safe under set -e); htmd's exit status is left in HTMD_RC
# (143 if it died of the SIGTERM itself, 137 if it had to be killed).
HTMD_RC=
htmd_stop() {
	[ -n "$HTMD_PID" ] || return 0
	_pid=$HTMD_PID
	HTMD_PID=
	kill -TERM "$_pid" 2>/dev/null || :
	_n=$((${1:-10} * 10))
	while [ $_n -gt 0 ] && alive "$_pid"; do
		sleep 0.1
		_n=$((_n - 1))
	done
	if alive "$_pid"; then
		echo "htmd (pid $_pid) ignored SIGTERM for ${1:-10} s, killing it"
		kill -KILL "$_pid" 2>/dev/null || :
	fi
	HTMD_RC=0
	wait "$_pid" || HTMD_RC=$?
	info "htmd stopped, exit status $HTMD_RC"
	return 0
}

# --- environment ------------------------------------------------------------
# cgroup2 mount point, from mountinfo (never hard-coded).
cgroup2_root() {
	awk '$0 ~ / - cgroup2 / { print $5; exit }' /proc/self/mountinfo
}

need() {	# need CMD...: skip unless every command exists
	for _c in "$@"; do
		command -v "$_c" >/dev/null 2>&1 || skip "$_c not available in the guest"
	done
}
