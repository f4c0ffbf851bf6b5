/* SPDX-License-Identifier: MIT */
/*
 * One logging function with syslog levels. Under systemd (JOURNAL_STREAM
 * set) lines carry <N> prefixes so journald keeps the level; otherwise
 * "htmd: level: message" on stderr. libbpf's output is routed here too.
 */
#ifndef HTM_SYS_LOG_H
#define HTM_SYS_LOG_H

#include <stdarg.h>
#include <syslog.h>

void htm_log_set_level(int level);
int htm_log_get_level(void);
void htm_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void htm_logv(int level, const char *fmt, va_list ap);

/* Route libbpf's messages through htm_log (warnings stay warnings). */
void htm_log_route_libbpf(void);

#endif
