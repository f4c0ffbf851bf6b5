// SPDX-License-Identifier: MIT
/* Requests from the control socket: validated, authorised, answered once. */
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "htm/proto.h"

#include "core/duration.h"
#include "core/governor.h"
#include "core/proto.h"
#include "manager.h"
#include "sys/exec.h"
#include "sys/log.h"

static void reply_error(struct htm_manager *m, struct htm_conn *c,
			const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void reply_error(struct htm_manager *m, struct htm_conn *c,
			const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	manager_reply(m, c, htm_response_error(code, msg));
}

static cJSON *task_json(struct htm_manager *m, const struct htm_task *t)
{
	cJSON *o = htm_task_to_json(t);
	char path[PATH_MAX];

	if (o) {
		if (htm_pathf(path, sizeof(path), "%s/%llu.log", m->logs_dir,
			      (unsigned long long)t->id) == 0)
			cJSON_AddStringToObject(o, "log", path);
		cJSON_AddItemToObject(o, "usage", monitor_usage_json(m, t));
		if (t->sla_ns && !htm_state_is_terminal(t->state)) {
			uint64_t dl = htm_sla_deadline_mono(t), now = htm_now_mono();

			/* negative once the deadline has passed */
			cJSON_AddNumberToObject(o, "sla_remaining",
						((double)dl - (double)now) / 1e9);
		}
		cJSON_AddItemToObject(o, "egress", egress_json(m, t));
	}
	return o;
}

void commands_reply_task(struct htm_manager *m, struct htm_conn *c,
			 const struct htm_task *t, bool timed_out)
{
	cJSON *r;

	if (!t) {
		reply_error(m, c, HTM_ERR_NOT_FOUND, "task no longer exists");
		return;
	}
	r = htm_response_ok();
	if (r && (!cJSON_AddItemToObject(r, "task", task_json(m, t)) ||
		  !cJSON_AddBoolToObject(r, "timed_out", timed_out))) {
		cJSON_Delete(r);
		r = NULL;
	}
	manager_reply(m, c, r);
}

static char **argv_copy(const cJSON *arr)
{
	int n = cJSON_GetArraySize(arr);
	char **argv = calloc((size_t)n + 1, sizeof(char *));

	for (int i = 0; argv && i < n; i++) {
		argv[i] = strdup(cJSON_GetArrayItem(arr, i)->valuestring);
		if (!argv[i]) {
			for (int j = 0; j < i; j++)
				free(argv[j]);
			free(argv);
			return NULL;
		}
	}
	return argv;
}

static void cmd_submit(struct htm_manager *m, struct htm_conn *c,
		       const struct htm_request *req)
{
	const struct ucred *cred = htm_conn_cred(c);
	struct htm_identity who;
	struct htm_task *t;
	uid_t uid = cred->uid;
	gid_t gid = cred->gid;
	char base[256];
	uint64_t dup;
	int r;

	if (req->user) {
		if (htm_identity_from_name(req->user, &who) < 0) {
			reply_error(m, c, HTM_ERR_BAD_REQUEST, "$.user: no such user \"%s\"",
				    req->user);
			return;
		}
		if (cred->uid != 0 && who.uid != cred->uid) {
			reply_error(m, c, HTM_ERR_PERMISSION,
				    "only root may submit as another user (you are uid %u)",
				    (unsigned)cred->uid);
			return;
		}
		uid = who.uid;
		gid = who.gid;
	}
	if (req->cwd && req->cwd[0] != '/') {
		reply_error(m, c, HTM_ERR_BAD_REQUEST, "$.cwd: must be an absolute path");
		return;
	}
	t = htm_task_table_create(&m->tasks);
	if (!t) {
		reply_error(m, c, HTM_ERR_INTERNAL, "out of memory");
		return;
	}
	snprintf(base, sizeof(base), "%s",
		 cJSON_GetArrayItem(req->argv, 0)->valuestring);
	t->argv = argv_copy(req->argv);
	t->name = strdup(req->name ? req->name : basename(base));
	t->cwd = req->cwd ? strdup(req->cwd) : NULL;
	t->batch = req->batch ? strdup(req->batch) : NULL;
	if (!t->argv || !t->name || (req->cwd && !t->cwd) ||
	    (req->batch && !t->batch)) {
		htm_task_table_remove(&m->tasks, t);
		htm_task_free(t);
		reply_error(m, c, HTM_ERR_INTERNAL, "out of memory");
		return;
	}
	t->priority = req->priority;
	t->origin = req->origin;
	t->risk = req->risk;
	t->uid = uid;
	t->gid = gid;
	t->sla_ns = req->sla_ns;
	t->timeout_ns = req->timeout_ns;
	t->budget_ns = req->budget_ns;
	t->requires_approval = req->approval;
	t->submitted_at = htm_now_real();
	t->submitted_mono = htm_now_mono();
	if ((req->rollback && !(t->rollback = strdup(req->rollback))) ||
	    (req->target && !(t->target = strdup(req->target)))) {
		htm_task_table_remove(&m->tasks, t);
		htm_task_free(t);
		reply_error(m, c, HTM_ERR_INTERNAL, "out of memory");
		return;
	}
	r = manager_submit(m, t, persist_who(cred->uid, "client"), &dup);
	if (r < 0) {
		uint64_t id = t->id;

		htm_task_table_remove(&m->tasks, t);
		htm_task_free(t);
		if (r == -EEXIST)
			reply_error(m, c, HTM_ERR_CONFLICT, "duplicate of task %llu: same "
				    "name, command and target within the dedupe window",
				    (unsigned long long)dup);
		else
			reply_error(m, c, HTM_ERR_INTERNAL, "cannot journal task %llu: %s",
				    (unsigned long long)id, strerror(-r));
		return;
	}
	/* admission happens in the loop's tick, after this batch */
	commands_reply_task(m, c, t, false);
}

static void cmd_list(struct htm_manager *m, struct htm_conn *c,
		     const struct htm_request *req)
{
	cJSON *r = htm_response_ok(), *arr = cJSON_CreateArray();
	struct htm_task *t;
	bool ok = r && arr;

	TAILQ_FOREACH(t, &m->tasks.all, table_link) {
		if (!ok)
			break;
		if (req->has_state && t->state != (enum htm_state)req->state)
			continue;
		ok = cJSON_AddItemToArray(arr, task_json(m, t));
	}
	if (ok && cJSON_AddItemToObject(r, "tasks", arr)) {
		manager_reply(m, c, r);
		return;
	}
	cJSON_Delete(arr);
	cJSON_Delete(r);
	manager_reply(m, c, NULL);
}

static struct htm_task *find_or_reply(struct htm_manager *m, struct htm_conn *c,
				      uint64_t id)
{
	struct htm_task *t = htm_task_table_find(&m->tasks, id);

	if (!t)
		reply_error(m, c, HTM_ERR_NOT_FOUND, "no task %llu", (unsigned long long)id);
	return t;
}

static int wait_for(struct htm_manager *m, struct htm_conn *c,
		    const struct htm_task *t, uint64_t timeout_ns)
{
	struct waiter *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->conn = c;
	w->task_id = t->id;
	w->deadline = timeout_ns ? htm_now_mono() + timeout_ns : 0;
	LIST_INSERT_HEAD(&m->waiters, w, link);
	manager_waiters_rearm(m);
	return 0;
}

static void cmd_cancel(struct htm_manager *m, struct htm_conn *c,
		       const struct htm_request *req)
{
	const struct ucred *cred = htm_conn_cred(c);
	struct htm_task *t = find_or_reply(m, c, req->id);
	char why[64];

	if (!t)
		return;
	if (cred->uid != 0 && cred->uid != t->uid) {
		reply_error(m, c, HTM_ERR_PERMISSION,
			    "task %llu belongs to uid %u; only it or root may cancel it",
			    (unsigned long long)t->id, (unsigned)t->uid);
		return;
	}
	if (htm_state_is_terminal(t->state)) {
		reply_error(m, c, HTM_ERR_CONFLICT, "task %llu already %s",
			    (unsigned long long)t->id, htm_state_names[t->state]);
		return;
	}
	if (t->placed) {
		reply_error(m, c, HTM_ERR_CONFLICT, "task %llu is the placed cgroup %s: "
			    "htmctl unplace it, htmd does not kill what it did not start",
			    (unsigned long long)t->id, t->cgroup);
		return;
	}
	snprintf(why, sizeof(why), "cancelled by uid %u", (unsigned)cred->uid);
	htm_log(LOG_INFO, "task %llu: %s", (unsigned long long)t->id, why);
	if (t->state == HTM_STATE_QUEUED) {
		htm_queue_remove(&m->queue, t);
		manager_task_move(m, t, HTM_STATE_CANCELLED, why,
				  persist_who(cred->uid, "client"));
		manager_task_finished(m, t);
		commands_reply_task(m, c, t, false);
		return;
	}
	if (t->state == HTM_STATE_PREFLIGHT && t->runtime == NULL) {
		/* admitted but not started: it never runs */
		TAILQ_REMOVE(&m->starting, t, queue_link);
		manager_slot_release(m, t);
		manager_task_move(m, t, HTM_STATE_CANCELLED, why,
				  persist_who(cred->uid, "client"));
		manager_task_finished(m, t);
		commands_reply_task(m, c, t, false);
		return;
	}
	if (t->state != HTM_STATE_RUNNING) {
		manager_task_move(m, t, HTM_STATE_CANCELLED, why,
				  persist_who(cred->uid, "client"));
		manager_task_finished(m, t);
		commands_reply_task(m, c, t, false);
		return;
	}
	/* answered when the whole tree is gone and the cgroup removed */
	if (wait_for(m, c, t, 0) < 0) {
		reply_error(m, c, HTM_ERR_INTERNAL, "out of memory");
		return;
	}
	runner_kill(m, t, HTM_STATE_CANCELLED, why);
}

static void cmd_wait(struct htm_manager *m, struct htm_conn *c,
		     const struct htm_request *req)
{
	struct htm_task *t = find_or_reply(m, c, req->id);

	if (!t)
		return;
	if (htm_state_is_terminal(t->state) || (req->has_wait && !req->wait_ns)) {
		commands_reply_task(m, c, t, !htm_state_is_terminal(t->state));
		return;
	}
	if (wait_for(m, c, t, req->has_wait ? req->wait_ns : 0) < 0)
		reply_error(m, c, HTM_ERR_INTERNAL, "out of memory");
}

static cJSON *names_of_mask(unsigned mask, bool set)
{
	cJSON *a = cJSON_CreateArray();

	for (int i = 0; a && i < HTM_CTRL_COUNT; i++)
		if (!!(mask & HTM_CTRL_BIT(i)) == set)
			cJSON_AddItemToArray(a, cJSON_CreateString(htm_controller_names[i]));
	return a;
}

static void cmd_status(struct htm_manager *m, struct htm_conn *c)
{
	cJSON *r = htm_response_ok(), *s, *o, *q;
	unsigned by_state[HTM_STATE_COUNT] = { 0 };
	struct htm_task *t;

	if (!r || !(s = cJSON_AddObjectToObject(r, "status"))) {
		cJSON_Delete(r);
		manager_reply(m, c, NULL);
		return;
	}
	TAILQ_FOREACH(t, &m->tasks.all, table_link)
		by_state[t->state]++;
	cJSON_AddStringToObject(s, "version", HTM_VERSION);
	cJSON_AddNumberToObject(s, "pid", getpid());
	cJSON_AddNumberToObject(s, "uptime",
				(double)(htm_now_mono() - m->start_mono) / 1e9);
	cJSON_AddBoolToObject(s, "observe", m->cfg.observe);
	cJSON_AddStringToObject(s, "socket", m->cfg.socket);
	cJSON_AddStringToObject(s, "state_dir", m->cfg.state_dir);
	cJSON_AddStringToObject(s, "config", m->config_path[0] ? m->config_path
							       : "(built-in defaults)");
	o = cJSON_AddObjectToObject(s, "slots");
	cJSON_AddNumberToObject(o, "total", m->slots);
	cJSON_AddNumberToObject(o, "busy", m->running);
	q = cJSON_AddObjectToObject(s, "queue");
	for (int p = 0; q && p < HTM_PRIO_COUNT; p++)
		cJSON_AddNumberToObject(q, htm_priority_names[p], m->queue.len[p]);
	o = cJSON_AddObjectToObject(s, "tasks");
	for (int i = 0; o && i < HTM_STATE_COUNT; i++)
		cJSON_AddNumberToObject(o, htm_state_names[i], by_state[i]);
	o = cJSON_AddObjectToObject(s, "cgroup");
	cJSON_AddStringToObject(o, "mount", m->cg_mount);
	cJSON_AddStringToObject(o, "root", m->cg_root);
	cJSON_AddItemToObject(o, "enforced", names_of_mask(m->controllers, true));
	cJSON_AddItemToObject(o, "missing", names_of_mask(m->controllers, false));
	q = cJSON_AddObjectToObject(o, "controls");
	for (int k = 0; q && k < HTM_CONTROL_COUNT; k++)
		cJSON_AddBoolToObject(q, htm_control_files[k],
				      m->control[k] && !m->cfg.observe);
	cJSON_AddItemToObject(s, "sampler", monitor_status_json(m));
	cJSON_AddItemToObject(s, "storm", storm_json(m));
	cJSON_AddItemToObject(s, "governor", governor_json(m));
	cJSON_AddItemToObject(s, "reactions", governor_reactions_json(m));
	cJSON_AddItemToObject(s, "placements", placements_json(m));
	o = cJSON_AddObjectToObject(s, "sla");
	cJSON_AddNumberToObject(o, "watched", (double)sla_watched(m));
	cJSON_AddNumberToObject(o, "escalations", (double)m->sla_escalations);
	cJSON_AddNumberToObject(o, "breaches", (double)m->sla_breaches);
	o = cJSON_AddObjectToObject(s, "origins");
	for (int g = 0; o && g < HTM_ORIGIN_COUNT; g++) {
		cJSON *x = cJSON_AddObjectToObject(o, htm_origin_names[g]);
		uint64_t now = htm_now_mono();

		cJSON_AddNumberToObject(x, "share_pct", m->cfg.fairshare.share[g] * 100);
		cJSON_AddNumberToObject(x, "running", m->fair.o[g].running);
		cJSON_AddNumberToObject(x, "queued", (double)m->queue.origin_len[g]);
		cJSON_AddNumberToObject(x, "started", (double)m->fair.o[g].started);
		cJSON_AddNumberToObject(x, "starved", (double)m->fair.o[g].starved);
		cJSON_AddNumberToObject(x, "started_last_minute",
					(double)htm_fair_recent_starts(&m->fair, g, now));
		cJSON_AddNumberToObject(x, "utilization_pct",
					100 * htm_fair_utilization(&m->fair, g, m->slots, now));
	}
	o = cJSON_AddObjectToObject(s, "egress");
	cJSON_AddStringToObject(o, "state", m->egress ? "attached" : "unavailable");
	if (!m->egress)
		cJSON_AddStringToObject(o, "reason", m->egress_error);
	cJSON_AddItemToObject(s, "changed_knobs", knobs_json(m));
	cJSON_AddNumberToObject(s, "rules", (double)m->rules.n);
	o = cJSON_AddObjectToObject(s, "journal");
	if (o && m->journal) {
		uint64_t seg, sealed, commits, errors;

		htm_journal_stats(m->journal, &seg, &sealed, &commits, &errors);
		cJSON_AddStringToObject(o, "dir", m->journal_dir);
		cJSON_AddNumberToObject(o, "last_seq", (double)htm_journal_last(m->journal));
		cJSON_AddNumberToObject(o, "durable_seq", (double)htm_journal_durable(m->journal));
		cJSON_AddNumberToObject(o, "commits", (double)commits);
		cJSON_AddNumberToObject(o, "segment_bytes", (double)seg);
		cJSON_AddNumberToObject(o, "sealed_segments", (double)sealed);
		cJSON_AddNumberToObject(o, "write_errors", (double)errors);
		cJSON_AddNumberToObject(o, "replayed_records", (double)m->replayed);
		cJSON_AddNumberToObject(o, "replay_ms", m->replay_ms);
	}
	cJSON_AddNumberToObject(s, "connections", htm_api_connections(m->api));
	manager_reply(m, c, r);
}

static void reply_with(struct htm_manager *m, struct htm_conn *c, const char *key,
		       cJSON *value)
{
	cJSON *r = htm_response_ok();

	if (!r || !value || !cJSON_AddItemToObject(r, key, value)) {
		cJSON_Delete(r);
		cJSON_Delete(value);
		r = NULL;
	}
	manager_reply(m, c, r);
}

/* An outside event: root and the admin group only, since rules may act on
 * it as root. */
static void cmd_emit(struct htm_manager *m, struct htm_conn *c,
		     const struct htm_request *req)
{
	const struct ucred *cred = htm_conn_cred(c);
	cJSON *ev, *f;

	if (!manager_may_decide(m, c)) {
		reply_error(m, c, HTM_ERR_PERMISSION, "only root or the admin group may "
			    "emit events (you are uid %u)", (unsigned)cred->uid);
		return;
	}
	ev = req->fields ? cJSON_Duplicate(req->fields, true) : cJSON_CreateObject();
	if (!ev) {
		reply_error(m, c, HTM_ERR_INTERNAL, "out of memory");
		return;
	}
	/* the daemon's own keys are not the caller's to set */
	cJSON_DeleteItemFromObjectCaseSensitive(ev, "type");
	cJSON_DeleteItemFromObjectCaseSensitive(ev, "seq");
	cJSON_DeleteItemFromObjectCaseSensitive(ev, "at");
	cJSON_DeleteItemFromObjectCaseSensitive(ev, "depth");
	cJSON_DeleteItemFromObjectCaseSensitive(ev, "severity");
	cJSON_AddStringToObject(ev, "severity", htm_severity_names[req->severity]);
	cJSON_AddStringToObject(ev, "origin", "external");
	cJSON_AddNumberToObject(ev, "emitted_by", cred->uid);
	f = cJSON_Duplicate(ev, true);
	manager_event(m, req->type, LOG_INFO, ev);
	reply_with(m, c, "event", f);
}

static void cmd_reload(struct htm_manager *m, struct htm_conn *c)
{
	char err[512];

	if (!manager_may_decide(m, c)) {
		reply_error(m, c, HTM_ERR_PERMISSION, "only root or the admin group may "
			    "reload");
		return;
	}
	if (manager_reload(m, err, sizeof(err)) < 0) {
		reply_error(m, c, HTM_ERR_BAD_REQUEST, "%s; the old configuration and "
			    "rules stay", err);
		return;
	}
	reply_with(m, c, "rules", rules_json(m));
}

static void cmd_decide(struct htm_manager *m, struct htm_conn *c,
		       const struct htm_request *req, bool approve)
{
	const char *code;
	char err[256];
	int r = approve ? approvals_approve(m, c, req->id, req->reason, req->override,
					    &code, err, sizeof(err))
			: approvals_deny(m, c, req->id, req->reason, &code, err, sizeof(err));

	if (r < 0) {
		manager_reply(m, c, htm_response_error(code, err));
		return;
	}
	commands_reply_task(m, c, htm_task_table_find(&m->tasks, req->id), false);
}

static void cmd_top(struct htm_manager *m, struct htm_conn *c)
{
	cJSON *r = htm_response_ok(), *top = monitor_top_json(m);

	if (!r || !top || !cJSON_AddItemToObject(r, "top", top)) {
		cJSON_Delete(r);
		cJSON_Delete(top);
		r = NULL;
	}
	manager_reply(m, c, r);
}

void commands_handle(void *data, struct htm_conn *c, const char *line,
		     size_t len)
{
	struct htm_manager *m = data;
	struct htm_request req;
	const char *code;
	char err[512];

	if (htm_request_parse(&req, line, len, &code, err, sizeof(err)) < 0) {
		htm_log(LOG_DEBUG, "bad request from uid %u: %s",
			(unsigned)htm_conn_cred(c)->uid, err);
		manager_reply(m, c, htm_response_error(code, err));
		return;
	}
	switch (req.cmd) {
	case HTM_CMD_SUBMIT:
		cmd_submit(m, c, &req);
		break;
	case HTM_CMD_LIST:
		cmd_list(m, c, &req);
		break;
	case HTM_CMD_SHOW: {
		struct htm_task *t = find_or_reply(m, c, req.id);

		if (t)
			commands_reply_task(m, c, t, false);
		break;
	}
	case HTM_CMD_CANCEL:
		cmd_cancel(m, c, &req);
		break;
	case HTM_CMD_WAIT:
		cmd_wait(m, c, &req);
		break;
	case HTM_CMD_STATUS:
		cmd_status(m, c);
		break;
	case HTM_CMD_TOP:
		cmd_top(m, c);
		break;
	case HTM_CMD_LOG:
		/* answered from the worker thread's scan */
		if (audit_log(m, c, &req, &code, err, sizeof(err)) < 0)
			manager_reply(m, c, htm_response_error(code, err));
		break;
	case HTM_CMD_APPROVALS:
		reply_with(m, c, "approvals", approvals_json(m));
		break;
	case HTM_CMD_APPROVE:
	case HTM_CMD_DENY:
		cmd_decide(m, c, &req, req.cmd == HTM_CMD_APPROVE);
		break;
	case HTM_CMD_EMIT:
		cmd_emit(m, c, &req);
		break;
	case HTM_CMD_RULES:
		reply_with(m, c, "rules", rules_json(m));
		break;
	case HTM_CMD_RULES_TEST:
		reply_with(m, c, "test", rules_test(m, req.event));
		break;
	case HTM_CMD_RELOAD:
		cmd_reload(m, c);
		break;
	case HTM_CMD_PLACE:
	case HTM_CMD_UNPLACE: {
		struct htm_task *t = NULL;
		int r = req.cmd == HTM_CMD_PLACE
			? placement_place(m, c, req.path, req.priority, req.budget_ns, &t,
					  &code, err, sizeof(err))
			: placement_unplace(m, c, req.path, &t, &code, err, sizeof(err));

		if (r < 0)
			manager_reply(m, c, htm_response_error(code, err));
		else
			commands_reply_task(m, c, t, false);
		break;
	}
	}
	htm_request_free(&req);
}

void commands_conn_closed(void *data, struct htm_conn *c)
{
	struct htm_manager *m = data;
	struct waiter *w, *next;

	persist_conn_closed(m, c);
	audit_conn_closed(m, c);
	for (w = LIST_FIRST(&m->waiters); w; w = next) {
		next = LIST_NEXT(w, link);
		if (w->conn == c) {
			LIST_REMOVE(w, link);
			free(w);
		}
	}
	manager_waiters_rearm(m);
}
