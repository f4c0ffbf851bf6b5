/* SPDX-License-Identifier: MIT */
/* Human durations as operators type them: 200us, 500ms, 30s, 5m, 2h, 1d, 1h30m, 1.5s. */
#ifndef HTM_CORE_DURATION_H
#define HTM_CORE_DURATION_H

#include <stddef.h>
#include <stdint.h>

#define HTM_NSEC_PER_MSEC	1000000ull
#define HTM_NSEC_PER_SEC	1000000000ull

/* 0 or -EINVAL (empty, missing unit, unknown unit, junk) / -ERANGE. */
int htm_duration_parse(const char *s, uint64_t *ns);
/* Shortest form down to milliseconds ("1h30m", "2.5s", "0s"); under a
 * millisecond, whole microseconds ("200us"). */
char *htm_duration_format(uint64_t ns, char *buf, size_t len);

#endif
