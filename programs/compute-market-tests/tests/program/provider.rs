//! Provider stake: register, stake, unstake, withdraw after unbonding, update, pause.

use crate::harness::*;
use compute_market::errors::MarketError;
use compute_market::events::*;
use compute_market::state::*;
use compute_market::ProviderUpdateArgs;

#[test]
fn register_moves_the_stake_into_the_vault() {
    let mut h = Harness::new();
    let p = h.provider_with(MIN_STAKE + 5, caps());
    let prov = h.provider(&p.provider);
    assert_eq!(prov.owner, p.wallet.pubkey());
    assert_eq!(prov.market, h.market);
    assert_eq!(prov.stake_vault, p.vault);
    assert_eq!(
        (prov.staked, prov.locked, prov.unbonding),
        (MIN_STAKE + 5, 0, 0)
    );
    assert_eq!(prov.capabilities, caps());
    assert_eq!(prov.status, ProviderStatus::Active);
    assert_eq!(h.balance(&p.vault), MIN_STAKE + 5);
    assert_eq!(h.balance(&p.wallet.token), 0);
    assert_eq!(
        (
            prov.earnings,
            prov.fees_due,
            prov.forfeit_due,
            prov.jobs_given_back
        ),
        (0, 0, 0, 0)
    );
    h.assert_conserved();
}

#[test]
fn register_below_the_minimum_stake_is_refused() {
    let mut h = Harness::new();
    let wallet = h.wallet(MIN_STAKE);
    let actor = ProviderActor::of(&h.market, wallet);
    assert_market_err(
        h.provider_register(&actor, MIN_STAKE - 1, caps()),
        MarketError::StakeBelowMinimum,
    );
    h.assert_conserved();
}

#[test]
fn stake_unstake_and_withdraw_after_unbonding() {
    let mut h = Harness::new();
    let p = h.new_provider();
    h.mint_to(&p.wallet.token, 500);
    let ix = h.stake_ix(&p, 500);
    let meta = h.send(&[ix], &[&p.wallet.key]).unwrap();
    let ev: ProviderStaked = event(&meta);
    assert_eq!((ev.amount, ev.staked), (500, MIN_STAKE + 500));

    let ix = h.unstake_ix(&p, 700);
    let meta = h.send(&[ix], &[&p.wallet.key]).unwrap();
    let ev: ProviderUnstaked = event(&meta);
    assert_eq!(ev.unbonding, 700);
    assert_eq!(ev.unbonding_ends_at, h.now() + UNBONDING);

    let ix = h.withdraw_ix(&p);
    assert_market_err(
        h.send(std::slice::from_ref(&ix), &[&p.wallet.key]),
        MarketError::StillUnbonding,
    );
    h.warp(UNBONDING);
    let meta = h.send(std::slice::from_ref(&ix), &[&p.wallet.key]).unwrap();
    let ev: ProviderWithdrew = event(&meta);
    assert_eq!((ev.amount, ev.staked), (700, MIN_STAKE - 200));
    assert_eq!(h.balance(&p.wallet.token), 700);
    assert_eq!(h.balance(&p.vault), MIN_STAKE - 200);
    // Replaying the withdrawal finds nothing left.
    assert_market_err(
        h.send(&[ix], &[&p.wallet.key]),
        MarketError::NothingUnbonding,
    );
    h.assert_conserved();
}

#[test]
fn locked_collateral_cannot_be_unstaked() {
    let mut h = Harness::new();
    let ClaimedJob {
        client,
        provider: p,
        job: _,
    } = h.claimed_single_job();
    let ix = h.unstake_ix(&p, MIN_STAKE);
    assert_market_err(
        h.send(&[ix], &[&p.wallet.key]),
        MarketError::InsufficientFreeStake,
    );
    let ix = h.unstake_ix(&p, MIN_STAKE - COLLATERAL);
    h.send(&[ix], &[&p.wallet.key]).unwrap();
    let prov = h.provider(&p.provider);
    assert_eq!(
        (prov.locked, prov.unbonding),
        (COLLATERAL, MIN_STAKE - COLLATERAL)
    );
    // Unbonding stake is not bonded either: the next claim needs fresh stake.
    let args = h.job_args(1, 1);
    let job2 = h.post(&client, &args).unwrap();
    assert_market_err(h.claim(&p, &job2), MarketError::StakeBelowJobMinimum);
    h.assert_conserved();
}

#[test]
fn zero_amounts_are_refused() {
    let mut h = Harness::new();
    let p = h.new_provider();
    let ix = h.stake_ix(&p, 0);
    assert_market_err(h.send(&[ix], &[&p.wallet.key]), MarketError::ZeroAmount);
    let ix = h.unstake_ix(&p, 0);
    assert_market_err(h.send(&[ix], &[&p.wallet.key]), MarketError::ZeroAmount);
}

#[test]
fn paused_provider_cannot_claim_and_capabilities_update() {
    let mut h = Harness::new();
    let client = h.wallet(1_000_000);
    let p = h.new_provider();
    let mut new_caps = caps();
    new_caps.memory_mib = 1;
    let ix = h.provider_update_ix(
        &p,
        ProviderUpdateArgs {
            capabilities: Some(new_caps),
            capacity: None,
            status: Some(ProviderStatus::Paused),
        },
    );
    let meta = h.send(&[ix], &[&p.wallet.key]).unwrap();
    let ev: ProviderUpdated = event(&meta);
    assert_eq!(
        (ev.capabilities, ev.capacity, ev.status),
        (new_caps, capacity(), ProviderStatus::Paused)
    );
    let args = h.job_args(1, 1);
    let job = h.post(&client, &args).unwrap();
    assert_market_err(h.claim(&p, &job), MarketError::ProviderPaused);
    let ix = h.provider_update_ix(
        &p,
        ProviderUpdateArgs {
            capabilities: None,
            capacity: None,
            status: Some(ProviderStatus::Active),
        },
    );
    h.send(&[ix], &[&p.wallet.key]).unwrap();
    h.claim(&p, &job).unwrap();
    assert_eq!(h.provider(&p.provider).capabilities.memory_mib, 1);
}

#[test]
fn capacity_is_published_at_registration_and_updated() {
    let mut h = Harness::new();
    let wallet = h.wallet(MIN_STAKE);
    let p = ProviderActor::of(&h.market, wallet);
    let meta = h
        .provider_register_with(&p, MIN_STAKE, caps(), capacity())
        .unwrap();
    let ev: ProviderRegistered = event(&meta);
    assert_eq!(ev.capacity, capacity());
    assert_eq!(h.provider(&p.provider).capacity, capacity());
    let bigger = Capacity {
        devices: 8,
        max_concurrent_jobs: 16,
    };
    let ix = h.provider_update_ix(
        &p,
        ProviderUpdateArgs {
            capacity: Some(bigger),
            ..ProviderUpdateArgs::default()
        },
    );
    let ev: ProviderUpdated = event(&h.send(&[ix], &[&p.wallet.key]).unwrap());
    assert_eq!(ev.capacity, bigger);
    assert_eq!(h.provider(&p.provider).capacity, bigger);
    assert_eq!(h.provider(&p.provider).capabilities, caps(), "unchanged");
}

#[test]
fn a_capacity_without_devices_or_jobs_is_refused() {
    let mut h = Harness::new();
    for bad in [
        Capacity {
            devices: 0,
            max_concurrent_jobs: 1,
        },
        Capacity {
            devices: 1,
            max_concurrent_jobs: 0,
        },
    ] {
        let wallet = h.wallet(MIN_STAKE);
        let p = ProviderActor::of(&h.market, wallet);
        assert_market_err(
            h.provider_register_with(&p, MIN_STAKE, caps(), bad),
            MarketError::InvalidCapacity,
        );
    }
    let p = h.new_provider();
    let ix = h.provider_update_ix(
        &p,
        ProviderUpdateArgs {
            capacity: Some(Capacity::default()),
            ..ProviderUpdateArgs::default()
        },
    );
    assert_market_err(
        h.send(&[ix], &[&p.wallet.key]),
        MarketError::InvalidCapacity,
    );
    assert_eq!(h.provider(&p.provider).capacity, capacity());
}

#[test]
fn another_wallet_cannot_operate_a_provider() {
    let mut h = Harness::new();
    let p = h.new_provider();
    let thief = h.wallet(0);
    // Signed by the thief, naming the victim's provider account.
    let mut ix = h.unstake_ix(&p, 1);
    ix.accounts[0].pubkey = thief.pubkey();
    assert_market_err(h.send(&[ix], &[&thief.key]), MarketError::NotProviderOwner);
    let mut ix = h.provider_update_ix(&p, ProviderUpdateArgs::default());
    ix.accounts[0].pubkey = thief.pubkey();
    assert_market_err(h.send(&[ix], &[&thief.key]), MarketError::NotProviderOwner);
    // The victim's provider PDA does not derive from the thief's key.
    let mut ix = h.withdraw_ix(&p);
    ix.accounts[0].pubkey = thief.pubkey();
    assert_custom_err(h.send(&[ix], &[&thief.key]), 2006, "ConstraintSeeds");
}

#[test]
fn the_owner_must_sign() {
    let mut h = Harness::new();
    let p = h.new_provider();
    let mut ix = h.unstake_ix(&p, 1);
    ix.accounts[0].is_signer = false;
    assert_custom_err(h.send(&[ix], &[]), 3010, "AccountNotSigner");
}
