#!/bin/bash
# SPDX-License-Identifier: MIT
# 41-journal-verify: what htmd does with a damaged journal.
#  1. torn tails, after a clean stop: a prefix of a record appended, text
#     garbage appended, the last record truncated half way. Each is cut and
#     reported on start (log line and a journal.break record of kind
#     torn_tail with the right byte count), every earlier task is back as
#     it was, `log --verify` passes.
#  2. one byte flipped in the middle of the journal (inside the body of a
#     task.submit record with tasks after it): htmd refuses to start and
#     names the record; with --accept-broken-journal it starts, the tasks
#     before are intact, the tasks submitted after the damaged one are
#     salvaged, a journal.break (broken_chain) record is in `log --type
#     journal.break`, the damaged file is kept byte for byte under
#     journal/broken-*/, `log --verify` passes, and a plain restart and new
#     submissions work afterwards.
#  3. one byte flipped in the length field of a record in the middle of the
#     segment being written: that is damage, not a torn tail, so htmd must
#     refuse to start rather than cut every record after it.
#  4. rotation with journal_segment_bytes 4096 under 4 concurrent clients:
#     several segments, the sealed ones become .log.gz (waiting for the
#     worker), zcat reads each, each starts with the record its name says,
#     `log --verify` passes, and a restart replays every segment and shows
#     every task.
#  5. a seal that a crash interrupted (a plain segment with a partial
#     .log.gz.tmp beside it; a segment both plain and sealed): the next
#     start still verifies, and within seconds the seal is redone and the
#     leftovers are removed.
# Knob: SABOTAGE=second-flip also damages a later task's submit record in
# part 2, so that one of the "salvaged" checks must fail (how the checks
# are shown to bite).
. "$(dirname "$0")/lib.sh"
require_cmd od dd zcat truncate cmp

LOADGEN=$(realpath -e "$BUILD/tests/bin/htm-loadgen" 2>/dev/null) ||
	fail "$BUILD/tests/bin/htm-loadgen is missing; run make test (it builds tests/bin/*.c)"
JDIR=$STATE/journal
write_config "$T/htmd.json" '{ "slots": 2 }'

# --- journal file helpers ---
u16() { od -An -tu2 -j "$2" -N2 "$1" | tr -d ' '; }
u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
u64() { od -An -tu8 -j "$2" -N8 "$1" | tr -d ' '; }
# walk FILE: "offset size type seq" per whole record
walk() {
	local f=$1 off=0 size len
	size=$(stat -c %s "$f")
	while [ $((off + 64)) -le "$size" ]; do
		len=$(u32 "$f" "$off")
		[ $((off + 4 + len)) -le "$size" ] || break
		echo "$off $((len + 4)) $(u16 "$f" $((off + 8))) $(u64 "$f" $((off + 16)))"
		off=$((off + 4 + len))
	done
}
active_segment() { ls "$JDIR"/*.log 2>/dev/null | tail -n 1; }
count() { # count GLOB-RESULT...: how many exist
	local f n=0
	for f in "$@"; do [ -e "$f" ] && n=$((n + 1)); done
	echo "$n"
}
# flip FILE OFFSET: xor that byte with 0x01
flip() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "\\$(printf '%03o' $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# record_of SEQ: "offset size type seq" of that record in the active segment
record_of() { walk "$(active_segment)" | awk -v s="$1" '$4 == s'; }
snapshot() { ctl -o json list | jq -r '.[] | "\(.id) \(.state) \(.exit_code)"' | sort -n; }
log_mark() { LOG_MARK=$(wc -l <"$T/htmd.log"); }
log_since() { tail -n +"$((LOG_MARK + 1))" "$T/htmd.log" | grep -v 'debug: libbpf'; }
verify_ok() {
	capture ctl -o json log --verify
	if [ "$RC" = 0 ] && [ "$(jqr "$OUT" .ok)" = true ]; then
		ok "$1: log --verify passes ($(jqr "$OUT" '"\(.records) records, \(.segments) segments"'))"
	else
		show_output
		fail_later "$1: log --verify exit $RC: $(jqr "$OUT" .broken -c 2>/dev/null)"
	fi
}
# submit_ok CMD...: submit, wait until it succeeded, print the id
submit_ok() {
	local id
	id=$(submit -- "$@") || return 1
	wait_until 10 task_state_is "$id" succeeded || return 1
	echo "$id"
}
# htmd_refuses DESC: start htmd; it must exit non-zero within 10 s instead
# of answering on its socket. Its output is left in $REFUSAL. One that
# starts anyway is stopped again (SIGTERM) and the function returns 1.
htmd_refuses() {
	local pid rc
	echo "+ htmd (expected to refuse: $1)" >>"$T/htmd.log"
	"$HTMD" --socket "$SOCK" --state-dir "$STATE" --cgroup-root "$CG_ROOT" \
		--config "$T/htmd.json" -v >"$T/refusal.out" 2>&1 </dev/null &
	pid=$!
	HTMD_PIDS+=("$pid")
	wait_until 10 eval '! pid_alive "$pid" || ctl status >/dev/null 2>&1'
	if pid_alive "$pid"; then
		kill -TERM "$pid"
		wait_until 10 pid_gone "$pid" || kill -KILL "$pid"
		wait "$pid" 2>/dev/null
		rc=0
	else
		wait "$pid"
		rc=$?
	fi
	REFUSAL=$(grep -v 'debug: libbpf' "$T/refusal.out")
	cat "$T/refusal.out" >>"$T/htmd.log"
	[ "$rc" != 0 ]
}

say "set up: six tasks, then a clean stop"
start_htmd --config "$T/htmd.json"
for i in 1 2 3 4 5 6; do
	submit_ok true >/dev/null || fail "task $i did not succeed"
done
snapshot >"$T/before"
info "tasks: $(cut -d' ' -f1,2 "$T/before" | tr '\n' ',')"
stop_htmd

# --- 1. torn tails ------------------------------------------------------
# torn_case DESC BYTES: the active segment was just damaged at its end by
# BYTES bytes after record LAST_WHOLE; start and check
torn_case() {
	local desc=$1 bytes=$2 br
	log_mark
	start_htmd --config "$T/htmd.json"
	if log_since | grep -q "journal: cut a torn tail of $bytes bytes after record $LAST_WHOLE "; then
		ok "$desc: cut and reported: $(log_since | grep -o 'journal: cut a torn tail.*')"
	else
		fail_later "$desc: no 'cut a torn tail of $bytes bytes after record $LAST_WHOLE' in the log: $(log_since | grep -i 'journal' | tr '\n' ' ')"
	fi
	snapshot >"$T/now"
	cmp -s "$T/before" "$T/now" && ok "$desc: all $(wc -l <"$T/now") earlier tasks are back as they were" ||
		fail_later "$desc: the tasks changed: $(diff "$T/before" "$T/now" | tr '\n' ' ')"
	br=$(ctl -o json log --type journal.break | jq -c '.[-1].record')
	jqr "$br" '.kind == "torn_tail" and .bytes == $b and .after == $a' -e \
		--argjson b "$bytes" --argjson a "$LAST_WHOLE" >/dev/null &&
		ok "$desc: journal.break record: $(jqr "$br" '{kind, bytes, after}' -c)" ||
		fail_later "$desc: the last journal.break record is $br, expected torn_tail of $bytes bytes after $LAST_WHOLE"
	verify_ok "$desc"
	stop_htmd
}

say "torn tail 1: the first 100 bytes of a record appended"
seg=$(active_segment)
LAST_WHOLE=$(walk "$seg" | tail -n 1 | cut -d' ' -f4)
head -c 100 "$seg" >"$T/prefix"
[ "$(u32 "$T/prefix" 0)" -gt 200 ] || fail "the first record is too short for this case"
cat "$T/prefix" >>"$seg"
torn_case "record prefix" 100

say "torn tail 2: text garbage appended"
seg=$(active_segment)
LAST_WHOLE=$(walk "$seg" | tail -n 1 | cut -d' ' -f4)
garbage='garbage after the last record, as a crash may leave it'
printf '%s' "$garbage" >>"$seg"
torn_case "text garbage" ${#garbage}

say "torn tail 3: the last record truncated half way"
seg=$(active_segment)
read -r off size _ seq < <(walk "$seg" | tail -n 1)
LAST_WHOLE=$((seq - 1))
truncate -s $((off + size / 2)) "$seg"
torn_case "truncated record $seq" $((size / 2))

# --- 2. a flipped byte in the middle ----------------------------------------
say "a flipped byte in the middle of the journal"
start_htmd --config "$T/htmd.json"
X=$(submit_ok true) || fail "submit failed"
after=()
for i in 1 2 3; do
	id=$(submit_ok sh -c 'exit 0') || fail "submit failed"
	after+=("$id")
done
info "damaged: task $X's submit record; submitted after it: ${after[*]}"
XSEQ=$(ctl -o json log --type task.submit --task "$X" | jq '.[0].seq')
[[ $XSEQ =~ ^[0-9]+$ ]] || fail "cannot find task $X's task.submit record: $XSEQ"
snapshot >"$T/before"
stop_htmd
seg=$(active_segment)
read -r off size type seq < <(record_of "$XSEQ")
[ "$type" = 5 ] || fail "record $XSEQ at offset $off is of type $type, not task.submit (5)"
cp "$seg" "$T/pristine.log"
flip "$seg" $((off + 64 + (size - 64) / 2))
info "flipped byte $((off + 64 + (size - 64) / 2)) of $(basename "$seg") (record $XSEQ at $off, $size bytes, $(($(stat -c %s "$seg") - off - size)) bytes after it)"
if [ "${SABOTAGE:-}" = second-flip ]; then
	s2=$(walk "$seg" | awk -v x="$XSEQ" '$3 == 5 && $4 > x' | head -n 2 | tail -n 1)
	read -r off2 size2 _ seq2 <<<"$s2"
	info "SABOTAGE=second-flip: also damaging record $seq2 (a later task.submit)"
	flip "$seg" $((off2 + 64 + (size2 - 64) / 2))
fi
cp "$seg" "$T/damaged.log"
if htmd_refuses "flipped byte"; then
	if grep -q "broken at record $XSEQ " <<<"$REFUSAL"; then
		ok "htmd refuses to start and names record $XSEQ: $(grep -o 'journal .* refusing to start' <<<"$REFUSAL" | head -n 1)"
	else
		fail_later "htmd refused, but without naming record $XSEQ: $(grep -E 'err' <<<"$REFUSAL" | tr '\n' ' ')"
	fi
else
	fail "htmd did not refuse a journal with a flipped byte in record $XSEQ: $(tail -n 5 <<<"$REFUSAL" | tr '\n' ' ')"
fi
ctl status >/dev/null 2>&1 && fail "something answers on $SOCK although htmd refused to start"

say "--accept-broken-journal"
log_mark
start_htmd --config "$T/htmd.json" --accept-broken-journal
info "$(log_since | grep -o 'journal: broken at record.*' | head -n 1)"
snapshot >"$T/now"
# before X: unchanged; X: its submit record is gone; after X: salvaged
awk -v x="$X" '$1 < x' "$T/before" >"$T/expect-before"
awk -v x="$X" '$1 < x' "$T/now" >"$T/got-before"
cmp -s "$T/expect-before" "$T/got-before" && ok "the $(wc -l <"$T/got-before") tasks before the damage are intact" ||
	fail_later "tasks before the damaged record changed: $(diff "$T/expect-before" "$T/got-before" | tr '\n' ' ')"
for id in "${after[@]}"; do
	line=$(awk -v i="$id" '$1 == i' "$T/now")
	[ "$line" = "$id succeeded 0" ] && ok "task $id (submitted after the damaged record) salvaged: $line" ||
		fail_later "task $id, submitted after the damaged record, was not salvaged (list has '${line:-nothing}')"
done
info "task $X itself (damaged submit record): $(awk -v i="$X" '$1 == i' "$T/now" | grep . || echo "gone, its later state records skipped")"
br=$(ctl -o json log --type journal.break | jq -c '[.[] | select(.record.kind == "broken_chain")] | .[-1]')
if jqr "$br" '.record.first_bad == $s and .seq == $s' --argjson s "$XSEQ" -e >/dev/null; then
	ok "journal.break record $(jqr "$br" .seq): $(jqr "$br" '.record | {first_bad, detail, salvaged, skipped_bytes, set_aside}' -c)"
else
	fail_later "no journal.break (broken_chain) record for record $XSEQ in log --type journal.break: $br"
fi
aside=$(jqr "$br" .record.set_aside)
kept=$(ls -d "$JDIR"/broken-* 2>/dev/null)
if [ -n "$kept" ] && [ "$kept" = "$aside" ] && cmp -s "$aside/$(basename "$seg")" "$T/damaged.log"; then
	ok "the damaged file is kept as it was: ${aside#"$STATE"/}/$(basename "$seg")"
else
	fail_later "the damaged file is not kept under journal/broken-*/ (found '${kept:-nothing}', record says '$aside')"
fi
verify_ok "after the repair"
stop_htmd
start_htmd --config "$T/htmd.json"
snapshot >"$T/again"
cmp -s "$T/now" "$T/again" && ok "a plain restart after the repair starts and keeps every task" ||
	fail_later "the tasks changed over a plain restart: $(diff "$T/now" "$T/again" | tr '\n' ' ')"
new=$(submit_ok true) || fail "submit after the repair failed"
max=$(cut -d' ' -f1 "$T/again" | sort -n | tail -n 1)
[ "$new" -gt "$max" ] && ok "a new task after the repair gets a fresh id ($new)" ||
	fail_later "a new task after the repair got id $new, not above the highest known id $max"
verify_ok "after new submissions"
snapshot >"$T/before"
stop_htmd

# --- 3. a damaged length field in the middle ------------------------------
say "a flipped byte in a length field in the middle of the segment being written"
seg=$(active_segment)
cp "$seg" "$T/pristine.log"
total=$(walk "$seg" | wc -l)
read -r off size type seq < <(walk "$seg" | awk -v n="$total" 'NR == int(n / 2)')
info "record $seq at offset $off ($size bytes) of $(basename "$seg"), $((total - $(walk "$seg" | awk -v s="$seq" '$4 == s { print NR }'))) whole records after it"
flip "$seg" $((off + 3))
if htmd_refuses "length field"; then
	grep -q "broken at record $seq " <<<"$REFUSAL" &&
		ok "htmd refuses and names record $seq" ||
		fail_later "htmd refused without naming record $seq: $(grep err <<<"$REFUSAL" | tr '\n' ' ')"
else
	fail_later "htmd started on a journal whose record $seq (of $total, in the middle) has a damaged length field: it took it for a torn tail and cut the records after it: $(grep -o 'journal: cut a torn tail.*' <<<"$REFUSAL")"
fi
cp "$T/pristine.log" "$seg"
start_htmd --config "$T/htmd.json"
snapshot >"$T/now"
cmp -s "$T/before" "$T/now" || fail "the journal restored after part 3 does not give back the tasks"
stop_htmd

# --- 4. rotation ---------------------------------------------------------------
say "segment rotation with journal_segment_bytes 4096, four concurrent clients"
rm -rf "$STATE"
write_config "$T/htmd.json" '{ "slots": 4, "journal_segment_bytes": 4096 }'
start_htmd --config "$T/htmd.json"
"$LOADGEN" -s "$SOCK" -n 300 -c 4 -t 30 -a "$T/acked" -- true >"$T/loadgen.json" ||
	fail "the client did not get 300 ok replies: $(cat "$T/loadgen.json"); htmd's critical log lines: $(grep -E '^htmd: (crit|alert|emerg)' "$T/htmd.log" | sort | uniq -c | head -n 5 | tr '\n' ' ')"
info "client: $(cat "$T/loadgen.json")"
all_done() { [ "$(ctl -o json list | jq '[.[] | select(.state != "succeeded")] | length')" = 0 ]; }
wait_until 60 all_done || fail "not every task succeeded within 60 s"
one_plain() { [ "$(count "$JDIR"/*.log)" = 1 ] && [ "$(count "$JDIR"/*.tmp)" = 0 ]; }
wait_until 10 one_plain || fail_later "sealed segments still uncompressed after 10 s: $(ls "$JDIR" | tr '\n' ' ')"
ngz=$(count "$JDIR"/*.log.gz)
nseg=$((ngz + $(count "$JDIR"/*.log)))
[ "$nseg" -ge 3 ] && ok "$nseg segments, $ngz sealed (.log.gz), $(basename "$(active_segment)") being written" ||
	fail_later "only $nseg segments with 4096-byte segments"
bad_names=0
for f in "$JDIR"/*.log.gz "$JDIR"/*.log; do
	[ -e "$f" ] || continue
	name=$(basename "$f")
	name=${name%%.*}
	case $f in
	*.gz) zcat "$f" >"$T/seg" || { fail_later "zcat cannot read $(basename "$f")"; continue; } ;;
	*) cp "$f" "$T/seg" ;;
	esac
	# a segment just started (the last one) may hold no record yet
	[ "$(stat -c %s "$T/seg")" -ge 64 ] || continue
	first=$(u64 "$T/seg" 16)
	if [ "$first" != $((10#$name)) ]; then
		bad_names=$((bad_names + 1))
		[ "$bad_names" -le 3 ] && info "$(basename "$f") starts with record $first"
	fi
done
[ "$bad_names" = 0 ] && ok "zcat reads every sealed segment; each segment starts with the record its name says" ||
	fail_later "$bad_names of $nseg segments do not start with the record their name says (a rotation named the new segment after records still waiting to be written)"
verify_ok "rotated journal"
stop_htmd
log_mark
start_htmd --config "$T/htmd.json"
replayed=$(log_since | grep -o 'journal: replayed .*')
info "$replayed"
grep -q " in $nseg segments" <<<"$replayed" && ok "the replay read all $nseg segments" ||
	fail_later "the replay did not read $nseg segments: $replayed"
ctl -o json list | jq -r '.[] | select(.state == "succeeded") | .id' | sort -n >"$T/listed"
missing=$(comm -23 <(sort -n "$T/acked" | sort -u) <(sort -u "$T/listed") | head -n 10 | tr '\n' ' ')
[ -z "$missing" ] && ok "after the restart every one of the $(wc -l <"$T/acked") tasks is back, succeeded" ||
	fail_later "after the restart these tasks are missing or not succeeded: $missing"
verify_ok "after the restart"
stop_htmd

# --- 5. a seal that a crash interrupted ------------------------------------
say "seals a crash interrupted: redone and tidied on the next start"
# A: crash before the rename (plain segment and a partial .log.gz.tmp);
# B: crash after the rename, before the unlink (both .log and .log.gz)
sealed=("$JDIR"/*.log.gz)
A=${sealed[1]%.gz}
B=${sealed[2]%.gz}
zcat "$A.gz" >"$A" && head -c 100 "$A.gz" >"$A.gz.tmp" && rm "$A.gz"
zcat "$B.gz" >"$B"
info "$(basename "$A"): plain + a partial .gz.tmp; $(basename "$B"): plain and sealed both"
start_htmd --config "$T/htmd.json"
verify_ok "interrupted seals"
tidy() { [ -e "$A.gz" ] && [ ! -e "$A" ] && [ ! -e "$A.gz.tmp" ] && [ ! -e "$B" ]; }
if wait_until 10 tidy; then
	ok "within 10 s: $(basename "$A") sealed again, its .tmp gone, the plain copy of $(basename "$B") gone"
else
	fail_later "10 s after the start the interrupted seals are not redone: $(cd "$JDIR" && ls -d "$(basename "$A")"* "$(basename "$B")"* | tr '\n' ' ')(a sealed segment left plain stays plain for good, the partial .gz.tmp and the duplicate plain copy are never removed)"
fi
stop_htmd
finish
