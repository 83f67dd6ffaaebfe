use anchor_lang::prelude::*;

use crate::constants::*;
use crate::errors::MarketError;
use crate::events::ProviderUpdated;
use crate::state::{Capabilities, Capacity, Provider, ProviderStatus};

/// Changes to a provider; `None` keeps the current value.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct ProviderUpdateArgs {
    /// New published capabilities.
    pub capabilities: Option<Capabilities>,
    /// New published capacity (each figure at least 1).
    pub capacity: Option<Capacity>,
    /// Pause (stop claiming) or resume.
    pub status: Option<ProviderStatus>,
}

#[derive(Accounts)]
pub struct ProviderUpdate<'info> {
    pub owner: Signer<'info>,
    #[account(
        mut,
        constraint = provider.version == PROVIDER_VERSION @ MarketError::UnsupportedVersion,
        has_one = owner @ MarketError::NotProviderOwner,
    )]
    pub provider: Account<'info, Provider>,
}

impl ProviderUpdate<'_> {
    pub fn handle(ctx: Context<ProviderUpdate>, args: ProviderUpdateArgs) -> Result<()> {
        let provider = &mut ctx.accounts.provider;
        if let Some(capabilities) = args.capabilities {
            provider.capabilities = capabilities;
        }
        if let Some(capacity) = args.capacity {
            require!(capacity.is_valid(), MarketError::InvalidCapacity);
            provider.capacity = capacity;
        }
        if let Some(status) = args.status {
            provider.status = status;
        }
        emit!(ProviderUpdated {
            provider: provider.key(),
            capabilities: provider.capabilities,
            capacity: provider.capacity,
            status: provider.status,
        });
        Ok(())
    }
}
