// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htm/proto.h"

#include "core/duration.h"
#include "core/task.h"
#include "ctl.h"

const char ctl_usage_text[] =
"Usage: htmctl [--socket PATH] [-o json] COMMAND [ARGS]\n"
"\n"
"Commands:\n"
"  submit [-p PRIO] [--name N] [--origin O] [--sla DUR] [--timeout DUR]\n"
"         [--risk R] [--batch KEY] [--user U] [--budget DUR] [--approval]\n"
"         [--rollback CMD] [--target T] [-q] -- CMD [ARG...]\n"
"  list [--state S]          tasks, oldest first\n"
"  show ID                   one task in full\n"
"  cancel ID                 kill the task's whole cgroup, or dequeue it\n"
"  wait ID [--timeout DUR]   exit 0 if it succeeded, 1 otherwise\n"
"  status                    daemon, slots, queues, cgroups, sampler\n"
"  top [-d DUR] [-n N]       live view of governed cgroups and the stress level\n"
"  approvals                 items waiting for a human, with recommendations\n"
"  approve ID [--reason TEXT] [--override]   deny ID [--reason TEXT]\n"
"  emit TYPE [KEY=VALUE...] [--severity info|warning|critical]\n"
"  rules [test EVENT.json]   rules with hit counts, or what one event would do\n"
"  reload                    re-read the config file and rules (all or nothing)\n"
"  place CGROUP -p PRIO [--budget DUR]   govern an existing cgroup\n"
"  unplace CGROUP            stop governing it; its settings go back\n"
"  log [--task ID] [--actor A] [--type GLOB] [--since DUR] [--limit N]\n"
"      [--verify]            the audit journal; --verify checks CRCs and the chain\n"
"\n"
"Options (anywhere): --socket PATH (or $HTM_SOCKET), -o json|table\n"
"Durations: 500ms, 30s, 5m, 2h, 1h30m. Priorities: critical high normal low.\n"
"Exit: 0 ok, 1 task failed / not found / refused, 2 usage, 3 htmd unreachable.\n";

int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "htmctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'htmctl --help'.\n");
	return EXIT_USAGE;
}

/* Options every command takes; returns 0 if handled, -1 if not ours, or an exit code. */
int common_option(struct ctl *ctl, int c)
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
		fputs(ctl_usage_text, stdout);
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

cJSON *request_new(const char *cmd)
{
	cJSON *r = cJSON_CreateObject();

	cJSON_AddNumberToObject(r, "v", HTM_PROTO_VERSION);
	cJSON_AddStringToObject(r, "cmd", cmd);
	return r;
}

/* Call htmd; on an error response print it and return NULL with *rc set. */
cJSON *call(struct ctl *ctl, cJSON *req, int *rc)
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

void print_json(const cJSON *v)
{
	char *s = cJSON_Print(v);

	puts(s ? s : "null");
	free(s);
}

int parse_id(const char *s, double *id)
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

int check_duration(const char *opt, const char *s)
{
	uint64_t ns;

	if (htm_duration_parse(s, &ns) < 0)
		return usage_error("%s: invalid duration '%s' (use e.g. 500ms, 30s, 5m, 2h)",
				   opt, s);
	return 0;
}

int check_name(const char *opt, const char *const *names, const char *s)
{
	char all[128] = "";

	if (htm_name_lookup(names, s) >= 0)
		return 0;
	for (int i = 0; names[i]; i++)
		snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s",
			 i ? ", " : "", names[i]);
	return usage_error("%s: '%s' is not one of %s", opt, s, all);
}

