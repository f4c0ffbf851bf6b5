#!/bin/bash
# SPDX-License-Identifier: MIT
# 40-durability: crash safety of the journal under load. A client
# (build/tests/bin/htm-loadgen, 4 connections) submits 10,000 tasks while
# htmd is killed with SIGKILL at random moments (at least 5 times, each at a
# random point of the submission stream) and restarted; the client
# reconnects and carries on, and records every task id it got an ok reply
# for (acknowledged); a submission whose reply was lost is not. Each task
# appends its HTM_TASK_ID to RANFILE with one O_APPEND write (every 50th
# then stays 400 ms, so that some are running when htmd dies and get
# re-adopted; the others are gone in a millisecond or two). Once every
# task has finished or been lost (and after one more SIGKILL + restart with
# everything settled), the checks:
#   - every acknowledged id is in `list` exactly once; no id is acknowledged
#     twice; `list` has no duplicate and no more tasks than were acknowledged
#     plus replies lost (no phantom tasks)
#   - no id appears twice in RANFILE (no task ran twice), every id in it is
#     a known task, and every succeeded task is in it (exactly once)
#   - the only final states are succeeded / lost / cancelled (counted and
#     printed); succeeded ones exited 0
#   - a replay of a settled journal gives back exactly the same tasks
#   - `htmctl log --verify` passes
#   - three tasks waiting for approval when the kills begin (two tier 0,
#     one quorum item already holding one approval) come back after every
#     crash still pending, with the approvers they had, and never ran
#
# Knobs: N_TASKS (10000), KILLS (6, at least 5 are required), CLIENTS (4),
# SEED (random; printed, so a run can be repeated), SABOTAGE=ran-twice
# (appends one succeeded task's id to RANFILE again before the checks: the
# test must then fail; it is how the checks are shown to bite).
. "$(dirname "$0")/lib.sh"

N=${N_TASKS:-10000}
KILLS=${KILLS:-6}
CLIENTS=${CLIENTS:-4}
SEED=${SEED:-$((RANDOM * 32768 + RANDOM))}
RANDOM=$SEED
LOADGEN=$(realpath -e "$BUILD/tests/bin/htm-loadgen" 2>/dev/null) ||
	fail "$BUILD/tests/bin/htm-loadgen is missing; run make test (it builds tests/bin/*.c)"
RAN=$T/ran
ACKED=$T/acked
: >"$RAN"
: >"$ACKED"
info "seed $SEED, $N tasks, $KILLS kills, $CLIENTS connections"

# Small segments, so that rotation and sealing also get killed half way.
write_config "$T/htmd.json" '{ "slots": 4, "history_limit": 100000,
	"journal_segment_bytes": 1048576,
	"approvals": { "tiers": { "gated-quorum": 3 }, "quorum": 2, "expire": "1h" } }'
start_htmd --config "$T/htmd.json"

say "three tasks that must wait for approval through every crash"
gated=()
for name in gated-a gated-b; do
	id=$(ctl submit -q --approval --name "$name" -- "$LOADGEN" --append "$RAN") ||
		fail "submitting $name failed"
	gated+=("$id")
done
quorum=$(ctl submit -q --name gated-quorum -- "$LOADGEN" --append "$RAN") ||
	fail "submitting the quorum item failed"
ctl approve "$quorum" --reason "first of two" >/dev/null || fail "first approval of $quorum failed"
info "pending: ${gated[*]} (tier 0), $quorum (quorum 2, approved once by root)"

say "submit $N tasks, SIGKILL htmd $KILLS times along the way"
"$LOADGEN" -s "$SOCK" -n "$N" -c "$CLIENTS" -r 30 -t 30 -q -a "$ACKED" -- \
	"$LOADGEN" --append "$RAN" --linger 400 --linger-every 50 >"$T/loadgen.json" 2>"$T/loadgen.err" &
LOADGEN_PID=$!
BG_PIDS+=("$LOADGEN_PID")

# kill points: random acknowledged-counts between 5% and 90% of N, sorted
points=$(for ((i = 0; i < KILLS; i++)); do
	echo $((N / 20 + (RANDOM * 32768 + RANDOM) % (N * 85 / 100)))
done | sort -n)
acked_count() { wc -l <"$ACKED"; }
reached() { [ "$(acked_count)" -ge "$1" ] || ! pid_alive "$LOADGEN_PID"; }
kills=0
t_start=$(now_us)
for p in $points; do
	wait_until 120 reached "$p" || fail "the client did not get to $p acknowledgements within 120 s (at $(acked_count))"
	pid_alive "$LOADGEN_PID" || break
	# a random moment within the next 200 ms
	sleep "0.$(printf '%03d' $((RANDOM % 200)))"
	victim=$HTMD_PID
	kill -KILL "$victim"
	wait "$victim" 2>/dev/null
	HTMD_PID=
	kills=$((kills + 1))
	info "kill $kills: htmd $victim SIGKILLed at $(acked_count) acknowledged"
	# the client keeps trying meanwhile; a short outage is part of it
	sleep "0.$(printf '%03d' $((RANDOM % 300)))"
	start_htmd --config "$T/htmd.json"
done
wait "$LOADGEN_PID"
LOADGEN_RC=$?
info "client: $(cat "$T/loadgen.json") exit $LOADGEN_RC"
[ -s "$T/loadgen.err" ] && sed 's/^/    client stderr| /' "$T/loadgen.err" | head -n 10
timeouts=$(jq .timeouts "$T/loadgen.json")
if [ "$timeouts" != 0 ]; then
	fail "htmd stopped answering: $timeouts request(s) got no reply within 30 s from a live htmd (the client gave up); the daemon's critical log lines: $(grep -E '^htmd: (crit|alert|emerg)' "$T/htmd.log" | sort | uniq -c | head -n 5 | tr '\n' ' ')"
fi
[ "$kills" -ge 5 ] ||
	fail "only $kills kills happened while the client was submitting (need at least 5)"
jq -e --argjson n "$N" '.sent == $n' "$T/loadgen.json" >/dev/null ||
	fail "the client did not send all $N submissions: $(cat "$T/loadgen.json")"
ok "$kills SIGKILLs during $N submissions, $(($(elapsed_ms "$t_start") / 1000)) s"

say "wait until every task has finished or been lost"
# the three gated tasks stay pending on purpose
unsettled() {
	ctl -o json status | jq '.tasks | .queued + .preflight + .running'
}
settled() { [ "$(unsettled)" = 0 ]; }
wait_until 150 settled || fail "$(unsettled) tasks still not finished after 150 s"
ok "all settled"

say "one more SIGKILL with everything settled: replay must give back the same"
ctl -o json list | jq -r '.[] | "\(.id) \(.state) \(.exit_code)"' | sort -n >"$T/before"
kill -KILL "$HTMD_PID"
wait "$HTMD_PID" 2>/dev/null
HTMD_PID=
start_htmd --config "$T/htmd.json"
ctl -o json list >"$T/list.json" || fail "list failed"
jq -r '.[] | "\(.id) \(.state) \(.exit_code)"' "$T/list.json" | sort -n >"$T/after"
if cmp -s "$T/before" "$T/after"; then
	ok "$(wc -l <"$T/after") tasks, same ids, states and exit codes after the replay"
else
	fail_later "the replay after a settled SIGKILL changed the task list: $(diff "$T/before" "$T/after" | head -n 6 | tr '\n' ' ')"
fi

say "replays"
grep -o 'journal: replayed .*' "$T/htmd.log" | sed 's/^/    /'
grep -o 'journal: cut a torn tail.*' "$T/htmd.log" | sed 's/^/    /'
grep -o 'recovered from the journal: .*' "$T/htmd.log" | sed 's/^/    /'
n_replays=$(grep -c 'journal: replayed' "$T/htmd.log")
[ "$n_replays" = $((kills + 2)) ] ||
	fail_later "expected $((kills + 2)) 'journal: replayed' lines (first start + $((kills + 1)) restarts), found $n_replays"

if [ "${SABOTAGE:-}" = ran-twice ]; then
	id=$(jq -r '[.[] | select(.state == "succeeded")][0].id' "$T/list.json")
	info "SABOTAGE=ran-twice: appending task $id to $RAN a second time"
	echo "$id" >>"$RAN"
fi

say "pending approvals"
for id in "${gated[@]}"; do
	j=$(jq -c --argjson id "$id" '.[] | select(.id == $id)' "$T/list.json")
	if jqr "$j" '.state == "pending_approval" and .approval.approved_by == [] and .approval.needed == 1' -e >/dev/null; then
		ok "task $id still pending approval, no approver"
	else
		fail_later "task $id after the crashes: $j"
	fi
done
j=$(jq -c --argjson id "$quorum" '.[] | select(.id == $id)' "$T/list.json")
if jqr "$j" '.state == "pending_approval" and .approval.approved_by == [0] and .approval.needed == 1' -e >/dev/null; then
	ok "quorum task $quorum still pending with root's approval, one more needed"
else
	fail_later "quorum task $quorum after the crashes: $j"
fi
for id in "${gated[@]}" "$quorum"; do
	grep -qx "$id" "$RAN" && fail_later "task $id ran without its approval"
done
# from here on the checks are about the load: leave the three out
jq "[.[] | select(.id != ${gated[0]} and .id != ${gated[1]} and .id != $quorum)]" \
	"$T/list.json" >"$T/list.load.json" && mv "$T/list.load.json" "$T/list.json"

say "checks"
jq -r '.[].id' "$T/list.json" | sort -n >"$T/list-ids"
sort -n "$ACKED" >"$T/acked-sorted"
sort -n "$RAN" >"$T/ran-sorted"
jq -r '.[] | select(.state == "succeeded") | .id' "$T/list.json" | sort -n >"$T/succeeded"

n_list=$(wc -l <"$T/list-ids")
n_acked=$(wc -l <"$T/acked-sorted")
n_ran=$(wc -l <"$T/ran-sorted")
unanswered=$(jq .unanswered "$T/loadgen.json")
refused=$(jq .refused "$T/loadgen.json")
info "acknowledged $n_acked, replies lost $unanswered, refused $refused, tasks listed $n_list, RANFILE lines $n_ran"

dups=$(uniq -d "$T/acked-sorted" | head -n 5 | tr '\n' ' ')
[ -z "$dups" ] && ok "no id acknowledged twice" || fail_later "ids acknowledged twice (given to two submissions): $dups"
dups=$(uniq -d "$T/list-ids" | head -n 5 | tr '\n' ' ')
[ -z "$dups" ] && ok "no id twice in list" || fail_later "ids listed twice: $dups"
missing=$(comm -23 <(sort -u "$ACKED") <(sort -u "$T/list-ids"))
if [ -z "$missing" ]; then
	ok "all $n_acked acknowledged ids are in list"
else
	fail_later "$(echo "$missing" | wc -l) acknowledged ids are missing from list: $(echo "$missing" | head -n 10 | tr '\n' ' ')"
fi
[ "$refused" = 0 ] || fail_later "$refused submissions were refused"
[ "$n_list" -le $((n_acked + unanswered)) ] && ok "no phantom tasks: $n_list listed <= $n_acked acknowledged + $unanswered replies lost" ||
	fail_later "$n_list tasks listed, more than $n_acked acknowledged + $unanswered replies lost"
[ "$n_list" -ge "$n_acked" ] || fail_later "fewer tasks listed ($n_list) than acknowledged ($n_acked)"

dups=$(uniq -d "$T/ran-sorted" | head -n 10 | tr '\n' ' ')
[ -z "$dups" ] && ok "no task ran twice ($n_ran runs)" || fail_later "tasks that ran twice (in RANFILE more than once): $dups"
stray=$(comm -23 <(sort -u "$T/ran-sorted") <(sort -u "$T/list-ids") | head -n 10 | tr '\n' ' ')
[ -z "$stray" ] && ok "every task that ran is a listed task" || fail_later "ran but not in list: $stray"
notran=$(comm -23 <(sort -u "$T/succeeded") <(sort -u "$T/ran-sorted") | head -n 10 | tr '\n' ' ')
[ -z "$notran" ] && ok "every succeeded task is in RANFILE" || fail_later "succeeded but never ran (not in RANFILE): $notran"
bad_exit=$(jq -r '[.[] | select(.state == "succeeded" and .exit_code != 0) | .id] | .[:10] | join(" ")' "$T/list.json")
[ -z "$bad_exit" ] || fail_later "succeeded with a non-zero exit code: $bad_exit"

say "final states"
jq -r 'group_by(.state)[] | "\(.[0].state) \(length)"' "$T/list.json" | sed 's/^/    /'
others=$(jq -r '[.[] | select(.state != "succeeded" and .state != "lost" and .state != "cancelled")] |
	group_by(.state) | map("\(.[0].state)=\(length) (e.g. task \(.[0].id): \(.[0].reason))") | join(", ")' "$T/list.json")
[ -z "$others" ] && ok "only succeeded / lost / cancelled" || fail_later "unexpected final states: $others"
n_lost=$(jq '[.[] | select(.state == "lost")] | length' "$T/list.json")
lost_ran=$(comm -12 <(jq -r '.[] | select(.state == "lost") | .id' "$T/list.json" | sort -u) <(sort -u "$T/ran-sorted") | wc -l)
info "lost $n_lost, of which $lost_ran had run (finished while htmd was down or after it re-adopted them), $((n_lost - lost_ran)) never started"
info "re-adopted after a restart: $(grep -o 'recovered from the journal: .*' "$T/htmd.log" | awk '{ s += $(NF - 4) } END { print s + 0 }')"

say "journal"
capture ctl -o json log --verify
info "log --verify: $(jqr "$OUT" '{ok, records, segments, last_seq, tail_bytes_unchecked}' -c 2>/dev/null || echo "$OUT")"
if [ "$RC" = 0 ] && [ "$(jqr "$OUT" .ok)" = true ]; then
	ok "log --verify passes"
else
	show_output
	fail_later "log --verify exit $RC: $(jqr "$OUT" .broken -c 2>/dev/null)"
fi
ls "$STATE/journal" | awk '/\.log\.gz$/ { gz++ } /\.log$/ { plain++ } /\.tmp$/ { tmp++ }
	END { printf "    segments: %d sealed, %d plain, %d .tmp left by an interrupted seal\n", gz, plain, tmp }'

say "result: $N submitted, $n_acked acknowledged, $kills SIGKILLs; succeeded $(wc -l <"$T/succeeded"), lost $n_lost, ran $n_ran"
stop_htmd
finish
