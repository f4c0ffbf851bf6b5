/* SPDX-License-Identifier: MIT */
/*
 * The ledger: the only writer of cgroup files. It lays out htmd's tree
 * (root, one cgroup per priority class, controllers), gives every class and
 * task cgroup its priority's settings, and keeps the record of every file a
 * decision changed (a rule's throttle or protect, the governor's caps and
 * freezes, a placement's settings) with the value it had before, so each
 * change can expire, be undone, and is undone when htmd stops (fail open).
 * Egress token buckets live here too: they are throttles. Observe-only is
 * decided here, once: the decision is journaled, nothing is written.
 *
 * Handles: CGROUP_PRIORITY, CGROUP_READY, CGROUP_GONE, KNOB_SET, KNOB_UNDO,
 * KNOB_UNDO_CGROUP, KNOB_REMEMBER, CLASS_CAP, CLASS_FREEZE, CLASS_EGRESS.
 */
#ifndef HTM_ENGINE_LEDGER_H
#define HTM_ENGINE_LEDGER_H

#include "engine/ctx.h"

struct htm_ledger;

int ledger_new(struct htm_ledger **out, struct htm_ctx *c);
void ledger_free(struct htm_ledger *l);
/* The tree: mount, root, classes, controllers, their settings; empty
 * leftovers of an earlier htmd swept (after the journal's replay). */
int ledger_start(struct htm_ledger *l);
/* After the sampler: egress buckets, and whatever a crashed htmd left on
 * the classes (caps, freezes) undone before anything is admitted. */
void ledger_recover(struct htm_ledger *l, bool bpf, const char *bpf_error);
/* The configuration changed: the classes take its settings. */
void ledger_reconfigure(struct htm_ledger *l);
/* Fail open: every changed file back, every egress limit lifted. */
void ledger_stop(struct htm_ledger *l, const char *why);

/* status: .cgroup, .egress, .changed_knobs */
cJSON *ledger_cgroup_json(struct htm_ledger *l);
cJSON *ledger_egress_status_json(struct htm_ledger *l);
cJSON *ledger_knobs_json(struct htm_ledger *l);
/* A task's egress bucket counters, null when unlimited. */
cJSON *ledger_egress_json(struct htm_ledger *l, const struct htm_task *t);

#endif
