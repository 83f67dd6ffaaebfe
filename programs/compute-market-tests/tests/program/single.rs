//! Single-replica jobs: post, claim, submit, cancel, expire, close.

use crate::harness::*;
use compute_market::errors::MarketError;
use compute_market::events::*;
use compute_market::state::*;

const RESULT: [u8; 32] = [7; 32];

/// Rent of a closed job's tombstone (what the client leaves at the job's address).
fn tombstone_rent(h: &Harness) -> u64 {
    use anchor_lang::Space;
    h.svm
        .minimum_balance_for_rent_exemption(8 + JobTombstone::INIT_SPACE)
}

#[test]
fn post_claim_submit_credits_the_provider_and_its_fee() {
    let mut h = Harness::new();
    let client = h.wallet(1_000_000);
    let p = h.new_provider();
    let args = h.job_args(1, 1);
    let client_lamports = h.lamports(&client.pubkey());
    let job = h.post(&client, &args).unwrap();

    let j = h.job(&job);
    assert_eq!(j.status(), JobStatus::Open);
    assert_eq!(j.fee_per_replica, fee());
    assert_eq!(j.give_back_cost, give_back_cost());
    assert_eq!(h.balance(&j.escrow), REWARD + fee());
    assert_eq!(h.balance(&client.token), 1_000_000 - REWARD - fee());

    let meta = h.claim(&p, &job).unwrap();
    let claimed: JobClaimed = event(&meta);
    assert_eq!(
        (claimed.slot, claimed.claimed, claimed.collateral),
        (0, 1, COLLATERAL)
    );
    assert_eq!(h.job(&job).status(), JobStatus::Running);
    assert_eq!(h.provider(&p.provider).locked, COLLATERAL);

    let meta = h.submit(&p, &job, RESULT).unwrap();
    let settled: JobSettled = event(&meta);
    assert_eq!(settled.status, JobStatus::Completed);
    assert_eq!(settled.result_hash, RESULT);
    assert_eq!(settled.paid_to_providers, REWARD);
    assert_eq!(
        (settled.fees, settled.refund_due, settled.forfeited),
        (fee(), 0, 0)
    );
    assert!(has_event::<ResultRevealed>(&meta));

    let j = h.job(&job);
    assert_eq!(j.status(), JobStatus::Completed);
    assert_eq!(j.result_hash, RESULT);
    assert_eq!(j.slots[0].state(), SlotState::Revealed);
    assert_eq!(j.result_uri(0), "file:///results/out.bin");
    assert!(j.settled_at > 0);
    // The reward and the fee sit in the provider's vault; the escrow waits for job_close.
    assert_eq!(h.balance(&j.escrow), 0);
    assert_eq!(h.balance(&p.vault), MIN_STAKE + REWARD + fee());
    let prov = h.provider(&p.provider);
    assert_eq!((prov.locked, prov.staked), (0, MIN_STAKE));
    assert_eq!((prov.earnings, prov.fees_due), (REWARD, fee()));
    assert_eq!((prov.jobs_completed, prov.total_earned), (1, REWARD));
    h.assert_conserved();

    // Each party withdraws its share.
    let meta = h.withdraw_earnings(&p, &p.wallet.token).unwrap();
    let ev: EarningsWithdrawn = event(&meta);
    assert_eq!((ev.amount, ev.destination), (REWARD, p.wallet.token));
    assert_eq!(h.balance(&p.wallet.token), REWARD);
    assert_market_err(
        h.withdraw_earnings(&p, &p.wallet.token),
        MarketError::NoEarnings,
    );
    let meta = h.sweep(&p.provider).unwrap();
    let ev: ProviderSwept = event(&meta);
    assert_eq!((ev.fees, ev.burnt), (fee(), 0));
    assert_eq!(h.balance(&h.treasury), fee());
    assert_eq!(h.balance(&p.vault), MIN_STAKE);

    // Closing returns every lamport of rent the client paid but the tombstone's (the fee payer
    // paid the fees).
    let meta = h.close(&client, &job, &client.token).unwrap();
    let ev: JobClosed = event(&meta);
    assert_eq!((ev.refunded, ev.destination), (0, client.token));
    assert_eq!(h.tombstone(&job).status, JobStatus::Completed as u8);
    assert!(!h.exists(&j.escrow));
    assert_eq!(
        h.lamports(&client.pubkey()),
        client_lamports - tombstone_rent(&h)
    );
    assert_eq!(h.balance(&client.token), 1_000_000 - REWARD - fee());
    h.assert_conserved();
}

#[test]
fn cancel_refunds_everything_and_closes_the_escrow() {
    let mut h = Harness::new();
    let client = h.wallet(1_000_000);
    let lamports = h.lamports(&client.pubkey());
    let args = h.job_args(3, 2);
    let job = h.post(&client, &args).unwrap();
    assert_eq!(h.balance(&client.token), 1_000_000 - 3 * (REWARD + fee()));
    let meta = h.cancel(&client, &job, &client.token).unwrap();
    let ev: JobCancelled = event(&meta);
    assert_eq!(
        (ev.refunded, ev.destination),
        (3 * (REWARD + fee()), client.token)
    );
    assert_eq!(h.balance(&client.token), 1_000_000);
    assert_eq!(h.tombstone(&job).status, JobStatus::Open as u8);
    assert!(!h.exists(&escrow_pda(&job)));
    assert_eq!(h.lamports(&client.pubkey()), lamports - tombstone_rent(&h));
    h.assert_conserved();
}

#[test]
fn cancel_after_a_claim_is_refused() {
    let mut h = Harness::new();
    let ClaimedJob {
        client,
        provider: _,
        job,
    } = h.claimed_single_job();
    assert_market_err(
        h.cancel(&client, &job, &client.token),
        MarketError::JobNotOpen,
    );
    h.assert_conserved();
}

#[test]
fn unclaimed_job_expires_after_the_claim_deadline() {
    let mut h = Harness::new();
    let client = h.wallet(1_000_000);
    let args = h.job_args(1, 1);
    let job = h.post(&client, &args).unwrap();
    assert_market_err(h.expire(&job), MarketError::ExpireTooEarly);
    let deadline = h.job(&job).claim_deadline;
    h.warp_to(deadline + 1);
    let meta = h.expire(&job).unwrap();
    let ev: JobSettled = event(&meta);
    assert_eq!(ev.status, JobStatus::Expired);
    assert_eq!(ev.refund_due, REWARD + fee());
    assert_eq!(h.job(&job).status(), JobStatus::Expired);
    h.close(&client, &job, &client.token).unwrap();
    assert_eq!(h.balance(&client.token), 1_000_000);
    h.assert_conserved();
}

#[test]
fn claimed_but_never_submitted_is_slashed_on_expiry() {
    let mut h = Harness::new();
    let ClaimedJob {
        client,
        provider: p,
        job,
    } = h.claimed_single_job();
    let commit_deadline = h.job(&job).commit_deadline;
    h.warp_to(commit_deadline);
    assert_market_err(h.expire(&job), MarketError::ExpireTooEarly);
    h.warp(1);
    assert_market_err(
        h.submit(&p, &job, RESULT),
        MarketError::CommitDeadlinePassed,
    );
    let meta = h.expire(&job).unwrap();
    let ev: JobSettled = event(&meta);
    assert_eq!((ev.forfeited, ev.slashed_replicas), (COLLATERAL, 1));
    assert_eq!(ev.refund_due, REWARD + fee());
    let slashed: ProviderSlashed = event(&meta);
    assert_eq!((slashed.provider, slashed.amount), (p.provider, COLLATERAL));
    let prov = h.provider(&p.provider);
    assert_eq!(
        (prov.staked, prov.locked, prov.jobs_slashed),
        (MIN_STAKE - COLLATERAL, 0, 1)
    );
    assert_eq!(prov.forfeit_due, COLLATERAL);
    assert_eq!(h.balance(&p.vault), MIN_STAKE);
    // The client gets its payment back, never the collateral: that is burnt.
    h.close(&client, &job, &client.token).unwrap();
    assert_eq!(h.balance(&client.token), 1_000_000);
    let supply = h.supply();
    h.sweep(&p.provider).unwrap();
    assert_eq!(h.supply(), supply - COLLATERAL);
    assert_eq!(h.balance(&p.vault), MIN_STAKE - COLLATERAL);
    h.assert_conserved();
}

#[test]
fn tokens_sent_to_an_escrow_cannot_block_settlement() {
    let mut h = Harness::new();
    let ClaimedJob {
        client,
        provider: p,
        job,
    } = h.claimed_single_job();
    let escrow = h.job(&job).escrow;
    h.mint_to(&escrow, 5); // a griefer's donation
    let meta = h.submit(&p, &job, RESULT).unwrap();
    assert_eq!(event::<JobSettled>(&meta).refund_due, 5);
    let meta = h.close(&client, &job, &client.token).unwrap();
    assert_eq!(event::<JobClosed>(&meta).refunded, 5);
    assert!(!h.exists(&escrow));
    assert_eq!(h.balance(&client.token), 1_000_000 - REWARD - fee() + 5);
    h.assert_conserved();
}

#[test]
fn close_before_settlement_is_refused() {
    let mut h = Harness::new();
    let client = h.wallet(1_000_000);
    let args = h.job_args(1, 1);
    let job = h.post(&client, &args).unwrap();
    assert_market_err(
        h.close(&client, &job, &client.token),
        MarketError::JobNotSettled,
    );
    assert!(h.exists(&job));
    h.assert_conserved();
}
