//! Deciding which jobs to take ([`policy`], [`scheduler`]), driving each taken job through its
//! lifecycle ([`runner`], in a span of its own: [`span`]), and deleting the outputs of finished
//! jobs once they are old enough ([`retention`]).

pub mod policy;
pub mod reconcile;
pub mod retention;
pub mod runner;
pub mod scheduler;
pub mod span;
