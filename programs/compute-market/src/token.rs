//! The only place that calls the token program. Every movement is `transfer_checked` (mint and
//! decimals re-checked by the token program), burns name the market's mint; PDA authorities sign with their stored bumps.
//!
//! Calls take at most five machine words of arguments: the upstream BPF backend that builds our
//! `.so` (scripts/build-sbf.sh) does not pass a sixth argument correctly — it arrives as garbage —
//! so wider argument lists are grouped into structs passed by reference.

use anchor_lang::prelude::*;
use anchor_lang::system_program::{self, Allocate, Assign, CreateAccount, Transfer};
use anchor_spl::token::{self, Burn, CloseAccount, InitializeAccount3, TransferChecked};

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

/// A program-owned token account (vault) to create at a PDA of this program.
pub struct VaultInit<'a, 'info> {
    /// Pays the rent.
    pub payer: &'a AccountInfo<'info>,
    /// The vault's address (a PDA of this program, not yet created).
    pub vault: &'a AccountInfo<'info>,
    /// The vault PDA's signer seeds, bump included.
    pub vault_seeds: &'a [&'a [u8]],
    /// Who owns the vault's tokens (a PDA of this program).
    pub owner: &'a AccountInfo<'info>,
    /// The system program.
    pub system_program: &'a AccountInfo<'info>,
}

impl<'info> Tokens<'_, 'info> {
    /// Creates a token account of the mint at a PDA, owned by `init.owner`. Lamports sent to
    /// the address beforehand cannot block it (topped up, then allocated and assigned).
    pub fn create_vault(&self, init: &VaultInit<'_, 'info>) -> Result<()> {
        let space = anchor_spl::token::TokenAccount::LEN;
        let needed = Rent::get()?.minimum_balance(space);
        let signer = [init.vault_seeds];
        let system = init.system_program.key();
        let existing = init.vault.lamports();
        if existing == 0 {
            let accounts = CreateAccount {
                from: init.payer.clone(),
                to: init.vault.clone(),
            };
            let ctx = CpiContext::new_with_signer(system, accounts, &signer);
            system_program::create_account(ctx, needed, space as u64, self.program.key)?;
        } else {
            let top_up = needed.saturating_sub(existing);
            if top_up > 0 {
                let accounts = Transfer {
                    from: init.payer.clone(),
                    to: init.vault.clone(),
                };
                system_program::transfer(CpiContext::new(system, accounts), top_up)?;
            }
            let accounts = Allocate {
                account_to_allocate: init.vault.clone(),
            };
            let ctx = CpiContext::new_with_signer(system, accounts, &signer);
            system_program::allocate(ctx, space as u64)?;
            let accounts = Assign {
                account_to_assign: init.vault.clone(),
            };
            let ctx = CpiContext::new_with_signer(system, accounts, &signer);
            system_program::assign(ctx, self.program.key)?;
        }
        let accounts = InitializeAccount3 {
            account: init.vault.clone(),
            mint: self.mint.clone(),
            authority: init.owner.clone(),
        };
        token::initialize_account3(CpiContext::new(self.program.key(), accounts))
    }

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

    /// Burns `amount` from `from` (the mint must be writable). Zero amounts are skipped.
    pub fn burn(
        &self,
        from: &AccountInfo<'info>,
        authority: &Authority<'_, 'info>,
        amount: u64,
    ) -> Result<()> {
        if amount == 0 {
            return Ok(());
        }
        let accounts = Burn {
            mint: self.mint.clone(),
            from: from.clone(),
            authority: authority.info.clone(),
        };
        let ctx = CpiContext::new_with_signer(self.program.key(), accounts, authority.seeds);
        token::burn(ctx, amount)
    }
}
