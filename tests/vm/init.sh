#!/bin/sh
# /init of the VM test tier (busybox ash, PID 1). Copied in by tests/vm/run.sh.
#
# Mounts the kernel filesystems, runs each /tests/*.sh (not lib.sh) in name
# order and reports one line per test on /dev/ttyS1, which the host maps to a
# file so kernel messages on the console (ttyS0) cannot garble them:
#   RESULT pass vm/<name>
#   RESULT fail vm/<name> <short reason>
#   RESULT skip vm/<name> <reason>
# A test's own "RESULT ..." lines (sub-checks) are passed through as they are.
# The last line on ttyS1 is RESULT-END; then the guest powers off.
#
# Kernel command line parameters read here (all optional):
#   htm.tests=a,b     run only these tests: a name matches "NN-a", "a" or a glob
#   htm.timeout=N     per-test limit in seconds (default 120); a script can
#                     raise its own with a header line "# vm: timeout=N"
#
# Never `set -e` here: if PID 1 exits the kernel panics.

PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin
HOME=/root
TMPDIR=/tmp
export PATH HOME TMPDIR
umask 022

say() { printf '[init] %s\n' "$*"; }

mnt() {	# mnt TYPE DIR [OPTIONS]; failures are reported, not fatal
	mkdir -p "$2"
	if [ -n "${3:-}" ]; then
		mount -t "$1" -o "$3" "$1" "$2" 2>/dev/null && return 0
	fi
	mount -t "$1" "$1" "$2" 2>/dev/null || { say "could not mount $1 on $2"; return 1; }
}

mnt proc /proc
mnt sysfs /sys
mnt devtmpfs /dev
mnt devpts /dev/pts gid=5,mode=620,ptmxmode=666
mnt tmpfs /dev/shm mode=1777
mnt tmpfs /tmp mode=1777
mnt tmpfs /run mode=755
# The options systemd uses, so protection semantics match a production host;
# plain cgroup2 if the kernel refuses them.
mnt cgroup2 /sys/fs/cgroup nsdelegate,memory_recursiveprot
mnt bpf /sys/fs/bpf mode=700
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
ln -sf /proc/self/fd /dev/fd 2>/dev/null
ln -sf /proc/self/fd/0 /dev/stdin 2>/dev/null
ln -sf /proc/self/fd/1 /dev/stdout 2>/dev/null
ln -sf /proc/self/fd/2 /dev/stderr 2>/dev/null
mkdir -p /var/lib /var/log /var/tmp /root
hostname htm-vm 2>/dev/null
ip link set lo up 2>/dev/null || say "could not bring up lo"

# Results channel. Raw mode: no \n -> \r\n translation, no echo. The open is
# tried in a subshell first: a failed `exec 3>...` would end PID 1.
if [ -c /dev/ttyS1 ] && (exec 3>/dev/ttyS1) 2>/dev/null; then
	exec 3>/dev/ttyS1
	stty -F /dev/ttyS1 raw -echo 115200 2>/dev/null
else
	say "no /dev/ttyS1, results go to the console only"
	exec 3>&1
fi
result() { printf '%s\n' "$*" >&3; say "$*"; }

cmdline=$(cat /proc/cmdline)
filter=
limit_default=120
for arg in $cmdline; do
	case $arg in
	htm.tests=*) filter=${arg#htm.tests=} ;;
	htm.timeout=*) limit_default=${arg#htm.timeout=} ;;
	esac
done
case $limit_default in '' | *[!0-9]*) limit_default=120 ;; esac
say "kernel $(uname -r), $(nproc) cpus, cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers 2>/dev/null)"

selected() {	# selected NAME
	[ -z "$filter" ] && return 0
	_ifs=$IFS; IFS=,
	for _p in $filter; do
		IFS=$_ifs
		[ -z "$_p" ] && continue
		# shellcheck disable=SC2254
		case $1 in $_p | [0-9][0-9]-$_p) return 0 ;; esac
	done
	IFS=$_ifs
	return 1
}

# Signal every userspace process except PID 1 and the pids given; true if
# there was one. Kernel threads are kthreadd (PID 2) and its children, so PPid
# 0 or 2; zombies are skipped. Signal 0 only counts. Only shell builtins here,
# so the loop itself spawns nothing.
kill_strays() {	# kill_strays SIGNAL KEEP_PID...
	_sig=$1; shift
	_n=0
	for _d in /proc/[0-9]*; do
		_p=${_d#/proc/}
		[ "$_p" = 1 ] && continue
		_keep=0
		for _k in "$@"; do [ "$_p" = "$_k" ] && _keep=1; done
		[ $_keep = 1 ] && continue
		_pp='' _st='' _nm=''
		while read -r _key _val _rest; do
			case $_key in
			Name:) _nm=$_val ;;
			State:) _st=$_val ;;
			PPid:) _pp=$_val; break ;;
			esac
		done < "$_d/status" 2>/dev/null
		case $_pp in '' | 0 | 2) continue ;; esac
		[ "$_st" = Z ] && continue
		kill "-$_sig" "$_p" 2>/dev/null || continue
		_n=$((_n + 1))
		[ "$_sig" = 0 ] || say "SIG$_sig to process $_p ($_nm)"
	done
	[ $_n -gt 0 ]
}

# TERM everything but PID 1 and the pids given, then KILL what is still
# there after 2 s.
kill_all() {	# kill_all KEEP_PID...
	kill_strays TERM "$@" || return 0
	_w=20
	while [ $_w -gt 0 ] && kill_strays 0 "$@"; do
		sleep 0.1
		_w=$((_w - 1))
	done
	kill_strays KILL "$@" || :
}

centis() {	# uptime in hundredths of a second
	read -r _up _rest < /proc/uptime
	_i=${_up%.*}
	_f=${_up#*.}
	echo $((_i * 100 + ${_f#0}))
}

oneline() {	# oneline TEXT: one line, at most 200 characters
	printf '%s' "$1" | tr '\r\n\t' '   ' | cut -c1-200
}

mkdir -p /tmp/vmtest
ran=0
for script in /tests/*.sh; do
	[ -f "$script" ] || continue
	name=${script##*/}
	name=${name%.sh}
	[ "$name" = lib ] && continue
	selected "$name" || continue
	ran=$((ran + 1))

	limit=$(sed -n '1,20s/^# vm:.*timeout=\([0-9][0-9]*\).*/\1/p' "$script" | head -n 1)
	[ -n "$limit" ] || limit=$limit_default
	log=/tmp/vmtest/$name.log
	fifo=/tmp/vmtest/$name.fifo
	mark=/tmp/vmtest/$name.timedout
	fin=/tmp/vmtest/$name.done
	rm -f "$fifo" "$mark" "$fin"
	mkfifo "$fifo"
	say "=== $name (limit $limit s) ==="
	t0=$(centis)

	# Reader: prefix to the console, keep a copy, forward RESULT lines.
	(
		exec 4>"$log"
		while IFS= read -r line || [ -n "$line" ]; do
			printf '[%s] %s\n' "$name" "$line"
			printf '%s\n' "$line" >&4
			case $line in "RESULT "*) printf '%s\n' "$line" >&3 ;; esac
		done
	) < "$fifo" &
	reader=$!

	(
		cd /tmp || exit 1
		VMTEST_NAME=$name
		export VMTEST_NAME
		exec sh "$script"
	) > "$fifo" 2>&1 < /dev/null &
	test_pid=$!

	# Watchdog: polls in 0.25 s steps for the done marker, so it ends on its
	# own right after the test and leaves no sleeping child behind. On time
	# out it sends SIGTERM to the test and everything it started (so the
	# test's exit hooks run), then SIGKILL to the test after 5 s.
	(
		read -r self < /proc/self/stat
		self=${self%% *}
		n=$((limit * 4))
		while [ $n -gt 0 ]; do
			sleep 0.25
			[ -e "$fin" ] && exit 0
			n=$((n - 1))
		done
		: > "$mark"
		say "$name: time limit of $limit s reached"
		kill_strays TERM "$reader" "$self"
		n=20
		while [ $n -gt 0 ]; do
			sleep 0.25
			[ -e "$fin" ] && exit 0
			n=$((n - 1))
		done
		kill -KILL "$test_pid" 2>/dev/null
	) &
	watchdog=$!

	wait "$test_pid"
	rc=$?
	: > "$fin"
	wait "$watchdog"
	# Anything the test left behind (daemons, load generators) goes now, so
	# the next test starts clean and the reader sees end of file.
	kill_all "$reader"
	wait "$reader"
	rm -f "$fifo"
	rm -rf /tmp/htm-state /run/htm /tmp/htmd.log
	t1=$(centis)
	dt=$((t1 - t0))
	dt=$((dt / 100)).$((dt / 10 % 10))

	if [ -e "$mark" ]; then
		result "RESULT fail vm/$name timed out after $limit s"
	elif [ "$rc" = 0 ]; then
		result "RESULT pass vm/$name"
	elif [ "$rc" = 77 ]; then
		why=$(grep '^skip:' "$log" | tail -n 1 | sed 's/^skip:[[:space:]]*//')
		result "RESULT skip vm/$name $(oneline "${why:-no reason given}")"
	else
		why=$(grep '^FAIL:' "$log" | tail -n 1 | sed 's/^FAIL:[[:space:]]*//')
		[ -n "$why" ] || why=$(grep -v '^RESULT ' "$log" | grep . | tail -n 1)
		result "RESULT fail vm/$name exit status $rc${why:+: $(oneline "$why")}"
	fi
	say "--- $name done in $dt s (exit status $rc) ---"
done

# A filter entry that matches no test is an error, not a silent no-op.
if [ -n "$filter" ]; then
	_ifs=$IFS; IFS=,
	for p in $filter; do
		IFS=$_ifs
		[ -z "$p" ] && continue
		hit=0
		for script in /tests/*.sh; do
			name=${script##*/}
			name=${name%.sh}
			[ "$name" = lib ] && continue
			# shellcheck disable=SC2254
			case $name in $p | [0-9][0-9]-$p) hit=1 ;; esac
		done
		[ $hit = 1 ] || result "RESULT fail vm/filter no test matches '$p'"
	done
	IFS=$_ifs
fi
[ $ran -gt 0 ] || [ -n "$filter" ] || result "RESULT fail vm/tests no guest tests in /tests"

printf 'RESULT-END\n' >&3
exec 3>&-	# closing a tty waits until its output is sent
sync
say "powering off"
poweroff -f
echo o > /proc/sysrq-trigger
while :; do sleep 1; done
