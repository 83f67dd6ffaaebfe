//! Program tests: the real SBF binary in LiteSVM with the real SPL Token program.
//! One module per behaviour; every scenario ends by checking that money is conserved.

#![allow(
    clippy::result_large_err,
    reason = "the harness returns LiteSVM's own result type, errors and logs intact"
)]

mod harness;

mod big_jobs;
mod drawn;
mod hot_accounts;
mod hygiene;
mod layout;
mod market;
mod market_policy;
mod poison;
mod provider;
mod quorum;
mod rejections;
mod replicated;
mod sealevel;
mod sequences;
mod settlement_lockout;
mod single;
