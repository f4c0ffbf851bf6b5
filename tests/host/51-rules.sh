#!/bin/bash
# SPDX-License-Identifier: MIT
# 51-rules: the event policy engine in a running htmd. Rules from a
# rules_dir file fire on `htmctl emit`: an enqueue with ${field} templates
# makes a remediation task (root unless the rule names a user) whose argv
# carries the event's values, with a per-target cooldown; `rules` counts
# hits/fired/cooled; `rules test` previews without acting (exit 1 when
# nothing matches); a file rule replaces the built-in of the same name; an
# invalid rules file stops the start and is refused by reload and SIGHUP
# with its name and JSON path while the old rules keep working, a valid one
# switches; throttle/protect on a cgroup without the controller fail
# cleanly and outside the cgroup mount are refused (nothing written);
# non-root may not emit.
# jq programs and eval strings are single-quoted on purpose; ok always
# returns 0, so "A && ok || fail_later" is if-then-else
# shellcheck disable=SC2016,SC2015
. "$(dirname "$0")/lib.sh"
require_cmd setpriv
[ "$(id -u nobody 2>/dev/null)" = 65534 ] || skip "no user nobody with uid 65534"

install -m 0755 "$HTMCTL" "$T/htmctl"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
"${NOBODY[@]}" test -x "$T/htmctl" || skip "uid 65534 cannot execute $T/htmctl"
as_nobody() { (cd "$T" && "${NOBODY[@]}" "$T/htmctl" --socket "$SOCK" "$@"); }

RULES=$T/rules.d
mkdir -p "$RULES"

# --- helpers -------------------------------------------------------------------

remediation() { ctl -o json list | jq -c '[.[] | select(.origin == "remediation")]'; }
remediation_count() { remediation | jq length; }
# rule_stat NAME: {hits, fired, cooled, source, action} of one rule
rule_stat() { ctl -o json rules | jq -c --arg n "$1" '.[] | select(.name == $n) | {hits, fired, cooled, source, action}'; }
# the task made for a name, newest first
task_named() { ctl -o json list | jq -r --arg n "$1" '[.[] | select(.name == $n)] | last | .id // empty'; }
has_task_named() { [ -n "$(task_named "$1")" ]; }
# decision records of a rule
decisions() { ctl -o json log --type decision | jq -c --arg r "$1" '[.[].record | select(.rule == $r)]'; }

check() { # check JSON JQ-CONDITION DESC [jq args]
	if jqr "$1" "$2" -e "${@:4}" >/dev/null 2>&1; then
		ok "$3"
	else
		fail_later "$3: got $1"
	fi
}

emit() {
	ctl emit "$@" >/dev/null || fail "htmctl emit $* failed"
}

# settle: rules run at the end of the daemon's loop iteration; a status
# round trip after an emit, and a short pause, let a (wrongly) created task
# show up before we count
settle() {
	ctl status >/dev/null
	sleep 0.3
}

cat >"$RULES/10-test.json" <<'EOF'
{ "rules": [
  { "name": "restart-svc",
    "description": "a service that is down is restarted",
    "match": { "type": "test.down", "fields": { "service": { "exists": true },
                                                  "port": { ">": 0 } } },
    "action": { "do": "enqueue", "name": "restart-${service}",
                "argv": ["sh", "-c", "echo restarting $1 on $2 $3; id -u", "x",
                         "${service}", "${host}", "--port=${port}"] },
    "cooldown": "1h", "target": "${service}" },
  { "name": "as-nobody",
    "description": "a rule that names its user",
    "match": { "type": "test.user" },
    "action": { "do": "enqueue", "user": "nobody", "argv": ["id", "-u"] } },
  { "name": "throttle-it",
    "description": "a hot cgroup is capped",
    "match": { "type": "test.hot" },
    "action": { "do": "throttle", "cgroup": "${cgroup}", "cpu_max": "20%" },
    "target": "${cgroup}" },
  { "name": "protect-it",
    "description": "a starving cgroup is protected",
    "match": { "type": "test.starving" },
    "action": { "do": "protect", "cgroup": "${cgroup}", "memory_low": "64M" },
    "target": "${cgroup}" },
  { "name": "page-a-human",
    "description": "escalation",
    "match": { "type": "test.escalate" },
    "action": { "do": "escalate", "message": "${what} broke" },
    "cooldown": "10m", "target": "${what}" },
  { "name": "oom-kill",
    "description": "file rule replacing the built-in: only log",
    "match": { "type": "sampler.oom_kill" },
    "action": { "do": "log" } }
] }
EOF

# invalid: an unknown operator in the second rule's conditions
cat >"$T/bad-op.json" <<'EOF'
{ "rules": [
  { "name": "fine", "description": "ok", "match": { "type": "a.b" },
    "action": { "do": "log" } },
  { "name": "broken", "description": "bad operator",
    "match": { "type": "test.*", "fields": { "load": { "~=": 3 } } },
    "action": { "do": "log" } }
] }
EOF
# invalid: a throttle whose cpu_max is not a share
cat >"$T/bad-cpu.json" <<'EOF'
{ "rules": [
  { "name": "bad-throttle", "description": "cpu_max wrong",
    "match": { "type": "x.y" },
    "action": { "do": "throttle", "cgroup": "/sys/fs/cgroup/x", "cpu_max": "lots" } }
] }
EOF

CONF=$(jq -n --arg rd "$RULES" '{ slots: 4, rules_dir: $rd }')
write_config "$T/htmd.json" "$CONF"

# --- an invalid rules file stops the start ------------------------------------------

say "htmd refuses to start with an invalid rules file, naming the file and the JSON path"
mkdir -p "$T/bad.d"
cp "$T/bad-op.json" "$T/bad.d/20-bad.json"
write_config "$T/bad.json" "$(jq -n --arg rd "$T/bad.d" '{ rules_dir: $rd }')"
capture timeout 10 "$HTMD" --socket "$T/bad.sock" --state-dir "$T/bad-state" \
	--cgroup-root "$CG_ROOT-bad" --config "$T/bad.json"
case $RC in
0 | 124) show_output; fail_later "htmd with an invalid rules file: exit $RC, expected a refusal" ;;
*)
	all="$OUT$ERR"
	if [[ $all == *"$T/bad.d/20-bad.json"* ]] && [[ $all == *'$.rules[1].match.fields.load'* ]]; then
		ok "exit $RC: $(grep -F 20-bad.json <<<"$all" | head -n 1)"
	else
		show_output
		fail_later "htmd's refusal does not name $T/bad.d/20-bad.json and \$.rules[1].match.fields.load"
	fi
	;;
esac
[ -e "$T/bad.sock" ] && fail_later "the refused htmd left a socket $T/bad.sock"

# --- the good rules ----------------------------------------------------------------

start_htmd --config "$T/htmd.json"

say "built-in and file rules are listed; the file's oom-kill replaces the built-in"
rules=$(ctl -o json rules)
for r in oom-kill queue-depth-critical queue-depth-warn memory-pressure-relief \
	risky-task-failed sla-breach stress-critical; do
	jqr "$rules" 'any(.[]; .name == $n)' -e --arg n "$r" >/dev/null || fail_later "built-in rule $r is missing"
done
ok "built-ins present: $(jqr "$rules" '[.[] | select(.source == "built-in") | .name] | join(" ")')"
check "$rules" '[.[] | select(.name == "oom-kill")] | length == 1 and .[0].source != "built-in"
	and .[0].action == "log"' "one oom-kill rule, from the file, action log"
check "$rules" 'any(.[]; .name == "restart-svc" and .source == $f)' \
	"restart-svc listed with its source file" --arg f "$RULES/10-test.json"
n_rules=$(jqr "$rules" length)
[ "$(ctl -o json status | jq .rules)" = "$n_rules" ] && ok "status .rules = $n_rules" ||
	fail_later "status .rules is $(ctl -o json status | jq .rules), 'rules' lists $n_rules"
[ "$n_rules" = 12 ] && ok "12 rules: 7 built-in (one replaced) + 5 new" || fail_later "$n_rules rules, expected 12"
capture ctl rules
[[ $OUT == *restart-svc* && $OUT == *HITS* ]] && ok "the table lists restart-svc with HITS" ||
	fail_later "'htmctl rules' table: $OUT"
cat >"$T/oom.json" <<'EOF'
{ "type": "sampler.oom_kill", "cgroup_id": 1, "pid": 2, "comm": "x" }
EOF
capture ctl -o json rules test "$T/oom.json"
check "$OUT" '.rule == "oom-kill" and .action == "log" and .source == $f' \
	"rules test on sampler.oom_kill: the file's oom-kill (log), not the built-in escalate" \
	--arg f "$RULES/10-test.json"

say "emit fires the rule: a remediation task with the event's values, as root"
emit test.down service=web host=h1 port=8080
wait_until 5 has_task_named restart-web || fail "no task restart-web 5 s after the emit"
id=$(task_named restart-web)
wait_state "$id" succeeded
j=$(task_json "$id")
check "$j" '.origin == "remediation" and .uid == 0 and .gid == 0
	and .argv == ["sh", "-c", "echo restarting $1 on $2 $3; id -u", "x", "web", "h1", "--port=8080"]' \
	"task $id: origin remediation, uid 0, argv filled from the event"
out=$(cat "$(jqr "$j" .log)")
[ "$out" = "$(printf 'restarting web on h1 --port=8080\n0')" ] && ok "it printed 'restarting web on h1 --port=8080' and uid 0" ||
	fail_later "task $id printed '$out'"
check "$(rule_stat restart-svc)" '.hits == 1 and .fired == 1 and .cooled == 0' "restart-svc: hits 1, fired 1"
check "$(decisions restart-svc)" 'length == 1 and .[0].result == "done" and .[0].target == "web"
	and .[0].action == "enqueue" and .[0].event.service == "web" and .[0].who.actor == "rule:restart-svc"
	and (.[0].detail | test("task [0-9]+"))' \
	"a decision record: rule, action, target web, the event, done, actor rule:restart-svc"

say "cooldown per target: web again does nothing, db gets its own task"
emit test.down service=web host=h2 port=8080
settle
[ "$(remediation_count)" = 1 ] && ok "a second web event within the cooldown made no task" ||
	fail_later "remediation tasks after a second web event: $(remediation | jq -c 'map({id, name})')"
emit test.down service=db host=h3 port=5432
wait_until 5 has_task_named restart-db && ok "db: task $(task_named restart-db)" ||
	fail_later "no task restart-db for another target"
check "$(rule_stat restart-svc)" '.hits == 3 and .fired == 2 and .cooled == 1' \
	"restart-svc: hits 3, fired 2, cooled 1"
[ "$(remediation_count)" = 2 ] && ok "2 remediation tasks in all" || fail_later "$(remediation_count) remediation tasks, expected 2"

say "conditions: an event failing them matches nothing; a missing template field does not act"
emit test.down service=cache host=h4 port=0
emit test.down service=cache2 port=1
settle
check "$(rule_stat restart-svc)" '.hits == 4 and .fired == 2' "port 0 fails '>' 0 (no hit); no host: a hit, not fired"
[ "$(remediation_count)" = 2 ] && ok "no task for either" || fail_later "$(remediation_count) remediation tasks, expected 2"
grep -q 'rule restart-svc: the event has no field "host"' "$T/htmd.log" && ok "htmd.log: the event has no field \"host\"" ||
	fail_later "no 'the event has no field \"host\"' warning in htmd.log"

say "rules test previews without acting, exit 1 when nothing matches"
cat >"$T/ev-cache.json" <<'EOF'
{ "type": "test.down", "service": "cache", "host": "h9", "port": 11211 }
EOF
before=$(rule_stat restart-svc)
capture ctl -o json rules test "$T/ev-cache.json"
[ "$RC" = 0 ] || fail_later "rules test on a matching event exited $RC"
check "$OUT" '.rule == "restart-svc" and .action == "enqueue" and .target == "cache"
	and .would.name == "restart-cache" and (.would.argv | index(["cache", "h9", "--port=11211"]) != null)' \
	"rules test: restart-svc would enqueue restart-cache with the values, target cache"
capture ctl rules test "$T/ev-cache.json"
[ "$RC" = 0 ] && [[ $OUT == *restart-svc* ]] && ok "table form names restart-svc (exit 0)" ||
	{ show_output; fail_later "rules test (table): exit $RC"; }
settle
has_task_named restart-cache && fail_later "rules test created task $(task_named restart-cache)" ||
	ok "no task restart-cache was created"
# (two previews above, json and table: neither is a hit)
[ "$(rule_stat restart-svc)" = "$before" ] && ok "counters unchanged by the previews ($before)" ||
	fail_later "two 'rules test' previews changed restart-svc's counters: $before -> $(rule_stat restart-svc)"
echo '{ "type": "test.down", "service": "z", "port": 1 }' >"$T/ev-nohost.json"
capture ctl -o json rules test "$T/ev-nohost.json"
check "$OUT" '.rule == "restart-svc" and (.would_fail | test("host"))' "rules test: a missing field shows would_fail"
echo '{ "type": "nothing.matches.this", "x": 1 }' >"$T/ev-none.json"
capture ctl -o json rules test "$T/ev-none.json"
[ "$RC" = 1 ] && ok "rules test on an unmatched event exits 1" || fail_later "rules test (no match) exited $RC, expected 1"
check "$OUT" '.rule == null' "rule null"
# rules test on an event for web (cooling down) still only previews
echo '{ "type": "test.down", "service": "web", "host": "h1", "port": 1 }' >"$T/ev-web.json"
expect_rc 0 "rules test on a target in cooldown" ctl rules test "$T/ev-web.json"

say "a rule's user: the task runs as that user"
emit test.user
wait_until 5 has_task_named as-nobody || fail "no task from rule as-nobody"
nid=$(task_named as-nobody)
wait_state "$nid" succeeded
check "$(task_json "$nid")" '.uid == 65534 and .origin == "remediation"' "task $nid runs as uid 65534"

say "escalate: a pending task for a human, one per target"
emit test.escalate what=disk
wait_until 5 has_task_named rule:page-a-human || fail "no task from rule page-a-human"
eid=$(task_named rule:page-a-human)
check "$(task_json "$eid")" '.state == "pending_approval" and .tier == 0 and .reason == "disk broke"
	and .origin == "hunter_alert"' "task $eid pending approval, tier 0, reason 'disk broke'"
# another target is not in the rule's cooldown, and its escalation is not a
# duplicate of the first: it is about something else
emit test.escalate what=net
wait_until 5 eval '[ "$(decisions page-a-human | jq length)" = 2 ]' || fail_later "no decision for what=net"
check "$(decisions page-a-human | jq -c 'map({target, result, detail})')" '[.[].result] == ["done", "done"]' \
	"the escalation for target net is acted on too (not refused as a duplicate of the disk one)"
check "$(ctl -o json approvals | jq -c '[.[] | select(.name == "rule:page-a-human") | .reason]')" \
	'sort == ["disk broke", "net broke"]' "two pending escalations: 'disk broke' and 'net broke'"
emit test.escalate what=disk
settle
check "$(rule_stat page-a-human)" '.cooled == 1' "a second disk escalation within the cooldown is cooled"
for e in $(ctl -o json approvals | jq -r '.[] | select(.name == "rule:page-a-human") | .id'); do
	ctl deny "$e" --reason test >/dev/null
done

say "non-root may not emit"
h0=$(rule_stat restart-svc)
capture as_nobody emit test.down service=evil host=x port=1
[ "$RC" = 1 ] && [[ $ERR == *permission_denied* ]] && ok "nobody: emit refused (permission_denied, exit 1)" ||
	{ show_output; fail_later "nobody: emit exited $RC, expected 1 with permission_denied"; }
settle
has_task_named restart-evil && fail_later "nobody's refused emit made a task" || ok "no task restart-evil"
[ "$(rule_stat restart-svc)" = "$h0" ] && ok "no hit counted" || fail_later "counters moved: $h0 -> $(rule_stat restart-svc)"
capture as_nobody reload
[ "$RC" = 1 ] && [[ $ERR == *permission_denied* ]] && ok "nobody: reload refused (permission_denied, exit 1)" ||
	{ show_output; fail_later "nobody: reload exited $RC, expected 1 with permission_denied"; }

# --- throttle / protect -------------------------------------------------------------

say "throttle and protect on a test cgroup: applied if the controller is there, else a clean failure"
VICTIM=$CG_ROOT-victim
mkdir "$VICTIM" || fail "cannot create $VICTIM"
for pair in "test.hot throttle-it cpu.max" "test.starving protect-it memory.low"; do
	read -r type rule file <<<"$pair"
	emit "$type" cgroup="$VICTIM"
	wait_until 5 eval '[ "$(decisions "$rule" | jq length)" -ge 1 ]' ||
		{ fail_later "$rule: no decision record for $VICTIM"; continue; }
	d=$(decisions "$rule" | jq -c 'last')
	if [ -e "$VICTIM/$file" ]; then
		check "$d" '.result == "done"' "$rule on $VICTIM ($file present): done"
	else
		check "$d" '.result == "failed" and .target == $t and (.detail | test("No such file"))' \
			"$rule on $VICTIM (no $file here): journaled as failed ($(jqr "$d" .detail))" \
			--arg t "$VICTIM"
	fi
done
htmd_alive && ctl status >/dev/null && ok "htmd still running and answering" || fail "htmd died after a failed throttle"
if [ ! -e "$VICTIM/cpu.max" ]; then
	check "$(ctl -o json status)" '.changed_knobs | length == 0' "no knob recorded as changed"
fi

say "throttle and protect outside the cgroup mount are refused and write nothing"
FAKE=$T/fakecg
mkdir -p "$FAKE"
echo "max 100000" >"$FAKE/cpu.max"
echo 0 >"$FAKE/memory.low"
# as many ".." as the mount has components, then the fake directory
depth=$(tr -cd / <<<"$CG_MOUNT" | wc -c)
traverse=$CG_MOUNT$(printf '/..%.0s' $(seq "$depth"))$FAKE
info "a path that climbs out of the mount: $traverse"
for cg in "$FAKE" "$traverse"; do
	for pair in "test.hot throttle-it" "test.starving protect-it"; do
		read -r type rule <<<"$pair"
		# shellcheck disable=SC2034 # used in the eval
		n=$(decisions "$rule" | jq length)
		emit "$type" cgroup="$cg"
		wait_until 5 eval '[ "$(decisions "$rule" | jq length)" -gt "$n" ]' ||
			{ fail_later "$rule on $cg: no decision record"; continue; }
		check "$(decisions "$rule" | jq -c last)" '.result == "failed" and .target == $t' \
			"$rule on $cg: refused ($(decisions "$rule" | jq -r 'last.detail'))" --arg t "$cg"
	done
done
[ "$(cat "$FAKE/cpu.max")" = "max 100000" ] && [ "$(cat "$FAKE/memory.low")" = 0 ] &&
	ok "$FAKE/cpu.max and memory.low untouched" ||
	fail_later "a file outside the cgroup mount was written: cpu.max '$(cat "$FAKE/cpu.max")', memory.low '$(cat "$FAKE/memory.low")'"
htmd_alive || fail "htmd died"

# --- reloads --------------------------------------------------------------------

say "reload with an invalid rules file is refused with its name and JSON path; the old rules stay"
cp "$T/bad-op.json" "$RULES/20-bad.json"
capture ctl reload
if [ "$RC" = 1 ] && [[ $ERR == *"$RULES/20-bad.json"* ]] && [[ $ERR == *'$.rules[1].match.fields.load'* ]]; then
	ok "htmctl reload refused: $ERR"
else
	show_output
	fail_later "reload with an invalid file: expected exit 1 naming $RULES/20-bad.json and \$.rules[1].match.fields.load, got $RC"
fi
check "$(ctl -o json rules)" 'any(.[]; .name == "restart-svc") and all(.[]; .name != "fine" and .name != "broken")' \
	"the rule list is the old one (restart-svc, nothing from 20-bad.json)"
emit test.down service=api host=h5 port=80
wait_until 5 has_task_named restart-api && ok "the old rule still fires (task $(task_named restart-api))" ||
	fail_later "after the refused reload emit made no restart-api task"

say "SIGHUP with an invalid rules file is refused the same way"
cp "$T/bad-cpu.json" "$RULES/20-bad.json"
kill -HUP "$HTMD_PID"
if wait_until 5 grep -q "reload: .*$RULES/20-bad.json: \$.rules\[0\].action.cpu_max.*keeping the old" "$T/htmd.log"; then
	ok "htmd.log: $(grep "reload: .*20-bad.json" "$T/htmd.log" | tail -n 1)"
else
	fail_later "no 'reload: $RULES/20-bad.json: \$.rules[0].action.cpu_max ... keeping the old' in htmd.log after SIGHUP"
fi
htmd_alive || fail "htmd died on SIGHUP with an invalid file"
emit test.down service=api2 host=h6 port=80
wait_until 5 has_task_named restart-api2 && ok "the old rule still fires after SIGHUP" ||
	fail_later "after the refused SIGHUP emit made no restart-api2 task"

say "two files defining the same rule name are refused"
jq '.rules = [.rules[0]]' "$RULES/10-test.json" >"$RULES/20-bad.json"
capture ctl reload
[ "$RC" = 1 ] && [[ $ERR == *'"restart-svc" is already defined in'* ]] && ok "refused: $ERR" ||
	{ show_output; fail_later "a duplicate rule name across files: reload exit $RC"; }

say "a valid reload switches to the new rules"
rm -f "$RULES/20-bad.json"
cat >"$RULES/10-test.json" <<'EOF'
{ "rules": [
  { "name": "restart-v2",
    "description": "the new rule",
    "match": { "type": "test.down2" },
    "action": { "do": "enqueue", "name": "v2-${service}", "argv": ["echo", "v2", "${service}"] } }
] }
EOF
capture ctl reload
[ "$RC" = 0 ] && ok "reload: $OUT" || { show_output; fail_later "valid reload exited $RC"; }
rules=$(ctl -o json rules)
check "$rules" 'any(.[]; .name == "restart-v2") and all(.[]; .name != "restart-svc")' \
	"restart-v2 in, restart-svc out"
check "$rules" '[.[] | select(.name == "oom-kill")][0] | .source == "built-in" and .action == "escalate"' \
	"oom-kill is the built-in again"
emit test.down service=old host=h port=1
emit test.down2 service=new
wait_until 5 has_task_named v2-new && ok "the new rule fires (task $(task_named v2-new))" ||
	fail_later "no task v2-new after the valid reload"
has_task_named restart-old && fail_later "the removed rule restart-svc still fired" || ok "the removed rule does not fire"

say "SIGHUP with a valid change applies it"
cat >"$RULES/30-extra.json" <<'EOF'
{ "rules": [ { "name": "extra", "description": "added by SIGHUP",
  "match": { "type": "test.extra" }, "action": { "do": "log" } } ] }
EOF
kill -HUP "$HTMD_PID"
wait_until 5 eval '[ -n "$(rule_stat extra)" ]' && ok "rule extra loaded on SIGHUP" ||
	fail_later "rule extra not loaded 5 s after SIGHUP"
emit test.extra
wait_until 5 eval '[ "$(decisions extra | jq length)" = 1 ]' && ok "a log rule leaves a decision record" ||
	fail_later "no decision record for rule extra"

stop_htmd
finish
