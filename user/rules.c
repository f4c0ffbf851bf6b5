// SPDX-License-Identifier: MIT
/*
 * Rules in the daemon. Events are queued as they happen and evaluated at
 * the end of the loop iteration (never inside whatever emitted them): the
 * storm safeguards first, then the first matching rule, then its action.
 * Every rule that fires leaves a decision record: the event, the rule, the
 * action, the target. Rules load from the built-in set plus every .json
 * file of rules_dir; a reload with any invalid file keeps the old set.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "htm/proto.h"

#include "core/duration.h"
#include "core/pathfmt.h"
#include "core/proto.h"
#include "core/schema.h"
#include "manager.h"
#include "sys/exec.h"
#include "sys/log.h"

#define MAX_RULE_FILE (1u << 20)

struct batch {
	LIST_ENTRY(batch) link;
	struct htm_manager *m;
	char *rule;
	cJSON *action;			/* filled from the first event */
	cJSON *events;
	uint32_t depth;
	struct htm_timer timer;
};

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_file(struct htm_ruleset *rs, const char *path, char *err,
		     size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t cap = 0;
	ssize_t n;
	int r;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	n = getdelim(&text, &cap, '\0', f);
	fclose(f);
	if (n < 0 || (size_t)n > MAX_RULE_FILE) {
		snprintf(err, errlen, "%s: %s", path, n < 0 ? "cannot read" : "over 1 MiB");
		free(text);
		return -EINVAL;
	}
	r = htm_ruleset_parse(rs, text, (size_t)n, path, err, errlen);
	free(text);
	return r;
}

/* Built-ins, then every *.json of the directory in name order. */
int rules_load(const char *dir, struct htm_ruleset *rs, unsigned *files,
	       char *err, size_t errlen)
{
	char **names = NULL, path[600];
	struct dirent *de;
	size_t n = 0, cap = 0;
	DIR *d;
	int r;

	htm_ruleset_init(rs);
	*files = 0;
	r = htm_ruleset_add_builtin(rs);
	if (r < 0) {
		snprintf(err, errlen, "built-in rules: %s", strerror(-r));
		return r;
	}
	d = dir[0] ? opendir(dir) : NULL;
	if (!d)
		return 0;	/* no directory: built-ins only */
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (len < 6 || strcmp(de->d_name + len - 5, ".json") || de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **grown = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof(*names));

			if (!grown) {
				r = -ENOMEM;
				goto out;
			}
			names = grown;
		}
		if (!(names[n] = strdup(de->d_name))) {
			r = -ENOMEM;
			goto out;
		}
		n++;
	}
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n && r == 0; i++) {
		htm_pathf(path, sizeof(path), "%s/%s", dir, names[i]);
		r = load_file(rs, path, err, errlen);
		(*files)++;
	}
out:
	closedir(d);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (r < 0)
		htm_ruleset_free(rs);
	return r;
}

/* --- actions -------------------------------------------------------------- */

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
static struct htm_task *task_from_action(struct htm_manager *m, const cJSON *a,
					 const char *rule, uint32_t depth,
					 enum htm_origin origin)
{
	const cJSON *argv = cJSON_GetObjectItemCaseSensitive(a, "argv"), *x;
	struct htm_identity who;
	struct htm_task *t;
	int i = 0, e;
	char name[96];

	t = htm_task_table_create(&m->tasks);
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
	t->submitted_mono = htm_now_mono();
	if (str(a, "user") && htm_identity_from_name(str(a, "user"), &who) == 0) {
		t->uid = who.uid;
		t->gid = who.gid;
	}
	t->submitted_at = htm_now_real();
	return t;
fail:
	htm_task_table_remove(&m->tasks, t);
	htm_task_free(t);
	return NULL;
}

static int submit_from_rule(struct htm_manager *m, struct htm_task *t,
			    const char *rule, char *out, size_t outlen)
{
	uint64_t dup;
	char actor[96];
	int r;

	snprintf(actor, sizeof(actor), "rule:%s", rule);
	r = manager_submit(m, t, persist_who(0, actor), &dup);
	if (r < 0) {
		if (r == -EEXIST)
			snprintf(out, outlen, "duplicate of task %llu", (unsigned long long)dup);
		else
			snprintf(out, outlen, "%s", strerror(-r));
		htm_task_table_remove(&m->tasks, t);
		htm_task_free(t);
		return r;
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

static int act_batch(struct htm_manager *m, struct htm_rule *r, cJSON *action,
		     const cJSON *event, uint32_t depth, char *out, size_t outlen)
{
	struct batch *b;

	LIST_FOREACH(b, &m->batches, link)
		if (!strcmp(b->rule, r->name))
			break;
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b || !(b->rule = strdup(r->name)) || !(b->events = cJSON_CreateArray())) {
			if (b)
				free(b->rule);
			free(b);
			cJSON_Delete(action);
			return -ENOMEM;
		}
		b->m = m;
		b->action = action;
		b->depth = depth;
		htm_timer_init(&b->timer, m->loop, batch_fire);
		htm_timer_arm(&b->timer, htm_now_mono() + r->window_ns);
		LIST_INSERT_HEAD(&m->batches, b, link);
	} else {
		cJSON_Delete(action);
	}
	cJSON_AddItemToArray(b->events, cJSON_Duplicate(event, true));
	snprintf(out, outlen, "collected (%d in this window)", cJSON_GetArraySize(b->events));
	return 0;
}

/* The window closed: the events go to a file, one task handles them all. */
static void batch_fire(struct htm_timer *timer)
{
	struct batch *b = (struct batch *)((char *)timer - offsetof(struct batch, timer));
	struct htm_manager *m = b->m;
	char path[PATH_MAX], out[128], err[128];
	cJSON *vars = cJSON_CreateObject(), *filled = NULL;
	struct htm_task *t;
	char *text = cJSON_Print(b->events);
	FILE *f;

	LIST_REMOVE(b, link);
	htm_pathf(path, sizeof(path), "%s/batches", m->cfg.state_dir);
	mkdir(path, 0750);
	htm_pathf(path, sizeof(path), "%s/batches/%s-%llu.json", m->cfg.state_dir,
		  b->rule, (unsigned long long)(htm_now_real() / 1000000));
	f = fopen(path, "we");
	if (!f || !text || fputs(text, f) < 0) {
		htm_log(LOG_ERR, "batch %s: writing %s: %s", b->rule, path, strerror(errno));
		goto out;
	}
	fclose(f);
	f = NULL;
	/* the task's strings may name the batch: ${batch_file}, ${batch_count} */
	cJSON_AddStringToObject(vars, "batch_file", path);
	cJSON_AddNumberToObject(vars, "batch_count", cJSON_GetArraySize(b->events));
	cJSON_AddStringToObject(vars, "rule", b->rule);
	filled = cJSON_Duplicate(b->action, true);
	{
		const cJSON *argv = cJSON_GetObjectItemCaseSensitive(filled, "argv");
		cJSON *x;

		cJSON_ArrayForEach(x, argv) {
			char *s = htm_template_fill(x->valuestring, vars, err, sizeof(err));

			if (s) {
				cJSON_SetValuestring(x, s);
				free(s);
			}
		}
	}
	t = task_from_action(m, filled, b->rule, b->depth + 1, HTM_ORIGIN_REMEDIATION);
	if (t && submit_from_rule(m, t, b->rule, out, sizeof(out)) == 0)
		htm_log(LOG_INFO, "batch %s: %d events in %s -> %s", b->rule,
			cJSON_GetArraySize(b->events), path, out);
out:
	if (f)
		fclose(f);
	free(text);
	cJSON_Delete(vars);
	cJSON_Delete(filled);
	cJSON_Delete(b->action);
	cJSON_Delete(b->events);
	free(b->rule);
	/* the timer fired: no operation of it is in flight any more */
	free(b);
}

static int act_relief(struct htm_manager *m, const char *rule, uint32_t depth,
		      char *out, size_t outlen)
{
	uint64_t now = htm_now_mono();
	cJSON *a;
	struct htm_task *t;
	int r;

	if (!m->cfg.relief_command[0]) {
		snprintf(out, outlen, "no relief_command configured");
		return 0;
	}
	if (m->last_relief && now - m->last_relief < m->cfg.relief_interval_ns) {
		snprintf(out, outlen, "relief ran %llus ago; at most one per %llus",
			 (unsigned long long)((now - m->last_relief) / 1000000000ull),
			 (unsigned long long)(m->cfg.relief_interval_ns / 1000000000ull));
		return 0;
	}
	a = cJSON_CreateObject();
	cJSON_AddItemToObject(a, "argv", cJSON_CreateStringArray(
		(const char *[]){ "/bin/sh", "-c", m->cfg.relief_command }, 3));
	cJSON_AddStringToObject(a, "name", "relief");
	cJSON_AddStringToObject(a, "priority", "critical");
	t = task_from_action(m, a, rule, depth + 1, HTM_ORIGIN_INTERNAL);
	cJSON_Delete(a);
	if (!t)
		return -ENOMEM;
	r = submit_from_rule(m, t, rule, out, outlen);
	if (r == 0)
		m->last_relief = now;
	return r;
}

void rules_relief(struct htm_manager *m, const char *why)
{
	char out[256];

	if (act_relief(m, "governor", 0, out, sizeof(out)) == 0)
		htm_log(LOG_NOTICE, "relief (%s): %s", why, out);
}

static int act(struct htm_manager *m, struct htm_rule *r, cJSON *action,
	       const cJSON *event, const char *target, uint32_t depth, char *out,
	       size_t outlen)
{
	struct htm_task *t;
	char why[160], val[64], actor[96];
	int rr;

	snprintf(why, sizeof(why), "rule %s", r->name);
	snprintf(actor, sizeof(actor), "rule:%s", r->name);
	switch (r->kind) {
	case HTM_ACT_ENQUEUE:
		t = task_from_action(m, action, r->name, depth + 1, HTM_ORIGIN_REMEDIATION);
		if (t)	/* what it acts on: dedupe and audit tell targets apart */
			t->target = strdup(target);
		rr = t ? submit_from_rule(m, t, r->name, out, outlen) : -ENOMEM;
		break;
	case HTM_ACT_ESCALATE:
		t = task_from_action(m, action, r->name, depth + 1, HTM_ORIGIN_HUNTER_ALERT);
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
		rr = t ? submit_from_rule(m, t, r->name, out, outlen) : -ENOMEM;
		break;
	case HTM_ACT_THROTTLE:
		/* cpu.max is quota and period: "20%" of one CPU per 100 ms */
		snprintf(val, sizeof(val), "%llu 100000",
			 (unsigned long long)(strtod(str(action, "cpu_max"), NULL) * 1000));
		rr = knob_set(m, str(action, "cgroup"), "cpu.max", val, dur(action, "for"),
			      why, persist_who(0, actor));
		snprintf(out, outlen, "%s/cpu.max = %s: %s", str(action, "cgroup"), val,
			 rr < 0 ? strerror(-rr) : "done");
		break;
	case HTM_ACT_PROTECT:
		snprintf(val, sizeof(val), "%llu",
			 (unsigned long long)parse_bytes(str(action, "memory_low")));
		rr = knob_set(m, str(action, "cgroup"), "memory.low", val, dur(action, "for"),
			      why, persist_who(0, actor));
		snprintf(out, outlen, "%s/memory.low = %s: %s", str(action, "cgroup"), val,
			 rr < 0 ? strerror(-rr) : "done");
		break;
	case HTM_ACT_BATCH:
		return act_batch(m, r, action, event, depth, out, outlen);
	case HTM_ACT_RELIEF:
		rr = act_relief(m, r->name, depth, out, outlen);
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
static void evaluate(struct htm_manager *m, cJSON *ev)
{
	uint32_t depth = (uint32_t)htm_json_member_uint(ev, "depth", 1000000, 0);
	const char *type = str(ev, "type");
	enum htm_storm_verdict v;
	struct htm_rule *r;
	cJSON *action = NULL, *b;
	char target[256], out[256], err[256], actor[96];
	bool was_open = htm_storm_breaker_open(&m->storm, htm_now_mono());
	int rr;

	v = htm_storm_admit(&m->storm, &m->cfg.storm, type ? type : "?", is_critical(ev),
			    depth, htm_now_mono());
	if (!was_open && htm_storm_breaker_open(&m->storm, htm_now_mono())) {
		b = cJSON_CreateObject();
		cJSON_AddNumberToObject(b, "events_in_window",
			(double)htm_storm_window_count(&m->storm, &m->cfg.storm, htm_now_mono()));
		cJSON_AddNumberToObject(b, "open_s", (double)m->cfg.storm.breaker_open_ns / 1e9);
		htm_log(LOG_WARNING, "storm: more than %u events in %llus, circuit breaker "
			"open for %llus: only critical events pass",
			m->cfg.storm.breaker_events,
			(unsigned long long)(m->cfg.storm.breaker_window_ns / 1000000000ull),
			(unsigned long long)(m->cfg.storm.breaker_open_ns / 1000000000ull));
		persist_write(m, HTM_REC_DECISION, NULL, "circuit breaker opened",
			      "storm safeguard", b);
	}
	if (v != HTM_STORM_PASS) {
		htm_log(LOG_DEBUG, "event %s %s", type, htm_storm_verdict_names[v]);
		return;
	}
	r = htm_rules_match(&m->rules, ev);
	if (!r)
		return;
	rr = htm_rule_fire(r, ev, htm_now_mono(), &action, target, sizeof(target), err,
			   sizeof(err));
	if (rr == -EAGAIN) {
		htm_log(LOG_DEBUG, "rule %s: cooling down for %s", r->name, target);
		return;
	}
	if (rr < 0) {
		htm_log(LOG_WARNING, "rule %s: %s, not acting", r->name,
			rr == -ENOENT ? err : strerror(-rr));
		return;
	}
	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "rule", r->name);
	cJSON_AddStringToObject(b, "action", htm_action_names[r->kind]);
	cJSON_AddStringToObject(b, "target", target);
	cJSON_AddItemToObject(b, "event", cJSON_Duplicate(ev, true));
	cJSON_AddItemToObject(b, "act", cJSON_Duplicate(action, true));
	rr = act(m, r, action, ev, target, depth, out, sizeof(out));
	cJSON_AddStringToObject(b, "result", rr < 0 ? "failed" : "done");
	cJSON_AddStringToObject(b, "detail", out);
	snprintf(actor, sizeof(actor), "rule:%s", r->name);
	persist_write(m, HTM_REC_DECISION, persist_who(0, actor), r->description,
		      htm_action_names[r->kind], b);
	htm_log(r->kind == HTM_ACT_LOG ? LOG_INFO : LOG_NOTICE, "rule %s on %s (%s): %s: %s",
		r->name, type, target, htm_action_names[r->kind], out);
}

/* End of a loop iteration: every event queued during it, in order. */
void rules_process(struct htm_manager *m)
{
	cJSON *ev;

	/* actions may queue more events (a task made by a rule fails...):
	 * they are taken in the same pass, depth and storm limits stop it */
	while (m->pending_events && (ev = cJSON_DetachItemFromArray(m->pending_events, 0))) {
		evaluate(m, ev);
		cJSON_Delete(ev);
	}
}

void rules_queue_event(struct htm_manager *m, cJSON *ev)
{
	if (!m->pending_events)
		m->pending_events = cJSON_CreateArray();
	if (!m->pending_events || cJSON_GetArraySize(m->pending_events) >= 100000)
		cJSON_Delete(ev);	/* beyond this the breaker is long open */
	else
		cJSON_AddItemToArray(m->pending_events, ev);
}

int rules_reload(struct htm_manager *m, char *err, size_t errlen)
{
	struct htm_ruleset next;
	unsigned files;
	int r = rules_load(m->cfg.rules_dir, &next, &files, err, errlen);

	if (r < 0)
		return r;
	htm_ruleset_free(&m->rules);
	m->rules = next;
	htm_log(LOG_INFO, "rules: %zu loaded (%u files from %s, built-ins)", m->rules.n,
		files, m->cfg.rules_dir[0] ? m->cfg.rules_dir : "-");
	return 0;
}

void rules_free(struct htm_manager *m)
{
	struct batch *b;

	while ((b = LIST_FIRST(&m->batches))) {
		LIST_REMOVE(b, link);
		cJSON_Delete(b->action);
		cJSON_Delete(b->events);
		free(b->rule);
		free(b);
	}
	htm_ruleset_free(&m->rules);
	cJSON_Delete(m->pending_events);
	m->pending_events = NULL;
}

/* --- commands ------------------------------------------------------------- */

cJSON *rules_json(struct htm_manager *m)
{
	cJSON *a = cJSON_CreateArray(), *o;

	for (size_t i = 0; i < m->rules.n; i++) {
		const struct htm_rule *r = &m->rules.rules[i];

		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", r->name);
		cJSON_AddStringToObject(o, "description", r->description);
		cJSON_AddStringToObject(o, "source", r->source);
		cJSON_AddStringToObject(o, "match", r->type_glob);
		cJSON_AddNumberToObject(o, "conditions", (double)r->nconds);
		cJSON_AddStringToObject(o, "action", htm_action_names[r->kind]);
		cJSON_AddNumberToObject(o, "cooldown_s", (double)r->cooldown_ns / 1e9);
		cJSON_AddNumberToObject(o, "hits", (double)r->hits);
		cJSON_AddNumberToObject(o, "fired", (double)r->fired);
		cJSON_AddNumberToObject(o, "cooled", (double)r->cooled);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

cJSON *rules_test(struct htm_manager *m, const cJSON *event)
{
	struct htm_ruleset *rs = &m->rules;
	cJSON *o = cJSON_CreateObject(), *action = NULL;
	char target[256], err[256];
	const char *type = str(event, "type");

	if (!type) {
		cJSON_AddNullToObject(o, "rule");
		cJSON_AddStringToObject(o, "why", "the event has no \"type\"");
		return o;
	}
	{
		const struct htm_rule *r = htm_rules_find(rs, event);

		if (!r)
			goto none;
		cJSON_AddStringToObject(o, "rule", r->name);
		cJSON_AddStringToObject(o, "description", r->description);
		cJSON_AddStringToObject(o, "source", r->source);
		cJSON_AddStringToObject(o, "action", htm_action_names[r->kind]);
		if (htm_rule_preview(r, event, &action, target, sizeof(target), err,
				     sizeof(err)) == 0) {
			cJSON_AddItemToObject(o, "would", action);
			cJSON_AddStringToObject(o, "target", target);
		} else {
			cJSON_AddStringToObject(o, "would_fail", err);
		}
		return o;
	}
none:
	cJSON_AddNullToObject(o, "rule");
	cJSON_AddStringToObject(o, "why", "no rule matches");
	return o;
}

cJSON *storm_json(struct htm_manager *m)
{
	const struct htm_storm *s = &m->storm;
	uint64_t now = htm_now_mono();
	cJSON *o = cJSON_CreateObject(), *t;

	cJSON_AddBoolToObject(o, "breaker_open", htm_storm_breaker_open(s, now));
	if (htm_storm_breaker_open(s, now))
		cJSON_AddNumberToObject(o, "breaker_closes_in_s",
					(double)(s->open_until - now) / 1e9);
	cJSON_AddNumberToObject(o, "breaker_trips", (double)s->trips);
	cJSON_AddNumberToObject(o, "events_in_window",
				(double)htm_storm_window_count(s, &m->cfg.storm, now));
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
