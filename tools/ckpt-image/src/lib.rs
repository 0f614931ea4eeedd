// SPDX-License-Identifier: GPL-2.0

//! Host build of the ckpt image codec.
//!
//! The codec's source is `src/image/` at the top of the repository, compiled here exactly as
//! the kernel module compiles it: as a `core`-only submodule. This wrapper adds only what needs
//! `alloc` (a `Vec` sink) and the fuzz entry points shared by `tools/fuzz` and the corpus
//! replay test.
//!
//! The lints below make the kernel's constraints fail the host build too: no `unsafe`, no
//! missing docs, and no operation that can panic on input (indexing, unchecked arithmetic).

#![no_std]
#![forbid(unsafe_code)]
#![deny(
    missing_docs,
    unreachable_pub,
    rust_2018_idioms,
    clippy::cast_lossless,
    clippy::as_underscore,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented,
    clippy::float_arithmetic
)]

extern crate alloc;

#[path = "../../../src/image/mod.rs"]
mod image;

pub mod fuzzing;

pub use image::*;

/// A growable in-memory image.
impl Sink for alloc::vec::Vec<u8> {
    type Error = core::convert::Infallible;

    fn write(&mut self, data: &[u8]) -> Result<(), Self::Error> {
        self.extend_from_slice(data);
        Ok(())
    }
}
