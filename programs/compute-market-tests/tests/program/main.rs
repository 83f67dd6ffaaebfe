//! Program tests: the real SBF binary in LiteSVM with the real SPL Token program.
//! One module per behaviour; every scenario ends by checking that money is conserved.

#![allow(
    clippy::result_large_err,
    reason = "the harness returns LiteSVM's own result type, errors and logs intact"
)]

mod harness;

mod layout;
mod market;
mod provider;
mod rejections;
mod replicated;
mod single;
