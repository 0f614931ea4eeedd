// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the environment vector parser and the compatibility checker.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ckpt_image::fuzzing::fuzz_check(data));
