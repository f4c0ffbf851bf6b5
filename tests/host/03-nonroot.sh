#!/bin/bash
# SPDX-License-Identifier: MIT
# 03-nonroot: a non-root submitter's task runs as that user (uid, gid, no
# supplementary groups of root), its log belongs to it; non-root may not
# submit as another user nor cancel someone else's task; root may submit as
# anyone.
. "$(dirname "$0")/lib.sh"
require_cmd setpriv
[ "$(id -u nobody 2>/dev/null)" = 65534 ] || skip "no user nobody with uid 65534"

# htmctl where uid 65534 can surely run it, and a way to act as nobody
install -m 0755 "$HTMCTL" "$T/htmctl"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
as_nobody() { (cd "$T" && "${NOBODY[@]}" "$T/htmctl" --socket "$SOCK" "$@"); }
"${NOBODY[@]}" test -x "$T/htmctl" || skip "uid 65534 cannot execute $T/htmctl"

write_config "$T/htmd.json" '{ "slots": 4 }'
start_htmd --config "$T/htmd.json"
[ -w "$SOCK" ] || fail "socket $SOCK missing"
perm=$(stat -c %a "$SOCK")
info "socket mode $perm"

task_count() { ctl -o json list | jq length; }

say "nobody submits 'id': the task runs as uid/gid 65534"
capture as_nobody submit -q -- id
[ "$RC" = 0 ] || { show_output; fail "nobody: htmctl submit exited $RC"; }
id=$OUT
[[ $id =~ ^[0-9]+$ ]] || fail "submit -q printed '$id'"
ok "nobody submitted task $id"
expect_rc 0 "nobody: htmctl wait $id" as_nobody wait "$id"
j=$(task_json "$id")
jqr "$j" '.uid == 65534 and .gid == 65534 and .state == "succeeded"' -e >/dev/null || fail "task $id: $j"
ok "task $id: uid 65534, gid 65534, succeeded"
log=$(jqr "$j" .log)
out=$(cat "$log")
info "output: $out"
[[ $out == "uid=65534(nobody) gid=65534("*") groups=65534("*")" ]] ||
	fail "task $id ran as '$out', expected uid/gid 65534 and only group 65534"
ok "id printed uid=65534 gid=65534 and no other group"
[ "$(stat -c %u "$log")" = 65534 ] || fail "log $log is owned by uid $(stat -c %u "$log"), expected 65534"
ok "log $log is owned by uid 65534"
"${NOBODY[@]}" cat "$log" >/dev/null || fail "nobody cannot read its own task's log $log"
ok "nobody can read its log"

say "nobody may name itself with --user"
capture as_nobody submit -q --user nobody -- true
[ "$RC" = 0 ] || { show_output; fail "nobody: submit --user nobody exited $RC"; }
expect_rc 0 "nobody: wait for its --user nobody task" as_nobody wait "$OUT"

say "nobody --user root is refused and creates no task"
before=$(task_count)
capture as_nobody submit --user root -- id
show_output
[ "$RC" = 1 ] || fail "nobody: submit --user root exited $RC, expected 1"
[[ $ERR == *permission_denied* ]] || fail "nobody: submit --user root: expected permission_denied, got '$ERR'"
ok "refused with permission_denied (exit 1)"
capture as_nobody -o json submit --user 0 -- id
[ "$RC" = 1 ] && [ "$(jqr "$OUT" .error.code)" = permission_denied ] ||
	{ show_output; fail "nobody: submit --user 0 (numeric) not refused with permission_denied"; }
ok "--user 0 refused too (-o json error: $(jqr "$OUT" .error.message))"
after=$(task_count)
[ "$before" = "$after" ] || fail "the refused submits changed the task count from $before to $after"
ok "no task created ($after tasks)"

say "nobody cannot cancel root's task; root can"
rid=$(submit --name roots -- sh -c "$(hold_until "$T/release")") || fail "root submit failed"
wait_state "$rid" running
capture as_nobody cancel "$rid"
show_output
[ "$RC" = 1 ] || fail "nobody: cancel $rid exited $RC, expected 1"
[[ $ERR == *permission_denied* ]] || fail "nobody: cancel: expected permission_denied, got '$ERR'"
ok "nobody's cancel refused with permission_denied (exit 1)"
task_state_is "$rid" running || fail "root's task $rid is no longer running after nobody's cancel"
pid_alive "$(task_field "$rid" pid)" || fail "root's task $rid main process died"
ok "root's task $rid still running"

say "nobody can cancel its own task"
nid=$(as_nobody submit -q -- sh -c "$(hold_until "$T/release")") || fail "nobody submit failed"
wait_state "$nid" running
npid=$(task_field "$nid" pid)
[ "$(stat -c %u "/proc/$npid")" = 65534 ] || fail "task $nid process $npid is not owned by 65534"
ok "task $nid runs as 65534 (pid $npid)"
expect_rc 0 "nobody: cancel its own task $nid" as_nobody cancel "$nid"
task_state_is "$nid" cancelled || fail "task $nid is $(task_field "$nid" state), expected cancelled"
expect_rc 0 "root: cancel root's task $rid" ctl cancel "$rid"

say "root may submit --user nobody"
id=$(submit --user nobody -- sh -c 'id; echo "USER=$USER HOME=$HOME"') || fail "root: submit --user nobody failed"
expect_rc 0 "root: wait $id" ctl wait "$id"
j=$(task_json "$id")
jqr "$j" '.uid == 65534 and .gid == 65534' -e >/dev/null || fail "task $id: $j"
log=$(jqr "$j" .log)
info "output: $(tr '\n' ' ' <"$log")"
head -n 1 "$log" | grep -q '^uid=65534(nobody) gid=65534(' || fail "task $id ran as $(head -n 1 "$log")"
grep -q '^USER=nobody ' "$log" || fail "task $id: USER is not nobody"
[ "$(stat -c %u "$log")" = 65534 ] || fail "log $log owned by uid $(stat -c %u "$log")"
ok "root --user nobody: ran as nobody, USER=nobody, log owned by 65534"

say "an unknown --user is refused"
before=$(task_count)
capture ctl submit --user no-such-user-htm -- true
show_output
[ "$RC" = 1 ] || fail "submit --user no-such-user-htm exited $RC, expected 1"
[ "$(task_count)" = "$before" ] || fail "a task was created for an unknown user"
ok "refused, no task created"

stop_htmd
finish
