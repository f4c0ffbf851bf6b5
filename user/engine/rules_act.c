// SPDX-License-Identifier: MIT
/* What a rule does when it fires, and the storm safeguards in front. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/duration.h"
#include "core/log.h"
#include "core/pathfmt.h"
#include "core/proto.h"
#include "core/schema.h"
#include "engine/rules_impl.h"

static const char *str(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static uint64_t dur(const cJSON *o, const char *k)
{
	uint64_t ns = 0;
	const char *s = str(o, k);

	if (s)
		(void)htm_duration_parse(s, &ns);
	return ns;
}

/* A task from an action's fields: rule-made tasks run as root unless the
 * rule names a user. */
static struct htm_task *task_from_action(struct htm_rules *r, const cJSON *a,
					 const char *rule, uint32_t depth,
					 enum htm_origin origin)
{
	struct htm_ctx *c = r->c;
	const cJSON *argv = cJSON_GetObjectItemCaseSensitive(a, "argv"), *x;
	struct htm_task *t;
	uint32_t uid, gid;
	int i = 0, e;
	char name[96];

	t = tasks_create(c);
	if (!t)
		return NULL;
	t->argv = calloc((size_t)(argv ? cJSON_GetArraySize(argv) : 1) + 1, sizeof(char *));
	if (!t->argv)
		goto fail;
	if (argv) {
		cJSON_ArrayForEach(x, argv)
			if (!(t->argv[i++] = strdup(x->valuestring)))
				goto fail;
	} else if (!(t->argv[0] = strdup("true"))) {
		goto fail;
	}
	snprintf(name, sizeof(name), "%s", str(a, "name") ? str(a, "name") : rule);
	t->name = strdup(name);
	if (!t->name)
		goto fail;
	if ((e = htm_name_lookup(htm_priority_names, str(a, "priority"))) >= 0)
		t->priority = e;
	e = htm_name_lookup(htm_origin_names, str(a, "origin"));
	t->origin = e >= 0 ? (enum htm_origin)e : origin;
	if ((e = htm_name_lookup(htm_risk_names, str(a, "risk"))) >= 0)
		t->risk = e;
	t->sla_ns = dur(a, "sla");
	t->timeout_ns = dur(a, "timeout");
	t->depth = depth;
	t->submitted_mono = htm_mono(c);
	if (str(a, "user") &&
	    c->w->ops->user_lookup(c->w, str(a, "user"), &uid, &gid) == 0) {
		t->uid = uid;
		t->gid = gid;
	}
	t->submitted_at = htm_real(c);
	return t;
fail:
	tasks_drop(c, t);
	return NULL;
}

static int submit_from_rule(struct htm_rules *r, struct htm_task *t,
			    const char *rule, char *out, size_t outlen)
{
	struct htm_msg m = { .type = HTM_MSG_SUBMIT };
	uint64_t dup = 0;
	char actor[96];
	int rr;

	snprintf(actor, sizeof(actor), "rule:%s", rule);
	m.u.submit.task = t;
	m.u.submit.who = htm_who(0, actor);
	m.u.submit.dup = &dup;
	rr = htm_bus_send(r->c->bus, &m);
	if (rr < 0) {
		if (rr == -EEXIST)
			snprintf(out, outlen, "duplicate of task %llu", (unsigned long long)dup);
		else
			snprintf(out, outlen, "%s", strerror(-rr));
		tasks_drop(r->c, t);
		return rr;
	}
	snprintf(out, outlen, "task %llu %s", (unsigned long long)t->id,
		 htm_state_names[t->state]);
	return 0;
}

static uint64_t parse_bytes(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	const char *units = "KMGT";
	const char *u = *end ? strchr(units, *end) : NULL;

	for (int i = 0; u && i <= u - units; i++)
		v *= 1024;
	/* a filled ${...} was not checked at load: never cast out of range */
	return isfinite(v) && v >= 0 && v < 18446744073709549568.0 ? (uint64_t)v : 0;
}

static void batch_fire(struct htm_timer *timer);

static int act_batch(struct htm_rules *r, struct htm_rule *rl, cJSON *action,
		     const cJSON *event, uint32_t depth, char *out, size_t outlen)
{
	struct batch *b;

	LIST_FOREACH(b, &r->batches, link)
		if (!strcmp(b->rule, rl->name))
			break;
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b || !(b->rule = strdup(rl->name)) || !(b->events = cJSON_CreateArray())) {
			if (b)
				free(b->rule);
			free(b);
			cJSON_Delete(action);
			return -ENOMEM;
		}
		b->r = r;
		b->action = action;
		b->depth = depth;
		htm_timer_init(&b->timer, batch_fire);
		htm_arm(r->c, &b->timer, htm_mono(r->c) + rl->window_ns);
		LIST_INSERT_HEAD(&r->batches, b, link);
	} else {
		cJSON_Delete(action);
	}
	cJSON_AddItemToArray(b->events, cJSON_Duplicate(event, true));
	snprintf(out, outlen, "collected (%d in this window)", cJSON_GetArraySize(b->events));
	return 0;
}

static void batch_free(struct batch *b)
{
	cJSON_Delete(b->action);
	cJSON_Delete(b->events);
	free(b->rule);
	free(b);
}

/* The window closed: the events go to a file, one task handles them all. */
static void batch_fire(struct htm_timer *timer)
{
	struct batch *b = htm_container_of(timer, struct batch, timer);
	struct htm_rules *r = b->r;
	struct htm_ctx *c = r->c;
	char path[PATH_MAX], out[128], err[128];
	cJSON *vars = cJSON_CreateObject(), *filled = NULL, *x;
	struct htm_task *t;
	char *text = cJSON_Print(b->events);
	int rr;

	LIST_REMOVE(b, link);
	htm_pathf(path, sizeof(path), "%s/batches/%s-%llu.json", c->cfg.state_dir,
		  b->rule, (unsigned long long)(htm_real(c) / 1000000));
	rr = text ? c->w->ops->write_file(c->w, path, text) : -ENOMEM;
	if (rr < 0) {
		htm_log(LOG_ERR, "batch %s: writing %s: %s", b->rule, path, strerror(-rr));
		goto out;
	}
	/* the task's strings may name the batch: ${batch_file}, ${batch_count} */
	cJSON_AddStringToObject(vars, "batch_file", path);
	cJSON_AddNumberToObject(vars, "batch_count", cJSON_GetArraySize(b->events));
	cJSON_AddStringToObject(vars, "rule", b->rule);
	filled = cJSON_Duplicate(b->action, true);
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(filled, "argv")) {
		char *s = htm_template_fill(x->valuestring, vars, err, sizeof(err));

		if (s) {
			cJSON_SetValuestring(x, s);
			free(s);
		}
	}
	t = task_from_action(r, filled, b->rule, b->depth + 1, HTM_ORIGIN_REMEDIATION);
	if (t && submit_from_rule(r, t, b->rule, out, sizeof(out)) == 0)
		htm_log(LOG_INFO, "batch %s: %d events in %s -> %s", b->rule,
			cJSON_GetArraySize(b->events), path, out);
out:
	free(text);
	cJSON_Delete(vars);
	cJSON_Delete(filled);
	batch_free(b);
}

void rules_batches_free(struct htm_rules *r)
{
	struct batch *b;

	while ((b = LIST_FIRST(&r->batches))) {
		LIST_REMOVE(b, link);
		htm_disarm(r->c, &b->timer);
		batch_free(b);
	}
}

static int act_relief(struct htm_rules *r, const char *rule, uint32_t depth,
		      char *out, size_t outlen)
{
	struct htm_ctx *c = r->c;
	uint64_t now = htm_mono(c);
	cJSON *a;
	struct htm_task *t;
	int rr;

	if (!c->cfg.relief_command[0]) {
		snprintf(out, outlen, "no relief_command configured");
		return 0;
	}
	if (r->last_relief && now - r->last_relief < c->cfg.relief_interval_ns) {
		snprintf(out, outlen, "relief ran %llus ago; at most one per %llus",
			 (unsigned long long)((now - r->last_relief) / 1000000000ull),
			 (unsigned long long)(c->cfg.relief_interval_ns / 1000000000ull));
		return 0;
	}
	a = cJSON_CreateObject();
	cJSON_AddItemToObject(a, "argv", cJSON_CreateStringArray(
		(const char *[]){ "/bin/sh", "-c", c->cfg.relief_command }, 3));
	cJSON_AddStringToObject(a, "name", "relief");
	cJSON_AddStringToObject(a, "priority", "critical");
	t = task_from_action(r, a, rule, depth + 1, HTM_ORIGIN_INTERNAL);
	cJSON_Delete(a);
	if (!t)
		return -ENOMEM;
	rr = submit_from_rule(r, t, rule, out, outlen);
	if (rr == 0)
		r->last_relief = now;
	return rr;
}

void rules_relief(struct htm_rules *r, const char *why)
{
	char out[256];

	if (act_relief(r, "governor", 0, out, sizeof(out)) == 0)
		htm_log(LOG_NOTICE, "relief (%s): %s", why, out);
}

static int knob(struct htm_rules *r, const cJSON *action, const char *file,
		const char *value, const char *why, const char *actor)
{
	struct htm_msg m = { .type = HTM_MSG_KNOB_SET };

	m.u.knob.cg = str(action, "cgroup");
	m.u.knob.file = file;
	m.u.knob.value = value;
	m.u.knob.for_ns = dur(action, "for");
	m.u.knob.why = why;
	m.u.knob.who = htm_who(0, actor);
	return htm_bus_send(r->c->bus, &m);
}

static int act(struct htm_rules *r, struct htm_rule *rl, cJSON *action,
	       const cJSON *event, const char *target, uint32_t depth, char *out,
	       size_t outlen)
{
	struct htm_task *t;
	char why[160], val[64], actor[96];
	int rr;

	snprintf(why, sizeof(why), "rule %s", rl->name);
	snprintf(actor, sizeof(actor), "rule:%s", rl->name);
	switch (rl->kind) {
	case HTM_ACT_ENQUEUE:
		t = task_from_action(r, action, rl->name, depth + 1, HTM_ORIGIN_REMEDIATION);
		if (t)	/* what it acts on: dedupe and audit tell targets apart */
			t->target = strdup(target);
		rr = t ? submit_from_rule(r, t, rl->name, out, outlen) : -ENOMEM;
		break;
	case HTM_ACT_ESCALATE:
		t = task_from_action(r, action, rl->name, depth + 1, HTM_ORIGIN_HUNTER_ALERT);
		if (t) {
			t->target = strdup(target);
			t->requires_approval = true;
			if (htm_name_lookup(htm_risk_names, str(action, "risk")) < 0)
				t->risk = HTM_RISK_HIGH;
			t->reason = strdup(str(action, "message"));
			if (!str(action, "name")) {
				free(t->name);
				t->name = strdup(actor);
			}
		}
		rr = t ? submit_from_rule(r, t, rl->name, out, outlen) : -ENOMEM;
		break;
	case HTM_ACT_THROTTLE:
		/* cpu.max is quota and period: "20%" of one CPU per 100 ms */
		snprintf(val, sizeof(val), "%llu 100000",
			 (unsigned long long)(strtod(str(action, "cpu_max"), NULL) * 1000));
		rr = knob(r, action, "cpu.max", val, why, actor);
		snprintf(out, outlen, "%s/cpu.max = %s: %s", str(action, "cgroup"), val,
			 rr < 0 ? strerror(-rr) : "done");
		break;
	case HTM_ACT_PROTECT:
		snprintf(val, sizeof(val), "%llu",
			 (unsigned long long)parse_bytes(str(action, "memory_low")));
		rr = knob(r, action, "memory.low", val, why, actor);
		snprintf(out, outlen, "%s/memory.low = %s: %s", str(action, "cgroup"), val,
			 rr < 0 ? strerror(-rr) : "done");
		break;
	case HTM_ACT_BATCH:
		return act_batch(r, rl, action, event, depth, out, outlen);
	case HTM_ACT_RELIEF:
		rr = act_relief(r, rl->name, depth, out, outlen);
		break;
	case HTM_ACT_LOG:
	default:
		snprintf(out, outlen, "recorded");
		rr = 0;
		break;
	}
	cJSON_Delete(action);
	return rr;
}

static bool is_critical(const cJSON *ev)
{
	const char *s = str(ev, "severity");

	return s && !strcmp(s, "critical");
}

/* One event through storm, rules and action. */
void rules_evaluate(struct htm_rules *r, cJSON *ev)
{
	struct htm_ctx *c = r->c;
	uint32_t depth = (uint32_t)htm_json_member_uint(ev, "depth", 1000000, 0);
	const char *type = str(ev, "type");
	enum htm_storm_verdict v;
	struct htm_rule *rl;
	struct htm_who who;
	cJSON *action = NULL, *b;
	char target[256], out[256], err[256], actor[96];
	bool was_open = htm_storm_breaker_open(&r->storm, htm_mono(c));
	int rr;

	v = htm_storm_admit(&r->storm, &c->cfg.storm, type ? type : "?", is_critical(ev),
			    depth, htm_mono(c));
	if (!was_open && htm_storm_breaker_open(&r->storm, htm_mono(c))) {
		b = cJSON_CreateObject();
		cJSON_AddNumberToObject(b, "events_in_window",
			(double)htm_storm_window_count(&r->storm, &c->cfg.storm, htm_mono(c)));
		cJSON_AddNumberToObject(b, "open_s", (double)c->cfg.storm.breaker_open_ns / 1e9);
		htm_log(LOG_WARNING, "storm: more than %u events in %llus, circuit breaker "
			"open for %llus: only critical events pass",
			c->cfg.storm.breaker_events,
			(unsigned long long)(c->cfg.storm.breaker_window_ns / 1000000000ull),
			(unsigned long long)(c->cfg.storm.breaker_open_ns / 1000000000ull));
		record_write(c, HTM_REC_DECISION, NULL, "circuit breaker opened",
			     "storm safeguard", b);
	}
	if (v != HTM_STORM_PASS) {
		htm_log(LOG_DEBUG, "event %s %s", type, htm_storm_verdict_names[v]);
		return;
	}
	rl = htm_rules_match(&r->rules, ev);
	if (!rl)
		return;
	rr = htm_rule_fire(rl, ev, htm_mono(c), &action, target, sizeof(target), err,
			   sizeof(err));
	if (rr == -EAGAIN) {
		htm_log(LOG_DEBUG, "rule %s: cooling down for %s", rl->name, target);
		return;
	}
	if (rr < 0) {
		htm_log(LOG_WARNING, "rule %s: %s, not acting", rl->name,
			rr == -ENOENT ? err : strerror(-rr));
		return;
	}
	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "rule", rl->name);
	cJSON_AddStringToObject(b, "action", htm_action_names[rl->kind]);
	cJSON_AddStringToObject(b, "target", target);
	cJSON_AddItemToObject(b, "event", cJSON_Duplicate(ev, true));
	cJSON_AddItemToObject(b, "act", cJSON_Duplicate(action, true));
	rr = act(r, rl, action, ev, target, depth, out, sizeof(out));
	cJSON_AddStringToObject(b, "result", rr < 0 ? "failed" : "done");
	cJSON_AddStringToObject(b, "detail", out);
	snprintf(actor, sizeof(actor), "rule:%s", rl->name);
	who = htm_who(0, actor);
	record_write(c, HTM_REC_DECISION, &who, rl->description,
		     htm_action_names[rl->kind], b);
	htm_log(rl->kind == HTM_ACT_LOG ? LOG_INFO : LOG_NOTICE, "rule %s on %s (%s): %s: %s",
		rl->name, type, target, htm_action_names[rl->kind], out);
}
