/* SPDX-License-Identifier: MIT */
/* Parsing PSI files (/proc/pressure/RESOURCE, CGROUP/RESOURCE.pressure) and /proc/meminfo. */
#ifndef HTM_CORE_PRESSURE_H
#define HTM_CORE_PRESSURE_H

#include <stdbool.h>
#include <stdint.h>

enum htm_resource {
	HTM_RES_CPU,
	HTM_RES_MEMORY,
	HTM_RES_IO,
	HTM_RES_COUNT,
};

extern const char *const htm_resource_names[];

struct htm_psi_line {
	double avg10, avg60, avg300;	/* percent */
	uint64_t total;			/* stalled microseconds, cumulative */
};

struct htm_psi {
	struct htm_psi_line some, full;
	bool has_full;			/* cpu has no full line before 5.13 */
};

/* "some avg10=... total=...\nfull ...": 0 or -EINVAL. */
int htm_psi_parse(const char *text, struct htm_psi *out);
/* Percent of wall time stalled between two readings interval_us apart. */
double htm_psi_stall_pct(uint64_t total_now, uint64_t total_before,
			 uint64_t interval_us);

struct htm_meminfo {
	uint64_t total_kb, available_kb;
};

int htm_meminfo_parse(const char *text, struct htm_meminfo *out);

#endif
