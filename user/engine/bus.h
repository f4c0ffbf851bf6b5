/* SPDX-License-Identifier: MIT */
/*
 * The engine's bus: how subsystems talk without knowing each other. Every
 * message is a typed struct (below); a subsystem subscribes to the types it
 * handles and never includes another subsystem's header.
 *
 * Two ways to hand a message over:
 *  - post: a fact ("task 7 finished", "stress went to high"). Copied into a
 *    queue and delivered to every subscriber when the bus drains, once per
 *    loop turn, after the world's completions were handled and before the
 *    journal commits. A handler may post again; the drain runs until the
 *    queue is empty, so a cascade ends within the turn that started it.
 *    Strings a posted message owns (bus_strdup) are freed after delivery.
 *  - send: a command whose effect the sender needs before it goes on
 *    (a knob written before a process starts in its cgroup, a task queued
 *    before the next request can cancel it). Delivered at once to every
 *    subscriber, in subscription order; the first error is returned.
 * Subscription order is the composition root's: it is part of the design
 * (e.g. the monitor takes a finished task's last reading before anybody
 * answers a client about it).
 */
#ifndef HTM_ENGINE_BUS_H
#define HTM_ENGINE_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/governor.h"
#include "core/pressure.h"
#include "core/stress.h"
#include "core/task.h"
#include "htm/sampler.h"

/* Who decided something: the journal's "who". */
struct htm_who {
	char actor[96];			/* "client", "governor", "rule:<name>", ... */
	uint32_t uid;			/* UINT32_MAX: none */
};

enum htm_msg_type {
	/* --- facts (post) --- */
	HTM_MSG_TASK_ACCEPTED,		/* submitted and journaled */
	HTM_MSG_TASK_FINISHED,		/* reached a terminal state */
	HTM_MSG_STRESS_CHANGED,
	HTM_MSG_PLAN_CHANGED,		/* the governor's response in force */
	HTM_MSG_KERNEL_EVENT,		/* a sampler record, with its task */
	HTM_MSG_PSI_TRIGGER,
	HTM_MSG_SLA_ESCALATED,
	HTM_MSG_SLA_BREACH,
	HTM_MSG_QUEUE_DEPTH,
	/* --- commands (send) --- */
	HTM_MSG_CGROUP_PRIORITY,	/* a new task cgroup takes its class's settings */
	HTM_MSG_CGROUP_READY,		/* a task's cgroup is final, nothing runs yet */
	HTM_MSG_CGROUP_GONE,		/* ... is about to be removed / let go */
	HTM_MSG_KNOB_SET,
	HTM_MSG_KNOB_UNDO,
	HTM_MSG_KNOB_UNDO_CGROUP,
	HTM_MSG_KNOB_REMEMBER,		/* after a crash: what a file held before */
	HTM_MSG_CLASS_CAP,
	HTM_MSG_CLASS_FREEZE,
	HTM_MSG_CLASS_EGRESS,
	HTM_MSG_SUBMIT,			/* a new task: gate, journal, route */
	HTM_MSG_ENQUEUE,		/* onto the run queue */
	HTM_MSG_START_NOW,		/* past admission (tier 4) */
	HTM_MSG_REQUEUE,		/* a queued task changed priority */
	HTM_MSG_SHED,
	HTM_MSG_QUEUE_LEN,
	HTM_MSG_RUN,			/* start it: its preflight record is durable */
	HTM_MSG_RECLASS,		/* move a running task to another class */
	HTM_MSG_RELIEF,
	HTM_MSG_TYPE_COUNT,
};

extern const char *const htm_msg_names[];

enum htm_stress_cause { HTM_CAUSE_PERIOD, HTM_CAUSE_PSI };

struct htm_msg {
	enum htm_msg_type type;
	union {
		struct htm_task *task;	/* TASK_ACCEPTED/FINISHED, CGROUP_READY/GONE,
					 * ENQUEUE, START_NOW, RUN */
		struct {
			const char *cg;
			enum htm_priority prio;
		} cgp;			/* CGROUP_PRIORITY */
		struct {
			enum htm_stress_level from, to;
			const char *reasons;	/* owned */
			double signals[HTM_SIG_COUNT];
			enum htm_stress_cause cause;
			uint64_t cause_ns;	/* world mono of the trigger */
		} stress;
		struct htm_plan plan;
		struct {
			struct htm_event ev;
			uint64_t task_id;	/* 0: not a task's cgroup */
			int priority;		/* -1: none */
			const char *cgroup;	/* owned, NULL when unknown */
			uint64_t now_mono;	/* when htmd read it */
		} kernel;
		struct {
			enum htm_resource res;
			char spec[64];
		} psi;
		struct {
			struct htm_task *task;
			enum htm_priority from, to;
		} escalated;
		struct {
			int level;		/* 1 warn, 2 critical */
			size_t depth;
		} depth;
		struct {
			const char *cg, *file, *value, *why;
			uint64_t for_ns;	/* 0: until undone */
			struct htm_who who;
		} knob;			/* SET, UNDO (value unused), UNDO_CGROUP
					 * (file unused), REMEMBER (value: original) */
		struct {
			enum htm_priority prio;
			uint32_t cap_pct;
			bool frozen;
			uint64_t egress_bps;
			const char *why;
		} cls;
		struct {
			struct htm_task *task;
			struct htm_who who;
			uint64_t *dup;		/* out: the earlier task on -EEXIST */
		} submit;
		struct {
			struct htm_task *task;
			enum htm_priority to;
		} reclass;		/* REQUEUE, RECLASS */
		struct {
			const char *why;
			uint64_t *count;	/* out */
		} shed;
		size_t *queue_len;	/* out */
		const char *relief_why;
	} u;
	void *owned[2];			/* posted: freed after delivery */
};

typedef int (*htm_bus_fn)(void *data, struct htm_msg *m);

struct htm_bus;

int htm_bus_new(struct htm_bus **out);
void htm_bus_free(struct htm_bus *b);
int htm_bus_subscribe(struct htm_bus *b, enum htm_msg_type type, htm_bus_fn fn,
		      void *data);
/* Queue a fact (copied; strings in m->owned are the bus's from now on). */
int htm_bus_post(struct htm_bus *b, struct htm_msg *m);
/* Deliver a command now. */
int htm_bus_send(struct htm_bus *b, struct htm_msg *m);
/* Deliver every queued fact, and every fact their handlers post. */
void htm_bus_drain(struct htm_bus *b);
size_t htm_bus_pending(const struct htm_bus *b);
/* Facts dropped because the queue was full (a storm far past the breaker). */
uint64_t htm_bus_dropped(const struct htm_bus *b);
/* A copy the posted message will own (NULL stays NULL). */
char *htm_bus_strdup(struct htm_msg *m, const char *s);

#endif
