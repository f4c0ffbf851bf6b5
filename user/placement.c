// SPDX-License-Identifier: MIT
/*
 * Placement: `htmctl place CGROUP -p PRIORITY` adopts a cgroup htmd did not
 * make (a systemd service's, say) as a governed, long-running task. Its
 * settings follow its priority and the stress responses, through the knob
 * ledger: `unplace` puts back what it had, so does stopping htmd (fail
 * open), and the originals are journaled so that a restart after a crash
 * can still put them back.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "htm/proto.h"

#include "core/approval.h"
#include "core/pathfmt.h"
#include "core/proto.h"
#include "core/schema.h"
#include "manager.h"
#include "sys/log.h"

/* The files a placement may change; their originals are journaled. */
static const char *const placed_files[] = {
	"cpu.weight", "io.weight", "memory.low", "cpu.max", "cgroup.freeze", NULL,
};

static bool path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == '\0');
}

static struct htm_task *placed_task(struct htm_manager *m, const char *cg)
{
	struct htm_task *t;

	TAILQ_FOREACH(t, &m->tasks.all, table_link)
		if (t->placed && t->state == HTM_STATE_RUNNING && t->cgroup &&
		    !strcmp(t->cgroup, cg))
			return t;
	return NULL;
}

/* Checks a path is a cgroup htmd may govern; its real path in real. */
static int check_path(struct htm_manager *m, const char *path, char *real,
		      const char **code, char *err, size_t errlen)
{
	char own[PATH_MAX], file[PATH_MAX + 16];
	struct stat st;

	*code = HTM_ERR_BAD_REQUEST;
	/* relative to what? htmd's working directory means nothing to a client */
	if (path[0] != '/') {
		snprintf(err, errlen, "%s: not an absolute path", path);
		return -EINVAL;
	}
	if (!realpath(path, real) || stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: no such cgroup", path);
		return -ENOENT;
	}
	if (!htm_cgroup_under(real, m->cg_mount) || !strcmp(real, m->cg_mount)) {
		snprintf(err, errlen, "%s is not a cgroup below the cgroup2 mount %s",
			 path, m->cg_mount);
		return -EXDEV;
	}
	htm_pathf(file, sizeof(file), "%s/cgroup.procs", real);
	if (access(file, F_OK) < 0) {
		snprintf(err, errlen, "%s is not a cgroup (no cgroup.procs)", path);
		return -ENOTDIR;
	}
	if (path_under(real, m->cg_root)) {
		snprintf(err, errlen, "%s is inside htmd's own tree %s: its tasks are "
			 "governed already", path, m->cg_root);
		return -EINVAL;
	}
	/* its caps and freezes would land on every class, critical too */
	if (path_under(m->cg_root, real)) {
		snprintf(err, errlen, "%s contains htmd's own tree %s: placing it would "
			 "govern critical work too", path, m->cg_root);
		return -EINVAL;
	}
	if (htm_cgroup_of_pid(0, m->cg_mount, own, sizeof(own)) == 0 &&
	    path_under(own, real)) {
		snprintf(err, errlen, "%s holds htmd itself (%s): the governor cannot "
			 "govern its own cgroup", path, own);
		return -EINVAL;
	}
	if (placed_task(m, real)) {
		*code = HTM_ERR_CONFLICT;
		snprintf(err, errlen, "%s is placed already", path);
		return -EEXIST;
	}
	return 0;
}

/* Settings of the priority, through the ledger; and the response in force. */
static void placement_apply(struct htm_manager *m, struct htm_task *t)
{
	const struct htm_priority_config *pc = &m->cfg.priority[t->priority];
	const struct htm_class_plan *cp = &m->plan.cls[t->priority];
	char v[48], why[96];

	snprintf(why, sizeof(why), "placed at %s", htm_priority_names[t->priority]);
	snprintf(v, sizeof(v), "%u", pc->cpu_weight);
	if (htm_cgroup_has_file(t->cgroup, "cpu.weight"))
		knob_set(m, t->cgroup, "cpu.weight", v, 0, why, persist_who(0, "placement"));
	snprintf(v, sizeof(v), "default %u", pc->io_weight);
	if (htm_cgroup_has_file(t->cgroup, "io.weight"))
		knob_set(m, t->cgroup, "io.weight", v, 0, why, persist_who(0, "placement"));
	if (htm_cgroup_has_file(t->cgroup, "memory.low") &&
	    governor_memory_value(m, pc->memory_low, v, sizeof(v)) == 0)
		knob_set(m, t->cgroup, "memory.low", v, 0, why, persist_who(0, "placement"));
	/* the class's current response holds for it from now on */
	if (cp->cap_pct) {
		snprintf(v, sizeof(v), "%u 100000", cp->cap_pct * 1000);
		knob_set(m, t->cgroup, "cpu.max", v, 0, "the class is capped",
			 persist_who(0, "governor"));
	}
	if (cp->frozen)
		knob_set(m, t->cgroup, "cgroup.freeze", "1", 0, "the class is frozen",
			 persist_who(0, "governor"));
	if (m->egress) {
		if (htm_egress_attach(m->egress, t->cgroup) < 0)
			htm_log(LOG_WARNING, "egress throttle on %s: cannot attach, ignoring",
				t->cgroup);
		else if (cp->egress_bps)
			egress_set_class(m, t->cgroup, cp->egress_bps);
	}
}

static void track(struct htm_manager *m, struct htm_task *t)
{
	int fd = open(t->cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		(void)monitor_track_task(m, t, fd);
		close(fd);
	}
}

int placement_place(struct htm_manager *m, struct htm_conn *c, const char *path,
		    int prio, uint64_t budget, struct htm_task **out,
		    const char **code, char *err, size_t errlen)
{
	char real[PATH_MAX], base[PATH_MAX], val[128];
	struct htm_task *t;
	cJSON *b, *orig;
	uint64_t dup;
	int r;

	if (!manager_may_decide(m, c)) {
		*code = HTM_ERR_PERMISSION;
		snprintf(err, errlen, "only root or the admin group may place cgroups");
		return -EPERM;
	}
	r = check_path(m, path, real, code, err, errlen);
	if (r < 0)
		return r;
	*code = HTM_ERR_INTERNAL;
	t = htm_task_table_create(&m->tasks);
	snprintf(base, sizeof(base), "%s", real);
	if (!t || !(t->argv = calloc(3, sizeof(char *))) ||
	    !(t->argv[0] = strdup("(placed)")) || !(t->argv[1] = strdup(real)) ||
	    !(t->name = strdup(basename(base))) || !(t->cgroup = strdup(real)) ||
	    !(t->target = strdup(real))) {
		if (t) {
			htm_task_table_remove(&m->tasks, t);
			htm_task_free(t);
		}
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->placed = true;
	t->priority = prio;
	t->origin = HTM_ORIGIN_INTERNAL;
	t->budget_ns = budget;
	t->submitted_at = t->started_at = htm_now_real();
	t->submitted_mono = htm_now_mono();
	t->state = HTM_STATE_RUNNING;
	t->tier = HTM_TIER_AUTONOMOUS;
	r = persist_task_submit(m, t, persist_who(htm_conn_cred(c)->uid, "client"),
				"placed");
	if (r < 0) {
		htm_task_table_remove(&m->tasks, t);
		htm_task_free(t);
		snprintf(err, errlen, "cannot journal the placement: %s", strerror(-r));
		return r;
	}
	/* what it had before, journaled before anything changes */
	b = cJSON_CreateObject();
	cJSON_AddNumberToObject(b, "task", (double)t->id);
	cJSON_AddStringToObject(b, "cgroup", real);
	orig = cJSON_AddObjectToObject(b, "originals");
	for (const char *const *f = placed_files; *f; f++)
		if (htm_cgroup_read(real, *f, val, sizeof(val)) == 0) {
			val[strcspn(val, "\n")] = '\0';
			cJSON_AddStringToObject(orig, *f, val);
		}
	persist_write(m, HTM_REC_PLACEMENT, persist_who(htm_conn_cred(c)->uid, "client"),
		      "placed", htm_priority_names[prio], b);
	placement_apply(m, t);
	track(m, t);
	htm_log(LOG_NOTICE, "placed %s at %s (task %llu)", real, htm_priority_names[prio],
		(unsigned long long)t->id);
	(void)dup;
	*out = t;
	return 0;
}

int placement_unplace(struct htm_manager *m, struct htm_conn *c, const char *path,
		      struct htm_task **out, const char **code, char *err,
		      size_t errlen)
{
	char real[PATH_MAX], why[96];
	struct htm_task *t;

	if (!manager_may_decide(m, c)) {
		*code = HTM_ERR_PERMISSION;
		snprintf(err, errlen, "only root or the admin group may unplace cgroups");
		return -EPERM;
	}
	t = realpath(path, real) ? placed_task(m, real) : placed_task(m, path);
	if (!t) {
		*code = HTM_ERR_NOT_FOUND;
		snprintf(err, errlen, "%s is not placed", path);
		return -ENOENT;
	}
	snprintf(why, sizeof(why), "unplaced by uid %u", (unsigned)htm_conn_cred(c)->uid);
	knobs_undo_cgroup(m, t->cgroup, why);
	if (m->egress && t->cgroup_id)
		(void)htm_egress_set(m->egress, t->cgroup_id, 0);
	monitor_untrack_task(m, t);
	manager_task_move(m, t, HTM_STATE_SUCCEEDED, why,
			  persist_who(htm_conn_cred(c)->uid, "client"));
	manager_task_finished(m, t);
	*out = t;
	return 0;
}

/* Replay: the originals of each placement, by task id. */
void placement_replay(struct htm_manager *m, const cJSON *body)
{
	const cJSON *orig = cJSON_GetObjectItemCaseSensitive(body, "originals");
	char key[32];

	if (!cJSON_IsObject(orig))
		return;
	if (!m->placed_originals)
		m->placed_originals = cJSON_CreateObject();
	snprintf(key, sizeof(key), "%llu", (unsigned long long)
		 htm_json_member_uint(body, "task", 1ull << 53, 0));
	cJSON_DeleteItemFromObjectCaseSensitive(m->placed_originals, key);
	cJSON_AddItemToObject(m->placed_originals, key, cJSON_Duplicate(orig, true));
}

/* After a restart: placed cgroups are governed again, their originals
 * remembered from the journal (what they hold now is htmd's doing). */
int placement_recover(struct htm_manager *m, struct htm_task *t)
{
	const cJSON *orig, *f;
	struct stat st;
	char key[32];

	if (!t->cgroup || stat(t->cgroup, &st) < 0)
		return -ENOENT;
	snprintf(key, sizeof(key), "%llu", (unsigned long long)t->id);
	orig = cJSON_GetObjectItemCaseSensitive(m->placed_originals, key);
	cJSON_ArrayForEach(f, orig)
		if (cJSON_IsString(f))
			knob_remember(m, t->cgroup, f->string, f->valuestring);
	placement_apply(m, t);
	track(m, t);
	return 0;
}

cJSON *placements_json(struct htm_manager *m)
{
	cJSON *a = cJSON_CreateArray(), *o;
	struct htm_task *t;

	TAILQ_FOREACH(t, &m->tasks.all, table_link) {
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
