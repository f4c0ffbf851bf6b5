// SPDX-License-Identifier: MIT
/*
 * Journal records as the engine writes them: every body says who decided,
 * what happened, when, where (host, htmd's pid), why and how. Appending is
 * the world's (files with a hash chain on Linux, memory in a simulation);
 * durability comes back through the world's durable hook.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/proto.h"
#include "engine/ctx.h"

struct htm_who htm_who(uint32_t uid, const char *actor)
{
	struct htm_who w = { .uid = uid };

	snprintf(w.actor, sizeof(w.actor), "%s", actor);
	return w;
}

cJSON *record_who_json(struct htm_ctx *c, const struct htm_who *who)
{
	cJSON *o = cJSON_CreateObject();
	char name[64];

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "actor", who ? who->actor : "htmd");
	if (who && who->uid != UINT32_MAX) {
		cJSON_AddNumberToObject(o, "uid", who->uid);
		if (c->w->ops->user_name(c->w, who->uid, name, sizeof(name)) == 0)
			cJSON_AddStringToObject(o, "user", name);
	}
	return o;
}

int record_write(struct htm_ctx *c, enum htm_rec_type type,
		 const struct htm_who *who, const char *why, const char *how,
		 cJSON *body)
{
	struct htm_world *w = c->w;
	uint64_t now = htm_real(c), seq = 0;
	cJSON *where;
	char *text;
	int r;

	if (!body)
		body = cJSON_CreateObject();
	if (!body)
		return -ENOMEM;
	cJSON_AddItemToObject(body, "who", record_who_json(c, who));
	cJSON_AddStringToObject(body, "what", htm_rec_type_names[type]);
	cJSON_AddNumberToObject(body, "when", (double)(now / 1000000) / 1000.0);
	where = cJSON_AddObjectToObject(body, "where");
	cJSON_AddStringToObject(where, "host", w->ops->host(w));
	cJSON_AddNumberToObject(where, "htmd_pid", w->ops->pid(w));
	cJSON_AddStringToObject(body, "why", why ? why : "");
	cJSON_AddStringToObject(body, "how", how ? how : "");
	text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	if (!text)
		return -ENOMEM;
	r = w->ops->journal_append(w, type, now, text, strlen(text), &seq);
	free(text);
	if (r < 0)
		htm_log(LOG_CRIT, "journal: cannot append %s: %s",
			htm_rec_type_names[type], strerror(-r));
	return r;
}

int record_task_submit(struct htm_ctx *c, const struct htm_task *t,
		       const struct htm_who *who, const char *why)
{
	cJSON *body = cJSON_CreateObject();

	if (!body)
		return -ENOMEM;
	cJSON_AddItemToObject(body, "task", htm_task_to_json(t));
	return record_write(c, HTM_REC_TASK_SUBMIT, who, why, "control socket", body);
}
