/* SPDX-License-Identifier: MIT */
/*
 * The request/response protocol: one JSON object per line,
 * {"v":1,"cmd":"submit",...} in, {"v":1,"ok":true,...} or
 * {"v":1,"ok":false,"error":{"code":...,"message":...}} out.
 * Every command has a strict field table; decoding is pure.
 */
#ifndef HTM_CORE_PROTO_H
#define HTM_CORE_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "task.h"

enum htm_cmd {
	HTM_CMD_SUBMIT,
	HTM_CMD_LIST,
	HTM_CMD_SHOW,
	HTM_CMD_CANCEL,
	HTM_CMD_WAIT,
	HTM_CMD_STATUS,
	HTM_CMD_TOP,
	HTM_CMD_LOG,
	HTM_CMD_APPROVALS,
	HTM_CMD_APPROVE,
	HTM_CMD_DENY,
	HTM_CMD_EMIT,
	HTM_CMD_RULES,
	HTM_CMD_RULES_TEST,
	HTM_CMD_RELOAD,
	HTM_CMD_PLACE,
	HTM_CMD_UNPLACE,
	HTM_CMD_COUNT,
};

extern const char *const htm_cmd_names[];

struct htm_request {
	cJSON *root;			/* owns every string below */
	uint32_t v;
	int cmd;
	const char *cmd_name;

	/* submit */
	const cJSON *argv;
	const char *name, *cwd, *batch, *user, *rollback, *target;
	bool approval;
	int priority, origin, risk;
	uint64_t sla_ns, timeout_ns, budget_ns;

	/* list */
	int state;
	bool has_state;

	/* show, cancel, wait */
	uint64_t id;
	/* wait */
	uint64_t wait_ns;
	bool has_wait;

	/* log: id is the task filter (0: any) */
	const char *actor, *type;
	uint64_t since_ns;
	bool has_since;
	uint32_t limit;
	bool verify;

	/* approve, deny */
	const char *reason;
	bool override;
	/* emit: type (above), fields, severity; rules_test: event */
	const cJSON *fields, *event;
	int severity;
	/* place, unplace */
	const char *path;
};

extern const char *const htm_severity_names[];

/*
 * Decode one request line. On error returns -EINVAL with *code set to an
 * HTM_ERR_* string and a message in err; req needs no freeing then.
 */
int htm_request_parse(struct htm_request *req, const char *line, size_t len,
		      const char **code, char *err, size_t errlen);
void htm_request_free(struct htm_request *req);

/* Responses. Both return NULL on ENOMEM. */
cJSON *htm_response_ok(void);
cJSON *htm_response_error(const char *code, const char *message);

/* The task's stable JSON form. */
cJSON *htm_task_to_json(const struct htm_task *t);
/* Back from that form (journal replay): a new task, or NULL with errno
 * EINVAL when a field the daemon needs is missing or wrong. */
struct htm_task *htm_task_from_json(const cJSON *o);

#endif
