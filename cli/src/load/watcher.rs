//! One websocket `programSubscribe` over the market's job accounts: when each job was first seen
//! open, first seen claimed and first seen completed, as this process received the
//! notifications. One subscription for the whole run (not one poller per job), so watching a
//! thousand jobs costs the node one subscription.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use compute_market_sdk::accounts::decode_job;
use compute_market_sdk::{pda, Job, JobFilter, JobStatus, Pubkey};
use futures::StreamExt;
use solana_account_decoder_client_types::UiAccountEncoding;
use solana_commitment_config::CommitmentConfig;
use solana_pubsub_client::nonblocking::pubsub_client::PubsubClient;
use solana_rpc_client_api::config::{RpcAccountInfoConfig, RpcProgramAccountsConfig};
use tokio::sync::oneshot;

/// What the watcher saw of one job.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timeline {
    /// First notification showing it open with no claim.
    pub open: Option<Instant>,
    /// First notification showing a claim (or a later state).
    pub claimed: Option<Instant>,
    /// First notification showing it completed.
    pub completed: Option<Instant>,
    /// Its status in the latest notification.
    pub status: Option<JobStatus>,
}

impl Timeline {
    /// From first seen open to first seen claimed (`None` unless both were seen, in that order).
    pub fn pickup(&self) -> Option<Duration> {
        self.claimed?.checked_duration_since(self.open?)
    }

    fn record(&mut self, job: &Job, at: Instant) {
        let status = job.status();
        if status == JobStatus::Open && job.claimed == 0 {
            self.open.get_or_insert(at);
        } else if job.claimed > 0 || matches!(status, JobStatus::Running | JobStatus::Completed) {
            self.claimed.get_or_insert(at);
        }
        if status == JobStatus::Completed {
            self.completed.get_or_insert(at);
        }
        self.status = Some(status);
    }
}

type Jobs = Arc<Mutex<HashMap<Pubkey, Timeline>>>;

/// The running watcher; it stops when dropped.
pub struct Watcher {
    jobs: Jobs,
    notifications: Arc<AtomicU64>,
    ended: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Watcher {
    /// Subscribes to the market's job accounts at processed commitment; returns once the node
    /// confirmed the subscription.
    pub async fn start(ws_url: &str, market: Pubkey) -> Result<Self> {
        let jobs = Jobs::default();
        let notifications = Arc::new(AtomicU64::new(0));
        let ended = Arc::new(AtomicBool::new(false));
        let (ready, subscribed) = oneshot::channel();
        let task = tokio::spawn(follow(
            ws_url.to_string(),
            market,
            jobs.clone(),
            notifications.clone(),
            ended.clone(),
            ready,
        ));
        subscribed
            .await
            .map_err(|_| anyhow!("the watcher stopped before subscribing"))?
            .map_err(|e| anyhow!("the watcher cannot subscribe to {ws_url}: {e}"))?;
        Ok(Watcher {
            jobs,
            notifications,
            ended,
            task,
        })
    }

    /// What was seen of `address`.
    pub fn get(&self, address: &Pubkey) -> Timeline {
        self.lock().get(address).copied().unwrap_or_default()
    }

    /// Records `job` as read by other means (a poll), at `at`: for a notification the
    /// subscription lost.
    pub fn record(&self, address: Pubkey, job: &Job, at: Instant) {
        self.lock().entry(address).or_default().record(job, at);
    }

    /// Notifications received so far.
    pub fn notifications(&self) -> u64 {
        self.notifications.load(Ordering::Relaxed)
    }

    /// Whether the subscription ended (the node closed it).
    pub fn ended(&self) -> bool {
        self.ended.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Pubkey, Timeline>> {
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn follow(
    ws_url: String,
    market: Pubkey,
    jobs: Jobs,
    notifications: Arc<AtomicU64>,
    ended: Arc<AtomicBool>,
    ready: oneshot::Sender<Result<(), String>>,
) {
    let client = match PubsubClient::new(&ws_url).await {
        Ok(client) => client,
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            return;
        }
    };
    let filters = JobFilter {
        market: Some(market),
        ..Default::default()
    }
    .rpc_filters()
    .swap_remove(0);
    let config = RpcProgramAccountsConfig {
        filters: Some(filters),
        account_config: RpcAccountInfoConfig {
            encoding: Some(UiAccountEncoding::Base64),
            commitment: Some(CommitmentConfig::processed()),
            ..Default::default()
        },
        with_context: Some(true),
        sort_results: None,
    };
    let (mut stream, _unsubscribe) = match client
        .program_subscribe(&pda::PROGRAM_ID, Some(config))
        .await
    {
        Ok(subscribed) => subscribed,
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    while let Some(update) = stream.next().await {
        let at = Instant::now();
        notifications.fetch_add(1, Ordering::Relaxed);
        let Ok(address) = update.value.pubkey.parse::<Pubkey>() else {
            continue;
        };
        let Some(data) = update.value.account.data.decode() else {
            continue;
        };
        let Ok(job) = decode_job(&address, &data) else {
            continue;
        };
        jobs.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(address)
            .or_default()
            .record(&job, at);
    }
    ended.store(true, Ordering::Relaxed);
}
