//! Deciding which jobs to take ([`policy`], [`scheduler`]) and driving each taken job through
//! its lifecycle ([`runner`]).

pub mod policy;
pub mod reconcile;
pub mod runner;
pub mod scheduler;
