/* SPDX-License-Identifier: MIT */
/* The rules subsystem's own state, shared by its files (rules*.c). */
#ifndef HTM_ENGINE_RULES_IMPL_H
#define HTM_ENGINE_RULES_IMPL_H

#include <sys/queue.h>

#include "core/storm.h"
#include "engine/rules.h"

#define HTM_RECENT_EVENTS 64

struct batch {
	LIST_ENTRY(batch) link;
	struct htm_rules *r;
	char *rule;
	cJSON *action;			/* filled from the first event */
	cJSON *events;
	uint32_t depth;
	struct htm_timer timer;
};

struct htm_rules {
	struct htm_ctx *c;
	struct htm_ruleset rules;
	struct htm_storm storm;
	cJSON *pending;			/* events to evaluate this turn */
	cJSON *recent;			/* the last HTM_RECENT_EVENTS, oldest first */
	uint64_t seq;
	LIST_HEAD(, batch) batches;
	uint64_t last_relief;
};

/* rules_act.c */
void rules_evaluate(struct htm_rules *r, cJSON *ev);
void rules_relief(struct htm_rules *r, const char *why);
void rules_batches_free(struct htm_rules *r);
/* rules_events.c: facts from the bus as policy events */
int rules_on_fact(void *data, struct htm_msg *m);

#endif
