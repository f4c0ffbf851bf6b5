/* SPDX-License-Identifier: MIT */
/*
 * The runner: a task's life on the machine. Its cgroup is made and given
 * its class's settings, the process starts inside it, its exit is
 * observed, then whatever it left behind is killed, the cgroup is watched
 * until empty, and only then removed and the task finished. So a finished
 * task has no process left anywhere, and `wait` means what it says.
 *
 * Handles: RUN, RECLASS. Sends: CGROUP_PRIORITY, CGROUP_READY, CGROUP_GONE.
 */
#ifndef HTM_ENGINE_RUNNER_H
#define HTM_ENGINE_RUNNER_H

#include "engine/ctx.h"

struct htm_runner;

int runner_new(struct htm_runner **out, struct htm_ctx *c);
void runner_free(struct htm_runner *rn);
/* Kill a running task's whole cgroup; it ends as `as` once empty. */
int runner_kill(struct htm_runner *rn, struct htm_task *t, enum htm_state as,
		const char *reason);
/* Take over a task an earlier htmd started (its cgroup holds processes). */
int runner_adopt(struct htm_runner *rn, struct htm_task *t);
/* Stopping: every running task killed and waited for (bounded), blocking. */
void runner_shutdown(struct htm_runner *rn);

#endif
