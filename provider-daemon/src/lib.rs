//! # provider-daemon
//!
//! The provider side of Compute Market: what a GPU owner leaves running.
//!
//! - [`daemon`]: the supervisor of `provider-daemon run` (start order, graceful shutdown).
//! - [`chain`]: job discovery: websocket subscription plus periodic resync, merged by slot.
//! - [`jobs`]: [`jobs::policy`] decides which jobs to claim (and says why it skips the others);
//!   [`jobs::runner`] drives a claimed job: claim, fetch and verify blobs, execute, upload,
//!   submit or commit/reveal, crank settlement, each job in a span of its own ([`jobs::span`]);
//!   [`jobs::retention`] deletes the outputs of jobs finished long enough ago.
//! - [`state`]: the write-ahead journal (SQLite): intents and salts are stored before every
//!   transaction, and every step is resumed from the chain's truth after a crash.
//! - [`settings`]: one `Settings` (TOML file, then `COMPUTE_MARKET__…` environment overrides).
//! - [`metrics`]: Prometheus metrics.
//! - [`publish`]: the capabilities and capacity a provider publishes on-chain.
//! - [`gpu`]: the **GPU executor**, which lives in its own crate, [`compute_market_executor`]
//!   (re-exported here): it runs untrusted shaders in sandboxed worker processes and returns
//!   the output, its result hash and determinism class, or a typed error.

#![warn(missing_docs)]

pub mod chain;
pub mod daemon;
/// The GPU executor: [`compute_market_executor`], re-exported under the name the daemon's
/// modules (and the CLI) have always used.
pub mod gpu {
    pub use compute_market_executor::*;
}
pub mod jobs;
pub mod lock;
pub mod metrics;
pub mod publish;
pub mod settings;
pub mod state;
