/* SPDX-License-Identifier: MIT */
/*
 * The engine: htmd's decisions, whatever the machine. This is the
 * composition root: it makes the shared ground (engine/ctx.h) and the
 * subsystems, subscribes them to the bus in an order that is part of the
 * design, hooks itself to the world, and runs each loop turn: timers, the
 * bus and the rules until both are quiet, admission, then one journal
 * commit. htmd runs it on the Linux world (user/sys), `htmctl simulate`
 * on a simulated one (user/sim).
 */
#ifndef HTM_ENGINE_ENGINE_H
#define HTM_ENGINE_ENGINE_H

#include <stdbool.h>

#include "core/config.h"
#include "world.h"

/* What the command line says; it wins over the file, on start and reload. */
struct htm_overrides {
	const char *socket, *state_dir, *cgroup_root;
	bool observe, verbose;
	bool accept_broken_journal;
};

void htm_config_override(struct htm_config *cfg, const struct htm_overrides *o);

struct htm_engine;

int htm_engine_new(struct htm_engine **out, struct htm_world *w,
		   const struct htm_config *cfg, const char *config_path,
		   const struct htm_overrides *o);
/* Journal replayed, socket listening, tree laid out, sampler loaded,
 * leftovers reconciled, tasks recovered: ready. */
int htm_engine_start(struct htm_engine *e);
/* The world's loop ended (code < 0: it failed): running tasks are killed
 * and waited for, every throttle is undone, the last records and replies
 * go out. */
void htm_engine_stop(struct htm_engine *e, int code);
/* Without stop: what a crash leaves (a simulation's "htmd killed"). */
void htm_engine_free(struct htm_engine *e);

#endif
