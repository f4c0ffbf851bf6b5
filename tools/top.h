/* SPDX-License-Identifier: MIT */
#ifndef HTM_TOOLS_TOP_H
#define HTM_TOOLS_TOP_H

#include <stdbool.h>

#include <cjson/cJSON.h>

struct top_opts {
	bool json;		/* one snapshot as JSON, then exit */
	int delay_ms;		/* 0: the daemon's sampling period */
	int iterations;		/* 0: until q or ^C */
	/* one snapshot from htmd, or NULL with *rc the exit code */
	cJSON *(*fetch)(void *ctx, int *rc);
	void (*print_json)(const cJSON *v);
	void *ctx;
};

int top_run(struct top_opts *o);

#endif
