#!/bin/bash
# SPDX-License-Identifier: MIT
# 01-placement: each running task sits in exactly <root>/<priority>/task-<id>,
# a cgroup of its own that is gone once the task has finished; finished tasks
# are listed as succeeded with exit code 0 and all timestamps.
. "$(dirname "$0")/lib.sh"

PRIOS=(critical high normal low)
write_config "$T/htmd.json" '{ "slots": 8 }'
start_htmd --config "$T/htmd.json"

say "the class cgroups exist under the root"
for p in "${PRIOS[@]}"; do
	[ -d "$CG_ROOT/$p" ] || fail "missing class cgroup $CG_ROOT/$p"
done
ok "$CG_ROOT/{critical,high,normal,low} exist"

say "submit one held task per priority"
declare -A ID
for p in "${PRIOS[@]}"; do
	ID[$p]=$(submit -p "$p" --name "place-$p" -- sh -c \
		"echo task=\$HTM_TASK_ID prio=\$HTM_PRIORITY; cat /proc/self/cgroup; $(hold_until "$T/release")") ||
		fail "htmctl submit -p $p failed"
	info "$p: task ${ID[$p]}"
done
for p in "${PRIOS[@]}"; do
	wait_state "${ID[$p]}" running
done
ok "all four tasks are running"

say "each main process is in <root>/<priority>/task-<id>, one cgroup per task"
declare -A SEEN
for p in "${PRIOS[@]}"; do
	id=${ID[$p]}
	j=$(task_json "$id") || fail "show $id failed"
	pid=$(jqr "$j" .pid)
	cg=$(jqr "$j" .cgroup)
	want=$CG_ROOT/$p/task-$id
	[[ $pid =~ ^[0-9]+$ ]] || fail "task $id: pid is '$pid'"
	[ "$cg" = "$want" ] || fail "task $id: cgroup field is '$cg', expected '$want'"
	actual=$(proc_cgroup "$pid") || fail "task $id: cannot read /proc/$pid/cgroup"
	[ "$actual" = "$want" ] || fail "task $id: pid $pid is in '$actual', expected '$want'"
	grep -qx "$pid" "$want/cgroup.procs" || fail "task $id: pid $pid not in $want/cgroup.procs"
	[ -z "${SEEN[$actual]:-}" ] || fail "tasks ${SEEN[$actual]} and $id share $actual"
	SEEN[$actual]=$id
	ok "task $id ($p): pid $pid in $actual"
done

say "status counts four busy slots"
st=$(ctl -o json status) || fail "status failed"
[ "$(jqr "$st" .slots.busy)" = 4 ] || fail "status slots.busy is $(jqr "$st" .slots.busy), expected 4"
[ "$(jqr "$st" .tasks.running)" = 4 ] || fail "status tasks.running is $(jqr "$st" .tasks.running), expected 4"
ok "slots.busy 4, tasks.running 4"

say "release them; wait exits 0 and the task cgroups are gone"
touch "$T/release"
for p in "${PRIOS[@]}"; do
	id=${ID[$p]}
	expect_rc 0 "htmctl wait $id" ctl wait "$id"
	# a finished task has no cgroup left: no polling, wait means it
	[ ! -e "$CG_ROOT/$p/task-$id" ] || fail "task $id finished but $CG_ROOT/$p/task-$id still exists"
	ok "$CG_ROOT/$p/task-$id removed"
done
left=$(find "$CG_ROOT" -mindepth 2 -maxdepth 2 -type d -name 'task-*')
[ -z "$left" ] || fail "task cgroups left behind: $left"
ok "no task-* cgroup left under $CG_ROOT"

say "list -o json: succeeded, exit code 0, timestamps in order"
L=$(ctl -o json list) || fail "list -o json failed"
jqr "$L" . -e >/dev/null || fail "list -o json does not parse"
now=$(date +%s)
for p in "${PRIOS[@]}"; do
	id=${ID[$p]}
	e=$(jqr "$L" ".[] | select(.id == $id)" -c)
	[ -n "$e" ] || fail "task $id missing from list"
	jqr "$e" '.state == "succeeded" and .exit_code == 0 and .signal == null' -e >/dev/null ||
		fail "task $id: expected succeeded / exit_code 0 / signal null: $e"
	jqr "$e" '.priority == $p and .uid == 0 and .name == "place-\($p)"' --arg p "$p" -e >/dev/null ||
		fail "task $id: wrong priority, uid or name: $e"
	jqr "$e" '[.submitted_at, .started_at, .finished_at] | all(type == "number")
		and .[0] <= .[1] and .[1] <= .[2] and .[2] <= $now + 1 and .[0] > $now - 120' \
		--argjson now "$now" -e >/dev/null ||
		fail "task $id: timestamps missing or out of order: $e"
	ok "task $id: succeeded, exit 0, submitted <= started <= finished"
done
jqr "$L" '[.[].id] == ([.[].id] | sort)' -e >/dev/null || fail "list is not oldest first"
ok "list is ordered oldest first"

say "each task saw its own cgroup and environment"
for p in "${PRIOS[@]}"; do
	id=${ID[$p]}
	log=$(task_field "$id" log)
	[ -f "$log" ] || fail "task $id: no log file $log"
	grep -qx "task=$id prio=$p" "$log" || fail "task $id: log lacks 'task=$id prio=$p': $(cat "$log")"
	grep -qx "0::${CG_ROOT#"$CG_MOUNT"}/$p/task-$id" "$log" ||
		fail "task $id: its /proc/self/cgroup was not ${CG_ROOT#"$CG_MOUNT"}/$p/task-$id: $(cat "$log")"
	ok "task $id: HTM_TASK_ID/HTM_PRIORITY set, /proc/self/cgroup matches"
done

say "stop"
stop_htmd
finish
