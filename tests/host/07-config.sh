#!/bin/bash
# SPDX-License-Identifier: MIT
# 07-config: htmd --check-config accepts a valid file and refuses bad ones
# naming the JSON path; htmd will not start on a bad file; SIGHUP applies a
# valid file and keeps the running configuration on an invalid one.
. "$(dirname "$0")/lib.sh"

C=$T/conf
mkdir -p "$C"

say "--check-config on a valid file"
cat >"$C/valid.json" <<EOF2
{
	"socket": "/run/htm/htmd.sock",
	"state_dir": "/var/lib/htm",
	"cgroup_root": "$CG_MOUNT/htm.slice",
	"slots": 4,
	"history_limit": 1000,
	"log_level": "debug",
	"observe": false,
	"priorities": {
		"critical": { "cpu_weight": 10000, "io_weight": 10000, "cpu_idle": false },
		"high": { "cpu_weight": 1000, "io_weight": 1000, "cpu_idle": false },
		"normal": { "cpu_weight": 100, "io_weight": 100, "cpu_idle": false },
		"low": { "cpu_weight": 1, "io_weight": 10, "cpu_idle": true }
	}
}
EOF2
expect_rc 0 "check-config on a file with every key" "$HTMD" --check-config "$C/valid.json"
[[ $OUT == *ok* ]] || fail "check-config printed '$OUT'"
echo '{}' >"$C/empty-object.json"
expect_rc 0 "check-config on {}" "$HTMD" --check-config "$C/empty-object.json"
echo '{ "priorities": { "low": { "cpu_weight": 5 } } }' >"$C/partial.json"
expect_rc 0 "check-config on a partial priorities table" "$HTMD" --check-config "$C/partial.json"

say "--check-config on invalid files names the JSON path"
# name | content | text the message must contain
while IFS='|' read -r name content want; do
	[ -n "$name" ] || continue
	printf '%s\n' "$content" >"$C/$name.json"
	capture "$HTMD" --check-config "$C/$name.json"
	if [ "$RC" = 0 ]; then
		fail_later "check-config accepted $name: $content"
		continue
	fi
	if [[ $ERR$OUT != *"$want"* ]]; then
		fail_later "check-config on $name ($content): message lacks '$want': $ERR"
		continue
	fi
	ok "$name: exit $RC, '$ERR'"
done <<'EOF2'
unknown-key|{ "slots": 2, "slotz": 2 }|$.slotz
unknown-nested-key|{ "priorities": { "low": { "cpu_wieght": 5 } } }|$.priorities.low.cpu_wieght
unknown-priority|{ "priorities": { "urgent": {} } }|$.priorities.urgent
wrong-type-slots|{ "slots": "4" }|$.slots
wrong-type-bool|{ "priorities": { "high": { "cpu_idle": 1 } } }|$.priorities.high.cpu_idle
wrong-type-table|{ "priorities": [] }|$.priorities
wrong-type-observe|{ "observe": "yes" }|$.observe
out-of-range-weight-0|{ "priorities": { "low": { "cpu_weight": 0 } } }|$.priorities.low.cpu_weight
out-of-range-weight-big|{ "priorities": { "low": { "cpu_weight": 10001 } } }|$.priorities.low.cpu_weight
out-of-range-io-weight|{ "priorities": { "normal": { "io_weight": 0 } } }|$.priorities.normal.io_weight
out-of-range-slots|{ "slots": 5000 }|$.slots
negative-slots|{ "slots": -1 }|$.slots
fractional-slots|{ "slots": 1.5 }|$.slots
bad-log-level|{ "log_level": "verbose" }|$.log_level
relative-socket|{ "socket": "htmd.sock" }|$.socket
relative-state-dir|{ "state_dir": "state" }|$.state_dir
duplicate-key|{ "slots": 1, "slots": 2 }|$.slots
not-an-object|[ 1, 2 ]|$
broken-json|{ "slots": 2|line 1
trailing-garbage|{ "slots": 2 } x|
two-objects|{ "slots": 2 }{ "slots": 3 }|
EOF2
expect_rc 1 "check-config on a missing file" "$HTMD" --check-config "$C/does-not-exist.json"
[[ $ERR == *does-not-exist.json* ]] || fail_later "missing file: message does not name it: $ERR"

say "htmd does not start on an invalid file"
capture timeout 10 "$HTMD" --config "$C/out-of-range-slots.json" --socket "$T/bad.sock" \
	--state-dir "$T/bad-state" --cgroup-root "$CG_ROOT-bad"
[ "$RC" != 0 ] && [ "$RC" != 124 ] || fail "htmd with an invalid config exited $RC"
[[ $ERR == *'$.slots'* ]] || fail "htmd's refusal does not name \$.slots: $ERR"
[ ! -e "$T/bad.sock" ] || fail "htmd with an invalid config created its socket"
ok "htmd --config <invalid> exited $RC: $ERR"
expect_rc 1 "htmd --config <missing file>" timeout 10 "$HTMD" --config "$C/does-not-exist.json" \
	--socket "$T/bad.sock" --state-dir "$T/bad-state" --cgroup-root "$CG_ROOT-bad"

say "SIGHUP"
CONF=$T/htmd.json
put_config() { # atomically, as an editor or config manager would
	if jq -e 'type == "object"' <<<"$1" >/dev/null 2>&1; then
		config_json "$1" >"$CONF.tmp" # with the base settings
	else
		printf '%s\n' "$1" >"$CONF.tmp"
	fi
	mv "$CONF.tmp" "$CONF"
}
put_config '{ "slots": 1 }'
start_htmd --config "$CONF"
slots() { ctl -o json status | jq .slots.total; }
[ "$(slots)" = 1 ] || fail "status shows $(slots) slots, expected 1"
[ "$(ctl -o json status | jq -r .config)" = "$CONF" ] || fail "status does not name the config file"
ok "1 slot from $CONF"
blocker=$(submit --name blocker -- sh -c "$(hold_until "$T/release")") || fail "submit failed"
wait_state "$blocker" running
queued=$(submit --name queued -- sh -c "$(hold_until "$T/release")") || fail "submit failed"
task_state_is "$queued" queued || fail "second task is $(task_field "$queued" state), expected queued"
ok "task $blocker runs, task $queued waits for the slot"

# hup_rejected DESC: after SIGHUP the daemon logged that it kept the old config
kept=0
hup_rejected() {
	kill -HUP "$HTMD_PID"
	kept=$((kept + 1))
	wait_until 5 eval '[ "$(grep -c "keeping the old configuration" "$T/htmd.log")" -ge $kept ]' ||
		fail "$1: no 'keeping the old configuration' in the log after SIGHUP"
	htmd_alive || fail "$1: htmd died on SIGHUP"
	[ "$(slots)" = 1 ] || fail "$1: slots changed to $(slots)"
	task_state_is "$queued" queued || fail "$1: task $queued is $(task_field "$queued" state)"
	ok "$1: still running on 1 slot ($(grep "keeping the old" "$T/htmd.log" | tail -n 1))"
}
put_config '{ "slots": 3, "priorities": { "low": { "cpu_weight": 0 } } }'
hup_rejected "out-of-range value"
put_config '{ "slots": "3" }'
hup_rejected "wrong type"
put_config '{ "slots": 3, "slotz": 3 }'
hup_rejected "unknown key"
put_config '{ "slots": 3'
hup_rejected "broken JSON"
rm -f "$CONF"
hup_rejected "config file removed"

put_config '{ "slots": 3 }'
kill -HUP "$HTMD_PID"
wait_until 5 eval '[ "$(slots)" = 3 ]' || fail "slots did not change to 3 after SIGHUP with a valid file"
ok "valid file: 3 slots"
wait_state "$queued" running 5
ok "the queued task $queued started in the new slot while $blocker still runs"
if grep -q "change only on restart" "$T/htmd.log"; then
	info "note: every reload warns 'socket, state_dir and cgroup_root change only on restart'" \
		"although the file sets none of them (they came from the command line)"
fi
touch "$T/release"
expect_rc 0 "wait $blocker" ctl wait "$blocker"
expect_rc 0 "wait $queued" ctl wait "$queued"

stop_htmd

say "command-line options survive SIGHUP"
put_config '{ "slots": 1 }'
start_htmd --config "$CONF" --observe
[ "$(ctl -o json status | jq .observe)" = true ] || fail "htmd --observe: status.observe is not true"
ok "htmd --observe: status.observe true"
echo 'not json' | socat -t 2 - "UNIX-CONNECT:$SOCK" >/dev/null
grep -q 'debug: bad request' "$T/htmd.log" || fail "htmd -v does not log a bad request at debug level"
put_config '{ "slots": 2 }'
kill -HUP "$HTMD_PID"
wait_until 5 eval '[ "$(slots)" = 2 ]' || fail "slots did not change to 2 after SIGHUP"
obs=$(ctl -o json status | jq .observe)
if [ "$obs" = true ]; then
	ok "still observe-only after SIGHUP"
else
	fail_later "htmd --observe: after SIGHUP with a file that does not mention observe, status.observe is $obs (observe-only mode silently switched off: knobs would be written)"
fi
# -v: a bad request is logged at debug level
n=$(grep -c 'debug: bad request' "$T/htmd.log")
echo 'not json' | socat -t 2 - "UNIX-CONNECT:$SOCK" >/dev/null
[ "$(grep -c 'debug: bad request' "$T/htmd.log")" -gt "$n" ] ||
	info "note: after SIGHUP, -v (debug logging) is gone too: the file's log_level (default info) replaces it"
stop_htmd
finish
