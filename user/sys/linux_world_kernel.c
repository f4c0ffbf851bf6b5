// SPDX-License-Identifier: MIT
/* The Linux world's kernel readings: PSI and its triggers, the BPF sampler
 * and its ring buffer, egress buckets, delay accounting. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "sys/linux_world_impl.h"
#include "sys/pressure.h"

#define DELAYACCT_SYSCTL "/proc/sys/kernel/task_delayacct"

/* --- pressure ------------------------------------------------------------------- */

static int psi_read(struct htm_world *w, const char *cg, enum htm_resource r,
		    struct htm_psi *out)
{
	(void)w;
	return htm_psi_read(cg, r, out);
}

static int meminfo(struct htm_world *w, struct htm_meminfo *out)
{
	(void)w;
	return htm_meminfo_read(out);
}

struct htm_psi_watch {
	struct linux_world *lw;
	int fd;
	struct htm_loop_source src;
	htm_psi_fn fn;
	void *data;
	bool closed;
};

static int psi_arm(struct htm_psi_watch *pw)
{
	struct io_uring_sqe *sqe = htm_loop_sqe(pw->lw->loop, &pw->src);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, pw->fd, POLLPRI);
	return 0;
}

static void psi_free(struct htm_psi_watch *pw)
{
	close(pw->fd);
	free(pw);
}

static void psi_done(struct htm_loop_source *src, int res, uint32_t fl)
{
	struct htm_psi_watch *pw = (struct htm_psi_watch *)((char *)src -
		offsetof(struct htm_psi_watch, src));

	(void)fl;
	if (pw->closed) {
		if (!pw->src.inflight)
			psi_free(pw);
		return;
	}
	if (res < 0 || (res & (POLLERR | POLLHUP | POLLNVAL))) {
		pw->fn(pw->data, res < 0 ? res : -EPIPE);
		return;
	}
	pw->fn(pw->data, 0);
	(void)psi_arm(pw);
}

static int psi_watch(struct htm_world *w, enum htm_resource r, const char *spec,
		     htm_psi_fn fn, void *data, struct htm_psi_watch **out)
{
	struct htm_psi_watch *pw = calloc(1, sizeof(*pw));
	int fd;

	if (!pw)
		return -ENOMEM;
	fd = htm_psi_trigger_open(r, spec);
	if (fd < 0) {
		free(pw);
		return fd;
	}
	pw->lw = LW(w);
	pw->fd = fd;
	pw->fn = fn;
	pw->data = data;
	pw->src.fn = psi_done;
	if (psi_arm(pw) < 0) {
		psi_free(pw);
		return -EBUSY;
	}
	*out = pw;
	return 0;
}

static void psi_unwatch(struct htm_psi_watch *pw)
{
	pw->closed = true;
	if (pw->src.inflight)
		htm_loop_cancel(pw->lw->loop, &pw->src);
	else
		psi_free(pw);
}

/* --- the sampler ----------------------------------------------------------------- */

static void on_sampler_event(void *ctx, const struct htm_event *e)
{
	struct linux_world *lw = ctx;

	if (lw->w.hooks.kernel_event)
		lw->w.hooks.kernel_event(lw->w.hooks.data, e);
}

static int ring_wait(struct linux_world *lw)
{
	struct io_uring_sqe *sqe = htm_loop_sqe(lw->loop, &lw->ring_src);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_add(sqe, htm_sampler_events_fd(lw->sampler), POLLIN);
	return 0;
}

static void ring_ready(struct htm_loop_source *src, int res, uint32_t fl)
{
	struct linux_world *lw = (struct linux_world *)((char *)src -
		offsetof(struct linux_world, ring_src));

	(void)fl;
	if (!lw->sampler)
		return;
	if (res < 0 && res != -EINTR) {
		htm_log(LOG_ERR, "sampler ring buffer poll: %s; kernel events stop",
			strerror(-res));
		return;
	}
	htm_sampler_consume(lw->sampler);
	ring_wait(lw);
}

static int sampler_open(struct htm_world *w, const char *pin_dir, int wait_clock,
			char *why, size_t len)
{
	struct linux_world *lw = LW(w);
	struct htm_sampler_opts o = {
		.pin_dir = pin_dir,
		.wait_clock = wait_clock,
		.on_event = on_sampler_event,
		.ctx = lw,
	};
	int r = htm_sampler_new(&lw->sampler, &o, why, len);

	if (r < 0) {
		lw->sampler = NULL;
		return r;
	}
	lw->ring_src.fn = ring_ready;
	return ring_wait(lw);
}

static const struct htm_sampler_info *sampler_info(struct htm_world *w)
{
	return LW(w)->sampler ? htm_sampler_info(LW(w)->sampler) : NULL;
}

static int sampler_track(struct htm_world *w, uint64_t cgid, uint64_t budget_ns)
{
	return LW(w)->sampler ? htm_sampler_track(LW(w)->sampler, cgid, budget_ns)
			      : -ENODEV;
}

static int sampler_untrack(struct htm_world *w, uint64_t cgid)
{
	return LW(w)->sampler ? htm_sampler_untrack(LW(w)->sampler, cgid) : -ENODEV;
}

static int sampler_read(struct htm_world *w,
			void (*cb)(void *, uint64_t, const struct htm_cg_stats *),
			void *ctx, struct htm_cg_stats *all)
{
	return LW(w)->sampler ? htm_sampler_read(LW(w)->sampler, cb, ctx, all) : -ENODEV;
}

static int sampler_read_one(struct htm_world *w, uint64_t cgid,
			    struct htm_cg_stats *out)
{
	return LW(w)->sampler ? htm_sampler_read_one(LW(w)->sampler, cgid, out)
			      : -ENODEV;
}

static void sampler_close(struct htm_world *w)
{
	struct linux_world *lw = LW(w);

	if (lw->ring_src.inflight)
		htm_loop_cancel(lw->loop, &lw->ring_src);
	htm_sampler_free(lw->sampler);
	lw->sampler = NULL;
}

/* --- egress ------------------------------------------------------------------------- */

static int egress_open(struct htm_world *w, const char *pin_dir, char *why, size_t len)
{
	int r = htm_egress_new(&LW(w)->egress, pin_dir, why, len);

	if (r < 0)
		LW(w)->egress = NULL;
	return r;
}

static int egress_attach(struct htm_world *w, const char *cg)
{
	return LW(w)->egress ? htm_egress_attach(LW(w)->egress, cg) : -ENODEV;
}

static int egress_set(struct htm_world *w, uint64_t cgid, uint64_t bps)
{
	return LW(w)->egress ? htm_egress_set(LW(w)->egress, cgid, bps) : -ENODEV;
}

static int egress_read(struct htm_world *w, uint64_t cgid,
		       struct htm_egress_bucket *out)
{
	return LW(w)->egress ? htm_egress_read(LW(w)->egress, cgid, out) : -ENODEV;
}

static void egress_close(struct htm_world *w)
{
	htm_egress_free(LW(w)->egress);
	LW(w)->egress = NULL;
}

/* --- delay accounting --------------------------------------------------------------- */

static void delayacct_enable(struct linux_world *lw)
{
	char buf[8] = "";
	int fd = open(DELAYACCT_SYSCTL, O_RDWR | O_CLOEXEC);

	lw->delayacct_restore = -1;
	if (fd < 0)
		return;	/* before 5.14 it is a boot parameter only */
	if (read(fd, buf, sizeof(buf) - 1) > 0 && buf[0] == '0') {
		if (pwrite(fd, "1", 1, 0) == 1) {
			lw->delayacct_restore = 0;
			htm_log(LOG_INFO, "enabled kernel.task_delayacct (restored on exit)");
		} else {
			htm_log(LOG_WARNING, "cannot enable kernel.task_delayacct: %s, ignoring",
				strerror(errno));
		}
	}
	close(fd);
}

static int delays_open(struct htm_world *w, bool enable, char *why, size_t len)
{
	struct linux_world *lw = LW(w);
	int r;

	if (enable)
		delayacct_enable(lw);
	r = htm_taskstats_open(&lw->taskstats);
	if (r < 0) {
		lw->taskstats = NULL;
		snprintf(why, len, "taskstats netlink family: %s", strerror(-r));
	}
	return r;
}

static int delays(struct htm_world *w, int p, struct htm_delays *out)
{
	return LW(w)->taskstats ? htm_taskstats_query(LW(w)->taskstats, p, out) : -ENODEV;
}

static void delays_close(struct htm_world *w)
{
	struct linux_world *lw = LW(w);
	int fd;

	htm_taskstats_close(lw->taskstats);
	lw->taskstats = NULL;
	if (lw->delayacct_restore == 0) {
		fd = open(DELAYACCT_SYSCTL, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			(void)!write(fd, "0", 1);
			close(fd);
		}
	}
	lw->delayacct_restore = -1;
}

void linux_world_kernel_ops(struct htm_world_ops *o)
{
	o->psi_read = psi_read;
	o->meminfo = meminfo;
	o->psi_watch = psi_watch;
	o->psi_unwatch = psi_unwatch;
	o->sampler_open = sampler_open;
	o->sampler_info = sampler_info;
	o->sampler_track = sampler_track;
	o->sampler_untrack = sampler_untrack;
	o->sampler_read = sampler_read;
	o->sampler_read_one = sampler_read_one;
	o->sampler_close = sampler_close;
	o->egress_open = egress_open;
	o->egress_attach = egress_attach;
	o->egress_set = egress_set;
	o->egress_read = egress_read;
	o->egress_close = egress_close;
	o->delays_open = delays_open;
	o->delays = delays;
	o->delays_close = delays_close;
}
