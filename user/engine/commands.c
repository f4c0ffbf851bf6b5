// SPDX-License-Identifier: MIT
/* Requests from the control socket: validated, authorised, answered once. */
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htm/proto.h"

#include "core/duration.h"
#include "core/governor.h"
#include "core/log.h"
#include "core/pathfmt.h"
#include "core/proto.h"
#include "engine/engine_impl.h"

static struct htm_world *W(struct htm_engine *e)
{
	return e->ctx.w;
}

static void reply_error(struct htm_engine *e, struct htm_conn *c,
			const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void reply_error(struct htm_engine *e, struct htm_conn *c,
			const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	engine_reply(e, c, htm_response_error(code, msg));
}

static cJSON *task_json(struct htm_engine *e, const struct htm_task *t)
{
	cJSON *o = htm_task_to_json(t);
	char path[PATH_MAX];

	if (o) {
		htm_log_path(&e->ctx, t->id, path, sizeof(path));
		if (path[0])
			cJSON_AddStringToObject(o, "log", path);
		cJSON_AddItemToObject(o, "usage", monitor_usage_json(e->monitor, t));
		if (t->sla_ns && !htm_state_is_terminal(t->state)) {
			uint64_t dl = htm_sla_deadline_mono(t), now = htm_mono(&e->ctx);

			/* negative once the deadline has passed */
			cJSON_AddNumberToObject(o, "sla_remaining",
						((double)dl - (double)now) / 1e9);
		}
		cJSON_AddItemToObject(o, "egress", ledger_egress_json(e->ledger, t));
	}
	return o;
}

void commands_reply_task(struct htm_engine *e, struct htm_conn *c,
			 const struct htm_task *t, bool timed_out)
{
	cJSON *r;

	if (!t) {
		reply_error(e, c, HTM_ERR_NOT_FOUND, "task no longer exists");
		return;
	}
	r = htm_response_ok();
	if (r && (!cJSON_AddItemToObject(r, "task", task_json(e, t)) ||
		  !cJSON_AddBoolToObject(r, "timed_out", timed_out))) {
		cJSON_Delete(r);
		r = NULL;
	}
	engine_reply(e, c, r);
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

static void cmd_submit(struct htm_engine *e, struct htm_conn *c,
		       const struct htm_request *req)
{
	struct htm_ctx *ctx = &e->ctx;
	const struct ucred *cred = W(e)->ops->cred(c);
	struct htm_msg m = { .type = HTM_MSG_SUBMIT };
	struct htm_task *t;
	uint32_t uid = cred->uid, gid = cred->gid, wuid, wgid;
	char base[256];
	uint64_t dup = 0;
	int r;

	if (req->user) {
		if (W(e)->ops->user_lookup(W(e), req->user, &wuid, &wgid) < 0) {
			reply_error(e, c, HTM_ERR_BAD_REQUEST, "$.user: no such user \"%s\"",
				    req->user);
			return;
		}
		if (cred->uid != 0 && wuid != cred->uid) {
			reply_error(e, c, HTM_ERR_PERMISSION,
				    "only root may submit as another user (you are uid %u)",
				    (unsigned)cred->uid);
			return;
		}
		uid = wuid;
		gid = wgid;
	}
	if (req->cwd && req->cwd[0] != '/') {
		reply_error(e, c, HTM_ERR_BAD_REQUEST, "$.cwd: must be an absolute path");
		return;
	}
	t = tasks_create(ctx);
	if (!t) {
		reply_error(e, c, HTM_ERR_INTERNAL, "out of memory");
		return;
	}
	snprintf(base, sizeof(base), "%s",
		 cJSON_GetArrayItem(req->argv, 0)->valuestring);
	t->argv = argv_copy(req->argv);
	t->name = strdup(req->name ? req->name : basename(base));
	t->cwd = req->cwd ? strdup(req->cwd) : NULL;
	t->batch = req->batch ? strdup(req->batch) : NULL;
	if (!t->argv || !t->name || (req->cwd && !t->cwd) ||
	    (req->batch && !t->batch) ||
	    (req->rollback && !(t->rollback = strdup(req->rollback))) ||
	    (req->target && !(t->target = strdup(req->target)))) {
		tasks_drop(ctx, t);
		reply_error(e, c, HTM_ERR_INTERNAL, "out of memory");
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
	t->submitted_at = htm_real(ctx);
	t->submitted_mono = htm_mono(ctx);
	m.u.submit.task = t;
	m.u.submit.who = htm_who(cred->uid, "client");
	m.u.submit.dup = &dup;
	r = htm_bus_send(ctx->bus, &m);
	if (r < 0) {
		uint64_t id = t->id;

		tasks_drop(ctx, t);
		if (r == -EEXIST)
			reply_error(e, c, HTM_ERR_CONFLICT, "duplicate of task %llu: same "
				    "name, command and target within the dedupe window",
				    (unsigned long long)dup);
		else
			reply_error(e, c, HTM_ERR_INTERNAL, "cannot journal task %llu: %s",
				    (unsigned long long)id, strerror(-r));
		return;
	}
	/* admission happens at the end of this loop turn */
	commands_reply_task(e, c, t, false);
}

static void cmd_list(struct htm_engine *e, struct htm_conn *c,
		     const struct htm_request *req)
{
	cJSON *r = htm_response_ok(), *arr = cJSON_CreateArray();
	struct htm_task *t;
	bool ok = r && arr;

	TAILQ_FOREACH(t, &e->ctx.tasks.all, table_link) {
		if (!ok)
			break;
		if (req->has_state && t->state != (enum htm_state)req->state)
			continue;
		ok = cJSON_AddItemToArray(arr, task_json(e, t));
	}
	if (ok && cJSON_AddItemToObject(r, "tasks", arr)) {
		engine_reply(e, c, r);
		return;
	}
	cJSON_Delete(arr);
	cJSON_Delete(r);
	engine_reply(e, c, NULL);
}

static struct htm_task *find_or_reply(struct htm_engine *e, struct htm_conn *c,
				      uint64_t id)
{
	struct htm_task *t = htm_task_table_find(&e->ctx.tasks, id);

	if (!t)
		reply_error(e, c, HTM_ERR_NOT_FOUND, "no task %llu", (unsigned long long)id);
	return t;
}

static int wait_for(struct htm_engine *e, struct htm_conn *c,
		    const struct htm_task *t, uint64_t timeout_ns)
{
	struct waiter *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->conn = c;
	w->task_id = t->id;
	w->deadline = timeout_ns ? htm_mono(&e->ctx) + timeout_ns : 0;
	LIST_INSERT_HEAD(&e->waiters, w, link);
	engine_waiters_rearm(e);
	return 0;
}

static void cmd_cancel(struct htm_engine *e, struct htm_conn *c,
		       const struct htm_request *req)
{
	const struct ucred *cred = W(e)->ops->cred(c);
	struct htm_task *t = find_or_reply(e, c, req->id);
	struct htm_who who;
	char why[64];

	if (!t)
		return;
	if (cred->uid != 0 && cred->uid != t->uid) {
		reply_error(e, c, HTM_ERR_PERMISSION,
			    "task %llu belongs to uid %u; only it or root may cancel it",
			    (unsigned long long)t->id, (unsigned)t->uid);
		return;
	}
	if (htm_state_is_terminal(t->state)) {
		reply_error(e, c, HTM_ERR_CONFLICT, "task %llu already %s",
			    (unsigned long long)t->id, htm_state_names[t->state]);
		return;
	}
	if (t->placed) {
		reply_error(e, c, HTM_ERR_CONFLICT, "task %llu is the placed cgroup %s: "
			    "htmctl unplace it, htmd does not kill what it did not start",
			    (unsigned long long)t->id, t->cgroup);
		return;
	}
	snprintf(why, sizeof(why), "cancelled by uid %u", (unsigned)cred->uid);
	htm_log(LOG_INFO, "task %llu: %s", (unsigned long long)t->id, why);
	if (t->state != HTM_STATE_RUNNING || !t->runtime) {
		/* queued, admitted but not started, or waiting for approval:
		 * it never runs */
		(void)admission_withdraw(e->admission, t);
		who = htm_who(cred->uid, "client");
		tasks_finish(&e->ctx, t, HTM_STATE_CANCELLED, why, &who);
		commands_reply_task(e, c, t, false);
		return;
	}
	/* answered when the whole tree is gone and the cgroup removed */
	if (wait_for(e, c, t, 0) < 0) {
		reply_error(e, c, HTM_ERR_INTERNAL, "out of memory");
		return;
	}
	runner_kill(e->runner, t, HTM_STATE_CANCELLED, why);
}

static void cmd_wait(struct htm_engine *e, struct htm_conn *c,
		     const struct htm_request *req)
{
	struct htm_task *t = find_or_reply(e, c, req->id);

	if (!t)
		return;
	if (htm_state_is_terminal(t->state) || (req->has_wait && !req->wait_ns)) {
		commands_reply_task(e, c, t, !htm_state_is_terminal(t->state));
		return;
	}
	if (wait_for(e, c, t, req->has_wait ? req->wait_ns : 0) < 0)
		reply_error(e, c, HTM_ERR_INTERNAL, "out of memory");
}

static void cmd_status(struct htm_engine *e, struct htm_conn *c)
{
	struct htm_ctx *ctx = &e->ctx;
	struct htm_world *w = ctx->w;
	cJSON *r = htm_response_ok(), *s, *o;
	unsigned by_state[HTM_STATE_COUNT] = { 0 };
	struct htm_task *t;

	if (!r || !(s = cJSON_AddObjectToObject(r, "status"))) {
		cJSON_Delete(r);
		engine_reply(e, c, NULL);
		return;
	}
	TAILQ_FOREACH(t, &ctx->tasks.all, table_link)
		by_state[t->state]++;
	cJSON_AddStringToObject(s, "version", HTM_VERSION);
	cJSON_AddNumberToObject(s, "pid", w->ops->pid(w));
	cJSON_AddNumberToObject(s, "uptime",
				(double)(htm_mono(ctx) - ctx->start_mono) / 1e9);
	cJSON_AddBoolToObject(s, "observe", ctx->cfg.observe);
	cJSON_AddStringToObject(s, "socket", ctx->cfg.socket);
	cJSON_AddStringToObject(s, "state_dir", ctx->cfg.state_dir);
	cJSON_AddStringToObject(s, "config", ctx->config_path[0] ? ctx->config_path
							       : "(built-in defaults)");
	cJSON_AddItemToObject(s, "slots", admission_slots_json(e->admission));
	cJSON_AddItemToObject(s, "queue", admission_queue_json(e->admission));
	o = cJSON_AddObjectToObject(s, "tasks");
	for (int i = 0; o && i < HTM_STATE_COUNT; i++)
		cJSON_AddNumberToObject(o, htm_state_names[i], by_state[i]);
	cJSON_AddItemToObject(s, "cgroup", ledger_cgroup_json(e->ledger));
	cJSON_AddItemToObject(s, "sampler", monitor_status_json(e->monitor));
	cJSON_AddItemToObject(s, "storm", rules_storm_json(e->rules));
	cJSON_AddItemToObject(s, "governor", governor_json(e->governor));
	cJSON_AddItemToObject(s, "reactions", governor_reactions_json(e->governor));
	cJSON_AddItemToObject(s, "placements", placement_json(e->placement));
	cJSON_AddItemToObject(s, "sla", deadlines_json(e->deadlines));
	cJSON_AddItemToObject(s, "origins", admission_origins_json(e->admission));
	cJSON_AddItemToObject(s, "egress", ledger_egress_status_json(e->ledger));
	cJSON_AddItemToObject(s, "changed_knobs", ledger_knobs_json(e->ledger));
	cJSON_AddNumberToObject(s, "rules", (double)rules_count(e->rules));
	o = cJSON_AddObjectToObject(s, "journal");
	if (o && e->journal_open) {
		uint64_t seg, sealed, commits, errors;

		w->ops->journal_stats(w, &seg, &sealed, &commits, &errors);
		cJSON_AddStringToObject(o, "dir", ctx->journal_dir);
		cJSON_AddNumberToObject(o, "last_seq", (double)w->ops->journal_last(w));
		cJSON_AddNumberToObject(o, "durable_seq", (double)w->ops->journal_durable(w));
		cJSON_AddNumberToObject(o, "commits", (double)commits);
		cJSON_AddNumberToObject(o, "segment_bytes", (double)seg);
		cJSON_AddNumberToObject(o, "sealed_segments", (double)sealed);
		cJSON_AddNumberToObject(o, "write_errors", (double)errors);
		cJSON_AddNumberToObject(o, "replayed_records", (double)e->replayed);
		cJSON_AddNumberToObject(o, "replay_ms", e->replay_ms);
	}
	cJSON_AddNumberToObject(s, "connections", w->ops->connections(w));
	engine_reply(e, c, r);
}

static void reply_with(struct htm_engine *e, struct htm_conn *c, const char *key,
		       cJSON *value)
{
	cJSON *r = htm_response_ok();

	if (!r || !value || !cJSON_AddItemToObject(r, key, value)) {
		cJSON_Delete(r);
		cJSON_Delete(value);
		r = NULL;
	}
	engine_reply(e, c, r);
}

/* An outside event: root and the admin group only, since rules may act on
 * it as root. */
static void cmd_emit(struct htm_engine *e, struct htm_conn *c,
		     const struct htm_request *req)
{
	const struct ucred *cred = W(e)->ops->cred(c);
	cJSON *ev, *f;

	if (!approvals_may_decide(e->approvals, c)) {
		reply_error(e, c, HTM_ERR_PERMISSION, "only root or the admin group may "
			    "emit events (you are uid %u)", (unsigned)cred->uid);
		return;
	}
	ev = req->fields ? cJSON_Duplicate(req->fields, true) : cJSON_CreateObject();
	if (!ev) {
		reply_error(e, c, HTM_ERR_INTERNAL, "out of memory");
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
	rules_emit(e->rules, req->type, LOG_INFO, ev);
	reply_with(e, c, "event", f);
}

static void cmd_reload(struct htm_engine *e, struct htm_conn *c)
{
	char err[512];

	if (!approvals_may_decide(e->approvals, c)) {
		reply_error(e, c, HTM_ERR_PERMISSION, "only root or the admin group may "
			    "reload");
		return;
	}
	if (engine_reload(e, err, sizeof(err)) < 0) {
		reply_error(e, c, HTM_ERR_BAD_REQUEST, "%s; the old configuration and "
			    "rules stay", err);
		return;
	}
	reply_with(e, c, "rules", rules_json(e->rules));
}

static void cmd_decide(struct htm_engine *e, struct htm_conn *c,
		       const struct htm_request *req, bool approve)
{
	const char *code;
	char err[256];
	int r = approve ? approvals_approve(e->approvals, c, req->id, req->reason,
					    req->override, &code, err, sizeof(err))
			: approvals_deny(e->approvals, c, req->id, req->reason, &code,
					 err, sizeof(err));

	if (r < 0) {
		engine_reply(e, c, htm_response_error(code, err));
		return;
	}
	commands_reply_task(e, c, htm_task_table_find(&e->ctx.tasks, req->id), false);
}

/* top: the monitor's view, with the queue, the egress buckets and the
 * recent events of the others */
static void cmd_top(struct htm_engine *e, struct htm_conn *c)
{
	cJSON *r = htm_response_ok(), *top = monitor_top_json(e->monitor), *cg, *id;

	if (!r || !top) {
		cJSON_Delete(r);
		cJSON_Delete(top);
		engine_reply(e, c, NULL);
		return;
	}
	cJSON_ArrayForEach(cg, cJSON_GetObjectItemCaseSensitive(top, "cgroups")) {
		const struct htm_task *t;

		id = cJSON_GetObjectItemCaseSensitive(cg, "id");
		t = cJSON_IsNumber(id) ? htm_task_table_find(&e->ctx.tasks,
							     (uint64_t)id->valuedouble) : NULL;
		/* the in-kernel egress bucket's counters, null when unlimited */
		if (t)
			cJSON_AddItemToObject(cg, "egress", ledger_egress_json(e->ledger, t));
	}
	cJSON_AddItemToObject(top, "queue", admission_queue_json(e->admission));
	cJSON_AddItemToObject(top, "events", rules_recent_json(e->rules));
	cJSON_AddItemToObject(r, "top", top);
	engine_reply(e, c, r);
}

static void cmd_place(struct htm_engine *e, struct htm_conn *c,
		      const struct htm_request *req)
{
	uint32_t uid = W(e)->ops->cred(c)->uid;
	struct htm_task *t = NULL;
	const char *code;
	char err[512];
	bool place = req->cmd == HTM_CMD_PLACE;
	int r;

	if (!approvals_may_decide(e->approvals, c)) {
		reply_error(e, c, HTM_ERR_PERMISSION, "only root or the admin group may "
			    "%s cgroups", place ? "place" : "unplace");
		return;
	}
	r = place ? placement_place(e->placement, uid, req->path, req->priority,
				    req->budget_ns, &t, &code, err, sizeof(err))
		  : placement_unplace(e->placement, uid, req->path, &t, &code, err,
				      sizeof(err));
	if (r < 0)
		engine_reply(e, c, htm_response_error(code, err));
	else
		commands_reply_task(e, c, t, false);
}

void commands_handle(void *data, struct htm_conn *c, const char *line, size_t len)
{
	struct htm_engine *e = data;
	struct htm_request req;
	const char *code;
	char err[512];

	if (htm_request_parse(&req, line, len, &code, err, sizeof(err)) < 0) {
		htm_log(LOG_DEBUG, "bad request from uid %u: %s",
			(unsigned)W(e)->ops->cred(c)->uid, err);
		engine_reply(e, c, htm_response_error(code, err));
		return;
	}
	switch (req.cmd) {
	case HTM_CMD_SUBMIT:
		cmd_submit(e, c, &req);
		break;
	case HTM_CMD_LIST:
		cmd_list(e, c, &req);
		break;
	case HTM_CMD_SHOW: {
		struct htm_task *t = find_or_reply(e, c, req.id);

		if (t)
			commands_reply_task(e, c, t, false);
		break;
	}
	case HTM_CMD_CANCEL:
		cmd_cancel(e, c, &req);
		break;
	case HTM_CMD_WAIT:
		cmd_wait(e, c, &req);
		break;
	case HTM_CMD_STATUS:
		cmd_status(e, c);
		break;
	case HTM_CMD_TOP:
		cmd_top(e, c);
		break;
	case HTM_CMD_LOG:
		/* answered when the scan off the loop is done */
		if (audit_query(e->audit, c, &req, &code, err, sizeof(err)) < 0)
			engine_reply(e, c, htm_response_error(code, err));
		break;
	case HTM_CMD_APPROVALS:
		reply_with(e, c, "approvals", approvals_json(e->approvals));
		break;
	case HTM_CMD_APPROVE:
	case HTM_CMD_DENY:
		cmd_decide(e, c, &req, req.cmd == HTM_CMD_APPROVE);
		break;
	case HTM_CMD_EMIT:
		cmd_emit(e, c, &req);
		break;
	case HTM_CMD_RULES:
		reply_with(e, c, "rules", rules_json(e->rules));
		break;
	case HTM_CMD_RULES_TEST:
		reply_with(e, c, "test", rules_test(e->rules, req.event));
		break;
	case HTM_CMD_RELOAD:
		cmd_reload(e, c);
		break;
	case HTM_CMD_PLACE:
	case HTM_CMD_UNPLACE:
		cmd_place(e, c, &req);
		break;
	}
	htm_request_free(&req);
}
