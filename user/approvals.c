// SPDX-License-Identifier: MIT
/*
 * Approval gates in the daemon. Every new task, whoever made it (a client,
 * a rule, an escalation), comes through manager_submit(): its tier is
 * resolved (core/approval.c) and it is queued, held for approval, or (tier
 * 4) started at once past the slot limit with a loud audit record. Only
 * root or members of the admin group (SO_PEERCRED, SO_PEERGROUPS) decide;
 * every decision is journaled with who and why; pending items expire.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "htm/proto.h"

#include "core/approval.h"
#include "core/proto.h"
#include "core/schema.h"
#include "manager.h"
#include "sys/log.h"

static bool in_change_window(const struct htm_manager *m, uint64_t now_real)
{
	time_t t = (time_t)(now_real / 1000000000ull);
	struct tm tm;

	localtime_r(&t, &tm);
	return htm_in_change_window(&m->cfg.approvals, tm.tm_wday,
				    tm.tm_hour * 60 + tm.tm_min);
}

static void approvals_rearm(struct htm_manager *m)
{
	uint64_t first = 0, now_real = htm_now_real();
	struct htm_task *t;

	TAILQ_FOREACH(t, &m->tasks.all, table_link)
		if (t->state == HTM_STATE_PENDING_APPROVAL && t->expires_at &&
		    (!first || t->expires_at < first))
			first = t->expires_at;
	if (!first)
		htm_timer_disarm(&m->approval_timer);
	else
		htm_timer_arm(&m->approval_timer, htm_now_mono() +
			      (first > now_real ? first - now_real : 0));
}

void approvals_expired(struct htm_timer *timer)
{
	struct htm_manager *m = (struct htm_manager *)((char *)timer -
		offsetof(struct htm_manager, approval_timer));
	uint64_t now = htm_now_real();
	struct htm_task *t;

	TAILQ_FOREACH(t, &m->tasks.all, table_link) {
		if (t->state != HTM_STATE_PENDING_APPROVAL || !t->expires_at ||
		    t->expires_at > now)
			continue;
		manager_task_move(m, t, HTM_STATE_EXPIRED,
				  "no decision before the approval expired; denied", NULL);
		manager_task_finished(m, t);
	}
	approvals_rearm(m);
}

/* An earlier task with the same name, command and target, still alive or
 * recently submitted: its id, or 0. */
static uint64_t duplicate_of(struct htm_manager *m, const struct htm_task *t)
{
	uint64_t window = m->cfg.approvals.dedupe_ns, id = 0;
	char *key = htm_dedupe_key(t), *other;
	struct htm_task *o;

	if (!key || !window)
		goto out;
	TAILQ_FOREACH_REVERSE(o, &m->tasks.all, htm_task_list, table_link) {
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

int manager_submit(struct htm_manager *m, struct htm_task *t, cJSON *who,
		   uint64_t *dup)
{
	struct htm_gate g;
	char why[256];
	int r;

	*dup = 0;
	htm_gate_resolve(&m->cfg.approvals, t, in_change_window(m, t->submitted_at), &g);
	t->tier = g.tier;
	t->needed = g.needed;
	t->needs_override = g.needs_override;
	if (g.needed && (*dup = duplicate_of(m, t))) {
		cJSON_Delete(who);
		return -EEXIST;
	}
	if (g.needed) {
		t->state = HTM_STATE_PENDING_APPROVAL;
		t->expires_at = t->submitted_at + m->cfg.approvals.expire_ns;
	} else {
		t->state = HTM_STATE_QUEUED;
	}
	snprintf(why, sizeof(why), "tier %u (%s): %s", g.tier, htm_tier_names[g.tier],
		 g.why);
	if (!t->submitted_mono)
		t->submitted_mono = htm_now_mono();
	r = persist_task_submit(m, t, who, why);
	if (r < 0)
		return r;
	sla_watch(m, t);
	htm_log(LOG_INFO, "task %llu %s: %s, %s, uid %u, %s",
		(unsigned long long)t->id, htm_state_names[t->state], t->name,
		htm_priority_names[t->priority], (unsigned)t->uid, why);
	if (g.needed) {
		approvals_rearm(m);
	} else if (g.tier == HTM_TIER_EMERGENCY) {
		/* runs now, slot or no slot; said loudly */
		htm_log(LOG_CRIT, "EMERGENCY OVERRIDE: task %llu (%s) starts at once, "
			"past approvals and admission", (unsigned long long)t->id, t->name);
		persist_write(m, HTM_REC_DECISION, persist_who(t->uid, "client"),
			      "tier 4 emergency override", "started past admission",
			      cJSON_CreateObject());
		persist_task_starting(m, t);
		manager_slot_take(m, t, false);
	} else {
		htm_queue_push(&m->queue, t);
	}
	return 0;
}

/* Root, or a member of the configured admin group. */
bool manager_may_decide(struct htm_manager *m, struct htm_conn *c)
{
	const struct ucred *cred = htm_conn_cred(c);
	const char *g = m->cfg.approvals.admin_group;
	struct group grp, *res = NULL;
	gid_t gid, groups[256];
	char buf[4096], *end;
	int n;

	if (cred->uid == 0)
		return true;
	if (!g[0])
		return false;
	gid = (gid_t)strtoul(g, &end, 10);
	if (*end) {
		if (getgrnam_r(g, &grp, buf, sizeof(buf), &res) != 0 || !res)
			return false;
		gid = res->gr_gid;
	}
	if (cred->gid == gid)
		return true;
	n = htm_conn_groups(c, groups, 256);
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
static int decidable(struct htm_manager *m, struct htm_conn *c, uint64_t id,
		     struct htm_task **t, const char **code, char *err, size_t errlen)
{
	if (!manager_may_decide(m, c)) {
		*code = HTM_ERR_PERMISSION;
		snprintf(err, errlen, "only root or members of the admin group%s%s may "
			 "approve or deny (you are uid %u)",
			 m->cfg.approvals.admin_group[0] ? " " : "",
			 m->cfg.approvals.admin_group, (unsigned)htm_conn_cred(c)->uid);
		return -EPERM;
	}
	*t = htm_task_table_find(&m->tasks, id);
	if (!*t) {
		*code = HTM_ERR_NOT_FOUND;
		snprintf(err, errlen, "no task %llu", (unsigned long long)id);
		return -ENOENT;
	}
	return 0;
}

int approvals_approve(struct htm_manager *m, struct htm_conn *c, uint64_t id,
		      const char *reason, bool override, const char **code,
		      char *err, size_t errlen)
{
	uint32_t uid = htm_conn_cred(c)->uid;
	struct htm_task *t;
	int r = decidable(m, c, id, &t, code, err, errlen);

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
		persist_write(m, HTM_REC_APPROVAL, persist_who(uid, "approver"),
			      reason ? reason : "reviewed", "htmctl approve",
			      decision_body(t, "reviewed", reason, false));
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
	persist_write(m, HTM_REC_APPROVAL, persist_who(uid, "approver"),
		      reason ? reason : "approved", override ? "htmctl approve --override"
							      : "htmctl approve",
		      decision_body(t, "approve", reason, override));
	if (!t->needed) {
		manager_task_move(m, t, HTM_STATE_QUEUED, "approved", persist_who(uid, "approver"));
		htm_queue_push(&m->queue, t);
		approvals_rearm(m);
	}
	return 0;
}

int approvals_deny(struct htm_manager *m, struct htm_conn *c, uint64_t id,
		   const char *reason, const char **code, char *err, size_t errlen)
{
	uint32_t uid = htm_conn_cred(c)->uid;
	struct htm_task *t;
	char why[256];
	int r = decidable(m, c, id, &t, code, err, errlen);

	if (r < 0)
		return r;
	if (t->state != HTM_STATE_PENDING_APPROVAL) {
		*code = HTM_ERR_CONFLICT;
		snprintf(err, errlen, "task %llu is %s, not waiting for approval",
			 (unsigned long long)id, htm_state_names[t->state]);
		return -EINVAL;
	}
	persist_write(m, HTM_REC_APPROVAL, persist_who(uid, "approver"),
		      reason ? reason : "denied", "htmctl deny",
		      decision_body(t, "deny", reason, false));
	snprintf(why, sizeof(why), "denied by uid %u%s%s", (unsigned)uid,
		 reason ? ": " : "", reason ? reason : "");
	manager_task_move(m, t, HTM_STATE_DENIED, why, persist_who(uid, "approver"));
	manager_task_finished(m, t);
	approvals_rearm(m);
	return 0;
}

cJSON *approvals_json(struct htm_manager *m)
{
	uint64_t now = htm_now_real(), ok, bad;
	bool window = in_change_window(m, now);
	struct htm_recommendation rec;
	cJSON *a = cJSON_CreateArray(), *o, *r;
	struct htm_task *t;

	TAILQ_FOREACH(t, &m->tasks.all, table_link) {
		bool review = t->tier == HTM_TIER_REVIEW && !t->reviewed &&
			      t->state != HTM_STATE_PENDING_APPROVAL;

		if (t->state != HTM_STATE_PENDING_APPROVAL && !review)
			continue;
		htm_outcomes_get(&m->outcomes, t->name, &ok, &bad);
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
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

/* Replay: an approval record adds its approver back to the task. */
void approvals_replay(struct htm_manager *m, const cJSON *b)
{
	const cJSON *who = cJSON_GetObjectItemCaseSensitive(b, "who");
	const char *d = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "decision"));
	struct htm_task *t = htm_task_table_find(&m->tasks,
		htm_json_member_uint(b, "task", 1ull << 53, 0));
	uint32_t uid = (uint32_t)htm_json_member_uint(who, "uid", UINT32_MAX, UINT32_MAX);

	if (!t || !d || uid == UINT32_MAX)
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

void approvals_recover(struct htm_manager *m)
{
	approvals_rearm(m);
}
