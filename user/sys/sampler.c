// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "core/config.h"
#include "core/pathfmt.h"
#include "log.h"
#include "sampler.h"
#include "sampler.skel.h"

#define BATCH 64

struct htm_sampler {
	struct sampler_bpf *skel;
	struct ring_buffer *rb;
	int ncpus;
	struct htm_sampler_opts opts;
	struct htm_sampler_info info;
	char pin_dir[512];
	int pin_lock;
	/* batch buffers, sized once */
	uint64_t *keys;
	struct htm_cg_stats *values;
	struct htm_cpu_state *cpus;
	uint64_t *stint_ns;	/* per CPU: the running task's time so far */
};

/* Strip typedefs and modifiers. */
static const struct btf_type *btf_resolve(const struct btf *btf, __u32 id)
{
	const struct btf_type *t = btf__type_by_id(btf, id);

	while (t && (btf_is_typedef(t) || btf_is_mod(t)))
		t = btf__type_by_id(btf, t->type);
	return t;
}

/* The tracepoint exists, and its argument `arg` (0-based, after the
 * context) is a pointer: what tp_btf programs here were written for. */
static bool tracepoint_arg_is_ptr(const struct btf *btf, const char *tp, int arg)
{
	char name[128];
	const struct btf_type *t;
	const struct btf_param *p;
	int id;

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
	if (id < 0)
		return false;
	t = btf_resolve(btf, btf__type_by_id(btf, (__u32)id)->type);
	if (!t || !btf_is_ptr(t))
		return false;
	t = btf_resolve(btf, t->type);
	if (!t || !btf_is_func_proto(t) || btf_vlen(t) < arg + 2)
		return false;
	p = btf_params(t) + arg + 1;
	t = btf_resolve(btf, p->type);
	return t && btf_is_ptr(t);
}

static bool tracepoint_exists(const struct btf *btf, const char *tp)
{
	char name[128];

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	return btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF) >= 0;
}

static bool struct_has_member(const struct btf *btf, const char *st,
			      const char *member)
{
	const struct btf_type *t;
	const struct btf_member *m;
	int id = btf__find_by_name_kind(btf, st, BTF_KIND_STRUCT);

	if (id < 0)
		return false;
	t = btf__type_by_id(btf, (__u32)id);
	m = btf_members(t);
	for (int i = 0; i < btf_vlen(t); i++, m++)
		if (strcmp(btf__name_by_offset(btf, m->name_off), member) == 0)
			return true;
	return false;
}

static void feature_off(struct htm_sampler *s, struct bpf_program *p,
			const char *what)
{
	bpf_program__set_autoload(p, false);
	if (s->info.noff < 4)
		s->info.off[s->info.noff++] = what;
	htm_log(LOG_INFO, "sampler: %s", what);
}

static void probe_features(struct htm_sampler *s)
{
	struct btf *btf = btf__load_vmlinux_btf();

	if (!btf)
		return;	/* load will fail and say why */
	/* The kernel's own stamp costs nothing at wakeup; without sched_info
	 * (or group scheduling, the way to the run queue's clock) waits are
	 * stamped in task storage instead. */
	if (s->opts.wait_clock != HTM_RQCLOCK_TASK_STORAGE &&
	    struct_has_member(btf, "sched_info", "last_queued") &&
	    struct_has_member(btf, "cfs_rq", "rq")) {
		s->skel->rodata->wait_clock = HTM_WAIT_SCHED_INFO;
		s->info.wait_clock = "sched_info";
		/* the kernel stamps the wakeup; nothing of ours need run there */
		bpf_program__set_autoload(s->skel->progs.htm_sched_wakeup, false);
		bpf_program__set_autoload(s->skel->progs.htm_sched_wakeup_new, false);
	} else {
		if (s->opts.wait_clock == HTM_RQCLOCK_SCHED_INFO)
			htm_log(LOG_WARNING, "sampler: runqueue_clock sched_info: the kernel "
				"keeps no sched_info (CONFIG_SCHED_INFO) or no group scheduling, "
				"using task storage");
		s->skel->rodata->wait_clock = HTM_WAIT_TASK_STORAGE;
		s->info.wait_clock = "task_storage";
	}
	if (!tracepoint_arg_is_ptr(btf, "mark_victim", 0))
		feature_off(s, s->skel->progs.htm_mark_victim,
			    "oom_kills off: mark_victim tracepoint does not pass the task");
	if (!tracepoint_exists(btf, "mm_vmscan_memcg_reclaim_begin") ||
	    !tracepoint_exists(btf, "mm_vmscan_memcg_reclaim_end")) {
		feature_off(s, s->skel->progs.htm_reclaim_begin,
			    "reclaim off: no memcg reclaim tracepoints");
		bpf_program__set_autoload(s->skel->progs.htm_reclaim_end, false);
	}
	btf__free(btf);
}

static int ensure_bpffs(const char *dir)
{
	struct statfs st;

	if (strncmp(dir, "/sys/fs/bpf/", 12) != 0)
		return 0;
	if (statfs("/sys/fs/bpf", &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") < 0)
		return -errno;
	htm_log(LOG_INFO, "mounted bpffs on /sys/fs/bpf");
	return 0;
}

/* Own the pin directory: lock it, and replace what a crashed run left. */
static int pin_dir_take(struct htm_sampler *s, char *why, size_t whylen)
{
	char path[768];
	struct dirent *de;
	DIR *d;
	int r;

	r = ensure_bpffs(s->pin_dir);
	if (r < 0) {
		snprintf(why, whylen, "mount bpffs: %s", strerror(-r));
		return r;
	}
	if (mkdir(s->pin_dir, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		snprintf(why, whylen, "mkdir %s: %s", s->pin_dir, strerror(-r));
		return r;
	}
	s->pin_lock = open(s->pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->pin_lock < 0 || flock(s->pin_lock, LOCK_EX | LOCK_NB) < 0) {
		r = -errno;
		snprintf(why, whylen, "%s: %s", s->pin_dir, r == -EWOULDBLOCK ?
			 "in use by another htmd" : strerror(-r));
		return r;
	}
	d = opendir(s->pin_dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (htm_pathf(path, sizeof(path), "%s/%s", s->pin_dir, de->d_name) == 0 &&
		    unlink(path) == 0)
			htm_log(LOG_INFO, "sampler: replaced stale pin %s", path);
	}
	closedir(d);
	return 0;
}

static void set_pin_paths(struct htm_sampler *s)
{
	struct bpf_map *maps[] = {
		s->skel->maps.htm_cg_stats, s->skel->maps.htm_cg_conf, s->skel->maps.htm_cpu_state,
		s->skel->maps.htm_events,
	};
	char path[768];

	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		if (htm_pathf(path, sizeof(path), "%s/%s", s->pin_dir,
			      bpf_map__name(maps[i])) == 0)
			bpf_map__set_pin_path(maps[i], path);
}

static int pin_links(struct htm_sampler *s)
{
	struct bpf_program *p;
	char path[768];
	int r;

	bpf_object__for_each_program(p, s->skel->obj) {
		struct bpf_link **link = NULL;

		if (!bpf_program__autoload(p))
			continue;
		if (p == s->skel->progs.htm_sched_wakeup)
			link = &s->skel->links.htm_sched_wakeup;
		else if (p == s->skel->progs.htm_sched_wakeup_new)
			link = &s->skel->links.htm_sched_wakeup_new;
		else if (p == s->skel->progs.htm_sched_switch)
			link = &s->skel->links.htm_sched_switch;
		else if (p == s->skel->progs.htm_reclaim_begin)
			link = &s->skel->links.htm_reclaim_begin;
		else if (p == s->skel->progs.htm_reclaim_end)
			link = &s->skel->links.htm_reclaim_end;
		else if (p == s->skel->progs.htm_mark_victim)
			link = &s->skel->links.htm_mark_victim;
		if (!link || !*link)
			continue;
		r = htm_pathf(path, sizeof(path), "%s/link_%s", s->pin_dir,
			      bpf_program__name(p));
		if (r == 0)
			r = bpf_link__pin(*link, path);
		if (r < 0)
			return r;
	}
	return 0;
}

static int ringbuf_event(void *ctx, void *data, size_t len)
{
	struct htm_sampler *s = ctx;

	if (len >= sizeof(struct htm_event) && s->opts.on_event)
		s->opts.on_event(s->opts.ctx, data);
	return 0;
}

int htm_sampler_new(struct htm_sampler **out, const struct htm_sampler_opts *o,
		    char *why, size_t whylen)
{
	struct htm_sampler *s = calloc(1, sizeof(*s));
	struct bpf_program *p;
	int r;

	if (!s)
		return -ENOMEM;
	s->opts = *o;
	s->pin_lock = -1;
	s->ncpus = libbpf_num_possible_cpus();
	if (s->ncpus <= 0) {
		r = s->ncpus < 0 ? s->ncpus : -EINVAL;
		snprintf(why, whylen, "cannot count possible CPUs: %s", strerror(-r));
		goto fail;
	}
	s->keys = calloc(BATCH, sizeof(*s->keys));
	s->values = calloc((size_t)BATCH * (size_t)s->ncpus, sizeof(*s->values));
	s->cpus = calloc((size_t)s->ncpus, sizeof(*s->cpus));
	s->stint_ns = calloc((size_t)s->ncpus, sizeof(*s->stint_ns));
	if (!s->keys || !s->values || !s->cpus || !s->stint_ns) {
		r = -ENOMEM;
		snprintf(why, whylen, "out of memory");
		goto fail;
	}
	r = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL);
	if (r < 0) {
		snprintf(why, whylen, "cannot create BPF maps: %s%s", strerror(-r),
			 r == -EPERM ? " (needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN)" : "");
		goto fail;
	}
	if (r == 0) {
		r = -EOPNOTSUPP;
		snprintf(why, whylen, "kernel lacks task storage maps (needs 5.11+)");
		goto fail;
	}
	s->skel = sampler_bpf__open();
	if (!s->skel) {
		r = -errno;
		snprintf(why, whylen, "open: %s", strerror(-r));
		goto fail;
	}
	if (o->breach_interval_ns) {
		s->skel->rodata->breach_interval_ns = o->breach_interval_ns;
		s->skel->rodata->reclaim_interval_ns = o->breach_interval_ns;
	}
	probe_features(s);
	if (o->pin_dir && o->pin_dir[0]) {
		snprintf(s->pin_dir, sizeof(s->pin_dir), "%s", o->pin_dir);
		r = pin_dir_take(s, why, whylen);
		if (r < 0)
			goto fail;
		set_pin_paths(s);
		s->info.pin_dir = s->pin_dir;
	}
	r = sampler_bpf__load(s->skel);
	if (r < 0) {
		snprintf(why, whylen, "load: %s (needs root, BTF, 5.15+)", strerror(-r));
		goto fail;
	}
	r = sampler_bpf__attach(s->skel);
	if (r < 0) {
		snprintf(why, whylen, "attach: %s", strerror(-r));
		goto fail;
	}
	if (s->pin_dir[0] && (r = pin_links(s)) < 0) {
		snprintf(why, whylen, "pin links in %s: %s", s->pin_dir, strerror(-r));
		goto fail;
	}
	s->rb = ring_buffer__new(bpf_map__fd(s->skel->maps.htm_events),
				 ringbuf_event, s, NULL);
	if (!s->rb) {
		r = -errno;
		snprintf(why, whylen, "ring buffer: %s", strerror(-r));
		goto fail;
	}
	bpf_object__for_each_program(p, s->skel->obj)
		if (bpf_program__autoload(p) && s->info.nprograms < 8)
			s->info.programs[s->info.nprograms++] = bpf_program__name(p);
	*out = s;
	return 0;
fail:
	htm_sampler_free(s);
	return r;
}

static void unpin_all(struct htm_sampler *s)
{
	struct bpf_link *links[] = {
		s->skel->links.htm_sched_wakeup, s->skel->links.htm_sched_wakeup_new,
		s->skel->links.htm_sched_switch, s->skel->links.htm_reclaim_begin,
		s->skel->links.htm_reclaim_end, s->skel->links.htm_mark_victim,
	};
	struct bpf_map *m;

	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (links[i] && bpf_link__pin_path(links[i]))
			bpf_link__unpin(links[i]);
	bpf_object__for_each_map(m, s->skel->obj)
		if (bpf_map__is_pinned(m))
			bpf_map__unpin(m, NULL);
	rmdir(s->pin_dir);
}

void htm_sampler_free(struct htm_sampler *s)
{
	if (!s)
		return;
	ring_buffer__free(s->rb);
	if (s->skel && s->pin_dir[0])
		unpin_all(s);
	sampler_bpf__destroy(s->skel);
	if (s->pin_lock >= 0)
		close(s->pin_lock);
	free(s->keys);
	free(s->values);
	free(s->cpus);
	free(s->stint_ns);
	free(s);
}

const struct htm_sampler_info *htm_sampler_info(const struct htm_sampler *s)
{
	return &s->info;
}

int htm_sampler_track(struct htm_sampler *s, uint64_t cgid, uint64_t budget_ns)
{
	struct htm_cg_conf conf = { .budget_ns = budget_ns };
	int r;

	/* BPF_NOEXIST: tracking again only changes the budget, not counters */
	memset(s->values, 0, sizeof(*s->values) * (size_t)s->ncpus);
	r = bpf_map_update_elem(bpf_map__fd(s->skel->maps.htm_cg_stats), &cgid,
				s->values, BPF_NOEXIST);
	if (r < 0 && errno != EEXIST)
		return -errno;
	if (bpf_map_update_elem(bpf_map__fd(s->skel->maps.htm_cg_conf), &cgid,
				&conf, BPF_ANY) < 0)
		return -errno;
	/* never raised: a stale low floor only costs a lookup, a high one
	 * would hide breaches */
	if (budget_ns && budget_ns < s->skel->data->budget_floor_ns)
		s->skel->data->budget_floor_ns = budget_ns;
	return 0;
}

int htm_sampler_untrack(struct htm_sampler *s, uint64_t cgid)
{
	int r = 0;

	if (bpf_map_delete_elem(bpf_map__fd(s->skel->maps.htm_cg_conf), &cgid) < 0 &&
	    errno != ENOENT)
		r = -errno;
	if (bpf_map_delete_elem(bpf_map__fd(s->skel->maps.htm_cg_stats), &cgid) < 0 &&
	    errno != ENOENT)
		r = -errno;
	return r;
}

static void sum_cpus(const struct htm_cg_stats *per_cpu, int ncpus,
		     struct htm_cg_stats *out)
{
	const __u64 *src;
	__u64 *dst = (__u64 *)out;
	size_t n = sizeof(*out) / sizeof(__u64);

	memset(out, 0, sizeof(*out));
	for (int c = 0; c < ncpus; c++) {
		src = (const __u64 *)&per_cpu[c];
		for (size_t i = 0; i < n; i++)
			dst[i] += src[i];
	}
}

/* sum_exec_runtime of thread `pid` now (the kernel brings a running
 * task's up to date for the read), ns; 0 if it is gone */
static uint64_t thread_exec_ns(uint64_t pid)
{
	char path[48], buf[96];
	unsigned long long exec;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%llu/schedstat", (unsigned long long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return sscanf(buf, "%llu", &exec) == 1 ? exec : 0;
}

/* Read htm_cpu_state and the running stint so far (its task's
 * sum_exec_runtime now minus at its switch-in) of every CPU, or with a
 * cgid only of the CPUs running that cgroup: one /proc read per CPU that
 * counts, not per CPU per task shown. */
static int read_running(struct htm_sampler *s, uint64_t only_cgid)
{
	__u32 zero = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.htm_cpu_state), &zero,
				s->cpus) < 0)
		return -errno;
	for (int c = 0; c < s->ncpus; c++) {
		const struct htm_cpu_state *cpu = &s->cpus[c];
		bool wanted = !only_cgid || cpu->cgid == only_cgid;
		uint64_t exec = wanted && cpu->running && cpu->pid ? thread_exec_ns(cpu->pid) : 0;

		s->stint_ns[c] = exec > cpu->exec_ns ? exec - cpu->exec_ns : 0;
	}
	return 0;
}

/* Add each CPU's running stint: a task that never switches out counts. */
static void add_running(struct htm_sampler *s, struct htm_cg_stats *all,
			uint64_t cgid, struct htm_cg_stats *t)
{
	for (int c = 0; c < s->ncpus; c++) {
		if (all)
			all->oncpu_ns += s->stint_ns[c];
		if (t && s->cpus[c].cgid == cgid)
			t->oncpu_ns += s->stint_ns[c];
	}
}

int htm_sampler_read(struct htm_sampler *s,
		     void (*cb)(void *ctx, uint64_t cgid,
				const struct htm_cg_stats *t),
		     void *ctx, struct htm_cg_stats *all)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	int fd = bpf_map__fd(s->skel->maps.htm_cg_stats);
	struct htm_cg_stats sum;
	__u64 out_batch, in_batch;
	bool first = true, done = false;
	__u32 count;
	int r;

	/* the summary and each CPU's running task come from one read of
	 * htm_cpu_state, so they agree with each other */
	r = read_running(s, 0);
	if (r < 0)
		return r;
	memset(all, 0, sizeof(*all));
	for (int c = 0; c < s->ncpus; c++) {
		const __u64 *src = (const __u64 *)&s->cpus[c].all;
		__u64 *dst = (__u64 *)all;

		for (size_t i = 0; i < sizeof(*all) / sizeof(__u64); i++)
			dst[i] += src[i];
	}
	add_running(s, all, 0, NULL);

	while (!done) {
		count = BATCH;
		r = bpf_map_lookup_batch(fd, first ? NULL : &in_batch, &out_batch,
					 s->keys, s->values, &count, &opts);
		if (r < 0 && errno != ENOENT)
			return -errno;
		done = r < 0;	/* ENOENT: this was the last batch */
		for (__u32 i = 0; i < count; i++) {
			sum_cpus(&s->values[(size_t)i * (size_t)s->ncpus], s->ncpus, &sum);
			add_running(s, NULL, s->keys[i], &sum);
			cb(ctx, s->keys[i], &sum);
		}
		in_batch = out_batch;
		first = false;
	}
	return 0;
}

int htm_sampler_read_one(struct htm_sampler *s, uint64_t cgid,
			 struct htm_cg_stats *out)
{
	if (bpf_map_lookup_elem(bpf_map__fd(s->skel->maps.htm_cg_stats), &cgid,
				s->values) < 0)
		return -errno;
	sum_cpus(s->values, s->ncpus, out);
	if (read_running(s, cgid) == 0)
		add_running(s, NULL, cgid, out);
	return 0;
}

int htm_sampler_events_fd(const struct htm_sampler *s)
{
	return ring_buffer__epoll_fd(s->rb);
}

int htm_sampler_consume(struct htm_sampler *s)
{
	return ring_buffer__consume(s->rb);
}
