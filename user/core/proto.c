// SPDX-License-Identifier: MIT
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htm/proto.h"

#include "duration.h"
#include "proto.h"
#include "schema.h"

const char *const htm_cmd_names[] = {
	[HTM_CMD_SUBMIT] = "submit", [HTM_CMD_LIST] = "list",
	[HTM_CMD_SHOW] = "show", [HTM_CMD_CANCEL] = "cancel",
	[HTM_CMD_WAIT] = "wait", [HTM_CMD_STATUS] = "status",
	[HTM_CMD_TOP] = "top", [HTM_CMD_LOG] = "log",
	[HTM_CMD_APPROVALS] = "approvals", [HTM_CMD_APPROVE] = "approve",
	[HTM_CMD_DENY] = "deny", [HTM_CMD_EMIT] = "emit", [HTM_CMD_RULES] = "rules",
	[HTM_CMD_RULES_TEST] = "rules_test", [HTM_CMD_RELOAD] = "reload",
	[HTM_CMD_PLACE] = "place", [HTM_CMD_UNPLACE] = "unplace", NULL,
};

const char *const htm_severity_names[] = {
	"info", "warning", "critical", NULL,
};

#define R(member) offsetof(struct htm_request, member)
#define DURATION_MAX (366ull * 86400 * HTM_NSEC_PER_SEC)

#define HEADER_FIELDS                                                         \
	{ .name = "v", .type = HTM_F_U32, .offset = R(v), .min = 0,           \
	  .max = UINT32_MAX, .required = true },                              \
	{ .name = "cmd", .type = HTM_F_STRING, .offset = R(cmd_name),         \
	  .min = 1, .required = true }

#define ID_FIELD                                                              \
	{ .name = "id", .type = HTM_F_U64, .offset = R(id), .min = 1,         \
	  .max = (1ull << 53), .required = true }

static const struct htm_field submit_fields[] = {
	HEADER_FIELDS,
	{ .name = "argv", .type = HTM_F_STRINGS, .offset = R(argv), .min = 1,
	  .max = 4096, .required = true },
	{ .name = "name", .type = HTM_F_STRING, .offset = R(name), .min = 1 },
	{ .name = "cwd", .type = HTM_F_STRING, .offset = R(cwd), .min = 1 },
	{ .name = "batch", .type = HTM_F_STRING, .offset = R(batch), .min = 1 },
	{ .name = "user", .type = HTM_F_STRING, .offset = R(user), .min = 1 },
	{ .name = "priority", .type = HTM_F_ENUM, .offset = R(priority),
	  .names = htm_priority_names },
	{ .name = "origin", .type = HTM_F_ENUM, .offset = R(origin),
	  .names = htm_origin_names },
	{ .name = "risk", .type = HTM_F_ENUM, .offset = R(risk),
	  .names = htm_risk_names },
	{ .name = "sla", .type = HTM_F_DURATION, .offset = R(sla_ns),
	  .min = HTM_NSEC_PER_MSEC, .max = DURATION_MAX },
	{ .name = "timeout", .type = HTM_F_DURATION, .offset = R(timeout_ns),
	  .min = HTM_NSEC_PER_MSEC, .max = DURATION_MAX },
	{ .name = "budget", .type = HTM_F_DURATION, .offset = R(budget_ns),
	  .min = 1000, .max = 60 * HTM_NSEC_PER_SEC },
	{ .name = "approval", .type = HTM_F_BOOL, .offset = R(approval) },
	{ .name = "rollback", .type = HTM_F_STRING, .offset = R(rollback), .min = 1 },
	{ .name = "target", .type = HTM_F_STRING, .offset = R(target), .min = 1 },
	{ 0 }
};

static const struct htm_field list_fields[] = {
	HEADER_FIELDS,
	{ .name = "state", .type = HTM_F_ENUM, .offset = R(state),
	  .names = htm_state_names, .present = HTM_PRESENT(struct htm_request, has_state) },
	{ 0 }
};

static const struct htm_field id_fields[] = { HEADER_FIELDS, ID_FIELD, { 0 } };

static const struct htm_field wait_fields[] = {
	HEADER_FIELDS,
	ID_FIELD,
	{ .name = "timeout", .type = HTM_F_DURATION, .offset = R(wait_ns),
	  .min = 0, .max = DURATION_MAX,
	  .present = HTM_PRESENT(struct htm_request, has_wait) },
	{ 0 }
};

static const struct htm_field status_fields[] = { HEADER_FIELDS, { 0 } };

static const struct htm_field log_fields[] = {
	HEADER_FIELDS,
	{ .name = "task", .type = HTM_F_U64, .offset = R(id), .min = 1,
	  .max = (1ull << 53) },
	{ .name = "actor", .type = HTM_F_STRING, .offset = R(actor), .min = 1 },
	{ .name = "type", .type = HTM_F_STRING, .offset = R(type), .min = 1 },
	{ .name = "since", .type = HTM_F_DURATION, .offset = R(since_ns),
	  .min = 0, .max = DURATION_MAX * 100,
	  .present = HTM_PRESENT(struct htm_request, has_since) },
	{ .name = "limit", .type = HTM_F_U32, .offset = R(limit), .min = 1,
	  .max = 100000 },
	{ .name = "verify", .type = HTM_F_BOOL, .offset = R(verify) },
	{ 0 }
};

static const struct htm_field approve_fields[] = {
	HEADER_FIELDS,
	ID_FIELD,
	{ .name = "reason", .type = HTM_F_STRING, .offset = R(reason), .min = 1 },
	{ .name = "override", .type = HTM_F_BOOL, .offset = R(override) },
	{ 0 }
};

static const struct htm_field deny_fields[] = {
	HEADER_FIELDS,
	ID_FIELD,
	{ .name = "reason", .type = HTM_F_STRING, .offset = R(reason), .min = 1 },
	{ 0 }
};

static const struct htm_field emit_fields[] = {
	HEADER_FIELDS,
	{ .name = "type", .type = HTM_F_STRING, .offset = R(type), .min = 1,
	  .required = true },
	{ .name = "fields", .type = HTM_F_OBJECT_JSON, .offset = R(fields) },
	{ .name = "severity", .type = HTM_F_ENUM, .offset = R(severity),
	  .names = htm_severity_names },
	{ 0 }
};

static const struct htm_field rules_test_fields[] = {
	HEADER_FIELDS,
	{ .name = "event", .type = HTM_F_OBJECT_JSON, .offset = R(event),
	  .required = true },
	{ 0 }
};

static const struct htm_field place_fields[] = {
	HEADER_FIELDS,
	{ .name = "path", .type = HTM_F_STRING, .offset = R(path), .min = 1,
	  .required = true },
	{ .name = "priority", .type = HTM_F_ENUM, .offset = R(priority),
	  .names = htm_priority_names },
	{ .name = "budget", .type = HTM_F_DURATION, .offset = R(budget_ns),
	  .min = 1000, .max = 60 * HTM_NSEC_PER_SEC },
	{ 0 }
};

static const struct htm_field unplace_fields[] = {
	HEADER_FIELDS,
	{ .name = "path", .type = HTM_F_STRING, .offset = R(path), .min = 1,
	  .required = true },
	{ 0 }
};

static const struct htm_field *const cmd_fields[HTM_CMD_COUNT] = {
	[HTM_CMD_SUBMIT] = submit_fields, [HTM_CMD_LIST] = list_fields,
	[HTM_CMD_SHOW] = id_fields, [HTM_CMD_CANCEL] = id_fields,
	[HTM_CMD_WAIT] = wait_fields, [HTM_CMD_STATUS] = status_fields,
	[HTM_CMD_TOP] = status_fields, [HTM_CMD_LOG] = log_fields,
	[HTM_CMD_APPROVALS] = status_fields, [HTM_CMD_APPROVE] = approve_fields,
	[HTM_CMD_DENY] = deny_fields, [HTM_CMD_EMIT] = emit_fields,
	[HTM_CMD_RULES] = status_fields, [HTM_CMD_RULES_TEST] = rules_test_fields,
	[HTM_CMD_RELOAD] = status_fields, [HTM_CMD_PLACE] = place_fields,
	[HTM_CMD_UNPLACE] = unplace_fields,
};

int htm_request_parse(struct htm_request *req, const char *line, size_t len,
		      const char **code, char *err, size_t errlen)
{
	const char *end = NULL;
	const cJSON *cmd;
	int r = -EINVAL;

	memset(req, 0, sizeof(*req));
	req->priority = HTM_PRIO_NORMAL;
	req->origin = HTM_ORIGIN_USER_REQUEST;
	req->risk = HTM_RISK_LOW;
	*code = HTM_ERR_BAD_REQUEST;

	if (htm_json_has_nul(line, len)) {
		snprintf(err, errlen, "strings must not contain NUL (\\u0000)");
		goto out;
	}
	req->root = cJSON_ParseWithLengthOpts(line, len, &end, false);
	if (!req->root) {
		snprintf(err, errlen, "malformed JSON at byte %td",
			 end ? end - line : (ptrdiff_t)0);
		goto out;
	}
	/* one object per line: anything but blanks after it is an error */
	for (; end < line + len; end++)
		if (!*end || !strchr(" \t\r", *end)) {
			snprintf(err, errlen, "trailing data after the JSON object "
				 "at byte %td", end - line);
			goto out;
		}
	if (!cJSON_IsObject(req->root)) {
		snprintf(err, errlen, "a request is a JSON object");
		goto out;
	}
	/* the version first: a newer client's fields mean nothing to us */
	cmd = cJSON_GetObjectItemCaseSensitive(req->root, "v");
	if (!cJSON_IsNumber(cmd)) {
		snprintf(err, errlen, "$.v: required protocol version missing "
			 "(this htmd speaks %d)", HTM_PROTO_VERSION);
		goto out;
	}
	if (cmd->valuedouble != HTM_PROTO_VERSION) {
		snprintf(err, errlen, "$.v: unsupported protocol version %g "
			 "(this htmd speaks %d)", cmd->valuedouble, HTM_PROTO_VERSION);
		goto out;
	}
	cmd = cJSON_GetObjectItemCaseSensitive(req->root, "cmd");
	if (!cJSON_IsString(cmd)) {
		snprintf(err, errlen, "$.cmd: required string missing");
		goto out;
	}
	req->cmd = htm_name_lookup(htm_cmd_names, cmd->valuestring);
	if (req->cmd < 0) {
		*code = HTM_ERR_UNKNOWN_CMD;
		snprintf(err, errlen, "unknown command \"%.64s\"", cmd->valuestring);
		goto out;
	}
	r = htm_schema_decode(cmd_fields[req->cmd], req->root, req, "$", err,
			      errlen);
out:
	if (r < 0) {
		cJSON_Delete(req->root);
		req->root = NULL;
	}
	return r;
}

void htm_request_free(struct htm_request *req)
{
	cJSON_Delete(req->root);
	req->root = NULL;
}

cJSON *htm_response_ok(void)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	if (!cJSON_AddNumberToObject(o, "v", HTM_PROTO_VERSION) ||
	    !cJSON_AddTrueToObject(o, "ok")) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *htm_response_error(const char *code, const char *message)
{
	cJSON *o = cJSON_CreateObject(), *e;

	if (!o)
		return NULL;
	if (!cJSON_AddNumberToObject(o, "v", HTM_PROTO_VERSION) ||
	    !cJSON_AddFalseToObject(o, "ok") ||
	    !(e = cJSON_AddObjectToObject(o, "error")) ||
	    !cJSON_AddStringToObject(e, "code", code) ||
	    !cJSON_AddStringToObject(e, "message", message)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* Wall-clock ns as unix seconds with millisecond precision, or null. */
static cJSON *time_or_null(uint64_t ns)
{
	if (!ns)
		return cJSON_CreateNull();
	return cJSON_CreateNumber((double)(ns / HTM_NSEC_PER_MSEC) / 1000.0);
}

static cJSON *seconds_or_null(uint64_t ns)
{
	if (!ns)
		return cJSON_CreateNull();
	return cJSON_CreateNumber((double)ns / (double)HTM_NSEC_PER_SEC);
}

static cJSON *string_or_null(const char *s)
{
	return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *int_or_null(bool set, int64_t v)
{
	return set ? cJSON_CreateNumber((double)v) : cJSON_CreateNull();
}

cJSON *htm_task_to_json(const struct htm_task *t)
{
	cJSON *o = cJSON_CreateObject(), *argv;
	bool ok;

	if (!o)
		return NULL;
	argv = cJSON_CreateArray();
	ok = argv && cJSON_AddItemToObject(o, "id", cJSON_CreateNumber((double)t->id));
	ok = ok && cJSON_AddItemToObject(o, "name", string_or_null(t->name));
	ok = ok && cJSON_AddStringToObject(o, "state", htm_state_names[t->state]);
	ok = ok && cJSON_AddStringToObject(o, "priority",
					   htm_priority_names[t->priority]);
	ok = ok && cJSON_AddStringToObject(o, "origin",
					   htm_origin_names[t->origin]);
	ok = ok && cJSON_AddNumberToObject(o, "uid", t->uid);
	ok = ok && cJSON_AddNumberToObject(o, "gid", t->gid);
	ok = ok && cJSON_AddItemToObject(o, "cgroup", string_or_null(t->cgroup));
	ok = ok && cJSON_AddItemToObject(o, "cgroup_id",
					 int_or_null(t->cgroup_id != 0, (int64_t)t->cgroup_id));
	ok = ok && cJSON_AddItemToObject(o, "budget", seconds_or_null(t->budget_ns));
	ok = ok && cJSON_AddItemToObject(o, "pid", int_or_null(t->pid > 0, t->pid));
	ok = ok && cJSON_AddItemToObject(o, "exit_code",
					 int_or_null(t->exit_code >= 0, t->exit_code));
	ok = ok && cJSON_AddItemToObject(o, "signal",
					 int_or_null(t->signal > 0, t->signal));
	ok = ok && cJSON_AddItemToObject(o, "submitted_at", time_or_null(t->submitted_at));
	ok = ok && cJSON_AddItemToObject(o, "started_at", time_or_null(t->started_at));
	ok = ok && cJSON_AddItemToObject(o, "finished_at", time_or_null(t->finished_at));
	ok = ok && cJSON_AddItemToObject(o, "deadline",
					 time_or_null(htm_task_deadline(t)));
	ok = ok && cJSON_AddItemToObject(o, "sla", seconds_or_null(t->sla_ns));
	ok = ok && cJSON_AddItemToObject(o, "timeout", seconds_or_null(t->timeout_ns));
	ok = ok && cJSON_AddStringToObject(o, "risk", htm_risk_names[t->risk]);
	ok = ok && cJSON_AddItemToObject(o, "batch", string_or_null(t->batch));
	ok = ok && cJSON_AddItemToObject(o, "reason", string_or_null(t->reason));
	ok = ok && cJSON_AddItemToObject(o, "cwd", string_or_null(t->cwd));
	ok = ok && cJSON_AddItemToObject(o, "target", string_or_null(t->target));
	ok = ok && cJSON_AddItemToObject(o, "rollback", string_or_null(t->rollback));
	ok = ok && cJSON_AddBoolToObject(o, "requires_approval", t->requires_approval);
	ok = ok && cJSON_AddNumberToObject(o, "tier", t->tier);
	if (ok && t->state == HTM_STATE_PENDING_APPROVAL) {
		cJSON *ap = cJSON_AddObjectToObject(o, "approval"), *by;

		ok = ap && cJSON_AddNumberToObject(ap, "needed", t->needed) &&
		     cJSON_AddBoolToObject(ap, "needs_override", t->needs_override) &&
		     cJSON_AddItemToObject(ap, "expires_at", time_or_null(t->expires_at)) &&
		     (by = cJSON_AddArrayToObject(ap, "approved_by"));
		for (int i = 0; ok && i < t->napprovers; i++)
			ok = cJSON_AddItemToArray(by, cJSON_CreateNumber(t->approvers[i]));
	}
	if (ok && t->depth)
		ok = cJSON_AddNumberToObject(o, "depth", t->depth) != NULL;
	ok = ok && cJSON_AddNumberToObject(o, "escalations", t->escalations);
	ok = ok && cJSON_AddBoolToObject(o, "sla_breached", t->sla_breached);
	ok = ok && cJSON_AddBoolToObject(o, "placed", t->placed);
	if (ok && t->argv)
		for (char **a = t->argv; ok && *a; a++)
			ok = cJSON_AddItemToArray(argv, cJSON_CreateString(*a));
	ok = ok && cJSON_AddItemToObject(o, "argv", argv);
	if (!ok) {
		if (argv && !cJSON_GetObjectItemCaseSensitive(o, "argv"))
			cJSON_Delete(argv);
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static char *dup_or_null(const cJSON *o, const char *k)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));

	return s ? strdup(s) : NULL;
}

/* Durations in seconds (fractions allowed) up to a year and a bit. */
static uint64_t seconds_to_ns(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble < 1e8
		       ? (uint64_t)(v->valuedouble * 1e9 + 0.5) : 0;
}

/* Wall times are written with millisecond precision: read them back to the
 * same millisecond, not a nanosecond short of it. Up to year 2500. */
static uint64_t time_to_ns(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble < 1.7e10
		       ? (uint64_t)llround(v->valuedouble * 1e3) * HTM_NSEC_PER_MSEC : 0;
}

/* A signed field (exit codes, signals) or dflt. */
static int64_t int_or(const cJSON *o, const char *k, int64_t dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsNumber(v) || !(v->valuedouble >= -2147483648.0 &&
				    v->valuedouble <= 2147483647.0))
		return dflt;
	return (int64_t)v->valuedouble;
}

#define U(k, max, dflt) htm_json_member_uint(o, k, max, dflt)

struct htm_task *htm_task_from_json(const cJSON *o)
{
	const cJSON *argv = cJSON_GetObjectItemCaseSensitive(o, "argv"), *a;
	struct htm_task *t;
	int prio, origin, risk, state, i = 0;

	prio = htm_name_lookup(htm_priority_names, cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(o, "priority")));
	origin = htm_name_lookup(htm_origin_names, cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(o, "origin")));
	risk = htm_name_lookup(htm_risk_names, cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(o, "risk")));
	state = htm_name_lookup(htm_state_names, cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(o, "state")));
	if (!U("id", 1ull << 53, 0) || prio < 0 || origin < 0 || risk < 0 ||
	    state < 0 || !cJSON_IsArray(argv) || cJSON_GetArraySize(argv) < 1) {
		errno = EINVAL;
		return NULL;
	}
	t = htm_task_new(U("id", 1ull << 53, 0));
	if (!t)
		return NULL;
	t->argv = calloc((size_t)cJSON_GetArraySize(argv) + 1, sizeof(char *));
	if (!t->argv)
		goto nomem;
	cJSON_ArrayForEach(a, argv) {
		if (!cJSON_IsString(a) || !(t->argv[i++] = strdup(a->valuestring)))
			goto nomem;
	}
	t->name = dup_or_null(o, "name");
	t->cwd = dup_or_null(o, "cwd");
	t->target = dup_or_null(o, "target");
	t->rollback = dup_or_null(o, "rollback");
	t->requires_approval = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "requires_approval"));
	t->tier = (uint8_t)U("tier", 4, 2);
	t->escalations = (uint8_t)U("escalations", 3, 0);
	t->sla_breached = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "sla_breached"));
	t->placed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "placed"));
	t->depth = (uint32_t)U("depth", 1000000, 0);
	if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(o, "approval"))) {
		const cJSON *ap = cJSON_GetObjectItemCaseSensitive(o, "approval");

		t->needed = (uint8_t)htm_json_member_uint(ap, "needed", HTM_MAX_APPROVERS, 1);
		t->needs_override = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ap, "needs_override"));
		t->expires_at = time_to_ns(ap, "expires_at");
	}
	t->batch = dup_or_null(o, "batch");
	t->reason = dup_or_null(o, "reason");
	t->cgroup = dup_or_null(o, "cgroup");
	if (!t->name)
		goto nomem;
	t->priority = prio;
	t->origin = origin;
	t->risk = risk;
	t->state = state;
	t->uid = (uint32_t)U("uid", UINT32_MAX, 0);
	t->gid = (uint32_t)U("gid", UINT32_MAX, 0);
	t->pid = (int32_t)U("pid", INT32_MAX, 0);
	t->exit_code = (int32_t)int_or(o, "exit_code", -1);
	t->signal = (int32_t)U("signal", 128, 0);
	t->cgroup_id = U("cgroup_id", 1ull << 53, 0);
	t->sla_ns = seconds_to_ns(o, "sla");
	t->timeout_ns = seconds_to_ns(o, "timeout");
	t->budget_ns = seconds_to_ns(o, "budget");
	t->submitted_at = time_to_ns(o, "submitted_at");
	t->started_at = time_to_ns(o, "started_at");
	t->finished_at = time_to_ns(o, "finished_at");
	return t;
nomem:
	htm_task_free(t);
	errno = ENOMEM;
	return NULL;
}
