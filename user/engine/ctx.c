// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>

#include "core/pathfmt.h"
#include "engine/ctx.h"

void htm_class_path(const struct htm_ctx *c, enum htm_priority p, char *buf,
		    size_t len)
{
	htm_pathf(buf, len, "%s/%s", c->cg_root, htm_priority_names[p]);
}

void htm_log_path(const struct htm_ctx *c, uint64_t id, char *buf, size_t len)
{
	htm_pathf(buf, len, "%s/%llu.log", c->logs_dir, (unsigned long long)id);
}

int htm_memory_value(struct htm_ctx *c, const char *setting, char *buf,
		     size_t len)
{
	struct htm_meminfo mi = { 0 };
	uint64_t bytes;

	if (!setting[0])
		return -ENOENT;
	(void)c->w->ops->meminfo(c->w, &mi);
	if (htm_memory_size(setting, mi.total_kb * 1024, &bytes) < 0)
		return -EINVAL;
	snprintf(buf, len, "%llu", (unsigned long long)bytes);
	return 0;
}
