// SPDX-License-Identifier: MIT
#include "queue.h"

void htm_queue_init(struct htm_queue *q)
{
	for (int p = 0; p < HTM_PRIO_COUNT; p++) {
		for (int o = 0; o < HTM_ORIGIN_COUNT; o++)
			TAILQ_INIT(&q->level[p][o]);
		q->len[p] = 0;
	}
	for (int o = 0; o < HTM_ORIGIN_COUNT; o++)
		q->origin_len[o] = 0;
	q->next_seq = 1;
}

void htm_queue_push(struct htm_queue *q, struct htm_task *t)
{
	if (!t->queue_seq)
		t->queue_seq = q->next_seq++;
	TAILQ_INSERT_TAIL(&q->level[t->priority][t->origin], t, queue_link);
	q->len[t->priority]++;
	q->origin_len[t->origin]++;
}

void htm_queue_insert_ordered(struct htm_queue *q, struct htm_task *t)
{
	struct htm_task *it;

	/* from the tail: an escalated task usually goes near the end */
	TAILQ_FOREACH_REVERSE(it, &q->level[t->priority][t->origin], htm_task_queue,
			      queue_link)
		if (it->queue_seq < t->queue_seq)
			break;
	if (it)
		TAILQ_INSERT_AFTER(&q->level[t->priority][t->origin], it, t, queue_link);
	else
		TAILQ_INSERT_HEAD(&q->level[t->priority][t->origin], t, queue_link);
	q->len[t->priority]++;
	q->origin_len[t->origin]++;
}

struct htm_task *htm_queue_head(const struct htm_queue *q, enum htm_priority p,
				enum htm_origin o)
{
	return TAILQ_FIRST(&q->level[p][o]);
}

struct htm_task *htm_queue_peek(const struct htm_queue *q)
{
	struct htm_task *best = NULL, *h;

	for (int p = 0; p < HTM_PRIO_COUNT && !best; p++)
		for (int o = 0; o < HTM_ORIGIN_COUNT; o++)
			if ((h = TAILQ_FIRST(&q->level[p][o])) &&
			    (!best || h->queue_seq < best->queue_seq))
				best = h;
	return best;
}

struct htm_task *htm_queue_pop(struct htm_queue *q)
{
	struct htm_task *t = htm_queue_peek(q);

	if (t)
		htm_queue_remove(q, t);
	return t;
}

void htm_queue_remove(struct htm_queue *q, struct htm_task *t)
{
	TAILQ_REMOVE(&q->level[t->priority][t->origin], t, queue_link);
	q->len[t->priority]--;
	q->origin_len[t->origin]--;
}

size_t htm_queue_len(const struct htm_queue *q)
{
	size_t n = 0;

	for (int p = 0; p < HTM_PRIO_COUNT; p++)
		n += q->len[p];
	return n;
}
