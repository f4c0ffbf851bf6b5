// SPDX-License-Identifier: MIT
/* htm_pathf: snprintf that refuses to truncate. */
#include <errno.h>
#include <limits.h>

#include "core/pathfmt.h"

#include "check.h"

int main(void)
{
	char buf[16];

	CHECK_EQ_INT(htm_pathf(buf, sizeof(buf), "%s/task-%d", "/sys/x", 42), 0);
	CHECK_EQ_STR(buf, "/sys/x/task-42");

	/* exactly full: 15 characters and the NUL */
	CHECK_EQ_INT(htm_pathf(buf, sizeof(buf), "%s", "/aaaaaaaaaaaaaa"), 0);
	CHECK_EQ_STR(buf, "/aaaaaaaaaaaaaa");

	/* one more: refused, and the buffer holds "" rather than a prefix */
	CHECK_EQ_INT(htm_pathf(buf, sizeof(buf), "%s", "/aaaaaaaaaaaaaab"), -ENAMETOOLONG);
	CHECK_EQ_STR(buf, "");
	CHECK_EQ_INT(htm_pathf(buf, sizeof(buf), "%s/%s", "/var/lib/htm", "journal"),
		     -ENAMETOOLONG);
	CHECK_EQ_STR(buf, "");

	/* a zero-length buffer is not written */
	buf[0] = 'Z';
	CHECK_EQ_INT(htm_pathf(buf, 0, "x"), -ENAMETOOLONG);
	CHECK_EQ_INT(buf[0], 'Z');

	/* an empty result fits in one byte */
	CHECK_EQ_INT(htm_pathf(buf, 1, "%s", ""), 0);
	CHECK_EQ_STR(buf, "");

	/* the promise in the header: a root of HTM_ROOT_MAX - 1 bytes leaves
	 * room in PATH_MAX for what htmd appends */
	{
		static char root[HTM_ROOT_MAX], path[PATH_MAX];

		memset(root, 'r', sizeof(root) - 1);
		root[0] = '/';
		CHECK_EQ_INT(htm_pathf(path, sizeof(path), "%s/critical/task-%llu/cgroup.procs",
				       root, 18446744073709551615ull), 0);
		CHECK_EQ_INT(strlen(path), HTM_ROOT_MAX - 1 +
			     strlen("/critical/task-18446744073709551615/cgroup.procs"));
	}
	return check_report();
}
