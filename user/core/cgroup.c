// SPDX-License-Identifier: MIT
#include <string.h>

#include "cgroup.h"

const char *const htm_controller_names[] = {
	[HTM_CTRL_CPU] = "cpu", [HTM_CTRL_IO] = "io",
	[HTM_CTRL_MEMORY] = "memory", [HTM_CTRL_PIDS] = "pids", NULL,
};

bool htm_path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == '\0');
}

bool htm_path_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && path[n] == '/';
}
