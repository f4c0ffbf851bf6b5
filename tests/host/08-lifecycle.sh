#!/bin/bash
# SPDX-License-Identifier: MIT
# 08-lifecycle: a second htmd on the same socket or state dir refuses to start
# and leaves the first alone; a stale socket is taken over, anything else at
# the socket path is not; SIGTERM with running tasks kills them, removes
# their cgroups and the socket, and exits within seconds; status reports the
# sampler and the missing controllers.
. "$(dirname "$0")/lib.sh"

write_config "$T/htmd.json" '{ "slots": 4 }'
start_htmd --config "$T/htmd.json"
FIRST=$HTMD_PID

say "status reports the sampler and the cgroup controllers"
st=$(ctl -o json status) || fail "status failed"
jqr "$st" '.sampler.state' -e >/dev/null || fail "status has no sampler.state: $st"
info "sampler: $(jqr "$st" .sampler -c)"
[ "$(jqr "$st" .sampler.state)" = attached ] ||
	fail "sampler is $(jqr "$st" .sampler.state) ($(jqr "$st" .sampler.reason)), expected attached: BPF works on this host"
jqr "$st" '.sampler.programs | length > 0' -e >/dev/null ||
	fail "the attached sampler lists no programs: $(jqr "$st" .sampler -c)"
ok "sampler attached, programs $(jqr "$st" '.sampler.programs | join(",")')"
info "cgroup: $(jqr "$st" .cgroup -c)"
[ "$(jqr "$st" .cgroup.mount)" = "$CG_MOUNT" ] || fail "status cgroup.mount is $(jqr "$st" .cgroup.mount), expected $CG_MOUNT"
[ "$(jqr "$st" .cgroup.root)" = "$CG_ROOT" ] || fail "status cgroup.root is $(jqr "$st" .cgroup.root)"
# this host's cgroup2 has no controllers: whatever the mount offers is what
# may be enforced, everything else must be reported missing
avail=$(cat "$CG_MOUNT/cgroup.controllers")
for c in cpu io memory; do
	if [[ " $avail " == *" $c "* ]]; then
		info "$c is available on $CG_MOUNT here, not checking that it is missing"
		continue
	fi
	jqr "$st" '(.cgroup.missing | index($c) != null) and (.cgroup.enforced | index($c) == null)' --arg c "$c" -e >/dev/null ||
		fail "controller $c is not available but status does not list it as missing: $(jqr "$st" .cgroup -c)"
done
if [[ " $avail " != *" cpu "* ]]; then
	jqr "$st" '.cgroup.controls["cpu.weight"] == false and .cgroup.controls["cpu.idle"] == false' -e >/dev/null ||
		fail "cpu.weight / cpu.idle reported as controllable without the cpu controller"
fi
ok "missing: $(jqr "$st" '.cgroup.missing | join(",")'); enforced: [$(jqr "$st" '.cgroup.enforced | join(",")')]"

say "a task to keep running through the next checks"
keep=$(submit --name keeper -- sh -c "sleep 300 & $(hold_until "$T/never")") || fail "submit failed"
wait_state "$keep" running
keep_cg=$(task_field "$keep" cgroup)
keep_pid=$(task_field "$keep" pid)
record_pids "$keep_cg" >"$T/keep-pids"
ok "task $keep running in $keep_cg"

PIN_DIR=$(jq -r '.bpf_pin_dir // empty' "$T/htmd.json")
pins() { [ -n "$PIN_DIR" ] && ls "$PIN_DIR" 2>/dev/null | tr '\n' ' '; }
PINS=$(pins)
[ -n "$PIN_DIR" ] && info "BPF pins in $PIN_DIR: $PINS"

first_undisturbed() {
	pid_alive "$FIRST" || fail "$1: the first htmd died"
	[ "$(pins)" = "$PINS" ] || fail "$1: the first htmd's BPF pins in $PIN_DIR changed from '$PINS' to '$(pins)'"
	[ "$(ctl -o json status | jq -r .sampler.state)" = attached ] || fail "$1: the first htmd's sampler is no longer attached"
	[ "$(ctl -o json status | jq .pid)" = "$FIRST" ] || fail "$1: the socket no longer leads to the first htmd"
	task_state_is "$keep" running || fail "$1: task $keep is $(task_field "$keep" state)"
	[ -d "$keep_cg" ] && grep -qx "$keep_pid" "$keep_cg/cgroup.procs" ||
		fail "$1: task $keep's cgroup $keep_cg or its process $keep_pid is gone"
	ok "$1: the first htmd, its socket and task $keep are undisturbed"
}

# second_htmd DESC ARGS...: start another htmd; it must exit non-zero within
# 10 s with a message on stderr
second_htmd() {
	local desc=$1 pid
	shift
	"$HTMD" "$@" >"$T/second.out" 2>&1 </dev/null &
	pid=$!
	HTMD_PIDS+=("$pid")
	wait_until 10 pid_gone "$pid" || fail "$desc: the second htmd is still running after 10 s"
	wait "$pid"
	SECOND_RC=$?
	SECOND_OUT=$(grep -v 'debug: libbpf' "$T/second.out")
	[ "$SECOND_RC" != 0 ] || fail "$desc: the second htmd exited 0"
	info "exit $SECOND_RC: $(printf '%s\n' "$SECOND_OUT" | grep -E 'err|error' | tail -n 2 | tr '\n' ' ')"
}

say "a second htmd on the same socket refuses to start"
second_htmd "same socket" --config "$T/htmd.json" --socket "$SOCK" --state-dir "$T/state2" --cgroup-root "$CG_ROOT" -v
[[ $SECOND_OUT == *"another htmd"* ]] || fail "same socket: no clear message: $SECOND_OUT"
ok "refused (exit $SECOND_RC): $(grep -o '[^:]*another htmd[^,]*' <<<"$SECOND_OUT" | head -n 1)"
[ -S "$SOCK" ] || fail "the first htmd's socket file is gone"
first_undisturbed "after a second htmd on the same socket (and cgroup root)"

say "a second htmd on the same state dir refuses to start"
second_htmd "same state dir" --config "$T/htmd.json" --socket "$T/second.sock" --state-dir "$STATE" --cgroup-root "$CG_ROOT-second"
[[ $SECOND_OUT == *"another htmd"* ]] || fail "same state dir: no clear message: $SECOND_OUT"
ok "refused (exit $SECOND_RC): $(grep -o '[^:]*another htmd[^,]*' <<<"$SECOND_OUT" | head -n 1)"
[ ! -e "$T/second.sock" ] || fail "the refused htmd left its socket $T/second.sock"
first_undisturbed "after a second htmd on the same state dir"

say "SIGTERM with running tasks"
ids=("$keep")
for i in 1 2; do
	id=$(submit --name "tree-$i" -- sh -c 'sleep 300 & sh -c "sleep 300 & sleep 300" & sleep 300') || fail "submit failed"
	ids+=("$id")
done
for id in "${ids[@]}"; do
	wait_state "$id" running
	cg=$(task_field "$id" cgroup)
	wait_until 5 eval '[ "$(cg_count "$cg")" -ge 2 ]' || fail "task $id has no children"
	record_pids "$cg" >>"$T/all-pids"
	echo "$cg" >>"$T/all-cgs"
done
sleep 0.1
for cg in $(cat "$T/all-cgs"); do record_pids "$cg"; done | sort -u >"$T/all-pids.tmp"
mv "$T/all-pids.tmp" "$T/all-pids"
ok "${#ids[@]} tasks running, $(wc -l <"$T/all-pids") processes recorded"
# a client waiting on a task while the daemon goes away must not hang
bg "$HTMCTL" --socket "$SOCK" wait "$keep" >"$T/waiter.out" 2>&1
waiter=$!
wait_until 5 eval '[ "$(ctl -o json status | jq .connections)" -ge 2 ]' || fail "the waiting client is not connected"
stop_htmd "$FIRST"
[ "$HTMD_STOP_MS" -lt 6000 ] || fail "htmd took $HTMD_STOP_MS ms to exit"
ok "exited 0 after $HTMD_STOP_MS ms"
assert_all_dead "$T/all-pids" "after SIGTERM"
for cg in $(cat "$T/all-cgs"); do
	[ ! -e "$cg" ] || fail "task cgroup $cg left behind after SIGTERM"
done
ok "task cgroups removed: $(tr '\n' ' ' <"$T/all-cgs")"
[ ! -e "$SOCK" ] || fail "socket $SOCK left behind"
ok "socket file removed"
wait_until 5 pid_gone "$waiter" || fail "a client in 'htmctl wait' still hangs after htmd exited"
wait "$waiter"
wrc=$?
info "the waiting client exited $wrc: $(cat "$T/waiter.out")"
[ "$wrc" = 1 ] || [ "$wrc" = 3 ] || fail "the waiting client exited $wrc, expected 1 (cancelled) or 3 (gone)"
ok "the waiting client returned (exit $wrc)"
expect_rc 3 "htmctl status after htmd exited" ctl status

say "a stale socket (no listener) is taken over"
bg socat "UNIX-LISTEN:$SOCK,unlink-close=0" /dev/null
wait_until 5 test -S "$SOCK" || fail "could not create a socket file with socat"
kill_bg 2>/dev/null
[ -S "$SOCK" ] || fail "socat removed its socket file"
expect_rc 3 "htmctl status on the stale socket" ctl status
start_htmd --config "$T/htmd.json"
ok "started on the stale socket"
id=$(submit -- true) || fail "submit failed"
[ "$id" -gt "${ids[-1]}" ] || fail "task ids restarted: new task $id after ${ids[-1]}"
expect_rc 0 "a task runs after the takeover (id $id continues after ${ids[-1]})" ctl wait "$id"

say "after SIGKILL (crash), the next htmd takes over the socket and state dir"
{
	kill -KILL "$HTMD_PID"
	wait "$HTMD_PID"
} 2>/dev/null
[ -S "$SOCK" ] || fail "the killed htmd's socket file is gone (cannot test the takeover)"
# restarted at once, as a supervisor would
echo "+ htmd (restart right after SIGKILL)" >>"$T/htmd.log"
"$HTMD" --config "$T/htmd.json" --socket "$SOCK" --state-dir "$STATE" --cgroup-root "$CG_ROOT" \
	>>"$T/htmd.log" 2>&1 </dev/null &
HTMD_PID=$!
HTMD_PIDS+=("$HTMD_PID")
wait_until 10 eval 'pid_gone $HTMD_PID || ctl status >/dev/null 2>&1'
if pid_alive "$HTMD_PID"; then
	ok "an htmd started right after the SIGKILL took over"
else
	wait "$HTMD_PID"
	fail_later "an htmd started right after SIGKILL of the previous one refused (exit $?):" \
		"$(grep -E 'err:' "$T/htmd.log" | tail -n 2 | tr '\n' ' ')"
	# the dead daemon's listening socket lingers until the kernel has torn
	# down its io_uring (with the pending accept); then it is refused
	wait_until 5 eval '! socat -u OPEN:/dev/null "UNIX-CONNECT:$SOCK" 2>/dev/null' ||
		fail "the dead htmd's socket still accepts connections 5 s after SIGKILL"
	start_htmd --config "$T/htmd.json"
	ok "started once connecting to the dead htmd's socket was refused"
fi
id2=$(submit -- true) || fail "submit failed"
expect_rc 0 "a task runs after the restart" ctl wait "$id2"

say "a non-socket file at the socket path is not deleted"
stop_htmd
echo "precious data" >"$T/precious"
"$HTMD" --config "$T/htmd.json" --socket "$T/precious" --state-dir "$STATE" --cgroup-root "$CG_ROOT" >"$T/precious.out" 2>&1 </dev/null &
pp=$!
HTMD_PIDS+=("$pp")
# it should refuse and exit; if it comes up instead, that is the answer too
wait_until 5 eval 'pid_gone $pp || "$HTMCTL" --socket "$T/precious" status >/dev/null 2>&1'
if pid_alive "$pp"; then
	prc="it came up, the path is now a $(stat -c %F "$T/precious" 2>&1)"
	stop_htmd "$pp" >/dev/null
else
	wait "$pp"
	prc="exit $?"
fi
info "htmd --socket <regular file>: $prc: $(grep -v 'debug: libbpf' "$T/precious.out" | tail -n 2 | tr '\n' ' ')"
if [ -f "$T/precious" ] && [ "$(cat "$T/precious")" = "precious data" ] && [[ $prc == "exit "[1-9]* ]]; then
	ok "refused ($prc), the regular file at the socket path is intact"
else
	fail_later "htmd --socket <regular file> did not refuse to start; it deleted the file ($prc)"
fi

say "a cgroup root outside the cgroup2 mount is refused"
capture timeout 10 "$HTMD" --config "$T/htmd.json" --socket "$T/other.sock" --state-dir "$T/other-state" --cgroup-root "$T/not-a-cgroup"
[ "$RC" != 0 ] && [ "$RC" != 124 ] || fail "htmd with --cgroup-root outside cgroup2 exited $RC"
[ ! -e "$T/other.sock" ] || fail "the refused htmd left $T/other.sock"
ok "refused (exit $RC): $(grep -v 'debug: libbpf' <<<"$ERR" | grep -E 'err' | tail -n 1)"

finish
