#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Load and unload ckpt.ko 20 times; each time /dev/ckpt must appear, answer
# CKPT_IOC_VERSION, and disappear on rmmod. The guest runner judges dmesg
# (oops, WARN, KASAN, lockdep, kmemleak) after all tests.
#
# CKPT_KO: path of ckpt.ko (set by tools/testing/vm-run).

set -u
ksft_skip=4
ROUNDS=${ROUNDS:-20}
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
insmod "$CKPT_KO" || fail "final insmod"
echo "ok: $ROUNDS load/unload rounds"
