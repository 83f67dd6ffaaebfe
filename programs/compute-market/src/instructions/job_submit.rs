use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::constants::*;
use crate::errors::MarketError;
use crate::events::ResultRevealed;
use crate::settlement::{settle, Settlement, SlotAccounts};
use crate::state::{store_text, Job, Market, Outcome, Provider, SlotState};
use crate::token::Tokens;

/// A single replica's result.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct JobSubmitArgs {
    /// Canonical result hash of the output (see `job-abi`).
    pub result_hash: [u8; 32],
    /// Where the output can be downloaded.
    pub result_uri: String,
}

#[derive(Accounts)]
pub struct JobSubmit<'info> {
    pub owner: Signer<'info>,
    /// Read-only: settlement never writes a market-wide account.
    #[account(constraint = market.version == MARKET_VERSION @ MarketError::UnsupportedVersion)]
    pub market: Box<Account<'info, Market>>,
    #[account(address = market.payment_mint @ MarketError::WrongMint)]
    pub payment_mint: Box<Account<'info, Mint>>,
    #[account(
        mut,
        constraint = provider.version == PROVIDER_VERSION @ MarketError::UnsupportedVersion,
        has_one = owner @ MarketError::NotProviderOwner,
        has_one = stake_vault @ MarketError::WrongVault,
    )]
    pub provider: Box<Account<'info, Provider>>,
    /// The provider's stake vault: receives the reward and the fee (credited as earnings and
    /// fees due).
    /// CHECK: checked by `has_one = stake_vault`; the token program checks it is a token
    /// account of the mint.
    #[account(mut)]
    pub stake_vault: UncheckedAccount<'info>,
    #[account(
        mut,
        constraint = job.load()?.version == JOB_VERSION @ MarketError::UnsupportedVersion,
        has_one = market @ MarketError::WrongMarket,
        has_one = escrow @ MarketError::WrongVault,
    )]
    pub job: AccountLoader<'info, Job>,
    #[account(mut)]
    pub escrow: Box<Account<'info, TokenAccount>>,
    pub token_program: Program<'info, Token>,
}

impl JobSubmit<'_> {
    pub fn validate(&self, args: &JobSubmitArgs) -> Result<()> {
        let job = self.job.load()?;
        require!(job.replicas == 1, MarketError::WrongVerificationMode);
        require!(!job.status().is_settled(), MarketError::JobNotOpen);
        let index = job
            .slot_of(&self.provider.key())
            .ok_or(MarketError::NotAReplica)?;
        require!(
            job.slots[index].state() == SlotState::Claimed,
            MarketError::WrongSlotState
        );
        let now = Clock::get()?.unix_timestamp;
        require!(
            now <= job.commit_deadline,
            MarketError::CommitDeadlinePassed
        );
        require!(
            !args.result_uri.is_empty() && args.result_uri.len() <= MAX_URI_LEN,
            MarketError::InvalidUri
        );
        Ok(())
    }
}

impl JobSubmit<'_> {
    /// A single replica's provider submits its result hash; the job completes and pays at once.
    pub fn handle(ctx: Context<JobSubmit>, args: JobSubmitArgs) -> Result<()> {
        let accs = ctx.accounts;
        let now = Clock::get()?.unix_timestamp;
        let provider_key = accs.provider.key();
        {
            let mut job = accs.job.load_mut()?;
            let slot = &mut job.slots[0];
            slot.result_hash = args.result_hash;
            slot.state = SlotState::Revealed as u8;
            job.committed = 1;
            job.revealed = 1;
            job.result_uri_lens[0] = store_text(&mut job.result_uris[0], &args.result_uri)
                .ok_or(MarketError::InvalidUri)?;
            emit!(ResultRevealed {
                job: accs.job.key(),
                provider: provider_key,
                slot: 0,
                result_hash: args.result_hash,
                result_uri: args.result_uri,
            });
        }
        let provider_info = accs.provider.to_account_info();
        let mut slots = [SlotAccounts {
            provider: &mut accs.provider,
            provider_info,
            vault: accs.stake_vault.to_account_info(),
        }];
        settle(&mut Settlement {
            job: &accs.job,
            tokens: Tokens {
                program: &accs.token_program.to_account_info(),
                mint: &accs.payment_mint.to_account_info(),
                decimals: accs.payment_mint.decimals,
            },
            escrow: &accs.escrow.to_account_info(),
            escrow_amount: accs.escrow.amount,
            slots: &mut slots,
            outcome: Outcome::Completed(args.result_hash),
            now,
        })
    }
}
