//! Replicated jobs (n = 3, k = 2): commit-reveal, quorum, slashing, expiry in every phase.

use crate::harness::*;
use compute_market::errors::MarketError;
use compute_market::events::*;
use compute_market::state::*;

const GOOD: [u8; 32] = [0xaa; 32];
const BAD: [u8; 32] = [0xbb; 32];
const CLIENT_FUNDS: u64 = 10_000_000;

fn salt(i: u8) -> [u8; 32] {
    [i; 32]
}

struct Scene {
    h: Harness,
    client: Wallet,
    ps: Vec<ProviderActor>,
    job: Pubkey,
}

/// A 3-replica, quorum-2 job claimed by three providers.
fn scene() -> Scene {
    let mut h = Harness::new();
    let client = h.wallet(CLIENT_FUNDS);
    let ps: Vec<_> = (0..3).map(|_| h.new_provider()).collect();
    let args = h.job_args(3, 2);
    let job = h.post(&client, &args).unwrap();
    for p in &ps {
        h.claim(p, &job).unwrap();
    }
    assert_eq!(h.job(&job).status(), JobStatus::Running);
    Scene { h, client, ps, job }
}

impl Scene {
    fn commit_all(&mut self, results: &[[u8; 32]]) {
        for (i, r) in results.iter().enumerate() {
            let meta = self
                .h
                .commit(&self.ps[i], &self.job, *r, salt(i as u8))
                .unwrap();
            assert!(has_event::<ResultCommitted>(&meta));
        }
    }
    fn reveal_all(&mut self, results: &[[u8; 32]]) {
        for (i, r) in results.iter().enumerate() {
            let meta = self
                .h
                .reveal(&self.ps[i], &self.job, *r, salt(i as u8))
                .unwrap();
            let ev: ResultRevealed = event(&meta);
            assert_eq!(ev.result_hash, *r);
        }
    }
    fn try_finalize(&mut self) -> TxResult {
        self.h.finalize(&self.job)
    }
    fn finalize(&mut self) -> JobSettled {
        event(&self.try_finalize().unwrap())
    }
    /// Earnings credited to provider `i` (in its stake vault until it withdraws them).
    fn earned(&self, i: usize) -> u64 {
        self.h.provider(&self.ps[i].provider).earnings
    }
    /// The client's balance once it closed the job (its refund back in its wallet).
    fn client_balance_after_close(&mut self) -> u64 {
        let meta = self
            .h
            .close(&self.client, &self.job, &self.client.token)
            .unwrap();
        assert!(has_event::<JobClosed>(&meta));
        self.h.balance(&self.client.token)
    }
    /// Sweeps every provider: fees to the treasury, forfeits burnt.
    fn sweep_all(&mut self) {
        for i in 0..self.ps.len() {
            let provider = self.ps[i].provider;
            self.h.sweep(&provider).unwrap();
        }
    }
}

#[test]
fn three_agreeing_providers_are_all_paid() {
    let mut s = scene();
    s.commit_all(&[GOOD, GOOD, GOOD]);
    s.reveal_all(&[GOOD, GOOD, GOOD]);
    let ev = s.finalize();
    assert_eq!(ev.status, JobStatus::Completed);
    assert_eq!(ev.result_hash, GOOD);
    assert_eq!((ev.paid_replicas, ev.slashed_replicas), (3, 0));
    assert_eq!(ev.paid_to_providers, 3 * REWARD);
    assert_eq!((ev.fees, ev.refund_due, ev.forfeited), (3 * fee(), 0, 0));
    for i in 0..3 {
        assert_eq!(s.earned(i), REWARD);
        let p = s.h.provider(&s.ps[i].provider);
        assert_eq!((p.locked, p.staked, p.jobs_completed), (0, MIN_STAKE, 1));
        assert_eq!(p.fees_due, fee());
        assert_eq!(s.h.balance(&s.ps[i].vault), MIN_STAKE + REWARD + fee());
    }
    let j = s.h.job(&s.job);
    assert_eq!((j.status(), j.result_hash), (JobStatus::Completed, GOOD));
    s.h.assert_conserved();
    for i in 0..3 {
        let (p, dest) = (&s.ps[i], s.ps[i].wallet.token);
        s.h.withdraw_earnings(p, &dest).unwrap();
        assert_eq!(s.h.balance(&dest), REWARD);
    }
    s.sweep_all();
    assert_eq!(s.h.balance(&s.h.treasury), 3 * fee());
    assert_eq!(
        s.client_balance_after_close(),
        CLIENT_FUNDS - 3 * (REWARD + fee())
    );
    s.h.assert_conserved();
}

#[test]
fn a_lying_provider_is_slashed_and_the_others_paid() {
    let mut s = scene();
    s.commit_all(&[GOOD, BAD, GOOD]);
    s.reveal_all(&[GOOD, BAD, GOOD]);
    let ev = s.finalize();
    assert_eq!((ev.status, ev.result_hash), (JobStatus::Completed, GOOD));
    assert_eq!((ev.paid_replicas, ev.slashed_replicas), (2, 1));
    assert_eq!((ev.forfeited, ev.refund_due), (COLLATERAL, REWARD + fee()));
    assert_eq!((s.earned(0), s.earned(1), s.earned(2)), (REWARD, 0, REWARD));
    let liar = s.h.provider(&s.ps[1].provider);
    assert_eq!(
        (liar.staked, liar.locked, liar.jobs_slashed),
        (MIN_STAKE - COLLATERAL, 0, 1)
    );
    assert_eq!(liar.forfeit_due, COLLATERAL);
    // The client pays for two replicas; the liar's collateral is burnt, paid to nobody.
    assert_eq!(
        s.client_balance_after_close(),
        CLIENT_FUNDS - 2 * (REWARD + fee())
    );
    let supply = s.h.supply();
    s.sweep_all();
    assert_eq!(s.h.supply(), supply - COLLATERAL);
    assert_eq!(s.h.balance(&s.ps[1].vault), MIN_STAKE - COLLATERAL);
    s.h.assert_conserved();
}

#[test]
fn a_provider_that_never_commits_is_slashed() {
    let mut s = scene();
    s.commit_all(&[GOOD, GOOD]);
    // Reveals wait for the third commitment until the commit deadline passes.
    assert_market_err(
        s.h.reveal(&s.ps[0], &s.job, GOOD, salt(0)),
        MarketError::RevealNotOpen,
    );
    let deadline = s.h.job(&s.job).commit_deadline;
    s.h.warp_to(deadline + 1);
    s.reveal_all(&[GOOD, GOOD]);
    let ev = s.finalize();
    assert_eq!(
        (ev.status, ev.paid_replicas, ev.slashed_replicas),
        (JobStatus::Completed, 2, 1)
    );
    assert_eq!(
        s.h.provider(&s.ps[2].provider).staked,
        MIN_STAKE - COLLATERAL
    );
    s.h.assert_conserved();
}

#[test]
fn a_provider_that_never_reveals_is_slashed_after_the_reveal_deadline() {
    let mut s = scene();
    s.commit_all(&[GOOD, GOOD, GOOD]);
    s.reveal_all(&[GOOD, GOOD]);
    assert_market_err(s.try_finalize(), MarketError::FinalizeTooEarly);
    let deadline = s.h.job(&s.job).reveal_deadline;
    s.h.warp_to(deadline + 1);
    assert_market_err(
        s.h.reveal(&s.ps[2], &s.job, GOOD, salt(2)),
        MarketError::RevealDeadlinePassed,
    );
    let ev = s.finalize();
    assert_eq!(
        (ev.status, ev.paid_replicas, ev.slashed_replicas),
        (JobStatus::Completed, 2, 1)
    );
    assert_eq!(
        s.client_balance_after_close(),
        CLIENT_FUNDS - 2 * (REWARD + fee())
    );
    s.h.assert_conserved();
}

#[test]
fn no_quorum_fails_refunds_the_client_and_slashes_nobody_who_revealed() {
    let mut s = scene();
    let third = [0xcc; 32];
    s.commit_all(&[GOOD, BAD, third]);
    s.reveal_all(&[GOOD, BAD, third]);
    let ev = s.finalize();
    assert_eq!((ev.status, ev.result_hash), (JobStatus::Failed, [0; 32]));
    assert_eq!((ev.paid_replicas, ev.slashed_replicas), (0, 0));
    assert_eq!(ev.refund_due, 3 * (REWARD + fee()));
    assert_eq!(s.client_balance_after_close(), CLIENT_FUNDS);
    for i in 0..3 {
        let p = s.h.provider(&s.ps[i].provider);
        assert_eq!((p.staked, p.locked, p.jobs_failed), (MIN_STAKE, 0, 1));
    }
    s.h.assert_conserved();
}

#[test]
fn no_quorum_slashes_only_the_non_revealer() {
    let mut s = scene();
    s.commit_all(&[GOOD, BAD, GOOD]);
    s.reveal_all(&[GOOD, BAD]);
    let deadline = s.h.job(&s.job).reveal_deadline;
    s.h.warp_to(deadline + 1);
    let ev = s.finalize();
    assert_eq!((ev.status, ev.slashed_replicas), (JobStatus::Failed, 1));
    assert_eq!(ev.forfeited, COLLATERAL);
    assert_eq!(s.client_balance_after_close(), CLIENT_FUNDS);
    assert_eq!(
        s.h.provider(&s.ps[2].provider).staked,
        MIN_STAKE - COLLATERAL
    );
    assert_eq!(s.h.provider(&s.ps[0].provider).staked, MIN_STAKE);
    s.h.assert_conserved();
}

#[test]
fn claims_close_at_the_deadline_with_a_quorum_of_claimers() {
    let mut h = Harness::new();
    let client = h.wallet(CLIENT_FUNDS);
    let ps: Vec<_> = (0..2).map(|_| h.new_provider()).collect();
    let args = h.job_args(3, 2);
    let job = h.post(&client, &args).unwrap();
    for (i, p) in ps.iter().enumerate() {
        h.claim(p, &job).unwrap();
        h.commit(p, &job, GOOD, salt(i as u8)).unwrap();
    }
    assert_eq!(h.job(&job).status(), JobStatus::Open);
    // Claims are still open: nobody may reveal yet.
    assert_market_err(
        h.reveal(&ps[0], &job, GOOD, salt(0)),
        MarketError::RevealNotOpen,
    );
    let deadline = h.job(&job).claim_deadline;
    h.warp_to(deadline + 1);
    for (i, p) in ps.iter().enumerate() {
        h.reveal(p, &job, GOOD, salt(i as u8)).unwrap();
    }
    let meta = h.finalize(&job).unwrap();
    let ev: JobSettled = event(&meta);
    assert_eq!((ev.status, ev.paid_replicas), (JobStatus::Completed, 2));
    assert_eq!(
        ev.refund_due,
        REWARD + fee(),
        "the unclaimed slot is refunded"
    );
    h.close(&client, &job, &client.token).unwrap();
    assert_eq!(
        h.balance(&client.token),
        CLIENT_FUNDS - 2 * (REWARD + fee())
    );
    h.assert_conserved();
}

#[test]
fn too_few_claims_expire_without_slashing() {
    let mut h = Harness::new();
    let client = h.wallet(CLIENT_FUNDS);
    let p = h.new_provider();
    let args = h.job_args(3, 2);
    let job = h.post(&client, &args).unwrap();
    h.claim(&p, &job).unwrap();
    assert_market_err(h.expire(&job), MarketError::ExpireTooEarly);
    let deadline = h.job(&job).claim_deadline;
    h.warp_to(deadline + 1);
    assert_market_err(h.finalize(&job), MarketError::FinalizeTooEarly);
    let meta = h.expire(&job).unwrap();
    let ev: JobSettled = event(&meta);
    assert_eq!((ev.status, ev.slashed_replicas), (JobStatus::Expired, 0));
    h.close(&client, &job, &client.token).unwrap();
    assert_eq!(h.balance(&client.token), CLIENT_FUNDS);
    let prov = h.provider(&p.provider);
    assert_eq!(
        (prov.staked, prov.locked, prov.jobs_failed),
        (MIN_STAKE, 0, 1)
    );
    h.assert_conserved();
}

#[test]
fn too_few_commits_expire_and_slash_the_silent_claimers() {
    let mut s = scene();
    s.commit_all(&[GOOD]);
    let deadline = s.h.job(&s.job).commit_deadline;
    s.h.warp_to(deadline + 1);
    assert_market_err(s.try_finalize(), MarketError::FinalizeTooEarly);
    let meta = s.h.expire(&s.job).unwrap();
    let ev: JobSettled = event(&meta);
    assert_eq!((ev.status, ev.slashed_replicas), (JobStatus::Expired, 2));
    assert_eq!(ev.forfeited, 2 * COLLATERAL);
    assert_eq!(s.client_balance_after_close(), CLIENT_FUNDS);
    assert_eq!(s.h.provider(&s.ps[0].provider).staked, MIN_STAKE);
    assert_eq!(
        s.h.provider(&s.ps[1].provider).staked,
        MIN_STAKE - COLLATERAL
    );
    s.h.assert_conserved();
}

#[test]
fn finalize_twice_is_refused() {
    let mut s = scene();
    s.commit_all(&[GOOD, GOOD, GOOD]);
    s.reveal_all(&[GOOD, GOOD, GOOD]);
    s.finalize();
    let ix = s.h.finalize_ix(&s.job, &s.h.payer.pubkey());
    assert_market_err(
        s.h.send(std::slice::from_ref(&ix), &[]),
        MarketError::JobAlreadySettled,
    );
    // Once closed, the job is a tombstone: no settlement instruction accepts it.
    s.client_balance_after_close();
    assert_anchor_err(
        s.h.send(&[ix], &[]),
        anchor_lang::error::ErrorCode::AccountDiscriminatorMismatch,
    );
    s.h.assert_conserved();
}
