// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/duration.h"
#include "core/fairshare.h"
#include "core/log.h"
#include "core/pathfmt.h"
#include "core/queue.h"
#include "engine/admission.h"

struct htm_admission {
	struct htm_ctx *c;
	struct htm_queue queue;
	struct htm_fairshare fair;
	unsigned slots;
	unsigned running;		/* tasks holding a slot */
	bool admit[HTM_PRIO_COUNT];	/* the governor's, as last told */
	TAILQ_HEAD(, htm_task) starting;	/* admitted, preflight not yet durable */
	int queue_level;		/* 0, 1 warn, 2 critical */
};

static void slot_take(struct htm_admission *a, struct htm_task *t, bool starving)
{
	t->holds_slot = true;
	a->running++;
	htm_fair_started(&a->fair, t->origin, starving, htm_mono(a->c));
}

static void slot_release(struct htm_admission *a, struct htm_task *t)
{
	t->holds_slot = false;
	a->running--;
	htm_fair_finished(&a->fair, t->origin, htm_mono(a->c));
}

/* Admission decided: journal it, run once it is durable. */
static void starting(struct htm_admission *a, struct htm_task *t)
{
	struct htm_world *w = a->c->w;

	tasks_move(a->c, t, HTM_STATE_PREFLIGHT, "admitted to a run slot", NULL);
	t->start_seq = w->ops->journal_last(w);
	t->starting = true;
	TAILQ_INSERT_TAIL(&a->starting, t, queue_link);
}

static void dispatch(struct htm_admission *a)
{
	uint64_t now = htm_mono(a->c);
	struct htm_task *t;
	bool starving;

	while (!a->c->shutting_down && a->running < a->slots &&
	       (t = htm_fair_pick(&a->queue, &a->fair, &a->c->cfg.fairshare, a->admit,
				  now, &starving))) {
		htm_queue_remove(&a->queue, t);
		slot_take(a, t, starving);
		if (starving)
			htm_log(LOG_INFO, "task %llu: origin %s got no slot for a "
				"starvation window, served first",
				(unsigned long long)t->id, htm_origin_names[t->origin]);
		/* the slot is taken now; the task runs once its preflight
		 * record is durable */
		starting(a, t);
	}
}

/* Edge-triggered queue.depth events at the design's 1000 / 5000. */
static void depth_check(struct htm_admission *a)
{
	size_t n = htm_queue_len(&a->queue);
	int level = n > 5000 ? 2 : n > 1000 ? 1 : 0;
	struct htm_msg m = { .type = HTM_MSG_QUEUE_DEPTH };

	if (level == a->queue_level)
		return;
	a->queue_level = level;
	if (!level)
		return;
	m.u.depth.level = level;
	m.u.depth.depth = n;
	htm_bus_post(a->c->bus, &m);
}

void admission_depth_check(struct htm_admission *a)
{
	depth_check(a);
}

void admission_dispatch(struct htm_admission *a)
{
	dispatch(a);
}

void admission_durable(struct htm_admission *a, uint64_t seq)
{
	struct htm_task *t, *next;
	struct htm_msg m = { .type = HTM_MSG_RUN };

	for (t = TAILQ_FIRST(&a->starting); t; t = next) {
		next = TAILQ_NEXT(t, queue_link);
		if (t->start_seq > seq)
			break;
		TAILQ_REMOVE(&a->starting, t, queue_link);
		t->starting = false;
		/* a start that fails ends the task, which gives the slot back */
		m.u.task = t;
		(void)htm_bus_send(a->c->bus, &m);
	}
}

bool admission_withdraw(struct htm_admission *a, struct htm_task *t)
{
	if (t->state == HTM_STATE_QUEUED) {
		htm_queue_remove(&a->queue, t);
		return true;
	}
	if (t->starting) {
		TAILQ_REMOVE(&a->starting, t, queue_link);
		t->starting = false;
		return true;
	}
	return false;
}

void admission_requeue(struct htm_admission *a, struct htm_task *t)
{
	htm_queue_push(&a->queue, t);
}

void admission_adopted(struct htm_admission *a, struct htm_task *t)
{
	slot_take(a, t, false);
}

/* Long-queued low work goes when stress is critical. */
static uint64_t shed_low(struct htm_admission *a, const char *why)
{
	struct htm_ctx *c = a->c;
	struct htm_who who = htm_who(0, "governor");
	uint64_t now = htm_mono(c), n = 0;
	struct htm_task *t, *next;
	char reason[192], d[32];

	for (int o = 0; o < HTM_ORIGIN_COUNT; o++) {
		for (t = htm_queue_head(&a->queue, HTM_PRIO_LOW, o); t; t = next) {
			next = TAILQ_NEXT(t, queue_link);
			/* each list is oldest first: the rest waited less */
			if (now - t->submitted_mono < c->cfg.governor.shed_after_ns)
				break;
			htm_queue_remove(&a->queue, t);
			htm_duration_format(now - t->submitted_mono, d, sizeof(d));
			htm_textf(reason, sizeof(reason), "shed: queued %s at low priority "
				  "while %s", d, why);
			tasks_finish(c, t, HTM_STATE_SHED, reason, &who);
			n++;
		}
	}
	return n;
}

static int on_msg(void *data, struct htm_msg *m)
{
	struct htm_admission *a = data;
	struct htm_task *t;

	switch (m->type) {
	case HTM_MSG_ENQUEUE:
		htm_queue_push(&a->queue, m->u.task);
		return 0;
	case HTM_MSG_START_NOW:
		/* runs now, slot or no slot */
		starting(a, m->u.task);
		slot_take(a, m->u.task, false);
		return 0;
	case HTM_MSG_REQUEUE:
		t = m->u.reclass.task;
		htm_queue_remove(&a->queue, t);
		t->priority = m->u.reclass.to;
		/* its arrival place in the higher class: ahead of later work */
		htm_queue_insert_ordered(&a->queue, t);
		return 0;
	case HTM_MSG_SHED:
		*m->u.shed.count = shed_low(a, m->u.shed.why);
		return 0;
	case HTM_MSG_QUEUE_LEN:
		*m->u.queue_len = htm_queue_len(&a->queue);
		return 0;
	case HTM_MSG_PLAN_CHANGED:
		for (int p = 0; p < HTM_PRIO_COUNT; p++)
			a->admit[p] = m->u.plan.admit[p];
		return 0;
	case HTM_MSG_TASK_FINISHED:
		t = m->u.task;
		if (t->starting) {
			TAILQ_REMOVE(&a->starting, t, queue_link);
			t->starting = false;
		}
		if (t->holds_slot)
			slot_release(a, t);
		return 0;
	default:
		return 0;
	}
}

void admission_configure(struct htm_admission *a)
{
	struct htm_world *w = a->c->w;

	a->slots = a->c->cfg.slots ? a->c->cfg.slots : w->ops->ncpus(w);
}

unsigned admission_slots(const struct htm_admission *a)
{
	return a->slots;
}

int admission_new(struct htm_admission **out, struct htm_ctx *c)
{
	static const enum htm_msg_type handled[] = {
		HTM_MSG_ENQUEUE, HTM_MSG_START_NOW, HTM_MSG_REQUEUE, HTM_MSG_SHED,
		HTM_MSG_QUEUE_LEN, HTM_MSG_PLAN_CHANGED, HTM_MSG_TASK_FINISHED,
	};
	struct htm_admission *a = calloc(1, sizeof(*a));
	int r = 0;

	if (!a)
		return -ENOMEM;
	a->c = c;
	htm_queue_init(&a->queue);
	htm_fairshare_init(&a->fair, htm_mono(c));
	TAILQ_INIT(&a->starting);
	/* at ok everything is admitted, until the governor says otherwise */
	for (int p = 0; p < HTM_PRIO_COUNT; p++)
		a->admit[p] = true;
	for (size_t i = 0; r == 0 && i < sizeof(handled) / sizeof(handled[0]); i++)
		r = htm_bus_subscribe(c->bus, handled[i], on_msg, a);
	if (r < 0) {
		free(a);
		return r;
	}
	*out = a;
	return 0;
}

void admission_free(struct htm_admission *a)
{
	free(a);
}

cJSON *admission_slots_json(struct htm_admission *a)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "total", a->slots);
	cJSON_AddNumberToObject(o, "busy", a->running);
	return o;
}

cJSON *admission_queue_json(struct htm_admission *a)
{
	cJSON *q = cJSON_CreateObject();

	for (int p = 0; q && p < HTM_PRIO_COUNT; p++)
		cJSON_AddNumberToObject(q, htm_priority_names[p], a->queue.len[p]);
	return q;
}

cJSON *admission_origins_json(struct htm_admission *a)
{
	uint64_t now = htm_mono(a->c);
	cJSON *o = cJSON_CreateObject();

	for (int g = 0; o && g < HTM_ORIGIN_COUNT; g++) {
		cJSON *x = cJSON_AddObjectToObject(o, htm_origin_names[g]);

		cJSON_AddNumberToObject(x, "share_pct", a->c->cfg.fairshare.share[g] * 100);
		cJSON_AddNumberToObject(x, "running", a->fair.o[g].running);
		cJSON_AddNumberToObject(x, "queued", (double)a->queue.origin_len[g]);
		cJSON_AddNumberToObject(x, "started", (double)a->fair.o[g].started);
		cJSON_AddNumberToObject(x, "starved", (double)a->fair.o[g].starved);
		cJSON_AddNumberToObject(x, "started_last_minute",
					(double)htm_fair_recent_starts(&a->fair, g, now));
		cJSON_AddNumberToObject(x, "utilization_pct",
					100 * htm_fair_utilization(&a->fair, g, a->slots, now));
	}
	return o;
}
