// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/pathfmt.h"
#include "engine/rules_impl.h"

#define MAX_RULE_FILE (1u << 20)

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct names {
	char **v;
	size_t n, cap;
};

static int collect_json(void *ctx, const char *name)
{
	struct names *ns = ctx;
	size_t len = strlen(name);

	if (len < 6 || strcmp(name + len - 5, ".json") || name[0] == '.')
		return 0;
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 16;
		char **grown = realloc(ns->v, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		ns->v = grown;
		ns->cap = cap;
	}
	if (!(ns->v[ns->n] = strdup(name)))
		return -ENOMEM;
	ns->n++;
	return 0;
}

static int load_file(struct htm_rules *r, struct htm_ruleset *rs, const char *path,
		     char *err, size_t errlen)
{
	struct htm_world *w = r->c->w;
	char *text = NULL;
	size_t len = 0;
	int rr = w->ops->read_file(w, path, MAX_RULE_FILE, &text, &len);

	if (rr < 0) {
		snprintf(err, errlen, "%s: %s", path, rr == -EFBIG ? "over 1 MiB"
			 : rr == -EIO ? "cannot read" : strerror(-rr));
		return rr == -EFBIG ? -EINVAL : rr;
	}
	rr = htm_ruleset_parse(rs, text, len, path, err, errlen);
	free(text);
	return rr;
}

/* Built-ins, then every *.json of the directory in name order. */
int rules_load(struct htm_rules *r, const char *dir, struct htm_ruleset *rs,
	       unsigned *files, char *err, size_t errlen)
{
	struct htm_world *w = r->c->w;
	struct names ns = { 0 };
	char path[600];
	int rr;

	htm_ruleset_init(rs);
	*files = 0;
	rr = htm_ruleset_add_builtin(rs);
	if (rr < 0) {
		snprintf(err, errlen, "built-in rules: %s", strerror(-rr));
		return rr;
	}
	if (!dir[0])
		return 0;
	rr = w->ops->list_dir(w, dir, collect_json, &ns);
	if (rr == -ENOMEM)
		goto out;
	/* no directory: built-ins only */
	rr = 0;
	qsort(ns.v, ns.n, sizeof(*ns.v), name_cmp);
	for (size_t i = 0; i < ns.n && rr == 0; i++) {
		htm_pathf(path, sizeof(path), "%s/%s", dir, ns.v[i]);
		rr = load_file(r, rs, path, err, errlen);
		(*files)++;
	}
out:
	for (size_t i = 0; i < ns.n; i++)
		free(ns.v[i]);
	free(ns.v);
	if (rr < 0)
		htm_ruleset_free(rs);
	return rr;
}

void rules_install(struct htm_rules *r, struct htm_ruleset *rs)
{
	htm_ruleset_free(&r->rules);
	r->rules = *rs;
}

size_t rules_count(const struct htm_rules *r)
{
	return r->rules.n;
}

void rules_emit(struct htm_rules *r, const char *type, int level, cJSON *fields)
{
	cJSON *ev = fields ? fields : cJSON_CreateObject();
	char *text;

	if (!ev)
		return;
	cJSON_AddStringToObject(ev, "type", type);
	cJSON_AddNumberToObject(ev, "seq", (double)++r->seq);
	cJSON_AddNumberToObject(ev, "at", (double)(htm_real(r->c) / 1000000) / 1000.0);
	text = cJSON_PrintUnformatted(ev);
	htm_log(level, "event %s", text ? text : type);
	free(text);
	if (!r->recent)
		r->recent = cJSON_CreateArray();
	if (!r->pending)
		r->pending = cJSON_CreateArray();
	if (!r->recent || !r->pending) {
		cJSON_Delete(ev);
		return;
	}
	/* evaluated at the end of this loop turn */
	if (cJSON_GetArraySize(r->pending) < 100000)
		cJSON_AddItemToArray(r->pending, cJSON_Duplicate(ev, true));
	cJSON_AddItemToArray(r->recent, ev);
	if (cJSON_GetArraySize(r->recent) > HTM_RECENT_EVENTS)
		cJSON_DeleteItemFromArray(r->recent, 0);
}

bool rules_turn(struct htm_rules *r)
{
	bool any = false;
	cJSON *ev;

	/* actions may queue more events: they are taken in the same pass,
	 * depth and storm limits stop a cascade */
	while (r->pending && (ev = cJSON_DetachItemFromArray(r->pending, 0))) {
		rules_evaluate(r, ev);
		cJSON_Delete(ev);
		any = true;
	}
	return any;
}

cJSON *rules_recent_json(struct htm_rules *r)
{
	return r->recent ? cJSON_Duplicate(r->recent, true) : cJSON_CreateArray();
}

cJSON *rules_json(struct htm_rules *r)
{
	cJSON *a = cJSON_CreateArray(), *o;

	for (size_t i = 0; i < r->rules.n; i++) {
		const struct htm_rule *rl = &r->rules.rules[i];

		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", rl->name);
		cJSON_AddStringToObject(o, "description", rl->description);
		cJSON_AddStringToObject(o, "source", rl->source);
		cJSON_AddStringToObject(o, "match", rl->type_glob);
		cJSON_AddNumberToObject(o, "conditions", (double)rl->nconds);
		cJSON_AddStringToObject(o, "action", htm_action_names[rl->kind]);
		cJSON_AddNumberToObject(o, "cooldown_s", (double)rl->cooldown_ns / 1e9);
		cJSON_AddNumberToObject(o, "hits", (double)rl->hits);
		cJSON_AddNumberToObject(o, "fired", (double)rl->fired);
		cJSON_AddNumberToObject(o, "cooled", (double)rl->cooled);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

cJSON *rules_test(struct htm_rules *r, const cJSON *event)
{
	cJSON *o = cJSON_CreateObject(), *action = NULL;
	char target[256], err[256];
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(event,
										 "type"));
	const struct htm_rule *rl;

	if (!type) {
		cJSON_AddNullToObject(o, "rule");
		cJSON_AddStringToObject(o, "why", "the event has no \"type\"");
		return o;
	}
	rl = htm_rules_find(&r->rules, event);
	if (!rl) {
		cJSON_AddNullToObject(o, "rule");
		cJSON_AddStringToObject(o, "why", "no rule matches");
		return o;
	}
	cJSON_AddStringToObject(o, "rule", rl->name);
	cJSON_AddStringToObject(o, "description", rl->description);
	cJSON_AddStringToObject(o, "source", rl->source);
	cJSON_AddStringToObject(o, "action", htm_action_names[rl->kind]);
	if (htm_rule_preview(rl, event, &action, target, sizeof(target), err,
			     sizeof(err)) == 0) {
		cJSON_AddItemToObject(o, "would", action);
		cJSON_AddStringToObject(o, "target", target);
	} else {
		cJSON_AddStringToObject(o, "would_fail", err);
	}
	return o;
}

cJSON *rules_storm_json(struct htm_rules *r)
{
	const struct htm_storm *s = &r->storm;
	const struct htm_storm_config *sc = &r->c->cfg.storm;
	uint64_t now = htm_mono(r->c);
	cJSON *o = cJSON_CreateObject(), *t;

	cJSON_AddBoolToObject(o, "breaker_open", htm_storm_breaker_open(s, now));
	if (htm_storm_breaker_open(s, now))
		cJSON_AddNumberToObject(o, "breaker_closes_in_s",
					(double)(s->open_until - now) / 1e9);
	cJSON_AddNumberToObject(o, "breaker_trips", (double)s->trips);
	cJSON_AddNumberToObject(o, "events_in_window",
				(double)htm_storm_window_count(s, sc, now));
	cJSON_AddNumberToObject(o, "passed", (double)s->passed);
	cJSON_AddNumberToObject(o, "rate_suppressed", (double)s->rate_suppressed);
	cJSON_AddNumberToObject(o, "breaker_suppressed", (double)s->breaker_suppressed);
	cJSON_AddNumberToObject(o, "depth_dropped", (double)s->depth_dropped);
	t = cJSON_AddObjectToObject(o, "suppressed_by_type");
	for (size_t i = 0; i < s->ntypes; i++)
		if (s->types[i].suppressed)
			cJSON_AddNumberToObject(t, s->types[i].name, (double)s->types[i].suppressed);
	return o;
}

static int on_relief(void *data, struct htm_msg *m)
{
	rules_relief(data, m->u.relief_why);
	return 0;
}

int rules_new(struct htm_rules **out, struct htm_ctx *c)
{
	static const enum htm_msg_type facts[] = {
		HTM_MSG_TASK_FINISHED, HTM_MSG_STRESS_CHANGED, HTM_MSG_KERNEL_EVENT,
		HTM_MSG_PSI_TRIGGER, HTM_MSG_SLA_ESCALATED, HTM_MSG_SLA_BREACH,
		HTM_MSG_QUEUE_DEPTH,
	};
	struct htm_rules *r = calloc(1, sizeof(*r));
	int rr = 0;

	if (!r)
		return -ENOMEM;
	r->c = c;
	htm_ruleset_init(&r->rules);
	htm_storm_init(&r->storm);
	LIST_INIT(&r->batches);
	for (size_t i = 0; rr == 0 && i < sizeof(facts) / sizeof(facts[0]); i++)
		rr = htm_bus_subscribe(c->bus, facts[i], rules_on_fact, r);
	if (rr == 0)
		rr = htm_bus_subscribe(c->bus, HTM_MSG_RELIEF, on_relief, r);
	if (rr < 0) {
		free(r);
		return rr;
	}
	*out = r;
	return 0;
}

void rules_free(struct htm_rules *r)
{
	if (!r)
		return;
	rules_batches_free(r);
	htm_ruleset_free(&r->rules);
	cJSON_Delete(r->pending);
	cJSON_Delete(r->recent);
	free(r);
}
