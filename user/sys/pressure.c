// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/pathfmt.h"
#include "pressure.h"

static int read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		r = -errno;
	buf[n < 0 ? 0 : n] = '\0';
	close(fd);
	return r;
}

int htm_psi_read(const char *cg, enum htm_resource res, struct htm_psi *out)
{
	char path[4096], buf[512];
	int r;

	if (cg)
		r = htm_pathf(path, sizeof(path), "%s/%s.pressure", cg,
			      htm_resource_names[res]);
	else
		r = htm_pathf(path, sizeof(path), "/proc/pressure/%s",
			      htm_resource_names[res]);
	if (r < 0)
		return r;
	r = read_small(path, buf, sizeof(buf));
	if (r < 0)
		return r;
	return htm_psi_parse(buf, out);
}

int htm_meminfo_read(struct htm_meminfo *out)
{
	char buf[8192];
	int r = read_small("/proc/meminfo", buf, sizeof(buf));

	return r < 0 ? r : htm_meminfo_parse(buf, out);
}

int htm_psi_trigger_open(enum htm_resource res, const char *spec)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/pressure/%s", htm_resource_names[res]);
	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* the kernel wants the terminating NUL */
	if (write(fd, spec, strlen(spec) + 1) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}
