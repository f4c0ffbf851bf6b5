#!/bin/bash
# VM test tier: boot Debian's 6.1 kernel under qemu (TCG) with an initramfs of
# busybox-static + the built binaries, run tests/vm/guest/*.sh inside, and
# print one "RESULT pass|fail|skip vm/<name> ..." line per test on stdout.
#
# Usage: tests/vm/run.sh [BUILD_DIR]        (default: build)
#
# Takes from BUILD_DIR: htmd, htmctl, tests/bin/* (helper programs).
# Writes to BUILD_DIR/vm/: initramfs.cpio.gz, console.log (guest ttyS0),
# results.log (guest ttyS1: the RESULT lines), qemu.err.
#
# Environment:
#   VMTEST_FILTER=a,b        run only these guest tests ("00-boot", "boot", globs)
#   VMTEST_TIMEOUT=600       overall limit in seconds for the whole boot
#   VMTEST_TEST_TIMEOUT=120  per-test limit inside the guest ("# vm: timeout=N"
#                            in a script's first 20 lines overrides it)
#   VMTEST_KERNEL=path       kernel image (default: newest /boot/vmlinuz-6.1*)
#   VMTEST_MODULES="null_blk loop zram"  kernel modules (with their
#                            dependencies) put in the initramfs for modprobe
#   VMTEST_TOOLS="jq bpftool"  host programs copied in when present
#   VMTEST_OUT=dir           where the initramfs and logs go (default BUILD_DIR/vm;
#                            give each concurrent run its own)
#   VMTEST_VERBOSE=1         stream the guest console to stderr while it runs
#   VMTEST_GUEST_DIR=dir     run dir/*.sh in the guest instead of tests/vm/guest/*.sh
#                            (e.g. tests/vm/bench); tests/vm/guest/lib.sh is put
#                            beside them as /tests/lib.sh unless dir has its own
#   VMTEST_APPEND="k=v ..."  added to the kernel command line (knobs for guest scripts)
#
# Exit: 0 no failure, 1 a failure, 77 cannot run here ("skip: <reason>").
set -euo pipefail

case $0 in */*) here=${0%/*} ;; *) here=. ;; esac
here=$(cd "$here" && pwd)
build=${1:-build}
limit=${VMTEST_TIMEOUT:-600}
test_limit=${VMTEST_TEST_TIMEOUT:-120}
modules=${VMTEST_MODULES-null_blk loop zram}
tools=${VMTEST_TOOLS-jq bpftool}

skip() { echo "skip: $*"; exit 77; }
note() { echo "vm: $*" >&2; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# --- can we run here? ---------------------------------------------------------
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed"
if [ -n "${VMTEST_KERNEL:-}" ]; then
	kernel=$VMTEST_KERNEL
else
	kernel=$(ls -1 /boot/vmlinuz-6.1* 2>/dev/null | sort -V | tail -n 1 || true)
fi
[ -n "$kernel" ] && [ -f "$kernel" ] || skip "no kernel /boot/vmlinuz-6.1* (install linux-image-amd64)"
[ -r "$kernel" ] || skip "kernel $kernel not readable"
for c in cpio gzip ldd timeout flock; do
	command -v "$c" >/dev/null || skip "$c not installed"
done
busybox=
for b in /bin/busybox /usr/bin/busybox; do
	if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then busybox=$b; break; fi
done
[ -n "$busybox" ] || skip "no static busybox (install busybox-static)"
mkdir -p "$build" 2>/dev/null || skip "cannot create $build"
build=$(cd "$build" && pwd)
kver=${kernel##*/vmlinuz-}
moddir=/lib/modules/$kver

out=${VMTEST_OUT:-$build/vm}
mkdir -p "$out"
exec 9>"$out/.lock"
flock 9	# one VM run per build directory at a time
root=$(mktemp -d "$out/root.XXXXXX")
chmod 755 "$root"
tail_pid=
qemu_pid=
cleanup() {
	# timeout(1) passes the signal on to qemu
	if [ -n "$qemu_pid" ]; then kill "$qemu_pid" 2>/dev/null || true; fi
	if [ -n "$tail_pid" ]; then kill "$tail_pid" 2>/dev/null || true; fi
	rm -rf "$root"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- initramfs ------------------------------------------------------------------
t_start=$(date +%s.%N)
# Mirror the host's top-level layout (merged /usr or not) so every path ldd
# prints exists in the guest as it does here.
for d in bin sbin lib lib64; do
	if [ -L "/$d" ]; then
		ln -s "$(readlink "/$d")" "$root/$d"
	fi
done
mkdir -p "$root"/{usr/bin,usr/sbin,usr/lib,usr/lib64,usr/local/bin,usr/local/sbin}
mkdir -p "$root"/{bin,sbin,lib,lib64,dev,proc,sys,tmp,run,etc,root,tests,var/lib,var/log,var/tmp,mnt}
if [ "$(id -u)" = 0 ]; then
	mknod -m 600 "$root/dev/console" c 5 1
	mknod -m 666 "$root/dev/null" c 1 3
fi

cp "$busybox" "$root/bin/busybox"
# --list-full gives each applet's usual directory (bin/ls, usr/sbin/...)
"$busybox" --list-full | while read -r a; do
	case $a in bin/busybox | linuxrc | */linuxrc | "") continue ;; esac
	[ -e "$root/$a" ] || [ -L "$root/$a" ] || ln -s /bin/busybox "$root/$a"
done

declare -A copied=()
copy_file() {	# copy_file SRC [DEST]: same path in the guest unless DEST given
	local src=$1 dst=${2:-$1}
	[ -n "${copied[$dst]:-}" ] && return 0
	copied[$dst]=1
	mkdir -p "$root$(dirname "$dst")"
	cp -L "$src" "$root$dst"
}
copy_libs() {	# copy_libs BINARY: the shared libraries and loader ldd lists
	local line lib
	if ! ldd "$1" >/dev/null 2>&1; then return 0; fi	# static or a script
	while read -r line; do
		case $line in
		*"=> not found"*)
			echo "RESULT fail vm/initramfs $1 needs ${line%% =>*}, which ldd cannot find"
			exit 1 ;;
		*"=> /"*) lib=${line#*=> }; lib=${lib%% (*} ;;
		/*) lib=${line%% (*} ;;
		*) continue ;;	# linux-vdso.so.1
		esac
		copy_file "$lib"
	done < <(ldd "$1")
}
add_bin() {	# add_bin SRC DEST
	copy_file "$1" "$2"
	chmod 755 "$root$2"
	copy_libs "$1"
}

for b in htmd htmctl; do
	if [ -x "$build/$b" ]; then
		add_bin "$build/$b" "/usr/local/bin/$b"
	else
		note "$build/$b not built; tests that need it will fail"
	fi
done
if [ -d "$build/tests/bin" ]; then
	for f in "$build/tests/bin"/*; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		add_bin "$f" "/usr/local/bin/${f##*/}"
	done
fi
for t in $tools; do
	p=$(command -v "$t" 2>/dev/null || true)
	if [ -n "$p" ] && [ -x "$p" ]; then add_bin "$p" "$(readlink -f "$p")"; fi
done

# Kernel modules and their dependencies, for busybox modprobe.
if [ -n "$modules" ] && [ -r "$moddir/modules.dep" ]; then
	declare -A want=()
	for m in $modules; do
		line=$(grep -E "/${m//_/[_-]}\.ko(\.[a-z]+)?:" "$moddir/modules.dep" || true)
		[ -n "$line" ] || { note "module $m not found in $moddir"; continue; }
		for f in ${line/:/}; do want[$f]=1; done
	done
	mkdir -p "$root$moddir"
	for f in "${!want[@]}"; do
		copy_file "$moddir/$f"
		grep -E "^$f:" "$moddir/modules.dep" >> "$root$moddir/modules.dep"
	done
	touch "$root$moddir/modules.dep"
fi

cat > "$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
htmuser:x:1000:1000:htm test user:/tmp:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat > "$root/etc/group" <<'EOF'
root:x:0:
htmadmin:x:1001:htmuser
htmuser:x:1000:
nogroup:x:65534:
EOF
echo "127.0.0.1 localhost htm-vm" > "$root/etc/hosts"

cp "$here/init.sh" "$root/init"
chmod 755 "$root/init"
n_tests=0
guest_dir=${VMTEST_GUEST_DIR:-$here/guest}
[ -d "$guest_dir" ] || { echo "RESULT fail vm/initramfs no guest directory $guest_dir"; exit 1; }
cp "$here/guest/lib.sh" "$root/tests/lib.sh"
for f in "$guest_dir"/*.sh; do
	[ -f "$f" ] || continue
	cp "$f" "$root/tests/"
	case ${f##*/} in lib.sh) ;; *) n_tests=$((n_tests + 1)) ;; esac
done

img=$out/initramfs.cpio.gz
(cd "$root" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc -R 0:0 --quiet) | gzip -1 > "$img.tmp"
mv "$img.tmp" "$img"
t_built=$(date +%s.%N)
note "initramfs $(du -k "$img" | cut -f1) KiB, $n_tests guest tests, kernel $kver ($(elapsed "$t_start" "$t_built") s to build)"

# --- boot ---------------------------------------------------------------------------
console=$out/console.log
results=$out/results.log
: > "$console"
: > "$results"
append="console=ttyS0 panic=-1 psi=1 quiet htm.timeout=$test_limit"
[ -n "${VMTEST_FILTER:-}" ] && append="$append htm.tests=$VMTEST_FILTER"
[ -n "${VMTEST_APPEND:-}" ] && append="$append $VMTEST_APPEND"

if [ "${VMTEST_VERBOSE:-0}" != 0 ]; then
	tail -n +1 -F "$console" >&2 2>/dev/null &
	tail_pid=$!
fi

note "booting (limit $limit s)"
set +e
timeout -k 5 "$limit" qemu-system-x86_64 \
	-accel tcg -cpu max -m 1024 -smp 2 \
	-nographic -no-reboot -nodefaults -no-user-config \
	-monitor none \
	-serial "file:$console" -serial "file:$results" \
	-kernel "$kernel" -initrd "$img" -append "$append" \
	< /dev/null > "$out/qemu.err" 2>&1 &
qemu_pid=$!
wait "$qemu_pid"
qrc=$?
qemu_pid=
set -e
t_end=$(date +%s.%N)
note "qemu ran $(elapsed "$t_built" "$t_end") s (exit status $qrc)"
if [ -n "$tail_pid" ]; then
	sleep 0.2
	kill "$tail_pid" 2>/dev/null || true
	tail_pid=
fi

# --- report -------------------------------------------------------------------------
failed=0
tr -d '\r' < "$results" > "$results.txt"
while IFS= read -r line; do
	case $line in
	"RESULT fail "*) echo "$line"; failed=1 ;;
	"RESULT pass "* | "RESULT skip "*) echo "$line" ;;
	esac
done < "$results.txt"
# The test that was running when the guest stopped, if any.
inflight=$(tr -d '\r' < "$console" | awk '
	/^\[init\] === .* ===$/ { t = $3 }
	/^\[init\] --- .* done in / { t = "" }
	END { if (t != "") print " (while running " t ")" }')
if [ $qrc = 124 ] || [ $qrc = 137 ]; then
	echo "RESULT fail vm/boot guest did not power off within $limit s$inflight"
	failed=1
elif ! grep -qx 'RESULT-END' "$results.txt"; then
	why=
	[ $qrc != 0 ] && why=" (qemu exit status $qrc: $(head -c 200 "$out/qemu.err" | tr '\n' ' '))"
	echo "RESULT fail vm/boot guest ended without completing$inflight$why"
	failed=1
fi
rm -f "$results.txt"

if [ $failed != 0 ]; then
	echo "--- last 40 lines of $console ---"
	tail -n 40 "$console" | tr -d '\r' | sed 's/^/  | /'
	[ -s "$out/qemu.err" ] && { echo "--- $out/qemu.err ---"; sed 's/^/  | /' "$out/qemu.err"; }
	exit 1
fi
exit 0
