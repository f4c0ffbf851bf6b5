// SPDX-License-Identifier: GPL-2.0
/*
 * Sampler, first stage: counts context switches per CPU.
 *
 * Algorithm: tp_btf/sched_switch increments one per-CPU counter; no locks,
 * no shared cache lines. Cost per event: one per-CPU array lookup and an
 * increment (a handful of instructions after the trampoline).
 * The daemon sums the per-CPU slots when asked for its status.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "htm/sampler.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct htm_cpu_counters);
} htm_cpu SEC(".maps");

SEC("tp_btf/sched_switch")
int BPF_PROG(htm_sched_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	struct htm_cpu_counters *c;
	__u32 zero = 0;

	c = bpf_map_lookup_elem(&htm_cpu, &zero);
	if (c)
		c->switches++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
