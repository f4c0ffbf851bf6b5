// SPDX-License-Identifier: MIT
/*
 * Storm safeguards with an injected clock: a token bucket per event type
 * (a second's worth of burst), a circuit breaker over a sliding window of
 * ten buckets that only critical events pass while open, and the cascade
 * depth limit, with their counters.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/storm.h"

#include "check.h"

#define MS 1000000ull
#define SEC 1000000000ull
/* the clock starts well away from 0, on a whole second */
#define T0 (1000 * SEC)

static struct htm_storm s;
static struct htm_storm_config cfg;

static enum htm_storm_verdict admit(const char *type, bool critical, uint32_t depth,
				    uint64_t now)
{
	return htm_storm_admit(&s, &cfg, type, critical, depth, now);
}

static const struct htm_storm_type *slot(const char *name)
{
	for (size_t i = 0; i < s.ntypes; i++)
		if (strcmp(s.types[i].name, name) == 0)
			return &s.types[i];
	return NULL;
}

/* A config whose breaker never opens, to look at one safeguard alone. */
static void no_breaker(void)
{
	htm_storm_config_defaults(&cfg);
	cfg.breaker_events = 10000000;
}

static void test_defaults(void)
{
	struct htm_storm_config c;

	memset(&c, 0xa5, sizeof(c));
	htm_storm_config_defaults(&c);
	CHECK_EQ_DBL(c.per_type_rate, 100, 0);
	CHECK_EQ_INT(c.breaker_events, 500);
	CHECK_EQ_U64(c.breaker_window_ns, 10 * SEC);
	CHECK_EQ_U64(c.breaker_open_ns, 60 * SEC);
	CHECK_EQ_INT(c.max_depth, 10);

	CHECK_EQ_STR(htm_storm_verdict_names[HTM_STORM_PASS], "pass");
	CHECK_EQ_STR(htm_storm_verdict_names[HTM_STORM_RATE], "rate_limited");
	CHECK_EQ_STR(htm_storm_verdict_names[HTM_STORM_BREAKER], "breaker_open");
	CHECK_EQ_STR(htm_storm_verdict_names[HTM_STORM_DEPTH], "too_deep");
	CHECK(htm_storm_verdict_names[HTM_STORM_DEPTH + 1] == NULL);

	memset(&s, 0xa5, sizeof(s));
	htm_storm_init(&s);
	CHECK_EQ_INT(s.ntypes, 0);
	CHECK_EQ_U64(s.passed, 0);
	CHECK_EQ_U64(s.trips, 0);
	CHECK(!htm_storm_breaker_open(&s, T0));
	CHECK_EQ_U64(htm_storm_window_count(&s, &c, T0), 0);
	/* a fresh storm state at time 0 is not open either */
	CHECK(!htm_storm_breaker_open(&s, 0));
}

/* 100/s per type: a burst of 100 at one instant, then one per 10 ms. */
static void test_rate(void)
{
	int passed = 0;

	no_breaker();
	htm_storm_init(&s);
	for (int i = 0; i < 100; i++)
		passed += admit("sampler.rq", false, 0, T0) == HTM_STORM_PASS;
	CHECK_EQ_INT(passed, 100);
	CHECK_EQ_INT(admit("sampler.rq", false, 0, T0), HTM_STORM_RATE);
	CHECK_EQ_INT(admit("sampler.rq", false, 0, T0 + 5 * MS), HTM_STORM_RATE);
	/* other types have their own buckets */
	CHECK_EQ_INT(admit("psi.trigger", false, 0, T0), HTM_STORM_PASS);
	CHECK_EQ_INT(admit("task.failed", false, 0, T0 + 5 * MS), HTM_STORM_PASS);
	/* 10 ms later one more token: one passes, the next does not */
	CHECK_EQ_INT(admit("sampler.rq", false, 0, T0 + 10 * MS), HTM_STORM_PASS);
	CHECK_EQ_INT(admit("sampler.rq", false, 0, T0 + 10 * MS), HTM_STORM_RATE);
	/* half a token is not enough; the refused arrival did not cost one */
	CHECK_EQ_INT(admit("sampler.rq", false, 0, T0 + 15 * MS), HTM_STORM_RATE);
	CHECK_EQ_INT(admit("sampler.rq", false, 0, T0 + 20 * MS), HTM_STORM_PASS);
	CHECK_EQ_INT(admit("sampler.rq", false, 0, T0 + 20 * MS), HTM_STORM_RATE);

	/* per-type and total counters */
	CHECK(slot("sampler.rq") != NULL);
	if (slot("sampler.rq")) {
		CHECK_EQ_U64(slot("sampler.rq")->passed, 102);
		CHECK_EQ_U64(slot("sampler.rq")->suppressed, 5);
	}
	CHECK(slot("psi.trigger") && slot("psi.trigger")->passed == 1 &&
	      slot("psi.trigger")->suppressed == 0);
	CHECK_EQ_INT(s.ntypes, 3);
	CHECK_EQ_U64(s.passed, 104);
	CHECK_EQ_U64(s.rate_suppressed, 5);
	CHECK_EQ_U64(s.breaker_suppressed, 0);
	CHECK_EQ_U64(s.depth_dropped, 0);

	/* idle for a long time: the bucket holds one second's worth, no more */
	passed = 0;
	for (int i = 0; i < 150; i++)
		passed += admit("sampler.rq", false, 0, T0 + 60 * SEC) == HTM_STORM_PASS;
	CHECK_EQ_INT(passed, 100);

	/* a steady 100/s goes through untouched */
	passed = 0;
	for (int i = 1; i <= 500; i++)
		passed += admit("steady", false, 0, T0 + 70 * SEC + (uint64_t)i * 10 * MS)
			== HTM_STORM_PASS;
	CHECK_EQ_INT(passed, 500);
}

/* Critical events are never rate limited, and take no tokens they lack. */
static void test_rate_critical(void)
{
	no_breaker();
	htm_storm_init(&s);
	for (int i = 0; i < 100; i++)
		admit("queue.depth", false, 0, T0);
	CHECK_EQ_INT(admit("queue.depth", false, 0, T0), HTM_STORM_RATE);
	for (int i = 0; i < 50; i++)
		CHECK_EQ_INT(admit("queue.depth", true, 0, T0), HTM_STORM_PASS);
	/* the bucket is not driven into debt: 10 ms buys one again */
	CHECK_EQ_INT(admit("queue.depth", false, 0, T0 + 10 * MS), HTM_STORM_PASS);
	CHECK_EQ_INT(admit("queue.depth", false, 0, T0 + 10 * MS), HTM_STORM_RATE);
	CHECK_EQ_U64(s.passed, 151);
	CHECK_EQ_U64(s.rate_suppressed, 2);

	/* a critical event with tokens left uses one */
	htm_storm_init(&s);
	CHECK_EQ_INT(admit("x", true, 0, T0), HTM_STORM_PASS);
	for (int i = 0; i < 99; i++)
		CHECK_EQ_INT(admit("x", false, 0, T0), HTM_STORM_PASS);
	CHECK_EQ_INT(admit("x", false, 0, T0), HTM_STORM_RATE);
}

/* A rate under one per second still lets one through (burst of one). */
static void test_slow_rate(void)
{
	no_breaker();
	cfg.per_type_rate = 0.5;
	htm_storm_init(&s);
	CHECK_EQ_INT(admit("slow", false, 0, T0), HTM_STORM_PASS);
	CHECK_EQ_INT(admit("slow", false, 0, T0), HTM_STORM_RATE);
	CHECK_EQ_INT(admit("slow", false, 0, T0 + SEC), HTM_STORM_RATE);
	CHECK_EQ_INT(admit("slow", false, 0, T0 + 2 * SEC), HTM_STORM_PASS);
	CHECK_EQ_INT(admit("slow", false, 0, T0 + 2 * SEC), HTM_STORM_RATE);
	/* never more than one banked */
	CHECK_EQ_INT(admit("slow", false, 0, T0 + 100 * SEC), HTM_STORM_PASS);
	CHECK_EQ_INT(admit("slow", false, 0, T0 + 100 * SEC), HTM_STORM_RATE);
}

/*
 * More than breaker_events in the window opens the breaker for
 * breaker_open: only critical events pass; then it closes.
 */
static void test_breaker(void)
{
	uint64_t t;

	htm_storm_config_defaults(&cfg);
	cfg.per_type_rate = 1e9;	/* no rate limit in the way */
	cfg.breaker_events = 10;
	cfg.breaker_window_ns = SEC;
	cfg.breaker_open_ns = 5 * SEC;
	htm_storm_init(&s);
	for (int i = 0; i < 10; i++)
		CHECK_EQ_INT(admit("e", false, 0, T0 + (uint64_t)i * MS), HTM_STORM_PASS);
	CHECK(!htm_storm_breaker_open(&s, T0 + 10 * MS));
	CHECK_EQ_U64(htm_storm_window_count(&s, &cfg, T0 + 10 * MS), 10);
	CHECK_EQ_U64(s.trips, 0);
	/* the 11th in the window opens it, and is itself held back */
	t = T0 + 10 * MS;
	CHECK_EQ_INT(admit("other", false, 0, t), HTM_STORM_BREAKER);
	CHECK_EQ_U64(s.trips, 1);
	CHECK(htm_storm_breaker_open(&s, t));
	CHECK_EQ_U64(s.open_until, t + 5 * SEC);
	/* critical events still pass */
	CHECK_EQ_INT(admit("e", true, 0, t + MS), HTM_STORM_PASS);
	CHECK_EQ_INT(admit("brand.new", true, 0, t + 2 * MS), HTM_STORM_PASS);
	/* everything else is held for the whole open time */
	CHECK_EQ_INT(admit("e", false, 0, t + 3 * SEC), HTM_STORM_BREAKER);
	CHECK_EQ_INT(admit("quiet.type", false, 0, t + 5 * SEC - 1), HTM_STORM_BREAKER);
	CHECK(htm_storm_breaker_open(&s, t + 5 * SEC - 1));
	/* staying open does not count as new trips */
	CHECK_EQ_U64(s.trips, 1);
	/* then it closes */
	CHECK(!htm_storm_breaker_open(&s, t + 5 * SEC));
	CHECK_EQ_INT(admit("e", false, 0, t + 5 * SEC), HTM_STORM_PASS);
	CHECK_EQ_U64(s.trips, 1);
	CHECK_EQ_U64(s.breaker_suppressed, 3);
	CHECK_EQ_U64(s.passed, 13);
	/* the breaker is not per type: held-back arrivals were not counted
	 * against their type's rate */
	CHECK(slot("quiet.type") == NULL);

	/*
	 * A storm that goes on past the open time trips it again: the two
	 * arrivals of the last moment (one held back, one passed) are in the
	 * window, so 8 more make 10 and the 9th trips it.
	 */
	t += 5 * SEC;
	CHECK_EQ_U64(htm_storm_window_count(&s, &cfg, t), 2);
	for (int i = 1; i <= 8; i++)
		CHECK_EQ_INT(admit("e", false, 0, t + (uint64_t)i * MS), HTM_STORM_PASS);
	CHECK_EQ_U64(s.trips, 1);
	CHECK_EQ_INT(admit("e", false, 0, t + 9 * MS), HTM_STORM_BREAKER);
	CHECK_EQ_U64(s.trips, 2);
	CHECK(htm_storm_breaker_open(&s, t + 10 * MS));
	CHECK_EQ_U64(s.open_until, t + 9 * MS + 5 * SEC);
}

/*
 * The window slides in tenths: arrivals older than the window stop
 * counting, so a storm is "many at once", not "many ever". Every arrival
 * counts, including those the rate limit or the breaker held back.
 */
static void test_window(void)
{
	htm_storm_config_defaults(&cfg);	/* 500 in 10 s, buckets of 1 s */
	cfg.per_type_rate = 1e9;
	htm_storm_init(&s);
	for (int i = 0; i < 300; i++)
		CHECK_EQ_INT(admit("a", false, 0, T0), HTM_STORM_PASS);
	for (int i = 0; i < 200; i++)
		CHECK_EQ_INT(admit("b", false, 0, T0 + 5 * SEC + 500 * MS), HTM_STORM_PASS);
	CHECK_EQ_U64(s.trips, 0);
	CHECK_EQ_U64(htm_storm_window_count(&s, &cfg, T0 + 5 * SEC + 500 * MS), 500);
	CHECK_EQ_U64(htm_storm_window_count(&s, &cfg, T0 + 10 * SEC - 1), 500);
	/* the bucket of T0 is out of the window 10 s after it began */
	CHECK_EQ_U64(htm_storm_window_count(&s, &cfg, T0 + 10 * SEC), 200);
	/* asking does not change anything */
	CHECK_EQ_U64(htm_storm_window_count(&s, &cfg, T0 + 9 * SEC), 500);

	/* 300 more: their ring slot is T0's, reused and started afresh */
	for (int i = 0; i < 300; i++)
		CHECK_EQ_INT(admit("c", false, 0, T0 + 10 * SEC + 500 * MS), HTM_STORM_PASS);
	CHECK_EQ_U64(htm_storm_window_count(&s, &cfg, T0 + 10 * SEC + 500 * MS), 500);
	CHECK_EQ_U64(s.trips, 0);
	CHECK(!htm_storm_breaker_open(&s, T0 + 10 * SEC + 500 * MS));
	/* the 501st within 10 s trips it */
	CHECK_EQ_INT(admit("d", false, 0, T0 + 11 * SEC), HTM_STORM_BREAKER);
	CHECK_EQ_U64(s.trips, 1);
	CHECK_EQ_U64(s.open_until, T0 + 71 * SEC);
	/* later the middle bucket leaves the window too */
	CHECK_EQ_U64(htm_storm_window_count(&s, &cfg, T0 + 15 * SEC + 500 * MS), 301);
	CHECK_EQ_U64(htm_storm_window_count(&s, &cfg, T0 + 21 * SEC), 0);

	/* arrivals the rate limit held back count toward the breaker */
	htm_storm_config_defaults(&cfg);
	cfg.per_type_rate = 1;
	cfg.breaker_events = 5;
	cfg.breaker_window_ns = SEC;
	htm_storm_init(&s);
	CHECK_EQ_INT(admit("r", false, 0, T0), HTM_STORM_PASS);
	for (int i = 0; i < 4; i++)
		CHECK_EQ_INT(admit("r", false, 0, T0), HTM_STORM_RATE);
	CHECK_EQ_U64(s.trips, 0);
	CHECK_EQ_INT(admit("r", false, 0, T0), HTM_STORM_BREAKER);
	CHECK_EQ_U64(s.trips, 1);
	CHECK_EQ_U64(htm_storm_window_count(&s, &cfg, T0), 6);
	/* and so do those the breaker held back */
	CHECK_EQ_INT(admit("r", false, 0, T0 + MS), HTM_STORM_BREAKER);
	CHECK_EQ_U64(htm_storm_window_count(&s, &cfg, T0 + MS), 7);
}

/* Depth: an event max_depth actions deep is dropped, critical or not. */
static void test_depth(void)
{
	no_breaker();
	htm_storm_init(&s);
	CHECK_EQ_INT(admit("task.failed", false, 0, T0), HTM_STORM_PASS);
	CHECK_EQ_INT(admit("task.failed", false, 9, T0), HTM_STORM_PASS);
	CHECK_EQ_INT(admit("task.failed", false, 10, T0), HTM_STORM_DEPTH);
	CHECK_EQ_INT(admit("task.failed", false, 11, T0), HTM_STORM_DEPTH);
	CHECK_EQ_INT(admit("task.failed", true, 10, T0), HTM_STORM_DEPTH);
	CHECK_EQ_INT(admit("task.failed", false, UINT32_MAX, T0), HTM_STORM_DEPTH);
	CHECK_EQ_U64(s.depth_dropped, 4);
	CHECK_EQ_U64(s.passed, 2);
	/* dropped events count toward neither the breaker nor their type */
	CHECK_EQ_U64(htm_storm_window_count(&s, &cfg, T0), 2);
	CHECK(slot("task.failed") && slot("task.failed")->passed == 2 &&
	      slot("task.failed")->suppressed == 0);
	/* depth is checked before anything else, even an open breaker */
	cfg.breaker_events = 1;
	CHECK_EQ_INT(admit("x", false, 0, T0), HTM_STORM_BREAKER);
	CHECK(htm_storm_breaker_open(&s, T0));
	CHECK_EQ_INT(admit("x", false, 10, T0), HTM_STORM_DEPTH);
	CHECK_EQ_U64(s.breaker_suppressed, 1);
	CHECK_EQ_U64(s.depth_dropped, 5);

	/* another limit */
	no_breaker();
	cfg.max_depth = 3;
	htm_storm_init(&s);
	CHECK_EQ_INT(admit("x", false, 2, T0), HTM_STORM_PASS);
	CHECK_EQ_INT(admit("x", false, 3, T0), HTM_STORM_DEPTH);
}

/* Every arrival lands in exactly one counter. */
static void test_counters(void)
{
	uint64_t n[4] = { 0 };

	htm_storm_config_defaults(&cfg);
	cfg.per_type_rate = 10;
	cfg.breaker_events = 100;
	cfg.breaker_window_ns = SEC;
	cfg.breaker_open_ns = SEC;
	htm_storm_init(&s);
	for (int i = 0; i < 1000; i++) {
		char type[16];
		enum htm_storm_verdict v;

		snprintf(type, sizeof(type), "t%d", i % 7);
		v = admit(type, i % 50 == 0, (uint32_t)(i % 13), T0 + (uint64_t)i * 3 * MS);
		CHECK(v <= HTM_STORM_DEPTH);
		if (v <= HTM_STORM_DEPTH)
			n[v]++;
	}
	CHECK_EQ_U64(n[0] + n[1] + n[2] + n[3], 1000);
	CHECK_EQ_U64(s.passed, n[HTM_STORM_PASS]);
	CHECK_EQ_U64(s.rate_suppressed, n[HTM_STORM_RATE]);
	CHECK_EQ_U64(s.breaker_suppressed, n[HTM_STORM_BREAKER]);
	CHECK_EQ_U64(s.depth_dropped, n[HTM_STORM_DEPTH]);
	/* every kind happened */
	CHECK(n[HTM_STORM_PASS] > 0);
	CHECK(n[HTM_STORM_RATE] > 0);
	CHECK(n[HTM_STORM_BREAKER] > 0);
	CHECK(n[HTM_STORM_DEPTH] > 0);
	CHECK(s.trips > 0);
	/* the per-type counters add up to the totals they belong to */
	{
		uint64_t p = 0, r = 0;

		for (size_t i = 0; i < s.ntypes; i++) {
			p += s.types[i].passed;
			r += s.types[i].suppressed;
		}
		CHECK_EQ_U64(p, s.passed);
		CHECK_EQ_U64(r, s.rate_suppressed);
	}
}

/*
 * 128 types are tracked; the 128th distinct type and every one after it
 * share the last slot, "(other)", and its bucket.
 */
static void test_type_overflow(void)
{
	char type[32];

	no_breaker();
	cfg.per_type_rate = 1;	/* a bucket of one */
	htm_storm_init(&s);
	for (int i = 0; i < HTM_STORM_TYPES - 1; i++) {
		snprintf(type, sizeof(type), "type.%d", i);
		CHECK_EQ_INT(admit(type, false, 0, T0), HTM_STORM_PASS);
	}
	CHECK_EQ_INT(s.ntypes, HTM_STORM_TYPES - 1);
	CHECK_EQ_STR(s.types[HTM_STORM_TYPES - 2].name, "type.126");
	/* each still has its own (now empty) bucket */
	CHECK_EQ_INT(admit("type.5", false, 0, T0), HTM_STORM_RATE);
	CHECK_EQ_INT(admit("type.126", false, 0, T0), HTM_STORM_RATE);

	CHECK_EQ_INT(admit("type.127", false, 0, T0), HTM_STORM_PASS);
	CHECK_EQ_INT(s.ntypes, HTM_STORM_TYPES);
	CHECK_EQ_STR(s.types[HTM_STORM_TYPES - 1].name, "(other)");
	/* the rest share it: its one token is spent */
	CHECK_EQ_INT(admit("type.128", false, 0, T0), HTM_STORM_RATE);
	CHECK_EQ_INT(admit("another", false, 0, T0), HTM_STORM_RATE);
	CHECK_EQ_INT(admit("type.127", false, 0, T0), HTM_STORM_RATE);
	CHECK_EQ_INT(s.ntypes, HTM_STORM_TYPES);
	/* a second later one of them gets through, then the shared bucket is dry */
	CHECK_EQ_INT(admit("yet.another", false, 0, T0 + SEC), HTM_STORM_PASS);
	CHECK_EQ_INT(admit("type.128", false, 0, T0 + SEC), HTM_STORM_RATE);
	/* tracked types are unaffected */
	CHECK_EQ_INT(admit("type.0", false, 0, T0 + SEC), HTM_STORM_PASS);
	CHECK_EQ_INT(admit("type.1", false, 0, T0 + SEC), HTM_STORM_PASS);
	CHECK_EQ_U64(s.types[HTM_STORM_TYPES - 1].passed, 2);
	CHECK_EQ_U64(s.types[HTM_STORM_TYPES - 1].suppressed, 4);
	CHECK_EQ_INT(s.ntypes, HTM_STORM_TYPES);
	/* critical events of untracked types still pass */
	CHECK_EQ_INT(admit("type.999", true, 0, T0 + SEC), HTM_STORM_PASS);
	CHECK_EQ_U64(s.types[HTM_STORM_TYPES - 1].passed, 3);
}

int main(void)
{
	test_defaults();
	test_rate();
	test_rate_critical();
	test_slow_rate();
	test_breaker();
	test_window();
	test_depth();
	test_counters();
	test_type_overflow();
	return check_report();
}
