// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htm/proto.h"

#include "core/schema.h"
#include "engine/audit.h"

struct log_query {
	struct htm_audit *a;
	struct htm_conn *conn;
	/* filters */
	uint64_t task;			/* 0: any */
	char actor[64], type[64];
	uint64_t since_ns;		/* wall clock; 0: any */
	uint32_t limit;
	bool verify;
	uint64_t upto;			/* last durable seq at request time */
	uint32_t peer_uid;
	uint64_t *owned;		/* sorted ids of the peer's tasks (non-root) */
	size_t nowned;
	/* results, built off the loop */
	cJSON *records;			/* newest `limit` matches, oldest first */
	uint64_t matched, scanned;
	struct htm_journal_scan scan;
	int err;
	bool cancelled;			/* the client left while we worked */
	LIST_ENTRY(log_query) link;
};

struct htm_audit {
	struct htm_ctx *c;
	htm_reply_fn reply;
	void *data;
	LIST_HEAD(, log_query) queries;
};

static int id_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static uint64_t body_task(const cJSON *b)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "task");

	if (cJSON_IsObject(t))
		return htm_json_member_uint(t, "id", 1ull << 53, 0);
	return htm_json_uint(t, 1ull << 53, 0);
}

static bool visible(const struct log_query *q, const cJSON *b)
{
	const cJSON *who = cJSON_GetObjectItemCaseSensitive(b, "who");
	const cJSON *uid = cJSON_GetObjectItemCaseSensitive(who, "uid");
	uint64_t task;

	if (q->peer_uid == 0)
		return true;
	if (htm_json_uint(uid, UINT32_MAX, UINT64_MAX) == q->peer_uid)
		return true;
	task = body_task(b);
	return task && bsearch(&task, q->owned, q->nowned, sizeof(uint64_t), id_cmp);
}

static bool actor_is(const cJSON *b, const char *actor)
{
	const cJSON *who = cJSON_GetObjectItemCaseSensitive(b, "who");
	const char *a = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(who, "actor"));
	const char *u = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(who, "user"));

	return (a && strcmp(a, actor) == 0) || (u && strcmp(u, actor) == 0);
}

/* Off the loop: touches only the query. */
static int query_visit(void *ctx, const struct htm_rec *r)
{
	struct log_query *q = ctx;
	const char *type = r->type < HTM_REC_TYPE_COUNT && htm_rec_type_names[r->type]
				   ? htm_rec_type_names[r->type] : "unknown";
	cJSON *b, *o;

	if (r->seq > q->upto)
		return -ECANCELED;	/* written after the query came in */
	q->scanned++;
	if (r->ts_ns < q->since_ns ||
	    (q->type[0] && fnmatch(q->type, type, 0) != 0))
		return 0;
	b = cJSON_ParseWithLength(r->body, r->body_len);
	if (!b)
		return 0;
	if (!visible(q, b) || (q->task && body_task(b) != q->task) ||
	    (q->actor[0] && !actor_is(b, q->actor))) {
		cJSON_Delete(b);
		return 0;
	}
	o = cJSON_CreateObject();
	if (!o) {
		cJSON_Delete(b);
		return -ENOMEM;
	}
	cJSON_AddNumberToObject(o, "seq", (double)r->seq);
	cJSON_AddStringToObject(o, "type", type);
	cJSON_AddNumberToObject(o, "ts", (double)(r->ts_ns / 1000000) / 1000.0);
	cJSON_AddItemToObject(o, "record", b);
	cJSON_AddItemToArray(q->records, o);
	q->matched++;
	if (cJSON_GetArraySize(q->records) > (int)q->limit)
		cJSON_DeleteItemFromArray(q->records, 0);
	return 0;
}

static cJSON *verify_json(const struct log_query *q)
{
	const struct htm_journal_scan *s = &q->scan;
	cJSON *v = cJSON_CreateObject(), *b;
	char hash[2 * HTM_HASH_LEN + 1];

	for (int i = 0; i < HTM_HASH_LEN; i++)
		snprintf(hash + 2 * i, 3, "%02x", s->last_hash[i]);
	cJSON_AddBoolToObject(v, "ok", !s->broken);
	cJSON_AddNumberToObject(v, "records", (double)s->records);
	cJSON_AddNumberToObject(v, "segments", s->segments);
	cJSON_AddNumberToObject(v, "last_seq", (double)s->last_seq);
	cJSON_AddStringToObject(v, "last_hash", hash);
	/* records being written right now look torn to a concurrent reader */
	cJSON_AddNumberToObject(v, "tail_bytes_unchecked", s->torn ? (double)s->torn_bytes : 0);
	if (s->broken) {
		b = cJSON_AddObjectToObject(v, "broken");
		cJSON_AddNumberToObject(b, "first_bad_record", (double)s->broken_seq);
		cJSON_AddStringToObject(b, "segment", s->broken_segment);
		cJSON_AddNumberToObject(b, "offset", (double)s->broken_offset);
		cJSON_AddStringToObject(b, "why", s->why);
	}
	return v;
}

static void query_free(struct log_query *q)
{
	cJSON_Delete(q->records);
	free(q->owned);
	free(q);
}

/* Back on the loop. */
static void query_done(void *arg)
{
	struct log_query *q = arg;
	struct htm_audit *a = q->a;
	cJSON *r;

	LIST_REMOVE(q, link);
	if (q->cancelled) {
		query_free(q);
		return;
	}
	if (q->err == -ECANCELED)
		q->err = 0;
	if (q->err < 0) {
		char msg[128];

		snprintf(msg, sizeof(msg), "reading the journal: %s", strerror(-q->err));
		a->reply(a->data, q->conn, htm_response_error(HTM_ERR_INTERNAL, msg));
		query_free(q);
		return;
	}
	r = htm_response_ok();
	if (q->verify) {
		cJSON_AddItemToObject(r, "verify", verify_json(q));
	} else {
		cJSON_AddItemToObject(r, "records", q->records);
		q->records = NULL;
		cJSON_AddNumberToObject(r, "matched", (double)q->matched);
		cJSON_AddNumberToObject(r, "scanned", (double)q->scanned);
	}
	a->reply(a->data, q->conn, r);
	query_free(q);
}

void audit_conn_closed(struct htm_audit *a, struct htm_conn *conn)
{
	struct log_query *q;

	LIST_FOREACH(q, &a->queries, link)
		if (q->conn == conn)
			q->cancelled = true;
}

int audit_query(struct htm_audit *a, struct htm_conn *conn,
		const struct htm_request *req, const char **code, char *err,
		size_t errlen)
{
	struct htm_ctx *c = a->c;
	struct htm_world *w = c->w;
	const struct ucred *cred = w->ops->cred(conn);
	struct log_query *q = calloc(1, sizeof(*q));
	struct htm_task *t;
	size_t n = 0;

	*code = HTM_ERR_INTERNAL;
	if (!q || !(q->records = cJSON_CreateArray())) {
		free(q);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	q->a = a;
	q->conn = conn;
	q->task = req->id;
	q->verify = req->verify;
	q->limit = req->limit ? req->limit : 100;
	q->peer_uid = cred->uid;
	snprintf(q->actor, sizeof(q->actor), "%s", req->actor ? req->actor : "");
	snprintf(q->type, sizeof(q->type), "%s", req->type ? req->type : "");
	if (req->has_since)
		q->since_ns = htm_real(c) > req->since_ns ? htm_real(c) - req->since_ns : 0;
	/* the query sees what was durable when it came in */
	q->upto = w->ops->journal_durable(w);
	if (cred->uid != 0) {
		q->owned = calloc(c->tasks.count + 1, sizeof(uint64_t));
		if (!q->owned) {
			query_free(q);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		TAILQ_FOREACH(t, &c->tasks.all, table_link)
			if (t->uid == cred->uid)
				q->owned[n++] = t->id;	/* ascending already */
		q->nowned = n;
	}
	LIST_INSERT_HEAD(&a->queries, q, link);
	if (w->ops->journal_query(w, c->journal_dir, q->verify ? NULL : query_visit, q,
				  &q->scan, &q->err, query_done) < 0) {
		LIST_REMOVE(q, link);
		query_free(q);
		snprintf(err, errlen, "cannot queue the query");
		return -ENOMEM;
	}
	return 0;
}

int audit_new(struct htm_audit **out, struct htm_ctx *c, htm_reply_fn reply,
	      void *data)
{
	struct htm_audit *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->c = c;
	a->reply = reply;
	a->data = data;
	LIST_INIT(&a->queries);
	*out = a;
	return 0;
}

void audit_free(struct htm_audit *a)
{
	struct log_query *q;

	if (!a)
		return;
	/* the world's worker is gone: nothing runs on these any more */
	while ((q = LIST_FIRST(&a->queries))) {
		LIST_REMOVE(q, link);
		query_free(q);
	}
	free(a);
}
