// SPDX-License-Identifier: GPL-2.0

//! `ckpt check`: may an image restart on a given environment? Prints every mismatch.
//! The environment is this machine's (`CKPT_IOC_ENV`) unless `--env` or `--env-image` names one.
//! Exit 0: compatible; 1: incompatible (a critical mismatch); 2: unreadable input; 3: the host
//! environment was asked of `/dev/ckpt`, which is missing or refused.

use std::path::PathBuf;

use ckpt_image::{check_env, Body, CheckSummary, EnvVector, Mismatch};

use crate::input::{self, LoadedImage};
use crate::json::EnvJson;
use crate::{convert, display, Failure, EXIT_INCOMPATIBLE, EXIT_OK};

#[derive(clap::Args)]
pub struct Args {
    /// Image file, or `-` for standard input.
    image: String,
    /// The host environment as JSON: the `environment` member of `ckpt show --json`, or what
    /// `ckpt env --json` prints. Default: this machine's, from /dev/ckpt.
    #[arg(long, value_name = "ENV.json")]
    env: Option<PathBuf>,
    /// Take the host environment from another image's environment vector.
    #[arg(long, value_name = "IMAGE", conflicts_with = "env")]
    env_image: Option<String>,
}

pub fn run(args: &Args) -> Result<u8, Failure> {
    let image = load_image(&args.image)?;
    let host = host_payload(args)?;
    let source = if args.env.is_some() || args.env_image.is_some() {
        "host environment"
    } else {
        "CKPT_IOC_ENV"
    };
    let host = EnvVector::parse(&host)
        .map_err(|e| Failure::unreadable(format!("{source}: {}", e.kind)))?;

    let mut total = CheckSummary::default();
    let report = |scope: &str, m: &Mismatch<'_>| println!("{}", describe(scope, m));
    let Some(Body::EnvVector(env)) = image.environment().map(|r| r.body()) else {
        return Err(Failure::unreadable(format!(
            "{}: no environment vector",
            args.image
        )));
    };
    total.add(&check_env(&env, &host, |m| report("environment", m)));

    let mut last_task = None;
    for r in &image.records {
        match r.body() {
            Body::Task(t) => last_task = Some((r.header.id, t.pid)),
            Body::TaskVector(tv) => {
                let scope = match last_task {
                    Some((id, pid)) if id == tv.task => format!("task {id} (pid {pid})"),
                    _ => format!("task {}", tv.task),
                };
                total.add(&check_env(&tv.entries, &host, |m| report(&scope, m)));
            }
            _ => {}
        }
    }
    let verdict = if total.is_compatible() {
        "compatible"
    } else {
        "incompatible"
    };
    println!(
        "{verdict}: {} critical, {} advisory mismatches in {} checked entries",
        total.critical, total.advisory, total.checked
    );
    Ok(if total.is_compatible() {
        EXIT_OK
    } else {
        EXIT_INCOMPATIBLE
    })
}

fn load_image(path: &str) -> Result<LoadedImage, Failure> {
    let reader = input::open(path).map_err(|e| Failure::unreadable(format!("{path}: {e}")))?;
    let image = input::load(reader);
    match &image.error {
        Some(err) => Err(Failure::unreadable(format!("{path}: {err}"))),
        None => Ok(image),
    }
}

/// The host environment as a bare binary vector payload.
fn host_payload(args: &Args) -> Result<Vec<u8>, Failure> {
    if let Some(other) = &args.env_image {
        let image = load_image(other)?;
        return image
            .environment()
            .map(|r| r.payload.clone())
            .ok_or_else(|| Failure::unreadable(format!("{other}: no environment vector")));
    }
    let Some(path) = &args.env else {
        return crate::env::host_payload();
    };
    let fail = |m: String| Failure::unreadable(format!("{}: {m}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let env: EnvJson = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
    let entries = convert::entries_from_json(&env.entries).map_err(fail)?;
    convert::env_payload(&entries).map_err(fail)
}

fn describe(scope: &str, m: &Mismatch<'_>) -> String {
    let severity = if m.critical { "critical" } else { "advisory" };
    let host = match &m.host {
        Some(h) => display::value(h),
        None => "absent".to_owned(),
    };
    format!(
        "{severity}: {scope}: {} rule {}: {} (image {}, host {host})",
        display::key(m.key),
        m.rule,
        m.reason,
        display::value(&m.image),
    )
}
