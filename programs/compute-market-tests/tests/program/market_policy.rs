//! What a market accepts and who controls it: the payment mint's program and freeze authority,
//! one market per creator (nobody squats a mint), the two-step authority transfer, parameter
//! bounds, and fee withdrawals.

use crate::harness::*;
use compute_market::errors::MarketError;
use compute_market::events::AuthorityAccepted;
use compute_market::MarketUpdateArgs;

/// A fresh mint as the harness's current mint (no market yet).
fn fresh_mint(h: &mut Harness) {
    h.mint = h.create_mint();
}

#[test]
fn a_mint_with_a_freeze_authority_needs_the_opt_in() {
    let mut h = Harness::bare();
    h.mint = h.create_freezable_mint();
    assert_market_err(
        h.open_market(&market_args()),
        MarketError::FreezeAuthorityNotAccepted,
    );
    let args = compute_market::MarketInitArgs {
        allow_freeze_authority: true,
        ..market_args()
    };
    h.open_market(&args).unwrap();
    assert!(h.market_account().mint_freezable);
    // Without a freeze authority nothing is recorded, opt-in or not.
    fresh_mint(&mut h);
    h.open_market(&args).unwrap();
    assert!(!h.market_account().mint_freezable);
}

#[test]
fn a_token_2022_mint_is_refused() {
    let mut h = Harness::bare();
    let token_2022 = anchor_spl::token_2022::ID;
    assert_eq!(
        token_2022.to_string(),
        "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"
    );
    // A well-formed mint's bytes, owned by the Token-2022 program (which need not be loaded).
    let classic = h.create_mint();
    let mut account = h.svm.get_account(&classic).unwrap();
    account.owner = token_2022;
    h.mint = Pubkey::new_unique();
    h.svm.set_account(h.mint, account).unwrap();
    assert_market_err(
        h.open_market(&market_args()),
        MarketError::MintProgramUnsupported,
    );
    assert!(!h.exists(&h.market));
}

#[test]
fn every_creator_gets_its_own_market_of_a_mint() {
    let mut h = Harness::bare();
    fresh_mint(&mut h);
    // A stranger creates a market of the mint first: it squats nothing.
    let stranger = h.wallet(0);
    let mint = h.mint;
    h.market_init_by(&stranger.key, &mint, &market_args())
        .unwrap();
    h.open_market(&market_args()).unwrap();
    let theirs = market_pda(&mint, &stranger.pubkey());
    assert_ne!(theirs, h.market);
    let (mine, other) = (
        h.market_account(),
        h.account::<compute_market::state::Market>(&theirs),
    );
    assert_eq!(
        (mine.authority, mine.payment_mint),
        (h.authority.pubkey(), mint)
    );
    assert_eq!(
        (other.authority, other.creator),
        (stranger.pubkey(), stranger.pubkey())
    );
    assert_ne!(mine.treasury, other.treasury);
    h.assert_conserved();
}

#[test]
fn the_authority_moves_in_two_steps() {
    let mut h = Harness::new();
    let auth = h.authority.insecure_clone();
    let [next, stranger] = [h.wallet(0), h.wallet(0)];
    // Nothing proposed: nobody can accept.
    assert_market_err(
        h.accept_authority(&next.key),
        MarketError::NotPendingAuthority,
    );
    let propose = |key| MarketUpdateArgs {
        new_authority: Some(key),
        ..Default::default()
    };
    h.market_update(&auth, propose(next.pubkey())).unwrap();
    assert_eq!(h.market_account().pending_authority, next.pubkey());
    assert_market_err(
        h.accept_authority(&stranger.key),
        MarketError::NotPendingAuthority,
    );
    // Proposed is not yet in charge; the current authority still is.
    assert_market_err(
        h.market_update(&next.key, MarketUpdateArgs::default()),
        MarketError::NotMarketAuthority,
    );
    let ev: AuthorityAccepted = event(&h.accept_authority(&next.key).unwrap());
    assert_eq!((ev.previous, ev.authority), (auth.pubkey(), next.pubkey()));
    let m = h.market_account();
    assert_eq!(
        (m.authority, m.pending_authority),
        (next.pubkey(), Pubkey::default())
    );
    // The old authority has lost every right.
    assert_market_err(
        h.market_update(&auth, MarketUpdateArgs::default()),
        MarketError::NotMarketAuthority,
    );
    let dest = h.create_token_account(&auth.pubkey());
    assert_market_err(
        h.withdraw_fees(&auth, &dest, 1),
        MarketError::NotMarketAuthority,
    );
    h.market_update(&next.key, MarketUpdateArgs::default())
        .unwrap();
}

#[test]
fn a_proposal_can_be_withdrawn() {
    let mut h = Harness::new();
    let auth = h.authority.insecure_clone();
    let next = h.wallet(0);
    for key in [next.pubkey(), Pubkey::default()] {
        let args = MarketUpdateArgs {
            new_authority: Some(key),
            ..Default::default()
        };
        h.market_update(&auth, args).unwrap();
    }
    assert_market_err(
        h.accept_authority(&next.key),
        MarketError::NotPendingAuthority,
    );
    assert_eq!(h.market_account().authority, auth.pubkey());
}

#[test]
fn collateral_must_be_positive() {
    let mut h = Harness::new();
    let auth = h.authority.insecure_clone();
    let zero = MarketUpdateArgs {
        collateral_per_replica: Some(0),
        ..Default::default()
    };
    assert_market_err(h.market_update(&auth, zero), MarketError::ZeroCollateral);
    fresh_mint(&mut h);
    let args = compute_market::MarketInitArgs {
        collateral_per_replica: 0,
        ..market_args()
    };
    assert_market_err(h.open_market(&args), MarketError::ZeroCollateral);
}

#[test]
fn giving_back_costs_at_most_half_the_collateral() {
    let mut h = Harness::new();
    let auth = h.authority.insecure_clone();
    let too_high = MarketUpdateArgs {
        give_back_bps: Some(5_001),
        ..Default::default()
    };
    assert_market_err(
        h.market_update(&auth, too_high),
        MarketError::GiveBackCostTooHigh,
    );
    fresh_mint(&mut h);
    let mut args = compute_market::MarketInitArgs {
        give_back_bps: 5_001,
        ..market_args()
    };
    assert_market_err(h.open_market(&args), MarketError::GiveBackCostTooHigh);
    args.give_back_bps = 5_000;
    h.open_market(&args).unwrap();
    assert_eq!(h.market_account().give_back_bps, 5_000);
}

#[test]
fn giving_back_is_never_free() {
    let mut h = Harness::new();
    let auth = h.authority.insecure_clone();
    let free = MarketUpdateArgs {
        give_back_bps: Some(0),
        ..Default::default()
    };
    assert_market_err(h.market_update(&auth, free), MarketError::ZeroGiveBackCost);
    // A cost that rounds down to nothing is refused too.
    let rounds_to_zero = MarketUpdateArgs {
        give_back_bps: Some(1),
        collateral_per_replica: Some(9_999),
        ..Default::default()
    };
    assert_market_err(
        h.market_update(&auth, rounds_to_zero),
        MarketError::ZeroGiveBackCost,
    );
    fresh_mint(&mut h);
    let args = compute_market::MarketInitArgs {
        give_back_bps: 0,
        ..market_args()
    };
    assert_market_err(h.open_market(&args), MarketError::ZeroGiveBackCost);
}

#[test]
fn wrapped_sol_is_refused_as_a_payment_mint() {
    // SPL Token cannot burn native tokens: a wrapped-SOL market could never sweep forfeits.
    let mut h = Harness::bare();
    let classic = h.create_mint();
    let account = h.svm.get_account(&classic).unwrap();
    h.mint = compute_market::constants::NATIVE_MINT;
    h.svm.set_account(h.mint, account).unwrap();
    assert_market_err(
        h.open_market(&market_args()),
        MarketError::NativeMintUnsupported,
    );
}

#[test]
fn a_later_minimum_stake_does_not_change_who_may_serve_a_posted_job() {
    let mut h = Harness::new();
    let client = h.wallet(1_000_000);
    let p = h.new_provider();
    let q = h.new_provider();
    let args = h.job_args(1, 1);
    let job = h.post(&client, &args).unwrap();
    let auth = h.authority.insecure_clone();
    let raise = MarketUpdateArgs {
        min_provider_stake: Some(10 * MIN_STAKE),
        ..Default::default()
    };
    h.market_update(&auth, raise).unwrap();
    h.claim(&p, &job).unwrap();
    // A job posted afterwards takes the new minimum.
    let args = h.job_args(1, 1);
    let later = h.post(&client, &args).unwrap();
    assert_market_err(h.claim(&q, &later), MarketError::StakeBelowJobMinimum);
}

#[test]
fn only_the_authority_withdraws_fees_and_never_more_than_the_treasury_holds() {
    let mut h = Harness::new();
    let ClaimedJob {
        provider: p, job, ..
    } = h.claimed_single_job();
    h.submit(&p, &job, [1; 32]).unwrap();
    h.sweep(&p.provider).unwrap();
    assert_eq!(h.balance(&h.treasury), fee());
    let stranger = h.wallet(0);
    assert_market_err(
        h.withdraw_fees(&stranger.key, &stranger.token, 1),
        MarketError::NotMarketAuthority,
    );
    let auth = h.authority.insecure_clone();
    let dest = h.create_token_account(&auth.pubkey());
    assert_market_err(
        h.withdraw_fees(&auth, &dest, fee() + 1),
        MarketError::InsufficientTreasury,
    );
    assert_market_err(h.withdraw_fees(&auth, &dest, 0), MarketError::ZeroAmount);
    // Any token account of the mint, of the authority's choosing.
    h.withdraw_fees(&auth, &stranger.token, fee()).unwrap();
    assert_eq!(h.balance(&stranger.token), fee());
    assert_eq!(h.balance(&h.treasury), 0);
    h.assert_conserved();
}

#[test]
fn lamports_sent_to_the_market_addresses_do_not_block_market_init() {
    let mut h = Harness::bare();
    let rent = h.svm.minimum_balance_for_rent_exemption(165);
    // Less than the vault's rent (topped up), and more (kept).
    for lamports in [1_000_000, 2 * rent] {
        fresh_mint(&mut h);
        let market = market_pda(&h.mint, &h.authority.pubkey());
        let treasury = treasury_pda(&market);
        h.svm.airdrop(&treasury, lamports).unwrap();
        h.svm.airdrop(&market, lamports).unwrap();
        h.open_market(&market_args()).unwrap();
        assert_eq!(h.treasury, treasury);
        let vault = h.token(&treasury);
        assert_eq!((vault.mint, vault.owner), (h.mint, h.market));
        assert_eq!(h.lamports(&treasury), lamports.max(rent));
        h.assert_conserved();
    }
}
