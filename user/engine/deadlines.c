// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/duration.h"
#include "core/governor.h"
#include "core/log.h"
#include "engine/deadlines.h"

struct htm_deadlines {
	struct htm_ctx *c;
	TAILQ_HEAD(, htm_task) tasks;	/* with an SLA still to meet */
	size_t n;
	struct htm_timer timer;
	uint64_t breaches, escalations;
};

/* When t next needs attention, or 0. */
static uint64_t due(const struct htm_task *t)
{
	uint64_t esc = htm_sla_escalate_at(t);
	uint64_t dl = t->sla_breached ? 0 : htm_sla_deadline_mono(t);

	return esc && (!dl || esc < dl) ? esc : dl;
}

static void watch(struct htm_deadlines *d, struct htm_task *t)
{
	uint64_t at;

	if (!t->sla_ns || t->on_sla_list || htm_state_is_terminal(t->state))
		return;
	TAILQ_INSERT_TAIL(&d->tasks, t, sla_link);
	t->on_sla_list = true;
	d->n++;
	/* only an earlier moment moves the timer: no rescan per task */
	at = due(t);
	if (at && (!htm_timer_armed(&d->timer) || at < d->timer.deadline))
		htm_arm(d->c, &d->timer, at);
}

static void unwatch(struct htm_deadlines *d, struct htm_task *t)
{
	if (!t->on_sla_list)
		return;
	TAILQ_REMOVE(&d->tasks, t, sla_link);
	t->on_sla_list = false;
	d->n--;
}

/* The next moment any watched task needs attention. */
static void rearm(struct htm_deadlines *d)
{
	uint64_t first = 0, at;
	struct htm_task *t;

	TAILQ_FOREACH(t, &d->tasks, sla_link) {
		at = due(t);
		if (at && (!first || at < first))
			first = at;
	}
	if (first)
		htm_arm(d->c, &d->timer, first);
	else
		htm_disarm(d->c, &d->timer);
}

static void escalate(struct htm_deadlines *d, struct htm_task *t, uint64_t now)
{
	struct htm_ctx *c = d->c;
	enum htm_priority from = t->priority, to = from - 1;
	struct htm_who who = htm_who(0, "deadline");
	struct htm_msg m = { .u.reclass = { .task = t, .to = to } };
	char why[160], left[32];
	cJSON *b;
	int r = 0;

	htm_duration_format(htm_sla_deadline_mono(t) > now
			    ? htm_sla_deadline_mono(t) - now : 0, left, sizeof(left));
	snprintf(why, sizeof(why), "SLA: %s left of its deadline", left);
	switch (t->state) {
	case HTM_STATE_QUEUED:
		m.type = HTM_MSG_REQUEUE;
		(void)htm_bus_send(c->bus, &m);
		break;
	case HTM_STATE_RUNNING:
		/* a placed cgroup is the operator's: it is not moved */
		m.type = HTM_MSG_RECLASS;
		r = t->placed ? -EPERM : htm_bus_send(c->bus, &m);
		if (r < 0) {
			/* once: the timer must not come back for it */
			t->sla_escalation_failed = true;
			htm_log(LOG_WARNING, "task %llu: SLA escalation to %s: %s; it "
				"keeps its class", (unsigned long long)t->id,
				htm_priority_names[to], t->placed ? "placed cgroups are "
				"not moved" : strerror(-r));
			return;
		}
		break;
	default:	/* waiting for approval or starting: its cgroup comes later */
		t->priority = to;
		break;
	}
	t->escalations++;
	d->escalations++;
	b = cJSON_CreateObject();
	cJSON_AddNumberToObject(b, "task", (double)t->id);
	cJSON_AddStringToObject(b, "from", htm_priority_names[from]);
	cJSON_AddStringToObject(b, "to", htm_priority_names[to]);
	cJSON_AddStringToObject(b, "state", htm_state_names[t->state]);
	if (t->state == HTM_STATE_RUNNING)
		cJSON_AddStringToObject(b, "cgroup", t->cgroup);
	record_write(c, HTM_REC_TASK_PRIORITY, &who, why,
		     t->state == HTM_STATE_RUNNING ? "processes moved to the higher class"
						   : "reordered", b);
	htm_log(LOG_NOTICE, "task %llu escalated %s -> %s (%s, %s)",
		(unsigned long long)t->id, htm_priority_names[from], htm_priority_names[to],
		why, htm_state_names[t->state]);
	m = (struct htm_msg){ .type = HTM_MSG_SLA_ESCALATED,
			      .u.escalated = { .task = t, .from = from, .to = to } };
	htm_bus_post(c->bus, &m);
}

static void breach(struct htm_deadlines *d, struct htm_task *t)
{
	struct htm_who who = htm_who(0, "deadline");
	struct htm_msg m = { .type = HTM_MSG_SLA_BREACH, .u.task = t };
	char sla[32];
	cJSON *b;

	t->sla_breached = true;
	d->breaches++;
	htm_duration_format(t->sla_ns, sla, sizeof(sla));
	b = cJSON_CreateObject();
	cJSON_AddNumberToObject(b, "task", (double)t->id);
	cJSON_AddStringToObject(b, "state", htm_state_names[t->state]);
	cJSON_AddStringToObject(b, "sla", sla);
	record_write(d->c, HTM_REC_DECISION, &who,
		     "SLA breached: not finished by its deadline", NULL, b);
	htm_log(LOG_WARNING, "task %llu (%s) breached its %s SLA while %s",
		(unsigned long long)t->id, t->name, sla, htm_state_names[t->state]);
	htm_bus_post(d->c->bus, &m);
}

static void fired(struct htm_timer *timer)
{
	struct htm_deadlines *d = htm_container_of(timer, struct htm_deadlines, timer);
	uint64_t now = htm_mono(d->c);
	struct htm_task *t, *next;

	for (t = TAILQ_FIRST(&d->tasks); t; t = next) {
		next = TAILQ_NEXT(t, sla_link);
		if (htm_sla_should_escalate(t, now))
			escalate(d, t, now);
		if (!t->sla_breached && now >= htm_sla_deadline_mono(t))
			breach(d, t);
	}
	rearm(d);
}

void deadlines_recover(struct htm_deadlines *d)
{
	uint64_t now_real = htm_real(d->c), now_mono = htm_mono(d->c);
	struct htm_task *t;

	TAILQ_FOREACH(t, &d->c->tasks.all, table_link) {
		uint64_t age = now_real > t->submitted_at ? now_real - t->submitted_at : 0;

		t->submitted_mono = now_mono > age ? now_mono - age : 0;
		if (t->sla_ns && !htm_state_is_terminal(t->state))
			watch(d, t);
	}
}

cJSON *deadlines_json(struct htm_deadlines *d)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "watched", (double)d->n);
	cJSON_AddNumberToObject(o, "escalations", (double)d->escalations);
	cJSON_AddNumberToObject(o, "breaches", (double)d->breaches);
	return o;
}

static int on_msg(void *data, struct htm_msg *m)
{
	struct htm_deadlines *d = data;

	if (m->type == HTM_MSG_TASK_ACCEPTED)
		watch(d, m->u.task);
	else if (m->type == HTM_MSG_TASK_FINISHED)
		unwatch(d, m->u.task);
	return 0;
}

int deadlines_new(struct htm_deadlines **out, struct htm_ctx *c)
{
	struct htm_deadlines *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return -ENOMEM;
	d->c = c;
	TAILQ_INIT(&d->tasks);
	htm_timer_init(&d->timer, fired);
	r = htm_bus_subscribe(c->bus, HTM_MSG_TASK_ACCEPTED, on_msg, d);
	if (r == 0)
		r = htm_bus_subscribe(c->bus, HTM_MSG_TASK_FINISHED, on_msg, d);
	if (r < 0) {
		free(d);
		return r;
	}
	*out = d;
	return 0;
}

void deadlines_free(struct htm_deadlines *d)
{
	if (!d)
		return;
	htm_disarm(d->c, &d->timer);
	free(d);
}
