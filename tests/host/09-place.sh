#!/bin/bash
# SPDX-License-Identifier: MIT
# 09-place: `htmctl place CGROUP -p PRIO [--budget DUR]` adopts an existing
# cgroup as a governed, long-running task; `htmctl unplace` lets it go.
# This host has no cpu/memory/io controllers on its cgroup2 mount, so the
# knob values are the VM tier's to check; here: the refusals (a clear
# message, exit 1, nothing changed), the bookkeeping (status placements,
# list/show, no run slot taken, cancel refused), that htmd never touches
# the processes of a cgroup it did not make, and that placements outlive
# a restart while an unplace is final.
. "$(dirname "$0")/lib.sh"

# Test cgroups outside htmd's root, named so that lib.sh's cleanup finds
# them (htm-test-<pid>-*): a "service" with a process in it, and a home
# for htmd itself.
TREE=$CG_MOUNT/htm-test-$$-svc
SVC=$TREE/web.service
GONE=$TREE/gone.service
HOME_CG=$CG_MOUNT/htm-test-$$-home
HTMD_CG=$HOME_CG/htmd.service
# htmd's root one level down, as in a slice, so that it has an ancestor
# below the mount (placing that would govern htmd's own classes)
CG_PARENT=$CG_ROOT
CG_ROOT=$CG_PARENT/htm.slice
mkdir -p "$SVC" "$GONE" "$HTMD_CG" "$CG_PARENT" || fail "cannot create test cgroups under $CG_MOUNT"

# a sleeping service process, moved into $SVC before it execs sleep
bg sh -c "echo \$\$ >'$SVC/cgroup.procs' && exec sleep 600"
SVC_PID=${BG_PIDS[-1]}
wait_until 5 grep -qx "$SVC_PID" "$SVC/cgroup.procs" || fail "pid $SVC_PID did not reach $SVC"
SVC_START=$(pid_starttime "$SVC_PID")
ok "service process $SVC_PID in $SVC"

svc_untouched() { # WHEN
	pid_alive "$SVC_PID" "$SVC_START" || fail "$1: the service process $SVC_PID is gone"
	[ "$(proc_cgroup "$SVC_PID")" = "$SVC" ] ||
		fail "$1: the service process is in $(proc_cgroup "$SVC_PID"), not $SVC"
	[ -d "$SVC" ] || fail "$1: $SVC no longer exists"
	[ "$(cat "$SVC/cgroup.freeze")" = 0 ] || fail "$1: $SVC is frozen"
	ok "$1: process $SVC_PID alive in $SVC, not frozen"
}

placements() { ctl -o json status | jq -c '.placements'; }
ntasks() { ctl -o json list | jq length; }

write_config "$T/htmd.json" '{ "slots": 2 }'
start_htmd --config "$T/htmd.json"

say "nothing is placed at first"
[ "$(placements)" = "[]" ] || fail "placements at start: $(placements)"
[ "$(ntasks)" = 0 ] || fail "tasks at start: $(ntasks)"
ok "placements [], no tasks"

# htmd moves to a cgroup of its own, as under systemd (here it starts in
# whatever cgroup the test runs in, possibly the root)
echo "$HTMD_PID" >"$HTMD_CG/cgroup.procs" || fail "cannot move htmd into $HTMD_CG"
[ "$(proc_cgroup "$HTMD_PID")" = "$HTMD_CG" ] || fail "htmd is in $(proc_cgroup "$HTMD_PID")"
ok "htmd (pid $HTMD_PID) runs in $HTMD_CG"

# refused PATH MESSAGE-PART DESC: exit 1 with the daemon's reason, and
# nothing placed, no task made
refused() {
	local path=$1 want=$2 desc=$3 before_p before_n
	before_p=$(placements)
	before_n=$(ntasks)
	capture ctl place "$path" -p high
	if [ "$RC" != 1 ]; then
		show_output
		fail "place $desc ($path): exit $RC, expected 1"
	fi
	if [[ $ERR != *"$want"* ]]; then
		show_output
		fail "place $desc ($path): the message lacks '$want'"
	fi
	[ "$(placements)" = "$before_p" ] || fail "place $desc: placements changed to $(placements)"
	[ "$(ntasks)" = "$before_n" ] || fail "place $desc: a task was made"
	ok "place $desc refused (exit 1): $ERR"
}

say "paths htmd must refuse, each with its reason"
refused "$TREE/no-such.service" "no such cgroup" "a path that does not exist"
refused "$SVC/cgroup.procs" "no such cgroup" "a file, not a directory"
refused "$T" "is not a cgroup below the cgroup2 mount $CG_MOUNT" "a directory outside the cgroup2 mount"
refused "$CG_MOUNT" "is not a cgroup below the cgroup2 mount" "the cgroup2 mount itself"
# a cgroup v1 hierarchy is a cgroup, but not of the cgroup2 mount
for v1 in /sys/fs/cgroup/pids /sys/fs/cgroup/memory /sys/fs/cgroup/systemd; do
	if [ -e "$v1/cgroup.procs" ] && [ "$(realpath "$v1")" != "$(realpath "$CG_MOUNT")" ] &&
		! [[ $(realpath "$CG_MOUNT") == "$(realpath "$v1")"/* ]]; then
		refused "$v1" "is not a cgroup below the cgroup2 mount" "a cgroup v1 hierarchy"
		break
	fi
done
refused "$CG_ROOT" "is inside htmd's own tree" "htmd's own root"
refused "$CG_ROOT/low" "is inside htmd's own tree" "a class cgroup of htmd"
refused "$CG_ROOT/../$(basename "$CG_ROOT")/critical" "is inside htmd's own tree" \
	"htmd's tree spelled with .."
refused "$CG_PARENT" "contains htmd's own tree $CG_ROOT" "the parent of htmd's root"
refused "$HTMD_CG" "holds htmd itself" "the cgroup htmd runs in"
refused "$HOME_CG" "holds htmd itself" "an ancestor of htmd's cgroup"
# a raw client's relative path: htmd's working directory is no answer
conn_open
conn_send '{"v":1,"cmd":"place","path":"web.service","priority":"low"}'
conn_recv 5 || fail "no reply to a place with a relative path"
jqr "$REPLY_LINE" '.ok == false and .error.code == "bad_request"
	and (.error.message | contains("not an absolute path"))' -e >/dev/null ||
	fail "place with a relative path over the socket: $REPLY_LINE"
conn_close
[ "$(placements)" = "[]" ] || fail "a relative path changed placements: $(placements)"
ok "a relative path over the socket: $(jqr "$REPLY_LINE" .error.message)"
svc_untouched "after the refusals"

say "usage errors: exit 2, nothing sent"
expect_rc 2 "place without -p" ctl place "$SVC"
expect_rc 2 "place -p urgent" ctl place "$SVC" -p urgent
expect_rc 2 "place --budget nonsense" ctl place "$SVC" -p high --budget 5parsecs
expect_rc 2 "place with two paths" ctl place "$SVC" "$GONE" -p high
expect_rc 2 "unplace -p" ctl unplace "$SVC" -p low
expect_rc 2 "unplace with no path" ctl unplace
[ "$(placements)" = "[]" ] || fail "usage errors changed placements: $(placements)"
ok "placements still []"

if command -v setpriv >/dev/null && [ "$(id -u nobody 2>/dev/null)" = 65534 ]; then
	say "an unprivileged user may not place"
	cp "$HTMCTL" "$T/htmctl" && chmod 0755 "$T/htmctl"
	capture setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$T/htmctl" --socket "$SOCK" place "$SVC" -p critical
	[ "$RC" = 1 ] || { show_output; fail "nobody: place exited $RC, expected 1"; }
	[[ $ERR == *permission_denied* ]] || { show_output; fail "nobody: not permission_denied"; }
	[ "$(placements)" = "[]" ] || fail "nobody's place changed placements: $(placements)"
	ok "nobody: permission_denied (exit 1), nothing placed"
fi

say "place the service at high with a run-queue budget"
capture ctl -o json place "$SVC" -p high --budget 20ms
[ "$RC" = 0 ] || { show_output; fail "place $SVC exited $RC"; }
J=$OUT
ID=$(jqr "$J" .id)
[[ $ID =~ ^[0-9]+$ ]] || fail "place -o json gave no task id: $J"
jqr "$J" '.placed == true and .state == "running" and .priority == "high"
	and .cgroup == $cg and .budget == 0.02 and .name == "web.service"' \
	--arg cg "$SVC" -e >/dev/null || fail "placed task $ID: $J"
ok "task $ID: placed, running, high, cgroup $SVC, budget 20ms"

st=$(ctl -o json status) || fail "status failed"
jqr "$st" '.placements == [{ "task": $id, "cgroup": $cg, "priority": "high" }]' \
	--argjson id "$ID" --arg cg "$SVC" -e >/dev/null ||
	fail "status placements: $(jqr "$st" .placements -c)"
ok "status placements: [{task $ID, $SVC, high}]"
# a placed cgroup is not work from the queue: it takes no run slot
[ "$(jqr "$st" .slots.busy)" = 0 ] || fail "slots.busy is $(jqr "$st" .slots.busy) with only a placement"
[ "$(jqr "$st" .tasks.running)" = 1 ] || fail "tasks.running is $(jqr "$st" .tasks.running)"
ok "tasks.running 1, slots.busy 0"
L=$(ctl -o json list) || fail "list failed"
jqr "$L" '[.[] | select(.id == $id and .placed and .state == "running"
	and .priority == "high")] | length == 1' --argjson id "$ID" -e >/dev/null ||
	fail "list lacks the placed task: $L"
capture ctl list
[[ $OUT == *web.service* ]] || { show_output; fail "the human list does not show web.service"; }
ok "list shows task $ID running at high"
svc_untouched "after place"

say "placing it again, however spelled, is a conflict"
for p in "$SVC" "$SVC/" "$TREE/../$(basename "$TREE")/web.service"; do
	capture ctl place "$p" -p low
	[ "$RC" = 1 ] || { show_output; fail "second place of $p: exit $RC, expected 1"; }
	[[ $ERR == *"conflict"*"placed already"* ]] || { show_output; fail "second place of $p: wrong reason"; }
	ok "place $p again: $ERR"
done
# htmctl takes a relative path from where the caller stands
capture bash -c "cd '$TREE' && '$HTMCTL' --socket '$SOCK' place web.service -p low"
[ "$RC" = 1 ] || { show_output; fail "place web.service from $TREE: exit $RC, expected 1"; }
[[ $ERR == *"placed already"* ]] ||
	{ show_output; fail "place web.service from $TREE was not taken as $SVC"; }
ok "place web.service (relative, from $TREE): $ERR"
capture bash -c "cd '$SVC' && '$HTMCTL' --socket '$SOCK' place . -p low"
[ "$RC" = 1 ] && [[ $ERR == *"placed already"* ]] ||
	{ show_output; fail "place . from $SVC: exit $RC, not a conflict"; }
ok "place . (from $SVC): $ERR"
[ "$(placements | jq length)" = 1 ] || fail "placements after the conflicts: $(placements)"
[ "$(task_field "$ID" priority)" = high ] || fail "the conflicts changed its priority"
ok "still one placement, at high"

say "cancel of a placed task is refused"
capture ctl cancel "$ID"
[ "$RC" = 1 ] || { show_output; fail "cancel $ID: exit $RC, expected 1"; }
[[ $ERR == *conflict*unplace* ]] || { show_output; fail "cancel $ID: the message does not point to unplace"; }
ok "cancel $ID: $ERR"
[ "$(task_field "$ID" state)" = running ] || fail "task $ID is $(task_field "$ID" state) after cancel"
svc_untouched "after cancel"

say "a second placement, whose cgroup will be gone at the next start"
capture ctl -o json place "$GONE" -p low
[ "$RC" = 0 ] || { show_output; fail "place $GONE exited $RC"; }
GID=$(jqr "$OUT" .id)
[ "$(placements | jq length)" = 2 ] || fail "placements: $(placements)"
ok "task $GID: $GONE at low"

say "SIGTERM: htmd leaves placed cgroups and their processes alone"
stop_htmd
svc_untouched "after htmd stopped"
rmdir "$GONE" || fail "cannot remove $GONE"
ok "removed $GONE while htmd was down"

say "a restart keeps the placement (it is journaled, not a running child)"
start_htmd --config "$T/htmd.json"
st=$(ctl -o json status) || fail "status failed"
jqr "$st" '.placements == [{ "task": $id, "cgroup": $cg, "priority": "high" }]' \
	--argjson id "$ID" --arg cg "$SVC" -e >/dev/null ||
	fail "placements after restart: $(jqr "$st" .placements -c)"
J=$(task_json "$ID") || fail "show $ID after restart"
jqr "$J" '.placed and .state == "running" and .budget == 0.02' -e >/dev/null ||
	fail "task $ID after restart: $J"
ok "task $ID is placed and running again, budget kept"
[ "$(task_field "$GID" state)" = lost ] || fail "task $GID (cgroup removed) is $(task_field "$GID" state), expected lost"
ok "task $GID, whose cgroup is gone, is lost: $(task_field "$GID" reason)"
svc_untouched "after restart"

say "unplace: governed no more, the service runs on"
expect_rc 0 "unplace $SVC/" ctl unplace "$SVC/"
[[ $OUT == "unplaced $SVC/"* ]] || { show_output; fail "unplace said: $OUT"; }
[ "$(placements)" = "[]" ] || fail "placements after unplace: $(placements)"
ok "placements []"
[ "$(task_field "$ID" state)" = succeeded ] || fail "task $ID is $(task_field "$ID" state) after unplace"
ok "task $ID: succeeded"
svc_untouched "after unplace"
capture ctl unplace "$SVC"
[ "$RC" = 1 ] && [[ $ERR == *not_found*"is not placed"* ]] ||
	{ show_output; fail "second unplace: exit $RC, expected 1 and not_found"; }
ok "unplace again: $ERR"
capture ctl unplace "$TREE/no-such.service"
[ "$RC" = 1 ] && [[ $ERR == *"is not placed"* ]] ||
	{ show_output; fail "unplace of a path never placed: exit $RC"; }
ok "unplace of a path never placed: $ERR"

say "an unplace is final: not back after a restart"
stop_htmd
svc_untouched "after the second stop"
start_htmd --config "$T/htmd.json"
[ "$(placements)" = "[]" ] || fail "placements after restart: $(placements)"
[ "$(task_field "$ID" state)" = succeeded ] || fail "task $ID is $(task_field "$ID" state)"
ok "placements [], task $ID still succeeded"

say "and it may be placed anew (by a relative path)"
capture bash -c "cd '$TREE' && '$HTMCTL' --socket '$SOCK' -o json place ./web.service -p low"
[ "$RC" = 0 ] || { show_output; fail "placing $SVC again after unplace exited $RC"; }
NID=$(jqr "$OUT" .id)
[ "$NID" != "$ID" ] || fail "the new placement reused task id $ID"
[ "$(placements | jq -c '[.[] | .priority]')" = '["low"]' ] || fail "placements: $(placements)"
[ "$(task_field "$NID" cgroup)" = "$SVC" ] || fail "task $NID: cgroup $(task_field "$NID" cgroup)"
ok "task $NID: $SVC at low"
capture bash -c "cd '$CG_MOUNT' && '$HTMCTL' --socket '$SOCK' unplace '${SVC#"$CG_MOUNT"/}'"
[ "$RC" = 0 ] || { show_output; fail "unplace by a relative path exited $RC"; }
[ "$(placements)" = "[]" ] || fail "placements after unplace: $(placements)"
ok "unplace ${SVC#"$CG_MOUNT"/} (relative, from $CG_MOUNT): placements []"

stop_htmd
svc_untouched "at the end"
finish
