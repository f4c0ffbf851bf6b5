// SPDX-License-Identifier: MIT
/*
 * The governor in the daemon: turns the level in force (stress, or a
 * breach's step) into cgroup writes on the priority classes and on placed
 * cgroups, through the knob ledger so that every change is journaled, can
 * be undone, and is undone when htmd stops (fail open). Stepping up applies
 * caps, then freezes, then egress limits; stepping down undoes them in the
 * reverse order. Critical work is never capped or frozen.
 *
 * Start-up reconciles first: whatever a crashed htmd left on the classes
 * (caps, freezes) goes back to the state the policy calls for before any
 * task is admitted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/duration.h"
#include "core/governor.h"
#include "core/pathfmt.h"
#include "manager.h"
#include "sys/log.h"
#include "sys/pressure.h"

/* Every cgroup a class's response applies to: the class cgroup and the
 * placed cgroups of that priority. */
static void class_targets(struct htm_manager *m, enum htm_priority p,
			  void (*fn)(struct htm_manager *m, const char *cg,
				     const struct htm_class_plan *want,
				     const struct htm_class_plan *had, const char *why),
			  const struct htm_class_plan *want,
			  const struct htm_class_plan *had, const char *why)
{
	struct htm_task *t;
	char cls[PATH_MAX];

	manager_class_path(m, p, cls, sizeof(cls));
	fn(m, cls, want, had, why);
	TAILQ_FOREACH(t, &m->tasks.all, table_link)
		if (t->placed && t->state == HTM_STATE_RUNNING && t->priority == p)
			fn(m, t->cgroup, want, had, why);
}

static cJSON *governor_who(void)
{
	return persist_who(0, "governor");
}

static void apply_cap(struct htm_manager *m, const char *cg,
		      const struct htm_class_plan *want,
		      const struct htm_class_plan *had, const char *why)
{
	char v[48];

	if (want->cap_pct == had->cap_pct)
		return;
	if (!want->cap_pct) {
		knob_undo(m, cg, "cpu.max", why);
		return;
	}
	/* a share of one CPU per 100 ms period */
	snprintf(v, sizeof(v), "%u 100000", want->cap_pct * 1000);
	knob_set(m, cg, "cpu.max", v, 0, why, governor_who());
}

static void apply_freeze(struct htm_manager *m, const char *cg,
			 const struct htm_class_plan *want,
			 const struct htm_class_plan *had, const char *why)
{
	if (want->frozen == had->frozen)
		return;
	if (want->frozen)
		knob_set(m, cg, "cgroup.freeze", "1", 0, why, governor_who());
	else
		knob_undo(m, cg, "cgroup.freeze", why);
}

static void apply_egress(struct htm_manager *m, const char *cg,
			 const struct htm_class_plan *want,
			 const struct htm_class_plan *had, const char *why)
{
	(void)why;
	if (want->egress_bps != had->egress_bps)
		egress_set_class(m, cg, want->egress_bps);
}

/* Long-queued low work goes when stress is critical. */
static void shed_low(struct htm_manager *m, const char *why)
{
	uint64_t now = htm_now_mono();
	struct htm_task *t, *next;
	char reason[192], d[32];

	for (int o = 0; o < HTM_ORIGIN_COUNT; o++) {
		for (t = htm_queue_head(&m->queue, HTM_PRIO_LOW, o); t; t = next) {
			next = TAILQ_NEXT(t, queue_link);
			/* each list is oldest first: the rest waited less */
			if (now - t->submitted_mono < m->cfg.governor.shed_after_ns)
				break;
			htm_queue_remove(&m->queue, t);
			htm_duration_format(now - t->submitted_mono, d, sizeof(d));
			htm_textf(reason, sizeof(reason), "shed: queued %s at low priority "
				  "while %s", d, why);
			manager_task_move(m, t, HTM_STATE_SHED, reason, governor_who());
			manager_task_finished(m, t);
			m->shed++;
		}
	}
}

static void apply_plan(struct htm_manager *m, const struct htm_plan *want,
		       const char *why)
{
	struct htm_plan had = m->plan;
	bool up = want->level > had.level;
	/* stepping up: low before normal; stepping down: normal before low */
	static const enum htm_priority up_order[] = { HTM_PRIO_LOW, HTM_PRIO_NORMAL };
	static const enum htm_priority down_order[] = { HTM_PRIO_NORMAL, HTM_PRIO_LOW };
	const enum htm_priority *order = up ? up_order : down_order;

	if (up) {
		for (int i = 0; i < 2; i++)
			class_targets(m, order[i], apply_cap, &want->cls[order[i]],
				      &had.cls[order[i]], why);
		for (int i = 0; i < 2; i++)
			class_targets(m, order[i], apply_freeze, &want->cls[order[i]],
				      &had.cls[order[i]], why);
	} else {
		for (int i = 0; i < 2; i++)
			class_targets(m, order[i], apply_freeze, &want->cls[order[i]],
				      &had.cls[order[i]], why);
		for (int i = 0; i < 2; i++)
			class_targets(m, order[i], apply_cap, &want->cls[order[i]],
				      &had.cls[order[i]], why);
	}
	for (int i = 0; i < 2; i++)
		class_targets(m, order[i], apply_egress, &want->cls[order[i]],
			      &had.cls[order[i]], why);
	m->plan = *want;
	if (want->shed)
		shed_low(m, why);
	if (want->relief && !had.relief)
		rules_relief(m, why);
}

static void boost_fired(struct htm_timer *t)
{
	struct htm_manager *m = (struct htm_manager *)((char *)t -
		offsetof(struct htm_manager, boost_timer));

	governor_update(m, "a budget breach's step ended");
}

uint64_t governor_update(struct htm_manager *m, const char *why)
{
	uint64_t now = htm_now_mono();
	enum htm_stress_level level = htm_governor_level(&m->gov, m->mon.stress.level, now);
	struct htm_plan want;
	char reason[512];
	cJSON *b;

	if (level == m->plan.level)
		return 0;
	htm_governor_plan(level, &m->cfg.governor, &want);
	snprintf(reason, sizeof(reason), "%s -> %s: %s", htm_stress_names[m->plan.level],
		 htm_stress_names[level], why);
	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "from", htm_stress_names[m->plan.level]);
	cJSON_AddStringToObject(b, "to", htm_stress_names[level]);
	cJSON_AddStringToObject(b, "stress", htm_stress_names[m->mon.stress.level]);
	cJSON_AddStringToObject(b, "reasons", m->mon.stress.reasons);
	cJSON_AddBoolToObject(b, "observe", m->cfg.observe);
	persist_write(m, HTM_REC_DECISION, governor_who(), reason, "governor response", b);
	htm_log(level > m->plan.level ? LOG_WARNING : LOG_NOTICE, "governor%s: %s",
		m->cfg.observe ? " (observe-only)" : "", reason);
	apply_plan(m, &want, reason);
	if (m->gov.boost_until > now && m->gov.boost > m->mon.stress.level)
		htm_timer_arm(&m->boost_timer, m->gov.boost_until);
	return htm_now_mono();
}

uint64_t governor_breach(struct htm_manager *m, const char *cgroup)
{
	uint64_t now = htm_now_mono(), done;
	char why[256];

	htm_governor_breach(&m->gov, m->mon.stress.level, &m->cfg.governor, now);
	htm_textf(why, sizeof(why), "run-queue budget breach of critical work in %s",
		  cgroup ? cgroup : "?");
	done = governor_update(m, why);
	htm_timer_arm(&m->boost_timer, m->gov.boost_until);
	return done;
}

bool governor_admits(const struct htm_manager *m, enum htm_priority p)
{
	return m->plan.admit[p];
}

/* Protection and limits that hold regardless of stress (memory.low of
 * critical work, memory.high where configured): bytes for a setting. */
int governor_memory_value(struct htm_manager *m, const char *setting, char *buf,
			  size_t len)
{
	struct htm_meminfo mi = { 0 };
	uint64_t bytes;

	if (!setting[0])
		return -ENOENT;
	(void)htm_meminfo_read(&mi);
	if (htm_memory_size(setting, mi.total_kb * 1024, &bytes) < 0)
		return -EINVAL;
	snprintf(buf, len, "%llu", (unsigned long long)bytes);
	(void)m;
	return 0;
}

/*
 * Start-up: the classes belong to htmd, so their caps and freezes are put
 * back to "none" directly (a crashed htmd's ledger is gone); the plan then
 * starts from ok.
 */
void governor_start(struct htm_manager *m)
{
	char cls[PATH_MAX], cur[64];
	unsigned fixed = 0;

	htm_timer_init(&m->boost_timer, m->loop, boost_fired);
	htm_governor_plan(HTM_STRESS_OK, &m->cfg.governor, &m->plan);
	if (m->sampler) {
		int r = htm_egress_new(&m->egress, m->cfg.bpf_pin_dir, m->egress_error,
				       sizeof(m->egress_error));

		for (int p = HTM_PRIO_NORMAL; r == 0 && p <= HTM_PRIO_LOW; p++) {
			manager_class_path(m, p, cls, sizeof(cls));
			r = htm_egress_attach(m->egress, cls);
			if (r < 0)
				htm_textf(m->egress_error, sizeof(m->egress_error),
					  "attach to %s: %s", cls, strerror(-r));
		}
		if (r < 0) {
			htm_log(LOG_WARNING, "egress throttle unavailable (%s), ignoring",
				m->egress_error);
			htm_egress_free(m->egress);
			m->egress = NULL;
		}
	} else {
		htm_textf(m->egress_error, sizeof(m->egress_error), "no BPF: %s",
			  m->sampler_error);
	}
	for (int p = 0; p < HTM_PRIO_COUNT; p++) {
		manager_class_path(m, p, cls, sizeof(cls));
		if (htm_cgroup_read(cls, "cpu.max", cur, sizeof(cur)) == 0 &&
		    strncmp(cur, "max", 3) != 0) {
			if (!m->cfg.observe)
				(void)htm_cgroup_write(cls, "cpu.max", "max");
			fixed++;
		}
		if (htm_cgroup_read(cls, "cgroup.freeze", cur, sizeof(cur)) == 0 &&
		    cur[0] == '1') {
			if (!m->cfg.observe)
				(void)htm_cgroup_write(cls, "cgroup.freeze", "0");
			fixed++;
		}
		egress_set_class(m, cls, 0);
	}
	if (fixed) {
		htm_log(LOG_NOTICE, "reconciled %u leftover caps and freezes on the "
			"priority classes", fixed);
		persist_write(m, HTM_REC_DECISION, governor_who(),
			      "leftovers of an earlier htmd", "caps lifted, classes thawed",
			      NULL);
	}
}

cJSON *governor_json(struct htm_manager *m)
{
	uint64_t now = htm_now_mono();
	cJSON *o = cJSON_CreateObject(), *c, *x;

	cJSON_AddStringToObject(o, "level", htm_stress_names[m->plan.level]);
	cJSON_AddStringToObject(o, "stress", htm_stress_names[m->mon.stress.level]);
	cJSON_AddBoolToObject(o, "breach_step", m->gov.boost_until > now &&
					       m->gov.boost > m->mon.stress.level);
	cJSON_AddNumberToObject(o, "breach_steps", (double)m->gov.breaches);
	cJSON_AddBoolToObject(o, "observe", m->cfg.observe);
	cJSON_AddNumberToObject(o, "shed", (double)m->shed);
	c = cJSON_AddObjectToObject(o, "classes");
	for (int p = 0; p < HTM_PRIO_COUNT; p++) {
		x = cJSON_AddObjectToObject(c, htm_priority_names[p]);
		cJSON_AddBoolToObject(x, "admitted", m->plan.admit[p]);
		cJSON_AddNumberToObject(x, "cpu_cap_pct", m->plan.cls[p].cap_pct);
		cJSON_AddBoolToObject(x, "frozen", m->plan.cls[p].frozen);
		cJSON_AddNumberToObject(x, "egress_bps", (double)m->plan.cls[p].egress_bps);
	}
	return o;
}

/* --- egress ------------------------------------------------------------------ */

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && path[n] == '/';
}

void egress_set_class(struct htm_manager *m, const char *cg, uint64_t bps)
{
	struct htm_task *t;
	int r;

	if (!m->egress)
		return;
	if (m->cfg.observe) {
		if (bps)
			htm_log(LOG_INFO, "observe: would limit egress of %s to %llu B/s",
				cg, (unsigned long long)bps);
		return;
	}
	/* a class: every task in it; a placed cgroup: itself */
	TAILQ_FOREACH(t, &m->tasks.all, table_link) {
		if (t->state != HTM_STATE_RUNNING || !t->cgroup_id || !t->cgroup)
			continue;
		if (!under(t->cgroup, cg) && strcmp(t->cgroup, cg) != 0)
			continue;
		r = htm_egress_set(m->egress, t->cgroup_id, bps);
		if (r < 0)
			htm_log(LOG_WARNING, "egress limit of %s: %s, ignoring", t->cgroup,
				strerror(-r));
	}
}

void egress_task_started(struct htm_manager *m, struct htm_task *t)
{
	uint64_t bps = m->plan.cls[t->priority].egress_bps;

	if (m->egress && bps && !m->cfg.observe && t->cgroup_id)
		(void)htm_egress_set(m->egress, t->cgroup_id, bps);
}

cJSON *egress_json(struct htm_manager *m, const struct htm_task *t)
{
	struct htm_egress_bucket b;
	cJSON *o;

	if (!m->egress || !t->cgroup_id || htm_egress_read(m->egress, t->cgroup_id, &b) < 0)
		return cJSON_CreateNull();
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "rate_bps", (double)b.rate_bps);
	cJSON_AddNumberToObject(o, "passed_bytes", (double)b.passed_bytes);
	cJSON_AddNumberToObject(o, "passed_packets", (double)b.passed_pkts);
	cJSON_AddNumberToObject(o, "dropped_bytes", (double)b.dropped_bytes);
	cJSON_AddNumberToObject(o, "dropped_packets", (double)b.dropped_pkts);
	return o;
}

/* --- reaction latency ------------------------------------------------------- */

void governor_reaction(struct htm_manager *m, enum htm_reaction kind,
		       uint64_t event_ns, uint64_t done_ns)
{
	/* observe-only: the decision was made, but no file was written */
	if (!done_ns || done_ns < event_ns || m->cfg.observe)
		return;
	m->reaction_us[kind][m->reaction_next[kind]] = (double)(done_ns - event_ns) / 1e3;
	m->reaction_next[kind] = (m->reaction_next[kind] + 1) % 1024;
	if (m->nreactions[kind] < 1024)
		m->nreactions[kind]++;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

cJSON *governor_reactions_json(struct htm_manager *m)
{
	static const char *const kinds[] = { "budget_breach", "psi_trigger" };
	double sorted[1024];
	cJSON *o = cJSON_CreateObject(), *k;

	for (int i = 0; i < 2; i++) {
		unsigned n = m->nreactions[i];

		k = cJSON_AddObjectToObject(o, kinds[i]);
		cJSON_AddNumberToObject(k, "count", n);
		if (!n)
			continue;
		memcpy(sorted, m->reaction_us[i], n * sizeof(double));
		qsort(sorted, n, sizeof(double), dbl_cmp);
		cJSON_AddNumberToObject(k, "p50_us", sorted[n / 2]);
		cJSON_AddNumberToObject(k, "p99_us", sorted[(n * 99) / 100]);
		cJSON_AddNumberToObject(k, "max_us", sorted[n - 1]);
	}
	return o;
}
