// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static int max_level = LOG_INFO;
static htm_log_sink sink;
static void *sink_data;

void htm_log_set_sink(htm_log_sink s, void *data)
{
	sink = s;
	sink_data = data;
}

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
	char small[1024], *msg = small;
	va_list copy;
	size_t n;
	int len;

	if (level > max_level || !sink)
		return;
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
	sink(sink_data, level, msg);
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
