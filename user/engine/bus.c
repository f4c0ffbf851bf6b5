// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"

/* Beyond this a storm is long past the circuit breaker. */
#define BUS_MAX_QUEUED 100000

const char *const htm_msg_names[] = {
	[HTM_MSG_TASK_ACCEPTED] = "task_accepted",
	[HTM_MSG_TASK_FINISHED] = "task_finished",
	[HTM_MSG_STRESS_CHANGED] = "stress_changed",
	[HTM_MSG_PLAN_CHANGED] = "plan_changed",
	[HTM_MSG_KERNEL_EVENT] = "kernel_event",
	[HTM_MSG_PSI_TRIGGER] = "psi_trigger",
	[HTM_MSG_SLA_ESCALATED] = "sla_escalated",
	[HTM_MSG_SLA_BREACH] = "sla_breach",
	[HTM_MSG_QUEUE_DEPTH] = "queue_depth",
	[HTM_MSG_CGROUP_PRIORITY] = "cgroup_priority",
	[HTM_MSG_CGROUP_READY] = "cgroup_ready",
	[HTM_MSG_CGROUP_GONE] = "cgroup_gone",
	[HTM_MSG_KNOB_SET] = "knob_set",
	[HTM_MSG_KNOB_UNDO] = "knob_undo",
	[HTM_MSG_KNOB_UNDO_CGROUP] = "knob_undo_cgroup",
	[HTM_MSG_KNOB_REMEMBER] = "knob_remember",
	[HTM_MSG_CLASS_CAP] = "class_cap",
	[HTM_MSG_CLASS_FREEZE] = "class_freeze",
	[HTM_MSG_CLASS_EGRESS] = "class_egress",
	[HTM_MSG_SUBMIT] = "submit",
	[HTM_MSG_ENQUEUE] = "enqueue",
	[HTM_MSG_START_NOW] = "start_now",
	[HTM_MSG_REQUEUE] = "requeue",
	[HTM_MSG_SHED] = "shed",
	[HTM_MSG_QUEUE_LEN] = "queue_len",
	[HTM_MSG_RUN] = "run",
	[HTM_MSG_RECLASS] = "reclass",
	[HTM_MSG_RELIEF] = "relief",
	NULL,
};

struct subscriber {
	htm_bus_fn fn;
	void *data;
};

struct htm_bus {
	struct subscriber *subs[HTM_MSG_TYPE_COUNT];
	size_t nsubs[HTM_MSG_TYPE_COUNT];
	struct htm_msg *ring;		/* queued facts, head..head+n */
	size_t head, n, cap;
	uint64_t dropped;
};

int htm_bus_new(struct htm_bus **out)
{
	struct htm_bus *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	*out = b;
	return 0;
}

static void msg_release(struct htm_msg *m)
{
	free(m->owned[0]);
	free(m->owned[1]);
	m->owned[0] = m->owned[1] = NULL;
}

void htm_bus_free(struct htm_bus *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		msg_release(&b->ring[(b->head + i) % b->cap]);
	for (int t = 0; t < HTM_MSG_TYPE_COUNT; t++)
		free(b->subs[t]);
	free(b->ring);
	free(b);
}

int htm_bus_subscribe(struct htm_bus *b, enum htm_msg_type type, htm_bus_fn fn,
		      void *data)
{
	struct subscriber *s;

	if (type >= HTM_MSG_TYPE_COUNT)
		return -EINVAL;
	s = realloc(b->subs[type], (b->nsubs[type] + 1) * sizeof(*s));
	if (!s)
		return -ENOMEM;
	s[b->nsubs[type]++] = (struct subscriber){ fn, data };
	b->subs[type] = s;
	return 0;
}

static int grow(struct htm_bus *b)
{
	size_t cap = b->cap ? 2 * b->cap : 64;
	struct htm_msg *ring = malloc(cap * sizeof(*ring));

	if (!ring)
		return -ENOMEM;
	/* unwrap: the queue starts at 0 in the new ring */
	for (size_t i = 0; i < b->n; i++)
		ring[i] = b->ring[(b->head + i) % b->cap];
	free(b->ring);
	b->ring = ring;
	b->head = 0;
	b->cap = cap;
	return 0;
}

int htm_bus_post(struct htm_bus *b, struct htm_msg *m)
{
	if (b->n >= BUS_MAX_QUEUED || (b->n == b->cap && grow(b) < 0)) {
		b->dropped++;
		msg_release(m);
		return -ENOBUFS;
	}
	b->ring[(b->head + b->n) % b->cap] = *m;
	b->n++;
	m->owned[0] = m->owned[1] = NULL;
	return 0;
}

int htm_bus_send(struct htm_bus *b, struct htm_msg *m)
{
	int first = 0, r;

	for (size_t i = 0; i < b->nsubs[m->type]; i++) {
		r = b->subs[m->type][i].fn(b->subs[m->type][i].data, m);
		if (r < 0 && !first)
			first = r;
	}
	return first;
}

void htm_bus_drain(struct htm_bus *b)
{
	struct htm_msg m;

	while (b->n) {
		m = b->ring[b->head];
		b->head = (b->head + 1) % b->cap;
		b->n--;
		(void)htm_bus_send(b, &m);
		msg_release(&m);
	}
}

size_t htm_bus_pending(const struct htm_bus *b)
{
	return b->n;
}

uint64_t htm_bus_dropped(const struct htm_bus *b)
{
	return b->dropped;
}

char *htm_bus_strdup(struct htm_msg *m, const char *s)
{
	char *c;

	if (!s)
		return NULL;
	c = strdup(s);
	if (!c)
		return NULL;
	if (!m->owned[0])
		m->owned[0] = c;
	else if (!m->owned[1])
		m->owned[1] = c;
	else {
		free(c);
		return NULL;
	}
	return c;
}
