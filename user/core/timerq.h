/* SPDX-License-Identifier: MIT */
/*
 * The engine's timers: a binary min-heap of deadlines on whatever clock the
 * world keeps (CLOCK_MONOTONIC on Linux, virtual time in a simulation).
 * The world is asked to wake the engine only at the earliest deadline, so
 * one kernel timer (or one simulated event) serves every engine timer.
 * Equal deadlines fire in the order they were armed, so a run is
 * deterministic. Arm, disarm and re-arm are O(log n). Pure.
 */
#ifndef HTM_CORE_TIMERQ_H
#define HTM_CORE_TIMERQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct htm_timer {
	uint64_t deadline;		/* 0: disarmed */
	uint64_t seq;			/* arming order, breaks deadline ties */
	size_t slot;			/* heap index + 1; 0: not queued */
	void (*fn)(struct htm_timer *t);
};

struct htm_timerq {
	struct htm_timer **heap;
	size_t n, cap;
	uint64_t next_seq;
};

void htm_timerq_init(struct htm_timerq *q);
void htm_timerq_free(struct htm_timerq *q);
void htm_timer_init(struct htm_timer *t, void (*fn)(struct htm_timer *t));
/* Arm (or move) t to fire at deadline; 0 means "as soon as possible". */
int htm_timer_arm(struct htm_timerq *q, struct htm_timer *t, uint64_t deadline);
void htm_timer_disarm(struct htm_timerq *q, struct htm_timer *t);
static inline bool htm_timer_armed(const struct htm_timer *t)
{
	return t->slot != 0;
}
/* The earliest deadline, or 0 when nothing is armed. */
uint64_t htm_timerq_next(const struct htm_timerq *q);
/* Fire every timer due at now (a callback may arm timers again; those due
 * now fire in the same call). Returns how many fired. */
size_t htm_timerq_run(struct htm_timerq *q, uint64_t now);

#endif
