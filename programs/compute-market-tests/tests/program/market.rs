//! Market set-up, updates and pause.

use crate::harness::*;
use compute_market::errors::MarketError;
use compute_market::events::*;
use compute_market::state::*;
use compute_market::MarketUpdateArgs;
use solana_signer::Signer;

#[test]
fn init_records_every_parameter() {
    let h = Harness::new();
    let m = h.market_account();
    assert_eq!(m.version, 1);
    assert_eq!(m.authority, h.authority.pubkey());
    assert_eq!(
        (m.payment_mint, m.mint_decimals, m.treasury),
        (h.mint, DECIMALS, h.treasury)
    );
    assert_eq!(
        (m.fee_bps, m.min_provider_stake, m.collateral_per_replica),
        (FEE_BPS, MIN_STAKE, COLLATERAL)
    );
    assert_eq!(m.unbonding_period, UNBONDING);
    assert_eq!(m.windows(), WINDOWS);
    assert!(!m.paused);
}

#[test]
fn init_twice_is_refused() {
    let mut h = Harness::new();
    // The system program refuses to create the market account again (AccountAlreadyInUse = 0).
    assert_custom_err(h.market_init(&market_args()), 0, "AccountAlreadyInUse");
}

#[test]
fn init_rejects_bad_parameters() {
    let mut args = market_args();
    args.fee_bps = 2_001;
    let mut h = Harness::new();
    let mint = h.create_mint();
    h.mint = mint;
    h.market = market_pda(&mint);
    h.treasury = h.create_token_account(&h.payer.pubkey());
    assert_market_err(h.market_init(&args), MarketError::FeeTooHigh);
    let mut args = market_args();
    args.windows.commit = 0;
    assert_market_err(h.market_init(&args), MarketError::InvalidWindow);
    let mut args = market_args();
    args.unbonding_period = -1;
    assert_market_err(h.market_init(&args), MarketError::InvalidUnbondingPeriod);
}

#[test]
fn treasury_of_another_mint_is_refused() {
    let mut h = Harness::new();
    let other_mint = h.create_mint();
    let owner = h.payer.pubkey();
    let bad_treasury = h.create_token_account_of(&other_mint, &owner);
    let auth = h.authority.insecure_clone();
    assert_market_err(
        h.market_update(&auth, MarketUpdateArgs::default(), Some(bad_treasury)),
        MarketError::WrongMint,
    );
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
        h.market_update(&stranger.key, args.clone(), None),
        MarketError::NotMarketAuthority,
    );
    let auth = h.authority.insecure_clone();
    let new_treasury = h.create_token_account(&stranger.pubkey());
    let meta = h.market_update(&auth, args, Some(new_treasury)).unwrap();
    let ev: MarketUpdated = event(&meta);
    assert_eq!((ev.fee_bps, ev.treasury), (0, new_treasury));
    let too_high = MarketUpdateArgs {
        fee_bps: Some(9_999),
        ..Default::default()
    };
    assert_market_err(
        h.market_update(&auth, too_high, None),
        MarketError::FeeTooHigh,
    );
    // Hand over the authority: the old one is locked out.
    let handover = MarketUpdateArgs {
        new_authority: Some(stranger.pubkey()),
        ..Default::default()
    };
    h.market_update(&auth, handover, None).unwrap();
    assert_market_err(
        h.market_update(&auth, MarketUpdateArgs::default(), None),
        MarketError::NotMarketAuthority,
    );
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
    let meta = h.market_update(&auth, pause, None).unwrap();
    assert!(event::<MarketUpdated>(&meta).paused);

    let args = h.job_args(1, 1);
    let (ix, _) = h.post_ix(&client, &args);
    assert_market_err(h.send(&[ix], &[&client.key]), MarketError::MarketPaused);
    assert_market_err(h.claim(&p, &open_job), MarketError::MarketPaused);
    // Work in flight finishes and pays; refunds and withdrawals go through.
    h.submit(&q, &claimed_job, [3; 32]).unwrap();
    assert_eq!(h.job(&claimed_job).status(), JobStatus::Completed);
    let ix = h.cancel_ix(&client, &open_job);
    h.send(&[ix], &[&client.key]).unwrap();
    h.warp(UNBONDING);
    let ix = h.withdraw_ix(&p);
    h.send(&[ix], &[&p.wallet.key]).unwrap();
    assert_eq!(h.balance(&p.wallet.token), 10);
    h.assert_conserved();
}
