// SPDX-License-Identifier: MIT
#include "queue.h"

void htm_queue_init(struct htm_queue *q)
{
	for (int p = 0; p < HTM_PRIO_COUNT; p++) {
		TAILQ_INIT(&q->level[p]);
		q->len[p] = 0;
	}
}

void htm_queue_push(struct htm_queue *q, struct htm_task *t)
{
	TAILQ_INSERT_TAIL(&q->level[t->priority], t, queue_link);
	q->len[t->priority]++;
}

struct htm_task *htm_queue_peek(const struct htm_queue *q)
{
	for (int p = 0; p < HTM_PRIO_COUNT; p++)
		if (!TAILQ_EMPTY(&q->level[p]))
			return TAILQ_FIRST(&q->level[p]);
	return NULL;
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
	TAILQ_REMOVE(&q->level[t->priority], t, queue_link);
	q->len[t->priority]--;
}

size_t htm_queue_len(const struct htm_queue *q)
{
	size_t n = 0;

	for (int p = 0; p < HTM_PRIO_COUNT; p++)
		n += q->len[p];
	return n;
}
