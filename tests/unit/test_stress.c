// SPDX-License-Identifier: MIT
/*
 * The stress level state machine, driven with an injected clock: up at
 * once, down one level at a time after every signal has stayed below its
 * exit threshold (enter * exit_ratio; enter / exit_ratio for memory
 * available, where lower is worse) for the whole cooldown.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "core/stress.h"

#include "check.h"

#define SEC 1000000000ull
/* the clock starts well away from 0 (0 means "not calm" in calm_since_ns) */
#define T0 (1000 * SEC)

static struct htm_stress_config cfg;

/* Every signal well clear of its thresholds: memory mostly available. */
static void quiet(double v[HTM_SIG_COUNT])
{
	for (int s = 0; s < HTM_SIG_COUNT; s++)
		v[s] = 0;
	v[HTM_SIG_MEMORY_AVAILABLE] = 80;
}

/* Quiet except one signal. */
static const double *one(int sig, double val)
{
	static double v[HTM_SIG_COUNT];

	quiet(v);
	v[sig] = val;
	return v;
}

static void test_names(void)
{
	CHECK_EQ_STR(htm_stress_names[HTM_STRESS_OK], "ok");
	CHECK_EQ_STR(htm_stress_names[HTM_STRESS_ELEVATED], "elevated");
	CHECK_EQ_STR(htm_stress_names[HTM_STRESS_HIGH], "high");
	CHECK_EQ_STR(htm_stress_names[HTM_STRESS_CRITICAL], "critical");
	CHECK(htm_stress_names[HTM_STRESS_COUNT] == NULL);
	CHECK_EQ_STR(htm_stress_signal_names[HTM_SIG_CPU_SOME], "cpu_some");
	CHECK_EQ_STR(htm_stress_signal_names[HTM_SIG_MEMORY_SOME], "memory_some");
	CHECK_EQ_STR(htm_stress_signal_names[HTM_SIG_MEMORY_FULL], "memory_full");
	CHECK_EQ_STR(htm_stress_signal_names[HTM_SIG_IO_SOME], "io_some");
	CHECK_EQ_STR(htm_stress_signal_names[HTM_SIG_BUDGET_BREACHES], "budget_breaches");
	CHECK_EQ_STR(htm_stress_signal_names[HTM_SIG_MEMORY_AVAILABLE], "memory_available");
	CHECK_EQ_STR(htm_stress_signal_names[HTM_SIG_QUEUE_BACKLOG], "queue_backlog");
	CHECK(htm_stress_signal_names[HTM_SIG_COUNT] == NULL);
}

static void test_defaults(void)
{
	struct htm_stress_config c;
	char err[128] = "untouched";

	memset(&c, 0xAA, sizeof(c));
	htm_stress_config_defaults(&c);
	CHECK_EQ_DBL(c.enter[HTM_SIG_CPU_SOME][0], 30, 0);
	CHECK_EQ_DBL(c.enter[HTM_SIG_CPU_SOME][1], 60, 0);
	CHECK_EQ_DBL(c.enter[HTM_SIG_CPU_SOME][2], 90, 0);
	CHECK_EQ_DBL(c.enter[HTM_SIG_MEMORY_AVAILABLE][0], 20, 0);
	CHECK_EQ_DBL(c.enter[HTM_SIG_MEMORY_AVAILABLE][1], 10, 0);
	CHECK_EQ_DBL(c.enter[HTM_SIG_MEMORY_AVAILABLE][2], 5, 0);
	CHECK_EQ_DBL(c.enter[HTM_SIG_BUDGET_BREACHES][0], 1, 0);
	CHECK_EQ_DBL(c.enter[HTM_SIG_BUDGET_BREACHES][1], 10, 0);
	CHECK_EQ_DBL(c.enter[HTM_SIG_BUDGET_BREACHES][2], 50, 0);
	CHECK_EQ_DBL(c.enter[HTM_SIG_QUEUE_BACKLOG][0], 100, 0);
	CHECK_EQ_DBL(c.enter[HTM_SIG_QUEUE_BACKLOG][1], 1000, 0);
	CHECK_EQ_DBL(c.enter[HTM_SIG_QUEUE_BACKLOG][2], 5000, 0);
	CHECK_EQ_DBL(c.exit_ratio, 0.75, 0);
	CHECK_EQ_U64(c.cooldown_ns, 10 * SEC);
	CHECK_EQ_INT(htm_stress_config_check(&c, err, sizeof(err)), 0);
	CHECK_EQ_STR(err, "untouched");
}

static void test_init(void)
{
	struct htm_stress st;

	memset(&st, 0xAA, sizeof(st));
	htm_stress_init(&st, T0);
	CHECK_EQ_INT(st.level, HTM_STRESS_OK);
	CHECK_EQ_U64(st.since_ns, T0);
	CHECK_EQ_U64(st.calm_since_ns, 0);
	CHECK_EQ_STR(st.reasons, "no signal over its threshold");
}

static void test_all_quiet(void)
{
	struct htm_stress st;
	double v[HTM_SIG_COUNT];
	int changes = 0;

	htm_stress_init(&st, T0);
	quiet(v);
	for (int i = 1; i <= 100; i++)
		changes += htm_stress_update(&st, &cfg, v, T0 + i * SEC);
	CHECK_EQ_INT(changes, 0);
	CHECK_EQ_INT(st.level, HTM_STRESS_OK);
	CHECK_EQ_U64(st.since_ns, T0);
	CHECK_EQ_STR(st.reasons, "no signal over its threshold");

	/* every signal just short of its elevated threshold */
	v[HTM_SIG_CPU_SOME] = 29.9;
	v[HTM_SIG_MEMORY_SOME] = 9.9;
	v[HTM_SIG_MEMORY_FULL] = 4.9;
	v[HTM_SIG_IO_SOME] = 29.9;
	v[HTM_SIG_BUDGET_BREACHES] = 0.9;
	v[HTM_SIG_MEMORY_AVAILABLE] = 20.1;
	v[HTM_SIG_QUEUE_BACKLOG] = 99;
	CHECK(!htm_stress_update(&st, &cfg, v, T0 + 200 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_OK);
	CHECK_EQ_STR(st.reasons, "no signal over its threshold");
}

/* The enter thresholds are inclusive, in both directions. */
static void test_threshold_inclusive(void)
{
	struct htm_stress st;

	htm_stress_init(&st, T0);
	CHECK(htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 30), T0 + SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_ELEVATED);
	CHECK_EQ_STR(st.reasons, "cpu_some 30.0 >= 30 (elevated)");

	htm_stress_init(&st, T0);
	CHECK(htm_stress_update(&st, &cfg, one(HTM_SIG_MEMORY_AVAILABLE, 20), T0 + SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_ELEVATED);
	CHECK_EQ_STR(st.reasons, "memory_available 20.0 <= 20 (elevated)");
}

/* ok -> high in one step, then high -> critical at once. */
static void test_up_at_once(void)
{
	struct htm_stress st;

	htm_stress_init(&st, T0);
	CHECK(htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 65), T0 + SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_HIGH);
	CHECK_EQ_U64(st.since_ns, T0 + SEC);
	CHECK_EQ_U64(st.calm_since_ns, 0);
	CHECK_HAS_STR(st.reasons, "cpu_some");
	CHECK_HAS_STR(st.reasons, "high");
	CHECK_EQ_STR(st.reasons, "cpu_some 65.0 >= 60 (high)");

	/* the same reading again changes nothing */
	CHECK(!htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 65), T0 + 2 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_HIGH);
	CHECK_EQ_U64(st.since_ns, T0 + SEC);

	/* higher: up again at once, no cooldown going up */
	CHECK(htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 95), T0 + 2 * SEC + 1));
	CHECK_EQ_INT(st.level, HTM_STRESS_CRITICAL);
	CHECK_EQ_U64(st.since_ns, T0 + 2 * SEC + 1);
	CHECK_EQ_STR(st.reasons, "cpu_some 95.0 >= 90 (critical)");

	/* nothing above critical */
	CHECK(!htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 100), T0 + 3 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_CRITICAL);
}

/* Between exit (90 * 0.75 = 67.5) and enter (90): critical holds forever. */
static void test_hold_between_exit_and_enter(void)
{
	struct htm_stress st;
	int changes = 0;
	uint64_t t;

	htm_stress_init(&st, T0);
	CHECK(htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 95), T0));
	CHECK_EQ_INT(st.level, HTM_STRESS_CRITICAL);
	for (t = T0 + SEC; t <= T0 + 3600 * SEC; t += SEC)
		changes += htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 70), t);
	CHECK_EQ_INT(changes, 0);
	CHECK_EQ_INT(st.level, HTM_STRESS_CRITICAL);
	CHECK_EQ_U64(st.since_ns, T0);
	CHECK_EQ_U64(st.calm_since_ns, 0);
	CHECK_HAS_STR(st.reasons, "holding");
	CHECK_EQ_STR(st.reasons, "cpu_some 70.0 >= 67.5 (holding critical)");

	/* exactly on the exit threshold still holds */
	for (; t <= T0 + 7200 * SEC; t += 10 * SEC)
		changes += htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 67.5), t);
	CHECK_EQ_INT(changes, 0);
	CHECK_EQ_INT(st.level, HTM_STRESS_CRITICAL);
	CHECK_EQ_STR(st.reasons, "cpu_some 67.5 >= 67.5 (holding critical)");
}

/* Below the exit threshold: down one level after exactly the cooldown. */
static void test_cooldown(void)
{
	struct htm_stress st;
	uint64_t calm = T0 + SEC;
	int changes = 0;

	htm_stress_init(&st, T0);
	CHECK(htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 95), T0));

	/* 50: below critical's exit (67.5), above high's (45) */
	CHECK(!htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 50), calm));
	CHECK_EQ_U64(st.calm_since_ns, calm);
	for (uint64_t t = calm + SEC; t < calm + 10 * SEC; t += SEC)
		changes += htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 50), t);
	CHECK(!htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 50), calm + 10 * SEC - 1));
	CHECK_EQ_INT(changes, 0);
	CHECK_EQ_INT(st.level, HTM_STRESS_CRITICAL);
	CHECK_EQ_U64(st.since_ns, T0);
	CHECK_EQ_U64(st.calm_since_ns, calm);

	/* the full cooldown: exactly one level down, to high, which 50 holds */
	CHECK(htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 50), calm + 10 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_HIGH);
	CHECK_EQ_U64(st.since_ns, calm + 10 * SEC);
	CHECK_EQ_U64(st.calm_since_ns, 0);
	CHECK_EQ_STR(st.reasons, "cpu_some 50.0 >= 45 (holding high)");

	changes = 0;
	for (uint64_t t = calm + 11 * SEC; t <= calm + 3600 * SEC; t += SEC)
		changes += htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 50), t);
	CHECK_EQ_INT(changes, 0);
	CHECK_EQ_INT(st.level, HTM_STRESS_HIGH);
}

/* Quiet after critical: one level per cooldown, never several at once. */
static void test_one_level_per_cooldown(void)
{
	struct htm_stress st;
	double v[HTM_SIG_COUNT];
	uint64_t calm = T0 + SEC, step;

	quiet(v);
	htm_stress_init(&st, T0);
	CHECK(htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 95), T0));
	CHECK(!htm_stress_update(&st, &cfg, v, calm));
	CHECK_EQ_U64(st.calm_since_ns, calm);

	/* an hour of calm seen in a single reading still steps one level */
	step = calm + 3600 * SEC;
	CHECK(htm_stress_update(&st, &cfg, v, step));
	CHECK_EQ_INT(st.level, HTM_STRESS_HIGH);
	CHECK_EQ_U64(st.since_ns, step);
	/* still calm: the next cooldown counts from the step */
	CHECK_EQ_U64(st.calm_since_ns, step);

	CHECK(!htm_stress_update(&st, &cfg, v, step + 5 * SEC));
	CHECK(!htm_stress_update(&st, &cfg, v, step + 10 * SEC - 1));
	CHECK_EQ_INT(st.level, HTM_STRESS_HIGH);
	CHECK(htm_stress_update(&st, &cfg, v, step + 10 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_ELEVATED);
	step += 10 * SEC;
	CHECK_EQ_U64(st.since_ns, step);
	CHECK_EQ_U64(st.calm_since_ns, step);

	CHECK(!htm_stress_update(&st, &cfg, v, step + 9 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_ELEVATED);
	CHECK(htm_stress_update(&st, &cfg, v, step + 10 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_OK);
	step += 10 * SEC;
	CHECK_EQ_U64(st.since_ns, step);
	CHECK_EQ_U64(st.calm_since_ns, 0);
	CHECK_EQ_STR(st.reasons, "calm for 10s after elevated");

	/* ok stays ok */
	CHECK(!htm_stress_update(&st, &cfg, v, step + 100 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_OK);
	CHECK_EQ_U64(st.since_ns, step);
}

/* A reading over the exit threshold during the cooldown restarts it. */
static void test_spike_resets_calm(void)
{
	struct htm_stress st;
	uint64_t t;

	htm_stress_init(&st, T0);
	CHECK(htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 95), T0));
	for (t = T0 + SEC; t <= T0 + 6 * SEC; t += SEC)
		CHECK(!htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 10), t));
	CHECK_EQ_U64(st.calm_since_ns, T0 + SEC);

	/* 80: under critical's enter (90), over its exit (67.5) */
	CHECK(!htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 80), T0 + 7 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_CRITICAL);
	CHECK_EQ_U64(st.calm_since_ns, 0);

	for (t = T0 + 8 * SEC; t < T0 + 18 * SEC; t += SEC)
		CHECK(!htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 10), t));
	/* the old cooldown (from T0 + 1 s) would have ended at T0 + 11 s */
	CHECK_EQ_INT(st.level, HTM_STRESS_CRITICAL);
	CHECK_EQ_U64(st.calm_since_ns, T0 + 8 * SEC);
	CHECK(htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 10), T0 + 18 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_HIGH);

	/* a spike while calm at high: 50 >= 45 restarts that cooldown too */
	t = T0 + 18 * SEC;
	CHECK_EQ_U64(st.calm_since_ns, t);
	CHECK(!htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 50), t + 9 * SEC));
	CHECK_EQ_U64(st.calm_since_ns, 0);
	CHECK(!htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 10), t + 10 * SEC));
	CHECK(!htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 10), t + 19 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_HIGH);
	CHECK(htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 10), t + 20 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_ELEVATED);
}

/* Calm means below the exit threshold of the current level; a reading
 * that would only hold a lower level does not restart the cooldown. */
static void test_calm_is_relative_to_level(void)
{
	struct htm_stress st;

	htm_stress_init(&st, T0);
	CHECK(htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 95), T0));
	CHECK(!htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 10), T0 + SEC));
	/* 62 enters high (< critical), under critical's exit 67.5 */
	CHECK(!htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 62), T0 + 5 * SEC));
	CHECK_EQ_U64(st.calm_since_ns, T0 + SEC);
	CHECK(htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 62), T0 + 11 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_HIGH);
	CHECK_EQ_U64(st.calm_since_ns, 0);
}

/* Memory available: lower is worse; exit at enter / exit_ratio. */
static void test_memory_available(void)
{
	struct htm_stress st;
	const int M = HTM_SIG_MEMORY_AVAILABLE;
	int changes = 0;
	uint64_t t;

	htm_stress_init(&st, T0);
	CHECK(!htm_stress_update(&st, &cfg, one(M, 80), T0 + SEC));
	CHECK(!htm_stress_update(&st, &cfg, one(M, 21), T0 + 2 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_OK);
	CHECK(htm_stress_update(&st, &cfg, one(M, 12), T0 + 3 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_ELEVATED);
	CHECK_EQ_STR(st.reasons, "memory_available 12.0 <= 20 (elevated)");
	CHECK(htm_stress_update(&st, &cfg, one(M, 4), T0 + 4 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_CRITICAL);
	CHECK_EQ_STR(st.reasons, "memory_available 4.0 <= 5 (critical)");

	/* straight from ok to critical */
	htm_stress_init(&st, T0);
	CHECK(htm_stress_update(&st, &cfg, one(M, 4), T0 + SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_CRITICAL);
	CHECK(htm_stress_update(&st, &cfg, one(M, 9), T0 + SEC) == false);

	/* critical exits above 5 / 0.75 = 6.67: 6.5 holds for an hour */
	for (t = T0 + 2 * SEC; t <= T0 + 3600 * SEC; t += SEC)
		changes += htm_stress_update(&st, &cfg, one(M, 6.5), t);
	CHECK_EQ_INT(changes, 0);
	CHECK_EQ_INT(st.level, HTM_STRESS_CRITICAL);
	CHECK_EQ_STR(st.reasons, "memory_available 6.5 <= 6.66667 (holding critical)");
	/* 6.7 is calm for critical; high (exit 13.3) holds after the cooldown */
	CHECK(!htm_stress_update(&st, &cfg, one(M, 6.7), t));
	CHECK_EQ_U64(st.calm_since_ns, t);
	CHECK(!htm_stress_update(&st, &cfg, one(M, 6.7), t + 10 * SEC - 1));
	CHECK(htm_stress_update(&st, &cfg, one(M, 6.7), t + 10 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_HIGH);
	CHECK_EQ_U64(st.calm_since_ns, 0);

	/* elevated exits above 20 / 0.75 = 26.67 */
	htm_stress_init(&st, T0);
	CHECK(htm_stress_update(&st, &cfg, one(M, 15), T0 + SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_ELEVATED);
	changes = 0;
	for (t = T0 + 2 * SEC; t <= T0 + 3600 * SEC; t += SEC)
		changes += htm_stress_update(&st, &cfg, one(M, 26), t);
	CHECK_EQ_INT(changes, 0);
	CHECK_EQ_INT(st.level, HTM_STRESS_ELEVATED);
	CHECK_EQ_STR(st.reasons, "memory_available 26.0 <= 26.6667 (holding elevated)");
	CHECK(!htm_stress_update(&st, &cfg, one(M, 27), t));
	CHECK(htm_stress_update(&st, &cfg, one(M, 27), t + 10 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_OK);
	CHECK_EQ_STR(st.reasons, "calm for 10s after elevated");

	/* 0 % available is the worst, not "no reading" */
	htm_stress_init(&st, T0);
	CHECK(htm_stress_update(&st, &cfg, one(M, 0), T0 + SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_CRITICAL);
}

static void test_budget_breaches(void)
{
	struct htm_stress st;
	const int B = HTM_SIG_BUDGET_BREACHES;

	htm_stress_init(&st, T0);
	CHECK(!htm_stress_update(&st, &cfg, one(B, 0.5), T0 + SEC));
	CHECK(htm_stress_update(&st, &cfg, one(B, 1), T0 + 2 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_ELEVATED);
	CHECK_EQ_STR(st.reasons, "budget_breaches 1.0 >= 1 (elevated)");
	CHECK(htm_stress_update(&st, &cfg, one(B, 12), T0 + 3 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_HIGH);
	CHECK_EQ_STR(st.reasons, "budget_breaches 12.0 >= 10 (high)");
	CHECK(htm_stress_update(&st, &cfg, one(B, 50), T0 + 4 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_CRITICAL);
	CHECK_EQ_STR(st.reasons, "budget_breaches 50.0 >= 50 (critical)");

	/* exit of critical: 37.5 */
	CHECK(!htm_stress_update(&st, &cfg, one(B, 40), T0 + 5 * SEC));
	CHECK(!htm_stress_update(&st, &cfg, one(B, 40), T0 + 100 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_CRITICAL);
	CHECK_EQ_STR(st.reasons, "budget_breaches 40.0 >= 37.5 (holding critical)");
	CHECK(!htm_stress_update(&st, &cfg, one(B, 30), T0 + 101 * SEC));
	CHECK(htm_stress_update(&st, &cfg, one(B, 30), T0 + 111 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_HIGH);
	CHECK_EQ_STR(st.reasons, "budget_breaches 30.0 >= 7.5 (holding high)");
}

static void test_queue_backlog(void)
{
	struct htm_stress st;
	const int Q = HTM_SIG_QUEUE_BACKLOG;

	htm_stress_init(&st, T0);
	CHECK(!htm_stress_update(&st, &cfg, one(Q, 99), T0 + SEC));
	CHECK(htm_stress_update(&st, &cfg, one(Q, 1000), T0 + 2 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_HIGH);
	CHECK_EQ_STR(st.reasons, "queue_backlog 1000.0 >= 1000 (high)");

	/* exit of high: 750 holds, 749 is calm; elevated (exit 75) then holds */
	CHECK(!htm_stress_update(&st, &cfg, one(Q, 750), T0 + 3 * SEC));
	CHECK(!htm_stress_update(&st, &cfg, one(Q, 750), T0 + 60 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_HIGH);
	CHECK_EQ_U64(st.calm_since_ns, 0);
	CHECK(!htm_stress_update(&st, &cfg, one(Q, 749), T0 + 61 * SEC));
	CHECK(htm_stress_update(&st, &cfg, one(Q, 749), T0 + 71 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_ELEVATED);
	CHECK_EQ_STR(st.reasons, "queue_backlog 749.0 >= 75 (holding elevated)");

	CHECK(htm_stress_update(&st, &cfg, one(Q, 6000), T0 + 72 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_CRITICAL);
	CHECK_EQ_STR(st.reasons, "queue_backlog 6000.0 >= 5000 (critical)");
}

/* The level is the highest any signal reaches; reasons name those at it. */
static void test_several_signals(void)
{
	struct htm_stress st;
	double v[HTM_SIG_COUNT];

	quiet(v);
	v[HTM_SIG_CPU_SOME] = 35;	/* elevated */
	v[HTM_SIG_IO_SOME] = 65;	/* high */
	htm_stress_init(&st, T0);
	CHECK(htm_stress_update(&st, &cfg, v, T0 + SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_HIGH);
	CHECK_EQ_STR(st.reasons, "io_some 65.0 >= 60 (high)");

	quiet(v);
	v[HTM_SIG_CPU_SOME] = 95;
	v[HTM_SIG_MEMORY_SOME] = 12;	/* elevated only: not named */
	v[HTM_SIG_QUEUE_BACKLOG] = 6000;
	CHECK(htm_stress_update(&st, &cfg, v, T0 + 2 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_CRITICAL);
	CHECK_EQ_STR(st.reasons,
		     "cpu_some 95.0 >= 90 (critical); queue_backlog 6000.0 >= 5000 (critical)");

	/* every signal must be calm: cpu calm, the backlog still holds */
	quiet(v);
	v[HTM_SIG_QUEUE_BACKLOG] = 4000;	/* >= 3750 */
	CHECK(!htm_stress_update(&st, &cfg, v, T0 + 3 * SEC));
	CHECK(!htm_stress_update(&st, &cfg, v, T0 + 60 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_CRITICAL);
	CHECK_EQ_U64(st.calm_since_ns, 0);
	CHECK_EQ_STR(st.reasons, "queue_backlog 4000.0 >= 3750 (holding critical)");

	/* and a different signal holding while the first went calm */
	quiet(v);
	v[HTM_SIG_MEMORY_FULL] = 20;	/* critical exit 18.75 */
	CHECK(!htm_stress_update(&st, &cfg, v, T0 + 61 * SEC));
	CHECK(!htm_stress_update(&st, &cfg, v, T0 + 200 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_CRITICAL);
	CHECK_EQ_U64(st.calm_since_ns, 0);
}

/*
 * While a level holds, the reasons name that level. A reading between the
 * next level's exit and enter thresholds (cpu 70 at high: >= 67.5, < 90;
 * memory available 12 at elevated: <= 13.3, > 10) holds the current level,
 * not the one above it.
 */
static void test_holding_reason_names_current_level(void)
{
	struct htm_stress st;

	htm_stress_init(&st, T0);
	CHECK(htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 65), T0 + SEC));
	CHECK(!htm_stress_update(&st, &cfg, one(HTM_SIG_CPU_SOME, 70), T0 + 2 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_HIGH);
	CHECK_HAS_STR(st.reasons, "holding high");
	CHECK(strstr(st.reasons, "critical") == NULL);

	htm_stress_init(&st, T0);
	CHECK(htm_stress_update(&st, &cfg, one(HTM_SIG_MEMORY_AVAILABLE, 12), T0 + SEC));
	CHECK_EQ_STR(st.reasons, "memory_available 12.0 <= 20 (elevated)");
	/* the same reading a second later */
	CHECK(!htm_stress_update(&st, &cfg, one(HTM_SIG_MEMORY_AVAILABLE, 12), T0 + 2 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_ELEVATED);
	CHECK_HAS_STR(st.reasons, "holding elevated");
	CHECK(strstr(st.reasons, "high") == NULL);
}

/* Other configurations: no hysteresis, no cooldown. */
static void test_custom_config(void)
{
	struct htm_stress_config c = cfg;
	struct htm_stress st;
	char err[128];

	c.exit_ratio = 1.0;
	c.cooldown_ns = 0;
	CHECK_EQ_INT(htm_stress_config_check(&c, err, sizeof(err)), 0);
	htm_stress_init(&st, T0);
	CHECK(htm_stress_update(&st, &c, one(HTM_SIG_CPU_SOME, 95), T0 + SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_CRITICAL);
	/* 89 holds nothing at ratio 1; no cooldown: one level per reading */
	CHECK(htm_stress_update(&st, &c, one(HTM_SIG_CPU_SOME, 89), T0 + 2 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_HIGH);
	CHECK(!htm_stress_update(&st, &c, one(HTM_SIG_CPU_SOME, 89), T0 + 3 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_HIGH);
	CHECK(htm_stress_update(&st, &c, one(HTM_SIG_CPU_SOME, 0), T0 + 4 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_ELEVATED);
	CHECK(htm_stress_update(&st, &c, one(HTM_SIG_CPU_SOME, 0), T0 + 5 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_OK);
	CHECK_EQ_STR(st.reasons, "calm for 1s after elevated");

	/* a longer cooldown */
	c = cfg;
	c.cooldown_ns = 60 * SEC;
	htm_stress_init(&st, T0);
	CHECK(htm_stress_update(&st, &c, one(HTM_SIG_CPU_SOME, 35), T0 + SEC));
	CHECK(!htm_stress_update(&st, &c, one(HTM_SIG_CPU_SOME, 0), T0 + 2 * SEC));
	CHECK(!htm_stress_update(&st, &c, one(HTM_SIG_CPU_SOME, 0), T0 + 61 * SEC));
	CHECK(htm_stress_update(&st, &c, one(HTM_SIG_CPU_SOME, 0), T0 + 62 * SEC));
	CHECK_EQ_INT(st.level, HTM_STRESS_OK);
	CHECK_EQ_STR(st.reasons, "calm for 60s after elevated");
}

static void test_config_check(void)
{
	struct htm_stress_config c;
	char err[128];

	/* normal signals: strictly increasing */
	c = cfg;
	c.enter[HTM_SIG_CPU_SOME][1] = 30;
	err[0] = 0;
	CHECK_EQ_INT(htm_stress_config_check(&c, err, sizeof(err)), -EINVAL);
	CHECK_EQ_STR(err, "$.stress.cpu_some: thresholds must be strictly increasing");

	c = cfg;
	c.enter[HTM_SIG_IO_SOME][0] = 70;	/* 70, 60, 90 */
	err[0] = 0;
	CHECK_EQ_INT(htm_stress_config_check(&c, err, sizeof(err)), -EINVAL);
	CHECK_EQ_STR(err, "$.stress.io_some: thresholds must be strictly increasing");

	c = cfg;
	c.enter[HTM_SIG_QUEUE_BACKLOG][2] = 1000;	/* 100, 1000, 1000 */
	CHECK_EQ_INT(htm_stress_config_check(&c, err, sizeof(err)), -EINVAL);
	CHECK_EQ_STR(err, "$.stress.queue_backlog: thresholds must be strictly increasing");

	/* normal signal given decreasing thresholds */
	c = cfg;
	c.enter[HTM_SIG_BUDGET_BREACHES][0] = 50;
	c.enter[HTM_SIG_BUDGET_BREACHES][2] = 1;
	CHECK_EQ_INT(htm_stress_config_check(&c, err, sizeof(err)), -EINVAL);
	CHECK_EQ_STR(err, "$.stress.budget_breaches: thresholds must be strictly increasing");

	/* lower is worse: strictly decreasing */
	c = cfg;
	c.enter[HTM_SIG_MEMORY_AVAILABLE][0] = 5;
	c.enter[HTM_SIG_MEMORY_AVAILABLE][1] = 10;
	c.enter[HTM_SIG_MEMORY_AVAILABLE][2] = 20;
	err[0] = 0;
	CHECK_EQ_INT(htm_stress_config_check(&c, err, sizeof(err)), -EINVAL);
	CHECK_EQ_STR(err, "$.stress.memory_available: thresholds must be strictly decreasing");

	c = cfg;
	c.enter[HTM_SIG_MEMORY_AVAILABLE][1] = 20;	/* 20, 20, 5 */
	CHECK_EQ_INT(htm_stress_config_check(&c, err, sizeof(err)), -EINVAL);
	CHECK_EQ_STR(err, "$.stress.memory_available: thresholds must be strictly decreasing");

	c = cfg;
	c.enter[HTM_SIG_MEMORY_AVAILABLE][2] = 15;	/* 20, 10, 15 */
	CHECK_EQ_INT(htm_stress_config_check(&c, err, sizeof(err)), -EINVAL);

	/* exit ratio in (0, 1] */
	c = cfg;
	c.exit_ratio = 0;
	err[0] = 0;
	CHECK_EQ_INT(htm_stress_config_check(&c, err, sizeof(err)), -EINVAL);
	CHECK_EQ_STR(err, "$.stress.exit_ratio: must be in (0, 1]");
	c.exit_ratio = -0.5;
	CHECK_EQ_INT(htm_stress_config_check(&c, err, sizeof(err)), -EINVAL);
	c.exit_ratio = 1.0001;
	err[0] = 0;
	CHECK_EQ_INT(htm_stress_config_check(&c, err, sizeof(err)), -EINVAL);
	CHECK_EQ_STR(err, "$.stress.exit_ratio: must be in (0, 1]");
	c.exit_ratio = 2;
	CHECK_EQ_INT(htm_stress_config_check(&c, err, sizeof(err)), -EINVAL);
	c.exit_ratio = 1.0;
	CHECK_EQ_INT(htm_stress_config_check(&c, err, sizeof(err)), 0);
	c.exit_ratio = 0.01;
	CHECK_EQ_INT(htm_stress_config_check(&c, err, sizeof(err)), 0);

	/* a short error buffer truncates, still terminated */
	c = cfg;
	c.enter[HTM_SIG_CPU_SOME][2] = 10;
	memset(err, 'x', sizeof(err));
	CHECK_EQ_INT(htm_stress_config_check(&c, err, 10), -EINVAL);
	CHECK_EQ_STR(err, "$.stress.");
	CHECK_EQ_INT(err[10], 'x');

	/* the defaults pass */
	htm_stress_config_defaults(&c);
	CHECK_EQ_INT(htm_stress_config_check(&c, err, sizeof(err)), 0);
}

int main(void)
{
	htm_stress_config_defaults(&cfg);
	test_names();
	test_defaults();
	test_init();
	test_all_quiet();
	test_threshold_inclusive();
	test_up_at_once();
	test_hold_between_exit_and_enter();
	test_cooldown();
	test_one_level_per_cooldown();
	test_spike_resets_calm();
	test_calm_is_relative_to_level();
	test_memory_available();
	test_budget_breaches();
	test_queue_backlog();
	test_several_signals();
	test_holding_reason_names_current_level();
	test_custom_config();
	test_config_check();
	return check_report();
}
