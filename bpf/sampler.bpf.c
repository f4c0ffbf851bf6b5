// SPDX-License-Identifier: GPL-2.0
/*
 * htm sampler: per-cgroup run-queue latency, on-CPU time and wakeups,
 * memory reclaim and OOM kills, for the cgroups htmd governs, plus a
 * system-wide summary.
 *
 * Run-queue wait, the runqlat algorithm keyed by the cgroup of the task that
 * waited (not the waker, not the task switched out). A wait starts when a
 * task becomes runnable (woken, forked, or preempted while runnable) and ends
 * at its sched_switch in. Where it starts is the wait_clock setting:
 *   sched_info (default where the kernel has it): the kernel itself stamps
 *     a queued task's sched_info.last_queued with its run queue's clock
 *     before sched_wakeup fires and clears it after sched_switch, so at
 *     sched_switch next waited rq->clock - last_queued: the very delta the
 *     kernel adds to run_delay (/proc/PID/schedstat), with no stamp of ours.
 *     Nothing of ours runs at wakeup: htmd does not attach the wakeup
 *     programs in this mode.
 *   task_storage (kernels without CONFIG_SCHED_INFO, or on request): the
 *     wakeup programs and sched_switch (for a preempted prev) stamp the task
 *     in task storage, sched_switch measures against that.
 * The wait goes into the log2 histogram of next's cgroup and of the summary.
 * A wait over the cgroup's budget (htm_cg_conf) goes to the htm_events ring
 * buffer at once, at most one per cgroup per breach_interval_ns (10 ms): a
 * compare-and-swap on the cgroup's last_breach_ns, so concurrent CPUs cannot
 * both emit. htm_cg_conf is only looked up for waits longer than
 * budget_floor_ns, the smallest budget htmd has set.
 * On-CPU time is charged to prev's cgroup at sched_switch: for the fair
 *   class the kernel's own count of the stint (sum_exec_runtime minus its
 *   value when the task was picked), the clock cpu.stat uses; otherwise the
 *   sum_exec_runtime since the switch-in. htm_cpu_state remembers each
 *   CPU's running task and its sum_exec_runtime at the switch-in, so htmd
 *   can add the stint in progress. In sched_info mode sched_switch reads
 *   no clock at all (only a breach does).
 * Wakeups are counted where the sleep they end begins: a switch-out of a
 *   task that blocks (not preempted, not runnable) is followed by exactly
 *   one wakeup. Counting there costs one compare in a cgroup already looked
 *   up, where a wakeup program would cost a dispatch and a hash lookup per
 *   wakeup (a third of the sampler's cost in the pipe benchmark). Wakeups
 *   of a task that had not yet slept, which move nothing, are not counted.
 * Memory: mm_vmscan_memcg_reclaim_begin/end time each reclaim pass of the
 *   current task (in task storage), charged to its cgroup; mark_victim
 *   counts OOM kills in the victim's cgroup. Both also go to the ring buffer
 *   (reclaim rate-limited like breaches).
 *
 * Only cgroups present in htm_cg_stats are tracked (htmd adds and removes
 * them), so memory and cost do not grow with unrelated cgroups. Counters
 * are per CPU; no shared cache line is written on the hot path except a
 * breach's CAS. Task pointers are read as BTF pointers (plain loads).
 *
 * Cost per event, sched_info mode (tests/bench/sampler-overhead.sh, see
 * README): sched_switch only, one per-CPU array lookup and one or two
 * hash lookups (one when prev and next share a cgroup), no clock read, no
 * division; 120-135 ns a run with kernel.bpf_stats_enabled on this
 * project's 6.18 test host, and +8-11% on a pipe round trip of two
 * switches. Task-storage mode adds a task-storage lookup and a clock read per wakeup (~110 ns)
 * and two task-storage lookups per switch.
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
/* enum htm_wait_clock: whose stamp starts a run-queue wait. The verifier
 * drops the other branch, so each mode pays only for itself. */
const volatile __u32 wait_clock = HTM_WAIT_SCHED_INFO;

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
	__u64 queued_ns;	/* HTM_WAIT_TASK_STORAGE: when it became runnable */
	__u64 reclaim_ns;	/* when its current memcg reclaim pass began */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_stamps);
} htm_task_stamps SEC(".maps");

/* tp_btf arguments are trusted BTF pointers: plain loads, no probe_read */
static __always_inline __u64 task_cgid(struct task_struct *t)
{
	return t->cgroups->dfl_cgrp->kn->id;
}

static __always_inline struct htm_cpu_state *cpu_state(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&htm_cpu_state, &zero);
}

/* the system-wide summary, this CPU's part */
static __always_inline struct htm_cg_stats *all_stats(void)
{
	struct htm_cpu_state *cpu = cpu_state();

	return cpu ? &cpu->all : NULL;
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

/* wait / 1000 without a division (a 64-bit div costs tens of cycles),
 * exact: below 2^32 ns (4.3 s) a multiply by 2^32/1000 rounded up is off by
 * less than one, and the compare corrects it; longer waits divide. */
static __always_inline __u64 ns_to_us(__u64 ns)
{
	__u64 q;

	if (ns >= (1ull << 32))
		return ns / 1000;
	q = (ns * 4294968ull) >> 32;
	return q * 1000 > ns ? q - 1 : q;
}

/* next waited `wait` ns on the run queue before getting this CPU. The
 * clock is read only for a breach. */
static __always_inline void waited(struct task_struct *next, __u64 cgid,
				   __u64 wait, struct htm_cg_stats *all,
				   struct htm_cg_stats *tracked)
{
	struct htm_cg_conf *conf;
	__u64 slot = log2_u64(ns_to_us(wait)), now;

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
	now = bpf_ktime_get_ns();
	if (rate_ok(&conf->last_breach_ns, now, breach_interval_ns))
		emit(HTM_EV_BUDGET_BREACH, next, cgid, now, wait,
		     conf->budget_ns, 0);
}

static __always_inline struct task_stamps *stamps(struct task_struct *t,
						   bool create)
{
	return bpf_task_storage_get(&htm_task_stamps, t, 0,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

/* Task-storage mode only: a wakeup starts the task's wait. (In sched_info
 * mode the kernel has stamped the task by the time this tracepoint fires,
 * and htmd does not attach these programs at all.) */
static __always_inline void wakeup(struct task_struct *p)
{
	struct task_stamps *ts;

	if (wait_clock == HTM_WAIT_TASK_STORAGE && (ts = stamps(p, true)))
		ts->queued_ns = bpf_ktime_get_ns();
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

/* sched_info mode: whether next was queued, and for how long (*wait) it
 * waited for this CPU, by the run queue's clock that stamped it. The run
 * queue is reached through next's group cfs_rq on this CPU (set for every
 * class): the `runqueues` per-CPU symbol cannot be resolved on kernels
 * without CONFIG_KALLSYMS_ALL. A wait can be 0: the kernel skips the clock
 * update when a wakeup preempts at once, and such a wait still counts. */
static __always_inline bool kernel_queued_for(struct task_struct *next,
					      __u64 *wait)
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

/* Task-storage mode: prev, preempted while runnable, is queued again from
 * now; next waited since its stamp. */
static __always_inline bool stamped_queued_for(struct task_struct *prev,
					       struct task_struct *next,
					       __u64 *wait)
{
	struct task_stamps *ts;
	__u64 now = bpf_ktime_get_ns();

	if (prev->__state == TASK_RUNNING && (ts = stamps(prev, true)))
		ts->queued_ns = now;
	ts = stamps(next, false);
	if (!ts || !ts->queued_ns)
		return false;
	*wait = now > ts->queued_ns ? now - ts->queued_ns : 0;
	ts->queued_ns = 0;
	return true;
}

/* Policies of the fair class (SCHED_NORMAL, SCHED_BATCH, SCHED_IDLE). */
static __always_inline bool fair_policy(unsigned int policy)
{
	return policy == 0 || policy == 3 || policy == 5;
}

/* CPU time of prev's stint that ends now, by the kernel's own count
 * (sum_exec_runtime, which the scheduler has just brought up to date, in
 * every class): the clock cpu.stat counts with. The fair class also keeps
 * where it stood when the task was picked (prev_sum_exec_runtime), which
 * does not depend on our having seen the switch-in: some kernels switch
 * tasks without the tracepoint (seen on a 6.18 build), which would
 * otherwise lose the whole stint. Other classes: from the value we
 * recorded at the switch-in, if we saw it. */
static __always_inline __u64 stint_ns(struct task_struct *prev,
				      const struct htm_cpu_state *cpu)
{
	__u64 sum = prev->se.sum_exec_runtime;

	if (!prev->pid)
		return 0;
	if (fair_policy(prev->policy))
		return sum - prev->se.prev_sum_exec_runtime;
	return cpu->pid == (__u64)prev->pid && sum > cpu->exec_ns ? sum - cpu->exec_ns : 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(htm_sched_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	struct htm_cpu_state *cpu = cpu_state();
	struct htm_cg_stats *all, *ran_in, *tracked;
	__u64 cgid = task_cgid(next), wait = 0;
	__u64 prev_cgid = task_cgid(prev), ran, blocked;

	if (!cpu)
		return 0;
	all = &cpu->all;
	ran = stint_ns(prev, cpu);
	/* prev blocks (is not preempted): one wakeup will end this sleep */
	blocked = !preempt && prev->__state != TASK_RUNNING;
	ran_in = bpf_map_lookup_elem(&htm_cg_stats, &prev_cgid);
	all->oncpu_ns += ran;
	all->wakeups += blocked;
	if (ran_in) {
		ran_in->oncpu_ns += ran;
		ran_in->wakeups += blocked;
	}
	/* switches within one cgroup (a pipe, a thread pool) look it up once */
	tracked = cgid == prev_cgid ? ran_in : bpf_map_lookup_elem(&htm_cg_stats, &cgid);
	if (wait_clock == HTM_WAIT_SCHED_INFO ? kernel_queued_for(next, &wait)
					      : stamped_queued_for(prev, next, &wait))
		waited(next, cgid, wait, all, tracked);
	/* for htmd, which adds the running stint when it reads */
	cpu->exec_ns = next->se.sum_exec_runtime;
	cpu->cgid = tracked ? cgid : 0;
	cpu->running = next->pid != 0;
	cpu->pid = next->pid;
	return 0;
}

SEC("tp_btf/mm_vmscan_memcg_reclaim_begin")
int BPF_PROG(htm_reclaim_begin, int order, gfp_t gfp_flags)
{
	struct task_stamps *ts = stamps(bpf_get_current_task_btf(), true);

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
	struct task_stamps *ts = stamps(t, false);
	__u64 now = bpf_ktime_get_ns(), took, cgid;

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
