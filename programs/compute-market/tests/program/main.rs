//! Program tests: the real SBF binary in LiteSVM with the real SPL Token program.
//! One module per behaviour; every scenario ends by checking that money is conserved.

mod harness;

mod layout;
mod market;
mod provider;
mod rejections;
mod replicated;
mod single;
