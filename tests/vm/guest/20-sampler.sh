#!/bin/sh
# The sampler on Debian's 6.1: every program loads and attaches (no feature
# switched off), the maps are pinned, and a run-queue budget breach of a
# governed cgroup reaches htmd as an event within a sampling period.
# vm: timeout=90
set -eu
. "${0%/*}/lib.sh"
need spin taskset jq

quiet_config /tmp/sampler.json
htmd_start --config /tmp/sampler.json
st=$($HTMCTL -o json status)
state=$(echo "$st" | jq -r .sampler.state)
[ "$state" = attached ] || fail "sampler $state: $(echo "$st" | jq -c .sampler)"
# sched_info clock (the default): sched_switch, reclaim begin/end and
# mark_victim; the task-storage clock adds the two wakeup programs.
progs() { echo "$1" | jq -r '.sampler.programs | sort | join(" ")'; }
want="htm_mark_victim htm_reclaim_begin htm_reclaim_end htm_sched_switch"
got=$(progs "$st")
off=$(echo "$st" | jq -c .sampler.off)
clock=$(echo "$st" | jq -r .sampler.runqueue_clock)
info "sampler: clock $clock, attached: $got; off: $off"
[ "$clock" = sched_info ] && [ "$got" = "$want" ] && [ "$off" = "[]" ] &&
	result_pass sampler-loads-on-6.1 ||
	result_fail sampler-loads-on-6.1 "clock $clock, programs $got (want $want), off $off"
[ -e /sys/fs/bpf/htm/htm_cg_stats ] && [ -e /sys/fs/bpf/htm/link_htm_sched_switch ] ||
	fail "maps or links not pinned under /sys/fs/bpf/htm: $(ls /sys/fs/bpf/htm)"

# A task with a 200 us budget shares CPU 0 with two spinners of its own
# priority: every wakeup waits a scheduler slice, far over the budget.
$HTMCTL submit -q --name hog1 -- taskset -c 0 spin 30 >/dev/null
$HTMCTL submit -q --name hog2 -- taskset -c 0 spin 30 >/dev/null
id=$($HTMCTL submit -q --name waiter --budget 200us -- taskset -c 0 sh -c 'while :; do sleep 0.005; done')
wait_for 15 sh -c "$HTMCTL -o json top | jq -e '.events | map(select(.type == \"sampler.budget_breach\" and .task == $id)) | length > 0' >/dev/null" ||
	{ $HTMCTL -o json top | jq -c '.events[-3:]'; fail "no budget breach event for task $id"; }
ev=$($HTMCTL -o json top | jq -c "[.events[] | select(.type == \"sampler.budget_breach\" and .task == $id)][0]")
info "breach event: $ev"
echo "$ev" | jq -e '.wait_us > .budget_us and .budget_us == 200' >/dev/null ||
	fail "breach event does not show a wait over the 200 us budget: $ev"
result_pass budget-breach-event
b=$($HTMCTL -o json show "$id" | jq .usage.breaches)
info "task $id: $b breaches counted in the kernel (events are rate-limited to 1 per 10 ms)"
[ "$b" -gt 0 ] || fail "usage.breaches is $b"
htmd_stop
[ ! -e /sys/fs/bpf/htm ] || fail "pins left after a clean exit: $(ls /sys/fs/bpf/htm)"

# The fallback clock loads on 6.1 too, with its wakeup programs.
quiet_config /tmp/sampler-ts.json '"runqueue_clock": "task_storage"'
htmd_start --config /tmp/sampler-ts.json
st=$($HTMCTL -o json status)
got=$(progs "$st")
want="htm_mark_victim htm_reclaim_begin htm_reclaim_end htm_sched_switch htm_sched_wakeup htm_sched_wakeup_new"
info "sampler, task_storage clock: $(echo "$st" | jq -r .sampler.state), attached: $got"
[ "$(echo "$st" | jq -r .sampler.runqueue_clock)" = task_storage ] && [ "$got" = "$want" ] ||
	fail "task_storage clock: $(echo "$st" | jq -c '.sampler | {state, reason, runqueue_clock, programs}')"
result_pass sampler-task-storage-on-6.1
htmd_stop
exit 0
