//! Job discovery. [`subscribe`] follows `programSubscribe` notifications for the market's jobs
//! (reconnecting with capped exponential backoff, rotating through the configured websocket
//! endpoints); [`resync`] lists open jobs with `getProgramAccounts` every interval, so a dropped
//! websocket never loses a job. Both feed one channel of [`Seen`] jobs tagged with a slot;
//! [`SlotMerge`] drops anything older than what was already seen for that job.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use compute_market_sdk::accounts::decode_job;
use compute_market_sdk::{pda, Client, Job, JobFilter, JobStatus, Pubkey};
use futures::StreamExt;
use solana_account_decoder_client_types::UiAccountEncoding;
use solana_commitment_config::CommitmentConfig;
use solana_pubsub_client::nonblocking::pubsub_client::PubsubClient;
use solana_rpc_client_api::config::{RpcAccountInfoConfig, RpcProgramAccountsConfig};
use tokio::sync::{mpsc, watch};

use crate::metrics::Metrics;

/// A job as of a slot.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The job's address.
    pub address: Pubkey,
    /// Its state.
    pub job: Job,
    /// The slot this state is from (a lower bound for resync snapshots).
    pub slot: u64,
    /// Where it came from (`websocket` or `resync`), for logs.
    pub source: &'static str,
}

/// Keeps the newest slot seen per job.
#[derive(Default)]
pub struct SlotMerge {
    latest: HashMap<Pubkey, u64>,
}

impl SlotMerge {
    /// True if `seen` is at least as new as anything seen before for its job (and records it).
    pub fn accept(&mut self, seen: &Seen) -> bool {
        let latest = self.latest.entry(seen.address).or_insert(0);
        if seen.slot < *latest {
            return false;
        }
        *latest = seen.slot;
        true
    }

    /// Forgets every job `keep` says no to (bounds memory).
    pub fn retain(&mut self, mut keep: impl FnMut(&Pubkey) -> bool) {
        self.latest.retain(|address, _| keep(address));
    }
}

/// The jobs discovery looks at: the market's open ones.
fn open_jobs(market: Pubkey) -> JobFilter {
    JobFilter {
        market: Some(market),
        status: Some(JobStatus::Open),
        ..Default::default()
    }
}

/// Follows the market's open jobs over websockets until `shutdown` turns true.
pub async fn subscribe(
    ws_urls: Vec<String>,
    market: Pubkey,
    tx: mpsc::Sender<Seen>,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(200);
    let max_backoff = Duration::from_secs(10);
    let mut attempt = 0usize;
    while !*shutdown.borrow() {
        let url = &ws_urls[attempt % ws_urls.len().max(1)];
        attempt += 1;
        let connected = follow(url, market, &tx, &mut shutdown, &mut backoff).await;
        if *shutdown.borrow() {
            break;
        }
        metrics.websocket_reconnects_total.inc();
        match connected {
            Ok(()) => tracing::warn!(url, "websocket subscription ended; reconnecting"),
            Err(e) => tracing::warn!(url, error = %e, ?backoff, "websocket unavailable; retrying"),
        }
        tokio::select! {
            _ = shutdown.changed() => {}
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(max_backoff);
    }
}

async fn follow(
    url: &str,
    market: Pubkey,
    tx: &mpsc::Sender<Seen>,
    shutdown: &mut watch::Receiver<bool>,
    backoff: &mut Duration,
) -> Result<(), String> {
    let client = PubsubClient::new(url).await.map_err(|e| e.to_string())?;
    // Open jobs of this market only: claims, commits, reveals and settlements of jobs that are
    // no longer open never reach us (the runners follow our own jobs).
    let filters = open_jobs(market).rpc_filters().swap_remove(0);
    let config = RpcProgramAccountsConfig {
        filters: Some(filters),
        account_config: RpcAccountInfoConfig {
            encoding: Some(UiAccountEncoding::Base64),
            commitment: Some(CommitmentConfig::confirmed()),
            ..Default::default()
        },
        with_context: Some(true),
        sort_results: None,
    };
    let (mut stream, _unsubscribe) = client
        .program_subscribe(&pda::PROGRAM_ID, Some(config))
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(url, "subscribed to the market's jobs");
    *backoff = Duration::from_millis(200);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return Ok(()),
            update = stream.next() => {
                let Some(update) = update else { return Ok(()) };
                let Ok(address) = update.value.pubkey.parse::<Pubkey>() else { continue };
                let Some(data) = update.value.account.data.decode() else { continue };
                let Ok(job) = decode_job(&address, &data) else { continue };
                let seen = Seen { address, job, slot: update.context.slot, source: "websocket" };
                if tx.send(seen).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
}

/// Lists the market's open jobs every `interval` until `shutdown` turns true.
pub async fn resync(
    client: Client,
    tx: mpsc::Sender<Seen>,
    interval: Duration,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            _ = ticker.tick() => {}
        }
        // The snapshot is at least as new as this slot.
        let slot = match client.rpc().get_slot().await {
            Ok(slot) => slot,
            Err(e) => {
                metrics.rpc_errors_total.inc();
                tracing::warn!(error = %e, "resync: getSlot failed");
                continue;
            }
        };
        match client.list(open_jobs(client.market_address())).await {
            Ok(jobs) => {
                for (address, job) in jobs {
                    let seen = Seen {
                        address,
                        job,
                        slot,
                        source: "resync",
                    };
                    if tx.send(seen).await.is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                metrics.rpc_errors_total.inc();
                tracing::warn!(error = %e, "resync failed; retrying next interval");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_snapshots_never_overwrite_newer_notifications() {
        let address = Pubkey::new_unique();
        let job: Job = bytemuck::Zeroable::zeroed();
        let at = |slot| Seen {
            address,
            job,
            slot,
            source: "test",
        };
        let mut merge = SlotMerge::default();
        assert!(merge.accept(&at(10)));
        assert!(!merge.accept(&at(9)), "an older resync snapshot is dropped");
        assert!(
            merge.accept(&at(10)),
            "the same slot is accepted (idempotent)"
        );
        assert!(merge.accept(&at(12)));
        let other = Seen {
            address: Pubkey::new_unique(),
            job,
            slot: 1,
            source: "test",
        };
        assert!(merge.accept(&other), "slots are tracked per job");
    }
}
