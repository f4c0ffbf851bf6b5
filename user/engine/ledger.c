// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htm/proto.h"

#include "core/cgroup.h"
#include "core/log.h"
#include "core/pathfmt.h"
#include "engine/ledger_impl.h"


/* --- the record of changed files -------------------------------------------- */

static struct knob *knob_find(struct htm_ledger *l, const char *cg, const char *file)
{
	struct knob *k;

	LIST_FOREACH(k, &l->knobs, link)
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

static void journal_knob(struct htm_ledger *l, const char *cg, const char *file,
			 const char *from, const char *to, const char *why,
			 const struct htm_who *who)
{
	cJSON *b = cJSON_CreateObject();

	cJSON_AddStringToObject(b, "cgroup", cg);
	cJSON_AddStringToObject(b, "file", file);
	cJSON_AddStringToObject(b, "from", from);
	cJSON_AddStringToObject(b, "to", to);
	cJSON_AddBoolToObject(b, "observe", ledger_observe(l));
	record_write(l->c, HTM_REC_DECISION, who, why,
		     ledger_observe(l) ? "observe-only: not written" : "cgroup file write", b);
}

static void knobs_rearm(struct htm_ledger *l)
{
	uint64_t first = 0;
	struct knob *k;

	LIST_FOREACH(k, &l->knobs, link)
		if (k->until && (!first || k->until < first))
			first = k->until;
	if (first)
		htm_arm(l->c, &l->knob_timer, first);
	else
		htm_disarm(l->c, &l->knob_timer);
}

static int knob_set(struct htm_ledger *l, const char *cg, const char *file,
		    const char *value, uint64_t for_ns, const char *why,
		    const struct htm_who *who)
{
	struct htm_world *w = ledger_world(l);
	struct knob *k = knob_find(l, cg, file);
	char before[128] = "";
	int r;

	if (!ledger_on_mount(l, cg))
		return -EXDEV;
	r = w->ops->cg_read(w, cg, file, before, sizeof(before));
	if (r < 0)
		return r;	/* no such cgroup, or no such controller there */
	before[strcspn(before, "\n")] = '\0';
	if (!k) {
		k = calloc(1, sizeof(*k));
		if (!k || !(k->cgroup = strdup(cg)) || !(k->file = strdup(file))) {
			if (k)
				knob_free(k);
			return -ENOMEM;
		}
		/* the first change remembers what to go back to */
		snprintf(k->original, sizeof(k->original), "%s", before);
		LIST_INSERT_HEAD(&l->knobs, k, link);
	}
	if (!ledger_observe(l)) {
		r = w->ops->cg_write(w, cg, file, value);
		if (r < 0) {
			htm_log(LOG_WARNING, "%s/%s = %s: %s", cg, file, value, strerror(-r));
			if (!strcmp(k->original, before) && !k->value[0]) {
				LIST_REMOVE(k, link);
				knob_free(k);
			}
			return r;
		}
	}
	snprintf(k->value, sizeof(k->value), "%s", value);
	free(k->why);
	k->why = strdup(why);
	k->until = for_ns ? htm_mono(l->c) + for_ns : 0;
	journal_knob(l, cg, file, before, value, why, who);
	htm_log(LOG_NOTICE, "%s%s/%s: %s -> %s (%s)", ledger_observe(l) ? "observe: " : "",
		cg, file, before, value, why);
	knobs_rearm(l);
	return 0;
}

static void knob_restore(struct htm_ledger *l, struct knob *k, const char *why)
{
	int r = 0;

	if (!ledger_observe(l)) {
		r = ledger_world(l)->ops->cg_write(ledger_world(l), k->cgroup, k->file, k->original);
		if (r < 0 && r != -ENOENT)
			htm_log(LOG_WARNING, "restoring %s/%s to %s: %s, ignoring",
				k->cgroup, k->file, k->original, strerror(-r));
	}
	if (r != -ENOENT)	/* a cgroup that is gone has nothing to restore */
		journal_knob(l, k->cgroup, k->file, k->value, k->original, why, NULL);
	LIST_REMOVE(k, link);
	knob_free(k);
}

static int knob_undo(struct htm_ledger *l, const char *cg, const char *file,
		     const char *why)
{
	struct knob *k = knob_find(l, cg, file);

	if (!k)
		return -ENOENT;
	knob_restore(l, k, why);
	knobs_rearm(l);
	return 0;
}

static int knob_remember(struct htm_ledger *l, const char *cg, const char *file,
			 const char *original)
{
	struct knob *k = knob_find(l, cg, file);
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
	(void)ledger_world(l)->ops->cg_read(ledger_world(l), cg, file, now, sizeof(now));
	now[strcspn(now, "\n")] = '\0';
	snprintf(k->value, sizeof(k->value), "%s", now);
	LIST_INSERT_HEAD(&l->knobs, k, link);
	return 0;
}

static void knobs_undo_cgroup(struct htm_ledger *l, const char *cg, const char *why)
{
	struct knob *k, *next;

	for (k = LIST_FIRST(&l->knobs); k; k = next) {
		next = LIST_NEXT(k, link);
		if (!strcmp(k->cgroup, cg))
			knob_restore(l, k, why);
	}
	knobs_rearm(l);
}

static void knobs_expired(struct htm_timer *t)
{
	struct htm_ledger *l = htm_container_of(t, struct htm_ledger, knob_timer);
	uint64_t now = htm_mono(l->c);
	struct knob *k, *next;

	for (k = LIST_FIRST(&l->knobs); k; k = next) {
		next = LIST_NEXT(k, link);
		if (k->until && k->until <= now)
			knob_restore(l, k, "its time is up");
	}
	knobs_rearm(l);
}

cJSON *ledger_knobs_json(struct htm_ledger *l)
{
	cJSON *a = cJSON_CreateArray(), *o;
	uint64_t now = htm_mono(l->c);
	struct knob *k;

	LIST_FOREACH(k, &l->knobs, link) {
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

/* --- egress ----------------------------------------------------------------- */

/* A class's limit on every task in it; a placed cgroup's on itself. */
static void egress_set_under(struct htm_ledger *l, const char *cg, uint64_t bps)
{
	struct htm_task *t;
	int r;

	if (!l->egress)
		return;
	if (ledger_observe(l)) {
		if (bps)
			htm_log(LOG_INFO, "observe: would limit egress of %s to %llu B/s",
				cg, (unsigned long long)bps);
		return;
	}
	TAILQ_FOREACH(t, &l->c->tasks.all, table_link) {
		if (t->state != HTM_STATE_RUNNING || !t->cgroup_id || !t->cgroup)
			continue;
		if (!htm_path_under(t->cgroup, cg))
			continue;
		r = ledger_world(l)->ops->egress_set(ledger_world(l), t->cgroup_id, bps);
		if (r < 0)
			htm_log(LOG_WARNING, "egress limit of %s: %s, ignoring", t->cgroup,
				strerror(-r));
	}
}

cJSON *ledger_egress_json(struct htm_ledger *l, const struct htm_task *t)
{
	struct htm_egress_bucket b;
	cJSON *o;

	if (!l->egress || !t->cgroup_id ||
	    ledger_world(l)->ops->egress_read(ledger_world(l), t->cgroup_id, &b) < 0)
		return cJSON_CreateNull();
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "rate_bps", (double)b.rate_bps);
	cJSON_AddNumberToObject(o, "passed_bytes", (double)b.passed_bytes);
	cJSON_AddNumberToObject(o, "passed_packets", (double)b.passed_pkts);
	cJSON_AddNumberToObject(o, "dropped_bytes", (double)b.dropped_bytes);
	cJSON_AddNumberToObject(o, "dropped_packets", (double)b.dropped_pkts);
	return o;
}

cJSON *ledger_egress_status_json(struct htm_ledger *l)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "state", l->egress ? "attached" : "unavailable");
	if (!l->egress)
		cJSON_AddStringToObject(o, "reason", l->egress_error);
	return o;
}

/* --- the classes' responses: on the class and on its placed cgroups ---------- */

typedef void (*class_fn)(struct htm_ledger *l, const char *cg,
			 const struct htm_msg *m);

static void for_class(struct htm_ledger *l, enum htm_priority p, class_fn fn,
		      const struct htm_msg *m)
{
	struct htm_task *t;
	char cls[PATH_MAX];

	htm_class_path(l->c, p, cls, sizeof(cls));
	fn(l, cls, m);
	TAILQ_FOREACH(t, &l->c->tasks.all, table_link)
		if (t->placed && t->state == HTM_STATE_RUNNING && t->priority == p)
			fn(l, t->cgroup, m);
}

static void cap_one(struct htm_ledger *l, const char *cg, const struct htm_msg *m)
{
	struct htm_who who = htm_who(0, "governor");
	char v[48];

	if (!m->u.cls.cap_pct) {
		knob_undo(l, cg, "cpu.max", m->u.cls.why);
		return;
	}
	/* a share of one CPU per 100 ms period */
	snprintf(v, sizeof(v), "%u 100000", m->u.cls.cap_pct * 1000);
	knob_set(l, cg, "cpu.max", v, 0, m->u.cls.why, &who);
}

static void freeze_one(struct htm_ledger *l, const char *cg, const struct htm_msg *m)
{
	struct htm_who who = htm_who(0, "governor");

	if (m->u.cls.frozen)
		knob_set(l, cg, "cgroup.freeze", "1", 0, m->u.cls.why, &who);
	else
		knob_undo(l, cg, "cgroup.freeze", m->u.cls.why);
}

static void egress_one(struct htm_ledger *l, const char *cg, const struct htm_msg *m)
{
	egress_set_under(l, cg, m->u.cls.egress_bps);
}

/* A placed cgroup takes its class's response in force. */
static void placed_joins(struct htm_ledger *l, struct htm_task *t)
{
	const struct htm_class_plan *cp = &l->cls[t->priority];
	struct htm_who who = htm_who(0, "governor");
	char v[48];

	if (cp->cap_pct) {
		snprintf(v, sizeof(v), "%u 100000", cp->cap_pct * 1000);
		knob_set(l, t->cgroup, "cpu.max", v, 0, "the class is capped", &who);
	}
	if (cp->frozen)
		knob_set(l, t->cgroup, "cgroup.freeze", "1", 0, "the class is frozen", &who);
	if (l->egress) {
		if (ledger_world(l)->ops->egress_attach(ledger_world(l), t->cgroup) < 0)
			htm_log(LOG_WARNING, "egress throttle on %s: cannot attach, ignoring",
				t->cgroup);
		else if (cp->egress_bps)
			egress_set_under(l, t->cgroup, cp->egress_bps);
	}
}

/* One response of the governor for a class, where it changes anything. */
static void class_response(struct htm_ledger *l, const struct htm_msg *m)
{
	struct htm_class_plan *had = &l->cls[m->u.cls.prio];

	switch (m->type) {
	case HTM_MSG_CLASS_CAP:
		if (had->cap_pct != m->u.cls.cap_pct)
			for_class(l, m->u.cls.prio, cap_one, m);
		had->cap_pct = m->u.cls.cap_pct;
		break;
	case HTM_MSG_CLASS_FREEZE:
		if (had->frozen != m->u.cls.frozen)
			for_class(l, m->u.cls.prio, freeze_one, m);
		had->frozen = m->u.cls.frozen;
		break;
	default:
		if (had->egress_bps != m->u.cls.egress_bps)
			for_class(l, m->u.cls.prio, egress_one, m);
		had->egress_bps = m->u.cls.egress_bps;
		break;
	}
}

static int on_msg(void *data, struct htm_msg *m)
{
	struct htm_ledger *l = data;
	struct htm_task *t;

	switch (m->type) {
	case HTM_MSG_CGROUP_PRIORITY:
		ledger_apply_priority(l, m->u.cgp.cg, m->u.cgp.prio, false);
		return 0;
	case HTM_MSG_CGROUP_READY:
		t = m->u.task;
		if (t->placed) {
			placed_joins(l, t);
		} else {
			uint64_t bps = l->cls[t->priority].egress_bps;

			if (l->egress && bps && !ledger_observe(l) && t->cgroup_id)
				(void)ledger_world(l)->ops->egress_set(ledger_world(l), t->cgroup_id, bps);
		}
		return 0;
	case HTM_MSG_CGROUP_GONE:
		t = m->u.task;
		if (t->placed && l->egress && t->cgroup_id)
			(void)ledger_world(l)->ops->egress_set(ledger_world(l), t->cgroup_id, 0);
		return 0;
	case HTM_MSG_KNOB_SET:
		return knob_set(l, m->u.knob.cg, m->u.knob.file, m->u.knob.value,
				m->u.knob.for_ns, m->u.knob.why, &m->u.knob.who);
	case HTM_MSG_KNOB_UNDO:
		return knob_undo(l, m->u.knob.cg, m->u.knob.file, m->u.knob.why);
	case HTM_MSG_KNOB_UNDO_CGROUP:
		knobs_undo_cgroup(l, m->u.knob.cg, m->u.knob.why);
		return 0;
	case HTM_MSG_KNOB_REMEMBER:
		return knob_remember(l, m->u.knob.cg, m->u.knob.file, m->u.knob.value);
	case HTM_MSG_CLASS_CAP:
	case HTM_MSG_CLASS_FREEZE:
	case HTM_MSG_CLASS_EGRESS:
		class_response(l, m);
		return 0;
	default:
		return 0;
	}
}

/*
 * Start-up after the sampler: the classes belong to htmd, so their caps and
 * freezes are put back to "none" directly (a crashed htmd's record of them
 * is gone); the governor then starts from ok.
 */
void ledger_recover(struct htm_ledger *l, bool bpf, const char *bpf_error)
{
	struct htm_world *w = ledger_world(l);
	struct htm_ctx *c = l->c;
	char cls[PATH_MAX], cur[64];
	unsigned fixed = 0;

	if (bpf) {
		int r = w->ops->egress_open(w, c->cfg.bpf_pin_dir, l->egress_error,
					    sizeof(l->egress_error));

		for (int p = HTM_PRIO_NORMAL; r == 0 && p <= HTM_PRIO_LOW; p++) {
			htm_class_path(c, p, cls, sizeof(cls));
			r = w->ops->egress_attach(w, cls);
			if (r < 0)
				htm_textf(l->egress_error, sizeof(l->egress_error),
					  "attach to %s: %s", cls, strerror(-r));
		}
		if (r < 0) {
			htm_log(LOG_WARNING, "egress throttle unavailable (%s), ignoring",
				l->egress_error);
			w->ops->egress_close(w);
		}
		l->egress = r == 0;
	} else {
		htm_textf(l->egress_error, sizeof(l->egress_error), "no BPF: %s",
			  bpf_error);
	}
	for (int p = 0; p < HTM_PRIO_COUNT; p++) {
		htm_class_path(c, p, cls, sizeof(cls));
		if (w->ops->cg_read(w, cls, "cpu.max", cur, sizeof(cur)) == 0 &&
		    strncmp(cur, "max", 3) != 0) {
			if (!ledger_observe(l))
				(void)w->ops->cg_write(w, cls, "cpu.max", "max");
			fixed++;
		}
		if (w->ops->cg_read(w, cls, "cgroup.freeze", cur, sizeof(cur)) == 0 &&
		    cur[0] == '1') {
			if (!ledger_observe(l))
				(void)w->ops->cg_write(w, cls, "cgroup.freeze", "0");
			fixed++;
		}
		egress_set_under(l, cls, 0);
	}
	if (fixed) {
		struct htm_who who = htm_who(0, "governor");

		htm_log(LOG_NOTICE, "reconciled %u leftover caps and freezes on the "
			"priority classes", fixed);
		record_write(c, HTM_REC_DECISION, &who, "leftovers of an earlier htmd",
			     "caps lifted, classes thawed", NULL);
	}
}

void ledger_stop(struct htm_ledger *l, const char *why)
{
	struct knob *k;

	while ((k = LIST_FIRST(&l->knobs)))
		knob_restore(l, k, why);
	htm_disarm(l->c, &l->knob_timer);
}

static cJSON *names_of_mask(unsigned mask, bool set)
{
	cJSON *a = cJSON_CreateArray();

	for (int i = 0; a && i < HTM_CTRL_COUNT; i++)
		if (!!(mask & HTM_CTRL_BIT(i)) == set)
			cJSON_AddItemToArray(a, cJSON_CreateString(htm_controller_names[i]));
	return a;
}

cJSON *ledger_cgroup_json(struct htm_ledger *l)
{
	cJSON *o = cJSON_CreateObject(), *q;

	cJSON_AddStringToObject(o, "mount", l->c->cg_mount);
	cJSON_AddStringToObject(o, "root", l->c->cg_root);
	cJSON_AddItemToObject(o, "enforced", names_of_mask(l->controllers, true));
	cJSON_AddItemToObject(o, "missing", names_of_mask(l->controllers, false));
	q = cJSON_AddObjectToObject(o, "controls");
	for (int k = 0; q && k < HTM_CONTROL_COUNT; k++)
		cJSON_AddBoolToObject(q, ledger_control_files[k], l->control[k] && !ledger_observe(l));
	return o;
}

int ledger_new(struct htm_ledger **out, struct htm_ctx *c)
{
	static const enum htm_msg_type handled[] = {
		HTM_MSG_CGROUP_PRIORITY, HTM_MSG_CGROUP_READY, HTM_MSG_CGROUP_GONE,
		HTM_MSG_KNOB_SET, HTM_MSG_KNOB_UNDO, HTM_MSG_KNOB_UNDO_CGROUP,
		HTM_MSG_KNOB_REMEMBER, HTM_MSG_CLASS_CAP, HTM_MSG_CLASS_FREEZE,
		HTM_MSG_CLASS_EGRESS,
	};
	struct htm_ledger *l = calloc(1, sizeof(*l));
	int r = 0;

	if (!l)
		return -ENOMEM;
	l->c = c;
	LIST_INIT(&l->knobs);
	htm_timer_init(&l->knob_timer, knobs_expired);
	for (size_t i = 0; r == 0 && i < sizeof(handled) / sizeof(handled[0]); i++)
		r = htm_bus_subscribe(c->bus, handled[i], on_msg, l);
	if (r < 0) {
		free(l);
		return r;
	}
	*out = l;
	return 0;
}

void ledger_free(struct htm_ledger *l)
{
	struct knob *k;

	if (!l)
		return;
	htm_disarm(l->c, &l->knob_timer);
	while ((k = LIST_FIRST(&l->knobs))) {
		LIST_REMOVE(k, link);
		knob_free(k);
	}
	if (l->egress)
		ledger_world(l)->ops->egress_close(ledger_world(l));
	free(l);
}
