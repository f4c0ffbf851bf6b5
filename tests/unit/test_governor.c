// SPDX-License-Identifier: MIT
/*
 * The governor's pure parts: what each stress level asks of each class
 * (admission, cpu.max caps, freezes, egress, shedding, relief), the level
 * in force while a run-queue budget breach's step holds, and the SLA
 * moments (deadline, escalation at 90 % of the SLA, once).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/governor.h"
#include "core/task.h"

#include "check.h"

#define SEC 1000000000ull
#define MS 1000000ull
/* a monotonic clock well away from 0, as on a running machine */
#define T0 (5000 * SEC)

static const char *lvl(enum htm_stress_level l)
{
	return l < HTM_STRESS_COUNT ? htm_stress_names[l] : "?";
}

#define CHECK_LEVEL(got, want) CHECK_EQ_STR(lvl(got), lvl(want))

static void test_defaults(void)
{
	struct htm_governor_config c;

	memset(&c, 0xa5, sizeof(c));
	htm_governor_config_defaults(&c);
	/* the defaults: low 20 % of one CPU, normal 50 % */
	CHECK_EQ_INT(c.cap_pct[HTM_PRIO_LOW], 20);
	CHECK_EQ_INT(c.cap_pct[HTM_PRIO_NORMAL], 50);
	CHECK_EQ_INT(c.cap_pct[HTM_PRIO_HIGH], 0);
	CHECK_EQ_INT(c.cap_pct[HTM_PRIO_CRITICAL], 0);
	/* egress: off for critical and high */
	CHECK_EQ_U64(c.egress_bps[HTM_PRIO_CRITICAL], 0);
	CHECK_EQ_U64(c.egress_bps[HTM_PRIO_HIGH], 0);
	CHECK_EQ_U64(c.egress_bps[HTM_PRIO_NORMAL], 10ull << 20);
	CHECK_EQ_U64(c.egress_bps[HTM_PRIO_LOW], 1ull << 20);
	/* low queued longer than 10 minutes is shed at critical */
	CHECK_EQ_U64(c.shed_after_ns, 600 * SEC);
	CHECK_EQ_U64(c.breach_hold_ns, 5 * SEC);
}

/* What a level must look like, class by class. */
struct want_class {
	bool admit;
	uint32_t cap;
	bool frozen;
	uint64_t egress;
};

static void check_plan(enum htm_stress_level level, const struct htm_governor_config *c,
		       const struct want_class want[HTM_PRIO_COUNT], bool shed,
		       bool relief)
{
	struct htm_plan p;

	/* garbage first: the plan must set every field */
	memset(&p, 0x5a, sizeof(p));
	htm_governor_plan(level, c, &p);
	CHECK_LEVEL(p.level, level);
	for (int i = 0; i < HTM_PRIO_COUNT; i++) {
		check_total++;
		if (p.admit[i] != want[i].admit || p.cls[i].cap_pct != want[i].cap ||
		    p.cls[i].frozen != want[i].frozen ||
		    p.cls[i].egress_bps != want[i].egress) {
			check_fail_(__FILE__, __LINE__);
			fprintf(stderr, "level %s, class %s: admit %d cap %u frozen %d "
				"egress %llu; want admit %d cap %u frozen %d egress %llu\n",
				lvl(level), htm_priority_names[i], p.admit[i],
				p.cls[i].cap_pct, p.cls[i].frozen,
				(unsigned long long)p.cls[i].egress_bps, want[i].admit,
				want[i].cap, want[i].frozen,
				(unsigned long long)want[i].egress);
		}
	}
	CHECK_EQ_INT(p.shed, shed);
	CHECK_EQ_INT(p.relief, relief);
}

static void test_plan_levels(void)
{
	struct htm_governor_config c;
	const uint64_t n_eg = 10ull << 20, l_eg = 1ull << 20;

	htm_governor_config_defaults(&c);

	/* ok: everything admitted, nothing capped, frozen or limited */
	check_plan(HTM_STRESS_OK, &c, (const struct want_class[]){
		[HTM_PRIO_CRITICAL] = { true, 0, false, 0 },
		[HTM_PRIO_HIGH] = { true, 0, false, 0 },
		[HTM_PRIO_NORMAL] = { true, 0, false, 0 },
		[HTM_PRIO_LOW] = { true, 0, false, 0 },
	}, false, false);

	/* elevated: normal and low wait; low capped at 20 % */
	check_plan(HTM_STRESS_ELEVATED, &c, (const struct want_class[]){
		[HTM_PRIO_CRITICAL] = { true, 0, false, 0 },
		[HTM_PRIO_HIGH] = { true, 0, false, 0 },
		[HTM_PRIO_NORMAL] = { false, 0, false, 0 },
		[HTM_PRIO_LOW] = { false, 20, false, l_eg },
	}, false, false);

	/* high: normal capped at 50 %, low frozen (and still capped) */
	check_plan(HTM_STRESS_HIGH, &c, (const struct want_class[]){
		[HTM_PRIO_CRITICAL] = { true, 0, false, 0 },
		[HTM_PRIO_HIGH] = { true, 0, false, 0 },
		[HTM_PRIO_NORMAL] = { false, 50, false, n_eg },
		[HTM_PRIO_LOW] = { false, 20, true, l_eg },
	}, false, false);

	/* critical: normal frozen too, shed, relief */
	check_plan(HTM_STRESS_CRITICAL, &c, (const struct want_class[]){
		[HTM_PRIO_CRITICAL] = { true, 0, false, 0 },
		[HTM_PRIO_HIGH] = { true, 0, false, 0 },
		[HTM_PRIO_NORMAL] = { false, 50, true, n_eg },
		[HTM_PRIO_LOW] = { false, 20, true, l_eg },
	}, true, true);
}

/* Configured caps and rates are what the plan uses. */
static void test_plan_config(void)
{
	struct htm_governor_config c;
	struct htm_plan p;

	htm_governor_config_defaults(&c);
	c.cap_pct[HTM_PRIO_NORMAL] = 150;
	c.cap_pct[HTM_PRIO_LOW] = 7;
	c.egress_bps[HTM_PRIO_NORMAL] = 0;	/* no egress limit for normal */
	c.egress_bps[HTM_PRIO_LOW] = 12345;

	htm_governor_plan(HTM_STRESS_ELEVATED, &c, &p);
	CHECK_EQ_INT(p.cls[HTM_PRIO_LOW].cap_pct, 7);
	CHECK_EQ_U64(p.cls[HTM_PRIO_LOW].egress_bps, 12345);
	CHECK_EQ_INT(p.cls[HTM_PRIO_NORMAL].cap_pct, 0);
	htm_governor_plan(HTM_STRESS_HIGH, &c, &p);
	CHECK_EQ_INT(p.cls[HTM_PRIO_NORMAL].cap_pct, 150);
	CHECK_EQ_U64(p.cls[HTM_PRIO_NORMAL].egress_bps, 0);
	CHECK_EQ_INT(p.cls[HTM_PRIO_LOW].cap_pct, 7);
	CHECK(p.cls[HTM_PRIO_LOW].frozen);
	CHECK(!p.cls[HTM_PRIO_NORMAL].frozen);
}

/*
 * Critical and high work is never capped, frozen or egress-limited, at
 * any level, even with caps and rates configured for those classes.
 */
static void test_plan_protects_critical_high(void)
{
	struct htm_governor_config c;
	struct htm_plan p;

	htm_governor_config_defaults(&c);
	for (int i = 0; i < HTM_PRIO_COUNT; i++) {
		c.cap_pct[i] = 33;
		c.egress_bps[i] = 4096;
	}
	for (int l = HTM_STRESS_OK; l < HTM_STRESS_COUNT; l++) {
		htm_governor_plan((enum htm_stress_level)l, &c, &p);
		for (int i = HTM_PRIO_CRITICAL; i <= HTM_PRIO_HIGH; i++) {
			CHECK(p.admit[i]);
			CHECK_EQ_INT(p.cls[i].cap_pct, 0);
			CHECK(!p.cls[i].frozen);
			CHECK_EQ_U64(p.cls[i].egress_bps, 0);
		}
	}
	/* while the lower classes did get the configured values */
	htm_governor_plan(HTM_STRESS_CRITICAL, &c, &p);
	CHECK_EQ_INT(p.cls[HTM_PRIO_NORMAL].cap_pct, 33);
	CHECK_EQ_INT(p.cls[HTM_PRIO_LOW].cap_pct, 33);
	CHECK_EQ_U64(p.cls[HTM_PRIO_LOW].egress_bps, 4096);
}

/* Each level only adds to the one below: responses are cumulative. */
static void test_plan_monotonic(void)
{
	struct htm_governor_config c;
	struct htm_plan lo, hi;

	htm_governor_config_defaults(&c);
	for (int l = HTM_STRESS_OK; l + 1 < HTM_STRESS_COUNT; l++) {
		htm_governor_plan((enum htm_stress_level)l, &c, &lo);
		htm_governor_plan((enum htm_stress_level)(l + 1), &c, &hi);
		for (int i = 0; i < HTM_PRIO_COUNT; i++) {
			CHECK(hi.admit[i] <= lo.admit[i]);
			CHECK(hi.cls[i].frozen >= lo.cls[i].frozen);
			CHECK(!lo.cls[i].cap_pct || hi.cls[i].cap_pct == lo.cls[i].cap_pct);
		}
		CHECK(hi.shed >= lo.shed);
		CHECK(hi.relief >= lo.relief);
	}
}

/* The level in force: the stress level, or a breach's step while it holds
 * and is above the stress level; no hysteresis here. */
static void test_level(void)
{
	struct htm_governor g;

	memset(&g, 0, sizeof(g));
	for (int s = HTM_STRESS_OK; s < HTM_STRESS_COUNT; s++) {
		CHECK_LEVEL(htm_governor_level(&g, (enum htm_stress_level)s, T0), s);
		CHECK_LEVEL(htm_governor_level(&g, (enum htm_stress_level)s, 0), s);
	}

	g.boost = HTM_STRESS_HIGH;
	g.boost_start = T0;
	g.boost_until = T0 + 5 * SEC;
	CHECK_LEVEL(htm_governor_level(&g, HTM_STRESS_OK, T0), HTM_STRESS_HIGH);
	CHECK_LEVEL(htm_governor_level(&g, HTM_STRESS_ELEVATED, T0 + SEC), HTM_STRESS_HIGH);
	CHECK_LEVEL(htm_governor_level(&g, HTM_STRESS_OK, T0 + 5 * SEC - 1), HTM_STRESS_HIGH);
	/* stress above the step wins */
	CHECK_LEVEL(htm_governor_level(&g, HTM_STRESS_CRITICAL, T0 + SEC),
		    HTM_STRESS_CRITICAL);
	/* the hold is over: the stress level alone, at once */
	CHECK_LEVEL(htm_governor_level(&g, HTM_STRESS_OK, T0 + 5 * SEC), HTM_STRESS_OK);
	CHECK_LEVEL(htm_governor_level(&g, HTM_STRESS_ELEVATED, T0 + 6 * SEC),
		    HTM_STRESS_ELEVATED);
}

static void test_breach_steps(void)
{
	struct htm_governor_config c;
	struct htm_governor g;
	const uint64_t hold = 5 * SEC;
	uint64_t t;

	htm_governor_config_defaults(&c);
	CHECK_EQ_U64(c.breach_hold_ns, hold);
	memset(&g, 0, sizeof(g));

	/* the first breach: one step above ok, at once */
	CHECK_LEVEL(htm_governor_breach(&g, HTM_STRESS_OK, &c, T0), HTM_STRESS_ELEVATED);
	CHECK_EQ_U64(g.breaches, 1);
	CHECK_EQ_U64(g.boost_until, T0 + hold);
	CHECK_LEVEL(htm_governor_level(&g, HTM_STRESS_OK, T0 + 1), HTM_STRESS_ELEVATED);

	/* a burst within the hold is one step, but extends the hold */
	CHECK_LEVEL(htm_governor_breach(&g, HTM_STRESS_OK, &c, T0 + 10 * MS),
		    HTM_STRESS_ELEVATED);
	CHECK_LEVEL(htm_governor_breach(&g, HTM_STRESS_OK, &c, T0 + 2 * SEC),
		    HTM_STRESS_ELEVATED);
	CHECK_LEVEL(htm_governor_breach(&g, HTM_STRESS_OK, &c, T0 + hold - 1),
		    HTM_STRESS_ELEVATED);
	CHECK_EQ_U64(g.breaches, 1);
	CHECK_EQ_U64(g.boost_until, T0 + hold - 1 + hold);

	/* breaches that outlast a whole hold: the step did not help, step again */
	CHECK_LEVEL(htm_governor_breach(&g, HTM_STRESS_OK, &c, T0 + hold), HTM_STRESS_HIGH);
	CHECK_EQ_U64(g.breaches, 2);
	CHECK_LEVEL(htm_governor_breach(&g, HTM_STRESS_OK, &c, T0 + hold + SEC),
		    HTM_STRESS_HIGH);
	CHECK_EQ_U64(g.breaches, 2);
	CHECK_LEVEL(htm_governor_breach(&g, HTM_STRESS_OK, &c, T0 + 2 * hold),
		    HTM_STRESS_CRITICAL);
	CHECK_EQ_U64(g.breaches, 3);

	/* capped at critical however long they go on */
	for (t = T0 + 2 * hold; t <= T0 + 6 * hold; t += SEC)
		CHECK_LEVEL(htm_governor_breach(&g, HTM_STRESS_OK, &c, t),
			    HTM_STRESS_CRITICAL);
	CHECK_EQ_U64(g.breaches, 3);
	CHECK_LEVEL(g.boost, HTM_STRESS_CRITICAL);
	t -= SEC;	/* the last breach */

	/* quiet: the step holds for one hold after the last breach, then lapses */
	CHECK_LEVEL(htm_governor_level(&g, HTM_STRESS_OK, t + hold - 1), HTM_STRESS_CRITICAL);
	CHECK_LEVEL(htm_governor_level(&g, HTM_STRESS_OK, t + hold), HTM_STRESS_OK);
	CHECK_LEVEL(htm_governor_level(&g, HTM_STRESS_ELEVATED, t + hold),
		    HTM_STRESS_ELEVATED);

	/* a breach after the lapse starts again from the stress level */
	t += hold + 3 * SEC;
	CHECK_LEVEL(htm_governor_breach(&g, HTM_STRESS_OK, &c, t), HTM_STRESS_ELEVATED);
	CHECK_EQ_U64(g.breaches, 4);
	CHECK_LEVEL(htm_governor_level(&g, HTM_STRESS_OK, t + hold), HTM_STRESS_OK);
}

/* The step is one above what is in force: the stress level counts. */
static void test_breach_from_stress(void)
{
	struct htm_governor_config c;
	struct htm_governor g;

	htm_governor_config_defaults(&c);
	c.breach_hold_ns = 2 * SEC;

	memset(&g, 0, sizeof(g));
	CHECK_LEVEL(htm_governor_breach(&g, HTM_STRESS_HIGH, &c, T0), HTM_STRESS_CRITICAL);
	CHECK_EQ_U64(g.breaches, 1);
	CHECK_EQ_U64(g.boost_until, T0 + 2 * SEC);
	/* stress falls to ok: the step still holds critical */
	CHECK_LEVEL(htm_governor_level(&g, HTM_STRESS_OK, T0 + SEC), HTM_STRESS_CRITICAL);
	CHECK_LEVEL(htm_governor_level(&g, HTM_STRESS_OK, T0 + 2 * SEC), HTM_STRESS_OK);

	/* stress rises to the step's level within the hold: the next breach
	 * steps above it at once */
	memset(&g, 0, sizeof(g));
	CHECK_LEVEL(htm_governor_breach(&g, HTM_STRESS_OK, &c, T0), HTM_STRESS_ELEVATED);
	CHECK_LEVEL(htm_governor_breach(&g, HTM_STRESS_ELEVATED, &c, T0 + 100 * MS),
		    HTM_STRESS_HIGH);
	CHECK_EQ_U64(g.breaches, 2);

	/* at critical stress a breach has nothing to step to: no step counted,
	 * but critical is held for the hold once stress falls */
	memset(&g, 0, sizeof(g));
	for (int i = 0; i < 10; i++)
		CHECK_LEVEL(htm_governor_breach(&g, HTM_STRESS_CRITICAL, &c,
						T0 + (uint64_t)i * SEC),
			    HTM_STRESS_CRITICAL);
	CHECK_EQ_U64(g.breaches, 0);
	CHECK_LEVEL(htm_governor_level(&g, HTM_STRESS_OK, T0 + 10 * SEC), HTM_STRESS_CRITICAL);
	CHECK_LEVEL(htm_governor_level(&g, HTM_STRESS_OK, T0 + 11 * SEC), HTM_STRESS_OK);

	/* a shorter configured hold is honoured */
	c.breach_hold_ns = 100 * MS;
	memset(&g, 0, sizeof(g));
	CHECK_LEVEL(htm_governor_breach(&g, HTM_STRESS_OK, &c, T0), HTM_STRESS_ELEVATED);
	CHECK_LEVEL(htm_governor_level(&g, HTM_STRESS_OK, T0 + 99 * MS), HTM_STRESS_ELEVATED);
	CHECK_LEVEL(htm_governor_level(&g, HTM_STRESS_OK, T0 + 100 * MS), HTM_STRESS_OK);
	CHECK_LEVEL(htm_governor_breach(&g, HTM_STRESS_OK, &c, T0 + 50 * MS),
		    HTM_STRESS_ELEVATED);
	CHECK_LEVEL(htm_governor_breach(&g, HTM_STRESS_OK, &c, T0 + 100 * MS),
		    HTM_STRESS_HIGH);
}

static struct htm_task *sla_task(uint64_t sla_ns, enum htm_priority p)
{
	struct htm_task *t = htm_task_new(1);

	if (!t) {
		perror("htm_task_new");
		exit(2);
	}
	t->sla_ns = sla_ns;
	t->priority = p;
	t->submitted_mono = T0;
	return t;
}

static void test_sla(void)
{
	struct htm_task *t = sla_task(100 * SEC, HTM_PRIO_NORMAL);

	/* deadline: submission + SLA; escalation with a tenth left */
	CHECK_EQ_U64(htm_sla_deadline_mono(t), T0 + 100 * SEC);
	CHECK_EQ_U64(htm_sla_escalate_at(t), T0 + 90 * SEC);
	CHECK(!htm_sla_should_escalate(t, T0));
	CHECK(!htm_sla_should_escalate(t, T0 + 90 * SEC - 1));
	CHECK(htm_sla_should_escalate(t, T0 + 90 * SEC));
	CHECK(htm_sla_should_escalate(t, T0 + 200 * SEC));

	/* 10 s SLA: escalated at 9 s */
	t->sla_ns = 10 * SEC;
	CHECK_EQ_U64(htm_sla_escalate_at(t), T0 + 9 * SEC);
	CHECK_EQ_U64(htm_sla_deadline_mono(t), T0 + 10 * SEC);
	/* not a multiple of ten: the tenth rounds down, escalation is later */
	t->sla_ns = 1234567;
	CHECK_EQ_U64(htm_sla_escalate_at(t), T0 + 1234567 - 123456);

	/* every non-terminal state is watched, high and low alike */
	t->sla_ns = 100 * SEC;
	for (int s = 0; s < HTM_STATE_COUNT; s++) {
		t->state = (enum htm_state)s;
		if (htm_state_is_terminal(t->state)) {
			CHECK_EQ_U64(htm_sla_escalate_at(t), 0);
			CHECK(!htm_sla_should_escalate(t, T0 + 1000 * SEC));
		} else {
			CHECK_EQ_U64(htm_sla_escalate_at(t), T0 + 90 * SEC);
		}
	}
	t->state = HTM_STATE_SUCCEEDED;
	CHECK_EQ_U64(htm_sla_escalate_at(t), 0);
	t->state = HTM_STATE_SHED;
	CHECK_EQ_U64(htm_sla_escalate_at(t), 0);
	t->state = HTM_STATE_RUNNING;
	for (int p = HTM_PRIO_HIGH; p < HTM_PRIO_COUNT; p++) {
		t->priority = (enum htm_priority)p;
		CHECK_EQ_U64(htm_sla_escalate_at(t), T0 + 90 * SEC);
	}

	/* once: after one escalation, never again */
	t->priority = HTM_PRIO_LOW;
	t->escalations = 1;
	CHECK_EQ_U64(htm_sla_escalate_at(t), 0);
	CHECK(!htm_sla_should_escalate(t, T0 + 95 * SEC));
	/* the deadline itself stays */
	CHECK_EQ_U64(htm_sla_deadline_mono(t), T0 + 100 * SEC);
	t->escalations = 0;

	/* critical has nowhere to go */
	t->priority = HTM_PRIO_CRITICAL;
	CHECK_EQ_U64(htm_sla_escalate_at(t), 0);
	CHECK(!htm_sla_should_escalate(t, T0 + 95 * SEC));
	CHECK_EQ_U64(htm_sla_deadline_mono(t), T0 + 100 * SEC);

	/* no SLA: no deadline, no escalation */
	t->priority = HTM_PRIO_LOW;
	t->sla_ns = 0;
	CHECK_EQ_U64(htm_sla_deadline_mono(t), 0);
	CHECK_EQ_U64(htm_sla_escalate_at(t), 0);
	CHECK(!htm_sla_should_escalate(t, UINT64_MAX));
	htm_task_free(t);
}

int main(void)
{
	test_defaults();
	test_plan_levels();
	test_plan_config();
	test_plan_protects_critical_high();
	test_plan_monotonic();
	test_level();
	test_breach_steps();
	test_breach_from_stress();
	test_sla();
	return check_report();
}
