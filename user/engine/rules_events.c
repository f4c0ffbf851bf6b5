// SPDX-License-Identifier: MIT
/*
 * The policy events' vocabulary: which facts of the bus become which
 * events, with which fields. Rules match on these names and fields, so
 * they are part of the interface (README, "Events and rules").
 */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "engine/rules_impl.h"

static void task_outcome(struct htm_rules *r, const struct htm_task *t)
{
	static const char *const types[HTM_STATE_COUNT] = {
		[HTM_STATE_FAILED] = "task.failed",
		[HTM_STATE_TIMED_OUT] = "task.timeout",
		[HTM_STATE_LOST] = "task.lost",
		[HTM_STATE_EXPIRED] = "task.expired",
	};
	cJSON *f;

	if (!types[t->state])
		return;
	f = cJSON_CreateObject();
	cJSON_AddNumberToObject(f, "task", (double)t->id);
	cJSON_AddStringToObject(f, "name", t->name);
	cJSON_AddStringToObject(f, "state", htm_state_names[t->state]);
	cJSON_AddStringToObject(f, "priority", htm_priority_names[t->priority]);
	cJSON_AddStringToObject(f, "origin", htm_origin_names[t->origin]);
	cJSON_AddStringToObject(f, "risk", htm_risk_names[t->risk]);
	if (t->exit_code >= 0)
		cJSON_AddNumberToObject(f, "exit_code", t->exit_code);
	if (t->signal > 0)
		cJSON_AddNumberToObject(f, "signal", t->signal);
	if (t->reason)
		cJSON_AddStringToObject(f, "reason", t->reason);
	/* a task a rule made carries the depth of the cascade behind it */
	cJSON_AddNumberToObject(f, "depth", t->depth);
	rules_emit(r, types[t->state], LOG_INFO, f);
}

static void stress_changed(struct htm_rules *r, const struct htm_msg *m)
{
	cJSON *f = cJSON_CreateObject(), *sig;

	if (!f)
		return;
	cJSON_AddStringToObject(f, "from", htm_stress_names[m->u.stress.from]);
	cJSON_AddStringToObject(f, "to", htm_stress_names[m->u.stress.to]);
	cJSON_AddStringToObject(f, "reasons", m->u.stress.reasons ?: "");
	sig = cJSON_AddObjectToObject(f, "signals");
	for (int s = 0; sig && s < HTM_SIG_COUNT; s++)
		cJSON_AddNumberToObject(sig, htm_stress_signal_names[s],
					m->u.stress.signals[s]);
	rules_emit(r, "stress.changed",
		   m->u.stress.to > m->u.stress.from ? LOG_WARNING : LOG_NOTICE, f);
}

static void kernel_event(struct htm_rules *r, const struct htm_msg *m)
{
	const struct htm_event *e = &m->u.kernel.ev;
	cJSON *f = cJSON_CreateObject();
	char comm[17];

	if (!f)
		return;
	memcpy(comm, e->comm, 16);
	comm[16] = '\0';
	cJSON_AddNumberToObject(f, "cgroup_id", (double)e->cgid);
	if (m->u.kernel.task_id) {
		cJSON_AddNumberToObject(f, "task", (double)m->u.kernel.task_id);
		cJSON_AddStringToObject(f, "priority",
					htm_priority_names[m->u.kernel.priority]);
	}
	if (m->u.kernel.cgroup)
		cJSON_AddStringToObject(f, "cgroup", m->u.kernel.cgroup);
	cJSON_AddNumberToObject(f, "pid", e->pid);
	cJSON_AddStringToObject(f, "comm", comm);
	/* kernel timestamp to htmd reading it: what the ring buffer and loop cost */
	cJSON_AddNumberToObject(f, "delivery_us", m->u.kernel.now_mono > e->ts_ns
				? (double)(m->u.kernel.now_mono - e->ts_ns) / 1e3 : 0);
	switch (e->type) {
	case HTM_EV_BUDGET_BREACH:
		cJSON_AddNumberToObject(f, "wait_us", (double)e->value_ns / 1e3);
		cJSON_AddNumberToObject(f, "budget_us", (double)e->limit_ns / 1e3);
		rules_emit(r, "sampler.budget_breach", LOG_DEBUG, f);
		break;
	case HTM_EV_RECLAIM:
		cJSON_AddNumberToObject(f, "reclaim_us", (double)e->value_ns / 1e3);
		cJSON_AddNumberToObject(f, "pages", (double)e->count);
		rules_emit(r, "sampler.reclaim", LOG_DEBUG, f);
		break;
	case HTM_EV_OOM_KILL:
		cJSON_AddNumberToObject(f, "uid", (double)e->count);
		rules_emit(r, "sampler.oom_kill", LOG_WARNING, f);
		break;
	default:
		cJSON_Delete(f);
	}
}

int rules_on_fact(void *data, struct htm_msg *m)
{
	struct htm_rules *r = data;
	const struct htm_task *t;
	cJSON *f;

	switch (m->type) {
	case HTM_MSG_TASK_FINISHED:
		task_outcome(r, m->u.task);
		break;
	case HTM_MSG_STRESS_CHANGED:
		stress_changed(r, m);
		break;
	case HTM_MSG_KERNEL_EVENT:
		kernel_event(r, m);
		break;
	case HTM_MSG_PSI_TRIGGER:
		f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "resource", htm_resource_names[m->u.psi.res]);
		cJSON_AddStringToObject(f, "trigger", m->u.psi.spec);
		rules_emit(r, "psi.trigger", LOG_INFO, f);
		break;
	case HTM_MSG_SLA_ESCALATED:
		t = m->u.escalated.task;
		f = cJSON_CreateObject();
		cJSON_AddNumberToObject(f, "task", (double)t->id);
		cJSON_AddStringToObject(f, "name", t->name);
		cJSON_AddStringToObject(f, "from", htm_priority_names[m->u.escalated.from]);
		cJSON_AddStringToObject(f, "to", htm_priority_names[m->u.escalated.to]);
		cJSON_AddNumberToObject(f, "depth", t->depth);
		rules_emit(r, "task.sla_escalated", LOG_INFO, f);
		break;
	case HTM_MSG_SLA_BREACH:
		t = m->u.task;
		f = cJSON_CreateObject();
		cJSON_AddNumberToObject(f, "task", (double)t->id);
		cJSON_AddStringToObject(f, "name", t->name);
		cJSON_AddStringToObject(f, "state", htm_state_names[t->state]);
		cJSON_AddStringToObject(f, "priority", htm_priority_names[t->priority]);
		cJSON_AddStringToObject(f, "severity", "warning");
		cJSON_AddNumberToObject(f, "depth", t->depth);
		rules_emit(r, "task.sla_breach", LOG_WARNING, f);
		break;
	case HTM_MSG_QUEUE_DEPTH:
		f = cJSON_CreateObject();
		cJSON_AddStringToObject(f, "level", m->u.depth.level == 2 ? "critical" : "warn");
		cJSON_AddNumberToObject(f, "depth", (double)m->u.depth.depth);
		cJSON_AddStringToObject(f, "severity",
					m->u.depth.level == 2 ? "critical" : "warning");
		rules_emit(r, "queue.depth", LOG_WARNING, f);
		break;
	default:
		break;
	}
	return 0;
}
