// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "htm/proto.h"

#include "core/duration.h"
#include "manager.h"
#include "sys/log.h"

const char *const htm_control_files[] = {
	[HTM_CONTROL_CPU_WEIGHT] = "cpu.weight",
	[HTM_CONTROL_IO_WEIGHT] = "io.weight",
	[HTM_CONTROL_CPU_IDLE] = "cpu.idle",
	NULL,
};

#define WANTED_CONTROLLERS HTM_CTRL_ALL

void manager_class_path(const struct htm_manager *m, enum htm_priority p,
			char *buf, size_t len)
{
	htm_pathf(buf, len, "%s/%s", m->cg_root, htm_priority_names[p]);
}

static void knob_write(struct htm_manager *m, const char *cg, const char *file,
		       const char *value)
{
	int r;

	if (m->cfg.observe) {
		htm_log(LOG_DEBUG, "observe: would write %s/%s = %s", cg, file, value);
		return;
	}
	r = htm_cgroup_write(cg, file, value);
	if (r < 0)
		htm_log(LOG_WARNING, "write %s/%s = %s: %s, ignoring", cg, file,
			value, strerror(-r));
}

void manager_apply_priority(struct htm_manager *m, const char *cg,
			    enum htm_priority p, bool is_class)
{
	const struct htm_priority_config *pc = &m->cfg.priority[p];
	char v[32];

	/* the kernel refuses cpu.weight on an idle group: leave idle first */
	if (is_class && m->control[HTM_CONTROL_CPU_IDLE] && !pc->cpu_idle)
		knob_write(m, cg, "cpu.idle", "0");
	if (m->control[HTM_CONTROL_CPU_WEIGHT]) {
		snprintf(v, sizeof(v), "%u", pc->cpu_weight);
		knob_write(m, cg, "cpu.weight", v);
	}
	if (m->control[HTM_CONTROL_IO_WEIGHT]) {
		snprintf(v, sizeof(v), "default %u", pc->io_weight);
		knob_write(m, cg, "io.weight", v);
	}
	if (is_class && m->control[HTM_CONTROL_CPU_IDLE] && pc->cpu_idle)
		knob_write(m, cg, "cpu.idle", "1");
	/* protection on the class and on each task: without memory_recursiveprot
	 * a child is protected only by its own memory.low. A class outlives
	 * reloads: one that drops the setting also drops what was written (0 is
	 * the kernel's default); a task cgroup starts fresh. */
	if (m->controllers & HTM_CTRL_BIT(HTM_CTRL_MEMORY)) {
		bool set = governor_memory_value(m, pc->memory_low, v, sizeof(v)) == 0;

		if (set || is_class)
			knob_write(m, cg, "memory.low", set ? v : "0");
	}
	/* a limit per task, not shared by the class */
	if (!is_class && (m->controllers & HTM_CTRL_BIT(HTM_CTRL_MEMORY)) &&
	    governor_memory_value(m, pc->memory_high, v, sizeof(v)) == 0)
		knob_write(m, cg, "memory.high", v);
}

/*
 * memory.low only protects as far as every ancestor up to the reclaim's
 * root grants it: a cgroup's effective protection is capped by its
 * parent's. The classes' protection therefore needs the root to claim at
 * least their sum, or a reclaim from above the root (the whole machine, a
 * limit on a parent slice) takes critical memory like any other.
 * Ancestors above the root are not ours to write; say if they fall short.
 */
static void apply_root_protection(struct htm_manager *m)
{
	unsigned long long sum = 0, have;
	char v[32], path[PATH_MAX], *p;

	if (!(m->controllers & HTM_CTRL_BIT(HTM_CTRL_MEMORY)))
		return;
	for (int c = 0; c < HTM_PRIO_COUNT; c++)
		if (governor_memory_value(m, m->cfg.priority[c].memory_low, v,
					  sizeof(v)) == 0)
			sum += strtoull(v, NULL, 10);
	snprintf(v, sizeof(v), "%llu", sum);
	knob_write(m, m->cg_root, "memory.low", v);
	if (!sum)
		return;
	snprintf(path, sizeof(path), "%s", m->cg_root);
	while ((p = strrchr(path, '/')) && p > path + strlen(m->cg_mount)) {
		*p = '\0';
		if (htm_cgroup_read(path, "memory.low", v, sizeof(v)) == 0 &&
		    strncmp(v, "max", 3) != 0 && (have = strtoull(v, NULL, 10)) < sum)
			htm_log(LOG_WARNING, "%s has memory.low %llu, less than the %llu "
				"the priority classes claim: their protection holds only "
				"against reclaim from below it", path, have, sum);
	}
}

/* Enable controllers from the mount root down to cg_root's parent. */
static void enable_ancestors(struct htm_manager *m)
{
	char path[PATH_MAX];
	size_t mlen = strlen(m->cg_mount);
	unsigned enabled;
	char *p;

	snprintf(path, sizeof(path), "%s", m->cg_root);
	/* walk each '/' below the mount, truncating there */
	for (p = path + mlen; p && *p; p = strchr(p + 1, '/')) {
		char saved = *p;

		*p = '\0';
		(void)htm_cgroup_enable(path[0] ? path : "/", WANTED_CONTROLLERS,
					&enabled);
		*p = saved;
	}
}

static void describe_mask(unsigned mask, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int c = 0; c < HTM_CTRL_COUNT && off < len; c++)
		if (mask & HTM_CTRL_BIT(c))
			off += (size_t)snprintf(buf + off, len - off, "%s%s",
						off ? " " : "", htm_controller_names[c]);
}

/* Remove what a previous run left behind, as long as it is empty and no
 * task from the journal claims it. */
static void sweep_leftovers(struct htm_manager *m, const char *class_cg)
{
	const struct htm_task *t;
	unsigned long long id;
	char path[PATH_MAX];
	struct dirent *de;
	bool populated;
	DIR *d = opendir(class_cg);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (sscanf(de->d_name, "task-%llu", &id) != 1)
			continue;
		t = htm_task_table_find(&m->tasks, id);
		if (t && !htm_state_is_terminal(t->state))
			continue;	/* persist_recover decides */
		if (htm_pathf(path, sizeof(path), "%s/%s", class_cg, de->d_name) < 0)
			continue;
		if (htm_cgroup_populated(path, &populated) == 0 && populated) {
			htm_log(LOG_WARNING,
				"%s still has processes from an earlier htmd; leaving it alone",
				path);
			continue;
		}
		if (htm_cgroup_rmdir_tree(path) == 0)
			htm_log(LOG_INFO, "removed empty leftover cgroup %s", path);
	}
	closedir(d);
}

static int cgroup_layout_setup(struct htm_manager *m)
{
	char own[PATH_MAX], cls[PATH_MAX], have[128], missing[128];
	unsigned enabled = 0;
	int r;

	r = htm_cgroup2_mount(m->cg_mount, sizeof(m->cg_mount));
	if (r < 0) {
		htm_log(LOG_ERR, "no cgroup2 filesystem in /proc/self/mountinfo");
		return r;
	}
	if (m->cfg.cgroup_root[0])
		snprintf(m->cg_root, sizeof(m->cg_root), "%s", m->cfg.cgroup_root);
	else if (htm_pathf(m->cg_root, sizeof(m->cg_root), "%s/%s", m->cg_mount,
			   HTM_DEFAULT_SLICE) < 0)
		return -ENAMETOOLONG;
	r = htm_cgroup_of_pid(0, m->cg_mount, own, sizeof(own));
	if (r == 0 && strncmp(own, m->cg_root, strlen(m->cg_root)) == 0 &&
	    (own[strlen(m->cg_root)] == '/' || own[strlen(m->cg_root)] == '\0')) {
		htm_log(LOG_ERR, "htmd runs inside its own cgroup root %s; "
			"start it outside (its cgroup is %s)", m->cg_root, own);
		return -EINVAL;
	}
	enable_ancestors(m);
	r = htm_cgroup_mkdir(m->cg_root);
	if (r < 0 || !htm_cgroup_under(m->cg_root, m->cg_mount)) {
		htm_log(LOG_ERR, "cgroup root %s: %s", m->cg_root,
			r < 0 ? strerror(-r) : "not on the cgroup2 mount");
		return r < 0 ? r : -EINVAL;
	}
	(void)htm_cgroup_enable(m->cg_root, WANTED_CONTROLLERS, &enabled);
	for (int p = 0; p < HTM_PRIO_COUNT; p++) {
		manager_class_path(m, p, cls, sizeof(cls));
		r = htm_cgroup_mkdir(cls);
		if (r < 0) {
			htm_log(LOG_ERR, "mkdir %s: %s", cls, strerror(-r));
			return r;
		}
		(void)htm_cgroup_enable(cls, WANTED_CONTROLLERS, &enabled);
		if (p == 0)
			m->controllers = enabled;
		else
			m->controllers &= enabled;
		sweep_leftovers(m, cls);
	}
	manager_class_path(m, HTM_PRIO_CRITICAL, cls, sizeof(cls));
	for (int k = 0; k < HTM_CONTROL_COUNT; k++)
		m->control[k] = htm_cgroup_has_file(cls, htm_control_files[k]);

	describe_mask(m->controllers, have, sizeof(have));
	describe_mask(WANTED_CONTROLLERS & ~m->controllers, missing, sizeof(missing));
	if (WANTED_CONTROLLERS & ~m->controllers)
		htm_log(LOG_WARNING,
			"cgroup controllers not available under %s: %s; not enforced:%s%s%s",
			m->cg_root, missing,
			m->control[HTM_CONTROL_CPU_WEIGHT] ? "" : " cpu.weight",
			m->control[HTM_CONTROL_IO_WEIGHT] ? "" : " io.weight",
			m->control[HTM_CONTROL_CPU_IDLE] ? "" : " cpu.idle");
	htm_log(LOG_INFO, "cgroup root %s, controllers: %s", m->cg_root,
		have[0] ? have : "none");
	for (int p = 0; p < HTM_PRIO_COUNT; p++) {
		manager_class_path(m, p, cls, sizeof(cls));
		manager_apply_priority(m, cls, p, true);
	}
	apply_root_protection(m);
	return 0;
}

/* Task ids keep rising across restarts so logs are never overwritten. */
static uint64_t next_task_id(const char *logs_dir)
{
	unsigned long long id, max = 0;
	struct dirent *de;
	DIR *d = opendir(logs_dir);
	char tail[8];

	if (!d)
		return 1;
	while ((de = readdir(d)))
		if (sscanf(de->d_name, "%llu.%7s", &id, tail) == 2 &&
		    strcmp(tail, "log") == 0 && id > max)
			max = id;
	closedir(d);
	return max + 1;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX], *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int state_dir_setup(struct htm_manager *m)
{
	char lock[PATH_MAX];
	int r;

	r = mkdir_p(m->cfg.state_dir, 0755);
	if (r < 0) {
		htm_log(LOG_ERR, "state dir %s: %s", m->cfg.state_dir, strerror(-r));
		return r;
	}
	htm_pathf(lock, sizeof(lock), "%s/htmd.lock", m->cfg.state_dir);
	m->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (m->lock_fd < 0 || flock(m->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		htm_log(LOG_ERR, "%s: %s", lock, r == -EWOULDBLOCK ?
			"another htmd uses this state dir" : strerror(-r));
		return r;
	}
	htm_pathf(m->logs_dir, sizeof(m->logs_dir), "%s/logs", m->cfg.state_dir);
	r = mkdir_p(m->logs_dir, 0755);
	if (r < 0) {
		htm_log(LOG_ERR, "%s: %s", m->logs_dir, strerror(-r));
		return r;
	}
	htm_task_table_init(&m->tasks, next_task_id(m->logs_dir));
	return 0;
}

/* Admission: fill free slots from the queue, highest priority first. */
void manager_slot_take(struct htm_manager *m, struct htm_task *t, bool starving)
{
	m->running++;
	htm_fair_started(&m->fair, t->origin, starving, htm_now_mono());
}

void manager_slot_release(struct htm_manager *m, struct htm_task *t)
{
	m->running--;
	htm_fair_finished(&m->fair, t->origin, htm_now_mono());
}

static void manager_dispatch(struct htm_manager *m)
{
	struct htm_task *t;

	uint64_t now = htm_now_mono();
	bool starving;

	while (!m->shutting_down && m->running < m->slots &&
	       (t = htm_fair_pick(&m->queue, &m->fair, &m->cfg.fairshare, m->plan.admit,
				  now, &starving))) {
		htm_queue_remove(&m->queue, t);
		manager_slot_take(m, t, starving);
		if (starving)
			htm_log(LOG_INFO, "task %llu: origin %s got no slot for a "
				"starvation window, served first",
				(unsigned long long)t->id, htm_origin_names[t->origin]);
		/* the slot is taken now; the task runs once its preflight
		 * record is durable (persist.c) */
		persist_task_starting(m, t);
	}
}

/* Edge-triggered queue.depth events at the design's 1000 / 5000. */
static void queue_depth_check(struct htm_manager *m)
{
	size_t n = htm_queue_len(&m->queue);
	int level = n > 5000 ? 2 : n > 1000 ? 1 : 0;
	cJSON *f;

	if (level == m->queue_level)
		return;
	m->queue_level = level;
	if (!level)
		return;
	f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "level", level == 2 ? "critical" : "warn");
	cJSON_AddNumberToObject(f, "depth", (double)n);
	cJSON_AddStringToObject(f, "severity", level == 2 ? "critical" : "warning");
	manager_event(m, "queue.depth", LOG_WARNING, f);
}

static void manager_tick(void *data)
{
	struct htm_manager *m = data;

	queue_depth_check(m);
	/* rules first: what they enqueue is admitted in the same pass */
	rules_process(m);
	manager_dispatch(m);
	htm_task_table_trim(&m->tasks, m->cfg.history_limit, runner_idle);
	/* everything this iteration journaled: one write, one fdatasync */
	htm_journal_commit(m->journal);
}

static void task_outcome_event(struct htm_manager *m, struct htm_task *t)
{
	static const char *const types[HTM_STATE_COUNT] = {
		[HTM_STATE_FAILED] = "task.failed",
		[HTM_STATE_TIMED_OUT] = "task.timeout",
		[HTM_STATE_LOST] = "task.lost",
		[HTM_STATE_EXPIRED] = "task.expired",
	};
	cJSON *f;

	if (t->state == HTM_STATE_SUCCEEDED || t->state == HTM_STATE_FAILED ||
	    t->state == HTM_STATE_TIMED_OUT)
		htm_outcomes_record(&m->outcomes, t->name, t->state == HTM_STATE_SUCCEEDED);
	if (!types[t->state])
		return;
	f = cJSON_CreateObject();
	cJSON_AddNumberToObject(f, "task", (double)t->id);
	cJSON_AddStringToObject(f, "name", t->name);
	cJSON_AddStringToObject(f, "state", htm_state_names[t->state]);
	cJSON_AddStringToObject(f, "priority", htm_priority_names[t->priority]);
	cJSON_AddStringToObject(f, "origin", htm_origin_names[t->origin]);
	cJSON_AddStringToObject(f, "risk", htm_risk_names[t->risk]);
	if (t->exit_code >= 0)
		cJSON_AddNumberToObject(f, "exit_code", t->exit_code);
	if (t->signal > 0)
		cJSON_AddNumberToObject(f, "signal", t->signal);
	if (t->reason)
		cJSON_AddStringToObject(f, "reason", t->reason);
	/* a task a rule made carries the depth of the cascade behind it */
	cJSON_AddNumberToObject(f, "depth", t->depth);
	manager_event(m, types[t->state], LOG_INFO, f);
}

void manager_task_finished(struct htm_manager *m, struct htm_task *t)
{
	struct waiter *w, *next;

	sla_unwatch(m, t);
	task_outcome_event(m, t);

	for (w = LIST_FIRST(&m->waiters); w; w = next) {
		next = LIST_NEXT(w, link);
		if (w->task_id != t->id)
			continue;
		LIST_REMOVE(w, link);
		commands_reply_task(m, w->conn, t, false);
		free(w);
	}
	manager_waiters_rearm(m);
}

static void waiter_timer_fired(struct htm_timer *timer)
{
	struct htm_manager *m = (struct htm_manager *)((char *)timer -
		offsetof(struct htm_manager, waiter_timer));
	uint64_t now = htm_now_mono();
	struct waiter *w, *next;

	for (w = LIST_FIRST(&m->waiters); w; w = next) {
		next = LIST_NEXT(w, link);
		if (!w->deadline || w->deadline > now)
			continue;
		LIST_REMOVE(w, link);
		commands_reply_task(m, w->conn,
				    htm_task_table_find(&m->tasks, w->task_id), true);
		free(w);
	}
	manager_waiters_rearm(m);
}

void manager_waiters_rearm(struct htm_manager *m)
{
	uint64_t first = 0;
	struct waiter *w;

	LIST_FOREACH(w, &m->waiters, link)
		if (w->deadline && (!first || w->deadline < first))
			first = w->deadline;
	if (first && first != m->waiter_timer.deadline)
		htm_timer_arm(&m->waiter_timer, first);
	else if (!first)
		htm_timer_disarm(&m->waiter_timer);
}

/*
 * SIGHUP and `htmctl reload`: the config file and the rules are both
 * checked first; only if both are valid does either change. Socket, state
 * dir, cgroup root, pin dir, sampling period and PSI triggers need a
 * restart.
 */
int manager_reload(struct htm_manager *m, char *err, size_t errlen)
{
	struct htm_config next = m->cfg;
	struct htm_ruleset rules;
	char cls[PATH_MAX], *text = NULL;
	unsigned files;
	size_t len = 0;
	FILE *f;
	int r;

	if (m->config_path[0]) {
		f = fopen(m->config_path, "re");
		if (!f) {
			snprintf(err, errlen, "%s: %s", m->config_path, strerror(errno));
			return -errno;
		}
		htm_config_defaults(&next);
		r = getdelim(&text, &len, '\0', f) < 0 ? -EIO : 0;
		fclose(f);
		if (r < 0) {
			snprintf(err, errlen, "%s: cannot read", m->config_path);
		} else {
			int n = snprintf(err, errlen, "%s: ", m->config_path);

			r = htm_config_parse(&next, text, strlen(text), err + n,
					     errlen - (size_t)n);
		}
		free(text);
		if (r < 0)
			return r;
		htm_config_override(&next, &m->overrides);
	}
	r = rules_load(next.rules_dir, &rules, &files, err, errlen);
	if (r < 0)
		return r;
	if (strcmp(next.socket, m->cfg.socket) ||
	    strcmp(next.state_dir, m->cfg.state_dir) ||
	    strcmp(next.cgroup_root, m->cfg.cgroup_root) ||
	    strcmp(next.bpf_pin_dir, m->cfg.bpf_pin_dir) ||
	    next.sample_period_ns != m->cfg.sample_period_ns ||
	    memcmp(next.psi_trigger, m->cfg.psi_trigger, sizeof(next.psi_trigger)))
		htm_log(LOG_WARNING, "reload: socket, state_dir, cgroup_root, "
			"bpf_pin_dir, sample_period and psi_triggers change only on "
			"restart, ignoring those");
	snprintf(next.socket, sizeof(next.socket), "%s", m->cfg.socket);
	snprintf(next.state_dir, sizeof(next.state_dir), "%s", m->cfg.state_dir);
	snprintf(next.cgroup_root, sizeof(next.cgroup_root), "%s", m->cfg.cgroup_root);
	snprintf(next.bpf_pin_dir, sizeof(next.bpf_pin_dir), "%s", m->cfg.bpf_pin_dir);
	next.sample_period_ns = m->cfg.sample_period_ns;
	memcpy(next.psi_trigger, m->cfg.psi_trigger, sizeof(next.psi_trigger));
	m->cfg = next;
	htm_ruleset_free(&m->rules);
	m->rules = rules;
	m->slots = next.slots ? next.slots : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	htm_log_set_level(next.log_level);
	for (int p = 0; p < HTM_PRIO_COUNT; p++) {
		manager_class_path(m, p, cls, sizeof(cls));
		manager_apply_priority(m, cls, p, true);
	}
	apply_root_protection(m);
	htm_log(LOG_INFO, "reloaded %s: %u slots, %zu rules (%u files)",
		m->config_path[0] ? m->config_path : "built-in defaults", m->slots,
		m->rules.n, files);
	persist_write(m, HTM_REC_CONFIG, persist_who(getuid(), "operator"), "reload",
		      m->config_path[0] ? m->config_path : "built-in defaults", NULL);
	return 0;
}

static int signal_read_next(struct htm_manager *m)
{
	struct io_uring_sqe *sqe = htm_loop_sqe(m->loop, &m->sig_src);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_read(sqe, m->sigfd, &m->siginfo, sizeof(m->siginfo), 0);
	return 0;
}

static void signal_received(struct htm_loop_source *src, int res, uint32_t fl)
{
	struct htm_manager *m = (struct htm_manager *)((char *)src -
		offsetof(struct htm_manager, sig_src));

	(void)fl;
	if (res == (int)sizeof(m->siginfo)) {
		switch (m->siginfo.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			htm_log(LOG_INFO, "%s: shutting down",
				strsignal((int)m->siginfo.ssi_signo));
			m->shutting_down = true;
			htm_loop_stop(m->loop, 0);
			return;
		case SIGHUP: {
			char err[512];

			if (manager_reload(m, err, sizeof(err)) < 0)
				htm_log(LOG_ERR, "reload: %s, keeping the old configuration "
					"and rules", err);
			break;
		}
		}
	} else if (res < 0 && res != -EINTR) {
		htm_log(LOG_ERR, "signalfd: %s", strerror(-res));
		htm_loop_stop(m->loop, res);
		return;
	}
	signal_read_next(m);
}

static int signals_setup(struct htm_manager *m)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	m->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (m->sigfd < 0)
		return -errno;
	m->sig_src.fn = signal_received;
	return signal_read_next(m);
}

void htm_config_override(struct htm_config *cfg, const struct htm_overrides *o)
{
	if (o->socket)
		snprintf(cfg->socket, sizeof(cfg->socket), "%s", o->socket);
	if (o->state_dir)
		snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", o->state_dir);
	if (o->cgroup_root)
		snprintf(cfg->cgroup_root, sizeof(cfg->cgroup_root), "%s", o->cgroup_root);
	if (o->observe)
		cfg->observe = true;
	if (o->verbose)
		cfg->log_level = LOG_DEBUG;
}

int htm_manager_new(struct htm_manager **out, const struct htm_config *cfg,
		    const char *config_path, const struct htm_overrides *o)
{
	struct htm_manager *m = calloc(1, sizeof(*m));
	int r;

	if (!m)
		return -ENOMEM;
	m->cfg = *cfg;
	m->overrides = *o;
	m->sigfd = m->lock_fd = -1;
	snprintf(m->config_path, sizeof(m->config_path), "%s",
		 config_path ? config_path : "");
	htm_queue_init(&m->queue);
	htm_task_table_init(&m->tasks, 1);
	LIST_INIT(&m->waiters);
	LIST_INIT(&m->deferred);
	LIST_INIT(&m->queries);
	LIST_INIT(&m->batches);
	LIST_INIT(&m->knobs);
	htm_ruleset_init(&m->rules);
	htm_storm_init(&m->storm);
	htm_outcomes_init(&m->outcomes);
	htm_fairshare_init(&m->fair, htm_now_mono());
	TAILQ_INIT(&m->sla_tasks);
	TAILQ_INIT(&m->starting);
	r = htm_loop_new(&m->loop, 256);
	if (r < 0) {
		htm_log(LOG_ERR, "io_uring: %s", strerror(-r));
		free(m);
		return r;
	}
	htm_timer_init(&m->waiter_timer, m->loop, waiter_timer_fired);
	htm_timer_init(&m->knob_timer, m->loop, knobs_expired);
	htm_timer_init(&m->approval_timer, m->loop, approvals_expired);
	htm_timer_init(&m->sla_timer, m->loop, sla_fired);
	*out = m;
	return 0;
}

int htm_manager_start(struct htm_manager *m)
{
	static const struct htm_api_ops api_ops = {
		.request = commands_handle,
		.closed = commands_conn_closed,
	};
	struct htm_sampler_opts sopts = { 0 };
	char err[512];
	int r;

	m->start_mono = htm_now_mono();
	m->start_real = htm_now_real();
	m->slots = m->cfg.slots ? m->cfg.slots
				: (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	r = state_dir_setup(m);
	if (r < 0)
		return r;
	r = htm_worker_new(&m->worker, m->loop);
	if (r < 0) {
		htm_log(LOG_ERR, "worker thread: %s", strerror(-r));
		return r;
	}
	r = rules_reload(m, err, sizeof(err));
	if (r < 0) {
		htm_log(LOG_ERR, "rules: %s", err);
		return r;
	}
	r = persist_open(m, m->overrides.accept_broken_journal);
	if (r < 0)
		return r;
	/* the socket before anything system-wide: a second htmd stops here */
	r = htm_api_new(&m->api, m->loop, m->cfg.socket, &api_ops, m);
	if (r < 0) {
		htm_log(LOG_ERR, "socket %s: %s", m->cfg.socket,
			r == -EADDRINUSE ? "another htmd is listening there" :
			r == -ENOTSOCK ? "exists and is not a socket; not touching it" :
			strerror(-r));
		return r;
	}
	r = cgroup_layout_setup(m);
	if (r < 0)
		return r;
	sopts.pin_dir = m->cfg.bpf_pin_dir;
	sopts.wait_clock = m->cfg.runqueue_clock;
	sopts.on_event = monitor_on_sampler_event;
	sopts.ctx = m;
	r = htm_sampler_new(&m->sampler, &sopts, m->sampler_error,
			    sizeof(m->sampler_error));
	if (r < 0)
		htm_log(LOG_WARNING, "BPF sampler unavailable (%s), continuing "
			"on PSI alone", m->sampler_error);
	/* leftovers of a crashed htmd are undone before anything is admitted */
	governor_start(m);
	r = signals_setup(m);
	if (r < 0) {
		htm_log(LOG_ERR, "signals: %s", strerror(-r));
		return r;
	}
	r = monitor_start(m);
	if (r < 0) {
		htm_log(LOG_ERR, "monitor: %s", strerror(-r));
		return r;
	}
	persist_recover(m);
	htm_loop_set_tick(m->loop, manager_tick, m);
	htm_log(LOG_INFO, "ready: socket %s, %u slots%s", m->cfg.socket,
		m->slots, m->cfg.observe ? ", observe-only" : "");
	return 0;
}

static bool replies_flushed(void *data)
{
	struct htm_manager *m = data;

	return htm_api_flushed(m->api);
}

int htm_manager_run(struct htm_manager *m)
{
	int r = htm_loop_run(m->loop);

	runner_shutdown(m);
	/* fail open: what decisions changed goes back */
	knobs_restore_all(m, "htmd stopping: fail open");
	/* the cancelled tasks' records and their waiters' answers go out */
	persist_close(m, r < 0 ? "event loop failed" : "stopped by signal");
	htm_loop_drain(m->loop, replies_flushed, m,
		       htm_now_mono() + HTM_NSEC_PER_SEC);
	return r;
}

void htm_manager_free(struct htm_manager *m)
{
	struct htm_task *t;
	struct waiter *w;

	if (!m)
		return;
	/* the ring goes first: no completion can arrive for what follows */
	persist_close(m, NULL);
	htm_loop_free(m->loop);
	htm_worker_free(m->worker);
	htm_api_free(m->api);
	while ((w = LIST_FIRST(&m->waiters))) {
		LIST_REMOVE(w, link);
		free(w);
	}
	monitor_stop(m);
	rules_free(m);
	htm_outcomes_free(&m->outcomes);
	TAILQ_FOREACH(t, &m->tasks.all, table_link)
		runner_release(t);
	htm_task_table_clear(&m->tasks);
	htm_egress_free(m->egress);
	cJSON_Delete(m->placed_originals);
	htm_sampler_free(m->sampler);
	cJSON_Delete(m->recent_events);
	if (m->sigfd >= 0)
		close(m->sigfd);
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	free(m);
}
