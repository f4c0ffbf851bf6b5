// SPDX-License-Identifier: MIT
/* The task table: id allocation, lookup, removal, bounded history. */
#include <stdint.h>
#include <stdlib.h>

#include "core/task_table.h"

#include "check.h"

static struct htm_task *create(struct htm_task_table *tt)
{
	struct htm_task *t = htm_task_table_create(tt);

	if (!t) {
		perror("htm_task_table_create");
		exit(2);
	}
	return t;
}

/* ids of the table in iteration order, as a comma list */
static const char *ids(const struct htm_task_table *tt)
{
	static char buf[4096];
	const struct htm_task *t;
	size_t off = 0;

	buf[0] = '\0';
	TAILQ_FOREACH(t, &tt->all, table_link)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%llu",
					off ? "," : "", (unsigned long long)t->id);
	return buf;
}

static void test_ids_find_remove(void)
{
	struct htm_task_table tt;
	struct htm_task *t[5], *x;

	htm_task_table_init(&tt, 0);	/* 0 means "start at 1" */
	CHECK_EQ_INT(tt.count, 0);
	CHECK(htm_task_table_find(&tt, 1) == NULL);
	for (int i = 0; i < 5; i++) {
		t[i] = create(&tt);
		CHECK_EQ_U64(t[i]->id, (uint64_t)i + 1);
		CHECK_EQ_INT(t[i]->state, HTM_STATE_QUEUED);
	}
	CHECK_EQ_INT(tt.count, 5);
	CHECK_EQ_STR(ids(&tt), "1,2,3,4,5");
	for (int i = 0; i < 5; i++)
		CHECK_EQ_PTR(htm_task_table_find(&tt, (uint64_t)i + 1), t[i]);
	CHECK(htm_task_table_find(&tt, 0) == NULL);
	CHECK(htm_task_table_find(&tt, 6) == NULL);
	CHECK(htm_task_table_find(&tt, UINT64_MAX) == NULL);

	/* remove from the middle: gone from lookup and iteration, not freed */
	htm_task_table_remove(&tt, t[2]);
	CHECK_EQ_INT(tt.count, 4);
	CHECK(htm_task_table_find(&tt, 3) == NULL);
	CHECK_EQ_PTR(htm_task_table_find(&tt, 2), t[1]);
	CHECK_EQ_PTR(htm_task_table_find(&tt, 4), t[3]);
	CHECK_EQ_STR(ids(&tt), "1,2,4,5");
	CHECK_EQ_U64(t[2]->id, 3);
	htm_task_free(t[2]);

	/* head and tail */
	htm_task_table_remove(&tt, t[0]);
	htm_task_table_remove(&tt, t[4]);
	CHECK_EQ_STR(ids(&tt), "2,4");
	CHECK_EQ_INT(tt.count, 2);
	htm_task_free(t[0]);
	htm_task_free(t[4]);

	/* ids are never reused, even after the highest was removed */
	x = create(&tt);
	CHECK_EQ_U64(x->id, 6);
	CHECK_EQ_PTR(htm_task_table_find(&tt, 6), x);
	CHECK(htm_task_table_find(&tt, 5) == NULL);
	CHECK_EQ_STR(ids(&tt), "2,4,6");

	htm_task_table_clear(&tt);
	CHECK_EQ_INT(tt.count, 0);
	CHECK(TAILQ_EMPTY(&tt.all));
	CHECK(tt.by_id == NULL);
	CHECK(htm_task_table_find(&tt, 2) == NULL);

	/* a restored daemon continues from its journal's next id */
	htm_task_table_init(&tt, 1000);
	CHECK_EQ_U64(create(&tt)->id, 1000);
	CHECK_EQ_U64(create(&tt)->id, 1001);
	CHECK(htm_task_table_find(&tt, 1000) != NULL);
	htm_task_table_clear(&tt);
}

static void test_many(void)
{
	enum { N = 2000 };
	struct htm_task_table tt;
	unsigned bad = 0;

	htm_task_table_init(&tt, 1);
	for (int i = 0; i < N; i++)
		create(&tt);
	for (uint64_t id = 1; id <= N; id++) {
		struct htm_task *t = htm_task_table_find(&tt, id);

		if (!t || t->id != id)
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	/* drop every third; the rest are still found, the dropped are not */
	for (uint64_t id = 3; id <= N; id += 3) {
		struct htm_task *t = htm_task_table_find(&tt, id);

		if (!t) {
			bad++;
			continue;
		}
		htm_task_table_remove(&tt, t);
		htm_task_free(t);
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(tt.count, N - N / 3);
	for (uint64_t id = 1; id <= N; id++) {
		struct htm_task *t = htm_task_table_find(&tt, id);

		if (id % 3 == 0 ? t != NULL : !t || t->id != id)
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	/* iteration stays ascending */
	{
		const struct htm_task *t;
		uint64_t prev = 0;
		size_t n = 0;

		TAILQ_FOREACH(t, &tt.all, table_link) {
			if (t->id <= prev)
				bad++;
			prev = t->id;
			n++;
		}
		CHECK_EQ_INT(bad, 0);
		CHECK_EQ_INT(n, tt.count);
	}
	htm_task_table_clear(&tt);
}

static uint64_t vetoed;
static unsigned veto_calls;

static bool can_free_veto(const struct htm_task *t)
{
	veto_calls++;
	return t->id != vetoed;
}

static void fill(struct htm_task_table *tt, int n, const char *finished)
{
	htm_task_table_init(tt, 1);
	for (int i = 0; i < n; i++) {
		struct htm_task *t = create(tt);

		/* finished[i]: S succeeded, F failed, C cancelled,
		 * R running, Q queued, P pending approval */
		switch (finished[i]) {
		case 'S': t->state = HTM_STATE_SUCCEEDED; break;
		case 'F': t->state = HTM_STATE_FAILED; break;
		case 'C': t->state = HTM_STATE_CANCELLED; break;
		case 'R': t->state = HTM_STATE_RUNNING; break;
		case 'P': t->state = HTM_STATE_PENDING_APPROVAL; break;
		default: t->state = HTM_STATE_QUEUED; break;
		}
	}
}

static void test_trim(void)
{
	struct htm_task_table tt;

	/* ids 1..10:      1 2 3 4 5 6 7 8 9 10 */
	fill(&tt, 10, "SRFQCPSRSQ");
	/* nothing to do while within the bound */
	CHECK_EQ_INT(htm_task_table_trim(&tt, 10, NULL), 0);
	CHECK_EQ_INT(htm_task_table_trim(&tt, 50, NULL), 0);
	CHECK_EQ_INT(tt.count, 10);

	/* down to 8: the two oldest finished (1, 3) go, live 2 stays */
	CHECK_EQ_INT(htm_task_table_trim(&tt, 8, NULL), 2);
	CHECK_EQ_INT(tt.count, 8);
	CHECK_EQ_STR(ids(&tt), "2,4,5,6,7,8,9,10");
	CHECK(htm_task_table_find(&tt, 1) == NULL);
	CHECK(htm_task_table_find(&tt, 3) == NULL);
	CHECK(htm_task_table_find(&tt, 2) != NULL);

	/* down to 7: exactly one more, the oldest finished (5) */
	CHECK_EQ_INT(htm_task_table_trim(&tt, 7, NULL), 1);
	CHECK_EQ_STR(ids(&tt), "2,4,6,7,8,9,10");

	/* down to 0: every finished task goes, every live one stays */
	CHECK_EQ_INT(htm_task_table_trim(&tt, 0, NULL), 2);
	CHECK_EQ_STR(ids(&tt), "2,4,6,8,10");
	CHECK_EQ_INT(tt.count, 5);
	/* and again: nothing left that may be freed */
	CHECK_EQ_INT(htm_task_table_trim(&tt, 0, NULL), 0);
	CHECK_EQ_INT(tt.count, 5);
	for (uint64_t id = 2; id <= 10; id += 2)
		CHECK(htm_task_table_find(&tt, id) != NULL);

	/* a task finishing later becomes trimmable */
	CHECK(htm_task_table_find(&tt, 8) != NULL);
	if (htm_task_table_find(&tt, 8))
		htm_task_table_find(&tt, 8)->state = HTM_STATE_SUCCEEDED;
	CHECK_EQ_INT(htm_task_table_trim(&tt, 4, NULL), 1);
	CHECK_EQ_STR(ids(&tt), "2,4,6,10");
	htm_task_table_clear(&tt);
}

static void test_trim_veto(void)
{
	struct htm_task_table tt;

	/* ids 1..6, all finished */
	fill(&tt, 6, "SSSSSS");
	vetoed = 1;
	veto_calls = 0;
	/* the oldest is vetoed (its runtime is busy): the next ones go */
	CHECK_EQ_INT(htm_task_table_trim(&tt, 4, can_free_veto), 2);
	CHECK_EQ_STR(ids(&tt), "1,4,5,6");
	CHECK_EQ_INT(veto_calls, 3);
	htm_task_table_clear(&tt);

	/* only finished tasks are offered to can_free */

	fill(&tt, 4, "RQPS");
	veto_calls = 0;
	vetoed = 0;
	CHECK_EQ_INT(htm_task_table_trim(&tt, 0, can_free_veto), 1);
	CHECK_EQ_INT(veto_calls, 1);
	CHECK_EQ_STR(ids(&tt), "1,2,3");
	htm_task_table_clear(&tt);

	/* a veto can hold the table above its bound */
	fill(&tt, 3, "SFC");
	vetoed = 2;
	CHECK_EQ_INT(htm_task_table_trim(&tt, 0, can_free_veto), 2);
	CHECK_EQ_STR(ids(&tt), "2");
	CHECK_EQ_INT(tt.count, 1);
	htm_task_table_clear(&tt);
}

int main(void)
{
	test_ids_find_remove();
	test_many();
	test_trim();
	test_trim_veto();
	return check_report();
}
