/* SPDX-License-Identifier: MIT */
/* The ledger's own state, shared by ledger.c and ledger_tree.c. */
#ifndef HTM_ENGINE_LEDGER_IMPL_H
#define HTM_ENGINE_LEDGER_IMPL_H

#include <sys/queue.h>

#include "engine/ledger.h"

/* Controls htmd writes, and whether this host lets it. */
enum htm_control {
	HTM_CONTROL_CPU_WEIGHT,
	HTM_CONTROL_IO_WEIGHT,
	HTM_CONTROL_CPU_IDLE,
	HTM_CONTROL_COUNT,
};

extern const char *const ledger_control_files[];

/* A file changed for a decision, and what it held before. */
struct knob {
	LIST_ENTRY(knob) link;
	char *cgroup, *file;
	char original[128];
	char value[128];
	uint64_t until;			/* mono; 0: until undone */
	char *why;
};

struct htm_ledger {
	struct htm_ctx *c;
	unsigned controllers;		/* enabled for task cgroups */
	bool control[HTM_CONTROL_COUNT];
	LIST_HEAD(, knob) knobs;
	struct htm_timer knob_timer;
	/* the response each class has now (the governor's, as applied) */
	struct htm_class_plan cls[HTM_PRIO_COUNT];
	bool egress;			/* buckets loaded */
	char egress_error[128];
};

static inline struct htm_world *ledger_world(struct htm_ledger *l)
{
	return l->c->w;
}

static inline bool ledger_observe(const struct htm_ledger *l)
{
	return l->c->cfg.observe;
}

/* ledger_tree.c */
bool ledger_on_mount(struct htm_ledger *l, const char *cg);
void ledger_apply_priority(struct htm_ledger *l, const char *cg,
			   enum htm_priority p, bool is_class);

#endif
