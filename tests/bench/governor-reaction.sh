#!/bin/bash
# SPDX-License-Identifier: MIT
#
# governor-reaction: how fast htmd turns a kernel signal into a completed
# cgroup write, set beside systemd-oomd's default pressure polling
# interval (1 s: MEM_PRESSURE_INTERVAL_USEC in src/oom/oomd-manager.h).
#
#   tests/bench/governor-reaction.sh [BUILD_DIR]      (default: build)
#
# Cgroup writes need the cpu controller, which the build host does not give
# us (it is bound to cgroup v1 there), so this boots the VM tier (Debian's
# 6.1 under qemu TCG, tests/vm/run.sh) with the guest script
# tests/vm/bench/10-governor-reaction.sh, which describes the loads. The
# figures are htmd's own (status .reactions; one htmd per measurement):
#
#   breach -> write  from the kernel's timestamp of a run-queue budget
#                    breach of critical work (bpf_ktime_get_ns() in the
#                    sampler's sched_switch program, CLOCK_MONOTONIC) to the
#                    return of the last cgroup write of the step it caused
#                    (cpu.max or cgroup.freeze of the low class), in htmd.
#                    Ring buffer wake-up, io_uring, the loop, the journal
#                    record and the writes are all inside.
#   PSI -> write     from htmd's loop running the PSI trigger's POLLPRI
#                    completion to the return of the cgroup writes of the
#                    step up its sampling pass made. The kernel's part
#                    before that (psimon noticing the stall, the wake-up) is
#                    not inside: htmd gets no kernel timestamp for it.
#
# Each can be measured in two kernel states (KEYS): "toggle", the kernel as
# booted, where no cgroup
# has a cpu.max quota, so capping switches the CFS bandwidth static key on
# (and lifting the cap, off): code patching with cross-CPU sync, which TCG
# makes very slow; and "held", with an empty cgroup holding a quota that
# never binds, so the key stays on (as on any host where some unit has
# CPUQuota=) and a cap is a plain write. By default only "held".
#
# TCG emulates every instruction and the host's 2 CPUs are shared, so all
# absolute times are inflated: read them as upper bounds. The comparison
# with oomd is of htm's p99 reaction against the interval at which oomd
# even looks at pressure (a mean wait of 0.5 s, worst 1 s, before its own
# processing; and oomd acts only after pressure has stayed over its limit
# for ManagedOOMMemoryPressureDurationSec=, 30 s by default).
#
# Knobs (environment): BREACHES (1000 breach reactions per measurement),
# PSI (100 PSI reactions per measurement), BURST_MS (200), GAP_MS (3000),
# CPU_SOME (15), PHASES ("breach,psi"), KEYS ("held"; "toggle,held" for
# both: under TCG the guest has three times in five runs stopped responding after
# a few hundred toggles of the key, held never did, so toggle is opt-in and
# the time limit short); VMTEST_OUT
# (default BUILD_DIR/vm-bench: its own lock, so it can run beside `make
# vmtest`), VMTEST_TIMEOUT (1800 s), VMTEST_VERBOSE.
# Exit 0 if every measurement ran, 1 otherwise, 77 (after a "skip:" line)
# if it cannot run here (no qemu, no 6.1 kernel, no static busybox).

set -u -o pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
OOMD_MS=1000

die() { echo "governor-reaction: $*" >&2; exit 1; }
[ -x "$BUILD/htmd" ] && [ -x "$BUILD/htmctl" ] || die "$BUILD/htmd or htmctl not built (make all)"
[ -x "$BUILD/tests/bin/spin" ] || die "$BUILD/tests/bin/spin not built (make $BUILD/tests/bin/spin)"

append="htm.breaches=${BREACHES:-1000} htm.psi=${PSI:-100}"
append+=" htm.burst_ms=${BURST_MS:-200} htm.gap_ms=${GAP_MS:-3000}"
append+=" htm.cpu_some=${CPU_SOME:-15} htm.phases=${PHASES:-breach,psi}"
append+=" htm.keys=${KEYS:-held}"
out=${VMTEST_OUT:-$BUILD/vm-bench}
log=$(mktemp)
loads=$(mktemp)
sampler=
trap 'rm -f "$log" "$loads"; [ -z "$sampler" ] || kill "$sampler" 2>/dev/null' EXIT
# the host's load while the VM runs: others' work on the 2 CPUs inflates
# the figures, so it is printed with them
( while :; do cut -d' ' -f1 /proc/loadavg >>"$loads"; sleep 10; done ) &
sampler=$!

load0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "governor-reaction: booting the VM (Debian 6.1 under qemu TCG), host load average $load0"
VMTEST_OUT=$out VMTEST_GUEST_DIR=$ROOT/tests/vm/bench VMTEST_APPEND=$append \
	VMTEST_TIMEOUT=${VMTEST_TIMEOUT:-1800} \
	"$ROOT/tests/vm/run.sh" "$BUILD" >"$log"
rc=$?
load1=$(cut -d' ' -f1-3 /proc/loadavg)
kill "$sampler" 2>/dev/null
sampler=
during=$(awk '{ s += $1; if (NR == 1 || $1 > mx) mx = $1 } END {
	if (NR) printf "mean %.2f, max %.2f over %d samples", s / NR, mx, NR }' "$loads")
if [ $rc = 77 ]; then
	grep '^skip:' "$log" || echo "skip: tests/vm/run.sh cannot run here"
	exit 77
fi

# the guest's own lines (figures and counts), from the console
guest_lines() { tr -d '\r' < "$out/console.log" | sed -n 's/^\[10-governor-reaction\] //p' |
	grep -E '^(guest|breach/|psi/|key )' ; }
echo "--- guest ---"
guest_lines | sed 's/^/  /'
echo "--- result ---"

field() {	# field LINE KEY
	sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0) printf "%.0f", a / b; else print "-" }'; }

echo "htm governor reaction latency, measured by htmd in a Debian 6.1 guest under"
echo "qemu TCG (emulated, 2 vCPUs on a shared 2-CPU host): absolute times are"
echo "inflated, read them as upper bounds. Host load average $load0 before, $load1 after;"
echo "1-minute load while the VM ran (its own 2 vCPUs are up to 2 of it): $during."
failed=0
for phase in breach psi; do
	for key in toggle held; do
		line=$(grep "^RESULT pass vm/bench-$phase-$key " "$log") || continue
		n=$(field "$line" events) p50=$(field "$line" p50_ms)
		p99=$(field "$line" p99_ms) max=$(field "$line" max_ms)
		case $key in
		toggle) k="CFS bandwidth key switched by the cap (kernel as booted)" ;;
		held) k="CFS bandwidth key held on (some cgroup has a quota)" ;;
		esac
		if [ $phase = breach ]; then
			printf '  budget breach -> cgroup write   p50 %8s ms  p99 %8s ms  max %8s ms  over %s events; %s\n' \
				"$p50" "$p99" "$max" "$n" "$k"
			printf '      (%s breach events delivered; steps: %s caps, %s freezes, %s to critical; %s s)\n' \
				"$(field "$line" breach_events)" "$(field "$line" caps)" \
				"$(field "$line" freezes)" "$(field "$line" to_critical)" "$(field "$line" seconds)"
		else
			printf '  PSI trigger -> cgroup write     p50 %8s ms  p99 %8s ms  max %8s ms  over %s events; %s\n' \
				"$p50" "$p99" "$max" "$n" "$k"
			printf '      (%s bursts, %s cpu triggers fired, %s steps up, %s of them by a trigger: the events; %s s)\n' \
				"$(field "$line" bursts)" "$(field "$line" fired)" \
				"$(field "$line" steps_up)" "$n" "$(field "$line" seconds)"
		fi
		printf '      oomd polls every %d ms; htm reacts in %s ms p99: %d/%s = %sx faster\n' \
			"$OOMD_MS" "$p99" "$OOMD_MS" "$p99" "$(ratio "$OOMD_MS" "$p99")"
	done
done
echo "  reference: systemd-oomd reads pressure every 1 s (MEM_PRESSURE_INTERVAL_USEC),"
echo "  so it notices a change 0.5 s later on average, 1 s at worst, before it acts."

if grep -q '^RESULT fail' "$log" || [ $rc != 0 ]; then
	echo "--- tests/vm/run.sh (exit status $rc) ---"
	cat "$log"
	failed=1
fi
for phase in $(tr , ' ' <<<"${PHASES:-breach,psi}"); do
	for key in $(tr , ' ' <<<"${KEYS:-held}"); do
		grep -q "^RESULT pass vm/bench-$phase-$key " "$log" ||
			{ echo "governor-reaction: no figures for $phase/$key" >&2; failed=1; }
	done
done
exit $failed
