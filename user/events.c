// SPDX-License-Identifier: MIT
/*
 * Events: what happened, as a JSON object with a type, a sequence number
 * and a time. Logged, counted and kept in a short recent list that `top`
 * shows; the policy engine and the journal consume the same objects.
 */
#include <stdlib.h>

#include "manager.h"
#include "sys/log.h"

void manager_event(struct htm_manager *m, const char *type, int level,
		   cJSON *fields)
{
	cJSON *ev = fields ? fields : cJSON_CreateObject();
	char *text;

	if (!ev)
		return;
	cJSON_AddStringToObject(ev, "type", type);
	cJSON_AddNumberToObject(ev, "seq", (double)++m->event_seq);
	cJSON_AddNumberToObject(ev, "at", (double)(htm_now_real() / 1000000) / 1000.0);
	text = cJSON_PrintUnformatted(ev);
	htm_log(level, "event %s", text ? text : type);
	free(text);
	if (!m->recent_events)
		m->recent_events = cJSON_CreateArray();
	if (!m->recent_events) {
		cJSON_Delete(ev);
		return;
	}
	/* the rules see it at the end of this loop iteration */
	rules_queue_event(m, cJSON_Duplicate(ev, true));
	cJSON_AddItemToArray(m->recent_events, ev);
	if (cJSON_GetArraySize(m->recent_events) > HTM_RECENT_EVENTS)
		cJSON_DeleteItemFromArray(m->recent_events, 0);
}
