// SPDX-License-Identifier: MIT
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htm/proto.h"

#include "core/approval.h"
#include "core/cgroup.h"
#include "core/log.h"
#include "core/pathfmt.h"
#include "core/schema.h"
#include "engine/placement.h"

/* The files a placement may change; their originals are journaled. */
static const char *const placed_files[] = {
	"cpu.weight", "io.weight", "memory.low", "cpu.max", "cgroup.freeze", NULL,
};

struct htm_placement {
	struct htm_ctx *c;
	cJSON *originals;		/* task id -> {file: value}, from the journal */
};

static struct htm_task *placed_task(struct htm_placement *p, const char *cg)
{
	struct htm_task *t;

	TAILQ_FOREACH(t, &p->c->tasks.all, table_link)
		if (t->placed && t->state == HTM_STATE_RUNNING && t->cgroup &&
		    !strcmp(t->cgroup, cg))
			return t;
	return NULL;
}

/* Checks a path is a cgroup htmd may govern; its real path in real. */
static int check_path(struct htm_placement *p, const char *path, char *real,
		      size_t len, const char **code, char *err, size_t errlen)
{
	struct htm_ctx *c = p->c;
	struct htm_world *w = c->w;
	char own[PATH_MAX];

	*code = HTM_ERR_BAD_REQUEST;
	/* relative to what? htmd's working directory means nothing to a client */
	if (path[0] != '/') {
		snprintf(err, errlen, "%s: not an absolute path", path);
		return -EINVAL;
	}
	if (w->ops->cg_resolve(w, path, real, len) < 0) {
		snprintf(err, errlen, "%s: no such cgroup", path);
		return -ENOENT;
	}
	if (!htm_path_under(real, c->cg_mount) || !strcmp(real, c->cg_mount)) {
		snprintf(err, errlen, "%s is not a cgroup below the cgroup2 mount %s",
			 path, c->cg_mount);
		return -EXDEV;
	}
	if (!w->ops->cg_is_cgroup(w, real)) {
		snprintf(err, errlen, "%s is not a cgroup (no cgroup.procs)", path);
		return -ENOTDIR;
	}
	if (htm_path_under(real, c->cg_root)) {
		snprintf(err, errlen, "%s is inside htmd's own tree %s: its tasks are "
			 "governed already", path, c->cg_root);
		return -EINVAL;
	}
	/* its caps and freezes would land on every class, critical too */
	if (htm_path_under(c->cg_root, real)) {
		snprintf(err, errlen, "%s contains htmd's own tree %s: placing it would "
			 "govern critical work too", path, c->cg_root);
		return -EINVAL;
	}
	if (w->ops->cg_of(w, 0, own, sizeof(own)) == 0 && htm_path_under(own, real)) {
		snprintf(err, errlen, "%s holds htmd itself (%s): the governor cannot "
			 "govern its own cgroup", path, own);
		return -EINVAL;
	}
	if (placed_task(p, real)) {
		*code = HTM_ERR_CONFLICT;
		snprintf(err, errlen, "%s is placed already", path);
		return -EEXIST;
	}
	return 0;
}

static void knob(struct htm_placement *p, struct htm_task *t, const char *file,
		 const char *value, const char *why)
{
	struct htm_msg m = { .type = HTM_MSG_KNOB_SET };

	m.u.knob.cg = t->cgroup;
	m.u.knob.file = file;
	m.u.knob.value = value;
	m.u.knob.why = why;
	m.u.knob.who = htm_who(0, "placement");
	(void)htm_bus_send(p->c->bus, &m);
}

/* Settings of the priority, through the ledger; then it is governed like
 * its class (the response in force, egress) and tracked. */
static void apply(struct htm_placement *p, struct htm_task *t)
{
	struct htm_world *w = p->c->w;
	const struct htm_priority_config *pc = &p->c->cfg.priority[t->priority];
	struct htm_msg m = { .type = HTM_MSG_CGROUP_READY, .u.task = t };
	char v[48], why[96];

	snprintf(why, sizeof(why), "placed at %s", htm_priority_names[t->priority]);
	snprintf(v, sizeof(v), "%u", pc->cpu_weight);
	if (w->ops->cg_has_file(w, t->cgroup, "cpu.weight"))
		knob(p, t, "cpu.weight", v, why);
	snprintf(v, sizeof(v), "default %u", pc->io_weight);
	if (w->ops->cg_has_file(w, t->cgroup, "io.weight"))
		knob(p, t, "io.weight", v, why);
	if (w->ops->cg_has_file(w, t->cgroup, "memory.low") &&
	    htm_memory_value(p->c, pc->memory_low, v, sizeof(v)) == 0)
		knob(p, t, "memory.low", v, why);
	if (w->ops->cg_id(w, t->cgroup, &t->cgroup_id) == 0)
		(void)htm_bus_send(p->c->bus, &m);
}

int placement_place(struct htm_placement *p, uint32_t uid, const char *path,
		    int prio, uint64_t budget, struct htm_task **out,
		    const char **code, char *err, size_t errlen)
{
	struct htm_ctx *c = p->c;
	struct htm_world *w = c->w;
	struct htm_who who = htm_who(uid, "client");
	char real[PATH_MAX], base[PATH_MAX], val[128];
	struct htm_task *t;
	cJSON *b, *orig;
	int r;

	r = check_path(p, path, real, sizeof(real), code, err, errlen);
	if (r < 0)
		return r;
	*code = HTM_ERR_INTERNAL;
	t = tasks_create(c);
	snprintf(base, sizeof(base), "%s", real);
	if (!t || !(t->argv = calloc(3, sizeof(char *))) ||
	    !(t->argv[0] = strdup("(placed)")) || !(t->argv[1] = strdup(real)) ||
	    !(t->name = strdup(basename(base))) || !(t->cgroup = strdup(real)) ||
	    !(t->target = strdup(real))) {
		if (t)
			tasks_drop(c, t);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->placed = true;
	t->priority = prio;
	t->origin = HTM_ORIGIN_INTERNAL;
	t->budget_ns = budget;
	t->submitted_at = t->started_at = htm_real(c);
	t->submitted_mono = htm_mono(c);
	t->state = HTM_STATE_RUNNING;
	t->tier = HTM_TIER_AUTONOMOUS;
	r = record_task_submit(c, t, &who, "placed");
	if (r < 0) {
		tasks_drop(c, t);
		snprintf(err, errlen, "cannot journal the placement: %s", strerror(-r));
		return r;
	}
	/* what it had before, journaled before anything changes */
	b = cJSON_CreateObject();
	cJSON_AddNumberToObject(b, "task", (double)t->id);
	cJSON_AddStringToObject(b, "cgroup", real);
	orig = cJSON_AddObjectToObject(b, "originals");
	for (const char *const *f = placed_files; *f; f++)
		if (w->ops->cg_read(w, real, *f, val, sizeof(val)) == 0) {
			val[strcspn(val, "\n")] = '\0';
			cJSON_AddStringToObject(orig, *f, val);
		}
	record_write(c, HTM_REC_PLACEMENT, &who, "placed", htm_priority_names[prio], b);
	apply(p, t);
	htm_log(LOG_NOTICE, "placed %s at %s (task %llu)", real, htm_priority_names[prio],
		(unsigned long long)t->id);
	*out = t;
	return 0;
}

int placement_unplace(struct htm_placement *p, uint32_t uid, const char *path,
		      struct htm_task **out, const char **code, char *err,
		      size_t errlen)
{
	struct htm_ctx *c = p->c;
	struct htm_who who = htm_who(uid, "client");
	struct htm_msg m = { .type = HTM_MSG_KNOB_UNDO_CGROUP };
	char real[PATH_MAX], why[96];
	struct htm_task *t;

	t = c->w->ops->cg_resolve(c->w, path, real, sizeof(real)) == 0
		? placed_task(p, real) : placed_task(p, path);
	if (!t) {
		*code = HTM_ERR_NOT_FOUND;
		snprintf(err, errlen, "%s is not placed", path);
		return -ENOENT;
	}
	snprintf(why, sizeof(why), "unplaced by uid %u", (unsigned)uid);
	m.u.knob.cg = t->cgroup;
	m.u.knob.why = why;
	(void)htm_bus_send(c->bus, &m);
	m = (struct htm_msg){ .type = HTM_MSG_CGROUP_GONE, .u.task = t };
	(void)htm_bus_send(c->bus, &m);
	tasks_finish(c, t, HTM_STATE_SUCCEEDED, why, &who);
	*out = t;
	return 0;
}

/* Replay: the originals of each placement, by task id. */
void placement_replay(struct htm_placement *p, uint16_t type, const cJSON *body)
{
	const cJSON *orig = cJSON_GetObjectItemCaseSensitive(body, "originals");
	char key[32];

	if (type != HTM_REC_PLACEMENT || !cJSON_IsObject(orig))
		return;
	if (!p->originals)
		p->originals = cJSON_CreateObject();
	snprintf(key, sizeof(key), "%llu", (unsigned long long)
		 htm_json_member_uint(body, "task", 1ull << 53, 0));
	cJSON_DeleteItemFromObjectCaseSensitive(p->originals, key);
	cJSON_AddItemToObject(p->originals, key, cJSON_Duplicate(orig, true));
}

/* Placed cgroups are governed again, their originals remembered from the
 * journal (what they hold now is htmd's doing). */
int placement_recover(struct htm_placement *p, struct htm_task *t)
{
	struct htm_world *w = p->c->w;
	const cJSON *orig, *f;
	char key[32], real[PATH_MAX];

	if (!t->cgroup || w->ops->cg_resolve(w, t->cgroup, real, sizeof(real)) < 0)
		return -ENOENT;
	snprintf(key, sizeof(key), "%llu", (unsigned long long)t->id);
	orig = cJSON_GetObjectItemCaseSensitive(p->originals, key);
	cJSON_ArrayForEach(f, orig) {
		struct htm_msg m = { .type = HTM_MSG_KNOB_REMEMBER };

		if (!cJSON_IsString(f))
			continue;
		m.u.knob.cg = t->cgroup;
		m.u.knob.file = f->string;
		m.u.knob.value = f->valuestring;
		(void)htm_bus_send(p->c->bus, &m);
	}
	apply(p, t);
	return 0;
}

cJSON *placement_json(struct htm_placement *p)
{
	cJSON *a = cJSON_CreateArray(), *o;
	struct htm_task *t;

	TAILQ_FOREACH(t, &p->c->tasks.all, table_link) {
		if (!t->placed || t->state != HTM_STATE_RUNNING)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "task", (double)t->id);
		cJSON_AddStringToObject(o, "cgroup", t->cgroup);
		cJSON_AddStringToObject(o, "priority", htm_priority_names[t->priority]);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

int placement_new(struct htm_placement **out, struct htm_ctx *c)
{
	struct htm_placement *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->c = c;
	*out = p;
	return 0;
}

void placement_free(struct htm_placement *p)
{
	if (!p)
		return;
	cJSON_Delete(p->originals);
	free(p);
}
