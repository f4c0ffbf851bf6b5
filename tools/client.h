/* SPDX-License-Identifier: MIT */
/* htmctl's side of the socket: one blocking request, one response. */
#ifndef HTM_TOOLS_CLIENT_H
#define HTM_TOOLS_CLIENT_H

#include <cjson/cJSON.h>

/* Exit codes scripts can rely on. */
enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,	/* task failed, not found, or the daemon said no */
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3,
};

struct htm_client {
	int fd;
	char *buf;
	size_t len, cap;
};

/* 0 or a negative errno; the message is printed by the caller. */
int htm_client_connect(struct htm_client *cl, const char *path);
void htm_client_close(struct htm_client *cl);
/* Send req (consumed), return the parsed response or NULL (errno set). */
cJSON *htm_client_call(struct htm_client *cl, cJSON *req);

#endif
