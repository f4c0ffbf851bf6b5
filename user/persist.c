// SPDX-License-Identifier: MIT
/*
 * The journal in the daemon: what is written, when a reply may go, and how
 * the daemon comes back after a stop or a crash.
 *
 * - Every task submission and state change is a record whose body says
 *   who, what, when, where, why and how.
 * - A reply leaves only when every record written before it is durable
 *   (group commit: one fdatasync per loop iteration for all of them).
 * - A task is journaled as `preflight` and that record made durable before
 *   clone3 runs it: after a crash such a task is re-adopted if its cgroup
 *   holds processes, otherwise it is marked lost, never run a second time.
 * - Start-up replays the journal: queued tasks queue again, running ones
 *   whose cgroup still has processes are adopted, the others are lost.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "htm/proto.h"

#include "core/proto.h"
#include "core/schema.h"
#include "manager.h"
#include "sys/exec.h"
#include "sys/log.h"

#define SEGMENT_BYTES (8ull << 20)

struct deferred_reply {
	LIST_ENTRY(deferred_reply) link;
	struct htm_conn *conn;
	cJSON *response;
	uint64_t seq;		/* records up to here must be durable first */
};

static const char *host_name(void)
{
	static struct utsname u;

	if (!u.nodename[0] && uname(&u) < 0)
		snprintf(u.nodename, sizeof(u.nodename), "unknown");
	return u.nodename;
}

cJSON *persist_who(uint32_t uid, const char *actor)
{
	cJSON *who = cJSON_CreateObject();
	struct htm_identity id;

	if (!who)
		return NULL;
	cJSON_AddStringToObject(who, "actor", actor);
	if (uid != UINT32_MAX) {
		cJSON_AddNumberToObject(who, "uid", uid);
		if (htm_identity_from_uid(uid, uid, &id) == 0)
			cJSON_AddStringToObject(who, "user", id.name);
	}
	return who;
}

int persist_write(struct htm_manager *m, enum htm_rec_type type, cJSON *who,
		  const char *why, const char *how, cJSON *body)
{
	uint64_t now = htm_now_real(), seq = 0;
	cJSON *where;
	char *text;
	int r;

	if (!body)
		body = cJSON_CreateObject();
	if (!body) {
		cJSON_Delete(who);
		return -ENOMEM;
	}
	cJSON_AddItemToObject(body, "who", who ? who : persist_who(UINT32_MAX, "htmd"));
	cJSON_AddStringToObject(body, "what", htm_rec_type_names[type]);
	cJSON_AddNumberToObject(body, "when", (double)(now / 1000000) / 1000.0);
	where = cJSON_AddObjectToObject(body, "where");
	cJSON_AddStringToObject(where, "host", host_name());
	cJSON_AddNumberToObject(where, "htmd_pid", getpid());
	cJSON_AddStringToObject(body, "why", why ? why : "");
	cJSON_AddStringToObject(body, "how", how ? how : "");
	text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	if (!text)
		return -ENOMEM;
	r = htm_journal_append(m->journal, type, now, text, strlen(text), &seq);
	free(text);
	if (r < 0)
		htm_log(LOG_CRIT, "journal: cannot append %s: %s",
			htm_rec_type_names[type], strerror(-r));
	return r;
}

int persist_task_submit(struct htm_manager *m, const struct htm_task *t,
			cJSON *who, const char *why)
{
	cJSON *body = cJSON_CreateObject();

	if (!body) {
		cJSON_Delete(who);
		return -ENOMEM;
	}
	cJSON_AddItemToObject(body, "task", htm_task_to_json(t));
	return persist_write(m, HTM_REC_TASK_SUBMIT, who, why, "control socket", body);
}

void manager_task_move(struct htm_manager *m, struct htm_task *t,
		       enum htm_state to, const char *reason, cJSON *who)
{
	enum htm_state from = t->state;
	cJSON *body;

	if (htm_task_move(t, to, htm_now_real(), reason) < 0) {
		htm_log(LOG_ERR, "task %llu: cannot move %s -> %s",
			(unsigned long long)t->id, htm_state_names[from],
			htm_state_names[to]);
		cJSON_Delete(who);
		return;
	}
	body = cJSON_CreateObject();
	if (!body) {
		cJSON_Delete(who);
		return;
	}
	cJSON_AddNumberToObject(body, "task", (double)t->id);
	cJSON_AddStringToObject(body, "from", htm_state_names[from]);
	cJSON_AddStringToObject(body, "to", htm_state_names[to]);
	if (t->pid > 0)
		cJSON_AddNumberToObject(body, "pid", t->pid);
	if (t->cgroup)
		cJSON_AddStringToObject(body, "cgroup", t->cgroup);
	if (t->cgroup_id)
		cJSON_AddNumberToObject(body, "cgroup_id", (double)t->cgroup_id);
	if (htm_state_is_terminal(to)) {
		if (t->exit_code >= 0)
			cJSON_AddNumberToObject(body, "exit_code", t->exit_code);
		if (t->signal > 0)
			cJSON_AddNumberToObject(body, "signal", t->signal);
	}
	persist_write(m, HTM_REC_TASK_STATE, who, reason ? reason : htm_state_names[to],
		      to == HTM_STATE_RUNNING ? "clone3 into its cgroup" : NULL, body);
}

/* --- replies after durability ---------------------------------------------- */

void manager_reply(struct htm_manager *m, struct htm_conn *c, cJSON *response)
{
	struct deferred_reply *d;

	if (!m->journal || htm_journal_durable(m->journal) >= htm_journal_last(m->journal)) {
		htm_conn_reply(c, response);
		return;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		cJSON_Delete(response);
		htm_conn_reply(c, htm_response_error(HTM_ERR_INTERNAL, "out of memory"));
		return;
	}
	d->conn = c;
	d->response = response;
	d->seq = htm_journal_last(m->journal);
	/* seq only grows: appending at the tail keeps the list in seq order */
	if (LIST_EMPTY(&m->deferred)) {
		LIST_INSERT_HEAD(&m->deferred, d, link);
	} else {
		struct deferred_reply *last = LIST_FIRST(&m->deferred);

		while (LIST_NEXT(last, link))
			last = LIST_NEXT(last, link);
		LIST_INSERT_AFTER(last, d, link);
	}
}

void persist_conn_closed(struct htm_manager *m, struct htm_conn *c)
{
	struct deferred_reply *d, *next;

	for (d = LIST_FIRST(&m->deferred); d; d = next) {
		next = LIST_NEXT(d, link);
		if (d->conn != c)
			continue;
		LIST_REMOVE(d, link);
		cJSON_Delete(d->response);
		free(d);
	}
}

static void on_durable(void *ctx, uint64_t seq)
{
	struct htm_manager *m = ctx;
	struct deferred_reply *d;
	struct htm_task *t, *next;

	while ((d = LIST_FIRST(&m->deferred)) && d->seq <= seq) {
		LIST_REMOVE(d, link);
		htm_conn_reply(d->conn, d->response);
		free(d);
	}
	/* tasks whose preflight record is on disk may run now */
	for (t = TAILQ_FIRST(&m->starting); t; t = next) {
		next = TAILQ_NEXT(t, queue_link);
		if (t->start_seq > seq)
			break;
		TAILQ_REMOVE(&m->starting, t, queue_link);
		if (runner_start(m, t) < 0) {
			manager_slot_release(m, t);
			manager_task_finished(m, t);
		}
	}
}

/* Admission decided: journal it, run once it is durable. */
void persist_task_starting(struct htm_manager *m, struct htm_task *t)
{
	manager_task_move(m, t, HTM_STATE_PREFLIGHT, "admitted to a run slot", NULL);
	t->start_seq = htm_journal_last(m->journal);
	TAILQ_INSERT_TAIL(&m->starting, t, queue_link);
}

/* --- replay ------------------------------------------------------------------ */

struct replay {
	struct htm_manager *m;
	uint64_t tasks, states, skipped;
};

static void replay_state(struct htm_manager *m, const cJSON *b, struct replay *rp)
{
	const cJSON *v;
	struct htm_task *t;
	int to;

	t = htm_task_table_find(&m->tasks, htm_json_member_uint(b, "task", 1ull << 53, 0));
	to = htm_name_lookup(htm_state_names, cJSON_GetStringValue(
		cJSON_GetObjectItemCaseSensitive(b, "to")));
	if (!t || to < 0) {
		rp->skipped++;
		return;
	}
	t->state = to;
	free(t->reason);
	t->reason = strdup(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "why")) ?: "");
	t->pid = (int32_t)htm_json_member_uint(b, "pid", INT32_MAX, (uint64_t)t->pid);
	if ((v = cJSON_GetObjectItemCaseSensitive(b, "cgroup")) && cJSON_IsString(v)) {
		free(t->cgroup);
		t->cgroup = strdup(v->valuestring);
	}
	t->cgroup_id = htm_json_member_uint(b, "cgroup_id", 1ull << 53, t->cgroup_id);
	t->exit_code = (int32_t)htm_json_member_uint(b, "exit_code", 255,
						     (uint64_t)(int64_t)t->exit_code);
	t->signal = (int32_t)htm_json_member_uint(b, "signal", 128, (uint64_t)t->signal);
	if (to == HTM_STATE_SUCCEEDED || to == HTM_STATE_FAILED || to == HTM_STATE_TIMED_OUT)
		htm_outcomes_record(&m->outcomes, t->name, to == HTM_STATE_SUCCEEDED);
	rp->states++;
}

static int replay_record(void *ctx, const struct htm_rec *r)
{
	struct replay *rp = ctx;
	struct htm_manager *m = rp->m;
	cJSON *b = cJSON_ParseWithLength(r->body, r->body_len);
	struct htm_task *t;

	if (!b) {
		rp->skipped++;
		return 0;
	}
	switch (r->type) {
	case HTM_REC_TASK_SUBMIT:
		t = htm_task_from_json(cJSON_GetObjectItemCaseSensitive(b, "task"));
		if (t && htm_task_table_insert(&m->tasks, t) == 0)
			rp->tasks++;
		else {
			htm_task_free(t);
			rp->skipped++;
		}
		break;
	case HTM_REC_TASK_STATE:
		replay_state(m, b, rp);
		break;
	case HTM_REC_APPROVAL:
		approvals_replay(m, b);
		break;
	case HTM_REC_PLACEMENT:
		placement_replay(m, b);
		break;
	case HTM_REC_TASK_PRIORITY:
		t = htm_task_table_find(&m->tasks, htm_json_member_uint(b, "task", 1ull << 53, 0));
		if (t) {
			int p = htm_name_lookup(htm_priority_names, cJSON_GetStringValue(
				cJSON_GetObjectItemCaseSensitive(b, "to")));
			const char *cg = cJSON_GetStringValue(
				cJSON_GetObjectItemCaseSensitive(b, "cgroup"));

			if (p >= 0) {
				t->priority = p;
				t->escalations++;
			}
			/* a running task's processes moved with it */
			if (cg) {
				free(t->cgroup);
				t->cgroup = strdup(cg);
			}
		}
		break;
	default:
		break;
	}
	cJSON_Delete(b);
	/* keep memory bounded while replaying a long history */
	if (m->tasks.count > (size_t)m->cfg.history_limit + 1024)
		htm_task_table_trim(&m->tasks, m->cfg.history_limit, NULL);
	return 0;
}

static void describe_scan(const struct htm_journal_scan *s, char *buf, size_t len)
{
	snprintf(buf, len, "%llu records in %u segments, last %llu",
		 (unsigned long long)s->records, s->segments,
		 (unsigned long long)s->last_seq);
}

int persist_open(struct htm_manager *m, bool accept_broken)
{
	struct htm_journal_opts o = {
		.dir = m->journal_dir,
		.segment_bytes = m->cfg.journal_segment_bytes ? m->cfg.journal_segment_bytes
							       : SEGMENT_BYTES,
		.loop = m->loop,
		.worker = m->worker,
		.durable = on_durable,
		.ctx = m,
	};
	struct replay rp = { .m = m };
	struct htm_journal_scan s;
	uint64_t start = htm_now_mono();
	char desc[160];
	int r;

	htm_pathf(m->journal_dir, sizeof(m->journal_dir), "%s/journal", m->cfg.state_dir);
	o.dir = m->journal_dir;
	r = htm_journal_scan(m->journal_dir, replay_record, &rp, &s);
	if (r < 0) {
		htm_log(LOG_ERR, "journal %s: %s", m->journal_dir, strerror(-r));
		return r;
	}
	if (s.broken && !accept_broken) {
		htm_log(LOG_ERR, "journal %s is broken at record %llu (%s: %s); "
			"refusing to start. Start with --accept-broken-journal to keep "
			"records 1..%llu, salvage every later record that still "
			"decodes, and keep the damaged files aside",
			m->journal_dir, (unsigned long long)s.broken_seq,
			s.broken_segment, s.why, (unsigned long long)s.last_seq);
		return -EBADMSG;
	}
	if (s.broken) {
		char summary[512], *text;
		cJSON *b = cJSON_CreateObject();

		cJSON_AddItemToObject(b, "who", persist_who(getuid(), "operator"));
		cJSON_AddStringToObject(b, "what", htm_rec_type_names[HTM_REC_JOURNAL_BREAK]);
		cJSON_AddNumberToObject(b, "when", (double)(htm_now_real() / 1000000) / 1000.0);
		cJSON_AddStringToObject(b, "why", "--accept-broken-journal");
		cJSON_AddStringToObject(b, "how", "salvaged records re-chained after this one");
		text = cJSON_PrintUnformatted(b);
		cJSON_Delete(b);
		r = text ? htm_journal_repair(m->journal_dir, &s, text, summary,
					      sizeof(summary)) : -ENOMEM;
		free(text);
		if (r < 0) {
			htm_log(LOG_ERR, "journal repair: %s", strerror(-r));
			return r;
		}
		htm_log(LOG_WARNING, "journal: broken at record %llu (%s), accepted: %s",
			(unsigned long long)s.broken_seq, s.why, summary);
		/* replay again, from the repaired journal */
		htm_task_table_clear(&m->tasks);
		htm_task_table_init(&m->tasks, 1);
		memset(&rp, 0, sizeof(rp));
		rp.m = m;
		r = htm_journal_scan(m->journal_dir, replay_record, &rp, &s);
		if (r < 0 || s.broken) {
			htm_log(LOG_ERR, "journal still broken after repair: %s",
				r < 0 ? strerror(-r) : s.why);
			return r < 0 ? r : -EBADMSG;
		}
	}
	describe_scan(&s, desc, sizeof(desc));
	r = htm_journal_open(&m->journal, &o, &s);
	if (r < 0) {
		htm_log(LOG_ERR, "journal %s: %s", m->journal_dir, strerror(-r));
		return r;
	}
	m->replayed = s.records;
	m->replay_ms = (double)(htm_now_mono() - start) / 1e6;
	htm_log(LOG_INFO, "journal: replayed %s in %.1f ms (%llu tasks, %llu "
		"state changes, %llu skipped)", desc, m->replay_ms,
		(unsigned long long)rp.tasks, (unsigned long long)rp.states,
		(unsigned long long)rp.skipped);
	if (s.torn) {
		cJSON *b = cJSON_CreateObject();

		htm_log(LOG_WARNING, "journal: cut a torn tail of %llu bytes after "
			"record %llu (a write that a crash interrupted)",
			(unsigned long long)s.torn_bytes, (unsigned long long)s.last_seq);
		cJSON_AddStringToObject(b, "kind", "torn_tail");
		cJSON_AddNumberToObject(b, "bytes", (double)s.torn_bytes);
		cJSON_AddNumberToObject(b, "after", (double)s.last_seq);
		persist_write(m, HTM_REC_JOURNAL_BREAK, NULL, "a crash interrupted a write",
			      "truncated to the last whole record", b);
	}
	return 0;
}

/* After the cgroup layout and the sampler are up: put replayed tasks back. */
void persist_recover(struct htm_manager *m)
{
	unsigned queued = 0, adopted = 0, lost = 0;
	struct htm_task *t;
	cJSON *b;
	bool populated;
	char why[160];

	approvals_recover(m);
	sla_recover(m);
	TAILQ_FOREACH(t, &m->tasks.all, table_link) {
		if (t->state == HTM_STATE_QUEUED) {
			htm_queue_push(&m->queue, t);
			queued++;
			continue;
		}
		if (t->state != HTM_STATE_RUNNING && t->state != HTM_STATE_PREFLIGHT)
			continue;
		if (t->placed) {
			if (placement_recover(m, t) == 0) {
				adopted++;
				continue;
			}
			manager_task_move(m, t, HTM_STATE_LOST,
					  "its placed cgroup is gone", NULL);
			lost++;
			continue;
		}
		populated = t->cgroup && htm_cgroup_populated(t->cgroup, &populated) == 0 &&
			    populated;
		if (populated && runner_adopt(m, t) == 0) {
			adopted++;
			manager_slot_take(m, t, false);
			continue;
		}
		snprintf(why, sizeof(why), "%s when htmd stopped and its cgroup is %s: "
			 "outcome unknown, not run again",
			 htm_state_names[t->state], t->cgroup ? "empty" : "gone");
		if (t->state == HTM_STATE_PREFLIGHT)
			t->state = HTM_STATE_RUNNING;	/* preflight -> lost is not a move */
		manager_task_move(m, t, HTM_STATE_LOST, why, NULL);
		if (t->cgroup)
			(void)htm_cgroup_rmdir_tree(t->cgroup);
		lost++;
	}
	b = cJSON_CreateObject();
	cJSON_AddStringToObject(b, "version", HTM_VERSION);
	cJSON_AddNumberToObject(b, "replayed", (double)m->replayed);
	cJSON_AddNumberToObject(b, "requeued", queued);
	cJSON_AddNumberToObject(b, "adopted", adopted);
	cJSON_AddNumberToObject(b, "lost", lost);
	cJSON_AddBoolToObject(b, "observe", m->cfg.observe);
	persist_write(m, HTM_REC_DAEMON_START, persist_who(getuid(), "htmd"),
		      "started", m->config_path[0] ? m->config_path : "built-in defaults", b);
	if (queued || adopted || lost)
		htm_log(LOG_NOTICE, "recovered from the journal: %u queued again, %u "
			"running adopted, %u lost", queued, adopted, lost);
}

static bool all_durable(void *data)
{
	struct htm_manager *m = data;

	return htm_journal_durable(m->journal) >= htm_journal_last(m->journal) &&
	       htm_api_flushed(m->api);
}

/* Stopping: the last records and replies go out, then the file closes. */
void persist_close(struct htm_manager *m, const char *why)
{
	struct deferred_reply *d;

	if (!m->journal)
		return;
	if (why) {
		persist_write(m, HTM_REC_DAEMON_STOP, NULL, why, NULL, NULL);
		htm_journal_commit(m->journal);
		htm_loop_drain(m->loop, all_durable, m, htm_now_mono() + 2000000000ull);
	}
	htm_journal_close(m->journal);
	m->journal = NULL;
	while ((d = LIST_FIRST(&m->deferred))) {
		LIST_REMOVE(d, link);
		cJSON_Delete(d->response);
		free(d);
	}
}
