// SPDX-License-Identifier: MIT
#include <errno.h>
#include <search.h>
#include <stdlib.h>

#include "task_table.h"

static int task_id_cmp(const void *a, const void *b)
{
	const struct htm_task *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

void htm_task_table_init(struct htm_task_table *tt, uint64_t first_id)
{
	tt->by_id = NULL;
	TAILQ_INIT(&tt->all);
	tt->count = 0;
	tt->next_id = first_id ? first_id : 1;
}

void htm_task_table_clear(struct htm_task_table *tt)
{
	struct htm_task *t;

	while ((t = TAILQ_FIRST(&tt->all))) {
		htm_task_table_remove(tt, t);
		htm_task_free(t);
	}
}

struct htm_task *htm_task_table_create(struct htm_task_table *tt)
{
	struct htm_task *t = htm_task_new(tt->next_id);

	if (!t)
		return NULL;
	if (!tsearch(t, &tt->by_id, task_id_cmp)) {
		htm_task_free(t);
		return NULL;
	}
	tt->next_id++;
	TAILQ_INSERT_TAIL(&tt->all, t, table_link);
	tt->count++;
	return t;
}

int htm_task_table_insert(struct htm_task_table *tt, struct htm_task *t)
{
	struct htm_task *last = TAILQ_LAST(&tt->all, htm_task_list);
	void **node;

	if (htm_task_table_find(tt, t->id))
		return -EEXIST;
	node = tsearch(t, &tt->by_id, task_id_cmp);
	if (!node)
		return -ENOMEM;
	/* keep `all` in id order: replay adds ascending ids, so this is
	 * almost always the tail */
	if (!last || last->id < t->id) {
		TAILQ_INSERT_TAIL(&tt->all, t, table_link);
	} else {
		struct htm_task *it;

		TAILQ_FOREACH(it, &tt->all, table_link)
			if (it->id > t->id)
				break;
		TAILQ_INSERT_BEFORE(it, t, table_link);
	}
	tt->count++;
	if (t->id >= tt->next_id)
		tt->next_id = t->id + 1;
	return 0;
}

struct htm_task *htm_task_table_find(const struct htm_task_table *tt,
				     uint64_t id)
{
	struct htm_task key = { .id = id };
	void *const *node = tfind(&key, &tt->by_id, task_id_cmp);

	return node ? *node : NULL;
}

void htm_task_table_remove(struct htm_task_table *tt, struct htm_task *t)
{
	tdelete(t, &tt->by_id, task_id_cmp);
	TAILQ_REMOVE(&tt->all, t, table_link);
	tt->count--;
}

size_t htm_task_table_trim(struct htm_task_table *tt, size_t keep,
			   bool (*can_free)(const struct htm_task *t))
{
	struct htm_task *t, *next;
	size_t freed = 0;

	/* Oldest first: the head is almost always finished work, so this is
	 * O(1) amortised per finished task. Live tasks are never freed. */
	for (t = TAILQ_FIRST(&tt->all); t && tt->count > keep; t = next) {
		next = TAILQ_NEXT(t, table_link);
		if (!htm_state_is_terminal(t->state) || (can_free && !can_free(t)))
			continue;
		htm_task_table_remove(tt, t);
		htm_task_free(t);
		freed++;
	}
	return freed;
}
