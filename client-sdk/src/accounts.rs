//! Typed fetch and decode of the program's accounts, with the address in every error, and
//! listing jobs with `getProgramAccounts` filters on the job's fixed offsets.

use anchor_lang::prelude::Pubkey;
use anchor_lang::{AccountDeserialize, Discriminator};
use solana_account_decoder_client_types::{UiAccount, UiAccountEncoding};
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::config::{RpcAccountInfoConfig, RpcProgramAccountsConfig};
use solana_rpc_client_api::filter::{Memcmp, RpcFilterType};

use crate::error::{Result, SdkError};
use crate::pda::PROGRAM_ID;
use crate::types::{Job, JobStatus, JobTombstone, Market, Provider, MAX_REPLICAS};

/// Decodes a job account's data (zero-copy layout after the discriminator).
pub fn decode_job(address: &Pubkey, data: &[u8]) -> Result<Job> {
    let err = |reason: String| SdkError::AccountDecode {
        address: *address,
        expected: "Job",
        reason,
    };
    if data.starts_with(JobTombstone::DISCRIMINATOR) {
        let status = match JobTombstone::try_deserialize(&mut &data[..]) {
            Ok(t) => format!("{:?}", JobStatus::from_u8(t.status)),
            Err(_) => "unknown".into(),
        };
        return Err(SdkError::NoResult {
            job: *address,
            status: format!(
                "closed by its client (it ended {status}; the result is in its JobSettled event)"
            ),
        });
    }
    if !data.starts_with(Job::DISCRIMINATOR) {
        return Err(err("wrong discriminator".into()));
    }
    if data.len() != Job::LEN {
        return Err(err(format!("{} bytes, expected {}", data.len(), Job::LEN)));
    }
    Ok(bytemuck::pod_read_unaligned(&data[8..]))
}

/// Decodes a market account's data.
pub fn decode_market(address: &Pubkey, data: &[u8]) -> Result<Market> {
    Market::try_deserialize(&mut &data[..]).map_err(|e| SdkError::AccountDecode {
        address: *address,
        expected: "Market",
        reason: e.to_string(),
    })
}

/// Decodes a provider account's data.
pub fn decode_provider(address: &Pubkey, data: &[u8]) -> Result<Provider> {
    Provider::try_deserialize(&mut &data[..]).map_err(|e| SdkError::AccountDecode {
        address: *address,
        expected: "Provider",
        reason: e.to_string(),
    })
}

/// Raw data of the account at `address`, owned by the program, from a state at least as new
/// as `min_slot` (0: any).
fn read_config(rpc: &RpcClient, min_slot: u64) -> RpcAccountInfoConfig {
    RpcAccountInfoConfig {
        encoding: Some(UiAccountEncoding::Base64),
        commitment: Some(rpc.commitment()),
        min_context_slot: (min_slot > 0).then_some(min_slot),
        ..Default::default()
    }
}

async fn program_account_data(rpc: &RpcClient, address: &Pubkey, min_slot: u64) -> Result<Vec<u8>> {
    let account = rpc
        .get_ui_account_with_config(address, read_config(rpc, min_slot))
        .await
        .map_err(|e| SdkError::rpc(format!("getAccountInfo {address}"), e))?
        .value
        .ok_or(SdkError::AccountNotFound { address: *address })?;
    program_data(address, account)
}

/// The data of a program-owned account (an error for any other owner).
fn program_data(address: &Pubkey, account: UiAccount) -> Result<Vec<u8>> {
    if account.owner != PROGRAM_ID.to_string() {
        return Err(SdkError::AccountDecode {
            address: *address,
            expected: "Compute Market account",
            reason: format!("owned by {}, not the program", account.owner),
        });
    }
    account
        .data
        .decode()
        .ok_or_else(|| SdkError::AccountDecode {
            address: *address,
            expected: "Compute Market account",
            reason: "undecodable account data".into(),
        })
}

/// Fetches and decodes a job, from a state at least as new as `min_slot` (0: any; a node that
/// is behind answers with an error, never with older state).
pub async fn fetch_job(rpc: &RpcClient, address: &Pubkey, min_slot: u64) -> Result<Job> {
    decode_job(
        address,
        &program_account_data(rpc, address, min_slot).await?,
    )
}

/// The cluster's unix time in the Clock sysvar's data (`None`: too short to be the clock).
pub fn clock_unix_timestamp(data: &[u8]) -> Option<i64> {
    // Clock: slot, epoch_start_timestamp, epoch, leader_schedule_epoch, unix_timestamp.
    data.get(32..40)
        .and_then(|b| b.try_into().ok())
        .map(i64::from_le_bytes)
}

/// Program accounts `addresses` (each must exist) and the cluster's clock (unix time), in one
/// `getMultipleAccounts` request, from a state at least as new as `min_slot` (0: any).
async fn program_accounts_and_time<const N: usize>(
    rpc: &RpcClient,
    addresses: [Pubkey; N],
    min_slot: u64,
) -> Result<([Vec<u8>; N], i64)> {
    use anchor_lang::solana_program::sysvar::SysvarId;
    let clock = <anchor_lang::prelude::Clock as SysvarId>::id();
    let mut keys = addresses.to_vec();
    keys.push(clock);
    let mut accounts = rpc
        .get_multiple_ui_accounts_with_config(&keys, read_config(rpc, min_slot))
        .await
        .map_err(|e| SdkError::rpc(format!("getMultipleAccounts {addresses:?} + clock"), e))?
        .value;
    let time = accounts
        .pop()
        .flatten()
        .and_then(|c| c.data.decode())
        .as_deref()
        .and_then(clock_unix_timestamp)
        .ok_or_else(|| {
            SdkError::rpc("reading the clock sysvar", "missing or short clock account")
        })?;
    let mut data = Vec::with_capacity(N);
    for (address, account) in addresses.iter().zip(accounts) {
        let account = account.ok_or(SdkError::AccountNotFound { address: *address })?;
        data.push(program_data(address, account)?);
    }
    let data: [Vec<u8>; N] = data
        .try_into()
        .map_err(|_| SdkError::rpc("getMultipleAccounts", "fewer accounts than asked for"))?;
    Ok((data, time))
}

/// Fetches and decodes a provider and a market and reads the cluster's clock, in one
/// `getMultipleAccounts` request (a provider daemon's view of itself), from a state at least as
/// new as `min_slot` (0: any).
pub async fn fetch_provider_market_and_time(
    rpc: &RpcClient,
    provider: &Pubkey,
    market: &Pubkey,
    min_slot: u64,
) -> Result<(Provider, Market, i64)> {
    let ([p, m], time) = program_accounts_and_time(rpc, [*provider, *market], min_slot).await?;
    Ok((
        decode_provider(provider, &p)?,
        decode_market(market, &m)?,
        time,
    ))
}

/// Fetches and decodes a job and reads the cluster's clock (unix time), in one
/// `getMultipleAccounts` request, from a state at least as new as `min_slot` (0: any): what a
/// provider's runner needs on every step, for one request instead of two.
pub async fn fetch_job_and_time(
    rpc: &RpcClient,
    address: &Pubkey,
    min_slot: u64,
) -> Result<(Job, i64)> {
    let ([job], time) = program_accounts_and_time(rpc, [*address], min_slot).await?;
    Ok((decode_job(address, &job)?, time))
}

/// Fetches and decodes a market, from a state at least as new as `min_slot` (0: any).
pub async fn fetch_market(rpc: &RpcClient, address: &Pubkey, min_slot: u64) -> Result<Market> {
    decode_market(
        address,
        &program_account_data(rpc, address, min_slot).await?,
    )
}

/// Fetches and decodes a provider, from a state at least as new as `min_slot` (0: any).
pub async fn fetch_provider(rpc: &RpcClient, address: &Pubkey, min_slot: u64) -> Result<Provider> {
    decode_provider(
        address,
        &program_account_data(rpc, address, min_slot).await?,
    )
}

/// Which jobs to list; every field set narrows the list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Jobs of this market.
    pub market: Option<Pubkey>,
    /// Jobs posted by this client.
    pub client: Option<Pubkey>,
    /// Jobs where this provider PDA holds a slot.
    pub provider: Option<Pubkey>,
    /// Jobs in this status.
    pub status: Option<JobStatus>,
}

/// Most filters a `getProgramAccounts` call may carry (Agave's and Surfpool's limit).
pub const MAX_RPC_FILTERS: usize = 4;

impl JobFilter {
    /// The `getProgramAccounts` filter sets for this filter: one set, or one per replica slot
    /// when filtering by provider (a provider may sit in any slot). Each set starts with the
    /// job's data size (unique among the program's accounts) followed by memcmp filters; nodes
    /// accept at most [`MAX_RPC_FILTERS`], so [`list_jobs`] sends the first four and applies the
    /// rest itself.
    pub fn rpc_filters(&self) -> Vec<Vec<RpcFilterType>> {
        let mut base = vec![RpcFilterType::DataSize(Job::LEN as u64)];
        if let Some(status) = self.status {
            base.push(RpcFilterType::Memcmp(Memcmp::new_raw_bytes(
                Job::STATUS_OFFSET,
                vec![status as u8],
            )));
        }
        if let Some(market) = self.market {
            base.push(RpcFilterType::Memcmp(Memcmp::new_base58_encoded(
                Job::MARKET_OFFSET,
                market.as_ref(),
            )));
        }
        if let Some(client) = self.client {
            base.push(RpcFilterType::Memcmp(Memcmp::new_base58_encoded(
                Job::CLIENT_OFFSET,
                client.as_ref(),
            )));
        }
        match self.provider {
            None => vec![base],
            Some(provider) => (0..MAX_REPLICAS)
                .map(|slot| {
                    let mut filters = base.clone();
                    filters.push(RpcFilterType::Memcmp(Memcmp::new_base58_encoded(
                        Job::slot_provider_offset(slot),
                        provider.as_ref(),
                    )));
                    filters
                })
                .collect(),
        }
    }
}

/// Lists jobs matching `filter`, sorted by address.
pub async fn list_jobs(rpc: &RpcClient, filter: &JobFilter) -> Result<Vec<(Pubkey, Job)>> {
    let mut jobs = Vec::new();
    for filters in filter.rpc_filters() {
        let (sent, local) = filters.split_at(filters.len().min(MAX_RPC_FILTERS));
        let config = RpcProgramAccountsConfig {
            filters: Some(sent.to_vec()),
            account_config: RpcAccountInfoConfig {
                encoding: Some(UiAccountEncoding::Base64),
                commitment: Some(rpc.commitment()),
                ..Default::default()
            },
            with_context: Some(false),
            sort_results: Some(true),
        };
        let accounts = rpc
            .get_program_ui_accounts_with_config(&PROGRAM_ID, config)
            .await
            .map_err(|e| SdkError::rpc("getProgramAccounts (jobs)", e))?;
        for (address, account) in accounts {
            let data = account
                .data
                .decode()
                .ok_or_else(|| SdkError::AccountDecode {
                    address,
                    expected: "Job",
                    reason: "undecodable account data".into(),
                })?;
            let keep = local.iter().all(|f| match f {
                RpcFilterType::Memcmp(m) => m.bytes_match(&data),
                _ => true,
            });
            if keep {
                jobs.push((address, decode_job(&address, &data)?));
            }
        }
    }
    jobs.sort_by_key(|(address, _)| *address);
    jobs.dedup_by_key(|(address, _)| *address);
    Ok(jobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_checks_discriminator_and_size_and_names_the_address() {
        let address = Pubkey::new_unique();
        let err = decode_job(&address, &[0u8; 16]).unwrap_err();
        assert!(err.to_string().contains(&address.to_string()), "{err}");
        assert!(err.to_string().contains("wrong discriminator"), "{err}");
        let mut short = Job::DISCRIMINATOR.to_vec();
        short.extend([0u8; 10]);
        assert!(decode_job(&address, &short)
            .unwrap_err()
            .to_string()
            .contains("18 bytes"));
        let mut good = Job::DISCRIMINATOR.to_vec();
        good.resize(Job::LEN, 0);
        good[Job::STATUS_OFFSET] = JobStatus::Completed as u8;
        assert_eq!(
            decode_job(&address, &good).unwrap().status(),
            JobStatus::Completed
        );
        assert!(decode_market(&address, &good).is_err());
    }

    #[test]
    fn provider_filters_cover_every_slot() {
        let provider = Pubkey::new_unique();
        let sets = JobFilter {
            provider: Some(provider),
            status: Some(JobStatus::Open),
            ..Default::default()
        }
        .rpc_filters();
        assert_eq!(sets.len(), MAX_REPLICAS);
        for (slot, set) in sets.iter().enumerate() {
            assert_eq!(set.len(), 3);
            match &set[2] {
                RpcFilterType::Memcmp(m) => {
                    assert_eq!(m.offset(), Job::slot_provider_offset(slot))
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}
