/* SPDX-License-Identifier: MIT */
/*
 * The manager: htmd's one object. It owns the loop and wires the Linux
 * edges (user/sys) to the decisions (user/core). Split by concern:
 * manager.c (lifecycle, signals, cgroup layout, admission), runner.c (a
 * task's life from clone3 to rmdir), commands.c (requests).
 */
#ifndef HTM_MANAGER_H
#define HTM_MANAGER_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/signalfd.h>

#include "core/config.h"
#include "core/queue.h"
#include "core/task_table.h"
#include "sys/api.h"
#include "sys/cgroupfs.h"
#include "sys/loop.h"
#include "sys/sampler.h"

/* A client waiting for a task to finish (`wait`, `cancel`). */
struct waiter {
	LIST_ENTRY(waiter) link;
	struct htm_conn *conn;
	uint64_t task_id;
	uint64_t deadline;		/* CLOCK_MONOTONIC ns, 0: none */
};

/* Controls htmd writes, and whether this host lets it. */
enum htm_control {
	HTM_CONTROL_CPU_WEIGHT,
	HTM_CONTROL_IO_WEIGHT,
	HTM_CONTROL_CPU_IDLE,
	HTM_CONTROL_COUNT,
};

struct htm_manager {
	struct htm_config cfg;
	char config_path[PATH_MAX];	/* "" when running on defaults */
	struct htm_loop *loop;
	struct htm_api *api;
	struct htm_sampler *sampler;
	char sampler_error[256];

	struct htm_task_table tasks;
	struct htm_queue queue;
	unsigned slots;
	unsigned running;		/* tasks holding a slot */

	char cg_mount[HTM_ROOT_MAX];
	char cg_root[HTM_ROOT_MAX];
	unsigned controllers;		/* enabled for task cgroups */
	bool control[HTM_CONTROL_COUNT];

	int sigfd;
	struct signalfd_siginfo siginfo;
	struct htm_loop_source sig_src;

	int lock_fd;
	char logs_dir[HTM_ROOT_MAX + 8];
	uint64_t start_mono, start_real;

	LIST_HEAD(, waiter) waiters;
	struct htm_timer waiter_timer;
	bool shutting_down;
};

extern const char *const htm_control_files[];

int htm_manager_new(struct htm_manager **out, const struct htm_config *cfg,
		    const char *config_path);
int htm_manager_start(struct htm_manager *m);
int htm_manager_run(struct htm_manager *m);
void htm_manager_free(struct htm_manager *m);

/* <root>/<priority> */
void manager_class_path(const struct htm_manager *m, enum htm_priority p,
			char *buf, size_t len);
/* Write a priority's knobs to a cgroup (skipped in observe mode). */
void manager_apply_priority(struct htm_manager *m, const char *cg,
			    enum htm_priority p, bool is_class);
/* A task reached a terminal state: wake its waiters, free its slot. */
void manager_task_finished(struct htm_manager *m, struct htm_task *t);
void manager_waiters_rearm(struct htm_manager *m);

/* runner.c */
int runner_start(struct htm_manager *m, struct htm_task *t);
int runner_kill(struct htm_manager *m, struct htm_task *t, enum htm_state as,
		const char *reason);
bool runner_idle(const struct htm_task *t);
void runner_release(struct htm_task *t);
void runner_shutdown(struct htm_manager *m);

/* commands.c */
void commands_handle(void *data, struct htm_conn *c, const char *line,
		     size_t len);
void commands_conn_closed(void *data, struct htm_conn *c);
void commands_reply_task(struct htm_manager *m, struct htm_conn *c,
			 const struct htm_task *t, bool timed_out);

#endif
