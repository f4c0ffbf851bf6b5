# SPDX-License-Identifier: MIT
# Shared by the benches in tests/bench (bash). Source it after setting BUILD:
#   . "$(dirname "$0")/lib.sh"
# A bench prints its figures on stdout; it exits 77 after a "skip:" line
# when it cannot run here, 1 after a "FAIL:" line when something broke.

say() { printf '%s\n' "$*"; }
skip() {
	say "skip: $*"
	exit 77
}
die() {
	say "FAIL: $*" >&2
	exit 1
}

# need_cmds CMD...: skip unless every command is installed
need_cmds() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "$c is not installed"
	done
}

# need_built FILE...: die unless $BUILD has them; sets HTMD and HTMCTL
need_built() {
	local b
	for b in htmd htmctl "$@"; do
		[ -e "$BUILD/$b" ] || die "$BUILD/$b is missing; run make first"
	done
	HTMD=$(realpath "$BUILD/htmd")
	HTMCTL=$(realpath "$BUILD/htmctl")
}

# find_cgroup2: sets CG_MOUNT to the cgroup2 mount (from mountinfo, octal
# escapes decoded), or skips
find_cgroup2() {
	CG_MOUNT=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") {
			if ($(i + 1) == "cgroup2") { print $5; exit }
			break } }' /proc/self/mountinfo)
	CG_MOUNT=$(printf '%b' "$CG_MOUNT")
	[ -n "$CG_MOUNT" ] && [ -e "$CG_MOUNT/cgroup.procs" ] || skip "no cgroup2 mount"
}

# pid_alive PID: exists and is not a zombie (kill -0 cannot tell)
pid_alive() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	[ "${s%% *}" != Z ]
}

# stop_htmd [SECONDS]: SIGTERM $HTMD_PID, SIGKILL after SECONDS (10)
stop_htmd() {
	local i n=$((${1:-10} * 20))
	[ -n "${HTMD_PID:-}" ] || return 0
	kill -TERM "$HTMD_PID" 2>/dev/null
	for ((i = 0; i < n; i++)); do
		pid_alive "$HTMD_PID" || break
		sleep 0.05
	done
	if pid_alive "$HTMD_PID"; then
		say "warning: htmd $HTMD_PID still running ${1:-10} s after SIGTERM, killing it" >&2
		kill -KILL "$HTMD_PID"
	fi
	wait "$HTMD_PID" 2>/dev/null
	HTMD_PID=
}
