// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "policy.h"
#include "schema.h"
#include "task.h"

const char *const htm_action_names[] = {
	[HTM_ACT_ENQUEUE] = "enqueue", [HTM_ACT_THROTTLE] = "throttle",
	[HTM_ACT_PROTECT] = "protect", [HTM_ACT_ESCALATE] = "escalate",
	[HTM_ACT_BATCH] = "batch", [HTM_ACT_RELIEF] = "relief",
	[HTM_ACT_LOG] = "log", NULL,
};

static const char *const op_names[] = {
	[HTM_OP_EQ] = "==", [HTM_OP_NE] = "!=", [HTM_OP_LT] = "<",
	[HTM_OP_GT] = ">", [HTM_OP_IN] = "in", [HTM_OP_EXISTS] = "exists", NULL,
};

static const char builtin_rules[] =
"{\"rules\": ["
"{\"name\": \"oom-kill\","
" \"description\": \"An OOM kill in a governed cgroup goes to a human\","
" \"match\": {\"type\": \"sampler.oom_kill\"},"
" \"action\": {\"do\": \"escalate\", \"risk\": \"high\","
"  \"message\": \"OOM kill in ${cgroup_id} (pid ${pid}, ${comm})\"},"
" \"cooldown\": \"10m\", \"target\": \"${cgroup_id}\"},"
"{\"name\": \"queue-depth-critical\","
" \"description\": \"More than 5000 tasks waiting: a human looks\","
" \"match\": {\"type\": \"queue.depth\", \"fields\": {\"level\": {\"==\": \"critical\"}}},"
" \"action\": {\"do\": \"escalate\", \"risk\": \"high\","
"  \"message\": \"${depth} tasks queued\"},"
" \"cooldown\": \"15m\"},"
"{\"name\": \"queue-depth-warn\","
" \"description\": \"More than 1000 tasks waiting is recorded\","
" \"match\": {\"type\": \"queue.depth\", \"fields\": {\"level\": {\"==\": \"warn\"}}},"
" \"action\": {\"do\": \"log\"}, \"cooldown\": \"5m\"},"
"{\"name\": \"memory-pressure-relief\","
" \"description\": \"A memory PSI trigger runs the configured relief command\","
" \"match\": {\"type\": \"psi.trigger\", \"fields\": {\"resource\": {\"==\": \"memory\"}}},"
" \"action\": {\"do\": \"relief\"}, \"cooldown\": \"5m\"},"
"{\"name\": \"risky-task-failed\","
" \"description\": \"A high or critical risk task that failed goes to a human\","
" \"match\": {\"type\": \"task.failed\", \"fields\": {\"risk\": {\"in\": [\"high\", \"critical\"]}}},"
" \"action\": {\"do\": \"escalate\", \"risk\": \"medium\","
"  \"message\": \"task ${task} (${name}) ended ${state}\"},"
" \"cooldown\": \"1m\", \"target\": \"${task}\"},"
"{\"name\": \"sla-breach\","
" \"description\": \"SLA breaches are recorded\","
" \"match\": {\"type\": \"task.sla_breach\"}, \"action\": {\"do\": \"log\"}},"
"{\"name\": \"stress-critical\","
" \"description\": \"Reaching critical stress is recorded\","
" \"match\": {\"type\": \"stress.changed\", \"fields\": {\"to\": {\"==\": \"critical\"}}},"
" \"action\": {\"do\": \"log\"}}"
"]}";

static int fail(char *err, size_t errlen, const char *source, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, const char *source, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "%s: ", source);

	if (n >= 0 && (size_t)n < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

void htm_ruleset_init(struct htm_ruleset *rs)
{
	memset(rs, 0, sizeof(*rs));
}

static void rule_free(struct htm_rule *r)
{
	free(r->name);
	free(r->description);
	free(r->source);
	free(r->type_glob);
	for (size_t i = 0; i < r->nconds; i++) {
		free(r->conds[i].field);
		cJSON_Delete(r->conds[i].value);
	}
	free(r->conds);
	cJSON_Delete(r->action);
	free(r->target);
	for (int i = 0; i < HTM_COOLDOWN_SLOTS; i++)
		free(r->cool[i].target);
	memset(r, 0, sizeof(*r));
}

void htm_ruleset_free(struct htm_ruleset *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		rule_free(&rs->rules[i]);
	free(rs->rules);
	memset(rs, 0, sizeof(*rs));
}

/* --- action validation (templates allowed in strings only) --------------- */

struct action_scratch {
	const char *doit, *name, *user, *cgroup, *message, *cpu_max, *memory_low,
		*severity;
	const cJSON *argv;
	int priority, origin, risk;
	uint64_t sla, timeout, window, for_ns;
};

#define A(m) offsetof(struct action_scratch, m)
#define TASK_FIELDS                                                           \
	{ .name = "argv", .type = HTM_F_STRINGS, .offset = A(argv), .min = 1,  \
	  .max = 256 },                                                       \
	{ .name = "name", .type = HTM_F_STRING, .offset = A(name), .min = 1 },  \
	{ .name = "user", .type = HTM_F_STRING, .offset = A(user), .min = 1 },  \
	{ .name = "priority", .type = HTM_F_ENUM, .offset = A(priority),        \
	  .names = htm_priority_names },                                      \
	{ .name = "origin", .type = HTM_F_ENUM, .offset = A(origin),            \
	  .names = htm_origin_names },                                        \
	{ .name = "risk", .type = HTM_F_ENUM, .offset = A(risk),                \
	  .names = htm_risk_names },                                          \
	{ .name = "sla", .type = HTM_F_DURATION, .offset = A(sla),              \
	  .min = HTM_NSEC_PER_MSEC, .max = 366 * 86400 * HTM_NSEC_PER_SEC },  \
	{ .name = "timeout", .type = HTM_F_DURATION, .offset = A(timeout),      \
	  .min = HTM_NSEC_PER_MSEC, .max = 366 * 86400 * HTM_NSEC_PER_SEC }
#define DO_FIELD { .name = "do", .type = HTM_F_STRING, .offset = A(doit), .required = true }

static const struct htm_field enqueue_fields[] = {
	DO_FIELD, TASK_FIELDS, { 0 }
};
static const struct htm_field batch_fields[] = {
	DO_FIELD, TASK_FIELDS,
	{ .name = "window", .type = HTM_F_DURATION, .offset = A(window),
	  .min = HTM_NSEC_PER_MSEC * 100, .max = 86400 * HTM_NSEC_PER_SEC,
	  .required = true },
	{ 0 }
};
static const struct htm_field throttle_fields[] = {
	DO_FIELD,
	{ .name = "cgroup", .type = HTM_F_STRING, .offset = A(cgroup), .min = 1,
	  .required = true },
	{ .name = "cpu_max", .type = HTM_F_STRING, .offset = A(cpu_max), .min = 2,
	  .required = true },
	{ .name = "for", .type = HTM_F_DURATION, .offset = A(for_ns),
	  .min = HTM_NSEC_PER_SEC, .max = 86400 * HTM_NSEC_PER_SEC },
	{ 0 }
};
static const struct htm_field protect_fields[] = {
	DO_FIELD,
	{ .name = "cgroup", .type = HTM_F_STRING, .offset = A(cgroup), .min = 1,
	  .required = true },
	{ .name = "memory_low", .type = HTM_F_STRING, .offset = A(memory_low),
	  .min = 1, .required = true },
	{ .name = "for", .type = HTM_F_DURATION, .offset = A(for_ns),
	  .min = HTM_NSEC_PER_SEC, .max = 86400 * HTM_NSEC_PER_SEC },
	{ 0 }
};
static const struct htm_field escalate_fields[] = {
	DO_FIELD, TASK_FIELDS,
	{ .name = "message", .type = HTM_F_STRING, .offset = A(message), .min = 1,
	  .required = true },
	{ 0 }
};
static const struct htm_field relief_fields[] = { DO_FIELD, { 0 } };
static const char *const severities[] = { "info", "warning", "critical", NULL };
static const struct htm_field log_fields[] = {
	DO_FIELD,
	{ .name = "severity", .type = HTM_F_STRING, .offset = A(severity), .min = 1 },
	{ 0 }
};

static const struct htm_field *const action_fields[HTM_ACT_COUNT] = {
	[HTM_ACT_ENQUEUE] = enqueue_fields, [HTM_ACT_THROTTLE] = throttle_fields,
	[HTM_ACT_PROTECT] = protect_fields, [HTM_ACT_ESCALATE] = escalate_fields,
	[HTM_ACT_BATCH] = batch_fields, [HTM_ACT_RELIEF] = relief_fields,
	[HTM_ACT_LOG] = log_fields,
};

/* "20%" of one CPU, 1..10000 (100 CPUs) */
static bool cpu_max_ok(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	return strchr(s, '$') || (end != s && strcmp(end, "%") == 0 && v > 0 && v <= 10000);
}

/* bytes: a finite number with an optional K/M/G/T suffix (binary) that
 * fits 64 bits */
static bool bytes_ok(const char *s)
{
	const char *units = "KMGT", *u;
	char *end;
	double v;

	if (strchr(s, '$'))
		return true;	/* checked again once filled */
	v = strtod(s, &end);
	if (end == s || !isfinite(v) || v < 0)
		return false;
	if (*end) {
		if (end[1] || !(u = strchr(units, *end)))
			return false;
		for (int i = 0; i <= u - units; i++)
			v *= 1024;
	}
	return v < 18446744073709549568.0;	/* below 2^64 in a double */
}

static int check_action(struct htm_rule *r, const cJSON *a, const char *path,
			const char *src, char *err, size_t errlen)
{
	struct action_scratch sc = { 0 };
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(a, "do");
	char inner[384];
	int kind;

	if (!cJSON_IsObject(a))
		return fail(err, errlen, src, "%s: expected an object", path);
	kind = htm_name_lookup(htm_action_names, cJSON_GetStringValue(d));
	if (kind < 0)
		return fail(err, errlen, src, "%s.do: expected one of enqueue, throttle, "
			    "protect, escalate, batch, relief, log", path);
	if (htm_schema_decode(action_fields[kind], a, &sc, path, inner, sizeof(inner)) < 0)
		return fail(err, errlen, src, "%s", inner);
	if (kind == HTM_ACT_THROTTLE && !cpu_max_ok(sc.cpu_max))
		return fail(err, errlen, src, "%s.cpu_max: expected a share of one CPU "
			    "like \"20%%\"", path);
	if (kind == HTM_ACT_PROTECT && !bytes_ok(sc.memory_low))
		return fail(err, errlen, src, "%s.memory_low: expected bytes like "
			    "\"512M\"", path);
	if (kind == HTM_ACT_LOG && sc.severity &&
	    htm_name_lookup(severities, sc.severity) < 0)
		return fail(err, errlen, src, "%s.severity: expected info, warning or "
			    "critical", path);
	if ((kind == HTM_ACT_ENQUEUE || kind == HTM_ACT_BATCH) && !sc.argv)
		return fail(err, errlen, src, "%s.argv: required for %s", path,
			    htm_action_names[kind]);
	r->kind = kind;
	r->window_ns = sc.window;
	return 0;
}

/* The same key again later in its object (cJSON keeps both). */
static bool repeated(const cJSON *k)
{
	for (const cJSON *n = k->next; n; n = n->next)
		if (n->string && strcmp(n->string, k->string) == 0)
			return true;
	return false;
}

static int parse_conds(struct htm_rule *r, const cJSON *fields, const char *path,
		       const char *src, char *err, size_t errlen)
{
	const cJSON *f, *o;
	size_t n = 0;

	if (!fields)
		return 0;
	if (!cJSON_IsObject(fields))
		return fail(err, errlen, src, "%s: expected an object of field "
			    "conditions", path);
	cJSON_ArrayForEach(f, fields) {
		if (repeated(f))
			return fail(err, errlen, src, "%s.%s: duplicate field", path, f->string);
		if (!cJSON_IsObject(f) || !f->child)
			return fail(err, errlen, src, "%s.%s: expected {\"<op>\": value} "
				    "with op one of == != < > in exists", path, f->string);
		cJSON_ArrayForEach(o, f)
			n++;
	}
	r->conds = calloc(n ? n : 1, sizeof(*r->conds));
	if (!r->conds)
		return -ENOMEM;
	cJSON_ArrayForEach(f, fields) {
		cJSON_ArrayForEach(o, f) {
			struct htm_cond *c = &r->conds[r->nconds];
			int op = htm_name_lookup(op_names, o->string);

			if (op < 0)
				return fail(err, errlen, src, "%s.%s: unknown operator \"%s\" "
					    "(== != < > in exists)", path, f->string, o->string);
			if ((op == HTM_OP_LT || op == HTM_OP_GT) && !cJSON_IsNumber(o))
				return fail(err, errlen, src, "%s.%s.%s: expected a number",
					    path, f->string, o->string);
			if (op == HTM_OP_IN && !cJSON_IsArray(o))
				return fail(err, errlen, src, "%s.%s.in: expected an array",
					    path, f->string);
			if (op == HTM_OP_EXISTS && !cJSON_IsBool(o))
				return fail(err, errlen, src, "%s.%s.exists: expected true "
					    "or false", path, f->string);
			if ((op == HTM_OP_EQ || op == HTM_OP_NE) &&
			    (cJSON_IsObject(o) || cJSON_IsArray(o)))
				return fail(err, errlen, src, "%s.%s.%s: expected a string, "
					    "number, boolean or null", path, f->string, o->string);
			c->field = strdup(f->string);
			c->op = op;
			c->value = cJSON_Duplicate(o, true);
			r->nconds++;
			if (!c->field || !c->value)
				return -ENOMEM;
		}
	}
	return 0;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 63)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("_.-", *s)))
			return false;
	return true;
}

static int parse_rule(struct htm_rule *r, const cJSON *o, int idx,
		      const char *src, char *err, size_t errlen)
{
	static const char *const keys[] = { "name", "description", "match", "action",
					    "cooldown", "target", NULL };
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");
	const cJSON *desc = cJSON_GetObjectItemCaseSensitive(o, "description");
	const cJSON *match = cJSON_GetObjectItemCaseSensitive(o, "match");
	const cJSON *cool = cJSON_GetObjectItemCaseSensitive(o, "cooldown");
	const cJSON *target = cJSON_GetObjectItemCaseSensitive(o, "target");
	const cJSON *type, *k;
	char path[64];
	int rr;

	snprintf(path, sizeof(path), "$.rules[%d]", idx);
	if (!cJSON_IsObject(o))
		return fail(err, errlen, src, "%s: expected a rule object", path);
	cJSON_ArrayForEach(k, o) {
		if (htm_name_lookup(keys, k->string) < 0)
			return fail(err, errlen, src, "%s.%s: unknown field", path, k->string);
		if (repeated(k))
			return fail(err, errlen, src, "%s.%s: duplicate field", path, k->string);
	}
	if (!cJSON_IsString(name) || !name_ok(name->valuestring))
		return fail(err, errlen, src, "%s.name: required, 1-63 of [A-Za-z0-9_.-]",
			    path);
	if (!cJSON_IsString(desc) || !desc->valuestring[0])
		return fail(err, errlen, src, "%s.description: required string", path);
	if (!cJSON_IsObject(match))
		return fail(err, errlen, src, "%s.match: required object", path);
	cJSON_ArrayForEach(k, match) {
		if (strcmp(k->string, "type") && strcmp(k->string, "fields"))
			return fail(err, errlen, src, "%s.match.%s: unknown field "
				    "(type, fields)", path, k->string);
		if (repeated(k))
			return fail(err, errlen, src, "%s.match.%s: duplicate field",
				    path, k->string);
	}
	type = cJSON_GetObjectItemCaseSensitive(match, "type");
	if (!cJSON_IsString(type) || !type->valuestring[0])
		return fail(err, errlen, src, "%s.match.type: required glob like "
			    "\"sampler.*\"", path);
	if (cool && (!cJSON_IsString(cool) ||
		     htm_duration_parse(cool->valuestring, &r->cooldown_ns) < 0))
		return fail(err, errlen, src, "%s.cooldown: expected a duration like "
			    "\"5m\"", path);
	if (target && (!cJSON_IsString(target) || !target->valuestring[0]))
		return fail(err, errlen, src, "%s.target: expected a string", path);
	r->name = strdup(name->valuestring);
	r->description = strdup(desc->valuestring);
	r->source = strdup(src);
	r->type_glob = strdup(type->valuestring);
	r->target = target ? strdup(target->valuestring) : NULL;
	if (!r->name || !r->description || !r->source || !r->type_glob ||
	    (target && !r->target))
		return -ENOMEM;
	snprintf(path, sizeof(path), "$.rules[%d].match.fields", idx);
	rr = parse_conds(r, cJSON_GetObjectItemCaseSensitive(match, "fields"), path,
			 src, err, errlen);
	if (rr < 0)
		return rr;
	snprintf(path, sizeof(path), "$.rules[%d].action", idx);
	rr = check_action(r, cJSON_GetObjectItemCaseSensitive(o, "action"), path, src,
			  err, errlen);
	if (rr < 0)
		return rr;
	r->action = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(o, "action"), true);
	return r->action ? 0 : -ENOMEM;
}

static struct htm_rule *find_rule(struct htm_ruleset *rs, const char *name)
{
	for (size_t i = 0; i < rs->n; i++)
		if (strcmp(rs->rules[i].name, name) == 0)
			return &rs->rules[i];
	return NULL;
}

int htm_ruleset_parse(struct htm_ruleset *rs, const char *text, size_t len,
		      const char *source, char *err, size_t errlen)
{
	struct htm_rule *parsed = NULL, *grown, *old;
	const cJSON *arr, *o, *k;
	cJSON *root;
	int n, i = 0, r = 0;

	if (htm_json_has_nul(text, len))
		return fail(err, errlen, source, "strings must not contain NUL (\\u0000)");
	root = cJSON_ParseWithLength(text, len);
	if (!root)
		return fail(err, errlen, source, "invalid JSON");
	arr = cJSON_GetObjectItemCaseSensitive(root, "rules");
	if (!cJSON_IsObject(root) || !cJSON_IsArray(arr)) {
		r = fail(err, errlen, source, "$: expected {\"rules\": [...]}");
		goto out;
	}
	cJSON_ArrayForEach(k, root)
		if (strcmp(k->string, "rules") || repeated(k)) {
			r = fail(err, errlen, source, "$.%s: %s", k->string,
				 strcmp(k->string, "rules") ? "unknown field" : "duplicate field");
			goto out;
		}
	n = cJSON_GetArraySize(arr);
	parsed = calloc((size_t)n + 1, sizeof(*parsed));
	if (!parsed) {
		r = -ENOMEM;
		goto out;
	}
	cJSON_ArrayForEach(o, arr) {
		r = parse_rule(&parsed[i], o, i, source, err, errlen);
		i++;
		if (r == 0)
			for (int j = 0; j < i - 1; j++)
				if (!strcmp(parsed[j].name, parsed[i - 1].name))
					r = fail(err, errlen, source, "$.rules[%d].name: "
						 "\"%s\" is already rule %d", i - 1,
						 parsed[i - 1].name, j);
		if (r == 0 && (old = find_rule(rs, parsed[i - 1].name)) &&
		    strcmp(old->source, "built-in") != 0)
			r = fail(err, errlen, source, "$.rules[%d].name: \"%s\" is "
				 "already defined in %s", i - 1, old->name, old->source);
		if (r < 0) {
			if (r == -ENOMEM)
				snprintf(err, errlen, "%s: out of memory", source);
			goto out;
		}
	}
	grown = realloc(rs->rules, (rs->n + (size_t)n) * sizeof(*rs->rules) + 1);
	if (!grown) {
		r = -ENOMEM;
		goto out;
	}
	rs->rules = grown;
	/* all or nothing: only now does rs change */
	for (int j = 0; j < n; j++) {
		old = find_rule(rs, parsed[j].name);
		if (old) {	/* a built-in of that name: the file's replaces it */
			rule_free(old);
			*old = parsed[j];
		} else {
			rs->rules[rs->n++] = parsed[j];
		}
	}
	free(parsed);
	parsed = NULL;
	i = 0;
out:
	if (parsed) {
		for (int j = 0; j < i; j++)
			rule_free(&parsed[j]);
		free(parsed);
	}
	cJSON_Delete(root);
	return r;
}

int htm_ruleset_add_builtin(struct htm_ruleset *rs)
{
	char err[256];

	return htm_ruleset_parse(rs, builtin_rules, sizeof(builtin_rules) - 1,
				 "built-in", err, sizeof(err));
}

/* --- matching -------------------------------------------------------------- */

/* "a.b.c" through nested objects */
static const cJSON *field_get(const cJSON *event, const char *path)
{
	char key[128];
	const char *dot;

	while ((dot = strchr(path, '.'))) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
		event = cJSON_GetObjectItemCaseSensitive(event, key);
		if (!cJSON_IsObject(event))
			return NULL;
		path = dot + 1;
	}
	return cJSON_GetObjectItemCaseSensitive(event, path);
}

static bool scalar_eq(const cJSON *a, const cJSON *b)
{
	if (cJSON_IsNumber(a) && cJSON_IsNumber(b))
		return a->valuedouble == b->valuedouble;
	if (cJSON_IsString(a) && cJSON_IsString(b))
		return strcmp(a->valuestring, b->valuestring) == 0;
	if (cJSON_IsBool(a) && cJSON_IsBool(b))
		return cJSON_IsTrue(a) == cJSON_IsTrue(b);
	return cJSON_IsNull(a) && cJSON_IsNull(b);
}

static bool cond_holds(const struct htm_cond *c, const cJSON *event)
{
	const cJSON *v = field_get(event, c->field), *e;
	bool present = v && !cJSON_IsNull(v);

	switch (c->op) {
	case HTM_OP_EXISTS:
		return present == cJSON_IsTrue(c->value);
	case HTM_OP_EQ:
		return v && scalar_eq(v, c->value);
	case HTM_OP_NE:
		return !v || !scalar_eq(v, c->value);
	case HTM_OP_LT:
		return cJSON_IsNumber(v) && v->valuedouble < c->value->valuedouble;
	case HTM_OP_GT:
		return cJSON_IsNumber(v) && v->valuedouble > c->value->valuedouble;
	case HTM_OP_IN:
		cJSON_ArrayForEach(e, c->value)
			if (v && scalar_eq(v, e))
				return true;
		return false;
	default:
		return false;
	}
}

struct htm_rule *htm_rules_find(const struct htm_ruleset *rs, const cJSON *event)
{
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(event, "type"));

	if (!type)
		return NULL;
	for (size_t i = 0; i < rs->n; i++) {
		struct htm_rule *r = &rs->rules[i];
		bool all = true;

		if (fnmatch(r->type_glob, type, 0) != 0)
			continue;
		for (size_t j = 0; all && j < r->nconds; j++)
			all = cond_holds(&r->conds[j], event);
		if (all)
			return r;
	}
	return NULL;
}

struct htm_rule *htm_rules_match(struct htm_ruleset *rs, const cJSON *event)
{
	struct htm_rule *r = htm_rules_find(rs, event);

	if (r)
		r->hits++;
	return r;
}

/* --- firing ---------------------------------------------------------------- */

/* A number as cJSON prints it: the shortest of %.15g and %.17g that reads
 * back the same. */
static void format_number(double d, char *buf, size_t len)
{
	snprintf(buf, len, "%.15g", d);
	if (strtod(buf, NULL) != d)
		snprintf(buf, len, "%.17g", d);
}

static int append(char **out, size_t *len, size_t *cap, const char *src, size_t n)
{
	char *grown;

	if (*len + n + 1 > *cap) {
		*cap = (*len + n + 1) * 2;
		grown = realloc(*out, *cap);
		if (!grown)
			return -ENOMEM;
		*out = grown;
	}
	memcpy(*out + *len, src, n);
	*len += n;
	return 0;
}

char *htm_template_fill(const char *tmpl, const cJSON *event, char *err,
			size_t errlen)
{
	size_t cap = strlen(tmpl) + 64, len = 0;
	char *out = malloc(cap), key[128], num[40];
	const char *p = tmpl, *end, *src;
	const cJSON *v;
	size_t n;

	if (!out)
		return NULL;
	while (*p) {
		if (p[0] == '$' && p[1] == '{' && (end = strchr(p + 2, '}'))) {
			snprintf(key, sizeof(key), "%.*s", (int)(end - p - 2), p + 2);
			v = field_get(event, key);
			if (cJSON_IsString(v)) {
				src = v->valuestring;
			} else if (cJSON_IsNumber(v)) {
				format_number(v->valuedouble, num, sizeof(num));
				src = num;
			} else if (cJSON_IsBool(v)) {
				src = cJSON_IsTrue(v) ? "true" : "false";
			} else {
				snprintf(err, errlen, "the event has no field \"%s\"", key);
				free(out);
				errno = ENOENT;
				return NULL;
			}
			n = strlen(src);
			p = end + 1;
		} else {
			src = p;
			n = 1;
			p++;
		}
		if (append(&out, &len, &cap, src, n) < 0) {
			free(out);
			errno = ENOMEM;
			return NULL;
		}
	}
	out[len] = '\0';
	return out;
}

/* Fill every string in a copy of the action. */
static int fill_strings(cJSON *node, const cJSON *event, char *err, size_t errlen)
{
	cJSON *c;
	char *s;

	if (cJSON_IsString(node)) {
		if (!strstr(node->valuestring, "${"))
			return 0;
		s = htm_template_fill(node->valuestring, event, err, errlen);
		if (!s)
			return errno == ENOENT ? -ENOENT : -ENOMEM;
		cJSON_SetValuestring(node, s);
		free(s);
		return 0;
	}
	cJSON_ArrayForEach(c, node) {
		int r = fill_strings(c, event, err, errlen);

		if (r < 0)
			return r;
	}
	return 0;
}

int htm_rule_preview(const struct htm_rule *r, const cJSON *event,
		     cJSON **action, char *target, size_t tlen, char *err,
		     size_t errlen)
{
	cJSON *a = cJSON_Duplicate(r->action, true);
	char *t;
	int rr;

	if (!a)
		return -ENOMEM;
	rr = fill_strings(a, event, err, errlen);
	if (rr == 0) {
		t = r->target ? htm_template_fill(r->target, event, err, errlen)
			      : strdup(r->name);
		if (!t)
			rr = errno == ENOENT ? -ENOENT : -ENOMEM;
		else
			snprintf(target, tlen, "%s", t);
		free(t);
	}
	if (rr < 0) {
		cJSON_Delete(a);
		return rr;
	}
	*action = a;
	return 0;
}

int htm_rule_fire(struct htm_rule *r, const cJSON *event, uint64_t now_ns,
		  cJSON **action, char *target, size_t tlen, char *err,
		  size_t errlen)
{
	struct htm_cooldown *slot = NULL, *oldest = &r->cool[0];
	int rr = htm_rule_preview(r, event, action, target, tlen, err, errlen);

	if (rr < 0)
		return rr;
	for (int i = 0; i < HTM_COOLDOWN_SLOTS; i++) {
		struct htm_cooldown *c = &r->cool[i];

		if (c->target && strcmp(c->target, target) == 0)
			slot = c;
		if (!c->target || c->last_ns < oldest->last_ns)
			oldest = c;
	}
	if (slot && r->cooldown_ns && now_ns - slot->last_ns < r->cooldown_ns) {
		r->cooled++;
		cJSON_Delete(*action);
		*action = NULL;
		return -EAGAIN;
	}
	if (!slot) {
		/* the least recent target makes room: its cooldown is the
		 * likeliest to be over anyway */
		slot = oldest;
		free(slot->target);
		slot->target = strdup(target);
	}
	slot->last_ns = now_ns;
	r->fired++;
	return 0;
}
