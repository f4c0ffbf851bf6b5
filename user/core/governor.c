// SPDX-License-Identifier: MIT
#include <string.h>

#include "governor.h"

void htm_governor_config_defaults(struct htm_governor_config *c)
{
	memset(c, 0, sizeof(*c));
	c->cap_pct[HTM_PRIO_NORMAL] = 50;
	c->cap_pct[HTM_PRIO_LOW] = 20;
	c->egress_bps[HTM_PRIO_NORMAL] = 10u << 20;
	c->egress_bps[HTM_PRIO_LOW] = 1u << 20;
	c->shed_after_ns = 600ull * 1000000000ull;
	c->breach_hold_ns = 5ull * 1000000000ull;
}

void htm_governor_plan(enum htm_stress_level level,
		       const struct htm_governor_config *c, struct htm_plan *p)
{
	struct htm_class_plan *normal = &p->cls[HTM_PRIO_NORMAL];
	struct htm_class_plan *low = &p->cls[HTM_PRIO_LOW];

	memset(p, 0, sizeof(*p));
	p->level = level;
	for (int i = 0; i < HTM_PRIO_COUNT; i++)
		p->admit[i] = true;
	if (level >= HTM_STRESS_ELEVATED) {
		p->admit[HTM_PRIO_NORMAL] = p->admit[HTM_PRIO_LOW] = false;
		low->cap_pct = c->cap_pct[HTM_PRIO_LOW];
		low->egress_bps = c->egress_bps[HTM_PRIO_LOW];
	}
	if (level >= HTM_STRESS_HIGH) {
		normal->cap_pct = c->cap_pct[HTM_PRIO_NORMAL];
		normal->egress_bps = c->egress_bps[HTM_PRIO_NORMAL];
		low->frozen = true;
	}
	if (level >= HTM_STRESS_CRITICAL) {
		normal->frozen = true;
		p->shed = true;
		p->relief = true;
	}
}

enum htm_stress_level htm_governor_level(const struct htm_governor *g,
					 enum htm_stress_level stress,
					 uint64_t now_ns)
{
	if (now_ns < g->boost_until && g->boost > stress)
		return g->boost;
	return stress;
}

enum htm_stress_level htm_governor_breach(struct htm_governor *g,
					  enum htm_stress_level stress,
					  const struct htm_governor_config *c,
					  uint64_t now_ns)
{
	enum htm_stress_level now = htm_governor_level(g, stress, now_ns);

	/* at most one step per hold: a burst of breaches is one event, but
	 * breaches that outlast a hold mean the step did not help */
	if (now_ns >= g->boost_until || g->boost <= stress ||
	    (now_ns - g->boost_start >= c->breach_hold_ns &&
	     g->boost < HTM_STRESS_CRITICAL)) {
		/* at critical stress there is no step to take: hold critical
		 * for when stress falls, but count only steps taken */
		if (now < HTM_STRESS_CRITICAL)
			g->breaches++;
		g->boost = now < HTM_STRESS_CRITICAL ? now + 1 : HTM_STRESS_CRITICAL;
		g->boost_start = now_ns;
	}
	g->boost_until = now_ns + c->breach_hold_ns;
	return htm_governor_level(g, stress, now_ns);
}

uint64_t htm_sla_deadline_mono(const struct htm_task *t)
{
	return t->sla_ns ? t->submitted_mono + t->sla_ns : 0;
}

uint64_t htm_sla_escalate_at(const struct htm_task *t)
{
	if (!t->sla_ns || t->escalations || t->sla_escalation_failed ||
	    htm_state_is_terminal(t->state) ||
	    t->priority == HTM_PRIO_CRITICAL)
		return 0;
	/* a tenth of the SLA left */
	return t->submitted_mono + t->sla_ns - t->sla_ns / 10;
}

bool htm_sla_should_escalate(const struct htm_task *t, uint64_t now_mono)
{
	uint64_t at = htm_sla_escalate_at(t);

	return at && now_mono >= at;
}
