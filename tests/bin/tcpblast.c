// SPDX-License-Identifier: MIT
/*
 * tcpblast -l PORT SECONDS [REPORT_MS]: accept one connection, read for
 * SECONDS, print the total received. With REPORT_MS, also print every
 * REPORT_MS one JSON line {"t": monotonic seconds, "total": bytes received
 * so far, "bytes_per_s": rate over that interval}, even while nothing
 * arrives: what reached the receiver is the honest measure of a sender's
 * rate (a sender's writes also count what merely went into its socket
 * buffer), and a script can take the rate between any two lines as
 * (total2 - total1) / (t2 - t1).
 * tcpblast HOST PORT SECONDS [REPORT_MS]: send as fast as TCP allows; every
 * REPORT_MS (1000) print the bytes sent in that interval, one JSON line
 * each, so a change of limit is seen as it happens.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int listen_on(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0) {
		perror("listen");
		exit(1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	static char buf[1 << 16];
	double end, tick, report = 1.0;
	long long total = 0, since = 0;
	ssize_t n;
	int fd;

	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "-l")) {
		int l = listen_on(atoi(argv[2]));
		double last;

		report = argc == 5 ? atof(argv[4]) / 1e3 : 0;
		fd = accept(l, NULL, NULL);
		if (fd < 0) {
			perror("accept");
			return 1;
		}
		end = now() + atof(argv[3]);
		last = now();
		tick = last + report;
		for (;;) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			double t = now(), wait = end - t;

			if (wait <= 0)
				break;
			if (report > 0 && tick - t < wait)
				wait = tick - t;
			/* wake for the report even when the sender is held back */
			if (poll(&p, 1, wait > 0 ? (int)(wait * 1e3) + 1 : 0) > 0) {
				n = read(fd, buf, sizeof(buf));
				if (n <= 0)
					break;
				total += n;
				since += n;
			}
			t = now();
			if (report > 0 && t >= tick) {
				printf("{\"t\": %.3f, \"total\": %lld, \"bytes_per_s\": %.0f}\n",
				       t, total, since / (t - last));
				fflush(stdout);
				since = 0;
				last = t;
				while (tick <= t)
					tick += report;
			}
		}
		printf("{\"received\": %lld}\n", total);
		return 0;
	}
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: tcpblast -l PORT SECONDS [REPORT_MS] | "
			"tcpblast HOST PORT SECONDS [REPORT_MS]\n");
		return 2;
	}
	if (argc == 5)
		report = atof(argv[4]) / 1e3;
	{
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[2])) };

		inet_pton(AF_INET, argv[1], &a.sin_addr);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		for (int i = 0; connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0; i++) {
			if (i == 50) {
				perror("connect");
				return 1;
			}
			usleep(100000);
		}
	}
	end = now() + atof(argv[3]);
	tick = now() + report;
	memset(buf, 'x', sizeof(buf));
	while (now() < end) {
		n = write(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		total += n;
		since += n;
		if (now() >= tick) {
			printf("{\"t\": %.2f, \"bytes_per_s\": %.0f}\n", now(), since / report);
			fflush(stdout);
			since = 0;
			tick += report;
		}
	}
	printf("{\"sent\": %lld}\n", total);
	return 0;
}
