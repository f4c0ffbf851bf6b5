#!/bin/sh
# SPDX-License-Identifier: MIT
#
# tests/fuzz/run-fuzz.sh BUILD_DIR TARGET...   (what `make fuzz` runs)
#
# Fuzz each BUILD_DIR/fuzz/fuzz_<target> for FUZZ_SECONDS (default 60) with
# -max_total_time over the scratch corpus BUILD_DIR/fuzz/corpus-<target>,
# which is seeded with (kept across runs, and topped up from) the committed
# seeds in tests/fuzz/corpus/<target>, with tests/fuzz/<target>.dict as the
# libFuzzer dictionary when there is one. Crashes, leaks, UB and hangs
# (-timeout, 10 s) are written to BUILD_DIR/fuzz/artifacts/<target>/.
#
# Committed crash-* inputs (known, unfixed bugs) are not seeded, or every
# run would stop on them at once; they are replayed after the run instead
# and fail it while they still crash.
#
# One summary line per target; exit 1 if any target crashed. FUZZ_FLAGS adds
# libFuzzer flags, e.g. -detect_leaks=0 to get past a known leak, or
# -max_len=65536 for longer inputs.
set -u

here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: run-fuzz.sh BUILD_DIR TARGET...}
shift
secs=${FUZZ_SECONDS:-60}
# -detect_leaks=0 only stops libFuzzer's per-input check; ASan's own at exit
# would still report everything leaked over the run
case " ${FUZZ_FLAGS:-} " in
*" -detect_leaks=0 "*) export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}" ;;
esac
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
summary=""

field() { # name line -> the number after "name: "
	echo "$2" | sed -n "s/.*$1: \([^ ]*\).*/\1/p"
}

for t in "$@"; do
	bin=$build/fuzz/fuzz_$t
	seeds=$here/corpus/$t
	scratch=$build/fuzz/corpus-$t
	art=$build/fuzz/artifacts/$t
	log=$build/fuzz/fuzz-$t.log
	mkdir -p "$scratch" "$art"
	find "$seeds" -maxdepth 1 -type f ! -name 'crash-*' -exec cp -p {} "$scratch"/ \;
	dict=
	[ -f "$here/$t.dict" ] && dict=-dict=$here/$t.dict
	echo "fuzzing $t for ${secs}s (log: $log)"
	# shellcheck disable=SC2086 # FUZZ_FLAGS is a list of flags
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-error_exitcode=1 -print_final_stats=1 -artifact_prefix="$art/" \
		$dict ${FUZZ_FLAGS:-} "$scratch" >"$log" 2>&1
	rc=$?
	# "#N  DONE  cov: C ft: F corp: K/SIZE lim: L exec/s: E rss: R", or the
	# last progress line when it stopped early; "#N: cov: ..." in fork mode
	last=$(grep -E '^#[0-9]+:?[[:space:]]+(DONE|NEW|REDUCE|pulse|INITED|cov:)' "$log" | tail -n 1)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | head -n 1)
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | head -n 1)
	[ -n "$runs" ] || runs=$(echo "$last" | sed -n 's/^#\([0-9]*\).*/\1/p')
	[ -n "$eps" ] || eps=$(field exec/s "$last")
	line="$t: ${runs:-?} runs, ${eps:-?} exec/s, cov $(field cov "$last"), ft $(field ft "$last"), corpus $(field corp "$last")"
	if [ $rc -eq 0 ]; then
		line="ok    $line"
	else
		status=1
		what=$(grep -m1 -E '^==[0-9]+==ERROR: |runtime error:|ALARM: working on the last Unit|out-of-memory|^SUMMARY: libFuzzer' "$log" |
			sed 's/^==[0-9]*==//')
		crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
		line="CRASH $line, exit $rc: ${what:-see the log}
      input: ${crash:-none written} (keep it: cp it to tests/fuzz/corpus/$t/crash-<what>)
      log:   $log"
	fi
	for c in $(find "$seeds" -maxdepth 1 -type f -name 'crash-*' | sort); do
		# with leak checks on, whatever FUZZ_FLAGS turned off
		if ASAN_OPTIONS=detect_leaks=1 "$bin" -runs=1 -timeout=10 -error_exitcode=1 \
			"$c" >"$log.known" 2>&1; then
			line="$line
      known crash $(basename "$c") no longer crashes"
		else
			status=1
			line="$line
      known crash $(basename "$c") still crashes"
		fi
	done
	rm -f "$log.known"
	echo "$line"
	summary="$summary$line
"
done
printf '\n--- fuzz summary (%ss per target) ---\n%s' "$secs" "$summary"
exit $status
