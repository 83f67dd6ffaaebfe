use anchor_lang::prelude::*;

use crate::constants::*;
use crate::errors::MarketError;
use crate::events::ResultRevealed;
use crate::state::{commitment_hash, store_text, Job, Provider, SlotState};

/// A revealed result.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct JobRevealArgs {
    /// Canonical result hash of the output (see `job-abi`).
    pub result_hash: [u8; 32],
    /// The secret salt used in the commitment.
    pub salt: [u8; 32],
    /// Where the output can be downloaded.
    pub result_uri: String,
}

#[derive(Accounts)]
pub struct JobReveal<'info> {
    pub owner: Signer<'info>,
    #[account(
        constraint = provider.version == PROVIDER_VERSION @ MarketError::UnsupportedVersion,
        has_one = owner @ MarketError::NotProviderOwner,
    )]
    pub provider: Account<'info, Provider>,
    #[account(
        mut,
        constraint = job.load()?.version == JOB_VERSION @ MarketError::UnsupportedVersion,
    )]
    pub job: AccountLoader<'info, Job>,
}

impl JobReveal<'_> {
    /// The slot this provider holds, once every rule for revealing holds.
    pub fn validate(&self, args: &JobRevealArgs) -> Result<usize> {
        let job = self.job.load()?;
        require!(job.replicas > 1, MarketError::WrongVerificationMode);
        require!(!job.status().is_settled(), MarketError::JobNotOpen);
        let provider = self.provider.key();
        let index = job.slot_of(&provider).ok_or(MarketError::NotAReplica)?;
        let slot = &job.slots[index];
        require!(
            slot.state() == SlotState::Committed,
            MarketError::WrongSlotState
        );
        let now = Clock::get()?.unix_timestamp;
        require!(job.reveal_open(now), MarketError::RevealNotOpen);
        require!(
            now <= job.reveal_deadline,
            MarketError::RevealDeadlinePassed
        );
        require!(
            !args.result_uri.is_empty() && args.result_uri.len() <= MAX_URI_LEN,
            MarketError::InvalidUri
        );
        require!(
            commitment_hash(&self.job.key(), &provider, &args.result_hash, &args.salt)
                == slot.commitment,
            MarketError::CommitmentMismatch
        );
        Ok(index)
    }
}

impl JobReveal<'_> {
    /// Reveals a committed result; only possible once no more commitments can arrive.
    pub fn handle(ctx: Context<JobReveal>, args: JobRevealArgs) -> Result<()> {
        let index = ctx.accounts.validate(&args)?;
        let provider = ctx.accounts.provider.key();
        let mut job = ctx.accounts.job.load_mut()?;
        let slot = &mut job.slots[index];
        slot.result_hash = args.result_hash;
        slot.state = SlotState::Revealed as u8;
        job.revealed += 1;
        job.result_uri_lens[index] = store_text(&mut job.result_uris[index], &args.result_uri)
            .ok_or(MarketError::InvalidUri)?;
        emit!(ResultRevealed {
            job: ctx.accounts.job.key(),
            provider,
            slot: index as u8,
            result_hash: args.result_hash,
            result_uri: args.result_uri,
        });
        Ok(())
    }
}
