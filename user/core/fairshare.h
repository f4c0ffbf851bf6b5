/* SPDX-License-Identifier: MIT */
/*
 * Admission with origin fair share. Each origin (user_request, intent, ...)
 * has a share of the run slots; the next slot goes to
 *   1. an origin with queued work that got no slot for starvation_ns while
 *      its oldest task waited that long (anti-starvation), else
 *   2. among origins with work at the highest admitted priority, the one
 *      furthest below its share (running / share), skipping origins that
 *      used their burst cap of starts in the last minute while others wait;
 *      ties go to the oldest task.
 * Work-conserving: an origin may use more than its share when nobody else
 * waits. Pure: time is passed in.
 */
#ifndef HTM_CORE_FAIRSHARE_H
#define HTM_CORE_FAIRSHARE_H

#include <stdbool.h>
#include <stdint.h>

#include "queue.h"

#define HTM_BURST_BUCKETS 6		/* the last minute in 10 s steps */

struct htm_fairshare_config {
	double share[HTM_ORIGIN_COUNT];		/* fractions, summing to ~1 */
	uint32_t burst_per_min[HTM_ORIGIN_COUNT]; /* starts per minute; 0: no cap */
	uint64_t starvation_ns;
};

struct htm_fair_origin {
	uint32_t running;
	uint64_t started, starved;
	uint64_t last_start_ns;
	uint64_t bucket[HTM_BURST_BUCKETS];
	uint64_t bucket_start[HTM_BURST_BUCKETS];
	uint64_t busy_ns, busy_since;	/* slot time used, accounted at changes */
};

struct htm_fairshare {
	struct htm_fair_origin o[HTM_ORIGIN_COUNT];
	uint64_t since_ns;
};

void htm_fairshare_config_defaults(struct htm_fairshare_config *c);
void htm_fairshare_init(struct htm_fairshare *fs, uint64_t now_ns);

/*
 * The task to admit next (not removed from q), or NULL. admit[p] says
 * whether priority p may start now. *starving is set when anti-starvation
 * chose it.
 */
struct htm_task *htm_fair_pick(const struct htm_queue *q, struct htm_fairshare *fs,
			       const struct htm_fairshare_config *c,
			       const bool admit[HTM_PRIO_COUNT], uint64_t now_ns,
			       bool *starving);
void htm_fair_started(struct htm_fairshare *fs, enum htm_origin o, bool starving,
		      uint64_t now_ns);
void htm_fair_finished(struct htm_fairshare *fs, enum htm_origin o, uint64_t now_ns);
/* Starts by this origin within the last minute. */
uint64_t htm_fair_recent_starts(const struct htm_fairshare *fs, enum htm_origin o,
				uint64_t now_ns);
/* Share of all slot time since init this origin used, 0..1. */
double htm_fair_utilization(const struct htm_fairshare *fs, enum htm_origin o,
			    unsigned slots, uint64_t now_ns);

#endif
