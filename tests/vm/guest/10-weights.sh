#!/bin/sh
# Priority becomes cpu.weight on a real kernel, and the weights decide who
# gets a contended CPU: critical vs low spinners pinned to one CPU.
# vm: timeout=90
set -eu
. "${0%/*}/lib.sh"
need spin taskset

quiet_config /tmp/weights.json
htmd_start --config /tmp/weights.json
root=$(cgroup2_root)/htm.slice
st=$($HTMCTL -o json status)
info "enforced: $(echo "$st" | jq -c .cgroup.enforced)"
echo "$st" | jq -e '.cgroup.enforced | index("cpu")' >/dev/null ||
	fail "status does not list cpu as enforced: $(echo "$st" | jq -c .cgroup)"
echo "$st" | jq -e '.cgroup.controls["cpu.weight"]' >/dev/null ||
	fail "status says cpu.weight is not enforced"

crit=$($HTMCTL submit -q -p critical --name crit -- taskset -c 0 spin 60)
low=$($HTMCTL submit -q -p low --name low -- taskset -c 0 spin 60)
wait_for 10 sh -c "$HTMCTL -o json show $crit | jq -e '.state == \"running\"' >/dev/null" ||
	fail "critical task did not start"
wait_for 10 sh -c "$HTMCTL -o json show $low | jq -e '.state == \"running\"' >/dev/null" ||
	fail "low task did not start"
ccg=$($HTMCTL -o json show "$crit" | jq -r .cgroup)
lcg=$($HTMCTL -o json show "$low" | jq -r .cgroup)
[ "$ccg" = "$root/critical/task-$crit" ] || fail "critical task in $ccg"
[ "$lcg" = "$root/low/task-$low" ] || fail "low task in $lcg"

w=$(cat "$ccg/cpu.weight")
[ "$w" = 10000 ] && result_pass weights-critical || result_fail weights-critical "cpu.weight $w, want 10000"
w=$(cat "$lcg/cpu.weight")
[ "$w" = 10 ] && result_pass weights-low || result_fail weights-low "cpu.weight $w, want 10"
info "class weights: critical $(cat "$root/critical/cpu.weight"), low $(cat "$root/low/cpu.weight") idle $(cat "$root/low/cpu.idle" 2>/dev/null || echo n/a)"

usage() { awk '/^usage_usec/ { print $2 }' "$1/cpu.stat"; }
sleep 1	# both are on CPU 0 by now
c0=$(usage "$ccg"); l0=$(usage "$lcg")
sleep 3
c1=$(usage "$ccg"); l1=$(usage "$lcg")
dc=$((c1 - c0)); dl=$((l1 - l0))
info "3 s on one CPU: critical used ${dc} us, low used ${dl} us"
# at least 5x; a low task starved to 0 passes too
if [ $((dl * 5)) -le "$dc" ] && [ "$dc" -gt 1000000 ]; then
	result_pass contention-critical-5x
else
	result_fail contention-critical-5x "critical ${dc} us vs low ${dl} us in 3 s"
fi
$HTMCTL cancel "$crit" >/dev/null
$HTMCTL cancel "$low" >/dev/null
[ ! -d "$ccg" ] && [ ! -d "$lcg" ] || fail "task cgroups not removed after cancel"
htmd_stop
exit 0
