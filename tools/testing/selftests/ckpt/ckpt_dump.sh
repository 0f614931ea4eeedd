#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ckpt dump end to end, on real file systems: tmpfs, and ext2, ext3 and ext4
# made with mkfs and mounted on loop devices. A small program opens files of
# every supported kind, stops itself, is dumped, and the image is decoded
# with the codec (ckpt show --json) and its fields asserted. Also: deny by
# default names the fd and kind, --pid leaves the target running, and the
# image streams through a pipe.
#
# CKPT_CLI: path of the ckpt binary (default: the release build in tools/).
set -u
ksft_skip=4
here=$(dirname "$(readlink -f "$0")")
# The kernel's KTAP helpers: one "ok N"/"not ok N" line per check.
ktap=${KSFT_DIR:-${KDIR:-/nonexistent}/source/tools/testing/selftests}/kselftest/ktap_helpers.sh
[ -f "$ktap" ] || { echo "FAIL: no $ktap (set KSFT_DIR or KDIR)"; exit 1; }
. "$ktap"
cli=${CKPT_CLI:-$here/../../../target/release/ckpt}
py=/usr/bin/python3

[ -x "$cli" ] || { echo "SKIP: no ckpt CLI at $cli"; exit $ksft_skip; }
[ -x "$py" ] || { echo "SKIP: no $py"; exit $ksft_skip; }
command -v jq >/dev/null || { echo "FAIL: jq is needed (tools/testing/setup-host)"; exit 1; }
command -v mkfs.ext4 >/dev/null || { echo "SKIP: no mkfs.ext4"; exit $ksft_skip; }

# The kselftest runner leaves pipes open on fds 3 and 4; the programs dumped
# here must not inherit them (a pipe is refused unless declared external).
exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-

work=$(mktemp -d /tmp/ckpt-dump.XXXXXX)
cleanup() {
	for m in "$work"/mnt-*; do umount "$m" 2>/dev/null; done
	umount "$work" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
mount -t tmpfs -o size=256m tmpfs "$work" || { echo "FAIL: mount tmpfs"; exit 1; }
ktap_print_header
ktap_set_plan 8

fail() {
	local m="$*"
	ktap_test_fail "${m//$'\n'/; }"
}
pass() {
	local m="$*"
	ktap_test_pass "${m//$'\n'/; }"
}

# The target: opens the files named in its arguments as "fd:path:flags[:pos]",
# dups fd 3 to fd 100 (close-on-exec), then stops itself and, once resumed,
# exits. Everything it has open is then checkpointed.
target=$work/target.py
cat >"$target" <<'EOF'
import os, signal, sys
for spec in sys.argv[1:]:
    fd, path, flags, *pos = spec.split(":")
    fl = {"r": os.O_RDONLY, "w": os.O_WRONLY, "rw": os.O_RDWR, "a": os.O_WRONLY | os.O_APPEND,
          "d": os.O_RDONLY | os.O_DIRECTORY, "nb": os.O_RDONLY | os.O_NONBLOCK}[flags]
    got = os.open(path, fl)
    if got != int(fd):
        os.dup2(got, int(fd), inheritable=True)
        os.close(got)
    # Python opens close-on-exec; the files under test are not
    os.set_inheritable(int(fd), True)
    if pos:
        os.lseek(int(fd), int(pos[0]), os.SEEK_SET)
os.dup2(3, 100, inheritable=False)
os.kill(os.getpid(), signal.SIGSTOP)
EOF

# check_image IMAGE FSTYPE: assert the decoded image of a target run with the
# file set below; prints what is wrong, fails if anything is.
check_image() {
	local errors
	"$cli" show --json "$1" >"$1.json" || { echo "ckpt show --json failed"; return 1; }
	errors=$(jq -r --arg fs "$2" '
		($fs | startswith("ext")) as $ext
		| [.records[] | select(.type == "file")] as $files
		| ([.records[] | select(.type == "file_table")][0].entries) as $table
		| ([.records[] | select(.type == "task")][0]) as $task
		| (reduce $table[] as $e ({}; .[$e.fd | tostring] = $e)) as $by
		| def f($fd): $by[$fd | tostring].file as $id | [$files[] | select(.id == $id)][0];
		  def bit($v; $b): (($v / $b) | floor) % 2 == 1;
		[
		  [f(3).kind == (if $ext then "ext" else "regular" end), "fd 3 kind \(f(3).kind)"],
		  [f(3).pos == 5, "fd 3 pos \(f(3).pos)"],
		  [f(3).path | endswith("/data"), "fd 3 path \(f(3).path)"],
		  [f(3).size == 11, "fd 3 size \(f(3).size)"],
		  [($ext | not) or (f(3) | has("generation") and (.handle | length) > 0), "fd 3 handle"],
		  [$by["100"].file == $by["3"].file, "fd 100 shares fd 3 file"],
		  [$by["100"].cloexec and ($by["3"].cloexec | not), "cloexec flags"],
		  [bit(f(4).f_flags; 1024), "fd 4 O_APPEND \(f(4).f_flags)"],
		  [f(5).kind == (if $ext then "ext_directory" else "directory" end), "fd 5 kind \(f(5).kind)"],
		  [($ext | not) or f(5).cookie == "hash64", "fd 5 cookie \(f(5).cookie)"],
		  [f(6).kind == "char_device" and f(6).path == "/dev/null", "fd 6 \(f(6))"],
		  [bit(f(7).f_flags; 2048), "fd 7 O_NONBLOCK \(f(7).f_flags)"],
		  [f(8).pos == 5 * 1073741824, "fd 8 pos \(f(8).pos) (sparse file, > 4 GiB)"],
		  [$task.comm | startswith("python"), "task comm \($task.comm)"],
		  [.environment != null, "environment vector"]
		] | .[] | select(.[0] | not) | .[1]' "$1.json") || { echo "jq failed on $1.json"; return 1; }
	[ -z "$errors" ] || { echo "$errors"; return 1; }
}

# run_target DIR FSTYPE: make the files, dump the target, check the image.
run_target() {
	local dir=$1 fstype=$2 img=$work/$2.img
	printf 'hello world' >"$dir/data"
	: >"$dir/log"
	mkdir -p "$dir/subdir"
	truncate -s 6G "$dir/sparse"
	if ! "$cli" dump --kill --output "$img" -- "$py" "$target" \
		"3:$dir/data:rw:5" "4:$dir/log:a" "5:$dir/subdir:d" "6:/dev/null:w" \
		"7:$dir/data:nb" "8:$dir/sparse:r:$((5 * 1024 * 1024 * 1024))" 2>"$img.err"; then
		fail "$fstype: ckpt dump: $(cat "$img.err")"
		return
	fi
	if out=$(check_image "$img" "$fstype"); then
		pass "$fstype: image decoded and fields match"
	else
		fail "$fstype: $out"
	fi
}

run_target "$work" tmpfs
for fs in ext2 ext3 ext4; do
	mnt=$work/mnt-$fs
	mkdir -p "$mnt"
	if ! mkfs.$fs -q -F "$work/$fs.fs" 64M >/dev/null 2>&1 ||
		! mount -o loop "$work/$fs.fs" "$mnt"; then
		fail "$fs: mkfs or loop mount"
		continue
	fi
	run_target "$mnt" "$fs"
done

# Deny by default: an eventfd makes the dump fail, naming fd and kind, and the
# target survives.
err=$("$cli" dump --kill --output "$work/deny.img" -- "$py" -c '
import os, signal
e = os.eventfd(0)
os.dup2(e, 9)
os.close(e)
os.kill(os.getpid(), signal.SIGSTOP)' 2>&1)
status=$?
if [ $status = 1 ] && echo "$err" | grep -q 'fd 9: anon inode \[eventfd\]: no checkpoint implementation'; then
	pass "eventfd refused: $(echo "$err" | tail -n 1)"
else
	fail "eventfd: exit $status: $err"
fi

# --pid: the target keeps running afterwards.
"$py" -c 'import time; time.sleep(60)' </dev/null >/dev/null 2>&1 &
sleeper=$!
sleep 1
if "$cli" dump --pid "$sleeper" --output "$work/pid.img" 2>"$work/pid.err"; then
	state=$(awk '{print $3}' "/proc/$sleeper/stat")
	if [ "$state" = S ] || [ "$state" = R ]; then
		pass "--pid: dumped, target still running (state $state)"
	else
		fail "--pid: target state $state after dump"
	fi
else
	fail "--pid: $(cat "$work/pid.err")"
fi
kill "$sleeper" 2>/dev/null
wait "$sleeper" 2>/dev/null

# Streaming: dump into a pipe read by ckpt show.
if (set -o pipefail; "$cli" dump --kill --output - -- "$py" -c 'import os, signal; os.kill(os.getpid(), signal.SIGSTOP)' \
	2>"$work/stream.err" | "$cli" show - >"$work/stream.txt" 2>&1) &&
	grep -q terminator "$work/stream.txt"; then
	pass "image streamed through a pipe and decoded"
else
	fail "streaming: $(tail -n 3 "$work/stream.err" "$work/stream.txt")"
fi

# A whole process into a pipe: the page count is reported all the same, and
# the signal and task state records decode. The program is the static glibc
# child of ckpt_process_restart_test (signal handlers, an altstack, rseq),
# copied onto the tmpfs (so that its only mapped file is one this test made);
# it stops itself after its first step. (Dynamically linked programs are
# dumped by ckpt_sigstate_test.)
x=$work/x
mkdir -p "$x"
cp "$here/build/ckpt_process_glibc_child" "$x/child"
# Started by a shell that exits at once: ckpt dump --kill kills it, and bash
# would report the death of a child of its own ("Killed") in the test output.
sleeper=$(sh -c '"$0" </dev/null >/dev/null 2>&1 3>/dev/null & echo $!' "$x/child")
for _ in $(seq 300); do
	[ "$(awk '{ print $3 }' "/proc/$sleeper/stat" 2>/dev/null)" = T ] && break
	sleep 0.1
done
if (set -o pipefail; "$cli" dump --process --kill --pid "$sleeper" --output - 2>"$work/proc.err" |
	"$cli" show - >"$work/proc.txt" 2>&1) &&
	grep -Eq ', [1-9][0-9]* pages$' "$work/proc.err" &&
	grep -q ' signals id ' "$work/proc.txt" && grep -q ' task_state id ' "$work/proc.txt"; then
	pass "process image streamed through a pipe: $(tail -n 1 "$work/proc.err")"
else
	fail "process into a pipe: $(tail -n 3 "$work/proc.err" "$work/proc.txt")"
fi
kill -9 "$sleeper" 2>/dev/null

ktap_finished
