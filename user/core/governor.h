/* SPDX-License-Identifier: MIT */
/*
 * What the governor wants for each stress level (strongest last):
 *   ok        everything admitted, nothing capped
 *   elevated  normal and low wait for admission; low capped (cpu.max)
 *   high      only critical and high admitted; normal capped; low frozen
 *   critical  normal frozen too; low tasks queued too long are shed; the
 *             relief command runs
 * Capped and frozen classes also get their egress limited, where
 * configured. Critical work is never capped or frozen. A run-queue budget
 * breach of critical work lifts the level one step at once, for a hold
 * time, without waiting for the sampling period. Pure.
 */
#ifndef HTM_CORE_GOVERNOR_H
#define HTM_CORE_GOVERNOR_H

#include <stdbool.h>
#include <stdint.h>

#include "stress.h"
#include "task.h"

struct htm_governor_config {
	uint32_t cap_pct[HTM_PRIO_COUNT];	/* cpu.max when capped, % of one CPU */
	uint64_t egress_bps[HTM_PRIO_COUNT];	/* when limited; 0: never */
	uint64_t shed_after_ns;			/* queued this long at critical: shed */
	uint64_t breach_hold_ns;		/* how long a breach's step holds */
};

struct htm_class_plan {
	uint32_t cap_pct;		/* 0: uncapped */
	bool frozen;
	uint64_t egress_bps;		/* 0: unlimited */
};

struct htm_plan {
	enum htm_stress_level level;
	bool admit[HTM_PRIO_COUNT];
	struct htm_class_plan cls[HTM_PRIO_COUNT];
	bool shed;			/* shed long-queued low work */
	bool relief;			/* run the relief command */
};

struct htm_governor {
	enum htm_stress_level boost;
	uint64_t boost_start, boost_until;	/* CLOCK_MONOTONIC */
	uint64_t breaches;		/* boosts applied */
};

void htm_governor_config_defaults(struct htm_governor_config *c);
void htm_governor_plan(enum htm_stress_level level,
		       const struct htm_governor_config *c, struct htm_plan *p);
/* The level in force: the stress level, or a breach's step while it holds. */
enum htm_stress_level htm_governor_level(const struct htm_governor *g,
					 enum htm_stress_level stress,
					 uint64_t now_ns);
/* A breach: one step above what is in force now, held for breach_hold;
 * breaches that go on for a whole hold step it up again. */
enum htm_stress_level htm_governor_breach(struct htm_governor *g,
					  enum htm_stress_level stress,
					  const struct htm_governor_config *c,
					  uint64_t now_ns);

/*
 * SLA: a task's deadline is submission + sla. With less than a tenth of
 * it left it is escalated one priority, once. 0 when it has no SLA or
 * nothing is left to do.
 */
uint64_t htm_sla_escalate_at(const struct htm_task *t);	/* CLOCK_MONOTONIC */
uint64_t htm_sla_deadline_mono(const struct htm_task *t);
bool htm_sla_should_escalate(const struct htm_task *t, uint64_t now_mono);

#endif
