//! The classic Sealevel attack classes, each refused with its exact error: missing owner checks,
//! type confusion, arbitrary CPI targets, duplicate mutable accounts, and accounts of the wrong
//! job, market or vault.

use crate::harness::*;
use anchor_lang::error::ErrorCode as Anchor;
use compute_market::errors::MarketError;
use compute_market::JobRevealArgs;

/// A client and a victim provider holding a slot of a single-replica job and of a replicated job (committed),
/// an open job it has not claimed, and a stranger with a provider of its own.
struct Scene {
    h: Harness,
    client: Wallet,
    victim: ProviderActor,
    stranger: ProviderActor,
    single: Pubkey,
    replicated: Pubkey,
    open: Pubkey,
}

fn scene() -> Scene {
    let mut h = Harness::new();
    let client = h.wallet(10_000_000);
    let ps = h.providers(3);
    let single = h.claimed_job(&client, &ps[..1], 1, 1);
    let replicated = h.claimed_job(&client, &ps, 3, 2);
    h.commit(&ps[0], &replicated, [1; 32], [2; 32]).unwrap();
    let args = h.job_args(1, 1);
    let open = h.post(&client, &args).unwrap();
    let stranger = h.new_provider();
    let victim = ps.into_iter().next().unwrap();
    Scene {
        h,
        client,
        victim,
        stranger,
        single,
        replicated,
        open,
    }
}

impl Scene {
    /// Sends `ix` signed by the stranger in the owner's place (account 0).
    fn as_stranger(&mut self, mut ix: Instruction) -> TxResult {
        ix.accounts[0].pubkey = self.stranger.wallet.pubkey();
        let key = self.stranger.wallet.key.insecure_clone();
        self.h.send(&[ix], &[&key])
    }

    fn as_victim(&mut self, ix: Instruction) -> TxResult {
        let key = self.victim.wallet.key.insecure_clone();
        self.h.send(&[ix], &[&key])
    }
}

#[test]
fn a_stranger_cannot_sign_for_a_provider() {
    let mut s = scene();
    let (h, v) = (&s.h, &s.victim);
    let reveal = JobRevealArgs {
        result_hash: [1; 32],
        salt: [2; 32],
        result_uri: "file:///r".into(),
    };
    let ixs = [
        h.claim_ix(v, &s.open),
        h.commit_ix(v, &s.replicated, [0; 32]),
        h.reveal_ix(v, &s.replicated, reveal),
        h.submit_ix(v, &s.single, [1; 32]),
        h.give_back_ix(v, &s.single),
        h.withdraw_earnings_ix(v, &s.stranger.wallet.token),
    ];
    for ix in ixs {
        assert_market_err(s.as_stranger(ix), MarketError::NotProviderOwner);
    }
    s.h.assert_conserved();
}

#[test]
fn a_market_or_a_job_is_not_a_provider() {
    let mut s = scene();
    let (market, job) = (s.h.market, s.single);
    let deadline = s.h.job(&s.replicated).commit_deadline;
    s.h.warp_to(deadline + 1);
    for impostor in [market, job] {
        let mut ix = s.h.submit_ix(&s.victim, &s.single, [1; 32]);
        ix.accounts[3].pubkey = impostor;
        assert_anchor_err(s.as_victim(ix), Anchor::AccountDiscriminatorMismatch);
        // In a settlement's remaining accounts too.
        let mut ix = s.h.expire_ix(&s.replicated, &s.h.payer.pubkey());
        let n = ix.accounts.len();
        ix.accounts[n - 2].pubkey = impostor;
        ix.accounts[n - 2].is_writable = true;
        assert_anchor_err(s.h.send(&[ix], &[]), Anchor::AccountDiscriminatorMismatch);
    }
    // And a provider is not a market.
    let mut ix = s.h.claim_ix(&s.victim, &s.open);
    ix.accounts[1].pubkey = s.stranger.provider;
    assert_anchor_err(s.as_victim(ix), Anchor::AccountDiscriminatorMismatch);
}

#[test]
fn a_fake_token_program_is_refused() {
    let mut s = scene();
    // An executable program that is not SPL Token: ours.
    let fake = compute_market::ID;
    let dest = s.victim.wallet.token;
    let ixs = [
        (s.h.submit_ix(&s.victim, &s.single, [1; 32]), 7),
        (s.h.withdraw_earnings_ix(&s.victim, &dest), 6),
    ];
    for (mut ix, index) in ixs {
        assert_eq!(ix.accounts[index].pubkey, token_program());
        ix.accounts[index].pubkey = fake;
        assert_anchor_err(s.as_victim(ix), Anchor::InvalidProgramId);
    }
    let mut ix = s.h.sweep_ix(&s.victim.provider);
    ix.accounts[6].pubkey = fake;
    assert_anchor_err(s.h.send(&[ix], &[]), Anchor::InvalidProgramId);
}

#[test]
fn anchor_refuses_the_same_mutable_account_twice() {
    let mut s = scene();
    let ix = s.h.withdraw_earnings_ix(&s.victim, &s.victim.vault);
    assert_anchor_err(s.as_victim(ix), Anchor::ConstraintDuplicateMutableAccount);
    // The client's refund paid into the escrow it comes from.
    let escrow = escrow_pda(&s.open);
    let res = s.h.cancel(&s.client, &s.open, &escrow);
    assert_anchor_err(res, Anchor::ConstraintDuplicateMutableAccount);
    s.h.assert_conserved();
}

#[test]
fn a_provider_repeated_in_a_settlement_is_refused() {
    let mut s = scene();
    let deadline = s.h.job(&s.replicated).commit_deadline;
    s.h.warp_to(deadline + 1);
    let base = s.h.expire_ix(&s.replicated, &s.h.payer.pubkey());
    // Slot 0's pair in slot 1's place...
    let mut ix = base.clone();
    let first_pair = ix.accounts[6..8].to_vec();
    ix.accounts.splice(8..10, first_pair.clone());
    assert_market_err(s.h.send(&[ix], &[]), MarketError::WrongProvider);
    // ...or once more at the end.
    let mut ix = base.clone();
    ix.accounts.extend(first_pair);
    assert_market_err(s.h.send(&[ix], &[]), MarketError::WrongRemainingAccounts);
    s.h.send(&[base], &[]).unwrap();
    s.h.assert_conserved();
}

#[test]
fn a_read_only_provider_in_a_settlement_is_refused() {
    let mut s = scene();
    let deadline = s.h.job(&s.replicated).commit_deadline;
    s.h.warp_to(deadline + 1);
    let mut ix = s.h.expire_ix(&s.replicated, &s.h.payer.pubkey());
    ix.accounts[6].is_writable = false;
    assert_market_err(s.h.send(&[ix], &[]), MarketError::WrongRemainingAccounts);
    s.h.assert_conserved();
}

#[test]
fn a_vault_that_is_not_the_providers_is_refused() {
    let mut s = scene();
    // The provider's own wallet's token account, another provider's vault, and accounts
    // owned by this program or by the system program.
    let foreign = [
        s.victim.wallet.token,
        s.stranger.vault,
        s.stranger.provider,
        s.stranger.wallet.pubkey(),
    ];
    for vault in foreign {
        let mut ix = s.h.submit_ix(&s.victim, &s.single, [1; 32]);
        ix.accounts[4].pubkey = vault;
        assert_market_err(s.as_victim(ix), MarketError::WrongVault);
    }
    let deadline = s.h.job(&s.replicated).commit_deadline;
    s.h.warp_to(deadline + 1);
    for vault in foreign {
        let mut ix = s.h.expire_ix(&s.replicated, &s.h.payer.pubkey());
        ix.accounts[7].pubkey = vault;
        assert_market_err(s.h.send(&[ix], &[]), MarketError::WrongVault);
    }
    s.h.assert_conserved();
}

#[test]
fn an_escrow_of_another_job_is_refused() {
    let mut s = scene();
    let foreign = escrow_pda(&s.open);
    let mut ix = s.h.submit_ix(&s.victim, &s.single, [1; 32]);
    ix.accounts[6].pubkey = foreign;
    assert_market_err(s.as_victim(ix), MarketError::WrongVault);
    let deadline = s.h.job(&s.replicated).commit_deadline;
    s.h.warp_to(deadline + 1);
    let mut ix = s.h.expire_ix(&s.replicated, &s.h.payer.pubkey());
    ix.accounts[4].pubkey = foreign;
    assert_market_err(s.h.send(&[ix], &[]), MarketError::WrongVault);
    s.h.assert_conserved();
}

#[test]
fn a_job_of_another_market_is_refused() {
    let mut s = scene();
    let (market2, foreign_job) = s.h.foreign_market_job();
    assert_market_err(s.h.claim(&s.victim, &foreign_job), MarketError::WrongMarket);
    // Settling our job against another market's account.
    let deadline = s.h.job(&s.replicated).commit_deadline;
    s.h.warp_to(deadline + 1);
    let mut ix = s.h.expire_ix(&s.replicated, &s.h.payer.pubkey());
    ix.accounts[1].pubkey = market2;
    // The payment mint must then be that market's too, or the mint check fires first.
    ix.accounts[2].pubkey =
        s.h.account::<compute_market::state::Market>(&market2)
            .payment_mint;
    assert_market_err(s.h.send(&[ix], &[]), MarketError::WrongMarket);
    s.h.assert_conserved();
}
