/* SPDX-License-Identifier: MIT */
/* What a task used: the sampler's counters for its cgroup and the delay
 * accounting of its main process. Pure data. */
#ifndef HTM_CORE_USAGE_H
#define HTM_CORE_USAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "htm/sampler.h"

/* Per-thread delay accounting (taskstats). */
struct htm_delays {
	uint64_t cpu_ns, cpu_count;
	uint64_t blkio_ns, blkio_count;
	uint64_t swapin_ns, swapin_count;
	uint64_t reclaim_ns, reclaim_count;	/* freepages: direct reclaim */
	uint64_t thrashing_ns, thrashing_count;
	uint64_t run_ns;			/* actual time on CPU */
};

struct htm_task_usage {
	bool valid;			/* totals hold a final reading */
	struct htm_cg_stats totals;	/* cumulative since it started */
	double cpu_pct;			/* last period */
	double rq_p50_us, rq_p90_us, rq_p99_us;	/* last period */
	bool has_delays;
	struct htm_delays delays;	/* main process, at exit for finished tasks */
};

#endif
