//! Deciding which jobs to take ([`policy`]) and driving each taken job through its lifecycle
//! ([`runner`]).

pub mod policy;
pub mod runner;
