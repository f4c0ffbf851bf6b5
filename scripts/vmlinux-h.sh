#!/bin/sh
# Print vmlinux.h for a compressed kernel image (a Debian vmlinuz): find the
# xz stream, decompress the ELF vmlinux and dump its .BTF section as C.
set -eu
img=${1:?usage: vmlinux-h.sh /boot/vmlinuz-VERSION}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# bzImage: setup code, then the payload; the xz magic marks the payload
for off in $(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$img" | cut -d: -f1); do
	tail -c +$((off + 1)) "$img" | xz -dc >"$tmp/vmlinux" 2>/dev/null || true
	if bpftool btf dump file "$tmp/vmlinux" format c >"$tmp/vmlinux.h" 2>/dev/null; then
		cat "$tmp/vmlinux.h"
		exit 0
	fi
done
echo "vmlinux-h: no BTF found in $img (needs an xz-compressed kernel with CONFIG_DEBUG_INFO_BTF)" >&2
exit 1
