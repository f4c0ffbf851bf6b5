// SPDX-License-Identifier: MIT
#include <string.h>

#include "storm.h"

const char *const htm_storm_verdict_names[] = {
	"pass", "rate_limited", "breaker_open", "too_deep", NULL,
};

void htm_storm_config_defaults(struct htm_storm_config *c)
{
	c->per_type_rate = 100;
	c->breaker_events = 500;
	c->breaker_window_ns = 10ull * 1000000000ull;
	c->breaker_open_ns = 60ull * 1000000000ull;
	c->max_depth = 10;
}

void htm_storm_init(struct htm_storm *s)
{
	memset(s, 0, sizeof(*s));
}

static struct htm_storm_type *type_slot(struct htm_storm *s, const char *type)
{
	struct htm_storm_type *t;

	for (size_t i = 0; i < s->ntypes; i++)
		if (strncmp(s->types[i].name, type, sizeof(t->name) - 1) == 0)
			return &s->types[i];
	if (s->ntypes == HTM_STORM_TYPES)
		return &s->types[HTM_STORM_TYPES - 1];	/* the shared "other" */
	t = &s->types[s->ntypes++];
	strncpy(t->name, s->ntypes == HTM_STORM_TYPES ? "(other)" : type,
		sizeof(t->name) - 1);
	t->tokens = -1;	/* full on first use */
	return t;
}

static uint64_t bucket_len(const struct htm_storm_config *c)
{
	uint64_t len = c->breaker_window_ns / HTM_STORM_BUCKETS;

	return len ? len : 1;
}

uint64_t htm_storm_window_count(const struct htm_storm *s,
				const struct htm_storm_config *c, uint64_t now_ns)
{
	uint64_t total = 0;

	for (int i = 0; i < HTM_STORM_BUCKETS; i++)
		if (s->bucket_count[i] && now_ns - s->bucket_start[i] < c->breaker_window_ns)
			total += s->bucket_count[i];
	return total;
}

static void window_add(struct htm_storm *s, const struct htm_storm_config *c,
		       uint64_t now_ns)
{
	uint64_t len = bucket_len(c), start = now_ns - now_ns % len;
	int i = (int)((now_ns / len) % HTM_STORM_BUCKETS);

	if (s->bucket_start[i] != start) {
		s->bucket_start[i] = start;
		s->bucket_count[i] = 0;
	}
	s->bucket_count[i]++;
}

bool htm_storm_breaker_open(const struct htm_storm *s, uint64_t now_ns)
{
	return now_ns < s->open_until;
}

enum htm_storm_verdict htm_storm_admit(struct htm_storm *s,
				       const struct htm_storm_config *c,
				       const char *type, bool critical,
				       uint32_t depth, uint64_t now_ns)
{
	struct htm_storm_type *t;
	double burst = c->per_type_rate > 1 ? c->per_type_rate : 1;

	if (depth >= c->max_depth) {
		s->depth_dropped++;
		return HTM_STORM_DEPTH;
	}
	/* every arrival counts toward the breaker, suppressed or not: a storm
	 * is what arrives, not what gets through */
	window_add(s, c, now_ns);
	if (!htm_storm_breaker_open(s, now_ns) &&
	    htm_storm_window_count(s, c, now_ns) > c->breaker_events) {
		s->open_until = now_ns + c->breaker_open_ns;
		s->trips++;
	}
	if (htm_storm_breaker_open(s, now_ns) && !critical) {
		s->breaker_suppressed++;
		return HTM_STORM_BREAKER;
	}
	t = type_slot(s, type);
	if (t->tokens < 0) {
		t->tokens = burst;
	} else {
		t->tokens += c->per_type_rate * (double)(now_ns - t->last_ns) / 1e9;
		if (t->tokens > burst)
			t->tokens = burst;
	}
	t->last_ns = now_ns;
	if (t->tokens < 1 && !critical) {
		t->suppressed++;
		s->rate_suppressed++;
		return HTM_STORM_RATE;
	}
	if (t->tokens >= 1)
		t->tokens -= 1;
	t->passed++;
	s->passed++;
	return HTM_STORM_PASS;
}
