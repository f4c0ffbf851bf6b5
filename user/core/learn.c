// SPDX-License-Identifier: MIT
#include <errno.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>

#include "learn.h"

static int outcome_cmp(const void *a, const void *b)
{
	return strcmp(((const struct htm_type_outcome *)a)->type,
		      ((const struct htm_type_outcome *)b)->type);
}

void htm_outcomes_init(struct htm_outcomes *o)
{
	o->by_type = NULL;
}

static void outcome_free(void *p)
{
	struct htm_type_outcome *x = p;

	free(x->type);
	free(x);
}

void htm_outcomes_free(struct htm_outcomes *o)
{
	tdestroy(o->by_type, outcome_free);
	o->by_type = NULL;
}

int htm_outcomes_record(struct htm_outcomes *o, const char *type, bool success)
{
	struct htm_type_outcome key = { .type = (char *)type }, *x;
	void **node = tfind(&key, &o->by_type, outcome_cmp);

	if (node) {
		x = *node;
	} else {
		x = calloc(1, sizeof(*x));
		if (!x || !(x->type = strdup(type))) {
			free(x);
			return -ENOMEM;
		}
		if (!tsearch(x, &o->by_type, outcome_cmp)) {
			outcome_free(x);
			return -ENOMEM;
		}
	}
	if (success)
		x->succeeded++;
	else
		x->failed++;
	return 0;
}

void htm_outcomes_get(const struct htm_outcomes *o, const char *type,
		      uint64_t *succeeded, uint64_t *failed)
{
	struct htm_type_outcome key = { .type = (char *)type };
	void *const *node = type ? tfind(&key, &o->by_type, outcome_cmp) : NULL;
	const struct htm_type_outcome *x = node ? *node : NULL;

	*succeeded = x ? x->succeeded : 0;
	*failed = x ? x->failed : 0;
}
