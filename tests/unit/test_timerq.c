// SPDX-License-Identifier: MIT
/* The engine's timer heap: order, ties, re-arming, disarming, firing. */
#include <stdlib.h>

#include "core/timerq.h"

#include "check.h"

static struct htm_timerq q;
static int fired[64], nfired;

struct tagged {
	struct htm_timer t;
	int tag;
};

static void note(struct htm_timer *t)
{
	fired[nfired++] = ((struct tagged *)t)->tag;
}

static struct tagged again;

/* a callback that arms another timer due at once: fires in the same run */
static void chain(struct htm_timer *t)
{
	note(t);
	htm_timer_arm(&q, &again.t, 1);
}

int main(void)
{
	struct tagged a[40];
	uint64_t last = 0;

	htm_timerq_init(&q);
	CHECK_EQ_U64(htm_timerq_next(&q), 0);

	/* deadlines out of order come out in order */
	for (int i = 0; i < 40; i++) {
		htm_timer_init(&a[i].t, note);
		a[i].tag = i;
		htm_timer_arm(&q, &a[i].t, 1000 + (uint64_t)((i * 17) % 40) * 10);
	}
	CHECK_EQ_U64(htm_timerq_next(&q), 1000);
	CHECK_EQ_U64(htm_timerq_run(&q, 999), 0);
	CHECK_EQ_U64(htm_timerq_run(&q, 1195), 20);
	for (int i = 0; i < nfired; i++) {
		uint64_t d = 1000 + (uint64_t)((fired[i] * 17) % 40) * 10;

		CHECK(d >= last);
		last = d;
	}
	CHECK_EQ_U64(htm_timerq_next(&q), 1200);

	/* disarm one from the middle, re-arm one later: the rest still in order */
	htm_timer_disarm(&q, &a[(5 * 40 / 17) % 40].t);
	for (int i = 0; i < 40; i++)
		if (htm_timer_armed(&a[i].t) && (uint64_t)((i * 17) % 40) * 10 + 1000 == 1300)
			htm_timer_arm(&q, &a[i].t, 5000);
	nfired = 0;
	htm_timerq_run(&q, 4999);
	for (int i = 0; i < nfired; i++)
		CHECK(1000 + (uint64_t)((fired[i] * 17) % 40) * 10 != 1300);
	CHECK_EQ_U64(htm_timerq_next(&q), 5000);
	CHECK_EQ_U64(htm_timerq_run(&q, 5000), 1);

	/* equal deadlines fire in arming order */
	nfired = 0;
	for (int i = 0; i < 5; i++)
		htm_timer_arm(&q, &a[4 - i].t, 7000);
	htm_timerq_run(&q, 7000);
	CHECK_EQ_INT(nfired, 5);
	for (int i = 0; i < 5 && nfired == 5; i++)
		CHECK_EQ_INT(fired[i], 4 - i);

	/* 0 means as soon as possible; a timer armed by a callback and due
	 * now fires in the same run */
	nfired = 0;
	htm_timer_init(&a[0].t, chain);
	htm_timer_init(&again.t, note);
	again.tag = 99;
	htm_timer_arm(&q, &a[0].t, 0);
	CHECK_EQ_U64(htm_timerq_next(&q), 1);
	CHECK_EQ_U64(htm_timerq_run(&q, 10), 2);
	CHECK_EQ_INT(fired[1], 99);
	CHECK(!htm_timer_armed(&again.t));
	CHECK_EQ_U64(htm_timerq_next(&q), 0);

	/* disarming twice, and a timer never armed, is harmless */
	htm_timer_disarm(&q, &a[3].t);
	htm_timer_disarm(&q, &a[3].t);
	CHECK_EQ_U64(q.n, 0);
	htm_timerq_free(&q);
	return check_report();
}
