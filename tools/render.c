// SPDX-License-Identifier: MIT
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/duration.h"
#include "render.h"

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool num(const cJSON *o, const char *k, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsNumber(v))
		return false;
	*out = v->valuedouble;
	return true;
}

static double now_real(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *ago(double then, char *buf, size_t len)
{
	char d[32];
	double s = now_real() - then;

	htm_duration_format(s > 0 ? (uint64_t)(s * 1e3) * HTM_NSEC_PER_MSEC : 0,
			    d, sizeof(d));
	snprintf(buf, len, "%s ago", d);
	return buf;
}

static const char *clock_time(double t, char *buf, size_t len)
{
	time_t secs = (time_t)t;
	struct tm tm;

	localtime_r(&secs, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S %z", &tm);
	return buf;
}

static const char *duration(double seconds, char *buf, size_t len)
{
	return htm_duration_format((uint64_t)(seconds * 1e3) * HTM_NSEC_PER_MSEC,
				   buf, len);
}

static void outcome(const cJSON *t, char *buf, size_t len)
{
	double code, sig;

	if (num(t, "exit_code", &code))
		snprintf(buf, len, "exit %d", (int)code);
	else if (num(t, "signal", &sig))
		snprintf(buf, len, "signal %d", (int)sig);
	else
		snprintf(buf, len, "-");
}

void render_task_table(FILE *f, const cJSON *tasks)
{
	const cJSON *t;
	char age[48], how[32];
	double id = 0, uid = 0, at;

	fprintf(f, "%-6s %-10s %-8s %-13s %-6s %-14s %-9s %s\n", "ID", "STATE",
		"PRIO", "ORIGIN", "UID", "SUBMITTED", "RESULT", "NAME");
	cJSON_ArrayForEach(t, tasks) {
		num(t, "id", &id);
		num(t, "uid", &uid);
		if (!num(t, "submitted_at", &at))
			at = now_real();
		outcome(t, how, sizeof(how));
		fprintf(f, "%-6.0f %-10s %-8s %-13s %-6.0f %-14s %-9s %s\n", id,
			str(t, "state"), str(t, "priority"), str(t, "origin"), uid,
			ago(at, age, sizeof(age)), how, str(t, "name"));
	}
}

void render_task_outcome(FILE *f, const cJSON *task)
{
	char how[32];
	const char *reason = str(task, "reason");
	double id = 0;

	num(task, "id", &id);
	outcome(task, how, sizeof(how));
	fprintf(f, "task %.0f %s", id, str(task, "state"));
	if (strcmp(how, "-"))
		fprintf(f, " (%s)", how);
	if (reason)
		fprintf(f, ": %s", reason);
	fputc('\n', f);
}

/* What the sampler and taskstats saw of a task. */
static void render_usage(FILE *f, const cJSON *u)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(u, "delays");
	double v, w;

	if (!cJSON_IsObject(u))
		return;
	if (num(u, "cpu_seconds", &v))
		fprintf(f, "%-12s %.3fs on CPU\n", "usage:", v);
	if (num(u, "waits", &v) && num(u, "wait_p99_us", &w))
		fprintf(f, "%-12s %.0f waits, avg %.0fus, p99 %.0fus, %.0f over budget\n",
			"run queue:", v,
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(u, "wait_avg_us")), w,
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(u, "breaches")));
	if (num(u, "reclaim_ms", &v) && v > 0)
		fprintf(f, "%-12s %.1fms in memcg reclaim\n", "memory:", v);
	if (num(u, "oom_kills", &v) && v > 0)
		fprintf(f, "%-12s %.0f OOM kills\n", "oom:", v);
	if (cJSON_IsObject(d))
		fprintf(f, "%-12s cpu %.1fms, blkio %.1fms, swapin %.1fms, reclaim %.1fms, thrashing %.1fms\n",
			"delays:", cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(d, "cpu_ms")),
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(d, "blkio_ms")),
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(d, "swapin_ms")),
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(d, "reclaim_ms")),
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(d, "thrashing_ms")));
	else if (cJSON_IsString(d))
		fprintf(f, "%-12s %s\n", "delays:", d->valuestring);
}

void render_task(FILE *f, const cJSON *t)
{
	static const char *const times[] = { "submitted_at", "started_at",
					     "finished_at", "deadline" };
	const cJSON *a, *argv = cJSON_GetObjectItemCaseSensitive(t, "argv");
	char buf[64];
	double v = 0, started, finished;

	num(t, "id", &v);
	fprintf(f, "%-12s %.0f\n", "id:", v);
	fprintf(f, "%-12s %s\n", "name:", str(t, "name"));
	fprintf(f, "%-12s", "command:");
	cJSON_ArrayForEach(a, argv)
		fprintf(f, " %s", a->valuestring);
	fputc('\n', f);
	fprintf(f, "%-12s %s\n", "state:", str(t, "state"));
	if (str(t, "reason"))
		fprintf(f, "%-12s %s\n", "reason:", str(t, "reason"));
	fprintf(f, "%-12s %s\n", "priority:", str(t, "priority"));
	fprintf(f, "%-12s %s\n", "origin:", str(t, "origin"));
	fprintf(f, "%-12s %s\n", "risk:", str(t, "risk"));
	if (num(t, "uid", &v))
		fprintf(f, "%-12s %.0f\n", "uid:", v);
	if (num(t, "pid", &v))
		fprintf(f, "%-12s %.0f\n", "pid:", v);
	if (str(t, "cgroup"))
		fprintf(f, "%-12s %s\n", "cgroup:", str(t, "cgroup"));
	outcome(t, buf, sizeof(buf));
	fprintf(f, "%-12s %s\n", "result:", buf);
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		if (!num(t, times[i], &v))
			continue;
		char label[32];

		snprintf(label, sizeof(label), "%.*s:",
			 (int)strcspn(times[i], "_"), times[i]);
		fprintf(f, "%-12s %s\n", label, clock_time(v, buf, sizeof(buf)));
	}
	if (num(t, "started_at", &started)) {
		if (!num(t, "finished_at", &finished))
			finished = now_real();
		fprintf(f, "%-12s %s\n", "runtime:",
			duration(finished - started, buf, sizeof(buf)));
	}
	if (num(t, "timeout", &v))
		fprintf(f, "%-12s %s\n", "timeout:", duration(v, buf, sizeof(buf)));
	if (num(t, "sla", &v)) {
		fprintf(f, "%-12s %s", "sla:", duration(v, buf, sizeof(buf)));
		if (num(t, "sla_remaining", &v))
			fprintf(f, v >= 0 ? ", %s left" : ", deadline passed %s ago",
				duration(v >= 0 ? v : -v, buf, sizeof(buf)));
		if (num(t, "escalations", &v) && v > 0)
			fprintf(f, ", escalated %.0f time%s", v, v > 1 ? "s" : "");
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "sla_breached")))
			fprintf(f, ", BREACHED");
		fputc('\n', f);
	}
	if (str(t, "batch"))
		fprintf(f, "%-12s %s\n", "batch:", str(t, "batch"));
	if (str(t, "log"))
		fprintf(f, "%-12s %s\n", "log:", str(t, "log"));
	render_usage(f, cJSON_GetObjectItemCaseSensitive(t, "usage"));
}

static void render_names(FILE *f, const cJSON *arr)
{
	const cJSON *a;
	bool first = true;

	cJSON_ArrayForEach(a, arr) {
		fprintf(f, "%s%s", first ? "" : " ", a->valuestring);
		first = false;
	}
	if (first)
		fprintf(f, "none");
}

static void render_governor(FILE *f, const cJSON *s)
{
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(s, "governor");
	const cJSON *cls = cJSON_GetObjectItemCaseSensitive(g, "classes");
	const cJSON *sla = cJSON_GetObjectItemCaseSensitive(s, "sla");
	const cJSON *c;
	double v;

	if (!g)
		return;
	fprintf(f, "governor:   %s%s%s\n", str(g, "level"),
		cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "breach_step"))
			? " (a budget breach's step)" : "",
		cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "observe"))
			? ", observe-only: nothing written" : "");
	cJSON_ArrayForEach(c, cls) {
		fprintf(f, "  %-9s %s", c->string,
			cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "admitted"))
				? "admitted" : "held back");
		if (num(c, "cpu_cap_pct", &v) && v > 0)
			fprintf(f, ", cpu.max %.0f%% of a CPU", v);
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "frozen")))
			fprintf(f, ", frozen");
		if (num(c, "egress_bps", &v) && v > 0)
			fprintf(f, ", egress %.0f B/s", v);
		fputc('\n', f);
	}
	if (sla)
		fprintf(f, "sla:        %.0f watched, %.0f escalated, %.0f breached\n",
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sla, "watched")),
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sla, "escalations")),
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sla, "breaches")));
	fprintf(f, "%-20s %6s %7s %7s %7s %8s %7s\n", "ORIGIN", "SHARE", "RUNNING",
		"QUEUED", "STARTED", "STARVED", "UTIL");
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(s, "origins"))
		fprintf(f, "%-20s %5.0f%% %7.0f %7.0f %7.0f %8.0f %6.1f%%\n", c->string,
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "share_pct")),
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "running")),
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "queued")),
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "started")),
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "starved")),
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "utilization_pct")));
}

void render_status(FILE *f, const cJSON *s)
{
	const cJSON *slots = cJSON_GetObjectItemCaseSensitive(s, "slots");
	const cJSON *queue = cJSON_GetObjectItemCaseSensitive(s, "queue");
	const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(s, "tasks");
	const cJSON *cg = cJSON_GetObjectItemCaseSensitive(s, "cgroup");
	const cJSON *smp = cJSON_GetObjectItemCaseSensitive(s, "sampler");
	const cJSON *c;
	char buf[64];
	double v = 0, w = 0;

	num(s, "pid", &v);
	fprintf(f, "htmd %s, pid %.0f, up %s%s\n", str(s, "version"), v,
		num(s, "uptime", &w) ? duration(w, buf, sizeof(buf)) : "?",
		cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "observe"))
			? ", OBSERVE-ONLY (no cgroup writes)" : "");
	fprintf(f, "config:     %s\n", str(s, "config"));
	fprintf(f, "socket:     %s\n", str(s, "socket"));
	fprintf(f, "state dir:  %s\n", str(s, "state_dir"));
	num(slots, "busy", &v);
	num(slots, "total", &w);
	fprintf(f, "slots:      %.0f of %.0f busy\n", v, w);
	fprintf(f, "queued:    ");
	cJSON_ArrayForEach(c, queue)
		fprintf(f, " %s %.0f", c->string, c->valuedouble);
	fprintf(f, "\ntasks:     ");
	cJSON_ArrayForEach(c, tasks)
		if (c->valuedouble > 0)
			fprintf(f, " %s %.0f", c->string, c->valuedouble);
	fprintf(f, "\ncgroup:     %s\n", str(cg, "root"));
	fprintf(f, "enforced:   ");
	render_names(f, cJSON_GetObjectItemCaseSensitive(cg, "enforced"));
	fprintf(f, "\nmissing:    ");
	render_names(f, cJSON_GetObjectItemCaseSensitive(cg, "missing"));
	fprintf(f, "\ncontrols:  ");
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(cg, "controls"))
		fprintf(f, " %s %s", c->string, cJSON_IsTrue(c) ? "yes" : "NO");
	fprintf(f, "\nsampler:    %s", str(smp, "state"));
	if (str(smp, "reason"))
		fprintf(f, " (%s), running on %s", str(smp, "reason"), str(smp, "fallback"));
	if (cJSON_GetObjectItemCaseSensitive(smp, "programs")) {
		fprintf(f, "\nprograms:   ");
		render_names(f, cJSON_GetObjectItemCaseSensitive(smp, "programs"));
	}
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(smp, "off"))
		fprintf(f, "\nfeature:    %s", c->valuestring);
	if (str(smp, "pin_dir"))
		fprintf(f, "\npinned in:  %s", str(smp, "pin_dir"));
	if (num(smp, "period_ms", &v))
		fprintf(f, "\nsampling:   every %.0fms, %.0f cgroups tracked, %.0f passes of %.0fus avg",
			v, num(smp, "tracked_cgroups", &w) ? w : 0,
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(smp, "passes")),
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(smp, "pass_avg_us")));
	if (num(smp, "breach_events", &v))
		fprintf(f, "\nevents:     %.0f budget breaches, %.0f reclaim, %.0f OOM kills", v,
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(smp, "reclaim_events")),
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(smp, "oom_kill_events")));
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(smp, "psi_triggers"))
		fprintf(f, "\npsi:        %s \"%s\", fired %.0f times", str(c, "resource"),
			str(c, "trigger"), num(c, "fired", &v) ? v : 0);
	fprintf(f, "\ntaskstats:  %s", str(smp, "taskstats"));
	fprintf(f, "\nstress:     %s\n", str(smp, "stress"));
	render_governor(f, s);
}

void render_log(FILE *f, const cJSON *records)
{
	const cJSON *r;
	char when[64];

	fprintf(f, "%-7s %-19s %-14s %-10s %-6s %s\n", "SEQ", "TIME", "TYPE",
		"ACTOR", "TASK", "WHAT HAPPENED");
	cJSON_ArrayForEach(r, records) {
		const cJSON *b = cJSON_GetObjectItemCaseSensitive(r, "record");
		const cJSON *who = cJSON_GetObjectItemCaseSensitive(b, "who");
		const cJSON *task = cJSON_GetObjectItemCaseSensitive(b, "task");
		const char *user = str(who, "user"), *from = str(b, "from"), *to = str(b, "to");
		double seq = 0, ts = 0, id = 0;
		time_t t;
		struct tm tm;

		num(r, "seq", &seq);
		num(r, "ts", &ts);
		if (cJSON_IsNumber(task))
			id = task->valuedouble;
		else if (cJSON_IsObject(task))
			num(task, "id", &id);
		t = (time_t)ts;
		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		fprintf(f, "%-7.0f %-19s %-14s %-10s ", seq, when, str(r, "type"),
			user ? user : str(who, "actor") ? str(who, "actor") : "-");
		if (id > 0)
			fprintf(f, "%-6.0f ", id);
		else
			fprintf(f, "%-6s ", "-");
		if (from && to)
			fprintf(f, "%s -> %s: ", from, to);
		fprintf(f, "%s\n", str(b, "why") ? str(b, "why") : "");
	}
}

void render_verify(FILE *f, const cJSON *v)
{
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(v, "broken");
	double records = 0, segs = 0, tail = 0;

	num(v, "records", &records);
	num(v, "segments", &segs);
	num(v, "tail_bytes_unchecked", &tail);
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "ok"))) {
		fprintf(f, "journal ok: %.0f records in %.0f segments, every CRC and "
			"hash link checked; last record's SHA-256 %s\n", records, segs,
			str(v, "last_hash"));
		if (tail > 0)
			fprintf(f, "(%.0f bytes at the end were being written and not "
				"checked)\n", tail);
		return;
	}
	fprintf(f, "journal BROKEN at record %.0f: %s (%s, offset %.0f); %.0f "
		"records before it are intact\n",
		cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(b, "first_bad_record")),
		str(b, "why"), str(b, "segment"),
		cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(b, "offset")), records);
}

void render_approvals(FILE *f, const cJSON *items)
{
	const cJSON *t;
	char age[32], exp[32];
	double v = 0;

	if (!cJSON_GetArraySize(items)) {
		fprintf(f, "nothing waits for a decision\n");
		return;
	}
	fprintf(f, "%-6s %-8s %-10s %-8s %-8s %-9s %-9s %-8s %s\n", "ID", "STATUS",
		"TIER", "RISK", "NEEDED", "AGE", "EXPIRES", "ADVICE", "NAME / REASONS");
	cJSON_ArrayForEach(t, items) {
		const cJSON *ap = cJSON_GetObjectItemCaseSensitive(t, "approval");
		const cJSON *rec = cJSON_GetObjectItemCaseSensitive(t, "recommendation");

		num(t, "age_s", &v);
		duration(v, age, sizeof(age));
		if (num(t, "expires_in_s", &v))
			duration(v, exp, sizeof(exp));
		else
			snprintf(exp, sizeof(exp), "-");
		fprintf(f, "%-6.0f %-8s %-10s %-8s %-8.0f %-9s %-9s %-8s %s%s%s\n",
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(t, "id")),
			str(t, "status"), str(t, "tier_name"), str(t, "risk"),
			ap ? cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ap, "needed")) : 0,
			age, exp, str(rec, "verdict"), str(t, "name"),
			ap && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ap, "needs_override"))
				? " (needs --override)" : "",
			str(t, "reason") ? "" : "");
		if (str(t, "reason"))
			fprintf(f, "%6s why: %s\n", "", str(t, "reason"));
		fprintf(f, "%6s %s\n", "", str(rec, "reasons"));
	}
}

void render_rules(FILE *f, const cJSON *rules)
{
	const cJSON *r;

	fprintf(f, "%-24s %-9s %-20s %6s %6s %6s  %s\n", "RULE", "ACTION", "MATCH",
		"HITS", "FIRED", "COOLED", "SOURCE");
	cJSON_ArrayForEach(r, rules)
		fprintf(f, "%-24s %-9s %-20s %6.0f %6.0f %6.0f  %s\n", str(r, "name"),
			str(r, "action"), str(r, "match"),
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "hits")),
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "fired")),
			cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "cooled")),
			str(r, "source"));
}

void render_rule_test(FILE *f, const cJSON *t)
{
	char *would;

	if (!str(t, "rule")) {
		fprintf(f, "no rule matches: %s\n", str(t, "why"));
		return;
	}
	fprintf(f, "rule %s (%s): %s\n", str(t, "rule"), str(t, "source"),
		str(t, "description"));
	if (str(t, "would_fail")) {
		fprintf(f, "it would not act: %s\n", str(t, "would_fail"));
		return;
	}
	would = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(t, "would"));
	fprintf(f, "it would %s, target %s: %s\n", str(t, "action"), str(t, "target"),
		would ? would : "");
	free(would);
}
