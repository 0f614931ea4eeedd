// SPDX-License-Identifier: GPL-2.0

//! `ckpt synth` (hidden): build an image from the JSON `ckpt show --json` prints. For tests
//! and experiments; the header is always marked synthetic so nobody mistakes the result for
//! a kernel's checkpoint.

use std::io::Write;
use std::path::PathBuf;

use crate::json::ImageJson;
use crate::{convert, Failure, EXIT_OK};

#[derive(clap::Args)]
pub struct Args {
    /// JSON description (schema ckpt-image-v1), or `-` for standard input.
    description: String,
    /// Where to write the image (`-` for standard output).
    #[arg(short, long)]
    output: PathBuf,
}

pub fn run(args: &Args) -> Result<u8, Failure> {
    let fail = |m: String| Failure::unreadable(format!("{}: {m}", args.description));
    let text = if args.description == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| fail(e.to_string()))?
    } else {
        std::fs::read_to_string(&args.description).map_err(|e| fail(e.to_string()))?
    };
    let desc: ImageJson = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
    let bytes = convert::image_from_json(&desc, true).map_err(fail)?;
    let written = if args.output.as_os_str() == "-" {
        std::io::stdout().lock().write_all(&bytes)
    } else {
        std::fs::write(&args.output, &bytes)
    };
    written.map_err(|e| Failure {
        status: crate::EXIT_UNREADABLE,
        message: format!("{}: {e}", args.output.display()),
    })?;
    Ok(EXIT_OK)
}
