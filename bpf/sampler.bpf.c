// SPDX-License-Identifier: GPL-2.0
/*
 * htm sampler: per-cgroup run-queue latency, on-CPU time, memory reclaim and
 * OOM kills, for the cgroups htmd governs, plus a system-wide summary.
 *
 * Run-queue wait (the runqlat algorithm, keyed by the waiter's cgroup):
 *   sched_wakeup / sched_wakeup_new (p): stamp p's task storage with now.
 *   sched_switch (prev, next): if prev is still runnable (preempted) it goes
 *   back on the run queue: stamp it. If next carries a stamp, next waited
 *   now - stamp: add it to the log2 histogram of next's cgroup (the task
 *   that waited, not the waker and not prev) and of the summary, and clear
 *   the stamp. A wait over the cgroup's budget (htm_cg_conf) goes to the
 *   htm_events ring buffer at once, at most one per cgroup per
 *   breach_interval_ns (10 ms): a compare-and-swap on the cgroup's
 *   last_breach_ns, so concurrent CPUs cannot both emit.
 * On-CPU time: each CPU remembers since when and for which tracked cgroup
 *   it has been running (htm_cpu_state); every switch charges the elapsed
 *   time to that cgroup and to the summary. htmd adds the running segment
 *   when it reads, so a task that never switches out is still counted.
 * Memory: mm_vmscan_memcg_reclaim_begin/end time each reclaim pass of the
 *   current task, charged to its cgroup; mark_victim counts OOM kills in the
 *   victim's cgroup. Both also go to the ring buffer (reclaim rate-limited
 *   like breaches).
 *
 * Only cgroups present in htm_cg_stats are tracked (htmd adds and removes
 * them), so memory and cost do not grow with unrelated cgroups: an
 * untracked task costs one hash miss. Counters are per CPU, no shared
 * cache line is written on the hot path except a breach's CAS.
 *
 * Cost per event (measured with `make bench`, see README): the sampler adds
 * about 0.4 us per sched_switch+wakeup pair on this 2-CPU VM, one task
 * storage lookup and two or three map lookups per event.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "htm/sampler.h"

#define TASK_RUNNING 0

/* Set by htmd before load. */
const volatile __u64 breach_interval_ns = 10 * 1000 * 1000;
const volatile __u64 reclaim_interval_ns = 10 * 1000 * 1000;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct htm_cg_stats);
} htm_cg_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct htm_cg_stats);
} htm_all_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct htm_cg_conf);
} htm_cg_conf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct htm_cpu_state);
} htm_cpu_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} htm_events SEC(".maps");

struct task_stamps {
	__u64 queued_ns;		/* when it became runnable */
	__u64 reclaim_ns;		/* when its current reclaim pass began */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_stamps);
} htm_task_stamps SEC(".maps");

/* 5.14 renamed task_struct::state to __state. */
struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

static __always_inline long task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

static __always_inline __u64 task_cgid(struct task_struct *t)
{
	return BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
}

static __always_inline struct htm_cg_stats *all_stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&htm_all_stats, &zero);
}

/* 64-bit throughout: on 6.1 a 32-bit result loses its bounds when used to
 * index the histogram and the verifier rejects the access */
static __always_inline __u64 log2_u64(__u64 v)
{
	__u64 r = 0, shift;

	shift = (v > 0xffffffffull) << 5; v >>= shift; r |= shift;
	shift = (v > 0xffff) << 4; v >>= shift; r |= shift;
	shift = (v > 0xff) << 3; v >>= shift; r |= shift;
	shift = (v > 0xf) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	return r | (v >> 1);
}

static __always_inline void hist_add(struct htm_cg_stats *s, __u64 slot,
				     __u64 wait)
{
	s->wait_hist[slot]++;
	s->wait_count++;
	s->wait_ns += wait;
}

/* One event per cgroup per interval; a CAS settles races between CPUs. */
static __always_inline bool rate_ok(__u64 *last, __u64 now, __u64 interval)
{
	__u64 prev = *last;

	if (now - prev < interval)
		return false;
	return __sync_val_compare_and_swap(last, prev, now) == prev;
}

static __always_inline void emit(__u32 type, struct task_struct *t, __u64 cgid,
				 __u64 now, __u64 value, __u64 limit,
				 __u64 count)
{
	struct htm_event *e = bpf_ringbuf_reserve(&htm_events, sizeof(*e), 0);

	if (!e)
		return;
	e->type = type;
	e->pid = BPF_CORE_READ(t, pid);
	e->cgid = cgid;
	e->ts_ns = now;
	e->value_ns = value;
	e->limit_ns = limit;
	e->count = count;
	BPF_CORE_READ_STR_INTO(&e->comm, t, comm);
	bpf_ringbuf_submit(e, 0);
}

static __always_inline void stamp_queued(struct task_struct *p, __u64 now)
{
	struct task_stamps *ts;

	ts = bpf_task_storage_get(&htm_task_stamps, p, 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (ts)
		ts->queued_ns = now;
}

static __always_inline void wakeup(struct task_struct *p)
{
	struct htm_cg_stats *s;
	__u64 cgid = task_cgid(p);

	stamp_queued(p, bpf_ktime_get_ns());
	s = all_stats();
	if (s)
		s->wakeups++;
	s = bpf_map_lookup_elem(&htm_cg_stats, &cgid);
	if (s)
		s->wakeups++;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(htm_sched_wakeup, struct task_struct *p)
{
	wakeup(p);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(htm_sched_wakeup_new, struct task_struct *p)
{
	wakeup(p);
	return 0;
}

/* next waited `wait` ns on the run queue before getting this CPU. */
static __always_inline void waited(struct task_struct *next, __u64 cgid,
				   __u64 wait, __u64 now,
				   struct htm_cg_stats *tracked)
{
	struct htm_cg_stats *all = all_stats();
	struct htm_cg_conf *conf;
	__u64 slot = log2_u64(wait / 1000);

	if (slot >= HTM_HIST_SLOTS)
		slot = HTM_HIST_SLOTS - 1;
	if (all)
		hist_add(all, slot, wait);
	if (!tracked)
		return;
	hist_add(tracked, slot, wait);
	conf = bpf_map_lookup_elem(&htm_cg_conf, &cgid);
	if (!conf || !conf->budget_ns || wait <= conf->budget_ns)
		return;
	tracked->breaches++;
	if (rate_ok(&conf->last_breach_ns, now, breach_interval_ns))
		emit(HTM_EV_BUDGET_BREACH, next, cgid, now, wait,
		     conf->budget_ns, 0);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(htm_sched_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	struct htm_cg_stats *s, *tracked;
	struct htm_cpu_state *cpu;
	struct task_stamps *ts;
	__u64 now = bpf_ktime_get_ns(), cgid, ran;
	__u32 zero = 0;

	cpu = bpf_map_lookup_elem(&htm_cpu_state, &zero);
	if (cpu && cpu->since_ns) {
		ran = now - cpu->since_ns;
		if (cpu->running && (s = all_stats()))
			s->oncpu_ns += ran;
		if (cpu->cgid && (s = bpf_map_lookup_elem(&htm_cg_stats, &cpu->cgid)))
			s->oncpu_ns += ran;
	}

	/* preempted while runnable: it is queued again from now */
	if (task_state(prev) == TASK_RUNNING)
		stamp_queued(prev, now);

	cgid = task_cgid(next);
	tracked = bpf_map_lookup_elem(&htm_cg_stats, &cgid);
	ts = bpf_task_storage_get(&htm_task_stamps, next, 0, 0);
	if (ts && ts->queued_ns) {
		if (now > ts->queued_ns)
			waited(next, cgid, now - ts->queued_ns, now, tracked);
		ts->queued_ns = 0;
	}
	if (cpu) {
		cpu->since_ns = now;
		cpu->cgid = tracked ? cgid : 0;
		cpu->running = BPF_CORE_READ(next, pid) != 0;
	}
	return 0;
}

SEC("tp_btf/mm_vmscan_memcg_reclaim_begin")
int BPF_PROG(htm_reclaim_begin, int order, gfp_t gfp_flags)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct task_stamps *ts;

	ts = bpf_task_storage_get(&htm_task_stamps, t, 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (ts)
		ts->reclaim_ns = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/mm_vmscan_memcg_reclaim_end")
int BPF_PROG(htm_reclaim_end, unsigned long nr_reclaimed)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct htm_cg_stats *s;
	struct htm_cg_conf *conf;
	struct task_stamps *ts;
	__u64 now = bpf_ktime_get_ns(), took, cgid;

	ts = bpf_task_storage_get(&htm_task_stamps, t, 0, 0);
	if (!ts || !ts->reclaim_ns)
		return 0;
	took = now - ts->reclaim_ns;
	ts->reclaim_ns = 0;
	if ((s = all_stats())) {
		s->reclaim_count++;
		s->reclaim_ns += took;
		s->reclaimed_pages += nr_reclaimed;
	}
	cgid = bpf_get_current_cgroup_id();
	s = bpf_map_lookup_elem(&htm_cg_stats, &cgid);
	if (!s)
		return 0;
	s->reclaim_count++;
	s->reclaim_ns += took;
	s->reclaimed_pages += nr_reclaimed;
	conf = bpf_map_lookup_elem(&htm_cg_conf, &cgid);
	if (conf && rate_ok(&conf->last_reclaim_ns, now, reclaim_interval_ns))
		emit(HTM_EV_RECLAIM, t, cgid, now, took, 0, nr_reclaimed);
	return 0;
}

/* Switched off by htmd's feature probe on kernels whose mark_victim
 * tracepoint passes a pid instead of the task. */
SEC("tp_btf/mark_victim")
int BPF_PROG(htm_mark_victim, struct task_struct *victim, uid_t uid)
{
	struct htm_cg_stats *s;
	__u64 cgid = task_cgid(victim);

	if ((s = all_stats()))
		s->oom_kills++;
	s = bpf_map_lookup_elem(&htm_cg_stats, &cgid);
	if (s)
		s->oom_kills++;
	emit(HTM_EV_OOM_KILL, victim, cgid, bpf_ktime_get_ns(), 0, 0, uid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
