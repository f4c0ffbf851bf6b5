// SPDX-License-Identifier: MIT
/* The wire protocol: request decoding per command, responses, task JSON. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "htm/proto.h"

#include "core/duration.h"
#include "core/proto.h"
#include "core/task.h"

#include "check.h"

#define SEC HTM_NSEC_PER_SEC
#define MSEC HTM_NSEC_PER_MSEC

static char err[512];
static const char *code;

/* Parse a NUL-terminated line; on failure req.root must be NULL. */
static int parse(struct htm_request *req, const char *line)
{
	int r;

	err[0] = '\0';
	code = NULL;
	r = htm_request_parse(req, line, strlen(line), &code, err, sizeof(err));
	if (r < 0 && req->root) {
		check_fail_(__FILE__, __LINE__);
		fprintf(stderr, "failed parse left req->root set: %s\n", line);
	}
	return r;
}

/* Expect a refusal with this code and a message containing want. */
#define REJECT(line, want_code, want_msg)                                     \
	do {                                                                  \
		struct htm_request req_;                                      \
		int r_ = parse(&req_, line);                                  \
		CHECK_EQ_INT(r_, -EINVAL);                                    \
		if (r_ == 0)                                                  \
			htm_request_free(&req_);                              \
		CHECK_EQ_STR(code, want_code);                                \
		CHECK_HAS_STR(err, want_msg);                                 \
	} while (0)

#define BAD(line, want_msg) REJECT(line, HTM_ERR_BAD_REQUEST, want_msg)

static void test_submit_valid(void)
{
	struct htm_request req;
	const cJSON *a;

	/* the minimum: defaults for everything else */
	CHECK_EQ_INT(parse(&req, "{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"sleep\",\"1\"]}"), 0);
	CHECK_EQ_STR(err, "");
	CHECK(req.root != NULL);
	CHECK_EQ_INT(req.v, 1);
	CHECK_EQ_INT(req.cmd, HTM_CMD_SUBMIT);
	CHECK_EQ_STR(req.cmd_name, "submit");
	CHECK(cJSON_IsArray(req.argv));
	CHECK_EQ_INT(cJSON_GetArraySize(req.argv), 2);
	CHECK_EQ_STR(cJSON_GetArrayItem(req.argv, 0)->valuestring, "sleep");
	CHECK_EQ_STR(cJSON_GetArrayItem(req.argv, 1)->valuestring, "1");
	CHECK(req.name == NULL && req.cwd == NULL && req.batch == NULL &&
	      req.user == NULL);
	CHECK_EQ_INT(req.priority, HTM_PRIO_NORMAL);
	CHECK_EQ_INT(req.origin, HTM_ORIGIN_USER_REQUEST);
	CHECK_EQ_INT(req.risk, HTM_RISK_LOW);
	CHECK_EQ_U64(req.sla_ns, 0);
	CHECK_EQ_U64(req.timeout_ns, 0);
	htm_request_free(&req);
	CHECK(req.root == NULL);

	/* every field, durations as strings */
	CHECK_EQ_INT(parse(&req,
		"{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"make\",\"-j4\"],"
		"\"name\":\"build\",\"cwd\":\"/src\",\"batch\":\"nightly\","
		"\"user\":\"alice\",\"priority\":\"critical\","
		"\"origin\":\"hunter_alert\",\"risk\":\"high\","
		"\"sla\":\"1h30m\",\"timeout\":\"500ms\"}"), 0);
	CHECK_EQ_STR(err, "");
	CHECK_EQ_STR(req.name, "build");
	CHECK_EQ_STR(req.cwd, "/src");
	CHECK_EQ_STR(req.batch, "nightly");
	CHECK_EQ_STR(req.user, "alice");
	CHECK_EQ_INT(req.priority, HTM_PRIO_CRITICAL);
	CHECK_EQ_INT(req.origin, HTM_ORIGIN_HUNTER_ALERT);
	CHECK_EQ_INT(req.risk, HTM_RISK_HIGH);
	CHECK_EQ_U64(req.sla_ns, 5400 * SEC);
	CHECK_EQ_U64(req.timeout_ns, 500 * MSEC);
	a = req.argv;
	CHECK(a && cJSON_GetArraySize(a) == 2);
	htm_request_free(&req);

	/* durations as numbers of seconds, exact to the nanosecond */
	CHECK_EQ_INT(parse(&req,
		"{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],"
		"\"sla\":30,\"timeout\":1.5}"), 0);
	CHECK_EQ_U64(req.sla_ns, 30 * SEC);
	CHECK_EQ_U64(req.timeout_ns, 1500 * MSEC);
	htm_request_free(&req);
	CHECK_EQ_INT(parse(&req,
		"{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],"
		"\"sla\":1.001,\"timeout\":0.001}"), 0);
	CHECK_EQ_U64(req.sla_ns, 1001 * MSEC);
	CHECK_EQ_U64(req.timeout_ns, MSEC);
	htm_request_free(&req);
	{
		/* every millisecond value up to a minute survives the double */
		unsigned bad = 0;
		char line[128];

		for (unsigned ms = 1; ms <= 60000; ms++) {
			snprintf(line, sizeof(line),
				 "{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],"
				 "\"timeout\":%u.%03u}", ms / 1000, ms % 1000);
			if (parse(&req, line) != 0) {
				bad++;
				continue;
			}
			if (req.timeout_ns != ms * MSEC && bad++ < 3)
				fprintf(stderr, "%s -> %llu ns\n", line,
					(unsigned long long)req.timeout_ns);
			htm_request_free(&req);
		}
		CHECK_EQ_INT(bad, 0);
	}

	/* every enum value by name */
	for (int p = 0; p < HTM_PRIO_COUNT; p++) {
		char line[160];

		snprintf(line, sizeof(line),
			 "{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"priority\":\"%s\","
			 "\"risk\":\"%s\"}", htm_priority_names[p], htm_risk_names[p]);
		CHECK_EQ_INT(parse(&req, line), 0);
		CHECK_EQ_INT(req.priority, p);
		CHECK_EQ_INT(req.risk, p);
		htm_request_free(&req);
	}
	for (int o = 0; o < HTM_ORIGIN_COUNT; o++) {
		char line[160];

		snprintf(line, sizeof(line),
			 "{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"origin\":\"%s\"}",
			 htm_origin_names[o]);
		CHECK_EQ_INT(parse(&req, line), 0);
		CHECK_EQ_INT(req.origin, o);
		htm_request_free(&req);
	}

	/* field order does not matter, blanks around the object are fine */
	CHECK_EQ_INT(parse(&req,
		" \t{ \"argv\" : [ \"x\" ] , \"cmd\" : \"submit\" , \"v\" : 1 }\r"), 0);
	CHECK_EQ_INT(req.cmd, HTM_CMD_SUBMIT);
	htm_request_free(&req);
	/* a float that is an integer is an integer */
	CHECK_EQ_INT(parse(&req, "{\"v\":1.0,\"cmd\":\"status\"}"), 0);
	CHECK_EQ_INT(req.v, 1);
	htm_request_free(&req);
}

static void test_other_commands_valid(void)
{
	struct htm_request req;

	CHECK_EQ_INT(parse(&req, "{\"v\":1,\"cmd\":\"list\"}"), 0);
	CHECK_EQ_INT(req.cmd, HTM_CMD_LIST);
	CHECK(!req.has_state);
	htm_request_free(&req);

	CHECK_EQ_INT(parse(&req, "{\"v\":1,\"cmd\":\"list\",\"state\":\"running\"}"), 0);
	CHECK_EQ_INT(req.cmd, HTM_CMD_LIST);
	CHECK(req.has_state);
	CHECK_EQ_INT(req.state, HTM_STATE_RUNNING);
	htm_request_free(&req);

	/* state 0 is a real filter, told apart from "absent" by has_state */
	CHECK_EQ_INT(parse(&req, "{\"v\":1,\"cmd\":\"list\",\"state\":\"pending_approval\"}"), 0);
	CHECK(req.has_state);
	CHECK_EQ_INT(req.state, HTM_STATE_PENDING_APPROVAL);
	htm_request_free(&req);

	CHECK_EQ_INT(parse(&req, "{\"v\":1,\"cmd\":\"show\",\"id\":42}"), 0);
	CHECK_EQ_INT(req.cmd, HTM_CMD_SHOW);
	CHECK_EQ_U64(req.id, 42);
	htm_request_free(&req);

	CHECK_EQ_INT(parse(&req, "{\"v\":1,\"cmd\":\"cancel\",\"id\":7}"), 0);
	CHECK_EQ_INT(req.cmd, HTM_CMD_CANCEL);
	CHECK_EQ_U64(req.id, 7);
	htm_request_free(&req);

	/* ids go up to 2^53, what a JSON double holds exactly */
	CHECK_EQ_INT(parse(&req, "{\"v\":1,\"cmd\":\"show\",\"id\":9007199254740992}"), 0);
	CHECK_EQ_U64(req.id, 1ull << 53);
	htm_request_free(&req);

	CHECK_EQ_INT(parse(&req, "{\"v\":1,\"cmd\":\"wait\",\"id\":3}"), 0);
	CHECK_EQ_INT(req.cmd, HTM_CMD_WAIT);
	CHECK_EQ_U64(req.id, 3);
	CHECK(!req.has_wait);
	htm_request_free(&req);

	CHECK_EQ_INT(parse(&req, "{\"v\":1,\"cmd\":\"wait\",\"id\":3,\"timeout\":\"2m\"}"), 0);
	CHECK(req.has_wait);
	CHECK_EQ_U64(req.wait_ns, 120 * SEC);
	htm_request_free(&req);

	/* a zero wait is a poll, and legal */
	CHECK_EQ_INT(parse(&req, "{\"v\":1,\"cmd\":\"wait\",\"id\":3,\"timeout\":0}"), 0);
	CHECK(req.has_wait);
	CHECK_EQ_U64(req.wait_ns, 0);
	htm_request_free(&req);
	CHECK_EQ_INT(parse(&req, "{\"v\":1,\"cmd\":\"wait\",\"id\":3,\"timeout\":\"0s\"}"), 0);
	CHECK(req.has_wait);
	htm_request_free(&req);

	CHECK_EQ_INT(parse(&req, "{\"v\":1,\"cmd\":\"status\"}"), 0);
	CHECK_EQ_INT(req.cmd, HTM_CMD_STATUS);
	CHECK_EQ_STR(req.cmd_name, "status");
	htm_request_free(&req);

	/* the name table matches the enum */
	CHECK_EQ_STR(htm_cmd_names[HTM_CMD_SUBMIT], "submit");
	CHECK_EQ_STR(htm_cmd_names[HTM_CMD_LIST], "list");
	CHECK_EQ_STR(htm_cmd_names[HTM_CMD_SHOW], "show");
	CHECK_EQ_STR(htm_cmd_names[HTM_CMD_CANCEL], "cancel");
	CHECK_EQ_STR(htm_cmd_names[HTM_CMD_WAIT], "wait");
	CHECK_EQ_STR(htm_cmd_names[HTM_CMD_STATUS], "status");
	CHECK(htm_cmd_names[HTM_CMD_COUNT] == NULL);
}

static void test_malformed(void)
{
	struct htm_request req;

	BAD("", "malformed JSON");
	BAD("   ", "malformed JSON");
	BAD("{", "malformed JSON");
	BAD("{\"v\":1,\"cmd\":}", "malformed JSON at byte 13");
	BAD("{\"v\":1 \"cmd\":\"status\"}", "malformed JSON at byte 7");
	BAD("{\"v\":1,\"cmd\":\"status\"", "malformed JSON");
	BAD("{\"v\":1,\"cmd\":\"status\",}", "malformed JSON");
	BAD("{'v':1}", "malformed JSON");
	BAD("nul", "malformed JSON");

	/* one object per line */
	BAD("{\"v\":1,\"cmd\":\"status\"} x", "trailing data after the JSON object at byte 23");
	BAD("{\"v\":1,\"cmd\":\"status\"}{\"v\":1,\"cmd\":\"status\"}", "trailing data");
	BAD("{\"v\":1,\"cmd\":\"status\"}\n{}", "trailing data");
	{
		/* an embedded NUL is not a blank */
		static const char line[] = "{\"v\":1,\"cmd\":\"status\"}\0 ";

		CHECK_EQ_INT(htm_request_parse(&req, line, sizeof(line) - 1, &code,
					       err, sizeof(err)), -EINVAL);
		CHECK(req.root == NULL);
		CHECK_EQ_STR(code, HTM_ERR_BAD_REQUEST);
		CHECK_HAS_STR(err, "trailing data");
	}
	{
		/* len bounds the line: bytes past it are not read */
		static const char line[] = "{\"v\":1,\"cmd\":\"status\"}garbage";

		CHECK_EQ_INT(htm_request_parse(&req, line, 22, &code, err,
					       sizeof(err)), 0);
		CHECK_EQ_INT(req.cmd, HTM_CMD_STATUS);
		htm_request_free(&req);
		/* and cut short it is malformed */
		CHECK_EQ_INT(htm_request_parse(&req, line, 21, &code, err,
					       sizeof(err)), -EINVAL);
		CHECK_HAS_STR(err, "malformed JSON");
	}

	/* not an object */
	BAD("[1,2]", "a request is a JSON object");
	BAD("\"status\"", "a request is a JSON object");
	BAD("42", "a request is a JSON object");
	BAD("null", "a request is a JSON object");
	BAD("true", "a request is a JSON object");
}

static void test_cmd_and_version(void)
{
	/* cmd missing or not a string: a bad request naming $.cmd */
	BAD("{\"v\":1}", "$.cmd");
	BAD("{}", "$.v: required protocol version missing");
	BAD("{\"v\":1,\"cmd\":5}", "$.cmd");
	BAD("{\"v\":1,\"cmd\":null}", "$.cmd");
	BAD("{\"v\":1,\"cmd\":[\"status\"]}", "$.cmd");
	/* a command nobody knows */
	REJECT("{\"v\":1,\"cmd\":\"nope\"}", HTM_ERR_UNKNOWN_CMD, "unknown command \"nope\"");
	REJECT("{\"v\":1,\"cmd\":\"\"}", HTM_ERR_UNKNOWN_CMD, "unknown command");
	REJECT("{\"v\":1,\"cmd\":\"STATUS\"}", HTM_ERR_UNKNOWN_CMD, "STATUS");
	REJECT("{\"v\":1,\"cmd\":\"launch\",\"id\":1}", HTM_ERR_UNKNOWN_CMD, "launch");
	/* the case is exact */
	REJECT("{\"v\":1,\"Cmd\":\"status\"}", HTM_ERR_BAD_REQUEST, "$.cmd");

	/* the version: checked before anything else, required, exactly 1 */
	BAD("{\"cmd\":\"status\"}", "$.v: required protocol version missing");
	BAD("{\"cmd\":\"submit\",\"argv\":[\"x\"]}", "$.v: required protocol version missing");
	BAD("{\"v\":2,\"cmd\":\"status\"}", "$.v: unsupported protocol version 2");
	BAD("{\"v\":0,\"cmd\":\"status\"}", "$.v: unsupported protocol version 0");
	BAD("{\"v\":\"1\",\"cmd\":\"status\"}", "$.v: required protocol version missing");
	BAD("{\"v\":1.5,\"cmd\":\"status\"}", "$.v: unsupported protocol version 1.5");
	BAD("{\"v\":-1,\"cmd\":\"status\"}", "$.v: unsupported protocol version -1");
	BAD("{\"v\":null,\"cmd\":\"status\"}", "$.v: required protocol version missing");
	BAD("{\"v\":true,\"cmd\":\"status\"}", "$.v: required protocol version missing");
	BAD("{\"v\":4294967297,\"cmd\":\"status\"}", "$.v");
	/* a newer client's unknown fields are answered with the version */
	BAD("{\"v\":2,\"cmd\":\"status\",\"newfield\":1}", "$.v: unsupported protocol version 2");
	/* duplicates are refused, not last-one-wins */
	BAD("{\"v\":1,\"cmd\":\"status\",\"v\":1}", "$.v: duplicate field");
	BAD("{\"v\":1,\"cmd\":\"status\",\"cmd\":\"list\"}", "$.cmd: duplicate field");
}

static void test_fields(void)
{
	/* unknown fields, per command: each table is strict */
	BAD("{\"v\":1,\"cmd\":\"status\",\"verbose\":true}", "$.verbose: unknown field");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"prio\":\"high\"}", "$.prio: unknown field");
	BAD("{\"v\":1,\"cmd\":\"list\",\"id\":1}", "$.id: unknown field");
	BAD("{\"v\":1,\"cmd\":\"show\",\"id\":1,\"timeout\":\"1s\"}", "$.timeout: unknown field");
	BAD("{\"v\":1,\"cmd\":\"cancel\",\"id\":1,\"state\":\"queued\"}", "$.state: unknown field");
	BAD("{\"v\":1,\"cmd\":\"wait\",\"id\":1,\"argv\":[\"x\"]}", "$.argv: unknown field");

	/* required fields */
	BAD("{\"v\":1,\"cmd\":\"submit\"}", "$.argv: required field missing");
	BAD("{\"v\":1,\"cmd\":\"show\"}", "$.id: required field missing");
	BAD("{\"v\":1,\"cmd\":\"cancel\"}", "$.id: required field missing");
	BAD("{\"v\":1,\"cmd\":\"wait\"}", "$.id: required field missing");

	/* argv: a non-empty array of strings */
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[]}", "$.argv: expected 1..4096 items, got 0");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":\"ls -l\"}", "$.argv: expected an array of strings, got a string");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":{\"0\":\"ls\"}}", "$.argv: expected an array of strings, got an object");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":null}", "$.argv: expected an array of strings, got null");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"ls\",1]}", "$.argv[1]: expected a string");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[null]}", "$.argv[0]: expected a string");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"ls\",[\"-l\"]]}", "$.argv[1]: expected a string");

	/* strings */
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"name\":\"\"}", "$.name: must not be empty");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"name\":7}", "$.name: expected a string, got a number");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"cwd\":false}", "$.cwd: expected a string, got a boolean");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"user\":1000}", "$.user: expected a string");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"batch\":[]}", "$.batch: expected a string, got an array");

	/* enums: names only, exact */
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"priority\":\"urgent\"}",
	    "$.priority: expected one of critical, high, normal, low");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"priority\":1}", "$.priority: expected one of");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"priority\":\"HIGH\"}", "$.priority");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"origin\":\"cron\"}",
	    "$.origin: expected one of user_request, intent");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"risk\":\"extreme\"}",
	    "$.risk: expected one of low, medium, high, critical");
	BAD("{\"v\":1,\"cmd\":\"list\",\"state\":\"done\"}", "$.state: expected one of pending_approval, queued");
	BAD("{\"v\":1,\"cmd\":\"list\",\"state\":null}", "$.state");

	/* ids: integers in 1..2^53 */
	BAD("{\"v\":1,\"cmd\":\"show\",\"id\":0}", "$.id: expected an integer in 1..9007199254740992, got 0");
	BAD("{\"v\":1,\"cmd\":\"show\",\"id\":-3}", "$.id: expected an integer in");
	BAD("{\"v\":1,\"cmd\":\"show\",\"id\":1.5}", "$.id: expected an integer in");
	BAD("{\"v\":1,\"cmd\":\"show\",\"id\":\"42\"}", "$.id: expected an integer, got a string");
	BAD("{\"v\":1,\"cmd\":\"cancel\",\"id\":1e300}", "$.id: expected an integer in");
	BAD("{\"v\":1,\"cmd\":\"wait\",\"id\":[1]}", "$.id: expected an integer, got an array");

	/* durations: strings in the duration grammar or seconds, in range */
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"sla\":\"1x\"}", "$.sla: invalid duration \"1x\"");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"sla\":\"10\"}", "$.sla: invalid duration");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"sla\":\"\"}", "$.sla: invalid duration");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"sla\":\"-1s\"}", "$.sla: invalid duration");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"sla\":true}", "$.sla: expected a duration");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"sla\":null}", "$.sla: expected a duration");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"sla\":-1}", "$.sla: duration -1 s out of range");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"sla\":1e30}", "$.sla: duration");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"sla\":\"367d\"}", "$.sla: duration \"367d\" out of range");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"sla\":\"0s\"}", "$.sla: duration \"0s\" out of range");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"timeout\":0}", "$.timeout: duration 0 s too short");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"timeout\":0.0001}", "$.timeout: duration");
	BAD("{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],\"timeout\":\"99999999999999999999s\"}",
	    "$.timeout: invalid duration");
	BAD("{\"v\":1,\"cmd\":\"wait\",\"id\":1,\"timeout\":-0.5}", "$.timeout: duration -0.5 s out of range");
	BAD("{\"v\":1,\"cmd\":\"wait\",\"id\":1,\"timeout\":\"soon\"}", "$.timeout: invalid duration \"soon\"");
	{
		/* the limits themselves are accepted */
		struct htm_request req;

		CHECK_EQ_INT(parse(&req, "{\"v\":1,\"cmd\":\"submit\",\"argv\":[\"x\"],"
				   "\"sla\":\"366d\",\"timeout\":\"1ms\"}"), 0);
		CHECK_EQ_U64(req.sla_ns, 366ull * 86400 * SEC);
		CHECK_EQ_U64(req.timeout_ns, MSEC);
		htm_request_free(&req);
	}
}

/* Responses are the documented envelope. */
static void test_responses(void)
{
	cJSON *o = htm_response_ok(), *e;
	char *s;

	CHECK(o != NULL);
	s = cJSON_PrintUnformatted(o);
	CHECK_EQ_STR(s, "{\"v\":1,\"ok\":true}");
	free(s);
	cJSON_Delete(o);

	o = htm_response_error(HTM_ERR_NOT_FOUND, "no task 9");
	CHECK(o != NULL);
	CHECK_EQ_INT(cJSON_GetObjectItemCaseSensitive(o, "v")->valuedouble, 1);
	CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "ok")));
	e = cJSON_GetObjectItemCaseSensitive(o, "error");
	CHECK(cJSON_IsObject(e));
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "code")),
		     "not_found");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "message")),
		     "no task 9");
	cJSON_Delete(o);
}

/* ---- htm_task_to_json ---- */

static const cJSON *field(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!v) {
		check_fail_(__FILE__, __LINE__);
		fprintf(stderr, "task JSON lacks \"%s\"\n", name);
	}
	return v;
}

#define CHECK_NULL_FIELD(o, name) CHECK(cJSON_IsNull(field(o, name)))
#define CHECK_NUM_FIELD(o, name, want)                                        \
	do {                                                                  \
		const cJSON *v_ = field(o, name);                             \
		CHECK(cJSON_IsNumber(v_));                                    \
		if (cJSON_IsNumber(v_))                                       \
			CHECK_EQ_DBL(v_->valuedouble, want, 1e-6);            \
	} while (0)
#define CHECK_STR_FIELD(o, name, want)                                        \
	CHECK_EQ_STR(cJSON_GetStringValue(field(o, name)), want)

static void test_task_json_fresh(void)
{
	struct htm_task *t = htm_task_new(17);
	cJSON *o;
	static const char *const stable[] = {
		"id", "name", "state", "priority", "origin", "uid", "cgroup", "pid",
		"exit_code", "signal", "submitted_at", "started_at", "finished_at",
		"deadline",
	};

	o = htm_task_to_json(t);
	CHECK(cJSON_IsObject(o));
	for (size_t i = 0; i < sizeof(stable) / sizeof(stable[0]); i++)
		CHECK(cJSON_GetObjectItemCaseSensitive(o, stable[i]) != NULL);
	CHECK_NUM_FIELD(o, "id", 17);
	CHECK_NULL_FIELD(o, "name");
	CHECK_STR_FIELD(o, "state", "queued");
	CHECK_STR_FIELD(o, "priority", "normal");
	CHECK_STR_FIELD(o, "origin", "user_request");
	CHECK_NUM_FIELD(o, "uid", 0);
	/* unset: null, never 0 or -1 */
	CHECK_NULL_FIELD(o, "cgroup");
	CHECK_NULL_FIELD(o, "pid");
	CHECK_NULL_FIELD(o, "exit_code");
	CHECK_NULL_FIELD(o, "signal");
	CHECK_NULL_FIELD(o, "submitted_at");
	CHECK_NULL_FIELD(o, "started_at");
	CHECK_NULL_FIELD(o, "finished_at");
	CHECK_NULL_FIELD(o, "deadline");
	cJSON_Delete(o);
	htm_task_free(t);
}

static char **argv_of(const char *a, const char *b)
{
	char **v = calloc(3, sizeof(*v));

	if (!v)
		exit(2);
	v[0] = strdup(a);
	v[1] = strdup(b);
	return v;
}

static void test_task_json_full(void)
{
	struct htm_task *t = htm_task_new(123456);
	const uint64_t sub = 1700000000ull * SEC + 123 * MSEC + 456789;
	const cJSON *a;
	cJSON *o;
	char *text;

	t->name = strdup("nightly-build");
	t->argv = argv_of("make", "-j4");
	t->cgroup = strdup("/sys/fs/cgroup/htm.slice/high/task-123456");
	t->priority = HTM_PRIO_HIGH;
	t->origin = HTM_ORIGIN_FILESYSTEM_TRIGGER;
	t->risk = HTM_RISK_MEDIUM;
	t->uid = 1000;
	t->gid = 100;
	t->pid = 4242;
	t->sla_ns = 90 * SEC;
	t->timeout_ns = 1500 * MSEC;
	t->submitted_at = sub;
	CHECK_EQ_INT(htm_task_move(t, HTM_STATE_RUNNING, sub + 2 * SEC, NULL), 0);
	CHECK_EQ_INT(htm_task_move(t, HTM_STATE_FAILED, sub + 5 * SEC + 250 * MSEC,
				   "exit status 2"), 0);
	t->exit_code = 2;

	o = htm_task_to_json(t);
	CHECK(o != NULL);
	CHECK_NUM_FIELD(o, "id", 123456);
	CHECK_STR_FIELD(o, "name", "nightly-build");
	CHECK_STR_FIELD(o, "state", "failed");
	CHECK_STR_FIELD(o, "priority", "high");
	CHECK_STR_FIELD(o, "origin", "filesystem_trigger");
	CHECK_STR_FIELD(o, "risk", "medium");
	CHECK_NUM_FIELD(o, "uid", 1000);
	CHECK_STR_FIELD(o, "cgroup", "/sys/fs/cgroup/htm.slice/high/task-123456");
	CHECK_NUM_FIELD(o, "pid", 4242);
	CHECK_NUM_FIELD(o, "exit_code", 2);
	CHECK_NULL_FIELD(o, "signal");
	CHECK_STR_FIELD(o, "reason", "exit status 2");
	/* times: unix seconds, millisecond precision */
	CHECK_NUM_FIELD(o, "submitted_at", 1700000000.123);
	CHECK_NUM_FIELD(o, "started_at", 1700000002.123);
	CHECK_NUM_FIELD(o, "finished_at", 1700000005.373);
	/* deadline = submitted_at + sla */
	CHECK_NUM_FIELD(o, "deadline", 1700000090.123);
	CHECK_NUM_FIELD(o, "sla", 90);
	CHECK_NUM_FIELD(o, "timeout", 1.5);
	a = field(o, "argv");
	CHECK(cJSON_IsArray(a) && cJSON_GetArraySize(a) == 2);
	if (cJSON_IsArray(a) && cJSON_GetArraySize(a) == 2) {
		CHECK_EQ_STR(cJSON_GetArrayItem(a, 0)->valuestring, "make");
		CHECK_EQ_STR(cJSON_GetArrayItem(a, 1)->valuestring, "-j4");
	}

	/* the printed form really carries plain numbers and null */
	text = cJSON_PrintUnformatted(o);
	CHECK_HAS_STR(text, "\"submitted_at\":1700000000.123");
	CHECK_HAS_STR(text, "\"deadline\":1700000090.123");
	CHECK_HAS_STR(text, "\"signal\":null");
	CHECK_HAS_STR(text, "\"id\":123456,");
	free(text);
	cJSON_Delete(o);

	/* killed by a signal: signal set, exit_code still null */
	t->exit_code = -1;
	t->signal = 9;
	o = htm_task_to_json(t);
	CHECK_NUM_FIELD(o, "signal", 9);
	CHECK_NULL_FIELD(o, "exit_code");
	cJSON_Delete(o);

	/* exit code 0 is a value, not "unset" */
	t->signal = 0;
	t->exit_code = 0;
	o = htm_task_to_json(t);
	CHECK_NUM_FIELD(o, "exit_code", 0);
	CHECK_NULL_FIELD(o, "signal");
	cJSON_Delete(o);
	htm_task_free(t);

	/* every state, priority and origin name comes out as named */
	for (int s = 0; s < HTM_STATE_COUNT; s++) {
		t = htm_task_new(1);
		t->state = s;
		t->priority = (enum htm_priority)(s % HTM_PRIO_COUNT);
		t->origin = (enum htm_origin)(s % HTM_ORIGIN_COUNT);
		o = htm_task_to_json(t);
		CHECK_STR_FIELD(o, "state", htm_state_names[s]);
		CHECK_STR_FIELD(o, "priority", htm_priority_names[s % HTM_PRIO_COUNT]);
		CHECK_STR_FIELD(o, "origin", htm_origin_names[s % HTM_ORIGIN_COUNT]);
		cJSON_Delete(o);
		htm_task_free(t);
	}

	/* no SLA: no deadline, even with a submit time */
	t = htm_task_new(2);
	t->submitted_at = 1000 * SEC;
	o = htm_task_to_json(t);
	CHECK_NUM_FIELD(o, "submitted_at", 1000);
	CHECK_NULL_FIELD(o, "deadline");
	CHECK_NULL_FIELD(o, "sla");
	cJSON_Delete(o);
	htm_task_free(t);
}

int main(void)
{
	test_submit_valid();
	test_other_commands_valid();
	test_malformed();
	test_cmd_and_version();
	test_fields();
	test_responses();
	test_task_json_fresh();
	test_task_json_full();
	return check_report();
}
