#!/bin/bash
# SPDX-License-Identifier: MIT
# 02-cancel: cancel and timeout kill a task's whole process tree (children,
# grandchildren) and remove its cgroup before they are acknowledged; a main
# process that exits leaving a daemonized child finishes only after that
# child is killed.
. "$(dirname "$0")/lib.sh"

write_config "$T/htmd.json" '{ "slots": 4 }'
start_htmd --config "$T/htmd.json"

# main sh + two sleepers + a child sh that starts a grandchild sh
TREE='sleep 300 & sleep 300 & sh -c "sh -c \"sleep 300\" & sleep 300" & sleep 300'
# shellcheck disable=SC2034 # used in an eval
MIN_PROCS=5

# wait_tree ID: wait until the task's cgroup holds the whole tree, then
# record "pid starttime" of every process in $T/pids-ID
wait_tree() {
	local id=$1 cg n
	cg=$(task_field "$id" cgroup)
	[ -d "$cg" ] || fail "task $id: cgroup $cg does not exist"
	wait_until 5 eval '[ "$(cg_count "$cg")" -ge $MIN_PROCS ]' ||
		fail "task $id: only $(cg_count "$cg") processes in $cg"
	sleep 0.1 # let the last forks land
	record_pids "$cg" >"$T/pids-$id"
	n=$(wc -l <"$T/pids-$id")
	ok "task $id: recorded $n processes in $cg: $(cut -d' ' -f1 "$T/pids-$id" | tr '\n' ' ')"
	TREE_CG=$cg
}

# a grandchild: some recorded process whose parent is neither the main
# process nor init
has_grandchild() {
	local main=$1 p st pp
	while read -r p st; do
		pp=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
		[ -n "$pp" ] && [ "$pp" != "$main" ] && [ "$pp" != 1 ] && [ "$p" != "$main" ] && return 0
	done <"$2"
	return 1
}

say "cancel kills the whole tree"
id=$(submit --name tree -- sh -c "$TREE") || fail "submit failed"
wait_state "$id" running
wait_tree "$id"
main=$(task_field "$id" pid)
has_grandchild "$main" "$T/pids-$id" || fail "the task's tree has no grandchild (test setup)"
ok "the tree includes a grandchild"
t0=$(now_us)
capture ctl -o json cancel "$id"
ms=$(elapsed_ms "$t0")
[ "$RC" = 0 ] || { show_output; fail "htmctl cancel $id exited $RC"; }
[ "$(jqr "$OUT" .state)" = cancelled ] || { show_output; fail "cancel reply state is not cancelled"; }
ok "htmctl cancel $id: cancelled after $ms ms"
# the reply comes once the cgroup is dead and removed: check at once
assert_all_dead "$T/pids-$id" "after cancel"
[ ! -e "$TREE_CG" ] || fail "after cancel, $TREE_CG still exists"
ok "cgroup $TREE_CG removed"
j=$(task_json "$id")
jqr "$j" '.state == "cancelled" and (.reason | test("cancel")) and (.finished_at | type == "number")' -e >/dev/null ||
	fail "show $id after cancel: $j"
ok "show: cancelled, reason '$(jqr "$j" .reason)', finished_at set"
expect_rc 1 "htmctl wait on the cancelled task" ctl wait "$id"
expect_rc 1 "htmctl cancel on an already cancelled task" ctl cancel "$id"
printf '%s\n' "$ERR" | grep -q conflict || fail "second cancel: expected a conflict error, got: $ERR"
ok "second cancel is refused with conflict"

say "--timeout 1s kills the whole tree as timed_out"
t0=$(now_us)
id=$(submit --name timeout --timeout 1s -- sh -c "$TREE") || fail "submit failed"
wait_state "$id" running
wait_tree "$id"
expect_rc 1 "htmctl wait $id (task times out)" ctl wait "$id"
ms=$(elapsed_ms "$t0")
[ "$ms" -ge 900 ] && [ "$ms" -lt 5000 ] || fail "the 1 s timeout took effect after $ms ms"
ok "timed out $ms ms after submit"
assert_all_dead "$T/pids-$id" "after timeout"
[ ! -e "$TREE_CG" ] || fail "after timeout, $TREE_CG still exists"
ok "cgroup $TREE_CG removed"
j=$(task_json "$id")
jqr "$j" '.state == "timed_out" and .timeout == 1 and (.finished_at | type == "number")' -e >/dev/null ||
	fail "show $id after timeout: $j"
reason=$(jqr "$j" .reason)
[[ $reason == *"timed out"* && $reason == *1s* ]] || fail "timeout reason does not mention the timeout: '$reason'"
ok "show: timed_out, reason '$reason'"

say "a main process that exits leaving a daemonized child"
# the child detaches (setsid, new session, stdio closed), records its pid,
# and the main process exits 0 only after that
DAEMONIZE="setsid sh -c 'echo \$\$ >$T/daemon.tmp; mv $T/daemon.tmp $T/daemon.pid; exec sleep 300' </dev/null >/dev/null 2>&1 &
i=0; while [ ! -s $T/daemon.pid ] && [ \$i -lt 200 ]; do sleep 0.02; i=\$((i+1)); done; exit 0"
id=$(submit --name daemonize -- sh -c "$DAEMONIZE") || fail "submit failed"
expect_rc 0 "htmctl wait $id (main exits 0)" ctl wait "$id"
[ -s "$T/daemon.pid" ] || fail "the daemonized child never wrote its pid"
dpid=$(cat "$T/daemon.pid")
pid_alive "$dpid" && fail "the daemonized child $dpid is still alive after the task finished"
ok "daemonized child $dpid is gone"
j=$(task_json "$id")
jqr "$j" '.state == "succeeded" and .exit_code == 0' -e >/dev/null || fail "show $id: $j"
cg=$(jqr "$j" .cgroup)
[ ! -e "$cg" ] || fail "task $id finished but $cg still exists"
ok "task $id succeeded with exit 0, $cg removed"

say "a task that made a cgroup of its own inside its task cgroup"
# a root task may nest cgroups (a container runtime, a nested governor):
# its processes there belong to the task too, and so does the directory
NEST='cg=$(grep "^0::" /proc/self/cgroup | cut -d: -f3); cg='"$CG_MOUNT"'$cg
mkdir "$cg/inner" && sh -c "echo \$\$ >$cg/inner/cgroup.procs; exec sleep 300" & sleep 300'
id=$(submit --name nested -- sh -c "$NEST") || fail "submit failed"
wait_state "$id" running
cg=$(task_field "$id" cgroup)
wait_until 5 eval '[ "$(cg_count "$cg/inner")" -ge 1 ]' || fail "task $id did not populate $cg/inner"
sleep 0.1
{ record_pids "$cg"; record_pids "$cg/inner"; } >"$T/pids-$id"
ok "task $id: $(cg_count "$cg") process(es) in $cg, $(cg_count "$cg/inner") in $cg/inner"
expect_rc 0 "htmctl cancel $id" ctl cancel "$id"
assert_all_dead "$T/pids-$id" "after cancel, including the nested cgroup"
if [ -e "$cg" ]; then
	fail_later "task $id cancelled but its cgroup is left behind:" \
		"$(find "$cg" -type d | tr '\n' ' ')($(grep "task $id: rmdir" "$T/htmd.log" | tail -n 1))"
	rmdir "$cg/inner" "$cg" 2>/dev/null # so the checks below see the rest
else
	ok "task $id's cgroup and the one nested in it are removed"
fi

say "no task cgroup left, daemon still fine"
left=$(find "$CG_ROOT" -mindepth 2 -maxdepth 2 -type d -name 'task-*')
[ -z "$left" ] || fail "task cgroups left behind: $left"
st=$(ctl -o json status) || fail "status failed"
[ "$(jqr "$st" .slots.busy)" = 0 ] || fail "slots.busy is $(jqr "$st" .slots.busy) with nothing running"
ok "no task-* cgroups, slots.busy 0"
stop_htmd
finish
