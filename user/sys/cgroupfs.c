// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroupfs.h"
#include "core/pathfmt.h"


int htm_cgroup2_mount(char *buf, size_t len)
{
	char line[4096], *sep, mnt[PATH_MAX], fstype[64];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		/* id parent maj:min root mount-point opts [optional...] - fstype src sopts */
		sep = strstr(line, " - ");
		if (!sep || sscanf(sep + 3, "%63s", fstype) != 1 ||
		    strcmp(fstype, "cgroup2") != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		if ((size_t)snprintf(buf, len, "%s", mnt) >= len) {
			r = -ENAMETOOLONG;
			break;
		}
		r = 0;
		break;
	}
	fclose(f);
	return r;
}

int htm_cgroup_of_pid(pid_t pid, const char *mount, char *buf, size_t len)
{
	char path[64], line[PATH_MAX];
	FILE *f;
	int r = -ENOENT;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/cgroup");
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		/* the unified line's path is "/" for the root */
		r = (size_t)snprintf(buf, len, "%s%s", mount,
				     strcmp(line + 3, "/") ? line + 3 : "") >= len
			    ? -ENAMETOOLONG : 0;
		break;
	}
	fclose(f);
	return r;
}

bool htm_cgroup_under(const char *path, const char *mount)
{
	char real[PATH_MAX], realmnt[PATH_MAX];
	size_t n;

	if (!realpath(path, real) || !realpath(mount, realmnt))
		return false;
	n = strlen(realmnt);
	return strncmp(real, realmnt, n) == 0 && (real[n] == '/' || real[n] == '\0');
}

int htm_cgroup_mkdir(const char *cg)
{
	if (mkdir(cg, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int htm_cgroup_rmdir(const char *cg)
{
	return rmdir(cg) < 0 ? -errno : 0;
}

static int rmdir_visit(const char *path, const struct stat *st, int type,
		       struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	/* cgroupfs files go with their directory; only directories are removed */
	if (type != FTW_DP)
		return 0;
	return rmdir(path) < 0 ? -errno : 0;
}

int htm_cgroup_rmdir_tree(const char *cg)
{
	int r = nftw(cg, rmdir_visit, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);

	if (r == -1)
		return -errno;
	return r;
}

static int cg_open(const char *cg, const char *file, int flags)
{
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", cg, file) >= sizeof(path))
		return -ENAMETOOLONG;
	return open(path, flags | O_CLOEXEC);
}

int htm_cgroup_write(const char *cg, const char *file, const char *value)
{
	size_t len = strlen(value);
	int fd = cg_open(cg, file, O_WRONLY), r = 0;
	ssize_t n;

	if (fd < 0)
		return fd == -ENAMETOOLONG ? fd : -errno;
	/* cgroupfs takes a knob in one write; a short write is a failure */
	n = write(fd, value, len);
	if (n < 0)
		r = -errno;
	else if ((size_t)n != len)
		r = -EIO;
	close(fd);
	return r;
}

int htm_cgroup_read(const char *cg, const char *file, char *buf, size_t len)
{
	int fd = cg_open(cg, file, O_RDONLY), r = 0;
	ssize_t n;

	if (fd < 0)
		return fd == -ENAMETOOLONG ? fd : -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		r = -errno;
		n = 0;
	}
	buf[n] = '\0';
	close(fd);
	return r;
}

bool htm_cgroup_has_file(const char *cg, const char *file)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	return access(path, F_OK) == 0;
}

int htm_cgroup_controllers(const char *cg, const char *file, unsigned *mask)
{
	char buf[512], *tok, *save = NULL;
	int r = htm_cgroup_read(cg, file, buf, sizeof(buf));

	if (r < 0)
		return r;
	*mask = 0;
	for (tok = strtok_r(buf, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save))
		for (int c = 0; c < HTM_CTRL_COUNT; c++)
			if (strcmp(tok, htm_controller_names[c]) == 0)
				*mask |= HTM_CTRL_BIT(c);
	return 0;
}

int htm_cgroup_enable(const char *cg, unsigned want, unsigned *enabled)
{
	unsigned have = 0;
	char op[32];
	int r;

	r = htm_cgroup_controllers(cg, "cgroup.controllers", &have);
	if (r < 0)
		return r;
	for (int c = 0; c < HTM_CTRL_COUNT; c++) {
		if (!(want & have & HTM_CTRL_BIT(c)))
			continue;
		snprintf(op, sizeof(op), "+%s", htm_controller_names[c]);
		/* a refusal (EBUSY with internal processes) shows up below */
		(void)htm_cgroup_write(cg, "cgroup.subtree_control", op);
	}
	return htm_cgroup_controllers(cg, "cgroup.subtree_control", enabled);
}

int htm_cgroup_move_procs(const char *from, const char *to)
{
	char path[PATH_MAX], pid[24];
	int fd, moved = 0, r = 0, n;
	FILE *f;

	if (htm_pathf(path, sizeof(path), "%s/cgroup.procs", from) < 0)
		return -ENAMETOOLONG;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	if (htm_pathf(path, sizeof(path), "%s/cgroup.procs", to) < 0) {
		fclose(f);
		return -ENAMETOOLONG;
	}
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		fclose(f);
		return r;
	}
	while (fscanf(f, "%23s", pid) == 1) {
		/* one pid per write: cgroupfs takes a process per write */
		n = (int)write(fd, pid, strlen(pid));
		if (n > 0)
			moved++;
		else if (errno != ESRCH)	/* it exited meanwhile: fine */
			r = -errno;
	}
	close(fd);
	fclose(f);
	return r < 0 ? r : moved;
}

int htm_cgroup_populated(const char *cg, bool *populated)
{
	char buf[256], *p;
	int r = htm_cgroup_read(cg, "cgroup.events", buf, sizeof(buf));

	if (r < 0)
		return r;
	p = strstr(buf, "populated ");
	if (!p)
		return -EIO;
	*populated = p[strlen("populated ")] == '1';
	return 0;
}

static int kill_listed(const char *cg)
{
	char path[PATH_MAX];
	int pid, killed = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fscanf(f, "%d", &pid) == 1)
		if (kill(pid, SIGKILL) == 0)
			killed++;
	fclose(f);
	return killed;
}

int htm_cgroup_kill(const char *cg)
{
	int r;

	r = htm_cgroup_write(cg, "cgroup.kill", "1");
	if (r != -ENOENT)
		return r;
	/* Before 5.14: freeze so nothing forks while we walk the list, then
	 * one pass suffices. SIGKILL reaches frozen tasks. */
	(void)htm_cgroup_write(cg, "cgroup.freeze", "1");
	r = kill_listed(cg);
	(void)htm_cgroup_write(cg, "cgroup.freeze", "0");
	return r < 0 ? r : 0;
}
