// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>

#include "htm/proto.h"

#include "core/duration.h"
#include "core/log.h"
#include "core/pathfmt.h"
#include "core/proto.h"
#include "engine/engine_impl.h"

#define SEGMENT_BYTES (8ull << 20)

void htm_config_override(struct htm_config *cfg, const struct htm_overrides *o)
{
	if (o->socket)
		snprintf(cfg->socket, sizeof(cfg->socket), "%s", o->socket);
	if (o->state_dir)
		snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", o->state_dir);
	if (o->cgroup_root)
		snprintf(cfg->cgroup_root, sizeof(cfg->cgroup_root), "%s", o->cgroup_root);
	if (o->observe)
		cfg->observe = true;
	if (o->verbose)
		cfg->log_level = LOG_DEBUG;
}

static struct htm_world *W(struct htm_engine *e)
{
	return e->ctx.w;
}

/* --- replies after durability ---------------------------------------------- */

void engine_reply(struct htm_engine *e, struct htm_conn *c, cJSON *response)
{
	struct htm_world *w = W(e);
	struct deferred_reply *d;

	if (!e->journal_open || w->ops->journal_durable(w) >= w->ops->journal_last(w)) {
		w->ops->reply(c, response);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		cJSON_Delete(response);
		w->ops->reply(c, htm_response_error(HTM_ERR_INTERNAL, "out of memory"));
		return;
	}
	d->conn = c;
	d->response = response;
	/* seq only grows: the tail keeps the list in seq order */
	d->seq = w->ops->journal_last(w);
	STAILQ_INSERT_TAIL(&e->deferred, d, link);
}

static void reply_cb(void *data, struct htm_conn *c, cJSON *response)
{
	engine_reply(data, c, response);
}

static void on_durable(void *data, uint64_t seq)
{
	struct htm_engine *e = data;
	struct deferred_reply *d;

	while ((d = STAILQ_FIRST(&e->deferred)) && d->seq <= seq) {
		STAILQ_REMOVE_HEAD(&e->deferred, link);
		W(e)->ops->reply(d->conn, d->response);
		free(d);
	}
	/* tasks whose preflight record is on disk may run now */
	if (!e->ctx.shutting_down)
		admission_durable(e->admission, seq);
}

static void on_closed(void *data, struct htm_conn *c)
{
	struct htm_engine *e = data;
	struct deferred_reply *d, *next;
	struct waiter *w, *wn;

	for (d = STAILQ_FIRST(&e->deferred); d; d = next) {
		next = STAILQ_NEXT(d, link);
		if (d->conn != c)
			continue;
		STAILQ_REMOVE(&e->deferred, d, deferred_reply, link);
		cJSON_Delete(d->response);
		free(d);
	}
	audit_conn_closed(e->audit, c);
	for (w = LIST_FIRST(&e->waiters); w; w = wn) {
		wn = LIST_NEXT(w, link);
		if (w->conn == c) {
			LIST_REMOVE(w, link);
			free(w);
		}
	}
	engine_waiters_rearm(e);
}

/* --- waiters --------------------------------------------------------------- */

static int on_finished(void *data, struct htm_msg *m)
{
	struct htm_engine *e = data;
	const struct htm_task *t = m->u.task;
	struct waiter *w, *next;

	for (w = LIST_FIRST(&e->waiters); w; w = next) {
		next = LIST_NEXT(w, link);
		if (w->task_id != t->id)
			continue;
		LIST_REMOVE(w, link);
		commands_reply_task(e, w->conn, t, false);
		free(w);
	}
	engine_waiters_rearm(e);
	return 0;
}

static void waiter_timer_fired(struct htm_timer *timer)
{
	struct htm_engine *e = htm_container_of(timer, struct htm_engine, waiter_timer);
	uint64_t now = htm_mono(&e->ctx);
	struct waiter *w, *next;

	for (w = LIST_FIRST(&e->waiters); w; w = next) {
		next = LIST_NEXT(w, link);
		if (!w->deadline || w->deadline > now)
			continue;
		LIST_REMOVE(w, link);
		commands_reply_task(e, w->conn,
				    htm_task_table_find(&e->ctx.tasks, w->task_id), true);
		free(w);
	}
	engine_waiters_rearm(e);
}

void engine_waiters_rearm(struct htm_engine *e)
{
	uint64_t first = 0;
	struct waiter *w;

	LIST_FOREACH(w, &e->waiters, link)
		if (w->deadline && (!first || w->deadline < first))
			first = w->deadline;
	if (first && first != e->waiter_timer.deadline)
		htm_arm(&e->ctx, &e->waiter_timer, first);
	else if (!first)
		htm_disarm(&e->ctx, &e->waiter_timer);
}

/* --- the loop turn ------------------------------------------------------------ */

static bool task_idle(const struct htm_task *t)
{
	return !t->runtime;
}

/* Facts and the rules they wake, until both are quiet: a cascade ends in
 * the turn that started it (depth and storm limits bound it). */
static void settle(struct htm_engine *e)
{
	do
		htm_bus_drain(e->ctx.bus);
	while (rules_turn(e->rules) || htm_bus_pending(e->ctx.bus));
}

static void wake_for_timers(struct htm_engine *e)
{
	uint64_t next = htm_timerq_next(&e->ctx.timers);

	if (next != e->woken_for) {
		e->woken_for = next;
		W(e)->ops->wake_at(W(e), next);
	}
}

static void on_turn(void *data)
{
	struct htm_engine *e = data;
	struct htm_ctx *c = &e->ctx;

	htm_timerq_run(&c->timers, htm_mono(c));
	admission_depth_check(e->admission);
	settle(e);
	/* what the rules enqueued is admitted in the same turn */
	admission_dispatch(e->admission);
	htm_task_table_trim(&c->tasks, c->cfg.history_limit, task_idle);
	/* everything this turn journaled: one write, one fdatasync */
	W(e)->ops->journal_commit(W(e));
	wake_for_timers(e);
}

/* --- configuration ------------------------------------------------------------ */

/*
 * SIGHUP and `htmctl reload`: the config file and the rules are both
 * checked first; only if both are valid does either change. Socket, state
 * dir, cgroup root, pin dir, sampling period and PSI triggers need a
 * restart.
 */
int engine_reload(struct htm_engine *e, char *err, size_t errlen)
{
	struct htm_ctx *c = &e->ctx;
	struct htm_world *w = c->w;
	struct htm_config next = c->cfg;
	struct htm_ruleset rules;
	struct htm_who who = htm_who(w->ops->uid(w), "operator");
	char *text = NULL;
	unsigned files;
	size_t len = 0;
	int r;

	if (c->config_path[0]) {
		r = w->ops->read_file(w, c->config_path, 16u << 20, &text, &len);
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", c->config_path,
				 r == -EIO ? "cannot read" : strerror(-r));
			return r;
		}
		htm_config_defaults(&next);
		{
			int n = snprintf(err, errlen, "%s: ", c->config_path);

			r = htm_config_parse(&next, text, len, err + n, errlen - (size_t)n);
		}
		free(text);
		if (r < 0)
			return r;
		htm_config_override(&next, &e->overrides);
	}
	r = rules_load(e->rules, next.rules_dir, &rules, &files, err, errlen);
	if (r < 0)
		return r;
	if (strcmp(next.socket, c->cfg.socket) ||
	    strcmp(next.state_dir, c->cfg.state_dir) ||
	    strcmp(next.cgroup_root, c->cfg.cgroup_root) ||
	    strcmp(next.bpf_pin_dir, c->cfg.bpf_pin_dir) ||
	    next.sample_period_ns != c->cfg.sample_period_ns ||
	    memcmp(next.psi_trigger, c->cfg.psi_trigger, sizeof(next.psi_trigger)))
		htm_log(LOG_WARNING, "reload: socket, state_dir, cgroup_root, "
			"bpf_pin_dir, sample_period and psi_triggers change only on "
			"restart, ignoring those");
	snprintf(next.socket, sizeof(next.socket), "%s", c->cfg.socket);
	snprintf(next.state_dir, sizeof(next.state_dir), "%s", c->cfg.state_dir);
	snprintf(next.cgroup_root, sizeof(next.cgroup_root), "%s", c->cfg.cgroup_root);
	snprintf(next.bpf_pin_dir, sizeof(next.bpf_pin_dir), "%s", c->cfg.bpf_pin_dir);
	next.sample_period_ns = c->cfg.sample_period_ns;
	memcpy(next.psi_trigger, c->cfg.psi_trigger, sizeof(next.psi_trigger));
	c->cfg = next;
	rules_install(e->rules, &rules);
	admission_configure(e->admission);
	htm_log_set_level(next.log_level);
	ledger_reconfigure(e->ledger);
	htm_log(LOG_INFO, "reloaded %s: %u slots, %zu rules (%u files)",
		c->config_path[0] ? c->config_path : "built-in defaults",
		admission_slots(e->admission), rules_count(e->rules), files);
	record_write(c, HTM_REC_CONFIG, &who, "reload",
		     c->config_path[0] ? c->config_path : "built-in defaults", NULL);
	return 0;
}

static void on_signal(void *data, int signo)
{
	struct htm_engine *e = data;
	char err[512];

	switch (signo) {
	case SIGTERM:
	case SIGINT:
		htm_log(LOG_INFO, "%s: shutting down", strsignal(signo));
		e->ctx.shutting_down = true;
		W(e)->ops->stop(W(e), 0);
		break;
	case SIGHUP:
		if (engine_reload(e, err, sizeof(err)) < 0)
			htm_log(LOG_ERR, "reload: %s, keeping the old configuration "
				"and rules", err);
		break;
	}
}

static void on_kernel_event(void *data, const struct htm_event *ev)
{
	struct htm_engine *e = data;

	monitor_kernel_event(e->monitor, ev);
}

/* --- the journal: replay ------------------------------------------------------ */

struct replay {
	struct htm_engine *e;
	uint64_t tasks, states, skipped;
};

static int replay_record(void *ctx, const struct htm_rec *r)
{
	struct replay *rp = ctx;
	struct htm_engine *e = rp->e;
	struct htm_ctx *c = &e->ctx;
	cJSON *b = cJSON_ParseWithLength(r->body, r->body_len);
	int rr;

	if (!b) {
		rp->skipped++;
		return 0;
	}
	rr = tasks_replay(c, r->type, b);
	if (rr < 0)
		rp->skipped++;
	else if (r->type == HTM_REC_TASK_SUBMIT)
		rp->tasks++;
	else if (r->type == HTM_REC_TASK_STATE)
		rp->states++;
	if (rr == 0) {
		approvals_replay(e->approvals, r->type, b);
		placement_replay(e->placement, r->type, b);
	}
	cJSON_Delete(b);
	/* keep memory bounded while replaying a long history */
	if (c->tasks.count > (size_t)c->cfg.history_limit + 1024)
		htm_task_table_trim(&c->tasks, c->cfg.history_limit, NULL);
	return 0;
}

static int journal_replay(struct htm_engine *e, bool accept_broken)
{
	struct htm_ctx *c = &e->ctx;
	struct htm_world *w = c->w;
	struct replay rp = { .e = e };
	struct htm_journal_scan s;
	uint64_t start = htm_mono(c);
	int r;

	htm_pathf(c->journal_dir, sizeof(c->journal_dir), "%s/journal", c->cfg.state_dir);
	r = w->ops->journal_scan(w, c->journal_dir, replay_record, &rp, &s);
	if (r < 0) {
		htm_log(LOG_ERR, "journal %s: %s", c->journal_dir, strerror(-r));
		return r;
	}
	if (s.broken && !accept_broken) {
		htm_log(LOG_ERR, "journal %s is broken at record %llu (%s: %s); "
			"refusing to start. Start with --accept-broken-journal to keep "
			"records 1..%llu, salvage every later record that still "
			"decodes, and keep the damaged files aside",
			c->journal_dir, (unsigned long long)s.broken_seq,
			s.broken_segment, s.why, (unsigned long long)s.last_seq);
		return -EBADMSG;
	}
	if (s.broken) {
		struct htm_who op = htm_who(w->ops->uid(w), "operator");
		char summary[512], *text;
		cJSON *b = cJSON_CreateObject();

		cJSON_AddItemToObject(b, "who", record_who_json(c, &op));
		cJSON_AddStringToObject(b, "what", htm_rec_type_names[HTM_REC_JOURNAL_BREAK]);
		cJSON_AddNumberToObject(b, "when", (double)(htm_real(c) / 1000000) / 1000.0);
		cJSON_AddStringToObject(b, "why", "--accept-broken-journal");
		cJSON_AddStringToObject(b, "how", "salvaged records re-chained after this one");
		text = cJSON_PrintUnformatted(b);
		cJSON_Delete(b);
		r = text ? w->ops->journal_repair(w, c->journal_dir, &s, text, summary,
						  sizeof(summary)) : -ENOMEM;
		free(text);
		if (r < 0) {
			htm_log(LOG_ERR, "journal repair: %s", strerror(-r));
			return r;
		}
		htm_log(LOG_WARNING, "journal: broken at record %llu (%s), accepted: %s",
			(unsigned long long)s.broken_seq, s.why, summary);
		/* replay again, from the repaired journal */
		htm_task_table_clear(&c->tasks);
		htm_task_table_init(&c->tasks, 1);
		memset(&rp, 0, sizeof(rp));
		rp.e = e;
		r = w->ops->journal_scan(w, c->journal_dir, replay_record, &rp, &s);
		if (r < 0 || s.broken) {
			htm_log(LOG_ERR, "journal still broken after repair: %s",
				r < 0 ? strerror(-r) : s.why);
			return r < 0 ? r : -EBADMSG;
		}
	}
	r = w->ops->journal_open(w, c->journal_dir, c->cfg.journal_segment_bytes
				 ? c->cfg.journal_segment_bytes : SEGMENT_BYTES, &s);
	if (r < 0) {
		htm_log(LOG_ERR, "journal %s: %s", c->journal_dir, strerror(-r));
		return r;
	}
	e->journal_open = true;
	e->replayed = s.records;
	e->replay_ms = (double)(htm_mono(c) - start) / 1e6;
	htm_log(LOG_INFO, "journal: replayed %llu records in %u segments, last %llu "
		"in %.1f ms (%llu tasks, %llu state changes, %llu skipped)",
		(unsigned long long)s.records, s.segments, (unsigned long long)s.last_seq,
		e->replay_ms, (unsigned long long)rp.tasks, (unsigned long long)rp.states,
		(unsigned long long)rp.skipped);
	if (s.torn) {
		cJSON *b = cJSON_CreateObject();

		htm_log(LOG_WARNING, "journal: cut a torn tail of %llu bytes after "
			"record %llu (a write that a crash interrupted)",
			(unsigned long long)s.torn_bytes, (unsigned long long)s.last_seq);
		cJSON_AddStringToObject(b, "kind", "torn_tail");
		cJSON_AddNumberToObject(b, "bytes", (double)s.torn_bytes);
		cJSON_AddNumberToObject(b, "after", (double)s.last_seq);
		record_write(c, HTM_REC_JOURNAL_BREAK, NULL, "a crash interrupted a write",
			     "truncated to the last whole record", b);
	}
	return 0;
}

/* After the tree and the sampler are up: put replayed tasks back. */
static void recover(struct htm_engine *e)
{
	struct htm_ctx *c = &e->ctx;
	struct htm_world *w = c->w;
	struct htm_who who = htm_who(w->ops->uid(w), "htmd");
	unsigned queued = 0, adopted = 0, lost = 0;
	struct htm_task *t;
	bool populated;
	char why[160];
	cJSON *b;

	approvals_recover(e->approvals);
	deadlines_recover(e->deadlines);
	TAILQ_FOREACH(t, &c->tasks.all, table_link) {
		if (t->state == HTM_STATE_QUEUED) {
			admission_requeue(e->admission, t);
			queued++;
			continue;
		}
		if (t->state != HTM_STATE_RUNNING && t->state != HTM_STATE_PREFLIGHT)
			continue;
		if (t->placed) {
			if (placement_recover(e->placement, t) == 0) {
				adopted++;
				continue;
			}
			tasks_finish(c, t, HTM_STATE_LOST, "its placed cgroup is gone", NULL);
			lost++;
			continue;
		}
		populated = t->cgroup && w->ops->cg_populated(w, t->cgroup, &populated) == 0 &&
			    populated;
		if (populated && runner_adopt(e->runner, t) == 0) {
			adopted++;
			admission_adopted(e->admission, t);
			continue;
		}
		snprintf(why, sizeof(why), "%s when htmd stopped and its cgroup is %s: "
			 "outcome unknown, not run again",
			 htm_state_names[t->state], t->cgroup ? "empty" : "gone");
		if (t->state == HTM_STATE_PREFLIGHT)
			t->state = HTM_STATE_RUNNING;	/* journaled as running -> lost */
		tasks_finish(c, t, HTM_STATE_LOST, why, NULL);
		if (t->cgroup)
			(void)w->ops->cg_rmdir_tree(w, t->cgroup);
		lost++;
	}
	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "version", HTM_VERSION);
	cJSON_AddNumberToObject(b, "replayed", (double)e->replayed);
	cJSON_AddNumberToObject(b, "requeued", queued);
	cJSON_AddNumberToObject(b, "adopted", adopted);
	cJSON_AddNumberToObject(b, "lost", lost);
	cJSON_AddBoolToObject(b, "observe", c->cfg.observe);
	record_write(c, HTM_REC_DAEMON_START, &who, "started",
		     c->config_path[0] ? c->config_path : "built-in defaults", b);
	if (queued || adopted || lost)
		htm_log(LOG_NOTICE, "recovered from the journal: %u queued again, %u "
			"running adopted, %u lost", queued, adopted, lost);
}

/* --- lifecycle ------------------------------------------------------------------ */

int htm_engine_new(struct htm_engine **out, struct htm_world *w,
		   const struct htm_config *cfg, const char *config_path,
		   const struct htm_overrides *o)
{
	struct htm_engine *e = calloc(1, sizeof(*e));
	struct htm_ctx *c;
	int r;

	if (!e)
		return -ENOMEM;
	c = &e->ctx;
	c->w = w;
	c->cfg = *cfg;
	e->overrides = *o;
	snprintf(c->config_path, sizeof(c->config_path), "%s",
		 config_path ? config_path : "");
	htm_timerq_init(&c->timers);
	htm_task_table_init(&c->tasks, 1);
	LIST_INIT(&e->waiters);
	STAILQ_INIT(&e->deferred);
	htm_timer_init(&e->waiter_timer, waiter_timer_fired);
	r = htm_bus_new(&c->bus);
	/*
	 * The order of subscription is the order of delivery. The ledger and
	 * the monitor come first (a cgroup's settings and its tracking before
	 * anything else hears of it), admission before the rules (a slot
	 * comes back before a rule reacts to the task's end), and the clients
	 * waiting for a task last, so that they see everything the others did.
	 */
	if (r == 0)
		r = ledger_new(&e->ledger, c);
	if (r == 0)
		r = monitor_new(&e->monitor, c);
	if (r == 0)
		r = governor_new(&e->governor, c);
	if (r == 0)
		r = admission_new(&e->admission, c);
	if (r == 0)
		r = runner_new(&e->runner, c);
	if (r == 0)
		r = approvals_new(&e->approvals, c);
	if (r == 0)
		r = deadlines_new(&e->deadlines, c);
	if (r == 0)
		r = placement_new(&e->placement, c);
	if (r == 0)
		r = rules_new(&e->rules, c);
	if (r == 0)
		r = audit_new(&e->audit, c, reply_cb, e);
	if (r == 0)
		r = htm_bus_subscribe(c->bus, HTM_MSG_TASK_FINISHED, on_finished, e);
	if (r < 0) {
		htm_engine_free(e);
		return r;
	}
	w->hooks = (struct htm_world_hooks){
		.data = e,
		.turn = on_turn,
		.request = commands_handle,
		.closed = on_closed,
		.signal = on_signal,
		.durable = on_durable,
		.kernel_event = on_kernel_event,
	};
	*out = e;
	return 0;
}

int htm_engine_start(struct htm_engine *e)
{
	struct htm_ctx *c = &e->ctx;
	struct htm_world *w = c->w;
	struct htm_ruleset rules;
	char err[512], bpf_error[256];
	uint64_t next_id = 1;
	unsigned files;
	bool bpf;
	int r;

	c->start_mono = htm_mono(c);
	c->start_real = htm_real(c);
	admission_configure(e->admission);
	htm_pathf(c->logs_dir, sizeof(c->logs_dir), "%s/logs", c->cfg.state_dir);
	r = w->ops->state_open(w, c->cfg.state_dir, c->logs_dir, &next_id);
	if (r < 0) {
		htm_log(LOG_ERR, "state dir %s: %s", c->cfg.state_dir,
			r == -EWOULDBLOCK ? "another htmd uses this state dir" : strerror(-r));
		return r;
	}
	htm_task_table_clear(&c->tasks);
	htm_task_table_init(&c->tasks, next_id);
	r = rules_load(e->rules, c->cfg.rules_dir, &rules, &files, err, sizeof(err));
	if (r < 0) {
		htm_log(LOG_ERR, "rules: %s", err);
		return r;
	}
	rules_install(e->rules, &rules);
	htm_log(LOG_INFO, "rules: %zu loaded (%u files from %s, built-ins)",
		rules_count(e->rules), files, c->cfg.rules_dir[0] ? c->cfg.rules_dir : "-");
	r = journal_replay(e, e->overrides.accept_broken_journal);
	if (r < 0)
		return r;
	/* the socket before anything system-wide: a second htmd stops here */
	r = w->ops->listen(w, c->cfg.socket);
	if (r < 0) {
		htm_log(LOG_ERR, "socket %s: %s", c->cfg.socket,
			r == -EADDRINUSE ? "another htmd is listening there" :
			r == -ENOTSOCK ? "exists and is not a socket; not touching it" :
			strerror(-r));
		return r;
	}
	e->listening = true;
	r = ledger_start(e->ledger);
	if (r < 0)
		return r;
	bpf = monitor_open_sampler(e->monitor, bpf_error, sizeof(bpf_error));
	/* leftovers of a crashed htmd are undone before anything is admitted */
	ledger_recover(e->ledger, bpf, bpf_error);
	r = w->ops->signals(w);
	if (r < 0) {
		htm_log(LOG_ERR, "signals: %s", strerror(-r));
		return r;
	}
	r = monitor_start(e->monitor);
	if (r < 0) {
		htm_log(LOG_ERR, "monitor: %s", strerror(-r));
		return r;
	}
	recover(e);
	wake_for_timers(e);
	htm_log(LOG_INFO, "ready: socket %s, %u slots%s", c->cfg.socket,
		admission_slots(e->admission), c->cfg.observe ? ", observe-only" : "");
	return 0;
}

static bool all_durable(void *data)
{
	struct htm_engine *e = data;
	struct htm_world *w = W(e);

	return w->ops->journal_durable(w) >= w->ops->journal_last(w) &&
	       w->ops->flushed(w);
}

static bool replies_flushed(void *data)
{
	struct htm_engine *e = data;

	return W(e)->ops->flushed(W(e));
}

void htm_engine_stop(struct htm_engine *e, int code)
{
	struct htm_ctx *c = &e->ctx;
	struct htm_world *w = c->w;
	struct htm_task *t;

	c->shutting_down = true;
	/* admitted but not started: they never run */
	TAILQ_FOREACH(t, &c->tasks.all, table_link)
		if (t->starting && admission_withdraw(e->admission, t))
			tasks_finish(c, t, HTM_STATE_CANCELLED, "cancelled: htmd shut down",
				     NULL);
	runner_shutdown(e->runner);
	/* fail open: what decisions changed goes back */
	ledger_stop(e->ledger, "htmd stopping: fail open");
	/* the clients waiting for the cancelled tasks are answered */
	settle(e);
	if (e->journal_open) {
		record_write(c, HTM_REC_DAEMON_STOP, NULL,
			     code < 0 ? "event loop failed" : "stopped by signal", NULL, NULL);
		w->ops->journal_commit(w);
		w->ops->flush(w, all_durable, e, htm_mono(c) + 2000000000ull);
	}
	w->ops->flush(w, replies_flushed, e, htm_mono(c) + HTM_NSEC_PER_SEC);
}

void htm_engine_free(struct htm_engine *e)
{
	struct htm_world *w;
	struct deferred_reply *d;
	struct waiter *wt;

	if (!e)
		return;
	w = W(e);
	if (e->journal_open)
		w->ops->journal_close(w);
	e->journal_open = false;
	if (e->listening)
		w->ops->unlisten(w);
	while ((d = STAILQ_FIRST(&e->deferred))) {
		STAILQ_REMOVE_HEAD(&e->deferred, link);
		cJSON_Delete(d->response);
		free(d);
	}
	while ((wt = LIST_FIRST(&e->waiters))) {
		LIST_REMOVE(wt, link);
		free(wt);
	}
	audit_free(e->audit);
	rules_free(e->rules);
	placement_free(e->placement);
	deadlines_free(e->deadlines);
	approvals_free(e->approvals);
	runner_free(e->runner);
	admission_free(e->admission);
	governor_free(e->governor);
	/* the egress map's pin goes before the sampler removes the pin dir */
	ledger_free(e->ledger);
	monitor_free(e->monitor);
	htm_task_table_clear(&e->ctx.tasks);
	htm_bus_free(e->ctx.bus);
	htm_timerq_free(&e->ctx.timers);
	w->hooks = (struct htm_world_hooks){ 0 };
	free(e);
}
