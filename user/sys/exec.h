/* SPDX-License-Identifier: MIT */
/*
 * Starting a task: clone3(CLONE_INTO_CGROUP | CLONE_PIDFD) puts the child in
 * its cgroup before it runs a single instruction (no window in the daemon's
 * cgroup, no migration race), and hands back a pidfd the loop polls for
 * exit. The child drops to the submitter's identity and execs.
 */
#ifndef HTM_SYS_EXEC_H
#define HTM_SYS_EXEC_H

#include <limits.h>
#include <sys/types.h>

#define HTM_MAX_GROUPS 64

struct htm_identity {
	uid_t uid;
	gid_t gid;
	char name[64];
	char home[PATH_MAX];
	char shell[PATH_MAX];
	gid_t groups[HTM_MAX_GROUPS];
	int ngroups;
};

/* The passwd entry of uid with its supplementary groups; a uid without an
 * entry gets name "#uid", home "/", groups {gid}. */
int htm_identity_from_uid(uid_t uid, gid_t gid, struct htm_identity *who);
/* A user name or a numeric uid; -ENOENT if no such user. */
int htm_identity_from_name(const char *user, struct htm_identity *who);

struct htm_spawn {
	char *const *argv;
	char *const *envp;
	const char *cwd;		/* falls back to "/" if unusable */
	const struct htm_identity *who;
	int cgroup_fd;			/* O_DIRECTORY fd of the target cgroup */
	int out_fd;			/* stdout and stderr */
};

/* 0 with *pid and *pidfd set, or a negative errno (nothing started). */
int htm_spawn(const struct htm_spawn *s, pid_t *pid, int *pidfd);
/* Reap an exited child: *exit_code >= 0 if it exited, else *sig > 0.
 * -EAGAIN if it has not exited yet. */
int htm_reap(int pidfd, int *exit_code, int *sig);

#endif
