/* SPDX-License-Identifier: MIT */
/*
 * The task model: what a unit of governed work is, and the only legal ways
 * its state may change. Pure data, shared by the engine's subsystems as
 * one record per task; each group of fields below has one writer (named
 * in its comment), the others only read. The state moves only through the
 * engine's task lifecycle (engine/tasks.c), which journals every move.
 */
#ifndef HTM_CORE_TASK_H
#define HTM_CORE_TASK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "usage.h"

enum htm_priority {
	HTM_PRIO_CRITICAL,
	HTM_PRIO_HIGH,
	HTM_PRIO_NORMAL,
	HTM_PRIO_LOW,
	HTM_PRIO_COUNT,
};

enum htm_state {
	HTM_STATE_PENDING_APPROVAL,
	HTM_STATE_QUEUED,
	HTM_STATE_PREFLIGHT,
	HTM_STATE_RUNNING,
	HTM_STATE_SUCCEEDED,
	HTM_STATE_FAILED,
	HTM_STATE_TIMED_OUT,
	HTM_STATE_CANCELLED,
	HTM_STATE_DENIED,
	HTM_STATE_EXPIRED,
	HTM_STATE_SHED,
	HTM_STATE_LOST,
	HTM_STATE_ROLLED_BACK,
	HTM_STATE_COUNT,
};

enum htm_origin {
	HTM_ORIGIN_USER_REQUEST,
	HTM_ORIGIN_INTENT,
	HTM_ORIGIN_HUNTER_ALERT,
	HTM_ORIGIN_EXTERNAL_API,
	HTM_ORIGIN_SCHEDULER,
	HTM_ORIGIN_FILESYSTEM_TRIGGER,
	HTM_ORIGIN_REMEDIATION,
	HTM_ORIGIN_INTERNAL,
	HTM_ORIGIN_COUNT,
};

#define HTM_MAX_APPROVERS 8

enum htm_risk {
	HTM_RISK_LOW,
	HTM_RISK_MEDIUM,
	HTM_RISK_HIGH,
	HTM_RISK_CRITICAL,
	HTM_RISK_COUNT,
};

/* NULL-terminated name tables, indexed by the enums above. */
extern const char *const htm_priority_names[];
extern const char *const htm_state_names[];
extern const char *const htm_origin_names[];
extern const char *const htm_risk_names[];

/* Index of name in a NULL-terminated table, or -EINVAL. */
int htm_name_lookup(const char *const *table, const char *name);

struct htm_task {
	uint64_t id;
	char *name;
	char **argv;			/* NULL-terminated, owned */
	char *cwd;
	char *batch;
	char *reason;			/* why the task is in its state */
	enum htm_priority priority;
	enum htm_origin origin;
	enum htm_risk risk;
	enum htm_state state;
	uint32_t uid, gid;

	uint64_t sla_ns;		/* 0: no deadline */
	uint64_t timeout_ns;		/* 0: no timeout */
	/* Wall-clock nanoseconds since the epoch; 0 while unset. */
	uint64_t submitted_at, started_at, finished_at;
	uint64_t submitted_mono;	/* CLOCK_MONOTONIC at submission (or replay) */

	/* the runner (placement for placed cgroups) */
	int32_t pid;			/* 0 until started */
	int32_t exit_code;		/* -1 unless it exited */
	int32_t signal;			/* 0 unless a signal ended it */
	char *cgroup;			/* absolute path while it has one */
	uint64_t cgroup_id;		/* its kernfs id, what BPF sees */
	uint64_t budget_ns;		/* run-queue wait budget, 0: none */

	/* approval context (approvals) */
	char *target;			/* what it acts on (dedupe key part) */
	char *rollback;			/* shell command that undoes it */
	bool requires_approval;
	uint8_t tier;			/* enum htm_tier */
	uint8_t needed;			/* approvals still to reach */
	uint8_t napprovers;
	uint32_t approvers[HTM_MAX_APPROVERS];
	bool needs_override;		/* outside a change window at medium+ risk */
	bool reviewed;			/* tier 1: a human has looked */
	uint64_t expires_at;		/* wall ns; pending approval ends then */
	uint32_t depth;			/* cascade depth of the event behind it */

	/* deadlines; priority is theirs once the task exists */
	uint8_t escalations;		/* priority steps gained from its SLA */
	bool sla_breached;
	bool sla_escalation_failed;	/* tried once and could not: not again */
	TAILQ_ENTRY(htm_task) sla_link;	/* on the manager's SLA watch list */
	bool on_sla_list;

	bool placed;			/* an existing cgroup adopted by `place` */

	/* admission */
	TAILQ_ENTRY(htm_task) queue_link;	/* struct htm_queue, or starting */
	uint64_t queue_seq;		/* arrival order on the queue */
	uint64_t start_seq;		/* its preflight record; runs once durable */
	bool holds_slot;		/* counted in the run slots */
	bool starting;			/* admitted, preflight not yet durable */

	TAILQ_ENTRY(htm_task) table_link;	/* struct htm_task_table */
	void *runtime;			/* the runner's, while it runs */
	struct htm_task_usage *usage;	/* the monitor's and runner's, owned */
};

struct htm_task *htm_task_new(uint64_t id);
void htm_task_free(struct htm_task *t);

bool htm_state_is_terminal(enum htm_state s);
bool htm_state_can_move(enum htm_state from, enum htm_state to);

/*
 * Move t to state `to` at wall time now_ns, recording reason (may be NULL).
 * Entering running stamps started_at, entering a terminal state stamps
 * finished_at. Returns -EINVAL for a move the state machine forbids, leaving
 * the task unchanged.
 */
int htm_task_move(struct htm_task *t, enum htm_state to, uint64_t now_ns,
		  const char *reason);

/* Deadline in wall-clock ns, or 0 when the task has no SLA. */
uint64_t htm_task_deadline(const struct htm_task *t);

#endif
