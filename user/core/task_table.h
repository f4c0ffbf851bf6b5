/* SPDX-License-Identifier: MIT */
/*
 * Every task the daemon knows: lookup by id in O(log n) (glibc's tsearch
 * red-black tree), iteration in submission order, and a bounded history of
 * finished tasks so memory does not grow with uptime.
 */
#ifndef HTM_CORE_TASK_TABLE_H
#define HTM_CORE_TASK_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "task.h"

struct htm_task_table {
	void *by_id;				/* tsearch root */
	TAILQ_HEAD(htm_task_list, htm_task) all;	/* ascending id */
	size_t count;
	uint64_t next_id;
};

void htm_task_table_init(struct htm_task_table *tt, uint64_t first_id);
/* Tear down, freeing every task. */
void htm_task_table_clear(struct htm_task_table *tt);

/* A new task with the next id, added to the table. NULL on ENOMEM. */
struct htm_task *htm_task_table_create(struct htm_task_table *tt);
/* Add a task that already has its id (replay); ids stay ahead of it.
 * -EEXIST if the id is taken. */
int htm_task_table_insert(struct htm_task_table *tt, struct htm_task *t);
struct htm_task *htm_task_table_find(const struct htm_task_table *tt,
				     uint64_t id);
void htm_task_table_remove(struct htm_task_table *tt, struct htm_task *t);

/*
 * Free the oldest finished tasks until the table holds at most `keep` tasks
 * (live ones are never freed, so it may stay above). A task is only freed
 * when can_free(t) agrees (its runtime may still be busy); returns the
 * number freed.
 */
size_t htm_task_table_trim(struct htm_task_table *tt, size_t keep,
			   bool (*can_free)(const struct htm_task *t));

#endif
