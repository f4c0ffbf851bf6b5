// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>

#include "timerq.h"

static bool before(const struct htm_timer *a, const struct htm_timer *b)
{
	return a->deadline < b->deadline ||
	       (a->deadline == b->deadline && a->seq < b->seq);
}

static void place(struct htm_timerq *q, size_t i, struct htm_timer *t)
{
	q->heap[i] = t;
	t->slot = i + 1;
}

static void sift_up(struct htm_timerq *q, size_t i)
{
	struct htm_timer *t = q->heap[i];

	while (i > 0 && before(t, q->heap[(i - 1) / 2])) {
		place(q, i, q->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	place(q, i, t);
}

static void sift_down(struct htm_timerq *q, size_t i)
{
	struct htm_timer *t = q->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= q->n)
			break;
		if (c + 1 < q->n && before(q->heap[c + 1], q->heap[c]))
			c++;
		if (!before(q->heap[c], t))
			break;
		place(q, i, q->heap[c]);
		i = c;
	}
	place(q, i, t);
}

void htm_timerq_init(struct htm_timerq *q)
{
	q->heap = NULL;
	q->n = q->cap = 0;
	q->next_seq = 1;
}

void htm_timerq_free(struct htm_timerq *q)
{
	for (size_t i = 0; i < q->n; i++)
		q->heap[i]->slot = 0;
	free(q->heap);
	htm_timerq_init(q);
}

void htm_timer_init(struct htm_timer *t, void (*fn)(struct htm_timer *t))
{
	t->deadline = t->seq = 0;
	t->slot = 0;
	t->fn = fn;
}

void htm_timer_disarm(struct htm_timerq *q, struct htm_timer *t)
{
	size_t i;

	t->deadline = 0;
	if (!t->slot)
		return;
	i = t->slot - 1;
	t->slot = 0;
	if (i == --q->n)
		return;
	place(q, i, q->heap[q->n]);
	if (i > 0 && before(q->heap[i], q->heap[(i - 1) / 2]))
		sift_up(q, i);
	else
		sift_down(q, i);
}

int htm_timer_arm(struct htm_timerq *q, struct htm_timer *t, uint64_t deadline)
{
	htm_timer_disarm(q, t);
	if (q->n == q->cap) {
		size_t cap = q->cap ? 2 * q->cap : 16;
		struct htm_timer **h = realloc(q->heap, cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		q->heap = h;
		q->cap = cap;
	}
	t->deadline = deadline ? deadline : 1;
	t->seq = q->next_seq++;
	place(q, q->n++, t);
	sift_up(q, q->n - 1);
	return 0;
}

uint64_t htm_timerq_next(const struct htm_timerq *q)
{
	return q->n ? q->heap[0]->deadline : 0;
}

size_t htm_timerq_run(struct htm_timerq *q, uint64_t now)
{
	size_t fired = 0;

	while (q->n && q->heap[0]->deadline <= now) {
		struct htm_timer *t = q->heap[0];

		htm_timer_disarm(q, t);
		t->fn(t);
		fired++;
	}
	return fired;
}
