/* SPDX-License-Identifier: MIT */
/*
 * The run queue: one FIFO per priority and origin, so push, remove and the
 * head of any (priority, origin) are O(1), and admission (fairshare.c) can
 * choose between origins without scanning. Tasks carry their arrival
 * number, so "oldest first" holds across origins too. A task is on the
 * queue exactly while its state is queued.
 */
#ifndef HTM_CORE_QUEUE_H
#define HTM_CORE_QUEUE_H

#include <stddef.h>

#include "task.h"

struct htm_queue {
	TAILQ_HEAD(htm_task_queue, htm_task) level[HTM_PRIO_COUNT][HTM_ORIGIN_COUNT];
	size_t len[HTM_PRIO_COUNT];
	size_t origin_len[HTM_ORIGIN_COUNT];
	uint64_t next_seq;
};

void htm_queue_init(struct htm_queue *q);
/* At the tail of its (priority, origin) list, as the newest arrival. */
void htm_queue_push(struct htm_queue *q, struct htm_task *t);
/* Back in its list at its original arrival place (after an escalation). */
void htm_queue_insert_ordered(struct htm_queue *q, struct htm_task *t);
/* The oldest task of the highest priority, or NULL when empty. */
struct htm_task *htm_queue_peek(const struct htm_queue *q);
struct htm_task *htm_queue_pop(struct htm_queue *q);
struct htm_task *htm_queue_head(const struct htm_queue *q, enum htm_priority p,
				enum htm_origin o);
void htm_queue_remove(struct htm_queue *q, struct htm_task *t);
size_t htm_queue_len(const struct htm_queue *q);

#define HTM_QUEUE_FOREACH(t, q, p, o) TAILQ_FOREACH(t, &(q)->level[p][o], queue_link)

#endif
