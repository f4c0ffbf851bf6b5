#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The layers of user/ (README, "Design: the engine and its worlds"), checked
# from the #include lines of every source and header:
#
#   include/htm/   shared with BPF: nothing of user/
#   user/core/     pure logic: core/ only
#   user/world.h   the port: core/ only
#   engine ground  engine/{bus,ctx}.h and {bus,ctx,record,tasks}.c: core/,
#                  world.h, each other
#   a subsystem    engine/X.{c,h}, X_*.c, X_impl.h: the ground and its own
#                  headers, never another subsystem's
#   the root       engine/engine*.{c,h}, engine/commands.c: all of engine/
#   user/sys/      the Linux world: core/, world.h, sys/, BPF skeletons
#   user/sim/      the simulated world: core/, world.h, sim/, engine/engine.h
#   user/htmd.c    engine/engine.h, sys/, core/
#   tools/         core/, engine/engine.h, sim/, tools/
#
# and: no include cycle anywhere in user/ (tsort), no machine contact in
# engine/ but through the world (no libc file, process, clock or socket
# call), and only the ledger writes cgroup files. Exit 1 with every
# violation listed.
set -u
cd "$(dirname "$0")/.." || exit 2
bad=0
complain() { echo "check-layers: $*"; bad=1; }

ground_h="engine/bus.h engine/ctx.h"
is_ground() { case $1 in engine/bus.[ch]|engine/ctx.[ch]|engine/record.c|engine/tasks.c) return 0 ;; esac; return 1; }
is_root() { case $1 in engine/engine*.[ch]|engine/commands.c) return 0 ;; esac; return 1; }

# the project's own includes of a file, as paths below user/ (or htm/...)
includes() { # file(relative to repo) dir-of-file(below user/)
	grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$1" |
		sed -E 's/.*"([^"]+)".*/\1/' |
		while read -r inc; do
			# as the compiler looks: beside the file first, then -Iuser
			if [ -n "$2" ] && [ -f "user/$2/$inc" ]; then
				echo "$2/$inc"
			else
				echo "$inc"
			fi
		done
}

edges=$(mktemp)
trap 'rm -f "$edges"' EXIT

for f in $(find user tools include -name '*.[ch]' | sort); do
	rel=${f#user/}
	dir=$(dirname "$rel")
	case $f in user/*) ;; *) dir= ;; esac
	[ "$dir" = . ] && dir=
	for inc in $(includes "$f" "$dir"); do
		case $inc in *.skel.h) ;; *) echo "$rel $inc" >>"$edges" ;; esac
		ok=1
		case $f in
		include/htm/*) case $inc in htm/*) ;; *) ok=0 ;; esac ;;
		user/core/*) case $inc in core/* | htm/*) ;; *) ok=0 ;; esac ;;
		user/world.h) case $inc in core/* | htm/*) ;; *) ok=0 ;; esac ;;
		user/engine/*)
			case $inc in
			core/* | htm/* | world.h) ;;
			engine/bus.h | engine/ctx.h) ;;
			engine/*)
				if is_root "$rel"; then :
				elif is_ground "$rel"; then ok=0
				else
					# a subsystem: its own headers only
					sub=$(basename "$rel"); sub=${sub%.[ch]}; sub=${sub%%_*}
					case $inc in engine/"$sub".h | engine/"$sub"_impl.h) ;; *) ok=0 ;; esac
				fi ;;
			*) ok=0 ;;
			esac ;;
		user/sys/*) case $inc in core/* | htm/* | world.h | sys/* | *.skel.h) ;; *) ok=0 ;; esac ;;
		user/sim/*) case $inc in core/* | htm/* | world.h | sim/* | engine/engine.h) ;; *) ok=0 ;; esac ;;
		user/htmd.c) case $inc in core/* | htm/* | sys/* | engine/engine.h) ;; *) ok=0 ;; esac ;;
		tools/*) case $inc in core/* | htm/* | sim/* | engine/engine.h | world.h) ;;
			 *) [ -f "tools/$inc" ] || [ -f "tools/${inc#tools/}" ] || ok=0 ;; esac ;;
		esac
		[ $ok = 1 ] || complain "$f includes \"$inc\""
	done
done

# a cycle in the include graph: tsort names its members
if ! tsort "$edges" >/dev/null 2>/tmp/check-layers.$$; then
	complain "include cycle: $(grep -v 'input contains a loop' /tmp/check-layers.$$ | sed 's/^tsort: //' | tr '\n' ' ')"
fi
rm -f /tmp/check-layers.$$

# machine contact from the engine goes through the world
calls='(fopen|open|openat|opendir|readdir|stat|fstat|lstat|access|realpath|mkdir|rmdir|unlink|read|write|pread|pwrite|close|socket|connect|clock_gettime|gettimeofday|time|getpid|getuid|geteuid|usleep|sleep|nanosleep|poll|syscall|sysconf|uname|getpwnam_r|getpwuid_r|getgrnam_r|kill|fork|waitpid|waitid|signalfd|io_uring_[a-z_]+)'
grep -nE "(^|[^a-zA-Z0-9_>.])$calls[[:space:]]*\(" user/engine/*.c |
	grep -vE '^\S+:[0-9]+:\s*(/\*|\*)' | while read -r line; do
		echo "check-layers: machine contact outside the world: $line"
	done | grep . && bad=1

# the ledger is the only writer of cgroup files
grep -n 'ops->cg_write' user/engine/*.c | grep -vE '^user/engine/ledger(_[a-z]+)?\.c:' |
	while read -r line; do
		echo "check-layers: a cgroup file written outside the ledger: $line"
	done | grep . && bad=1

[ $bad = 0 ] && echo "check-layers: ok ($(wc -l <"$edges") includes, no cycle)"
exit $bad
