//! `compute-market-worker`: the GPU worker and shader validator processes of the executor
//! (`compute_market_executor::child`). The executor's [`WorkerPool`] starts it in its sandbox
//! and speaks the worker protocol over its stdin and stdout; it is not a program for people.
//!
//! * `compute-market-worker [--adapter <auto|index|name>] [--allow-cpu]`: opens the device,
//!   then runs jobs until stdin closes.
//! * `compute-market-worker --validate`: validates one shader and exits.
//!
//! Logs go to stderr (errors only unless `RUST_LOG` says otherwise): stdout carries only
//! protocol frames.
//!
//! [`WorkerPool`]: compute_market_executor::WorkerPool

use std::process::ExitCode;

use compute_market_executor::child::{self, WorkerArgs};

fn main() -> ExitCode {
    // The parent logs what matters; a worker only reports errors unless RUST_LOG says.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let args = match WorkerArgs::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    match child::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: worker: {e}");
            ExitCode::FAILURE
        }
    }
}
