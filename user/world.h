/* SPDX-License-Identifier: MIT */
/*
 * The world: the one port through which the engine touches a machine.
 * Clock and wake-ups, cgroup files, processes, pressure and sampler
 * readings, kernel events, the journal, the control socket and a few host
 * facts. user/sys/ is the Linux world (io_uring, cgroupfs, clone3, BPF,
 * PSI, taskstats, the journal files); user/sim/ is a simulated machine
 * under a virtual clock. The engine is the same code on both.
 *
 * Two directions:
 *  - ops: what the engine asks. Every operation returns 0 or a negative
 *    errno unless it says otherwise and leaves it to the engine to decide
 *    what a failure means (it logs only what only it can see, e.g. a
 *    ring buffer that stopped).
 *  - hooks: what the world tells the engine. The world calls them from its
 *    loop, one at a time, never from inside an op; after each batch of
 *    completions (and when the time given to wake_at has come) it calls
 *    hooks.turn once, where the engine runs its timers, drains its bus and
 *    commits its journal records.
 * Objects the world hands out (a connection, a process, a cgroup watch, a
 * PSI watch) stay valid until the engine closes them (connections: until
 * hooks.closed returns); closing one whose operation is in flight is safe.
 */
#ifndef HTM_WORLD_H
#define HTM_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "core/pressure.h"
#include "core/record.h"
#include "core/usage.h"
#include "htm/egress.h"
#include "htm/sampler.h"

struct htm_world;
struct htm_conn;		/* a client of the control socket */
struct htm_proc;		/* a process the engine started or adopted */
struct htm_cg_watch;		/* changes of a cgroup's cgroup.events */
struct htm_psi_watch;		/* a PSI trigger */

/* A command to run as a task. */
struct htm_spawn_req {
	char *const *argv;
	const char *cwd;		/* NULL or unusable: "/" */
	uint32_t uid, gid;		/* the submitter: never root unless root asked */
	const char *cgroup;		/* it starts inside, before its first instruction */
	const char *log_path;		/* stdout and stderr, owned by uid */
	uint64_t task_id;
	const char *priority;		/* HTM_PRIORITY in its environment */
};

/* What loaded in the sampler and what a probe switched off. */
struct htm_sampler_info {
	const char *programs[8];
	int nprograms;
	const char *off[4];		/* "oom_kills: <why>" */
	int noff;
	const char *pin_dir;		/* NULL when not pinned */
	const char *wait_clock;		/* "sched_info" or "task_storage" */
};

struct htm_world_hooks {
	void *data;
	void (*turn)(void *data);
	/* One complete request line; answer it with ops->reply, now or later. */
	void (*request)(void *data, struct htm_conn *c, const char *line, size_t len);
	void (*closed)(void *data, struct htm_conn *c);
	void (*signal)(void *data, int signo);	/* SIGTERM, SIGINT, SIGHUP */
	/* Journal records up to seq are durable. */
	void (*durable)(void *data, uint64_t seq);
	/* A ring-buffer record of the sampler (budget breach, reclaim, OOM). */
	void (*kernel_event)(void *data, const struct htm_event *e);
};

typedef void (*htm_world_fn)(void *data);
typedef void (*htm_psi_fn)(void *data, int err);	/* 0: fired */

struct htm_world_ops {
	/* --- clock and loop --- */
	uint64_t (*now_mono)(struct htm_world *w);
	uint64_t (*now_real)(struct htm_world *w);
	/* Have hooks.turn run by mono (0: no deadline). Replaces the last one. */
	void (*wake_at)(struct htm_world *w, uint64_t mono);
	void (*stop)(struct htm_world *w, int code);
	/* After a stop: keep doing I/O (replies, journal writes) until
	 * done(data) or the deadline. */
	void (*flush)(struct htm_world *w, bool (*done)(void *data), void *data,
		      uint64_t deadline);
	/* Signals arrive through hooks.signal from now on. */
	int (*signals)(struct htm_world *w);

	/* --- host --- */
	unsigned (*ncpus)(struct htm_world *w);
	const char *(*host)(struct htm_world *w);
	int (*pid)(struct htm_world *w);
	uint32_t (*uid)(struct htm_world *w);
	int (*user_name)(struct htm_world *w, uint32_t uid, char *buf, size_t len);
	int (*user_lookup)(struct htm_world *w, const char *name, uint32_t *uid,
			   uint32_t *gid);
	int (*group_lookup)(struct htm_world *w, const char *name, uint32_t *gid);

	/* --- files: config, rules, state dir --- */
	int (*read_file)(struct htm_world *w, const char *path, size_t max,
			 char **text, size_t *len);
	/* A new file (its directory made if missing); -EFBIG from read_file
	 * when the file is over max. */
	int (*write_file)(struct htm_world *w, const char *path, const char *text);
	/* Every entry of dir but . and ..; -ENOENT if dir is missing. */
	int (*list_dir)(struct htm_world *w, const char *dir,
			int (*fn)(void *ctx, const char *name), void *ctx);
	/* Create and lock the state dir (-EWOULDBLOCK: another htmd has it),
	 * make logs_dir, and tell the next task id (one past every log). */
	int (*state_open)(struct htm_world *w, const char *dir, const char *logs_dir,
			  uint64_t *next_task_id);

	/* --- cgroups --- */
	int (*cg_mount)(struct htm_world *w, char *buf, size_t len);
	/* The cgroup of pid (0: htmd itself), an absolute path. */
	int (*cg_of)(struct htm_world *w, int pid, char *buf, size_t len);
	/* path with symlinks and dots resolved; -ENOENT unless a directory. */
	int (*cg_resolve)(struct htm_world *w, const char *path, char *buf, size_t len);
	bool (*cg_is_cgroup)(struct htm_world *w, const char *path);
	int (*cg_mkdir)(struct htm_world *w, const char *cg);
	int (*cg_rmdir)(struct htm_world *w, const char *cg);
	int (*cg_rmdir_tree)(struct htm_world *w, const char *cg);
	int (*cg_read)(struct htm_world *w, const char *cg, const char *file,
		       char *buf, size_t len);
	/* Only the ledger writes cgroup files. */
	int (*cg_write)(struct htm_world *w, const char *cg, const char *file,
			const char *value);
	bool (*cg_has_file)(struct htm_world *w, const char *cg, const char *file);
	int (*cg_enable)(struct htm_world *w, const char *cg, unsigned want,
			 unsigned *enabled);
	int (*cg_populated)(struct htm_world *w, const char *cg, bool *populated);
	int (*cg_id)(struct htm_world *w, const char *cg, uint64_t *id);
	/* SIGKILL every process in the subtree. */
	int (*cg_kill)(struct htm_world *w, const char *cg);
	/* Processes moved (call until 0), or -errno. */
	int (*cg_move_procs)(struct htm_world *w, const char *from, const char *to);
	/* Block until cg is empty or the deadline (shutdown only). */
	int (*cg_wait_empty)(struct htm_world *w, const char *cg, uint64_t deadline);
	/* fn(data) on every change of cg's cgroup.events until closed. */
	int (*cg_watch)(struct htm_world *w, const char *cg, htm_world_fn fn,
			void *data, struct htm_cg_watch **out);
	int (*cg_watch_populated)(struct htm_cg_watch *wt, bool *populated);
	void (*cg_watch_close)(struct htm_cg_watch *wt);

	/* --- processes --- */
	/* Start it; exited(data) once it is gone (reap it then). */
	int (*spawn)(struct htm_world *w, const struct htm_spawn_req *req,
		     htm_world_fn exited, void *data, struct htm_proc **out,
		     int *pid);
	/* Watch a process an earlier htmd started, if it still runs in cg;
	 * -ESRCH if not. Only its parent could learn its exit status. */
	int (*adopt)(struct htm_world *w, int pid, const char *cg,
		     htm_world_fn exited, void *data, struct htm_proc **out);
	/* -EAGAIN: still running; -ECHILD: adopted, status unknowable. */
	int (*reap)(struct htm_proc *p, int *exit_code, int *sig);
	int (*signal_proc)(struct htm_proc *p, int sig);
	/* Block until it exits or the deadline, then reap (shutdown only). */
	int (*wait_proc)(struct htm_proc *p, uint64_t deadline, int *exit_code,
			 int *sig);
	void (*proc_close)(struct htm_proc *p);
	/* Delay accounting of a process, alive or a zombie not yet reaped. */
	int (*delays_open)(struct htm_world *w, bool enable, char *why, size_t len);
	int (*delays)(struct htm_world *w, int pid, struct htm_delays *out);
	void (*delays_close)(struct htm_world *w);

	/* --- pressure --- */
	/* cg NULL: the whole machine */
	int (*psi_read)(struct htm_world *w, const char *cg, enum htm_resource r,
			struct htm_psi *out);
	int (*meminfo)(struct htm_world *w, struct htm_meminfo *out);
	/* -EINVAL: the kernel refused this spec */
	int (*psi_watch)(struct htm_world *w, enum htm_resource r, const char *spec,
			 htm_psi_fn fn, void *data, struct htm_psi_watch **out);
	void (*psi_unwatch)(struct htm_psi_watch *pw);

	/* --- the sampler (kernel events arrive through hooks.kernel_event) --- */
	int (*sampler_open)(struct htm_world *w, const char *pin_dir, int wait_clock,
			    char *why, size_t len);
	/* NULL when the sampler is not loaded */
	const struct htm_sampler_info *(*sampler_info)(struct htm_world *w);
	int (*sampler_track)(struct htm_world *w, uint64_t cgid, uint64_t budget_ns);
	int (*sampler_untrack)(struct htm_world *w, uint64_t cgid);
	/* Cumulative totals: cb per tracked cgroup, the summary in *all. */
	int (*sampler_read)(struct htm_world *w,
			    void (*cb)(void *ctx, uint64_t cgid,
				       const struct htm_cg_stats *t),
			    void *ctx, struct htm_cg_stats *all);
	int (*sampler_read_one)(struct htm_world *w, uint64_t cgid,
				struct htm_cg_stats *out);
	void (*sampler_close)(struct htm_world *w);

	/* --- egress token buckets --- */
	int (*egress_open)(struct htm_world *w, const char *pin_dir, char *why,
			   size_t len);
	int (*egress_attach)(struct htm_world *w, const char *cg);
	int (*egress_set)(struct htm_world *w, uint64_t cgid, uint64_t bps);
	int (*egress_read)(struct htm_world *w, uint64_t cgid,
			   struct htm_egress_bucket *out);
	void (*egress_close)(struct htm_world *w);

	/* --- the journal (durability through hooks.durable) --- */
	int (*journal_scan)(struct htm_world *w, const char *dir, htm_rec_visit fn,
			    void *ctx, struct htm_journal_scan *s);
	int (*journal_repair)(struct htm_world *w, const char *dir,
			      const struct htm_journal_scan *s, const char *break_body,
			      char *summary, size_t len);
	int (*journal_open)(struct htm_world *w, const char *dir,
			    uint64_t segment_bytes, const struct htm_journal_scan *s);
	int (*journal_append)(struct htm_world *w, uint16_t type, uint64_t ts_ns,
			      const char *body, size_t len, uint64_t *seq);
	void (*journal_commit)(struct htm_world *w);
	uint64_t (*journal_last)(struct htm_world *w);
	uint64_t (*journal_durable)(struct htm_world *w);
	void (*journal_stats)(struct htm_world *w, uint64_t *segment_bytes,
			      uint64_t *sealed, uint64_t *commits, uint64_t *errors);
	void (*journal_close)(struct htm_world *w);
	/* A scan off the loop: on another thread *err = the scan's result
	 * (fn touching only ctx, fn NULL: verify only), then done(ctx) back
	 * on the loop. */
	int (*journal_query)(struct htm_world *w, const char *dir, htm_rec_visit fn,
			     void *ctx, struct htm_journal_scan *s, int *err,
			     htm_world_fn done);

	/* --- the control socket (requests through hooks.request) --- */
	int (*listen)(struct htm_world *w, const char *path);
	int (*reply)(struct htm_conn *c, cJSON *response);	/* takes response */
	const struct ucred *(*cred)(struct htm_conn *c);
	int (*conn_groups)(struct htm_conn *c, gid_t *groups, int max);
	unsigned (*connections)(struct htm_world *w);
	bool (*flushed)(struct htm_world *w);	/* no reply waiting to be sent */
	void (*unlisten)(struct htm_world *w);
};

struct htm_world {
	const struct htm_world_ops *ops;
	struct htm_world_hooks hooks;
};

#endif
