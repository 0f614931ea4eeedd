// SPDX-License-Identifier: GPL-2.0

//! `ckpt`: the user-space side of ckpt. Each subcommand lives in its own module with an `Args`
//! struct and a `run` function; commands that talk to /dev/ckpt (env, dump, restore, version)
//! slot in the same way.

mod check;
mod convert;
mod display;
mod dump;
mod env;
mod input;
mod json;
mod restore;
mod resume;
mod show;
mod synth;
mod version;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit status: success, or the image is compatible.
pub const EXIT_OK: u8 = 0;
/// Exit status of `check`: the image may not restart on the given environment.
pub const EXIT_INCOMPATIBLE: u8 = 1;
/// Exit status: an image or input could not be read or is malformed (also clap's usage error).
pub const EXIT_UNREADABLE: u8 = 2;

/// Exit status: `/dev/ckpt` could not be opened or refused the request.
pub const EXIT_DEVICE: u8 = 3;

/// A failure reported as one line on stderr, with its exit status.
#[derive(Debug)]
pub struct Failure {
    pub status: u8,
    pub message: String,
}

impl Failure {
    /// `/dev/ckpt` is missing or refused a request.
    pub fn device(message: impl Into<String>) -> Self {
        Failure {
            status: EXIT_DEVICE,
            message: message.into(),
        }
    }

    /// Input that cannot be read or decoded.
    pub fn unreadable(message: impl Into<String>) -> Self {
        Failure {
            status: EXIT_UNREADABLE,
            message: message.into(),
        }
    }
}

#[derive(Parser)]
#[command(
    name = "ckpt",
    version,
    about = "Checkpoint/restart: drive /dev/ckpt, inspect and check images"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List an image: header, environment, every record.
    Show(show::Args),
    /// Decide whether an image may restart on an environment (by default, this machine's).
    Check(check::Args),
    /// Show the running kernel's environment vector (what images are checked against).
    Env(env::Args),
    /// Checkpoint a process (--pid PID, or -- CMD ARGS... that stops itself) into an image.
    Dump(dump::Args),
    /// Restore an image's fds into this process, then exec -- CMD ARGS... (default: $SHELL);
    /// a process image without a command: become the checkpointed process.
    Restore(restore::Args),
    /// Show the versions /dev/ckpt reports (module, ABI, image formats).
    Version(version::Args),
    /// Build an image from its JSON description (for tests and experiments).
    #[command(hide = true)]
    Synth(synth::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Show(args) => show::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Env(args) => env::run(&args),
        Command::Synth(args) => synth::run(&args),
        Command::Version(args) => version::run(&args),
        Command::Dump(args) => dump::run(&args),
        Command::Restore(args) => restore::run(&args),
    };
    match result {
        Ok(status) => ExitCode::from(status),
        Err(failure) => {
            // One line, whatever the message contains.
            eprintln!("ckpt: {}", failure.message.replace('\n', " "));
            ExitCode::from(failure.status)
        }
    }
}
