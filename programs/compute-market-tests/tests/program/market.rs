//! Market set-up, updates and pause. (Mint policy, creators, the two-step authority transfer
//! and fee withdrawal are in `market_policy`.)

use crate::harness::*;
use compute_market::errors::MarketError;
use compute_market::events::*;
use compute_market::state::*;
use compute_market::MarketUpdateArgs;

#[test]
fn init_records_every_parameter() {
    let h = Harness::new();
    let m = h.market_account();
    assert_eq!(m.version, 2);
    assert_eq!(
        (m.authority, m.creator),
        (h.authority.pubkey(), h.authority.pubkey())
    );
    assert_eq!(m.pending_authority, Pubkey::default());
    assert_eq!(
        (m.payment_mint, m.mint_decimals, m.treasury),
        (h.mint, DECIMALS, treasury_pda(&h.market))
    );
    assert_eq!(
        (m.fee_bps, m.min_provider_stake, m.collateral_per_replica),
        (FEE_BPS, MIN_STAKE, COLLATERAL)
    );
    assert_eq!(m.give_back_bps, GIVE_BACK_BPS);
    assert_eq!(m.unbonding_period, UNBONDING);
    assert_eq!(m.windows(), WINDOWS);
    assert!(!m.paused && !m.mint_freezable);
    // The treasury is a token account of the mint owned by the market PDA.
    let treasury = h.token(&h.treasury);
    assert_eq!(
        (treasury.mint, treasury.owner, treasury.amount),
        (h.mint, h.market, 0)
    );
    h.assert_conserved();
}

#[test]
fn init_twice_is_refused() {
    let mut h = Harness::new();
    // The system program refuses to create the market account again (AccountAlreadyInUse = 0).
    assert_custom_err(h.market_init(&market_args()), 0, "AccountAlreadyInUse");
}

#[test]
fn init_rejects_bad_parameters() {
    let mut h = Harness::new();
    h.mint = h.create_mint();
    type Mutation = fn(&mut compute_market::MarketInitArgs);
    let cases: [(Mutation, MarketError); 3] = [
        (|a| a.fee_bps = 2_001, MarketError::FeeTooHigh),
        (|a| a.windows.commit = 0, MarketError::InvalidWindow),
        (
            |a| a.unbonding_period = -1,
            MarketError::InvalidUnbondingPeriod,
        ),
    ];
    for (mutate, err) in cases {
        let mut args = market_args();
        mutate(&mut args);
        assert_market_err(h.open_market(&args), err);
    }
    assert!(!h.exists(&h.market));
}

#[test]
fn fees_cannot_be_withdrawn_to_another_mint() {
    let mut h = Harness::new();
    let other_mint = h.create_mint();
    let owner = h.authority.pubkey();
    let foreign = h.create_token_account_of(&other_mint, &owner);
    let auth = h.authority.insecure_clone();
    assert_market_err(h.withdraw_fees(&auth, &foreign, 1), MarketError::WrongMint);
}

#[test]
fn only_the_authority_updates() {
    let mut h = Harness::new();
    let stranger = h.wallet(0);
    let args = MarketUpdateArgs {
        fee_bps: Some(0),
        ..Default::default()
    };
    assert_market_err(
        h.market_update(&stranger.key, args.clone()),
        MarketError::NotMarketAuthority,
    );
    let auth = h.authority.insecure_clone();
    let meta = h.market_update(&auth, args).unwrap();
    let ev: MarketUpdated = event(&meta);
    assert_eq!((ev.fee_bps, ev.pending_authority), (0, Pubkey::default()));
    let too_high = MarketUpdateArgs {
        fee_bps: Some(9_999),
        ..Default::default()
    };
    assert_market_err(h.market_update(&auth, too_high), MarketError::FeeTooHigh);
    // Hand over the authority (proposal, then acceptance): the old one is locked out.
    let handover = MarketUpdateArgs {
        new_authority: Some(stranger.pubkey()),
        ..Default::default()
    };
    h.market_update(&auth, handover).unwrap();
    h.accept_authority(&stranger.key).unwrap();
    assert_market_err(
        h.market_update(&auth, MarketUpdateArgs::default()),
        MarketError::NotMarketAuthority,
    );
    h.market_update(&stranger.key, MarketUpdateArgs::default())
        .unwrap();
}

#[test]
fn pause_stops_posts_and_claims_but_never_refunds_or_withdrawals() {
    let mut h = Harness::new();
    let client = h.wallet(10_000_000);
    let p = h.new_provider();
    let q = h.new_provider();
    let args = h.job_args(1, 1);
    let open_job = h.post(&client, &args).unwrap();
    let args = h.job_args(1, 1);
    let claimed_job = h.post(&client, &args).unwrap();
    h.claim(&q, &claimed_job).unwrap();
    let ix = h.unstake_ix(&p, 10);
    h.send(&[ix], &[&p.wallet.key]).unwrap();

    let auth = h.authority.insecure_clone();
    let pause = MarketUpdateArgs {
        paused: Some(true),
        ..Default::default()
    };
    let meta = h.market_update(&auth, pause).unwrap();
    assert!(event::<MarketUpdated>(&meta).paused);

    let args = h.job_args(1, 1);
    let (ix, _) = h.post_ix(&client, &args);
    assert_market_err(h.send(&[ix], &[&client.key]), MarketError::MarketPaused);
    assert_market_err(h.claim(&p, &open_job), MarketError::MarketPaused);
    // Work in flight finishes and pays; refunds and withdrawals go through.
    h.submit(&q, &claimed_job, [3; 32]).unwrap();
    assert_eq!(h.job(&claimed_job).status(), JobStatus::Completed);
    h.withdraw_earnings(&q, &q.wallet.token).unwrap();
    assert_eq!(h.balance(&q.wallet.token), REWARD);
    h.sweep(&q.provider).unwrap();
    h.close(&client, &claimed_job, &client.token).unwrap();
    h.cancel(&client, &open_job, &client.token).unwrap();
    assert_eq!(h.balance(&client.token), 10_000_000 - REWARD - fee());
    h.warp(UNBONDING);
    let ix = h.withdraw_ix(&p);
    h.send(&[ix], &[&p.wallet.key]).unwrap();
    assert_eq!(h.balance(&p.wallet.token), 10);
    let dest = h.create_token_account(&auth.pubkey());
    h.withdraw_fees(&auth, &dest, fee()).unwrap();
    assert_eq!(h.balance(&dest), fee());
    h.assert_conserved();
}
