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
n=$(echo "$st" | jq '.sampler.programs | length')
off=$(echo "$st" | jq -c .sampler.off)
info "sampler: $n programs attached, off: $off"
[ "$n" -eq 6 ] && [ "$off" = "[]" ] && result_pass sampler-loads-on-6.1 ||
	result_fail sampler-loads-on-6.1 "$n programs, off $off"
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
exit 0
