// SPDX-License-Identifier: GPL-2.0
/*
 * htm sampler: per-cgroup run-queue latency, on-CPU time, memory reclaim and
 * OOM kills, for the cgroups htmd governs, plus a system-wide summary.
 *
 * Run-queue wait, from the scheduler's own bookkeeping (CONFIG_SCHED_INFO,
 * on in every distribution kernel through delay accounting or schedstats):
 * when a task is queued the kernel stamps sched_info.last_queued with the
 * run queue's clock (on wakeup, on fork, and when it is preempted while
 * still runnable), and clears it when the task gets the CPU. sched_switch
 * fires after the clock was updated and before the kernel clears the stamp,
 * so there next waited rq->clock - next->sched_info.last_queued: the very
 * delta the kernel adds to its run_delay (/proc/PID/schedstat). One
 * program, no wakeup hook and no per-task storage for waits: the wakeup side, where a
 * runqlat-style tool spends half its cost, is the kernel's. The wait goes
 * into the log2 histogram of next's cgroup (the task that waited, not the
 * waker) and of the summary. A wait over the cgroup's budget (htm_cg_conf)
 * goes to the htm_events ring buffer at once, at most one per cgroup per
 * breach_interval_ns (10 ms): a compare-and-swap on the cgroup's
 * last_breach_ns, so concurrent CPUs cannot both emit. htm_cg_conf is only
 * looked up for waits longer than budget_floor_ns, the smallest budget htmd
 * has set, so ordinary switches never touch it. Like the kernel's run_delay,
 * a wait interrupted by a migration to another CPU counts from the move.
 * On-CPU time: each CPU remembers since when and for which tracked cgroup
 *   it has been running (htm_cpu_state); every switch charges the elapsed
 *   time to that cgroup and to the summary. htmd adds the running segment
 *   when it reads, so a task that never switches out is still counted.
 * Memory: mm_vmscan_memcg_reclaim_begin/end time each reclaim pass of the
 *   current task (in task storage), charged to its cgroup; mark_victim
 *   counts OOM kills in the victim's cgroup. Both also go to the ring buffer
 *   (reclaim rate-limited like breaches).
 *
 * Only cgroups present in htm_cg_stats are tracked (htmd adds and removes
 * them), so memory and cost do not grow with unrelated cgroups. Counters
 * are per CPU; no shared cache line is written on the hot path except a
 * breach's CAS.
 *
 * Cost per sched_switch: one clock read, pointer loads through BTF (no
 * probe_read helpers), two per-CPU array lookups and one hash lookup (none
 * when next is in the same cgroup as prev). `make bench` measures it
 * against perf bench sched pipe and a bpftrace script; see README.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "htm/sampler.h"

/* Set by htmd before load. */
const volatile __u64 breach_interval_ns = 10 * 1000 * 1000;
const volatile __u64 reclaim_interval_ns = 10 * 1000 * 1000;

/* Written by htmd at run time: no budget it set is below this, so a shorter
 * wait needs no htm_cg_conf lookup. ~0: no budget set yet. */
__u64 budget_floor_ns = ~0ull;

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

/* When the task's current memcg reclaim pass began. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
} htm_reclaim_start SEC(".maps");

/* tp_btf arguments are trusted BTF pointers: plain loads, no probe_read */
static __always_inline __u64 task_cgid(struct task_struct *t)
{
	return t->cgroups->dfl_cgrp->kn->id;
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
	e->pid = t->pid;
	e->cgid = cgid;
	e->ts_ns = now;
	e->value_ns = value;
	e->limit_ns = limit;
	e->count = count;
	bpf_probe_read_kernel_str(&e->comm, sizeof(e->comm), t->comm);
	bpf_ringbuf_submit(e, 0);
}

/* next waited `wait` ns on the run queue before getting this CPU. */
static __always_inline void waited(struct task_struct *next, __u64 cgid,
				   __u64 wait, __u64 now,
				   struct htm_cg_stats *all,
				   struct htm_cg_stats *tracked)
{
	struct htm_cg_conf *conf;
	__u64 slot = log2_u64(wait / 1000);

	if (slot >= HTM_HIST_SLOTS)
		slot = HTM_HIST_SLOTS - 1;
	if (all)
		hist_add(all, slot, wait);
	if (!tracked)
		return;
	hist_add(tracked, slot, wait);
	if (wait <= budget_floor_ns)
		return;
	conf = bpf_map_lookup_elem(&htm_cg_conf, &cgid);
	if (!conf || !conf->budget_ns || wait <= conf->budget_ns)
		return;
	tracked->breaches++;
	if (rate_ok(&conf->last_breach_ns, now, breach_interval_ns))
		emit(HTM_EV_BUDGET_BREACH, next, cgid, now, wait,
		     conf->budget_ns, 0);
}

/* Whether next was queued, and for how long (*wait) it waited for this
 * CPU, by the run queue's clock that stamped it. The run queue is reached
 * through next's group cfs_rq on this CPU (set for every class): the
 * `runqueues` per-CPU symbol cannot be resolved on kernels without
 * CONFIG_KALLSYMS_ALL. A wait can be 0: the kernel skips the clock update
 * when a wakeup preempts at once, and such a wait still counts. */
static __always_inline bool queued_for(struct task_struct *next, __u64 *wait)
{
	struct cfs_rq *cfs_rq;
	__u64 queued, clock;

	if (!bpf_core_field_exists(next->sched_info.last_queued) ||
	    !bpf_core_field_exists(next->se.cfs_rq) ||
	    !bpf_core_field_exists(struct cfs_rq, rq))
		return false;
	queued = next->sched_info.last_queued;
	cfs_rq = next->se.cfs_rq;
	if (!queued || !cfs_rq)
		return false;
	clock = cfs_rq->rq->clock;
	*wait = clock > queued ? clock - queued : 0;
	return true;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(htm_sched_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	struct htm_cg_stats *all = all_stats(), *ran_in = NULL, *tracked;
	struct htm_cpu_state *cpu;
	__u64 now = bpf_ktime_get_ns(), cgid = task_cgid(next), wait = 0;
	__u32 zero = 0;

	cpu = bpf_map_lookup_elem(&htm_cpu_state, &zero);
	if (!cpu)
		return 0;
	if (cpu->since_ns) {
		__u64 ran = now - cpu->since_ns;

		if (cpu->running && all)
			all->oncpu_ns += ran;
		if (cpu->cgid && (ran_in = bpf_map_lookup_elem(&htm_cg_stats, &cpu->cgid)))
			ran_in->oncpu_ns += ran;
	}
	/* switches within one cgroup (a pipe, a thread pool) look it up once */
	if (cgid == cpu->last_cgid)
		tracked = cpu->cgid ? ran_in : NULL;
	else
		tracked = bpf_map_lookup_elem(&htm_cg_stats, &cgid);
	if (queued_for(next, &wait))
		waited(next, cgid, wait, now, all, tracked);
	cpu->since_ns = now;
	cpu->last_cgid = cgid;
	cpu->cgid = tracked ? cgid : 0;
	cpu->running = next->pid != 0;
	return 0;
}

SEC("tp_btf/mm_vmscan_memcg_reclaim_begin")
int BPF_PROG(htm_reclaim_begin, int order, gfp_t gfp_flags)
{
	__u64 *start;

	start = bpf_task_storage_get(&htm_reclaim_start, bpf_get_current_task_btf(),
				     0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (start)
		*start = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/mm_vmscan_memcg_reclaim_end")
int BPF_PROG(htm_reclaim_end, unsigned long nr_reclaimed)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct htm_cg_stats *s;
	struct htm_cg_conf *conf;
	__u64 now = bpf_ktime_get_ns(), took, cgid, *start;

	start = bpf_task_storage_get(&htm_reclaim_start, t, 0, 0);
	if (!start || !*start)
		return 0;
	took = now - *start;
	*start = 0;
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
