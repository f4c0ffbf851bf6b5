// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approval.h"
#include "duration.h"

const char *const htm_tier_names[] = {
	"approve", "review", "autonomous", "quorum", "emergency", NULL,
};

static const char *const day_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL,
};

void htm_approval_config_defaults(struct htm_approval_config *c)
{
	memset(c, 0, sizeof(*c));
	c->default_tier = HTM_TIER_AUTONOMOUS;
	c->quorum = 2;
	c->expire_ns = 3600 * HTM_NSEC_PER_SEC;
	c->dedupe_ns = 600 * HTM_NSEC_PER_SEC;
}

int htm_tiers_decode(const cJSON *v, void *dst, const char *path, char *err,
		     size_t errlen)
{
	struct htm_approval_config *c = (struct htm_approval_config *)
		((char *)dst - offsetof(struct htm_approval_config, types));
	struct htm_approval_config scratch = *c;
	const cJSON *e;

	if (!cJSON_IsObject(v)) {
		snprintf(err, errlen, "%s: expected {\"<task type>\": <tier 0-4>}", path);
		return -EINVAL;
	}
	scratch.ntypes = 0;
	cJSON_ArrayForEach(e, v) {
		if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 4 ||
		    e->valuedouble != (int)e->valuedouble) {
			snprintf(err, errlen, "%s.%s: expected a tier 0..4", path, e->string);
			return -EINVAL;
		}
		if (scratch.ntypes == HTM_MAX_TIER_TYPES || strlen(e->string) >= 64 ||
		    !e->string[0]) {
			snprintf(err, errlen, "%s.%s: at most %d types of 1-63 bytes",
				 path, e->string, HTM_MAX_TIER_TYPES);
			return -EINVAL;
		}
		snprintf(scratch.types[scratch.ntypes].type, 64, "%s", e->string);
		scratch.types[scratch.ntypes++].tier = (uint8_t)e->valuedouble;
	}
	memcpy(c->types, scratch.types, sizeof(c->types));
	c->ntypes = scratch.ntypes;
	return 0;
}

static int parse_hhmm(const char *s, uint16_t *min)
{
	unsigned h, m;
	int n = 0;

	if (!s || sscanf(s, "%2u:%2u%n", &h, &m, &n) != 2 || s[n] || h > 24 ||
	    m > 59 || (h == 24 && m))
		return -EINVAL;
	*min = (uint16_t)(h * 60 + m);
	return 0;
}

int htm_windows_decode(const cJSON *v, void *dst, const char *path, char *err,
		       size_t errlen)
{
	struct htm_approval_config *c = (struct htm_approval_config *)
		((char *)dst - offsetof(struct htm_approval_config, windows));
	struct htm_change_window w[HTM_MAX_WINDOWS];
	const cJSON *o, *k, *d;
	size_t n = 0;

	if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > HTM_MAX_WINDOWS) {
		snprintf(err, errlen, "%s: expected up to %d {\"days\": [...], \"from\": "
			 "\"HH:MM\", \"to\": \"HH:MM\"}", path, HTM_MAX_WINDOWS);
		return -EINVAL;
	}
	cJSON_ArrayForEach(o, v) {
		memset(&w[n], 0, sizeof(w[n]));
		cJSON_ArrayForEach(k, o)
			if (strcmp(k->string, "days") && strcmp(k->string, "from") &&
			    strcmp(k->string, "to")) {
				snprintf(err, errlen, "%s[%zu].%s: unknown field", path, n,
					 k->string);
				return -EINVAL;
			}
		d = cJSON_GetObjectItemCaseSensitive(o, "days");
		if (!cJSON_IsArray(d) || !cJSON_GetArraySize(d)) {
			snprintf(err, errlen, "%s[%zu].days: expected [\"mon\", ...]", path, n);
			return -EINVAL;
		}
		cJSON_ArrayForEach(k, d) {
			int day = htm_name_lookup(day_names, cJSON_GetStringValue(k));

			if (day < 0) {
				snprintf(err, errlen, "%s[%zu].days: expected sun, mon, tue, "
					 "wed, thu, fri, sat", path, n);
				return -EINVAL;
			}
			w[n].days |= (uint8_t)(1u << day);
		}
		if (parse_hhmm(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "from")),
			       &w[n].from_min) < 0 ||
		    parse_hhmm(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "to")),
			       &w[n].to_min) < 0) {
			snprintf(err, errlen, "%s[%zu]: from and to are \"HH:MM\"", path, n);
			return -EINVAL;
		}
		n++;
	}
	memcpy(c->windows, w, sizeof(w[0]) * n);
	c->nwindows = n;
	return 0;
}

bool htm_in_change_window(const struct htm_approval_config *c, int wday, int minute)
{
	if (!c->nwindows)
		return true;
	for (size_t i = 0; i < c->nwindows; i++) {
		const struct htm_change_window *w = &c->windows[i];
		int prev = (wday + 6) % 7;

		if (w->from_min < w->to_min) {
			if ((w->days & (1u << wday)) && minute >= w->from_min &&
			    minute < w->to_min)
				return true;
		} else {
			/* over midnight: the evening of a listed day, or the
			 * morning after it */
			if (((w->days & (1u << wday)) && minute >= w->from_min) ||
			    ((w->days & (1u << prev)) && minute < w->to_min))
				return true;
		}
	}
	return false;
}

void htm_gate_resolve(const struct htm_approval_config *c, const struct htm_task *t,
		      bool in_window, struct htm_gate *g)
{
	enum htm_tier configured;

	memset(g, 0, sizeof(*g));
	g->tier = c->default_tier;
	snprintf(g->why, sizeof(g->why), "default tier");
	for (size_t i = 0; i < c->ntypes; i++)
		if (t->name && strcmp(c->types[i].type, t->name) == 0) {
			g->tier = c->types[i].tier;
			snprintf(g->why, sizeof(g->why), "type %s", t->name);
		}
	configured = g->tier;
	if (t->risk >= HTM_RISK_HIGH || t->requires_approval) {
		g->tier = HTM_TIER_APPROVE;
		snprintf(g->why, sizeof(g->why), "%s", t->requires_approval
			 ? "approval requested" : "high or critical risk");
	}
	if (!in_window && t->risk >= HTM_RISK_MEDIUM) {
		g->tier = HTM_TIER_APPROVE;
		g->needs_override = true;
		snprintf(g->why, sizeof(g->why), "%s risk outside the change windows",
			 htm_risk_names[t->risk]);
	}
	g->needed = g->tier == HTM_TIER_APPROVE ? 1
		  : g->tier == HTM_TIER_QUORUM ? (uint8_t)(c->quorum ? c->quorum : 1) : 0;
	/* forcing tier 0 never makes a quorum type need fewer approvers */
	if (configured == HTM_TIER_QUORUM && g->tier == HTM_TIER_APPROVE &&
	    c->quorum > g->needed)
		g->needed = (uint8_t)c->quorum;
	if (g->needed > HTM_MAX_APPROVERS)
		g->needed = HTM_MAX_APPROVERS;
}

/* Each part length-prefixed, so no byte inside a part can fake a boundary:
 * ["a b"] and ["a", "b"] differ. */
char *htm_dedupe_key(const struct htm_task *t)
{
	const char *name = t->name ? t->name : "", *target = t->target ? t->target : "";
	size_t len = strlen(name) + strlen(target) + 64, off;
	char *k;

	for (char **a = t->argv; a && *a; a++)
		len += strlen(*a) + 24;
	k = malloc(len);
	if (!k)
		return NULL;
	off = (size_t)snprintf(k, len, "%zu:%s", strlen(name), name);
	for (char **a = t->argv; a && *a; a++)
		off += (size_t)snprintf(k + off, len - off, "|%zu:%s", strlen(*a), *a);
	snprintf(k + off, len - off, "|%zu:%s", strlen(target), target);
	return k;
}

void htm_recommend(const struct htm_task *t, uint64_t succeeded, uint64_t failed,
		   bool in_window, struct htm_recommendation *out)
{
	uint64_t runs = succeeded + failed;
	double rate = runs ? (double)succeeded / (double)runs : 0;
	const char *name = t->name ? t->name : "(unnamed)";
	size_t off = 0;
	int score = 0;

#define REASON(...)                                                           \
	do {                                                                  \
		if (off < sizeof(out->reasons))                               \
			off += (size_t)snprintf(out->reasons + off,           \
						sizeof(out->reasons) - off,   \
						__VA_ARGS__);                 \
	} while (0)
	out->reasons[0] = '\0';
	if (t->rollback) {
		score++;
		REASON("rollback present");
	} else {
		score--;
		REASON("no rollback");
	}
	REASON("; %s risk", htm_risk_names[t->risk]);
	score -= t->risk >= HTM_RISK_HIGH ? 2 : t->risk == HTM_RISK_MEDIUM ? 1 : 0;
	if (runs) {
		REASON("; %s succeeded %llu of %llu times (%.0f%%)", name,
		       (unsigned long long)succeeded, (unsigned long long)runs, rate * 100);
		score += rate >= 0.9 ? 2 : rate >= 0.6 ? 0 : -2;
	} else {
		REASON("; %s has no history", name);
		score--;
	}
	if (!in_window) {
		REASON("; outside the change windows");
		score--;
	}
#undef REASON
	out->verdict = score >= 1 ? "approve" : score >= -2 ? "review" : "deny";
}
