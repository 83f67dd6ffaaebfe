//! The only place that calls the token program. Every movement is `transfer_checked` (mint and
//! decimals re-checked by the token program); PDA authorities sign with their stored bumps.

use anchor_lang::prelude::*;
use anchor_spl::token::{self, CloseAccount, TransferChecked};

/// Moves `amount` from `from` to `to`, authorised by `authority` (a wallet signer when
/// `signer_seeds` is empty, a PDA of this program otherwise). Zero amounts are skipped.
pub fn transfer<'info>(
    token_program: &AccountInfo<'info>,
    from: &AccountInfo<'info>,
    mint: &AccountInfo<'info>,
    to: &AccountInfo<'info>,
    authority: &AccountInfo<'info>,
    signer_seeds: &[&[&[u8]]],
    amount: u64,
    decimals: u8,
) -> Result<()> {
    if amount == 0 {
        return Ok(());
    }
    let accounts = TransferChecked {
        from: from.clone(),
        mint: mint.clone(),
        to: to.clone(),
        authority: authority.clone(),
    };
    let ctx = CpiContext::new_with_signer(token_program.key(), accounts, signer_seeds);
    token::transfer_checked(ctx, amount, decimals)
}

/// Closes the (empty) token account `account`, sending its rent to `destination`.
pub fn close<'info>(
    token_program: &AccountInfo<'info>,
    account: &AccountInfo<'info>,
    destination: &AccountInfo<'info>,
    authority: &AccountInfo<'info>,
    signer_seeds: &[&[&[u8]]],
) -> Result<()> {
    let accounts = CloseAccount {
        account: account.clone(),
        destination: destination.clone(),
        authority: authority.clone(),
    };
    let ctx = CpiContext::new_with_signer(token_program.key(), accounts, signer_seeds);
    token::close_account(ctx)
}
