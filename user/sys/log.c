// SPDX-License-Identifier: MIT
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "core/config.h"
#include "log.h"

static int max_level = LOG_INFO;

void htm_log_set_level(int level)
{
	max_level = level;
}

int htm_log_get_level(void)
{
	return max_level;
}

void htm_logv(int level, const char *fmt, va_list ap)
{
	static int journal = -1;
	char small[1024], *msg = small;
	va_list copy;
	size_t n;
	int len;

	if (level > max_level)
		return;
	if (journal < 0)
		journal = getenv("JOURNAL_STREAM") != NULL;
	/* most lines fit; a verifier log (one libbpf message) may be huge and
	 * its last lines are the ones that matter */
	va_copy(copy, ap);
	len = vsnprintf(small, sizeof(small), fmt, copy);
	va_end(copy);
	if (len >= (int)sizeof(small) && vasprintf(&msg, fmt, ap) < 0)
		msg = small;
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	if (journal)
		fprintf(stderr, "<%d>%s\n", level, msg);
	else
		fprintf(stderr, "htmd: %s: %s\n", htm_log_level_names[level], msg);
	if (msg != small)
		free(msg);
}

void htm_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	htm_logv(level, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	static const int to_syslog[] = {
		[LIBBPF_WARN] = LOG_WARNING,
		[LIBBPF_INFO] = LOG_INFO,
		[LIBBPF_DEBUG] = LOG_DEBUG,
	};

	/* libbpf's INFO is chatty (every map it creates): debug for us */
	htm_logv(level == LIBBPF_INFO ? LOG_DEBUG : to_syslog[level], fmt, ap);
	return 0;
}

void htm_log_route_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
