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

int main(void)
{
	test_empty();
	test_strict_priority();
	test_overtake();
	test_fifo_interleaved();
	test_remove();
	test_random_model();
	return check_report();
}
