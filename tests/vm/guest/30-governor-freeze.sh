#!/bin/sh
# Freeze and thaw on a real kernel: stress rises (driven by a real signal,
# the queue backlog), low work is capped then frozen; the backlog clears,
# it is thawed and uncapped in reverse order. cgroup.events confirms both.
# Then a SIGKILL of htmd while low work is frozen and capped: the next
# start reconciles it to what the policy calls for within 2 s.
# vm: timeout=120
set -eu
. "${0%/*}/lib.sh"
need spin jq

cat >/tmp/gov.json <<'J'
{ "slots": 2, "bpf_pin_dir": "",
  "stress": { "cpu_some": [1001, 1002, 1003], "memory_some": [1001, 1002, 1003],
              "memory_full": [1001, 1002, 1003], "io_some": [1001, 1002, 1003],
              "budget_breaches": [1e7, 2e7, 3e7], "memory_available": [0.0003, 0.0002, 0.0001],
              "queue_backlog": [1, 2, 3], "cooldown": "1s" },
  "sample_period": "200ms" }
J
htmd_start --config /tmp/gov.json
root=$(cgroup2_root)/htm.slice
low=$($HTMCTL submit -q -p low --name lowspin -- spin 100)
crit=$($HTMCTL submit -q -p critical --name hold -- sleep 100)
wait_for 10 sh -c "$HTMCTL -o json show $low | jq -e '.state == \"running\"' >/dev/null" || fail "low task did not start"
frozen() { grep -q '^frozen 1' "$root/low/cgroup.events"; }
info "low class before: cpu.max $(cat $root/low/cpu.max), $(grep frozen $root/low/cgroup.events)"
# two tasks that cannot start (both slots busy): backlog 2 -> stress high
q1=$($HTMCTL submit -q -p normal -- true)
q2=$($HTMCTL submit -q -p normal -- true)
if wait_for 10 frozen; then
	result_pass governor-freezes-low
else
	result_fail governor-freezes-low "$(grep frozen $root/low/cgroup.events); $($HTMCTL -o json status | jq -c .governor)"
fi
info "at high: low cpu.max $(cat $root/low/cpu.max), normal cpu.max $(cat $root/normal/cpu.max), governor $($HTMCTL -o json status | jq -c '.governor.level')"
grep -q '^20000 100000' "$root/low/cpu.max" && result_pass governor-caps-low ||
	result_fail governor-caps-low "low cpu.max $(cat $root/low/cpu.max)"
grep -q '^50000 100000' "$root/normal/cpu.max" && result_pass governor-caps-normal ||
	result_fail governor-caps-normal "normal cpu.max $(cat $root/normal/cpu.max)"
c0=$(awk '/^usage_usec/ { print $2 }' "$root/low/task-$low/cpu.stat"); sleep 1
c1=$(awk '/^usage_usec/ { print $2 }' "$root/low/task-$low/cpu.stat")
info "frozen low task used $((c1 - c0)) us of CPU in 1 s"
[ $((c1 - c0)) -lt 20000 ] || fail "a frozen task ran $((c1 - c0)) us in 1 s"

# SIGKILL while frozen and capped, restart with a policy that calls for ok
kill -KILL "$HTMD_PID"; wait "$HTMD_PID" 2>/dev/null || :
HTMD_PID=
frozen || fail "after SIGKILL the low class should still be frozen (nobody thawed it)"
sed -i 's/"queue_backlog": \[1, 2, 3\]/"queue_backlog": [1e8, 2e8, 3e8]/' /tmp/gov.json
t0=$(now_ms)
htmd_start --config /tmp/gov.json
if wait_for 2 sh -c "! grep -q '^frozen 1' $root/low/cgroup.events && grep -q '^max' $root/low/cpu.max"; then
	result_pass crash-reconciled-within-2s
	info "reconciled in $(( $(now_ms) - t0 )) ms after the restart began"
else
	result_fail crash-reconciled-within-2s "$(grep frozen $root/low/cgroup.events), cpu.max $(cat $root/low/cpu.max)"
fi
$HTMCTL cancel "$low" >/dev/null || :
$HTMCTL cancel "$crit" >/dev/null || :
htmd_stop
exit 0
