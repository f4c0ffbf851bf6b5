// SPDX-License-Identifier: MIT
/*
 * The knob ledger: every cgroup file htmd changes on behalf of a decision
 * (a rule's throttle or protect, the governor's caps) is recorded with the
 * value it had before, so it can be put back when the change expires, when
 * the decision is undone, and always when htmd stops (fail open). In
 * observe-only mode the decision is recorded and journaled, the file is
 * not touched.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manager.h"
#include "sys/log.h"

struct knob {
	LIST_ENTRY(knob) link;
	char *cgroup, *file;
	char original[128];
	char value[128];
	uint64_t until;			/* CLOCK_MONOTONIC; 0: until undone */
	char *why;
};

static struct knob *knob_find(struct htm_manager *m, const char *cg, const char *file)
{
	struct knob *k;

	LIST_FOREACH(k, &m->knobs, link)
		if (!strcmp(k->cgroup, cg) && !strcmp(k->file, file))
			return k;
	return NULL;
}

static void knob_free(struct knob *k)
{
	free(k->cgroup);
	free(k->file);
	free(k->why);
	free(k);
}

static void journal_knob(struct htm_manager *m, const char *cg, const char *file,
			 const char *from, const char *to, const char *why,
			 cJSON *who)
{
	cJSON *b = cJSON_CreateObject();

	cJSON_AddStringToObject(b, "cgroup", cg);
	cJSON_AddStringToObject(b, "file", file);
	cJSON_AddStringToObject(b, "from", from);
	cJSON_AddStringToObject(b, "to", to);
	cJSON_AddBoolToObject(b, "observe", m->cfg.observe);
	persist_write(m, HTM_REC_DECISION, who, why,
		      m->cfg.observe ? "observe-only: not written" : "cgroup file write", b);
}

static void knobs_rearm(struct htm_manager *m)
{
	uint64_t first = 0;
	struct knob *k;

	LIST_FOREACH(k, &m->knobs, link)
		if (k->until && (!first || k->until < first))
			first = k->until;
	if (first)
		htm_timer_arm(&m->knob_timer, first);
	else
		htm_timer_disarm(&m->knob_timer);
}

int knob_set(struct htm_manager *m, const char *cg, const char *file,
	     const char *value, uint64_t for_ns, const char *why, cJSON *who)
{
	struct knob *k = knob_find(m, cg, file);
	char before[128] = "";
	int r;

	if (!htm_cgroup_under(cg, m->cg_mount)) {
		cJSON_Delete(who);
		return -EXDEV;
	}
	r = htm_cgroup_read(cg, file, before, sizeof(before));
	if (r < 0) {
		cJSON_Delete(who);
		return r;	/* no such cgroup, or no such controller there */
	}
	before[strcspn(before, "\n")] = '\0';
	if (!k) {
		k = calloc(1, sizeof(*k));
		if (!k || !(k->cgroup = strdup(cg)) || !(k->file = strdup(file))) {
			if (k)
				knob_free(k);
			cJSON_Delete(who);
			return -ENOMEM;
		}
		/* the first change remembers what to go back to */
		snprintf(k->original, sizeof(k->original), "%s", before);
		LIST_INSERT_HEAD(&m->knobs, k, link);
	}
	if (!m->cfg.observe) {
		r = htm_cgroup_write(cg, file, value);
		if (r < 0) {
			htm_log(LOG_WARNING, "%s/%s = %s: %s", cg, file, value, strerror(-r));
			if (!strcmp(k->original, before) && !k->value[0]) {
				LIST_REMOVE(k, link);
				knob_free(k);
			}
			cJSON_Delete(who);
			return r;
		}
	}
	snprintf(k->value, sizeof(k->value), "%s", value);
	free(k->why);
	k->why = strdup(why);
	k->until = for_ns ? htm_now_mono() + for_ns : 0;
	journal_knob(m, cg, file, before, value, why, who);
	htm_log(LOG_NOTICE, "%s%s/%s: %s -> %s (%s)", m->cfg.observe ? "observe: " : "",
		cg, file, before, value, why);
	knobs_rearm(m);
	return 0;
}

static void knob_restore(struct htm_manager *m, struct knob *k, const char *why)
{
	int r = 0;

	if (!m->cfg.observe) {
		r = htm_cgroup_write(k->cgroup, k->file, k->original);
		if (r < 0 && r != -ENOENT)
			htm_log(LOG_WARNING, "restoring %s/%s to %s: %s, ignoring",
				k->cgroup, k->file, k->original, strerror(-r));
	}
	if (r != -ENOENT)	/* a cgroup that is gone has nothing to restore */
		journal_knob(m, k->cgroup, k->file, k->value, k->original, why, NULL);
	LIST_REMOVE(k, link);
	knob_free(k);
}

int knob_undo(struct htm_manager *m, const char *cg, const char *file, const char *why)
{
	struct knob *k = knob_find(m, cg, file);

	if (!k)
		return -ENOENT;
	knob_restore(m, k, why);
	knobs_rearm(m);
	return 0;
}

int knob_remember(struct htm_manager *m, const char *cg, const char *file,
		  const char *original)
{
	struct knob *k = knob_find(m, cg, file);
	char now[128] = "";

	if (k)
		return 0;
	k = calloc(1, sizeof(*k));
	if (!k || !(k->cgroup = strdup(cg)) || !(k->file = strdup(file)) ||
	    !(k->why = strdup("recovered from the journal"))) {
		if (k)
			knob_free(k);
		return -ENOMEM;
	}
	snprintf(k->original, sizeof(k->original), "%s", original);
	(void)htm_cgroup_read(cg, file, now, sizeof(now));
	now[strcspn(now, "\n")] = '\0';
	snprintf(k->value, sizeof(k->value), "%s", now);
	LIST_INSERT_HEAD(&m->knobs, k, link);
	return 0;
}

void knobs_undo_cgroup(struct htm_manager *m, const char *cg, const char *why)
{
	struct knob *k, *next;

	for (k = LIST_FIRST(&m->knobs); k; k = next) {
		next = LIST_NEXT(k, link);
		if (!strcmp(k->cgroup, cg))
			knob_restore(m, k, why);
	}
	knobs_rearm(m);
}

void knobs_expired(struct htm_timer *t)
{
	struct htm_manager *m = (struct htm_manager *)((char *)t -
		offsetof(struct htm_manager, knob_timer));
	uint64_t now = htm_now_mono();
	struct knob *k, *next;

	for (k = LIST_FIRST(&m->knobs); k; k = next) {
		next = LIST_NEXT(k, link);
		if (k->until && k->until <= now)
			knob_restore(m, k, "its time is up");
	}
	knobs_rearm(m);
}

void knobs_restore_all(struct htm_manager *m, const char *why)
{
	struct knob *k;

	while ((k = LIST_FIRST(&m->knobs)))
		knob_restore(m, k, why);
	htm_timer_disarm(&m->knob_timer);
}

cJSON *knobs_json(struct htm_manager *m)
{
	cJSON *a = cJSON_CreateArray(), *o;
	uint64_t now = htm_now_mono();
	struct knob *k;

	LIST_FOREACH(k, &m->knobs, link) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "cgroup", k->cgroup);
		cJSON_AddStringToObject(o, "file", k->file);
		cJSON_AddStringToObject(o, "value", k->value);
		cJSON_AddStringToObject(o, "original", k->original);
		cJSON_AddStringToObject(o, "why", k->why ? k->why : "");
		if (k->until)
			cJSON_AddNumberToObject(o, "restores_in_s",
						k->until > now ? (double)(k->until - now) / 1e9 : 0);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}
