# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the ckpt host scripts. Source it; do not run it.

CKPT_CACHE=${CKPT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ckpt}
CKPT_KERNEL_PKG=${CKPT_KERNEL_PKG:-linux-source-7.3}
CKPT_LLVM=${CKPT_LLVM:--19}
CKPT_RUSTC=${CKPT_RUSTC:-/usr/bin/rustc}
export PATH="$HOME/.cargo/bin:$PATH"

ckpt_t0=${ckpt_t0:-$(date +%s)}

# step "message": one progress line with the elapsed time of this script.
step() {
	local now
	now=$(date +%s)
	printf '[ckpt %4ds] %s\n' "$((now - ckpt_t0))" "$*" >&2
}

die() {
	printf 'ckpt: error: %s\n' "$*" >&2
	exit 1
}

# run_logged LOG CMD...: run CMD with its output in LOG; on failure show the
# end of LOG and name the step that failed.
run_logged() {
	local log=$1
	shift
	if ! "$@" >"$log" 2>&1; then
		tail -n 40 "$log" >&2
		die "'$*' failed; full log: $log"
	fi
}

# The cached kernel build directory for the current source + fragment, as
# written by build-kernel (which prints it).
ckpt_kernel_key() {
	local here
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	{
		cat "$here/kernel.config"
		echo "$CKPT_LLVM $CKPT_RUSTC"
		cat "$CKPT_CACHE/src/version" 2>/dev/null
	} | sha256sum | cut -c1-16
}
