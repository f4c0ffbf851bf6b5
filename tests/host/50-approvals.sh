#!/bin/bash
# SPDX-License-Identifier: MIT
# 50-approvals: the approval gates end to end. Who may decide (root, the
# admin group by supplementary or primary gid; not an ordinary user), the
# tiers (0 approve first, 1 runs and is listed for review, 3 a quorum of
# distinct approvers, 4 emergency past a full slot), high risk and
# --approval forcing tier 0, duplicates refused within the dedupe window,
# deny with a reason, every decision in the audit log with who and why,
# pending items surviving a SIGKILL, then (a second config) expiry and a
# change window that is not now: medium risk needs --override, low risk
# keeps its tier.
# jq programs and eval strings are single-quoted on purpose; ok always
# returns 0, so "A && ok || fail_later" is if-then-else
# shellcheck disable=SC2016,SC2015
. "$(dirname "$0")/lib.sh"
require_cmd setpriv getent
[ "$(id -u nobody 2>/dev/null)" = 65534 ] || skip "no user nobody with uid 65534"

# The admin group: an existing group uid 65534 is not a member of, so that
# nothing on the system is changed. Its members here are made with setpriv.
ADMIN_GROUP='' ADMIN_GID=''
for g in users staff adm; do
	line=$(getent group "$g") || continue
	gid=$(cut -d: -f3 <<<"$line")
	[ "$gid" != 65534 ] || continue
	id -G nobody | tr ' ' '\n' | grep -qx "$gid" && continue
	ADMIN_GROUP=$g ADMIN_GID=$gid
	break
done
[ -n "$ADMIN_GROUP" ] || skip "no group (users, staff, adm) to use as the admin group"

install -m 0755 "$HTMCTL" "$T/htmctl"
# uid 65534 with only its own group: an ordinary user
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
# uid 65534 with the admin group as a supplementary group (SO_PEERGROUPS)
ADMIN_SUPP=(setpriv --reuid=65534 --regid=65534 --groups="$ADMIN_GID")
# uid 65534 with the admin group as its primary group
ADMIN_PRIM=(setpriv --reuid=65534 --regid="$ADMIN_GID" --clear-groups)
"${NOBODY[@]}" test -x "$T/htmctl" || skip "uid 65534 cannot execute $T/htmctl"
as_nobody() { (cd "$T" && "${NOBODY[@]}" "$T/htmctl" --socket "$SOCK" "$@"); }
as_admin() { (cd "$T" && "${ADMIN_SUPP[@]}" "$T/htmctl" --socket "$SOCK" "$@"); }
as_admin_gid() { (cd "$T" && "${ADMIN_PRIM[@]}" "$T/htmctl" --socket "$SOCK" "$@"); }
info "admin group $ADMIN_GROUP (gid $ADMIN_GID)"

mkdir -p "$T/rules.d" # no rules from the system's /etc/htm/rules.d

# --- helpers ---------------------------------------------------------------

# The approvals item of a task (JSON), empty if it is not listed.
appr_item() { ctl -o json approvals | jq -c --argjson id "$1" '.[] | select(.id == $id)'; }
listed() { [ -n "$(appr_item "$1")" ]; }
not_listed() { ! listed "$1"; }

# check_item ID JQ-CONDITION DESC: the approvals item must satisfy it
check_item() {
	local j
	j=$(appr_item "$1")
	if [ -n "$j" ] && jqr "$j" "$2" -e >/dev/null; then
		ok "$3"
	else
		fail_later "$3: approvals item of task $1 is '${j:-<not listed>}'"
	fi
}

# check_task ID JQ-CONDITION DESC
check_task() {
	local j
	j=$(task_json "$1")
	if jqr "$j" "$2" -e >/dev/null 2>&1; then
		ok "$3"
	else
		fail_later "$3: task $1 is $(jqr "$j" -c '{state, tier, reason, approval}')"
	fi
}

# refused CODE DESC CMD...: CMD exits 1 and its stderr names the error CODE
refused() {
	local code=$1 desc=$2
	shift 2
	capture "$@"
	if [ "$RC" = 1 ] && [[ $ERR == *"$code"* ]]; then
		ok "$desc: refused ($code, exit 1)"
	else
		show_output
		fail_later "$desc: expected exit 1 with $code, got exit $RC"
	fi
}

# the approval records of a task in the journal
approval_records() { ctl -o json log --type approval --task "$1" | jq -c '[.[].record]'; }

# check_log ID JQ-CONDITION-ON-RECORDS DESC
check_log() {
	local recs
	recs=$(approval_records "$1")
	if jqr "$recs" "$2" -e >/dev/null 2>&1; then
		ok "$3"
	else
		fail_later "$3: approval records of task $1: $recs"
	fi
}

sub() { # submit, or fail the test
	submit "$@" || fail "htmctl submit $* failed"
}

# --- phase 1: gates, tiers, decisions ----------------------------------------

CONF=$(jq -n --arg rd "$T/rules.d" --arg g "$ADMIN_GROUP" '{
	slots: 1, rules_dir: $rd,
	approvals: { admin_group: $g, default_tier: 2, quorum: 2, expire: "1h",
		     dedupe_window: "10m",
		     tiers: { gated: 0, reviewed: 1, quorum: 3, fire: 4 } } }')
write_config "$T/htmd.json" "$CONF"
start_htmd --config "$T/htmd.json"

say "a tier 0 task waits; its item shows tier, approval and a recommendation"
g1=$(sub --name gated -- echo g1)
task_state_is "$g1" pending_approval || fail "task $g1 (tier 0) is $(task_field "$g1" state), expected pending_approval"
check_item "$g1" '.status == "pending" and .tier == 0 and .tier_name == "approve"
	and .approval.needed == 1 and .approval.needs_override == false
	and .approval.approved_by == [] and (.approval.expires_at | type) == "number"
	and (.recommendation.verdict | IN("approve", "review", "deny"))
	and (.recommendation.reasons | test("no rollback"))' \
	"task $g1: pending, tier 0 (approve), needs 1, recommendation with reasons"
gr=$(sub --name gated --rollback 'echo undo' -- echo with-rollback)
check_item "$gr" '.recommendation.reasons | test("rollback present")' \
	"a task with --rollback: the recommendation says rollback present"

say "an ordinary user (uid 65534, no admin group) may neither approve nor deny"
refused permission_denied "nobody: approve $g1" as_nobody approve "$g1" --reason sneaky
refused permission_denied "nobody: deny $g1" as_nobody deny "$g1" --reason sneaky
refused permission_denied "nobody: approve --override $g1" as_nobody approve "$g1" --override
check_item "$g1" '.status == "pending" and .approval.approved_by == [] and .approval.needed == 1' \
	"task $g1 is still pending with no approver"
check_log "$g1" 'length == 0' "the refused decisions left no approval record"

say "a member of the admin group (supplementary gid $ADMIN_GID) approves"
capture as_admin approve "$g1" --reason "admin says yes"
[ "$RC" = 0 ] || { show_output; fail "admin (supplementary group): approve $g1 exited $RC"; }
ok "approved by uid 65534 with supplementary group $ADMIN_GROUP"
wait_state "$g1" succeeded
check_log "$g1" 'any(.[]; .decision == "approve" and .who.uid == 65534 and .who.user == "nobody"
	and .reason == "admin says yes" and .override == false)' \
	"approval record of $g1: uid 65534 (nobody), reason 'admin says yes'"

say "a member by primary gid $ADMIN_GID denies, with a reason"
g2=$(sub --name gated -- echo g2)
capture as_admin_gid deny "$g2" --reason "not during the sale"
[ "$RC" = 0 ] || { show_output; fail "admin (primary group): deny $g2 exited $RC"; }
check_task "$g2" '.state == "denied" and (.reason | test("not during the sale"))
	and (.reason | test("65534"))' "task $g2 denied, its reason names the uid and the text"
not_listed "$g2" && ok "task $g2 left the approvals list" || fail_later "denied task $g2 is still listed"
check_log "$g2" 'any(.[]; .decision == "deny" and .who.uid == 65534 and .reason == "not during the sale")' \
	"deny record of $g2: uid 65534, reason"
refused conflict "approve the denied task $g2" ctl approve "$g2"
refused not_found "approve a task that does not exist" ctl approve 999999

say "quorum (tier 3, quorum 2): two distinct approvers"
q1=$(sub --name quorum -- echo q1)
check_item "$q1" '.tier == 3 and .tier_name == "quorum" and .approval.needed == 2' \
	"task $q1: tier 3, needs 2"
expect_rc 0 "root approves $q1" ctl approve "$q1" --reason "first of two"
check_item "$q1" '.status == "pending" and .approval.needed == 1 and .approval.approved_by == [0]' \
	"after root: still pending, needs 1, approved_by [0]"
refused conflict "root approves $q1 a second time" ctl approve "$q1" --reason "again"
[[ $ERR == *distinct* ]] || fail_later "the refusal does not explain distinct approvers: '$ERR'"
check_item "$q1" '.status == "pending" and .approval.needed == 1 and .approval.approved_by == [0]' \
	"after root's second try: unchanged (needs 1, approved_by [0])"
expect_rc 0 "the admin-group user approves $q1" as_admin approve "$q1" --reason "second"
wait_state "$q1" succeeded
ok "task $q1 ran after two distinct approvals"
check_log "$q1" '[.[] | select(.decision == "approve") | .who.uid] == [0, 65534]' \
	"journal of $q1: approvals by uid 0 then uid 65534, the refused one not recorded"

say "high or critical risk and --approval force tier 0 (a tier 2 type)"
h=$(sub --name plain --risk high -- echo h)
check_task "$h" '.state == "pending_approval" and .tier == 0' "--risk high: pending, tier 0"
c=$(sub --name plain --risk critical -- echo c)
check_task "$c" '.state == "pending_approval" and .tier == 0' "--risk critical: pending, tier 0"
a=$(sub --name plain --approval -- echo a)
check_task "$a" '.state == "pending_approval" and .tier == 0 and .requires_approval' \
	"--approval: pending, tier 0"
r4=$(sub --name fire --risk high -- echo r4)
check_task "$r4" '.state == "pending_approval" and .tier == 0' "--risk high over tier 4: tier 0"
m=$(sub --name plain --risk medium -- echo m)
wait_state "$m" succeeded
check_task "$m" '.tier == 2' "--risk medium inside the (unrestricted) change window keeps tier 2 and runs"
low=$(sub --name plain -- echo low)
wait_state "$low" succeeded
check_task "$low" '.tier == 2' "default: tier 2, ran without approval"
for id in "$h" "$c" "$a" "$r4"; do
	ctl deny "$id" --reason cleanup >/dev/null || fail_later "deny $id failed"
done

say "tier 4 runs at once with the only slot busy, loudly"
blocker=$(sub --name plain -- sh -c "$(hold_until "$T/release")")
wait_state "$blocker" running
waiting=$(sub --name plain -- echo waiting)
sleep 0.3
task_state_is "$waiting" queued || fail "with slots 1 and a blocker, task $waiting is $(task_field "$waiting" state), expected queued"
ok "slot full: task $waiting queued behind blocker $blocker"
em=$(sub --name fire -- sh -c "$(hold_until "$T/release")")
if wait_until 5 task_state_is "$em" running; then
	ok "tier 4 task $em runs while blocker $blocker holds the only slot"
else
	fail_later "tier 4 task $em is $(task_field "$em" state), expected running past the full slot"
fi
check_task "$em" '.tier == 4' "task $em is tier 4"
task_state_is "$waiting" queued && ok "task $waiting still queued (tier 4 did not open a slot for others)" ||
	fail_later "task $waiting is $(task_field "$waiting" state) while blocker and emergency run"
grep -q "EMERGENCY OVERRIDE: task $em " "$T/htmd.log" && ok "htmd.log says EMERGENCY OVERRIDE for task $em" ||
	fail_later "no 'EMERGENCY OVERRIDE: task $em' in htmd.log"
ctl -o json log --type decision | jq -e 'any(.[].record; .why == "tier 4 emergency override")' >/dev/null &&
	ok "the journal has a 'tier 4 emergency override' decision" ||
	fail_later "no 'tier 4 emergency override' decision record in the journal"
touch "$T/release"
wait_state "$em" succeeded
wait_state "$blocker" succeeded
wait_state "$waiting" succeeded
ok "after release the queued task ran too (slot accounting intact)"

say "tier 1 runs at once and is listed for review until approved"
rv=$(sub --name reviewed -- echo rv)
wait_state "$rv" succeeded
check_task "$rv" '.tier == 1' "task $rv: tier 1, ran without waiting"
check_item "$rv" '.status == "review" and .tier == 1 and .tier_name == "review"' \
	"task $rv listed with status review"
expect_rc 0 "root approves (marks reviewed) $rv" ctl approve "$rv" --reason "seen it"
not_listed "$rv" && ok "task $rv no longer listed" || fail_later "reviewed task $rv is still listed"
refused conflict "approve the reviewed task $rv again" ctl approve "$rv"
check_log "$rv" 'any(.[]; .decision == "reviewed" and .who.uid == 0 and .reason == "seen it")' \
	"review record of $rv: uid 0, reason"

say "duplicates of an approval-gated task are refused within the dedupe window"
d1=$(sub --name gated --target db1 -- echo dup)
capture ctl submit --name gated --target db1 -- echo dup
if [ "$RC" = 1 ] && [[ $ERR == *"duplicate of task $d1"* ]]; then
	ok "the same name, command and target: refused as duplicate of task $d1"
else
	show_output
	fail_later "second identical gated submit: expected exit 1 and 'duplicate of task $d1', got exit $RC"
fi
capture ctl submit -q --name gated --target db2 -- echo dup
if [ "$RC" = 0 ]; then
	ok "another target (db2) accepted (task $OUT)"
else
	show_output
	fail_later "the same gated command for another target was refused (exit $RC)"
fi
ctl -o json list | jq -e '[.[] | select(.name == "gated" and .target == "db1")] | length == 1' >/dev/null &&
	ok "only one db1 task exists" || fail_later "the refused duplicate created a task"
check_item "$d1" '.recommendation.reasons | test("gated succeeded [0-9]+ of [0-9]+ times")' \
	"the recommendation for $d1 cites how 'gated' went before"
n1=$(sub --name plain --target db1 -- echo same)
n2=$(sub --name plain --target db1 -- echo same)
[ "$n1" != "$n2" ] && ok "tier 2 (no approval) duplicates are not refused ($n1, $n2)" ||
	fail_later "tier 2 duplicate: $n1 / $n2"

say "every decision is in 'htmctl log --type approval' with who and why"
all=$(ctl -o json log --type approval | jq -c '[.[].record]')
jqr "$all" 'all(.[]; (.who.uid | type) == "number" and (.who.actor == "approver")
	and (.decision | IN("approve", "deny", "reviewed")) and (.why | length > 0))' -e >/dev/null &&
	ok "$(jqr "$all" length) approval records, each with who.uid, actor approver, decision, why" ||
	fail_later "approval records lack who/decision/why: $all"
ctl log --type approval --actor nobody | grep -q "admin says yes" &&
	ok "'htmctl log --type approval --actor nobody' (table) shows the admin's reason" ||
	fail_later "table log --actor nobody does not show 'admin says yes'"

say "pending approvals survive SIGKILL"
p1=$(sub --name gated -- echo survive)
q2=$(sub --name quorum -- echo q2)
rv2=$(sub --name reviewed -- echo rv2)
wait_state "$rv2" succeeded
expect_rc 0 "root approves $q2 (1 of 2)" ctl approve "$q2" --reason "before the crash"
before=$(ctl -o json approvals | jq -c '[.[] | select(.status == "pending") | {id, needed: .approval.needed, by: .approval.approved_by, exp: .approval.expires_at}] | sort_by(.id)')
info "pending before: $before"
kill -KILL "$HTMD_PID"
wait "$HTMD_PID" 2>/dev/null
HTMD_PID=
start_htmd --config "$T/htmd.json"
after=$(ctl -o json approvals | jq -c '[.[] | select(.status == "pending") | {id, needed: .approval.needed, by: .approval.approved_by, exp: .approval.expires_at}] | sort_by(.id)')
info "pending after:  $after"
# expires_at is journaled with millisecond resolution: allow 2 ms
if jq -en --argjson b "$before" --argjson a "$after" '($b | length) == ($a | length) and
	([$b, $a] | transpose | all(.[]; .[0].id == .[1].id and .[0].needed == .[1].needed
		and .[0].by == .[1].by and ((.[0].exp - .[1].exp) | fabs) <= 0.002))' >/dev/null; then
	ok "the same pending items, approvers and expiry after the restart"
else
	fail_later "pending approvals changed across SIGKILL: before $before, after $after"
fi
check_item "$p1" '.status == "pending" and .approval.needed == 1' "task $p1 still pending"
check_item "$q2" '.approval.needed == 1 and .approval.approved_by == [0]' \
	"task $q2 still has root's approval (needs 1 more)"
refused conflict "root approves $q2 again after the restart" ctl approve "$q2"
check_item "$rv2" '.status == "review"' "unreviewed tier 1 task $rv2 still listed for review"
not_listed "$rv" && ok "reviewed task $rv still not listed" || fail_later "reviewed task $rv is listed again after the restart"
capture ctl submit --name gated --target db1 -- echo dup
[ "$RC" = 1 ] && [[ $ERR == *"duplicate of task $d1"* ]] && ok "a duplicate of $d1 is still refused after the restart" ||
	{ show_output; fail_later "after the restart a duplicate of $d1: exit $RC"; }
expect_rc 0 "the admin-group user completes $q2" as_admin approve "$q2" --reason after
wait_state "$q2" succeeded
expect_rc 0 "approve $p1 after the restart" ctl approve "$p1"
wait_state "$p1" succeeded
stop_htmd

# --- phase 2: expiry ------------------------------------------------------------

say "with expire 2s a pending item expires (deny by default)"
write_config "$T/htmd2.json" "$(jqr "$CONF" '.approvals.expire = "2s"')"
start_htmd --config "$T/htmd2.json"
x=$(sub --name gated -- echo expire-me)
check_item "$x" '.status == "pending" and .expires_in_s <= 2' "task $x pending, expires in <= 2 s"
if wait_until 6 task_state_is "$x" expired; then
	ok "task $x expired"
else
	fail_later "task $x is $(task_field "$x" state) 6 s after submission, expected expired"
fi
not_listed "$x" && ok "expired task $x left the approvals list" || fail_later "expired task $x still listed"
refused conflict "approve the expired task $x" ctl approve "$x"
ctl -o json log --task "$x" --type task.state | jq -e 'any(.[].record; .to == "expired")' >/dev/null &&
	ok "the journal records $x -> expired" || fail_later "no task.state record to expired for $x"

crash_restart() {
	kill -KILL "$HTMD_PID"
	wait "$HTMD_PID" 2>/dev/null
	HTMD_PID=
	[ -z "${1:-}" ] || sleep "$1"
	start_htmd --config "$T/htmd2.json"
}

say "the expiry clock survives a SIGKILL"
x2=$(sub --name gated -- echo expire-after-restart)
t_x2=$(now_us)
crash_restart
task_state_is "$x2" pending_approval && ok "task $x2 pending after the restart" ||
	fail_later "task $x2 is $(task_field "$x2" state) right after the restart, expected pending_approval"
if wait_until 6 task_state_is "$x2" expired; then
	ok "task $x2 expired $(elapsed_ms "$t_x2") ms after submission, across a restart"
else
	fail_later "task $x2 is $(task_field "$x2" state) 6 s after the restart, expected expired"
fi
x3=$(sub --name gated -- echo expire-while-down)
crash_restart 2.5
if wait_until 1.5 task_state_is "$x3" expired; then
	ok "task $x3, due while htmd was down, expired right after the start"
else
	fail_later "task $x3 is $(task_field "$x3" state) 1.5 s after a start past its expiry"
fi
stop_htmd

# --- phase 3: change windows -------------------------------------------------------

days=(sun mon tue wed thu fri sat)
today=$(date +%w)
other=${days[$(((today + 3) % 7))]}
say "a config whose only change window ($other 00:00-00:01) is not now (${days[$today]})"
CONF3=$(jq -n --arg rd "$T/rules.d" --arg g "$ADMIN_GID" --arg d "$other" '{
	slots: 2, rules_dir: $rd,
	approvals: { admin_group: $g, default_tier: 2, quorum: 2, expire: "1h",
		     dedupe_window: "10m",
		     tiers: { gated: 0, reviewed: 1, quorum: 3 },
		     change_windows: [ { days: [$d], from: "00:00", to: "00:01" } ] } }')
write_config "$T/htmd3.json" "$CONF3"
start_htmd --config "$T/htmd3.json"

say "outside the change windows medium risk needs --override"
mr=$(sub --name plain --risk medium -- echo medium)
check_item "$mr" '.status == "pending" and .tier == 0 and .approval.needs_override == true
	and (.recommendation.reasons | test("outside the change windows"))' \
	"task $mr (medium, tier 2 type): tier 0, needs_override, the recommendation says outside the windows"
refused conflict "approve $mr without --override" ctl approve "$mr" --reason "plain approve"
[[ $ERR == *--override* ]] || fail_later "the refusal does not mention --override: '$ERR'"
check_item "$mr" '.status == "pending" and .approval.approved_by == []' "task $mr still pending, no approver"
refused permission_denied "nobody: approve --override $mr" as_nobody approve "$mr" --override
expect_rc 0 "approve --override $mr (admin group by numeric gid)" as_admin_gid approve "$mr" --override --reason "hotfix"
wait_state "$mr" succeeded
check_log "$mr" 'any(.[]; .decision == "approve" and .override == true and .who.uid == 65534
	and .reason == "hotfix" and .how == "htmctl approve --override")' \
	"approval record of $mr: override true, uid 65534, reason hotfix"
md=$(sub --name quorum --risk medium -- echo medium-quorum)
check_item "$md" '.tier == 0 and .approval.needed == 2 and .approval.needs_override' \
	"medium risk of a tier 3 type: tier 0 with override, still its quorum of 2"
expect_rc 0 "deny $md" ctl deny "$md" --reason "wait for the window"
check_task "$md" '.state == "denied" and (.reason | test("wait for the window"))' "task $md denied with the reason"

say "low risk keeps its tier outside the change windows"
l2=$(sub --name plain -- echo low2)
wait_state "$l2" succeeded
check_task "$l2" '.tier == 2' "low risk, tier 2 type: ran at once (tier 2)"
l1=$(sub --name reviewed -- echo low1)
wait_state "$l1" succeeded
check_task "$l1" '.tier == 1' "low risk, tier 1 type: ran (tier 1)"
l3=$(sub --name quorum -- echo low3)
check_task "$l3" '.state == "pending_approval" and .tier == 3 and .approval.needed == 2
	and .approval.needs_override == false' "low risk, tier 3 type: quorum of 2, no override"

stop_htmd
finish
