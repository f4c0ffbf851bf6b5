// SPDX-License-Identifier: MIT
/*
 * The task lifecycle. Every state change is the core state machine's move,
 * then a journal record; a reply that depends on it leaves only once that
 * record is durable. A task ends through tasks_finish() and nowhere else:
 * it posts TASK_FINISHED, and whatever held the task (a run slot, a
 * deadline watch, a client waiting) lets go when that fact is delivered.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/proto.h"
#include "core/schema.h"
#include "engine/ctx.h"

struct htm_task *tasks_create(struct htm_ctx *c)
{
	return htm_task_table_create(&c->tasks);
}

void tasks_drop(struct htm_ctx *c, struct htm_task *t)
{
	htm_task_table_remove(&c->tasks, t);
	htm_task_free(t);
}

struct htm_task_usage *tasks_usage(struct htm_task *t)
{
	if (!t->usage)
		t->usage = calloc(1, sizeof(*t->usage));
	return t->usage;
}

static int move_journaled(struct htm_ctx *c, struct htm_task *t,
			  enum htm_state to, const char *reason,
			  const struct htm_who *who)
{
	enum htm_state from = t->state;
	cJSON *body;

	if (htm_task_move(t, to, htm_real(c), reason) < 0) {
		htm_log(LOG_ERR, "task %llu: cannot move %s -> %s",
			(unsigned long long)t->id, htm_state_names[from],
			htm_state_names[to]);
		return -EINVAL;
	}
	body = cJSON_CreateObject();
	if (!body)
		return -ENOMEM;
	cJSON_AddNumberToObject(body, "task", (double)t->id);
	cJSON_AddStringToObject(body, "from", htm_state_names[from]);
	cJSON_AddStringToObject(body, "to", htm_state_names[to]);
	if (t->pid > 0)
		cJSON_AddNumberToObject(body, "pid", t->pid);
	if (t->cgroup)
		cJSON_AddStringToObject(body, "cgroup", t->cgroup);
	if (t->cgroup_id)
		cJSON_AddNumberToObject(body, "cgroup_id", (double)t->cgroup_id);
	if (htm_state_is_terminal(to)) {
		if (t->exit_code >= 0)
			cJSON_AddNumberToObject(body, "exit_code", t->exit_code);
		if (t->signal > 0)
			cJSON_AddNumberToObject(body, "signal", t->signal);
	}
	return record_write(c, HTM_REC_TASK_STATE, who,
			    reason ? reason : htm_state_names[to],
			    to == HTM_STATE_RUNNING ? "clone3 into its cgroup" : NULL,
			    body);
}

int tasks_move(struct htm_ctx *c, struct htm_task *t, enum htm_state to,
	       const char *reason, const struct htm_who *who)
{
	if (htm_state_is_terminal(to)) {
		htm_log(LOG_ERR, "task %llu: %s is a terminal state: only "
			"tasks_finish ends a task", (unsigned long long)t->id,
			htm_state_names[to]);
		return -EINVAL;
	}
	return move_journaled(c, t, to, reason, who);
}

int tasks_finish(struct htm_ctx *c, struct htm_task *t, enum htm_state to,
		 const char *reason, const struct htm_who *who)
{
	struct htm_msg m = { .type = HTM_MSG_TASK_FINISHED, .u.task = t };
	int r;

	if (!htm_state_is_terminal(to) || htm_state_is_terminal(t->state)) {
		htm_log(LOG_ERR, "task %llu: cannot finish %s -> %s",
			(unsigned long long)t->id, htm_state_names[t->state],
			htm_state_names[to]);
		return -EINVAL;
	}
	r = move_journaled(c, t, to, reason, who);
	if (!htm_state_is_terminal(t->state))
		return r;	/* the state machine refused: nothing ended */
	htm_bus_post(c->bus, &m);
	return r;
}

/* --- replay -------------------------------------------------------------- */

static const char *str(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static int replay_state(struct htm_ctx *c, const cJSON *b)
{
	struct htm_task *t;
	const char *cg;
	int to;

	t = htm_task_table_find(&c->tasks, htm_json_member_uint(b, "task", 1ull << 53, 0));
	to = htm_name_lookup(htm_state_names, str(b, "to"));
	if (!t || to < 0)
		return -EINVAL;
	t->state = to;
	free(t->reason);
	t->reason = strdup(str(b, "why") ?: "");
	t->pid = (int32_t)htm_json_member_uint(b, "pid", INT32_MAX, (uint64_t)t->pid);
	if ((cg = str(b, "cgroup"))) {
		free(t->cgroup);
		t->cgroup = strdup(cg);
	}
	t->cgroup_id = htm_json_member_uint(b, "cgroup_id", 1ull << 53, t->cgroup_id);
	t->exit_code = (int32_t)htm_json_member_uint(b, "exit_code", 255,
						     (uint64_t)(int64_t)t->exit_code);
	t->signal = (int32_t)htm_json_member_uint(b, "signal", 128, (uint64_t)t->signal);
	return 0;
}

int tasks_replay(struct htm_ctx *c, uint16_t type, const cJSON *b)
{
	struct htm_task *t;

	switch (type) {
	case HTM_REC_TASK_SUBMIT:
		t = htm_task_from_json(cJSON_GetObjectItemCaseSensitive(b, "task"));
		if (t && htm_task_table_insert(&c->tasks, t) == 0)
			return 0;
		htm_task_free(t);
		return -EINVAL;
	case HTM_REC_TASK_STATE:
		return replay_state(c, b);
	case HTM_REC_TASK_PRIORITY: {
		int p = htm_name_lookup(htm_priority_names, str(b, "to"));
		const char *cg = str(b, "cgroup");

		t = htm_task_table_find(&c->tasks,
					htm_json_member_uint(b, "task", 1ull << 53, 0));
		if (!t)
			return 0;
		if (p >= 0) {
			t->priority = p;
			t->escalations++;
		}
		/* a running task's processes moved with it */
		if (cg) {
			free(t->cgroup);
			t->cgroup = strdup(cg);
		}
		return 0;
	}
	default:
		return 0;
	}
}
