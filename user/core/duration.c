// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "duration.h"

static const struct {
	const char *suffix;
	uint64_t ns;
} units[] = {
	/* "ms" before "m", "us" before "s": longest suffix first */
	{ "ms", HTM_NSEC_PER_MSEC },
	{ "us", 1000 },
	{ "s", HTM_NSEC_PER_SEC },
	{ "m", 60 * HTM_NSEC_PER_SEC },
	{ "h", 3600 * HTM_NSEC_PER_SEC },
	{ "d", 86400 * HTM_NSEC_PER_SEC },
};

static int add_checked(uint64_t *acc, uint64_t v)
{
	if (*acc > UINT64_MAX - v)
		return -ERANGE;
	*acc += v;
	return 0;
}

int htm_duration_parse(const char *s, uint64_t *ns)
{
	uint64_t total = 0;

	if (!s || !*s)
		return -EINVAL;
	while (*s) {
		uint64_t whole = 0, frac = 0, frac_div = 1, unit = 0;
		size_t i, ulen = 0;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		for (; *s >= '0' && *s <= '9'; s++) {
			if (whole > (UINT64_MAX - 9) / 10)
				return -ERANGE;
			whole = whole * 10 + (uint64_t)(*s - '0');
		}
		if (*s == '.') {
			s++;
			if (*s < '0' || *s > '9')
				return -EINVAL;
			/* nanoseconds need at most 9 fractional digits of a second */
			for (; *s >= '0' && *s <= '9'; s++) {
				if (frac_div < 1000000000ull) {
					frac = frac * 10 + (uint64_t)(*s - '0');
					frac_div *= 10;
				}
			}
		}
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			ulen = strlen(units[i].suffix);
			if (strncmp(s, units[i].suffix, ulen) == 0) {
				unit = units[i].ns;
				break;
			}
		}
		if (!unit)
			return -EINVAL;
		s += ulen;
		if (whole > UINT64_MAX / unit)
			return -ERANGE;
		if (add_checked(&total, whole * unit) ||
		    add_checked(&total, frac * (unit / frac_div) +
					(frac * (unit % frac_div)) / frac_div))
			return -ERANGE;
	}
	*ns = total;
	return 0;
}

char *htm_duration_format(uint64_t ns, char *buf, size_t len)
{
	uint64_t ms = ns / HTM_NSEC_PER_MSEC;
	uint64_t d = ms / 86400000, h = ms / 3600000 % 24, m = ms / 60000 % 60;
	uint64_t s = ms / 1000 % 60, rest = ms % 1000;
	size_t off = 0;

	buf[0] = '\0';
	if (ns < HTM_NSEC_PER_MSEC && ns >= 1000) {
		/* budgets live down here */
		snprintf(buf, len, "%lluus", (unsigned long long)(ns / 1000));
		return buf;
	}
	if (ms == 0) {
		snprintf(buf, len, "0s");
		return buf;
	}
	if (ms < 1000) {
		snprintf(buf, len, "%llums", (unsigned long long)ms);
		return buf;
	}
#define PART(v, fmt)                                                          \
	if ((v) && off < len)                                                 \
		off += (size_t)snprintf(buf + off, len - off, fmt,            \
					(unsigned long long)(v))
	PART(d, "%llud");
	PART(h, "%lluh");
	PART(m, "%llum");
#undef PART
	if (s || rest) {
		int digits = 3;

		/* shortest: 1.5s, not 1.500s */
		while (rest && rest % 10 == 0) {
			rest /= 10;
			digits--;
		}
		if (off < len && rest)
			snprintf(buf + off, len - off, "%llu.%0*llus",
				 (unsigned long long)s, digits,
				 (unsigned long long)rest);
		else if (off < len)
			snprintf(buf + off, len - off, "%llus", (unsigned long long)s);
	}
	return buf;
}
