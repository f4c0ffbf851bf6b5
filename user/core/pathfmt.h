/* SPDX-License-Identifier: MIT */
/* Building paths without silent truncation. */
#ifndef HTM_CORE_PATHFMT_H
#define HTM_CORE_PATHFMT_H

#include <stdbool.h>
#include <stddef.h>

/* Configured roots (state dir, cgroup root) are at most this long, so
 * every path htmd derives from them fits in PATH_MAX. */
#define HTM_ROOT_MAX 3072

/* snprintf that returns 0, or -ENAMETOOLONG (buf then holds "") . */
int htm_pathf(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* For messages: a cut-short message is still a message (returns whether
 * it was cut). */
bool htm_textf(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
