/* SPDX-License-Identifier: MIT */
/*
 * The control socket: newline-delimited requests on a unix stream socket,
 * all I/O on the loop. Each connection hands one complete line at a time to
 * the request callback and waits for exactly one reply before the next line
 * (so replies keep request order even when one is deferred, as `wait` is).
 * A line over HTM_MAX_LINE is answered with an error and skipped; the
 * connection stays usable. Peer credentials come from SO_PEERCRED.
 */
#ifndef HTM_SYS_API_H
#define HTM_SYS_API_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>

#include "loop.h"

struct htm_api;
struct htm_conn;

struct htm_api_ops {
	/* A complete request line; answer it with htm_conn_reply, now or later. */
	void (*request)(void *data, struct htm_conn *c, const char *line,
			size_t len);
	/* The connection is going away: drop any deferred reply to it. */
	void (*closed)(void *data, struct htm_conn *c);
};

int htm_api_new(struct htm_api **out, struct htm_loop *l, const char *path,
		const struct htm_api_ops *ops, void *data);
void htm_api_free(struct htm_api *a);
unsigned htm_api_connections(const struct htm_api *a);
/* True when no reply is waiting to be sent on any connection. */
bool htm_api_flushed(const struct htm_api *a);

/* Queue the reply to the current request (takes ownership of response). */
int htm_conn_reply(struct htm_conn *c, cJSON *response);
const struct ucred *htm_conn_cred(const struct htm_conn *c);
/* The peer's supplementary groups (SO_PEERGROUPS), up to max; count or -errno. */
int htm_conn_groups(const struct htm_conn *c, gid_t *groups, int max);

#endif
