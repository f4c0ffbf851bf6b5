// SPDX-License-Identifier: MIT
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <bpf/libbpf.h>

#include "core/config.h"
#include "log.h"

static void stderr_sink(void *data, int level, const char *msg)
{
	bool journal = data != NULL;

	if (journal)
		fprintf(stderr, "<%d>%s\n", level, msg);
	else
		fprintf(stderr, "htmd: %s: %s\n", htm_log_level_names[level], msg);
}

void htm_log_use_stderr(void)
{
	/* any non-NULL data means journald reads our stderr */
	htm_log_set_sink(stderr_sink, getenv("JOURNAL_STREAM") ? (void *)1 : NULL);
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
