// SPDX-License-Identifier: MIT
/*
 * probe [-i INTERVAL_MS] [-c CPU_MS] SECONDS: a request-serving process.
 * A request arrives every INTERVAL_MS (20) and takes CPU_MS (12) of CPU
 * time to serve; its response time is completion minus arrival, so
 * queueing behind a late request counts. Prints one JSON line with the
 * percentiles of the response times, in milliseconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double ms(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	double interval = 20, cpu = 12, seconds, arrival, *resp;
	volatile unsigned long spin = 0;
	size_t n = 0, cap;
	int o;

	while ((o = getopt(argc, argv, "i:c:")) != -1) {
		if (o == 'i')
			interval = atof(optarg);
		else if (o == 'c')
			cpu = atof(optarg);
		else
			return 2;
	}
	if (optind != argc - 1 || (seconds = atof(argv[optind])) <= 0) {
		fprintf(stderr, "usage: probe [-i INTERVAL_MS] [-c CPU_MS] SECONDS\n");
		return 2;
	}
	cap = (size_t)(seconds * 1000 / interval) + 2;
	resp = calloc(cap, sizeof(double));
	if (!resp)
		return 1;
	arrival = ms(CLOCK_MONOTONIC) + interval;
	while (n < cap - 1 && arrival < ms(CLOCK_MONOTONIC) + 1e9) {
		struct timespec at = { (time_t)(arrival / 1e3),
				       (long)((arrival - (double)(time_t)(arrival / 1e3) * 1e3) * 1e6) };
		double start_cpu;

		/* the request arrives: wait for it unless we are late already */
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
		start_cpu = ms(CLOCK_THREAD_CPUTIME_ID);
		while (ms(CLOCK_THREAD_CPUTIME_ID) - start_cpu < cpu)
			for (int i = 0; i < 2000; i++)
				spin++;
		resp[n++] = ms(CLOCK_MONOTONIC) - arrival;
		arrival += interval;
		if (arrival > ms(CLOCK_MONOTONIC) + seconds * 1e3)
			break;
		if ((double)n * interval >= seconds * 1e3)
			break;
	}
	qsort(resp, n, sizeof(double), cmp);
	printf("{\"requests\": %zu, \"p50_ms\": %.2f, \"p90_ms\": %.2f, \"p99_ms\": %.2f, "
	       "\"max_ms\": %.2f}\n", n, resp[n / 2], resp[n * 9 / 10], resp[n * 99 / 100],
	       resp[n - 1]);
	free(resp);
	return 0;
}
