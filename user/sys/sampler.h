/* SPDX-License-Identifier: MIT */
/* Loading, attaching and reading bpf/sampler.bpf.c through its skeleton. */
#ifndef HTM_SYS_SAMPLER_H
#define HTM_SYS_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

struct htm_sampler;

struct htm_sampler_totals {
	uint64_t switches;
};

/* Open, load and attach. On failure a negative errno and, in why, what
 * failed (libbpf's detail went to the log at debug level). */
int htm_sampler_new(struct htm_sampler **out, char *why, size_t whylen);
void htm_sampler_free(struct htm_sampler *s);
int htm_sampler_totals(struct htm_sampler *s, struct htm_sampler_totals *t);
/* Names of the attached programs, NULL-terminated. */
const char *const *htm_sampler_programs(const struct htm_sampler *s);

#endif
