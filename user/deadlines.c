// SPDX-License-Identifier: MIT
/*
 * Deadlines. A task with an SLA is watched from submission until it
 * finishes; one timer fires at the earliest moment something is due. With
 * a tenth of its SLA left a task is escalated one priority, once: queued,
 * it moves up in the queue; running, its processes move to a cgroup under
 * the higher class (a cgroup cannot change parents), so the class's weight
 * and the stress responses follow. Passing the deadline unfinished is a
 * breach: an event, a counter, a journal record.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/duration.h"
#include "core/governor.h"
#include "manager.h"
#include "sys/log.h"

/* When t next needs attention, or 0. */
static uint64_t due(const struct htm_task *t)
{
	uint64_t esc = htm_sla_escalate_at(t);
	uint64_t dl = t->sla_breached ? 0 : htm_sla_deadline_mono(t);

	return esc && (!dl || esc < dl) ? esc : dl;
}

void sla_watch(struct htm_manager *m, struct htm_task *t)
{
	uint64_t at;

	if (!t->sla_ns || t->on_sla_list || htm_state_is_terminal(t->state))
		return;
	TAILQ_INSERT_TAIL(&m->sla_tasks, t, sla_link);
	t->on_sla_list = true;
	/* only an earlier moment moves the timer: no rescan per task */
	at = due(t);
	if (at && (!m->sla_timer.deadline || at < m->sla_timer.deadline))
		htm_timer_arm(&m->sla_timer, at);
}

void sla_unwatch(struct htm_manager *m, struct htm_task *t)
{
	if (!t->on_sla_list)
		return;
	TAILQ_REMOVE(&m->sla_tasks, t, sla_link);
	t->on_sla_list = false;
}

size_t sla_watched(const struct htm_manager *m)
{
	const struct htm_task *t;
	size_t n = 0;

	TAILQ_FOREACH(t, &m->sla_tasks, sla_link)
		n++;
	return n;
}

/* The next moment any watched task needs attention. */
void sla_rearm(struct htm_manager *m)
{
	uint64_t first = 0, at;
	struct htm_task *t;

	TAILQ_FOREACH(t, &m->sla_tasks, sla_link) {
		at = due(t);
		if (at && (!first || at < first))
			first = at;
	}
	if (first)
		htm_timer_arm(&m->sla_timer, first);
	else
		htm_timer_disarm(&m->sla_timer);
}

static void escalate(struct htm_manager *m, struct htm_task *t, uint64_t now)
{
	enum htm_priority from = t->priority, to = from - 1;
	char why[160], left[32];
	cJSON *b, *f;
	int r = 0;

	htm_duration_format(htm_sla_deadline_mono(t) > now
			    ? htm_sla_deadline_mono(t) - now : 0, left, sizeof(left));
	snprintf(why, sizeof(why), "SLA: %s left of its deadline", left);
	switch (t->state) {
	case HTM_STATE_QUEUED:
		htm_queue_remove(&m->queue, t);
		t->priority = to;
		/* its arrival place in the higher class: ahead of later work */
		htm_queue_insert_ordered(&m->queue, t);
		break;
	case HTM_STATE_RUNNING:
		/* a placed cgroup is the operator's: it is not moved */
		r = t->placed ? -EPERM : runner_reclass(m, t, to);
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
	m->sla_escalations++;
	b = cJSON_CreateObject();
	cJSON_AddNumberToObject(b, "task", (double)t->id);
	cJSON_AddStringToObject(b, "from", htm_priority_names[from]);
	cJSON_AddStringToObject(b, "to", htm_priority_names[to]);
	cJSON_AddStringToObject(b, "state", htm_state_names[t->state]);
	if (t->state == HTM_STATE_RUNNING)
		cJSON_AddStringToObject(b, "cgroup", t->cgroup);
	persist_write(m, HTM_REC_TASK_PRIORITY, persist_who(0, "deadline"), why,
		      t->state == HTM_STATE_RUNNING ? "processes moved to the higher class"
						    : "reordered", b);
	htm_log(LOG_NOTICE, "task %llu escalated %s -> %s (%s, %s)",
		(unsigned long long)t->id, htm_priority_names[from], htm_priority_names[to],
		why, htm_state_names[t->state]);
	f = cJSON_CreateObject();
	cJSON_AddNumberToObject(f, "task", (double)t->id);
	cJSON_AddStringToObject(f, "name", t->name);
	cJSON_AddStringToObject(f, "from", htm_priority_names[from]);
	cJSON_AddStringToObject(f, "to", htm_priority_names[to]);
	cJSON_AddNumberToObject(f, "depth", t->depth);
	manager_event(m, "task.sla_escalated", LOG_INFO, f);
}

static void breach(struct htm_manager *m, struct htm_task *t)
{
	char sla[32];
	cJSON *b, *f;

	t->sla_breached = true;
	m->sla_breaches++;
	htm_duration_format(t->sla_ns, sla, sizeof(sla));
	b = cJSON_CreateObject();
	cJSON_AddNumberToObject(b, "task", (double)t->id);
	cJSON_AddStringToObject(b, "state", htm_state_names[t->state]);
	cJSON_AddStringToObject(b, "sla", sla);
	persist_write(m, HTM_REC_DECISION, persist_who(0, "deadline"),
		      "SLA breached: not finished by its deadline", NULL, b);
	htm_log(LOG_WARNING, "task %llu (%s) breached its %s SLA while %s",
		(unsigned long long)t->id, t->name, sla, htm_state_names[t->state]);
	f = cJSON_CreateObject();
	cJSON_AddNumberToObject(f, "task", (double)t->id);
	cJSON_AddStringToObject(f, "name", t->name);
	cJSON_AddStringToObject(f, "state", htm_state_names[t->state]);
	cJSON_AddStringToObject(f, "priority", htm_priority_names[t->priority]);
	cJSON_AddStringToObject(f, "severity", "warning");
	cJSON_AddNumberToObject(f, "depth", t->depth);
	manager_event(m, "task.sla_breach", LOG_WARNING, f);
}

void sla_fired(struct htm_timer *timer)
{
	struct htm_manager *m = (struct htm_manager *)((char *)timer -
		offsetof(struct htm_manager, sla_timer));
	uint64_t now = htm_now_mono();
	struct htm_task *t, *next;

	for (t = TAILQ_FIRST(&m->sla_tasks); t; t = next) {
		next = TAILQ_NEXT(t, sla_link);
		if (htm_sla_should_escalate(t, now))
			escalate(m, t, now);
		if (!t->sla_breached && now >= htm_sla_deadline_mono(t))
			breach(m, t);
	}
	sla_rearm(m);
}

/* Replay: the monotonic clock of this boot, as of the wall-clock times. */
void sla_recover(struct htm_manager *m)
{
	uint64_t now_real = htm_now_real(), now_mono = htm_now_mono();
	struct htm_task *t;

	TAILQ_FOREACH(t, &m->tasks.all, table_link) {
		uint64_t age = now_real > t->submitted_at ? now_real - t->submitted_at : 0;

		t->submitted_mono = now_mono > age ? now_mono - age : 0;
		if (t->sla_ns && !htm_state_is_terminal(t->state))
			sla_watch(m, t);
	}
}
