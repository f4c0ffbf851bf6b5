/* SPDX-License-Identifier: MIT */
/*
 * The run queue: strict priority between classes, FIFO within one.
 * One tail queue per priority, so push, pop, peek and remove are O(1);
 * a task is on the queue exactly while its state is queued.
 */
#ifndef HTM_CORE_QUEUE_H
#define HTM_CORE_QUEUE_H

#include <stddef.h>

#include "task.h"

struct htm_queue {
	TAILQ_HEAD(, htm_task) level[HTM_PRIO_COUNT];
	size_t len[HTM_PRIO_COUNT];
};

void htm_queue_init(struct htm_queue *q);
void htm_queue_push(struct htm_queue *q, struct htm_task *t);
/* Highest-priority, oldest task, or NULL when empty. */
struct htm_task *htm_queue_peek(const struct htm_queue *q);
struct htm_task *htm_queue_pop(struct htm_queue *q);
void htm_queue_remove(struct htm_queue *q, struct htm_task *t);
size_t htm_queue_len(const struct htm_queue *q);

#endif
