#!/bin/bash
# SPDX-License-Identifier: MIT
# 35-sampler-fallback: when BPF cannot be used, htmd keeps running on PSI
# alone and says why. htmd runs as root without CAP_BPF, CAP_SYS_ADMIN and
# CAP_PERFMON (setpriv; bpftool fails the same way), everything else as
# usual: status .sampler.state is "unavailable" with a reason naming the
# cause, tasks run and finish, `top` still reports the stress level and the
# system's PSI, the usage of a task does not pass zeros off as
# measurements, and no pin directory is left behind.
. "$(dirname "$0")/lib.sh"

require_cmd setpriv bpftool
[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF (/sys/kernel/btf/vmlinux)"
bpftool prog show >/dev/null 2>&1 || skip "bpftool prog show fails even as full root: no BPF to take away"
SPIN=$(realpath "$BUILD/tests/bin/spin" 2>/dev/null) && [ -x "$SPIN" ] ||
	fail "$BUILD/tests/bin/spin is missing; run make first"

# shellcheck disable=SC2054 # setpriv takes comma-separated lists
DROP=(setpriv --inh-caps=-bpf,-sys_admin,-perfmon --ambient-caps=-all
	--bounding-set=-bpf,-sys_admin,-perfmon)
"${DROP[@]}" true 2>/dev/null || skip "setpriv cannot drop bpf,sys_admin,perfmon here (too old?)"
if "${DROP[@]}" bpftool prog show >/dev/null 2>&1; then
	skip "bpftool still works without CAP_BPF/CAP_SYS_ADMIN/CAP_PERFMON (unprivileged BPF allowed?): cannot make BPF unavailable this way"
fi
ok "bpftool fails under ${DROP[*]}: $("${DROP[@]}" bpftool prog show 2>&1 | head -n 1)"

# htmd itself through setpriv (start_htmd runs $HTMD)
REAL_HTMD=$HTMD
HTMD=$T/htmd-nobpf
printf '#!/bin/sh\nexec %s %q "$@"\n' "${DROP[*]}" "$REAL_HTMD" >"$HTMD"
chmod 0755 "$HTMD"
P=$(jqr "$(base_config)" '.bpf_pin_dir // empty')

start_htmd
grep -q CapEff "/proc/$HTMD_PID/status" && {
	eff=$(awk '/^CapEff/ { print $2 }' "/proc/$HTMD_PID/status")
	# CAP_SYS_ADMIN 21, CAP_PERFMON 38, CAP_BPF 39
	(((0x$eff >> 21 & 1) + (0x$eff >> 38 & 1) + (0x$eff >> 39 & 1) == 0)) ||
		fail "htmd $HTMD_PID still has CapEff $eff (setpriv did not drop the BPF capabilities)"
	ok "htmd $HTMD_PID runs with CapEff $eff (no CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF)"
}

say "status: the sampler is unavailable, and why"
st=$(ctl -o json status) || fail "status failed"
sampler=$(jqr "$st" .sampler)
info "sampler: $(jqr "$sampler" '{state, reason, fallback}' -c)"
[ "$(jqr "$sampler" .state)" = unavailable ] ||
	fail "sampler state is '$(jqr "$sampler" .state)' without CAP_BPF/CAP_SYS_ADMIN, expected unavailable"
reason=$(jqr "$sampler" '.reason // ""')
[ -n "$reason" ] || fail "sampler unavailable, but with an empty reason"
ok "sampler unavailable: $reason"
# the cause is a missing privilege; a reason blaming the kernel sends the
# operator the wrong way (upgrade a kernel that has everything needed)
if printf '%s' "$reason" | grep -qiE 'perm|EPERM|EACCES|capab|CAP_|privile|root'; then
	ok "the reason names the missing privilege"
else
	fail_later "the reason '$reason' does not name the cause: htmd lacks CAP_BPF/CAP_SYS_ADMIN" \
		"(the kernel has task storage maps: the same htmd attaches as full root)"
fi
grep -q 'BPF sampler unavailable' "$T/htmd.log" ||
	fail_later "the log does not say 'BPF sampler unavailable'"
if [ -n "$P" ] && [ -e "$P" ]; then
	fail_later "a failed load left $P behind: $(ls "$P" | tr '\n' ' ')"
else
	ok "no pin directory left (${P:-none configured})"
fi

say "tasks still run and finish"
id=$(submit --name spin -- "$SPIN" 0.5) || fail "submit failed"
expect_rc 0 "htmctl wait $id" ctl wait "$id" --timeout 10s
j=$(task_json "$id")
[ "$(jqr "$j" .state)" = succeeded ] || fail "task $id: state $(jqr "$j" .state)"
ok "task $id succeeded"
usage=$(jqr "$j" '.usage' -c)
info "usage of a task that burned 0.5 s of CPU: $usage"
# nothing measured the CPU time: a cpu_seconds of 0 is a false figure
if jqr "$j" '.usage | type != "object" or (.cpu_seconds | type != "number") or .cpu_seconds > 0.25' -e >/dev/null; then
	ok "usage does not report a false cpu_seconds"
else
	fail_later "without the sampler, task $id (spun 0.5 s) reports usage.cpu_seconds $(jqr "$j" .usage.cpu_seconds)" \
		"and waits $(jqr "$j" .usage.waits): zeros that look measured; expected them left out or marked unavailable"
fi

say "top still works on PSI"
hold=$(submit --name hold -- sh -c "$(hold_until "$T/go")") || fail "submit failed"
wait_state "$hold" running
sleep 0.3
capture ctl -o json top
[ "$RC" = 0 ] || { show_output; fail "htmctl -o json top exited $RC"; }
top=$OUT
jqr "$top" '.stress.level | type == "string"' -e >/dev/null || fail_later "top: no .stress.level: $(jqr "$top" .stress -c)"
jqr "$top" '.system.psi | (.cpu | type == "object") and (.memory | type == "object") and (.io | type == "object")' -e >/dev/null ||
	fail_later "top: .system.psi lacks cpu/memory/io: $(jqr "$top" .system -c)"
jqr "$top" '[.cgroups[] | .id] | index($id) != null' -e --argjson id "$hold" >/dev/null ||
	fail_later "top: task $hold is not among .cgroups: $(jqr "$top" '[.cgroups[] | .id]' -c)"
ok "top: stress $(jqr "$top" .stress.level) ($(jqr "$top" .stress.reasons)), system psi cpu some_avg10 $(jqr "$top" .system.psi.cpu.some_avg10), task $hold listed"
touch "$T/go"
expect_rc 0 "htmctl wait $hold" ctl wait "$hold" --timeout 10s

stop_htmd
finish
