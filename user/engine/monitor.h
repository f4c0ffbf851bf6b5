/* SPDX-License-Identifier: MIT */
/*
 * The monitor. Once per sampling period it reads the sampler's counters,
 * the PSI and memory.current of every tracked cgroup, the machine's PSI and
 * meminfo; turns cumulative counters into per-period CPU shares and
 * run-queue percentiles; and keeps the stress level. Between periods the
 * sampler's kernel records and the PSI triggers arrive and are handled at
 * once; a trigger also runs a pass right away so the stress level does not
 * wait a period.
 *
 * Handles: CGROUP_READY (track), CGROUP_GONE (last reading, untrack).
 * Posts: STRESS_CHANGED, KERNEL_EVENT, PSI_TRIGGER. Sends: QUEUE_LEN.
 */
#ifndef HTM_ENGINE_MONITOR_H
#define HTM_ENGINE_MONITOR_H

#include "engine/ctx.h"

struct htm_monitor;

int monitor_new(struct htm_monitor **out, struct htm_ctx *c);
void monitor_free(struct htm_monitor *mon);
/* Open the sampler (BPF on Linux); false with why when it cannot run. */
bool monitor_open_sampler(struct htm_monitor *mon, char *why, size_t len);
int monitor_start(struct htm_monitor *mon);
void monitor_stop(struct htm_monitor *mon);
/* A sampler record from the world's hook. */
void monitor_kernel_event(struct htm_monitor *mon, const struct htm_event *e);
enum htm_stress_level monitor_stress(const struct htm_monitor *mon);

cJSON *monitor_top_json(struct htm_monitor *mon);
cJSON *monitor_status_json(struct htm_monitor *mon);
cJSON *monitor_usage_json(struct htm_monitor *mon, const struct htm_task *t);

#endif
