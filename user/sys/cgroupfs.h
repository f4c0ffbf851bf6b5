/* SPDX-License-Identifier: MIT */
/*
 * cgroup v2 filesystem access: discovery, controllers, knobs, kill, removal.
 * Paths are absolute. Every function returns 0 or a negative errno and
 * logs nothing: the caller decides whether a failure matters.
 */
#ifndef HTM_SYS_CGROUPFS_H
#define HTM_SYS_CGROUPFS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/cgroup.h"

/* The first cgroup2 mount in /proc/self/mountinfo. -ENOENT if none. */
int htm_cgroup2_mount(char *buf, size_t len);
/* Absolute path of the cgroup v2 cgroup of pid (0: self). */
int htm_cgroup_of_pid(pid_t pid, const char *mount, char *buf, size_t len);
/* True when path is mount itself or below it (after realpath). */
bool htm_cgroup_under(const char *path, const char *mount);

int htm_cgroup_mkdir(const char *cg);
int htm_cgroup_rmdir(const char *cg);
/* rmdir cg and every cgroup below it, deepest first (a task may make its
 * own sub-cgroups). Stops at the first failure. */
int htm_cgroup_rmdir_tree(const char *cg);
int htm_cgroup_write(const char *cg, const char *file, const char *value);
int htm_cgroup_read(const char *cg, const char *file, char *buf, size_t len);
bool htm_cgroup_has_file(const char *cg, const char *file);

/* Controllers listed in <cg>/<file> (cgroup.controllers or .subtree_control). */
int htm_cgroup_controllers(const char *cg, const char *file, unsigned *mask);
/*
 * Enable each controller of want in cg's subtree_control, one at a time so
 * one refusal does not hide the others; *enabled gets what is enabled after.
 */
int htm_cgroup_enable(const char *cg, unsigned want, unsigned *enabled);

/* Move every process listed in from/cgroup.procs into to; the number
 * moved, or -errno. Call again until it returns 0: a process may fork
 * while its siblings move. */
int htm_cgroup_move_procs(const char *from, const char *to);

/* "populated" of cgroup.events. */
int htm_cgroup_populated(const char *cg, bool *populated);
/* SIGKILL every process in cg: cgroup.kill (5.14+), else freeze, kill each
 * pid of cgroup.procs, thaw. */
int htm_cgroup_kill(const char *cg);

#endif
