/* SPDX-License-Identifier: MIT */
/*
 * One logging function with syslog levels for every layer. Where the lines
 * go is the composition root's choice: htmd installs the stderr/journald
 * sink (sys/log.c), a simulation keeps them (or drops them) itself, unit
 * tests see nothing. With no sink installed a line costs one compare.
 */
#ifndef HTM_CORE_LOG_H
#define HTM_CORE_LOG_H

#include <stdarg.h>
#include <syslog.h>

typedef void (*htm_log_sink)(void *data, int level, const char *msg);

void htm_log_set_sink(htm_log_sink sink, void *data);
void htm_log_set_level(int level);
int htm_log_get_level(void);
void htm_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void htm_logv(int level, const char *fmt, va_list ap);

#endif
