// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "htm/proto.h"

#include "core/approval.h"
#include "core/learn.h"
#include "core/log.h"
#include "core/proto.h"
#include "core/schema.h"
#include "engine/approvals.h"

struct htm_approvals {
	struct htm_ctx *c;
	struct htm_timer timer;		/* the next expiry */
	struct htm_outcomes outcomes;	/* success per task type */
};

static bool in_change_window(const struct htm_approvals *a, uint64_t now_real)
{
	time_t t = (time_t)(now_real / 1000000000ull);
	struct tm tm;

	localtime_r(&t, &tm);
	return htm_in_change_window(&a->c->cfg.approvals, tm.tm_wday,
				    tm.tm_hour * 60 + tm.tm_min);
}

static void rearm(struct htm_approvals *a)
{
	struct htm_ctx *c = a->c;
	uint64_t first = 0, now_real = htm_real(c);
	struct htm_task *t;

	TAILQ_FOREACH(t, &c->tasks.all, table_link)
		if (t->state == HTM_STATE_PENDING_APPROVAL && t->expires_at &&
		    (!first || t->expires_at < first))
			first = t->expires_at;
	if (!first)
		htm_disarm(c, &a->timer);
	else
		htm_arm(c, &a->timer, htm_mono(c) +
			(first > now_real ? first - now_real : 0));
}

static void expired(struct htm_timer *timer)
{
	struct htm_approvals *a = htm_container_of(timer, struct htm_approvals, timer);
	uint64_t now = htm_real(a->c);
	struct htm_task *t;

	TAILQ_FOREACH(t, &a->c->tasks.all, table_link) {
		if (t->state != HTM_STATE_PENDING_APPROVAL || !t->expires_at ||
		    t->expires_at > now)
			continue;
		tasks_finish(a->c, t, HTM_STATE_EXPIRED,
			     "no decision before the approval expired; denied", NULL);
	}
	rearm(a);
}

/* An earlier task with the same name, command and target, still alive or
 * recently submitted: its id, or 0. */
static uint64_t duplicate_of(struct htm_approvals *a, const struct htm_task *t)
{
	uint64_t window = a->c->cfg.approvals.dedupe_ns, id = 0;
	char *key = htm_dedupe_key(t), *other;
	struct htm_task *o;

	if (!key || !window)
		goto out;
	TAILQ_FOREACH_REVERSE(o, &a->c->tasks.all, htm_task_list, table_link) {
		if (o == t || t->submitted_at - o->submitted_at > window)
			continue;
		if (o->state == HTM_STATE_DENIED || o->state == HTM_STATE_EXPIRED ||
		    o->state == HTM_STATE_CANCELLED)
			continue;
		other = htm_dedupe_key(o);
		if (other && strcmp(key, other) == 0)
			id = o->id;
		free(other);
		if (id)
			break;
	}
out:
	free(key);
	return id;
}

static int submit(struct htm_approvals *a, struct htm_task *t,
		  const struct htm_who *who, uint64_t *dup)
{
	struct htm_ctx *c = a->c;
	struct htm_msg m = { .u.task = t };
	struct htm_gate g;
	char why[256];
	int r;

	*dup = 0;
	htm_gate_resolve(&c->cfg.approvals, t, in_change_window(a, t->submitted_at), &g);
	t->tier = g.tier;
	t->needed = g.needed;
	t->needs_override = g.needs_override;
	if (g.needed && (*dup = duplicate_of(a, t)))
		return -EEXIST;
	if (g.needed) {
		t->state = HTM_STATE_PENDING_APPROVAL;
		t->expires_at = t->submitted_at + c->cfg.approvals.expire_ns;
	} else {
		t->state = HTM_STATE_QUEUED;
	}
	snprintf(why, sizeof(why), "tier %u (%s): %s", g.tier, htm_tier_names[g.tier],
		 g.why);
	if (!t->submitted_mono)
		t->submitted_mono = htm_mono(c);
	r = record_task_submit(c, t, who, why);
	if (r < 0)
		return r;
	m.type = HTM_MSG_TASK_ACCEPTED;
	htm_bus_post(c->bus, &m);
	htm_log(LOG_INFO, "task %llu %s: %s, %s, uid %u, %s",
		(unsigned long long)t->id, htm_state_names[t->state], t->name,
		htm_priority_names[t->priority], (unsigned)t->uid, why);
	if (g.needed) {
		rearm(a);
	} else if (g.tier == HTM_TIER_EMERGENCY) {
		struct htm_who client = htm_who(t->uid, "client");

		/* runs now, slot or no slot; said loudly */
		htm_log(LOG_CRIT, "EMERGENCY OVERRIDE: task %llu (%s) starts at once, "
			"past approvals and admission", (unsigned long long)t->id, t->name);
		record_write(c, HTM_REC_DECISION, &client, "tier 4 emergency override",
			     "started past admission", cJSON_CreateObject());
		m.type = HTM_MSG_START_NOW;
		(void)htm_bus_send(c->bus, &m);
	} else {
		m.type = HTM_MSG_ENQUEUE;
		(void)htm_bus_send(c->bus, &m);
	}
	return 0;
}

bool approvals_may_decide(struct htm_approvals *a, struct htm_conn *conn)
{
	struct htm_world *w = a->c->w;
	const struct ucred *cred = w->ops->cred(conn);
	const char *g = a->c->cfg.approvals.admin_group;
	gid_t groups[256];
	uint32_t gid;
	char *end;
	int n;

	if (cred->uid == 0)
		return true;
	if (!g[0])
		return false;
	gid = (uint32_t)strtoul(g, &end, 10);
	if (*end && w->ops->group_lookup(w, g, &gid) < 0)
		return false;
	if (cred->gid == gid)
		return true;
	n = w->ops->conn_groups(conn, groups, 256);
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

static cJSON *decision_body(const struct htm_task *t, const char *decision,
			    const char *reason, bool override)
{
	cJSON *b = cJSON_CreateObject();

	cJSON_AddNumberToObject(b, "task", (double)t->id);
	cJSON_AddStringToObject(b, "decision", decision);
	cJSON_AddStringToObject(b, "tier", htm_tier_names[t->tier]);
	cJSON_AddNumberToObject(b, "still_needed", t->needed);
	cJSON_AddBoolToObject(b, "override", override);
	if (reason)
		cJSON_AddStringToObject(b, "reason", reason);
	return b;
}

/* 0 with *t set, or an error already described in code/err. */
static int decidable(struct htm_approvals *a, struct htm_conn *conn, uint64_t id,
		     struct htm_task **t, const char **code, char *err, size_t errlen)
{
	if (!approvals_may_decide(a, conn)) {
		*code = HTM_ERR_PERMISSION;
		snprintf(err, errlen, "only root or members of the admin group%s%s may "
			 "approve or deny (you are uid %u)",
			 a->c->cfg.approvals.admin_group[0] ? " " : "",
			 a->c->cfg.approvals.admin_group,
			 (unsigned)a->c->w->ops->cred(conn)->uid);
		return -EPERM;
	}
	*t = htm_task_table_find(&a->c->tasks, id);
	if (!*t) {
		*code = HTM_ERR_NOT_FOUND;
		snprintf(err, errlen, "no task %llu", (unsigned long long)id);
		return -ENOENT;
	}
	return 0;
}

int approvals_approve(struct htm_approvals *a, struct htm_conn *conn, uint64_t id,
		      const char *reason, bool override, const char **code,
		      char *err, size_t errlen)
{
	struct htm_ctx *c = a->c;
	uint32_t uid = c->w->ops->cred(conn)->uid;
	struct htm_who who = htm_who(uid, "approver");
	struct htm_task *t;
	int r = decidable(a, conn, id, &t, code, err, errlen);

	if (r < 0)
		return r;
	*code = HTM_ERR_CONFLICT;
	if (t->tier == HTM_TIER_REVIEW && t->state != HTM_STATE_PENDING_APPROVAL) {
		if (t->reviewed) {
			snprintf(err, errlen, "task %llu was already reviewed",
				 (unsigned long long)id);
			return -EALREADY;
		}
		t->reviewed = true;
		record_write(c, HTM_REC_APPROVAL, &who, reason ? reason : "reviewed",
			     "htmctl approve", decision_body(t, "reviewed", reason, false));
		return 0;
	}
	if (t->state != HTM_STATE_PENDING_APPROVAL) {
		snprintf(err, errlen, "task %llu is %s, not waiting for approval",
			 (unsigned long long)id, htm_state_names[t->state]);
		return -EINVAL;
	}
	if (t->needs_override && !override) {
		snprintf(err, errlen, "task %llu is %s risk outside the change windows: "
			 "approve it with --override if it must run now",
			 (unsigned long long)id, htm_risk_names[t->risk]);
		return -EPERM;
	}
	for (int i = 0; i < t->napprovers; i++)
		if (t->approvers[i] == uid) {
			snprintf(err, errlen, "uid %u already approved task %llu; a quorum "
				 "needs distinct approvers", (unsigned)uid,
				 (unsigned long long)id);
			return -EALREADY;
		}
	if (t->napprovers < HTM_MAX_APPROVERS)
		t->approvers[t->napprovers++] = uid;
	if (t->needed)
		t->needed--;
	record_write(c, HTM_REC_APPROVAL, &who, reason ? reason : "approved",
		     override ? "htmctl approve --override" : "htmctl approve",
		     decision_body(t, "approve", reason, override));
	if (!t->needed) {
		struct htm_msg m = { .type = HTM_MSG_ENQUEUE, .u.task = t };

		tasks_move(c, t, HTM_STATE_QUEUED, "approved", &who);
		(void)htm_bus_send(c->bus, &m);
		rearm(a);
	}
	return 0;
}

int approvals_deny(struct htm_approvals *a, struct htm_conn *conn, uint64_t id,
		   const char *reason, const char **code, char *err, size_t errlen)
{
	struct htm_ctx *c = a->c;
	uint32_t uid = c->w->ops->cred(conn)->uid;
	struct htm_who who = htm_who(uid, "approver");
	struct htm_task *t;
	char why[256];
	int r = decidable(a, conn, id, &t, code, err, errlen);

	if (r < 0)
		return r;
	if (t->state != HTM_STATE_PENDING_APPROVAL) {
		*code = HTM_ERR_CONFLICT;
		snprintf(err, errlen, "task %llu is %s, not waiting for approval",
			 (unsigned long long)id, htm_state_names[t->state]);
		return -EINVAL;
	}
	record_write(c, HTM_REC_APPROVAL, &who, reason ? reason : "denied",
		     "htmctl deny", decision_body(t, "deny", reason, false));
	snprintf(why, sizeof(why), "denied by uid %u%s%s", (unsigned)uid,
		 reason ? ": " : "", reason ? reason : "");
	tasks_finish(c, t, HTM_STATE_DENIED, why, &who);
	rearm(a);
	return 0;
}

cJSON *approvals_json(struct htm_approvals *a)
{
	uint64_t now = htm_real(a->c), ok, bad;
	bool window = in_change_window(a, now);
	struct htm_recommendation rec;
	cJSON *arr = cJSON_CreateArray(), *o, *r;
	struct htm_task *t;

	TAILQ_FOREACH(t, &a->c->tasks.all, table_link) {
		bool review = t->tier == HTM_TIER_REVIEW && !t->reviewed &&
			      t->state != HTM_STATE_PENDING_APPROVAL;

		if (t->state != HTM_STATE_PENDING_APPROVAL && !review)
			continue;
		htm_outcomes_get(&a->outcomes, t->name, &ok, &bad);
		htm_recommend(t, ok, bad, window, &rec);
		o = htm_task_to_json(t);
		cJSON_AddStringToObject(o, "status", review ? "review" : "pending");
		cJSON_AddStringToObject(o, "tier_name", htm_tier_names[t->tier]);
		cJSON_AddNumberToObject(o, "age_s", (double)(now - t->submitted_at) / 1e9);
		if (t->expires_at)
			cJSON_AddNumberToObject(o, "expires_in_s", t->expires_at > now
						? (double)(t->expires_at - now) / 1e9 : 0);
		r = cJSON_AddObjectToObject(o, "recommendation");
		cJSON_AddStringToObject(r, "verdict", rec.verdict);
		cJSON_AddStringToObject(r, "reasons", rec.reasons);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static void learn(struct htm_approvals *a, const char *name, enum htm_state s)
{
	if (s == HTM_STATE_SUCCEEDED || s == HTM_STATE_FAILED || s == HTM_STATE_TIMED_OUT)
		htm_outcomes_record(&a->outcomes, name, s == HTM_STATE_SUCCEEDED);
}

/* Replay: an approval record adds its approver back to the task; a final
 * state is an outcome learned. */
void approvals_replay(struct htm_approvals *a, uint16_t type, const cJSON *b)
{
	const cJSON *who = cJSON_GetObjectItemCaseSensitive(b, "who");
	const char *d = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "decision"));
	struct htm_task *t = htm_task_table_find(&a->c->tasks,
		htm_json_member_uint(b, "task", 1ull << 53, 0));
	uint32_t uid = (uint32_t)htm_json_member_uint(who, "uid", UINT32_MAX, UINT32_MAX);
	int to;

	if (type == HTM_REC_TASK_STATE) {
		to = htm_name_lookup(htm_state_names, cJSON_GetStringValue(
			cJSON_GetObjectItemCaseSensitive(b, "to")));
		if (t && to >= 0)
			learn(a, t->name, to);
		return;
	}
	if (type != HTM_REC_APPROVAL || !t || !d || uid == UINT32_MAX)
		return;
	if (!strcmp(d, "reviewed")) {
		t->reviewed = true;
	} else if (!strcmp(d, "approve")) {
		if (t->napprovers < HTM_MAX_APPROVERS)
			t->approvers[t->napprovers++] = uid;
		if (t->needed)
			t->needed--;
	}
}

void approvals_recover(struct htm_approvals *a)
{
	rearm(a);
}

static int on_msg(void *data, struct htm_msg *m)
{
	struct htm_approvals *a = data;

	switch (m->type) {
	case HTM_MSG_SUBMIT:
		return submit(a, m->u.submit.task, &m->u.submit.who, m->u.submit.dup);
	case HTM_MSG_TASK_FINISHED:
		learn(a, m->u.task->name, m->u.task->state);
		return 0;
	default:
		return 0;
	}
}

int approvals_new(struct htm_approvals **out, struct htm_ctx *c)
{
	struct htm_approvals *a = calloc(1, sizeof(*a));
	int r;

	if (!a)
		return -ENOMEM;
	a->c = c;
	htm_timer_init(&a->timer, expired);
	htm_outcomes_init(&a->outcomes);
	r = htm_bus_subscribe(c->bus, HTM_MSG_SUBMIT, on_msg, a);
	if (r == 0)
		r = htm_bus_subscribe(c->bus, HTM_MSG_TASK_FINISHED, on_msg, a);
	if (r < 0) {
		htm_outcomes_free(&a->outcomes);
		free(a);
		return r;
	}
	*out = a;
	return 0;
}

void approvals_free(struct htm_approvals *a)
{
	if (!a)
		return;
	htm_disarm(a->c, &a->timer);
	htm_outcomes_free(&a->outcomes);
	free(a);
}
