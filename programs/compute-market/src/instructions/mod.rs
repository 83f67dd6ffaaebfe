//! One file per instruction, entity first: its args, its `Accounts`, `validate()` for what
//! constraints cannot say, and its handler.

pub mod job_apply;
pub mod job_cancel;
pub mod job_claim;
pub mod job_close;
pub mod job_commit;
pub mod job_draw;
pub mod job_expire;
pub mod job_finalize;
pub mod job_give_back;
pub mod job_post;
pub mod job_reveal;
pub mod job_submit;
pub mod market_accept_authority;
pub mod market_init;
pub mod market_update;
pub mod market_withdraw_fees;
pub mod provider_register;
pub mod provider_stake;
pub mod provider_sweep;
pub mod provider_unstake;
pub mod provider_update;
pub mod provider_withdraw;
pub mod provider_withdraw_earnings;

pub use job_apply::*;
pub use job_claim::*;
pub use job_commit::*;
pub use job_draw::*;
pub use job_give_back::*;
pub use job_post::*;
pub use job_reveal::*;
pub use job_submit::*;
pub use market_accept_authority::*;
pub use market_init::*;
pub use market_update::*;
pub use market_withdraw_fees::*;
pub use provider_register::*;
pub use provider_stake::*;
pub use provider_sweep::*;
pub use provider_unstake::*;
pub use provider_update::*;
pub use provider_withdraw::*;
pub use provider_withdraw_earnings::*;
