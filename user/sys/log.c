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
	char msg[2048];
	size_t n;

	if (level > max_level)
		return;
	if (journal < 0)
		journal = getenv("JOURNAL_STREAM") != NULL;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	if (journal)
		fprintf(stderr, "<%d>%s\n", level, msg);
	else
		fprintf(stderr, "htmd: %s: %s\n", htm_log_level_names[level], msg);
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
