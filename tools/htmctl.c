// SPDX-License-Identifier: MIT
/* htmctl: the operator's command line for htmd. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "htm/proto.h"

#include "core/duration.h"
#include "core/task.h"
#include "ctl.h"
#include "render.h"
#include "top.h"

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
		{ "approval", no_argument, NULL, OPT_APPROVAL },
		{ "rollback", required_argument, NULL, OPT_ROLLBACK },
		{ "target", required_argument, NULL, OPT_TARGET },
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
		case OPT_APPROVAL:
			cJSON_AddTrueToObject(req, "approval");
			break;
		case OPT_ROLLBACK:
			cJSON_AddStringToObject(req, "rollback", optarg);
			break;
		case OPT_TARGET:
			cJSON_AddStringToObject(req, "target", optarg);
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
	else if (!strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "state")),
			 "pending_approval"))
		printf("task %.0f pending approval (tier %.0f): htmctl approvals\n",
		       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(task, "id")),
		       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(task, "tier")));
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
	else if (strcmp(cmd, "approvals") == 0)
		rc = cmd_approvals(&ctl, argc, argv);
	else if (!strcmp(cmd, "approve") || !strcmp(cmd, "deny"))
		rc = cmd_decide(&ctl, cmd, argc, argv);
	else if (strcmp(cmd, "emit") == 0)
		rc = cmd_emit(&ctl, argc, argv);
	else if (strcmp(cmd, "rules") == 0)
		rc = cmd_rules(&ctl, argc, argv);
	else if (strcmp(cmd, "reload") == 0)
		rc = cmd_reload(&ctl, argc, argv);
	else if (!strcmp(cmd, "place") || !strcmp(cmd, "unplace"))
		rc = cmd_place(&ctl, cmd, argc, argv);
	else
		rc = usage_error("unknown command '%s'", cmd);
	htm_client_close(&ctl.cl);
	return rc;
}
