#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Load and unload ckpt.ko 6 times; each time /dev/ckpt must appear, answer
# CKPT_IOC_VERSION, and disappear on rmmod. The guest runner judges dmesg
# (oops, WARN, KASAN, lockdep, kmemleak) after all tests.
#
# Then each CRC-32C implementation the crc32c parameter can force
# (src/checksum.rs; by default the module times both and the rest of the
# suite runs with the faster): the images the module writes with it (file
# contents of a memfd, a whole process's pages) must check with the codec's
# tables (ckpt show), and an image the tools wrote with the tables (ckpt
# synth) must restart with it, the memfd's contents intact.
#
# CKPT_KO: path of ckpt.ko (set by tools/testing/vm-run).
# CKPT_CLI: path of the ckpt binary (default: the release build in tools/).

set -u
ksft_skip=4
# Each round costs about 5 s under TCG and KASAN (the module times both
# CRC-32C implementations at load): 6, not more.
ROUNDS=${ROUNDS:-6}
here=$(dirname "$(readlink -f "$0")")

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit $ksft_skip; }
[ -n "${CKPT_KO:-}" ] && [ -f "$CKPT_KO" ] || { echo "SKIP: CKPT_KO not set"; exit $ksft_skip; }

fail() {
	echo "FAIL: $*"
	# leave the module loaded for the tests that follow
	grep -q '^ckpt ' /proc/modules || insmod "$CKPT_KO"
	exit 1
}

grep -q '^ckpt ' /proc/modules && { rmmod ckpt || fail "initial rmmod"; }

for i in $(seq 1 "$ROUNDS"); do
	insmod "$CKPT_KO" || fail "round $i: insmod"
	# devtmpfs creates the node synchronously with misc_register()
	[ -c /dev/ckpt ] || fail "round $i: /dev/ckpt missing after insmod"
	# -t with a name that matches nothing runs nothing and exits 0: the
	# test must be seen passing
	out=$("${CKPT_SELFTEST_BIN:-$here/build}/ckpt_ioctl_test" -t version 2>&1) &&
		[[ $out == *$'\nok 1 dev.version'* ]] || fail "round $i: CKPT_IOC_VERSION: $out"
	rmmod ckpt || fail "round $i: rmmod"
	[ ! -e /dev/ckpt ] || fail "round $i: /dev/ckpt still there after rmmod"
done
echo "ok: $ROUNDS load/unload rounds"

cli=${CKPT_CLI:-$here/../../../target/release/ckpt}
py=/usr/bin/python3
[ -x "$cli" ] && [ -x "$py" ] || fail "$cli or $py missing (make tools)"
# The kselftest runner leaves pipes open on fds 3 and 4; the programs dumped
# here must not inherit them (a pipe is refused unless declared external).
exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
work=$(mktemp -d /tmp/ckpt-modload.XXXXXX)
trap 'umount "$work" 2>/dev/null; rm -rf "$work"' EXIT
# tmpfs: the process dumped below maps only files this test made.
mount -t tmpfs -o size=64m tmpfs "$work" || fail "mount tmpfs"
cp "${CKPT_SELFTEST_BIN:-$here/build}/ckpt_process_glibc_child" "$work/child" ||
	fail "no ckpt_process_glibc_child"

# A memfd of 1 MiB and 5 bytes at fd 7 (two FILE_DATA records, the first
# written straight to the output); stops itself to be dumped. (It
# closes its stderr: ckpt dump, which shares it, writes on after the dump.)
holder='
import os, signal
os.close(2)
fd = os.memfd_create("data")
os.write(fd, bytes(range(256)) * 4096 + b"tail!")
os.dup2(fd, 7)
os.close(fd)
os.kill(os.getpid(), signal.SIGSTOP)'
# Run after a restore: fd 7 must hold those bytes.
check='
import os, sys
os.lseek(7, 0, os.SEEK_SET)
got = b"".join(iter(lambda: os.read(7, 1 << 20), b""))
sys.exit(0 if got == bytes(range(256)) * 4096 + b"tail!" else 1)'

for crc in 1 2; do
	what=$([ "$crc" = 1 ] && echo "the kernel's crc32c()" || echo "the codec's tables")
	at="crc32c=$crc ($what)"
	if grep -q '^ckpt ' /proc/modules; then rmmod ckpt || fail "$at: rmmod"; fi
	seen=$(dmesg | wc -l)
	insmod "$CKPT_KO" crc32c="$crc" || fail "$at: insmod"
	dmesg | tail -n +"$((seen + 1))" | grep -qF "CRC-32C: $what, as the crc32c parameter says" ||
		fail "$at: the module did not log its choice: $(dmesg | tail -n 3)"
	"$cli" dump --kill --file-contents --output "$work/m.img" -- "$py" -c "$holder" 2>"$work/dump.err" ||
		fail "$at: dump of a memfd: $(tail -n 3 "$work/dump.err")"
	"$cli" show "$work/m.img" >"$work/show.txt" 2>&1 && grep -Eq ': file [0-9]+ bytes ' "$work/show.txt" ||
		fail "$at: the memfd image does not check with the tables: $(tail -n 3 "$work/show.txt")"
	{ "$cli" show --json "$work/m.img" >"$work/m.json" &&
		"$cli" synth "$work/m.json" -o "$work/synth.img"; } 2>"$work/err" ||
		fail "$at: re-encoding with the tables: $(tail -n 3 "$work/err")"
	"$cli" restore --quiet --replace --no-precheck --image "$work/synth.img" -- "$py" -c "$check" 2>"$work/err" ||
		fail "$at: restart of the tools' image, or its contents: $(tail -n 3 "$work/err")"
	"$work/child" </dev/null >/dev/null 2>&1 3>/dev/null &
	child=$!
	for _ in $(seq 300); do
		[ "$(awk '{ print $3 }' "/proc/$child/stat" 2>/dev/null)" = T ] && break
		sleep 0.1
	done
	"$cli" dump --process --kill --pid "$child" --output "$work/p.img" 2>"$work/err" ||
		fail "$at: dump of a process: $(tail -n 3 "$work/err")"
	wait "$child" 2>/dev/null
	"$cli" show "$work/p.img" >"$work/show.txt" 2>&1 && grep -q ' pages crc32c .* verified' "$work/show.txt" ||
		fail "$at: the process image does not check with the tables: $(tail -n 3 "$work/show.txt")"
	echo "ok: $at: the module's images check with the tables, and the tools' restart"
done
rm -f "$work"/*.img
rmmod ckpt || fail "rmmod after the crc32c rounds"
seen=$(dmesg | wc -l)
insmod "$CKPT_KO" || fail "final insmod"
chosen=$(dmesg | tail -n +"$((seen + 1))" | grep -o 'CRC-32C: .*')
[[ $chosen == *"the faster here"* ]] || fail "the module did not log its CRC-32C choice at load"
echo "ok: by default, $chosen"
