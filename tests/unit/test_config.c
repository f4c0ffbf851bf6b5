// SPDX-License-Identifier: MIT
/* htmd's configuration: defaults, strict overlay, errors with JSON paths. */
#include <errno.h>
#include <stdlib.h>
#include <syslog.h>

#include "htm/proto.h"

#include "core/config.h"

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

int main(void)
{
	test_defaults();
	test_empty_object();
	test_full_overlay();
	test_errors_leave_config_unchanged();
	return check_report();
}
