// SPDX-License-Identifier: MIT
/*
 * The Linux world's cgroups and processes: cgroupfs for the files,
 * clone3(CLONE_INTO_CGROUP) to start a task inside its cgroup before its
 * first instruction, pidfds for exits, cgroup.events (POLLPRI) for
 * emptiness, all polled on the ring. An object the engine closes while a
 * poll of it is in flight is freed when that poll's completion arrives.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/pathfmt.h"
#include "sys/cgroupfs.h"
#include "sys/exec.h"
#include "sys/linux_world_impl.h"

/* --- cgroups ---------------------------------------------------------------- */

static int cg_mount(struct htm_world *w, char *buf, size_t len)
{
	struct linux_world *lw = LW(w);
	int r = 0;

	if (!lw->cg_mount[0])
		r = htm_cgroup2_mount(lw->cg_mount, sizeof(lw->cg_mount));
	if (r < 0)
		return r;
	return htm_pathf(buf, len, "%s", lw->cg_mount);
}

static int cg_of(struct htm_world *w, int pid, char *buf, size_t len)
{
	char mount[PATH_MAX];
	int r = cg_mount(w, mount, sizeof(mount));

	return r < 0 ? r : htm_cgroup_of_pid(pid, mount, buf, len);
}

static int cg_resolve(struct htm_world *w, const char *path, char *buf, size_t len)
{
	char real[PATH_MAX];
	struct stat st;

	(void)w;
	if (!realpath(path, real) || stat(real, &st) < 0 || !S_ISDIR(st.st_mode))
		return -ENOENT;
	return htm_pathf(buf, len, "%s", real);
}

static bool cg_is_cgroup(struct htm_world *w, const char *path)
{
	char file[PATH_MAX + 16];

	(void)w;
	return htm_pathf(file, sizeof(file), "%s/cgroup.procs", path) == 0 &&
	       access(file, F_OK) == 0;
}

static int cg_mkdir(struct htm_world *w, const char *cg)
{
	(void)w;
	return htm_cgroup_mkdir(cg);
}

static int cg_rmdir(struct htm_world *w, const char *cg)
{
	(void)w;
	return htm_cgroup_rmdir(cg);
}

static int cg_rmdir_tree(struct htm_world *w, const char *cg)
{
	(void)w;
	return htm_cgroup_rmdir_tree(cg);
}

static int cg_read(struct htm_world *w, const char *cg, const char *file,
		   char *buf, size_t len)
{
	(void)w;
	return htm_cgroup_read(cg, file, buf, len);
}

static int cg_write(struct htm_world *w, const char *cg, const char *file,
		    const char *value)
{
	(void)w;
	return htm_cgroup_write(cg, file, value);
}

static bool cg_has_file(struct htm_world *w, const char *cg, const char *file)
{
	(void)w;
	return htm_cgroup_has_file(cg, file);
}

static int cg_enable(struct htm_world *w, const char *cg, unsigned want,
		     unsigned *enabled)
{
	(void)w;
	return htm_cgroup_enable(cg, want, enabled);
}

static int cg_populated(struct htm_world *w, const char *cg, bool *populated)
{
	(void)w;
	return htm_cgroup_populated(cg, populated);
}

/* On cgroup2 a cgroup directory's inode number is its kernfs id, the id
 * bpf_get_current_cgroup_id() and cgroup->kn->id report. */
static int cg_id(struct htm_world *w, const char *cg, uint64_t *id)
{
	struct stat st;

	(void)w;
	if (stat(cg, &st) < 0)
		return -errno;
	*id = st.st_ino;
	return 0;
}

static int cg_kill(struct htm_world *w, const char *cg)
{
	(void)w;
	return htm_cgroup_kill(cg);
}

static int cg_move_procs(struct htm_world *w, const char *from, const char *to)
{
	(void)w;
	return htm_cgroup_move_procs(from, to);
}

/* Stopping: the loop does not run, this blocks, briefly, on purpose. */
static int cg_wait_empty(struct htm_world *w, const char *cg, uint64_t deadline)
{
	bool populated = true;

	while (w->ops->now_mono(w) < deadline) {
		if (htm_cgroup_populated(cg, &populated) < 0 || !populated)
			return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

struct htm_cg_watch {
	struct linux_world *lw;
	int fd;
	struct htm_loop_source src;
	htm_world_fn fn;
	void *data;
	bool closed, in_callback;
};

static void watch_free(struct htm_cg_watch *wt)
{
	close(wt->fd);
	free(wt);
}

static int watch_arm(struct htm_cg_watch *wt)
{
	struct io_uring_sqe *sqe = htm_loop_sqe(wt->lw->loop, &wt->src);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, wt->fd, POLLPRI);
	return 0;
}

static void watch_done(struct htm_loop_source *src, int res, uint32_t fl)
{
	struct htm_cg_watch *wt = (struct htm_cg_watch *)((char *)src -
		offsetof(struct htm_cg_watch, src));

	(void)fl;
	if (wt->closed) {
		if (!wt->src.inflight)
			watch_free(wt);
		return;
	}
	(void)res;
	/* reading takes the event: kernfs polls ready again only on the next */
	{
		char buf[256];

		(void)!pread(wt->fd, buf, sizeof(buf), 0);
	}
	wt->in_callback = true;
	wt->fn(wt->data);
	wt->in_callback = false;
	if (wt->closed)
		watch_free(wt);
	else
		(void)watch_arm(wt);
}

static int cg_watch(struct htm_world *w, const char *cg, htm_world_fn fn,
		    void *data, struct htm_cg_watch **out)
{
	struct htm_cg_watch *wt = calloc(1, sizeof(*wt));
	char ev[PATH_MAX];
	int r;

	if (!wt)
		return -ENOMEM;
	wt->lw = LW(w);
	wt->fn = fn;
	wt->data = data;
	wt->src.fn = watch_done;
	htm_pathf(ev, sizeof(ev), "%s/cgroup.events", cg);
	wt->fd = open(ev, O_RDONLY | O_CLOEXEC);
	if (wt->fd < 0) {
		r = -errno;
		free(wt);
		return r;
	}
	r = watch_arm(wt);
	if (r < 0) {
		watch_free(wt);
		return r;
	}
	*out = wt;
	return 0;
}

/* cgroup.events read through our fd, which also re-arms kernfs_notify. */
static int cg_watch_populated(struct htm_cg_watch *wt, bool *populated)
{
	char buf[256], *p;
	ssize_t n = pread(wt->fd, buf, sizeof(buf) - 1, 0);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	p = strstr(buf, "populated ");
	if (!p)
		return -EIO;
	*populated = p[10] == '1';
	return 0;
}

static void cg_watch_close(struct htm_cg_watch *wt)
{
	if (!wt)
		return;
	wt->closed = true;
	if (wt->in_callback)
		return;		/* freed when its callback returns */
	if (wt->src.inflight)
		htm_loop_cancel(wt->lw->loop, &wt->src);
	else
		watch_free(wt);
}

/* --- processes ----------------------------------------------------------------- */

struct htm_proc {
	struct linux_world *lw;
	int pidfd;
	pid_t pid;
	bool adopted, closed;
	struct htm_loop_source src;
	htm_world_fn exited;
	void *data;
};

static void proc_free(struct htm_proc *p)
{
	if (p->pidfd >= 0)
		close(p->pidfd);
	free(p);
}

static int proc_poll(struct htm_proc *p)
{
	struct io_uring_sqe *sqe = htm_loop_sqe(p->lw->loop, &p->src);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, p->pidfd, POLLIN);
	return 0;
}

static void proc_done(struct htm_loop_source *src, int res, uint32_t fl)
{
	struct htm_proc *p = (struct htm_proc *)((char *)src -
		offsetof(struct htm_proc, src));
	siginfo_t info;

	(void)fl;
	(void)res;
	if (p->closed) {
		if (!p->src.inflight)
			proc_free(p);
		return;
	}
	/* a child: only a real exit counts (a spurious wakeup polls again) */
	memset(&info, 0, sizeof(info));
	if (!p->adopted &&
	    waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &info,
		   WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0) {
		(void)proc_poll(p);
		return;
	}
	p->exited(p->data);
}

static char **task_env(const struct htm_spawn_req *req, const struct htm_identity *who)
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
	    asprintf(&env[n++], "HTM_TASK_ID=%llu", (unsigned long long)req->task_id) < 0 ||
	    asprintf(&env[n++], "HTM_PRIORITY=%s", req->priority) < 0) {
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

static int open_log(const char *path, uint32_t uid, uint32_t gid)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC |
		      O_NOFOLLOW, 0640);

	if (fd < 0)
		return -errno;
	/* the submitter may read its own output */
	if (fchown(fd, uid, gid) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

static int spawn(struct htm_world *w, const struct htm_spawn_req *req,
		 htm_world_fn exited, void *data, struct htm_proc **out, int *pid)
{
	struct htm_identity who;
	struct htm_spawn s = { 0 };
	struct htm_proc *p = calloc(1, sizeof(*p));
	char **env = NULL;
	int cgfd = -1, logfd = -1, r;
	pid_t child;

	if (!p)
		return -ENOMEM;
	p->lw = LW(w);
	p->pidfd = -1;
	p->exited = exited;
	p->data = data;
	p->src.fn = proc_done;
	r = htm_identity_from_uid(req->uid, req->gid, &who);
	if (r < 0)
		goto out;
	env = task_env(req, &who);
	if (!env) {
		r = -ENOMEM;
		goto out;
	}
	cgfd = open(req->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0) {
		r = -errno;
		goto out;
	}
	logfd = open_log(req->log_path, req->uid, req->gid);
	if (logfd < 0) {
		r = logfd;
		goto out;
	}
	s.argv = req->argv;
	s.envp = env;
	s.cwd = req->cwd;
	s.who = &who;
	s.cgroup_fd = cgfd;
	s.out_fd = logfd;
	r = htm_spawn(&s, &child, &p->pidfd);
	if (r < 0)
		goto out;
	p->pid = child;
	(void)proc_poll(p);
	*pid = child;
	*out = p;
	p = NULL;
out:
	if (cgfd >= 0)
		close(cgfd);
	if (logfd >= 0)
		close(logfd);
	env_free(env);
	free(p);
	return r;
}

static int adopt(struct htm_world *w, int pid, const char *cg, htm_world_fn exited,
		 void *data, struct htm_proc **out)
{
	struct htm_proc *p;
	char in[PATH_MAX];
	int fd;

	if (cg_of(w, pid, in, sizeof(in)) < 0 || strcmp(in, cg) != 0)
		return -ESRCH;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return -errno;
	p = calloc(1, sizeof(*p));
	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	p->lw = LW(w);
	p->pidfd = fd;
	p->pid = pid;
	p->adopted = true;
	p->exited = exited;
	p->data = data;
	p->src.fn = proc_done;
	(void)proc_poll(p);
	*out = p;
	return 0;
}

static int reap(struct htm_proc *p, int *exit_code, int *sig)
{
	if (p->adopted)
		return -ECHILD;
	return htm_reap(p->pidfd, exit_code, sig);
}

static int signal_proc(struct htm_proc *p, int sig)
{
	return syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

static int wait_proc(struct htm_proc *p, uint64_t deadline, int *exit_code, int *sig)
{
	struct htm_world *w = &p->lw->w;

	while (w->ops->now_mono(w) < deadline) {
		struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		/* one we did not start is gone; how it ended only its parent knew */
		if (p->adopted || htm_reap(p->pidfd, exit_code, sig) == 0)
			return 0;
	}
	return -ETIMEDOUT;
}

static void proc_close(struct htm_proc *p)
{
	if (!p)
		return;
	p->closed = true;
	if (p->src.inflight)
		htm_loop_cancel(p->lw->loop, &p->src);
	else
		proc_free(p);
}

void linux_world_proc_ops(struct htm_world_ops *o)
{
	o->cg_mount = cg_mount;
	o->cg_of = cg_of;
	o->cg_resolve = cg_resolve;
	o->cg_is_cgroup = cg_is_cgroup;
	o->cg_mkdir = cg_mkdir;
	o->cg_rmdir = cg_rmdir;
	o->cg_rmdir_tree = cg_rmdir_tree;
	o->cg_read = cg_read;
	o->cg_write = cg_write;
	o->cg_has_file = cg_has_file;
	o->cg_enable = cg_enable;
	o->cg_populated = cg_populated;
	o->cg_id = cg_id;
	o->cg_kill = cg_kill;
	o->cg_move_procs = cg_move_procs;
	o->cg_wait_empty = cg_wait_empty;
	o->cg_watch = cg_watch;
	o->cg_watch_populated = cg_watch_populated;
	o->cg_watch_close = cg_watch_close;
	o->spawn = spawn;
	o->adopt = adopt;
	o->reap = reap;
	o->signal_proc = signal_proc;
	o->wait_proc = wait_proc;
	o->proc_close = proc_close;
}
