//! Drawn jobs: providers apply during the claim window, locking stake for the job, and the
//! replicas are drawn, weighted by that stake, from a seed made of the applicants' contributions
//! and the hash of a slot after the last application (SlotHashes), so faking a quorum needs a
//! matching share of the stake locked for the job.

use crate::harness::*;
use compute_market::constants::{DRAW_DELAY_SLOTS, MAX_APPLICANTS};
use compute_market::errors::MarketError;
use compute_market::events::{DrawResealed, JobDrawn};
use compute_market::state::*;
use compute_market::{MarketInitArgs, ProviderUpdateArgs};

#[test]
fn replicas_are_drawn_among_applicants_and_the_job_runs() {
    let mut h = Harness::new();
    let (client, job) = h.post_drawn(3, 2);
    let ps: Vec<_> = [1, 2, 3, 4, 5]
        .iter()
        .map(|k| h.provider_with(k * MIN_STAKE, caps()))
        .collect();
    assert_market_err(h.claim(&ps[0], &job), MarketError::JobIsDrawn);
    for (i, p) in ps.iter().enumerate() {
        h.apply(p, &job, i as u8).unwrap();
    }
    assert_market_err(h.apply(&ps[0], &job, 9), MarketError::AlreadyApplied);
    let own = {
        let wallet = Wallet {
            key: client.key.insecure_clone(),
            token: client.token,
        };
        let actor = ProviderActor::of(&h.market, wallet);
        h.provider_register(&actor, MIN_STAKE, caps()).unwrap();
        actor
    };
    assert_market_err(h.apply(&own, &job, 0), MarketError::ClientCannotClaim);
    // Applying locks the collateral (the default application weight).
    for p in &ps {
        assert_eq!(h.provider(&p.provider).locked, COLLATERAL);
    }
    // Nobody may cancel a job others locked stake for.
    let cancel = h.cancel_ix(&job, &client.token);
    assert_market_err(
        h.send(&[cancel], &[&client.key]),
        MarketError::JobAlreadyClaimed,
    );
    let j = h.job(&job);
    assert_eq!((j.applicants_len, j.claimed), (5, 0));
    assert_eq!(j.draw_slot, h.clock().slot + DRAW_DELAY_SLOTS);
    assert_market_err(h.draw(&job), MarketError::DrawTooEarly);
    // The window closed but the seed slot is not produced yet.
    h.warp_to(j.claim_deadline + 1);
    h.set_slot_hashes(&[(j.draw_slot - 1, [2; 32])]);
    assert_market_err(h.draw(&job), MarketError::DrawTooEarly);
    // A drawn job with enough applicants waits for its draw instead of expiring.
    assert_market_err(h.expire(&job), MarketError::ExpireTooEarly);

    h.reach_draw(&job, [7; 32]);
    let meta = h.draw(&job).unwrap();
    let drawn: JobDrawn = event(&meta);
    assert_eq!(drawn.winners.len(), 3);
    let j = h.job(&job);
    assert_eq!((j.status(), j.claimed, j.drawn), (JobStatus::Running, 3, 1));
    for p in &ps {
        let locked = h.provider(&p.provider).locked;
        let won = drawn.winners.contains(&p.provider);
        assert_eq!(locked, if won { COLLATERAL } else { 0 }, "{}", p.provider);
    }
    assert_market_err(h.draw(&job), MarketError::AlreadyDrawn);

    // The winners run it as if they had claimed.
    let winners: Vec<&ProviderActor> = ps
        .iter()
        .filter(|p| drawn.winners.contains(&p.provider))
        .collect();
    for (i, p) in winners.iter().enumerate() {
        h.commit(p, &job, [5; 32], [i as u8; 32]).unwrap();
    }
    for (i, p) in winners.iter().enumerate() {
        h.reveal(p, &job, [5; 32], [i as u8; 32]).unwrap();
    }
    h.finalize(&job).unwrap();
    assert_eq!(h.job(&job).status(), JobStatus::Completed);
    h.assert_conserved();
}

#[test]
fn the_same_seed_draws_the_same_replicas() {
    let draw_with = |hash: [u8; 32]| {
        let mut h = Harness::new();
        let (_, job) = h.post_drawn(3, 2);
        let ps = h.providers(6);
        for (i, p) in ps.iter().enumerate() {
            h.apply(p, &job, i as u8).unwrap();
        }
        h.reach_draw(&job, hash);
        let meta = h.draw(&job).unwrap();
        event::<JobDrawn>(&meta).winners
    };
    assert_eq!(draw_with([3; 32]), draw_with([3; 32]));
    let others: Vec<_> = (10..16u8).map(|b| draw_with([b; 32])).collect();
    assert!(
        others.iter().any(|w| *w != others[0]),
        "different seeds draw different replicas"
    );
}

#[test]
fn the_draw_is_weighted_by_the_stake_locked_for_the_job() {
    // One applicant locks three quarters of the stake locked for the job: it wins a
    // one-replica draw about three times in four.
    // Winners give the job back to free their collateral for the next round: nearly free here.
    let mut h = Harness::with_market(MarketInitArgs {
        give_back_bps: 1,
        ..market_args()
    });
    let big = h.provider_with(3 * MIN_STAKE, caps());
    // Give-backs cost 40 each: room for every round above the minimum stake.
    let small = h.provider_with(MIN_STAKE + 10_000, caps());
    let rounds = 120u32;
    let mut big_wins = 0;
    for round in 0..rounds {
        let (_, job) = h.post_drawn(1, 1);
        h.apply_with(&big, &job, 1, 3 * COLLATERAL).unwrap();
        h.apply(&small, &job, 2).unwrap();
        let mut hash = [0u8; 32];
        hash[..4].copy_from_slice(&round.to_le_bytes());
        h.reach_draw(&job, hash);
        let drawn: JobDrawn = event(&h.draw(&job).unwrap());
        if drawn.winners == [big.provider] {
            big_wins += 1;
        }
        // Release the winner for the next round: it gives the job back.
        let winner = if drawn.winners == [big.provider] {
            &big
        } else {
            &small
        };
        h.give_back(winner, &job).unwrap();
    }
    let share = f64::from(big_wins) / f64::from(rounds);
    assert!(
        (0.62..=0.88).contains(&share),
        "big won {big_wins} of {rounds}"
    );
    h.assert_conserved();
}

#[test]
fn nothing_an_applicant_does_after_applying_changes_the_draw() {
    // Once the seed can be known, an applicant that unbonds stake or pauses must not be able to
    // re-roll the draw: weights are what each locked when applying.
    let mut h = Harness::new();
    let (_, job) = h.post_drawn(1, 1);
    let ps: Vec<_> = (0..4)
        .map(|_| h.provider_with(2 * MIN_STAKE, caps()))
        .collect();
    for (i, p) in ps.iter().enumerate() {
        h.apply(p, &job, i as u8).unwrap();
    }
    h.reach_draw(&job, [4; 32]);
    let mut untouched = h.fork();
    let expected: JobDrawn = event(&untouched.draw(&job).unwrap());
    for p in &ps {
        let unstake = h.unstake_ix(p, MIN_STAKE / 2);
        let pause = h.provider_update_ix(
            p,
            ProviderUpdateArgs {
                capabilities: None,
                capacity: None,
                status: Some(ProviderStatus::Paused),
            },
        );
        h.send(&[unstake, pause], &[&p.wallet.key]).unwrap();
    }
    let drawn: JobDrawn = event(&h.draw(&job).unwrap());
    assert_eq!(drawn.winners, expected.winners);
    h.assert_conserved();
}

#[test]
fn a_late_draw_releases_every_applicant_and_the_job_expires() {
    let mut h = Harness::new();
    let (client, job) = h.post_drawn(3, 2);
    let ps = h.providers(3);
    for (i, p) in ps.iter().enumerate() {
        h.apply(p, &job, i as u8).unwrap();
    }
    let j = h.job(&job);
    // Past half the commit window: winners would not have the time to compute.
    let half = (j.commit_deadline - j.claim_deadline) / 2;
    h.warp_to(j.claim_deadline + half + 1);
    let drawn: JobDrawn = event(&h.draw(&job).unwrap());
    assert!(drawn.winners.is_empty());
    for p in &ps {
        assert_eq!(h.provider(&p.provider).locked, 0);
    }
    h.expire(&job).unwrap();
    assert_eq!(h.job(&job).status(), JobStatus::Expired);
    let before = h.balance(&client.token);
    h.close(&client, &job, &client.token.clone()).unwrap();
    assert_eq!(h.balance(&client.token), before + 3 * (REWARD + fee()));
    h.assert_conserved();
}

#[test]
fn applications_lock_at_least_the_collateral_and_a_drawn_job_needs_time_to_commit() {
    let mut h = Harness::new();
    let (_, job) = h.post_drawn(3, 2);
    let p = h.new_provider();
    assert_market_err(
        h.apply_with(&p, &job, 0, COLLATERAL - 1),
        MarketError::WeightBelowCollateral,
    );
    assert_market_err(
        h.apply_with(&p, &job, 0, MIN_STAKE + 1),
        MarketError::InsufficientFreeStake,
    );
    let client = h.wallet(10_000_000);
    let mut args = h.job_args(3, 2);
    args.rules.selection = ClaimMode::Drawn;
    let now = h.now();
    args.claim_deadline = now + 60;
    args.commit_deadline = now + 60 + compute_market::constants::MIN_DRAWN_COMMIT_WINDOW - 1;
    args.reveal_deadline = args.commit_deadline + 60;
    let refused = h.post(&client, &args).unwrap_err();
    assert_market_err(Err(refused), MarketError::InvalidDeadlines);
}

#[test]
fn a_full_list_admits_only_more_stake_and_displaces_the_smallest() {
    let mut h = Harness::new();
    let (_, job) = h.post_drawn(3, 2);
    let ps = h.providers(MAX_APPLICANTS);
    for (i, p) in ps.iter().enumerate() {
        h.apply_with(p, &job, i as u8, COLLATERAL + i as u64)
            .unwrap();
    }
    let equal = h.new_provider();
    assert_market_err(h.apply(&equal, &job, 0), MarketError::ApplicantsFull);
    let bigger = h.new_provider();
    // The displaced applicant must be the one that locked the least.
    let mut wrong = {
        let j = h.job(&job);
        compute_market_sdk::instructions::job_apply(
            &bigger.wallet.pubkey(),
            &job,
            &j,
            [0; 32],
            2 * COLLATERAL,
        )
    };
    wrong.accounts[4].pubkey = ps[1].provider;
    assert_market_err(
        h.send(&[wrong], &[&bigger.wallet.key]),
        MarketError::WrongDisplacedApplicant,
    );
    h.apply_with(&bigger, &job, 0, 2 * COLLATERAL).unwrap();
    assert_eq!(
        h.provider(&ps[0].provider).locked,
        0,
        "its stake is unlocked"
    );
    let j = h.job(&job);
    assert_eq!(j.applicants_len as usize, MAX_APPLICANTS);
    let listed: Vec<Pubkey> = j.applicants().iter().map(|a| a.provider).collect();
    assert!(listed.contains(&bigger.provider));
    assert!(
        !listed.contains(&ps[0].provider),
        "the smallest was displaced"
    );
}

#[test]
fn a_seed_slot_that_left_the_window_is_resealed_not_chosen() {
    let mut h = Harness::new();
    let (_, job) = h.post_drawn(3, 2);
    let ps = h.providers(3);
    for (i, p) in ps.iter().enumerate() {
        h.apply(p, &job, i as u8).unwrap();
    }
    let j = h.job(&job);
    h.warp_to(j.claim_deadline + 1);
    // Every hash the sysvar still holds is newer than the seed slot: waiting must not let the
    // cranker pick among them.
    let late = j.draw_slot + 600;
    h.svm.warp_to_slot(late);
    h.set_slot_hashes(&[(late, [8; 32]), (late - 1, [9; 32])]);
    let meta = h.draw(&job).unwrap();
    let resealed: DrawResealed = event(&meta);
    assert_eq!(resealed.draw_slot, late + DRAW_DELAY_SLOTS);
    assert_eq!(h.job(&job).drawn, 0);
    h.reach_draw(&job, [6; 32]);
    let drawn: JobDrawn = event(&h.draw(&job).unwrap());
    assert_eq!(drawn.seed_slot, late + DRAW_DELAY_SLOTS);
    assert_eq!(drawn.winners.len(), 3);
}

#[test]
fn the_draw_takes_exactly_the_applicants_and_the_real_sysvar() {
    let mut h = Harness::new();
    let (_, job) = h.post_drawn(3, 2);
    let ps = h.providers(3);
    for (i, p) in ps.iter().enumerate() {
        h.apply(p, &job, i as u8).unwrap();
    }
    h.reach_draw(&job, [3; 32]);
    let mut missing = h.draw_ix(&job);
    missing.accounts.pop();
    assert_market_err(h.send(&[missing], &[]), MarketError::WrongApplicants);
    let mut swapped = h.draw_ix(&job);
    let n = swapped.accounts.len();
    swapped.accounts.swap(n - 1, n - 2);
    assert_market_err(h.send(&[swapped], &[]), MarketError::WrongApplicants);
    let mut read_only = h.draw_ix(&job);
    read_only.accounts.last_mut().unwrap().is_writable = false;
    assert_market_err(h.send(&[read_only], &[]), MarketError::WrongApplicants);
    let mut fake = h.draw_ix(&job);
    fake.accounts[3].pubkey = h.treasury;
    assert_market_err(h.send(&[fake], &[]), MarketError::WrongSysvar);
    h.draw(&job).unwrap();
}

#[test]
fn applications_are_for_drawn_jobs_only_and_within_the_window() {
    let mut h = Harness::new();
    let client = h.wallet(10_000_000);
    let args = h.job_args(1, 1);
    let first_come = h.post(&client, &args).unwrap();
    let p = h.new_provider();
    assert_market_err(h.apply(&p, &first_come, 0), MarketError::JobNotDrawn);
    let (_, job) = h.post_drawn(3, 2);
    let deadline = h.job(&job).claim_deadline;
    h.warp_to(deadline + 1);
    assert_market_err(h.apply(&p, &job, 0), MarketError::ClaimDeadlinePassed);
    // Fewer applicants than the quorum: nothing to wait for, the job expires.
    h.expire(&job).unwrap();
    assert_eq!(h.job(&job).status(), JobStatus::Expired);
}
