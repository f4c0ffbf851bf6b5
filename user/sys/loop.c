// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "loop.h"

struct htm_loop {
	struct io_uring ring;
	bool stopped;
	int code;
	void (*tick)(void *data);
	void *tick_data;
};

int htm_loop_new(struct htm_loop **out, unsigned entries)
{
	struct htm_loop *l = calloc(1, sizeof(*l));
	int r;

	if (!l)
		return -ENOMEM;
	r = io_uring_queue_init(entries, &l->ring, 0);
	if (r < 0) {
		free(l);
		return r;
	}
	*out = l;
	return 0;
}

void htm_loop_free(struct htm_loop *l)
{
	if (!l)
		return;
	io_uring_queue_exit(&l->ring);
	free(l);
}

struct io_uring_sqe *htm_loop_sqe(struct htm_loop *l,
				  struct htm_loop_source *src)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);

	if (!sqe) {
		io_uring_submit(&l->ring);
		sqe = io_uring_get_sqe(&l->ring);
		if (!sqe)
			return NULL;
	}
	io_uring_sqe_set_data(sqe, src);
	if (src)
		src->inflight++;
	return sqe;
}

int htm_loop_reserve(struct htm_loop *l, unsigned n)
{
	if (io_uring_sq_space_left(&l->ring) >= n)
		return 0;
	io_uring_submit(&l->ring);
	return io_uring_sq_space_left(&l->ring) >= n ? 0 : -EBUSY;
}

int htm_loop_cancel(struct htm_loop *l, struct htm_loop_source *src)
{
	struct io_uring_sqe *sqe;

	if (!src->inflight)
		return 0;
	sqe = htm_loop_sqe(l, NULL);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_cancel(sqe, src, IORING_ASYNC_CANCEL_ALL);
	return 0;
}

void htm_loop_set_tick(struct htm_loop *l, void (*fn)(void *), void *data)
{
	l->tick = fn;
	l->tick_data = data;
}

void htm_loop_stop(struct htm_loop *l, int code)
{
	l->stopped = true;
	l->code = code;
}

/* Hand every ready completion to its source; stop early once stopped
 * unless draining. */
static void loop_dispatch(struct htm_loop *l, bool draining)
{
	struct io_uring_cqe *cqe;

	while ((draining || !l->stopped) && io_uring_peek_cqe(&l->ring, &cqe) == 0) {
		struct htm_loop_source *src = io_uring_cqe_get_data(cqe);
		int res = cqe->res;
		uint32_t flags = cqe->flags;

		/* seen before the callback: it may submit and wait */
		io_uring_cqe_seen(&l->ring, cqe);
		if (!src)
			continue;
		if (!(flags & IORING_CQE_F_MORE))
			src->inflight--;
		src->fn(src, res, flags);
	}
}

int htm_loop_run(struct htm_loop *l)
{
	int r;

	while (!l->stopped) {
		r = io_uring_submit_and_wait(&l->ring, 1);
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY)
			return r;
		loop_dispatch(l, false);
		if (l->tick && !l->stopped)
			l->tick(l->tick_data);
	}
	return l->code;
}

void htm_loop_drain(struct htm_loop *l, bool (*done)(void *data), void *data,
		    uint64_t deadline)
{
	struct io_uring_cqe *cqe;
	uint64_t now;

	while (!done(data) && (now = htm_now_mono()) < deadline) {
		struct __kernel_timespec ts = {
			.tv_sec = (long long)((deadline - now) / 1000000000ull),
			.tv_nsec = (long long)((deadline - now) % 1000000000ull),
		};

		(void)io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);
		loop_dispatch(l, true);
	}
}

static uint64_t now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t htm_now_mono(void)
{
	return now_ns(CLOCK_MONOTONIC);
}

uint64_t htm_now_real(void)
{
	return now_ns(CLOCK_REALTIME);
}

static void timer_complete(struct htm_loop_source *src, int res,
			   uint32_t flags)
{
	struct htm_loop_timer *t = (struct htm_loop_timer *)src;

	(void)flags;
	/* -ECANCELED: replaced or disarmed. -ETIME from an arming that was
	 * superseded by a later deadline: not due yet, ignore. */
	if (res != -ETIME || !t->deadline || htm_now_mono() < t->deadline)
		return;
	t->deadline = 0;
	t->fn(t);
}

void htm_loop_timer_init(struct htm_loop_timer *t, struct htm_loop *l,
		    void (*fn)(struct htm_loop_timer *t))
{
	t->src.fn = timer_complete;
	t->src.inflight = 0;
	t->deadline = 0;
	t->fn = fn;
	t->loop = l;
}

int htm_loop_timer_arm(struct htm_loop_timer *t, uint64_t mono_ns)
{
	struct io_uring_sqe *sqe;

	htm_loop_timer_disarm(t);
	sqe = htm_loop_sqe(t->loop, &t->src);
	if (!sqe)
		return -EBUSY;
	t->deadline = mono_ns ? mono_ns : 1;
	t->ts.tv_sec = (long long)(t->deadline / 1000000000ull);
	t->ts.tv_nsec = (long long)(t->deadline % 1000000000ull);
	io_uring_prep_timeout(sqe, &t->ts, 0, IORING_TIMEOUT_ABS);
	return 0;
}

void htm_loop_timer_disarm(struct htm_loop_timer *t)
{
	struct io_uring_sqe *sqe;

	t->deadline = 0;
	if (!t->src.inflight)
		return;
	sqe = htm_loop_sqe(t->loop, NULL);
	if (sqe)
		io_uring_prep_timeout_remove(sqe, (__u64)(uintptr_t)&t->src, 0);
}
