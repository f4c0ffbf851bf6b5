/* SPDX-License-Identifier: MIT */
/*
 * Storm safeguards in front of the policy engine: an event type arriving
 * faster than per_type_rate is suppressed (a token bucket per type, burst
 * of one second's worth); more than breaker_events in breaker_window opens
 * a circuit breaker for breaker_open, during which only critical events
 * pass; an event caused by an action carries its depth, and at max_depth
 * the cascade stops. Pure: time is passed in.
 */
#ifndef HTM_CORE_STORM_H
#define HTM_CORE_STORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTM_STORM_TYPES		128	/* distinct types tracked; the rest share one */
#define HTM_STORM_BUCKETS	10	/* the breaker window in tenths */

struct htm_storm_config {
	double per_type_rate;		/* events per second per type */
	uint32_t breaker_events;
	uint64_t breaker_window_ns;
	uint64_t breaker_open_ns;
	uint32_t max_depth;
};

enum htm_storm_verdict {
	HTM_STORM_PASS,
	HTM_STORM_RATE,			/* its type is over the rate */
	HTM_STORM_BREAKER,		/* breaker open, not critical */
	HTM_STORM_DEPTH,		/* cascade too deep */
};

extern const char *const htm_storm_verdict_names[];

struct htm_storm_type {
	char name[48];
	double tokens;
	uint64_t last_ns;
	uint64_t passed, suppressed;
};

struct htm_storm {
	struct htm_storm_type types[HTM_STORM_TYPES];
	size_t ntypes;
	/* events seen per tenth of the breaker window, ring by time */
	uint64_t bucket_count[HTM_STORM_BUCKETS];
	uint64_t bucket_start[HTM_STORM_BUCKETS];
	uint64_t open_until;		/* breaker open while now < this */
	uint64_t trips;
	uint64_t passed, rate_suppressed, breaker_suppressed, depth_dropped;
};

void htm_storm_config_defaults(struct htm_storm_config *c);
void htm_storm_init(struct htm_storm *s);
enum htm_storm_verdict htm_storm_admit(struct htm_storm *s,
				       const struct htm_storm_config *c,
				       const char *type, bool critical,
				       uint32_t depth, uint64_t now_ns);
bool htm_storm_breaker_open(const struct htm_storm *s, uint64_t now_ns);
/* Events counted in the breaker window ending at now. */
uint64_t htm_storm_window_count(const struct htm_storm *s,
				const struct htm_storm_config *c, uint64_t now_ns);

#endif
