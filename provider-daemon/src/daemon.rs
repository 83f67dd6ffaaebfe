//! `provider-daemon run`: the supervisor. Starts, in order: the GPU worker pool, the journal,
//! the metrics endpoint and housekeeping (output retention, journal pruning), the resumption of
//! every journaled job (before any new work), then the chain watchers and the scheduler.
//!
//! Shutdown is one cancellation token tree: on SIGTERM/Ctrl-C the daemon's token is cancelled,
//! which stops taking work, the watchers, the metrics endpoint and housekeeping; in-flight jobs
//! (tracked in a `TaskTracker`) get [`SHUTDOWN_GRACE`] to finish before their own token is
//! cancelled, and whatever is left resumes from the journal on the next start. A watcher that
//! dies (ends or panics while the daemon runs) shuts the daemon down the same way, and `run`
//! returns [`DaemonError::TaskDied`] naming it.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use compute_market_sdk::{Capacity, Client, ClientConfig, Keypair, ProviderUpdateArgs, SdkError};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::chain::watcher::{self, Seen};
use crate::gpu::{
    context, AdapterChoice, AdapterSummary, GpuConfig, GpuError, GpuFleet, PoolConfig,
};
use crate::jobs::policy;
use crate::jobs::reconcile;
use crate::jobs::retention::{Housekeeping, OutputGate};
use crate::jobs::runner::RunnerContext;
use crate::jobs::scheduler::Scheduler;
use crate::metrics::Metrics;
use crate::settings::{LogFormat, Settings, Watcher};
use crate::state::StateDb;

/// How long finished jobs stay in the journal (30 days).
pub const JOURNAL_RETENTION_SECS: i64 = 30 * 24 * 60 * 60;

/// How long in-flight jobs get to finish after SIGTERM/Ctrl-C; the rest resume from the journal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Why the daemon could not run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// A configuration problem, with what to fix.
    #[error("{0}")]
    Config(String),
    /// The chain could not be reached or refused something.
    #[error(transparent)]
    Sdk(#[from] SdkError),
    /// No usable GPU adapter.
    #[error("GPU: {0}")]
    Gpu(String),
    /// The journal failed.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// A job-discovery task ended while the daemon ran: without it the daemon cannot see new
    /// jobs, so it stops instead of idling blind.
    #[error(
        "the {task} task stopped unexpectedly ({reason}): the daemon cannot see new jobs \
         without it, so it stopped; restart it (journaled jobs resume)"
    )]
    TaskDied {
        /// The task (`websocket watcher` or `resync`).
        task: &'static str,
        /// How it ended.
        reason: String,
    },
}

/// Installs logging: JSON when stderr is not a terminal (or when asked), text otherwise.
pub fn init_logging(format: LogFormat, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Reads a Solana CLI keypair file.
pub fn read_keypair(path: &std::path::Path) -> Result<Keypair, DaemonError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        DaemonError::Config(format!(
            "cannot read keypair {}: {e} (set keypair_path, or create one with solana-keygen new)",
            path.display()
        ))
    })?;
    let bytes: Vec<u8> = serde_json::from_str(&text).map_err(|_| {
        DaemonError::Config(format!(
            "{} is not a Solana keypair file (a JSON array of 64 bytes)",
            path.display()
        ))
    })?;
    Keypair::try_from(bytes.as_slice())
        .map_err(|e| DaemonError::Config(format!("{} is not a valid keypair: {e}", path.display())))
}

/// The SDK client of these settings: the first RPC endpoint, the others in turn when it fails;
/// with `metrics`, every JSON-RPC request is counted by method.
pub async fn connect(
    settings: &Settings,
    metrics: Option<Arc<Metrics>>,
) -> Result<Client, DaemonError> {
    let wallet = read_keypair(&settings.keypair_path)?;
    let (rpc, fallback) = settings
        .rpc_urls
        .split_first()
        .ok_or_else(|| DaemonError::Config("rpc_urls is empty".into()))?;
    let mut config = ClientConfig::new(
        rpc,
        settings
            .market_pubkey()
            .map_err(|e| DaemonError::Config(e.to_string()))?,
    );
    config.fallback_rpc_urls = fallback.to_vec();
    config.ws_url = settings.ws_urls.first().cloned();
    config.store = Some(settings.store.clone());
    config.priority_fee_micro_lamports = settings.priority_fee_micro_lamports;
    config.priority_fee_cap_micro_lamports = settings.max_priority_fee_micro_lamports;
    config.poll_interval = settings.poll_interval;
    if let Some(metrics) = metrics {
        config.on_rpc_request = Some(compute_market_sdk::rpc::RequestObserver(Arc::new(
            move |method: &str| {
                metrics
                    .rpc_requests_total
                    .with_label_values(&[method])
                    .inc()
            },
        )));
    }
    Ok(Client::connect(config, wallet).await?)
}

/// One GPU choice per adapter these settings serve (`gpu.adapters` resolved against the
/// adapters of this machine, each by its index), with the adapter it names.
pub fn gpu_configs(settings: &Settings) -> Result<Vec<(GpuConfig, AdapterSummary)>, GpuError> {
    let adapters = context::enumerate_adapters();
    let chosen = context::select_many(&adapters, &settings.gpu.adapters, settings.gpu.allow_cpu)?;
    Ok(chosen
        .into_iter()
        .map(|index| {
            let config = GpuConfig {
                adapter: AdapterChoice::Index(index),
                allow_cpu: settings.gpu.allow_cpu,
            };
            (config, adapters[index].clone())
        })
        .collect())
}

/// Checks every pool opened the adapter the daemon chose for it: workers enumerate adapters
/// again in their sandbox, by index, and a different order there would serve one GPU twice.
fn check_devices(fleet: &GpuFleet, chosen: &[AdapterSummary]) -> Result<(), DaemonError> {
    for (index, (device, wanted)) in fleet.devices().iter().zip(chosen).enumerate() {
        let opened = &device.adapter;
        if (opened.name.as_str(), opened.vendor_id) != (wanted.name.as_str(), wanted.vendor_id) {
            return Err(DaemonError::Gpu(format!(
                "device {index}: the worker opened `{}` where the daemon chose `{}`: the \
                 sandboxed workers list the adapters in another order (a VK_* variable not \
                 passed? see sandbox.pass_env)",
                opened.name, wanted.name
            )));
        }
    }
    Ok(())
}

/// Publishes this daemon's capacity (devices served, `max_concurrent_jobs`) when the chain
/// shows another, so clients see what it really runs.
async fn publish_capacity(
    client: &Client,
    published: Capacity,
    devices: usize,
    max_concurrent_jobs: usize,
) -> Result<(), DaemonError> {
    let capacity = crate::publish::capacity(devices, max_concurrent_jobs);
    if capacity == published {
        return Ok(());
    }
    let sig = client
        .update_provider(ProviderUpdateArgs {
            capacity: Some(capacity),
            ..ProviderUpdateArgs::default()
        })
        .await?;
    tracing::info!(
        devices = capacity.devices,
        max_concurrent_jobs = capacity.max_concurrent_jobs,
        was = ?published,
        %sig,
        "published capacity"
    );
    Ok(())
}

/// Runs until `shutdown` resolves (SIGTERM/Ctrl-C in the binary): `Ok` then; an error if it
/// could not start, or if a job-discovery task died ([`DaemonError::TaskDied`]).
pub async fn run(
    settings: Settings,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), DaemonError> {
    let settings = Arc::new(settings);
    let metrics = Arc::new(Metrics::new().map_err(|e| DaemonError::Config(e.to_string()))?);
    let client = connect(&settings, Some(metrics.clone())).await?;
    let _locks = crate::lock::acquire(&settings.state_path, &client.wallet())?;
    // The market must exist (a clear error now rather than skips later).
    client.market().await?;
    let provider = match client.provider().await {
        Ok(p) => p,
        Err(SdkError::AccountNotFound { .. }) => {
            return Err(DaemonError::Config(format!(
                "wallet {} is not a provider of market {}: run `provider-daemon init` first",
                client.wallet(),
                client.market_address()
            )))
        }
        Err(e) => return Err(e.into()),
    };
    let caps = compute_market_job::Caps {
        max_input_len: settings.gpu.max_input_bytes,
        max_output_len: settings.gpu.max_output_bytes,
        max_dispatches: settings.gpu.max_dispatches,
        max_job_memory: settings.gpu.max_job_memory_bytes,
        ..Default::default()
    };
    let pool_settings = settings.clone();
    let fleet = tokio::task::spawn_blocking(move || {
        let chosen = gpu_configs(&pool_settings).map_err(|e| DaemonError::Gpu(e.to_string()))?;
        let pools = chosen
            .iter()
            .map(|(gpu, _)| PoolConfig {
                // Found next to this executable, or named by COMPUTE_MARKET_WORKER_EXE
                // (`gpu::locate`).
                worker_exe: None,
                gpu: gpu.clone(),
                caps,
                workers: pool_settings.gpu.workers,
                job_timeout: pool_settings.job_timeout,
                sandbox: (&pool_settings.sandbox).into(),
                ..PoolConfig::default()
            })
            .collect();
        let fleet = GpuFleet::new(pools).map_err(|e| DaemonError::Gpu(e.to_string()))?;
        let adapters: Vec<AdapterSummary> = chosen.into_iter().map(|(_, a)| a).collect();
        check_devices(&fleet, &adapters)?;
        Ok::<_, DaemonError>(fleet)
    })
    .await
    .map_err(|e| DaemonError::Gpu(e.to_string()))??;
    for (index, device) in fleet.devices().iter().enumerate() {
        tracing::info!(device = index, adapter = %device.adapter, "GPU ready");
        metrics.device_info(index, &device.adapter);
    }
    // Best effort: a node or fee problem here must not keep the daemon from the jobs it holds.
    if let Err(e) = publish_capacity(
        &client,
        provider.capacity,
        fleet.len(),
        settings.max_concurrent_jobs,
    )
    .await
    {
        tracing::warn!(error = %e, "cannot publish the capacity now; carrying on (it is published at the next start)");
    }
    let path = settings.state_path.clone();
    let db = Arc::new(
        tokio::task::spawn_blocking(move || StateDb::open(&path))
            .await
            .map_err(|e| DaemonError::Config(e.to_string()))??,
    );
    // The daemon's token: cancelled when it stops taking work (SIGTERM/Ctrl-C, a dead watcher).
    // Discovery, the metrics endpoint and housekeeping stop with it; the job tasks run on until
    // their own child token is cancelled, at the end of the grace period.
    let stop_jobs = CancellationToken::new();
    let stop = stop_jobs.child_token();
    // However `run` returns (an early error included), nothing it started runs on.
    let _stop_all_on_return = stop_jobs.clone().drop_guard();
    // Long-lived tasks other than jobs, waited for at the end.
    let background = TaskTracker::new();
    if let Some(addr) = settings.metrics_addr {
        let metrics = metrics.clone();
        let stopped = stop.clone().cancelled_owned();
        background.spawn(async move {
            if let Err(e) = crate::metrics::serve(metrics, addr, stopped).await {
                tracing::error!(%addr, error = %e, "metrics endpoint failed");
            }
        });
    }
    let outputs = Arc::new(OutputGate::default());
    background.spawn(housekeeping(&settings, &client, &db, &outputs).run(stop.clone()));
    let ctx = Arc::new(RunnerContext {
        client: client.clone(),
        db: db.clone(),
        pool: Arc::new(fleet),
        metrics: metrics.clone(),
        settings: settings.clone(),
        caps,
        outputs,
    });
    tracing::info!(
        provider = %client.provider_address(),
        market = %client.market_address(),
        staked = provider.staked,
        locked = provider.locked,
        "provider daemon starting"
    );

    let limits = policy::Limits {
        min_reward: settings.min_reward,
        min_reward_to_collateral_bps: settings.min_reward_to_collateral_bps,
        blocked_clients: settings
            .blocked_client_pubkeys()
            .map_err(|e| DaemonError::Config(e.to_string()))?,
        max_input_bytes: settings.gpu.max_input_bytes,
        max_output_bytes: settings.gpu.max_output_bytes,
        seconds_needed: i64::try_from(
            settings
                .job_timeout
                .saturating_add(settings.claim_margin)
                .as_secs(),
        )
        .unwrap_or(i64::MAX),
    };
    let mut scheduler = Scheduler::new(
        ctx.clone(),
        limits,
        settings.max_concurrent_jobs,
        settings.max_jobs_per_client,
        stop_jobs.clone(),
    );

    // Resume journaled work, and every job the chain says we hold a slot of, before taking
    // anything new.
    for address in reconcile::pending_jobs(&ctx).await? {
        scheduler.resume(address);
    }

    let (seen_tx, mut seen_rx) = mpsc::channel::<Seen>(1024);
    let ws_urls = if settings.ws_urls.is_empty() {
        vec![compute_market_sdk::client::default_ws_url(
            &settings.rpc_urls[0],
        )?]
    } else {
        settings.ws_urls.clone()
    };
    let mut websocket = background.spawn(with_fault(
        &settings,
        Watcher::Websocket,
        watcher::subscribe(
            ws_urls,
            client.market_address(),
            seen_tx.clone(),
            metrics.clone(),
            stop.clone(),
        ),
    ));
    let mut resync = background.spawn(with_fault(
        &settings,
        Watcher::Resync,
        watcher::resync(
            client.clone(),
            seen_tx,
            settings.resync_interval,
            metrics.clone(),
            stop.clone(),
        ),
    ));

    // Both watchers run until `stop` is cancelled, which happens only after this loop: one
    // that ends before is dead, and a daemon that cannot see new jobs stops (non-zero exit)
    // rather than idle blind. The watchers own the senders, so `seen_rx` closes only once both
    // ended, which their own branches report.
    tokio::pin!(shutdown);
    let mut discovering = true;
    let outcome = loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break Ok(()),
            ended = &mut websocket => break Err(died("websocket watcher", ended)),
            ended = &mut resync => break Err(died("resync", ended)),
            Some(address) = scheduler.ended.recv() => scheduler.on_job_done(address),
            Some(prepared) = scheduler.prepares.join_next(), if !scheduler.prepares.is_empty() => {
                match prepared {
                    Ok((seen, outcome)) => scheduler.on_prepared(seen, outcome),
                    Err(e) => tracing::error!(error = %e, "job preparation panicked"),
                }
            }
            seen = seen_rx.recv(), if discovering => match seen {
                Some(seen) => scheduler.on_seen(seen).await,
                None => discovering = false,
            },
        }
    };
    if let Err(e) = &outcome {
        tracing::error!(error = %e, "stopping");
    }
    tracing::info!(
        in_flight = scheduler.running(),
        "shutting down: no new work; finishing in-flight jobs"
    );
    stop.cancel();
    scheduler.shutdown(SHUTDOWN_GRACE).await;
    background.close();
    background.wait().await;
    stop_jobs.cancel();
    tracing::info!("stopped");
    outcome
}

/// The error of a discovery task that ended while the daemon ran, however it ended.
fn died(task: &'static str, ended: Result<(), tokio::task::JoinError>) -> DaemonError {
    let reason = match ended {
        Ok(()) => "it returned".to_string(),
        Err(e) if e.is_panic() => {
            let payload = e.into_panic();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_string());
            format!("it panicked: {message}")
        }
        Err(e) => format!("it was cancelled: {e}"),
    };
    DaemonError::TaskDied { task, reason }
}

/// The housekeeping task of these settings: expired outputs deleted from the store (when
/// `output_retention` is set and the store can delete), old finished journal records forgotten.
fn housekeeping(
    settings: &Settings,
    client: &Client,
    db: &Arc<StateDb>,
    gate: &Arc<OutputGate>,
) -> Housekeeping {
    let retention = settings.output_retention;
    let outputs = match client.store() {
        Some(store) if !retention.is_zero() && store.can_delete() => {
            Some((store.clone(), retention))
        }
        Some(store) if !retention.is_zero() => {
            tracing::warn!(
                store = store.base(),
                "output_retention is set, but an http(s):// store cannot delete: outputs are kept"
            );
            None
        }
        _ => None,
    };
    Housekeeping {
        db: db.clone(),
        outputs,
        gate: gate.clone(),
        journal_retention: Duration::from_secs(JOURNAL_RETENTION_SECS.unsigned_abs()),
    }
}

/// `task`, made to panic half a second after it started when `[fault] watcher_panics` names
/// `which` (fault injection, tests only).
fn with_fault<F>(
    settings: &Settings,
    which: Watcher,
    task: F,
) -> impl std::future::Future<Output = ()> + Send + 'static
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    #[cfg(feature = "fault-injection")]
    let dies = settings.fault.watcher_panics == Some(which);
    #[cfg(not(feature = "fault-injection"))]
    let dies = {
        let _ = settings;
        false
    };
    async move {
        if !dies {
            return task.await;
        }
        tokio::select! {
            () = task => {}
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        panic!("fault injection: the {} task panics", which.as_str());
    }
}

/// Waits for SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
