//! No party can block settlement: on every terminal path, with every token account a party
//! controls closed (or frozen by the mint's freeze authority), settlement still succeeds, and
//! afterwards each party withdraws exactly its share to a fresh token account of its choosing.

use crate::harness::*;
use compute_market::errors::MarketError;
use compute_market::events::JobSettled;
use compute_market::state::JobStatus;

const GOOD: [u8; 32] = [0xaa; 32];
const BAD: [u8; 32] = [0xbb; 32];
const THIRD: [u8; 32] = [0xcc; 32];

/// How the parties' own token accounts are made unusable.
#[derive(Clone, Copy, Debug)]
enum Lockout {
    /// Closed by their owners.
    Close,
    /// Frozen by the mint's freeze authority (a market that accepted a freezable mint).
    Freeze,
}

/// The terminal paths of a job.
#[derive(Clone, Copy, Debug)]
enum Path {
    /// n = 1, submitted: Completed.
    Submitted,
    /// n = 3, one liar: Completed, two paid, one slashed.
    OneLiar,
    /// n = 3, three different results: Failed, nobody paid or slashed.
    NoQuorum,
    /// n = 3, one claimer by the claim deadline: Expired (too few claims), nobody slashed.
    TooFewClaims,
    /// n = 3, one commitment by the commit deadline: Expired (too few commits), the two
    /// silent claimers slashed.
    TooFewCommits,
}

impl Path {
    /// (replicas, claimers)
    fn shape(self) -> (u8, usize) {
        match self {
            Path::Submitted => (1, 1),
            Path::TooFewClaims => (3, 1),
            _ => (3, 3),
        }
    }

    /// Expected status, the claimers paid (by index), and how many are slashed.
    fn outcome(self) -> (JobStatus, Vec<usize>, u64) {
        match self {
            Path::Submitted => (JobStatus::Completed, vec![0], 0),
            Path::OneLiar => (JobStatus::Completed, vec![0, 2], 1),
            Path::NoQuorum => (JobStatus::Failed, vec![], 0),
            Path::TooFewClaims => (JobStatus::Expired, vec![], 0),
            Path::TooFewCommits => (JobStatus::Expired, vec![], 2),
        }
    }
}

struct Scene {
    h: Harness,
    client: Wallet,
    ps: Vec<ProviderActor>,
    job: Pubkey,
    escrowed: u64,
}

/// A client holding exactly the job's escrow and its claimers, every party's token account
/// locked out once the job is posted and claimed.
fn scene(path: Path, lockout: Lockout) -> Scene {
    let mut h = match lockout {
        Lockout::Close => Harness::new(),
        Lockout::Freeze => Harness::with_freezable_mint(),
    };
    let (replicas, claimers) = path.shape();
    let escrowed = replicas as u64 * (REWARD + fee());
    let client = h.wallet(escrowed);
    let ps = h.providers(claimers);
    let job = h.claimed_job(&client, &ps, replicas, replicas / 2 + 1);
    assert_eq!(h.balance(&client.token), 0);
    lock(&mut h, &client, lockout);
    for p in &ps {
        assert_eq!(h.balance(&p.wallet.token), 0);
        lock(&mut h, &p.wallet, lockout);
    }
    Scene {
        h,
        client,
        ps,
        job,
        escrowed,
    }
}

fn lock(h: &mut Harness, wallet: &Wallet, lockout: Lockout) {
    match lockout {
        Lockout::Close => h.close_token_account(&wallet.token, &wallet.key),
        Lockout::Freeze => h.freeze(&wallet.token),
    }
}

impl Scene {
    fn commit_reveal(&mut self, results: &[[u8; 32]]) {
        for (i, r) in results.iter().enumerate() {
            self.h
                .commit(&self.ps[i], &self.job, *r, [i as u8; 32])
                .unwrap();
        }
        for (i, r) in results.iter().enumerate() {
            self.h
                .reveal(&self.ps[i], &self.job, *r, [i as u8; 32])
                .unwrap();
        }
    }

    /// Drives the job to its end; returns the settlement's event.
    fn settle(&mut self, path: Path) -> JobSettled {
        let meta = match path {
            Path::Submitted => self.h.submit(&self.ps[0], &self.job, GOOD),
            Path::OneLiar | Path::NoQuorum => {
                let third = if matches!(path, Path::OneLiar) {
                    GOOD
                } else {
                    THIRD
                };
                self.commit_reveal(&[GOOD, BAD, third]);
                self.h.finalize(&self.job)
            }
            Path::TooFewClaims => {
                let deadline = self.h.job(&self.job).claim_deadline;
                self.h.warp_to(deadline + 1);
                self.h.expire(&self.job)
            }
            Path::TooFewCommits => {
                self.h
                    .commit(&self.ps[0], &self.job, GOOD, [0; 32])
                    .unwrap();
                let deadline = self.h.job(&self.job).commit_deadline;
                self.h.warp_to(deadline + 1);
                self.h.expire(&self.job)
            }
        };
        event(&meta.expect("settlement succeeds with every party locked out"))
    }

    /// Every party withdraws its share to a fresh token account; checks each amount.
    fn withdraw_everything(&mut self, paid: &[usize], slashed: u64) {
        let h = &mut self.h;
        let refund = self.escrowed - paid.len() as u64 * (REWARD + fee());
        let dest = h.create_token_account(&self.client.pubkey());
        h.close(&self.client, &self.job, &dest).unwrap();
        assert_eq!(h.balance(&dest), refund, "client refund");
        for (i, p) in self.ps.iter().enumerate() {
            let dest = h.create_token_account(&p.wallet.pubkey());
            if paid.contains(&i) {
                h.withdraw_earnings(p, &dest).unwrap();
                assert_eq!(h.balance(&dest), REWARD, "earnings of provider {i}");
            } else {
                assert_market_err(h.withdraw_earnings(p, &dest), MarketError::NoEarnings);
            }
        }
        let supply = h.supply();
        for p in &self.ps {
            h.sweep(&p.provider).unwrap();
        }
        assert_eq!(h.supply(), supply - slashed * COLLATERAL, "forfeits burnt");
        let fees = paid.len() as u64 * fee();
        let auth = h.authority.insecure_clone();
        let dest = h.create_token_account(&auth.pubkey());
        if fees > 0 {
            h.withdraw_fees(&auth, &dest, fees).unwrap();
        }
        assert_market_err(
            h.withdraw_fees(&auth, &dest, 1),
            MarketError::InsufficientTreasury,
        );
        assert_eq!(h.balance(&dest), fees, "fees");
    }
}

fn run(path: Path, lockout: Lockout) {
    let mut s = scene(path, lockout);
    let ev = s.settle(path);
    let (status, paid, slashed) = path.outcome();
    assert_eq!(
        (
            ev.status,
            ev.paid_replicas as usize,
            ev.slashed_replicas as u64
        ),
        (status, paid.len(), slashed),
        "{path:?} with {lockout:?}"
    );
    assert_eq!(ev.forfeited, slashed * COLLATERAL);
    s.h.assert_conserved();
    s.withdraw_everything(&paid, slashed);
    s.h.assert_conserved();
}

#[test]
fn submitted_single_replica_settles_with_closed_accounts() {
    run(Path::Submitted, Lockout::Close);
}

#[test]
fn submitted_single_replica_settles_with_frozen_accounts() {
    run(Path::Submitted, Lockout::Freeze);
}

#[test]
fn completed_with_a_liar_settles_with_closed_accounts() {
    run(Path::OneLiar, Lockout::Close);
}

#[test]
fn completed_with_a_liar_settles_with_frozen_accounts() {
    run(Path::OneLiar, Lockout::Freeze);
}

#[test]
fn failed_settles_with_closed_accounts() {
    run(Path::NoQuorum, Lockout::Close);
}

#[test]
fn failed_settles_with_frozen_accounts() {
    run(Path::NoQuorum, Lockout::Freeze);
}

#[test]
fn expired_with_too_few_claims_settles_with_closed_accounts() {
    run(Path::TooFewClaims, Lockout::Close);
}

#[test]
fn expired_with_too_few_claims_settles_with_frozen_accounts() {
    run(Path::TooFewClaims, Lockout::Freeze);
}

#[test]
fn expired_with_a_no_show_settles_with_closed_accounts() {
    run(Path::TooFewCommits, Lockout::Close);
}

#[test]
fn expired_with_a_no_show_settles_with_frozen_accounts() {
    run(Path::TooFewCommits, Lockout::Freeze);
}
