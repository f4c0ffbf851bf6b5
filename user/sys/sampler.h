/* SPDX-License-Identifier: MIT */
/*
 * Loading, attaching, pinning and reading bpf/sampler.bpf.c through its
 * skeleton. Optional programs are switched off by feature probes against
 * the running kernel's BTF (bpf_program__set_autoload), never by failing
 * to load.
 */
#ifndef HTM_SYS_SAMPLER_H
#define HTM_SYS_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "htm/sampler.h"
#include "world.h"	/* struct htm_sampler_info */

struct htm_sampler;

struct htm_sampler_opts {
	const char *pin_dir;		/* NULL or "": do not pin */
	uint64_t breach_interval_ns;	/* kernel rate limit per cgroup */
	int wait_clock;			/* enum htm_runqueue_clock */
	/* Called for each ring-buffer record from htm_sampler_consume. */
	void (*on_event)(void *ctx, const struct htm_event *e);
	void *ctx;
};


/* Open, probe, load, attach, pin. On failure a negative errno and, in
 * why, what failed (libbpf's detail went to the log). */
int htm_sampler_new(struct htm_sampler **out, const struct htm_sampler_opts *o,
		    char *why, size_t whylen);
/* Detach and remove the pins. */
void htm_sampler_free(struct htm_sampler *s);
const struct htm_sampler_info *htm_sampler_info(const struct htm_sampler *s);

/* Start or stop tracking a cgroup; track again to change its budget. */
int htm_sampler_track(struct htm_sampler *s, uint64_t cgid, uint64_t budget_ns);
int htm_sampler_untrack(struct htm_sampler *s, uint64_t cgid);

/*
 * Cumulative totals, summed over CPUs, read with batched map lookups:
 * cb once per tracked cgroup, *all gets the system-wide summary. The time
 * each CPU has spent in its current task so far is included.
 */
int htm_sampler_read(struct htm_sampler *s,
		     void (*cb)(void *ctx, uint64_t cgid,
				const struct htm_cg_stats *t),
		     void *ctx, struct htm_cg_stats *all);

/* One cgroup's totals (with its running time so far). */
int htm_sampler_read_one(struct htm_sampler *s, uint64_t cgid,
			 struct htm_cg_stats *out);

/* Pollable fd of the event ring buffer, and draining it. */
int htm_sampler_events_fd(const struct htm_sampler *s);
int htm_sampler_consume(struct htm_sampler *s);

#endif
