#!/bin/sh
# SLA escalation on a real kernel: a high task with a 10 s SLA is queued
# behind busy slots and enough earlier high work that first come, first
# served would start it after its deadline. With a tenth of its SLA left
# htmd must escalate it to critical, which puts it ahead of the queued high
# work, so that it starts (and here also finishes) before the deadline: no
# breach.
# vm: timeout=100
set -eu
. "${0%/*}/lib.sh"
need jq
failed=
bad() { result_fail "$@"; failed="$failed $1"; }

# Only SLA and priority order may decide here: stress is pinned to ok (the
# filler queue would otherwise be a backlog, and TCG's PSI figures would
# move the level), and the origin burst cap is lifted (all the work comes
# from one origin, and a cap would reorder nothing but might delay it).
quiet_config /tmp/sla.json '"slots": 2, "fairshare": { "burst_per_minute": 0 },
  "sample_period": "200ms"'
htmd_start --config /tmp/sla.json

# One slot is held for the whole test by a long task; the other works
# through the fillers one after another. Each filler is short (0.3 s):
# escalation leaves a tenth of the SLA (1 s), and the escalated task can
# only take a slot when one frees, so the slot's turnover must be well
# under that for "starts before the deadline" to be a fair demand.
# A gate task keeps the fillers' slot until everything is queued, so that
# the queue ahead of the SLA task does not depend on how fast htmctl runs.
gate=/tmp/sla.go
rm -f $gate
hold=$($HTMCTL submit -q -p normal --name hold -- sleep 100)
$HTMCTL submit -q -p high --name gate -- sh -c "while [ ! -e $gate ]; do sleep 0.05; done" >/dev/null
wait_for 10 sh -c "$HTMCTL -o json status | jq -e '.slots.busy == 2' >/dev/null" ||
	fail "hold and gate did not take both slots: $($HTMCTL -o json status | jq -c .slots)"
n=45
i=0
while [ $i -lt $n ]; do
	last=$($HTMCTL submit -q -p high --name "filler-$i" -- sleep 0.3)
	i=$((i + 1))
done
left=$($HTMCTL -o json status | jq .queue.high)
sla=$($HTMCTL submit -q -p high --name sla-task --sla 10s -- true)
touch $gate
info "task $sla (high, SLA 10 s) submitted behind $left queued high tasks of 0.3 s and a held slot"

# slow_wait SECONDS CMD...: wait_for in 0.5 s steps; polling htmctl every
# 0.1 s costs the TCG guest CPU the slot turnover needs
slow_wait() {
	_n=$(($1 * 2)); shift
	while [ $_n -gt 0 ] && ! "$@"; do sleep 0.5; _n=$((_n - 1)); done
	"$@"
}
# It is done within the 10 s deadline or never (it only runs `true`).
slow_wait 15 sh -c "$HTMCTL -o json show $sla | jq -e '.state == \"succeeded\"' >/dev/null" || :
s=$($HTMCTL -o json show "$sla")
info "task: $(echo "$s" | jq -c '{state, priority, escalations, sla_breached, submitted_at, started_at, finished_at, deadline}')"
sub=$(echo "$s" | jq .submitted_at)
dl=$(echo "$s" | jq .deadline)
# When it was escalated: the journal's record of that decision.
esc=$($HTMCTL -o json log --task "$sla" --type task.priority |
	jq -c '[.[] | {ts, from: .record.from, to: .record.to, why: .record.why}][0]')
info "escalation: $esc"
# Escalated once, to critical, with a tenth of the SLA left (not earlier:
# the timestamps have 1 ms resolution) and before the deadline.
if echo "$s" | jq -e '.escalations == 1 and .priority == "critical"' >/dev/null &&
	echo "$esc" | jq -e ".to == \"critical\" and .ts >= $sub + 8.999 and .ts < $dl" >/dev/null; then
	result_pass sla-escalated-to-critical
	info "escalated $(echo "$esc" | jq "(.ts - $sub) * 1000 | round") ms after submission, deadline at $(echo "$s" | jq '(.deadline - .submitted_at) * 1000 | round') ms"
else
	bad sla-escalated-to-critical "$(echo "$s" | jq -c '{priority, escalations}'), journal $esc"
fi
# what it waited for after the escalation: the filler in the slot then
et=$(echo "$esc" | jq .ts)
info "in the slot at the escalation: $($HTMCTL -o json list | jq -c "[.[] | select(.name != \"hold\" and .started_at != null and .started_at <= $et and (.finished_at == null or .finished_at >= $et)) | {id, name, started_at, finished_at}]"); SLA task preflight at $($HTMCTL -o json log --task "$sla" --type task.state | jq -c '[.[] | select(.record.to == "preflight") | .ts][0]')"
if echo "$s" | jq -e '.started_at != null and .started_at < .deadline' >/dev/null; then
	result_pass sla-started-before-deadline
	info "started $(echo "$s" | jq '(.started_at - .submitted_at) * 1000 | round') ms after submission, deadline at $(echo "$s" | jq '(.deadline - .submitted_at) * 1000 | round') ms"
else
	bad sla-started-before-deadline "$(echo "$s" | jq -c '{submitted_at, started_at, deadline}')"
fi
if echo "$s" | jq -e '.sla_breached == false' >/dev/null; then
	result_pass sla-not-breached
else
	bad sla-not-breached "$(echo "$s" | jq -c '{state, sla_breached, finished_at, deadline}')"
fi

# The scenario could have failed: first come, first served would have
# started it only after the last filler queued before it, and that filler
# started after the deadline even less the escalated task's own run time
# (the one turn it took from the fillers).
slow_wait 30 sh -c "$HTMCTL -o json show $last | jq -e '.started_at != null' >/dev/null" || :
lf=$($HTMCTL -o json show "$last")
info "last filler (task $last) started $(echo "$lf" | jq "(.started_at - $sub) * 1000 | round") ms after the SLA task's submission"
run=$(echo "$s" | jq '.finished_at - .started_at')
echo "$lf" | jq -e ".started_at - $run > $dl" >/dev/null ||
	bad sla-scenario "the last earlier filler started before the deadline: FIFO would have met it too, the test proves nothing ($(echo "$lf" | jq -c '{started_at}'), deadline $dl)"
info "status sla: $($HTMCTL -o json status | jq -c .sla)"
$HTMCTL cancel "$hold" >/dev/null || :
htmd_stop
[ -z "$failed" ] || fail "failed:$failed"
exit 0
