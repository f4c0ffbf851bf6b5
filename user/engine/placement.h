/* SPDX-License-Identifier: MIT */
/*
 * Placement: `htmctl place CGROUP -p PRIORITY` adopts a cgroup htmd did not
 * make (a systemd service's, say) as a governed, long-running task. Its
 * settings follow its priority and the stress responses, through the
 * ledger: `unplace` puts back what it had, so does stopping htmd (fail
 * open), and the originals are journaled so that a restart after a crash
 * can still put them back.
 *
 * Sends: KNOB_SET, KNOB_UNDO_CGROUP, KNOB_REMEMBER, CGROUP_READY, CGROUP_GONE.
 */
#ifndef HTM_ENGINE_PLACEMENT_H
#define HTM_ENGINE_PLACEMENT_H

#include "engine/ctx.h"

struct htm_placement;

int placement_new(struct htm_placement **out, struct htm_ctx *c);
void placement_free(struct htm_placement *p);
/* 0 with *out, or an error with *code (HTM_ERR_*) and a message. */
int placement_place(struct htm_placement *p, uint32_t uid, const char *path,
		    int prio, uint64_t budget, struct htm_task **out,
		    const char **code, char *err, size_t errlen);
int placement_unplace(struct htm_placement *p, uint32_t uid, const char *path,
		      struct htm_task **out, const char **code, char *err,
		      size_t errlen);
void placement_replay(struct htm_placement *p, uint16_t type, const cJSON *body);
/* After a restart: governed again, or -ENOENT when its cgroup is gone. */
int placement_recover(struct htm_placement *p, struct htm_task *t);
cJSON *placement_json(struct htm_placement *p);

#endif
