// SPDX-License-Identifier: GPL-2.0

//! `ckpt version`: what the running module reports through `CKPT_IOC_VERSION`, next to what
//! this tool was built with.

use ckpt_sys::{abi, Device};

use crate::{Failure, EXIT_OK};

#[derive(clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args) -> Result<u8, Failure> {
    let device = Device::open().map_err(|e| Failure::device(format!("{}: {e}", Device::PATH)))?;
    let v = device
        .version()
        .map_err(|e| Failure::device(format!("CKPT_IOC_VERSION: {e}")))?;
    if args.json {
        let json = serde_json::json!({
            "module_version": v.module,
            "abi_version": v.abi,
            "image_version": v.image,
            "image_version_min": v.image_min,
            "image_version_max": v.image_max,
            "tool_version": env!("CARGO_PKG_VERSION"),
            "tool_abi_version": abi::CKPT_ABI_VERSION,
            "tool_image_version": ckpt_image::VERSION,
        });
        println!("{json:#}");
    } else {
        println!("module:        ckpt {} (ABI {})", v.module, v.abi);
        println!(
            "image format:  writes v{}, reads v{}..v{}",
            v.image, v.image_min, v.image_max
        );
        println!(
            "this tool:     ckpt {} (ABI {}, image v{})",
            env!("CARGO_PKG_VERSION"),
            abi::CKPT_ABI_VERSION,
            ckpt_image::VERSION
        );
    }
    if v.abi != abi::CKPT_ABI_VERSION {
        return Err(Failure::device(format!(
            "the module speaks ABI {} but this tool was built for ABI {}",
            v.abi,
            abi::CKPT_ABI_VERSION
        )));
    }
    Ok(EXIT_OK)
}
