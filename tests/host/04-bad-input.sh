#!/bin/bash
# SPDX-License-Identifier: MIT
# 04-bad-input: every malformed, invalid or oversized request line gets
# exactly one error reply with the right code on the same connection, which
# stays usable; no bad request creates a task; clients that hang up mid-line,
# send nothing or never read do not disturb anyone else.
. "$(dirname "$0")/lib.sh"

start_htmd

task_ids() { ctl -o json list | jq -c '[.[].id]'; }

say "a known task list to compare against"
id=$(submit --name baseline -- true) || fail "submit failed"
expect_rc 0 "wait for the baseline task" ctl wait "$id"
BEFORE=$(task_ids)
ok "tasks before: $BEFORE"

conn_open
STATUS='{"v":1,"cmd":"status"}'
N=0

# expect_error CODE DESC: the reply to what was just sent is one error with
# CODE; then a valid request on the same connection succeeds
expect_error() {
	local code=$1 desc=$2 got
	conn_recv 10 || fail "$desc: no reply within 10 s"
	got=$(jqr "$REPLY_LINE" 'if .ok == false and .v == 1 then .error.code else "NOT-AN-ERROR" end' 2>/dev/null)
	[ "$got" = "$code" ] || fail "$desc: expected error $code, got: ${REPLY_LINE:0:300}"
	conn_send "$STATUS"
	conn_recv 10 || fail "$desc: no reply to a valid request sent after it"
	jqr "$REPLY_LINE" '.ok == true and (.status.pid | type == "number")' -e >/dev/null 2>&1 ||
		fail "$desc: the valid request after it failed: ${REPLY_LINE:0:300}"
	N=$((N + 1))
	ok "$desc -> $code, and the next request on the connection is served"
}

# bad LINE CODE DESC
bad() {
	conn_send "$1"
	expect_error "$2" "$3"
}

say "malformed and invalid requests, one connection"
bad '{"v":1,"cmd":"status"' bad_request "malformed JSON (unterminated object)"
bad 'hello' bad_request "not JSON at all"
bad '{"v":1,"cmd":"status",}' bad_request "malformed JSON (trailing comma)"
bad '[1,2,3]' bad_request "a JSON array"
bad '"status"' bad_request "a JSON string"
bad '42' bad_request "a JSON number"
bad 'null' bad_request "JSON null"
bad '{"v":1,"cmd":"frobnicate"}' unknown_command "unknown command"
bad '{"v":1}' bad_request "missing cmd"
bad '{"v":1,"cmd":7}' bad_request "cmd of the wrong type"
bad '{"v":1,"cmd":"status","bogus":1}' bad_request "unknown field"
bad '{"v":1,"cmd":"list","stat":"running"}' bad_request "unknown field (typo of state)"
bad '{"v":1,"cmd":"show","id":"1"}' bad_request "id as a string"
bad '{"v":1,"cmd":"show","id":-1}' bad_request "negative id"
bad '{"v":1,"cmd":"show","id":1.5}' bad_request "fractional id"
bad '{"v":"1","cmd":"status"}' bad_request "v as a string"
bad '{"v":2,"cmd":"status"}' bad_request "v = 2"
bad '{"v":0,"cmd":"status"}' bad_request "v = 0"
bad '{"cmd":"status"}' bad_request "v missing"
bad '{"v":1,"cmd":"status"} x' bad_request "trailing garbage"
bad '{"v":1,"cmd":"status"}{"v":1,"cmd":"status"}' bad_request "two objects on one line"
bad '{"v":1,"cmd":"status","v":1}' bad_request "duplicate field"

say "invalid submits: refused whole, nothing half-applied"
bad "{\"v\":1,\"cmd\":\"submit\",\"argv\":\"touch $T/oops\"}" bad_request "submit: argv as a string"
bad "{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"touch\",5]}" bad_request "submit: argv with a number"
bad '{"v":1,"cmd":"submit","argv":[]}' bad_request "submit: empty argv"
bad '{"v":1,"cmd":"submit"}' bad_request "submit: no argv"
bad "{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"touch\",\"$T/oops\"],\"priority\":\"urgent\"}" bad_request "submit: unknown priority"
bad "{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"touch\",\"$T/oops\"],\"timeout\":\"soon\"}" bad_request "submit: bad duration"
bad "{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"touch\",\"$T/oops\"],\"timeout\":-1}" bad_request "submit: negative timeout"
bad "{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"touch\",\"$T/oops\"],\"user\":\"no-such-user-htm\"}" bad_request "submit: unknown user"
bad "{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"touch\",\"$T/oops\"],\"cwd\":\"relative/dir\"}" bad_request "submit: relative cwd"
bad "{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"touch\",\"$T/oops\"],\"priority\":\"high\",\"bogus\":true}" bad_request "submit: valid fields plus an unknown one"
bad "{\"v\":2,\"cmd\":\"submit\",\"argv\":[\"touch\",\"$T/oops\"]}" bad_request "submit: v = 2"
args=$(printf '"a",%.0s' $(seq 4097))
bad "{\"v\":1,\"cmd\":\"submit\",\"argv\":[${args%,}]}" bad_request "submit: 4097 argv items"

say "oversized lines"
# a status request padded with blanks to SIZE bytes, then a newline
padded() { # SIZE PREFIX FILE
	{
		printf '%s' "$2"
		head -c $(($1 - ${#2})) /dev/zero | tr '\0' ' '
		printf '\n'
	} >"$3"
}
SUBMIT="{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"touch\",\"$T/oops\"]}"
padded $((1 << 20)) "$STATUS" "$T/exact"
padded $(((1 << 20) + 1)) "$SUBMIT" "$T/over"
padded $((4 << 20)) "$SUBMIT" "$T/big"
cat "$T/exact" >&"$CONN_W"
conn_recv 10 || fail "no reply to a line of exactly 1 MiB"
jqr "$REPLY_LINE" '.ok == true' -e >/dev/null || fail "a line of exactly 1 MiB was refused: ${REPLY_LINE:0:200}"
ok "a valid line of exactly 1 MiB (1048576 bytes) is accepted"
cat "$T/over" >&"$CONN_W"
expect_error too_large "a submit line of 1 MiB + 1 bytes"
cat "$T/big" >&"$CONN_W"
expect_error too_large "a submit line of 4 MiB"
# the line after an oversized one, in the same write, is still served
{ head -c $((2 << 20)) /dev/zero | tr '\0' x; printf '\n%s\n' "$STATUS"; } >&"$CONN_W"
conn_recv 10 && [ "$(jqr "$REPLY_LINE" .error.code)" = too_large ] ||
	fail "a 2 MiB line followed by a request in one write: expected too_large, got ${REPLY_LINE:0:200}"
conn_recv 10 && [ "$(jqr "$REPLY_LINE" .ok)" = true ] ||
	fail "the request after a 2 MiB line in the same write was not served: ${REPLY_LINE:0:200}"
N=$((N + 1))
ok "a 2 MiB line and a request in the same write -> too_large, then the request is served"

say "several lines in one write get their replies in order"
printf '%s\n%s\n%s\n' 'oops' "$STATUS" '{"v":1,"cmd":"nope"}' >&"$CONN_W"
conn_recv 5 && [ "$(jqr "$REPLY_LINE" .error.code)" = bad_request ] || fail "1st of 3 pipelined: ${REPLY_LINE:0:200}"
conn_recv 5 && [ "$(jqr "$REPLY_LINE" .ok)" = true ] || fail "2nd of 3 pipelined: ${REPLY_LINE:0:200}"
conn_recv 5 && [ "$(jqr "$REPLY_LINE" .error.code)" = unknown_command ] || fail "3rd of 3 pipelined: ${REPLY_LINE:0:200}"
ok "bad_request, ok, unknown_command, in order"

say "a request split across writes is put back together"
printf '{"v":1,' >&"$CONN_W"
capture ctl status
[ "$RC" = 0 ] || fail "another client's status failed while a half line is pending (exit $RC)"
ok "another client is served while this one has sent half a line"
printf '"cmd":"status"}\n' >&"$CONN_W"
conn_recv 5 && [ "$(jqr "$REPLY_LINE" .ok)" = true ] || fail "the completed split request failed: ${REPLY_LINE:0:200}"
ok "the completed line is answered"

say "exactly one reply per line: nothing extra is pending"
if conn_recv 0.5; then
	fail "an unexpected extra reply: ${REPLY_LINE:0:200}"
fi
ok "$N bad requests, $N error replies, no extra line"
conn_close

say "the daemon is alive and no bad request created a task"
htmd_alive || fail "htmd died"
AFTER=$(task_ids)
[ "$AFTER" = "$BEFORE" ] || fail "task list changed from $BEFORE to $AFTER"
[ ! -e "$T/oops" ] || fail "a refused submit ran: $T/oops exists"
ok "tasks after: $AFTER; nothing ran"

say "clients that hang up mid-line, send nothing, or never read"
bg socat -u "UNIX-CONNECT:$SOCK" OPEN:/dev/null # connects, sends nothing
wait_until 5 eval '[ "$(ctl -o json status | jq .connections)" -ge 2 ]' ||
	fail "the idle client's connection is not counted"
ok "an idle client is connected"
printf '{"v":1,"cmd":"sub' | socat -t 1 - "UNIX-CONNECT:$SOCK" >"$T/midline.out"
ok "a client sent half a line and hung up (reply: '$(cat "$T/midline.out")')"
# floods status requests without ever reading a reply
bg_group "yes '$STATUS' | head -n 20000 | socat -u - UNIX-CONNECT:$SOCK; sleep 60"
sleep 0.5
# asks to wait for a running task, then hangs up before the answer
hid=$(submit --name held -- sh -c "$(hold_until "$T/release")") || fail "submit failed"
wait_state "$hid" running
printf '{"v":1,"cmd":"wait","id":%s}\n' "$hid" | timeout 2 socat -t 0.3 - "UNIX-CONNECT:$SOCK" >/dev/null
ok "a client asked to wait for task $hid and hung up"
t0=$(now_us)
expect_rc 0 "status from another client" ctl status
expect_rc 0 "list from another client" ctl list
qid=$(submit --name quick -- true) || fail "submit failed"
expect_rc 0 "submit + wait from another client" ctl wait "$qid"
touch "$T/release"
expect_rc 0 "the held task $hid finishes (its hung-up waiter is gone)" ctl wait "$hid"
ms=$(elapsed_ms "$t0")
[ "$ms" -lt 3000 ] || fail "other clients took $ms ms to be served"
ok "other clients served in $ms ms"
htmd_alive || fail "htmd died"
kill_bg 2>/dev/null
wait_until 5 eval '[ "$(ctl -o json status | jq .connections)" = 1 ]' ||
	fail "connections did not drop back to 1 after every client left (now $(ctl -o json status | jq .connections))"
ok "connections back to 1 (just this status) once the others left"

say "control characters and NUL"
conn_open
printf '{"v":1,\001"cmd":"status"}\n' >&"$CONN_W"
conn_recv 5 || fail "no reply to a request with a raw control character"
if [ "$(jqr "$REPLY_LINE" .ok)" = true ]; then
	info "note: a raw U+0001 between tokens is accepted as whitespace (not JSON per RFC 8259)"
else
	ok "a raw control character between tokens is refused"
fi
# A string with \u0000 cannot become a C string: the daemon must refuse it
# rather than run a truncated argv ("echo a" instead of "echo a\0b").
BEFORE=$(task_ids)
conn_send '{"v":1,"cmd":"submit","argv":["echo","a\u0000b"]}'
conn_recv 5 || fail "no reply to an argv with \\u0000"
code=$(jqr "$REPLY_LINE" 'if .ok then "accepted as argv \(.task.argv | tojson)" else .error.code end')
AFTER=$(task_ids)
conn_close
if [ "$code" = bad_request ] && [ "$AFTER" = "$BEFORE" ]; then
	ok "an argv string with \\u0000 is refused"
else
	fail_later "an argv string with \\u0000 was $code (tasks $BEFORE -> $AFTER), expected bad_request and no task"
fi

stop_htmd
finish
