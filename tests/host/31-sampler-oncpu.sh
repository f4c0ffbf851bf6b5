#!/bin/bash
# SPDX-License-Identifier: MIT
# 31-sampler-oncpu: the sampler's on-CPU time of a task (usage.cpu_seconds,
# read live from the BPF maps) follows the kernel's own accounting of the
# task's cgroup (cpu.stat usage_usec) within 5% over 2 s: for a spinner
# alone, and for two spinners sharing CPU 0, each against its own cgroup.
. "$(dirname "$0")/lib.sh"

require_cmd taskset
[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF (/sys/kernel/btf/vmlinux)"
SPIN=$(realpath "$BUILD/tests/bin/spin" 2>/dev/null) && [ -x "$SPIN" ] ||
	fail "$BUILD/tests/bin/spin is missing; run make first"

TOLERANCE_PCT=5
WINDOW_S=2

cpu_usec() { awk '$1 == "usage_usec" { print $2 }' "$1/cpu.stat"; }

# sample ID CG: "cpu_seconds usage_usec" with usage_usec read just before
# and just after the task (the mean, i.e. at about the time htmd read the
# maps)
sample() {
	local a b j c
	a=$(cpu_usec "$2") || return 1
	j=$(task_json "$1") || return 1
	b=$(cpu_usec "$2") || return 1
	c=$(jqr "$j" .usage.cpu_seconds)
	[[ $c =~ ^[0-9.e+-]+$ ]] || {
		echo "task $1: usage.cpu_seconds is '$c' in $j" >&2
		return 1
	}
	echo "$c $(((a + b) / 2))"
}

# compare WHAT S0 S1 MIN_S: the on-CPU delta against the cpu.stat delta
compare() {
	local what=$1 verdict
	verdict=$(awk -v w="$what" -v tol="$TOLERANCE_PCT" -v min="$4" \
		-v c0="${2% *}" -v u0="${2#* }" -v c1="${3% *}" -v u1="${3#* }" 'BEGIN {
		bpf = c1 - c0; stat = (u1 - u0) / 1e6
		err = stat > 0 ? 100 * (bpf - stat) / stat : 0
		printf "%s: sampler %.4f s, cpu.stat %.4f s, error %+.2f%%", w, bpf, stat, err
		if (stat < min) printf " | SETUP: cpu.stat grew only %.3f s, expected >= %.1f s", stat, min
		else if (err > tol || err < -tol) printf " | OVER %d%%", tol
		print ""
	}')
	case $verdict in
	*SETUP:*) fail "$verdict" ;;
	*OVER*) fail_later "$verdict" ;;
	*) ok "$verdict" ;;
	esac
	echo "$verdict" >>"$T/figures"
}

write_config "$T/htmd.json" '{ "slots": 4 }'
start_htmd --config "$T/htmd.json"
st=$(ctl -o json status) || fail "status failed"
if [ "$(jqr "$st" .sampler.state)" != attached ]; then
	bpftool prog show >/dev/null 2>&1 || skip "BPF not usable here: $(jqr "$st" .sampler.reason)"
	fail "sampler is '$(jqr "$st" .sampler.state)' ($(jqr "$st" .sampler.reason)) though BPF works here"
fi
ok "sampler attached"

say "one spinner: usage.cpu_seconds vs cpu.stat over $WINDOW_S s"
id=$(submit --name spin -- "$SPIN" 6) || fail "submit failed"
wait_state "$id" running
cg=$(task_field "$id" cgroup)
[ -r "$cg/cpu.stat" ] || fail "task $id: no $cg/cpu.stat"
sleep 0.3
s0=$(sample "$id" "$cg") || fail "task $id: cannot sample"
sleep "$WINDOW_S"
s1=$(sample "$id" "$cg") || fail "task $id: cannot sample"
compare "spinner alone (task $id)" "$s0" "$s1" 1.0
expect_rc 0 "htmctl cancel $id" ctl cancel "$id"

say "two spinners pinned to CPU 0, each against its own cpu.stat"
a=$(submit --name spin-a -- taskset -c 0 "$SPIN" 6) || fail "submit failed"
b=$(submit --name spin-b -- taskset -c 0 "$SPIN" 6) || fail "submit failed"
wait_state "$a" running
wait_state "$b" running
cga=$(task_field "$a" cgroup)
cgb=$(task_field "$b" cgroup)
sleep 0.3
a0=$(sample "$a" "$cga") || fail "task $a: cannot sample"
b0=$(sample "$b" "$cgb") || fail "task $b: cannot sample"
sleep "$WINDOW_S"
a1=$(sample "$a" "$cga") || fail "task $a: cannot sample"
b1=$(sample "$b" "$cgb") || fail "task $b: cannot sample"
compare "pinned spinner A (task $a)" "$a0" "$a1" 0.5
compare "pinned spinner B (task $b)" "$b0" "$b1" 0.5
# both on CPU 0: together they cannot have had more than one CPU
awk -v a0="${a0% *}" -v a1="${a1% *}" -v b0="${b0% *}" -v b1="${b1% *}" -v w="$WINDOW_S" \
	'BEGIN { s = (a1 - a0) + (b1 - b0); printf "%.4f\n", s; exit !(s <= w * 1.1) }' >"$T/sum" ||
	fail_later "the two spinners pinned to CPU 0 got $(cat "$T/sum") s of CPU in ${WINDOW_S} s by the sampler"
ok "together $(cat "$T/sum") s of CPU in ${WINDOW_S}+ s (one CPU)"
expect_rc 0 "htmctl cancel $a" ctl cancel "$a"
expect_rc 0 "htmctl cancel $b" ctl cancel "$b"

say "figures"
cat "$T/figures"
stop_htmd
finish
