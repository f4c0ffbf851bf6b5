/* SPDX-License-Identifier: MIT */
/* The cgroup v2 vocabulary the engine and every world share. Pure. */
#ifndef HTM_CORE_CGROUP_H
#define HTM_CORE_CGROUP_H

#include <stdbool.h>

enum htm_controller {
	HTM_CTRL_CPU,
	HTM_CTRL_IO,
	HTM_CTRL_MEMORY,
	HTM_CTRL_PIDS,
	HTM_CTRL_COUNT,
};

extern const char *const htm_controller_names[];
#define HTM_CTRL_BIT(c) (1u << (c))
#define HTM_CTRL_ALL ((1u << HTM_CTRL_COUNT) - 1)

/* True when path is dir itself or below it (plain strings, no lookup). */
bool htm_path_under(const char *path, const char *dir);
/* Strictly below dir. */
bool htm_path_below(const char *path, const char *dir);

#endif
