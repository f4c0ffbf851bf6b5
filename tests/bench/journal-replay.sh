#!/bin/bash
# SPDX-License-Identifier: MIT
#
# journal-replay: how long htmd takes to come back on a journal of
# 1,000,000 records, and how long `htmctl log --verify` takes on it,
# against the floor of the same bytes read, decompressed and hashed by
# standard tools.
#
#   tests/bench/journal-replay.sh [BUILD_DIR]      (default: build)
#
# The journal is written by tests/bench/journal-gen.c (compiled here against
# BUILD/libhtm-core.a): real records made with htm_rec_encode and chained
# with htm_rec_hash, bodies as the daemon writes them (daemon.start, then
# per task a task.submit holding htm_task_to_json() and three task.state
# records queued -> preflight -> running -> succeeded), in 8 MiB segments,
# all but the last sealed into .log.gz like the daemon's worker does. The
# state dir is in /var/tmp (a real disk); the page cache is warm (the
# files were just written) unless DROP_CACHES=1.
#
# Measured, ROUNDS times each, median shown:
#   replay   htmd started on the journal: the time from its own log line
#            "journal: replayed N records ... in X ms" (scan: decompress,
#            CRC, hash chain, JSON parse, task table, history trimmed to
#            history_limit), and start-to-ready wall time
#   verify   `htmctl -o json log --verify` wall time (decompress, CRC, hash
#            chain; no JSON), on the running htmd
#   peers    the floor: `journal-gen --floor`, which reads the segments,
#            inflates them with zlib and runs every byte once through
#            crc32 and SHA-256 (libcrypto), the libraries the reader uses,
#            without decoding records: the I/O + inflate + hash work that
#            replay and verify cannot avoid. With standard tools: cat of
#            the segment files (read), zcat (read + inflate), zcat |
#            sha256sum, and sha256sum / openssl dgst -sha256 of the
#            already inflated bytes (the hash alone)
# and the ratios replay / floor and verify / floor.
#
# Knobs: RECORDS (1000000), SEGMENT_BYTES (8388608), ROUNDS (3), PLAIN=1
# (no sealing: every segment plain), DROP_CACHES=1 (echo 3 >
# /proc/sys/vm/drop_caches before each measurement: machine-wide, so off by
# default), KEEP=1 (keep the generated state dir and say where).
# Exit 0 if everything ran, 1 if something failed, 77 if it cannot run here.

set -u -o pipefail
export LC_ALL=C

BUILD=${1:-build}
RECORDS=${RECORDS:-1000000}
SEGMENT_BYTES=${SEGMENT_BYTES:-8388608}
ROUNDS=${ROUNDS:-3}
PLAIN=${PLAIN:-}
DROP_CACHES=${DROP_CACHES:-}
KEEP=${KEEP:-}
OPENSSL=$(command -v openssl)
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

. "$HERE/lib.sh"

[ "$(id -u)" = 0 ] || skip "not root (htmd needs cgroups)"
need_cmds jq awk cc pkg-config zcat sha256sum
need_built libhtm-core.a
find_cgroup2

T=
WORK=
CG_ROOT=
HTMD_PID=

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	stop_htmd 20
	if [ -n "$CG_ROOT" ] && [ -d "$CG_ROOT" ]; then
		echo 1 >"$CG_ROOT/cgroup.kill" 2>/dev/null
		sleep 0.2
		find "$CG_ROOT" -depth -type d -exec rmdir {} \; 2>/dev/null
		[ -d "$CG_ROOT" ] && say "warning: could not remove $CG_ROOT" >&2
	fi
	if [ -n "$WORK" ]; then
		if [ -n "$KEEP" ]; then
			say "kept: $WORK"
		else
			rm -rf "$WORK"
		fi
	fi
	[ -n "$T" ] && rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

T=$(mktemp -d /tmp/htm-bench-replay.XXXXXX)
chmod 0755 "$T"
WORK=$(mktemp -d /var/tmp/htm-bench-replay.XXXXXX)
STATE=$WORK/state
J=$STATE/journal
SOCK=$T/htmd.sock
CG_ROOT=$CG_MOUNT/htm-bench-replay-$$
mkdir -p "$STATE"

now_us() { echo "${EPOCHREALTIME/./}"; }
drop_caches() {
	[ -n "$DROP_CACHES" ] || return 0
	sync
	echo 3 >/proc/sys/vm/drop_caches
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# --- generate ---
# shellcheck disable=SC2046 # pkg-config output is words
cc -O2 -Wall -Wextra -std=gnu11 -D_GNU_SOURCE -I"$ROOT/include" -I"$ROOT/user" \
	$(pkg-config --cflags libcjson) "$HERE/journal-gen.c" "$BUILD/libhtm-core.a" \
	$(pkg-config --libs libcjson libcrypto zlib) -lm -o "$T/journal-gen" ||
	die "cannot build tests/bench/journal-gen.c"
say "journal-replay: generating $RECORDS records in $SEGMENT_BYTES-byte segments${PLAIN:+ (plain)} under $WORK"
"$T/journal-gen" "$J" "$RECORDS" "$SEGMENT_BYTES" ${PLAIN:+--plain} >"$T/gen.json" ||
	die "journal-gen failed"
GEN=$(cat "$T/gen.json")
RAW=$(jq .raw_bytes <<<"$GEN")
say "  $(jq -r '"\(.records) records (\(.tasks) tasks), \(.segments) segments, \(.raw_bytes / 1048576 | floor) MiB of records, \(.disk_bytes / 1048576 | floor) MiB on disk, generated in \(.seconds) s"' <<<"$GEN")"
say "  $(nproc) CPUs, kernel $(uname -r), $(df --output=fstype "$WORK" | tail -n 1) on $(df --output=source "$WORK" | tail -n 1), cache: ${DROP_CACHES:+dropped before each measurement}${DROP_CACHES:-warm}"

# the inflated stream, once, for the hash-alone peer
{ for f in "$J"/*; do case $f in *.gz) zcat "$f" ;; *) cat "$f" ;; esac; done; } >"$WORK/inflated"

# --- peers ---
segments_cat() { cat "$J"/* >/dev/null; }
segments_zcat() { for f in "$J"/*; do case $f in *.gz) zcat "$f" ;; *) cat "$f" ;; esac; done >/dev/null; }
segments_zcat_sha() { for f in "$J"/*; do case $f in *.gz) zcat "$f" ;; *) cat "$f" ;; esac; done | sha256sum >/dev/null; }
sha_only() { sha256sum "$WORK/inflated" >/dev/null; }
openssl_only() { openssl dgst -sha256 "$WORK/inflated" >/dev/null; }
c_floor() { "$T/journal-gen" --floor "$J"/* >/dev/null; }
timed() { # NAME CMD...: seconds into $T/t.NAME
	local t0 name=$1
	shift
	drop_caches
	t0=$(now_us)
	"$@" || die "$name failed"
	echo "$((($(now_us) - t0)))" | awk '{ print $1 / 1e6 }' >>"$T/t.$name"
}

# --- htmd ---
echo '{ "bpf_pin_dir": "", "delay_accounting": false }' >"$T/htmd.json"
replay_round() {
	local t0 i line ms
	: >"$T/htmd.log"
	drop_caches
	t0=$(now_us)
	"$HTMD" --socket "$SOCK" --state-dir "$STATE" --cgroup-root "$CG_ROOT" \
		--config "$T/htmd.json" >"$T/htmd.log" 2>&1 </dev/null &
	HTMD_PID=$!
	for ((i = 0; i < 6000; i++)); do
		"$HTMCTL" --socket "$SOCK" status >/dev/null 2>&1 && break
		pid_alive "$HTMD_PID" || { tail -n 20 "$T/htmd.log" >&2; die "htmd exited while starting"; }
		sleep 0.05
	done
	echo "$((($(now_us) - t0)))" | awk '{ print $1 / 1e6 }' >>"$T/t.ready"
	line=$(grep -o 'journal: replayed .*' "$T/htmd.log") || die "no 'journal: replayed' line in htmd's log"
	REPLAY_LINE=$line
	ms=$(sed -n 's/.* in \([0-9.]*\) ms .*/\1/p' <<<"$line")
	[ -n "$ms" ] || die "cannot read the replay time from: $line"
	echo "$ms" | awk '{ print $1 / 1e3 }' >>"$T/t.replay"
	HWM=$(awk '/VmHWM/ { print $2 / 1024 }' "/proc/$HTMD_PID/status")
	KEPT=$("$HTMCTL" --socket "$SOCK" -o json status | jq '[.tasks[]] | add')
	drop_caches
	t0=$(now_us)
	"$HTMCTL" --socket "$SOCK" -o json log --verify >"$T/verify.json" ||
		die "log --verify failed: $(cat "$T/verify.json")"
	echo "$((($(now_us) - t0)))" | awk '{ print $1 / 1e6 }' >>"$T/t.verify"
	stop_htmd 20
}

for ((r = 1; r <= ROUNDS; r++)); do
	say "round $r"
	replay_round
	say "  htmd: $REPLAY_LINE"
	say "  log --verify: $(jq -c '{ok, records, segments}' "$T/verify.json") in $(tail -n 1 "$T/t.verify") s"
	timed cat segments_cat
	timed zcat segments_zcat
	timed zcat_sha segments_zcat_sha
	timed sha sha_only
	[ -n "$OPENSSL" ] && timed openssl openssl_only
	timed floor c_floor
	say "  peers: floor $(tail -n 1 "$T/t.floor") s, cat $(tail -n 1 "$T/t.cat") s, zcat $(tail -n 1 "$T/t.zcat") s, zcat|sha256sum $(tail -n 1 "$T/t.zcat_sha") s, sha256sum $(tail -n 1 "$T/t.sha") s"
done

N=$(jq .records "$T/verify.json")
row() { # LABEL FILE
	local s
	s=$(median <"$T/t.$2")
	awk -v l="$1" -v s="$s" -v n="$N" -v b="$RAW" \
		'BEGIN { printf "  %-38s %9.3f s %12.0f records/s %8.0f MiB/s\n", l, s, n / s, b / s / 1048576 }'
}
say ""
say "results: $N records, $(awk -v b="$RAW" 'BEGIN { printf "%.0f", b / 1048576 }') MiB of records (median of $ROUNDS)"
row "replay (htmd's log line)" replay
row "htmd start to ready (replay + rest)" ready
row "htmctl log --verify" verify
row "floor: read + zlib + crc32 + SHA-256" floor
row "peer: cat segments (read)" cat
row "peer: zcat segments (read + inflate)" zcat
row "peer: zcat | sha256sum" zcat_sha
row "peer: sha256sum of inflated bytes" sha
[ -n "$OPENSSL" ] && row "peer: openssl dgst -sha256 of them" openssl
say ""
awk -v r="$(median <"$T/t.replay")" -v v="$(median <"$T/t.verify")" -v f="$(median <"$T/t.floor")" \
	-v z="$(median <"$T/t.zcat_sha")" 'BEGIN {
	printf "  replay / floor: %.2f   verify / floor: %.2f   replay / verify: %.2f   replay / (zcat | sha256sum): %.2f\n", r / f, v / f, r / v, r / z }'
say "  after the replay htmd kept $KEPT tasks (history_limit default 10000), peak RSS (VmHWM) $(printf '%.0f' "$HWM") MiB"
exit 0
