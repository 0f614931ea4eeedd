// SPDX-License-Identifier: GPL-2.0

//! `ckpt env`: the running kernel's environment vector (`CKPT_IOC_ENV`), the vector images are
//! checked against. `--json` prints an environment file for `ckpt check --env`: the
//! `environment` member of the `ckpt show --json` schema, `{"entries": [ENTRY, ...]}`, where
//! bitmap entries also list the names of their set bits (`"names": ["fpu", ...]`).

use std::io::Write;

use ckpt_image::{has_bit_names, BitDiff, EnvVector};
use ckpt_sys::Device;

use crate::json::EnvJson;
use crate::{convert, Failure, EXIT_OK};

#[derive(clap::Args)]
pub struct Args {
    /// Print the environment file `ckpt check --env` reads instead of text.
    #[arg(long)]
    json: bool,
}

/// The running kernel's environment vector payload; `/dev/ckpt` failures exit 3.
pub fn host_payload() -> Result<Vec<u8>, Failure> {
    let device = Device::open().map_err(|e| Failure::device(format!("{}: {e}", Device::PATH)))?;
    device
        .env()
        .map_err(|e| Failure::device(format!("CKPT_IOC_ENV: {e}")))
}

pub fn run(args: &Args) -> Result<u8, Failure> {
    let payload = host_payload()?;
    let vector = EnvVector::parse(&payload).map_err(|e| {
        Failure::unreadable(format!(
            "CKPT_IOC_ENV returned a malformed vector: {}",
            e.kind
        ))
    })?;
    if args.json {
        let mut entries = convert::entries_to_json(&vector);
        for (json, entry) in entries.iter_mut().zip(vector.iter()) {
            if has_bit_names(entry.key) {
                let names = BitDiff::new(entry, None).filter_map(|b| b.name());
                json.names = Some(names.map(str::to_owned).collect());
            }
        }
        let env = EnvJson { id: None, entries };
        let json =
            serde_json::to_string_pretty(&env).map_err(|e| Failure::unreadable(e.to_string()))?;
        println!("{json}");
        return Ok(EXIT_OK);
    }
    let mut out = std::io::stdout().lock();
    let _ = print_text(&mut out, &vector);
    let _ = out.flush();
    Ok(EXIT_OK)
}

/// The environment as `ckpt show` lists an image's.
fn print_text(out: &mut impl Write, v: &EnvVector<'_>) -> std::io::Result<()> {
    writeln!(out, "environment (this kernel, {} entries)", v.len())?;
    crate::show::print_entries(out, "  ", v)
}
