// SPDX-License-Identifier: MIT
/* htmd's configuration: defaults, strict overlay, errors with JSON paths. */
#include <errno.h>
#include <stdlib.h>
#include <syslog.h>

#include "htm/proto.h"

#include "core/config.h"
#include "core/duration.h"

#include "check.h"

static char err[512];

static int parse(struct htm_config *c, const char *text)
{
	err[0] = '\0';
	return htm_config_parse(c, text, strlen(text), err, sizeof(err));
}

static void test_defaults(void)
{
	struct htm_config c;

	memset(&c, 0xa5, sizeof(c));
	htm_config_defaults(&c);
	CHECK_EQ_STR(c.socket, "/run/htm/htmd.sock");
	CHECK_EQ_STR(c.socket, HTM_DEFAULT_SOCKET);
	CHECK_EQ_STR(c.state_dir, "/var/lib/htm");
	CHECK_EQ_STR(c.cgroup_root, "");
	CHECK_EQ_INT(c.slots, 0);
	CHECK_EQ_INT(c.history_limit, 10000);
	CHECK_EQ_INT(c.log_level, LOG_INFO);
	CHECK(!c.observe);
	CHECK_EQ_INT(c.priority[HTM_PRIO_CRITICAL].cpu_weight, 10000);
	CHECK_EQ_INT(c.priority[HTM_PRIO_HIGH].cpu_weight, 1000);
	CHECK_EQ_INT(c.priority[HTM_PRIO_NORMAL].cpu_weight, 100);
	CHECK_EQ_INT(c.priority[HTM_PRIO_LOW].cpu_weight, 10);
	CHECK_EQ_INT(c.priority[HTM_PRIO_CRITICAL].io_weight, 10000);
	CHECK_EQ_INT(c.priority[HTM_PRIO_HIGH].io_weight, 1000);
	CHECK_EQ_INT(c.priority[HTM_PRIO_NORMAL].io_weight, 100);
	CHECK_EQ_INT(c.priority[HTM_PRIO_LOW].io_weight, 10);
	CHECK(!c.priority[HTM_PRIO_CRITICAL].cpu_idle);
	CHECK(!c.priority[HTM_PRIO_HIGH].cpu_idle);
	CHECK(!c.priority[HTM_PRIO_NORMAL].cpu_idle);
	CHECK(c.priority[HTM_PRIO_LOW].cpu_idle);

	/* the log level names are syslog's, by level */
	CHECK_EQ_STR(htm_log_level_names[LOG_EMERG], "emerg");
	CHECK_EQ_STR(htm_log_level_names[LOG_ERR], "err");
	CHECK_EQ_STR(htm_log_level_names[LOG_WARNING], "warning");
	CHECK_EQ_STR(htm_log_level_names[LOG_INFO], "info");
	CHECK_EQ_STR(htm_log_level_names[LOG_DEBUG], "debug");
	CHECK(htm_log_level_names[LOG_DEBUG + 1] == NULL);
}

/* An empty object (a file that sets nothing) keeps every default. */
static void test_empty_object(void)
{
	struct htm_config c, d;

	htm_config_defaults(&c);
	htm_config_defaults(&d);
	CHECK_EQ_INT(parse(&c, "{}"), 0);
	CHECK(memcmp(&c, &d, sizeof(c)) == 0);
	CHECK_EQ_INT(parse(&c, " \n{ }\n\n"), 0);
	CHECK(memcmp(&c, &d, sizeof(c)) == 0);
	CHECK_EQ_INT(parse(&c, "{\"priorities\":{\"low\":{}}}"), 0);
	CHECK(memcmp(&c, &d, sizeof(c)) == 0);
}

static void test_full_overlay(void)
{
	static const char text[] =
		"{\n"
		"  \"socket\": \"/run/htm-test/ctl.sock\",\n"
		"  \"state_dir\": \"/srv/htm/state\",\n"
		"  \"cgroup_root\": \"/sys/fs/cgroup/governed.slice\",\n"
		"  \"slots\": 8,\n"
		"  \"history_limit\": 500,\n"
		"  \"log_level\": \"debug\",\n"
		"  \"observe\": true,\n"
		"  \"priorities\": {\n"
		"    \"critical\": { \"cpu_weight\": 9000, \"io_weight\": 8000, \"cpu_idle\": false },\n"
		"    \"high\": { \"cpu_weight\": 900, \"io_weight\": 800 },\n"
		"    \"normal\": { \"cpu_weight\": 90 },\n"
		"    \"low\": { \"cpu_weight\": 1, \"io_weight\": 1, \"cpu_idle\": false }\n"
		"  }\n"
		"}\n";
	struct htm_config c;

	htm_config_defaults(&c);
	CHECK_EQ_INT(parse(&c, text), 0);
	CHECK_EQ_STR(err, "");
	CHECK_EQ_STR(c.socket, "/run/htm-test/ctl.sock");
	CHECK_EQ_STR(c.state_dir, "/srv/htm/state");
	CHECK_EQ_STR(c.cgroup_root, "/sys/fs/cgroup/governed.slice");
	CHECK_EQ_INT(c.slots, 8);
	CHECK_EQ_INT(c.history_limit, 500);
	CHECK_EQ_INT(c.log_level, LOG_DEBUG);
	CHECK(c.observe);
	CHECK_EQ_INT(c.priority[HTM_PRIO_CRITICAL].cpu_weight, 9000);
	CHECK_EQ_INT(c.priority[HTM_PRIO_CRITICAL].io_weight, 8000);
	CHECK(!c.priority[HTM_PRIO_CRITICAL].cpu_idle);
	CHECK_EQ_INT(c.priority[HTM_PRIO_HIGH].cpu_weight, 900);
	CHECK_EQ_INT(c.priority[HTM_PRIO_HIGH].io_weight, 800);
	CHECK_EQ_INT(c.priority[HTM_PRIO_NORMAL].cpu_weight, 90);
	/* not mentioned: the default stays */
	CHECK_EQ_INT(c.priority[HTM_PRIO_NORMAL].io_weight, 100);
	CHECK_EQ_INT(c.priority[HTM_PRIO_LOW].cpu_weight, 1);
	CHECK_EQ_INT(c.priority[HTM_PRIO_LOW].io_weight, 1);
	CHECK(!c.priority[HTM_PRIO_LOW].cpu_idle);

	/* a partial overlay on top of that changes only what it names */
	CHECK_EQ_INT(parse(&c, "{\"slots\":0,\"priorities\":{\"low\":{\"cpu_idle\":true}}}"), 0);
	CHECK_EQ_INT(c.slots, 0);
	CHECK(c.priority[HTM_PRIO_LOW].cpu_idle);
	CHECK_EQ_INT(c.priority[HTM_PRIO_LOW].cpu_weight, 1);
	CHECK_EQ_INT(c.history_limit, 500);
	CHECK_EQ_STR(c.socket, "/run/htm-test/ctl.sock");

	/* each log level by name */
	for (int l = LOG_EMERG; l <= LOG_DEBUG; l++) {
		char t[64];

		snprintf(t, sizeof(t), "{\"log_level\":\"%s\"}", htm_log_level_names[l]);
		CHECK_EQ_INT(parse(&c, t), 0);
		CHECK_EQ_INT(c.log_level, l);
	}

	/* the boundaries of each range are accepted */
	htm_config_defaults(&c);
	CHECK_EQ_INT(parse(&c, "{\"slots\":4096,\"history_limit\":10000000,"
			   "\"priorities\":{\"critical\":{\"cpu_weight\":10000,\"io_weight\":10000},"
			   "\"normal\":{\"cpu_weight\":1,\"io_weight\":1}}}"), 0);
	CHECK_EQ_INT(c.slots, 4096);
	CHECK_EQ_INT(c.history_limit, 10000000);
	CHECK_EQ_INT(c.priority[HTM_PRIO_CRITICAL].cpu_weight, 10000);
	CHECK_EQ_INT(c.priority[HTM_PRIO_NORMAL].cpu_weight, 1);

	/* the socket path fills sun_path: 107 bytes and a NUL */
	{
		char t[256], path[108];

		memset(path, 'a', sizeof(path));
		path[0] = '/';
		path[107] = '\0';
		snprintf(t, sizeof(t), "{\"socket\":\"%s\"}", path);
		CHECK_EQ_INT(parse(&c, t), 0);
		CHECK_EQ_STR(c.socket, path);
	}
}

/*
 * Each bad file: the error names the JSON path, and the config is exactly
 * what it was before.
 */
static const struct {
	const char *text;
	const char *err;	/* expected prefix of the message */
} bad[] = {
	/* unknown keys, at every depth */
	{ "{\"bogus\":1}", "$.bogus: unknown field" },
	{ "{\"slots\":2,\"Socket\":\"/x\"}", "$.Socket: unknown field" },
	{ "{\"priorities\":{\"urgent\":{}}}", "$.priorities.urgent: unknown field" },
	{ "{\"priorities\":{\"low\":{\"bogus\":1}}}", "$.priorities.low.bogus: unknown field" },
	{ "{\"priorities\":{\"high\":{\"cpu_weight\":5,\"cpu.weight\":5}}}",
	  "$.priorities.high.cpu.weight: unknown field" },
	/* wrong types */
	{ "{\"slots\":\"4\"}", "$.slots: expected an integer, got a string" },
	{ "{\"slots\":4.5}", "$.slots: expected an integer in 0..4096, got 4.5" },
	{ "{\"slots\":null}", "$.slots: expected an integer, got null" },
	{ "{\"observe\":1}", "$.observe: expected a boolean, got a number" },
	{ "{\"observe\":\"true\"}", "$.observe: expected a boolean, got a string" },
	{ "{\"socket\":5}", "$.socket: expected a string, got a number" },
	{ "{\"state_dir\":[\"/a\"]}", "$.state_dir: expected a string, got an array" },
	{ "{\"priorities\":[]}", "$.priorities: expected an object, got an array" },
	{ "{\"priorities\":{\"low\":10}}", "$.priorities.low: expected an object, got a number" },
	{ "{\"priorities\":{\"low\":{\"cpu_idle\":\"yes\"}}}",
	  "$.priorities.low.cpu_idle: expected a boolean, got a string" },
	{ "{\"priorities\":{\"normal\":{\"io_weight\":\"100\"}}}",
	  "$.priorities.normal.io_weight: expected an integer, got a string" },
	/* out of range */
	{ "{\"priorities\":{\"critical\":{\"cpu_weight\":0}}}",
	  "$.priorities.critical.cpu_weight: expected an integer in 1..10000, got 0" },
	{ "{\"priorities\":{\"critical\":{\"cpu_weight\":20000}}}",
	  "$.priorities.critical.cpu_weight: expected an integer in 1..10000, got 20000" },
	{ "{\"priorities\":{\"low\":{\"io_weight\":10001}}}",
	  "$.priorities.low.io_weight: expected an integer in 1..10000" },
	{ "{\"priorities\":{\"high\":{\"cpu_weight\":-5}}}",
	  "$.priorities.high.cpu_weight: expected an integer in 1..10000" },
	{ "{\"slots\":4097}", "$.slots: expected an integer in 0..4096, got 4097" },
	{ "{\"history_limit\":-1}", "$.history_limit: expected an integer in 0..10000000" },
	{ "{\"history_limit\":1e12}", "$.history_limit: expected an integer in 0..10000000" },
	/* enums */
	{ "{\"log_level\":\"verbose\"}",
	  "$.log_level: expected one of emerg, alert, crit, err, warning, notice, info, debug" },
	{ "{\"log_level\":\"INFO\"}", "$.log_level: expected one of" },
	{ "{\"log_level\":6}", "$.log_level: expected one of" },
	/* strings */
	{ "{\"socket\":\"\"}", "$.socket: must not be empty" },
	{ "{\"state_dir\":\"\"}", "$.state_dir: must not be empty" },
	/* relative paths */
	{ "{\"socket\":\"htmd.sock\"}", "$.socket: must be an absolute path" },
	{ "{\"state_dir\":\"var/lib/htm\"}", "$.state_dir: must be an absolute path" },
	{ "{\"state_dir\":\"./htm\"}", "$.state_dir: must be an absolute path" },
	{ "{\"cgroup_root\":\"htm.slice\"}", "$.cgroup_root: must be an absolute path" },
	/* duplicates */
	{ "{\"slots\":1,\"slots\":2}", "$.slots: duplicate field" },
	{ "{\"priorities\":{\"low\":{\"cpu_weight\":1,\"cpu_weight\":2}}}",
	  "$.priorities.low.cpu_weight: duplicate field" },
	/* the document itself */
	{ "[]", "$: expected an object, got an array" },
	{ "null", "$: expected an object, got null" },
	{ "\"/etc/htm\"", "$: expected an object, got a string" },
	/* invalid JSON: line and column (1-based) of where it broke */
	{ "", "line 1 column 1: invalid JSON" },
	{ "{\n  \"slots\": 4,\n  \"observe\": tru\n}\n", "line 3 column 14: invalid JSON" },
	/* (cJSON places some errors one byte late: the line is what counts) */
	{ "{\n  \"slots\": 4,\n  \"observe\": true,\n}\n", "line 4 column " },
	{ "{\"slots\": 4 \"observe\": true}", "line 1 column 13: invalid JSON" },
	{ "{\n  // comment\n}", "line 2 column " },
	/* one object per file: trailing data is refused too */
	{ "{\"slots\":4}x", "line 1 column 12: invalid JSON" },
	{ "{\"slots\":4}\n{\"slots\":5}\n", "line 2 column 1: invalid JSON" },
	{ "{}\n\n  }", "line 3 column 3: invalid JSON" },

	/* governor.* */
	{ "{\"governor\":5}", "$.governor: expected an object, got a number" },
	{ "{\"governor\":{\"bogus\":1}}", "$.governor.bogus: unknown field" },
	{ "{\"governor\":{\"high_cap\":10}}", "$.governor.high_cap: unknown field" },
	{ "{\"governor\":{\"critical_cap\":10}}", "$.governor.critical_cap: unknown field" },
	{ "{\"governor\":{\"normal_cap\":0}}",
	  "$.governor.normal_cap: expected an integer in 1..10000, got 0" },
	{ "{\"governor\":{\"low_cap\":10001}}",
	  "$.governor.low_cap: expected an integer in 1..10000, got 10001" },
	{ "{\"governor\":{\"low_cap\":-20}}", "$.governor.low_cap: expected an integer in 1..10000" },
	{ "{\"governor\":{\"normal_cap\":50.5}}",
	  "$.governor.normal_cap: expected an integer in 1..10000, got 50.5" },
	{ "{\"governor\":{\"low_cap\":\"20%\"}}",
	  "$.governor.low_cap: expected an integer, got a string" },
	{ "{\"governor\":{\"low_cap\":20,\"low_cap\":30}}", "$.governor.low_cap: duplicate field" },
	{ "{\"governor\":{\"low_egress\":\"25%\"}}",
	  "$.governor.low_egress: expected bytes per second like \"1M\", or \"0\" for no limit" },
	{ "{\"governor\":{\"normal_egress\":1048576}}",
	  "$.governor.normal_egress: expected bytes per second like \"1M\"" },
	{ "{\"governor\":{\"normal_egress\":\"-1\"}}",
	  "$.governor.normal_egress: expected bytes per second" },
	{ "{\"governor\":{\"normal_egress\":\"1MB\"}}",
	  "$.governor.normal_egress: expected bytes per second" },
	{ "{\"governor\":{\"shed_after\":\"0s\"}}",
	  "$.governor.shed_after: duration \"0s\" out of range" },
	{ "{\"governor\":{\"shed_after\":\"200h\"}}",
	  "$.governor.shed_after: duration \"200h\" out of range" },
	{ "{\"governor\":{\"shed_after\":\"10 minutes\"}}",
	  "$.governor.shed_after: invalid duration \"10 minutes\"" },
	{ "{\"governor\":{\"breach_hold\":\"50ms\"}}",
	  "$.governor.breach_hold: duration \"50ms\" out of range" },
	{ "{\"governor\":{\"breach_hold\":0.05}}",
	  "$.governor.breach_hold: duration 0.05 s too short" },
	{ "{\"governor\":{\"breach_hold\":true}}",
	  "$.governor.breach_hold: expected a duration (\"30s\" or seconds), got a boolean" },

	/* fairshare.* */
	{ "{\"fairshare\":[]}", "$.fairshare: expected an object, got an array" },
	{ "{\"fairshare\":{\"share\":{}}}", "$.fairshare.share: unknown field" },
	{ "{\"fairshare\":{\"shares\":[30,70]}}",
	  "$.fairshare.shares: expected {\"<origin>\": <percent>}" },
	{ "{\"fairshare\":{\"shares\":{\"nobody\":10}}}",
	  "$.fairshare.shares.nobody: not an origin" },
	{ "{\"fairshare\":{\"shares\":{\"Intent\":10}}}",
	  "$.fairshare.shares.Intent: not an origin" },
	{ "{\"fairshare\":{\"shares\":{\"intent\":101}}}",
	  "$.fairshare.shares.intent: expected a percent 0..100" },
	{ "{\"fairshare\":{\"shares\":{\"intent\":-1}}}",
	  "$.fairshare.shares.intent: expected a percent 0..100" },
	{ "{\"fairshare\":{\"shares\":{\"intent\":\"10\"}}}",
	  "$.fairshare.shares.intent: expected a percent 0..100" },
	{ "{\"fairshare\":{\"shares\":{\"intent\":60,\"user_request\":50}}}",
	  "$.fairshare.shares: shares must add up to more than 0 and at most 100" },
	{ "{\"fairshare\":{\"shares\":{}}}",
	  "$.fairshare.shares: shares must add up to more than 0 and at most 100" },
	{ "{\"fairshare\":{\"shares\":{\"intent\":0}}}",
	  "$.fairshare.shares: shares must add up to more than 0" },
	{ "{\"fairshare\":{\"shares\":{\"intent\":10,\"intent\":20}}}",
	  "$.fairshare.shares.intent: duplicate field" },
	{ "{\"fairshare\":{\"burst_per_minute\":-1}}",
	  "$.fairshare.burst_per_minute: expected starts per minute, 0 for no cap" },
	{ "{\"fairshare\":{\"burst_per_minute\":1.5}}",
	  "$.fairshare.burst_per_minute: expected starts per minute" },
	{ "{\"fairshare\":{\"burst_per_minute\":\"60\"}}",
	  "$.fairshare.burst_per_minute: expected starts per minute" },
	{ "{\"fairshare\":{\"burst_per_minute\":2e6}}",
	  "$.fairshare.burst_per_minute: expected starts per minute" },
	{ "{\"fairshare\":{\"starvation_window\":\"500ms\"}}",
	  "$.fairshare.starvation_window: duration \"500ms\" out of range" },
	{ "{\"fairshare\":{\"starvation_window\":\"2d\"}}",
	  "$.fairshare.starvation_window: duration \"2d\" out of range" },

	/* priorities.*.memory_low / memory_high */
	{ "{\"priorities\":{\"critical\":{\"memory_low\":\"-1\"}}}",
	  "$.priorities.critical.memory_low: expected bytes like \"512M\" or a share of "
	  "RAM like \"25%\"" },
	{ "{\"priorities\":{\"critical\":{\"memory_low\":\"101%\"}}}",
	  "$.priorities.critical.memory_low: expected bytes like" },
	{ "{\"priorities\":{\"low\":{\"memory_high\":\"1GB\"}}}",
	  "$.priorities.low.memory_high: expected bytes like" },
	{ "{\"priorities\":{\"low\":{\"memory_high\":\"1g\"}}}",
	  "$.priorities.low.memory_high: expected bytes like" },
	{ "{\"priorities\":{\"low\":{\"memory_high\":\"25 %\"}}}",
	  "$.priorities.low.memory_high: expected bytes like" },
	{ "{\"priorities\":{\"normal\":{\"memory_high\":536870912}}}",
	  "$.priorities.normal.memory_high: expected bytes like" },
	{ "{\"priorities\":{\"normal\":{\"memory_high\":\"max\"}}}",
	  "$.priorities.normal.memory_high: expected bytes like" },
	{ "{\"priorities\":{\"high\":{\"memory_low\":\"000000000000000000000001\"}}}",
	  "$.priorities.high.memory_low: expected bytes like" },
	{ "{\"priorities\":{\"high\":{\"memory_low\":\"1G\",\"memory_low\":\"2G\"}}}",
	  "$.priorities.high.memory_low: duplicate field" },
};

static void test_errors_leave_config_unchanged(void)
{
	struct htm_config before, c;

	/* start from something that is not the defaults */
	htm_config_defaults(&before);
	CHECK_EQ_INT(parse(&before, "{\"slots\":3,\"observe\":true,\"log_level\":\"err\","
			   "\"socket\":\"/tmp/h.sock\","
			   "\"priorities\":{\"high\":{\"cpu_weight\":777}}}"), 0);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r;

		c = before;
		r = parse(&c, bad[i].text);
		check_total++;
		if (r != -EINVAL || strncmp(err, bad[i].err, strlen(bad[i].err)) != 0 ||
		    (strncmp(bad[i].err, "line ", 5) == 0 && !strstr(err, "invalid JSON"))) {
			check_fail_(__FILE__, __LINE__);
			fprintf(stderr, "config \"%s\": %d \"%s\", want -EINVAL \"%s...\"\n",
				bad[i].text, r, err, bad[i].err);
		}
		check_total++;
		if (memcmp(&c, &before, sizeof(c)) != 0) {
			check_fail_(__FILE__, __LINE__);
			fprintf(stderr, "config \"%s\" changed the config\n",
				bad[i].text);
		}
	}

	/*
	 * A file valid up to its last key still changes nothing: the good
	 * fields before the bad one are not half-applied.
	 */
	c = before;
	CHECK_EQ_INT(parse(&c, "{\"slots\":64,\"observe\":false,\"history_limit\":5,"
			   "\"priorities\":{\"critical\":{\"cpu_weight\":1},"
			   "\"low\":{\"cpu_weight\":0}}}"), -EINVAL);
	CHECK_PREFIX(err, "$.priorities.low.cpu_weight:");
	CHECK(memcmp(&c, &before, sizeof(c)) == 0);
	CHECK_EQ_INT(c.slots, 3);
	CHECK(c.observe);
	CHECK_EQ_INT(c.priority[HTM_PRIO_CRITICAL].cpu_weight, 10000);

	/* the path check runs after decoding, and also changes nothing */
	c = before;
	CHECK_EQ_INT(parse(&c, "{\"slots\":64,\"state_dir\":\"rel\"}"), -EINVAL);
	CHECK_PREFIX(err, "$.state_dir:");
	CHECK_EQ_INT(c.slots, 3);
	CHECK_EQ_STR(c.state_dir, "/var/lib/htm");

	/* too long for its buffer */
	{
		char t[256], path[109];

		memset(path, 'a', sizeof(path));
		path[0] = '/';
		path[108] = '\0';
		snprintf(t, sizeof(t), "{\"socket\":\"%s\"}", path);
		c = before;
		CHECK_EQ_INT(parse(&c, t), -EINVAL);
		CHECK_EQ_STR(err, "$.socket: longer than 107 bytes");
		CHECK(memcmp(&c, &before, sizeof(c)) == 0);
	}
	{
		size_t n = HTM_ROOT_MAX + 64;
		char *t = malloc(n);

		CHECK(t != NULL);
		if (t) {
			size_t off = (size_t)snprintf(t, n, "{\"state_dir\":\"/");

			memset(t + off, 'd', HTM_ROOT_MAX);
			snprintf(t + off + HTM_ROOT_MAX - 1, n - off - HTM_ROOT_MAX + 1, "\"}");
			c = before;
			CHECK_EQ_INT(parse(&c, t), -EINVAL);
			CHECK_PREFIX(err, "$.state_dir: longer than");
			CHECK(memcmp(&c, &before, sizeof(c)) == 0);
			free(t);
		}
	}

	/* the length is honoured: bytes past len are not read */
	{
		static const char text[] = "{\"slots\":9}{\"slots\":";

		c = before;
		CHECK_EQ_INT(htm_config_parse(&c, text, 11, err, sizeof(err)), 0);
		CHECK_EQ_INT(c.slots, 9);
	}

	/* a short error buffer is still terminated */
	{
		char small[8];

		c = before;
		memset(small, 'X', sizeof(small));
		CHECK_EQ_INT(htm_config_parse(&c, "{\"bogus\":1}", 11, small,
					      sizeof(small)), -EINVAL);
		CHECK(memchr(small, '\0', sizeof(small)) != NULL);
		CHECK(strncmp(small, "$.bogus", 7) == 0);
	}
}

static void test_memory_size(void)
{
	static const struct {
		const char *s;
		uint64_t want;
	} good[] = {
		{ "0", 0 },
		{ "4096", 4096 },
		{ "1K", 1024 },
		{ "512M", 512ull << 20 },
		{ "1G", 1ull << 30 },
		{ "1.5G", 3ull << 29 },
		{ "2T", 2ull << 40 },
		{ "25%", 2ull << 30 },		/* of 8G */
		{ "12.5%", 1ull << 30 },
		{ "100%", 8ull << 30 },
		{ "0%", 0 },
		{ "16777215T", 16777215ull << 40 },
	};
	static const char *const bad_sizes[] = {
		"", "-1", "-1G", "-5%", "101%", "100.5%", "1GB", "1g", "1m", "1 G", "G",
		"%", "abc", "1K%", "25%%", "nan", "inf", "1e30T", "16777216T",
		"18446744073709551616",
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 12345;
		check_total++;
		if (htm_memory_size(good[i].s, 8ull << 30, &v) != 0 || v != good[i].want) {
			check_fail_(__FILE__, __LINE__);
			fprintf(stderr, "htm_memory_size(\"%s\"): %llu, want %llu\n",
				good[i].s, (unsigned long long)v,
				(unsigned long long)good[i].want);
		}
	}
	for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		v = 12345;
		check_total++;
		if (htm_memory_size(bad_sizes[i], 8ull << 30, &v) != -EINVAL || v != 12345) {
			check_fail_(__FILE__, __LINE__);
			fprintf(stderr, "htm_memory_size(\"%s\") accepted: %llu\n",
				bad_sizes[i], (unsigned long long)v);
		}
	}
	/* a share of nothing is nothing */
	CHECK_EQ_INT(htm_memory_size("50%", 0, &v), 0);
	CHECK_EQ_U64(v, 0);
}

/* The governor, fair share and memory settings, defaults and overlays. */
static void test_governor_fairshare(void)
{
	struct htm_config c, d;

	htm_config_defaults(&c);
	CHECK_EQ_INT(c.governor.cap_pct[HTM_PRIO_NORMAL], 50);
	CHECK_EQ_INT(c.governor.cap_pct[HTM_PRIO_LOW], 20);
	CHECK_EQ_INT(c.governor.cap_pct[HTM_PRIO_CRITICAL], 0);
	CHECK_EQ_INT(c.governor.cap_pct[HTM_PRIO_HIGH], 0);
	CHECK_EQ_U64(c.governor.egress_bps[HTM_PRIO_NORMAL], 10ull << 20);
	CHECK_EQ_U64(c.governor.egress_bps[HTM_PRIO_LOW], 1ull << 20);
	CHECK_EQ_U64(c.governor.egress_bps[HTM_PRIO_CRITICAL], 0);
	CHECK_EQ_U64(c.governor.shed_after_ns, 600 * HTM_NSEC_PER_SEC);
	CHECK_EQ_U64(c.governor.breach_hold_ns, 5 * HTM_NSEC_PER_SEC);
	CHECK_EQ_DBL(c.fairshare.share[HTM_ORIGIN_USER_REQUEST], 0.30, 1e-12);
	CHECK_EQ_DBL(c.fairshare.share[HTM_ORIGIN_INTERNAL], 0.02, 1e-12);
	CHECK_EQ_INT(c.fairshare.burst_per_min[HTM_ORIGIN_SCHEDULER], 600);
	CHECK_EQ_U64(c.fairshare.starvation_ns, 30 * HTM_NSEC_PER_SEC);
	/* critical work is protected by default, nothing else is */
	CHECK_EQ_STR(c.priority[HTM_PRIO_CRITICAL].memory_low, "25%");
	CHECK_EQ_STR(c.priority[HTM_PRIO_CRITICAL].memory_high, "");
	for (int p = HTM_PRIO_HIGH; p < HTM_PRIO_COUNT; p++) {
		CHECK_EQ_STR(c.priority[p].memory_low, "");
		CHECK_EQ_STR(c.priority[p].memory_high, "");
	}
	CHECK_EQ_U64(c.priority[HTM_PRIO_CRITICAL].rq_budget_ns, 10 * HTM_NSEC_PER_MSEC);

	CHECK_EQ_INT(parse(&c, "{\"governor\":{\"normal_cap\":150,\"low_cap\":5,"
			   "\"normal_egress\":\"2M\",\"low_egress\":\"0\","
			   "\"shed_after\":\"15m\",\"breach_hold\":\"250ms\"},"
			   "\"fairshare\":{\"shares\":{\"user_request\":50,\"intent\":25,"
			   "\"internal\":12.5},\"burst_per_minute\":120,"
			   "\"starvation_window\":\"45s\"},"
			   "\"priorities\":{\"critical\":{\"memory_low\":\"1G\"},"
			   "\"normal\":{\"memory_high\":\"25%\"},"
			   "\"low\":{\"memory_low\":\"0\",\"memory_high\":\"512M\"}}}"), 0);
	CHECK_EQ_STR(err, "");
	CHECK_EQ_INT(c.governor.cap_pct[HTM_PRIO_NORMAL], 150);
	CHECK_EQ_INT(c.governor.cap_pct[HTM_PRIO_LOW], 5);
	CHECK_EQ_U64(c.governor.egress_bps[HTM_PRIO_NORMAL], 2ull << 20);
	CHECK_EQ_U64(c.governor.egress_bps[HTM_PRIO_LOW], 0);
	CHECK_EQ_U64(c.governor.shed_after_ns, 900 * HTM_NSEC_PER_SEC);
	CHECK_EQ_U64(c.governor.breach_hold_ns, 250 * HTM_NSEC_PER_MSEC);
	/* shares are percent in the file, fractions inside; unnamed origins 0 */
	CHECK_EQ_DBL(c.fairshare.share[HTM_ORIGIN_USER_REQUEST], 0.50, 1e-12);
	CHECK_EQ_DBL(c.fairshare.share[HTM_ORIGIN_INTENT], 0.25, 1e-12);
	CHECK_EQ_DBL(c.fairshare.share[HTM_ORIGIN_INTERNAL], 0.125, 1e-12);
	CHECK_EQ_DBL(c.fairshare.share[HTM_ORIGIN_SCHEDULER], 0, 1e-12);
	for (int o = 0; o < HTM_ORIGIN_COUNT; o++)
		CHECK_EQ_INT(c.fairshare.burst_per_min[o], 120);
	CHECK_EQ_U64(c.fairshare.starvation_ns, 45 * HTM_NSEC_PER_SEC);
	CHECK_EQ_STR(c.priority[HTM_PRIO_CRITICAL].memory_low, "1G");
	CHECK_EQ_STR(c.priority[HTM_PRIO_NORMAL].memory_high, "25%");
	CHECK_EQ_STR(c.priority[HTM_PRIO_LOW].memory_low, "0");
	CHECK_EQ_STR(c.priority[HTM_PRIO_LOW].memory_high, "512M");
	/* named fields only: the rest kept */
	CHECK_EQ_INT(c.priority[HTM_PRIO_CRITICAL].cpu_weight, 10000);
	CHECK_EQ_STR(c.priority[HTM_PRIO_CRITICAL].memory_high, "");

	/* the boundaries */
	CHECK_EQ_INT(parse(&c, "{\"governor\":{\"normal_cap\":10000,\"low_cap\":1,"
			   "\"shed_after\":\"1s\",\"breach_hold\":\"100ms\"},"
			   "\"fairshare\":{\"shares\":{\"remediation\":100},"
			   "\"burst_per_minute\":0,\"starvation_window\":\"1d\"}}"), 0);
	CHECK_EQ_INT(c.governor.cap_pct[HTM_PRIO_NORMAL], 10000);
	CHECK_EQ_INT(c.governor.cap_pct[HTM_PRIO_LOW], 1);
	CHECK_EQ_U64(c.governor.shed_after_ns, HTM_NSEC_PER_SEC);
	CHECK_EQ_U64(c.governor.breach_hold_ns, 100 * HTM_NSEC_PER_MSEC);
	CHECK_EQ_DBL(c.fairshare.share[HTM_ORIGIN_REMEDIATION], 1.0, 1e-12);
	CHECK_EQ_DBL(c.fairshare.share[HTM_ORIGIN_USER_REQUEST], 0, 1e-12);
	CHECK_EQ_INT(c.fairshare.burst_per_min[HTM_ORIGIN_INTERNAL], 0);
	CHECK_EQ_U64(c.fairshare.starvation_ns, 86400 * HTM_NSEC_PER_SEC);
	/* the default shares written out in full add up (rounding allowed) */
	CHECK_EQ_INT(parse(&c, "{\"fairshare\":{\"shares\":{\"user_request\":30,"
			   "\"intent\":25,\"hunter_alert\":15,\"external_api\":10,"
			   "\"scheduler\":10,\"filesystem_trigger\":5,\"remediation\":3,"
			   "\"internal\":2}}}"), 0);
	htm_config_defaults(&d);
	for (int o = 0; o < HTM_ORIGIN_COUNT; o++)
		CHECK_EQ_DBL(c.fairshare.share[o], d.fairshare.share[o], 1e-12);

	/* a bare number is seconds for durations */
	CHECK_EQ_INT(parse(&c, "{\"governor\":{\"shed_after\":1200,\"breach_hold\":0.5}}"), 0);
	CHECK_EQ_U64(c.governor.shed_after_ns, 1200 * HTM_NSEC_PER_SEC);
	CHECK_EQ_U64(c.governor.breach_hold_ns, 500 * HTM_NSEC_PER_MSEC);

	/* "" means "not written": the critical default can be turned off */
	htm_config_defaults(&c);
	CHECK_EQ_INT(parse(&c, "{\"priorities\":{\"critical\":{\"memory_low\":\"\"}}}"), 0);
	CHECK_EQ_STR(err, "");
	CHECK_EQ_STR(c.priority[HTM_PRIO_CRITICAL].memory_low, "");
	/* the longest that fits: 23 characters */
	CHECK_EQ_INT(parse(&c, "{\"priorities\":{\"high\":{\"memory_low\":"
			   "\"00000000000000000000001\"}}}"), 0);
	CHECK_EQ_STR(c.priority[HTM_PRIO_HIGH].memory_low, "00000000000000000000001");
}

int main(void)
{
	test_defaults();
	test_empty_object();
	test_full_overlay();
	test_errors_leave_config_unchanged();
	test_memory_size();
	test_governor_fairshare();
	return check_report();
}
