// SPDX-License-Identifier: MIT
/* htmctl: the operator's command line for htmd. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "htm/proto.h"

#include "client.h"
#include "core/duration.h"
#include "core/task.h"
#include "render.h"
#include "top.h"

struct ctl {
	const char *socket;
	bool json;
	bool quiet;
	struct htm_client cl;
};

static const char usage_text[] =
"Usage: htmctl [--socket PATH] [-o json] COMMAND [ARGS]\n"
"\n"
"Commands:\n"
"  submit [-p PRIO] [--name N] [--origin O] [--sla DUR] [--timeout DUR]\n"
"         [--risk R] [--batch KEY] [--user U] [--budget DUR] [-q] -- CMD [ARG...]\n"
"  list [--state S]          tasks, oldest first\n"
"  show ID                   one task in full\n"
"  cancel ID                 kill the task's whole cgroup, or dequeue it\n"
"  wait ID [--timeout DUR]   exit 0 if it succeeded, 1 otherwise\n"
"  status                    daemon, slots, queues, cgroups, sampler\n"
"  top [-d DUR] [-n N]       live view of governed cgroups and the stress level\n"
"  log [--task ID] [--actor A] [--type GLOB] [--since DUR] [--limit N]\n"
"      [--verify]            the audit journal; --verify checks CRCs and the chain\n"
"\n"
"Options (anywhere): --socket PATH (or $HTM_SOCKET), -o json|table\n"
"Durations: 500ms, 30s, 5m, 2h, 1h30m. Priorities: critical high normal low.\n"
"Exit: 0 ok, 1 task failed / not found / refused, 2 usage, 3 htmd unreachable.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "htmctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'htmctl --help'.\n");
	return EXIT_USAGE;
}

enum { OPT_SOCKET = 1000, OPT_NAME, OPT_ORIGIN, OPT_SLA, OPT_TIMEOUT,
       OPT_RISK, OPT_BATCH, OPT_USER, OPT_STATE, OPT_HELP, OPT_BUDGET,
       OPT_TASK, OPT_ACTOR, OPT_TYPE, OPT_SINCE, OPT_LIMIT, OPT_VERIFY };

#define COMMON_OPTIONS                                                        \
	{ "socket", required_argument, NULL, OPT_SOCKET },                    \
	{ "output", required_argument, NULL, 'o' },                           \
	{ "help", no_argument, NULL, OPT_HELP }

/* Options every command takes; returns 0 if handled, -1 if not ours, or an exit code. */
static int common_option(struct ctl *ctl, int c)
{
	switch (c) {
	case OPT_SOCKET:
		ctl->socket = optarg;
		return 0;
	case 'o':
		if (strcmp(optarg, "json") == 0)
			ctl->json = true;
		else if (strcmp(optarg, "table") == 0)
			ctl->json = false;
		else
			return usage_error("-o takes json or table, not '%s'", optarg);
		return 0;
	case OPT_HELP:
		fputs(usage_text, stdout);
		exit(EXIT_OK);
	default:
		return usage_error("unknown option");
	}
}

static int connect_or_explain(struct ctl *ctl)
{
	int r = htm_client_connect(&ctl->cl, ctl->socket);

	if (r < 0) {
		fprintf(stderr, "htmctl: cannot reach htmd at %s: %s\n", ctl->socket,
			strerror(-r));
		return EXIT_UNREACHABLE;
	}
	return EXIT_OK;
}

static cJSON *request_new(const char *cmd)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddNumberToObject(r, "v", HTM_PROTO_VERSION);
	cJSON_AddStringToObject(r, "cmd", cmd);
	return r;
}

/* Call htmd; on an error response print it and return NULL with *rc set. */
static cJSON *call(struct ctl *ctl, cJSON *req, int *rc)
{
	cJSON *resp, *err;

	*rc = connect_or_explain(ctl);
	if (*rc) {
		cJSON_Delete(req);
		return NULL;
	}
	resp = htm_client_call(&ctl->cl, req);
	if (!resp) {
		fprintf(stderr, "htmctl: htmd at %s: %s\n", ctl->socket, strerror(errno));
		*rc = EXIT_UNREACHABLE;
		return NULL;
	}
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "ok")))
		return resp;
	err = cJSON_GetObjectItemCaseSensitive(resp, "error");
	if (ctl->json) {
		char *s = cJSON_Print(resp);

		puts(s);
		free(s);
	} else {
		fprintf(stderr, "htmctl: %s: %s\n",
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "code")),
			cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "message")));
	}
	cJSON_Delete(resp);
	*rc = EXIT_FAILED;
	return NULL;
}

static void print_json(const cJSON *v)
{
	char *s = cJSON_Print(v);

	puts(s ? s : "null");
	free(s);
}

static int parse_id(const char *s, double *id)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || end == s || v == 0 || v > (1ull << 53))
		return -EINVAL;
	*id = (double)v;
	return 0;
}

static int check_duration(const char *opt, const char *s)
{
	uint64_t ns;

	if (htm_duration_parse(s, &ns) < 0)
		return usage_error("%s: invalid duration '%s' (use e.g. 500ms, 30s, 5m, 2h)",
				   opt, s);
	return 0;
}

static int check_name(const char *opt, const char *const *names, const char *s)
{
	char all[128] = "";

	if (htm_name_lookup(names, s) >= 0)
		return 0;
	for (int i = 0; names[i]; i++)
		snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s",
			 i ? ", " : "", names[i]);
	return usage_error("%s: '%s' is not one of %s", opt, s, all);
}

static int cmd_submit(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_OPTIONS,
		{ "priority", required_argument, NULL, 'p' },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "origin", required_argument, NULL, OPT_ORIGIN },
		{ "sla", required_argument, NULL, OPT_SLA },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "risk", required_argument, NULL, OPT_RISK },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "user", required_argument, NULL, OPT_USER },
		{ "budget", required_argument, NULL, OPT_BUDGET },
		{ "quiet", no_argument, NULL, 'q' },
		{ 0 }
	};
	cJSON *req = request_new("submit"), *resp, *arr, *task;
	char cwd[PATH_MAX];
	int c, rc;

	/* '+': stop at the command, its options are its own */
	while ((c = getopt_long(argc, argv, "+p:o:q", opts, NULL)) != -1) {
		rc = 0;
		switch (c) {
		case 'p':
			rc = check_name("--priority", htm_priority_names, optarg);
			cJSON_AddStringToObject(req, "priority", optarg);
			break;
		case OPT_NAME:
			cJSON_AddStringToObject(req, "name", optarg);
			break;
		case OPT_ORIGIN:
			rc = check_name("--origin", htm_origin_names, optarg);
			cJSON_AddStringToObject(req, "origin", optarg);
			break;
		case OPT_RISK:
			rc = check_name("--risk", htm_risk_names, optarg);
			cJSON_AddStringToObject(req, "risk", optarg);
			break;
		case OPT_SLA:
			rc = check_duration("--sla", optarg);
			cJSON_AddStringToObject(req, "sla", optarg);
			break;
		case OPT_TIMEOUT:
			rc = check_duration("--timeout", optarg);
			cJSON_AddStringToObject(req, "timeout", optarg);
			break;
		case OPT_BATCH:
			cJSON_AddStringToObject(req, "batch", optarg);
			break;
		case OPT_BUDGET:
			rc = check_duration("--budget", optarg);
			cJSON_AddStringToObject(req, "budget", optarg);
			break;
		case OPT_USER:
			cJSON_AddStringToObject(req, "user", optarg);
			break;
		case 'q':
			ctl->quiet = true;
			break;
		default:
			rc = common_option(ctl, c);
		}
		if (rc) {
			cJSON_Delete(req);
			return rc;
		}
	}
	if (optind >= argc) {
		cJSON_Delete(req);
		return usage_error("submit: missing command (htmctl submit [OPTIONS] -- CMD [ARG...])");
	}
	arr = cJSON_AddArrayToObject(req, "argv");
	for (int i = optind; i < argc; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(argv[i]));
	if (getcwd(cwd, sizeof(cwd)))
		cJSON_AddStringToObject(req, "cwd", cwd);
	resp = call(ctl, req, &rc);
	if (!resp)
		return rc;
	task = cJSON_GetObjectItemCaseSensitive(resp, "task");
	if (ctl->json)
		print_json(task);
	else if (ctl->quiet)
		printf("%.0f\n", cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(task, "id")));
	else
		printf("task %.0f %s (%s)\n",
		       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(task, "id")),
		       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "state")),
		       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "priority")));
	cJSON_Delete(resp);
	return EXIT_OK;
}

static int cmd_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_OPTIONS,
		{ "state", required_argument, NULL, OPT_STATE },
		{ 0 }
	};
	cJSON *req = request_new("list"), *resp;
	int c, rc;

	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c == OPT_STATE) {
			rc = check_name("--state", htm_state_names, optarg);
			cJSON_AddStringToObject(req, "state", optarg);
		} else {
			rc = common_option(ctl, c);
		}
		if (rc) {
			cJSON_Delete(req);
			return rc;
		}
	}
	if (optind < argc) {
		cJSON_Delete(req);
		return usage_error("list: unexpected argument '%s'", argv[optind]);
	}
	resp = call(ctl, req, &rc);
	if (!resp)
		return rc;
	if (ctl->json)
		print_json(cJSON_GetObjectItemCaseSensitive(resp, "tasks"));
	else
		render_task_table(stdout, cJSON_GetObjectItemCaseSensitive(resp, "tasks"));
	cJSON_Delete(resp);
	return EXIT_OK;
}

/* show, cancel, wait: one task id, and for wait an optional --timeout. */
static int cmd_one_task(struct ctl *ctl, const char *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_OPTIONS,
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ 0 }
	};
	bool is_wait = strcmp(cmd, "wait") == 0;
	cJSON *req = request_new(cmd), *resp, *task;
	const char *state;
	double id;
	int c, rc;

	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c == OPT_TIMEOUT && is_wait) {
			rc = check_duration("--timeout", optarg);
			cJSON_AddStringToObject(req, "timeout", optarg);
		} else {
			rc = c == OPT_TIMEOUT ? usage_error("%s: no --timeout", cmd)
					      : common_option(ctl, c);
		}
		if (rc) {
			cJSON_Delete(req);
			return rc;
		}
	}
	if (optind != argc - 1 || parse_id(argv[optind], &id) < 0) {
		cJSON_Delete(req);
		return usage_error("%s: expected one task id", cmd);
	}
	cJSON_AddNumberToObject(req, "id", id);
	resp = call(ctl, req, &rc);
	if (!resp)
		return rc;
	task = cJSON_GetObjectItemCaseSensitive(resp, "task");
	state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "state"));
	if (ctl->json)
		print_json(is_wait ? resp : task);
	else if (strcmp(cmd, "show") == 0)
		render_task(stdout, task);
	else if (is_wait && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "timed_out")))
		printf("task %.0f still %s after the wait timeout\n", id, state);
	else
		render_task_outcome(stdout, task);
	rc = EXIT_OK;
	if (is_wait && strcmp(state, "succeeded") != 0)
		rc = EXIT_FAILED;
	cJSON_Delete(resp);
	return rc;
}

static int cmd_status(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = { COMMON_OPTIONS, { 0 } };
	cJSON *resp;
	int c, rc;

	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1)
		if ((rc = common_option(ctl, c)))
			return rc;
	if (optind < argc)
		return usage_error("status: unexpected argument '%s'", argv[optind]);
	resp = call(ctl, request_new("status"), &rc);
	if (!resp)
		return rc;
	if (ctl->json)
		print_json(cJSON_GetObjectItemCaseSensitive(resp, "status"));
	else
		render_status(stdout, cJSON_GetObjectItemCaseSensitive(resp, "status"));
	cJSON_Delete(resp);
	return EXIT_OK;
}

static int cmd_log(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_OPTIONS,
		{ "task", required_argument, NULL, OPT_TASK },
		{ "actor", required_argument, NULL, OPT_ACTOR },
		{ "type", required_argument, NULL, OPT_TYPE },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "verify", no_argument, NULL, OPT_VERIFY },
		{ 0 }
	};
	cJSON *req = request_new("log"), *resp, *v;
	bool verify = false;
	double id;
	char *end;
	long limit;
	int c, rc = 0;

	while (rc == 0 && (c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case OPT_TASK:
			if (parse_id(optarg, &id) < 0)
				rc = usage_error("log: --task takes a task id");
			else
				cJSON_AddNumberToObject(req, "task", id);
			break;
		case OPT_ACTOR:
			cJSON_AddStringToObject(req, "actor", optarg);
			break;
		case OPT_TYPE:
			cJSON_AddStringToObject(req, "type", optarg);
			break;
		case OPT_SINCE:
			rc = check_duration("--since", optarg);
			cJSON_AddStringToObject(req, "since", optarg);
			break;
		case OPT_LIMIT:
			limit = strtol(optarg, &end, 10);
			if (*end || limit < 1 || limit > 100000)
				rc = usage_error("log: --limit takes 1..100000");
			else
				cJSON_AddNumberToObject(req, "limit", (double)limit);
			break;
		case OPT_VERIFY:
			verify = true;
			cJSON_AddTrueToObject(req, "verify");
			break;
		default:
			rc = common_option(ctl, c);
		}
	}
	if (rc == 0 && optind < argc)
		rc = usage_error("log: unexpected argument '%s'", argv[optind]);
	if (rc) {
		cJSON_Delete(req);
		return rc;
	}
	resp = call(ctl, req, &rc);
	if (!resp)
		return rc;
	v = cJSON_GetObjectItemCaseSensitive(resp, verify ? "verify" : "records");
	if (ctl->json)
		print_json(v);
	else if (verify)
		render_verify(stdout, v);
	else
		render_log(stdout, v);
	rc = verify && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "ok"))
		     ? EXIT_FAILED : EXIT_OK;
	cJSON_Delete(resp);
	return rc;
}

static cJSON *top_fetch(void *ctx, int *rc)
{
	struct ctl *ctl = ctx;
	cJSON *resp, *top;

	/* one connection for the whole session */
	if (ctl->cl.fd >= 0) {
		resp = htm_client_call(&ctl->cl, request_new("top"));
		if (!resp) {
			fprintf(stderr, "htmctl: htmd at %s: %s\n", ctl->socket,
				strerror(errno));
			*rc = EXIT_UNREACHABLE;
			return NULL;
		}
	} else {
		resp = call(ctl, request_new("top"), rc);
		if (!resp)
			return NULL;
	}
	top = cJSON_DetachItemFromObjectCaseSensitive(resp, "top");
	cJSON_Delete(resp);
	if (!top)
		*rc = EXIT_FAILED;
	return top;
}

static int cmd_top(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = { COMMON_OPTIONS, { 0 } };
	struct top_opts to = { .fetch = top_fetch, .print_json = print_json,
			       .ctx = ctl };
	uint64_t ns;
	int c, rc;

	while ((c = getopt_long(argc, argv, "o:d:n:", opts, NULL)) != -1) {
		if (c == 'd') {
			if (htm_duration_parse(optarg, &ns) < 0 || ns < HTM_NSEC_PER_MSEC * 100)
				return usage_error("top: -d takes a duration of at least 100ms");
			to.delay_ms = (int)(ns / HTM_NSEC_PER_MSEC);
		} else if (c == 'n') {
			to.iterations = atoi(optarg);
			if (to.iterations <= 0)
				return usage_error("top: -n takes a positive count");
		} else if ((rc = common_option(ctl, c))) {
			return rc;
		}
	}
	if (optind < argc)
		return usage_error("top: unexpected argument '%s'", argv[optind]);
	to.json = ctl->json;
	return top_run(&to);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { COMMON_OPTIONS,
					      { "version", no_argument, NULL, 'V' },
					      { 0 } };
	struct ctl ctl = { .cl.fd = -1 };
	const char *cmd;
	int c, rc;

	ctl.socket = getenv("HTM_SOCKET");
	if (!ctl.socket || !*ctl.socket)
		ctl.socket = HTM_DEFAULT_SOCKET;
	while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
		if (c == 'V') {
			printf("htmctl %s\n", HTM_VERSION);
			return EXIT_OK;
		}
		if (c == 'h')
			c = OPT_HELP;
		if ((rc = common_option(&ctl, c)))
			return rc;
	}
	if (optind >= argc)
		return usage_error("missing command");
	cmd = argv[optind];
	/* each command parses its own options from its own argv; optind 0
	 * makes glibc start afresh, or it keeps the '+' mode of the parse
	 * above and stops at the first argument ("wait 5 --timeout 1s") */
	argc -= optind;
	argv += optind;
	optind = 0;
	if (strcmp(cmd, "submit") == 0)
		rc = cmd_submit(&ctl, argc, argv);
	else if (strcmp(cmd, "list") == 0)
		rc = cmd_list(&ctl, argc, argv);
	else if (!strcmp(cmd, "show") || !strcmp(cmd, "cancel") || !strcmp(cmd, "wait"))
		rc = cmd_one_task(&ctl, cmd, argc, argv);
	else if (strcmp(cmd, "status") == 0)
		rc = cmd_status(&ctl, argc, argv);
	else if (strcmp(cmd, "top") == 0)
		rc = cmd_top(&ctl, argc, argv);
	else if (strcmp(cmd, "log") == 0)
		rc = cmd_log(&ctl, argc, argv);
	else
		rc = usage_error("unknown command '%s'", cmd);
	htm_client_close(&ctl.cl);
	return rc;
}
