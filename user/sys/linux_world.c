// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "core/log.h"
#include "core/pathfmt.h"
#include "sys/exec.h"
#include "sys/pressure.h"
#include "sys/linux_world_impl.h"

/* --- clock and loop ----------------------------------------------------------- */

static uint64_t now_mono(struct htm_world *w)
{
	(void)w;
	return htm_now_mono();
}

static uint64_t now_real(struct htm_world *w)
{
	(void)w;
	return htm_now_real();
}

static void wake_fired(struct htm_loop_timer *t)
{
	/* nothing to do here: the turn after this batch runs the timers */
	(void)t;
}

static void wake_at(struct htm_world *w, uint64_t mono)
{
	struct linux_world *lw = LW(w);

	if (mono)
		htm_loop_timer_arm(&lw->wake, mono);
	else
		htm_loop_timer_disarm(&lw->wake);
}

static void stop(struct htm_world *w, int code)
{
	htm_loop_stop(LW(w)->loop, code);
}

static void flush(struct htm_world *w, bool (*done)(void *), void *data,
		  uint64_t deadline)
{
	htm_loop_drain(LW(w)->loop, done, data, deadline);
}

static void turn(void *data)
{
	struct htm_world *w = data;

	if (w->hooks.turn)
		w->hooks.turn(w->hooks.data);
}

static int signal_read_next(struct linux_world *lw)
{
	struct io_uring_sqe *sqe = htm_loop_sqe(lw->loop, &lw->sig_src);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_read(sqe, lw->sigfd, &lw->siginfo, sizeof(lw->siginfo), 0);
	return 0;
}

static void signal_received(struct htm_loop_source *src, int res, uint32_t fl)
{
	struct linux_world *lw = (struct linux_world *)((char *)src -
		offsetof(struct linux_world, sig_src));

	(void)fl;
	if (res == (int)sizeof(lw->siginfo)) {
		if (lw->w.hooks.signal)
			lw->w.hooks.signal(lw->w.hooks.data, (int)lw->siginfo.ssi_signo);
	} else if (res < 0 && res != -EINTR) {
		htm_loop_stop(lw->loop, res);
		return;
	}
	signal_read_next(lw);
}

static int signals(struct htm_world *w)
{
	struct linux_world *lw = LW(w);
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	lw->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (lw->sigfd < 0)
		return -errno;
	lw->sig_src.fn = signal_received;
	return signal_read_next(lw);
}

/* --- host --------------------------------------------------------------------- */

static unsigned ncpus(struct htm_world *w)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	(void)w;
	return n > 0 ? (unsigned)n : 1;
}

static const char *host(struct htm_world *w)
{
	static struct utsname u;

	(void)w;
	if (!u.nodename[0] && uname(&u) < 0)
		snprintf(u.nodename, sizeof(u.nodename), "unknown");
	return u.nodename;
}

static int pid(struct htm_world *w)
{
	(void)w;
	return getpid();
}

static uint32_t uid(struct htm_world *w)
{
	(void)w;
	return getuid();
}

static int user_name(struct htm_world *w, uint32_t u, char *buf, size_t len)
{
	struct htm_identity id;
	int r = htm_identity_from_uid(u, u, &id);

	(void)w;
	return r < 0 ? r : htm_pathf(buf, len, "%s", id.name);
}

static int user_lookup(struct htm_world *w, const char *name, uint32_t *u,
		       uint32_t *g)
{
	struct htm_identity id;
	int r = htm_identity_from_name(name, &id);

	(void)w;
	if (r < 0)
		return r;
	*u = id.uid;
	*g = id.gid;
	return 0;
}

static int group_lookup(struct htm_world *w, const char *name, uint32_t *gid)
{
	struct group grp, *res = NULL;
	char buf[4096];

	(void)w;
	if (getgrnam_r(name, &grp, buf, sizeof(buf), &res) != 0 || !res)
		return -ENOENT;
	*gid = res->gr_gid;
	return 0;
}

/* --- files ---------------------------------------------------------------------- */

static int read_file(struct htm_world *w, const char *path, size_t max,
		     char **text, size_t *len)
{
	FILE *f = fopen(path, "re");
	size_t cap = 0;
	char *buf = NULL;
	ssize_t n;

	(void)w;
	if (!f)
		return -errno;
	n = getdelim(&buf, &cap, '\0', f);
	fclose(f);
	if (n < 0) {
		free(buf);
		return -EIO;
	}
	if ((size_t)n > max) {
		free(buf);
		return -EFBIG;
	}
	*text = buf;
	*len = (size_t)n;
	return 0;
}

static int write_file(struct htm_world *w, const char *path, const char *text)
{
	char dir[PATH_MAX], *slash;
	FILE *f;
	int r = 0;

	(void)w;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0750) < 0 && errno != EEXIST)
			return -errno;
	}
	f = fopen(path, "we");
	if (!f)
		return -errno;
	if (fputs(text, f) < 0)
		r = -EIO;
	if (fclose(f) != 0 && !r)
		r = -errno;
	return r;
}

static int list_dir(struct htm_world *w, const char *dir,
		    int (*fn)(void *ctx, const char *name), void *ctx)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int r = 0;

	(void)w;
	if (!d)
		return -errno;
	while (r == 0 && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			r = fn(ctx, de->d_name);
	closedir(d);
	return r;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX], *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Task ids keep rising across restarts so logs are never overwritten. */
static uint64_t next_task_id(const char *logs_dir)
{
	unsigned long long id, max = 0;
	struct dirent *de;
	DIR *d = opendir(logs_dir);
	char tail[8];

	if (!d)
		return 1;
	while ((de = readdir(d)))
		if (sscanf(de->d_name, "%llu.%7s", &id, tail) == 2 &&
		    strcmp(tail, "log") == 0 && id > max)
			max = id;
	closedir(d);
	return max + 1;
}

static int state_open(struct htm_world *w, const char *dir, const char *logs_dir,
		      uint64_t *next)
{
	struct linux_world *lw = LW(w);
	char lock[PATH_MAX];
	int r;

	r = mkdir_p(dir, 0755);
	if (r < 0)
		return r;
	htm_pathf(lock, sizeof(lock), "%s/htmd.lock", dir);
	lw->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lw->lock_fd < 0 || flock(lw->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return -errno;
	r = mkdir_p(logs_dir, 0755);
	if (r < 0)
		return r;
	*next = next_task_id(logs_dir);
	return 0;
}

/* --- the journal ---------------------------------------------------------------------- */

static void on_durable(void *ctx, uint64_t seq)
{
	struct linux_world *lw = ctx;

	if (lw->w.hooks.durable)
		lw->w.hooks.durable(lw->w.hooks.data, seq);
}

static int journal_scan(struct htm_world *w, const char *dir, htm_rec_visit fn,
			void *ctx, struct htm_journal_scan *s)
{
	(void)w;
	return htm_journal_scan(dir, fn, ctx, s);
}

static int journal_repair(struct htm_world *w, const char *dir,
			  const struct htm_journal_scan *s, const char *body,
			  char *summary, size_t len)
{
	(void)w;
	return htm_journal_repair(dir, s, body, summary, len);
}

static int journal_open(struct htm_world *w, const char *dir, uint64_t segment_bytes,
			const struct htm_journal_scan *s)
{
	struct linux_world *lw = LW(w);
	struct htm_journal_opts o = {
		.dir = dir,
		.segment_bytes = segment_bytes,
		.loop = lw->loop,
		.worker = lw->worker,
		.durable = on_durable,
		.ctx = lw,
	};

	return htm_journal_open(&lw->journal, &o, s);
}

static int journal_append(struct htm_world *w, uint16_t type, uint64_t ts_ns,
			  const char *body, size_t len, uint64_t *seq)
{
	return LW(w)->journal ? htm_journal_append(LW(w)->journal, type, ts_ns, body,
						   len, seq) : -EBADF;
}

static void journal_commit(struct htm_world *w)
{
	if (LW(w)->journal)
		htm_journal_commit(LW(w)->journal);
}

static uint64_t journal_last(struct htm_world *w)
{
	return LW(w)->journal ? htm_journal_last(LW(w)->journal) : 0;
}

static uint64_t journal_durable(struct htm_world *w)
{
	return LW(w)->journal ? htm_journal_durable(LW(w)->journal) : 0;
}

static void journal_stats(struct htm_world *w, uint64_t *seg, uint64_t *sealed,
			  uint64_t *commits, uint64_t *errors)
{
	htm_journal_stats(LW(w)->journal, seg, sealed, commits, errors);
}

static void journal_close(struct htm_world *w)
{
	struct linux_world *lw = LW(w);

	htm_journal_close(lw->journal);
	lw->journal = NULL;
	/* sealing and queries end here: nothing calls back after this */
	htm_worker_free(lw->worker);
	lw->worker = NULL;
}

struct query {
	char dir[PATH_MAX];
	htm_rec_visit fn;
	void *ctx;
	struct htm_journal_scan *s;
	int *err;
	htm_world_fn done;
};

static void query_work(void *arg)
{
	struct query *q = arg;

	*q->err = htm_journal_scan(q->dir, q->fn, q->ctx, q->s);
}

static void query_done(void *arg)
{
	struct query *q = arg;

	q->done(q->ctx);
	free(q);
}

static int journal_query(struct htm_world *w, const char *dir, htm_rec_visit fn,
			 void *ctx, struct htm_journal_scan *s, int *err,
			 htm_world_fn done)
{
	struct query *q = calloc(1, sizeof(*q));

	if (!q || !LW(w)->worker) {
		free(q);
		return -ENOMEM;
	}
	snprintf(q->dir, sizeof(q->dir), "%s", dir);
	q->fn = fn;
	q->ctx = ctx;
	q->s = s;
	q->err = err;
	q->done = done;
	if (htm_worker_submit(LW(w)->worker, query_work, query_done, q) < 0) {
		free(q);
		return -ENOMEM;
	}
	return 0;
}

/* --- the socket ------------------------------------------------------------------------ */

static void api_request(void *data, struct htm_conn *c, const char *line, size_t len)
{
	struct linux_world *lw = data;

	lw->w.hooks.request(lw->w.hooks.data, c, line, len);
}

static void api_closed(void *data, struct htm_conn *c)
{
	struct linux_world *lw = data;

	if (lw->w.hooks.closed)
		lw->w.hooks.closed(lw->w.hooks.data, c);
}

static int listen_on(struct htm_world *w, const char *path)
{
	static const struct htm_api_ops ops = {
		.request = api_request,
		.closed = api_closed,
	};

	return htm_api_new(&LW(w)->api, LW(w)->loop, path, &ops, LW(w));
}

static int reply(struct htm_conn *c, cJSON *response)
{
	return htm_conn_reply(c, response);
}

static const struct ucred *cred(struct htm_conn *c)
{
	return htm_conn_cred(c);
}

static int conn_groups(struct htm_conn *c, gid_t *groups, int max)
{
	return htm_conn_groups(c, groups, max);
}

static unsigned connections(struct htm_world *w)
{
	return LW(w)->api ? htm_api_connections(LW(w)->api) : 0;
}

static bool flushed(struct htm_world *w)
{
	return !LW(w)->api || htm_api_flushed(LW(w)->api);
}

static void unlisten(struct htm_world *w)
{
	htm_api_free(LW(w)->api);
	LW(w)->api = NULL;
}

/* --- the world ---------------------------------------------------------------------- */

static struct htm_world_ops linux_ops = {
	.now_mono = now_mono,
	.now_real = now_real,
	.wake_at = wake_at,
	.stop = stop,
	.flush = flush,
	.signals = signals,
	.ncpus = ncpus,
	.host = host,
	.pid = pid,
	.uid = uid,
	.user_name = user_name,
	.user_lookup = user_lookup,
	.group_lookup = group_lookup,
	.read_file = read_file,
	.write_file = write_file,
	.list_dir = list_dir,
	.state_open = state_open,
	.journal_scan = journal_scan,
	.journal_repair = journal_repair,
	.journal_open = journal_open,
	.journal_append = journal_append,
	.journal_commit = journal_commit,
	.journal_last = journal_last,
	.journal_durable = journal_durable,
	.journal_stats = journal_stats,
	.journal_close = journal_close,
	.journal_query = journal_query,
	.listen = listen_on,
	.reply = reply,
	.cred = cred,
	.conn_groups = conn_groups,
	.connections = connections,
	.flushed = flushed,
	.unlisten = unlisten,
};

int htm_linux_world_new(struct htm_world **out)
{
	struct linux_world *lw = calloc(1, sizeof(*lw));
	int r;

	if (!lw)
		return -ENOMEM;
	if (!linux_ops.cg_mount) {
		linux_world_proc_ops(&linux_ops);
		linux_world_kernel_ops(&linux_ops);
	}
	lw->w.ops = &linux_ops;
	lw->sigfd = lw->lock_fd = -1;
	lw->delayacct_restore = -1;
	r = htm_loop_new(&lw->loop, 256);
	if (r < 0) {
		htm_log(LOG_ERR, "io_uring: %s", strerror(-r));
		free(lw);
		return r;
	}
	r = htm_worker_new(&lw->worker, lw->loop);
	if (r < 0) {
		htm_log(LOG_ERR, "worker thread: %s", strerror(-r));
		htm_loop_free(lw->loop);
		free(lw);
		return r;
	}
	htm_loop_timer_init(&lw->wake, lw->loop, wake_fired);
	htm_loop_set_tick(lw->loop, turn, &lw->w);
	*out = &lw->w;
	return 0;
}

int htm_linux_world_run(struct htm_world *w)
{
	return htm_loop_run(LW(w)->loop);
}

void htm_linux_world_free(struct htm_world *w)
{
	struct linux_world *lw = LW(w);

	if (!w)
		return;
	/* the ring goes first: no completion can arrive for what follows */
	htm_loop_free(lw->loop);
	htm_worker_free(lw->worker);
	htm_api_free(lw->api);
	htm_journal_close(lw->journal);
	htm_egress_free(lw->egress);
	htm_sampler_free(lw->sampler);
	htm_taskstats_close(lw->taskstats);
	if (lw->sigfd >= 0)
		close(lw->sigfd);
	if (lw->lock_fd >= 0)
		close(lw->lock_fd);
	free(lw);
}
