#!/bin/bash
# SPDX-License-Identifier: MIT
# 34-sampler-pins: the sampler pins its maps and links in bpf_pin_dir, with
# BTF (bpftool prints named fields; a task's --budget is in htm_cg_conf);
# a clean exit removes the directory and detaches every program; after
# SIGKILL the pins stay and the programs keep running through the pinned
# links, and the next htmd on the same directory replaces the stale pins
# (saying so), attaches its own programs (the stale ones go away), counts,
# and leaves nothing behind on its clean exit.
. "$(dirname "$0")/lib.sh"

require_cmd bpftool
[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF (/sys/kernel/btf/vmlinux)"
bpftool prog show >/dev/null 2>&1 || skip "bpftool prog show fails here: no BPF"

P=/sys/fs/bpf/htm-test-$$-$TEST_NAME
MAPS="htm_cg_stats htm_cg_conf htm_cpu_state htm_events"
# the wakeup programs are attached in task-storage mode only
LINKS=htm_sched_switch
[ "${HTM_RUNQUEUE_CLOCK:-}" != task_storage ] ||
	LINKS="$LINKS htm_sched_wakeup htm_sched_wakeup_new"
write_config "$T/htmd.json" "{ \"bpf_pin_dir\": \"$P\", \"sample_period\": \"200ms\" }"
[ "$(jq -r .bpf_pin_dir "$T/htmd.json")" = "$P" ] || skip "this htmd does not know bpf_pin_dir"

# the program ids behind every link pinned in $P, "id id ..."
pinned_prog_ids() {
	local l ids=
	for l in "$P"/link_*; do
		ids="$ids $(bpftool -j link show pinned "$l" 2>/dev/null | jq -r '.prog_id // empty')"
	done
	echo $ids
}

# the ids of those links
pinned_link_ids() {
	local l ids=
	for l in "$P"/link_*; do
		ids="$ids $(bpftool -j link show pinned "$l" 2>/dev/null | jq -r '.id // empty')"
	done
	echo $ids
}

prog_exists() { bpftool prog show id "$1" >/dev/null 2>&1; }
link_exists() { bpftool link show id "$1" >/dev/null 2>&1; }

# none_exist KIND ID...: every one of these programs/links is gone
none_exist() {
	local kind=$1 i
	shift
	for i in "$@"; do
		"${kind}_exists" "$i" && return 1
	done
	return 0
}

# the system-wide wakeup count in PIN_DIR/htm_cpu_state (.all), all CPUs
all_wakeups() {
	bpftool -j map dump pinned "$1/htm_cpu_state" 2>/dev/null |
		jq '[.[0].formatted.values[].value.all.wakeups] | add'
}

sampler_attached() {
	local st
	st=$(ctl -o json status) || fail "status failed"
	if [ "$(jqr "$st" .sampler.state)" != attached ]; then
		fail "sampler is '$(jqr "$st" .sampler.state)' ($(jqr "$st" .sampler.reason))"
	fi
	[ "$(jqr "$st" .sampler.pin_dir)" = "$P" ] ||
		fail "status pin_dir is '$(jqr "$st" .sampler.pin_dir)', configured $P"
}

check_pins() { # WHEN
	local f missing=
	for f in $MAPS; do [ -e "$P/$f" ] || missing="$missing $f"; done
	for f in $LINKS; do [ -e "$P/link_$f" ] || missing="$missing link_$f"; done
	if [ -n "$missing" ]; then
		fail_later "$1: missing in $P:$missing (has: $(ls "$P" 2>/dev/null | tr '\n' ' '))"
	else
		ok "$1: $P has $(ls "$P" | tr '\n' ' ')"
	fi
}

say "a running htmd pins its maps and links"
start_htmd --config "$T/htmd.json"
sampler_attached
check_pins "while htmd runs"
ids1=$(pinned_prog_ids)
[ "$(echo "$ids1" | wc -w)" -ge 3 ] || fail "could not read the program ids behind the pinned links: '$ids1'"
ok "programs behind the pinned links: $ids1"

say "the maps have BTF: bpftool prints named fields, a task's budget is there"
id=$(submit --name budget --budget 100us -- sh -c "$(hold_until "$T/go1")") || fail "submit failed"
wait_state "$id" running
cgid=$(task_field "$id" cgroup_id)
capture bpftool map dump pinned "$P/htm_cg_conf"
[ "$RC" = 0 ] || { show_output; fail "bpftool map dump pinned $P/htm_cg_conf exited $RC"; }
if [[ $OUT == *'"budget_ns":'* && $OUT == *'"last_breach_ns":'* ]]; then
	ok "bpftool map dump htm_cg_conf prints budget_ns and last_breach_ns"
else
	show_output
	fail_later "bpftool map dump htm_cg_conf does not print named fields (no BTF?)"
fi
capture bpftool map dump pinned "$P/htm_cg_stats"
[[ $OUT == *'"wait_hist":'* && $OUT == *'"oncpu_ns":'* ]] ||
	fail_later "bpftool map dump htm_cg_stats does not print named fields: $(printf '%s' "$OUT" | head -c 300)"
budget=$(bpftool -j map dump pinned "$P/htm_cg_conf" |
	jq --argjson k "$cgid" '.[] | select(.formatted.key == $k) | .formatted.value.budget_ns')
if [ "$budget" = 100000 ]; then
	ok "htm_cg_conf[$cgid].budget_ns = 100000 for --budget 100us"
else
	fail_later "htm_cg_conf[$cgid].budget_ns is '$budget', expected 100000 for --budget 100us"
fi
touch "$T/go1"
expect_rc 0 "htmctl wait $id" ctl wait "$id" --timeout 10s

say "a clean exit removes the pins and detaches the programs"
stop_htmd
if [ -e "$P" ]; then
	fail_later "after a clean exit $P is still there: $(ls "$P" | tr '\n' ' ')"
	rm -rf "$P"
else
	ok "$P removed"
fi
# shellcheck disable=SC2086 # a list of ids
if wait_until 5 none_exist prog $ids1; then
	ok "programs $ids1 are gone"
else
	fail_later "after a clean exit programs are still loaded:" \
		"$(for i in $ids1; do bpftool prog show id "$i" 2>/dev/null | head -n 1; done)"
fi

say "after SIGKILL the pins stay and the programs keep running"
start_htmd --config "$T/htmd.json"
sampler_attached
ids2=$(pinned_prog_ids)
links2=$(pinned_link_ids)
ok "programs $ids2, links $links2"
old_pid=$HTMD_PID
kill -KILL "$old_pid"
wait "$old_pid" 2>/dev/null
HTMD_PID=
ok "htmd $old_pid killed with SIGKILL"
check_pins "after SIGKILL"
# shellcheck disable=SC2086
for i in $ids2; do prog_exists "$i" || fail_later "program $i is gone after SIGKILL"; done
# shellcheck disable=SC2086
for i in $links2; do link_exists "$i" || fail_later "link $i is gone after SIGKILL"; done
n0=$(all_wakeups "$P")
sleep 0.3
n1=$(all_wakeups "$P")
if [[ $n0 =~ ^[0-9]+$ && $n1 =~ ^[0-9]+$ ]] && [ "$n1" -gt "$n0" ]; then
	ok "the stale programs still run: htm_cpu_state all.wakeups $n0 -> $n1 in 0.3 s"
else
	fail_later "after SIGKILL, htm_cpu_state all.wakeups did not grow ($n0 -> $n1): are the programs still attached?"
fi

say "the next htmd replaces the stale pins"
# the dead daemon's socket may accept until its io_uring is torn down
wait_until 5 eval '! socat -u OPEN:/dev/null "UNIX-CONNECT:$SOCK" 2>/dev/null' ||
	fail "the killed htmd's socket still accepts connections 5 s after SIGKILL"
log_lines=$(wc -l <"$T/htmd.log")
start_htmd --config "$T/htmd.json"
sampler_attached
ok "the new htmd is attached"
replaced=$(tail -n +"$((log_lines + 1))" "$T/htmd.log" | grep -c 'replaced stale pin')
if [ "$replaced" -gt 0 ]; then
	ok "its log says 'replaced stale pin' ($replaced lines)"
else
	fail_later "the new htmd's log does not say 'replaced stale pin'"
fi
check_pins "the new htmd"
ids3=$(pinned_prog_ids)
for i in $ids3; do
	[[ " $ids2 " == *" $i "* ]] && fail_later "the new htmd's pin link_* still leads to the stale program $i"
done
ok "new programs $ids3 (stale were $ids2)"
# shellcheck disable=SC2086
if wait_until 5 none_exist prog $ids2 && none_exist link $links2; then
	ok "the stale programs $ids2 and links $links2 are gone"
else
	fail_later "stale programs or links still loaded after the new htmd replaced the pins:" \
		"$(for i in $ids2; do bpftool prog show id "$i" 2>/dev/null | head -n 1; done)" \
		"$(for i in $links2; do bpftool link show id "$i" 2>/dev/null | head -n 1; done)"
fi
id=$(submit --name after -- sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 0.02; done') || fail "submit failed"
expect_rc 0 "htmctl wait $id" ctl wait "$id" --timeout 10s
w=$(task_field "$id" usage.waits)
if [[ $w =~ ^[0-9]+$ ]] && [ "$w" -ge 10 ]; then
	ok "the new htmd's sampler counts: task $id has $w waits"
else
	fail_later "task $id (10 sleeps) under the new htmd has usage.waits '$w', expected >= 10"
fi

say "its clean exit leaves nothing"
stop_htmd
if [ -e "$P" ]; then
	fail_later "after the clean exit $P is still there: $(ls "$P" | tr '\n' ' ')"
else
	ok "$P removed"
fi
# shellcheck disable=SC2086
if wait_until 5 none_exist prog $ids3 $ids2; then
	ok "programs $ids3 are gone"
else
	fail_later "after the clean exit programs are still loaded:" \
		"$(for i in $ids3 $ids2; do bpftool prog show id "$i" 2>/dev/null | head -n 1; done)"
fi
finish
