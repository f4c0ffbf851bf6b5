/* SPDX-License-Identifier: MIT */
/*
 * `htmctl log`: queries over the journal and `--verify`. A scan can cover
 * millions of records, so the world runs it off the loop (a worker thread
 * on Linux), up to the last record that was durable when the query came
 * in; the answer goes back on the loop. A peer that is not root sees only
 * records about itself or its own tasks.
 */
#ifndef HTM_ENGINE_AUDIT_H
#define HTM_ENGINE_AUDIT_H

#include "core/proto.h"
#include "engine/ctx.h"

struct htm_audit;

/* How answers reach the client (the root's reply after durability). */
typedef void (*htm_reply_fn)(void *data, struct htm_conn *conn, cJSON *response);

int audit_new(struct htm_audit **out, struct htm_ctx *c, htm_reply_fn reply,
	      void *data);
void audit_free(struct htm_audit *a);
/* 0: answered later; else an error with *code and a message. */
int audit_query(struct htm_audit *a, struct htm_conn *conn,
		const struct htm_request *req, const char **code, char *err,
		size_t errlen);
void audit_conn_closed(struct htm_audit *a, struct htm_conn *conn);

#endif
