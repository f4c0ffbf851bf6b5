/* SPDX-License-Identifier: MIT */
/* The composition root's own state, shared by engine.c and commands.c. */
#ifndef HTM_ENGINE_ENGINE_IMPL_H
#define HTM_ENGINE_ENGINE_IMPL_H

#include <sys/queue.h>

#include "engine/admission.h"
#include "engine/approvals.h"
#include "engine/audit.h"
#include "engine/ctx.h"
#include "engine/deadlines.h"
#include "engine/engine.h"
#include "engine/governor.h"
#include "engine/ledger.h"
#include "engine/monitor.h"
#include "engine/placement.h"
#include "engine/rules.h"
#include "engine/runner.h"

/* A client waiting for a task to finish (`wait`, `cancel`). */
struct waiter {
	LIST_ENTRY(waiter) link;
	struct htm_conn *conn;
	uint64_t task_id;
	uint64_t deadline;		/* mono, 0: none */
};

/* A reply held until the records written before it are durable. */
struct deferred_reply {
	STAILQ_ENTRY(deferred_reply) link;
	struct htm_conn *conn;
	cJSON *response;
	uint64_t seq;
};

struct htm_engine {
	struct htm_ctx ctx;
	struct htm_overrides overrides;
	struct htm_ledger *ledger;
	struct htm_monitor *monitor;
	struct htm_governor_sub *governor;
	struct htm_admission *admission;
	struct htm_runner *runner;
	struct htm_approvals *approvals;
	struct htm_deadlines *deadlines;
	struct htm_placement *placement;
	struct htm_rules *rules;
	struct htm_audit *audit;

	LIST_HEAD(, waiter) waiters;
	struct htm_timer waiter_timer;
	STAILQ_HEAD(, deferred_reply) deferred;
	bool journal_open, listening;
	uint64_t replayed;
	double replay_ms;
	uint64_t woken_for;		/* the deadline the world was given */
};

/* engine.c */
void engine_reply(struct htm_engine *e, struct htm_conn *c, cJSON *response);
void engine_waiters_rearm(struct htm_engine *e);
int engine_reload(struct htm_engine *e, char *err, size_t errlen);
/* commands.c */
void commands_handle(void *data, struct htm_conn *c, const char *line, size_t len);
void commands_reply_task(struct htm_engine *e, struct htm_conn *c,
			 const struct htm_task *t, bool timed_out);

#endif
