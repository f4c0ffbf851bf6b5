// SPDX-License-Identifier: MIT
/*
 * The monitor. Once per sampling period it reads the sampler's maps in
 * batches, the PSI and memory.current of every tracked cgroup, the system's
 * PSI and meminfo; turns cumulative counters into per-period CPU shares and
 * run-queue percentiles; and feeds the stress level. Between periods the
 * sampler's ring buffer (budget breaches, reclaim, OOM kills) and the PSI
 * triggers arrive on the loop and are handled at once; a trigger also runs
 * a sampling pass right away so the stress level does not wait a period.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/duration.h"
#include "core/histogram.h"
#include "manager.h"
#include "sys/log.h"
#include "sys/pressure.h"

#define DELAYACCT_SYSCTL "/proc/sys/kernel/task_delayacct"

static int tracked_cmp(const void *a, const void *b)
{
	const struct tracked_cg *x = a, *y = b;

	return (x->cgid > y->cgid) - (x->cgid < y->cgid);
}

static struct tracked_cg *tracked_find(struct htm_monitor *mon, uint64_t cgid)
{
	struct tracked_cg key = { .cgid = cgid };
	void *const *node = tfind(&key, &mon->tracked, tracked_cmp);

	return node ? *node : NULL;
}

/* --- tracking ------------------------------------------------------------ */

int monitor_track_task(struct htm_manager *m, struct htm_task *t, int cgfd)
{
	struct htm_monitor *mon = &m->mon;
	struct tracked_cg *tc;
	struct stat st;
	uint64_t budget;
	int r;

	/* on cgroup2 a cgroup directory's inode number is its kernfs id,
	 * the id bpf_get_current_cgroup_id() and cgroup->kn->id report */
	if (fstat(cgfd, &st) < 0)
		return -errno;
	t->cgroup_id = st.st_ino;
	tc = calloc(1, sizeof(*tc));
	if (!tc || !(tc->path = strdup(t->cgroup))) {
		free(tc);
		return -ENOMEM;
	}
	tc->cgid = t->cgroup_id;
	tc->task = t;
	if (!tsearch(tc, &mon->tracked, tracked_cmp)) {
		free(tc->path);
		free(tc);
		return -ENOMEM;
	}
	mon->ntracked++;
	budget = t->budget_ns ? t->budget_ns : m->cfg.priority[t->priority].rq_budget_ns;
	if (m->sampler) {
		r = htm_sampler_track(m->sampler, tc->cgid, budget);
		if (r < 0)
			htm_log(LOG_WARNING, "task %llu: sampler cannot track cgroup %llu: %s, ignoring",
				(unsigned long long)t->id, (unsigned long long)tc->cgid,
				strerror(-r));
	}
	return 0;
}

void monitor_untrack_task(struct htm_manager *m, struct htm_task *t)
{
	struct htm_monitor *mon = &m->mon;
	struct tracked_cg *tc = tracked_find(mon, t->cgroup_id);
	struct task_run *run = t->runtime;

	if (!tc)
		return;
	if (run) {
		run->usage.totals = tc->now;
		if (m->sampler)
			(void)htm_sampler_read_one(m->sampler, tc->cgid,
						   &run->usage.totals);
		run->usage.valid = true;
	}
	if (m->sampler)
		(void)htm_sampler_untrack(m->sampler, tc->cgid);
	tdelete(tc, &mon->tracked, tracked_cmp);
	mon->ntracked--;
	free(tc->path);
	free(tc);
}

int monitor_task_delays(struct htm_manager *m, struct htm_task *t,
			struct htm_delays *out)
{
	if (!m->mon.taskstats)
		return -EOPNOTSUPP;
	return htm_taskstats_query(m->mon.taskstats, t->pid, out);
}

/* --- the sampling pass ---------------------------------------------------- */

struct pass {
	struct htm_manager *m;
	uint64_t interval_ns;
	uint64_t breaches;
};

static void on_cg_read(void *ctx, uint64_t cgid, const struct htm_cg_stats *t)
{
	struct htm_manager *m = ctx;
	struct tracked_cg *tc = tracked_find(&m->mon, cgid);

	if (tc)
		tc->now = *t;
}

static double pct_of(uint64_t part_ns, uint64_t whole_ns)
{
	return whole_ns ? 100.0 * (double)part_ns / (double)whole_ns : 0;
}

static void period_view(const struct htm_cg_stats *now,
			const struct htm_cg_stats *last, uint64_t interval,
			double *cpu, double *p50, double *p90, double *p99)
{
	__u64 hist[HTM_HIST_SLOTS];

	*cpu = pct_of(now->oncpu_ns >= last->oncpu_ns ? now->oncpu_ns - last->oncpu_ns : 0,
		      interval);
	htm_hist_delta(now->wait_hist, last->wait_hist, HTM_HIST_SLOTS, hist);
	*p50 = htm_hist_quantile(hist, HTM_HIST_SLOTS, 0.50);
	*p90 = htm_hist_quantile(hist, HTM_HIST_SLOTS, 0.90);
	*p99 = htm_hist_quantile(hist, HTM_HIST_SLOTS, 0.99);
}

static void tracked_update(const void *node, VISIT which, void *closure)
{
	struct tracked_cg *tc = *(struct tracked_cg *const *)node;
	struct pass *p = closure;
	struct task_run *run;
	char buf[64];

	if (which != postorder && which != leaf)
		return;
	period_view(&tc->now, &tc->last, p->interval_ns, &tc->cpu_pct,
		    &tc->rq_p50_us, &tc->rq_p90_us, &tc->rq_p99_us);
	tc->period_waits = tc->now.wait_count - tc->last.wait_count;
	tc->period_breaches = tc->now.breaches - tc->last.breaches;
	p->breaches += tc->period_breaches;
	tc->has_psi = true;
	for (int r = 0; r < HTM_RES_COUNT; r++)
		if (htm_psi_read(tc->path, r, &tc->psi[r]) < 0)
			tc->has_psi = false;
	tc->has_memory = htm_cgroup_read(tc->path, "memory.current", buf,
					 sizeof(buf)) == 0;
	if (tc->has_memory)
		tc->memory_current = strtoull(buf, NULL, 10);
	tc->last = tc->now;
	run = tc->task ? tc->task->runtime : NULL;
	if (run) {
		run->usage.cpu_pct = tc->cpu_pct;
		run->usage.rq_p50_us = tc->rq_p50_us;
		run->usage.rq_p90_us = tc->rq_p90_us;
		run->usage.rq_p99_us = tc->rq_p99_us;
	}
}

static void stress_changed(struct htm_manager *m, enum htm_stress_level from)
{
	struct htm_monitor *mon = &m->mon;
	cJSON *f = cJSON_CreateObject(), *sig;

	if (!f)
		return;
	cJSON_AddStringToObject(f, "from", htm_stress_names[from]);
	cJSON_AddStringToObject(f, "to", htm_stress_names[mon->stress.level]);
	cJSON_AddStringToObject(f, "reasons", mon->stress.reasons);
	sig = cJSON_AddObjectToObject(f, "signals");
	for (int s = 0; sig && s < HTM_SIG_COUNT; s++)
		cJSON_AddNumberToObject(sig, htm_stress_signal_names[s], mon->signals[s]);
	manager_event(m, "stress.changed",
		      mon->stress.level > from ? LOG_WARNING : LOG_NOTICE, f);
}

/* One pass over everything; `why` is "period" or what triggered it. */
static void monitor_sample(struct htm_manager *m)
{
	struct htm_monitor *mon = &m->mon;
	uint64_t start = htm_now_mono(), interval;
	struct pass p = { .m = m };
	enum htm_stress_level before;
	int r;

	interval = mon->last_mono ? start - mon->last_mono : mon->period_ns;
	if (!interval)
		interval = 1;
	p.interval_ns = interval;
	if (m->sampler) {
		r = htm_sampler_read(m->sampler, on_cg_read, m, &mon->all_now);
		if (r < 0)
			htm_log(LOG_WARNING, "sampler read: %s, ignoring", strerror(-r));
		period_view(&mon->all_now, &mon->all_last, interval, &mon->all_cpu_pct,
			    &mon->all_p50_us, &mon->all_p90_us, &mon->all_p99_us);
		mon->all_cpu_pct /= (double)sysconf(_SC_NPROCESSORS_ONLN);
		mon->all_last = mon->all_now;
	}
	twalk_r(mon->tracked, tracked_update, &p);

	mon->has_psi = true;
	for (int res = 0; res < HTM_RES_COUNT; res++) {
		mon->psi_last[res] = mon->psi[res];
		if (htm_psi_read(NULL, res, &mon->psi[res]) < 0) {
			mon->has_psi = false;
			continue;
		}
		/* the first reading has nothing to take a difference from */
		if (!mon->psi_primed)
			mon->psi_last[res] = mon->psi[res];
		mon->stall_some[res] = htm_psi_stall_pct(mon->psi[res].some.total,
							 mon->psi_last[res].some.total,
							 interval / 1000);
		mon->stall_full[res] = htm_psi_stall_pct(mon->psi[res].full.total,
							 mon->psi_last[res].full.total,
							 interval / 1000);
	}
	mon->psi_primed = mon->has_psi;
	(void)htm_meminfo_read(&mon->mem);

	/* avg10 is smooth but lags 10 s; the stall share of the last interval
	 * reacts within it. Stress takes the worse of the two. */
#define WORST(a, b) ((a) > (b) ? (a) : (b))
	mon->signals[HTM_SIG_CPU_SOME] = WORST(mon->psi[HTM_RES_CPU].some.avg10,
					       mon->stall_some[HTM_RES_CPU]);
	mon->signals[HTM_SIG_MEMORY_SOME] = WORST(mon->psi[HTM_RES_MEMORY].some.avg10,
						  mon->stall_some[HTM_RES_MEMORY]);
	mon->signals[HTM_SIG_MEMORY_FULL] = WORST(mon->psi[HTM_RES_MEMORY].full.avg10,
						  mon->stall_full[HTM_RES_MEMORY]);
	mon->signals[HTM_SIG_IO_SOME] = WORST(mon->psi[HTM_RES_IO].some.avg10,
					      mon->stall_some[HTM_RES_IO]);
#undef WORST
	mon->signals[HTM_SIG_BUDGET_BREACHES] = (double)p.breaches * 1e9 / (double)interval;
	mon->signals[HTM_SIG_MEMORY_AVAILABLE] =
		mon->mem.total_kb ? 100.0 * (double)mon->mem.available_kb /
					    (double)mon->mem.total_kb
				  : 100.0;
	mon->signals[HTM_SIG_QUEUE_BACKLOG] = (double)htm_queue_len(&m->queue);
	before = mon->stress.level;
	if (htm_stress_update(&mon->stress, &m->cfg.stress, mon->signals, start)) {
		stress_changed(m, before);
		mon->last_write = governor_update(m, mon->stress.reasons);
	} else {
		mon->last_write = 0;
	}

	mon->last_mono = start;
	mon->reads++;
	mon->read_ns_total += htm_now_mono() - start;
}

static void period_fired(struct htm_timer *timer)
{
	struct htm_manager *m = (struct htm_manager *)((char *)timer -
		offsetof(struct htm_manager, mon.period));
	struct htm_monitor *mon = &m->mon;
	uint64_t now;

	monitor_sample(m);
	/* fixed cadence; after a stall, skip the missed periods */
	now = htm_now_mono();
	mon->next_due += mon->period_ns;
	if (mon->next_due <= now)
		mon->next_due = now + mon->period_ns;
	htm_timer_arm(&mon->period, mon->next_due);
}

/* --- events from the kernel -------------------------------------------------- */

static cJSON *event_fields(struct htm_manager *m, const struct htm_event *e)
{
	struct tracked_cg *tc = tracked_find(&m->mon, e->cgid);
	cJSON *f = cJSON_CreateObject();
	uint64_t now = htm_now_mono();
	char comm[17];

	if (!f)
		return NULL;
	memcpy(comm, e->comm, 16);
	comm[16] = '\0';
	cJSON_AddNumberToObject(f, "cgroup_id", (double)e->cgid);
	if (tc && tc->task) {
		cJSON_AddNumberToObject(f, "task", (double)tc->task->id);
		cJSON_AddStringToObject(f, "priority",
					htm_priority_names[tc->task->priority]);
	}
	if (tc)
		cJSON_AddStringToObject(f, "cgroup", tc->path);
	cJSON_AddNumberToObject(f, "pid", e->pid);
	cJSON_AddStringToObject(f, "comm", comm);
	/* kernel timestamp to here: what the ring buffer and loop cost */
	cJSON_AddNumberToObject(f, "delivery_us",
				now > e->ts_ns ? (double)(now - e->ts_ns) / 1e3 : 0);
	return f;
}

void monitor_on_sampler_event(void *ctx, const struct htm_event *e)
{
	struct htm_manager *m = ctx;
	struct htm_monitor *mon = &m->mon;
	cJSON *f = event_fields(m, e);

	if (!f)
		return;
	switch (e->type) {
	case HTM_EV_BUDGET_BREACH: {
		struct tracked_cg *tc = tracked_find(mon, e->cgid);

		mon->breach_events++;
		/* critical work waited too long: respond now, not next period */
		if (tc && tc->task && tc->task->priority == HTM_PRIO_CRITICAL)
			governor_reaction(m, HTM_REACT_BREACH, e->ts_ns,
					  governor_breach(m, tc->path));
		cJSON_AddNumberToObject(f, "wait_us", (double)e->value_ns / 1e3);
		cJSON_AddNumberToObject(f, "budget_us", (double)e->limit_ns / 1e3);
		manager_event(m, "sampler.budget_breach", LOG_DEBUG, f);
		break;
	}
	case HTM_EV_RECLAIM:
		mon->reclaim_events++;
		cJSON_AddNumberToObject(f, "reclaim_us", (double)e->value_ns / 1e3);
		cJSON_AddNumberToObject(f, "pages", (double)e->count);
		manager_event(m, "sampler.reclaim", LOG_DEBUG, f);
		break;
	case HTM_EV_OOM_KILL:
		mon->oom_events++;
		cJSON_AddNumberToObject(f, "uid", (double)e->count);
		manager_event(m, "sampler.oom_kill", LOG_WARNING, f);
		break;
	default:
		cJSON_Delete(f);
	}
}

static int ring_wait(struct htm_manager *m)
{
	struct io_uring_sqe *sqe = htm_loop_sqe(m->loop, &m->mon.ring_src);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, htm_sampler_events_fd(m->sampler), POLLIN);
	return 0;
}

static void ring_ready(struct htm_loop_source *src, int res, uint32_t fl)
{
	struct htm_manager *m = (struct htm_manager *)((char *)src -
		offsetof(struct htm_manager, mon.ring_src));

	(void)fl;
	if (res < 0 && res != -EINTR) {
		htm_log(LOG_ERR, "sampler ring buffer poll: %s; kernel events stop",
			strerror(-res));
		return;
	}
	htm_sampler_consume(m->sampler);
	ring_wait(m);
}

static int trigger_wait(struct psi_trigger *t)
{
	struct io_uring_sqe *sqe = htm_loop_sqe(t->m->loop, &t->src);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, t->fd, POLLPRI);
	return 0;
}

static void trigger_fired(struct htm_loop_source *src, int res, uint32_t fl)
{
	struct psi_trigger *t = (struct psi_trigger *)((char *)src -
		offsetof(struct psi_trigger, src));
	enum htm_stress_level was = t->m->plan.level;
	uint64_t fired = htm_now_mono();
	cJSON *f;

	(void)fl;
	if (res < 0 || (res & (POLLERR | POLLHUP | POLLNVAL))) {
		htm_log(LOG_ERR, "PSI trigger on %s: %s; disabled",
			htm_resource_names[t->res],
			res < 0 ? strerror(-res) : "the kernel dropped it");
		return;
	}
	t->fired++;
	f = cJSON_CreateObject();
	if (f) {
		cJSON_AddStringToObject(f, "resource", htm_resource_names[t->res]);
		cJSON_AddStringToObject(f, "trigger", t->spec);
	}
	manager_event(t->m, "psi.trigger", LOG_INFO, f);
	monitor_sample(t->m);
	/* a reaction is a step up; a pass that found the stall already over
	 * and stepped down (a late, rate-limited trigger) is not one */
	if (t->m->plan.level > was)
		governor_reaction(t->m, HTM_REACT_PSI, fired, t->m->mon.last_write);
	trigger_wait(t);
}

/* --- start, stop ----------------------------------------------------------- */

/*
 * Without CAP_SYS_RESOURCE the kernel takes only windows that are whole
 * multiples of 2 s; then register the nearest such window with the stall
 * scaled to the same share, and say so.
 */
static int trigger_open(struct psi_trigger *t, const char *spec)
{
	unsigned long long stall, window, w2;
	char kind[8];

	snprintf(t->spec, sizeof(t->spec), "%s", spec);
	t->fd = htm_psi_trigger_open(t->res, t->spec);
	if (t->fd != -EINVAL ||
	    sscanf(spec, "%7s %llu %llu", kind, &stall, &window) != 3 ||
	    window % 2000000 == 0)
		return t->fd < 0 ? t->fd : 0;
	w2 = (window + 1999999) / 2000000 * 2000000;
	snprintf(t->spec, sizeof(t->spec), "%s %llu %llu", kind,
		 stall * w2 / window, w2);
	t->fd = htm_psi_trigger_open(t->res, t->spec);
	if (t->fd >= 0)
		htm_log(LOG_NOTICE, "PSI trigger on %s: \"%s\" refused (no "
			"CAP_SYS_RESOURCE?), using \"%s\"",
			htm_resource_names[t->res], spec, t->spec);
	return t->fd < 0 ? t->fd : 0;
}

static void delayacct_enable(struct htm_monitor *mon)
{
	char buf[8] = "";
	int fd = open(DELAYACCT_SYSCTL, O_RDWR | O_CLOEXEC);

	mon->delayacct_restore = -1;
	if (fd < 0)
		return;	/* before 5.14 it is a boot parameter only */
	if (read(fd, buf, sizeof(buf) - 1) > 0 && buf[0] == '0') {
		if (pwrite(fd, "1", 1, 0) == 1) {
			mon->delayacct_restore = 0;
			htm_log(LOG_INFO, "enabled kernel.task_delayacct (restored on exit)");
		} else {
			htm_log(LOG_WARNING, "cannot enable kernel.task_delayacct: %s, ignoring",
				strerror(errno));
		}
	}
	close(fd);
}

int monitor_start(struct htm_manager *m)
{
	struct htm_monitor *mon = &m->mon;
	int r;

	mon->period_ns = m->cfg.sample_period_ns;
	mon->delayacct_restore = -1;
	htm_stress_init(&mon->stress, htm_now_mono());
	htm_timer_init(&mon->period, m->loop, period_fired);
	mon->ring_src.fn = ring_ready;
	for (int res = 0; res < HTM_RES_COUNT; res++) {
		struct psi_trigger *t = &mon->trigger[res];

		t->m = m;
		t->res = res;
		t->fd = -1;
		t->src.fn = trigger_fired;
		if (!m->cfg.psi_trigger[res][0])
			continue;
		r = trigger_open(t, m->cfg.psi_trigger[res]);
		if (r < 0) {
			htm_log(LOG_WARNING, "PSI trigger \"%s\" on %s: %s, ignoring",
				m->cfg.psi_trigger[res], htm_resource_names[res],
				strerror(-r));
			continue;
		}
		trigger_wait(t);
	}
	if (m->sampler)
		ring_wait(m);
	if (m->cfg.delay_accounting)
		delayacct_enable(mon);
	r = htm_taskstats_open(&mon->taskstats);
	if (r < 0)
		snprintf(mon->taskstats_error, sizeof(mon->taskstats_error),
			 "taskstats netlink family: %s", strerror(-r));
	monitor_sample(m);
	mon->next_due = htm_now_mono() + mon->period_ns;
	return htm_timer_arm(&mon->period, mon->next_due);
}

static void tracked_free(void *node)
{
	struct tracked_cg *tc = node;

	free(tc->path);
	free(tc);
}

void monitor_stop(struct htm_manager *m)
{
	struct htm_monitor *mon = &m->mon;
	int fd;

	tdestroy(mon->tracked, tracked_free);
	mon->tracked = NULL;
	for (int res = 0; res < HTM_RES_COUNT; res++)
		if (mon->trigger[res].fd >= 0)
			close(mon->trigger[res].fd);
	htm_taskstats_close(mon->taskstats);
	mon->taskstats = NULL;
	if (mon->delayacct_restore == 0) {
		fd = open(DELAYACCT_SYSCTL, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			(void)!write(fd, "0", 1);
			close(fd);
		}
	}
}

/* --- JSON views -------------------------------------------------------------- */

static void add_rq(cJSON *o, double p50, double p90, double p99)
{
	cJSON *rq = cJSON_AddObjectToObject(o, "runqueue");

	cJSON_AddNumberToObject(rq, "p50_us", p50);
	cJSON_AddNumberToObject(rq, "p90_us", p90);
	cJSON_AddNumberToObject(rq, "p99_us", p99);
}

struct top_walk {
	struct htm_manager *m;
	cJSON *arr;
};

static void tracked_json(const void *node, VISIT which, void *closure)
{
	const struct tracked_cg *tc = *(struct tracked_cg *const *)node;
	struct top_walk *w = closure;
	cJSON *arr = w->arr, *o, *psi;

	if (which != postorder && which != leaf)
		return;
	o = cJSON_CreateObject();
	if (!o)
		return;
	if (tc->task) {
		cJSON_AddNumberToObject(o, "id", (double)tc->task->id);
		cJSON_AddStringToObject(o, "name", tc->task->name);
		cJSON_AddStringToObject(o, "priority", htm_priority_names[tc->task->priority]);
		cJSON_AddStringToObject(o, "state", htm_state_names[tc->task->state]);
		/* the in-kernel egress bucket's counters, null when unlimited */
		cJSON_AddItemToObject(o, "egress", egress_json(w->m, tc->task));
	}
	cJSON_AddStringToObject(o, "cgroup", tc->path);
	cJSON_AddNumberToObject(o, "cgroup_id", (double)tc->cgid);
	cJSON_AddNumberToObject(o, "cpu_pct", tc->cpu_pct);
	add_rq(o, tc->rq_p50_us, tc->rq_p90_us, tc->rq_p99_us);
	cJSON_AddNumberToObject(o, "waits", (double)tc->period_waits);
	cJSON_AddNumberToObject(o, "breaches", (double)tc->period_breaches);
	if (tc->has_psi) {
		psi = cJSON_AddObjectToObject(o, "psi_some_avg10");
		for (int r = 0; r < HTM_RES_COUNT; r++)
			cJSON_AddNumberToObject(psi, htm_resource_names[r],
						tc->psi[r].some.avg10);
	} else {
		cJSON_AddNullToObject(o, "psi_some_avg10");
	}
	if (tc->has_memory)
		cJSON_AddNumberToObject(o, "memory_current", (double)tc->memory_current);
	else
		cJSON_AddNullToObject(o, "memory_current");
	cJSON_AddItemToArray(arr, o);
}

cJSON *monitor_top_json(struct htm_manager *m)
{
	struct htm_monitor *mon = &m->mon;
	cJSON *o = cJSON_CreateObject(), *st, *sys, *psi, *r, *sig, *arr, *q;

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "period_ms", (double)mon->period_ns / 1e6);
	st = cJSON_AddObjectToObject(o, "stress");
	cJSON_AddStringToObject(st, "level", htm_stress_names[mon->stress.level]);
	cJSON_AddNumberToObject(st, "for_s",
				(double)(htm_now_mono() - mon->stress.since_ns) / 1e9);
	cJSON_AddStringToObject(st, "reasons", mon->stress.reasons);
	sig = cJSON_AddObjectToObject(st, "signals");
	for (int s = 0; sig && s < HTM_SIG_COUNT; s++)
		cJSON_AddNumberToObject(sig, htm_stress_signal_names[s], mon->signals[s]);

	sys = cJSON_AddObjectToObject(o, "system");
	if (m->sampler) {
		cJSON_AddNumberToObject(sys, "cpu_pct", mon->all_cpu_pct);
		add_rq(sys, mon->all_p50_us, mon->all_p90_us, mon->all_p99_us);
	}
	cJSON_AddNumberToObject(sys, "memory_available_pct",
				mon->signals[HTM_SIG_MEMORY_AVAILABLE]);
	psi = cJSON_AddObjectToObject(sys, "psi");
	for (int res = 0; psi && mon->has_psi && res < HTM_RES_COUNT; res++) {
		r = cJSON_AddObjectToObject(psi, htm_resource_names[res]);
		cJSON_AddNumberToObject(r, "some_avg10", mon->psi[res].some.avg10);
		cJSON_AddNumberToObject(r, "full_avg10", mon->psi[res].full.avg10);
		cJSON_AddNumberToObject(r, "some_period_pct", mon->stall_some[res]);
		cJSON_AddNumberToObject(r, "full_period_pct", mon->stall_full[res]);
	}
	q = cJSON_AddObjectToObject(o, "queue");
	for (int p = 0; q && p < HTM_PRIO_COUNT; p++)
		cJSON_AddNumberToObject(q, htm_priority_names[p], m->queue.len[p]);
	arr = cJSON_AddArrayToObject(o, "cgroups");
	if (arr) {
		struct top_walk w = { .m = m, .arr = arr };

		twalk_r(mon->tracked, tracked_json, &w);
	}
	cJSON_AddItemToObject(o, "events", m->recent_events
				? cJSON_Duplicate(m->recent_events, true)
				: cJSON_CreateArray());
	return o;
}

cJSON *monitor_status_json(struct htm_manager *m)
{
	struct htm_monitor *mon = &m->mon;
	const struct htm_sampler_info *info;
	cJSON *o = cJSON_CreateObject(), *a, *t;

	if (!o)
		return NULL;
	if (!m->sampler) {
		cJSON_AddStringToObject(o, "state", "unavailable");
		cJSON_AddStringToObject(o, "reason", m->sampler_error);
		cJSON_AddStringToObject(o, "fallback", "PSI only");
	} else {
		info = htm_sampler_info(m->sampler);
		cJSON_AddStringToObject(o, "state", "attached");
		a = cJSON_AddArrayToObject(o, "programs");
		for (int i = 0; a && i < info->nprograms; i++)
			cJSON_AddItemToArray(a, cJSON_CreateString(info->programs[i]));
		a = cJSON_AddArrayToObject(o, "off");
		for (int i = 0; a && i < info->noff; i++)
			cJSON_AddItemToArray(a, cJSON_CreateString(info->off[i]));
		cJSON_AddStringToObject(o, "runqueue_clock", info->wait_clock);
		if (info->pin_dir)
			cJSON_AddStringToObject(o, "pin_dir", info->pin_dir);
		else
			cJSON_AddNullToObject(o, "pin_dir");
		cJSON_AddNumberToObject(o, "runqueue_waits", (double)mon->all_now.wait_count);
		cJSON_AddNumberToObject(o, "breach_events", (double)mon->breach_events);
		cJSON_AddNumberToObject(o, "reclaim_events", (double)mon->reclaim_events);
		cJSON_AddNumberToObject(o, "oom_kill_events", (double)mon->oom_events);
	}
	cJSON_AddNumberToObject(o, "period_ms", (double)mon->period_ns / 1e6);
	cJSON_AddNumberToObject(o, "tracked_cgroups", (double)mon->ntracked);
	cJSON_AddNumberToObject(o, "passes", (double)mon->reads);
	cJSON_AddNumberToObject(o, "pass_avg_us",
				mon->reads ? (double)mon->read_ns_total / (double)mon->reads / 1e3 : 0);
	a = cJSON_AddArrayToObject(o, "psi_triggers");
	for (int res = 0; a && res < HTM_RES_COUNT; res++) {
		if (mon->trigger[res].fd < 0)
			continue;
		t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "resource", htm_resource_names[res]);
		cJSON_AddStringToObject(t, "trigger", mon->trigger[res].spec);
		cJSON_AddNumberToObject(t, "fired", (double)mon->trigger[res].fired);
		cJSON_AddItemToArray(a, t);
	}
	if (mon->taskstats)
		cJSON_AddStringToObject(o, "taskstats", "available");
	else
		cJSON_AddStringToObject(o, "taskstats", mon->taskstats_error);
	cJSON_AddStringToObject(o, "stress", htm_stress_names[mon->stress.level]);
	return o;
}

static void add_delays(cJSON *o, const struct htm_delays *d)
{
	cJSON *x = cJSON_AddObjectToObject(o, "delays");

	cJSON_AddNumberToObject(x, "cpu_ms", (double)d->cpu_ns / 1e6);
	cJSON_AddNumberToObject(x, "blkio_ms", (double)d->blkio_ns / 1e6);
	cJSON_AddNumberToObject(x, "swapin_ms", (double)d->swapin_ns / 1e6);
	cJSON_AddNumberToObject(x, "reclaim_ms", (double)d->reclaim_ns / 1e6);
	cJSON_AddNumberToObject(x, "thrashing_ms", (double)d->thrashing_ns / 1e6);
	cJSON_AddNumberToObject(x, "cpu_count", (double)d->cpu_count);
}

cJSON *monitor_usage_json(struct htm_manager *m, const struct htm_task *t)
{
	struct tracked_cg *tc = tracked_find(&m->mon, t->cgroup_id);
	const struct task_run *run = t->runtime;
	const struct htm_cg_stats *tot;
	struct htm_cg_stats fresh;
	struct htm_delays live;
	cJSON *o;

	if (!run)
		return cJSON_CreateNull();
	/* without the sampler there is nothing measured to show */
	tot = !m->sampler ? NULL : tc ? &tc->now
		: run->usage.valid ? &run->usage.totals : NULL;
	/* a running task is read now, not as of the last period */
	if (tc && m->sampler &&
	    htm_sampler_read_one(m->sampler, tc->cgid, &fresh) == 0)
		tot = &fresh;
	o = cJSON_CreateObject();
	if (!o)
		return NULL;
	if (tot) {
		cJSON_AddNumberToObject(o, "cpu_seconds", (double)tot->oncpu_ns / 1e9);
		cJSON_AddNumberToObject(o, "waits", (double)tot->wait_count);
		cJSON_AddNumberToObject(o, "wait_avg_us",
					tot->wait_count ? (double)tot->wait_ns /
							  (double)tot->wait_count / 1e3 : 0);
		cJSON_AddNumberToObject(o, "wait_p99_us",
					htm_hist_quantile(tot->wait_hist, HTM_HIST_SLOTS, 0.99));
		cJSON_AddNumberToObject(o, "breaches", (double)tot->breaches);
		cJSON_AddNumberToObject(o, "reclaim_ms", (double)tot->reclaim_ns / 1e6);
		cJSON_AddNumberToObject(o, "oom_kills", (double)tot->oom_kills);
	} else if (!m->sampler) {
		cJSON_AddStringToObject(o, "sampler", m->sampler_error);
	}
	if (t->state == HTM_STATE_RUNNING && m->mon.taskstats && t->pid > 0 &&
	    htm_taskstats_query(m->mon.taskstats, t->pid, &live) == 0)
		add_delays(o, &live);
	else if (run->usage.has_delays)
		add_delays(o, &run->usage.delays);
	else
		cJSON_AddStringToObject(o, "delays", m->mon.taskstats ? "unavailable"
							 : m->mon.taskstats_error);
	return o;
}
