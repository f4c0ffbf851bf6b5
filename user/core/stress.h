/* SPDX-License-Identifier: MIT */
/*
 * The stress level: ok, elevated, high, critical. Each signal (PSI, budget
 * breaches, memory available, backlog) has three thresholds; the level is
 * the highest any signal reaches. Up at once; down one level at a time,
 * only after every signal has stayed below its exit threshold (the enter
 * threshold scaled by exit_ratio) for the cooldown. Pure: time is passed in.
 */
#ifndef HTM_CORE_STRESS_H
#define HTM_CORE_STRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum htm_stress_level {
	HTM_STRESS_OK,
	HTM_STRESS_ELEVATED,
	HTM_STRESS_HIGH,
	HTM_STRESS_CRITICAL,
	HTM_STRESS_COUNT,
};

enum htm_stress_signal {
	HTM_SIG_CPU_SOME,		/* % of time some task stalled on CPU */
	HTM_SIG_MEMORY_SOME,
	HTM_SIG_MEMORY_FULL,
	HTM_SIG_IO_SOME,
	HTM_SIG_BUDGET_BREACHES,	/* run-queue budget breaches per second */
	HTM_SIG_MEMORY_AVAILABLE,	/* % of RAM available: lower is worse */
	HTM_SIG_QUEUE_BACKLOG,		/* tasks waiting for a slot */
	HTM_SIG_COUNT,
};

extern const char *const htm_stress_names[];
extern const char *const htm_stress_signal_names[];

struct htm_stress_config {
	/* [signal][0..2]: thresholds of elevated, high, critical */
	double enter[HTM_SIG_COUNT][3];
	double exit_ratio;		/* 0 < r <= 1 */
	uint64_t cooldown_ns;
};

struct htm_stress {
	enum htm_stress_level level;
	uint64_t since_ns;		/* when this level began */
	uint64_t calm_since_ns;		/* below exit thresholds since; 0: not */
	char reasons[768];		/* why the level is what it is */
};

void htm_stress_config_defaults(struct htm_stress_config *c);
/* -EINVAL with a message if thresholds are not ordered. */
int htm_stress_config_check(const struct htm_stress_config *c, char *err,
			    size_t errlen);
void htm_stress_init(struct htm_stress *st, uint64_t now_ns);
/* Feed one reading of every signal; true when the level changed. */
bool htm_stress_update(struct htm_stress *st, const struct htm_stress_config *c,
		       const double value[HTM_SIG_COUNT], uint64_t now_ns);

#endif
