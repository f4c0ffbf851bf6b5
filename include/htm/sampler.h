/* SPDX-License-Identifier: MIT */
/*
 * Types shared by bpf/sampler.bpf.c and htmd. Fixed-width types only: the
 * BPF side gets them from vmlinux.h, userspace from linux/types.h.
 * These are also what `bpftool map dump pinned /sys/fs/bpf/htm/<map>`
 * prints, field by field, from the maps' BTF.
 */
#ifndef HTM_SAMPLER_H
#define HTM_SAMPLER_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* log2 buckets of run-queue wait in microseconds: slot i counts waits in
 * [2^i, 2^(i+1)) us, slot 0 also those under 1 us; the last slot is open. */
#define HTM_HIST_SLOTS		26

/* Key of the system-wide summary in htm_cg_stats; no cgroup has id 0. */
#define HTM_CGID_ALL		0

/* htm_cg_stats: per-CPU counters per tracked cgroup; htmd sums the CPUs.
 * What sched_switch writes comes first: the four counters and the
 * histogram's short-wait slots share the value's first cache line. */
struct htm_cg_stats {
	__u64 wait_count;		/* run-queue waits ended (switch-ins) */
	__u64 wait_ns;			/* their total */
	__u64 oncpu_ns;			/* time on CPU, charged at switch-out */
	__u64 wakeups;			/* blocks: switch-outs of a task going to
					 * sleep, each ended by one wakeup */
	__u64 wait_hist[HTM_HIST_SLOTS];
	__u64 breaches;			/* waits over the budget (before rate limit) */
	__u64 reclaim_count;		/* memcg reclaim passes by its tasks */
	__u64 reclaim_ns;
	__u64 reclaimed_pages;
	__u64 oom_kills;
};

/* htm_cg_conf: one entry per cgroup htmd governs, written by htmd. Only
 * cgroups in this map (and the summary) are tracked. */
struct htm_cg_conf {
	__u64 budget_ns;		/* run-queue wait budget, 0: none */
	__u64 last_breach_ns;		/* kernel-side rate limit state */
	__u64 last_reclaim_ns;
};

/* htm_cpu_state: per CPU, who is running, so that htmd can add the stint
 * in progress (a stint is charged when it ends): htmd reads the task's
 * sum_exec_runtime (/proc/PID/schedstat) and subtracts exec_ns, the
 * kernel's own clock, so sched_switch reads no clock of its own. And the
 * system-wide summary, every task on this CPU: in the same value, because
 * sched_switch writes both, and one value touched instead of two cut the
 * sampler's cost in the pipe benchmark by a fifth. */
struct htm_cpu_state {
	__u64 exec_ns;			/* the running task's sum_exec_runtime at
					 * its switch-in */
	__u64 cgid;			/* tracked cgroup of the running task, or 0 */
	__u64 running;			/* 1 unless the idle task runs */
	__u64 pid;			/* the running task (a thread id) */
	struct htm_cg_stats all;	/* summary of every task on this CPU */
};

/* What starts a run-queue wait (the sampler's wait_clock setting). */
enum htm_wait_clock {
	HTM_WAIT_SCHED_INFO = 0,	/* the kernel's sched_info.last_queued */
	HTM_WAIT_TASK_STORAGE = 1,	/* our stamp at wakeup / preemption */
};

enum htm_event_type {
	HTM_EV_BUDGET_BREACH = 1,
	HTM_EV_RECLAIM = 2,
	HTM_EV_OOM_KILL = 3,
};

/* Records in the htm_events ring buffer. */
struct htm_event {
	__u32 type;			/* enum htm_event_type */
	__u32 pid;
	__u64 cgid;
	__u64 ts_ns;			/* CLOCK_MONOTONIC */
	__u64 value_ns;			/* breach: the wait; reclaim: time reclaiming */
	__u64 limit_ns;			/* breach: the budget */
	__u64 count;			/* reclaim: pages reclaimed */
	char comm[16];
};

#endif
