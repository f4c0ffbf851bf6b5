// SPDX-License-Identifier: MIT
/*
 * The event policy kernel: rules files parsed all-or-nothing with errors
 * that name the file and the JSON path, the built-in set and its
 * replacement by file rules, matching by type glob and field conditions
 * (first match wins), and firing: ${field} templates, targets and the
 * per-target cooldown table, with an injected clock.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/policy.h"

#include "check.h"

#define SEC 1000000000ull
/* the clock starts well away from 0 */
#define T0 (1000 * SEC)

static char err[512];

static int parse(struct htm_ruleset *rs, const char *text, const char *source)
{
	err[0] = '\0';
	return htm_ruleset_parse(rs, text, strlen(text), source, err, sizeof(err));
}

/* Events parsed for a test; released by pool_free(). */
static cJSON *pool[64];
static int npool;

static cJSON *J(const char *text)
{
	cJSON *v = cJSON_Parse(text);

	if (!v) {
		fprintf(stderr, "bad test JSON: %s\n", text);
		abort();
	}
	if (npool == (int)(sizeof(pool) / sizeof(pool[0])))
		abort();
	pool[npool++] = v;
	return v;
}

static void pool_free(void)
{
	while (npool)
		cJSON_Delete(pool[--npool]);
}

static struct htm_rule *find(struct htm_ruleset *rs, const char *name)
{
	for (size_t i = 0; i < rs->n; i++)
		if (strcmp(rs->rules[i].name, name) == 0)
			return &rs->rules[i];
	return NULL;
}

/* ------------------------------------------------------------------------ */

static void test_names(void)
{
	CHECK_EQ_STR(htm_action_names[HTM_ACT_ENQUEUE], "enqueue");
	CHECK_EQ_STR(htm_action_names[HTM_ACT_THROTTLE], "throttle");
	CHECK_EQ_STR(htm_action_names[HTM_ACT_PROTECT], "protect");
	CHECK_EQ_STR(htm_action_names[HTM_ACT_ESCALATE], "escalate");
	CHECK_EQ_STR(htm_action_names[HTM_ACT_BATCH], "batch");
	CHECK_EQ_STR(htm_action_names[HTM_ACT_RELIEF], "relief");
	CHECK_EQ_STR(htm_action_names[HTM_ACT_LOG], "log");
	CHECK(htm_action_names[HTM_ACT_COUNT] == NULL);
}

/* One file with a rule of every action kind and every operator. */
static void test_parse_valid(void)
{
	static const char text[] =
		"{\"rules\": [\n"
		" {\"name\": \"fix-latency\", \"description\": \"re-run the fixer\",\n"
		"  \"match\": {\"type\": \"sampler.*\",\n"
		"             \"fields\": {\"priority\": {\"==\": \"critical\"},\n"
		"                        \"wait_us\": {\">\": 5000, \"<\": 1e9},\n"
		"                        \"comm\": {\"in\": [\"java\", \"node\"]},\n"
		"                        \"cgroup\": {\"exists\": true},\n"
		"                        \"state\": {\"!=\": null}}},\n"
		"  \"action\": {\"do\": \"enqueue\", \"argv\": [\"/bin/fix\", \"${cgroup}\"],\n"
		"             \"name\": \"fix\", \"user\": \"nobody\", \"priority\": \"high\",\n"
		"             \"origin\": \"remediation\", \"risk\": \"low\", \"sla\": \"30s\",\n"
		"             \"timeout\": \"5m\"},\n"
		"  \"cooldown\": \"5m\", \"target\": \"${cgroup}\"},\n"
		" {\"name\": \"throttle_it\", \"description\": \"d\",\n"
		"  \"match\": {\"type\": \"a\"},\n"
		"  \"action\": {\"do\": \"throttle\", \"cgroup\": \"${cgroup}\",\n"
		"             \"cpu_max\": \"20%\", \"for\": \"10m\"}},\n"
		" {\"name\": \"protect.it\", \"description\": \"d\",\n"
		"  \"match\": {\"type\": \"b\"},\n"
		"  \"action\": {\"do\": \"protect\", \"cgroup\": \"/x\", \"memory_low\": \"512M\"}},\n"
		" {\"name\": \"Esc-9\", \"description\": \"d\",\n"
		"  \"match\": {\"type\": \"c\"},\n"
		"  \"action\": {\"do\": \"escalate\", \"message\": \"look at ${x}\", \"risk\": \"high\"}},\n"
		" {\"name\": \"batch\", \"description\": \"d\",\n"
		"  \"match\": {\"type\": \"d\"},\n"
		"  \"action\": {\"do\": \"batch\", \"argv\": [\"/bin/sweep\"], \"window\": \"30s\"}},\n"
		" {\"name\": \"relief\", \"description\": \"d\",\n"
		"  \"match\": {\"type\": \"e\"}, \"action\": {\"do\": \"relief\"}, \"cooldown\": \"1h30m\"},\n"
		" {\"name\": \"log\", \"description\": \"d\",\n"
		"  \"match\": {\"type\": \"f\", \"fields\": {}},\n"
		"  \"action\": {\"do\": \"log\", \"severity\": \"warning\"}}\n"
		"]}\n";
	struct htm_ruleset rs;
	struct htm_rule *r;

	htm_ruleset_init(&rs);
	CHECK_EQ_INT(rs.n, 0);
	CHECK_EQ_INT(parse(&rs, text, "/etc/htm/rules.d/a.json"), 0);
	CHECK_EQ_STR(err, "");
	CHECK_EQ_INT(rs.n, 7);
	if (rs.n != 7) {
		htm_ruleset_free(&rs);
		return;
	}
	/* file order is kept */
	CHECK_EQ_STR(rs.rules[0].name, "fix-latency");
	CHECK_EQ_STR(rs.rules[1].name, "throttle_it");
	CHECK_EQ_STR(rs.rules[2].name, "protect.it");
	CHECK_EQ_STR(rs.rules[3].name, "Esc-9");
	CHECK_EQ_STR(rs.rules[4].name, "batch");
	CHECK_EQ_STR(rs.rules[5].name, "relief");
	CHECK_EQ_STR(rs.rules[6].name, "log");

	r = &rs.rules[0];
	CHECK_EQ_STR(r->description, "re-run the fixer");
	CHECK_EQ_STR(r->source, "/etc/htm/rules.d/a.json");
	CHECK_EQ_STR(r->type_glob, "sampler.*");
	CHECK_EQ_INT(r->kind, HTM_ACT_ENQUEUE);
	CHECK_EQ_U64(r->cooldown_ns, 300 * SEC);
	CHECK_EQ_STR(r->target, "${cgroup}");
	CHECK_EQ_INT(r->nconds, 6);
	if (r->nconds == 6) {
		CHECK_EQ_STR(r->conds[0].field, "priority");
		CHECK_EQ_INT(r->conds[0].op, HTM_OP_EQ);
		CHECK_EQ_STR(cJSON_GetStringValue(r->conds[0].value), "critical");
		CHECK_EQ_STR(r->conds[1].field, "wait_us");
		CHECK_EQ_INT(r->conds[1].op, HTM_OP_GT);
		CHECK_EQ_DBL(cJSON_GetNumberValue(r->conds[1].value), 5000, 0);
		CHECK_EQ_STR(r->conds[2].field, "wait_us");
		CHECK_EQ_INT(r->conds[2].op, HTM_OP_LT);
		CHECK_EQ_STR(r->conds[3].field, "comm");
		CHECK_EQ_INT(r->conds[3].op, HTM_OP_IN);
		CHECK_EQ_INT(cJSON_GetArraySize(r->conds[3].value), 2);
		CHECK_EQ_STR(r->conds[4].field, "cgroup");
		CHECK_EQ_INT(r->conds[4].op, HTM_OP_EXISTS);
		CHECK(cJSON_IsTrue(r->conds[4].value));
		CHECK_EQ_STR(r->conds[5].field, "state");
		CHECK_EQ_INT(r->conds[5].op, HTM_OP_NE);
		CHECK(cJSON_IsNull(r->conds[5].value));
	}
	/* the action is kept with its templates unfilled */
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetArrayItem(
		cJSON_GetObjectItem(r->action, "argv"), 1)), "${cgroup}");
	CHECK_EQ_U64(r->hits, 0);
	CHECK_EQ_U64(r->fired, 0);
	CHECK_EQ_U64(r->cooled, 0);

	CHECK_EQ_INT(rs.rules[1].kind, HTM_ACT_THROTTLE);
	CHECK_EQ_U64(rs.rules[1].cooldown_ns, 0);
	CHECK(rs.rules[1].target == NULL);
	CHECK_EQ_INT(rs.rules[1].nconds, 0);
	CHECK_EQ_INT(rs.rules[2].kind, HTM_ACT_PROTECT);
	CHECK_EQ_INT(rs.rules[3].kind, HTM_ACT_ESCALATE);
	CHECK_EQ_INT(rs.rules[4].kind, HTM_ACT_BATCH);
	CHECK_EQ_U64(rs.rules[4].window_ns, 30 * SEC);
	CHECK_EQ_INT(rs.rules[5].kind, HTM_ACT_RELIEF);
	CHECK_EQ_U64(rs.rules[5].cooldown_ns, 5400 * SEC);
	CHECK_EQ_INT(rs.rules[6].kind, HTM_ACT_LOG);
	CHECK_EQ_INT(rs.rules[6].nconds, 0);

	/* a second file adds to the set; an empty one adds nothing */
	CHECK_EQ_INT(parse(&rs, "{\"rules\": [{\"name\": \"more\", \"description\": "
			   "\"d\", \"match\": {\"type\": \"g\"}, \"action\": "
			   "{\"do\": \"log\"}}]}", "b.json"), 0);
	CHECK_EQ_INT(rs.n, 8);
	CHECK_EQ_STR(rs.rules[7].name, "more");
	CHECK_EQ_STR(rs.rules[7].source, "b.json");
	CHECK_EQ_INT(parse(&rs, "{\"rules\": []}", "c.json"), 0);
	CHECK_EQ_INT(rs.n, 8);
	/* the length is honoured: bytes past len are not read */
	{
		static const char two[] = "{\"rules\": []}{\"rules\": [}";

		CHECK_EQ_INT(htm_ruleset_parse(&rs, two, 13, "d.json", err,
					       sizeof(err)), 0);
	}
	htm_ruleset_free(&rs);
	CHECK_EQ_INT(rs.n, 0);
	CHECK(rs.rules == NULL);
}

/* A rules file with one rule: the rule's members as written. */
static const char *one_rule(const char *members)
{
	static char text[2048];

	snprintf(text, sizeof(text), "{\"rules\": [{%s}]}", members);
	return text;
}

#define NAME_DESC "\"name\": \"r1\", \"description\": \"d\", "
#define MATCH_A "\"match\": {\"type\": \"a\"}, "
#define LOG_ACTION "\"action\": {\"do\": \"log\"}"
/* a rule that is fine apart from its fields conditions */
#define FIELDS(f) NAME_DESC "\"match\": {\"type\": \"a\", \"fields\": " f "}, " LOG_ACTION
/* a rule that is fine apart from its action */
#define ACTION(a) NAME_DESC MATCH_A "\"action\": " a

struct bad_case {
	const char *text;	/* the whole file, or NULL: one_rule(members) */
	const char *members;
	const char *want;	/* the whole message after "bad.json: " */
};

static const struct bad_case bad_cases[] = {
	/* the file */
	{ "", NULL, "invalid JSON" },
	{ "{\"rules\": [", NULL, "invalid JSON" },
	{ "[]", NULL, "$: expected {\"rules\": [...]}" },
	{ "{}", NULL, "$: expected {\"rules\": [...]}" },
	{ "{\"rules\": {}}", NULL, "$: expected {\"rules\": [...]}" },
	{ "{\"rules\": null}", NULL, "$: expected {\"rules\": [...]}" },
	{ "{\"rules\": [], \"version\": 1}", NULL, "$.version: unknown field" },
	{ "{\"rules\": [\"r1\"]}", NULL, "$.rules[0]: expected a rule object" },
	{ "{\"rules\": [{\"name\": \"a\\u0000b\"}]}", NULL,
	  "strings must not contain NUL (\\u0000)" },
	/* the rule */
	{ NULL, NAME_DESC MATCH_A LOG_ACTION ", \"when\": \"always\"",
	  "$.rules[0].when: unknown field" },
	{ NULL, "\"description\": \"d\", " MATCH_A LOG_ACTION,
	  "$.rules[0].name: required, 1-63 of [A-Za-z0-9_.-]" },
	{ NULL, "\"name\": 7, \"description\": \"d\", " MATCH_A LOG_ACTION,
	  "$.rules[0].name: required, 1-63 of [A-Za-z0-9_.-]" },
	{ NULL, "\"name\": \"\", \"description\": \"d\", " MATCH_A LOG_ACTION,
	  "$.rules[0].name: required, 1-63 of [A-Za-z0-9_.-]" },
	{ NULL, "\"name\": \"has space\", \"description\": \"d\", " MATCH_A LOG_ACTION,
	  "$.rules[0].name: required, 1-63 of [A-Za-z0-9_.-]" },
	{ NULL, "\"name\": \"a/b\", \"description\": \"d\", " MATCH_A LOG_ACTION,
	  "$.rules[0].name: required, 1-63 of [A-Za-z0-9_.-]" },
	{ NULL, "\"name\": \"${x}\", \"description\": \"d\", " MATCH_A LOG_ACTION,
	  "$.rules[0].name: required, 1-63 of [A-Za-z0-9_.-]" },
	{ NULL, "\"name\": \"caf\xc3\xa9\", \"description\": \"d\", " MATCH_A LOG_ACTION,
	  "$.rules[0].name: required, 1-63 of [A-Za-z0-9_.-]" },
	{ NULL, "\"name\": \"" "0123456789012345678901234567890123456789"
		"012345678901234567890123" "\", \"description\": \"d\", "
		MATCH_A LOG_ACTION,
	  "$.rules[0].name: required, 1-63 of [A-Za-z0-9_.-]" },
	{ NULL, "\"name\": \"r1\", " MATCH_A LOG_ACTION,
	  "$.rules[0].description: required string" },
	{ NULL, "\"name\": \"r1\", \"description\": \"\", " MATCH_A LOG_ACTION,
	  "$.rules[0].description: required string" },
	{ NULL, "\"name\": \"r1\", \"description\": [], " MATCH_A LOG_ACTION,
	  "$.rules[0].description: required string" },
	{ NULL, NAME_DESC LOG_ACTION, "$.rules[0].match: required object" },
	{ NULL, NAME_DESC "\"match\": \"a\", " LOG_ACTION,
	  "$.rules[0].match: required object" },
	{ NULL, NAME_DESC "\"match\": {}, " LOG_ACTION,
	  "$.rules[0].match.type: required glob like \"sampler.*\"" },
	{ NULL, NAME_DESC "\"match\": {\"type\": \"\"}, " LOG_ACTION,
	  "$.rules[0].match.type: required glob like \"sampler.*\"" },
	{ NULL, NAME_DESC "\"match\": {\"type\": 3}, " LOG_ACTION,
	  "$.rules[0].match.type: required glob like \"sampler.*\"" },
	{ NULL, NAME_DESC "\"match\": {\"type\": \"a\", \"where\": {}}, " LOG_ACTION,
	  "$.rules[0].match.where: unknown field (type, fields)" },
	{ NULL, NAME_DESC MATCH_A LOG_ACTION ", \"cooldown\": \"soon\"",
	  "$.rules[0].cooldown: expected a duration like \"5m\"" },
	{ NULL, NAME_DESC MATCH_A LOG_ACTION ", \"cooldown\": 300",
	  "$.rules[0].cooldown: expected a duration like \"5m\"" },
	{ NULL, NAME_DESC MATCH_A LOG_ACTION ", \"target\": \"\"",
	  "$.rules[0].target: expected a string" },
	{ NULL, NAME_DESC MATCH_A LOG_ACTION ", \"target\": 5",
	  "$.rules[0].target: expected a string" },
	/* field conditions */
	{ NULL, FIELDS("[]"),
	  "$.rules[0].match.fields: expected an object of field conditions" },
	{ NULL, FIELDS("{\"x\": 5}"),
	  "$.rules[0].match.fields.x: expected {\"<op>\": value} with op one of "
	  "== != < > in exists" },
	{ NULL, FIELDS("{\"x\": {}}"),
	  "$.rules[0].match.fields.x: expected {\"<op>\": value} with op one of "
	  "== != < > in exists" },
	{ NULL, FIELDS("{\"x\": {\"~\": \"a.*\"}}"),
	  "$.rules[0].match.fields.x: unknown operator \"~\" (== != < > in exists)" },
	{ NULL, FIELDS("{\"x\": {\">=\": 1}}"),
	  "$.rules[0].match.fields.x: unknown operator \">=\" (== != < > in exists)" },
	{ NULL, FIELDS("{\"x\": {\"==\": 1}, \"y\": {\"=\": 1}}"),
	  "$.rules[0].match.fields.y: unknown operator \"=\" (== != < > in exists)" },
	{ NULL, FIELDS("{\"x\": {\"<\": \"5\"}}"),
	  "$.rules[0].match.fields.x.<: expected a number" },
	{ NULL, FIELDS("{\"x\": {\">\": null}}"),
	  "$.rules[0].match.fields.x.>: expected a number" },
	{ NULL, FIELDS("{\"x\": {\">\": [1]}}"),
	  "$.rules[0].match.fields.x.>: expected a number" },
	{ NULL, FIELDS("{\"x\": {\"in\": \"java\"}}"),
	  "$.rules[0].match.fields.x.in: expected an array" },
	{ NULL, FIELDS("{\"x\": {\"in\": {\"a\": 1}}}"),
	  "$.rules[0].match.fields.x.in: expected an array" },
	{ NULL, FIELDS("{\"x\": {\"exists\": 1}}"),
	  "$.rules[0].match.fields.x.exists: expected true or false" },
	{ NULL, FIELDS("{\"x\": {\"exists\": \"true\"}}"),
	  "$.rules[0].match.fields.x.exists: expected true or false" },
	{ NULL, FIELDS("{\"x\": {\"==\": [1]}}"),
	  "$.rules[0].match.fields.x.==: expected a string, number, boolean or null" },
	{ NULL, FIELDS("{\"x\": {\"!=\": {}}}"),
	  "$.rules[0].match.fields.x.!=: expected a string, number, boolean or null" },
	/* actions */
	{ NULL, NAME_DESC MATCH_A "\"cooldown\": \"1m\"",
	  "$.rules[0].action: expected an object" },
	{ NULL, ACTION("\"log\""), "$.rules[0].action: expected an object" },
	{ NULL, ACTION("{\"do\": \"reboot\"}"),
	  "$.rules[0].action.do: expected one of enqueue, throttle, protect, "
	  "escalate, batch, relief, log" },
	{ NULL, ACTION("{\"argv\": [\"/bin/true\"]}"),
	  "$.rules[0].action.do: expected one of enqueue, throttle, protect, "
	  "escalate, batch, relief, log" },
	{ NULL, ACTION("{\"do\": \"Log\"}"),
	  "$.rules[0].action.do: expected one of enqueue, throttle, protect, "
	  "escalate, batch, relief, log" },
	{ NULL, ACTION("{\"do\": \"log\", \"argv\": [\"x\"]}"),
	  "$.rules[0].action.argv: unknown field" },
	{ NULL, ACTION("{\"do\": \"relief\", \"command\": \"x\"}"),
	  "$.rules[0].action.command: unknown field" },
	{ NULL, ACTION("{\"do\": \"enqueue\", \"argv\": [\"x\"], \"nice\": 5}"),
	  "$.rules[0].action.nice: unknown field" },
	{ NULL, ACTION("{\"do\": \"enqueue\"}"),
	  "$.rules[0].action.argv: required for enqueue" },
	{ NULL, ACTION("{\"do\": \"enqueue\", \"name\": \"x\"}"),
	  "$.rules[0].action.argv: required for enqueue" },
	{ NULL, ACTION("{\"do\": \"enqueue\", \"argv\": []}"),
	  "$.rules[0].action.argv: expected 1..256 items, got 0" },
	{ NULL, ACTION("{\"do\": \"enqueue\", \"argv\": \"/bin/true\"}"),
	  "$.rules[0].action.argv: expected an array of strings, got a string" },
	{ NULL, ACTION("{\"do\": \"enqueue\", \"argv\": [\"x\", 1]}"),
	  "$.rules[0].action.argv[1]: expected a string" },
	{ NULL, ACTION("{\"do\": \"batch\", \"window\": \"1m\"}"),
	  "$.rules[0].action.argv: required for batch" },
	{ NULL, ACTION("{\"do\": \"batch\", \"argv\": [\"x\"]}"),
	  "$.rules[0].action.window: required field missing" },
	{ NULL, ACTION("{\"do\": \"throttle\", \"cgroup\": \"/x\"}"),
	  "$.rules[0].action.cpu_max: required field missing" },
	{ NULL, ACTION("{\"do\": \"throttle\", \"cpu_max\": \"20%\"}"),
	  "$.rules[0].action.cgroup: required field missing" },
	{ NULL, ACTION("{\"do\": \"throttle\", \"cgroup\": \"/x\", \"cpu_max\": \"20\"}"),
	  "$.rules[0].action.cpu_max: expected a share of one CPU like \"20%\"" },
	{ NULL, ACTION("{\"do\": \"throttle\", \"cgroup\": \"/x\", \"cpu_max\": \"0%\"}"),
	  "$.rules[0].action.cpu_max: expected a share of one CPU like \"20%\"" },
	{ NULL, ACTION("{\"do\": \"throttle\", \"cgroup\": \"/x\", \"cpu_max\": \"10001%\"}"),
	  "$.rules[0].action.cpu_max: expected a share of one CPU like \"20%\"" },
	{ NULL, ACTION("{\"do\": \"throttle\", \"cgroup\": \"/x\", \"cpu_max\": \"x%\"}"),
	  "$.rules[0].action.cpu_max: expected a share of one CPU like \"20%\"" },
	{ NULL, ACTION("{\"do\": \"throttle\", \"cgroup\": \"/x\", \"cpu_max\": \"20%%\"}"),
	  "$.rules[0].action.cpu_max: expected a share of one CPU like \"20%\"" },
	{ NULL, ACTION("{\"do\": \"throttle\", \"cgroup\": \"/x\", \"cpu_max\": 20}"),
	  "$.rules[0].action.cpu_max: expected a string, got a number" },
	{ NULL, ACTION("{\"do\": \"protect\", \"cgroup\": \"/x\"}"),
	  "$.rules[0].action.memory_low: required field missing" },
	{ NULL, ACTION("{\"do\": \"protect\", \"cgroup\": \"/x\", \"memory_low\": \"lots\"}"),
	  "$.rules[0].action.memory_low: expected bytes like \"512M\"" },
	{ NULL, ACTION("{\"do\": \"protect\", \"cgroup\": \"/x\", \"memory_low\": \"512MB\"}"),
	  "$.rules[0].action.memory_low: expected bytes like \"512M\"" },
	{ NULL, ACTION("{\"do\": \"protect\", \"cgroup\": \"/x\", \"memory_low\": \"-1M\"}"),
	  "$.rules[0].action.memory_low: expected bytes like \"512M\"" },
	{ NULL, ACTION("{\"do\": \"protect\", \"cgroup\": \"/x\", \"memory_low\": \"1X\"}"),
	  "$.rules[0].action.memory_low: expected bytes like \"512M\"" },
	{ NULL, ACTION("{\"do\": \"protect\", \"cgroup\": \"/x\", \"memory_low\": \"\"}"),
	  "$.rules[0].action.memory_low: must not be empty" },
	/* not a number of bytes: the daemon would cast infinity to an integer */
	{ NULL, ACTION("{\"do\": \"protect\", \"cgroup\": \"/x\", \"memory_low\": \"inf\"}"),
	  "$.rules[0].action.memory_low: expected bytes like \"512M\"" },
	{ NULL, ACTION("{\"do\": \"escalate\", \"risk\": \"high\"}"),
	  "$.rules[0].action.message: required field missing" },
	{ NULL, ACTION("{\"do\": \"escalate\", \"message\": \"m\", \"risk\": \"extreme\"}"),
	  "$.rules[0].action.risk: expected one of low, medium, high, critical" },
	{ NULL, ACTION("{\"do\": \"enqueue\", \"argv\": [\"x\"], \"sla\": \"soon\"}"),
	  "$.rules[0].action.sla: invalid duration \"soon\" (use e.g. 500ms, 30s, 5m, 2h)" },
	{ NULL, ACTION("{\"do\": \"log\", \"severity\": \"loud\"}"),
	  "$.rules[0].action.severity: expected info, warning or critical" },
	{ NULL, ACTION("{\"do\": \"log\", \"do\": \"log\"}"),
	  "$.rules[0].action.do: duplicate field" },
	/* the path names the rule that is wrong, not the first */
	{ "{\"rules\": [{\"name\": \"ok1\", \"description\": \"d\", " MATCH_A LOG_ACTION
	  "}, {\"name\": \"ok2\", \"description\": \"d\", " MATCH_A LOG_ACTION
	  "}, {\"name\": \"bad\", \"description\": \"d\", " MATCH_A
	  "\"action\": {\"do\": \"enqueue\"}}]}", NULL,
	  "$.rules[2].action.argv: required for enqueue" },
	/* names are unique within a file */
	{ "{\"rules\": [{\"name\": \"r1\", \"description\": \"d\", " MATCH_A LOG_ACTION
	  "}, {\"name\": \"r2\", \"description\": \"d\", " MATCH_A LOG_ACTION
	  "}, {\"name\": \"r1\", \"description\": \"e\", " MATCH_A LOG_ACTION "}]}",
	  NULL, "$.rules[2].name: \"r1\" is already rule 0" },
};

/* The built-ins and one file rule, "keep". */
static void baseline(struct htm_ruleset *rs)
{
	htm_ruleset_init(rs);
	CHECK_EQ_INT(htm_ruleset_add_builtin(rs), 0);
	CHECK_EQ_INT(parse(rs, one_rule("\"name\": \"keep\", \"description\": \"k\", "
					MATCH_A LOG_ACTION), "keep.json"), 0);
}

/*
 * Every invalid file is refused with "<source>: <json path>: <why>", and
 * leaves the ruleset as it was: same count, same rules, same storage.
 */
static void test_parse_invalid(void)
{
	struct htm_ruleset rs;
	struct htm_rule *before;
	char want[600];

	baseline(&rs);
	CHECK_EQ_INT(rs.n, 8);
	before = rs.rules;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		const char *text = c->text ? c->text : one_rule(c->members);
		int r;

		snprintf(err, sizeof(err), "(no error)");
		r = htm_ruleset_parse(&rs, text, strlen(text), "bad.json", err,
				      sizeof(err));
		snprintf(want, sizeof(want), "bad.json: %s", c->want);
		CHECK_EQ_INT(r, -EINVAL);
		CHECK_EQ_STR(err, want);
		if (r != -EINVAL || strcmp(err, want))
			fprintf(stderr, "  (case %zu: %s)\n", i, text);
		if (r != 0) {	/* refused: and nothing of it was applied */
			CHECK_EQ_INT(rs.n, 8);
			CHECK_EQ_PTR(rs.rules, before);
		} else {	/* wrongly taken: start the next case afresh */
			htm_ruleset_free(&rs);
			baseline(&rs);
			before = rs.rules;
		}
	}
	/* nothing was added, nothing replaced */
	CHECK_EQ_STR(rs.rules[0].name, "oom-kill");
	CHECK_EQ_STR(rs.rules[0].source, "built-in");
	CHECK_EQ_STR(rs.rules[7].name, "keep");
	CHECK(find(&rs, "r1") == NULL);
	CHECK(find(&rs, "ok1") == NULL);
	CHECK(find(&rs, "ok2") == NULL);

	/* a short error buffer is still terminated */
	{
		char small[12];

		memset(small, 'X', sizeof(small));
		CHECK_EQ_INT(htm_ruleset_parse(&rs, "[]", 2, "bad.json", small,
					       sizeof(small)), -EINVAL);
		CHECK(memchr(small, '\0', sizeof(small)) != NULL);
		CHECK_PREFIX(small, "bad.json: ");
	}
	htm_ruleset_free(&rs);
}

/*
 * All or nothing: a file whose last rule is bad adds none of its good
 * rules and replaces no built-in; names are unique across files.
 */
static void test_parse_atomic(void)
{
	struct htm_ruleset rs;
	struct htm_rule *before;
	struct htm_rule *oom;

	htm_ruleset_init(&rs);
	CHECK_EQ_INT(htm_ruleset_add_builtin(&rs), 0);
	CHECK_EQ_INT(parse(&rs, "{\"rules\": ["
			   "{\"name\": \"r1\", \"description\": \"first\", " MATCH_A LOG_ACTION "},"
			   "{\"name\": \"r2\", \"description\": \"second\", " MATCH_A LOG_ACTION "}"
			   "]}", "f.json"), 0);
	CHECK_EQ_INT(rs.n, 9);
	before = rs.rules;

	/* good, a built-in replacement, then bad */
	CHECK_EQ_INT(parse(&rs, "{\"rules\": ["
			   "{\"name\": \"r3\", \"description\": \"d\", " MATCH_A LOG_ACTION "},"
			   "{\"name\": \"oom-kill\", \"description\": \"mine\", " MATCH_A LOG_ACTION "},"
			   "{\"name\": \"r4\", \"description\": \"d\", " MATCH_A
			   "\"action\": {\"do\": \"throttle\", \"cgroup\": \"/x\"}}"
			   "]}", "g.json"), -EINVAL);
	CHECK_EQ_STR(err, "g.json: $.rules[2].action.cpu_max: required field missing");
	CHECK_EQ_INT(rs.n, 9);
	CHECK_EQ_PTR(rs.rules, before);
	CHECK(find(&rs, "r3") == NULL);
	oom = find(&rs, "oom-kill");
	CHECK(oom != NULL);
	if (oom) {
		CHECK_EQ_STR(oom->source, "built-in");
		CHECK_EQ_STR(oom->type_glob, "sampler.oom_kill");
		CHECK_EQ_INT(oom->kind, HTM_ACT_ESCALATE);
	}
	CHECK_EQ_STR(rs.rules[7].name, "r1");
	CHECK_EQ_STR(rs.rules[7].description, "first");
	CHECK_EQ_STR(rs.rules[8].name, "r2");

	/* a name another file already uses */
	CHECK_EQ_INT(parse(&rs, "{\"rules\": ["
			   "{\"name\": \"r9\", \"description\": \"d\", " MATCH_A LOG_ACTION "},"
			   "{\"name\": \"r2\", \"description\": \"again\", " MATCH_A LOG_ACTION "}"
			   "]}", "h.json"), -EINVAL);
	CHECK_EQ_STR(err, "h.json: $.rules[1].name: \"r2\" is already defined in f.json");
	CHECK_EQ_INT(rs.n, 9);
	CHECK(find(&rs, "r9") == NULL);
	CHECK_EQ_STR(find(&rs, "r2") ? find(&rs, "r2")->description : NULL, "second");
	/* ... even the same file read again (a reload builds a new set) */
	CHECK_EQ_INT(parse(&rs, one_rule("\"name\": \"r1\", \"description\": \"d\", "
					 MATCH_A LOG_ACTION), "f.json"), -EINVAL);
	CHECK_EQ_STR(err, "f.json: $.rules[0].name: \"r1\" is already defined in f.json");
	CHECK_EQ_INT(rs.n, 9);
	htm_ruleset_free(&rs);
}

/*
 * Rules in a file are not allowed to say one thing twice: a rule with two
 * "cooldown"s (or two "match"es) is ambiguous, and the config file refuses
 * duplicate keys the same way.
 */
static void test_parse_duplicate_keys(void)
{
	struct htm_ruleset rs;

	htm_ruleset_init(&rs);
	CHECK_EQ_INT(parse(&rs, one_rule(NAME_DESC MATCH_A LOG_ACTION
					 ", \"cooldown\": \"1h\", \"cooldown\": \"1s\""),
			   "dup.json"), -EINVAL);
	CHECK_PREFIX(err, "dup.json: $.rules[0].cooldown: ");
	CHECK_EQ_INT(rs.n, 0);
	htm_ruleset_free(&rs);
}

static void test_builtin(void)
{
	static const char *const names[] = {
		"oom-kill", "queue-depth-critical", "queue-depth-warn",
		"memory-pressure-relief", "risky-task-failed", "sla-breach",
		"stress-critical",
	};
	struct htm_ruleset rs;
	struct htm_rule *r;
	cJSON *action = NULL;
	char target[128];

	htm_ruleset_init(&rs);
	CHECK_EQ_INT(htm_ruleset_add_builtin(&rs), 0);
	CHECK_EQ_INT(rs.n, 7);
	for (size_t i = 0; i < 7 && i < rs.n; i++) {
		CHECK_EQ_STR(rs.rules[i].name, names[i]);
		CHECK_EQ_STR(rs.rules[i].source, "built-in");
		CHECK(rs.rules[i].description && rs.rules[i].description[0]);
	}
	/* loading them again replaces them in place */
	CHECK_EQ_INT(htm_ruleset_add_builtin(&rs), 0);
	CHECK_EQ_INT(rs.n, 7);

	/* they do what DESIGN.md says */
	r = htm_rules_match(&rs, J("{\"type\": \"queue.depth\", \"level\": \"critical\", "
				   "\"depth\": 5001}"));
	CHECK_EQ_STR(r ? r->name : NULL, "queue-depth-critical");
	if (r) {
		CHECK_EQ_INT(r->kind, HTM_ACT_ESCALATE);
		CHECK_EQ_U64(r->cooldown_ns, 900 * SEC);
		CHECK_EQ_INT(htm_rule_fire(r, J("{\"type\": \"queue.depth\", \"level\": "
						"\"critical\", \"depth\": 5001}"),
					   T0, &action, target, sizeof(target), err,
					   sizeof(err)), 0);
		CHECK_EQ_STR(target, "queue-depth-critical");	/* no target: the name */
		CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(action, "message")),
			     "5001 tasks queued");
		cJSON_Delete(action);
		action = NULL;
	}
	r = htm_rules_match(&rs, J("{\"type\": \"queue.depth\", \"level\": \"warn\"}"));
	CHECK_EQ_STR(r ? r->name : NULL, "queue-depth-warn");
	CHECK(htm_rules_match(&rs, J("{\"type\": \"queue.depth\", \"level\": \"ok\"}")) == NULL);

	r = htm_rules_match(&rs, J("{\"type\": \"sampler.oom_kill\", \"cgroup_id\": 4242, "
				   "\"pid\": 17, \"comm\": \"java\"}"));
	CHECK_EQ_STR(r ? r->name : NULL, "oom-kill");
	if (r) {
		CHECK_EQ_INT(htm_rule_fire(r, J("{\"type\": \"sampler.oom_kill\", "
						"\"cgroup_id\": 4242, \"pid\": 17, "
						"\"comm\": \"java\"}"),
					   T0, &action, target, sizeof(target), err,
					   sizeof(err)), 0);
		CHECK_EQ_STR(target, "4242");
		CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(action, "message")),
			     "OOM kill in 4242 (pid 17, java)");
		CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(action, "risk")), "high");
		cJSON_Delete(action);
		action = NULL;
	}
	r = htm_rules_match(&rs, J("{\"type\": \"psi.trigger\", \"resource\": \"memory\"}"));
	CHECK_EQ_STR(r ? r->name : NULL, "memory-pressure-relief");
	CHECK(htm_rules_match(&rs, J("{\"type\": \"psi.trigger\", \"resource\": \"cpu\"}")) == NULL);
	r = htm_rules_match(&rs, J("{\"type\": \"task.failed\", \"risk\": \"critical\", "
				   "\"task\": 9}"));
	CHECK_EQ_STR(r ? r->name : NULL, "risky-task-failed");
	CHECK(htm_rules_match(&rs, J("{\"type\": \"task.failed\", \"risk\": \"low\"}")) == NULL);
	r = htm_rules_match(&rs, J("{\"type\": \"task.sla_breach\"}"));
	CHECK_EQ_STR(r ? r->name : NULL, "sla-breach");
	r = htm_rules_match(&rs, J("{\"type\": \"stress.changed\", \"to\": \"critical\"}"));
	CHECK_EQ_STR(r ? r->name : NULL, "stress-critical");
	CHECK(htm_rules_match(&rs, J("{\"type\": \"stress.changed\", \"to\": \"high\"}")) == NULL);

	/* a file rule of the same name replaces the built-in, in its place */
	CHECK_EQ_INT(parse(&rs, "{\"rules\": ["
			   "{\"name\": \"queue-depth-warn\", \"description\": \"mine\", "
			   "\"match\": {\"type\": \"queue.depth\", \"fields\": "
			   "{\"level\": {\"==\": \"warn\"}}}, "
			   "\"action\": {\"do\": \"enqueue\", \"argv\": [\"/bin/drain\"]}},"
			   "{\"name\": \"extra\", \"description\": \"d\", " MATCH_A LOG_ACTION "}"
			   "]}", "site.json"), 0);
	CHECK_EQ_INT(rs.n, 8);
	if (rs.n == 8) {
		CHECK_EQ_STR(rs.rules[2].name, "queue-depth-warn");
		CHECK_EQ_STR(rs.rules[2].source, "site.json");
		CHECK_EQ_STR(rs.rules[2].description, "mine");
		CHECK_EQ_INT(rs.rules[2].kind, HTM_ACT_ENQUEUE);
		CHECK_EQ_U64(rs.rules[2].cooldown_ns, 0);
		CHECK_EQ_STR(rs.rules[7].name, "extra");
	}
	r = htm_rules_match(&rs, J("{\"type\": \"queue.depth\", \"level\": \"warn\"}"));
	CHECK_EQ_STR(r ? r->source : NULL, "site.json");
	/* a second file may not replace it again: it is no longer a built-in */
	CHECK_EQ_INT(parse(&rs, one_rule("\"name\": \"queue-depth-warn\", "
					 "\"description\": \"d\", " MATCH_A LOG_ACTION),
			   "other.json"), -EINVAL);
	CHECK_EQ_STR(err, "other.json: $.rules[0].name: \"queue-depth-warn\" is "
		     "already defined in site.json");
	CHECK_EQ_INT(rs.n, 8);
	htm_ruleset_free(&rs);
	pool_free();
}

/* ------------------------------------------------------------------------ */

/*
 * Whether an event (type "e" plus the members given) matches a rule with
 * these field conditions: 1, 0, or -1 when the rule does not parse.
 */
static int match1(const char *fields, const char *members)
{
	struct htm_ruleset rs;
	char text[1024], ev[1024];
	cJSON *e;
	struct htm_rule *r;
	int m;

	snprintf(text, sizeof(text), "{\"rules\": [{\"name\": \"c\", \"description\": "
		 "\"d\", \"match\": {\"type\": \"e\", \"fields\": %s}, \"action\": "
		 "{\"do\": \"log\"}}]}", fields);
	snprintf(ev, sizeof(ev), "{\"type\": \"e\"%s%s}", members[0] ? ", " : "", members);
	htm_ruleset_init(&rs);
	if (parse(&rs, text, "m.json") < 0) {
		fprintf(stderr, "match1: %s\n", err);
		htm_ruleset_free(&rs);
		return -1;
	}
	e = cJSON_Parse(ev);
	if (!e) {
		fprintf(stderr, "match1: bad event %s\n", ev);
		htm_ruleset_free(&rs);
		return -1;
	}
	r = htm_rules_match(&rs, e);
	m = r != NULL;
	/* a match counts one hit, a miss none */
	if (rs.rules[0].hits != (uint64_t)m)
		m = -2;
	cJSON_Delete(e);
	htm_ruleset_free(&rs);
	return m;
}

static void test_match_operators(void)
{
	/* == string */
	CHECK_EQ_INT(match1("{\"p\": {\"==\": \"critical\"}}", "\"p\": \"critical\""), 1);
	CHECK_EQ_INT(match1("{\"p\": {\"==\": \"critical\"}}", "\"p\": \"high\""), 0);
	CHECK_EQ_INT(match1("{\"p\": {\"==\": \"critical\"}}", "\"p\": \"Critical\""), 0);
	CHECK_EQ_INT(match1("{\"p\": {\"==\": \"critical\"}}", ""), 0);
	CHECK_EQ_INT(match1("{\"p\": {\"==\": \"critical\"}}", "\"p\": null"), 0);
	/* == number; a string and a number are never equal */
	CHECK_EQ_INT(match1("{\"n\": {\"==\": 5}}", "\"n\": 5"), 1);
	CHECK_EQ_INT(match1("{\"n\": {\"==\": 5}}", "\"n\": 5.0"), 1);
	CHECK_EQ_INT(match1("{\"n\": {\"==\": 5}}", "\"n\": 6"), 0);
	CHECK_EQ_INT(match1("{\"n\": {\"==\": 5}}", "\"n\": \"5\""), 0);
	CHECK_EQ_INT(match1("{\"n\": {\"==\": \"5\"}}", "\"n\": 5"), 0);
	CHECK_EQ_INT(match1("{\"n\": {\"==\": 0.5}}", "\"n\": 0.5"), 1);
	/* == bool */
	CHECK_EQ_INT(match1("{\"b\": {\"==\": true}}", "\"b\": true"), 1);
	CHECK_EQ_INT(match1("{\"b\": {\"==\": true}}", "\"b\": false"), 0);
	CHECK_EQ_INT(match1("{\"b\": {\"==\": true}}", "\"b\": 1"), 0);
	CHECK_EQ_INT(match1("{\"b\": {\"==\": true}}", "\"b\": \"true\""), 0);
	CHECK_EQ_INT(match1("{\"b\": {\"==\": false}}", "\"b\": false"), 1);
	CHECK_EQ_INT(match1("{\"b\": {\"==\": false}}", "\"b\": 0"), 0);
	/* == null: an explicit null, not a missing field */
	CHECK_EQ_INT(match1("{\"x\": {\"==\": null}}", "\"x\": null"), 1);
	CHECK_EQ_INT(match1("{\"x\": {\"==\": null}}", ""), 0);
	CHECK_EQ_INT(match1("{\"x\": {\"==\": null}}", "\"x\": 0"), 0);
	/* != : a missing field, or one of another type, is not equal */
	CHECK_EQ_INT(match1("{\"p\": {\"!=\": \"low\"}}", "\"p\": \"low\""), 0);
	CHECK_EQ_INT(match1("{\"p\": {\"!=\": \"low\"}}", "\"p\": \"high\""), 1);
	CHECK_EQ_INT(match1("{\"p\": {\"!=\": \"low\"}}", ""), 1);
	CHECK_EQ_INT(match1("{\"p\": {\"!=\": \"low\"}}", "\"p\": 3"), 1);
	CHECK_EQ_INT(match1("{\"n\": {\"!=\": 3}}", "\"n\": 3"), 0);
	CHECK_EQ_INT(match1("{\"n\": {\"!=\": 3}}", "\"n\": \"3\""), 1);
	CHECK_EQ_INT(match1("{\"x\": {\"!=\": null}}", "\"x\": null"), 0);
	CHECK_EQ_INT(match1("{\"x\": {\"!=\": null}}", "\"x\": 1"), 1);
	/* > and < : numbers only, strict */
	CHECK_EQ_INT(match1("{\"w\": {\">\": 5000}}", "\"w\": 5001"), 1);
	CHECK_EQ_INT(match1("{\"w\": {\">\": 5000}}", "\"w\": 5000"), 0);
	CHECK_EQ_INT(match1("{\"w\": {\">\": 5000}}", "\"w\": 4999.5"), 0);
	CHECK_EQ_INT(match1("{\"w\": {\">\": 5000}}", "\"w\": \"6000\""), 0);
	CHECK_EQ_INT(match1("{\"w\": {\">\": 5000}}", "\"w\": true"), 0);
	CHECK_EQ_INT(match1("{\"w\": {\">\": 5000}}", ""), 0);
	CHECK_EQ_INT(match1("{\"w\": {\"<\": 10}}", "\"w\": 9.5"), 1);
	CHECK_EQ_INT(match1("{\"w\": {\"<\": 10}}", "\"w\": -1"), 1);
	CHECK_EQ_INT(match1("{\"w\": {\"<\": 10}}", "\"w\": 10"), 0);
	CHECK_EQ_INT(match1("{\"w\": {\"<\": 10}}", "\"w\": null"), 0);
	CHECK_EQ_INT(match1("{\"w\": {\"<\": 10}}", ""), 0);
	/* a range: both conditions on one field */
	CHECK_EQ_INT(match1("{\"w\": {\">\": 1, \"<\": 10}}", "\"w\": 5"), 1);
	CHECK_EQ_INT(match1("{\"w\": {\">\": 1, \"<\": 10}}", "\"w\": 10"), 0);
	CHECK_EQ_INT(match1("{\"w\": {\">\": 1, \"<\": 10}}", "\"w\": 1"), 0);
	/* in */
	CHECK_EQ_INT(match1("{\"c\": {\"in\": [\"java\", \"node\", 3]}}", "\"c\": \"java\""), 1);
	CHECK_EQ_INT(match1("{\"c\": {\"in\": [\"java\", \"node\", 3]}}", "\"c\": \"node\""), 1);
	CHECK_EQ_INT(match1("{\"c\": {\"in\": [\"java\", \"node\", 3]}}", "\"c\": 3"), 1);
	CHECK_EQ_INT(match1("{\"c\": {\"in\": [\"java\", \"node\", 3]}}", "\"c\": \"3\""), 0);
	CHECK_EQ_INT(match1("{\"c\": {\"in\": [\"java\", \"node\", 3]}}", "\"c\": \"go\""), 0);
	CHECK_EQ_INT(match1("{\"c\": {\"in\": [\"java\", \"node\", 3]}}", ""), 0);
	CHECK_EQ_INT(match1("{\"c\": {\"in\": [null]}}", "\"c\": null"), 1);
	CHECK_EQ_INT(match1("{\"c\": {\"in\": []}}", "\"c\": \"java\""), 0);
	/* exists: present and not null */
	CHECK_EQ_INT(match1("{\"g\": {\"exists\": true}}", "\"g\": \"/x\""), 1);
	CHECK_EQ_INT(match1("{\"g\": {\"exists\": true}}", "\"g\": 0"), 1);
	CHECK_EQ_INT(match1("{\"g\": {\"exists\": true}}", "\"g\": false"), 1);
	CHECK_EQ_INT(match1("{\"g\": {\"exists\": true}}", "\"g\": {}"), 1);
	CHECK_EQ_INT(match1("{\"g\": {\"exists\": true}}", "\"g\": null"), 0);
	CHECK_EQ_INT(match1("{\"g\": {\"exists\": true}}", ""), 0);
	CHECK_EQ_INT(match1("{\"g\": {\"exists\": false}}", ""), 1);
	CHECK_EQ_INT(match1("{\"g\": {\"exists\": false}}", "\"g\": null"), 1);
	CHECK_EQ_INT(match1("{\"g\": {\"exists\": false}}", "\"g\": \"/x\""), 0);
	CHECK_EQ_INT(match1("{\"g\": {\"exists\": false}}", "\"g\": false"), 0);
	/* "a.b" reaches into nested objects */
	CHECK_EQ_INT(match1("{\"a.b\": {\"==\": 1}}", "\"a\": {\"b\": 1}"), 1);
	CHECK_EQ_INT(match1("{\"a.b\": {\"==\": 1}}", "\"a\": {\"b\": 2}"), 0);
	CHECK_EQ_INT(match1("{\"a.b\": {\"==\": 1}}", "\"a\": 1"), 0);
	CHECK_EQ_INT(match1("{\"a.b\": {\"==\": 1}}", "\"a.b\": 1"), 0);
	CHECK_EQ_INT(match1("{\"a.b.c\": {\">\": 2}}", "\"a\": {\"b\": {\"c\": 3}}"), 1);
	CHECK_EQ_INT(match1("{\"a.b.c\": {\">\": 2}}", "\"a\": {\"b\": {\"c\": 2}}"), 0);
	CHECK_EQ_INT(match1("{\"a.b\": {\"in\": [\"x\"]}}", "\"a\": {\"b\": \"x\"}"), 1);
	CHECK_EQ_INT(match1("{\"a.b\": {\"exists\": true}}", "\"a\": {\"b\": \"x\"}"), 1);
	CHECK_EQ_INT(match1("{\"a.b\": {\"exists\": false}}", "\"a\": {\"c\": \"x\"}"), 1);
	CHECK_EQ_INT(match1("{\"a.b\": {\"exists\": false}}", ""), 1);
	CHECK_EQ_INT(match1("{\"a.b\": {\"!=\": 1}}", "\"a\": [1]"), 1);
	/* every condition must hold */
	CHECK_EQ_INT(match1("{\"p\": {\"==\": \"x\"}, \"n\": {\">\": 1}}",
			    "\"p\": \"x\", \"n\": 2"), 1);
	CHECK_EQ_INT(match1("{\"p\": {\"==\": \"x\"}, \"n\": {\">\": 1}}",
			    "\"p\": \"x\", \"n\": 1"), 0);
	CHECK_EQ_INT(match1("{\"p\": {\"==\": \"x\"}, \"n\": {\">\": 1}}",
			    "\"p\": \"y\", \"n\": 2"), 0);
	/* no conditions: the type decides */
	CHECK_EQ_INT(match1("{}", ""), 1);
}

static void test_match_order_globs(void)
{
	static const char text[] =
		"{\"rules\": ["
		"{\"name\": \"crit\", \"description\": \"d\", \"match\": {\"type\": \"sampler.*\","
		" \"fields\": {\"priority\": {\"==\": \"critical\"}}}, \"action\": {\"do\": \"log\"}},"
		"{\"name\": \"sampler\", \"description\": \"d\", \"match\": {\"type\": \"sampler.*\"},"
		" \"action\": {\"do\": \"log\"}},"
		"{\"name\": \"failed\", \"description\": \"d\", \"match\": {\"type\": \"task.?ailed\"},"
		" \"action\": {\"do\": \"log\"}},"
		"{\"name\": \"class\", \"description\": \"d\", \"match\": {\"type\": \"[qr]ueue.depth\"},"
		" \"action\": {\"do\": \"log\"}},"
		"{\"name\": \"exact\", \"description\": \"d\", \"match\": {\"type\": \"queue.depth\"},"
		" \"action\": {\"do\": \"log\"}},"
		"{\"name\": \"all\", \"description\": \"d\", \"match\": {\"type\": \"*\"},"
		" \"action\": {\"do\": \"log\"}}"
		"]}";
	struct htm_ruleset rs;
	struct htm_rule *r;

	htm_ruleset_init(&rs);
	CHECK_EQ_INT(parse(&rs, text, "o.json"), 0);
	CHECK_EQ_INT(rs.n, 6);
	if (rs.n != 6) {
		htm_ruleset_free(&rs);
		return;
	}
	/* the first match wins, in file order */
	r = htm_rules_match(&rs, J("{\"type\": \"sampler.rq\", \"priority\": \"critical\"}"));
	CHECK_EQ_STR(r ? r->name : NULL, "crit");
	r = htm_rules_match(&rs, J("{\"type\": \"sampler.rq\", \"priority\": \"low\"}"));
	CHECK_EQ_STR(r ? r->name : NULL, "sampler");
	r = htm_rules_match(&rs, J("{\"type\": \"sampler.oom_kill\"}"));
	CHECK_EQ_STR(r ? r->name : NULL, "sampler");
	/* a glob matches the whole type */
	r = htm_rules_match(&rs, J("{\"type\": \"sampler\"}"));
	CHECK_EQ_STR(r ? r->name : NULL, "all");
	r = htm_rules_match(&rs, J("{\"type\": \"xsampler.rq\"}"));
	CHECK_EQ_STR(r ? r->name : NULL, "all");
	r = htm_rules_match(&rs, J("{\"type\": \"SAMPLER.rq\"}"));	/* case counts */
	CHECK_EQ_STR(r ? r->name : NULL, "all");
	r = htm_rules_match(&rs, J("{\"type\": \"task.failed\"}"));
	CHECK_EQ_STR(r ? r->name : NULL, "failed");
	r = htm_rules_match(&rs, J("{\"type\": \"task.Failed\"}"));
	CHECK_EQ_STR(r ? r->name : NULL, "failed");
	r = htm_rules_match(&rs, J("{\"type\": \"task.failed2\"}"));
	CHECK_EQ_STR(r ? r->name : NULL, "all");
	r = htm_rules_match(&rs, J("{\"type\": \"queue.depth\"}"));
	CHECK_EQ_STR(r ? r->name : NULL, "class");
	r = htm_rules_match(&rs, J("{\"type\": \"rueue.depth\"}"));
	CHECK_EQ_STR(r ? r->name : NULL, "class");
	r = htm_rules_match(&rs, J("{\"type\": \"sueue.depth\"}"));
	CHECK_EQ_STR(r ? r->name : NULL, "all");
	/* no type, or not a string: nothing matches, not even "*" */
	CHECK(htm_rules_match(&rs, J("{\"level\": \"warn\"}")) == NULL);
	CHECK(htm_rules_match(&rs, J("{\"type\": 5}")) == NULL);
	CHECK(htm_rules_match(&rs, J("{\"type\": null}")) == NULL);
	CHECK(htm_rules_match(&rs, J("[\"type\"]")) == NULL);

	/* hits: one per match, on the rule that matched */
	CHECK_EQ_U64(rs.rules[0].hits, 1);	/* crit */
	CHECK_EQ_U64(rs.rules[1].hits, 2);	/* sampler */
	CHECK_EQ_U64(rs.rules[2].hits, 2);	/* failed */
	CHECK_EQ_U64(rs.rules[3].hits, 2);	/* class */
	CHECK_EQ_U64(rs.rules[4].hits, 0);	/* exact: shadowed */
	CHECK_EQ_U64(rs.rules[5].hits, 5);	/* all */
	for (size_t i = 0; i < rs.n; i++) {
		CHECK_EQ_U64(rs.rules[i].fired, 0);
		CHECK_EQ_U64(rs.rules[i].cooled, 0);
	}
	htm_ruleset_free(&rs);
	pool_free();
}

/* ------------------------------------------------------------------------ */

/* A ruleset of one rule with this action, target and cooldown. */
static struct htm_rule *one(struct htm_ruleset *rs, const char *action,
			    const char *target, const char *cooldown)
{
	char text[2048], extra[256] = "";
	int n = 0;

	if (target)
		n = snprintf(extra, sizeof(extra), ", \"target\": \"%s\"", target);
	if (cooldown)
		snprintf(extra + n, sizeof(extra) - (size_t)n, ", \"cooldown\": \"%s\"",
			 cooldown);
	snprintf(text, sizeof(text), "{\"rules\": [{\"name\": \"fixer\", \"description\": "
		 "\"d\", \"match\": {\"type\": \"*\"}, \"action\": %s%s}]}", action, extra);
	htm_ruleset_init(rs);
	if (parse(rs, text, "t.json") < 0 || rs->n != 1) {
		fprintf(stderr, "one(): %s\n", err);
		abort();
	}
	return &rs->rules[0];
}

static const char *argv_at(const cJSON *action, int i)
{
	return cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(action, "argv"), i));
}

static void test_fire_templates(void)
{
	struct htm_ruleset rs;
	struct htm_rule *r;
	cJSON *action = NULL, *ev;
	char target[256];
	int rr;

	r = one(&rs, "{\"do\": \"enqueue\", \"argv\": [\"/bin/fix\", \"${cgroup}\", "
		"\"--n=${n}\", \"${flag}/${off}\", \"${f}\", \"${neg}\", \"${big}\", "
		"\"${a.b}\", \"${s}${s}\", \"plain $HOME ${\", \"$${n}}\"], "
		"\"name\": \"fix-${comm}\", \"risk\": \"low\"}", NULL, NULL);
	ev = J("{\"type\": \"x\", \"cgroup\": \"/sys/fs/cgroup/a b\", \"n\": 42, "
	       "\"flag\": true, \"off\": false, \"f\": 2.5, \"neg\": -3, "
	       "\"big\": 1234567890123, \"a\": {\"b\": \"deep\"}, \"s\": \"ab\", "
	       "\"comm\": \"java\"}");
	rr = htm_rule_fire(r, ev, T0, &action, target, sizeof(target), err, sizeof(err));
	CHECK_EQ_INT(rr, 0);
	CHECK(action != NULL);
	CHECK_EQ_STR(argv_at(action, 0), "/bin/fix");
	CHECK_EQ_STR(argv_at(action, 1), "/sys/fs/cgroup/a b");
	CHECK_EQ_STR(argv_at(action, 2), "--n=42");
	CHECK_EQ_STR(argv_at(action, 3), "true/false");
	CHECK_EQ_STR(argv_at(action, 4), "2.5");
	CHECK_EQ_STR(argv_at(action, 5), "-3");
	CHECK_EQ_STR(argv_at(action, 6), "1234567890123");
	CHECK_EQ_STR(argv_at(action, 7), "deep");
	CHECK_EQ_STR(argv_at(action, 8), "abab");
	CHECK_EQ_STR(argv_at(action, 9), "plain $HOME ${");
	CHECK_EQ_STR(argv_at(action, 10), "$42}");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(action, "name")), "fix-java");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(action, "do")), "enqueue");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(action, "risk")), "low");
	/* no target: the rule's name */
	CHECK_EQ_STR(target, "fixer");
	CHECK_EQ_U64(r->fired, 1);
	/* the rule keeps its templates: the action is a copy */
	CHECK_EQ_STR(argv_at(r->action, 1), "${cgroup}");
	cJSON_Delete(action);
	action = NULL;

	/* a placeholder without a field: -ENOENT naming it, nothing counted */
	ev = J("{\"type\": \"x\", \"cgroup\": \"/c\", \"n\": 1, \"flag\": true, "
	       "\"off\": false, \"f\": 1, \"neg\": 1, \"big\": 1, \"a\": {}, "
	       "\"s\": \"\", \"comm\": \"c\"}");
	rr = htm_rule_fire(r, ev, T0 + SEC, &action, target, sizeof(target), err,
			   sizeof(err));
	CHECK_EQ_INT(rr, -ENOENT);
	CHECK(action == NULL);
	CHECK_HAS_STR(err, "\"a.b\"");
	CHECK_EQ_U64(r->fired, 1);
	CHECK_EQ_U64(r->cooled, 0);
	/* null, objects and arrays fill nothing either */
	err[0] = '\0';
	ev = J("{\"type\": \"x\", \"cgroup\": null}");
	CHECK_EQ_INT(htm_rule_fire(r, ev, T0, &action, target, sizeof(target), err,
				   sizeof(err)), -ENOENT);
	CHECK_HAS_STR(err, "cgroup");
	ev = J("{\"type\": \"x\", \"cgroup\": {\"id\": 1}}");
	CHECK_EQ_INT(htm_rule_fire(r, ev, T0, &action, target, sizeof(target), err,
				   sizeof(err)), -ENOENT);
	CHECK_HAS_STR(err, "cgroup");
	CHECK(action == NULL);
	htm_ruleset_free(&rs);

	/* htm_template_fill itself */
	{
		char *s;

		ev = J("{\"x\": \"X\", \"y\": 7, \"t\": {\"u\": true}}");
		s = htm_template_fill("a${x}b${y}c${t.u}", ev, err, sizeof(err));
		CHECK_EQ_STR(s, "aXb7ctrue");
		free(s);
		s = htm_template_fill("", ev, err, sizeof(err));
		CHECK_EQ_STR(s, "");
		free(s);
		s = htm_template_fill("no placeholders", ev, err, sizeof(err));
		CHECK_EQ_STR(s, "no placeholders");
		free(s);
		err[0] = '\0';
		errno = 0;
		s = htm_template_fill("a${x}b${missing}", ev, err, sizeof(err));
		CHECK(s == NULL);
		CHECK_EQ_INT(errno, ENOENT);
		CHECK_EQ_STR(err, "the event has no field \"missing\"");
		free(s);
		/* a filled value is not expanded again */
		ev = J("{\"a\": \"${b}\", \"b\": \"X\"}");
		s = htm_template_fill("<${a}>", ev, err, sizeof(err));
		CHECK_EQ_STR(s, "<${b}>");
		free(s);
		/* a number prints as it reads in the event */
		ev = J("{\"f\": 0.1, \"g\": 1e-3, \"h\": 100}");
		s = htm_template_fill("${f} ${g} ${h}", ev, err, sizeof(err));
		CHECK_EQ_STR(s, "0.1 0.001 100");
		free(s);
	}
	/* a long value goes in whole: a cgroup path is not cut at 255 bytes */
	{
		char path[400], evtext[512], *s;

		memset(path, 'p', sizeof(path));
		path[0] = '/';
		path[sizeof(path) - 1] = '\0';
		snprintf(evtext, sizeof(evtext), "{\"cgroup\": \"%s\"}", path);
		ev = J(evtext);
		s = htm_template_fill("${cgroup}", ev, err, sizeof(err));
		CHECK_EQ_INT(s ? strlen(s) : 0, strlen(path));
		CHECK_EQ_STR(s, path);
		free(s);
	}
	pool_free();
}

static void test_fire_targets(void)
{
	struct htm_ruleset rs;
	struct htm_rule *r;
	cJSON *action = NULL;
	char target[64];

	r = one(&rs, "{\"do\": \"throttle\", \"cgroup\": \"${cgroup}\", \"cpu_max\": "
		"\"${pct}%\"}", "cg:${cgroup}", NULL);
	CHECK_EQ_INT(htm_rule_fire(r, J("{\"type\": \"x\", \"cgroup\": \"/a\", \"pct\": 20}"),
				   T0, &action, target, sizeof(target), err, sizeof(err)), 0);
	CHECK_EQ_STR(target, "cg:/a");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(action, "cgroup")), "/a");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(action, "cpu_max")), "20%");
	cJSON_Delete(action);
	action = NULL;
	/* the action fills but the target does not: -ENOENT naming the field */
	htm_ruleset_free(&rs);
	r = one(&rs, "{\"do\": \"log\"}", "${cgroup_id}", "1m");
	err[0] = '\0';
	CHECK_EQ_INT(htm_rule_fire(r, J("{\"type\": \"x\", \"cgroup\": \"/a\"}"), T0,
				   &action, target, sizeof(target), err, sizeof(err)),
		     -ENOENT);
	CHECK(action == NULL);
	CHECK_HAS_STR(err, "cgroup_id");
	CHECK_EQ_U64(r->fired, 0);
	CHECK_EQ_U64(r->cooled, 0);
	/* a number target */
	CHECK_EQ_INT(htm_rule_fire(r, J("{\"type\": \"x\", \"cgroup_id\": 77}"), T0,
				   &action, target, sizeof(target), err, sizeof(err)), 0);
	CHECK_EQ_STR(target, "77");
	cJSON_Delete(action);
	htm_ruleset_free(&rs);
	pool_free();
}

static int fire_at(struct htm_rule *r, const char *cg, uint64_t now, char *target,
		   size_t tlen)
{
	char text[128];
	cJSON *ev, *action = (cJSON *)&action;	/* a sentinel: must be replaced */
	int rr;

	snprintf(text, sizeof(text), "{\"type\": \"x\", \"cgroup\": \"%s\"}", cg);
	ev = cJSON_Parse(text);
	rr = htm_rule_fire(r, ev, now, &action, target, tlen, err, sizeof(err));
	if (rr == 0 && (action == NULL || action == (cJSON *)&action))
		rr = -1000;	/* success without an action */
	if (rr == -EAGAIN && action != NULL)
		rr = -1001;	/* cooled with an action left behind */
	if (rr == 0)
		cJSON_Delete(action);
	cJSON_Delete(ev);
	return rr;
}

static void test_cooldown(void)
{
	struct htm_ruleset rs;
	struct htm_rule *r;
	char target[64];

	r = one(&rs, "{\"do\": \"log\"}", "${cgroup}", "5m");
	CHECK_EQ_U64(r->cooldown_ns, 300 * SEC);
	CHECK_EQ_INT(fire_at(r, "/a", T0, target, sizeof(target)), 0);
	CHECK_EQ_STR(target, "/a");
	CHECK_EQ_U64(r->fired, 1);
	/* the same target within the cooldown: refused, counted, named */
	target[0] = '\0';
	CHECK_EQ_INT(fire_at(r, "/a", T0 + SEC, target, sizeof(target)), -EAGAIN);
	CHECK_EQ_STR(target, "/a");
	CHECK_EQ_U64(r->cooled, 1);
	CHECK_EQ_U64(r->fired, 1);
	/* another target is not held back */
	CHECK_EQ_INT(fire_at(r, "/b", T0 + 2 * SEC, target, sizeof(target)), 0);
	CHECK_EQ_STR(target, "/b");
	CHECK_EQ_U64(r->fired, 2);
	/* up to the last nanosecond of the cooldown */
	CHECK_EQ_INT(fire_at(r, "/a", T0 + 300 * SEC - 1, target, sizeof(target)), -EAGAIN);
	CHECK_EQ_U64(r->cooled, 2);
	/* then it fires again; refused attempts did not extend the cooldown */
	CHECK_EQ_INT(fire_at(r, "/a", T0 + 300 * SEC, target, sizeof(target)), 0);
	CHECK_EQ_U64(r->fired, 3);
	/* and a new cooldown starts from that firing */
	CHECK_EQ_INT(fire_at(r, "/a", T0 + 301 * SEC, target, sizeof(target)), -EAGAIN);
	CHECK_EQ_INT(fire_at(r, "/a", T0 + 600 * SEC - 1, target, sizeof(target)), -EAGAIN);
	CHECK_EQ_INT(fire_at(r, "/a", T0 + 600 * SEC, target, sizeof(target)), 0);
	/* /b's cooldown ran from its own firing */
	CHECK_EQ_INT(fire_at(r, "/b", T0 + 301 * SEC, target, sizeof(target)), -EAGAIN);
	CHECK_EQ_INT(fire_at(r, "/b", T0 + 302 * SEC, target, sizeof(target)), 0);
	CHECK_EQ_U64(r->fired, 5);
	CHECK_EQ_U64(r->cooled, 5);
	htm_ruleset_free(&rs);

	/* no cooldown: every firing goes through */
	r = one(&rs, "{\"do\": \"log\"}", "${cgroup}", NULL);
	for (int i = 0; i < 5; i++)
		CHECK_EQ_INT(fire_at(r, "/a", T0, target, sizeof(target)), 0);
	CHECK_EQ_U64(r->fired, 5);
	CHECK_EQ_U64(r->cooled, 0);
	htm_ruleset_free(&rs);

	/* no target: the whole rule cools down */
	r = one(&rs, "{\"do\": \"log\"}", NULL, "10s");
	CHECK_EQ_INT(fire_at(r, "/a", T0, target, sizeof(target)), 0);
	CHECK_EQ_STR(target, "fixer");
	CHECK_EQ_INT(fire_at(r, "/b", T0 + SEC, target, sizeof(target)), -EAGAIN);
	CHECK_EQ_INT(fire_at(r, "/c", T0 + 10 * SEC, target, sizeof(target)), 0);
	htm_ruleset_free(&rs);
}

/*
 * 64 targets are remembered; a 65th takes the slot of the target that fired
 * least recently (by its last firing, not by when it was first seen), which
 * may then fire again at once.
 */
static void test_cooldown_eviction(void)
{
	struct htm_ruleset rs;
	struct htm_rule *r;
	char target[64], cg[16];
	const uint64_t cool = 100 * SEC;

	r = one(&rs, "{\"do\": \"log\"}", "${cgroup}", "100s");
	CHECK_EQ_INT(HTM_COOLDOWN_SLOTS, 64);
	for (int i = 0; i < HTM_COOLDOWN_SLOTS; i++) {
		snprintf(cg, sizeof(cg), "/t%d", i);
		CHECK_EQ_INT(fire_at(r, cg, T0 + (uint64_t)i * SEC, target, sizeof(target)), 0);
	}
	/* all 64 are cooling */
	for (int i = 0; i < HTM_COOLDOWN_SLOTS; i++) {
		snprintf(cg, sizeof(cg), "/t%d", i);
		CHECK_EQ_INT(fire_at(r, cg, T0 + 64 * SEC, target, sizeof(target)), -EAGAIN);
	}
	/* /t0's cooldown is over: it fires again and becomes the most recent */
	CHECK_EQ_INT(fire_at(r, "/t0", T0 + cool, target, sizeof(target)), 0);
	/* a new target evicts /t1, now the least recent */
	CHECK_EQ_INT(fire_at(r, "/new", T0 + cool + SEC / 2, target, sizeof(target)), 0);
	/* /t1 is forgotten: it fires though its cooldown (to T0+101s) is not over */
	CHECK_EQ_INT(fire_at(r, "/t1", T0 + cool + SEC / 2 + 1, target, sizeof(target)), 0);
	/* ... taking /t2's slot */
	CHECK_EQ_INT(fire_at(r, "/t2", T0 + cool + SEC / 2 + 2, target, sizeof(target)), 0);
	/* the rest are still remembered */
	CHECK_EQ_INT(fire_at(r, "/t0", T0 + cool + SEC / 2 + 3, target, sizeof(target)), -EAGAIN);
	CHECK_EQ_INT(fire_at(r, "/new", T0 + cool + SEC / 2 + 4, target, sizeof(target)), -EAGAIN);
	CHECK_EQ_INT(fire_at(r, "/t63", T0 + cool + SEC / 2 + 5, target, sizeof(target)), -EAGAIN);
	CHECK_EQ_INT(fire_at(r, "/t4", T0 + cool + SEC / 2 + 6, target, sizeof(target)), -EAGAIN);
	/* /t3 (slot owner before /t2 took one) was evicted when /t2 came back */
	CHECK_EQ_INT(fire_at(r, "/t3", T0 + cool + SEC / 2 + 7, target, sizeof(target)), 0);
	/* never more than 64 distinct targets held */
	{
		int held = 0;

		for (int i = 0; i < HTM_COOLDOWN_SLOTS; i++)
			held += r->cool[i].target != NULL;
		CHECK_EQ_INT(held, 64);
	}
	htm_ruleset_free(&rs);
}

/* Preview shows what firing would do without counting or cooling. */
static void test_preview(void)
{
	struct htm_ruleset rs;
	struct htm_rule *r;
	cJSON *action = NULL, *ev;
	char target[64];

	r = one(&rs, "{\"do\": \"escalate\", \"message\": \"look at ${cgroup}\"}",
		"${cgroup}", "1h");
	ev = J("{\"type\": \"x\", \"cgroup\": \"/a\"}");
	for (int i = 0; i < 3; i++) {
		target[0] = '\0';
		CHECK_EQ_INT(htm_rule_preview(r, ev, &action, target, sizeof(target), err,
					      sizeof(err)), 0);
		CHECK_EQ_STR(target, "/a");
		CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(action, "message")),
			     "look at /a");
		cJSON_Delete(action);
		action = NULL;
	}
	CHECK_EQ_U64(r->hits, 0);
	CHECK_EQ_U64(r->fired, 0);
	CHECK_EQ_U64(r->cooled, 0);
	for (int i = 0; i < HTM_COOLDOWN_SLOTS; i++)
		CHECK(r->cool[i].target == NULL);
	/* so the first real firing goes through */
	CHECK_EQ_INT(fire_at(r, "/a", T0, target, sizeof(target)), 0);
	/* and preview still answers while the rule cools */
	CHECK_EQ_INT(htm_rule_preview(r, ev, &action, target, sizeof(target), err,
				      sizeof(err)), 0);
	CHECK(action != NULL);
	cJSON_Delete(action);
	action = NULL;
	CHECK_EQ_INT(fire_at(r, "/a", T0 + SEC, target, sizeof(target)), -EAGAIN);
	CHECK_EQ_U64(r->fired, 1);
	CHECK_EQ_U64(r->cooled, 1);
	/* a missing field in preview */
	err[0] = '\0';
	CHECK_EQ_INT(htm_rule_preview(r, J("{\"type\": \"x\"}"), &action, target,
				      sizeof(target), err, sizeof(err)), -ENOENT);
	CHECK(action == NULL);
	CHECK_HAS_STR(err, "cgroup");
	htm_ruleset_free(&rs);
	pool_free();
}

int main(void)
{
	test_names();
	test_parse_valid();
	test_parse_invalid();
	test_parse_atomic();
	test_parse_duplicate_keys();
	test_builtin();
	test_match_operators();
	test_match_order_globs();
	test_fire_templates();
	test_fire_targets();
	test_cooldown();
	test_cooldown_eviction();
	test_preview();
	return check_report();
}
