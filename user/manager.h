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
#include "core/fairshare.h"
#include "core/governor.h"
#include "core/learn.h"
#include "core/policy.h"
#include "core/storm.h"
#include "core/proto.h"
#include "core/queue.h"
#include "core/task_table.h"
#include "sys/api.h"
#include "sys/cgroupfs.h"
#include "sys/egress.h"
#include "sys/journal.h"
#include "sys/loop.h"
#include "sys/sampler.h"
#include "sys/taskstats.h"
#include "sys/worker.h"

/* What the command line says; it wins over the file, on start and reload. */
struct htm_overrides {
	const char *socket, *state_dir, *cgroup_root;
	bool observe, verbose;
	bool accept_broken_journal;
};

/* A client waiting for a task to finish (`wait`, `cancel`). */
struct waiter {
	LIST_ENTRY(waiter) link;
	struct htm_conn *conn;
	uint64_t task_id;
	uint64_t deadline;		/* CLOCK_MONOTONIC ns, 0: none */
};

/* What a task used, from the sampler and taskstats. */
struct task_usage {
	bool valid;
	struct htm_cg_stats totals;	/* cumulative since it started */
	double cpu_pct;			/* last period */
	double rq_p50_us, rq_p90_us, rq_p99_us;	/* last period */
	bool has_delays;
	struct htm_delays delays;	/* main process, at exit for finished tasks */
};

/* A running task's links to the kernel; owned by runner.c. */
struct task_run {
	struct htm_task *task;
	struct htm_manager *m;
	int pidfd;
	int events_fd;			/* cgroup.events of the task cgroup */
	struct htm_loop_source exit_src;
	struct htm_loop_source events_src;
	struct htm_timer timeout;
	enum htm_state kill_as;		/* HTM_STATE_COUNT: nobody asked */
	char *kill_reason;
	bool exited;
	int exit_code, sig;
	bool adopted;			/* started by an earlier htmd: not our child */
	struct task_usage usage;
};

/* A cgroup the sampler tracks for us. */
struct tracked_cg {
	uint64_t cgid;
	struct htm_task *task;		/* NULL for cgroups that are not tasks */
	char *path;
	struct htm_cg_stats last, now;	/* cumulative, previous and this period */
	uint64_t period_breaches, period_waits;
	double cpu_pct, rq_p50_us, rq_p90_us, rq_p99_us;	/* last period */
	struct htm_psi psi[HTM_RES_COUNT];
	bool has_psi;
	uint64_t memory_current;
	bool has_memory;
};

struct psi_trigger {
	struct htm_manager *m;
	enum htm_resource res;
	int fd;
	char spec[64];			/* as registered (may differ from config) */
	struct htm_loop_source src;
	uint64_t fired;
};

/* Sampling, pressure, stress: everything the monitor keeps. */
struct htm_monitor {
	struct htm_timer period;
	uint64_t period_ns;
	uint64_t last_mono, next_due;
	void *tracked;			/* tsearch by cgid */
	size_t ntracked;
	struct htm_cg_stats all_last, all_now;
	double all_cpu_pct, all_p50_us, all_p90_us, all_p99_us;
	struct htm_psi psi[HTM_RES_COUNT], psi_last[HTM_RES_COUNT];
	double stall_some[HTM_RES_COUNT], stall_full[HTM_RES_COUNT];
	bool has_psi, psi_primed;
	struct htm_meminfo mem;
	double signals[HTM_SIG_COUNT];
	struct htm_stress stress;
	struct htm_loop_source ring_src;
	struct psi_trigger trigger[HTM_RES_COUNT];
	struct htm_taskstats *taskstats;
	char taskstats_error[128];
	int delayacct_restore;		/* -1: leave kernel.task_delayacct alone */
	uint64_t reads, read_ns_total;	/* sampling passes and their cost */
	uint64_t last_write;		/* the last pass's governor write, or 0 */
	uint64_t breach_events, reclaim_events, oom_events;
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
	struct htm_overrides overrides;
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

	struct htm_monitor mon;
	cJSON *recent_events;		/* the last HTM_RECENT_EVENTS, oldest first */
	uint64_t event_seq;

	struct htm_worker *worker;
	struct htm_journal *journal;
	char journal_dir[HTM_ROOT_MAX + 16];
	LIST_HEAD(, deferred_reply) deferred;	/* replies waiting for fdatasync */
	LIST_HEAD(, log_query) queries;		/* journal scans on the worker */

	struct htm_ruleset rules;
	struct htm_storm storm;
	cJSON *pending_events;			/* for the rules, this iteration */
	LIST_HEAD(, batch) batches;
	LIST_HEAD(, knob) knobs;		/* cgroup files we changed */
	struct htm_timer knob_timer, approval_timer;
	struct htm_outcomes outcomes;		/* success per task type */
	uint64_t last_relief;
	int queue_level;			/* 0, 1 warn, 2 critical */

	struct htm_governor gov;
	struct htm_plan plan;			/* what the governor applied */
	struct htm_timer boost_timer;
	uint64_t shed;
	struct htm_fairshare fair;
	struct htm_egress *egress;
	char egress_error[128];
	TAILQ_HEAD(, htm_task) sla_tasks;	/* tasks with an SLA still to meet */
	struct htm_timer sla_timer;
	uint64_t sla_breaches, sla_escalations;
	cJSON *placed_originals;		/* task id -> {file: value} */
	/* reaction latency to a completed cgroup write, us: [0] from the
	 * kernel's breach event, [1] from a PSI trigger firing */
	double reaction_us[2][1024];
	unsigned nreactions[2], reaction_next[2];
	TAILQ_HEAD(, htm_task) starting;	/* admitted, preflight not yet durable */
	uint64_t replayed;
	double replay_ms;
};

#define HTM_RECENT_EVENTS 64

extern const char *const htm_control_files[];

void htm_config_override(struct htm_config *cfg, const struct htm_overrides *o);

int htm_manager_new(struct htm_manager **out, const struct htm_config *cfg,
		    const char *config_path, const struct htm_overrides *o);
int htm_manager_start(struct htm_manager *m);
int htm_manager_run(struct htm_manager *m);
void htm_manager_free(struct htm_manager *m);

/* Re-read config and rules; all or nothing. */
int manager_reload(struct htm_manager *m, char *err, size_t errlen);

/* <root>/<priority> */
void manager_class_path(const struct htm_manager *m, enum htm_priority p,
			char *buf, size_t len);
/* Write a priority's knobs to a cgroup (skipped in observe mode). */
void manager_apply_priority(struct htm_manager *m, const char *cg,
			    enum htm_priority p, bool is_class);
/* A run slot taken by / given back from a task (fair share counts them). */
void manager_slot_take(struct htm_manager *m, struct htm_task *t, bool starving);
void manager_slot_release(struct htm_manager *m, struct htm_task *t);
/* A task reached a terminal state: wake its waiters, free its slot. */
void manager_task_finished(struct htm_manager *m, struct htm_task *t);
void manager_waiters_rearm(struct htm_manager *m);

/* persist.c */
cJSON *persist_who(uint32_t uid, const char *actor);
/* Append a record; body (consumed) gets who/what/when/where/why/how. */
int persist_write(struct htm_manager *m, enum htm_rec_type type, cJSON *who,
		  const char *why, const char *how, cJSON *body);
int persist_task_submit(struct htm_manager *m, const struct htm_task *t,
			cJSON *who, const char *why);
/* Every state change goes through here: moved, then journaled (who consumed). */
void manager_task_move(struct htm_manager *m, struct htm_task *t,
		       enum htm_state to, const char *reason, cJSON *who);
/* Reply once the records written so far are durable (takes response). */
void manager_reply(struct htm_manager *m, struct htm_conn *c, cJSON *response);
void persist_conn_closed(struct htm_manager *m, struct htm_conn *c);
void persist_task_starting(struct htm_manager *m, struct htm_task *t);
int persist_open(struct htm_manager *m, bool accept_broken);
void persist_recover(struct htm_manager *m);
void persist_close(struct htm_manager *m, const char *why);

/* audit.c */
int audit_log(struct htm_manager *m, struct htm_conn *c,
	      const struct htm_request *req, const char **code, char *err,
	      size_t errlen);
void audit_conn_closed(struct htm_manager *m, struct htm_conn *c);

/* approvals.c */
/*
 * Every new task comes through here: gate, journal, then queue, hold for
 * approval, or start at once (tier 4). On -EEXIST *dup is the earlier
 * task with the same name, command and target. The task stays in the
 * table either way; on error the caller removes it. who is consumed.
 */
int manager_submit(struct htm_manager *m, struct htm_task *t, cJSON *who,
		   uint64_t *dup);
bool manager_may_decide(struct htm_manager *m, struct htm_conn *c);
int approvals_approve(struct htm_manager *m, struct htm_conn *c, uint64_t id,
		      const char *reason, bool override, const char **code,
		      char *err, size_t errlen);
int approvals_deny(struct htm_manager *m, struct htm_conn *c, uint64_t id,
		   const char *reason, const char **code, char *err, size_t errlen);
cJSON *approvals_json(struct htm_manager *m);
void approvals_expired(struct htm_timer *timer);
void approvals_replay(struct htm_manager *m, const cJSON *body);
void approvals_recover(struct htm_manager *m);

/* rules.c */
int rules_load(const char *dir, struct htm_ruleset *rs, unsigned *files,
	       char *err, size_t errlen);
int rules_reload(struct htm_manager *m, char *err, size_t errlen);
void rules_queue_event(struct htm_manager *m, cJSON *event);
void rules_process(struct htm_manager *m);
void rules_free(struct htm_manager *m);
/* The relief command now, if configured and not run too recently. */
void rules_relief(struct htm_manager *m, const char *why);
cJSON *rules_json(struct htm_manager *m);
cJSON *rules_test(struct htm_manager *m, const cJSON *event);
cJSON *storm_json(struct htm_manager *m);

/* governor.c */
void governor_start(struct htm_manager *m);
/* Returns CLOCK_MONOTONIC when a cgroup write completed, else 0. */
uint64_t governor_update(struct htm_manager *m, const char *why);
/* A critical cgroup over its budget: the next stronger response at once.
 * Returns CLOCK_MONOTONIC when a cgroup write completed, else 0. */
uint64_t governor_breach(struct htm_manager *m, const char *cgroup);
bool governor_admits(const struct htm_manager *m, enum htm_priority p);
int governor_memory_value(struct htm_manager *m, const char *setting, char *buf,
			  size_t len);
cJSON *governor_json(struct htm_manager *m);
cJSON *governor_reactions_json(struct htm_manager *m);
enum htm_reaction { HTM_REACT_BREACH, HTM_REACT_PSI };
void governor_reaction(struct htm_manager *m, enum htm_reaction kind,
		       uint64_t event_ns, uint64_t done_ns);
/* egress limits for a class (its tasks) or a placed cgroup */
void egress_set_class(struct htm_manager *m, const char *cg, uint64_t bps);
void egress_task_started(struct htm_manager *m, struct htm_task *t);
cJSON *egress_json(struct htm_manager *m, const struct htm_task *t);

/* knobs.c: cgroup files changed for a decision, restored later */
int knob_set(struct htm_manager *m, const char *cg, const char *file,
	     const char *value, uint64_t for_ns, const char *why, cJSON *who);
int knob_undo(struct htm_manager *m, const char *cg, const char *file,
	      const char *why);
void knobs_expired(struct htm_timer *t);
/* After a crash: what a file held before htmd changed it (from the journal). */
int knob_remember(struct htm_manager *m, const char *cg, const char *file,
		  const char *original);
void knobs_undo_cgroup(struct htm_manager *m, const char *cg, const char *why);
void knobs_restore_all(struct htm_manager *m, const char *why);
cJSON *knobs_json(struct htm_manager *m);

/* runner.c */
/* Move a running task's processes under another priority class. */
int runner_reclass(struct htm_manager *m, struct htm_task *t, enum htm_priority to);
/* placement.c */
int placement_place(struct htm_manager *m, struct htm_conn *c, const char *path,
		    int prio, uint64_t budget, struct htm_task **out,
		    const char **code, char *err, size_t errlen);
int placement_unplace(struct htm_manager *m, struct htm_conn *c, const char *path,
		      struct htm_task **out, const char **code, char *err,
		      size_t errlen);
void placement_replay(struct htm_manager *m, const cJSON *body);
int placement_recover(struct htm_manager *m, struct htm_task *t);
cJSON *placements_json(struct htm_manager *m);
/* deadlines.c */
void sla_watch(struct htm_manager *m, struct htm_task *t);
void sla_unwatch(struct htm_manager *m, struct htm_task *t);
void sla_rearm(struct htm_manager *m);
void sla_fired(struct htm_timer *timer);
void sla_recover(struct htm_manager *m);
size_t sla_watched(const struct htm_manager *m);
/* Take over a task an earlier htmd started (its cgroup holds processes). */
int runner_adopt(struct htm_manager *m, struct htm_task *t);
int runner_start(struct htm_manager *m, struct htm_task *t);
int runner_kill(struct htm_manager *m, struct htm_task *t, enum htm_state as,
		const char *reason);
bool runner_idle(const struct htm_task *t);
void runner_release(struct htm_task *t);
void runner_shutdown(struct htm_manager *m);

/* monitor.c */
int monitor_start(struct htm_manager *m);
void monitor_stop(struct htm_manager *m);
/* Track a task's cgroup (before its first process runs). */
int monitor_track_task(struct htm_manager *m, struct htm_task *t, int cgfd);
/* Final reading of a task's cgroup into its usage, then stop tracking. */
void monitor_untrack_task(struct htm_manager *m, struct htm_task *t);
/* Delay accounting of a task's main process (before it is reaped). */
int monitor_task_delays(struct htm_manager *m, struct htm_task *t,
			struct htm_delays *out);
cJSON *monitor_top_json(struct htm_manager *m);
cJSON *monitor_status_json(struct htm_manager *m);
cJSON *monitor_usage_json(struct htm_manager *m, const struct htm_task *t);
/* The sampler's ring-buffer records (struct htm_event). */
void monitor_on_sampler_event(void *ctx, const struct htm_event *e);

/* events.c: every event is logged and kept in the recent list (fields
 * consumed). */
void manager_event(struct htm_manager *m, const char *type, int level,
		   cJSON *fields);

/* commands.c */
void commands_handle(void *data, struct htm_conn *c, const char *line,
		     size_t len);
void commands_conn_closed(void *data, struct htm_conn *c);
void commands_reply_task(struct htm_manager *m, struct htm_conn *c,
			 const struct htm_task *t, bool timed_out);

#endif
