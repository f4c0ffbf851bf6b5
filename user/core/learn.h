/* SPDX-License-Identifier: MIT */
/*
 * What htmd learned from outcomes: how often each task type succeeded.
 * Approval recommendations read it; replay rebuilds it from the journal.
 * (The recommendation loop with Thompson sampling over workflows builds on
 * these counts.)
 */
#ifndef HTM_CORE_LEARN_H
#define HTM_CORE_LEARN_H

#include <stdbool.h>
#include <stdint.h>

struct htm_outcomes {
	void *by_type;			/* tsearch of struct htm_type_outcome */
};

struct htm_type_outcome {
	char *type;
	uint64_t succeeded, failed;
};

void htm_outcomes_init(struct htm_outcomes *o);
void htm_outcomes_free(struct htm_outcomes *o);
int htm_outcomes_record(struct htm_outcomes *o, const char *type, bool success);
/* Counts for a type (zeros if never seen). */
void htm_outcomes_get(const struct htm_outcomes *o, const char *type,
		      uint64_t *succeeded, uint64_t *failed);

#endif
