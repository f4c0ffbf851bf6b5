/* SPDX-License-Identifier: MIT */
/*
 * Admission: the run queue, the run slots and per-origin fair share. The
 * next slot goes to the highest priority the governor admits, FIFO within
 * it, subject to fair share, burst caps and anti-starvation (core/
 * fairshare.c). An admitted task is journaled as preflight and runs only
 * once that record is durable: after a crash it is adopted or lost, never
 * run twice.
 *
 * Handles: ENQUEUE, START_NOW, REQUEUE, SHED, QUEUE_LEN, PLAN_CHANGED,
 * TASK_FINISHED (its slot comes back). Sends: RUN. Posts: QUEUE_DEPTH.
 */
#ifndef HTM_ENGINE_ADMISSION_H
#define HTM_ENGINE_ADMISSION_H

#include "engine/ctx.h"

struct htm_admission;

int admission_new(struct htm_admission **out, struct htm_ctx *c);
void admission_free(struct htm_admission *a);
/* Slots from the configuration (0: one per CPU). */
void admission_configure(struct htm_admission *a);
unsigned admission_slots(const struct htm_admission *a);
/* Queue depth events at the design's thresholds (edge-triggered). */
void admission_depth_check(struct htm_admission *a);
/* Fill free slots from the queue. */
void admission_dispatch(struct htm_admission *a);
/* Journal records up to seq are durable: admitted tasks may run. */
void admission_durable(struct htm_admission *a, uint64_t seq);
/* Take a queued or admitted-but-not-started task back (cancel); true if
 * it was one of those. */
bool admission_withdraw(struct htm_admission *a, struct htm_task *t);
/* Recovery: a replayed queued task queues again; an adopted one holds a
 * slot. */
void admission_requeue(struct htm_admission *a, struct htm_task *t);
void admission_adopted(struct htm_admission *a, struct htm_task *t);

/* status: .slots, .queue, .origins; top: .queue */
cJSON *admission_slots_json(struct htm_admission *a);
cJSON *admission_queue_json(struct htm_admission *a);
cJSON *admission_origins_json(struct htm_admission *a);

#endif
