// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include <cjson/cJSON.h>

#include "htm/proto.h"

#include "config.h"
#include "pathfmt.h"
#include "schema.h"

const char *const htm_log_level_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
	[LOG_ERR] = "err", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug", NULL,
};

#define PRIO_FIELDS(p)                                                        \
	{ .name = "cpu_weight", .type = HTM_F_U32, .min = 1, .max = 10000,    \
	  .offset = offsetof(struct htm_config, priority[p].cpu_weight) },    \
	{ .name = "io_weight", .type = HTM_F_U32, .min = 1, .max = 10000,     \
	  .offset = offsetof(struct htm_config, priority[p].io_weight) },     \
	{ .name = "cpu_idle", .type = HTM_F_BOOL,                             \
	  .offset = offsetof(struct htm_config, priority[p].cpu_idle) },      \
	{ 0 }

/* Nested tables take offsets from the top-level struct, so OBJECT offset 0. */
static const struct htm_field critical_fields[] = { PRIO_FIELDS(HTM_PRIO_CRITICAL) };
static const struct htm_field high_fields[] = { PRIO_FIELDS(HTM_PRIO_HIGH) };
static const struct htm_field normal_fields[] = { PRIO_FIELDS(HTM_PRIO_NORMAL) };
static const struct htm_field low_fields[] = { PRIO_FIELDS(HTM_PRIO_LOW) };

static const struct htm_field priority_fields[] = {
	{ .name = "critical", .type = HTM_F_OBJECT, .fields = critical_fields },
	{ .name = "high", .type = HTM_F_OBJECT, .fields = high_fields },
	{ .name = "normal", .type = HTM_F_OBJECT, .fields = normal_fields },
	{ .name = "low", .type = HTM_F_OBJECT, .fields = low_fields },
	{ 0 }
};

static const struct htm_field config_fields[] = {
	{ .name = "socket", .type = HTM_F_BUF, .min = 1,
	  .offset = offsetof(struct htm_config, socket),
	  .size = sizeof(((struct htm_config *)0)->socket) },
	{ .name = "state_dir", .type = HTM_F_BUF, .min = 1,
	  .offset = offsetof(struct htm_config, state_dir), .size = HTM_ROOT_MAX },
	{ .name = "cgroup_root", .type = HTM_F_BUF, .min = 1,
	  .offset = offsetof(struct htm_config, cgroup_root), .size = HTM_ROOT_MAX },
	{ .name = "slots", .type = HTM_F_U32, .min = 0, .max = 4096,
	  .offset = offsetof(struct htm_config, slots) },
	{ .name = "history_limit", .type = HTM_F_U32, .min = 0, .max = 10000000,
	  .offset = offsetof(struct htm_config, history_limit) },
	{ .name = "log_level", .type = HTM_F_ENUM, .names = htm_log_level_names,
	  .offset = offsetof(struct htm_config, log_level) },
	{ .name = "observe", .type = HTM_F_BOOL,
	  .offset = offsetof(struct htm_config, observe) },
	{ .name = "priorities", .type = HTM_F_OBJECT, .fields = priority_fields },
	{ 0 }
};

void htm_config_defaults(struct htm_config *c)
{
	static const struct htm_priority_config prio[HTM_PRIO_COUNT] = {
		[HTM_PRIO_CRITICAL] = { 10000, 10000, false },
		[HTM_PRIO_HIGH] = { 1000, 1000, false },
		[HTM_PRIO_NORMAL] = { 100, 100, false },
		[HTM_PRIO_LOW] = { 10, 10, true },
	};

	memset(c, 0, sizeof(*c));
	snprintf(c->socket, sizeof(c->socket), "%s", HTM_DEFAULT_SOCKET);
	snprintf(c->state_dir, sizeof(c->state_dir), "%s", HTM_DEFAULT_STATE_DIR);
	c->history_limit = 10000;
	c->log_level = LOG_INFO;
	memcpy(c->priority, prio, sizeof(prio));
}

static void line_col(const char *text, const char *at, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (; text < at; text++) {
		if (*text == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

int htm_config_parse(struct htm_config *c, const char *text, size_t len,
		     char *err, size_t errlen)
{
	struct htm_config scratch = *c;
	const char *end = NULL;
	cJSON *root;
	int line, col, r;

	root = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (!root) {
		line_col(text, end ? end : text, &line, &col);
		snprintf(err, errlen, "line %d column %d: invalid JSON", line, col);
		return -EINVAL;
	}
	r = htm_schema_decode(config_fields, root, &scratch, "$", err, errlen);
	if (r == 0 && scratch.socket[0] != '/') {
		snprintf(err, errlen, "$.socket: must be an absolute path");
		r = -EINVAL;
	}
	if (r == 0 && scratch.state_dir[0] != '/') {
		snprintf(err, errlen, "$.state_dir: must be an absolute path");
		r = -EINVAL;
	}
	if (r == 0 && scratch.cgroup_root[0] && scratch.cgroup_root[0] != '/') {
		snprintf(err, errlen, "$.cgroup_root: must be an absolute path");
		r = -EINVAL;
	}
	if (r == 0)
		*c = scratch;
	cJSON_Delete(root);
	return r;
}
