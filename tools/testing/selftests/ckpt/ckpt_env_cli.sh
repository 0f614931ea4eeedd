#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `ckpt env` and `ckpt check IMAGE` against the live module (CKPT_IOC_ENV):
#  - `ckpt env` lists the kernel's vector, `ckpt env --json` is an environment
#    file with the CPU entries;
#  - `ckpt check IMG` (this machine) says exactly what
#    `ckpt check IMG --env <ckpt env --json>` says, for several images;
#  - an image built from this machine's vector is compatible with it;
#  - an image demanding every x86 capability bit is not (exit 1, key named).
#
# CKPT_CLI: path of the ckpt binary (default: the release build in tools/).
set -u
ksft_skip=4
here=$(dirname "$(readlink -f "$0")")
tools=$here/../../..
cli=${CKPT_CLI:-$tools/target/release/ckpt}
testdata=$tools/testdata

fail() { echo "FAIL: $*"; exit 1; }

[ -x "$cli" ] || { echo "SKIP: no ckpt CLI at $cli (make tools)"; exit $ksft_skip; }
command -v jq >/dev/null || fail "jq is needed (tools/testing/setup-host installs it)"
[ -c /dev/ckpt ] || fail "/dev/ckpt missing"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$cli" env >"$tmp/env.txt" || fail "ckpt env exited $?"
cat "$tmp/env.txt"
grep -q '^environment (this kernel, [1-9][0-9]* entries)$' "$tmp/env.txt" ||
	fail "no environment line"
grep -q '^  cpu_vendor ' "$tmp/env.txt" || fail "ckpt env lists no cpu_vendor"

"$cli" env --json >"$tmp/env.json" || fail "ckpt env --json exited $?"
jq -e 'any(.entries[]; .name == "cpu_vendor" and .type == "string" and .critical)' \
	"$tmp/env.json" >/dev/null || fail "no critical cpu_vendor string in: $(cat "$tmp/env.json")"
jq -e 'any(.entries[]; .name == "x86_capability" and .type == "bitmap32" and
	.rule == "subset" and (.value | length) > 0)' "$tmp/env.json" >/dev/null ||
	fail "no x86_capability bitmap in: $(cat "$tmp/env.json")"
[ "$(jq -r '[.entries[].key] | . == sort' "$tmp/env.json")" = true ] ||
	fail "keys not in increasing order"
echo "ok: ckpt env --json: $(jq '.entries | length' "$tmp/env.json") entries"

# An image whose environment is this machine's: minimal.img's, replaced.
jq --slurpfile env "$tmp/env.json" '.environment = $env[0]' "$testdata/minimal.json" \
	>"$tmp/live.json" || fail "jq"
"$cli" synth "$tmp/live.json" -o "$tmp/live.img" || fail "synth live.img exited $?"

# The same image demanding every bit of 32 capability words.
jq '.environment.entries |= map(if .name == "x86_capability"
	then .value = [range(32) | "0xffffffff"] else . end)' "$tmp/live.json" >"$tmp/caps.json" ||
	fail "jq"
"$cli" synth "$tmp/caps.json" -o "$tmp/caps.img" || fail "synth caps.img exited $?"

# Live check == check against the exported environment file, for every image.
for img in "$tmp/live.img" "$tmp/caps.img" "$testdata/minimal.img" "$testdata/full.img"; do
	file_out=$("$cli" check "$img" --env "$tmp/env.json" 2>&1)
	file_rc=$?
	live_out=$("$cli" check "$img" 2>&1)
	live_rc=$?
	[ "$file_rc" = "$live_rc" ] ||
		fail "$img: exit $live_rc live, $file_rc with --env; live: $live_out"
	[ "$file_out" = "$live_out" ] ||
		fail "$img: outputs differ:"$'\n'"$live_out"$'\n'"--- with --env:"$'\n'"$file_out"
	case $file_rc in 0|1) ;; *) fail "$img: exit $file_rc: $live_out" ;; esac
	echo "ok: $(basename "$img"): live and --env agree (exit $live_rc)"
done

out=$("$cli" check "$tmp/live.img")
rc=$?
[ $rc = 0 ] || fail "image of this machine's environment: exit $rc: $out"
echo "$out" | grep -q '^compatible: 0 critical, 0 advisory mismatches' ||
	fail "not a clean match: $out"

out=$("$cli" check "$tmp/caps.img")
rc=$?
echo "$out"
[ $rc = 1 ] || fail "every capability bit: exit $rc, expected 1"
echo "$out" | grep -qE '^  x86_capability: the host lacks [a-z0-9_]+(,| and|$)' ||
	fail "the x86_capability mismatch does not name a feature"
echo "ok: ckpt check refuses an image needing capabilities this CPU lacks"
