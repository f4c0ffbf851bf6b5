// SPDX-License-Identifier: MIT
/* The run queue: strict priority between classes, FIFO within a class. */
#include <stdint.h>
#include <stdlib.h>

#include "core/queue.h"
#include "core/task.h"

#include "check.h"

static struct htm_task *mk(uint64_t id, enum htm_priority p)
{
	struct htm_task *t = htm_task_new(id);

	if (!t) {
		perror("htm_task_new");
		exit(2);
	}
	t->priority = p;
	return t;
}

static void test_empty(void)
{
	struct htm_queue q;

	htm_queue_init(&q);
	CHECK_EQ_INT(htm_queue_len(&q), 0);
	CHECK(htm_queue_peek(&q) == NULL);
	CHECK(htm_queue_pop(&q) == NULL);
	/* popping an empty queue changes nothing */
	CHECK_EQ_INT(htm_queue_len(&q), 0);
	for (int p = 0; p < HTM_PRIO_COUNT; p++)
		CHECK_EQ_INT(q.len[p], 0);
}

/* Pushed low first, critical last: pops come out strictly by class. */
static void test_strict_priority(void)
{
	struct htm_queue q;
	struct htm_task *t[HTM_PRIO_COUNT], *got;

	htm_queue_init(&q);
	for (int i = 0; i < HTM_PRIO_COUNT; i++)
		t[i] = mk((uint64_t)i + 1, (enum htm_priority)(HTM_PRIO_LOW - i));
	for (int i = 0; i < HTM_PRIO_COUNT; i++)
		htm_queue_push(&q, t[i]);
	CHECK_EQ_INT(htm_queue_len(&q), 4);
	for (int p = 0; p < HTM_PRIO_COUNT; p++)
		CHECK_EQ_INT(q.len[p], 1);

	/* t[3] is critical even though it came last */
	CHECK_EQ_PTR(htm_queue_peek(&q), t[3]);
	/* peek does not consume */
	CHECK_EQ_PTR(htm_queue_peek(&q), t[3]);
	CHECK_EQ_INT(htm_queue_len(&q), 4);

	for (int p = HTM_PRIO_CRITICAL; p < HTM_PRIO_COUNT; p++) {
		got = htm_queue_pop(&q);
		CHECK(got != NULL);
		if (got)
			CHECK_EQ_INT(got->priority, p);
		CHECK_EQ_INT(htm_queue_len(&q), (size_t)(HTM_PRIO_COUNT - 1 - p));
	}
	CHECK(htm_queue_pop(&q) == NULL);
	for (int i = 0; i < HTM_PRIO_COUNT; i++)
		htm_task_free(t[i]);
}

/* A later higher-priority push overtakes waiting lower-priority work. */
static void test_overtake(void)
{
	struct htm_queue q;
	struct htm_task *n1 = mk(1, HTM_PRIO_NORMAL), *n2 = mk(2, HTM_PRIO_NORMAL);
	struct htm_task *h = mk(3, HTM_PRIO_HIGH), *c = mk(4, HTM_PRIO_CRITICAL);

	htm_queue_init(&q);
	htm_queue_push(&q, n1);
	CHECK_EQ_PTR(htm_queue_peek(&q), n1);
	htm_queue_push(&q, n2);
	CHECK_EQ_PTR(htm_queue_peek(&q), n1);
	htm_queue_push(&q, h);
	CHECK_EQ_PTR(htm_queue_peek(&q), h);
	CHECK_EQ_PTR(htm_queue_pop(&q), h);
	CHECK_EQ_PTR(htm_queue_pop(&q), n1);
	htm_queue_push(&q, c);
	CHECK_EQ_PTR(htm_queue_pop(&q), c);
	CHECK_EQ_PTR(htm_queue_pop(&q), n2);
	CHECK(htm_queue_pop(&q) == NULL);
	htm_task_free(n1);
	htm_task_free(n2);
	htm_task_free(h);
	htm_task_free(c);
}

/* Interleaved pushes to two classes keep each class in arrival order. */
static void test_fifo_interleaved(void)
{
	enum { N = 12 };
	struct htm_queue q;
	struct htm_task *t[N], *got;
	uint64_t want_high[] = { 1, 3, 5, 7, 9, 11 };
	uint64_t want_low[] = { 2, 4, 6, 8, 10, 12 };

	htm_queue_init(&q);
	for (int i = 0; i < N; i++) {
		/* odd ids high, even ids low, pushed alternately */
		t[i] = mk((uint64_t)i + 1, i % 2 ? HTM_PRIO_LOW : HTM_PRIO_HIGH);
		htm_queue_push(&q, t[i]);
	}
	CHECK_EQ_INT(htm_queue_len(&q), N);
	CHECK_EQ_INT(q.len[HTM_PRIO_HIGH], N / 2);
	CHECK_EQ_INT(q.len[HTM_PRIO_LOW], N / 2);
	CHECK_EQ_INT(q.len[HTM_PRIO_CRITICAL], 0);
	CHECK_EQ_INT(q.len[HTM_PRIO_NORMAL], 0);

	for (int i = 0; i < N / 2; i++) {
		got = htm_queue_pop(&q);
		CHECK(got && got->id == want_high[i]);
	}
	for (int i = 0; i < N / 2; i++) {
		got = htm_queue_pop(&q);
		CHECK(got && got->id == want_low[i]);
	}
	CHECK(htm_queue_pop(&q) == NULL);
	CHECK_EQ_INT(htm_queue_len(&q), 0);
	for (int i = 0; i < N; i++)
		htm_task_free(t[i]);
}

static void test_remove(void)
{
	struct htm_queue q;
	struct htm_task *a = mk(1, HTM_PRIO_NORMAL), *b = mk(2, HTM_PRIO_NORMAL);
	struct htm_task *c = mk(3, HTM_PRIO_NORMAL), *d = mk(4, HTM_PRIO_LOW);
	struct htm_task *e = mk(5, HTM_PRIO_CRITICAL);

	htm_queue_init(&q);
	htm_queue_push(&q, a);
	htm_queue_push(&q, b);
	htm_queue_push(&q, c);
	htm_queue_push(&q, d);

	/* from the middle of a class */
	htm_queue_remove(&q, b);
	CHECK_EQ_INT(htm_queue_len(&q), 3);
	CHECK_EQ_INT(q.len[HTM_PRIO_NORMAL], 2);
	CHECK_EQ_PTR(htm_queue_peek(&q), a);

	/* the head: peek moves to the next of that class */
	htm_queue_remove(&q, a);
	CHECK_EQ_PTR(htm_queue_peek(&q), c);
	CHECK_EQ_INT(q.len[HTM_PRIO_NORMAL], 1);

	/* the only task of a class: the class empties, lower one shows */
	htm_queue_remove(&q, c);
	CHECK_EQ_INT(q.len[HTM_PRIO_NORMAL], 0);
	CHECK_EQ_PTR(htm_queue_peek(&q), d);

	/* a removed task may be pushed again and goes to the tail */
	htm_queue_push(&q, b);
	htm_queue_push(&q, e);
	htm_queue_push(&q, a);
	CHECK_EQ_INT(htm_queue_len(&q), 4);
	CHECK_EQ_PTR(htm_queue_pop(&q), e);
	CHECK_EQ_PTR(htm_queue_pop(&q), b);
	CHECK_EQ_PTR(htm_queue_pop(&q), a);
	/* removing the tail of the last class leaves it empty */
	htm_queue_remove(&q, d);
	CHECK_EQ_INT(htm_queue_len(&q), 0);
	CHECK(htm_queue_peek(&q) == NULL);

	htm_task_free(a);
	htm_task_free(b);
	htm_task_free(c);
	htm_task_free(d);
	htm_task_free(e);
}

/* ---- randomized comparison against a reference model ---- */

/* xorshift64*: deterministic, no libc rand() state */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

enum { MODEL_MAX = 4096 };

/* The model: one array of ids per class in push order. */
struct model {
	uint64_t id[HTM_PRIO_COUNT][MODEL_MAX];
	size_t n[HTM_PRIO_COUNT];
};

static void model_push(struct model *m, int p, uint64_t id)
{
	m->id[p][m->n[p]++] = id;
}

static uint64_t model_pop(struct model *m)
{
	for (int p = 0; p < HTM_PRIO_COUNT; p++)
		if (m->n[p]) {
			uint64_t id = m->id[p][0];

			memmove(m->id[p], m->id[p] + 1, --m->n[p] * sizeof(uint64_t));
			return id;
		}
	return 0;
}

static uint64_t model_peek(const struct model *m)
{
	for (int p = 0; p < HTM_PRIO_COUNT; p++)
		if (m->n[p])
			return m->id[p][0];
	return 0;
}

static void model_remove(struct model *m, int p, size_t i)
{
	memmove(m->id[p] + i, m->id[p] + i + 1,
		(m->n[p] - i - 1) * sizeof(uint64_t));
	m->n[p]--;
}

static size_t model_len(const struct model *m)
{
	size_t n = 0;

	for (int p = 0; p < HTM_PRIO_COUNT; p++)
		n += m->n[p];
	return n;
}

static void test_random_model(void)
{
	enum { OPS = 20000 };
	static struct model m;
	static struct htm_task *by_id[OPS + 1];
	struct htm_queue q;
	uint64_t next_id = 1;
	unsigned mismatches = 0, pops = 0, removes = 0;

	htm_queue_init(&q);
	for (int op = 0; op < OPS; op++) {
		uint64_t r = rng() % 100, got, want;
		struct htm_task *t;

		if (r < 50 && model_len(&m) < MODEL_MAX - 1) {
			int p = (int)(rng() % HTM_PRIO_COUNT);

			if (m.n[p] >= MODEL_MAX)
				continue;
			t = mk(next_id, (enum htm_priority)p);
			by_id[next_id] = t;
			htm_queue_push(&q, t);
			model_push(&m, p, next_id);
			next_id++;
		} else if (r < 85) {
			want = model_pop(&m);
			t = htm_queue_pop(&q);
			got = t ? t->id : 0;
			if (got != want)
				mismatches++;
			if (t) {
				by_id[t->id] = NULL;
				htm_task_free(t);
			}
			pops++;
		} else if (model_len(&m)) {
			/* remove a random queued task, anywhere in its class */
			int p;
			size_t i;

			do
				p = (int)(rng() % HTM_PRIO_COUNT);
			while (!m.n[p]);
			i = (size_t)(rng() % m.n[p]);
			t = by_id[m.id[p][i]];
			model_remove(&m, p, i);
			htm_queue_remove(&q, t);
			by_id[t->id] = NULL;
			htm_task_free(t);
			removes++;
		}
		want = model_peek(&m);
		t = htm_queue_peek(&q);
		if ((t ? t->id : 0) != want)
			mismatches++;
		if (htm_queue_len(&q) != model_len(&m))
			mismatches++;
		for (int p = 0; p < HTM_PRIO_COUNT; p++)
			if (q.len[p] != m.n[p])
				mismatches++;
		if (mismatches) {
			/* queue and model disagree on ownership from here on:
			 * stop before freeing a task twice */
			fprintf(stderr, "queue diverged from the model at op %d\n", op);
			break;
		}
	}
	CHECK_EQ_INT(mismatches, 0);
	/* the mix really exercised every operation */
	CHECK(next_id > 5000);
	CHECK(pops > 3000);
	CHECK(removes > 1000);

	/* drain: the remaining order still matches */
	while (!mismatches && model_len(&m)) {
		uint64_t want = model_pop(&m);
		struct htm_task *t = htm_queue_pop(&q);

		if (!t || t->id != want)
			mismatches++;
		if (t)
			htm_task_free(t);
		else
			break;
	}
	CHECK_EQ_INT(mismatches, 0);
	CHECK(mismatches || htm_queue_pop(&q) == NULL);
	CHECK_EQ_INT(htm_queue_len(&q), 0);
}

static struct htm_task *mko(uint64_t id, enum htm_priority p, enum htm_origin o)
{
	struct htm_task *t = mk(id, p);

	t->origin = o;
	return t;
}

/* Arrival numbers: 1, 2, 3... in push order, kept when pushed again. */
static void test_queue_seq(void)
{
	struct htm_queue q;
	struct htm_task *a = mk(10, HTM_PRIO_LOW), *b = mk(11, HTM_PRIO_CRITICAL);
	struct htm_task *c = mk(12, HTM_PRIO_LOW);

	htm_queue_init(&q);
	CHECK_EQ_U64(q.next_seq, 1);
	htm_queue_push(&q, a);
	htm_queue_push(&q, b);
	htm_queue_push(&q, c);
	CHECK_EQ_U64(a->queue_seq, 1);
	CHECK_EQ_U64(b->queue_seq, 2);
	CHECK_EQ_U64(c->queue_seq, 3);
	CHECK_EQ_U64(q.next_seq, 4);
	/* pop keeps the number; a task pushed again keeps it too */
	CHECK_EQ_PTR(htm_queue_pop(&q), b);
	CHECK_EQ_U64(b->queue_seq, 2);
	htm_queue_push(&q, b);
	CHECK_EQ_U64(b->queue_seq, 2);
	CHECK_EQ_U64(q.next_seq, 4);
	htm_queue_remove(&q, a);
	htm_queue_remove(&q, b);
	htm_queue_remove(&q, c);
	CHECK_EQ_INT(htm_queue_len(&q), 0);
	htm_task_free(a);
	htm_task_free(b);
	htm_task_free(c);
}

/*
 * One FIFO per priority and origin: within a priority the oldest arrival
 * comes first whatever its origin; origin_len counts per origin; head()
 * gives the oldest of one (priority, origin).
 */
static void test_origins(void)
{
	struct htm_queue q;
	struct htm_task *t[9], *it;
	/* id: priority, origin */
	static const struct { enum htm_priority p; enum htm_origin o; } spec[9] = {
		{ HTM_PRIO_NORMAL, HTM_ORIGIN_SCHEDULER },	/* 1 */
		{ HTM_PRIO_NORMAL, HTM_ORIGIN_INTENT },		/* 2 */
		{ HTM_PRIO_LOW, HTM_ORIGIN_INTENT },		/* 3 */
		{ HTM_PRIO_NORMAL, HTM_ORIGIN_SCHEDULER },	/* 4 */
		{ HTM_PRIO_HIGH, HTM_ORIGIN_INTERNAL },		/* 5 */
		{ HTM_PRIO_NORMAL, HTM_ORIGIN_USER_REQUEST },	/* 6 */
		{ HTM_PRIO_NORMAL, HTM_ORIGIN_INTENT },		/* 7 */
		{ HTM_PRIO_HIGH, HTM_ORIGIN_SCHEDULER },	/* 8 */
		{ HTM_PRIO_LOW, HTM_ORIGIN_SCHEDULER },		/* 9 */
	};
	static const uint64_t pop_order[9] = { 5, 8, 1, 2, 4, 6, 7, 3, 9 };
	uint64_t ids[4];
	int n;

	htm_queue_init(&q);
	for (int i = 0; i < 9; i++) {
		t[i] = mko((uint64_t)i + 1, spec[i].p, spec[i].o);
		htm_queue_push(&q, t[i]);
	}
	CHECK_EQ_INT(htm_queue_len(&q), 9);
	CHECK_EQ_INT(q.len[HTM_PRIO_CRITICAL], 0);
	CHECK_EQ_INT(q.len[HTM_PRIO_HIGH], 2);
	CHECK_EQ_INT(q.len[HTM_PRIO_NORMAL], 5);
	CHECK_EQ_INT(q.len[HTM_PRIO_LOW], 2);
	CHECK_EQ_INT(q.origin_len[HTM_ORIGIN_SCHEDULER], 4);
	CHECK_EQ_INT(q.origin_len[HTM_ORIGIN_INTENT], 3);
	CHECK_EQ_INT(q.origin_len[HTM_ORIGIN_INTERNAL], 1);
	CHECK_EQ_INT(q.origin_len[HTM_ORIGIN_USER_REQUEST], 1);
	CHECK_EQ_INT(q.origin_len[HTM_ORIGIN_REMEDIATION], 0);

	CHECK_EQ_PTR(htm_queue_head(&q, HTM_PRIO_NORMAL, HTM_ORIGIN_SCHEDULER), t[0]);
	CHECK_EQ_PTR(htm_queue_head(&q, HTM_PRIO_NORMAL, HTM_ORIGIN_INTENT), t[1]);
	CHECK_EQ_PTR(htm_queue_head(&q, HTM_PRIO_LOW, HTM_ORIGIN_SCHEDULER), t[8]);
	CHECK(htm_queue_head(&q, HTM_PRIO_CRITICAL, HTM_ORIGIN_SCHEDULER) == NULL);
	CHECK(htm_queue_head(&q, HTM_PRIO_LOW, HTM_ORIGIN_USER_REQUEST) == NULL);

	/* the per-(priority, origin) list is in arrival order */
	n = 0;
	HTM_QUEUE_FOREACH(it, &q, HTM_PRIO_NORMAL, HTM_ORIGIN_SCHEDULER)
		if (n < 4)
			ids[n++] = it->id;
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_U64(ids[0], 1);
	CHECK_EQ_U64(ids[1], 4);

	/* removing from the middle of an origin's list */
	htm_queue_remove(&q, t[6]);
	CHECK_EQ_INT(q.origin_len[HTM_ORIGIN_INTENT], 2);
	CHECK_EQ_INT(q.len[HTM_PRIO_NORMAL], 4);
	htm_queue_push(&q, t[6]);	/* back, with its old number */
	CHECK_EQ_INT(q.origin_len[HTM_ORIGIN_INTENT], 3);

	for (int i = 0; i < 9; i++) {
		it = htm_queue_pop(&q);
		CHECK(it != NULL);
		if (!it)
			break;
		CHECK_EQ_U64(it->id, pop_order[i]);
	}
	CHECK(htm_queue_pop(&q) == NULL);
	for (int o = 0; o < HTM_ORIGIN_COUNT; o++)
		CHECK_EQ_INT(q.origin_len[o], 0);
	for (int i = 0; i < 9; i++)
		htm_task_free(t[i]);
}

/* An SLA escalation: out of its class, one up, back in at its arrival place. */
static void escalate(struct htm_queue *q, struct htm_task *t)
{
	htm_queue_remove(q, t);
	t->priority--;
	htm_queue_insert_ordered(q, t);
}

static void test_insert_ordered(void)
{
	struct htm_queue q;
	struct htm_task *n[4], *h[3], *it;
	uint64_t ids[8];
	int k;

	htm_queue_init(&q);
	/* arrivals: n0 h0 n1 h1 n2 h2 n3, all one origin */
	for (int i = 0; i < 4; i++) {
		n[i] = mk(10 + (uint64_t)i, HTM_PRIO_NORMAL);
		htm_queue_push(&q, n[i]);
		if (i < 3) {
			h[i] = mk(20 + (uint64_t)i, HTM_PRIO_HIGH);
			htm_queue_push(&q, h[i]);
		}
	}
	CHECK_EQ_U64(n[2]->queue_seq, 5);
	CHECK_EQ_U64(h[1]->queue_seq, 4);

	/* n2 (arrival 5) goes up: between h1 (4) and h2 (6), not at the tail */
	escalate(&q, n[2]);
	CHECK_EQ_INT(n[2]->priority, HTM_PRIO_HIGH);
	CHECK_EQ_U64(n[2]->queue_seq, 5);
	CHECK_EQ_INT(q.len[HTM_PRIO_HIGH], 4);
	CHECK_EQ_INT(q.len[HTM_PRIO_NORMAL], 3);
	CHECK_EQ_INT(q.origin_len[HTM_ORIGIN_USER_REQUEST], 7);
	CHECK_EQ_INT(htm_queue_len(&q), 7);
	k = 0;
	HTM_QUEUE_FOREACH(it, &q, HTM_PRIO_HIGH, HTM_ORIGIN_USER_REQUEST)
		if (k < 8)
			ids[k++] = it->id;
	CHECK_EQ_INT(k, 4);
	CHECK_EQ_U64(ids[0], 20);
	CHECK_EQ_U64(ids[1], 21);
	CHECK_EQ_U64(ids[2], 12);
	CHECK_EQ_U64(ids[3], 22);

	/* n0 (arrival 1) goes up: ahead of every high task */
	escalate(&q, n[0]);
	CHECK_EQ_PTR(htm_queue_head(&q, HTM_PRIO_HIGH, HTM_ORIGIN_USER_REQUEST), n[0]);
	CHECK_EQ_PTR(htm_queue_peek(&q), n[0]);
	/* n3 (arrival 7) goes up: the tail */
	escalate(&q, n[3]);
	/* h1 to critical: alone there, first */
	escalate(&q, h[1]);
	CHECK_EQ_PTR(htm_queue_peek(&q), h[1]);

	/* the order out: critical, then high by arrival, then what is left */
	{
		static const uint64_t want[] = { 21, 10, 20, 12, 22, 13, 11 };

		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			it = htm_queue_pop(&q);
			CHECK(it && it->id == want[i]);
		}
	}
	CHECK(htm_queue_pop(&q) == NULL);
	CHECK_EQ_INT(q.origin_len[HTM_ORIGIN_USER_REQUEST], 0);
	for (int i = 0; i < 4; i++)
		htm_task_free(n[i]);
	for (int i = 0; i < 3; i++)
		htm_task_free(h[i]);
}

/* Escalated into a class where other origins wait: the arrival number
 * orders it against their heads too. */
static void test_insert_ordered_origins(void)
{
	struct htm_queue q;
	struct htm_task *a = mko(1, HTM_PRIO_HIGH, HTM_ORIGIN_SCHEDULER);
	struct htm_task *b = mko(2, HTM_PRIO_NORMAL, HTM_ORIGIN_INTENT);
	struct htm_task *c = mko(3, HTM_PRIO_HIGH, HTM_ORIGIN_REMEDIATION);
	struct htm_task *d = mko(4, HTM_PRIO_NORMAL, HTM_ORIGIN_INTENT);

	htm_queue_init(&q);
	htm_queue_push(&q, a);
	htm_queue_push(&q, b);
	htm_queue_push(&q, c);
	htm_queue_push(&q, d);
	/* d escalates into high, into an empty (high, intent) list */
	escalate(&q, d);
	CHECK_EQ_PTR(htm_queue_head(&q, HTM_PRIO_HIGH, HTM_ORIGIN_INTENT), d);
	CHECK_EQ_INT(q.origin_len[HTM_ORIGIN_INTENT], 2);
	/* b escalates too: ahead of d in their list, after a across origins */
	escalate(&q, b);
	CHECK_EQ_PTR(htm_queue_head(&q, HTM_PRIO_HIGH, HTM_ORIGIN_INTENT), b);
	CHECK_EQ_INT(q.len[HTM_PRIO_NORMAL], 0);
	CHECK_EQ_INT(q.len[HTM_PRIO_HIGH], 4);
	CHECK_EQ_PTR(htm_queue_pop(&q), a);
	CHECK_EQ_PTR(htm_queue_pop(&q), b);
	CHECK_EQ_PTR(htm_queue_pop(&q), c);
	CHECK_EQ_PTR(htm_queue_pop(&q), d);
	CHECK(htm_queue_pop(&q) == NULL);
	htm_task_free(a);
	htm_task_free(b);
	htm_task_free(c);
	htm_task_free(d);
}

/*
 * Random pushes (any priority and origin), pops, removes and escalations
 * against a model: a flat list of (id, priority, arrival); the next task
 * is the earliest arrival of the highest priority.
 */
static void test_random_origins(void)
{
	enum { OPS = 20000, MAXQ = 2048 };
	static struct { struct htm_task *t; } live[MAXQ];
	size_t n = 0;
	struct htm_queue q;
	uint64_t next_id = 1;
	unsigned bad = 0, escalations = 0, pops = 0;

	htm_queue_init(&q);
	for (int op = 0; op < OPS && !bad; op++) {
		uint64_t r = rng() % 100;
		struct htm_task *t, *want = NULL;
		size_t i, wi = 0;

		if (r < 45 && n < MAXQ) {
			t = mko(next_id++, (enum htm_priority)(rng() % HTM_PRIO_COUNT),
				(enum htm_origin)(rng() % HTM_ORIGIN_COUNT));
			htm_queue_push(&q, t);
			live[n++].t = t;
		} else if (r < 75 && n) {
			for (i = 0; i < n; i++)
				if (!want || live[i].t->priority < want->priority ||
				    (live[i].t->priority == want->priority &&
				     live[i].t->queue_seq < want->queue_seq)) {
					want = live[i].t;
					wi = i;
				}
			t = htm_queue_pop(&q);
			if (t != want)
				bad++;
			live[wi] = live[--n];
			htm_task_free(want);
			pops++;
		} else if (r < 88 && n) {
			i = (size_t)(rng() % n);
			t = live[i].t;
			if (t->priority != HTM_PRIO_CRITICAL) {
				escalate(&q, t);
				escalations++;
			}
		} else if (n) {
			i = (size_t)(rng() % n);
			htm_queue_remove(&q, live[i].t);
			htm_task_free(live[i].t);
			live[i] = live[--n];
		}
		if (htm_queue_len(&q) != n)
			bad++;
		{
			size_t per_o[HTM_ORIGIN_COUNT] = { 0 }, per_p[HTM_PRIO_COUNT] = { 0 };

			for (i = 0; i < n; i++) {
				per_o[live[i].t->origin]++;
				per_p[live[i].t->priority]++;
			}
			for (int o = 0; o < HTM_ORIGIN_COUNT; o++)
				if (q.origin_len[o] != per_o[o])
					bad++;
			for (int p = 0; p < HTM_PRIO_COUNT; p++)
				if (q.len[p] != per_p[p])
					bad++;
		}
		/* every list stays sorted by arrival */
		for (int p = 0; p < HTM_PRIO_COUNT; p++)
			for (int o = 0; o < HTM_ORIGIN_COUNT; o++) {
				struct htm_task *it;
				uint64_t last = 0;

				HTM_QUEUE_FOREACH(it, &q, p, o) {
					if (it->queue_seq <= last || (int)it->priority != p ||
					    (int)it->origin != o)
						bad++;
					last = it->queue_seq;
				}
			}
		if (bad)
			fprintf(stderr, "queue diverged from the model at op %d\n", op);
	}
	CHECK_EQ_INT(bad, 0);
	CHECK(escalations > 1000);
	CHECK(pops > 3000);
	if (bad)	/* ownership is unclear: leak rather than double free */
		return;
	while (n) {
		htm_queue_remove(&q, live[n - 1].t);
		htm_task_free(live[--n].t);
	}
	CHECK_EQ_INT(htm_queue_len(&q), 0);
}

int main(void)
{
	test_empty();
	test_strict_priority();
	test_overtake();
	test_fifo_interleaved();
	test_remove();
	test_random_model();
	test_queue_seq();
	test_origins();
	test_insert_ordered();
	test_insert_ordered_origins();
	test_random_origins();
	return check_report();
}
