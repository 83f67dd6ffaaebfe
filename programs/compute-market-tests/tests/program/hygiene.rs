//! Account hygiene: a closed job's address is never reused, its tombstone keeps the result,
//! accounts of another layout version are refused, and minimums hold after unstaking.

use crate::harness::*;
use compute_market::constants::TOMBSTONE_VERSION;
use compute_market::errors::MarketError;
use compute_market::state::*;

const RESULT: [u8; 32] = [0x3c; 32];
/// Byte offset of every account's `version` (right after the discriminator).
const VERSION_OFFSET: usize = 8;

/// The system program's `AccountAlreadyInUse`: creating the job account again fails.
#[track_caller]
fn assert_address_in_use(res: TxResult) {
    assert_custom_err(res, 0, "AccountAlreadyInUse");
}

#[test]
fn a_closed_job_id_cannot_be_posted_again() {
    let mut h = Harness::new();
    let client = h.wallet(1_000_000);
    let p = h.new_provider();
    let args = h.job_args(1, 1);
    let job = h.post(&client, &args).unwrap();
    h.claim(&p, &job).unwrap();
    h.submit(&p, &job, RESULT).unwrap();
    h.close(&client, &job, &client.token).unwrap();
    let before = h.balance(&client.token);
    let (ix, _) = h.post_ix(&client, &args);
    assert_address_in_use(h.send(&[ix], &[&client.key]));
    assert_eq!(h.balance(&client.token), before, "nothing escrowed");
    assert!(is_tombstone(&h.svm.get_account(&job).unwrap().data));
    h.assert_conserved();
}

#[test]
fn a_cancelled_job_id_cannot_be_posted_again() {
    let mut h = Harness::new();
    let client = h.wallet(1_000_000);
    let args = h.job_args(1, 1);
    let job = h.post(&client, &args).unwrap();
    h.cancel(&client, &job, &client.token).unwrap();
    let (ix, _) = h.post_ix(&client, &args);
    assert_address_in_use(h.send(&[ix], &[&client.key]));
    assert_eq!(h.tombstone(&job).status, JobStatus::Open as u8);
    h.assert_conserved();
}

#[test]
fn the_tombstone_keeps_how_the_job_ended() {
    let mut h = Harness::new();
    let ClaimedJob {
        client,
        provider: p,
        job,
    } = h.claimed_single_job();
    h.submit(&p, &job, RESULT).unwrap();
    h.close(&client, &job, &client.token).unwrap();
    let t = h.tombstone(&job);
    assert_eq!(t.version, TOMBSTONE_VERSION);
    assert_eq!(
        (t.status, t.result_hash),
        (JobStatus::Completed as u8, RESULT)
    );
    // An expired job leaves no result.
    let args = h.job_args(1, 1);
    let expired = h.post(&client, &args).unwrap();
    let deadline = h.job(&expired).claim_deadline;
    h.warp_to(deadline + 1);
    h.expire(&expired).unwrap();
    h.close(&client, &expired, &client.token).unwrap();
    let t = h.tombstone(&expired);
    assert_eq!(
        (t.status, t.result_hash),
        (JobStatus::Expired as u8, [0; 32])
    );
    h.assert_conserved();
}

#[test]
fn a_provider_of_another_version_is_refused() {
    let mut h = Harness::new();
    let ClaimedJob {
        client,
        provider: p,
        job,
    } = h.claimed_single_job();
    let args = h.job_args(1, 1);
    let second = h.post(&client, &args).unwrap();
    h.poke(&p.provider, VERSION_OFFSET, 1);
    assert_market_err(h.claim(&p, &second), MarketError::UnsupportedVersion);
    assert_market_err(h.submit(&p, &job, RESULT), MarketError::UnsupportedVersion);
    let ix = h.unstake_ix(&p, 1);
    assert_market_err(
        h.send(&[ix], &[&p.wallet.key]),
        MarketError::UnsupportedVersion,
    );
    // In a settlement's remaining accounts too.
    let deadline = h.job(&job).commit_deadline;
    h.warp_to(deadline + 1);
    assert_market_err(h.expire(&job), MarketError::UnsupportedVersion);
}

#[test]
fn a_market_of_another_version_is_refused() {
    let mut h = Harness::new();
    let ClaimedJob {
        client,
        provider: p,
        job,
    } = h.claimed_single_job();
    let market = h.market;
    h.poke(&market, VERSION_OFFSET, 3);
    let args = h.job_args(1, 1);
    let (ix, _) = h.post_ix(&client, &args);
    assert_market_err(
        h.send(&[ix], &[&client.key]),
        MarketError::UnsupportedVersion,
    );
    assert_market_err(h.submit(&p, &job, RESULT), MarketError::UnsupportedVersion);
    let auth = h.authority.insecure_clone();
    assert_market_err(
        h.market_update(&auth, Default::default()),
        MarketError::UnsupportedVersion,
    );
}

#[test]
fn a_job_of_another_version_is_refused() {
    let mut h = Harness::new();
    let ClaimedJob {
        client,
        provider: p,
        job,
    } = h.claimed_single_job();
    h.poke(&job, VERSION_OFFSET, 1);
    assert_market_err(h.submit(&p, &job, RESULT), MarketError::UnsupportedVersion);
    assert_market_err(h.give_back(&p, &job), MarketError::UnsupportedVersion);
    let q = h.new_provider();
    assert_market_err(h.claim(&q, &job), MarketError::UnsupportedVersion);
    let deadline = h.job(&job).commit_deadline;
    h.warp_to(deadline + 1);
    assert_market_err(h.expire(&job), MarketError::UnsupportedVersion);
    // job_close loads the job by hand: same rule.
    h.poke(&job, VERSION_OFFSET, 2);
    h.expire(&job).unwrap();
    h.poke(&job, VERSION_OFFSET, 1);
    assert_market_err(
        h.close(&client, &job, &client.token),
        MarketError::UnsupportedVersion,
    );
}

#[test]
fn the_minimum_stake_holds_at_claim_after_unstaking() {
    let mut h = Harness::new();
    let client = h.wallet(1_000_000);
    let p = h.provider_with(2 * MIN_STAKE, caps());
    let ix = h.unstake_ix(&p, MIN_STAKE + 1);
    h.send(&[ix], &[&p.wallet.key]).unwrap();
    let prov = h.provider(&p.provider);
    // Free stake covers the collateral; bonded stake is below the market minimum.
    assert!(prov.free_stake().unwrap() >= COLLATERAL);
    assert_eq!(prov.bonded_stake(), MIN_STAKE - 1);
    let args = h.job_args(1, 1);
    let job = h.post(&client, &args).unwrap();
    assert_market_err(h.claim(&p, &job), MarketError::StakeBelowJobMinimum);
    h.mint_to(&p.wallet.token, 1);
    let ix = h.stake_ix(&p, 1);
    h.send(&[ix], &[&p.wallet.key]).unwrap();
    h.claim(&p, &job).unwrap();
    h.assert_conserved();
}

#[test]
fn tokens_sent_to_a_stake_vault_are_withdrawable_by_its_owner() {
    // Otherwise a donation could fill a vault until crediting it overflows and its jobs cannot
    // settle.
    let mut h = Harness::new();
    let p = h.new_provider();
    let donor = h.wallet(5_000);
    h.send(
        &[transfer_ix(&donor.token, &p.vault, &donor.pubkey(), 5_000)],
        &[&donor.key],
    )
    .unwrap();
    let destination = h.create_token_account(&p.wallet.pubkey());
    let meta = h.withdraw_earnings(&p, &destination).unwrap();
    let withdrawn: compute_market::events::EarningsWithdrawn = event(&meta);
    assert_eq!(withdrawn.amount, 5_000);
    assert_eq!(h.balance(&destination), 5_000);
    assert_eq!(h.balance(&p.vault), MIN_STAKE);
    h.assert_conserved();
}

/// An SPL Token transfer of `amount` from `from` (owned by `owner`) to `to`.
fn transfer_ix(from: &Pubkey, to: &Pubkey, owner: &Pubkey, amount: u64) -> Instruction {
    spl_token_interface::instruction::transfer(&token_program(), from, to, owner, &[], amount)
        .unwrap()
}
