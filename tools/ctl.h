/* SPDX-License-Identifier: MIT */
/* What every htmctl command shares: options, the call to htmd, checks. */
#ifndef HTM_TOOLS_CTL_H
#define HTM_TOOLS_CTL_H

#include <getopt.h>
#include <stdbool.h>

#include <cjson/cJSON.h>

#include "client.h"

struct ctl {
	const char *socket;
	bool json;
	bool quiet;
	struct htm_client cl;
};

enum { OPT_SOCKET = 1000, OPT_NAME, OPT_ORIGIN, OPT_SLA, OPT_TIMEOUT,
       OPT_RISK, OPT_BATCH, OPT_USER, OPT_STATE, OPT_HELP, OPT_BUDGET,
       OPT_TASK, OPT_ACTOR, OPT_TYPE, OPT_SINCE, OPT_LIMIT, OPT_VERIFY,
       OPT_APPROVAL, OPT_ROLLBACK, OPT_TARGET, OPT_REASON, OPT_OVERRIDE,
       OPT_SEVERITY };

#define COMMON_OPTIONS                                                        \
	{ "socket", required_argument, NULL, OPT_SOCKET },                    \
	{ "output", required_argument, NULL, 'o' },                           \
	{ "help", no_argument, NULL, OPT_HELP }


extern const char ctl_usage_text[];

int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Options every command takes; 0 if handled, else an exit code. */
int common_option(struct ctl *ctl, int c);
cJSON *request_new(const char *cmd);
/* Call htmd; on an error response print it and return NULL with *rc set. */
cJSON *call(struct ctl *ctl, cJSON *req, int *rc);
void print_json(const cJSON *v);
int parse_id(const char *s, double *id);
int check_duration(const char *opt, const char *s);
int check_name(const char *opt, const char *const *names, const char *s);

/* htmctl_admin.c */
int cmd_log(struct ctl *ctl, int argc, char **argv);
int cmd_approvals(struct ctl *ctl, int argc, char **argv);
int cmd_decide(struct ctl *ctl, const char *cmd, int argc, char **argv);
int cmd_emit(struct ctl *ctl, int argc, char **argv);
int cmd_rules(struct ctl *ctl, int argc, char **argv);
int cmd_reload(struct ctl *ctl, int argc, char **argv);
int cmd_place(struct ctl *ctl, const char *cmd, int argc, char **argv);

#endif
