// SPDX-License-Identifier: MIT
/*
 * A task's life on this host: its cgroup is made and weighted, clone3 starts
 * it inside, its pidfd tells us when the main process exits, then whatever
 * it left behind is killed, cgroup.events tells us when the cgroup is
 * empty, and only then is it removed and the task finished. So a finished
 * task has no process left anywhere, and `wait` means what it says.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/duration.h"
#include "manager.h"
#include "sys/exec.h"
#include "sys/log.h"


#define RUN_OF(src, member) \
	((struct task_run *)((char *)(src) - offsetof(struct task_run, member)))

static void run_close_fds(struct task_run *run)
{
	if (run->pidfd >= 0)
		close(run->pidfd);
	if (run->events_fd >= 0)
		close(run->events_fd);
	run->pidfd = run->events_fd = -1;
}

bool runner_idle(const struct htm_task *t)
{
	const struct task_run *run = t->runtime;

	return !run || (!run->exit_src.inflight && !run->events_src.inflight &&
			htm_timer_idle(&run->timeout));
}

void runner_release(struct htm_task *t)
{
	struct task_run *run = t->runtime;

	if (!run)
		return;
	run_close_fds(run);
	free(run->kill_reason);
	free(run);
	t->runtime = NULL;
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
	struct htm_manager *m = run->m;
	enum htm_state to;
	char why[256];
	int r;

	htm_timer_disarm(&run->timeout);
	run_close_fds(run);
	monitor_untrack_task(m, t);
	r = htm_cgroup_rmdir_tree(t->cgroup);
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
	manager_task_move(m, t, to, why, NULL);
	htm_log(LOG_INFO, "task %llu %s: %s", (unsigned long long)t->id,
		htm_state_names[t->state], t->reason ? t->reason : "");
	manager_slot_release(m, t);
	manager_task_finished(m, t);
}

static int events_watch(struct task_run *run)
{
	struct io_uring_sqe *sqe = htm_loop_sqe(run->m->loop, &run->events_src);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, run->events_fd, POLLPRI);
	return 0;
}

/* cgroup.events read through our fd, which also re-arms kernfs_notify. */
static int events_populated(struct task_run *run, bool *populated)
{
	char buf[256], *p;
	ssize_t n = pread(run->events_fd, buf, sizeof(buf) - 1, 0);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	p = strstr(buf, "populated ");
	if (!p)
		return -EIO;
	*populated = p[10] == '1';
	return 0;
}

/* After the main process: kill what it left, finish once the cgroup is empty. */
static void run_drain(struct task_run *run)
{
	bool populated = false;
	int r;

	r = events_populated(run, &populated);
	if (r == 0 && !populated) {
		run_finish(run);
		return;
	}
	if (r == 0 && !run->events_src.inflight) {
		/* what the main process left behind goes with it; an adopted
		 * task whose main process we never found is only watched */
		if (run->exited)
			(void)htm_cgroup_kill(run->task->cgroup);
		if (events_watch(run) == 0)
			return;
	}
	if (r == 0)
		return;	/* a watch is already armed */
	htm_log(LOG_WARNING, "task %llu: cannot read %s/cgroup.events: %s, "
		"finishing without waiting for its processes",
		(unsigned long long)run->task->id, run->task->cgroup, strerror(-r));
	run_finish(run);
}

static void events_changed(struct htm_loop_source *src, int res, uint32_t fl)
{
	struct task_run *run = RUN_OF(src, events_src);

	(void)fl;
	if (res == -ECANCELED)	/* a reclass watches the new cgroup now */
		return;
	if (run->task->state != HTM_STATE_RUNNING || run->events_fd < 0)
		return;
	(void)res;
	run_drain(run);
}

static void main_exited(struct htm_loop_source *src, int res, uint32_t fl)
{
	struct task_run *run = RUN_OF(src, exit_src);
	int r;

	(void)fl;
	if (run->task->state != HTM_STATE_RUNNING || run->pidfd < 0)
		return;
	if (run->adopted) {
		/* pidfd_open: readable once it exits, but only its parent
		 * (an htmd before us) could reap it and learn how */
		run->exited = true;
		run_drain(run);
		return;
	}
	/* a zombie still has its delay accounting; once reaped it is gone */
	if (!run->usage.has_delays)
		run->usage.has_delays = monitor_task_delays(run->m, run->task,
							    &run->usage.delays) == 0;
	r = htm_reap(run->pidfd, &run->exit_code, &run->sig);
	if (r == -EAGAIN || (res < 0 && res != -EINTR && r < 0)) {
		/* spurious wakeup: keep waiting */
		struct io_uring_sqe *sqe = htm_loop_sqe(run->m->loop, &run->exit_src);

		if (sqe)
			io_uring_prep_poll_add(sqe, run->pidfd, POLLIN);
		return;
	}
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
	struct task_run *run = (struct task_run *)((char *)timer -
		offsetof(struct task_run, timeout));
	char d[32], why[64];

	htm_duration_format(run->task->timeout_ns, d, sizeof(d));
	snprintf(why, sizeof(why), "timed out after %s", d);
	runner_kill(run->m, run->task, HTM_STATE_TIMED_OUT, why);
}

static struct task_run *run_new(struct htm_manager *m, struct htm_task *t)
{
	struct task_run *run = calloc(1, sizeof(*run));

	if (!run)
		return NULL;
	run->task = t;
	run->m = m;
	run->pidfd = run->events_fd = -1;
	run->exit_code = -1;		/* unknown until reaped */
	run->kill_as = HTM_STATE_COUNT;
	run->exit_src.fn = main_exited;
	run->events_src.fn = events_changed;
	htm_timer_init(&run->timeout, m->loop, timeout_fired);
	t->runtime = run;
	return run;
}

int runner_kill(struct htm_manager *m, struct htm_task *t, enum htm_state as,
		const char *reason)
{
	struct task_run *run = t->runtime;
	int r;

	(void)m;
	if (t->state != HTM_STATE_RUNNING || !run)
		return -EINVAL;
	if (run->kill_as == HTM_STATE_COUNT) {
		run->kill_as = as;
		run->kill_reason = strdup(reason);
	}
	r = htm_cgroup_kill(t->cgroup);
	if (r < 0) {
		/* the cgroup is the whole tree; without it, the main process */
		htm_log(LOG_WARNING, "task %llu: kill %s: %s, signalling pid %d",
			(unsigned long long)t->id, t->cgroup, strerror(-r), t->pid);
		if (run->pidfd >= 0 && !run->exited)
			r = syscall(SYS_pidfd_send_signal, run->pidfd, SIGKILL, NULL, 0)
				    < 0 ? -errno : 0;
	}
	return r;
}

static char **task_env(const struct htm_task *t, const struct htm_identity *who)
{
	char **env = calloc(10, sizeof(char *));
	int n = 0;

	if (!env)
		return NULL;
	if (asprintf(&env[n++], "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") < 0 ||
	    asprintf(&env[n++], "HOME=%s", who->home) < 0 ||
	    asprintf(&env[n++], "USER=%s", who->name) < 0 ||
	    asprintf(&env[n++], "LOGNAME=%s", who->name) < 0 ||
	    asprintf(&env[n++], "SHELL=%s", who->shell) < 0 ||
	    asprintf(&env[n++], "LANG=C.UTF-8") < 0 ||
	    asprintf(&env[n++], "HTM_TASK_ID=%llu", (unsigned long long)t->id) < 0 ||
	    asprintf(&env[n++], "HTM_PRIORITY=%s", htm_priority_names[t->priority]) < 0) {
		env[n - 1] = NULL;
		for (char **e = env; *e; e++)
			free(*e);
		free(env);
		return NULL;
	}
	return env;
}

static void env_free(char **env)
{
	if (!env)
		return;
	for (char **e = env; *e; e++)
		free(*e);
	free(env);
}

static int open_log(const struct htm_manager *m, const struct htm_task *t)
{
	char path[PATH_MAX];
	int fd;

	htm_pathf(path, sizeof(path), "%s/%llu.log", m->logs_dir,
		  (unsigned long long)t->id);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC |
		  O_NOFOLLOW, 0640);
	if (fd < 0)
		return -errno;
	/* the submitter may read its own output */
	if (fchown(fd, t->uid, t->gid) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

static int fail_start(struct htm_manager *m, struct htm_task *t,
		      const char *what, int err)
{
	char why[256];

	snprintf(why, sizeof(why), "could not start: %s: %s", what, strerror(-err));
	htm_log(LOG_WARNING, "task %llu %s", (unsigned long long)t->id, why);
	manager_task_move(m, t, HTM_STATE_FAILED, why, NULL);
	return err;
}

int runner_start(struct htm_manager *m, struct htm_task *t)
{
	struct htm_identity who;
	struct htm_spawn spawn = { 0 };
	struct task_run *run;
	struct io_uring_sqe *sqe;
	char cg[PATH_MAX], cls[PATH_MAX], **env = NULL;
	int cgfd = -1, logfd = -1, r;
	pid_t pid;

	run = run_new(m, t);
	if (!run)
		return fail_start(m, t, "memory", -ENOMEM);

	manager_class_path(m, t->priority, cls, sizeof(cls));
	htm_pathf(cg, sizeof(cg), "%s/task-%llu", cls, (unsigned long long)t->id);
	r = htm_cgroup_mkdir(cg);
	if (r < 0)
		return fail_start(m, t, cg, r);
	free(t->cgroup);
	t->cgroup = strdup(cg);
	if (!t->cgroup) {
		r = -ENOMEM;
		goto fail_cgroup;
	}
	manager_apply_priority(m, cg, t->priority, false);

	r = htm_identity_from_uid(t->uid, t->gid, &who);
	if (r < 0)
		goto fail_cgroup;
	env = task_env(t, &who);
	if (!env) {
		r = -ENOMEM;
		goto fail_cgroup;
	}
	cgfd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0) {
		r = -errno;
		goto fail_cgroup;
	}
	{
		char ev[PATH_MAX];

		htm_pathf(ev, sizeof(ev), "%s/cgroup.events", cg);
		run->events_fd = open(ev, O_RDONLY | O_CLOEXEC);
		if (run->events_fd < 0) {
			r = -errno;
			goto fail_cgroup;
		}
	}
	r = monitor_track_task(m, t, cgfd);
	if (r < 0)
		goto fail_cgroup;
	egress_task_started(m, t);
	logfd = open_log(m, t);
	if (logfd < 0) {
		r = logfd;
		goto fail_cgroup;
	}
	spawn.argv = t->argv;
	spawn.envp = env;
	spawn.cwd = t->cwd;
	spawn.who = &who;
	spawn.cgroup_fd = cgfd;
	spawn.out_fd = logfd;
	r = htm_spawn(&spawn, &pid, &run->pidfd);
	if (r < 0)
		goto fail_cgroup;
	close(cgfd);
	close(logfd);
	env_free(env);

	t->pid = pid;
	manager_task_move(m, t, HTM_STATE_RUNNING, NULL, NULL);
	sqe = htm_loop_sqe(m->loop, &run->exit_src);
	if (sqe)
		io_uring_prep_poll_add(sqe, run->pidfd, POLLIN);
	if (t->timeout_ns)
		htm_timer_arm(&run->timeout, htm_now_mono() + t->timeout_ns);
	htm_log(LOG_INFO, "task %llu started: pid %d in %s as uid %u",
		(unsigned long long)t->id, pid, cg, (unsigned)t->uid);
	return 0;

fail_cgroup:
	monitor_untrack_task(m, t);
	if (cgfd >= 0)
		close(cgfd);
	if (logfd >= 0)
		close(logfd);
	env_free(env);
	run_close_fds(run);
	(void)htm_cgroup_rmdir(cg);
	return fail_start(m, t, "spawn", r);
}

int runner_adopt(struct htm_manager *m, struct htm_task *t)
{
	struct task_run *run = run_new(m, t);
	struct io_uring_sqe *sqe;
	char ev[PATH_MAX], in[PATH_MAX];
	uint64_t now_real = htm_now_real();
	int cgfd, r;

	if (!run)
		return -ENOMEM;
	cgfd = open(t->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0)
		goto fail;
	r = monitor_track_task(m, t, cgfd);
	close(cgfd);
	htm_pathf(ev, sizeof(ev), "%s/cgroup.events", t->cgroup);
	run->events_fd = open(ev, O_RDONLY | O_CLOEXEC);
	if (r < 0 || run->events_fd < 0)
		goto fail;
	manager_apply_priority(m, t->cgroup, t->priority, false);
	/* the main process, if it is still the one in this cgroup */
	if (t->pid > 0 && htm_cgroup_of_pid(t->pid, m->cg_mount, in, sizeof(in)) == 0 &&
	    strcmp(in, t->cgroup) == 0)
		run->pidfd = (int)syscall(SYS_pidfd_open, t->pid, 0);
	run->adopted = true;
	if (t->state == HTM_STATE_PREFLIGHT)
		manager_task_move(m, t, HTM_STATE_RUNNING,
				  "adopted after restart: its cgroup has processes", NULL);
	else
		persist_write(m, HTM_REC_DECISION, NULL, "adopted after restart",
			      "its cgroup still has processes", NULL);
	if (t->timeout_ns) {
		uint64_t end = t->started_at + t->timeout_ns;

		htm_timer_arm(&run->timeout, htm_now_mono() +
			      (end > now_real ? end - now_real : 0));
	}
	if (run->pidfd >= 0) {
		sqe = htm_loop_sqe(m->loop, &run->exit_src);
		if (sqe)
			io_uring_prep_poll_add(sqe, run->pidfd, POLLIN);
	} else {
		run_drain(run);
	}
	htm_log(LOG_NOTICE, "task %llu adopted: %s%s", (unsigned long long)t->id,
		t->cgroup, run->pidfd >= 0 ? "" : " (main process gone, watching the cgroup)");
	return 0;
fail:
	monitor_untrack_task(m, t);
	runner_release(t);
	return -errno ? -errno : -EIO;
}

/*
 * Escalation of a running task: a cgroup cannot change parents, so its
 * processes move to a new cgroup under the higher class. A process forking
 * during the move is caught by the next round. A task that made its own
 * sub-cgroups keeps its class (their processes cannot be moved as one).
 */
int runner_reclass(struct htm_manager *m, struct htm_task *t, enum htm_priority to)
{
	struct task_run *run = t->runtime;
	char cg[PATH_MAX], cls[PATH_MAX], ev[PATH_MAX], *path;
	bool populated = true;
	int cgfd, r = 0, n;

	if (!run || run->exited || !t->cgroup)
		return -EINVAL;
	manager_class_path(m, to, cls, sizeof(cls));
	htm_pathf(cg, sizeof(cg), "%s/task-%llu", cls, (unsigned long long)t->id);
	r = htm_cgroup_mkdir(cg);
	if (r < 0)
		return r;
	manager_apply_priority(m, cg, to, false);
	for (int round = 0; round < 50; round++) {
		n = htm_cgroup_move_procs(t->cgroup, cg);
		if (n <= 0) {
			r = n;
			break;
		}
	}
	if (r == 0 && (htm_cgroup_populated(t->cgroup, &populated) < 0 || populated))
		r = -EBUSY;	/* sub-cgroups still hold processes */
	if (r < 0) {
		/* put back whoever moved, and drop the new cgroup */
		while (htm_cgroup_move_procs(cg, t->cgroup) > 0)
			;
		(void)htm_cgroup_rmdir(cg);
		return r;
	}
	htm_loop_cancel(m->loop, &run->events_src);
	close(run->events_fd);
	run->events_fd = -1;
	monitor_untrack_task(m, t);
	(void)htm_cgroup_rmdir_tree(t->cgroup);
	path = strdup(cg);
	if (!path)
		return -ENOMEM;
	free(t->cgroup);
	t->cgroup = path;
	t->priority = to;
	cgfd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd >= 0) {
		(void)monitor_track_task(m, t, cgfd);
		close(cgfd);
	}
	htm_pathf(ev, sizeof(ev), "%s/cgroup.events", cg);
	run->events_fd = open(ev, O_RDONLY | O_CLOEXEC);
	egress_task_started(m, t);
	return 0;
}

/*
 * Stopping: every running task is killed and waited for (bounded), so no
 * process is left in a cgroup nobody governs. The loop is no longer
 * running; this blocks, briefly, on purpose.
 */
void runner_shutdown(struct htm_manager *m)
{
	struct htm_task *t;
	struct task_run *run;
	uint64_t give_up = htm_now_mono() + 5 * HTM_NSEC_PER_SEC;

	TAILQ_FOREACH(t, &m->tasks.all, table_link) {
		run = t->runtime;
		if (t->state != HTM_STATE_RUNNING || !run)
			continue;
		runner_kill(m, t, HTM_STATE_CANCELLED, "cancelled: htmd shut down");
		while (!run->exited && htm_now_mono() < give_up) {
			struct pollfd pfd = { .fd = run->pidfd, .events = POLLIN };

			if (poll(&pfd, 1, 100) > 0 &&
			    htm_reap(run->pidfd, &run->exit_code, &run->sig) == 0)
				run->exited = true;
		}
		for (bool populated = true; populated && htm_now_mono() < give_up;) {
			if (htm_cgroup_populated(t->cgroup, &populated) < 0 || !populated)
				break;
			usleep(10000);
		}
		run_finish(run);
	}
}
