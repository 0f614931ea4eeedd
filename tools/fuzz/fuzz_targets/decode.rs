// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the streaming decoder (and re-encoding of whatever decodes).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ckpt_image::fuzzing::fuzz_decode(data));
