#!/bin/bash
# SPDX-License-Identifier: MIT
# 06-cli: htmctl's exit codes (0 ok, 1 failed/not found/refused, 2 usage,
# 3 unreachable), its -o json output, submit -q, and submit options carried
# into the task.
. "$(dirname "$0")/lib.sh"

H=$HTMCTL
NOSOCK=$T/absent.sock

say "exit 0 for --help and --version"
expect_rc 0 "htmctl --help" "$H" --help
[[ $OUT == Usage:* ]] || fail "--help does not print the usage: $OUT"
expect_rc 0 "htmctl --version" "$H" --version

say "exit 3 when htmd is unreachable"
for args in "status" "list" "show 1" "cancel 1" "wait 1" "submit -- true"; do
	# shellcheck disable=SC2086
	expect_rc 3 "htmctl $args, no socket" "$H" --socket "$NOSOCK" $args
done
[[ $ERR == *"$NOSOCK"* ]] || fail "the unreachable message does not name the socket: $ERR"
ok "the message names the socket: $ERR"
expect_rc 3 "HTM_SOCKET=<absent> htmctl status" env HTM_SOCKET="$NOSOCK" "$H" status
[[ $ERR == *"$NOSOCK"* ]] || fail "HTM_SOCKET is not used: $ERR"
echo "not a socket" >"$T/file.sock"
expect_rc 3 "socket path is a regular file" "$H" --socket "$T/file.sock" status

# Usage errors, each checked without a daemon (2, never 3: the command line
# is wrong whatever the daemon) and again with one (no task may result).
USAGE=(
	""
	"frobnicate"
	"submit"
	"submit -q"
	"submit --"
	"submit -p urgent -- true"
	"submit --priority=urgent -- true"
	"submit --timeout 5x -- true"
	"submit --timeout -- true"
	"submit --sla abc -- true"
	"submit --origin nowhere -- true"
	"submit --risk huge -- true"
	"submit --bogus -- true"
	"show"
	"show abc"
	"show 0"
	"show 1 2"
	"cancel"
	"wait"
	"wait --timeout forever 1"
	"cancel --timeout 1s 1"
	"list extra"
	"list --state bogus"
	"status extra"
	"-o yaml status"
	"--bogus status"
)
usage_checks() { # SOCKET
	local args
	for args in "${USAGE[@]}"; do
		# shellcheck disable=SC2086
		expect_rc 2 "usage: htmctl $args" "$H" --socket "$1" $args
		[ -n "$ERR" ] || fail "usage error '$args' printed nothing on stderr"
	done
}
say "exit 2 for usage errors (no daemon)"
usage_checks "$NOSOCK"

start_htmd
say "exit 2 for usage errors (daemon up), and none of them creates a task"
usage_checks "$SOCK"
n=$(ctl -o json list | jq length)
[ "$n" = 0 ] || fail "usage errors created $n task(s)"
ok "no task was created"

say "exit 1 for an unknown task"
for c in show cancel wait; do
	expect_rc 1 "htmctl $c 999999" ctl "$c" 999999
	[[ $ERR == *not_found* ]] || fail "$c 999999: expected not_found on stderr, got '$ERR'"
done
expect_rc 1 "htmctl -o json show 999999" ctl -o json show 999999
[ "$(jqr "$OUT" .error.code)" = not_found ] || fail "-o json show 999999 printed: $OUT"
ok "-o json prints the error object with code not_found"

say "submit -q prints only the id"
expect_rc 0 "submit -q -- true" ctl submit -q -- true
[[ $OUT =~ ^[0-9]+$ ]] || fail "submit -q printed '$OUT'"
[ -z "$ERR" ] || fail "submit -q wrote to stderr: $ERR"
qid=$OUT
ok "submit -q printed '$qid'"
expect_rc 0 "wait $qid (succeeded)" ctl wait "$qid"

say "-o json parses for submit, list, show, status, wait"
expect_rc 0 "-o json submit" ctl -o json submit --name json-task -- sh -c 'exit 0'
jqr "$OUT" '(.id | type == "number") and .name == "json-task" and .argv == ["sh","-c","exit 0"]
	and (.state | IN("queued", "running", "succeeded"))' -e >/dev/null || fail "-o json submit: $OUT"
jid=$(jqr "$OUT" .id)
ok "submit: task $jid"
expect_rc 0 "-o json wait" ctl -o json wait "$jid"
jqr "$OUT" '.ok == true and .timed_out == false and .task.state == "succeeded"' -e >/dev/null || fail "-o json wait: $OUT"
expect_rc 0 "-o json list" ctl -o json list
jqr "$OUT" 'type == "array" and (map(.id) | index('"$jid"') != null)' -e >/dev/null || fail "-o json list: $OUT"
expect_rc 0 "-o json show" ctl -o json show "$jid"
jqr "$OUT" '.id == '"$jid"' and .exit_code == 0' -e >/dev/null || fail "-o json show: $OUT"
expect_rc 0 "-o json status" ctl -o json status
jqr "$OUT" '(.slots.total | type == "number") and (.version | type == "string") and .socket == "'"$SOCK"'"' -e >/dev/null ||
	fail "-o json status: $OUT"
expect_rc 0 "status -o json (option after the command)" ctl status -o json
jqr "$OUT" '.slots.total' -e >/dev/null || fail "status -o json: $OUT"
expect_rc 0 "--output json list" ctl --output json list
jqr "$OUT" 'type == "array"' -e >/dev/null || fail "--output json list: $OUT"
expect_rc 0 "list --state succeeded -o json" ctl list --state succeeded -o json
jqr "$OUT" 'length >= 2 and all(.state == "succeeded")' -e >/dev/null || fail "list --state succeeded: $OUT"

say "table output"
expect_rc 0 "list (table)" ctl list
[[ $OUT == ID* ]] || fail "list table has no header: $OUT"
expect_rc 0 "show (table)" ctl show "$jid"
[ -n "$OUT" ] || fail "show printed nothing"
expect_rc 0 "status (table)" ctl status
[[ $OUT == *slots* ]] || fail "status table: $OUT"
expect_rc 0 "submit (table)" ctl submit -- true
[[ $OUT =~ ^task\ [0-9]+\ [a-z_]+\ \(normal\)$ ]] || fail "submit printed '$OUT'"
ctl wait "${OUT//[^0-9]/}" >/dev/null

say "submit options end up in the task"
expect_rc 0 "submit with every option" ctl -o json submit -p high --name opts --origin scheduler \
	--sla 10m --timeout 1h --risk medium --batch b1 -- true
oid=$(jqr "$OUT" .id)
ctl wait "$oid" >/dev/null
j=$(task_json "$oid")
jqr "$j" '.priority == "high" and .name == "opts" and .origin == "scheduler" and .sla == 600
	and .timeout == 3600 and .risk == "medium" and .batch == "b1"
	and ((.deadline - .submitted_at - 600) | fabs < 0.01)' -e >/dev/null || fail "task $oid: $j"
ok "priority, name, origin, sla, timeout, risk, batch, deadline as given"

say "wait exits 1 for failed tasks"
fid=$(submit -- sh -c 'exit 3') || fail "submit failed"
expect_rc 1 "wait on a task exiting 3" ctl wait "$fid"
jqr "$(task_json "$fid")" '.state == "failed" and .exit_code == 3 and .signal == null' -e >/dev/null ||
	fail "task $fid: $(task_json "$fid")"
ok "state failed, exit_code 3"
sid=$(submit -- sh -c 'kill -TERM $$') || fail "submit failed"
expect_rc 1 "wait on a task killed by SIGTERM" ctl wait "$sid"
jqr "$(task_json "$sid")" '.state == "failed" and .signal == 15 and .exit_code == null' -e >/dev/null ||
	fail "task $sid: $(task_json "$sid")"
ok "state failed, signal 15"
nid=$(submit -- /nonexistent/htm-command) || fail "submit failed"
expect_rc 1 "wait on a task whose command does not exist" ctl wait "$nid"
j=$(task_json "$nid")
jqr "$j" '.state == "failed" and .exit_code == 127' -e >/dev/null || fail "task $nid: $j"
grep -q /nonexistent/htm-command "$(jqr "$j" .log)" || fail "the log does not say what failed to exec"
ok "state failed, exit_code 127, log: $(cat "$(jqr "$j" .log)")"

say "options after the task id ('wait ID [--timeout DUR]', 'Options (anywhere)')"
capture ctl wait "$qid" --timeout 5s
[ "$RC" = 0 ] || { show_output; fail_later "htmctl wait ID --timeout 5s (the documented order) exited $RC, expected 0"; }
[ "$RC" = 0 ] && ok "wait ID --timeout 5s"
capture ctl show "$qid" -o json
if [ "$RC" = 0 ] && jqr "$OUT" ".id == $qid" -e >/dev/null 2>&1; then
	ok "show ID -o json"
else
	show_output
	fail_later "htmctl show ID -o json exited $RC, expected 0 and JSON"
fi

stop_htmd
finish
