//! Job discovery. [`subscribe`] follows `programSubscribe` notifications for the market's jobs
//! (reconnecting with capped exponential backoff from `backon`, rotating through the configured
//! websocket endpoints); [`resync`] lists open jobs with `getProgramAccounts` every interval, so a dropped
//! websocket never loses a job. Both feed one channel of [`Seen`] jobs tagged with a slot;
//! [`SlotMerge`] drops anything older than what was already seen for that job.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder, Retryable};
use compute_market_sdk::accounts::decode_job;
use compute_market_sdk::{pda, Client, Job, JobFilter, JobStatus, Pubkey};
use futures::StreamExt;
use solana_account_decoder_client_types::UiAccountEncoding;
use solana_commitment_config::CommitmentConfig;
use solana_pubsub_client::nonblocking::pubsub_client::PubsubClient;
use solana_rpc_client_api::config::{RpcAccountInfoConfig, RpcProgramAccountsConfig};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

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

/// The pauses between websocket connection attempts: 200 ms, doubling, at most 10 s, for as
/// long as it takes. Started afresh once a subscription worked.
const RECONNECT: ExponentialBuilder = ExponentialBuilder::new()
    .with_min_delay(Duration::from_millis(200))
    .with_max_delay(Duration::from_secs(10))
    .without_max_times();

/// How a working websocket subscription ended.
enum Ended {
    /// The server ended it: reconnect.
    Closed,
    /// Nobody listens any more (the daemon is stopping).
    Unwanted,
}

/// Follows the market's open jobs over websockets until `stop` is cancelled. Each connection
/// attempt goes to the next of `ws_urls`, after a pause ([`RECONNECT`]).
pub async fn subscribe(
    ws_urls: Vec<String>,
    market: Pubkey,
    tx: mpsc::Sender<Seen>,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) {
    let mut attempt = 0usize;
    loop {
        // Connection attempts until a subscription works; it then runs until the server ends it.
        let connect = || {
            let url = ws_urls[attempt % ws_urls.len().max(1)].clone();
            attempt += 1;
            let tx = tx.clone();
            async move {
                match follow(&url, market, &tx).await {
                    Ok(ended) => Ok((url, ended)),
                    Err(error) => Err((url, error)),
                }
            }
        };
        let session = connect.retry(RECONNECT).notify(|(url, error), pause| {
            metrics.websocket_reconnects_total.inc();
            tracing::warn!(url, error, ?pause, "websocket unavailable; retrying");
        });
        let ended = tokio::select! {
            () = stop.cancelled() => return,
            ended = session => ended,
        };
        match ended {
            Ok((url, Ended::Closed)) => {
                metrics.websocket_reconnects_total.inc();
                tracing::warn!(url, "websocket subscription ended; reconnecting");
            }
            // Nobody listens; or the retries ran out, which `RECONNECT` never does.
            Ok((_, Ended::Unwanted)) | Err(_) => return,
        }
        // A server that ends every subscription at once is not hammered.
        if let Some(pause) = RECONNECT.build().next() {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}

/// One connection: subscribes, then forwards notifications until the subscription ends.
/// An error means no subscription was made.
async fn follow(url: &str, market: Pubkey, tx: &mpsc::Sender<Seen>) -> Result<Ended, String> {
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
    while let Some(update) = stream.next().await {
        let Ok(address) = update.value.pubkey.parse::<Pubkey>() else {
            continue;
        };
        let Some(data) = update.value.account.data.decode() else {
            continue;
        };
        let Ok(job) = decode_job(&address, &data) else {
            continue;
        };
        let seen = Seen {
            address,
            job,
            slot: update.context.slot,
            source: "websocket",
        };
        if tx.send(seen).await.is_err() {
            return Ok(Ended::Unwanted);
        }
    }
    Ok(Ended::Closed)
}

/// Lists the market's open jobs every `interval` until `stop` is cancelled.
pub async fn resync(
    client: Client,
    tx: mpsc::Sender<Seen>,
    interval: Duration,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        // A pass in progress ends with the token too (a slow listing does not hold up shutdown).
        if stop
            .run_until_cancelled(resync_once(&client, &tx, &metrics))
            .await
            .is_none_or(|wanted| !wanted)
        {
            return;
        }
    }
}

/// One listing of the market's open jobs, sent to `tx`; false if nobody listens any more.
async fn resync_once(client: &Client, tx: &mpsc::Sender<Seen>, metrics: &Metrics) -> bool {
    // The snapshot is at least as new as this slot.
    let slot = match client.rpc().get_slot().await {
        Ok(slot) => slot,
        Err(e) => {
            metrics.rpc_errors_total.inc();
            tracing::warn!(error = %e, "resync: getSlot failed");
            return true;
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
                    return false;
                }
            }
        }
        Err(e) => {
            metrics.rpc_errors_total.inc();
            tracing::warn!(error = %e, "resync failed; retrying next interval");
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnects_pause_200_ms_doubling_up_to_10_s_without_giving_up() {
        let pauses: Vec<u128> = RECONNECT.build().take(9).map(|d| d.as_millis()).collect();
        assert_eq!(
            pauses,
            [200, 400, 800, 1_600, 3_200, 6_400, 10_000, 10_000, 10_000]
        );
        assert!(RECONNECT.build().nth(10_000).is_some());
    }

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
