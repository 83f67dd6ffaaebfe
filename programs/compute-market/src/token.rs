//! The only place that calls the token program. Every movement is `transfer_checked` (mint and
//! decimals re-checked by the token program); PDA authorities sign with their stored bumps.
//!
//! Calls take at most five machine words of arguments: the upstream BPF backend that builds our
//! `.so` (scripts/build-sbf.sh) does not pass a sixth argument correctly — it arrives as garbage —
//! so wider argument lists are grouped into structs passed by reference.

use anchor_lang::prelude::*;
use anchor_spl::token::{self, CloseAccount, TransferChecked};

/// The token program and the mint every movement of one instruction uses.
pub struct Tokens<'a, 'info> {
    /// The SPL Token program.
    pub program: &'a AccountInfo<'info>,
    /// The market's payment mint.
    pub mint: &'a AccountInfo<'info>,
    /// Its decimals.
    pub decimals: u8,
}

/// Who authorises a movement: a wallet that signed the transaction (no seeds), or a PDA of this
/// program with its signer seeds.
pub struct Authority<'a, 'info> {
    /// The authority account.
    pub info: &'a AccountInfo<'info>,
    /// Signer seeds for a PDA authority; empty for a wallet signer.
    pub seeds: &'a [&'a [&'a [u8]]],
}

impl<'info> Tokens<'_, 'info> {
    /// Moves `amount` from `from` to `to`. Zero amounts are skipped.
    pub fn transfer(
        &self,
        from: &AccountInfo<'info>,
        to: &AccountInfo<'info>,
        authority: &Authority<'_, 'info>,
        amount: u64,
    ) -> Result<()> {
        if amount == 0 {
            return Ok(());
        }
        let accounts = TransferChecked {
            from: from.clone(),
            mint: self.mint.clone(),
            to: to.clone(),
            authority: authority.info.clone(),
        };
        let ctx = CpiContext::new_with_signer(self.program.key(), accounts, authority.seeds);
        token::transfer_checked(ctx, amount, self.decimals)
    }

    /// Closes the (empty) token account `account`, sending its rent to `destination`.
    pub fn close(
        &self,
        account: &AccountInfo<'info>,
        destination: &AccountInfo<'info>,
        authority: &Authority<'_, 'info>,
    ) -> Result<()> {
        let accounts = CloseAccount {
            account: account.clone(),
            destination: destination.clone(),
            authority: authority.info.clone(),
        };
        let ctx = CpiContext::new_with_signer(self.program.key(), accounts, authority.seeds);
        token::close_account(ctx)
    }
}
