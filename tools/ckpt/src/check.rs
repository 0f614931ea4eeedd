// SPDX-License-Identifier: GPL-2.0

//! `ckpt check`: may an image restart on a given environment? Prints every mismatch in the
//! words restart's refusal uses (the codec's `EnvReport`): critical ones first, CPU and xsave
//! features by the kernel's names, one line of advice. `--json` prints the same with the raw
//! values and the missing bits. The environment is this machine's (`CKPT_IOC_ENV`) unless
//! `--env` (e.g. another machine's `ckpt env --json`) or `--env-image` names one.
//! Exit 0: compatible; 1: incompatible (a critical mismatch); 2: unreadable input; 3: the host
//! environment was asked of `/dev/ckpt`, which is missing or refused.

use std::path::PathBuf;

use ckpt_image::{keys, Body, EnvReport, EnvVector, Mismatch, Scope};
use serde_json::{json, Value};

use crate::input::{self, LoadedImage};
use crate::json::EnvJson;
use crate::{convert, Failure, EXIT_INCOMPATIBLE, EXIT_OK};

#[derive(clap::Args)]
pub struct Args {
    /// Image file, or `-` for standard input.
    image: String,
    /// The host environment as JSON: what `ckpt env --json` prints (on the machine the image
    /// may move to), or the `environment` member of `ckpt show --json`. Default: this
    /// machine's, from /dev/ckpt.
    #[arg(long, value_name = "ENV.json")]
    env: Option<PathBuf>,
    /// Take the host environment from another image's environment vector.
    #[arg(long, value_name = "IMAGE", conflicts_with = "env")]
    env_image: Option<String>,
    /// Print the verdict and every mismatch as JSON: raw values plus the missing bits' names.
    #[arg(long)]
    json: bool,
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

    let Some(Body::EnvVector(env)) = image.environment().map(|r| r.body()) else {
        return Err(Failure::unreadable(format!(
            "{}: no environment vector",
            args.image
        )));
    };
    // Scopes as restart has them: the environment vector (no label), then each task vector.
    let mut tasks = Vec::new();
    let mut last_task = None;
    for r in &image.records {
        match r.body() {
            Body::Task(t) => last_task = Some((r.header.id, t.pid)),
            Body::TaskVector(tv) => {
                let label = match last_task {
                    Some((id, pid)) if id == tv.task => format!("task {id} (pid {pid})"),
                    _ => format!("task {}", tv.task),
                };
                tasks.push((label, tv.entries));
            }
            _ => {}
        }
    }
    let mut scopes = vec![Scope {
        label: "",
        image: env,
    }];
    scopes.extend(tasks.iter().map(|(label, image)| Scope {
        label,
        image: *image,
    }));
    let report = EnvReport::new(&scopes, host);
    let total = report.summary();
    if args.json {
        println!("{}", to_json(&report));
    } else {
        print!("{}", report.lines());
        let verdict = if total.is_compatible() {
            "compatible"
        } else {
            "incompatible"
        };
        println!(
            "{verdict}: {} critical, {} advisory mismatches in {} checked entries",
            total.critical, total.advisory, total.checked
        );
    }
    Ok(if total.is_compatible() {
        EXIT_OK
    } else {
        EXIT_INCOMPATIBLE
    })
}

/// The report as JSON: totals, each mismatch (critical ones first) with its words, the raw
/// values and the bits the host lacks, and the advice.
fn to_json(report: &EnvReport<'_, '_>) -> String {
    let mut mismatches = Vec::new();
    for critical in [true, false] {
        report.for_each(critical, |scope, m| {
            mismatches.push(mismatch_json(scope, m))
        });
    }
    let total = report.summary();
    let out = json!({
        "compatible": total.is_compatible(),
        "checked": total.checked,
        "critical": total.critical,
        "advisory": total.advisory,
        "mismatches": mismatches,
        "advice": report.advice().map(|a| a.to_string()),
    });
    serde_json::to_string_pretty(&out).unwrap_or_default()
}

fn mismatch_json(scope: &str, m: &Mismatch<'_>) -> Value {
    let missing: Vec<Value> = m
        .missing_bits()
        .map(|b| json!({ "word": b.word, "bit": b.bit, "name": b.name() }))
        .collect();
    json!({
        "scope": if scope.is_empty() { "environment" } else { scope },
        "key": m.key,
        "name": keys::lookup(m.key).map(|k| k.name),
        "rule": m.rule.to_string(),
        "critical": m.critical,
        "reason": m.reason.to_string(),
        "text": m.text(usize::MAX).to_string(),
        "image": convert::value_to_json(&m.image),
        "host": m.host.as_ref().map(convert::value_to_json),
        "missing": missing,
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
