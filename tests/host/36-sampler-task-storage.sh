#!/bin/bash
# SPDX-License-Identifier: MIT
# 36-sampler-task-storage: the sampler's other way of timing run-queue
# waits. By default a wait starts at the kernel's own sched_info stamp; on
# kernels without CONFIG_SCHED_INFO (or with "runqueue_clock":
# "task_storage") the wakeup programs stamp tasks in task storage instead.
# This host has sched_info, so the fallback is forced here: status must say
# so, the wakeup programs must be attached (30), and the run-queue checks of 32 (waits vs the kernel's switch-ins and
# run_delay) and 33 (waits vs an independent bpftrace count) must hold in
# that mode too.
. "$(dirname "$0")/lib.sh"

require_cmd bpftool
[ -r /sys/kernel/btf/vmlinux ] || skip "no kernel BTF (/sys/kernel/btf/vmlinux)"
bpftool prog show >/dev/null 2>&1 || skip "bpftool prog show fails here: no BPF"

say "status names the clock"
write_config "$T/htmd.json" '{ "runqueue_clock": "task_storage" }'
start_htmd --config "$T/htmd.json"
clock=$(jqr "$(ctl -o json status)" .sampler.runqueue_clock)
[ "$clock" = task_storage ] || fail "runqueue_clock task_storage asked, status says '$clock'"
ok "status: runqueue_clock $clock"
stop_htmd

here=$(dirname "$0")
for t in 30-sampler-load 32-sampler-runqueue 33-sampler-bpftrace; do
	say "$t with runqueue_clock task_storage"
	rc=0
	HTM_RUNQUEUE_CLOCK=task_storage BUILD=$BUILD bash "$here/$t.sh" >"$T/$t.log" 2>&1 || rc=$?
	grep -E '^(ok|FAIL|skip):' "$T/$t.log" | sed 's/^/   /'
	case $rc in
	0) ok "$t passes with task-storage stamps" ;;
	77) skip "$t cannot run here: $(grep '^skip:' "$T/$t.log" | tail -n 1)" ;;
	*) fail_later "$t fails with task-storage stamps (exit $rc)" ;;
	esac
done
finish
