/* SPDX-License-Identifier: MIT */
/*
 * The event policy kernel. Facts from the bus (a task failed, stress
 * changed, a budget breach, a PSI trigger, an SLA escalation or breach,
 * queue depth) and events from outside (`htmctl emit`) become policy
 * events: JSON objects with a type, a sequence number and a time, logged,
 * kept in a short recent list that `top` shows, and evaluated at the end of
 * the loop turn, never inside whatever caused them: the storm safeguards
 * first, then the first matching rule, then its action. Every rule that
 * fires leaves a decision record. Rules load from the built-in set plus
 * every .json file of rules_dir; a reload with any invalid file keeps the
 * old set.
 *
 * Handles: TASK_FINISHED, STRESS_CHANGED, KERNEL_EVENT, PSI_TRIGGER,
 * SLA_ESCALATED, SLA_BREACH, QUEUE_DEPTH, RELIEF.
 * Sends: SUBMIT, KNOB_SET.
 */
#ifndef HTM_ENGINE_RULES_H
#define HTM_ENGINE_RULES_H

#include "core/policy.h"
#include "engine/ctx.h"

struct htm_rules;

int rules_new(struct htm_rules **out, struct htm_ctx *c);
void rules_free(struct htm_rules *r);
/* Built-ins plus dir's files, into rs (validated, not installed). */
int rules_load(struct htm_rules *r, const char *dir, struct htm_ruleset *rs,
	       unsigned *files, char *err, size_t errlen);
/* Install a loaded set (takes it). */
void rules_install(struct htm_rules *r, struct htm_ruleset *rs);
size_t rules_count(const struct htm_rules *r);
/* An event from outside (fields consumed; "type" and "seq" are added). */
void rules_emit(struct htm_rules *r, const char *type, int level, cJSON *fields);
/* Evaluate every event waiting; true if there were any. */
bool rules_turn(struct htm_rules *r);

cJSON *rules_json(struct htm_rules *r);
cJSON *rules_test(struct htm_rules *r, const cJSON *event);
cJSON *rules_storm_json(struct htm_rules *r);
/* The last events, oldest first (a copy). */
cJSON *rules_recent_json(struct htm_rules *r);

#endif
