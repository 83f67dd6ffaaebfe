//! Poison jobs and give-backs: a job nobody can (or wants to) finish costs its claimers their
//! collateral, which is burnt, never paid to the client; a claimer that cannot run a job gives
//! it back early for less than a slash, and its slot reopens.

use crate::harness::*;
use compute_market::errors::MarketError;
use compute_market::events::{JobGivenBack, JobSettled, ProviderSwept};
use compute_market::state::*;

const CLIENT_FUNDS: u64 = 10_000_000;

#[test]
fn a_poison_job_returns_the_client_nothing_more_and_burns_the_claimers_collateral() {
    let mut h = Harness::new();
    let client = h.wallet(CLIENT_FUNDS);
    let ps = h.providers(3);
    let job = h.claimed_job(&client, &ps, 3, 2);
    // Nobody commits (the job cannot be run, or the claimers are the client's own sybils).
    let deadline = h.job(&job).commit_deadline;
    h.warp_to(deadline + 1);
    let ev: JobSettled = event(&h.expire(&job).unwrap());
    assert_eq!((ev.status, ev.slashed_replicas), (JobStatus::Expired, 3));
    assert_eq!(
        (ev.forfeited, ev.refund_due),
        (3 * COLLATERAL, 3 * (REWARD + fee()))
    );
    h.close(&client, &job, &client.token).unwrap();
    assert_eq!(
        h.balance(&client.token),
        CLIENT_FUNDS,
        "no more than it started with"
    );
    let supply = h.supply();
    for p in &ps {
        let swept: ProviderSwept = event(&h.sweep(&p.provider).unwrap());
        assert_eq!((swept.fees, swept.burnt), (0, COLLATERAL));
        let prov = h.provider(&p.provider);
        assert_eq!((prov.staked, prov.forfeit_due), (MIN_STAKE - COLLATERAL, 0));
        assert_eq!(h.balance(&p.vault), MIN_STAKE - COLLATERAL);
    }
    assert_eq!(h.supply(), supply - 3 * COLLATERAL);
    h.assert_conserved();
}

#[test]
fn a_give_back_costs_exactly_the_give_back_cost_and_reopens_the_slot() {
    let mut h = Harness::new();
    let client = h.wallet(CLIENT_FUNDS);
    let ps = h.providers(3);
    let job = h.claimed_job(&client, &ps[..2], 3, 2);
    let cost = h.job(&job).give_back_cost;
    assert_eq!(cost, give_back_cost());
    assert!(0 < cost && cost < COLLATERAL, "cheaper than a slash");

    let ev: JobGivenBack = event(&h.give_back(&ps[0], &job).unwrap());
    assert_eq!(
        (ev.provider, ev.slot, ev.cost, ev.claimed),
        (ps[0].provider, 0, cost, 1)
    );
    let prov = h.provider(&ps[0].provider);
    assert_eq!((prov.staked, prov.locked), (MIN_STAKE - cost, 0));
    assert_eq!((prov.forfeit_due, prov.jobs_given_back), (cost, 1));
    assert_eq!(
        h.balance(&ps[0].vault),
        MIN_STAKE,
        "burnt at the next sweep"
    );
    // The last claimed slot moved into the freed one: claimed slots stay at 0..claimed.
    let j = h.job(&job);
    assert_eq!((j.claimed, j.status()), (1, JobStatus::Open));
    assert_eq!(j.slots[0].provider, ps[1].provider);
    assert_eq!(j.slots[1].state(), SlotState::Empty);

    // Another provider takes the slot.
    h.claim(&ps[2], &job).unwrap();
    assert_eq!(h.job(&job).slots[1].provider, ps[2].provider);
    let supply = h.supply();
    h.sweep(&ps[0].provider).unwrap();
    assert_eq!(h.supply(), supply - cost);
    h.assert_conserved();
}

#[test]
fn a_give_back_of_a_full_job_reopens_it() {
    let mut h = Harness::new();
    let ClaimedJob {
        client,
        provider: p,
        job,
    } = h.claimed_single_job();
    assert_eq!(h.job(&job).status(), JobStatus::Running);
    h.give_back(&p, &job).unwrap();
    assert_eq!(h.job(&job).status(), JobStatus::Open);
    let q = h.new_provider();
    h.claim(&q, &job).unwrap();
    h.submit(&q, &job, [4; 32]).unwrap();
    assert_eq!(h.provider(&q.provider).earnings, REWARD);
    h.close(&client, &job, &client.token).unwrap();
    assert_eq!(h.balance(&client.token), 1_000_000 - REWARD - fee());
    h.assert_conserved();
}

#[test]
fn a_give_back_after_committing_is_refused() {
    let mut h = Harness::new();
    let client = h.wallet(CLIENT_FUNDS);
    let ps = h.providers(3);
    let job = h.claimed_job(&client, &ps, 3, 2);
    h.commit(&ps[0], &job, [1; 32], [2; 32]).unwrap();
    assert_market_err(h.give_back(&ps[0], &job), MarketError::WrongSlotState);
    h.assert_conserved();
}

#[test]
fn a_give_back_after_the_commit_deadline_is_refused() {
    let mut h = Harness::new();
    let ClaimedJob {
        provider: p, job, ..
    } = h.claimed_single_job();
    let deadline = h.job(&job).commit_deadline;
    h.warp_to(deadline);
    let ix = h.give_back_ix(&p, &job);
    // Still allowed at the deadline itself (checked on a copy: nothing is sent).
    assert!(h
        .svm
        .simulate_transaction(h.transaction(&[ix], &[&p.wallet.key]))
        .is_ok());
    h.warp(1);
    assert_market_err(h.give_back(&p, &job), MarketError::CommitDeadlinePassed);
    h.assert_conserved();
}

#[test]
fn a_give_back_by_a_stranger_is_refused() {
    let mut h = Harness::new();
    let ClaimedJob {
        provider: p, job, ..
    } = h.claimed_single_job();
    let stranger = h.new_provider();
    // Signing for the claimer's provider account...
    let mut ix = h.give_back_ix(&p, &job);
    ix.accounts[0].pubkey = stranger.wallet.pubkey();
    assert_market_err(
        h.send(&[ix], &[&stranger.wallet.key]),
        MarketError::NotProviderOwner,
    );
    // ...or with its own provider, which holds no slot.
    assert_market_err(h.give_back(&stranger, &job), MarketError::NotAReplica);
    assert_eq!(h.job(&job).slots[0].provider, p.provider);
    h.assert_conserved();
}

#[test]
fn a_settled_job_cannot_be_given_back() {
    let mut h = Harness::new();
    let ClaimedJob {
        provider: p, job, ..
    } = h.claimed_single_job();
    h.submit(&p, &job, [4; 32]).unwrap();
    assert_market_err(h.give_back(&p, &job), MarketError::JobNotOpen);
    h.assert_conserved();
}
