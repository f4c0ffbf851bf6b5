// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pressure.h"

const char *const htm_resource_names[] = { "cpu", "memory", "io", NULL };

static int parse_line(const char *line, const char *kind, struct htm_psi_line *l)
{
	char fmt[96];
	unsigned long long total;

	snprintf(fmt, sizeof(fmt), "%s avg10=%%lf avg60=%%lf avg300=%%lf total=%%llu",
		 kind);
	if (sscanf(line, fmt, &l->avg10, &l->avg60, &l->avg300, &total) != 4)
		return -EINVAL;
	l->total = total;
	return 0;
}

int htm_psi_parse(const char *text, struct htm_psi *out)
{
	const char *full;

	memset(out, 0, sizeof(*out));
	if (strncmp(text, "some ", 5) != 0 || parse_line(text, "some", &out->some) < 0)
		return -EINVAL;
	full = strstr(text, "\nfull ");
	if (full) {
		if (parse_line(full + 1, "full", &out->full) < 0)
			return -EINVAL;
		out->has_full = true;
	}
	return 0;
}

double htm_psi_stall_pct(uint64_t total_now, uint64_t total_before,
			 uint64_t interval_us)
{
	double pct;

	if (!interval_us || total_now < total_before)
		return 0;
	pct = 100.0 * (double)(total_now - total_before) / (double)interval_us;
	return pct > 100.0 ? 100.0 : pct;
}

int htm_meminfo_parse(const char *text, struct htm_meminfo *out)
{
	const char *p;
	unsigned long long v;

	memset(out, 0, sizeof(*out));
	p = strstr(text, "MemTotal:");
	if (!p || sscanf(p, "MemTotal: %llu kB", &v) != 1)
		return -EINVAL;
	out->total_kb = v;
	p = strstr(text, "MemAvailable:");
	if (!p || sscanf(p, "MemAvailable: %llu kB", &v) != 1)
		return -EINVAL;
	out->available_kb = v;
	return 0;
}
