// SPDX-License-Identifier: MIT
/* The strict decoder itself, on a table that uses every field type. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "core/duration.h"
#include "core/schema.h"

#include "check.h"

static const char *const colours[] = { "red", "green", "blue", NULL };

struct inner {
	uint32_t depth;
};

struct target {
	bool flag;
	uint32_t small;
	uint64_t big;
	uint64_t wait_ns;
	const char *label;
	char buf[8];
	int colour;
	bool has_colour;
	struct inner in;
	const cJSON *list;
};

#define T(m) offsetof(struct target, m)

static const struct htm_field inner_fields[] = {
	{ .name = "depth", .type = HTM_F_U32, .offset = offsetof(struct inner, depth),
	  .min = 1, .max = 9, .required = true },
	{ 0 }
};

static const struct htm_field fields[] = {
	{ .name = "flag", .type = HTM_F_BOOL, .offset = T(flag) },
	{ .name = "small", .type = HTM_F_U32, .offset = T(small), .min = 5, .max = 10 },
	{ .name = "big", .type = HTM_F_U64, .offset = T(big), .min = 0,
	  .max = 1ull << 53 },
	{ .name = "wait", .type = HTM_F_DURATION, .offset = T(wait_ns),
	  .min = 10 * HTM_NSEC_PER_MSEC, .max = 60 * HTM_NSEC_PER_SEC },
	{ .name = "label", .type = HTM_F_STRING, .offset = T(label), .min = 0 },
	{ .name = "buf", .type = HTM_F_BUF, .offset = T(buf), .size = 8, .min = 1 },
	{ .name = "colour", .type = HTM_F_ENUM, .offset = T(colour), .names = colours,
	  .present = HTM_PRESENT(struct target, has_colour) },
	{ .name = "in", .type = HTM_F_OBJECT, .offset = T(in), .fields = inner_fields },
	{ .name = "list", .type = HTM_F_STRINGS, .offset = T(list), .min = 0, .max = 2 },
	{ 0 }
};

static char err[256];

static int decode(struct target *t, const char *json)
{
	cJSON *o = cJSON_Parse(json);
	int r;

	if (!o) {
		check_fail_(__FILE__, __LINE__);
		fprintf(stderr, "test JSON does not parse: %s\n", json);
		return -999;
	}
	memset(t, 0, sizeof(*t));
	err[0] = '\0';
	r = htm_schema_decode(fields, o, t, "$", err, sizeof(err));
	/* strings point into the tree: copy what we check before freeing */
	if (r == 0 && t->label)
		t->label = strcmp(t->label, "hello") == 0 ? "hello" : "?";
	if (r == 0 && t->list)
		t->list = (const cJSON *)(uintptr_t)(cJSON_GetArraySize(t->list) + 1);
	cJSON_Delete(o);
	return r;
}

#define BAD(json, want)                                                       \
	do {                                                                  \
		struct target t_;                                             \
		CHECK_EQ_INT(decode(&t_, json), -EINVAL);                     \
		CHECK_EQ_STR(err, want);                                      \
	} while (0)

static void test_valid(void)
{
	struct target t;

	CHECK_EQ_INT(decode(&t, "{}"), 0);
	CHECK(!t.has_colour);
	CHECK_EQ_INT(decode(&t,
		"{\"flag\":true,\"small\":10,\"big\":9007199254740992,"
		"\"wait\":\"1.5s\",\"label\":\"hello\",\"buf\":\"1234567\","
		"\"colour\":\"red\",\"in\":{\"depth\":9},\"list\":[\"a\",\"b\"]}"), 0);
	CHECK_EQ_STR(err, "");
	CHECK(t.flag);
	CHECK_EQ_INT(t.small, 10);
	CHECK_EQ_U64(t.big, 1ull << 53);
	CHECK_EQ_U64(t.wait_ns, 1500 * HTM_NSEC_PER_MSEC);
	CHECK_EQ_STR(t.label, "hello");
	CHECK_EQ_STR(t.buf, "1234567");
	CHECK_EQ_INT(t.colour, 0);
	CHECK(t.has_colour);	/* red is index 0: presence is tracked apart */
	CHECK_EQ_INT(t.in.depth, 9);
	CHECK_EQ_INT((uintptr_t)t.list, 3);	/* 2 items */

	CHECK_EQ_INT(decode(&t, "{\"wait\":0.01,\"small\":5,\"colour\":\"blue\",\"list\":[]}"), 0);
	CHECK_EQ_U64(t.wait_ns, 10 * HTM_NSEC_PER_MSEC);
	CHECK_EQ_INT(t.small, 5);
	CHECK_EQ_INT(t.colour, 2);
	CHECK_EQ_INT((uintptr_t)t.list, 1);	/* 0 items */
	/* seconds as a double round to the nearest nanosecond */
	CHECK_EQ_INT(decode(&t, "{\"wait\":1.001}"), 0);
	CHECK_EQ_U64(t.wait_ns, 1001 * HTM_NSEC_PER_MSEC);
	CHECK_EQ_INT(decode(&t, "{\"wait\":60}"), 0);
	CHECK_EQ_U64(t.wait_ns, 60 * HTM_NSEC_PER_SEC);
	CHECK_EQ_INT(decode(&t, "{\"label\":\"\"}"), 0);	/* min 0 */
}

static void test_errors(void)
{
	BAD("[]", "$: expected an object, got an array");
	BAD("{\"nope\":1}", "$.nope: unknown field");
	BAD("{\"flag\":0}", "$.flag: expected a boolean, got a number");
	BAD("{\"small\":4}", "$.small: expected an integer in 5..10, got 4");
	BAD("{\"small\":11}", "$.small: expected an integer in 5..10, got 11");
	BAD("{\"small\":7.5}", "$.small: expected an integer in 5..10, got 7.5");
	BAD("{\"small\":\"7\"}", "$.small: expected an integer, got a string");
	BAD("{\"big\":9007199254740994}", "$.big: expected an integer in 0..9007199254740992, got 9.0072e+15");
	BAD("{\"big\":{}}", "$.big: expected an integer, got an object");
	BAD("{\"wait\":\"5ms\"}", "$.wait: duration \"5ms\" out of range");
	BAD("{\"wait\":\"61s\"}", "$.wait: duration \"61s\" out of range");
	BAD("{\"wait\":0.005}", "$.wait: duration 0.005 s too short");
	BAD("{\"wait\":61}", "$.wait: duration 61 s out of range");
	BAD("{\"wait\":\"later\"}", "$.wait: invalid duration \"later\" (use e.g. 500ms, 30s, 5m, 2h)");
	BAD("{\"wait\":[]}", "$.wait: expected a duration (\"30s\" or seconds), got an array");
	BAD("{\"label\":null}", "$.label: expected a string, got null");
	BAD("{\"buf\":\"\"}", "$.buf: must not be empty");
	BAD("{\"buf\":\"12345678\"}", "$.buf: longer than 7 bytes");
	BAD("{\"colour\":\"pink\"}", "$.colour: expected one of red, green, blue");
	BAD("{\"colour\":true}", "$.colour: expected one of red, green, blue");
	BAD("{\"in\":{}}", "$.in.depth: required field missing");
	BAD("{\"in\":{\"depth\":0}}", "$.in.depth: expected an integer in 1..9, got 0");
	BAD("{\"in\":{\"depth\":1,\"x\":1}}", "$.in.x: unknown field");
	BAD("{\"in\":[]}", "$.in: expected an object, got an array");
	BAD("{\"list\":[\"a\",\"b\",\"c\"]}", "$.list: expected 0..2 items, got 3");
	BAD("{\"list\":[\"a\",false]}", "$.list[1]: expected a string");
	BAD("{\"list\":\"a\"}", "$.list: expected an array of strings, got a string");
	BAD("{\"flag\":true,\"flag\":true}", "$.flag: duplicate field");
	/* the first bad field is the one reported */
	BAD("{\"small\":1,\"nope\":2}", "$.small: expected an integer in 5..10, got 1");
}

static void test_error_buffer(void)
{
	cJSON *o = cJSON_Parse("{\"in\":{\"depth\":1,\"unknown_and_long_name\":1}}");
	struct target t;
	char small[12];
	char path[300];

	memset(small, 'X', sizeof(small));
	CHECK_EQ_INT(htm_schema_decode(fields, o, &t, "$", small, sizeof(small)), -EINVAL);
	CHECK_EQ_STR(small, "$.in.unknow");

	/* a path prefix other than "$" */
	CHECK_EQ_INT(htm_schema_decode(fields, o, &t, "$.rules[3]", err, sizeof(err)), -EINVAL);
	CHECK_EQ_STR(err, "$.rules[3].in.unknown_and_long_name: unknown field");

	/* a very long path prefix is cut, never overrun */
	memset(path, 'p', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	CHECK_EQ_INT(htm_schema_decode(fields, o, &t, path, err, sizeof(err)), -EINVAL);
	CHECK(strlen(err) < sizeof(err));
	cJSON_Delete(o);
}

int main(void)
{
	test_valid();
	test_errors();
	test_error_buffer();
	return check_report();
}
