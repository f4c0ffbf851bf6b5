// SPDX-License-Identifier: MIT
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include <cjson/cJSON.h>

#include "htm/proto.h"

#include "config.h"
#include "duration.h"
#include "pathfmt.h"
#include "schema.h"

const char *const htm_runqueue_clock_names[] = {
	[HTM_RQCLOCK_AUTO] = "auto", [HTM_RQCLOCK_SCHED_INFO] = "sched_info",
	[HTM_RQCLOCK_TASK_STORAGE] = "task_storage", NULL,
};

const char *const htm_log_level_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
	[LOG_ERR] = "err", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
	[LOG_INFO] = "info", [LOG_DEBUG] = "debug", NULL,
};

static int memory_decode(const cJSON *v, void *dst, const char *path, char *err,
			 size_t errlen)
{
	uint64_t bytes;

	/* "": not written (turns a default such as critical's off) */
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= 24 ||
	    (v->valuestring[0] &&
	     htm_memory_size(v->valuestring, 1ull << 40, &bytes) < 0)) {
		snprintf(err, errlen, "%s: expected bytes like \"512M\" or a share of "
			 "RAM like \"25%%\"", path);
		return -EINVAL;
	}
	memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
	return 0;
}

int htm_memory_size(const char *s, uint64_t total_bytes, uint64_t *out)
{
	const char *units = "KMGT", *u;
	char *end;
	double v = strtod(s, &end);

	if (end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	if (!strcmp(end, "%")) {
		if (v > 100)
			return -EINVAL;
		*out = (uint64_t)((double)total_bytes * v / 100.0);
		return 0;
	}
	if (*end) {
		if (end[1] || !(u = strchr(units, *end)))
			return -EINVAL;
		for (int i = 0; i <= u - units; i++)
			v *= 1024;
	}
	if (v >= 18446744073709549568.0)
		return -EINVAL;
	*out = (uint64_t)v;
	return 0;
}

/* {"user_request": 30, ...}: percent shares of the run slots per origin */
static int shares_decode(const cJSON *v, void *dst, const char *path, char *err,
			 size_t errlen)
{
	double share[HTM_ORIGIN_COUNT] = { 0 }, sum = 0;
	const cJSON *e;
	int o;

	if (!cJSON_IsObject(v)) {
		snprintf(err, errlen, "%s: expected {\"<origin>\": <percent>}", path);
		return -EINVAL;
	}
	cJSON_ArrayForEach(e, v) {
		/* the first of a name is what a lookup finds */
		if (cJSON_GetObjectItemCaseSensitive(v, e->string) != e) {
			snprintf(err, errlen, "%s.%s: duplicate field", path, e->string);
			return -EINVAL;
		}
		o = htm_name_lookup(htm_origin_names, e->string);
		if (o < 0 || !cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 100) {
			snprintf(err, errlen, "%s.%s: %s", path, e->string, o < 0
				 ? "not an origin" : "expected a percent 0..100");
			return -EINVAL;
		}
		share[o] = e->valuedouble / 100.0;
		sum += share[o];
	}
	if (sum <= 0 || sum > 1.0001) {
		snprintf(err, errlen, "%s: shares must add up to more than 0 and at "
			 "most 100", path);
		return -EINVAL;
	}
	memcpy(dst, share, sizeof(share));
	return 0;
}

/* "1M" per second for egress limits */
static int rate_decode(const cJSON *v, void *dst, const char *path, char *err,
		       size_t errlen)
{
	uint64_t bytes;

	if (!cJSON_IsString(v) || htm_memory_size(v->valuestring, 0, &bytes) < 0 ||
	    strchr(v->valuestring, '%')) {
		snprintf(err, errlen, "%s: expected bytes per second like \"1M\", "
			 "or \"0\" for no limit", path);
		return -EINVAL;
	}
	*(uint64_t *)dst = bytes;
	return 0;
}

#define PRIO_FIELDS(p)                                                        \
	{ .name = "cpu_weight", .type = HTM_F_U32, .min = 1, .max = 10000,    \
	  .offset = offsetof(struct htm_config, priority[p].cpu_weight) },    \
	{ .name = "io_weight", .type = HTM_F_U32, .min = 1, .max = 10000,     \
	  .offset = offsetof(struct htm_config, priority[p].io_weight) },     \
	{ .name = "cpu_idle", .type = HTM_F_BOOL,                             \
	  .offset = offsetof(struct htm_config, priority[p].cpu_idle) },      \
	{ .name = "rq_budget", .type = HTM_F_DURATION, .min = 0,              \
	  .max = 60 * HTM_NSEC_PER_SEC,                                       \
	  .offset = offsetof(struct htm_config, priority[p].rq_budget_ns) },  \
	{ .name = "memory_low", .type = HTM_F_CUSTOM, .decode = memory_decode,\
	  .offset = offsetof(struct htm_config, priority[p].memory_low) },    \
	{ .name = "memory_high", .type = HTM_F_CUSTOM, .decode = memory_decode,\
	  .offset = offsetof(struct htm_config, priority[p].memory_high) },   \
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

#define PSI_FIELD(r, n)                                                       \
	{ .name = n, .type = HTM_F_BUF, .min = 0,                             \
	  .offset = offsetof(struct htm_config, psi_trigger[r]), .size = 64 }

static const struct htm_field psi_fields[] = {
	PSI_FIELD(HTM_RES_CPU, "cpu"),
	PSI_FIELD(HTM_RES_MEMORY, "memory"),
	PSI_FIELD(HTM_RES_IO, "io"),
	{ 0 }
};

#define LEVELS_FIELD(sig, n)                                                  \
	{ .name = n, .type = HTM_F_LEVELS, .dmin = 0, .dmax = 1e9,            \
	  .offset = offsetof(struct htm_config, stress.enter[sig]) }

/* names as in htm_stress_signal_names */
static const struct htm_field stress_fields[] = {
	LEVELS_FIELD(HTM_SIG_CPU_SOME, "cpu_some"),
	LEVELS_FIELD(HTM_SIG_MEMORY_SOME, "memory_some"),
	LEVELS_FIELD(HTM_SIG_MEMORY_FULL, "memory_full"),
	LEVELS_FIELD(HTM_SIG_IO_SOME, "io_some"),
	LEVELS_FIELD(HTM_SIG_BUDGET_BREACHES, "budget_breaches"),
	LEVELS_FIELD(HTM_SIG_MEMORY_AVAILABLE, "memory_available"),
	LEVELS_FIELD(HTM_SIG_QUEUE_BACKLOG, "queue_backlog"),
	{ .name = "exit_ratio", .type = HTM_F_NUMBER, .dmin = 0.01, .dmax = 1,
	  .offset = offsetof(struct htm_config, stress.exit_ratio) },
	{ .name = "cooldown", .type = HTM_F_DURATION, .min = 0,
	  .max = 3600 * HTM_NSEC_PER_SEC,
	  .offset = offsetof(struct htm_config, stress.cooldown_ns) },
	{ 0 }
};

static const struct htm_field approval_fields[] = {
	{ .name = "admin_group", .type = HTM_F_BUF, .min = 1, .size = 64,
	  .offset = offsetof(struct htm_config, approvals.admin_group) },
	{ .name = "default_tier", .type = HTM_F_U32, .min = 0, .max = 4,
	  .offset = offsetof(struct htm_config, approvals.default_tier) },
	{ .name = "tiers", .type = HTM_F_CUSTOM, .decode = htm_tiers_decode,
	  .offset = offsetof(struct htm_config, approvals.types) },
	{ .name = "quorum", .type = HTM_F_U32, .min = 1, .max = HTM_MAX_APPROVERS,
	  .offset = offsetof(struct htm_config, approvals.quorum) },
	{ .name = "expire", .type = HTM_F_DURATION, .min = HTM_NSEC_PER_SEC,
	  .max = 30 * 86400 * HTM_NSEC_PER_SEC,
	  .offset = offsetof(struct htm_config, approvals.expire_ns) },
	{ .name = "dedupe_window", .type = HTM_F_DURATION, .min = 0,
	  .max = 7 * 86400 * HTM_NSEC_PER_SEC,
	  .offset = offsetof(struct htm_config, approvals.dedupe_ns) },
	{ .name = "change_windows", .type = HTM_F_CUSTOM, .decode = htm_windows_decode,
	  .offset = offsetof(struct htm_config, approvals.windows) },
	{ 0 }
};

static const struct htm_field storm_fields[] = {
	{ .name = "per_type_rate", .type = HTM_F_NUMBER, .dmin = 1, .dmax = 1e6,
	  .offset = offsetof(struct htm_config, storm.per_type_rate) },
	{ .name = "breaker_events", .type = HTM_F_U32, .min = 1, .max = 10000000,
	  .offset = offsetof(struct htm_config, storm.breaker_events) },
	{ .name = "breaker_window", .type = HTM_F_DURATION, .min = HTM_NSEC_PER_SEC,
	  .max = 3600 * HTM_NSEC_PER_SEC,
	  .offset = offsetof(struct htm_config, storm.breaker_window_ns) },
	{ .name = "breaker_open", .type = HTM_F_DURATION, .min = HTM_NSEC_PER_SEC,
	  .max = 86400 * HTM_NSEC_PER_SEC,
	  .offset = offsetof(struct htm_config, storm.breaker_open_ns) },
	{ .name = "max_depth", .type = HTM_F_U32, .min = 1, .max = 1000,
	  .offset = offsetof(struct htm_config, storm.max_depth) },
	{ 0 }
};

static const struct htm_field governor_fields[] = {
	{ .name = "normal_cap", .type = HTM_F_U32, .min = 1, .max = 10000,
	  .offset = offsetof(struct htm_config, governor.cap_pct[HTM_PRIO_NORMAL]) },
	{ .name = "low_cap", .type = HTM_F_U32, .min = 1, .max = 10000,
	  .offset = offsetof(struct htm_config, governor.cap_pct[HTM_PRIO_LOW]) },
	{ .name = "normal_egress", .type = HTM_F_CUSTOM, .decode = rate_decode,
	  .offset = offsetof(struct htm_config, governor.egress_bps[HTM_PRIO_NORMAL]) },
	{ .name = "low_egress", .type = HTM_F_CUSTOM, .decode = rate_decode,
	  .offset = offsetof(struct htm_config, governor.egress_bps[HTM_PRIO_LOW]) },
	{ .name = "shed_after", .type = HTM_F_DURATION, .min = HTM_NSEC_PER_SEC,
	  .max = 7 * 86400 * HTM_NSEC_PER_SEC,
	  .offset = offsetof(struct htm_config, governor.shed_after_ns) },
	{ .name = "breach_hold", .type = HTM_F_DURATION, .min = 100 * HTM_NSEC_PER_MSEC,
	  .max = 3600 * HTM_NSEC_PER_SEC,
	  .offset = offsetof(struct htm_config, governor.breach_hold_ns) },
	{ 0 }
};

static int burst_decode(const cJSON *v, void *dst, const char *path, char *err,
			size_t errlen)
{
	uint32_t *burst = dst;

	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e6 ||
	    v->valuedouble != (uint32_t)v->valuedouble) {
		snprintf(err, errlen, "%s: expected starts per minute, 0 for no cap", path);
		return -EINVAL;
	}
	for (int o = 0; o < HTM_ORIGIN_COUNT; o++)
		burst[o] = (uint32_t)v->valuedouble;
	return 0;
}

static const struct htm_field fairshare_fields[] = {
	{ .name = "shares", .type = HTM_F_CUSTOM, .decode = shares_decode,
	  .offset = offsetof(struct htm_config, fairshare.share) },
	{ .name = "burst_per_minute", .type = HTM_F_CUSTOM, .decode = burst_decode,
	  .offset = offsetof(struct htm_config, fairshare.burst_per_min) },
	{ .name = "starvation_window", .type = HTM_F_DURATION, .min = HTM_NSEC_PER_SEC,
	  .max = 86400 * HTM_NSEC_PER_SEC,
	  .offset = offsetof(struct htm_config, fairshare.starvation_ns) },
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
	{ .name = "sample_period", .type = HTM_F_DURATION,
	  .min = 100 * HTM_NSEC_PER_MSEC, .max = 60 * HTM_NSEC_PER_SEC,
	  .offset = offsetof(struct htm_config, sample_period_ns) },
	{ .name = "bpf_pin_dir", .type = HTM_F_BUF, .min = 0,
	  .offset = offsetof(struct htm_config, bpf_pin_dir), .size = 256 },
	{ .name = "delay_accounting", .type = HTM_F_BOOL,
	  .offset = offsetof(struct htm_config, delay_accounting) },
	{ .name = "runqueue_clock", .type = HTM_F_ENUM, .names = htm_runqueue_clock_names,
	  .offset = offsetof(struct htm_config, runqueue_clock) },
	{ .name = "psi_triggers", .type = HTM_F_OBJECT, .fields = psi_fields },
	{ .name = "stress", .type = HTM_F_OBJECT, .fields = stress_fields },
	{ .name = "approvals", .type = HTM_F_OBJECT, .fields = approval_fields },
	{ .name = "governor", .type = HTM_F_OBJECT, .fields = governor_fields },
	{ .name = "fairshare", .type = HTM_F_OBJECT, .fields = fairshare_fields },
	{ .name = "storm", .type = HTM_F_OBJECT, .fields = storm_fields },
	{ .name = "rules_dir", .type = HTM_F_BUF, .min = 0, .size = 256,
	  .offset = offsetof(struct htm_config, rules_dir) },
	{ .name = "relief_command", .type = HTM_F_BUF, .min = 0, .size = 512,
	  .offset = offsetof(struct htm_config, relief_command) },
	{ .name = "relief_interval", .type = HTM_F_DURATION, .min = HTM_NSEC_PER_SEC,
	  .max = 86400 * HTM_NSEC_PER_SEC,
	  .offset = offsetof(struct htm_config, relief_interval_ns) },
	{ .name = "journal_segment_bytes", .type = HTM_F_U64, .min = 4096,
	  .max = 1ull << 32,
	  .offset = offsetof(struct htm_config, journal_segment_bytes) },
	{ 0 }
};

/* "some|full STALL_US WINDOW_US" as the kernel takes it (window 0.5-10 s). */
static int psi_trigger_check(const char *spec, const char *res, char *err,
			     size_t errlen)
{
	char kind[8];
	unsigned long long stall, window;
	int n = 0;

	if (!spec[0])
		return 0;
	if (sscanf(spec, "%7s %llu %llu%n", kind, &stall, &window, &n) != 3 ||
	    spec[n] || (strcmp(kind, "some") && strcmp(kind, "full")) ||
	    window < 500000 || window > 10000000 || !stall || stall > window) {
		snprintf(err, errlen,
			 "$.psi_triggers.%s: \"%s\" is not \"some|full STALL_US WINDOW_US\" "
			 "with 0 < stall <= window and 500000 <= window <= 10000000",
			 res, spec);
		return -EINVAL;
	}
	return 0;
}

void htm_config_defaults(struct htm_config *c)
{
	static const struct htm_priority_config prio[HTM_PRIO_COUNT] = {
		[HTM_PRIO_CRITICAL] = { 10000, 10000, false, 10 * HTM_NSEC_PER_MSEC,
					"25%", "" },
		[HTM_PRIO_HIGH] = { 1000, 1000, false, 0, "", "" },
		[HTM_PRIO_NORMAL] = { 100, 100, false, 0, "", "" },
		[HTM_PRIO_LOW] = { 10, 10, true, 0, "", "" },
	};

	memset(c, 0, sizeof(*c));
	snprintf(c->socket, sizeof(c->socket), "%s", HTM_DEFAULT_SOCKET);
	snprintf(c->state_dir, sizeof(c->state_dir), "%s", HTM_DEFAULT_STATE_DIR);
	c->history_limit = 10000;
	c->log_level = LOG_INFO;
	memcpy(c->priority, prio, sizeof(prio));
	c->sample_period_ns = HTM_NSEC_PER_SEC;
	snprintf(c->bpf_pin_dir, sizeof(c->bpf_pin_dir), "%s", HTM_DEFAULT_PIN_DIR);
	c->delay_accounting = true;
	for (int r = 0; r < HTM_RES_COUNT; r++)
		snprintf(c->psi_trigger[r], sizeof(c->psi_trigger[r]),
			 "some 150000 1000000");
	htm_stress_config_defaults(&c->stress);
	c->journal_segment_bytes = 8ull << 20;
	htm_approval_config_defaults(&c->approvals);
	htm_storm_config_defaults(&c->storm);
	snprintf(c->rules_dir, sizeof(c->rules_dir), "%s", HTM_DEFAULT_RULES_DIR);
	c->relief_interval_ns = 300 * HTM_NSEC_PER_SEC;
	htm_governor_config_defaults(&c->governor);
	htm_fairshare_config_defaults(&c->fairshare);
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

	if (htm_json_has_nul(text, len)) {
		snprintf(err, errlen, "strings must not contain NUL (\\u0000)");
		return -EINVAL;
	}
	root = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (!root) {
		line_col(text, end ? end : text, &line, &col);
		snprintf(err, errlen, "line %d column %d: invalid JSON", line, col);
		return -EINVAL;
	}
	/* one object per file: only whitespace may follow it */
	while (end && end < text + len && *end && strchr(" \t\r\n", *end))
		end++;
	if (end && end < text + len) {
		line_col(text, end, &line, &col);
		snprintf(err, errlen,
			 "line %d column %d: invalid JSON (trailing data)", line, col);
		cJSON_Delete(root);
		return -EINVAL;
	}
	r = htm_schema_decode(config_fields, root, &scratch, "$", err, errlen);
	for (int i = 0; r == 0 && i < HTM_RES_COUNT; i++)
		r = psi_trigger_check(scratch.psi_trigger[i], htm_resource_names[i],
				      err, errlen);
	if (r == 0)
		r = htm_stress_config_check(&scratch.stress, err, errlen);
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
