/* SPDX-License-Identifier: MIT */
/*
 * The engine's shared ground: what every subsystem is handed when it is
 * made. The world (all contact with the machine), the bus (all contact with
 * other subsystems), the timers, the configuration in force, the task
 * records, where things are on this machine, and the two services every
 * decision needs: journal records (record.c) and the task lifecycle
 * (tasks.c), whose terminal path is the only way a task ends.
 *
 * A subsystem includes core/, world.h, engine/bus.h, this header and its
 * own header; never another subsystem's (`make check-layers`).
 */
#ifndef HTM_ENGINE_CTX_H
#define HTM_ENGINE_CTX_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "core/config.h"
#include "core/record.h"
#include "core/task_table.h"
#include "core/timerq.h"
#include "engine/bus.h"
#include "world.h"

struct htm_ctx {
	struct htm_world *w;
	struct htm_bus *bus;
	struct htm_timerq timers;
	struct htm_config cfg;		/* replaced whole by a reload */
	char config_path[PATH_MAX];	/* "" on built-in defaults */
	struct htm_task_table tasks;

	/* where things are; set while starting, fixed after */
	char cg_mount[HTM_ROOT_MAX];
	char cg_root[HTM_ROOT_MAX];
	char logs_dir[HTM_ROOT_MAX + 8];
	char journal_dir[HTM_ROOT_MAX + 16];
	uint64_t start_mono, start_real;
	bool shutting_down;
};

static inline uint64_t htm_mono(const struct htm_ctx *c)
{
	return c->w->ops->now_mono(c->w);
}

static inline uint64_t htm_real(const struct htm_ctx *c)
{
	return c->w->ops->now_real(c->w);
}

static inline int htm_arm(struct htm_ctx *c, struct htm_timer *t, uint64_t at)
{
	return htm_timer_arm(&c->timers, t, at);
}

static inline void htm_disarm(struct htm_ctx *c, struct htm_timer *t)
{
	htm_timer_disarm(&c->timers, t);
}

#define htm_container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* <root>/<priority> */
void htm_class_path(const struct htm_ctx *c, enum htm_priority p, char *buf,
		    size_t len);
/* <logs>/<id>.log */
void htm_log_path(const struct htm_ctx *c, uint64_t id, char *buf, size_t len);
/* Bytes of a memory setting ("512M", "25%" of this machine's RAM);
 * -ENOENT for "" (not set), -EINVAL if unreadable. */
int htm_memory_value(struct htm_ctx *c, const char *setting, char *buf,
		     size_t len);

/* --- record.c: the journal's who / what / when / where / why / how --- */

struct htm_who htm_who(uint32_t uid, const char *actor);
/* Append a record; body (consumed, may be NULL) gets the six fields.
 * who NULL: htmd itself. */
int record_write(struct htm_ctx *c, enum htm_rec_type type,
		 const struct htm_who *who, const char *why, const char *how,
		 cJSON *body);
int record_task_submit(struct htm_ctx *c, const struct htm_task *t,
		       const struct htm_who *who, const char *why);
/* The who object of a record body (for an event or a reply). */
cJSON *record_who_json(struct htm_ctx *c, const struct htm_who *who);

/* --- tasks.c: the task lifecycle --- */

/* A new task with the next id, in the table; NULL on ENOMEM. */
struct htm_task *tasks_create(struct htm_ctx *c);
/* Out of the table and freed: a submission that did not happen. */
void tasks_drop(struct htm_ctx *c, struct htm_task *t);
/* A move to a live state, journaled (who NULL: htmd). */
int tasks_move(struct htm_ctx *c, struct htm_task *t, enum htm_state to,
	       const char *reason, const struct htm_who *who);
/* The one terminal path: moved, journaled, and TASK_FINISHED posted, to
 * which everything that held the task answers (slots, deadlines, waiters,
 * learning, rules). */
int tasks_finish(struct htm_ctx *c, struct htm_task *t, enum htm_state to,
		 const char *reason, const struct htm_who *who);
/* Replay of the task records; 0, or -EINVAL for a record it skipped. */
int tasks_replay(struct htm_ctx *c, uint16_t type, const cJSON *body);
/* The usage record of a task, made on first use (NULL on ENOMEM). */
struct htm_task_usage *tasks_usage(struct htm_task *t);

#endif
