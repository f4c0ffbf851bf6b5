// SPDX-License-Identifier: MIT
#include <errno.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/histogram.h"
#include "core/log.h"
#include "engine/monitor.h"

/* A cgroup the sampler tracks for us. */
struct tracked_cg {
	uint64_t cgid;
	struct htm_task *task;		/* NULL for cgroups that are not tasks */
	char *path;
	struct htm_cg_stats last, now;	/* cumulative, previous and this period */
	uint64_t period_breaches, period_waits;
	double cpu_pct, rq_p50_us, rq_p90_us, rq_p99_us;	/* last period */
	struct htm_psi psi[HTM_RES_COUNT];
	bool has_psi;
	uint64_t memory_current;
	bool has_memory;
};

struct psi_trigger {
	struct htm_monitor *mon;
	enum htm_resource res;
	struct htm_psi_watch *watch;
	char spec[64];			/* as registered (may differ from config) */
	uint64_t fired;
};

struct htm_monitor {
	struct htm_ctx *c;
	bool sampler;			/* the world's sampler is loaded */
	char sampler_error[256];
	struct htm_timer period;
	uint64_t period_ns;
	uint64_t last_mono, next_due;
	void *tracked;			/* tsearch by cgid */
	size_t ntracked;
	struct htm_cg_stats all_last, all_now;
	double all_cpu_pct, all_p50_us, all_p90_us, all_p99_us;
	struct htm_psi psi[HTM_RES_COUNT], psi_last[HTM_RES_COUNT];
	double stall_some[HTM_RES_COUNT], stall_full[HTM_RES_COUNT];
	bool has_psi, psi_primed;
	struct htm_meminfo mem;
	double signals[HTM_SIG_COUNT];
	struct htm_stress stress;
	struct psi_trigger trigger[HTM_RES_COUNT];
	bool delays;			/* delay accounting readable */
	char delays_error[128];
	uint64_t reads, read_ns_total;	/* sampling passes and their cost */
	uint64_t breach_events, reclaim_events, oom_events;
};

static struct htm_world *W(struct htm_monitor *mon)
{
	return mon->c->w;
}

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

enum htm_stress_level monitor_stress(const struct htm_monitor *mon)
{
	return mon->stress.level;
}

/* --- tracking ------------------------------------------------------------ */

static int track(struct htm_monitor *mon, struct htm_task *t)
{
	const struct htm_config *cfg = &mon->c->cfg;
	struct tracked_cg *tc;
	uint64_t budget;
	int r;

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
	budget = t->budget_ns ? t->budget_ns : cfg->priority[t->priority].rq_budget_ns;
	if (mon->sampler) {
		r = W(mon)->ops->sampler_track(W(mon), tc->cgid, budget);
		if (r < 0)
			htm_log(LOG_WARNING, "task %llu: sampler cannot track cgroup %llu: %s, ignoring",
				(unsigned long long)t->id, (unsigned long long)tc->cgid,
				strerror(-r));
	}
	return 0;
}

static void untrack(struct htm_monitor *mon, struct htm_task *t)
{
	struct tracked_cg *tc = tracked_find(mon, t->cgroup_id);
	struct htm_task_usage *u;

	if (!tc)
		return;
	/* what a task the runner started used; a placed cgroup has no usage */
	if (t->runtime && (u = tasks_usage(t))) {
		u->totals = tc->now;
		if (mon->sampler)
			(void)W(mon)->ops->sampler_read_one(W(mon), tc->cgid, &u->totals);
		u->valid = true;
	}
	if (mon->sampler)
		(void)W(mon)->ops->sampler_untrack(W(mon), tc->cgid);
	tdelete(tc, &mon->tracked, tracked_cmp);
	mon->ntracked--;
	free(tc->path);
	free(tc);
}

/* --- the sampling pass ---------------------------------------------------- */

struct pass {
	struct htm_monitor *mon;
	uint64_t interval_ns;
	uint64_t breaches;
};

static void on_cg_read(void *ctx, uint64_t cgid, const struct htm_cg_stats *t)
{
	struct tracked_cg *tc = tracked_find(ctx, cgid);

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
	struct htm_world *w = W(p->mon);
	struct htm_task_usage *u;
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
		if (w->ops->psi_read(w, tc->path, r, &tc->psi[r]) < 0)
			tc->has_psi = false;
	tc->has_memory = w->ops->cg_read(w, tc->path, "memory.current", buf,
					 sizeof(buf)) == 0;
	if (tc->has_memory)
		tc->memory_current = strtoull(buf, NULL, 10);
	tc->last = tc->now;
	if (tc->task && tc->task->runtime && (u = tasks_usage(tc->task))) {
		u->cpu_pct = tc->cpu_pct;
		u->rq_p50_us = tc->rq_p50_us;
		u->rq_p90_us = tc->rq_p90_us;
		u->rq_p99_us = tc->rq_p99_us;
	}
}

static void stress_changed(struct htm_monitor *mon, enum htm_stress_level from,
			   enum htm_stress_cause cause, uint64_t cause_ns)
{
	struct htm_msg m = { .type = HTM_MSG_STRESS_CHANGED };

	m.u.stress.from = from;
	m.u.stress.to = mon->stress.level;
	m.u.stress.reasons = htm_bus_strdup(&m, mon->stress.reasons);
	memcpy(m.u.stress.signals, mon->signals, sizeof(mon->signals));
	m.u.stress.cause = cause;
	m.u.stress.cause_ns = cause_ns;
	htm_bus_post(mon->c->bus, &m);
}

/* One pass over everything. */
static void monitor_sample(struct htm_monitor *mon, enum htm_stress_cause cause,
			   uint64_t cause_ns)
{
	struct htm_world *w = W(mon);
	uint64_t start = htm_mono(mon->c), interval;
	struct pass p = { .mon = mon };
	enum htm_stress_level before;
	size_t backlog = 0;
	struct htm_msg q = { .type = HTM_MSG_QUEUE_LEN, .u.queue_len = &backlog };
	int r;

	interval = mon->last_mono ? start - mon->last_mono : mon->period_ns;
	if (!interval)
		interval = 1;
	p.interval_ns = interval;
	if (mon->sampler) {
		r = w->ops->sampler_read(w, on_cg_read, mon, &mon->all_now);
		if (r < 0)
			htm_log(LOG_WARNING, "sampler read: %s, ignoring", strerror(-r));
		period_view(&mon->all_now, &mon->all_last, interval, &mon->all_cpu_pct,
			    &mon->all_p50_us, &mon->all_p90_us, &mon->all_p99_us);
		mon->all_cpu_pct /= (double)w->ops->ncpus(w);
		mon->all_last = mon->all_now;
	}
	twalk_r(mon->tracked, tracked_update, &p);

	mon->has_psi = true;
	for (int res = 0; res < HTM_RES_COUNT; res++) {
		mon->psi_last[res] = mon->psi[res];
		if (w->ops->psi_read(w, NULL, res, &mon->psi[res]) < 0) {
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
	(void)w->ops->meminfo(w, &mon->mem);

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
	(void)htm_bus_send(mon->c->bus, &q);
	mon->signals[HTM_SIG_QUEUE_BACKLOG] = (double)backlog;
	before = mon->stress.level;
	if (htm_stress_update(&mon->stress, &mon->c->cfg.stress, mon->signals, start))
		stress_changed(mon, before, cause, cause_ns);

	mon->last_mono = start;
	mon->reads++;
	mon->read_ns_total += htm_mono(mon->c) - start;
}

static void period_fired(struct htm_timer *timer)
{
	struct htm_monitor *mon = htm_container_of(timer, struct htm_monitor, period);
	uint64_t now;

	monitor_sample(mon, HTM_CAUSE_PERIOD, 0);
	/* fixed cadence; after a stall, skip the missed periods */
	now = htm_mono(mon->c);
	mon->next_due += mon->period_ns;
	if (mon->next_due <= now)
		mon->next_due = now + mon->period_ns;
	htm_arm(mon->c, &mon->period, mon->next_due);
}

/* --- events from the kernel -------------------------------------------------- */

void monitor_kernel_event(struct htm_monitor *mon, const struct htm_event *e)
{
	struct tracked_cg *tc = tracked_find(mon, e->cgid);
	struct htm_msg m = { .type = HTM_MSG_KERNEL_EVENT };

	switch (e->type) {
	case HTM_EV_BUDGET_BREACH:
		mon->breach_events++;
		break;
	case HTM_EV_RECLAIM:
		mon->reclaim_events++;
		break;
	case HTM_EV_OOM_KILL:
		mon->oom_events++;
		break;
	default:
		return;
	}
	m.u.kernel.ev = *e;
	m.u.kernel.priority = -1;
	if (tc && tc->task) {
		m.u.kernel.task_id = tc->task->id;
		m.u.kernel.priority = tc->task->priority;
	}
	if (tc)
		m.u.kernel.cgroup = htm_bus_strdup(&m, tc->path);
	m.u.kernel.now_mono = htm_mono(mon->c);
	htm_bus_post(mon->c->bus, &m);
}

static void trigger_fired(void *data, int err)
{
	struct psi_trigger *t = data;
	struct htm_monitor *mon = t->mon;
	struct htm_msg m = { .type = HTM_MSG_PSI_TRIGGER };

	if (err < 0) {
		htm_log(LOG_ERR, "PSI trigger on %s: %s; disabled",
			htm_resource_names[t->res],
			err == -EPIPE ? "the kernel dropped it" : strerror(-err));
		return;
	}
	t->fired++;
	m.u.psi.res = t->res;
	snprintf(m.u.psi.spec, sizeof(m.u.psi.spec), "%s", t->spec);
	htm_bus_post(mon->c->bus, &m);
	monitor_sample(mon, HTM_CAUSE_PSI, htm_mono(mon->c));
}

/* --- start, stop ----------------------------------------------------------- */

/*
 * Without CAP_SYS_RESOURCE the kernel takes only windows that are whole
 * multiples of 2 s; then register the nearest such window with the stall
 * scaled to the same share, and say so.
 */
static int trigger_open(struct psi_trigger *t, const char *spec)
{
	struct htm_world *w = W(t->mon);
	unsigned long long stall, window, w2;
	char kind[8];
	int r;

	snprintf(t->spec, sizeof(t->spec), "%s", spec);
	r = w->ops->psi_watch(w, t->res, t->spec, trigger_fired, t, &t->watch);
	if (r != -EINVAL ||
	    sscanf(spec, "%7s %llu %llu", kind, &stall, &window) != 3 ||
	    window % 2000000 == 0)
		return r;
	w2 = (window + 1999999) / 2000000 * 2000000;
	snprintf(t->spec, sizeof(t->spec), "%s %llu %llu", kind,
		 stall * w2 / window, w2);
	r = w->ops->psi_watch(w, t->res, t->spec, trigger_fired, t, &t->watch);
	if (r == 0)
		htm_log(LOG_NOTICE, "PSI trigger on %s: \"%s\" refused (no "
			"CAP_SYS_RESOURCE?), using \"%s\"",
			htm_resource_names[t->res], spec, t->spec);
	return r;
}

bool monitor_open_sampler(struct htm_monitor *mon, char *why, size_t len)
{
	struct htm_world *w = W(mon);
	int r = w->ops->sampler_open(w, mon->c->cfg.bpf_pin_dir,
				     mon->c->cfg.runqueue_clock, mon->sampler_error,
				     sizeof(mon->sampler_error));

	mon->sampler = r == 0;
	snprintf(why, len, "%s", mon->sampler_error);
	if (r < 0)
		htm_log(LOG_WARNING, "BPF sampler unavailable (%s), continuing "
			"on PSI alone", mon->sampler_error);
	return mon->sampler;
}

int monitor_start(struct htm_monitor *mon)
{
	struct htm_ctx *c = mon->c;
	int r;

	mon->period_ns = c->cfg.sample_period_ns;
	htm_stress_init(&mon->stress, htm_mono(c));
	for (int res = 0; res < HTM_RES_COUNT; res++) {
		struct psi_trigger *t = &mon->trigger[res];

		t->mon = mon;
		t->res = res;
		if (!c->cfg.psi_trigger[res][0])
			continue;
		r = trigger_open(t, c->cfg.psi_trigger[res]);
		if (r < 0) {
			t->watch = NULL;
			htm_log(LOG_WARNING, "PSI trigger \"%s\" on %s: %s, ignoring",
				c->cfg.psi_trigger[res], htm_resource_names[res],
				strerror(-r));
		}
	}
	mon->delays = c->w->ops->delays_open(c->w, c->cfg.delay_accounting,
					     mon->delays_error,
					     sizeof(mon->delays_error)) == 0;
	monitor_sample(mon, HTM_CAUSE_PERIOD, 0);
	mon->next_due = htm_mono(c) + mon->period_ns;
	return htm_arm(c, &mon->period, mon->next_due);
}

static void tracked_free(void *node)
{
	struct tracked_cg *tc = node;

	free(tc->path);
	free(tc);
}

void monitor_stop(struct htm_monitor *mon)
{
	struct htm_world *w = W(mon);

	htm_disarm(mon->c, &mon->period);
	tdestroy(mon->tracked, tracked_free);
	mon->tracked = NULL;
	mon->ntracked = 0;
	for (int res = 0; res < HTM_RES_COUNT; res++)
		if (mon->trigger[res].watch) {
			w->ops->psi_unwatch(mon->trigger[res].watch);
			mon->trigger[res].watch = NULL;
		}
	if (mon->delays)
		w->ops->delays_close(w);
	mon->delays = false;
}

static int on_msg(void *data, struct htm_msg *m)
{
	struct htm_monitor *mon = data;

	switch (m->type) {
	case HTM_MSG_CGROUP_READY:
		return track(mon, m->u.task);
	case HTM_MSG_CGROUP_GONE:
		untrack(mon, m->u.task);
		return 0;
	default:
		return 0;
	}
}

int monitor_new(struct htm_monitor **out, struct htm_ctx *c)
{
	struct htm_monitor *mon = calloc(1, sizeof(*mon));
	int r;

	if (!mon)
		return -ENOMEM;
	mon->c = c;
	htm_timer_init(&mon->period, period_fired);
	r = htm_bus_subscribe(c->bus, HTM_MSG_CGROUP_READY, on_msg, mon);
	if (r == 0)
		r = htm_bus_subscribe(c->bus, HTM_MSG_CGROUP_GONE, on_msg, mon);
	if (r < 0) {
		free(mon);
		return r;
	}
	*out = mon;
	return 0;
}

void monitor_free(struct htm_monitor *mon)
{
	if (!mon)
		return;
	monitor_stop(mon);
	if (mon->sampler)
		W(mon)->ops->sampler_close(W(mon));
	free(mon);
}

/* --- JSON views -------------------------------------------------------------- */

static void add_rq(cJSON *o, double p50, double p90, double p99)
{
	cJSON *rq = cJSON_AddObjectToObject(o, "runqueue");

	cJSON_AddNumberToObject(rq, "p50_us", p50);
	cJSON_AddNumberToObject(rq, "p90_us", p90);
	cJSON_AddNumberToObject(rq, "p99_us", p99);
}

static void tracked_json(const void *node, VISIT which, void *closure)
{
	const struct tracked_cg *tc = *(struct tracked_cg *const *)node;
	cJSON *arr = closure, *o, *psi;

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

cJSON *monitor_top_json(struct htm_monitor *mon)
{
	cJSON *o = cJSON_CreateObject(), *st, *sys, *psi, *r, *sig, *arr;

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "period_ms", (double)mon->period_ns / 1e6);
	st = cJSON_AddObjectToObject(o, "stress");
	cJSON_AddStringToObject(st, "level", htm_stress_names[mon->stress.level]);
	cJSON_AddNumberToObject(st, "for_s",
				(double)(htm_mono(mon->c) - mon->stress.since_ns) / 1e9);
	cJSON_AddStringToObject(st, "reasons", mon->stress.reasons);
	sig = cJSON_AddObjectToObject(st, "signals");
	for (int s = 0; sig && s < HTM_SIG_COUNT; s++)
		cJSON_AddNumberToObject(sig, htm_stress_signal_names[s], mon->signals[s]);

	sys = cJSON_AddObjectToObject(o, "system");
	if (mon->sampler) {
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
	arr = cJSON_AddArrayToObject(o, "cgroups");
	if (arr)
		twalk_r(mon->tracked, tracked_json, arr);
	return o;
}

cJSON *monitor_status_json(struct htm_monitor *mon)
{
	const struct htm_sampler_info *info;
	cJSON *o = cJSON_CreateObject(), *a, *t;

	if (!o)
		return NULL;
	if (!mon->sampler) {
		cJSON_AddStringToObject(o, "state", "unavailable");
		cJSON_AddStringToObject(o, "reason", mon->sampler_error);
		cJSON_AddStringToObject(o, "fallback", "PSI only");
	} else {
		info = W(mon)->ops->sampler_info(W(mon));
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
		if (!mon->trigger[res].watch)
			continue;
		t = cJSON_CreateObject();
		cJSON_AddStringToObject(t, "resource", htm_resource_names[res]);
		cJSON_AddStringToObject(t, "trigger", mon->trigger[res].spec);
		cJSON_AddNumberToObject(t, "fired", (double)mon->trigger[res].fired);
		cJSON_AddItemToArray(a, t);
	}
	if (mon->delays)
		cJSON_AddStringToObject(o, "taskstats", "available");
	else
		cJSON_AddStringToObject(o, "taskstats", mon->delays_error);
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

cJSON *monitor_usage_json(struct htm_monitor *mon, const struct htm_task *t)
{
	struct htm_world *w = W(mon);
	struct tracked_cg *tc = tracked_find(mon, t->cgroup_id);
	const struct htm_task_usage *u = t->usage;
	const struct htm_cg_stats *tot;
	struct htm_cg_stats fresh;
	struct htm_delays live;
	cJSON *o;

	/* nothing ran yet: no usage */
	if (!t->runtime && !u)
		return cJSON_CreateNull();
	/* without the sampler there is nothing measured to show */
	tot = !mon->sampler ? NULL : tc ? &tc->now
		: u && u->valid ? &u->totals : NULL;
	/* a running task is read now, not as of the last period */
	if (tc && mon->sampler && w->ops->sampler_read_one(w, tc->cgid, &fresh) == 0)
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
	} else if (!mon->sampler) {
		cJSON_AddStringToObject(o, "sampler", mon->sampler_error);
	}
	if (t->state == HTM_STATE_RUNNING && mon->delays && t->pid > 0 &&
	    w->ops->delays(w, t->pid, &live) == 0)
		add_delays(o, &live);
	else if (u && u->has_delays)
		add_delays(o, &u->delays);
	else
		cJSON_AddStringToObject(o, "delays", mon->delays ? "unavailable"
							 : mon->delays_error);
	return o;
}
