/* SPDX-License-Identifier: MIT */
/*
 * Approval gates. A task type (its name) maps to an autonomy tier:
 *   0 a human approves first   1 runs, listed for review
 *   2 autonomous               3 N distinct approvers (quorum)
 *   4 emergency override: runs at once, with a loud audit record
 * High or critical risk, or requires_approval, forces tier 0. Outside every
 * change window, medium and higher risk needs tier 0 and an approval with
 * --override. Pure: the caller passes the local time.
 */
#ifndef HTM_CORE_APPROVAL_H
#define HTM_CORE_APPROVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "task.h"

enum htm_tier {
	HTM_TIER_APPROVE,
	HTM_TIER_REVIEW,
	HTM_TIER_AUTONOMOUS,
	HTM_TIER_QUORUM,
	HTM_TIER_EMERGENCY,
	HTM_TIER_COUNT,
};

extern const char *const htm_tier_names[];

#define HTM_MAX_TIER_TYPES	64
#define HTM_MAX_WINDOWS		16

struct htm_change_window {
	uint8_t days;			/* bit 0 Sunday ... bit 6 Saturday */
	uint16_t from_min, to_min;	/* minutes of the day; to <= from wraps */
};

struct htm_tier_type {
	char type[64];
	uint8_t tier;
};

struct htm_approval_config {
	uint32_t default_tier;		/* decoded as HTM_F_U32 */
	struct htm_tier_type types[HTM_MAX_TIER_TYPES];
	size_t ntypes;
	uint32_t quorum;		/* approvers for tier 3 */
	uint64_t expire_ns;		/* pending items are denied after this */
	uint64_t dedupe_ns;		/* same name+argv+target refused within */
	struct htm_change_window windows[HTM_MAX_WINDOWS];
	size_t nwindows;		/* 0: always inside a window */
	char admin_group[64];		/* name or gid; "" only root approves */
};

struct htm_gate {
	enum htm_tier tier;
	uint8_t needed;			/* approvals to collect before it runs */
	bool needs_override;
	char why[160];
};

void htm_approval_config_defaults(struct htm_approval_config *c);
/* Config decoders for "tiers" and "change_windows" (HTM_F_CUSTOM). */
int htm_tiers_decode(const cJSON *v, void *dst, const char *path, char *err,
		     size_t errlen);
int htm_windows_decode(const cJSON *v, void *dst, const char *path, char *err,
		       size_t errlen);

/* wday 0 = Sunday, minute = minutes since local midnight */
bool htm_in_change_window(const struct htm_approval_config *c, int wday,
			  int minute);
void htm_gate_resolve(const struct htm_approval_config *c, const struct htm_task *t,
		      bool in_window, struct htm_gate *g);

/* "<name>\x1f<argv...>\x1f<target>": tasks with equal keys are duplicates */
char *htm_dedupe_key(const struct htm_task *t);

struct htm_recommendation {
	const char *verdict;		/* "approve", "review", "deny" */
	char reasons[512];
};

/* From what the item is and how the same task type went before. */
void htm_recommend(const struct htm_task *t, uint64_t succeeded, uint64_t failed,
		   bool in_window, struct htm_recommendation *out);

#endif
