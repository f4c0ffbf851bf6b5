#!/bin/sh
# SPDX-License-Identifier: MIT
#
# tests/fuzz/run-corpus.sh BUILD_DIR
#
# Replay every committed seed, tests/fuzz/corpus/<target>/*, once through
# BUILD_DIR/fuzz/fuzz_<target> (libFuzzer's "run these files" mode: no
# mutation, well under 10 s in all). Builds the binaries first (make
# fuzz-build) unless FUZZ_NO_BUILD=1. Exit 0 when every input ran clean,
# 1 on a crash, leak, UB, timeout or build failure, 77 ("skip: ...") when
# clang with libFuzzer is not available. A committed crash-* input is a
# known, unfixed bug: it is replayed on its own and fails here until the
# code is fixed.
#
# FUZZ_TARGETS="request config ..." limits the targets; CLANG names clang.
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$(pwd)/$build ;; esac
# make gets the build dir as the Makefile itself names it (relative to the
# repository when it is inside it): its recorded header dependencies name
# targets that way, and an absolute spelling would not match them, leaving
# objects stale after a header change
make_build=$build
case $build in "$root"/*) make_build=${build#"$root"/} ;; esac
targets=${FUZZ_TARGETS:-}
if [ -z "$targets" ]; then
	for d in "$here"/corpus/*/; do
		[ -d "$d" ] && targets="$targets $(basename "$d")"
	done
fi
clang=${CLANG:-clang}

# libFuzzer ships with clang's compiler-rt; check it links before anything
if ! command -v "$clang" >/dev/null 2>&1; then
	echo "skip: $clang not found (the fuzz targets need clang's libFuzzer)"
	exit 77
fi
probe=$(mktemp -d "${TMPDIR:-/tmp}/htm-fuzz-probe.XXXXXX") || exit 1
trap 'rm -rf "$probe"' EXIT
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
	'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
	'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
	>"$probe/p.c"
if ! "$clang" -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" \
	>"$probe/log" 2>&1; then
	sed 's/^/    /' "$probe/log" | tail -n 5
	echo "skip: $clang cannot link -fsanitize=fuzzer,address,undefined (no libFuzzer)"
	exit 77
fi

if [ "${FUZZ_NO_BUILD:-0}" != 1 ]; then
	# shellcheck disable=SC2086 # MAKE may carry flags
	if ! ${MAKE:-make} -s -C "$root" BUILD="$make_build" CLANG="$clang" \
		FUZZ_TARGETS="$targets" fuzz-build; then
		echo "FAIL: building the fuzz targets"
		exit 1
	fi
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
mkdir -p "$build/fuzz"
status=0

# replay FILES through BIN into LOG; print why it failed
replay() { # bin log file...
	local_bin=$1 local_log=$2
	shift 2
	"$local_bin" -runs=1 -timeout=10 -error_exitcode=1 "$@" >"$local_log" 2>&1
	local_rc=$?
	if [ $local_rc -ne 0 ]; then
		grep -E '^Running: ' "$local_log" | tail -n 1 | awk '{ print "    | " $0 }'
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error:|    #[0-9]+ )' "$local_log" |
			grep -v 'libFuzzer\|compiler-rt\|fuzzer::\|libc_start\|_start ' |
			head -n 20 | awk '{ print "    | " $0 }'
	fi
	return $local_rc
}

for t in $targets; do
	bin=$build/fuzz/fuzz_$t
	dir=$here/corpus/$t
	if [ ! -x "$bin" ]; then
		echo "FAIL $t: $bin not built"
		status=1
		continue
	fi
	# the seeds in one run; each known crash (crash-*) in its own, so one
	# does not hide another or the seeds' results
	seeds=$(find "$dir" -maxdepth 1 -type f ! -name 'crash-*' | sort)
	crashes=$(find "$dir" -maxdepth 1 -type f -name 'crash-*' | sort)
	if [ -z "$seeds" ]; then
		echo "FAIL $t: no seeds in $dir"
		status=1
		continue
	fi
	n=$(echo "$seeds" | wc -l)
	start=$(date +%s.%N)
	# shellcheck disable=SC2086 # seed names have no blanks (mkseeds.py)
	replay "$bin" "$build/fuzz/corpus-$t.log" $seeds
	rc=$?
	secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
	if [ $rc -eq 0 ]; then
		echo "ok   $t: $n seeds in ${secs}s"
	else
		echo "FAIL $t: exit $rc over $n seeds (log: $build/fuzz/corpus-$t.log)"
		status=1
	fi
	for c in $crashes; do
		name=$(basename "$c")
		if replay "$bin" "$build/fuzz/corpus-$t-$name.log" "$c" >"$build/fuzz/corpus-$t-$name.why"; then
			echo "ok   $t: $name no longer crashes (fixed? rename it to keep it as a seed)"
		else
			echo "FAIL $t: $name still crashes (log: $build/fuzz/corpus-$t-$name.log)"
			cat "$build/fuzz/corpus-$t-$name.why"
			status=1
		fi
		rm -f "$build/fuzz/corpus-$t-$name.why"
	done
done
exit $status
