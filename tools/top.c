// SPDX-License-Identifier: MIT
/*
 * htmctl top: governed cgroups and tasks, the stress level and its
 * reasons, refreshed every sampling period like top(1). `q` or ^C quits;
 * when stdout is not a terminal it prints one frame per period (batch).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "top.h"

static struct termios saved_tty;
static bool tty_raw;
static volatile sig_atomic_t stop;

static void tty_restore(void)
{
	if (tty_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
	tty_raw = false;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void tty_keys(void)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tty) < 0)
		return;
	t = saved_tty;
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0) {
		tty_raw = true;
		atexit(tty_restore);
	}
}

static double num(const cJSON *o, const char *k)
{
	return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static const char *str(const cJSON *o, const char *k)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));

	return s ? s : "-";
}

static const char *us(double v, char *buf, size_t len)
{
	if (v != v)	/* NaN: absent */
		snprintf(buf, len, "-");
	else if (v >= 1000000)
		snprintf(buf, len, "%.1fs", v / 1e6);
	else if (v >= 1000)
		snprintf(buf, len, "%.1fms", v / 1e3);
	else
		snprintf(buf, len, "%.0fus", v);
	return buf;
}

static const char *bytes(const cJSON *v, char *buf, size_t len)
{
	double b;

	if (!cJSON_IsNumber(v)) {
		snprintf(buf, len, "-");
		return buf;
	}
	b = v->valuedouble;
	if (b >= 1 << 30)
		snprintf(buf, len, "%.1fG", b / (1 << 30));
	else if (b >= 1 << 20)
		snprintf(buf, len, "%.1fM", b / (1 << 20));
	else
		snprintf(buf, len, "%.0fK", b / 1024);
	return buf;
}

static void render(FILE *f, const cJSON *top, bool clear)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(top, "stress");
	const cJSON *sys = cJSON_GetObjectItemCaseSensitive(top, "system");
	const cJSON *psi = cJSON_GetObjectItemCaseSensitive(sys, "psi");
	const cJSON *rq = cJSON_GetObjectItemCaseSensitive(sys, "runqueue");
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(top, "queue");
	const cJSON *cgs = cJSON_GetObjectItemCaseSensitive(top, "cgroups");
	const cJSON *evs = cJSON_GetObjectItemCaseSensitive(top, "events");
	const cJSON *c, *e;
	char a[32], b[32], m[32], level[16], when[16];
	time_t now = time(NULL);
	struct tm tm;
	int n, skip;

	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	snprintf(level, sizeof(level), "%s", str(st, "level"));
	for (char *p = level; *p; p++)
		*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	if (clear)
		fputs("\033[H\033[2J", f);
	fprintf(f, "htm top - %s  stress %s for %.0fs: %s\n", when, level,
		num(st, "for_s"), str(st, "reasons"));
	if (rq)
		fprintf(f, "cpu %.1f%%  runqueue p50 %s p90 %s p99 %s  ", num(sys, "cpu_pct"),
			us(num(rq, "p50_us"), a, sizeof(a)), us(num(rq, "p90_us"), b, sizeof(b)),
			us(num(rq, "p99_us"), m, sizeof(m)));
	else
		fprintf(f, "sampler off  ");
	fprintf(f, "mem available %.0f%%\n", num(sys, "memory_available_pct"));
	fprintf(f, "psi some avg10:");
	cJSON_ArrayForEach(c, psi)
		fprintf(f, " %s %.1f%% (period %.1f%%)", c->string, num(c, "some_avg10"),
			num(c, "some_period_pct"));
	fprintf(f, "\nqueued:");
	cJSON_ArrayForEach(c, q)
		fprintf(f, " %s %.0f", c->string, c->valuedouble);
	fprintf(f, "\n\n%6s %-16s %-8s %-9s %6s %8s %8s %16s %7s %6s\n", "ID", "NAME",
		"PRIO", "STATE", "CPU%", "RQ p50", "RQ p99", "PSI cpu/mem/io", "MEM",
		"BREACH");
	cJSON_ArrayForEach(c, cgs) {
		const cJSON *ps = cJSON_GetObjectItemCaseSensitive(c, "psi_some_avg10");
		const cJSON *crq = cJSON_GetObjectItemCaseSensitive(c, "runqueue");
		char p3[32];

		if (cJSON_IsObject(ps))
			snprintf(p3, sizeof(p3), "%.1f/%.1f/%.1f", num(ps, "cpu"),
				 num(ps, "memory"), num(ps, "io"));
		else
			snprintf(p3, sizeof(p3), "-");
		fprintf(f, "%6.0f %-16.16s %-8s %-9s %6.1f %8s %8s %16s %7s %6.0f\n",
			num(c, "id"), str(c, "name"), str(c, "priority"), str(c, "state"),
			num(c, "cpu_pct"), us(num(crq, "p50_us"), a, sizeof(a)),
			us(num(crq, "p99_us"), b, sizeof(b)), p3,
			bytes(cJSON_GetObjectItemCaseSensitive(c, "memory_current"), m, sizeof(m)),
			num(c, "breaches"));
	}
	n = cJSON_GetArraySize(evs);
	skip = n > 5 ? n - 5 : 0;
	if (n)
		fprintf(f, "\nrecent events:\n");
	cJSON_ArrayForEach(e, evs) {
		char *text;

		if (skip-- > 0)
			continue;
		now = (time_t)num(e, "at");
		localtime_r(&now, &tm);
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
		text = cJSON_PrintUnformatted(e);
		fprintf(f, "  %s %-22s %.100s\n", when, str(e, "type"), text ? text : "");
		free(text);
	}
	fflush(f);
}

int top_run(struct top_opts *o)
{
	struct pollfd in = { .fd = STDIN_FILENO, .events = POLLIN };
	bool interactive = isatty(STDOUT_FILENO);
	int rc, frames = 0;
	cJSON *top;
	char key;

	if (o->json) {
		top = o->fetch(o->ctx, &rc);
		if (!top)
			return rc;
		o->print_json(top);
		cJSON_Delete(top);
		return 0;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (interactive)
		tty_keys();
	while (!stop) {
		int wait_ms;

		top = o->fetch(o->ctx, &rc);
		if (!top)
			return rc;
		render(stdout, top, interactive);
		wait_ms = o->delay_ms ? o->delay_ms : (int)num(top, "period_ms");
		cJSON_Delete(top);
		if (o->iterations && ++frames >= o->iterations)
			break;
		if (!interactive || !tty_raw) {
			poll(NULL, 0, wait_ms > 0 ? wait_ms : 1000);
			continue;
		}
		if (poll(&in, 1, wait_ms > 0 ? wait_ms : 1000) > 0 &&
		    read(STDIN_FILENO, &key, 1) == 1 && (key == 'q' || key == 'Q'))
			break;
	}
	tty_restore();
	return 0;
}
