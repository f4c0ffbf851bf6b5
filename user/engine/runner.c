// SPDX-License-Identifier: MIT
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/duration.h"
#include "core/log.h"
#include "core/pathfmt.h"
#include "engine/runner.h"

struct htm_runner {
	struct htm_ctx *c;
};

/* A running task's links to the machine. */
struct task_run {
	struct htm_task *task;
	struct htm_runner *rn;
	struct htm_proc *proc;		/* its main process, NULL once gone */
	struct htm_cg_watch *watch;	/* its cgroup.events */
	struct htm_timer timeout;
	enum htm_state kill_as;		/* HTM_STATE_COUNT: nobody asked */
	char *kill_reason;
	bool exited;
	int exit_code, sig;
	bool adopted;			/* started by an earlier htmd: not our child */
};

static struct htm_world *W(const struct task_run *run)
{
	return run->rn->c->w;
}

static void run_close(struct task_run *run)
{
	if (run->proc)
		W(run)->ops->proc_close(run->proc);
	if (run->watch)
		W(run)->ops->cg_watch_close(run->watch);
	run->proc = NULL;
	run->watch = NULL;
}

static void run_release(struct task_run *run)
{
	htm_disarm(run->rn->c, &run->timeout);
	run_close(run);
	run->task->runtime = NULL;
	free(run->kill_reason);
	free(run);
}

static void send_task(struct htm_runner *rn, enum htm_msg_type type,
		      struct htm_task *t)
{
	struct htm_msg m = { .type = type, .u.task = t };

	(void)htm_bus_send(rn->c->bus, &m);
}

static void describe_end(const struct task_run *run, char *buf, size_t len)
{
	if (run->sig)
		snprintf(buf, len, "killed by signal %d (%s)", run->sig,
			 strsignal(run->sig));
	else
		snprintf(buf, len, "exited with code %d", run->exit_code);
}

/* The cgroup is empty: remove it and settle the task's final state. */
static void run_finish(struct task_run *run)
{
	struct htm_task *t = run->task;
	struct htm_ctx *c = run->rn->c;
	enum htm_state to;
	char why[256];
	int r;

	htm_disarm(c, &run->timeout);
	run_close(run);
	send_task(run->rn, HTM_MSG_CGROUP_GONE, t);
	r = c->w->ops->cg_rmdir_tree(c->w, t->cgroup);
	if (r < 0 && r != -ENOENT)
		htm_log(LOG_WARNING, "task %llu: rmdir %s: %s, ignoring",
			(unsigned long long)t->id, t->cgroup, strerror(-r));
	t->exit_code = run->exit_code;
	t->signal = run->sig;
	describe_end(run, why, sizeof(why));
	if (run->kill_as != HTM_STATE_COUNT) {
		to = run->kill_as;
		snprintf(why, sizeof(why), "%s", run->kill_reason);
	} else if (run->adopted) {
		/* not our child: the kernel tells its exit status only to
		 * its parent, which was the htmd before this one */
		to = HTM_STATE_LOST;
		snprintf(why, sizeof(why), "finished after htmd restarted; "
			 "exit status unknown");
	} else {
		to = run->exit_code == 0 ? HTM_STATE_SUCCEEDED : HTM_STATE_FAILED;
	}
	tasks_finish(c, t, to, why, NULL);
	htm_log(LOG_INFO, "task %llu %s: %s", (unsigned long long)t->id,
		htm_state_names[t->state], t->reason ? t->reason : "");
	run_release(run);
}

/* After the main process: kill what it left, finish once the cgroup is empty. */
static void run_drain(struct task_run *run)
{
	bool populated = false;
	int r = run->watch ? W(run)->ops->cg_watch_populated(run->watch, &populated)
			   : -EBADF;

	if (r == 0 && !populated) {
		run_finish(run);
		return;
	}
	if (r == 0) {
		/* what the main process left behind goes with it; an adopted
		 * task whose main process we never found is only watched */
		if (run->exited)
			(void)W(run)->ops->cg_kill(W(run), run->task->cgroup);
		return;	/* the watch tells when it is empty */
	}
	htm_log(LOG_WARNING, "task %llu: cannot read %s/cgroup.events: %s, "
		"finishing without waiting for its processes",
		(unsigned long long)run->task->id, run->task->cgroup, strerror(-r));
	run_finish(run);
}

static void events_changed(void *data)
{
	struct task_run *run = data;

	if (run->task->state != HTM_STATE_RUNNING || !run->watch)
		return;
	/* the main process's exit comes first: until then only it decides */
	if (!run->exited && run->proc)
		return;
	run_drain(run);
}

static void main_exited(void *data)
{
	struct task_run *run = data;
	struct htm_task_usage *u;
	int r;

	if (run->task->state != HTM_STATE_RUNNING || !run->proc || run->exited)
		return;
	if (run->adopted) {
		/* only its parent (an htmd before us) could reap it and learn how */
		run->exited = true;
		run_drain(run);
		return;
	}
	/* a zombie still has its delay accounting; once reaped it is gone */
	u = tasks_usage(run->task);
	if (u && !u->has_delays)
		u->has_delays = W(run)->ops->delays(W(run), run->task->pid,
						    &u->delays) == 0;
	r = W(run)->ops->reap(run->proc, &run->exit_code, &run->sig);
	if (r == -EAGAIN)
		return;	/* not yet: the world tells again */
	if (r < 0) {
		htm_log(LOG_ERR, "task %llu: waitid: %s", (unsigned long long)run->task->id,
			strerror(-r));
		run->exit_code = -1;
	}
	run->exited = true;
	run_drain(run);
}

static void timeout_fired(struct htm_timer *timer)
{
	struct task_run *run = htm_container_of(timer, struct task_run, timeout);
	char d[32], why[64];

	htm_duration_format(run->task->timeout_ns, d, sizeof(d));
	snprintf(why, sizeof(why), "timed out after %s", d);
	runner_kill(run->rn, run->task, HTM_STATE_TIMED_OUT, why);
}

static struct task_run *run_new(struct htm_runner *rn, struct htm_task *t)
{
	struct task_run *run = calloc(1, sizeof(*run));

	if (!run)
		return NULL;
	run->task = t;
	run->rn = rn;
	run->exit_code = -1;		/* unknown until reaped */
	run->kill_as = HTM_STATE_COUNT;
	htm_timer_init(&run->timeout, timeout_fired);
	t->runtime = run;
	return run;
}

int runner_kill(struct htm_runner *rn, struct htm_task *t, enum htm_state as,
		const char *reason)
{
	struct task_run *run = t->runtime;
	struct htm_world *w = rn->c->w;
	int r;

	if (t->state != HTM_STATE_RUNNING || !run)
		return -EINVAL;
	if (run->kill_as == HTM_STATE_COUNT) {
		run->kill_as = as;
		run->kill_reason = strdup(reason);
	}
	r = w->ops->cg_kill(w, t->cgroup);
	if (r < 0) {
		/* the cgroup is the whole tree; without it, the main process */
		htm_log(LOG_WARNING, "task %llu: kill %s: %s, signalling pid %d",
			(unsigned long long)t->id, t->cgroup, strerror(-r), t->pid);
		if (run->proc && !run->exited)
			r = w->ops->signal_proc(run->proc, SIGKILL);
	}
	return r;
}

static int fail_start(struct htm_runner *rn, struct htm_task *t,
		      const char *what, int err)
{
	char why[256];

	snprintf(why, sizeof(why), "could not start: %s: %s", what, strerror(-err));
	htm_log(LOG_WARNING, "task %llu %s", (unsigned long long)t->id, why);
	tasks_finish(rn->c, t, HTM_STATE_FAILED, why, NULL);
	return err;
}

/* The cgroup is the task's: settings, id, watch, tracking. */
static int cgroup_ready(struct task_run *run, const char *cg)
{
	struct htm_world *w = W(run);
	struct htm_task *t = run->task;
	struct htm_msg m = { .type = HTM_MSG_CGROUP_READY, .u.task = t };
	int r;

	r = w->ops->cg_id(w, cg, &t->cgroup_id);
	if (r < 0)
		return r;
	r = w->ops->cg_watch(w, cg, events_changed, run, &run->watch);
	if (r < 0)
		return r;
	return htm_bus_send(run->rn->c->bus, &m);
}

static int run_start(struct htm_runner *rn, struct htm_task *t)
{
	struct htm_ctx *c = rn->c;
	struct htm_world *w = c->w;
	struct htm_spawn_req req = { 0 };
	struct task_run *run;
	char cg[PATH_MAX], cls[PATH_MAX], log[PATH_MAX];
	struct htm_msg pm = { .type = HTM_MSG_CGROUP_PRIORITY };
	bool tracked = false;
	int r, pid = 0;

	run = run_new(rn, t);
	if (!run)
		return fail_start(rn, t, "memory", -ENOMEM);

	htm_class_path(c, t->priority, cls, sizeof(cls));
	htm_pathf(cg, sizeof(cg), "%s/task-%llu", cls, (unsigned long long)t->id);
	r = w->ops->cg_mkdir(w, cg);
	if (r < 0) {
		run_release(run);
		return fail_start(rn, t, cg, r);
	}
	free(t->cgroup);
	t->cgroup = strdup(cg);
	if (!t->cgroup) {
		r = -ENOMEM;
		goto fail_cgroup;
	}
	pm.u.cgp.cg = cg;
	pm.u.cgp.prio = t->priority;
	(void)htm_bus_send(c->bus, &pm);
	r = cgroup_ready(run, cg);
	tracked = true;
	if (r < 0)
		goto fail_cgroup;
	htm_log_path(c, t->id, log, sizeof(log));
	req.argv = t->argv;
	req.cwd = t->cwd;
	req.uid = t->uid;
	req.gid = t->gid;
	req.cgroup = cg;
	req.log_path = log;
	req.task_id = t->id;
	req.priority = htm_priority_names[t->priority];
	r = w->ops->spawn(w, &req, main_exited, run, &run->proc, &pid);
	if (r < 0)
		goto fail_cgroup;

	t->pid = pid;
	tasks_move(c, t, HTM_STATE_RUNNING, NULL, NULL);
	if (t->timeout_ns)
		htm_arm(c, &run->timeout, htm_mono(c) + t->timeout_ns);
	htm_log(LOG_INFO, "task %llu started: pid %d in %s as uid %u",
		(unsigned long long)t->id, pid, cg, (unsigned)t->uid);
	return 0;

fail_cgroup:
	if (tracked)
		send_task(rn, HTM_MSG_CGROUP_GONE, t);
	run_release(run);
	(void)w->ops->cg_rmdir(w, cg);
	return fail_start(rn, t, "spawn", r);
}

int runner_adopt(struct htm_runner *rn, struct htm_task *t)
{
	struct htm_ctx *c = rn->c;
	struct htm_world *w = c->w;
	struct task_run *run = run_new(rn, t);
	struct htm_msg pm = { .type = HTM_MSG_CGROUP_PRIORITY };
	uint64_t now_real = htm_real(c);
	int r;

	if (!run)
		return -ENOMEM;
	r = cgroup_ready(run, t->cgroup);
	if (r < 0) {
		send_task(rn, HTM_MSG_CGROUP_GONE, t);
		run_release(run);
		return r;
	}
	pm.u.cgp.cg = t->cgroup;
	pm.u.cgp.prio = t->priority;
	(void)htm_bus_send(c->bus, &pm);
	/* the main process, if it is still the one in this cgroup */
	if (t->pid > 0)
		(void)w->ops->adopt(w, t->pid, t->cgroup, main_exited, run, &run->proc);
	run->adopted = true;
	if (t->state == HTM_STATE_PREFLIGHT)
		tasks_move(c, t, HTM_STATE_RUNNING,
			   "adopted after restart: its cgroup has processes", NULL);
	else
		record_write(c, HTM_REC_DECISION, NULL, "adopted after restart",
			     "its cgroup still has processes", NULL);
	if (t->timeout_ns) {
		uint64_t end = t->started_at + t->timeout_ns;

		htm_arm(c, &run->timeout, htm_mono(c) +
			(end > now_real ? end - now_real : 0));
	}
	htm_log(LOG_NOTICE, "task %llu adopted: %s%s", (unsigned long long)t->id,
		t->cgroup, run->proc ? "" : " (main process gone, watching the cgroup)");
	if (!run->proc)
		run_drain(run);
	return 0;
}

/*
 * Escalation of a running task: a cgroup cannot change parents, so its
 * processes move to a new cgroup under the higher class. A process forking
 * during the move is caught by the next round. A task that made its own
 * sub-cgroups keeps its class (their processes cannot be moved as one).
 */
static int reclass(struct htm_runner *rn, struct htm_task *t, enum htm_priority to)
{
	struct htm_ctx *c = rn->c;
	struct htm_world *w = c->w;
	struct task_run *run = t->runtime;
	struct htm_msg pm = { .type = HTM_MSG_CGROUP_PRIORITY };
	char cg[PATH_MAX], cls[PATH_MAX], *path;
	bool populated = true;
	int r = 0, n;

	if (!run || run->exited || !t->cgroup)
		return -EINVAL;
	htm_class_path(c, to, cls, sizeof(cls));
	htm_pathf(cg, sizeof(cg), "%s/task-%llu", cls, (unsigned long long)t->id);
	r = w->ops->cg_mkdir(w, cg);
	if (r < 0)
		return r;
	pm.u.cgp.cg = cg;
	pm.u.cgp.prio = to;
	(void)htm_bus_send(c->bus, &pm);
	for (int round = 0; round < 50; round++) {
		n = w->ops->cg_move_procs(w, t->cgroup, cg);
		if (n <= 0) {
			r = n;
			break;
		}
	}
	if (r == 0 && (w->ops->cg_populated(w, t->cgroup, &populated) < 0 || populated))
		r = -EBUSY;	/* sub-cgroups still hold processes */
	if (r < 0) {
		/* put back whoever moved, and drop the new cgroup */
		while (w->ops->cg_move_procs(w, cg, t->cgroup) > 0)
			;
		(void)w->ops->cg_rmdir(w, cg);
		return r;
	}
	w->ops->cg_watch_close(run->watch);
	run->watch = NULL;
	send_task(rn, HTM_MSG_CGROUP_GONE, t);
	(void)w->ops->cg_rmdir_tree(w, t->cgroup);
	path = strdup(cg);
	if (!path)
		return -ENOMEM;
	free(t->cgroup);
	t->cgroup = path;
	t->priority = to;
	return cgroup_ready(run, cg);
}

void runner_shutdown(struct htm_runner *rn)
{
	struct htm_world *w = rn->c->w;
	struct htm_task *t, *next;
	struct task_run *run;
	uint64_t give_up = htm_mono(rn->c) + 5 * HTM_NSEC_PER_SEC;

	for (t = TAILQ_FIRST(&rn->c->tasks.all); t; t = next) {
		next = TAILQ_NEXT(t, table_link);
		run = t->runtime;
		if (t->state != HTM_STATE_RUNNING || !run)
			continue;
		runner_kill(rn, t, HTM_STATE_CANCELLED, "cancelled: htmd shut down");
		if (run->proc && !run->exited &&
		    w->ops->wait_proc(run->proc, give_up, &run->exit_code, &run->sig) == 0)
			run->exited = true;
		(void)w->ops->cg_wait_empty(w, t->cgroup, give_up);
		run_finish(run);
	}
}

static int on_msg(void *data, struct htm_msg *m)
{
	struct htm_runner *rn = data;

	switch (m->type) {
	case HTM_MSG_RUN:
		return run_start(rn, m->u.task);
	case HTM_MSG_RECLASS:
		return reclass(rn, m->u.reclass.task, m->u.reclass.to);
	default:
		return 0;
	}
}

int runner_new(struct htm_runner **out, struct htm_ctx *c)
{
	struct htm_runner *rn = calloc(1, sizeof(*rn));
	int r;

	if (!rn)
		return -ENOMEM;
	rn->c = c;
	r = htm_bus_subscribe(c->bus, HTM_MSG_RUN, on_msg, rn);
	if (r == 0)
		r = htm_bus_subscribe(c->bus, HTM_MSG_RECLASS, on_msg, rn);
	if (r < 0) {
		free(rn);
		return r;
	}
	*out = rn;
	return 0;
}

void runner_free(struct htm_runner *rn)
{
	struct htm_task *t;

	if (!rn)
		return;
	/* a crash-like stop (the loop failed): let go of what still runs */
	TAILQ_FOREACH(t, &rn->c->tasks.all, table_link)
		if (t->runtime)
			run_release(t->runtime);
	free(rn);
}
