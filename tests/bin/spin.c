// SPDX-License-Identifier: MIT
/* spin SECONDS: burn one CPU for that long (wall clock), then exit 0. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double end;
	volatile unsigned long n = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: spin SECONDS\n");
		return 2;
	}
	end = now() + atof(argv[1]);
	while (now() < end)
		for (int i = 0; i < 100000; i++)
			n++;
	return 0;
}
