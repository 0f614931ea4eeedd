#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The ckpt CLI (built on the host, run in the guest) against the live module:
# `ckpt version` must agree with the module and with this tool's own ABI.
#
# CKPT_CLI: path of the ckpt binary (default: the release build in tools/).
set -u
ksft_skip=4
here=$(dirname "$(readlink -f "$0")")
cli=${CKPT_CLI:-$here/../../../target/release/ckpt}

[ -x "$cli" ] || { echo "SKIP: no ckpt CLI at $cli (make tools)"; exit $ksft_skip; }
command -v jq >/dev/null || { echo "FAIL: jq is needed (tools/testing/setup-host)"; exit 1; }
[ -c /dev/ckpt ] || { echo "FAIL: /dev/ckpt missing"; exit 1; }

out=$("$cli" version) || { echo "FAIL: ckpt version exited $?"; exit 1; }
echo "$out"
echo "$out" | grep -q '^module: *ckpt [0-9]' || { echo "FAIL: no module line"; exit 1; }

json=$("$cli" version --json) || { echo "FAIL: ckpt version --json exited $?"; exit 1; }
jq -e '[.abi_version, .image_version, .image_version_min, .image_version_max] |
	all(type == "number")' <<<"$json" >/dev/null || { echo "FAIL: a version field missing from: $json"; exit 1; }
abi=$(jq -r .abi_version <<<"$json")
tool_abi=$(jq -r .tool_abi_version <<<"$json")
[ "$abi" = "$tool_abi" ] || { echo "FAIL: module ABI $abi, tool ABI $tool_abi"; exit 1; }
echo "ok: ckpt version agrees with the module (ABI $abi)"

# The C example of the ABI checkpoints itself; the CLI decodes the image.
# It declares fds 0-2 external: close the runner's pipes on fds 3 and 4.
exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-
ckptc=$here/../../../ckptc/ckptc
img=$(mktemp /tmp/ckptc.XXXXXX)
trap 'rm -f "$img"' EXIT
"$ckptc" self "$img" </dev/null || { echo "FAIL: ckptc self exited $?"; exit 1; }
shown=$("$cli" show "$img") && grep -q '^terminator' <<<"$shown" ||
	{ echo "FAIL: ckptc's image does not decode"; echo "$shown"; exit 1; }
echo "ok: ckptc self wrote an image that ckpt show decodes"
