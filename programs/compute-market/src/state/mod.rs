//! Account layouts. Each is versioned (`version`), sized with `InitSpace`, stores its bumps and
//! ends with reserved bytes so later versions can grow without a migration.

pub mod job;
pub mod market;
pub mod provider;

pub use job::*;
pub use market::*;
pub use provider::*;
