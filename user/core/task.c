// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "task.h"

const char *const htm_priority_names[] = {
	"critical", "high", "normal", "low", NULL,
};

const char *const htm_state_names[] = {
	"pending_approval", "queued", "preflight", "running", "succeeded",
	"failed", "timed_out", "cancelled", "denied", "expired", "shed",
	"lost", "rolled_back", NULL,
};

const char *const htm_origin_names[] = {
	"user_request", "intent", "hunter_alert", "external_api", "scheduler",
	"filesystem_trigger", "remediation", "internal", NULL,
};

const char *const htm_risk_names[] = {
	"low", "medium", "high", "critical", NULL,
};

int htm_name_lookup(const char *const *table, const char *name)
{
	if (!name)
		return -EINVAL;
	for (int i = 0; table[i]; i++)
		if (strcmp(table[i], name) == 0)
			return i;
	return -EINVAL;
}

#define S(x) (1u << HTM_STATE_##x)
/* Row: the states a task may move to from the state that indexes it. */
static const unsigned state_moves[HTM_STATE_COUNT] = {
	[HTM_STATE_PENDING_APPROVAL] = S(QUEUED) | S(DENIED) | S(EXPIRED) |
				       S(CANCELLED),
	[HTM_STATE_QUEUED] = S(PREFLIGHT) | S(RUNNING) | S(CANCELLED) |
			     S(SHED) | S(EXPIRED) | S(FAILED),
	[HTM_STATE_PREFLIGHT] = S(RUNNING) | S(FAILED) | S(CANCELLED) |
				S(TIMED_OUT) | S(LOST),
	[HTM_STATE_RUNNING] = S(SUCCEEDED) | S(FAILED) | S(TIMED_OUT) |
			      S(CANCELLED) | S(LOST),
	[HTM_STATE_FAILED] = S(ROLLED_BACK),
	[HTM_STATE_TIMED_OUT] = S(ROLLED_BACK),
};
#undef S

bool htm_state_is_terminal(enum htm_state s)
{
	return s >= HTM_STATE_SUCCEEDED && s < HTM_STATE_COUNT;
}

bool htm_state_can_move(enum htm_state from, enum htm_state to)
{
	if (from >= HTM_STATE_COUNT || to >= HTM_STATE_COUNT)
		return false;
	return state_moves[from] & (1u << to);
}

int htm_task_move(struct htm_task *t, enum htm_state to, uint64_t now_ns,
		  const char *reason)
{
	char *why = NULL;

	if (!htm_state_can_move(t->state, to))
		return -EINVAL;
	if (reason) {
		why = strdup(reason);
		if (!why)
			return -ENOMEM;
	}
	free(t->reason);
	t->reason = why;
	if (to == HTM_STATE_RUNNING)
		t->started_at = now_ns;
	if (htm_state_is_terminal(to) && !htm_state_is_terminal(t->state))
		t->finished_at = now_ns;
	t->state = to;
	return 0;
}

uint64_t htm_task_deadline(const struct htm_task *t)
{
	return t->sla_ns ? t->submitted_at + t->sla_ns : 0;
}

struct htm_task *htm_task_new(uint64_t id)
{
	struct htm_task *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->id = id;
	t->state = HTM_STATE_QUEUED;
	t->priority = HTM_PRIO_NORMAL;
	t->origin = HTM_ORIGIN_USER_REQUEST;
	t->exit_code = -1;
	return t;
}

void htm_task_free(struct htm_task *t)
{
	if (!t)
		return;
	if (t->argv)
		for (char **a = t->argv; *a; a++)
			free(*a);
	free(t->argv);
	free(t->name);
	free(t->cwd);
	free(t->batch);
	free(t->target);
	free(t->rollback);
	free(t->reason);
	free(t->cgroup);
	free(t->usage);
	free(t);
}
