// SPDX-License-Identifier: MIT
/* htmctl commands about the audit journal, approvals, events and rules. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "htm/proto.h"

#include "core/task.h"
#include "ctl.h"
#include "render.h"

int cmd_log(struct ctl *ctl, int argc, char **argv)
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


/* Commands with no arguments but the common options. */
static int plain_options(struct ctl *ctl, const char *cmd, int argc, char **argv)
{
	static const struct option opts[] = { COMMON_OPTIONS, { 0 } };
	int c, rc;

	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1)
		if ((rc = common_option(ctl, c)))
			return rc;
	if (optind < argc)
		return usage_error("%s: unexpected argument '%s'", cmd, argv[optind]);
	return 0;
}

int cmd_approvals(struct ctl *ctl, int argc, char **argv)
{
	cJSON *resp, *a;
	int rc = plain_options(ctl, "approvals", argc, argv);

	if (rc)
		return rc;
	resp = call(ctl, request_new("approvals"), &rc);
	if (!resp)
		return rc;
	a = cJSON_GetObjectItemCaseSensitive(resp, "approvals");
	if (ctl->json)
		print_json(a);
	else
		render_approvals(stdout, a);
	cJSON_Delete(resp);
	return EXIT_OK;
}

int cmd_decide(struct ctl *ctl, const char *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_OPTIONS,
		{ "reason", required_argument, NULL, OPT_REASON },
		{ "override", no_argument, NULL, OPT_OVERRIDE },
		{ 0 }
	};
	bool approve = strcmp(cmd, "approve") == 0;
	cJSON *req = request_new(cmd), *resp, *task;
	double id;
	int c, rc = 0;

	while (rc == 0 && (c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c == OPT_REASON)
			cJSON_AddStringToObject(req, "reason", optarg);
		else if (c == OPT_OVERRIDE && approve)
			cJSON_AddTrueToObject(req, "override");
		else if (c == OPT_OVERRIDE)
			rc = usage_error("deny: no --override");
		else
			rc = common_option(ctl, c);
	}
	if (rc == 0 && (optind != argc - 1 || parse_id(argv[optind], &id) < 0))
		rc = usage_error("%s: expected one task id", cmd);
	if (rc) {
		cJSON_Delete(req);
		return rc;
	}
	cJSON_AddNumberToObject(req, "id", id);
	resp = call(ctl, req, &rc);
	if (!resp)
		return rc;
	task = cJSON_GetObjectItemCaseSensitive(resp, "task");
	if (ctl->json) {
		print_json(task);
	} else {
		const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "state"));
		const cJSON *ap = cJSON_GetObjectItemCaseSensitive(task, "approval");

		if (ap)
			printf("task %.0f: approval recorded, %.0f more needed\n", id,
			       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ap, "needed")));
		else
			printf("task %.0f %s\n", id, state);
	}
	cJSON_Delete(resp);
	return EXIT_OK;
}

/* KEY=VALUE: numbers and true/false keep their type, the rest is text. */
static void add_field(cJSON *o, const char *kv)
{
	const char *eq = strchr(kv, '=');
	char key[128], *end;
	double d;

	snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
	d = strtod(eq + 1, &end);
	if (eq[1] && !*end)
		cJSON_AddNumberToObject(o, key, d);
	else if (!strcmp(eq + 1, "true") || !strcmp(eq + 1, "false"))
		cJSON_AddBoolToObject(o, key, !strcmp(eq + 1, "true"));
	else
		cJSON_AddStringToObject(o, key, eq + 1);
}

int cmd_emit(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_OPTIONS,
		{ "severity", required_argument, NULL, OPT_SEVERITY },
		{ 0 }
	};
	static const char *const sev[] = { "info", "warning", "critical", NULL };
	cJSON *req = request_new("emit"), *fields = cJSON_CreateObject(), *resp;
	int c, rc = 0;

	while (rc == 0 && (c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c == OPT_SEVERITY) {
			rc = check_name("--severity", sev, optarg);
			cJSON_AddStringToObject(req, "severity", optarg);
		} else {
			rc = common_option(ctl, c);
		}
	}
	if (rc == 0 && optind >= argc)
		rc = usage_error("emit: expected an event type");
	for (int i = optind + 1; rc == 0 && i < argc; i++) {
		if (!strchr(argv[i], '=') || argv[i][0] == '=')
			rc = usage_error("emit: '%s' is not KEY=VALUE", argv[i]);
		else
			add_field(fields, argv[i]);
	}
	if (rc) {
		cJSON_Delete(req);
		cJSON_Delete(fields);
		return rc;
	}
	cJSON_AddStringToObject(req, "type", argv[optind]);
	cJSON_AddItemToObject(req, "fields", fields);
	resp = call(ctl, req, &rc);
	if (!resp)
		return rc;
	if (ctl->json)
		print_json(cJSON_GetObjectItemCaseSensitive(resp, "event"));
	else
		printf("emitted %s\n", argv[optind]);
	cJSON_Delete(resp);
	return EXIT_OK;
}

static cJSON *read_json_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t cap = 0;
	cJSON *o = NULL;

	if (!f) {
		fprintf(stderr, "htmctl: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (getdelim(&text, &cap, '\0', f) >= 0)
		o = cJSON_Parse(text);
	fclose(f);
	free(text);
	if (!o)
		fprintf(stderr, "htmctl: %s: not valid JSON\n", path);
	return o;
}

int cmd_rules(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = { COMMON_OPTIONS, { 0 } };
	cJSON *req, *resp, *event;
	int c, rc;

	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1)
		if ((rc = common_option(ctl, c)))
			return rc;
	if (optind < argc && strcmp(argv[optind], "test") == 0) {
		if (optind + 2 != argc)
			return usage_error("rules test: expected one EVENT.json file");
		event = read_json_file(argv[optind + 1]);
		if (!event)
			return EXIT_USAGE;
		req = request_new("rules_test");
		cJSON_AddItemToObject(req, "event", event);
		resp = call(ctl, req, &rc);
		if (!resp)
			return rc;
		if (ctl->json)
			print_json(cJSON_GetObjectItemCaseSensitive(resp, "test"));
		else
			render_rule_test(stdout, cJSON_GetObjectItemCaseSensitive(resp, "test"));
		rc = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(resp, "test"), "rule")) ? EXIT_OK : EXIT_FAILED;
		cJSON_Delete(resp);
		return rc;
	}
	if (optind < argc)
		return usage_error("rules: expected nothing or test EVENT.json");
	resp = call(ctl, request_new("rules"), &rc);
	if (!resp)
		return rc;
	if (ctl->json)
		print_json(cJSON_GetObjectItemCaseSensitive(resp, "rules"));
	else
		render_rules(stdout, cJSON_GetObjectItemCaseSensitive(resp, "rules"));
	cJSON_Delete(resp);
	return EXIT_OK;
}

int cmd_reload(struct ctl *ctl, int argc, char **argv)
{
	cJSON *resp;
	int rc = plain_options(ctl, "reload", argc, argv);

	if (rc)
		return rc;
	resp = call(ctl, request_new("reload"), &rc);
	if (!resp)
		return rc;
	if (ctl->json)
		print_json(cJSON_GetObjectItemCaseSensitive(resp, "rules"));
	else
		printf("reloaded: %d rules\n",
		       cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(resp, "rules")));
	cJSON_Delete(resp);
	return EXIT_OK;
}

int cmd_place(struct ctl *ctl, const char *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		COMMON_OPTIONS,
		{ "priority", required_argument, NULL, 'p' },
		{ "budget", required_argument, NULL, OPT_BUDGET },
		{ 0 }
	};
	bool place = strcmp(cmd, "place") == 0;
	cJSON *req = request_new(cmd), *resp, *task;
	bool have_prio = false;
	int c, rc = 0;

	while (rc == 0 && (c = getopt_long(argc, argv, "o:p:", opts, NULL)) != -1) {
		if (c == 'p' && place) {
			rc = check_name("--priority", htm_priority_names, optarg);
			cJSON_AddStringToObject(req, "priority", optarg);
			have_prio = true;
		} else if (c == OPT_BUDGET && place) {
			rc = check_duration("--budget", optarg);
			cJSON_AddStringToObject(req, "budget", optarg);
		} else if (c == 'p' || c == OPT_BUDGET) {
			rc = usage_error("unplace takes only the cgroup");
		} else {
			rc = common_option(ctl, c);
		}
	}
	if (rc == 0 && optind != argc - 1)
		rc = usage_error("%s: expected one cgroup path", cmd);
	if (rc == 0 && place && !have_prio)
		rc = usage_error("place: -p PRIORITY is required");
	if (rc) {
		cJSON_Delete(req);
		return rc;
	}
	/* htmd resolves paths in its own working directory: send an
	 * absolute one, so that a relative path means what the caller meant */
	if (argv[optind][0] != '/') {
		char *cwd = getcwd(NULL, 0), *abs = NULL;

		if (!cwd || asprintf(&abs, "%s/%s", cwd, argv[optind]) < 0) {
			free(cwd);
			cJSON_Delete(req);
			fprintf(stderr, "htmctl: %s: cannot make %s absolute: %s\n", cmd,
				argv[optind], strerror(errno));
			return EXIT_USAGE;
		}
		cJSON_AddStringToObject(req, "path", abs);
		free(cwd);
		free(abs);
	} else {
		cJSON_AddStringToObject(req, "path", argv[optind]);
	}
	resp = call(ctl, req, &rc);
	if (!resp)
		return rc;
	task = cJSON_GetObjectItemCaseSensitive(resp, "task");
	if (ctl->json)
		print_json(task);
	else if (place)
		printf("placed %s at %s (task %.0f)\n", argv[optind],
		       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(task, "priority")),
		       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(task, "id")));
	else
		printf("unplaced %s: its settings are back\n", argv[optind]);
	cJSON_Delete(resp);
	return EXIT_OK;
}
