// SPDX-License-Identifier: GPL-2.0

//! `CKPT_BLESS`, the one switch that turns the pinned-file tests into writers. Shared by the
//! codec's tests (through `common`) and the CLI's (`tools/ckpt/tests/cli.rs` includes this file
//! by path), so both refuse to bless under a check in the same way.

/// `CKPT_BLESS=1`: rewrite the pinned files instead of comparing with them. Never under
/// `make check` (which sets `CKPT_CHECK=1`) or CI: a check that blesses passes on any output.
pub fn bless() -> bool {
    let on = std::env::var_os("CKPT_BLESS").is_some_and(|v| v == "1");
    let checking = ["CKPT_CHECK", "CI"]
        .iter()
        .find(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()));
    if let (true, Some(var)) = (on, checking) {
        panic!(
            "CKPT_BLESS=1 with {var} set: a check never rewrites the pinned files it compares \
             with; bless by hand (CKPT_BLESS=1 cargo test) and review the diff"
        );
    }
    on
}
