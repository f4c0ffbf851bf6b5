/* SPDX-License-Identifier: MIT */
/*
 * Deadlines. A task with an SLA is watched from submission until it
 * finishes; one timer fires at the earliest moment something is due. With
 * a tenth of its SLA left a task is escalated one priority, once: queued,
 * it moves up in the queue; running, its processes move to a cgroup under
 * the higher class, so the class's weight and the stress responses follow.
 * Passing the deadline unfinished is a breach: an event, a counter, a
 * journal record.
 *
 * Handles: TASK_ACCEPTED, TASK_FINISHED. Sends: REQUEUE, RECLASS.
 * Posts: SLA_ESCALATED, SLA_BREACH.
 */
#ifndef HTM_ENGINE_DEADLINES_H
#define HTM_ENGINE_DEADLINES_H

#include "engine/ctx.h"

struct htm_deadlines;

int deadlines_new(struct htm_deadlines **out, struct htm_ctx *c);
void deadlines_free(struct htm_deadlines *d);
/* Replay: the clock of this boot, from the wall-clock times. */
void deadlines_recover(struct htm_deadlines *d);
cJSON *deadlines_json(struct htm_deadlines *d);

#endif
