// SPDX-License-Identifier: MIT
#include <string.h>

#include "fairshare.h"

#define BUCKET_NS (10ull * 1000000000ull)

void htm_fairshare_config_defaults(struct htm_fairshare_config *c)
{
	/* DESIGN.md: 30 / 25 / 15 / 10 / 10 / 5 / 3 / 2 % in origin order */
	static const double shares[HTM_ORIGIN_COUNT] = {
		0.30, 0.25, 0.15, 0.10, 0.10, 0.05, 0.03, 0.02,
	};

	memcpy(c->share, shares, sizeof(shares));
	for (int o = 0; o < HTM_ORIGIN_COUNT; o++)
		c->burst_per_min[o] = 600;
	c->starvation_ns = 30ull * 1000000000ull;
}

void htm_fairshare_init(struct htm_fairshare *fs, uint64_t now_ns)
{
	memset(fs, 0, sizeof(*fs));
	fs->since_ns = now_ns;
}

uint64_t htm_fair_recent_starts(const struct htm_fairshare *fs, enum htm_origin o,
				uint64_t now_ns)
{
	uint64_t n = 0;

	for (int i = 0; i < HTM_BURST_BUCKETS; i++)
		if (fs->o[o].bucket[i] &&
		    now_ns - fs->o[o].bucket_start[i] < HTM_BURST_BUCKETS * BUCKET_NS)
			n += fs->o[o].bucket[i];
	return n;
}

static bool over_burst(const struct htm_fairshare *fs,
		       const struct htm_fairshare_config *c, int o, uint64_t now_ns)
{
	return c->burst_per_min[o] &&
	       htm_fair_recent_starts(fs, o, now_ns) >= c->burst_per_min[o];
}

/* The oldest admissible task of origin o: highest priority first. */
static struct htm_task *origin_head(const struct htm_queue *q, int o,
				    const bool admit[HTM_PRIO_COUNT])
{
	struct htm_task *h;

	for (int p = 0; p < HTM_PRIO_COUNT; p++)
		if (admit[p] && (h = htm_queue_head(q, p, o)))
			return h;
	return NULL;
}

struct htm_task *htm_fair_pick(const struct htm_queue *q, struct htm_fairshare *fs,
			       const struct htm_fairshare_config *c,
			       const bool admit[HTM_PRIO_COUNT], uint64_t now_ns,
			       bool *starving)
{
	struct htm_task *best = NULL, *h;
	double best_load = 0;
	bool any_under_cap = false;

	*starving = false;
	/* 1. an origin nobody served for a window, with a task that waited it */
	for (int o = 0; o < HTM_ORIGIN_COUNT; o++) {
		h = origin_head(q, o, admit);
		if (!h || now_ns - fs->o[o].last_start_ns < c->starvation_ns ||
		    now_ns - h->submitted_mono < c->starvation_ns)
			continue;
		if (!best || h->queue_seq < best->queue_seq)
			best = h;
	}
	if (best) {
		*starving = true;
		return best;
	}
	/* 2. the highest admitted priority with work; fairness among origins */
	for (int p = 0; p < HTM_PRIO_COUNT; p++) {
		if (!admit[p] || !q->len[p])
			continue;
		for (int o = 0; o < HTM_ORIGIN_COUNT; o++)
			if (htm_queue_head(q, p, o) && !over_burst(fs, c, o, now_ns))
				any_under_cap = true;
		for (int o = 0; o < HTM_ORIGIN_COUNT; o++) {
			double load;

			h = htm_queue_head(q, p, o);
			if (!h || (any_under_cap && over_burst(fs, c, o, now_ns)))
				continue;
			load = c->share[o] > 0 ? (double)fs->o[o].running / c->share[o]
					       : 1e18;
			if (!best || load < best_load ||
			    (load == best_load && h->queue_seq < best->queue_seq)) {
				best = h;
				best_load = load;
			}
		}
		return best;
	}
	return NULL;
}

/* busy_since is where the running count last changed (0 is a valid
 * moment on a virtual clock); with nothing running it adds nothing */
static void busy_account(struct htm_fair_origin *fo, uint64_t now_ns)
{
	if (fo->running)
		fo->busy_ns += (uint64_t)fo->running * (now_ns - fo->busy_since);
	fo->busy_since = now_ns;
}

void htm_fair_started(struct htm_fairshare *fs, enum htm_origin o, bool starving,
		      uint64_t now_ns)
{
	struct htm_fair_origin *fo = &fs->o[o];
	uint64_t start = now_ns - now_ns % BUCKET_NS;
	int i = (int)((now_ns / BUCKET_NS) % HTM_BURST_BUCKETS);

	busy_account(fo, now_ns);
	fo->running++;
	fo->started++;
	fo->starved += starving;
	fo->last_start_ns = now_ns;
	if (fo->bucket_start[i] != start) {
		fo->bucket_start[i] = start;
		fo->bucket[i] = 0;
	}
	fo->bucket[i]++;
}

void htm_fair_finished(struct htm_fairshare *fs, enum htm_origin o, uint64_t now_ns)
{
	struct htm_fair_origin *fo = &fs->o[o];

	busy_account(fo, now_ns);
	if (fo->running)
		fo->running--;
}

double htm_fair_utilization(const struct htm_fairshare *fs, enum htm_origin o,
			    unsigned slots, uint64_t now_ns)
{
	const struct htm_fair_origin *fo = &fs->o[o];
	uint64_t busy = fo->busy_ns, span = now_ns - fs->since_ns;

	if (fo->running)
		busy += (uint64_t)fo->running * (now_ns - fo->busy_since);
	return span && slots ? (double)busy / ((double)span * slots) : 0;
}
