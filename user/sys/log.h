/* SPDX-License-Identifier: MIT */
/*
 * Where htmd's log lines go (core/log.h is the one logging function).
 * Under systemd (JOURNAL_STREAM set) lines carry <N> prefixes so journald
 * keeps the level; otherwise "htmd: level: message" on stderr. libbpf's
 * output is routed there too.
 */
#ifndef HTM_SYS_LOG_H
#define HTM_SYS_LOG_H

#include "core/log.h"

void htm_log_use_stderr(void);
/* Route libbpf's messages through htm_log (warnings stay warnings). */
void htm_log_route_libbpf(void);

#endif
