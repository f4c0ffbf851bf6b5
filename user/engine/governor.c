// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/governor.h"
#include "core/log.h"
#include "core/pathfmt.h"
#include "engine/governor.h"

#define REACTIONS 1024
enum reaction { REACT_BREACH, REACT_PSI };

struct htm_governor_sub {
	struct htm_ctx *c;
	struct htm_governor gov;
	struct htm_plan plan;			/* what is applied */
	enum htm_stress_level stress;		/* the monitor's, as last told */
	char reasons[768];
	struct htm_timer boost_timer;
	uint64_t shed;
	/* reaction latency to a completed cgroup write, us */
	double reaction_us[2][REACTIONS];
	unsigned nreactions[2], reaction_next[2];
};

static void send_class(struct htm_governor_sub *g, enum htm_msg_type type,
		       enum htm_priority p, const struct htm_class_plan *want,
		       const char *why)
{
	struct htm_msg m = { .type = type };

	m.u.cls.prio = p;
	m.u.cls.cap_pct = want->cap_pct;
	m.u.cls.frozen = want->frozen;
	m.u.cls.egress_bps = want->egress_bps;
	m.u.cls.why = why;
	(void)htm_bus_send(g->c->bus, &m);
}

static void apply_plan(struct htm_governor_sub *g, const struct htm_plan *want,
		       const char *why)
{
	struct htm_plan had = g->plan;
	bool up = want->level > had.level;
	/* stepping up: low before normal; stepping down: normal before low */
	static const enum htm_priority up_order[] = { HTM_PRIO_LOW, HTM_PRIO_NORMAL };
	static const enum htm_priority down_order[] = { HTM_PRIO_NORMAL, HTM_PRIO_LOW };
	const enum htm_priority *order = up ? up_order : down_order;
	struct htm_msg pm = { .type = HTM_MSG_PLAN_CHANGED };

	if (up) {
		for (int i = 0; i < 2; i++)
			send_class(g, HTM_MSG_CLASS_CAP, order[i], &want->cls[order[i]], why);
		for (int i = 0; i < 2; i++)
			send_class(g, HTM_MSG_CLASS_FREEZE, order[i], &want->cls[order[i]], why);
	} else {
		for (int i = 0; i < 2; i++)
			send_class(g, HTM_MSG_CLASS_FREEZE, order[i], &want->cls[order[i]], why);
		for (int i = 0; i < 2; i++)
			send_class(g, HTM_MSG_CLASS_CAP, order[i], &want->cls[order[i]], why);
	}
	for (int i = 0; i < 2; i++)
		send_class(g, HTM_MSG_CLASS_EGRESS, order[i], &want->cls[order[i]], why);
	g->plan = *want;
	pm.u.plan = *want;
	htm_bus_post(g->c->bus, &pm);
	if (want->shed) {
		uint64_t n = 0;
		struct htm_msg m = { .type = HTM_MSG_SHED,
				     .u.shed = { .why = why, .count = &n } };

		(void)htm_bus_send(g->c->bus, &m);
		g->shed += n;
	}
	if (want->relief && !had.relief) {
		struct htm_msg m = { .type = HTM_MSG_RELIEF, .u.relief_why = why };

		(void)htm_bus_send(g->c->bus, &m);
	}
}

/* The level in force changed? Apply it; the completion time of the last
 * write, or 0 when nothing changed. */
static uint64_t governor_update(struct htm_governor_sub *g, const char *why)
{
	struct htm_ctx *c = g->c;
	uint64_t now = htm_mono(c);
	enum htm_stress_level level = htm_governor_level(&g->gov, g->stress, now);
	struct htm_who who = htm_who(0, "governor");
	struct htm_plan want;
	char reason[512];
	cJSON *b;

	if (level == g->plan.level)
		return 0;
	htm_governor_plan(level, &c->cfg.governor, &want);
	snprintf(reason, sizeof(reason), "%s -> %s: %s", htm_stress_names[g->plan.level],
		 htm_stress_names[level], why);
	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "from", htm_stress_names[g->plan.level]);
	cJSON_AddStringToObject(b, "to", htm_stress_names[level]);
	cJSON_AddStringToObject(b, "stress", htm_stress_names[g->stress]);
	cJSON_AddStringToObject(b, "reasons", g->reasons);
	cJSON_AddBoolToObject(b, "observe", c->cfg.observe);
	record_write(c, HTM_REC_DECISION, &who, reason, "governor response", b);
	htm_log(level > g->plan.level ? LOG_WARNING : LOG_NOTICE, "governor%s: %s",
		c->cfg.observe ? " (observe-only)" : "", reason);
	apply_plan(g, &want, reason);
	if (g->gov.boost_until > now && g->gov.boost > g->stress)
		htm_arm(c, &g->boost_timer, g->gov.boost_until);
	return htm_mono(c);
}

static void boost_fired(struct htm_timer *t)
{
	struct htm_governor_sub *g = htm_container_of(t, struct htm_governor_sub,
						      boost_timer);

	governor_update(g, "a budget breach's step ended");
}

static void reaction(struct htm_governor_sub *g, enum reaction kind,
		     uint64_t event_ns, uint64_t done_ns)
{
	/* observe-only: the decision was made, but no file was written */
	if (!done_ns || done_ns < event_ns || g->c->cfg.observe)
		return;
	g->reaction_us[kind][g->reaction_next[kind]] = (double)(done_ns - event_ns) / 1e3;
	g->reaction_next[kind] = (g->reaction_next[kind] + 1) % REACTIONS;
	if (g->nreactions[kind] < REACTIONS)
		g->nreactions[kind]++;
}

static uint64_t breach(struct htm_governor_sub *g, const char *cgroup)
{
	struct htm_ctx *c = g->c;
	uint64_t done;
	char why[256];

	htm_governor_breach(&g->gov, g->stress, &c->cfg.governor, htm_mono(c));
	htm_textf(why, sizeof(why), "run-queue budget breach of critical work in %s",
		  cgroup ? cgroup : "?");
	done = governor_update(g, why);
	htm_arm(c, &g->boost_timer, g->gov.boost_until);
	return done;
}

static int on_msg(void *data, struct htm_msg *m)
{
	struct htm_governor_sub *g = data;
	enum htm_stress_level was = g->plan.level;
	uint64_t done;

	switch (m->type) {
	case HTM_MSG_STRESS_CHANGED:
		g->stress = m->u.stress.to;
		snprintf(g->reasons, sizeof(g->reasons), "%s", m->u.stress.reasons ?: "");
		done = governor_update(g, g->reasons);
		/* a reaction is a step up; a pass that found the stall already
		 * over and stepped down (a late, rate-limited trigger) is not */
		if (m->u.stress.cause == HTM_CAUSE_PSI && g->plan.level > was)
			reaction(g, REACT_PSI, m->u.stress.cause_ns, done);
		return 0;
	case HTM_MSG_KERNEL_EVENT:
		/* critical work waited too long: respond now, not next period */
		if (m->u.kernel.ev.type == HTM_EV_BUDGET_BREACH &&
		    m->u.kernel.priority == HTM_PRIO_CRITICAL)
			reaction(g, REACT_BREACH, m->u.kernel.ev.ts_ns,
				 breach(g, m->u.kernel.cgroup));
		return 0;
	default:
		return 0;
	}
}

int governor_new(struct htm_governor_sub **out, struct htm_ctx *c)
{
	struct htm_governor_sub *g = calloc(1, sizeof(*g));
	int r;

	if (!g)
		return -ENOMEM;
	g->c = c;
	htm_timer_init(&g->boost_timer, boost_fired);
	htm_governor_plan(HTM_STRESS_OK, &c->cfg.governor, &g->plan);
	r = htm_bus_subscribe(c->bus, HTM_MSG_STRESS_CHANGED, on_msg, g);
	if (r == 0)
		r = htm_bus_subscribe(c->bus, HTM_MSG_KERNEL_EVENT, on_msg, g);
	if (r < 0) {
		free(g);
		return r;
	}
	*out = g;
	return 0;
}

void governor_free(struct htm_governor_sub *g)
{
	if (!g)
		return;
	htm_disarm(g->c, &g->boost_timer);
	free(g);
}

cJSON *governor_json(struct htm_governor_sub *g)
{
	uint64_t now = htm_mono(g->c);
	cJSON *o = cJSON_CreateObject(), *c, *x;

	cJSON_AddStringToObject(o, "level", htm_stress_names[g->plan.level]);
	cJSON_AddStringToObject(o, "stress", htm_stress_names[g->stress]);
	cJSON_AddBoolToObject(o, "breach_step", g->gov.boost_until > now &&
					       g->gov.boost > g->stress);
	cJSON_AddNumberToObject(o, "breach_steps", (double)g->gov.breaches);
	cJSON_AddBoolToObject(o, "observe", g->c->cfg.observe);
	cJSON_AddNumberToObject(o, "shed", (double)g->shed);
	c = cJSON_AddObjectToObject(o, "classes");
	for (int p = 0; p < HTM_PRIO_COUNT; p++) {
		x = cJSON_AddObjectToObject(c, htm_priority_names[p]);
		cJSON_AddBoolToObject(x, "admitted", g->plan.admit[p]);
		cJSON_AddNumberToObject(x, "cpu_cap_pct", g->plan.cls[p].cap_pct);
		cJSON_AddBoolToObject(x, "frozen", g->plan.cls[p].frozen);
		cJSON_AddNumberToObject(x, "egress_bps", (double)g->plan.cls[p].egress_bps);
	}
	return o;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

cJSON *governor_reactions_json(struct htm_governor_sub *g)
{
	static const char *const kinds[] = { "budget_breach", "psi_trigger" };
	double sorted[REACTIONS];
	cJSON *o = cJSON_CreateObject(), *k;

	for (int i = 0; i < 2; i++) {
		unsigned n = g->nreactions[i];

		k = cJSON_AddObjectToObject(o, kinds[i]);
		cJSON_AddNumberToObject(k, "count", n);
		if (!n)
			continue;
		memcpy(sorted, g->reaction_us[i], n * sizeof(double));
		qsort(sorted, n, sizeof(double), dbl_cmp);
		cJSON_AddNumberToObject(k, "p50_us", sorted[n / 2]);
		cJSON_AddNumberToObject(k, "p99_us", sorted[(n * 99) / 100]);
		cJSON_AddNumberToObject(k, "max_us", sorted[n - 1]);
	}
	return o;
}
