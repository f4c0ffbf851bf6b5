/* SPDX-License-Identifier: MIT */
/*
 * The daemon's only event loop: one io_uring. Every operation carries a
 * pointer to a struct htm_loop_source as user_data; the source's callback
 * runs with the completion's result. A source counts its operations in
 * flight, so its owner knows when its memory may be freed. After each batch
 * of completions the loop calls the tick hook once (scheduling and, later,
 * group commit happen there). Idle means blocked in io_uring_enter.
 */
#ifndef HTM_SYS_LOOP_H
#define HTM_SYS_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <liburing.h>

struct htm_loop;
struct htm_loop_source;

typedef void (*htm_loop_fn)(struct htm_loop_source *src, int res,
			    uint32_t cqe_flags);

struct htm_loop_source {
	htm_loop_fn fn;
	unsigned inflight;
};

int htm_loop_new(struct htm_loop **out, unsigned entries);
void htm_loop_free(struct htm_loop *l);

/* An SQE whose completion goes to src (NULL: completion ignored). Submits
 * to make room when the SQ is full; NULL only if that fails too. */
struct io_uring_sqe *htm_loop_sqe(struct htm_loop *l,
				  struct htm_loop_source *src);
/* Make room for n SQEs (submitting what is queued if needed): a linked
 * chain must not end up half prepared. */
int htm_loop_reserve(struct htm_loop *l, unsigned n);
/* Ask the kernel to cancel every operation of src; completions still come. */
int htm_loop_cancel(struct htm_loop *l, struct htm_loop_source *src);

void htm_loop_set_tick(struct htm_loop *l, void (*fn)(void *), void *data);
/* Run until htm_loop_stop; returns its code, or a negative errno. */
int htm_loop_run(struct htm_loop *l);
void htm_loop_stop(struct htm_loop *l, int code);
/* After a stop: keep handling completions until done(data) or the
 * CLOCK_MONOTONIC deadline, so last replies still reach their clients. */
void htm_loop_drain(struct htm_loop *l, bool (*done)(void *data), void *data,
		    uint64_t deadline);

uint64_t htm_now_mono(void);	/* CLOCK_MONOTONIC ns */
uint64_t htm_now_real(void);	/* CLOCK_REALTIME ns */

/*
 * One-shot timer on CLOCK_MONOTONIC. Re-arming replaces the deadline; a
 * completion of an older arming is recognised by its deadline and ignored.
 */
struct htm_loop_timer {
	struct htm_loop_source src;
	struct __kernel_timespec ts;
	uint64_t deadline;		/* 0: disarmed */
	void (*fn)(struct htm_loop_timer *t);
	struct htm_loop *loop;
};

void htm_loop_timer_init(struct htm_loop_timer *t, struct htm_loop *l,
		    void (*fn)(struct htm_loop_timer *t));
int htm_loop_timer_arm(struct htm_loop_timer *t, uint64_t mono_ns);
void htm_loop_timer_disarm(struct htm_loop_timer *t);
static inline bool htm_loop_timer_idle(const struct htm_loop_timer *t)
{
	return !t->deadline && !t->src.inflight;
}

#endif
