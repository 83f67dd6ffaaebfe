//! The scheduler: turns the open jobs discovery sees into work, frugally.
//!
//! - **Each decision is remembered per job version** (a hash of the job account) and per view
//!   of our own provider and market: a job that was skipped costs nothing (no RPC call, no
//!   download) until it changes or our own state does. A download that failed this time (timed
//!   out, host busy, server error) is tried again after a pause: 30 s, doubling, at most 10 min.
//! - **Our provider, the market and the chain clock are read once per view**, refreshed every
//!   [`VIEW_TTL`] or when our own state changed (a job taken or finished), not once per job.
//! - **Preparation (downloads, validation) runs in bounded concurrent tasks**
//!   ([`MAX_PREPARING`] at once), never in the discovery loop: a slow blob server delays only
//!   its own job.
//! - Memory is bounded: decisions and slot marks of jobs not seen for [`FORGET_AFTER`] are
//!   dropped.
//! - **Every job runs in a task of its own, in a `job` span** (`job = <address>`, and the
//!   journal `phase` as it advances), so each log line of a job names it. The tasks are tracked:
//!   at shutdown they get a grace period, then their token is cancelled ([`Scheduler::shutdown`]).

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder};
use compute_market_job::JobDescriptor;
use compute_market_sdk::{Job, Market, Provider, Pubkey, SdkError};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::chain::watcher::{Seen, SlotMerge};
use crate::jobs::policy::{self, Skip};
use crate::jobs::runner::{self, RunnerContext};
use crate::jobs::span::{blocking, job_span};

/// How long a view of our provider, the market and the clock is used before it is read again.
pub const VIEW_TTL: Duration = Duration::from_secs(5);
/// How many jobs are prepared (downloaded and validated) at once.
pub const MAX_PREPARING: usize = 4;
/// Decisions about jobs not seen for this long are forgotten.
pub const FORGET_AFTER: Duration = Duration::from_secs(600);

/// Our provider, the market and the chain clock, as of one read.
struct View {
    provider: Provider,
    market: Market,
    /// Chain time minus wall time when read, in seconds.
    clock_offset: i64,
    read_at: Instant,
    /// Bumped whenever the provider or market read differs from the previous view.
    epoch: u64,
    /// What the provider and market read were, to tell whether they changed.
    fingerprint: String,
}

/// A remembered skip.
struct Decision {
    version: u64,
    /// The view epoch it was decided in, for a skip that depends on our state (`None`: it
    /// depends on the job alone).
    epoch: Option<u64>,
    seen_at: Instant,
    /// For a transient skip (a failed download): when to try again, and how many failed.
    retry: Option<(Instant, u32)>,
}

/// The pauses before retrying a job whose download failed: 30 s, doubling, at most 10 minutes.
const FETCH_RETRY: ExponentialBuilder = ExponentialBuilder::new()
    .with_min_delay(Duration::from_secs(30))
    .with_max_delay(Duration::from_secs(600))
    .without_max_times();

/// The pause before retrying a job whose download failed `failures` times ([`FETCH_RETRY`]).
fn retry_pause(failures: u32) -> Duration {
    // The schedule reaches its cap after 6 failures; counting further changes nothing.
    let nth = usize::try_from(failures.saturating_sub(1).min(6)).unwrap_or(6);
    FETCH_RETRY
        .build()
        .nth(nth)
        .unwrap_or(Duration::from_secs(600))
}

/// The scheduler's state. See the module documentation.
pub struct Scheduler {
    ctx: Arc<RunnerContext>,
    limits: policy::Limits,
    merge: SlotMerge,
    decisions: HashMap<Pubkey, Decision>,
    view: Option<View>,
    stale: bool,
    epoch: u64,
    /// Jobs being run, with their client (`Pubkey::default()` for resumed ones).
    in_flight: HashMap<Pubkey, Pubkey>,
    /// Most jobs of one client at once (0: no limit).
    per_client: usize,
    preparing: HashSet<Pubkey>,
    prepare_slots: Arc<Semaphore>,
    /// Preparations in progress; each yields its job and the outcome.
    pub prepares: JoinSet<(Seen, Result<JobDescriptor, Skip>)>,
    permits: Arc<Semaphore>,
    /// The job tasks.
    jobs: TaskTracker,
    /// Cancelled when job tasks must stop (the grace period at shutdown is over).
    stop_jobs: CancellationToken,
    ended_tx: mpsc::UnboundedSender<Pubkey>,
    /// The address of each job task that ended (returned, panicked or stopped).
    pub ended: mpsc::UnboundedReceiver<Pubkey>,
    last_prune: Instant,
}

/// Sends its job's address to [`Scheduler::ended`] when dropped: when the job task ends, however
/// it ends.
struct EndedGuard {
    address: Pubkey,
    tx: mpsc::UnboundedSender<Pubkey>,
}

impl Drop for EndedGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            tracing::error!(job = %self.address, "job task panicked");
        }
        let _ = self.tx.send(self.address);
    }
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A job account's version: any change to it makes a new one.
fn version(job: &Job) -> u64 {
    let mut hasher = DefaultHasher::new();
    bytemuck::bytes_of(job).hash(&mut hasher);
    hasher.finish()
}

impl Scheduler {
    /// A scheduler running at most `max_jobs` jobs at once, and at most `per_client` of one
    /// client's (0: no limit). Its job tasks stop once `stop_jobs` is cancelled.
    pub fn new(
        ctx: Arc<RunnerContext>,
        limits: policy::Limits,
        max_jobs: usize,
        per_client: usize,
        stop_jobs: CancellationToken,
    ) -> Self {
        let (ended_tx, ended) = mpsc::unbounded_channel();
        Self {
            ctx,
            limits,
            merge: SlotMerge::default(),
            decisions: HashMap::new(),
            view: None,
            stale: true,
            epoch: 0,
            in_flight: HashMap::new(),
            per_client,
            preparing: HashSet::new(),
            prepare_slots: Arc::new(Semaphore::new(MAX_PREPARING)),
            prepares: JoinSet::new(),
            permits: Arc::new(Semaphore::new(max_jobs)),
            jobs: TaskTracker::new(),
            stop_jobs,
            ended_tx,
            ended,
            last_prune: Instant::now(),
        }
    }

    /// Runs `job` as the task of `address`, in its `job` span, until it ends or the job tasks
    /// are stopped; [`Scheduler::ended`] then hears of it.
    fn spawn_job(
        &self,
        address: Pubkey,
        job: impl std::future::Future<Output = Result<(), runner::RunError>> + Send + 'static,
    ) {
        let ended = EndedGuard {
            address,
            tx: self.ended_tx.clone(),
        };
        let stop = self.stop_jobs.clone();
        let span = job_span(&address);
        self.jobs.spawn(
            async move {
                let _ended = ended;
                if let Some(Err(e)) = stop.run_until_cancelled(job).await {
                    tracing::error!(error = %e, "runner stopped");
                }
            }
            .instrument(span),
        );
    }

    /// Resumes a journaled job (before any new work is taken).
    pub fn resume(&mut self, address: Pubkey) {
        self.in_flight.insert(address, Pubkey::default());
        let ctx = self.ctx.clone();
        let permits = self.permits.clone();
        self.spawn_job(address, async move {
            let _permit = permits.acquire_owned().await;
            let _in_flight = ctx.metrics.in_flight();
            tracing::info!("resuming the job from the journal");
            runner::drive(ctx, address, None).await
        });
    }

    /// Reads our provider, the market and the clock when the view is old or our state changed.
    async fn view(&mut self) -> Result<&View, SdkError> {
        let fresh = self
            .view
            .as_ref()
            .is_some_and(|v| !self.stale && v.read_at.elapsed() < VIEW_TTL);
        if !fresh {
            // One request for all three.
            let (provider, market, chain) = self.ctx.client.provider_market_and_time().await?;
            // Every field either account has (they have no `PartialEq`).
            let fingerprint = format!("{provider:?}{market:?}");
            let changed = self
                .view
                .as_ref()
                .is_none_or(|v| v.fingerprint != fingerprint);
            if changed {
                self.epoch += 1;
            }
            self.view = Some(View {
                provider,
                market,
                clock_offset: chain - now_unix(),
                read_at: Instant::now(),
                epoch: self.epoch,
                fingerprint,
            });
            self.stale = false;
        }
        Ok(self.view.as_ref().expect("view just set"))
    }

    /// A job seen by discovery: screened from the cached view, then prepared in the background.
    pub async fn on_seen(&mut self, seen: Seen) {
        self.prune();
        if !self.merge.accept(&seen)
            || self.in_flight.contains_key(&seen.address)
            || self.preparing.contains(&seen.address)
        {
            return;
        }
        let version = version(&seen.job);
        let epoch = self.epoch;
        if let Some(d) = self.decisions.get_mut(&seen.address) {
            let waiting = d.retry.is_none_or(|(at, _)| Instant::now() < at);
            if d.version == version && d.epoch.is_none_or(|e| e == epoch) && waiting {
                d.seen_at = Instant::now();
                return;
            }
        }
        let metrics = self.ctx.metrics.clone();
        metrics.jobs_seen_total.inc();
        let me = self.ctx.client.provider_address();
        let limits = self.limits.clone();
        let screened = match self.view().await {
            Ok(view) => policy::screen(
                &seen.job,
                &me,
                &view.provider,
                &view.market,
                &limits,
                now_unix() + view.clock_offset,
            )
            .map(|()| view.epoch),
            Err(e) => {
                metrics.rpc_errors_total.inc();
                tracing::warn!(error = %e, "cannot read provider state; skipping for now");
                return;
            }
        };
        if let Err(skip) = screened {
            self.decide(&seen, version, &skip);
            return;
        }
        // A job this daemon took before (gave back, or lost the race for) is never taken again:
        // remember that, rather than download and validate it again on every resync.
        let db = self.ctx.db.clone();
        let address = seen.address;
        match blocking(move || db.get(&address)).await {
            Ok(Ok(Some(_))) => {
                self.decide(&seen, version, &Skip::TakenBefore);
                return;
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot read the journal; preparing anyway"),
            Err(e) => tracing::warn!(error = %e, "cannot read the journal; preparing anyway"),
        }
        if self.per_client > 0
            && self
                .in_flight
                .values()
                .filter(|c| **c == seen.job.client)
                .count()
                >= self.per_client
        {
            // Not remembered: the count drops when one of its jobs ends.
            report(&metrics, &seen, &Skip::ClientBusy, false);
            return;
        }
        if self.permits.available_permits() == 0 {
            // Not remembered: a permit frees when a job ends, and the next resync sees it again.
            report(&metrics, &seen, &Skip::Busy, false);
            return;
        }
        self.preparing.insert(seen.address);
        let ctx = self.ctx.clone();
        let slots = self.prepare_slots.clone();
        let span = job_span(&seen.address);
        span.record("phase", "prepare");
        self.prepares.spawn(
            async move {
                let _slot = slots.acquire_owned().await;
                let outcome = runner::prepare(&ctx, &seen.job).await;
                (seen, outcome)
            }
            .instrument(span),
        );
    }

    /// A preparation finished: take the job, or remember why not.
    pub fn on_prepared(&mut self, seen: Seen, outcome: Result<JobDescriptor, Skip>) {
        self.preparing.remove(&seen.address);
        let descriptor = match outcome {
            Ok(d) => d,
            Err(skip) => {
                self.decide(&seen, version(&seen.job), &skip);
                return;
            }
        };
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            report(&self.ctx.metrics, &seen, &Skip::Busy, false);
            return;
        };
        self.in_flight.insert(seen.address, seen.job.client);
        // Our claim will lock the job's collateral: count it in the view at once rather than
        // read the provider again (the view is re-read when the job ends, and every 5 s).
        // Decisions made from this edited view belong to a new epoch, and the next read starts
        // another (it differs from the edit), so none of them outlives the truth.
        if let Some(view) = self.view.as_mut() {
            view.provider.locked = view
                .provider
                .locked
                .saturating_add(seen.job.collateral_per_replica);
            self.epoch += 1;
            view.epoch = self.epoch;
            view.fingerprint.clear();
        }
        let ctx = self.ctx.clone();
        self.spawn_job(seen.address, async move {
            let _permit = permit;
            let _in_flight = ctx.metrics.in_flight();
            tracing::info!(
                source = seen.source,
                reward = seen.job.reward_per_replica,
                "taking job"
            );
            runner::take(ctx, seen.address, seen.job, descriptor).await
        });
    }

    /// A job's runner ended.
    pub fn on_job_done(&mut self, address: Pubkey) {
        self.in_flight.remove(&address);
        self.stale = true;
    }

    /// Jobs still running.
    pub fn running(&self) -> usize {
        self.jobs.len()
    }

    /// Stops taking work: drops the preparations, lets the running jobs finish for `grace`,
    /// then stops them (cancels the job tasks' token) and waits for their tasks to end. A job
    /// stopped that way resumes from the journal on the next start.
    pub async fn shutdown(mut self, grace: Duration) {
        self.prepares.abort_all();
        self.jobs.close();
        if tokio::time::timeout(grace, self.jobs.wait()).await.is_err() {
            tracing::warn!(
                ?grace,
                "grace period over: stopping; journaled jobs resume on the next start"
            );
            self.stop_jobs.cancel();
            self.jobs.wait().await;
        }
    }

    fn decide(&mut self, seen: &Seen, version: u64, skip: &Skip) {
        let previous = self.decisions.get(&seen.address);
        let first = previous.is_none();
        let retry = skip.is_transient().then(|| {
            let failures = previous
                .and_then(|d| d.retry)
                .map_or(1, |(_, n)| n.saturating_add(1));
            (Instant::now() + retry_pause(failures), failures)
        });
        self.decisions.insert(
            seen.address,
            Decision {
                version,
                epoch: skip.depends_on_our_state().then_some(self.epoch),
                seen_at: Instant::now(),
                retry,
            },
        );
        report(&self.ctx.metrics, seen, skip, first);
    }

    /// Forgets jobs not seen for [`FORGET_AFTER`] (at most once a minute).
    fn prune(&mut self) {
        if self.last_prune.elapsed() < Duration::from_secs(60) {
            return;
        }
        self.last_prune = Instant::now();
        self.decisions
            .retain(|_, d| d.seen_at.elapsed() < FORGET_AFTER);
        let keep: HashSet<Pubkey> = self
            .decisions
            .keys()
            .chain(self.in_flight.keys())
            .chain(&self.preparing)
            .copied()
            .collect();
        self.merge.retain(|address| keep.contains(address));
    }
}

/// Counts a skip; logs it at info the first time for a job ("why is nobody taking my job?").
fn report(metrics: &crate::metrics::Metrics, seen: &Seen, skip: &Skip, first: bool) {
    metrics
        .jobs_skipped_total
        .with_label_values(&[skip.label()])
        .inc();
    if first {
        tracing::info!(job = %seen.address, reason = %skip, "skipping job");
    } else {
        tracing::debug!(job = %seen.address, reason = %skip, "skipping job");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_downloads_are_retried_after_30_s_doubling_up_to_10_min() {
        let pauses: Vec<u64> = (1..=9).map(|n| retry_pause(n).as_secs()).collect();
        assert_eq!(pauses, [30, 60, 120, 240, 480, 600, 600, 600, 600]);
        assert_eq!(retry_pause(0).as_secs(), 30);
        assert_eq!(retry_pause(u32::MAX).as_secs(), 600);
    }
}
