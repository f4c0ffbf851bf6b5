// SPDX-License-Identifier: MIT
/*
 * Admission with origin fair share, under a virtual clock: shares of the
 * run slots, the burst cap per minute, the starvation window, and that
 * priority and admission still come first.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/fairshare.h"
#include "core/queue.h"
#include "core/task.h"

#include "check.h"

#define SEC 1000000000ull
#define MS 1000000ull
#define T0 (5000 * SEC)	/* a multiple of the 10 s burst bucket */

static const bool all_admitted[HTM_PRIO_COUNT] = { true, true, true, true };

/* every task made here, freed at the end */
static struct htm_task *made[100000];
static size_t nmade;
static uint64_t next_id = 1;

static struct htm_task *mk(enum htm_origin o, enum htm_priority p, uint64_t submitted)
{
	struct htm_task *t = htm_task_new(next_id++);

	if (!t || nmade == sizeof(made) / sizeof(made[0])) {
		perror("htm_task_new");
		exit(2);
	}
	t->origin = o;
	t->priority = p;
	t->submitted_mono = submitted;
	made[nmade++] = t;
	return t;
}

static struct htm_task *enq(struct htm_queue *q, enum htm_origin o, enum htm_priority p,
			    uint64_t submitted)
{
	struct htm_task *t = mk(o, p, submitted);

	htm_queue_push(q, t);
	return t;
}

static void free_all(void)
{
	for (size_t i = 0; i < nmade; i++)
		htm_task_free(made[i]);
	nmade = 0;
}

/* Pick, take off the queue, account the start. NULL when nothing. */
static struct htm_task *admit_one(struct htm_queue *q, struct htm_fairshare *fs,
				  const struct htm_fairshare_config *c, uint64_t now,
				  bool *starving)
{
	bool s;
	struct htm_task *t = htm_fair_pick(q, fs, c, all_admitted, now, &s);

	if (t) {
		htm_queue_remove(q, t);
		htm_fair_started(fs, t->origin, s, now);
	}
	if (starving)
		*starving = s;
	return t;
}

/* Shares only: no burst cap, no starvation in reach. */
static void config_plain(struct htm_fairshare_config *c)
{
	htm_fairshare_config_defaults(c);
	for (int o = 0; o < HTM_ORIGIN_COUNT; o++)
		c->burst_per_min[o] = 0;
	c->starvation_ns = 1000000 * SEC;
}

static void test_defaults(void)
{
	static const double want[HTM_ORIGIN_COUNT] = {
		0.30, 0.25, 0.15, 0.10, 0.10, 0.05, 0.03, 0.02,
	};
	struct htm_fairshare_config c;
	double sum = 0;

	memset(&c, 0xa5, sizeof(c));
	htm_fairshare_config_defaults(&c);
	for (int o = 0; o < HTM_ORIGIN_COUNT; o++) {
		CHECK_EQ_DBL(c.share[o], want[o], 1e-12);
		CHECK_EQ_INT(c.burst_per_min[o], 600);
		sum += c.share[o];
	}
	CHECK_EQ_DBL(sum, 1.0, 1e-9);
	CHECK_EQ_U64(c.starvation_ns, 30 * SEC);
	/* the order is the origin enum's */
	CHECK_EQ_STR(htm_origin_names[HTM_ORIGIN_USER_REQUEST], "user_request");
	CHECK_EQ_STR(htm_origin_names[HTM_ORIGIN_INTERNAL], "internal");
}

static void test_empty(void)
{
	struct htm_fairshare_config c;
	struct htm_fairshare fs;
	struct htm_queue q;
	bool admit[HTM_PRIO_COUNT] = { true, true, false, false };
	bool starving = true;

	htm_fairshare_config_defaults(&c);
	htm_fairshare_init(&fs, T0);
	htm_queue_init(&q);
	CHECK(htm_fair_pick(&q, &fs, &c, all_admitted, T0, &starving) == NULL);
	CHECK(!starving);

	/* work that may not start now is not picked, even starved */
	enq(&q, HTM_ORIGIN_SCHEDULER, HTM_PRIO_NORMAL, T0);
	enq(&q, HTM_ORIGIN_INTENT, HTM_PRIO_LOW, T0);
	starving = true;
	CHECK(htm_fair_pick(&q, &fs, &c, admit, T0 + 3600 * SEC, &starving) == NULL);
	CHECK(!starving);
	/* once admitted, the oldest of them */
	admit[HTM_PRIO_LOW] = true;
	{
		struct htm_task *t = htm_fair_pick(&q, &fs, &c, admit, T0 + SEC, &starving);

		CHECK(t != NULL);
		if (t)
			CHECK_EQ_INT(t->origin, HTM_ORIGIN_INTENT);
	}
	/* a pick does not take it off the queue */
	CHECK_EQ_INT(htm_queue_len(&q), 2);
	free_all();
}

/*
 * Priority first: a critical task of a busy origin beats normal work of
 * an idle one; empty origins and classes are skipped.
 */
static void test_priority_first(void)
{
	struct htm_fairshare_config c;
	struct htm_fairshare fs;
	struct htm_queue q;
	struct htm_task *crit, *n1, *h, *got;
	bool admit[HTM_PRIO_COUNT] = { true, true, true, true };
	bool starving;

	config_plain(&c);
	htm_fairshare_init(&fs, T0);
	htm_queue_init(&q);
	/* user_request already runs 30 tasks: far over its share */
	for (int i = 0; i < 30; i++)
		htm_fair_started(&fs, HTM_ORIGIN_USER_REQUEST, false, T0);
	n1 = enq(&q, HTM_ORIGIN_SCHEDULER, HTM_PRIO_NORMAL, T0);
	h = enq(&q, HTM_ORIGIN_REMEDIATION, HTM_PRIO_HIGH, T0 + 1);
	crit = enq(&q, HTM_ORIGIN_USER_REQUEST, HTM_PRIO_CRITICAL, T0 + 2);

	got = htm_fair_pick(&q, &fs, &c, admit, T0 + SEC, &starving);
	CHECK_EQ_PTR(got, crit);
	CHECK(!starving);
	/* critical not admitted (it always is; the pick honours admit anyway) */
	admit[HTM_PRIO_CRITICAL] = false;
	CHECK_EQ_PTR(htm_fair_pick(&q, &fs, &c, admit, T0 + SEC, &starving), h);
	admit[HTM_PRIO_HIGH] = false;
	CHECK_EQ_PTR(htm_fair_pick(&q, &fs, &c, admit, T0 + SEC, &starving), n1);
	admit[HTM_PRIO_NORMAL] = false;
	CHECK(htm_fair_pick(&q, &fs, &c, admit, T0 + SEC, &starving) == NULL);
	free_all();
}

/*
 * 100 slots, every origin flooded: the slots end up exactly in the
 * configured shares, whatever the arrival order.
 */
static void test_shares_fill(void)
{
	static const uint32_t want[HTM_ORIGIN_COUNT] = { 30, 25, 15, 10, 10, 5, 3, 2 };
	struct htm_fairshare_config c;
	struct htm_fairshare fs;
	struct htm_queue q;
	uint64_t now = T0;

	config_plain(&c);
	htm_fairshare_init(&fs, T0);
	htm_queue_init(&q);
	/* arrival order favours the small origins: internal's work is oldest */
	for (int i = 0; i < 150; i++)
		for (int o = HTM_ORIGIN_COUNT - 1; o >= 0; o--)
			enq(&q, (enum htm_origin)o, HTM_PRIO_NORMAL, now++);
	for (int i = 0; i < 100; i++)
		CHECK(admit_one(&q, &fs, &c, now, NULL) != NULL);
	for (int o = 0; o < HTM_ORIGIN_COUNT; o++) {
		CHECK_EQ_INT(fs.o[o].running, want[o]);
		CHECK_EQ_U64(fs.o[o].started, want[o]);
		CHECK_EQ_U64(fs.o[o].starved, 0);
		CHECK_EQ_INT(q.origin_len[o], 150 - want[o]);
	}
	free_all();
}

/*
 * Steady state over many picks: 100 slots, every origin flooded, the
 * longest-running task finishes and a slot is handed out, 20,000 times.
 * Starts per origin follow the shares.
 */
static void test_shares_steady(void)
{
	enum { SLOTS = 100, ROUNDS = 20000 };
	static struct htm_task *ring[SLOTS];
	struct htm_fairshare_config c;
	struct htm_fairshare fs;
	struct htm_queue q;
	uint64_t now = T0, started0[HTM_ORIGIN_COUNT];
	size_t head = 0;

	config_plain(&c);
	htm_fairshare_init(&fs, T0);
	htm_queue_init(&q);
	/* enough for user_request's 30 % of every start */
	for (int i = 0; i < 7000; i++)
		for (int o = 0; o < HTM_ORIGIN_COUNT; o++)
			enq(&q, (enum htm_origin)o, HTM_PRIO_NORMAL, now);
	for (int i = 0; i < SLOTS; i++)
		ring[i] = admit_one(&q, &fs, &c, now, NULL);
	for (int o = 0; o < HTM_ORIGIN_COUNT; o++)
		started0[o] = fs.o[o].started;
	for (int r = 0; r < ROUNDS; r++) {
		struct htm_task *t;

		now += 10 * MS;
		htm_fair_finished(&fs, ring[head]->origin, now);
		t = admit_one(&q, &fs, &c, now, NULL);
		if (!t) {
			CHECK(t != NULL);
			break;
		}
		ring[head] = t;
		head = (head + 1) % SLOTS;
	}
	for (int o = 0; o < HTM_ORIGIN_COUNT; o++) {
		double got = (double)(fs.o[o].started - started0[o]) / ROUNDS;

		/* within 0.2 % of the share (absolute), and no origin beyond
		 * its slots at the end */
		CHECK_EQ_DBL(got, c.share[o], 0.002);
		CHECK((double)fs.o[o].running <= c.share[o] * SLOTS + 1);
		CHECK_EQ_DBL(htm_fair_utilization(&fs, (enum htm_origin)o, SLOTS, now),
			     c.share[o], 0.02);
	}
	free_all();
}

/* Alone, an origin may use every slot, however small its share. */
static void test_work_conserving(void)
{
	struct htm_fairshare_config c;
	struct htm_fairshare fs;
	struct htm_queue q;

	config_plain(&c);
	htm_fairshare_init(&fs, T0);
	htm_queue_init(&q);
	for (int i = 0; i < 50; i++)
		enq(&q, HTM_ORIGIN_INTERNAL, HTM_PRIO_LOW, T0);
	for (int i = 0; i < 50; i++) {
		struct htm_task *t = admit_one(&q, &fs, &c, T0 + SEC, NULL);

		CHECK(t && t->origin == HTM_ORIGIN_INTERNAL);
	}
	CHECK_EQ_INT(fs.o[HTM_ORIGIN_INTERNAL].running, 50);
	CHECK_EQ_INT(htm_queue_len(&q), 0);
	free_all();
}

/* Equal load: the oldest task wins, across origins. */
static void test_ties_oldest(void)
{
	struct htm_fairshare_config c;
	struct htm_fairshare fs;
	struct htm_queue q;
	struct htm_task *a, *b, *d;
	bool s;

	config_plain(&c);
	c.share[HTM_ORIGIN_INTENT] = c.share[HTM_ORIGIN_SCHEDULER] =
		c.share[HTM_ORIGIN_HUNTER_ALERT] = 0.2;
	htm_fairshare_init(&fs, T0);
	htm_queue_init(&q);
	b = enq(&q, HTM_ORIGIN_SCHEDULER, HTM_PRIO_HIGH, T0);
	a = enq(&q, HTM_ORIGIN_INTENT, HTM_PRIO_HIGH, T0);
	d = enq(&q, HTM_ORIGIN_HUNTER_ALERT, HTM_PRIO_HIGH, T0);
	CHECK_EQ_PTR(htm_fair_pick(&q, &fs, &c, all_admitted, T0, &s), b);
	/* one running for scheduler: the others are below their share now */
	htm_fair_started(&fs, HTM_ORIGIN_SCHEDULER, false, T0);
	CHECK_EQ_PTR(htm_fair_pick(&q, &fs, &c, all_admitted, T0, &s), a);
	htm_fair_started(&fs, HTM_ORIGIN_INTENT, false, T0);
	CHECK_EQ_PTR(htm_fair_pick(&q, &fs, &c, all_admitted, T0, &s), d);
	/* finished: scheduler is below again, and its task is the oldest */
	htm_fair_finished(&fs, HTM_ORIGIN_SCHEDULER, T0 + SEC);
	htm_fair_finished(&fs, HTM_ORIGIN_INTENT, T0 + SEC);
	CHECK_EQ_PTR(htm_fair_pick(&q, &fs, &c, all_admitted, T0 + SEC, &s), b);
	/* finished more often than started: running stays at 0 */
	htm_fair_finished(&fs, HTM_ORIGIN_SCHEDULER, T0 + SEC);
	CHECK_EQ_INT(fs.o[HTM_ORIGIN_SCHEDULER].running, 0);
	free_all();
}

/*
 * Burst cap: an origin that used its starts for the last minute waits
 * while others have work, and goes again once its starts age out.
 */
static void test_burst(void)
{
	struct htm_fairshare_config c;
	struct htm_fairshare fs;
	struct htm_queue q;
	struct htm_task *t;
	const enum htm_origin A = HTM_ORIGIN_EXTERNAL_API, B = HTM_ORIGIN_SCHEDULER;
	uint64_t now = T0;

	config_plain(&c);
	c.share[A] = c.share[B] = 0.5;
	c.burst_per_min[A] = 3;
	htm_fairshare_init(&fs, T0);
	htm_queue_init(&q);
	/* A's work is older: without the cap A would take every slot */
	for (int i = 0; i < 10; i++)
		enq(&q, A, HTM_PRIO_NORMAL, now++);
	for (int i = 0; i < 4; i++)
		enq(&q, B, HTM_PRIO_NORMAL, now++);

	/* each start finishes at once, so the load stays equal: oldest wins */
	for (int i = 0; i < 3; i++) {
		t = admit_one(&q, &fs, &c, now, NULL);
		CHECK(t && t->origin == A);
		if (t)
			htm_fair_finished(&fs, t->origin, now);
	}
	CHECK_EQ_U64(htm_fair_recent_starts(&fs, A, now), 3);
	/* A is at its cap: B gets the next four though A's work is older */
	for (int i = 0; i < 4; i++) {
		now += SEC;
		t = admit_one(&q, &fs, &c, now, NULL);
		CHECK(t && t->origin == B);
		if (t)
			htm_fair_finished(&fs, t->origin, now);
	}
	CHECK_EQ_U64(htm_fair_recent_starts(&fs, B, now), 4);
	CHECK_EQ_U64(htm_fair_recent_starts(&fs, A, now), 3);
	/* nobody else waits: A goes over its cap rather than idle a slot */
	t = admit_one(&q, &fs, &c, now, NULL);
	CHECK(t && t->origin == A);
	if (t)
		htm_fair_finished(&fs, t->origin, now);
	CHECK_EQ_U64(htm_fair_recent_starts(&fs, A, now), 4);

	/* B has work again: A, over its cap, waits */
	enq(&q, B, HTM_PRIO_NORMAL, now);
	t = htm_fair_pick(&q, &fs, &c, all_admitted, T0 + 59 * SEC, &(bool){ 0 });
	CHECK(t && t->origin == B);
	/* a minute after A's starts (all in the 10 s bucket from T0) they no
	 * longer count: the oldest work, A's, goes first again */
	CHECK_EQ_U64(htm_fair_recent_starts(&fs, A, T0 + 60 * SEC - 1), 3 + 1);
	CHECK_EQ_U64(htm_fair_recent_starts(&fs, A, T0 + 60 * SEC), 0);
	t = htm_fair_pick(&q, &fs, &c, all_admitted, T0 + 60 * SEC, &(bool){ 0 });
	CHECK(t && t->origin == A);
	free_all();
}

/* The burst window is a minute in 10 s steps; old buckets are reused. */
static void test_burst_window(void)
{
	struct htm_fairshare fs;
	const enum htm_origin o = HTM_ORIGIN_INTENT;

	htm_fairshare_init(&fs, 0);
	/* from a virtual clock at 0 */
	htm_fair_started(&fs, o, false, 0);
	htm_fair_started(&fs, o, false, 5 * SEC);
	htm_fair_started(&fs, o, false, 30 * SEC);
	CHECK_EQ_U64(htm_fair_recent_starts(&fs, o, 30 * SEC), 3);
	CHECK_EQ_U64(htm_fair_recent_starts(&fs, o, 60 * SEC - 1), 3);
	CHECK_EQ_U64(htm_fair_recent_starts(&fs, o, 60 * SEC), 1);
	/* the bucket of 0..10 s is reused at 60 s: counts start over */
	htm_fair_started(&fs, o, false, 61 * SEC);
	CHECK_EQ_U64(htm_fair_recent_starts(&fs, o, 61 * SEC), 2);
	CHECK_EQ_U64(htm_fair_recent_starts(&fs, o, 89 * SEC), 2);
	CHECK_EQ_U64(htm_fair_recent_starts(&fs, o, 90 * SEC), 1);
	CHECK_EQ_U64(htm_fair_recent_starts(&fs, o, 120 * SEC), 0);
	/* only this origin */
	CHECK_EQ_U64(htm_fair_recent_starts(&fs, HTM_ORIGIN_SCHEDULER, 61 * SEC), 0);
	CHECK_EQ_U64(fs.o[o].started, 4);

	/* 600 starts in one minute, counted in full */
	htm_fairshare_init(&fs, T0);
	for (int i = 0; i < 600; i++)
		htm_fair_started(&fs, o, false, T0 + (uint64_t)i * 99 * MS);
	CHECK_EQ_U64(htm_fair_recent_starts(&fs, o, T0 + 59400 * MS), 600);
}

/*
 * Anti-starvation: an origin with no share keeps losing to a flood until
 * its oldest task has waited a whole window without the origin getting a
 * slot; then it gets the next one, marked starving.
 */
static void test_starvation(void)
{
	struct htm_fairshare_config c;
	struct htm_fairshare fs;
	struct htm_queue q;
	struct htm_task *t, *victim;
	const enum htm_origin A = HTM_ORIGIN_USER_REQUEST, B = HTM_ORIGIN_FILESYSTEM_TRIGGER;
	bool starving;
	uint64_t now;

	htm_fairshare_config_defaults(&c);
	memset(c.share, 0, sizeof(c.share));
	c.share[A] = 1.0;
	for (int o = 0; o < HTM_ORIGIN_COUNT; o++)
		c.burst_per_min[o] = 0;
	c.starvation_ns = 30 * SEC;
	htm_fairshare_init(&fs, T0);
	htm_queue_init(&q);
	victim = enq(&q, B, HTM_PRIO_NORMAL, T0);
	for (int i = 0; i < 100; i++)
		enq(&q, A, HTM_PRIO_NORMAL, T0 + 1);

	/* within the window the flood wins every time */
	for (now = T0 + SEC; now < T0 + 30 * SEC; now += SEC) {
		t = admit_one(&q, &fs, &c, now, &starving);
		CHECK(t && t->origin == A);
		CHECK(!starving);
		if (t)
			htm_fair_finished(&fs, A, now);
	}
	t = htm_fair_pick(&q, &fs, &c, all_admitted, T0 + 30 * SEC - 1, &starving);
	CHECK(t && t->origin == A);
	CHECK(!starving);
	/* a whole window: B gets the next slot */
	t = admit_one(&q, &fs, &c, T0 + 30 * SEC, &starving);
	CHECK_EQ_PTR(t, victim);
	CHECK(starving);
	CHECK_EQ_U64(fs.o[B].starved, 1);
	CHECK_EQ_U64(fs.o[B].started, 1);
	CHECK_EQ_U64(fs.o[B].last_start_ns, T0 + 30 * SEC);
	CHECK_EQ_U64(fs.o[A].starved, 0);

	/* B has old work again, but it was served within the window */
	victim = enq(&q, B, HTM_PRIO_NORMAL, T0);
	t = admit_one(&q, &fs, &c, T0 + 45 * SEC, &starving);
	CHECK(t && t->origin == A);
	CHECK(!starving);
	t = admit_one(&q, &fs, &c, T0 + 59 * SEC, &starving);
	CHECK(t && t->origin == A);
	CHECK(!starving);
	/* a window after its last slot: again */
	t = admit_one(&q, &fs, &c, T0 + 60 * SEC, &starving);
	CHECK_EQ_PTR(t, victim);
	CHECK(starving);
	CHECK_EQ_U64(fs.o[B].starved, 2);

	/* a new task of an origin unserved for long is not starving yet: its
	 * task has to have waited the window too */
	victim = enq(&q, B, HTM_PRIO_NORMAL, T0 + 200 * SEC);
	/* (the flood's own origin went a window without a slot meanwhile:
	 * its next start counts as starving too) */
	t = admit_one(&q, &fs, &c, T0 + 220 * SEC, &starving);
	CHECK(t && t->origin == A);
	CHECK(starving);
	CHECK_EQ_U64(fs.o[A].starved, 1);
	t = admit_one(&q, &fs, &c, T0 + 229 * SEC, &starving);
	CHECK(t && t->origin == A);
	CHECK(!starving);
	t = admit_one(&q, &fs, &c, T0 + 230 * SEC, &starving);
	CHECK_EQ_PTR(t, victim);
	CHECK(starving);
	free_all();
}

/* Several starved origins: the one with the oldest task first; starved
 * work that may not start now is left alone. */
static void test_starvation_order(void)
{
	struct htm_fairshare_config c;
	struct htm_fairshare fs;
	struct htm_queue q;
	struct htm_task *x, *y, *z, *t;
	bool admit[HTM_PRIO_COUNT] = { true, true, true, false };
	bool starving;

	htm_fairshare_config_defaults(&c);
	htm_fairshare_init(&fs, T0);
	htm_queue_init(&q);
	/* remediation and internal have tiny shares; user_request floods */
	z = enq(&q, HTM_ORIGIN_INTERNAL, HTM_PRIO_LOW, T0);	/* oldest, low */
	y = enq(&q, HTM_ORIGIN_REMEDIATION, HTM_PRIO_NORMAL, T0 + SEC);
	x = enq(&q, HTM_ORIGIN_INTERNAL, HTM_PRIO_NORMAL, T0 + 2 * SEC);
	for (int i = 0; i < 10; i++)
		enq(&q, HTM_ORIGIN_USER_REQUEST, HTM_PRIO_HIGH, T0 + 3 * SEC);
	for (int o = 0; o < HTM_ORIGIN_COUNT; o++)
		if (o != HTM_ORIGIN_USER_REQUEST)
			for (int i = 0; i < 3; i++)
				htm_fair_started(&fs, (enum htm_origin)o, false, T0);

	/* before the window: high work first, priority rules */
	t = htm_fair_pick(&q, &fs, &c, admit, T0 + 10 * SEC, &starving);
	CHECK(t && t->origin == HTM_ORIGIN_USER_REQUEST && t->priority == HTM_PRIO_HIGH);
	CHECK(!starving);
	/* a window later, both are starved; low is not admitted, so
	 * internal's oldest admissible task is x, younger than y */
	t = htm_fair_pick(&q, &fs, &c, admit, T0 + 40 * SEC, &starving);
	CHECK_EQ_PTR(t, y);
	CHECK(starving);
	htm_queue_remove(&q, y);
	htm_fair_started(&fs, y->origin, starving, T0 + 40 * SEC);
	t = htm_fair_pick(&q, &fs, &c, admit, T0 + 40 * SEC, &starving);
	CHECK_EQ_PTR(t, x);
	CHECK(starving);
	/* x goes (cancelled, say): with low admitted, z, the oldest of all,
	 * is internal's head now */
	htm_queue_remove(&q, x);
	t = htm_fair_pick(&q, &fs, &c, admit, T0 + 40 * SEC, &starving);
	CHECK(t && t->origin == HTM_ORIGIN_USER_REQUEST);
	admit[HTM_PRIO_LOW] = true;
	t = htm_fair_pick(&q, &fs, &c, admit, T0 + 40 * SEC, &starving);
	CHECK_EQ_PTR(t, z);
	CHECK(starving);
	free_all();
}

/* Utilization: slot time used over slot time available since init. */
static void test_utilization(void)
{
	struct htm_fairshare fs;
	const enum htm_origin A = HTM_ORIGIN_INTENT, B = HTM_ORIGIN_SCHEDULER;

	/* a virtual clock starting at 0, as the simulator's */
	htm_fairshare_init(&fs, 0);
	htm_fair_started(&fs, A, false, 0);
	htm_fair_started(&fs, B, false, 0);
	htm_fair_started(&fs, B, false, 5 * SEC);
	CHECK_EQ_DBL(htm_fair_utilization(&fs, A, 1, 10 * SEC), 1.0, 1e-9);
	htm_fair_finished(&fs, A, 10 * SEC);
	htm_fair_finished(&fs, B, 10 * SEC);
	/* A: 10 s of one slot over 20 s of two slots */
	CHECK_EQ_DBL(htm_fair_utilization(&fs, A, 2, 20 * SEC), 0.25, 1e-9);
	/* B: 10 s + 15 s (one still running) over 2 x 20 s */
	CHECK_EQ_DBL(htm_fair_utilization(&fs, B, 2, 20 * SEC), 25.0 / 40, 1e-9);
	CHECK_EQ_DBL(htm_fair_utilization(&fs, HTM_ORIGIN_INTERNAL, 2, 20 * SEC), 0, 1e-12);
	/* no time, no slots: 0, not a division by zero */
	CHECK_EQ_DBL(htm_fair_utilization(&fs, A, 2, 0), 0, 1e-12);
	CHECK_EQ_DBL(htm_fair_utilization(&fs, A, 0, 20 * SEC), 0, 1e-12);

	/* and from a running machine's clock */
	htm_fairshare_init(&fs, T0);
	htm_fair_started(&fs, A, false, T0 + 10 * SEC);
	htm_fair_finished(&fs, A, T0 + 40 * SEC);
	CHECK_EQ_DBL(htm_fair_utilization(&fs, A, 1, T0 + 60 * SEC), 0.5, 1e-9);
}

int main(void)
{
	test_defaults();
	test_empty();
	test_priority_first();
	test_shares_fill();
	test_shares_steady();
	test_work_conserving();
	test_ties_oldest();
	test_burst();
	test_burst_window();
	test_starvation();
	test_starvation_order();
	test_utilization();
	return check_report();
}
