//! Who may fill a job's quorum: nobody in the posting slot, never the client itself, and only
//! providers meeting the job's claim rules; and which replication a job may ask for.

use crate::harness::*;
use compute_market::errors::MarketError;
use compute_market::state::*;
use compute_market::{ClaimRules, JobPostArgs};

const CLIENT_FUNDS: u64 = 10_000_000;

/// Posts `args` for a fresh client; returns the job.
fn post_with(h: &mut Harness, args: &JobPostArgs) -> Pubkey {
    let client = h.wallet(CLIENT_FUNDS);
    h.post(&client, args).unwrap()
}

/// A single-replica job with `rules`, posted by a fresh client.
fn job_with_rules(h: &mut Harness, rules: ClaimRules) -> Pubkey {
    let mut args = h.job_args(1, 1);
    args.rules = rules;
    post_with(h, &args)
}

#[test]
fn nobody_claims_in_the_posting_transaction() {
    let mut h = Harness::new();
    let client = h.wallet(CLIENT_FUNDS);
    let p = h.new_provider();
    let args = h.job_args(1, 1);
    let (post, job) = h.post_ix(&client, &args);
    let claim = h.claim_ix(&p, &job);
    assert_market_err(
        h.send(&[post, claim], &[&client.key, &p.wallet.key]),
        MarketError::ClaimTooEarly,
    );
    assert!(!h.exists(&job), "the whole transaction failed");
    assert_eq!(h.balance(&client.token), CLIENT_FUNDS);
    h.assert_conserved();
}

#[test]
fn nobody_claims_in_the_posting_slot() {
    let mut h = Harness::new();
    let client = h.wallet(CLIENT_FUNDS);
    let p = h.new_provider();
    let args = h.job_args(1, 1);
    let job = h.post(&client, &args).unwrap();
    assert_eq!(h.job(&job).posted_slot, h.clock().slot);
    let ix = h.claim_ix(&p, &job);
    assert_market_err(h.send(&[ix], &[&p.wallet.key]), MarketError::ClaimTooEarly);
    // One slot later the claim goes through.
    h.claim(&p, &job).unwrap();
    assert_eq!(h.job(&job).claimed, 1);
    h.assert_conserved();
}

#[test]
fn the_client_cannot_claim_its_own_job() {
    let mut h = Harness::new();
    let wallet = h.wallet(MIN_STAKE + CLIENT_FUNDS);
    let me = ProviderActor::of(&h.market, wallet);
    h.provider_register(&me, MIN_STAKE, caps()).unwrap();
    let args = h.job_args(3, 2);
    let job = h.post(&me.wallet, &args).unwrap();
    assert_market_err(h.claim(&me, &job), MarketError::ClientCannotClaim);
    h.assert_conserved();
}

#[test]
fn only_allowlisted_providers_claim() {
    let mut h = Harness::new();
    let [listed, unlisted] = [h.new_provider(), h.new_provider()];
    let rules = ClaimRules {
        allowlist: vec![listed.provider],
        ..Default::default()
    };
    let job = job_with_rules(&mut h, rules);
    assert_eq!(h.job(&job).allowlist(), &[listed.provider]);
    assert_market_err(h.claim(&unlisted, &job), MarketError::NotOnAllowlist);
    h.claim(&listed, &job).unwrap();
    h.assert_conserved();
}

#[test]
fn an_allowlist_holds_at_most_eight_providers() {
    let mut h = Harness::new();
    let client = h.wallet(CLIENT_FUNDS);
    let keys: Vec<Pubkey> = (0..9).map(|_| Pubkey::new_unique()).collect();
    let mut args = h.job_args(1, 1);
    args.rules.allowlist = keys.clone();
    let (ix, _) = h.post_ix(&client, &args);
    assert_market_err(h.send(&[ix], &[&client.key]), MarketError::AllowlistTooLong);
    args.rules.allowlist.pop();
    let job = h.post(&client, &args).unwrap();
    assert_eq!(h.job(&job).allowlist(), &keys[..8]);
    h.assert_conserved();
}

#[test]
fn a_track_record_can_be_required() {
    let mut h = Harness::new();
    let ClaimedJob {
        provider: veteran,
        job,
        ..
    } = h.claimed_single_job();
    h.submit(&veteran, &job, [1; 32]).unwrap();
    let newcomer = h.new_provider();
    let rules = ClaimRules {
        min_completed_jobs: 1,
        ..Default::default()
    };
    let job = job_with_rules(&mut h, rules);
    assert_market_err(h.claim(&newcomer, &job), MarketError::TrackRecordTooShort);
    h.claim(&veteran, &job).unwrap();
    h.assert_conserved();
}

#[test]
fn a_minimum_stake_can_be_required() {
    let mut h = Harness::new();
    let small = h.new_provider();
    let large = h.provider_with(2 * MIN_STAKE, caps());
    let rules = ClaimRules {
        min_stake: 2 * MIN_STAKE,
        ..Default::default()
    };
    let job = job_with_rules(&mut h, rules);
    assert_market_err(h.claim(&small, &job), MarketError::StakeBelowJobMinimum);
    h.claim(&large, &job).unwrap();
    h.assert_conserved();
}

#[test]
fn a_minimum_provider_age_can_be_required() {
    let mut h = Harness::new();
    let p = h.new_provider();
    let mut args = h.job_args(1, 1);
    args.rules.min_provider_age = 300;
    args.claim_deadline = h.now() + 1_000;
    let job = post_with(&mut h, &args);
    assert_market_err(h.claim(&p, &job), MarketError::ProviderTooNew);
    h.warp(300);
    h.claim(&p, &job).unwrap();
    h.assert_conserved();
}

#[test]
fn two_replicas_are_refused() {
    let mut h = Harness::new();
    let client = h.wallet(CLIENT_FUNDS);
    for quorum in [1, 2] {
        let args = h.job_args(2, quorum);
        let (ix, _) = h.post_ix(&client, &args);
        assert_market_err(h.send(&[ix], &[&client.key]), MarketError::InvalidReplicas);
    }
    h.assert_conserved();
}

#[test]
fn float_jobs_take_exactly_one_replica() {
    let mut h = Harness::new();
    let client = h.wallet(CLIENT_FUNDS);
    let mut args = h.job_args(3, 2);
    args.spec.determinism = Determinism::Float as u8;
    let (ix, _) = h.post_ix(&client, &args);
    assert_market_err(
        h.send(&[ix], &[&client.key]),
        MarketError::FloatNeedsOneReplica,
    );
    let mut args = h.job_args(1, 1);
    args.spec.determinism = Determinism::Float as u8;
    let job = h.post(&client, &args).unwrap();
    assert_eq!(h.job(&job).spec.determinism(), Determinism::Float);
    let p = h.new_provider();
    h.claim(&p, &job).unwrap();
    h.submit(&p, &job, [3; 32]).unwrap();
    assert_eq!(h.job(&job).status(), JobStatus::Completed);
    h.assert_conserved();
}

#[test]
fn the_replication_rule_is_shared_with_the_sdk() {
    use Determinism::{Exact, Float};
    let cases = [
        (1, 1, Exact, Ok(())),
        (1, 1, Float, Ok(())),
        (2, 2, Exact, Err(MarketError::InvalidReplicas)),
        (3, 2, Exact, Ok(())),
        (3, 2, Float, Err(MarketError::FloatNeedsOneReplica)),
        (7, 4, Exact, Ok(())),
        (7, 3, Exact, Err(MarketError::InvalidQuorum)),
        (8, 5, Exact, Err(MarketError::InvalidReplicas)),
    ];
    for (n, k, determinism, expected) in cases {
        let got = compute_market_sdk::check_replication(n, k, determinism).map_err(code);
        assert_eq!(
            got,
            expected.map_err(code),
            "n = {n}, k = {k}, {determinism:?}"
        );
    }
}
