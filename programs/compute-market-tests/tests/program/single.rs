//! Single-replica jobs: post, claim, submit, cancel, expire, close.

use crate::harness::*;
use compute_market::errors::MarketError;
use compute_market::events::*;
use compute_market::state::*;

const RESULT: [u8; 32] = [7; 32];

#[test]
fn post_claim_submit_pays_provider_and_treasury() {
    let mut h = Harness::new();
    let client = h.wallet(1_000_000);
    let p = h.new_provider();
    let args = h.job_args(1, 1);
    let client_lamports = h.lamports(&client.pubkey());
    let job = h.post(&client, &args).unwrap();

    let j = h.job(&job);
    assert_eq!(j.status(), JobStatus::Open);
    assert_eq!(j.fee_per_replica, fee());
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
    assert_eq!(settled.fees_to_treasury, fee());
    assert_eq!(settled.refunded_to_client, 0);
    assert!(has_event::<ResultRevealed>(&meta));

    let j = h.job(&job);
    assert_eq!(j.status(), JobStatus::Completed);
    assert_eq!(j.result_hash, RESULT);
    assert_eq!(j.slots[0].state(), SlotState::Revealed);
    assert_eq!(j.result_uri(0), "file:///results/out.bin");
    assert!(j.settled_at > 0);
    assert!(!h.exists(&j.escrow), "escrow closed at settlement");
    assert_eq!(h.balance(&p.wallet.token), REWARD);
    assert_eq!(h.balance(&h.treasury.clone()), fee());
    assert_eq!(h.balance(&client.token), 1_000_000 - REWARD - fee());
    let prov = h.provider(&p.provider);
    assert_eq!((prov.locked, prov.staked), (0, MIN_STAKE));
    assert_eq!((prov.jobs_completed, prov.total_earned), (1, REWARD));
    assert_eq!(h.market_account().jobs_completed, 1);
    h.assert_conserved();

    // Closing returns every lamport of rent the client paid (the fee payer paid the fees).
    let ix = h.close_ix(&client.pubkey(), &job);
    let meta = h.send(&[ix], &[&client.key]).unwrap();
    assert!(has_event::<JobClosed>(&meta));
    assert!(!h.exists(&job));
    assert_eq!(h.lamports(&client.pubkey()), client_lamports);
    h.assert_conserved();
}

#[test]
fn cancel_refunds_everything_and_closes_both_accounts() {
    let mut h = Harness::new();
    let client = h.wallet(1_000_000);
    let lamports = h.lamports(&client.pubkey());
    let args = h.job_args(3, 2);
    let job = h.post(&client, &args).unwrap();
    assert_eq!(h.balance(&client.token), 1_000_000 - 3 * (REWARD + fee()));
    let ix = h.cancel_ix(&client, &job);
    let meta = h.send(&[ix], &[&client.key]).unwrap();
    let ev: JobCancelled = event(&meta);
    assert_eq!(ev.refunded, 3 * (REWARD + fee()));
    assert_eq!(h.balance(&client.token), 1_000_000);
    assert!(!h.exists(&job));
    assert!(!h.exists(&escrow_pda(&job)));
    assert_eq!(h.lamports(&client.pubkey()), lamports);
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
    let ix = h.cancel_ix(&client, &job);
    assert_market_err(h.send(&[ix], &[&client.key]), MarketError::JobNotOpen);
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
    assert_eq!(ev.refunded_to_client, REWARD + fee());
    assert_eq!(h.job(&job).status(), JobStatus::Expired);
    assert_eq!(h.balance(&client.token), 1_000_000);
    assert_eq!(h.market_account().jobs_expired, 1);
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
    assert_eq!((ev.slashed_to_client, ev.slashed_replicas), (COLLATERAL, 1));
    let slashed: ProviderSlashed = event(&meta);
    assert_eq!((slashed.provider, slashed.amount), (p.provider, COLLATERAL));
    assert_eq!(h.balance(&client.token), 1_000_000 + COLLATERAL);
    let prov = h.provider(&p.provider);
    assert_eq!(
        (prov.staked, prov.locked, prov.jobs_slashed),
        (MIN_STAKE - COLLATERAL, 0, 1)
    );
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
    h.submit(&p, &job, RESULT).unwrap();
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
    let ix = h.close_ix(&client.pubkey(), &job);
    assert_market_err(h.send(&[ix], &[&client.key]), MarketError::JobNotSettled);
    assert!(h.exists(&job));
    h.assert_conserved();
}
