// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec.h"

static int identity_fill(const struct passwd *pw, struct htm_identity *who)
{
	int n = HTM_MAX_GROUPS;

	who->uid = pw->pw_uid;
	who->gid = pw->pw_gid;
	snprintf(who->name, sizeof(who->name), "%s", pw->pw_name);
	snprintf(who->home, sizeof(who->home), "%s", pw->pw_dir);
	snprintf(who->shell, sizeof(who->shell), "%s", pw->pw_shell);
	/* more than HTM_MAX_GROUPS: keep the first ones, like a truncated
	 * NGROUPS; getgrouplist reports -1 and fills what fits */
	if (getgrouplist(pw->pw_name, pw->pw_gid, who->groups, &n) < 0)
		n = HTM_MAX_GROUPS;
	who->ngroups = n;
	return 0;
}

int htm_identity_from_uid(uid_t uid, gid_t gid, struct htm_identity *who)
{
	struct passwd pwbuf, *pw = NULL;
	char buf[4096];

	memset(who, 0, sizeof(*who));
	if (getpwuid_r(uid, &pwbuf, buf, sizeof(buf), &pw) == 0 && pw) {
		identity_fill(pw, who);
		/* the peer's gid wins over the passwd default (newgrp, sg) */
		who->gid = gid;
		return 0;
	}
	who->uid = uid;
	who->gid = gid;
	snprintf(who->name, sizeof(who->name), "#%u", (unsigned)uid);
	snprintf(who->home, sizeof(who->home), "/");
	snprintf(who->shell, sizeof(who->shell), "/bin/sh");
	who->groups[0] = gid;
	who->ngroups = 1;
	return 0;
}

int htm_identity_from_name(const char *user, struct htm_identity *who)
{
	struct passwd pwbuf, *pw = NULL;
	char buf[4096], *end;
	unsigned long uid;

	memset(who, 0, sizeof(*who));
	if (getpwnam_r(user, &pwbuf, buf, sizeof(buf), &pw) == 0 && pw)
		return identity_fill(pw, who);
	errno = 0;
	uid = strtoul(user, &end, 10);
	if (errno || *end || end == user || uid > UINT32_MAX - 1)
		return -ENOENT;
	if (getpwuid_r((uid_t)uid, &pwbuf, buf, sizeof(buf), &pw) == 0 && pw)
		return identity_fill(pw, who);
	/* a bare uid without a passwd entry: its gid is its uid, as useradd */
	return htm_identity_from_uid((uid_t)uid, (gid_t)uid, who);
}

/*
 * Runs in the child between clone3 and exec: only system calls and
 * async-signal-safe functions, nothing that allocates.
 */
static __attribute__((noreturn)) void child_exec(const struct htm_spawn *s,
						 int devnull)
{
	const struct htm_identity *who = s->who;
	extern char **environ;
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* exec keeps SIG_IGN; the daemon ignores SIGPIPE */
	signal(SIGPIPE, SIG_DFL);
	/* own session: a terminal's ^C to htmd must not reach tasks */
	setsid();
	if (dup2(devnull, 0) < 0 || dup2(s->out_fd, 1) < 0 ||
	    dup2(s->out_fd, 2) < 0)
		_exit(126);
	close_range(3, ~0u, 0);
	/* raw syscalls: glibc's wrappers would broadcast to threads that
	 * this child does not have */
	if (syscall(SYS_setgroups, who->ngroups, who->groups) < 0 ||
	    syscall(SYS_setresgid, who->gid, who->gid, who->gid) < 0 ||
	    syscall(SYS_setresuid, who->uid, who->uid, who->uid) < 0) {
		dprintf(2, "htm: cannot switch to uid %u gid %u: %s\n",
			(unsigned)who->uid, (unsigned)who->gid, strerror(errno));
		_exit(126);
	}
	if (s->cwd && chdir(s->cwd) < 0) {
		dprintf(2, "htm: chdir %s: %s; running in /\n", s->cwd,
			strerror(errno));
		if (chdir("/") < 0)
			_exit(126);
	}
	/* execvp searches the PATH of environ, so switch environ first */
	environ = (char **)s->envp;
	execvp(s->argv[0], s->argv);
	dprintf(2, "htm: exec %s: %s\n", s->argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

int htm_spawn(const struct htm_spawn *s, pid_t *pid, int *pidfd)
{
	struct clone_args args = {
		.flags = CLONE_PIDFD | CLONE_INTO_CGROUP,
		.exit_signal = SIGCHLD,
		.cgroup = (uint64_t)s->cgroup_fd,
	};
	int fd = -1, devnull;
	long r;

	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0)
		return -errno;
	args.pidfd = (uint64_t)(uintptr_t)&fd;
	r = syscall(SYS_clone3, &args, sizeof(args));
	if (r == 0)
		child_exec(s, devnull);
	close(devnull);
	if (r < 0)
		return -errno;
	*pid = (pid_t)r;
	*pidfd = fd;
	return 0;
}

int htm_reap(int pidfd, int *exit_code, int *sig)
{
	siginfo_t info;

	memset(&info, 0, sizeof(info));
	if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &info, WEXITED | WNOHANG) < 0)
		return -errno;
	if (info.si_pid == 0)
		return -EAGAIN;
	*exit_code = -1;
	*sig = 0;
	if (info.si_code == CLD_EXITED)
		*exit_code = info.si_status;
	else
		*sig = info.si_status;
	return 0;
}
