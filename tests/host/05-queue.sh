#!/bin/bash
# SPDX-License-Identifier: MIT
# 05-queue: with one slot, queued tasks start by priority, FIFO within a
# priority, one at a time; a queued task can be cancelled without ever
# running; `wait --timeout` on a running task returns promptly, exit 1.
. "$(dirname "$0")/lib.sh"

write_config "$T/htmd.json" '{ "slots": 1 }'
start_htmd --config "$T/htmd.json"
[ "$(ctl -o json status | jq .slots.total)" = 1 ] || fail "status does not show 1 slot"
ok "one slot"

say "a blocker takes the only slot"
blocker=$(submit --name blocker -p low -- sh -c "$(hold_until "$T/release")") || fail "submit failed"
wait_state "$blocker" running
ok "blocker task $blocker running"

say "queue low, normal, high, critical, normal behind it"
declare -A ID
for spec in low:low normal:normal-1 high:high critical:critical normal:normal-2; do
	p=${spec%%:*} name=${spec#*:}
	ID[$name]=$(submit -p "$p" --name "$name" -- sh -c "echo $name >>$T/order; sleep 0.02") || fail "submit $name failed"
	info "$name: task ${ID[$name]} ($p)"
done
for name in low normal-1 high critical normal-2; do
	j=$(task_json "${ID[$name]}")
	jqr "$j" '.state == "queued" and .started_at == null and .pid == null' -e >/dev/null ||
		fail "task ${ID[$name]} ($name) should be queued: $j"
done
ok "all five are queued, none started"
q=$(ctl -o json status | jq -c .queue)
[ "$q" = '{"critical":1,"high":1,"normal":2,"low":1}' ] || fail "status queue is $q"
ok "status queue: $q"

say "a queued task can be cancelled and never runs"
x=$(submit -p critical --name cancelled-while-queued -- sh -c "echo cancelled-while-queued >>$T/order") ||
	fail "submit failed"
expect_rc 0 "cancel queued task $x" ctl cancel "$x"
j=$(task_json "$x")
jqr "$j" '.state == "cancelled" and .started_at == null and .pid == null and .cgroup == null' -e >/dev/null ||
	fail "cancelled queued task: $j"
ok "task $x cancelled, never started"

say "wait --timeout 200ms on the running blocker"
t0=$(now_us)
capture ctl wait --timeout 200ms "$blocker"
ms=$(elapsed_ms "$t0")
show_output
[ "$RC" = 1 ] || fail "wait --timeout 200ms exited $RC, expected 1"
[ "$ms" -ge 180 ] && [ "$ms" -lt 2000 ] || fail "wait --timeout 200ms returned after $ms ms"
[[ $OUT == *running* ]] || fail "wait --timeout did not report the task still running: '$OUT'"
ok "exit 1 after $ms ms, reports it still running"
capture ctl -o json wait --timeout 200ms "$blocker"
[ "$RC" = 1 ] && jqr "$OUT" '.timed_out == true and .task.state == "running"' -e >/dev/null ||
	{ show_output; fail "wait -o json --timeout: expected timed_out true and state running (exit 1, got $RC)"; }
ok "-o json: timed_out true, state running"
task_state_is "$blocker" running || fail "the blocker is not running any more"

say "release: they run one at a time in priority order, FIFO within normal"
touch "$T/release"
expect_rc 0 "wait for the blocker" ctl wait "$blocker"
for name in critical high normal-1 normal-2 low; do
	expect_rc 0 "wait for $name" ctl wait "${ID[$name]}"
done
order=$(tr '\n' ' ' <"$T/order")
[ "$order" = "critical high normal-1 normal-2 low " ] || fail "ran in order '$order'"
ok "ran in order: $order"
prev_start=$(task_field "$blocker" started_at) prev_end=$(task_field "$blocker" finished_at) prev=blocker
for name in critical high normal-1 normal-2 low; do
	j=$(task_json "${ID[$name]}")
	s=$(jqr "$j" .started_at) e=$(jqr "$j" .finished_at)
	# strictly later start, and not before the previous one finished (one slot)
	awk -v ps="$prev_start" -v pe="$prev_end" -v s="$s" 'BEGIN { exit !(s > ps && s >= pe) }' ||
		fail "$name started at $s; $prev started at $prev_start and finished at $prev_end"
	info "$name: started $s, finished $e"
	prev_start=$s prev_end=$e prev=$name
done
ok "started_at strictly increasing, each after the previous one finished"
grep -q cancelled-while-queued "$T/order" && fail "the cancelled queued task ran"
ok "the cancelled queued task never ran"

stop_htmd
finish
