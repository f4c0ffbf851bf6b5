#!/bin/bash
# The test runner: every tier, one report, one closing line
#   N passed, N failed, N skipped
# A test is an executable: exit 0 pass, 77 skip (its last "skip:" line says
# why), anything else fail. A test may instead report several results by
# printing lines "RESULT pass|fail|skip NAME [reason]" (the VM tier does).
# TESTS=unit,asan,fuzz,host,vm selects tiers; T=glob selects tests by name.
set -u
BUILD=${1:-build}
TIERS=${TESTS:-unit,asan,fuzz,host,vm}
PATTERN=${T:-*}
LOGS=$BUILD/test-logs
mkdir -p "$LOGS"
pass=0 fail=0 skip=0
failed=()

collect() {
	local tier=$1
	case $tier in
	unit) ls "$BUILD"/tests/unit/test_* 2>/dev/null ;;
	asan) ls "$BUILD"/asan/tests/unit/test_* 2>/dev/null ;;
	host) ls tests/host/[0-9]*.sh 2>/dev/null ;;
	fuzz) echo tests/fuzz/run-corpus.sh ;;
	vm) echo tests/vm/run.sh ;;
	esac
}

record() { # result name reason
	case $1 in
	pass) pass=$((pass + 1)); printf 'PASS %s\n' "$2" ;;
	skip) skip=$((skip + 1)); printf 'SKIP %s: %s\n' "$2" "${3:-no reason given}" ;;
	*) fail=$((fail + 1)); failed+=("$2"); printf 'FAIL %s%s\n' "$2" "${3:+: $3}" ;;
	esac
}

run_one() { # tier path
	local tier=$1 path=$2 name log rc start secs limit reason
	name=$tier/$(basename "$path" | sed -e 's/\.sh$//' -e 's/^test_//')
	case $name in $PATTERN) ;; *) return ;; esac
	log=$LOGS/$(echo "$name" | tr / _).log
	limit=300
	[ "$tier" = vm ] && limit=1200
	start=$EPOCHREALTIME
	case $tier in
	host) BUILD=$BUILD timeout -k 10 "$limit" bash "$path" >"$log" 2>&1 ;;
	vm | fuzz) timeout -k 10 "$limit" "$path" "$BUILD" >"$log" 2>&1 ;;
	*) timeout -k 10 "$limit" "$path" >"$log" 2>&1 ;;
	esac
	rc=$?
	secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')
	if grep -qE '^RESULT (pass|fail|skip) ' "$log"; then
		local any_fail=0 res rname rest
		while read -r _ res rname rest; do
			record "$res" "$rname" "$rest"
			[ "$res" = fail ] && any_fail=1
		done < <(grep -E '^RESULT (pass|fail|skip) ' "$log")
		if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ $any_fail = 0 ]; then
			record fail "$name" "exit status $rc (see $log)"
		fi
	else
		case $rc in
		0) record pass "$name" ;;
		77)
			reason=$(grep -E '^skip:' "$log" | tail -n 1 | sed 's/^skip: *//')
			record skip "$name" "$reason"
			;;
		124 | 137) record fail "$name" "timed out after ${limit}s (see $log)" ;;
		*) record fail "$name" "exit status $rc (see $log)" ;;
		esac
	fi
	if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
		tail -n 25 "$log" | sed 's/^/    | /'
	fi
	printf '     (%s: %.1fs)\n' "$name" "$secs" >>"$LOGS/timing"
}

: >"$LOGS/timing"
IFS=, read -ra tiers <<<"$TIERS"
for tier in "${tiers[@]}"; do
	for t in $(collect "$tier"); do
		run_one "$tier" "$t"
	done
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "failed: ${failed[*]}"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
