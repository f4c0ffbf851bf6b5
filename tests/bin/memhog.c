// SPDX-License-Identifier: MIT
/*
 * memhog MB SECONDS: allocate MB of anonymous memory and keep touching
 * every page (a working set) for SECONDS; then print how many passes over
 * it completed and how long the slowest took (a reclaimed page makes a
 * pass slow).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t bytes, page = 4096, passes = 0;
	double end, worst = 0;
	char *p;

	if (argc != 3) {
		fprintf(stderr, "usage: memhog MB SECONDS\n");
		return 2;
	}
	bytes = (size_t)atol(argv[1]) << 20;
	end = now() + atof(argv[2]);
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	while (now() < end) {
		double t0 = now();

		for (size_t off = 0; off < bytes; off += page)
			p[off]++;
		if (now() - t0 > worst)
			worst = now() - t0;
		passes++;
	}
	printf("{\"mb\": %zu, \"passes\": %zu, \"slowest_pass_ms\": %.1f}\n",
	       bytes >> 20, passes, worst * 1e3);
	return 0;
}
