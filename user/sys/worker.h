/* SPDX-License-Identifier: MIT */
/*
 * One background thread for work that would block the loop: compressing a
 * sealed journal segment, scanning the journal for a query. Jobs run in
 * order; each job's done() runs back on the loop, woken by an eventfd the
 * ring polls. The thread touches only its job's own memory.
 */
#ifndef HTM_SYS_WORKER_H
#define HTM_SYS_WORKER_H

#include "loop.h"

struct htm_worker;

int htm_worker_new(struct htm_worker **out, struct htm_loop *loop);
/* Finish every queued job (their done() is not called), then stop. */
void htm_worker_free(struct htm_worker *w);
/* work(arg) on the thread, then done(arg) on the loop. */
int htm_worker_submit(struct htm_worker *w, void (*work)(void *arg),
		      void (*done)(void *arg), void *arg);
unsigned htm_worker_pending(const struct htm_worker *w);

#endif
