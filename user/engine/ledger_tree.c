// SPDX-License-Identifier: MIT
/* The ledger's tree: the root, the classes, their controllers and the
 * settings every class and task cgroup carries whatever is decided. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "htm/proto.h"

#include "core/cgroup.h"
#include "core/log.h"
#include "core/pathfmt.h"
#include "engine/ledger_impl.h"

#define WANTED_CONTROLLERS HTM_CTRL_ALL

const char *const ledger_control_files[] = {
	[HTM_CONTROL_CPU_WEIGHT] = "cpu.weight",
	[HTM_CONTROL_IO_WEIGHT] = "io.weight",
	[HTM_CONTROL_CPU_IDLE] = "cpu.idle",
	NULL,
};

/* On the cgroup2 mount once symlinks are resolved. */
bool ledger_on_mount(struct htm_ledger *l, const char *cg)
{
	char real[PATH_MAX];

	return ledger_world(l)->ops->cg_resolve(ledger_world(l), cg, real, sizeof(real)) == 0 &&
	       htm_path_under(real, l->c->cg_mount);
}

/* --- settings that hold regardless of decisions --------------------------- */

static void plain_write(struct htm_ledger *l, const char *cg, const char *file,
			const char *value)
{
	int r;

	if (ledger_observe(l)) {
		htm_log(LOG_DEBUG, "observe: would write %s/%s = %s", cg, file, value);
		return;
	}
	r = ledger_world(l)->ops->cg_write(ledger_world(l), cg, file, value);
	if (r < 0)
		htm_log(LOG_WARNING, "write %s/%s = %s: %s, ignoring", cg, file,
			value, strerror(-r));
}

void ledger_apply_priority(struct htm_ledger *l, const char *cg,
			   enum htm_priority p, bool is_class)
{
	const struct htm_priority_config *pc = &l->c->cfg.priority[p];
	char v[32];

	/* the kernel refuses cpu.weight on an idle group: leave idle first */
	if (is_class && l->control[HTM_CONTROL_CPU_IDLE] && !pc->cpu_idle)
		plain_write(l, cg, "cpu.idle", "0");
	if (l->control[HTM_CONTROL_CPU_WEIGHT]) {
		snprintf(v, sizeof(v), "%u", pc->cpu_weight);
		plain_write(l, cg, "cpu.weight", v);
	}
	if (l->control[HTM_CONTROL_IO_WEIGHT]) {
		snprintf(v, sizeof(v), "default %u", pc->io_weight);
		plain_write(l, cg, "io.weight", v);
	}
	if (is_class && l->control[HTM_CONTROL_CPU_IDLE] && pc->cpu_idle)
		plain_write(l, cg, "cpu.idle", "1");
	/* protection on the class and on each task: without memory_recursiveprot
	 * a child is protected only by its own memory.low. A class outlives
	 * reloads: one that drops the setting also drops what was written (0 is
	 * the kernel's default); a task cgroup starts fresh. */
	if (l->controllers & HTM_CTRL_BIT(HTM_CTRL_MEMORY)) {
		bool set = htm_memory_value(l->c, pc->memory_low, v, sizeof(v)) == 0;

		if (set || is_class)
			plain_write(l, cg, "memory.low", set ? v : "0");
	}
	/* a limit per task, not shared by the class */
	if (!is_class && (l->controllers & HTM_CTRL_BIT(HTM_CTRL_MEMORY)) &&
	    htm_memory_value(l->c, pc->memory_high, v, sizeof(v)) == 0)
		plain_write(l, cg, "memory.high", v);
}

/*
 * memory.low only protects as far as every ancestor up to the reclaim's
 * root grants it: a cgroup's effective protection is capped by its
 * parent's. The classes' protection therefore needs the root to claim at
 * least their sum, or a reclaim from above the root (the whole machine, a
 * limit on a parent slice) takes critical memory like any other.
 * Ancestors above the root are not ours to write; say if they fall short.
 */
static void apply_root_protection(struct htm_ledger *l)
{
	struct htm_ctx *c = l->c;
	unsigned long long sum = 0, have;
	char v[32], path[PATH_MAX], *p;

	if (!(l->controllers & HTM_CTRL_BIT(HTM_CTRL_MEMORY)))
		return;
	for (int k = 0; k < HTM_PRIO_COUNT; k++)
		if (htm_memory_value(c, c->cfg.priority[k].memory_low, v, sizeof(v)) == 0)
			sum += strtoull(v, NULL, 10);
	snprintf(v, sizeof(v), "%llu", sum);
	plain_write(l, c->cg_root, "memory.low", v);
	if (!sum)
		return;
	snprintf(path, sizeof(path), "%s", c->cg_root);
	while ((p = strrchr(path, '/')) && p > path + strlen(c->cg_mount)) {
		*p = '\0';
		if (ledger_world(l)->ops->cg_read(ledger_world(l), path, "memory.low", v, sizeof(v)) == 0 &&
		    strncmp(v, "max", 3) != 0 && (have = strtoull(v, NULL, 10)) < sum)
			htm_log(LOG_WARNING, "%s has memory.low %llu, less than the %llu "
				"the priority classes claim: their protection holds only "
				"against reclaim from below it", path, have, sum);
	}
}

static void apply_classes(struct htm_ledger *l)
{
	char cls[PATH_MAX];

	for (int p = 0; p < HTM_PRIO_COUNT; p++) {
		htm_class_path(l->c, p, cls, sizeof(cls));
		ledger_apply_priority(l, cls, p, true);
	}
	apply_root_protection(l);
}

void ledger_reconfigure(struct htm_ledger *l)
{
	apply_classes(l);
}

/* --- the tree --------------------------------------------------------------- */

/* Enable controllers from the mount root down to cg_root's parent. */
static void enable_ancestors(struct htm_ledger *l)
{
	char path[PATH_MAX];
	size_t mlen = strlen(l->c->cg_mount);
	unsigned enabled;
	char *p;

	snprintf(path, sizeof(path), "%s", l->c->cg_root);
	/* walk each '/' below the mount, truncating there */
	for (p = path + mlen; p && *p; p = strchr(p + 1, '/')) {
		char saved = *p;

		*p = '\0';
		(void)ledger_world(l)->ops->cg_enable(ledger_world(l), path[0] ? path : "/",
					   WANTED_CONTROLLERS, &enabled);
		*p = saved;
	}
}

static void describe_mask(unsigned mask, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int k = 0; k < HTM_CTRL_COUNT && off < len; k++)
		if (mask & HTM_CTRL_BIT(k))
			off += (size_t)snprintf(buf + off, len - off, "%s%s",
						off ? " " : "", htm_controller_names[k]);
}

struct sweep {
	struct htm_ledger *l;
	const char *cls;
};

/* Remove what a previous run left behind, as long as it is empty and no
 * task from the journal claims it. */
static int sweep_one(void *ctx, const char *name)
{
	struct sweep *s = ctx;
	struct htm_world *w = ledger_world(s->l);
	const struct htm_task *t;
	unsigned long long id;
	char path[PATH_MAX];
	bool populated;

	if (sscanf(name, "task-%llu", &id) != 1)
		return 0;
	t = htm_task_table_find(&s->l->c->tasks, id);
	if (t && !htm_state_is_terminal(t->state))
		return 0;	/* recovery decides */
	if (htm_pathf(path, sizeof(path), "%s/%s", s->cls, name) < 0)
		return 0;
	if (w->ops->cg_populated(w, path, &populated) == 0 && populated) {
		htm_log(LOG_WARNING,
			"%s still has processes from an earlier htmd; leaving it alone",
			path);
		return 0;
	}
	if (w->ops->cg_rmdir_tree(w, path) == 0)
		htm_log(LOG_INFO, "removed empty leftover cgroup %s", path);
	return 0;
}

int ledger_start(struct htm_ledger *l)
{
	struct htm_ctx *c = l->c;
	struct htm_world *w = c->w;
	char own[PATH_MAX], cls[PATH_MAX], have[128], missing[128];
	unsigned enabled = 0;
	size_t n;
	int r;

	r = w->ops->cg_mount(w, c->cg_mount, sizeof(c->cg_mount));
	if (r < 0) {
		htm_log(LOG_ERR, "no cgroup2 filesystem in /proc/self/mountinfo");
		return r;
	}
	if (c->cfg.cgroup_root[0])
		snprintf(c->cg_root, sizeof(c->cg_root), "%s", c->cfg.cgroup_root);
	else if (htm_pathf(c->cg_root, sizeof(c->cg_root), "%s/%s", c->cg_mount,
			   HTM_DEFAULT_SLICE) < 0)
		return -ENAMETOOLONG;
	n = strlen(c->cg_root);
	r = w->ops->cg_of(w, 0, own, sizeof(own));
	if (r == 0 && strncmp(own, c->cg_root, n) == 0 &&
	    (own[n] == '/' || own[n] == '\0')) {
		htm_log(LOG_ERR, "htmd runs inside its own cgroup root %s; "
			"start it outside (its cgroup is %s)", c->cg_root, own);
		return -EINVAL;
	}
	enable_ancestors(l);
	r = w->ops->cg_mkdir(w, c->cg_root);
	if (r < 0 || !ledger_on_mount(l, c->cg_root)) {
		htm_log(LOG_ERR, "cgroup root %s: %s", c->cg_root,
			r < 0 ? strerror(-r) : "not on the cgroup2 mount");
		return r < 0 ? r : -EINVAL;
	}
	(void)w->ops->cg_enable(w, c->cg_root, WANTED_CONTROLLERS, &enabled);
	for (int p = 0; p < HTM_PRIO_COUNT; p++) {
		struct sweep s = { .l = l, .cls = cls };

		htm_class_path(c, p, cls, sizeof(cls));
		r = w->ops->cg_mkdir(w, cls);
		if (r < 0) {
			htm_log(LOG_ERR, "mkdir %s: %s", cls, strerror(-r));
			return r;
		}
		(void)w->ops->cg_enable(w, cls, WANTED_CONTROLLERS, &enabled);
		if (p == 0)
			l->controllers = enabled;
		else
			l->controllers &= enabled;
		(void)w->ops->list_dir(w, cls, sweep_one, &s);
	}
	htm_class_path(c, HTM_PRIO_CRITICAL, cls, sizeof(cls));
	for (int k = 0; k < HTM_CONTROL_COUNT; k++)
		l->control[k] = w->ops->cg_has_file(w, cls, ledger_control_files[k]);

	describe_mask(l->controllers, have, sizeof(have));
	describe_mask(WANTED_CONTROLLERS & ~l->controllers, missing, sizeof(missing));
	if (WANTED_CONTROLLERS & ~l->controllers)
		htm_log(LOG_WARNING,
			"cgroup controllers not available under %s: %s; not enforced:%s%s%s",
			c->cg_root, missing,
			l->control[HTM_CONTROL_CPU_WEIGHT] ? "" : " cpu.weight",
			l->control[HTM_CONTROL_IO_WEIGHT] ? "" : " io.weight",
			l->control[HTM_CONTROL_CPU_IDLE] ? "" : " cpu.idle");
	htm_log(LOG_INFO, "cgroup root %s, controllers: %s", c->cg_root,
		have[0] ? have : "none");
	apply_classes(l);
	return 0;
}

