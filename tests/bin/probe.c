// SPDX-License-Identifier: MIT
/*
 * probe [-i INTERVAL_MS] [-c CPU_MS] [-w N] SECONDS: a request-serving
 * process. A request arrives every INTERVAL_MS (20) and takes CPU_MS (12)
 * of CPU time to serve, one after the other; its response time is
 * completion minus arrival, so queueing behind a late request counts.
 * Prints one JSON line: the percentiles of the response times in
 * milliseconds, and where the time went.
 *
 * Where the time went, from the kernel's own accounting of this thread
 * (/proc/thread-self/schedstat: time runnable but not running):
 *   rq_wait_ms   time spent waiting on the run queue: what a scheduler
 *                and a governor decide
 *   stalls, stall_ms, stall_max_ms
 *                wakeups that came more than 1 ms after the request arrived
 *                without the thread having waited on the run queue for it:
 *                the timer fired late. On hardware that does not happen; in
 *                a virtual machine it is the host not running the vCPU.
 *                A test can tell a noisy host from a scheduling problem
 *                with it.
 * With -w N, the N worst requests too, with when they arrived: seconds into
 * the run, CLOCK_MONOTONIC (as ftrace's "mono" clock shows it) and
 * CLOCK_REALTIME (to set beside a daemon's event timestamps).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct req {
	double arrival;		/* ms, CLOCK_MONOTONIC */
	double resp;		/* ms */
	double start;		/* service began, ms after arrival */
	double rq;		/* ms waited on the run queue for this request */
	double stall;		/* ms the wakeup came late, not explained by rq */
};

static double ms(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* run-queue wait of this thread so far, ms; < 0 when not available */
static double run_delay(int fd)
{
	unsigned long long exec, delay;
	char buf[128];
	ssize_t n;

	if (fd < 0 || (n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "%llu %llu", &exec, &delay) != 2)
		return -1;
	return (double)delay / 1e6;
}

static int by_resp(const void *a, const void *b)
{
	double x = ((const struct req *)a)->resp, y = ((const struct req *)b)->resp;

	return (x > y) - (x < y);
}

/* the nearest-rank percentile of n sorted responses */
static double pct(const struct req *r, size_t n, double q)
{
	size_t i = (size_t)(q * (double)n + 0.999999);

	return r[i ? i - 1 : 0].resp;
}

int main(int argc, char **argv)
{
	double interval = 20, cpu = 12, seconds, start, real0, sum = 0;
	double rq_total = 0, stall_total = 0, stall_max = 0;
	volatile unsigned long spin = 0;
	size_t n, late = 0, stalls = 0, worst = 0;
	struct rusage ru;
	struct req *r;
	int o, sfd;

	while ((o = getopt(argc, argv, "i:c:w:")) != -1) {
		if (o == 'i')
			interval = atof(optarg);
		else if (o == 'c')
			cpu = atof(optarg);
		else if (o == 'w')
			worst = (size_t)atoi(optarg);
		else
			return 2;
	}
	if (optind != argc - 1 || (seconds = atof(argv[optind])) <= 0 ||
	    interval <= 0 || cpu < 0) {
		fprintf(stderr, "usage: probe [-i INTERVAL_MS] [-c CPU_MS] [-w N] SECONDS\n");
		return 2;
	}
	n = (size_t)(seconds * 1e3 / interval);
	if (!n || !(r = calloc(n, sizeof(*r))))
		return 1;
	sfd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
	if (run_delay(sfd) < 0 && sfd >= 0) {
		close(sfd);
		sfd = -1;
	}
	start = ms(CLOCK_MONOTONIC);
	real0 = ms(CLOCK_REALTIME);
	for (size_t k = 0; k < n; k++) {
		struct req *q = &r[k];
		double t0, w0, rd0, rd1, now;
		struct timespec at;

		q->arrival = start + (double)(k + 1) * interval;
		at.tv_sec = (time_t)(q->arrival / 1e3);
		at.tv_nsec = (long)((q->arrival - (double)at.tv_sec * 1e3) * 1e6);
		rd0 = run_delay(sfd);
		now = ms(CLOCK_MONOTONIC);
		/* wait for the request unless it is here already (we are late) */
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
		w0 = ms(CLOCK_MONOTONIC);
		rd1 = run_delay(sfd);
		if (sfd >= 0 && now < q->arrival) {
			/* slept: whatever of the delay was not run-queue wait was
			 * the timer's wakeup coming late */
			q->stall = (w0 - q->arrival) - (rd1 - rd0);
			if (q->stall > 1) {
				stalls++;
				stall_total += q->stall;
				if (q->stall > stall_max)
					stall_max = q->stall;
			} else {
				q->stall = 0;
			}
		}
		t0 = ms(CLOCK_THREAD_CPUTIME_ID);
		while (ms(CLOCK_THREAD_CPUTIME_ID) - t0 < cpu)
			for (int i = 0; i < 2000; i++)
				spin++;
		now = ms(CLOCK_MONOTONIC);
		q->resp = now - q->arrival;
		q->start = w0 - q->arrival;
		if (sfd >= 0)
			q->rq = run_delay(sfd) - rd0;
		rq_total += q->rq;
		sum += q->resp;
		if (q->resp > interval)
			late++;
	}
	getrusage(RUSAGE_THREAD, &ru);
	qsort(r, n, sizeof(*r), by_resp);
	printf("{\"requests\": %zu, \"late\": %zu, \"mean_ms\": %.2f, \"p50_ms\": %.2f, "
	       "\"p90_ms\": %.2f, \"p99_ms\": %.2f, \"max_ms\": %.2f, ", n, late,
	       sum / (double)n, pct(r, n, 0.50), pct(r, n, 0.90), pct(r, n, 0.99),
	       r[n - 1].resp);
	if (sfd >= 0)
		printf("\"rq_wait_ms\": %.1f, \"stalls\": %zu, \"stall_ms\": %.1f, "
		       "\"stall_max_ms\": %.2f, ", rq_total, stalls, stall_total, stall_max);
	else
		printf("\"rq_wait_ms\": null, \"stalls\": null, \"stall_ms\": null, "
		       "\"stall_max_ms\": null, ");
	printf("\"nivcsw\": %ld", ru.ru_nivcsw);
	if (worst) {
		printf(", \"worst\": [");
		for (size_t i = 0; i < worst && i < n; i++) {
			const struct req *w = &r[n - 1 - i];

			printf("%s{\"t_s\": %.3f, \"mono\": %.3f, \"at\": %.3f, \"ms\": %.2f, "
			       "\"start_ms\": %.2f, \"rq_ms\": %.2f, \"stall_ms\": %.2f}",
			       i ? ", " : "", (w->arrival - start) / 1e3, w->arrival / 1e3,
			       (real0 + w->arrival - start) / 1e3, w->resp, w->start,
			       w->rq, w->stall);
		}
		printf("]");
	}
	printf("}\n");
	free(r);
	if (sfd >= 0)
		close(sfd);
	return 0;
}
