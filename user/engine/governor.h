/* SPDX-License-Identifier: MIT */
/*
 * The governor: turns the level in force (the stress level, or a budget
 * breach's step above it) into responses on the lower priority classes:
 * caps, then freezes, then egress limits going up, undone in reverse going
 * down; sheds long-queued low work and runs relief at critical. Critical
 * and high work is never capped or frozen. It decides; the ledger writes.
 * It measures its reaction: from the kernel's breach stamp, or from a PSI
 * trigger's wake-up, to the completed cgroup write.
 *
 * Handles: STRESS_CHANGED, KERNEL_EVENT (breaches of critical work).
 * Sends: CLASS_CAP, CLASS_FREEZE, CLASS_EGRESS, SHED, RELIEF.
 * Posts: PLAN_CHANGED.
 */
#ifndef HTM_ENGINE_GOVERNOR_H
#define HTM_ENGINE_GOVERNOR_H

#include "engine/ctx.h"

struct htm_governor_sub;

int governor_new(struct htm_governor_sub **out, struct htm_ctx *c);
void governor_free(struct htm_governor_sub *g);
cJSON *governor_json(struct htm_governor_sub *g);
cJSON *governor_reactions_json(struct htm_governor_sub *g);

#endif
