/* SPDX-License-Identifier: MIT */
/*
 * Approval gates. Every new task, whoever made it (a client, a rule, an
 * escalation), is submitted here: its tier is resolved (core/approval.c),
 * it is journaled, and it is queued, held for approval, or (tier 4) started
 * at once past the slot limit with a loud audit record. Only root or
 * members of the admin group decide; every decision is journaled with who
 * and why; pending items expire (denied by default). It also keeps what was
 * learned from outcomes, for the recommendation each pending item shows.
 *
 * Handles: SUBMIT, TASK_FINISHED. Sends: ENQUEUE, START_NOW. Posts:
 * TASK_ACCEPTED.
 */
#ifndef HTM_ENGINE_APPROVALS_H
#define HTM_ENGINE_APPROVALS_H

#include "engine/ctx.h"

struct htm_approvals;

int approvals_new(struct htm_approvals **out, struct htm_ctx *c);
void approvals_free(struct htm_approvals *a);
/* Root, or a member of the configured admin group. */
bool approvals_may_decide(struct htm_approvals *a, struct htm_conn *conn);
/* 0, or an error with *code (HTM_ERR_*) and a message in err. */
int approvals_approve(struct htm_approvals *a, struct htm_conn *conn, uint64_t id,
		      const char *reason, bool override, const char **code,
		      char *err, size_t errlen);
int approvals_deny(struct htm_approvals *a, struct htm_conn *conn, uint64_t id,
		   const char *reason, const char **code, char *err, size_t errlen);
cJSON *approvals_json(struct htm_approvals *a);
void approvals_replay(struct htm_approvals *a, uint16_t type, const cJSON *body);
void approvals_recover(struct htm_approvals *a);

#endif
