#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ckpt restore end to end: a small program opens a file on tmpfs at fd 5 and
# one on an ext4 loop mount at fd 7 (dup'd to fd 8, and fd 5 to fd 9
# close-on-exec), moves their offsets, records what /proc says about them and
# stops itself; ckpt dump checkpoints it, and `ckpt restore -- CMD` must hand
# CMD the same fds: same files, offsets and flags, fd 8 still sharing fd 7's
# offset, fd 9 closed by the exec. Also: ckptc restore, streaming from ckpt
# dump, the rest of a pipe left to CMD, the default command, and refusals: a
# busy fd (and --replace), a corrupt image (codec: exit 2; kernel with
# --no-precheck: exit 3), a changed file (and --ignore-content). An image with
# file contents, whose data the CLI passes over unread: restored from a file
# and from a pipe, and a byte of the contents flipped is refused by the kernel.
#
# CKPT_CLI: path of the ckpt binary (default: the release build in tools/).
set -u
here=$(dirname "$(readlink -f "$0")")
# The kernel's KTAP helpers: one "ok N"/"not ok N" line per check.
ktap=${KSFT_DIR:-${KDIR:-/nonexistent}/source/tools/testing/selftests}/kselftest/ktap_helpers.sh
[ -f "$ktap" ] || { echo "FAIL: no $ktap (set KSFT_DIR or KDIR)"; exit 1; }
. "$ktap"
cli=${CKPT_CLI:-$here/../../../target/release/ckpt}
ckptc=$here/../../../ckptc/ckptc
py=/usr/bin/python3

# Skipping is not an option here: a missing prerequisite is a failure.
for need in "$cli" "$ckptc" "$py"; do
	[ -x "$need" ] || { echo "FAIL: $need missing (make tools)"; exit 1; }
done
command -v mkfs.ext4 >/dev/null || { echo "FAIL: no mkfs.ext4"; exit 1; }
[ -c /dev/ckpt ] || { echo "FAIL: /dev/ckpt missing"; exit 1; }

# The kselftest runner leaves pipes open on fds 3 and 4; neither the dumped
# program nor the restorer may have anything at the image's fd numbers.
exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-

work=$(mktemp -d /tmp/ckpt-restore.XXXXXX)
cleanup() {
	umount "$work/ext4" 2>/dev/null
	umount "$work" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
mount -t tmpfs -o size=128m tmpfs "$work" || { echo "FAIL: mount tmpfs"; exit 1; }
mkdir "$work/ext4"
if ! mkfs.ext4 -q -F "$work/ext4.fs" 32M >/dev/null 2>&1 ||
	! mount -o loop "$work/ext4.fs" "$work/ext4"; then
	echo "FAIL: mkfs.ext4 or loop mount"
	exit 1
fi
ktap_print_header
ktap_set_plan 18

fail() {
	local m="$*"
	ktap_test_fail "${m//$'\n'/; }"
}
pass() {
	local m="$*"
	ktap_test_pass "${m//$'\n'/; }"
}

tfile=$work/tmpfs-file
efile=$work/ext4/ext4-file
printf 'tmpfs: 0123456789\n' >"$tfile"
printf 'ext4: abcdefghijklmnopqrstuvwxyz\n' >"$efile"

# The program to dump: fd 5 = tmpfs file O_RDWR|O_APPEND at offset 3, fd 7 =
# ext4 file O_RDONLY|O_NONBLOCK at offset 11, fd 8 = dup of 7, fd 9 = dup of 5
# close-on-exec. Writes what /proc says about each fd to EXPECT, then stops.
holder=$work/holder.py
cat >"$holder" <<'EOF'
import os, signal, sys
expect, tfile, efile = sys.argv[1:4]
def place(path, flags, fd, pos):
    got = os.open(path, flags)
    if got != fd:
        os.dup2(got, fd)
        os.close(got)
    os.set_inheritable(fd, True)
    os.lseek(fd, pos, os.SEEK_SET)
place(tfile, os.O_RDWR | os.O_APPEND, 5, 3)
place(efile, os.O_RDONLY | os.O_NONBLOCK, 7, 11)
os.dup2(7, 8)
os.dup2(5, 9, inheritable=False)
with open(expect, "w") as out:
    for fd in (5, 7, 8):
        info = dict(l.split(":", 1) for l in open(f"/proc/self/fdinfo/{fd}"))
        print("fd", fd, os.readlink(f"/proc/self/fd/{fd}"), *(info[k].strip() for k in
              ("pos", "flags", "mnt_id", "ino")), file=out)
    print("absent 9", file=out)
    print("next 7", os.pread(7, 4, os.lseek(7, 0, os.SEEK_CUR)).decode(), 8, file=out)
os.kill(os.getpid(), signal.SIGSTOP)
EOF

# The command restored into: checks its own fds against EXPECT, says
# "verified". Bash builtins where possible: forks are slow in the guest.
verify=$work/verify.sh
cat >"$verify" <<'EOF'
bad=0 checked=0
no() { echo "  mismatch: $*"; bad=1; }
# fdinfo FD: pos, flags, mnt_id and ino of this shell's FD.
fdinfo() {
	local k v
	pos=- flags=- mnt_id=- ino=-
	while read -r k v; do
		case $k in
		pos:) pos=$v ;; flags:) flags=$v ;; mnt_id:) mnt_id=$v ;; ino:) ino=$v ;;
		esac
	done <"/proc/$$/fdinfo/$1"
}
while read -r what fd path want_pos want_flags want_mnt want_ino; do
	case $what in
	fd)
		[ -e "/proc/$$/fd/$fd" ] || { no "fd $fd not open"; continue; }
		got=$(readlink "/proc/$$/fd/$fd")
		[ "$got" = "$path" ] || no "fd $fd -> $got, expected $path"
		fdinfo "$fd"
		[ "$pos" = "$want_pos" ] || no "fd $fd pos $pos, expected $want_pos"
		[ "$flags" = "$want_flags" ] || no "fd $fd flags $flags, expected $want_flags"
		[ "$mnt_id" = "$want_mnt" ] || no "fd $fd mnt_id $mnt_id, expected $want_mnt"
		[ "$ino" = "$want_ino" ] || no "fd $fd ino $ino, expected $want_ino"
		checked=$((checked + 1))
		;;
	absent)
		[ -e "/proc/$$/fd/$fd" ] && no "fd $fd (close-on-exec) survived the exec"
		checked=$((checked + 1))
		;;
	next)
		# "next 7 TEXT 8": fd 7 reads on with TEXT, and fd 8, sharing
		# fd 7's open file, moves along.
		other=$want_pos
		fdinfo "$other"
		before=$pos
		read -r -N "${#path}" got <&"$fd"
		[ "$got" = "$path" ] || no "fd $fd reads '$got', expected '$path'"
		fdinfo "$other"
		[ "$pos" = $((before + ${#path})) ] ||
			no "fd $other pos $pos after reading ${#path} bytes of fd $fd at $before"
		checked=$((checked + 1))
		;;
	*) no "unknown expectation line: $what $fd $path" ;;
	esac
done <"$1"
# An empty or cut expectation verifies nothing: 3 fds, 1 absent, 1 shared offset.
[ "$checked" = 5 ] || no "$checked of the 5 expectations in $1 checked"
[ $bad = 0 ] && echo verified
exit $bad
EOF

img=$work/holder.img
expect=$work/expect
# stdin, stdout and stderr of the dumped program are pipes, so ckpt dump
# declares them external and the restorer's own 0-2 stand in for them.
if ! out=$(: | "$cli" dump --kill --output "$img" -- "$py" "$holder" "$expect" "$tfile" "$efile" 2>&1); then
	echo "$out"
	echo "FAIL: ckpt dump of the holder"
	exit 1
fi
echo "# dumped: $(echo "$out" | tail -n 1); expecting:"
sed 's/^/#   /' "$expect"

# restore_ok NAME CMD...: CMD must exit 0 and print "verified".
restore_ok() {
	local name=$1 out status
	shift
	out=$(: | "$@" 2>&1)
	status=$?
	if [ $status = 0 ] && [[ $out == verified || $out == *$'\n'verified ]]; then
		out=${out%verified}
		pass "$name: ${out//$'\n'/ }"
	else
		fail "$name: exit $status: ${out//$'\n'/ }"
	fi
}

# restore_refused NAME STATUS PATTERN CMD...: CMD must exit STATUS with a
# message matching PATTERN (a bash regex).
restore_refused() {
	local name=$1 want=$2 pattern=$3 out status
	shift 3
	out=$(: | "$@" 2>&1)
	status=$?
	if [ $status = "$want" ] && [[ $out =~ $pattern ]]; then
		pass "$name: exit $status: $out"
	else
		fail "$name: exit $status (want $want, /$pattern/): $out"
	fi
}

restore_ok "restore from a file: fds 5, 7, 8 as dumped, 9 closed on exec" \
	"$cli" restore --image "$img" -- bash "$verify" "$expect"

out=$(: | "$cli" restore --image "$img" -- true 2>&1)
counts='^ckpt: restore: 4 fds restored, 3 external kept \([0-9]+ bytes of image\); exec true$'
if [[ $out =~ $counts ]]; then
	pass "restore reports its counts: $out"
else
	fail "restore report: $out"
fi
out=$(: | "$cli" restore -q --image "$img" -- true 2>&1)
[ -z "$out" ] && pass "-q: nothing on stderr" || fail "-q printed: $out"

restore_ok "ckptc restore 20 20<IMAGE" "$ckptc" restore 20 20<"$img" bash "$verify" "$expect"

# Streaming, with a second dump of the same program.
expect2=$work/expect2
out=$( (set -o pipefail; : | "$cli" dump --kill --output - -- "$py" "$holder" "$expect2" "$tfile" "$efile" |
	"$cli" restore --image - -- bash "$verify" "$expect2") 2>&1)
if [ $? = 0 ] && [[ $out == *$'\n'verified ]]; then
	pass "ckpt dump --output - | ckpt restore --image -: ${out//$'\n'/ }"
else
	fail "streaming: $(echo "$out" | tr '\n' ' ')"
fi

# The image is read up to its terminator: the rest of the pipe is CMD's stdin.
out=$({ cat "$img"; echo "after the image"; } | "$cli" restore -q --image - -- cat 2>&1)
[ "$out" = "after the image" ] && pass "stdin past the image is left to CMD" ||
	fail "rest of stdin: '$out'"

# Without a command: $SHELL, reading its commands from stdin here.
out=$(echo 'readlink /proc/$$/fd/7' | SHELL=/bin/sh "$cli" restore -q --image "$img" 2>&1)
[ "$out" = "$efile" ] && pass "default command \$SHELL sees fd 7 -> $out" ||
	fail "default command: '$out'"

restore_refused "exec of a missing command" 127 'ckpt: restore: exec /nonexistent/cmd: .*No such file' \
	"$cli" restore -q --image "$img" -- /nonexistent/cmd

# An fd of the restorer at one of the image's numbers.
restore_refused "fd 5 busy" 3 '^ckpt: restore: .*\(reason fd_busy, fd 5[,)]' \
	"$cli" restore --image "$img" -- true 5</dev/null
restore_ok "fd 5 busy, --replace" "$cli" restore --replace --image "$img" -- bash "$verify" "$expect" 5</dev/null

# A corrupt image: a byte of the ext4 file's path flipped.
bad=$work/corrupt.img
cp "$img" "$bad"
at=$(grep -boa 'ext4-file' "$bad" | head -n 1 | cut -d: -f1)
printf 'X' | dd of="$bad" bs=1 seek="$at" conv=notrunc 2>/dev/null
restore_refused "corrupt image, codec" 2 '^ckpt: restore: .*checksum mismatch' \
	"$cli" restore --image "$bad" -- true
restore_refused "corrupt image, --no-precheck: the kernel" 3 '^ckpt: restore: .*\(reason bad_image' \
	"$cli" restore --no-precheck --image "$bad" -- true
restore_refused "not an image" 2 '^ckpt: restore: ' \
	"$cli" restore --image "$verify" -- true

# File contents: fd 5 an unlinked tmpfs file. The CLI passes over them (it
# does not read them from a file), so the kernel alone checks them.
contents="contents of an unlinked file, $(date +%N)"
cimg=$work/contents.img
if ! out=$(: | "$cli" dump --kill --file-contents --output "$cimg" -- "$py" -c '
import os, signal, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
os.write(fd, sys.argv[2].encode())
os.unlink(sys.argv[1])
os.dup2(fd, 5)
os.close(fd)
os.lseek(5, 0, os.SEEK_SET)
os.kill(os.getpid(), signal.SIGSTOP)' "$work/gone" "$contents" 2>&1); then
	fail "ckpt dump --file-contents of an unlinked file: $out"
	fail "(skipped: no image) restore of file contents from a pipe"
	fail "(skipped: no image) flipped byte of file contents"
else
	# restore_contents NAME CMD...: CMD -- cat <&5 must print the contents.
	restore_contents() {
		local name=$1 out
		shift
		out=$("$@" -- sh -c 'cat <&5' 2>&1)
		[ "$out" = "$contents" ] && pass "$name: fd 5 reads back" ||
			fail "$name: fd 5 reads '$out', expected '$contents'"
	}
	restore_contents "file contents, image in a file" "$cli" restore -q --image "$cimg"
	restore_contents "file contents, image from a pipe" \
		sh -c 'c=$0 i=$1; shift; cat "$i" | "$c" restore -q --image - "$@"' "$cli" "$cimg"
	bad=$work/contents-corrupt.img
	cp "$cimg" "$bad"
	at=$(grep -boa 'contents of an unlinked' "$bad" | head -n 1 | cut -d: -f1)
	printf 'C' | dd of="$bad" bs=1 seek="$at" conv=notrunc 2>/dev/null
	restore_refused "a byte of file contents flipped: the kernel" 3 \
		'^ckpt: restore: .*checksum.*\(reason bad_image' \
		"$cli" restore --image "$bad" -- true
fi

# Last, as it changes the file: the dumped file grew.
printf 'more\n' >>"$tfile"
restore_refused "changed file" 3 '^ckpt: restore: .*fd 5.*\(reason file_changed, fd 5[,)]' \
	"$cli" restore --image "$img" -- true
out=$(: | "$cli" restore --ignore-content --image "$img" -- sh -c 'readlink /proc/$$/fd/5; sed -n "s/^pos:[[:space:]]*//p" /proc/$$/fdinfo/5' 2>&1)
if [ "$(echo "$out" | tail -n 2 | tr '\n' ' ')" = "$tfile 3 " ]; then
	pass "changed file, --ignore-content: fd 5 -> $tfile at 3"
else
	fail "--ignore-content: $(echo "$out" | tr '\n' ' ')"
fi

ktap_finished
