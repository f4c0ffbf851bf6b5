/* SPDX-License-Identifier: MIT */
/*
 * Per-thread delay accounting through the kernel's taskstats generic
 * netlink family (libnl-genl-3): how long a task waited for a CPU, for
 * block I/O, for swap-in and in direct memory reclaim. The kernel fills
 * these only while kernel.task_delayacct is 1.
 */
#ifndef HTM_SYS_TASKSTATS_H
#define HTM_SYS_TASKSTATS_H

#include <stdint.h>
#include <sys/types.h>

#include "core/usage.h"

struct htm_taskstats;


int htm_taskstats_open(struct htm_taskstats **out);
void htm_taskstats_close(struct htm_taskstats *ts);
/* Delays of one thread (a task's main process: pass its pid), alive or
 * a zombie not yet reaped. */
int htm_taskstats_query(struct htm_taskstats *ts, pid_t pid,
			struct htm_delays *out);

#endif
