//! Every program-derived address, from the program's own seed constants. Pure: no I/O.

use anchor_lang::prelude::Pubkey;
use compute_market::constants::{
    SEED_ESCROW, SEED_JOB, SEED_MARKET, SEED_PROVIDER, SEED_STAKE, SEED_TREASURY,
};

/// The program id.
pub const PROGRAM_ID: Pubkey = compute_market::ID;

/// The market `creator` made for a payment mint (every creator has its own: nobody can squat a
/// mint's market).
pub fn market(payment_mint: &Pubkey, creator: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(
        &[SEED_MARKET, payment_mint.as_ref(), creator.as_ref()],
        &PROGRAM_ID,
    )
    .0
}

/// A market's treasury vault (collects protocol fees).
pub fn treasury(market: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(&[SEED_TREASURY, market.as_ref()], &PROGRAM_ID).0
}

/// The provider account of `owner` in `market`.
pub fn provider(market: &Pubkey, owner: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(
        &[SEED_PROVIDER, market.as_ref(), owner.as_ref()],
        &PROGRAM_ID,
    )
    .0
}

/// A provider's stake vault.
pub fn stake_vault(provider: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(&[SEED_STAKE, provider.as_ref()], &PROGRAM_ID).0
}

/// The job `job_id` of `client` in `market`.
pub fn job(market: &Pubkey, client: &Pubkey, job_id: u64) -> Pubkey {
    Pubkey::find_program_address(
        &[
            SEED_JOB,
            market.as_ref(),
            client.as_ref(),
            &job_id.to_le_bytes(),
        ],
        &PROGRAM_ID,
    )
    .0
}

/// A job's escrow vault.
pub fn escrow(job: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(&[SEED_ESCROW, job.as_ref()], &PROGRAM_ID).0
}

/// The associated token account of `owner` for `mint` (classic SPL Token): the SDK's default
/// token account for clients, providers and payouts.
pub fn token_account(owner: &Pubkey, mint: &Pubkey) -> Pubkey {
    spl_associated_token_account_interface::address::get_associated_token_address(owner, mint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdas_are_off_curve_and_distinct() {
        let mint = Pubkey::new_unique();
        let owner = Pubkey::new_unique();
        let m = market(&mint, &owner);
        let p = provider(&m, &owner);
        let j = job(&m, &owner, 7);
        let all = [
            m,
            treasury(&m),
            p,
            stake_vault(&p),
            j,
            escrow(&j),
            job(&m, &owner, 8),
            market(&mint, &p),
        ];
        for (i, a) in all.iter().enumerate() {
            assert!(!a.is_on_curve(), "{a} is on the curve");
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        // Same inputs, same address.
        assert_eq!(job(&m, &owner, 7), j);
    }
}
