/* SPDX-License-Identifier: MIT */
/*
 * htmd's configuration: built-in defaults, overlaid by an optional JSON file
 * that is checked strictly (unknown keys and wrong types are errors with
 * the JSON path). Parsing is pure: callers read the file.
 */
#ifndef HTM_CORE_CONFIG_H
#define HTM_CORE_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "approval.h"
#include "fairshare.h"
#include "governor.h"
#include "pathfmt.h"
#include "pressure.h"
#include "storm.h"
#include "stress.h"
#include "task.h"

struct htm_priority_config {
	uint32_t cpu_weight;		/* cpu.weight, 1..10000 */
	uint32_t io_weight;		/* io.weight default, 1..10000 */
	bool cpu_idle;			/* cpu.idle on the class cgroup */
	uint64_t rq_budget_ns;		/* run-queue wait budget, 0: none */
	/* memory.low / memory.high of the class: bytes ("512M") or a share of
	 * RAM ("25%"); empty: not written */
	char memory_low[24], memory_high[24];
};

struct htm_config {
	char socket[108];		/* sun_path */
	char state_dir[HTM_ROOT_MAX];
	char cgroup_root[HTM_ROOT_MAX];	/* empty: <cgroup2 mount>/htm.slice */
	uint32_t slots;			/* 0: one per online CPU */
	uint32_t history_limit;		/* tasks kept in memory, live ones always */
	int log_level;			/* syslog level */
	bool observe;
	struct htm_priority_config priority[HTM_PRIO_COUNT];

	uint64_t sample_period_ns;	/* 100ms..60s */
	char bpf_pin_dir[256];		/* empty: do not pin */
	bool delay_accounting;		/* kernel.task_delayacct on while running */
	int runqueue_clock;		/* enum htm_runqueue_clock */
	/* "some 150000 1000000"; empty: no trigger on that resource */
	char psi_trigger[HTM_RES_COUNT][64];
	struct htm_stress_config stress;
	uint64_t journal_segment_bytes;	/* seal a segment past this size */

	struct htm_approval_config approvals;
	struct htm_storm_config storm;
	char rules_dir[256];		/* "": built-in rules only */
	/* what the relief action runs, as root; empty: relief only logs */
	char relief_command[512];
	uint64_t relief_interval_ns;	/* at most one relief per interval */

	struct htm_governor_config governor;
	struct htm_fairshare_config fairshare;
};

/* "512M", "2G", "25%": bytes, or a share of total RAM. */
int htm_memory_size(const char *s, uint64_t total_bytes, uint64_t *out);

/* What starts a run-queue wait in the sampler: auto picks sched_info
 * where the kernel keeps it. */
enum htm_runqueue_clock {
	HTM_RQCLOCK_AUTO,
	HTM_RQCLOCK_SCHED_INFO,
	HTM_RQCLOCK_TASK_STORAGE,
};
extern const char *const htm_runqueue_clock_names[];
extern const char *const htm_log_level_names[];	/* indexed by syslog level */

void htm_config_defaults(struct htm_config *c);
/*
 * Overlay the JSON text onto *c. On error returns -EINVAL, writes
 * "<json path>: <reason>" (or "line L column C: ..." for bad JSON) to err,
 * and leaves *c untouched.
 */
int htm_config_parse(struct htm_config *c, const char *text, size_t len,
		     char *err, size_t errlen);

#endif
