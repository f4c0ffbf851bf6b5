/* SPDX-License-Identifier: MIT */
/*
 * The Linux world: world.h's port on this machine. One io_uring loop
 * carries every completion (socket, timers, signals, pidfds, cgroup.events,
 * the sampler's ring buffer, PSI triggers, journal writes, the worker
 * thread's results); after each batch it gives the engine its turn.
 */
#ifndef HTM_SYS_LINUX_WORLD_H
#define HTM_SYS_LINUX_WORLD_H

#include "world.h"

int htm_linux_world_new(struct htm_world **out);
/* Run the loop until the engine stops it; its code, or a negative errno. */
int htm_linux_world_run(struct htm_world *w);
void htm_linux_world_free(struct htm_world *w);

#endif
