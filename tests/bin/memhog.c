// SPDX-License-Identifier: MIT
/*
 * memhog [-p PAUSE_MS] [-r REPORT_S] MB SECONDS: allocate MB of anonymous
 * memory and keep touching every page (a working set) for SECONDS, pausing
 * PAUSE_MS between passes (a service that touches its data now and then is
 * what reclaim takes first, a busy loop keeps every page hot). Every
 * REPORT_S seconds, and at the end, print one JSON line: passes so far, the
 * first pass (it faults every page in) and the slowest later one, and the
 * kernel's count of page faults (major: a page had to come back from swap). Lines are flushed, so a log file can be read while
 * it runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void report(const char *what, size_t bytes, double elapsed, size_t passes,
		   double first, double worst)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	printf("{\"memhog\": \"%s\", \"mb\": %zu, \"t\": %.1f, \"passes\": %zu, "
	       "\"first_pass_ms\": %.1f, \"slowest_pass_ms\": %.1f, "
	       "\"majflt\": %ld, \"minflt\": %ld}\n",
	       what, bytes >> 20, elapsed, passes, first * 1e3, worst * 1e3,
	       ru.ru_majflt, ru.ru_minflt);
	fflush(stdout);
}

static void usage(void)
{
	fprintf(stderr, "usage: memhog [-p PAUSE_MS] [-r REPORT_S] MB SECONDS\n");
	exit(2);
}

int main(int argc, char **argv)
{
	size_t bytes, page = (size_t)sysconf(_SC_PAGESIZE), passes = 0;
	double start, end, next_report, report_s = 0, pause_s = 0, first = 0, worst = 0;
	struct timespec pause;
	char *p;
	int c;

	while ((c = getopt(argc, argv, "p:r:")) != -1) {
		switch (c) {
		case 'p': pause_s = atof(optarg) / 1e3; break;
		case 'r': report_s = atof(optarg); break;
		default: usage();
		}
	}
	if (argc - optind != 2 || pause_s < 0 || report_s < 0)
		usage();
	bytes = (size_t)atol(argv[optind]) << 20;
	if (!bytes)
		usage();
	start = now();
	end = start + atof(argv[optind + 1]);
	next_report = report_s > 0 ? start + report_s : end + 1;
	pause.tv_sec = (time_t)pause_s;
	pause.tv_nsec = (long)((pause_s - (double)pause.tv_sec) * 1e9);
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	while (now() < end) {
		double t0 = now(), dt;

		for (size_t off = 0; off < bytes; off += page) {
			p[off]++;
			/* a thrashing pass can take longer than a report period */
			if ((off / page) % 256 == 255 && now() >= next_report) {
				report("progress", bytes, now() - start, passes, first, worst);
				next_report += report_s;
			}
		}
		dt = now() - t0;
		/* the first pass faults every page in: slow by nature */
		if (!passes)
			first = dt;
		else if (dt > worst)
			worst = dt;
		passes++;
		if (now() >= next_report) {
			report("progress", bytes, now() - start, passes, first, worst);
			next_report += report_s;
		}
		if (pause_s > 0)
			nanosleep(&pause, NULL);
	}
	report("done", bytes, now() - start, passes, first, worst);
	return 0;
}
