#!/bin/bash
# SPDX-License-Identifier: MIT
# 30-sampler-load: the sampler's programs load and attach: status says
# attached and lists htm_sched_switch (and, in task-storage mode only,
# htm_sched_wakeup/_wakeup_new: in sched_info mode nothing of ours may run
# at wakeup); bpftool sees
# those programs behind the links pinned in the pin dir; a task's cgroup_id
# is the inode number of its cgroup directory and is a key of htm_cg_stats
# (and htm_cg_conf) while the task runs, and no longer once it finished.
. "$(dirname "$0")/lib.sh"

require_cmd bpftool
# BPF at all: kernel BTF, and the bpf() syscall answers this shell
[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF (/sys/kernel/btf/vmlinux)"
bpftool prog show >/dev/null 2>&1 || skip "bpftool prog show fails here: no BPF"

# The htm_cg_stats / htm_cg_conf keys, one per line, from the maps' BTF.
map_keys() { # MAP
	bpftool -j map dump pinned "$P/$1" | jq -r '.[] | .formatted.key'
}

start_htmd

say "status: attached, with the scheduler programs"
st=$(ctl -o json status) || fail "status failed"
sampler=$(jqr "$st" .sampler)
info "sampler: $(jqr "$sampler" '{state, reason, programs, off, pin_dir}' -c)"
[ "$(jqr "$sampler" .state)" = attached ] ||
	fail "sampler state is '$(jqr "$sampler" .state)' ($(jqr "$sampler" .reason)), expected attached"
ok "sampler attached"
WAKE_PROGS="htm_sched_wakeup htm_sched_wakeup_new"
clock=$(jqr "$sampler" .runqueue_clock)
case $clock in
sched_info) PROGS=htm_sched_switch NOT_PROGS=$WAKE_PROGS ;;
task_storage) PROGS="htm_sched_switch $WAKE_PROGS" NOT_PROGS= ;;
*) fail "status .sampler.runqueue_clock is '$clock'" ;;
esac
for p in $NOT_PROGS; do
	if jqr "$sampler" '.programs | index($p) != null' -e --arg p "$p" >/dev/null; then
		fail_later "runqueue_clock $clock, yet $p is attached: $(jqr "$sampler" .programs -c)"
	else
		ok "runqueue_clock $clock: $p not attached"
	fi
done
missing=
for p in $PROGS; do
	jqr "$sampler" '.programs | index($p) != null' -e --arg p "$p" >/dev/null ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	fail_later "status .sampler.programs lacks$missing: $(jqr "$sampler" .programs -c)"
else
	ok "programs: $(jqr "$sampler" .programs -c)"
fi
P=$(jqr "$sampler" .pin_dir)
want_pin=$(jqr "$(base_config)" '.bpf_pin_dir // empty')
[ -n "$want_pin" ] || fail "this htmd does not know bpf_pin_dir"
[ "$P" = "$want_pin" ] || fail "status pin_dir is '$P', configured '$want_pin'"
ok "pin_dir $P"

say "bpftool sees the programs behind the pinned links"
all_progs=$(bpftool -j prog show) || fail "bpftool prog show failed"
all_links=$(bpftool -j link show) || fail "bpftool link show failed"
for p in $PROGS; do
	link=$(bpftool -j link show pinned "$P/link_$p" 2>&1) || {
		fail_later "bpftool link show pinned $P/link_$p: $link"
		continue
	}
	lid=$(jqr "$link" .id)
	pid=$(jqr "$link" .prog_id)
	ltype=$(jqr "$link" .type)
	# a tp_btf program is a tracing program; the kernel calls its link a
	# raw_tracepoint link (BPF_LINK_TYPE_RAW_TRACEPOINT), bpftool may say
	# tracing
	case $ltype in
	raw_tracepoint | tracing) ;;
	*) fail_later "link $lid for $p has type '$ltype', expected raw_tracepoint/tracing" ;;
	esac
	tp=$(jqr "$link" '.tp_name // empty')
	[ -z "$tp" ] || [ "$tp" = "${p#htm_}" ] ||
		fail_later "link $lid for $p is on tracepoint '$tp', expected ${p#htm_}"
	jqr "$all_links" 'any(.[]; .id == $id)' -e --argjson id "$lid" >/dev/null ||
		fail_later "bpftool link show does not list link $lid ($p)"
	prog=$(jqr "$all_progs" '.[] | select(.id == $id)' -c --argjson id "$pid")
	if [ -z "$prog" ]; then
		fail_later "bpftool prog show does not list program $pid behind link $lid ($p)"
		continue
	fi
	pname=$(jqr "$prog" .name)
	ptype=$(jqr "$prog" .type)
	# the kernel keeps 15 characters of a name; bpftool may print the full
	# one from BTF
	if [ "$pname" != "$p" ] && ! { [ ${#pname} = 15 ] && [[ $p == "$pname"* ]]; }; then
		fail_later "program $pid behind link $lid is named '$pname', expected $p (or its first 15 characters)"
		continue
	fi
	[ "$ptype" = tracing ] || fail_later "program $pid ($p) has type '$ptype', expected tracing"
	ok "$p: link $lid ($ltype${tp:+ on $tp}) -> program $pid '$pname' ($ptype)"
done

say "a task's cgroup_id is its cgroup's inode and a key of the maps while it runs"
id=$(submit --name hold -- sh -c "$(hold_until "$T/go")") || fail "submit failed"
wait_state "$id" running
j=$(task_json "$id")
cg=$(jqr "$j" .cgroup)
cgid=$(jqr "$j" .cgroup_id)
[ -d "$cg" ] || fail "task $id: cgroup $cg does not exist"
ino=$(stat -c %i "$cg")
[ "$cgid" = "$ino" ] || fail "task $id: cgroup_id $cgid, but stat -c %i $cg is $ino"
ok "task $id: cgroup_id $cgid = inode of $cg"
if map_keys htm_cg_stats | grep -qx "$cgid"; then
	ok "htm_cg_stats has key $cgid while task $id runs"
else
	fail_later "htm_cg_stats lacks key $cgid while task $id runs (keys: $(map_keys htm_cg_stats | tr '\n' ' '))"
fi
if map_keys htm_cg_conf | grep -qx "$cgid"; then
	ok "htm_cg_conf has key $cgid while task $id runs"
else
	fail_later "htm_cg_conf lacks key $cgid while task $id runs (keys: $(map_keys htm_cg_conf | tr '\n' ' '))"
fi

touch "$T/go"
expect_rc 0 "htmctl wait $id" ctl wait "$id" --timeout 10s
if map_keys htm_cg_stats | grep -qx "$cgid"; then
	fail_later "htm_cg_stats still has key $cgid after task $id finished"
else
	ok "htm_cg_stats has no key $cgid after task $id finished"
fi
if map_keys htm_cg_conf | grep -qx "$cgid"; then
	fail_later "htm_cg_conf still has key $cgid after task $id finished"
else
	ok "htm_cg_conf has no key $cgid after task $id finished"
fi
n=$(task_field "$id" usage.waits)
if [[ $n =~ ^[0-9]+$ ]] && [ "$n" -gt 0 ]; then
	ok "finished task $id keeps its final usage (waits $n)"
else
	fail_later "finished task $id: usage.waits is '$n', expected its final count (> 0)"
fi

stop_htmd
finish
