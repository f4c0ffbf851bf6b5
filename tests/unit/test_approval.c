// SPDX-License-Identifier: MIT
/*
 * Approval gates: the tier a task lands in (by type, default, risk,
 * requires_approval and change windows), how many approvals it needs,
 * change windows by weekday and over midnight, the config decoders with
 * their JSON paths, the duplicate key, the recommendation and its reasons,
 * and the outcome counts the recommendation reads. Expiry is the daemon's
 * timer; here are the pieces that decide it (the expire setting, the
 * pending -> expired move).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/approval.h"
#include "core/config.h"
#include "core/duration.h"
#include "core/learn.h"
#include "core/task.h"

#include "check.h"

enum { SUN, MON, TUE, WED, THU, FRI, SAT };
#define HM(h, m) ((h) * 60 + (m))

static char err[512];

/* A task named name (may be NULL) with argv from the NULL-ended list. */
static struct htm_task *task(const char *name, enum htm_risk risk, ...)
{
	struct htm_task *t = htm_task_new(1);
	va_list ap;
	const char *a;
	int n = 0;

	if (!t)
		abort();
	t->name = name ? strdup(name) : NULL;
	t->risk = risk;
	t->argv = calloc(32, sizeof(*t->argv));
	va_start(ap, risk);
	while ((a = va_arg(ap, const char *)) && n < 31)
		t->argv[n++] = strdup(a);
	va_end(ap);
	return t;
}

static int parse(struct htm_config *c, const char *text)
{
	err[0] = '\0';
	return htm_config_parse(c, text, strlen(text), err, sizeof(err));
}

static void test_names_defaults(void)
{
	struct htm_approval_config c;

	CHECK_EQ_STR(htm_tier_names[HTM_TIER_APPROVE], "approve");
	CHECK_EQ_STR(htm_tier_names[HTM_TIER_REVIEW], "review");
	CHECK_EQ_STR(htm_tier_names[HTM_TIER_AUTONOMOUS], "autonomous");
	CHECK_EQ_STR(htm_tier_names[HTM_TIER_QUORUM], "quorum");
	CHECK_EQ_STR(htm_tier_names[HTM_TIER_EMERGENCY], "emergency");
	CHECK(htm_tier_names[HTM_TIER_COUNT] == NULL);
	CHECK_EQ_INT(HTM_TIER_APPROVE, 0);
	CHECK_EQ_INT(HTM_TIER_EMERGENCY, 4);

	memset(&c, 0xa5, sizeof(c));
	htm_approval_config_defaults(&c);
	CHECK_EQ_INT(c.default_tier, HTM_TIER_AUTONOMOUS);
	CHECK_EQ_INT(c.ntypes, 0);
	CHECK_EQ_INT(c.quorum, 2);
	CHECK_EQ_U64(c.expire_ns, 3600 * HTM_NSEC_PER_SEC);
	CHECK_EQ_U64(c.dedupe_ns, 600 * HTM_NSEC_PER_SEC);
	CHECK_EQ_INT(c.nwindows, 0);
	CHECK_EQ_STR(c.admin_group, "");

	/* the daemon's config starts from the same */
	{
		struct htm_config cfg;

		htm_config_defaults(&cfg);
		CHECK(memcmp(&cfg.approvals, &c, sizeof(c)) == 0);
	}
}

/* ------------------------------------------------------------------------ */

static struct htm_approval_config gate_cfg;

static void set_type(struct htm_approval_config *c, const char *type, int tier)
{
	snprintf(c->types[c->ntypes].type, sizeof(c->types[0].type), "%s", type);
	c->types[c->ntypes++].tier = (uint8_t)tier;
}

static struct htm_gate gate(const char *name, enum htm_risk risk, bool requires,
			    bool in_window)
{
	struct htm_task *t = task(name, risk, "/bin/true", NULL);
	struct htm_gate g;

	t->requires_approval = requires;
	memset(&g, 0xa5, sizeof(g));
	htm_gate_resolve(&gate_cfg, t, in_window, &g);
	htm_task_free(t);
	return g;
}

static void test_gate_tiers(void)
{
	static const char *const types[] = { "t0", "t1", "t2", "t3", "t4" };
	static const int needed[] = { 1, 0, 0, 3, 0 };
	struct htm_gate g;
	char why[64];

	htm_approval_config_defaults(&gate_cfg);
	gate_cfg.quorum = 3;
	for (int i = 0; i < 5; i++)
		set_type(&gate_cfg, types[i], i);

	/* each type's tier, low risk, inside a window */
	for (int i = 0; i < 5; i++) {
		g = gate(types[i], HTM_RISK_LOW, false, true);
		CHECK_EQ_INT(g.tier, i);
		CHECK_EQ_INT(g.needed, needed[i]);
		CHECK(!g.needs_override);
		snprintf(why, sizeof(why), "type %s", types[i]);
		CHECK_EQ_STR(g.why, why);
		/* medium risk inside a window keeps the tier */
		g = gate(types[i], HTM_RISK_MEDIUM, false, true);
		CHECK_EQ_INT(g.tier, i);
		CHECK_EQ_INT(g.needed, needed[i]);
		CHECK(!g.needs_override);
	}
	/* a type not listed: the default tier, for every default */
	for (int d = 0; d < 5; d++) {
		gate_cfg.default_tier = (uint32_t)d;
		g = gate("unlisted", HTM_RISK_LOW, false, true);
		CHECK_EQ_INT(g.tier, d);
		CHECK_EQ_INT(g.needed, needed[d]);
		CHECK_EQ_STR(g.why, "default tier");
		/* and a task without a name */
		g = gate(NULL, HTM_RISK_LOW, false, true);
		CHECK_EQ_INT(g.tier, d);
	}
	gate_cfg.default_tier = HTM_TIER_AUTONOMOUS;
	/* type names match exactly */
	CHECK_EQ_INT(gate("T0", HTM_RISK_LOW, false, true).tier, HTM_TIER_AUTONOMOUS);
	CHECK_EQ_INT(gate("t0x", HTM_RISK_LOW, false, true).tier, HTM_TIER_AUTONOMOUS);
	CHECK_EQ_INT(gate("t", HTM_RISK_LOW, false, true).tier, HTM_TIER_AUTONOMOUS);

	/* quorum: as configured, capped at the approvers a task can record */
	gate_cfg.quorum = 2;
	CHECK_EQ_INT(gate("t3", HTM_RISK_LOW, false, true).needed, 2);
	gate_cfg.quorum = HTM_MAX_APPROVERS;
	CHECK_EQ_INT(gate("t3", HTM_RISK_LOW, false, true).needed, HTM_MAX_APPROVERS);
	gate_cfg.quorum = 200;
	CHECK_EQ_INT(gate("t3", HTM_RISK_LOW, false, true).needed, HTM_MAX_APPROVERS);
	gate_cfg.quorum = 3;
}

/* High or critical risk, or requires_approval, forces tier 0. */
static void test_gate_forced(void)
{
	static const char *const types[] = { "t0", "t1", "t2", "t3", "t4", "unlisted" };
	struct htm_gate g;

	for (int i = 0; i < 6; i++) {
		/* forcing tier 0 never lowers a quorum type below its quorum */
		int want = strcmp(types[i], "t3") == 0 ? (int)gate_cfg.quorum : 1;

		g = gate(types[i], HTM_RISK_HIGH, false, true);
		CHECK_EQ_INT(g.tier, HTM_TIER_APPROVE);
		CHECK_EQ_INT(g.needed, want);
		CHECK(!g.needs_override);
		CHECK_EQ_STR(g.why, "high or critical risk");
		g = gate(types[i], HTM_RISK_CRITICAL, false, true);
		CHECK_EQ_INT(g.tier, HTM_TIER_APPROVE);
		CHECK_EQ_INT(g.needed, want);
		CHECK_EQ_STR(g.why, "high or critical risk");
		g = gate(types[i], HTM_RISK_LOW, true, true);
		CHECK_EQ_INT(g.tier, HTM_TIER_APPROVE);
		CHECK_EQ_INT(g.needed, want);
		CHECK(!g.needs_override);
		CHECK_EQ_STR(g.why, "approval requested");
		g = gate(types[i], HTM_RISK_CRITICAL, true, true);
		CHECK_EQ_INT(g.tier, HTM_TIER_APPROVE);
		CHECK_EQ_STR(g.why, "approval requested");
	}
}

/* Outside every change window, medium and higher risk needs an override. */
static void test_gate_outside_window(void)
{
	static const char *const types[] = { "t0", "t1", "t2", "t3", "t4", "unlisted" };
	static const int tier[] = { 0, 1, 2, 3, 4, 2 };
	struct htm_gate g;

	for (int i = 0; i < 6; i++) {
		/* low risk keeps its tier, no override */
		g = gate(types[i], HTM_RISK_LOW, false, false);
		CHECK_EQ_INT(g.tier, tier[i]);
		CHECK(!g.needs_override);
		/* medium and up: tier 0 and an override */
		g = gate(types[i], HTM_RISK_MEDIUM, false, false);
		CHECK_EQ_INT(g.tier, HTM_TIER_APPROVE);
		CHECK_EQ_INT(g.needed, strcmp(types[i], "t3") == 0 ? (int)gate_cfg.quorum : 1);
		CHECK(g.needs_override);
		CHECK_EQ_STR(g.why, "medium risk outside the change windows");
		g = gate(types[i], HTM_RISK_HIGH, false, false);
		CHECK_EQ_INT(g.tier, HTM_TIER_APPROVE);
		CHECK(g.needs_override);
		CHECK_EQ_STR(g.why, "high risk outside the change windows");
		g = gate(types[i], HTM_RISK_CRITICAL, true, false);
		CHECK_EQ_INT(g.tier, HTM_TIER_APPROVE);
		CHECK(g.needs_override);
		CHECK_EQ_STR(g.why, "critical risk outside the change windows");
		/* requires_approval at low risk: tier 0 but no override */
		g = gate(types[i], HTM_RISK_LOW, true, false);
		CHECK_EQ_INT(g.tier, HTM_TIER_APPROVE);
		CHECK(!g.needs_override);
	}
}

/* ------------------------------------------------------------------------ */

static void test_windows(void)
{
	struct htm_approval_config c;

	htm_approval_config_defaults(&c);
	/* no windows: always inside one */
	for (int d = SUN; d <= SAT; d++)
		for (int m = 0; m < 24 * 60; m += 7)
			CHECK(htm_in_change_window(&c, d, m));

	/* Monday to Friday 09:00-17:00 */
	c.windows[0].days = 1 << MON | 1 << TUE | 1 << WED | 1 << THU | 1 << FRI;
	c.windows[0].from_min = HM(9, 0);
	c.windows[0].to_min = HM(17, 0);
	c.nwindows = 1;
	for (int d = MON; d <= FRI; d++) {
		CHECK(!htm_in_change_window(&c, d, HM(8, 59)));
		CHECK(htm_in_change_window(&c, d, HM(9, 0)));
		CHECK(htm_in_change_window(&c, d, HM(12, 30)));
		CHECK(htm_in_change_window(&c, d, HM(16, 59)));
		CHECK(!htm_in_change_window(&c, d, HM(17, 0)));
		CHECK(!htm_in_change_window(&c, d, HM(23, 59)));
		CHECK(!htm_in_change_window(&c, d, 0));
	}
	CHECK(!htm_in_change_window(&c, SAT, HM(12, 0)));
	CHECK(!htm_in_change_window(&c, SUN, HM(12, 0)));

	/* over midnight: Friday 22:00 to 02:00 */
	c.windows[0].days = 1 << FRI;
	c.windows[0].from_min = HM(22, 0);
	c.windows[0].to_min = HM(2, 0);
	CHECK(htm_in_change_window(&c, SAT, HM(1, 0)));
	CHECK(!htm_in_change_window(&c, SAT, HM(3, 0)));
	CHECK(!htm_in_change_window(&c, FRI, HM(21, 0)));
	CHECK(!htm_in_change_window(&c, FRI, HM(21, 59)));
	CHECK(htm_in_change_window(&c, FRI, HM(22, 0)));
	CHECK(htm_in_change_window(&c, FRI, HM(23, 59)));
	CHECK(htm_in_change_window(&c, SAT, 0));
	CHECK(htm_in_change_window(&c, SAT, HM(1, 59)));
	CHECK(!htm_in_change_window(&c, SAT, HM(2, 0)));
	/* the morning of the listed day belongs to the night before it */
	CHECK(!htm_in_change_window(&c, FRI, HM(1, 0)));
	CHECK(!htm_in_change_window(&c, SAT, HM(22, 30)));
	CHECK(!htm_in_change_window(&c, THU, HM(23, 0)));
	CHECK(!htm_in_change_window(&c, SUN, HM(1, 0)));

	/* over the end of the week: Saturday night into Sunday */
	c.windows[0].days = 1 << SAT;
	CHECK(htm_in_change_window(&c, SAT, HM(23, 0)));
	CHECK(htm_in_change_window(&c, SUN, HM(1, 0)));
	CHECK(!htm_in_change_window(&c, SUN, HM(23, 0)));
	CHECK(!htm_in_change_window(&c, MON, HM(1, 0)));

	/* any window will do */
	c.windows[1].days = 1 << WED;
	c.windows[1].from_min = HM(0, 0);
	c.windows[1].to_min = HM(24, 0);
	c.nwindows = 2;
	CHECK(htm_in_change_window(&c, WED, 0));
	CHECK(htm_in_change_window(&c, WED, HM(23, 59)));
	CHECK(!htm_in_change_window(&c, THU, 0));
	CHECK(htm_in_change_window(&c, SUN, HM(1, 0)));
	CHECK(!htm_in_change_window(&c, TUE, HM(12, 0)));
}

/* ------------------------------------------------------------------------ */

static void test_decode_valid(void)
{
	struct htm_config c;

	htm_config_defaults(&c);
	CHECK_EQ_INT(parse(&c,
		"{\"approvals\": {\"admin_group\": \"wheel\", \"default_tier\": 1,\n"
		" \"tiers\": {\"backup\": 2, \"deploy\": 3, \"rm-rf\": 0, \"page\": 4,\n"
		"            \"look\": 1},\n"
		" \"quorum\": 3, \"expire\": \"30m\", \"dedupe_window\": \"0s\",\n"
		" \"change_windows\": [\n"
		"   {\"days\": [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\"],\n"
		"    \"from\": \"09:00\", \"to\": \"17:00\"},\n"
		"   {\"days\": [\"fri\"], \"from\": \"22:00\", \"to\": \"02:00\"},\n"
		"   {\"days\": [\"sun\", \"sat\", \"sun\"], \"from\": \"00:00\", \"to\": \"24:00\"}]}}"),
		0);
	CHECK_EQ_STR(err, "");
	CHECK_EQ_STR(c.approvals.admin_group, "wheel");
	CHECK_EQ_INT(c.approvals.default_tier, 1);
	CHECK_EQ_INT(c.approvals.quorum, 3);
	CHECK_EQ_U64(c.approvals.expire_ns, 1800 * HTM_NSEC_PER_SEC);
	CHECK_EQ_U64(c.approvals.dedupe_ns, 0);
	CHECK_EQ_INT(c.approvals.ntypes, 5);
	CHECK_EQ_STR(c.approvals.types[0].type, "backup");
	CHECK_EQ_INT(c.approvals.types[0].tier, 2);
	CHECK_EQ_STR(c.approvals.types[1].type, "deploy");
	CHECK_EQ_INT(c.approvals.types[1].tier, 3);
	CHECK_EQ_STR(c.approvals.types[2].type, "rm-rf");
	CHECK_EQ_INT(c.approvals.types[2].tier, 0);
	CHECK_EQ_STR(c.approvals.types[3].type, "page");
	CHECK_EQ_INT(c.approvals.types[3].tier, 4);
	CHECK_EQ_STR(c.approvals.types[4].type, "look");
	CHECK_EQ_INT(c.approvals.types[4].tier, 1);
	CHECK_EQ_INT(c.approvals.nwindows, 3);
	CHECK_EQ_INT(c.approvals.windows[0].days, 0x3e);
	CHECK_EQ_INT(c.approvals.windows[0].from_min, HM(9, 0));
	CHECK_EQ_INT(c.approvals.windows[0].to_min, HM(17, 0));
	CHECK_EQ_INT(c.approvals.windows[1].days, 1 << FRI);
	CHECK_EQ_INT(c.approvals.windows[1].from_min, HM(22, 0));
	CHECK_EQ_INT(c.approvals.windows[1].to_min, HM(2, 0));
	CHECK_EQ_INT(c.approvals.windows[2].days, 1 << SUN | 1 << SAT);
	CHECK_EQ_INT(c.approvals.windows[2].to_min, 24 * 60);

	/* what the decoded config decides */
	CHECK(htm_in_change_window(&c.approvals, TUE, HM(10, 0)));
	CHECK(!htm_in_change_window(&c.approvals, TUE, HM(18, 0)));
	CHECK(htm_in_change_window(&c.approvals, SAT, HM(18, 0)));
	CHECK(htm_in_change_window(&c.approvals, SUN, HM(23, 59)));
	CHECK(!htm_in_change_window(&c.approvals, MON, HM(1, 0)));
	{
		struct htm_task *t = task("deploy", HTM_RISK_LOW, "/bin/deploy", NULL);
		struct htm_gate g;

		htm_gate_resolve(&c.approvals, t, true, &g);
		CHECK_EQ_INT(g.tier, HTM_TIER_QUORUM);
		CHECK_EQ_INT(g.needed, 3);
		free(t->name);
		t->name = strdup("other");
		htm_gate_resolve(&c.approvals, t, true, &g);
		CHECK_EQ_INT(g.tier, HTM_TIER_REVIEW);
		CHECK_EQ_INT(g.needed, 0);
		htm_task_free(t);
	}

	/* a later file replaces the lists, it does not add to them */
	CHECK_EQ_INT(parse(&c, "{\"approvals\": {\"tiers\": {\"x\": 4}, "
			   "\"change_windows\": [{\"days\": [\"wed\"], \"from\": \"9:00\", "
			   "\"to\": \"10:30\"}]}}"), 0);
	CHECK_EQ_INT(c.approvals.ntypes, 1);
	CHECK_EQ_STR(c.approvals.types[0].type, "x");
	CHECK_EQ_INT(c.approvals.types[0].tier, 4);
	CHECK_EQ_INT(c.approvals.nwindows, 1);
	CHECK_EQ_INT(c.approvals.windows[0].days, 1 << WED);
	CHECK_EQ_INT(c.approvals.windows[0].from_min, HM(9, 0));
	CHECK_EQ_INT(c.approvals.windows[0].to_min, HM(10, 30));
	/* and empty lists clear them: back to "always in a window" */
	CHECK_EQ_INT(parse(&c, "{\"approvals\": {\"tiers\": {}, \"change_windows\": []}}"), 0);
	CHECK_EQ_INT(c.approvals.ntypes, 0);
	CHECK_EQ_INT(c.approvals.nwindows, 0);
	CHECK(htm_in_change_window(&c.approvals, TUE, HM(3, 0)));

	/* the most there may be */
	{
		char text[8192];
		int n = snprintf(text, sizeof(text), "{\"approvals\": {\"tiers\": {");

		for (int i = 0; i < HTM_MAX_TIER_TYPES; i++)
			n += snprintf(text + n, sizeof(text) - (size_t)n, "%s\"type%d\": %d",
				      i ? ", " : "", i, i % 5);
		n += snprintf(text + n, sizeof(text) - (size_t)n, "}, \"change_windows\": [");
		for (int i = 0; i < HTM_MAX_WINDOWS; i++)
			n += snprintf(text + n, sizeof(text) - (size_t)n,
				      "%s{\"days\": [\"mon\"], \"from\": \"%02d:00\", "
				      "\"to\": \"%02d:30\"}", i ? ", " : "", i, i);
		snprintf(text + n, sizeof(text) - (size_t)n, "]}}");
		CHECK_EQ_INT(parse(&c, text), 0);
		CHECK_EQ_STR(err, "");
		CHECK_EQ_INT(c.approvals.ntypes, HTM_MAX_TIER_TYPES);
		CHECK_EQ_STR(c.approvals.types[63].type, "type63");
		CHECK_EQ_INT(c.approvals.types[63].tier, 3);
		CHECK_EQ_INT(c.approvals.nwindows, HTM_MAX_WINDOWS);
		CHECK_EQ_INT(c.approvals.windows[15].from_min, HM(15, 0));
		CHECK_EQ_INT(c.approvals.windows[15].to_min, HM(15, 30));
	}
	/* a type name of 63 bytes fits */
	CHECK_EQ_INT(parse(&c, "{\"approvals\": {\"tiers\": {\""
			   "012345678901234567890123456789012345678901234567890123456789012"
			   "\": 1}}}"), 0);
	CHECK_EQ_INT(strlen(c.approvals.types[0].type), 63);
}

struct bad_config {
	const char *approvals;	/* the members of "approvals" */
	const char *want;
};

static const struct bad_config bad_configs[] = {
	{ "\"tiers\": {\"x\": 5}", "$.approvals.tiers.x: expected a tier 0..4" },
	{ "\"tiers\": {\"ok\": 1, \"x\": -1}", "$.approvals.tiers.x: expected a tier 0..4" },
	{ "\"tiers\": {\"x\": 1.5}", "$.approvals.tiers.x: expected a tier 0..4" },
	{ "\"tiers\": {\"x\": \"2\"}", "$.approvals.tiers.x: expected a tier 0..4" },
	{ "\"tiers\": {\"x\": null}", "$.approvals.tiers.x: expected a tier 0..4" },
	{ "\"tiers\": {\"x\": 1e300}", "$.approvals.tiers.x: expected a tier 0..4" },
	{ "\"tiers\": [\"x\"]", "$.approvals.tiers: expected {\"<task type>\": <tier 0-4>}" },
	{ "\"tiers\": 2", "$.approvals.tiers: expected {\"<task type>\": <tier 0-4>}" },
	{ "\"tiers\": {\"\": 1}", "$.approvals.tiers.: at most 64 types of 1-63 bytes" },
	{ "\"tiers\": {\"0123456789012345678901234567890123456789012345678901234567890123\": 1}",
	  "$.approvals.tiers.0123456789012345678901234567890123456789012345678901234567890123: "
	  "at most 64 types of 1-63 bytes" },
	{ "\"change_windows\": {}",
	  "$.approvals.change_windows: expected up to 16 {\"days\": [...], \"from\": "
	  "\"HH:MM\", \"to\": \"HH:MM\"}" },
	{ "\"change_windows\": [{\"days\": [], \"from\": \"09:00\", \"to\": \"17:00\"}]",
	  "$.approvals.change_windows[0].days: expected [\"mon\", ...]" },
	{ "\"change_windows\": [{\"from\": \"09:00\", \"to\": \"17:00\"}]",
	  "$.approvals.change_windows[0].days: expected [\"mon\", ...]" },
	{ "\"change_windows\": [{\"days\": \"mon\", \"from\": \"09:00\", \"to\": \"17:00\"}]",
	  "$.approvals.change_windows[0].days: expected [\"mon\", ...]" },
	{ "\"change_windows\": [{\"days\": [\"monday\"], \"from\": \"09:00\", \"to\": \"17:00\"}]",
	  "$.approvals.change_windows[0].days: expected sun, mon, tue, wed, thu, fri, sat" },
	{ "\"change_windows\": [{\"days\": [\"Mon\"], \"from\": \"09:00\", \"to\": \"17:00\"}]",
	  "$.approvals.change_windows[0].days: expected sun, mon, tue, wed, thu, fri, sat" },
	{ "\"change_windows\": [{\"days\": [1], \"from\": \"09:00\", \"to\": \"17:00\"}]",
	  "$.approvals.change_windows[0].days: expected sun, mon, tue, wed, thu, fri, sat" },
	{ "\"change_windows\": [{\"days\": [\"mon\"], \"from\": \"9am\", \"to\": \"17:00\"}]",
	  "$.approvals.change_windows[0]: from and to are \"HH:MM\"" },
	{ "\"change_windows\": [{\"days\": [\"mon\"], \"from\": \"09:00\", \"to\": \"25:00\"}]",
	  "$.approvals.change_windows[0]: from and to are \"HH:MM\"" },
	{ "\"change_windows\": [{\"days\": [\"mon\"], \"from\": \"09:00\", \"to\": \"24:01\"}]",
	  "$.approvals.change_windows[0]: from and to are \"HH:MM\"" },
	{ "\"change_windows\": [{\"days\": [\"mon\"], \"from\": \"12:60\", \"to\": \"17:00\"}]",
	  "$.approvals.change_windows[0]: from and to are \"HH:MM\"" },
	{ "\"change_windows\": [{\"days\": [\"mon\"], \"from\": \"09:00:00\", \"to\": \"17:00\"}]",
	  "$.approvals.change_windows[0]: from and to are \"HH:MM\"" },
	{ "\"change_windows\": [{\"days\": [\"mon\"], \"from\": 9, \"to\": \"17:00\"}]",
	  "$.approvals.change_windows[0]: from and to are \"HH:MM\"" },
	{ "\"change_windows\": [{\"days\": [\"mon\"], \"from\": \"09:00\"}]",
	  "$.approvals.change_windows[0]: from and to are \"HH:MM\"" },
	{ "\"change_windows\": [{\"days\": [\"mon\"], \"from\": \"09:00\", \"to\": \"17:00\", "
	  "\"tz\": \"UTC\"}]",
	  "$.approvals.change_windows[0].tz: unknown field" },
	{ "\"change_windows\": [{\"days\": [\"mon\"], \"from\": \"09:00\", \"to\": \"17:00\"}, "
	  "{\"days\": [\"tue\"], \"from\": \"09:00\", \"to\": \"5pm\"}]",
	  "$.approvals.change_windows[1]: from and to are \"HH:MM\"" },
	{ "\"default_tier\": 5", "$.approvals.default_tier: expected an integer in 0..4, got 5" },
	{ "\"quorum\": 0", "$.approvals.quorum: expected an integer in 1..8, got 0" },
	{ "\"quorum\": 9", "$.approvals.quorum: expected an integer in 1..8, got 9" },
	{ "\"expire\": \"0s\"", "$.approvals.expire: duration \"0s\" out of range" },
	{ "\"expire\": \"31d\"", "$.approvals.expire: duration \"31d\" out of range" },
	{ "\"dedupe_window\": \"8d\"", "$.approvals.dedupe_window: duration \"8d\" out of range" },
	{ "\"approve_by\": \"root\"", "$.approvals.approve_by: unknown field" },
};

/* Invalid approvals config: refused with the JSON path, config untouched. */
static void test_decode_invalid(void)
{
	struct htm_config c, before;
	char text[1024];

	htm_config_defaults(&c);
	CHECK_EQ_INT(parse(&c, "{\"approvals\": {\"tiers\": {\"keep\": 3}, \"change_windows\": "
			   "[{\"days\": [\"sat\"], \"from\": \"01:00\", \"to\": \"05:00\"}]}}"), 0);
	before = c;
	for (size_t i = 0; i < sizeof(bad_configs) / sizeof(bad_configs[0]); i++) {
		snprintf(text, sizeof(text), "{\"approvals\": {%s}}", bad_configs[i].approvals);
		CHECK_EQ_INT(parse(&c, text), -EINVAL);
		CHECK_EQ_STR(err, bad_configs[i].want);
		CHECK(memcmp(&c, &before, sizeof(c)) == 0);
		c = before;
	}
	/* too many */
	{
		char big[8192];
		int n = snprintf(big, sizeof(big), "{\"approvals\": {\"tiers\": {");

		for (int i = 0; i <= HTM_MAX_TIER_TYPES; i++)
			n += snprintf(big + n, sizeof(big) - (size_t)n, "%s\"type%d\": 1",
				      i ? ", " : "", i);
		snprintf(big + n, sizeof(big) - (size_t)n, "}}}");
		CHECK_EQ_INT(parse(&c, big), -EINVAL);
		CHECK_EQ_STR(err, "$.approvals.tiers.type64: at most 64 types of 1-63 bytes");
		CHECK(memcmp(&c, &before, sizeof(c)) == 0);

		n = snprintf(big, sizeof(big), "{\"approvals\": {\"change_windows\": [");
		for (int i = 0; i <= HTM_MAX_WINDOWS; i++)
			n += snprintf(big + n, sizeof(big) - (size_t)n,
				      "%s{\"days\": [\"mon\"], \"from\": \"09:00\", "
				      "\"to\": \"10:00\"}", i ? ", " : "");
		snprintf(big + n, sizeof(big) - (size_t)n, "]}}");
		CHECK_EQ_INT(parse(&c, big), -EINVAL);
		CHECK_PREFIX(err, "$.approvals.change_windows: expected up to 16 ");
		CHECK(memcmp(&c, &before, sizeof(c)) == 0);
	}
	/* a good tiers list and a bad window list: neither is taken */
	CHECK_EQ_INT(parse(&c, "{\"approvals\": {\"tiers\": {\"new\": 0}, \"change_windows\": "
			   "[{\"days\": [\"sun\"], \"from\": \"x\", \"to\": \"y\"}]}}"), -EINVAL);
	CHECK_EQ_STR(err, "$.approvals.change_windows[0]: from and to are \"HH:MM\"");
	CHECK_EQ_INT(c.approvals.ntypes, 1);
	CHECK_EQ_STR(c.approvals.types[0].type, "keep");
	CHECK_EQ_INT(c.approvals.nwindows, 1);
	CHECK(memcmp(&c, &before, sizeof(c)) == 0);
}

/* ------------------------------------------------------------------------ */

static int key_eq(const struct htm_task *a, const struct htm_task *b)
{
	char *ka = htm_dedupe_key(a), *kb = htm_dedupe_key(b);
	int eq = ka && kb ? strcmp(ka, kb) == 0 : -1;

	free(ka);
	free(kb);
	return eq;
}

static void set_target(struct htm_task *t, const char *target)
{
	free(t->target);
	t->target = target ? strdup(target) : NULL;
}

static void test_dedupe(void)
{
	struct htm_task *a = task("backup", HTM_RISK_LOW, "/bin/backup", "--all", NULL);
	struct htm_task *b = task("backup", HTM_RISK_LOW, "/bin/backup", "--all", NULL);
	struct htm_task *c;
	char *k;

	set_target(a, "db1");
	set_target(b, "db1");
	k = htm_dedupe_key(a);
	CHECK_EQ_STR(k, "6:backup|11:/bin/backup|5:--all|3:db1");
	free(k);
	CHECK_EQ_INT(key_eq(a, b), 1);
	/* what is not name, argv or target does not matter */
	b->risk = HTM_RISK_CRITICAL;
	b->priority = HTM_PRIO_CRITICAL;
	b->id = 99;
	b->uid = 1000;
	b->cwd = strdup("/tmp");
	b->rollback = strdup("/bin/restore");
	b->requires_approval = true;
	CHECK_EQ_INT(key_eq(a, b), 1);

	/* name */
	c = task("Backup", HTM_RISK_LOW, "/bin/backup", "--all", NULL);
	set_target(c, "db1");
	CHECK_EQ_INT(key_eq(a, c), 0);
	htm_task_free(c);
	/* target */
	set_target(b, "db2");
	CHECK_EQ_INT(key_eq(a, b), 0);
	set_target(b, NULL);
	CHECK_EQ_INT(key_eq(a, b), 0);
	set_target(b, "db1");
	CHECK_EQ_INT(key_eq(a, b), 1);
	/* an argument */
	c = task("backup", HTM_RISK_LOW, "/bin/backup", "--ALL", NULL);
	set_target(c, "db1");
	CHECK_EQ_INT(key_eq(a, c), 0);
	htm_task_free(c);
	/* one more argument, one fewer, an empty one */
	c = task("backup", HTM_RISK_LOW, "/bin/backup", "--all", "-v", NULL);
	set_target(c, "db1");
	CHECK_EQ_INT(key_eq(a, c), 0);
	htm_task_free(c);
	c = task("backup", HTM_RISK_LOW, "/bin/backup", NULL);
	set_target(c, "db1");
	CHECK_EQ_INT(key_eq(a, c), 0);
	htm_task_free(c);
	c = task("backup", HTM_RISK_LOW, "/bin/backup", "--all", "", NULL);
	set_target(c, "db1");
	CHECK_EQ_INT(key_eq(a, c), 0);
	htm_task_free(c);
	/* the order of arguments */
	c = task("backup", HTM_RISK_LOW, "--all", "/bin/backup", NULL);
	set_target(c, "db1");
	CHECK_EQ_INT(key_eq(a, c), 0);
	htm_task_free(c);
	htm_task_free(a);
	htm_task_free(b);

	/* where one argument ends and the next begins */
	a = task("sh", HTM_RISK_LOW, "a b", NULL);
	b = task("sh", HTM_RISK_LOW, "a", "b", NULL);
	CHECK_EQ_INT(key_eq(a, b), 0);
	htm_task_free(a);
	a = task("sh", HTM_RISK_LOW, "ab", NULL);
	CHECK_EQ_INT(key_eq(a, b), 0);
	htm_task_free(a);
	/* or where the name ends and argv begins, or argv and target */
	a = task("sh", HTM_RISK_LOW, "a", "b", NULL);
	c = task("sha", HTM_RISK_LOW, "b", NULL);
	CHECK_EQ_INT(key_eq(a, c), 0);
	htm_task_free(c);
	c = task("sh", HTM_RISK_LOW, "a", NULL);
	set_target(c, "b");
	CHECK_EQ_INT(key_eq(a, c), 0);
	htm_task_free(c);
	/* argv is any bytes but NUL: separators inside an argument must not
	 * make two different commands one */
	c = task("sh", HTM_RISK_LOW, "a\x1e" "b", NULL);
	CHECK_EQ_INT(key_eq(a, c), 0);
	htm_task_free(c);
	htm_task_free(a);
	htm_task_free(b);

	/* no name, no argv, no target */
	a = htm_task_new(1);
	b = htm_task_new(2);
	k = htm_dedupe_key(a);
	CHECK_EQ_STR(k, "0:|0:");
	free(k);
	CHECK_EQ_INT(key_eq(a, b), 1);
	b->argv = calloc(2, sizeof(*b->argv));
	b->argv[0] = strdup("");
	CHECK_EQ_INT(key_eq(a, b), 0);
	htm_task_free(a);
	htm_task_free(b);
}

/* ------------------------------------------------------------------------ */

static struct htm_recommendation rec(const char *rollback, enum htm_risk risk,
				     uint64_t ok, uint64_t bad, bool in_window)
{
	struct htm_task *t = task("backup", risk, "/bin/backup", NULL);
	struct htm_recommendation r;

	t->rollback = rollback ? strdup(rollback) : NULL;
	memset(&r, 0xa5, sizeof(r));
	htm_recommend(t, ok, bad, in_window, &r);
	htm_task_free(t);
	return r;
}

static void test_recommend(void)
{
	struct htm_recommendation r;

	/* rollback, low risk, a good record, in a window */
	r = rec("/bin/restore", HTM_RISK_LOW, 9, 1, true);
	CHECK_EQ_STR(r.verdict, "approve");
	CHECK_EQ_STR(r.reasons, "rollback present; low risk; backup succeeded 9 of 10 "
		     "times (90%)");
	/* the same outside the windows: still approve, saying so */
	r = rec("/bin/restore", HTM_RISK_LOW, 9, 1, false);
	CHECK_EQ_STR(r.verdict, "approve");
	CHECK_EQ_STR(r.reasons, "rollback present; low risk; backup succeeded 9 of 10 "
		     "times (90%); outside the change windows");
	/* no rollback, medium risk, a middling record */
	r = rec(NULL, HTM_RISK_MEDIUM, 6, 4, true);
	CHECK_EQ_STR(r.verdict, "review");
	CHECK_EQ_STR(r.reasons, "no rollback; medium risk; backup succeeded 6 of 10 "
		     "times (60%)");
	/* no rollback, high risk, a bad record, outside: deny */
	r = rec(NULL, HTM_RISK_HIGH, 1, 3, false);
	CHECK_EQ_STR(r.verdict, "deny");
	CHECK_HAS_STR(r.reasons, "no rollback");
	CHECK_HAS_STR(r.reasons, "high risk");
	CHECK_HAS_STR(r.reasons, "succeeded 1 of 4 times (25%)");
	CHECK_HAS_STR(r.reasons, "outside the change windows");
	/* no history */
	r = rec("/bin/restore", HTM_RISK_LOW, 0, 0, true);
	CHECK_EQ_STR(r.verdict, "review");
	CHECK_EQ_STR(r.reasons, "rollback present; low risk; backup has no history");
	r = rec(NULL, HTM_RISK_LOW, 0, 0, true);
	CHECK_EQ_STR(r.verdict, "review");
	r = rec(NULL, HTM_RISK_LOW, 0, 0, false);
	CHECK_EQ_STR(r.verdict, "deny");
	CHECK_EQ_STR(r.reasons, "no rollback; low risk; backup has no history; outside "
		     "the change windows");
	/* always failing */
	r = rec(NULL, HTM_RISK_LOW, 0, 3, true);
	CHECK_EQ_STR(r.verdict, "deny");
	CHECK_HAS_STR(r.reasons, "succeeded 0 of 3 times (0%)");
	/* critical risk weighs against */
	r = rec("/bin/restore", HTM_RISK_CRITICAL, 10, 0, true);
	CHECK_EQ_STR(r.verdict, "approve");
	CHECK_HAS_STR(r.reasons, "critical risk");
	CHECK_HAS_STR(r.reasons, "(100%)");
	r = rec("/bin/restore", HTM_RISK_CRITICAL, 10, 0, false);
	CHECK_EQ_STR(r.verdict, "review");
	r = rec(NULL, HTM_RISK_CRITICAL, 10, 0, true);
	CHECK_EQ_STR(r.verdict, "review");
	r = rec(NULL, HTM_RISK_CRITICAL, 5, 5, true);
	CHECK_EQ_STR(r.verdict, "deny");
	/* the success rate thresholds: 90% and 60% */
	r = rec("/bin/restore", HTM_RISK_MEDIUM, 90, 10, true);
	CHECK_EQ_STR(r.verdict, "approve");
	r = rec("/bin/restore", HTM_RISK_MEDIUM, 89, 11, true);
	CHECK_EQ_STR(r.verdict, "review");
	r = rec("/bin/restore", HTM_RISK_LOW, 60, 40, true);
	CHECK_EQ_STR(r.verdict, "approve");
	r = rec("/bin/restore", HTM_RISK_LOW, 59, 41, true);
	CHECK_EQ_STR(r.verdict, "review");
	CHECK_HAS_STR(r.reasons, "(59%)");
	/* a long type name does not overrun the reasons */
	{
		char name[700];
		struct htm_task *t;

		memset(name, 'n', sizeof(name) - 1);
		name[sizeof(name) - 1] = '\0';
		t = task(name, HTM_RISK_LOW, "/bin/x", NULL);
		htm_recommend(t, 1, 0, false, &r);
		CHECK(memchr(r.reasons, '\0', sizeof(r.reasons)) != NULL);
		CHECK_PREFIX(r.reasons, "no rollback; low risk; nnnn");
		CHECK_EQ_STR(r.verdict, "review");
		htm_task_free(t);
	}
}

/* ------------------------------------------------------------------------ */

static void test_outcomes(void)
{
	struct htm_outcomes o;
	uint64_t ok = 99, bad = 99;
	char type[32];
	struct htm_task *t;
	struct htm_recommendation r;

	htm_outcomes_init(&o);
	htm_outcomes_get(&o, "backup", &ok, &bad);
	CHECK_EQ_U64(ok, 0);
	CHECK_EQ_U64(bad, 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(htm_outcomes_record(&o, "backup", true), 0);
	CHECK_EQ_INT(htm_outcomes_record(&o, "backup", false), 0);
	CHECK_EQ_INT(htm_outcomes_record(&o, "deploy", false), 0);
	htm_outcomes_get(&o, "backup", &ok, &bad);
	CHECK_EQ_U64(ok, 3);
	CHECK_EQ_U64(bad, 1);
	htm_outcomes_get(&o, "deploy", &ok, &bad);
	CHECK_EQ_U64(ok, 0);
	CHECK_EQ_U64(bad, 1);
	ok = bad = 99;
	htm_outcomes_get(&o, "Backup", &ok, &bad);
	CHECK_EQ_U64(ok, 0);
	CHECK_EQ_U64(bad, 0);
	ok = bad = 99;
	htm_outcomes_get(&o, NULL, &ok, &bad);
	CHECK_EQ_U64(ok, 0);
	CHECK_EQ_U64(bad, 0);
	/* the type is copied, not borrowed */
	snprintf(type, sizeof(type), "ephemeral");
	CHECK_EQ_INT(htm_outcomes_record(&o, type, true), 0);
	memset(type, 'x', sizeof(type) - 1);
	htm_outcomes_get(&o, "ephemeral", &ok, &bad);
	CHECK_EQ_U64(ok, 1);
	CHECK_EQ_U64(bad, 0);
	/* many types stay apart */
	for (int i = 0; i < 300; i++) {
		snprintf(type, sizeof(type), "t%03d", i);
		for (int j = 0; j <= i % 4; j++)
			CHECK_EQ_INT(htm_outcomes_record(&o, type, j % 2 == 0), 0);
	}
	for (int i = 0; i < 300; i += 37) {
		snprintf(type, sizeof(type), "t%03d", i);
		htm_outcomes_get(&o, type, &ok, &bad);
		CHECK_EQ_U64(ok, (uint64_t)((i % 4) / 2 + 1));
		CHECK_EQ_U64(bad, (uint64_t)((i % 4 + 1) / 2));
	}
	/* what the recommendation reads */
	htm_outcomes_get(&o, "backup", &ok, &bad);
	t = task("backup", HTM_RISK_LOW, "/bin/backup", NULL);
	t->rollback = strdup("/bin/restore");
	htm_recommend(t, ok, bad, true, &r);
	CHECK_EQ_STR(r.reasons, "rollback present; low risk; backup succeeded 3 of 4 "
		     "times (75%)");
	CHECK_EQ_STR(r.verdict, "approve");
	htm_task_free(t);
	htm_outcomes_free(&o);
	CHECK(o.by_type == NULL);
	/* freed, it is empty and usable again */
	htm_outcomes_get(&o, "backup", &ok, &bad);
	CHECK_EQ_U64(ok, 0);
	CHECK_EQ_INT(htm_outcomes_record(&o, "backup", false), 0);
	htm_outcomes_get(&o, "backup", &ok, &bad);
	CHECK_EQ_U64(bad, 1);
	htm_outcomes_free(&o);
}

/*
 * Expiry: the daemon stamps expires_at = submitted_at + expire and its
 * timer moves the task; the core decides the setting and the move.
 */
static void test_expiry_pieces(void)
{
	struct htm_config c;
	struct htm_task *t;

	htm_config_defaults(&c);
	CHECK_EQ_U64(c.approvals.expire_ns, 3600 * HTM_NSEC_PER_SEC);
	CHECK_EQ_INT(parse(&c, "{\"approvals\": {\"expire\": \"15m\", \"dedupe_window\": 30}}"), 0);
	CHECK_EQ_U64(c.approvals.expire_ns, 900 * HTM_NSEC_PER_SEC);
	CHECK_EQ_U64(c.approvals.dedupe_ns, 30 * HTM_NSEC_PER_SEC);
	CHECK_EQ_INT(parse(&c, "{\"approvals\": {\"expire\": \"1s\"}}"), 0);
	CHECK_EQ_U64(c.approvals.expire_ns, HTM_NSEC_PER_SEC);
	CHECK_EQ_INT(parse(&c, "{\"approvals\": {\"expire\": \"30d\"}}"), 0);
	CHECK_EQ_U64(c.approvals.expire_ns, 30 * 86400 * HTM_NSEC_PER_SEC);

	/* pending -> expired (a denial by default), and that is final */
	t = task("backup", HTM_RISK_HIGH, "/bin/backup", NULL);
	t->state = HTM_STATE_PENDING_APPROVAL;
	CHECK(htm_state_can_move(HTM_STATE_PENDING_APPROVAL, HTM_STATE_EXPIRED));
	CHECK_EQ_INT(htm_task_move(t, HTM_STATE_EXPIRED, 5000, "no decision"), 0);
	CHECK_EQ_INT(t->state, HTM_STATE_EXPIRED);
	CHECK_EQ_U64(t->finished_at, 5000);
	CHECK(htm_state_is_terminal(HTM_STATE_EXPIRED));
	CHECK_EQ_INT(htm_task_move(t, HTM_STATE_QUEUED, 6000, "approved late"), -EINVAL);
	CHECK_EQ_INT(t->state, HTM_STATE_EXPIRED);
	CHECK_EQ_STR(htm_state_names[HTM_STATE_EXPIRED], "expired");
	htm_task_free(t);
}

int main(void)
{
	test_names_defaults();
	test_gate_tiers();
	test_gate_forced();
	test_gate_outside_window();
	test_windows();
	test_decode_valid();
	test_decode_invalid();
	test_dedupe();
	test_recommend();
	test_outcomes();
	test_expiry_pieces();
	return check_report();
}
