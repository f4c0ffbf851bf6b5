/* SPDX-License-Identifier: MIT */
/*
 * Types shared by bpf/sampler.bpf.c and userspace. Fixed-width types only:
 * the BPF side gets them from vmlinux.h, userspace from linux/types.h.
 */
#ifndef HTM_SAMPLER_H
#define HTM_SAMPLER_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Per-CPU totals the daemon sums for `status`. */
struct htm_cpu_counters {
	__u64 switches;		/* sched_switch events seen */
};

#endif
