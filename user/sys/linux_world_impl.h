/* SPDX-License-Identifier: MIT */
/* The Linux world's state, shared by linux_world*.c. */
#ifndef HTM_SYS_LINUX_WORLD_IMPL_H
#define HTM_SYS_LINUX_WORLD_IMPL_H

#include <limits.h>
#include <sys/signalfd.h>

#include "sys/api.h"
#include "sys/egress.h"
#include "sys/journal.h"
#include "sys/loop.h"
#include "sys/sampler.h"
#include "sys/taskstats.h"
#include "sys/worker.h"
#include "sys/linux_world.h"

struct linux_world {
	struct htm_world w;
	struct htm_loop *loop;
	struct htm_loop_timer wake;
	struct htm_worker *worker;
	struct htm_api *api;
	struct htm_sampler *sampler;
	struct htm_loop_source ring_src;
	struct htm_egress *egress;
	struct htm_journal *journal;
	struct htm_taskstats *taskstats;
	int delayacct_restore;		/* -1: leave kernel.task_delayacct alone */
	int sigfd;
	struct signalfd_siginfo siginfo;
	struct htm_loop_source sig_src;
	int lock_fd;
	char cg_mount[PATH_MAX];	/* "" until found */
};

static inline struct linux_world *LW(struct htm_world *w)
{
	return (struct linux_world *)w;
}

/* linux_world_proc.c: cgroups, processes, watches */
void linux_world_proc_ops(struct htm_world_ops *ops);
/* linux_world_kernel.c: PSI, the sampler, egress, delay accounting */
void linux_world_kernel_ops(struct htm_world_ops *ops);

#endif
