/* SPDX-License-Identifier: MIT */
/*
 * The event policy kernel: rules match an event (a JSON object with a
 * "type") by a glob on its type and conditions on its fields, and name one
 * action. Rules are tried in order and the first match decides. An action
 * is JSON with ${field} placeholders filled from the event when it fires;
 * a per-target cooldown keeps one rule from acting on the same thing again
 * too soon. Pure: parsing, matching and cooldowns take time as an argument.
 *
 *   { "name": "...", "description": "...",
 *     "match": { "type": "sampler.*",
 *                "fields": { "priority": { "==": "critical" },
 *                            "wait_us": { ">": 5000 },
 *                            "comm": { "in": ["java", "node"] },
 *                            "cgroup": { "exists": true } } },
 *     "action": { "do": "enqueue" | "throttle" | "protect" | "escalate" |
 *                       "batch" | "relief" | "log", ... },
 *     "cooldown": "5m", "target": "${cgroup}" }
 */
#ifndef HTM_CORE_POLICY_H
#define HTM_CORE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

enum htm_action_kind {
	HTM_ACT_ENQUEUE,
	HTM_ACT_THROTTLE,
	HTM_ACT_PROTECT,
	HTM_ACT_ESCALATE,
	HTM_ACT_BATCH,
	HTM_ACT_RELIEF,
	HTM_ACT_LOG,
	HTM_ACT_COUNT,
};

extern const char *const htm_action_names[];

enum htm_cond_op { HTM_OP_EQ, HTM_OP_NE, HTM_OP_LT, HTM_OP_GT, HTM_OP_IN,
		   HTM_OP_EXISTS, HTM_OP_COUNT };

struct htm_cond {
	char *field;
	enum htm_cond_op op;
	cJSON *value;			/* owned copy */
};

#define HTM_COOLDOWN_SLOTS 64

struct htm_cooldown {
	char *target;
	uint64_t last_ns;
};

struct htm_rule {
	char *name, *description, *source;
	char *type_glob;
	struct htm_cond *conds;
	size_t nconds;
	enum htm_action_kind kind;
	cJSON *action;			/* owned; templates unfilled */
	uint64_t cooldown_ns;
	char *target;			/* template; NULL: the rule name */
	uint64_t window_ns;		/* batch */
	/* runtime */
	uint64_t hits, fired, cooled;
	struct htm_cooldown cool[HTM_COOLDOWN_SLOTS];
};

struct htm_ruleset {
	struct htm_rule *rules;
	size_t n, cap;
};

void htm_ruleset_init(struct htm_ruleset *rs);
void htm_ruleset_free(struct htm_ruleset *rs);
/* The defaults of DESIGN.md; a file rule of the same name replaces one. */
int htm_ruleset_add_builtin(struct htm_ruleset *rs);
/*
 * Parse one rules file ({"rules": [...]}) and add its rules. On error
 * -EINVAL, "<source>: $.rules[2].match.fields.x: <why>" in err, and rs
 * unchanged.
 */
int htm_ruleset_parse(struct htm_ruleset *rs, const char *text, size_t len,
		      const char *source, char *err, size_t errlen);

/* The first rule matching the event, or NULL. Counts the hit. */
struct htm_rule *htm_rules_match(struct htm_ruleset *rs, const cJSON *event);
/* The same without counting anything (rules test). */
struct htm_rule *htm_rules_find(const struct htm_ruleset *rs, const cJSON *event);

/*
 * Fire a matched rule: the action with ${field}s filled from the event.
 * -EAGAIN while the rule is cooling down for this event's target (target
 * names it either way); -ENOENT with the field in err when a placeholder
 * has no field in the event. Updates the cooldown and counters on success.
 */
int htm_rule_fire(struct htm_rule *r, const cJSON *event, uint64_t now_ns,
		  cJSON **action, char *target, size_t tlen, char *err,
		  size_t errlen);
/* Describe what firing would do, without counting or cooling (rules test). */
int htm_rule_preview(const struct htm_rule *r, const cJSON *event,
		     cJSON **action, char *target, size_t tlen, char *err,
		     size_t errlen);

/* ${field} filled from event; NULL with the missing field in err. */
char *htm_template_fill(const char *tmpl, const cJSON *event, char *err,
			size_t errlen);

#endif
