//! Housekeeping of finished jobs, once at start and then every [`SWEEP_INTERVAL`]:
//!
//! - **Outputs**: an output this daemon uploaded is deleted from its store `output_retention`
//!   after its job finished (settled, given up, or gone from the chain; the journal's
//!   `finished_at`). The client downloads the result after settlement, so retention counts from
//!   then. Only URIs the journal recorded for this daemon's own uploads are deleted, only once
//!   every job that recorded the same URI finished long enough ago (outputs are
//!   content-addressed: [`crate::state::outputs`]), and only from a store that can delete
//!   (`file://`, `s3://`; an `http(s)://` store keeps everything). A URI outside the daemon's
//!   current store (the `store` setting changed) is left alone. `output_retention = 0` keeps
//!   outputs forever.
//! - **Journal**: finished records are forgotten [`crate::daemon::JOURNAL_RETENTION_SECS`] after
//!   their last change; while outputs expire, a record is kept until its output was deleted.
//!
//! An upload and a deletion of the same blob never interleave ([`OutputGate`]).

use std::sync::Arc;
use std::time::Duration;

use compute_market_sdk::store::{BlobStore, StoreError};
use tokio::sync::{RwLock, RwLockReadGuard};
use tokio::task::JoinError;
use tokio_util::sync::CancellationToken;

use crate::jobs::span::blocking;
use crate::state::{unix_now, StateDb, StateError};

/// How often housekeeping runs (after a first pass at start).
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Keeps output uploads and output deletions apart. A runner holds it shared from before it
/// uploads an output until the journal records the URI ([`OutputGate::upload`]); the sweep
/// holds it exclusively while it checks and deletes one blob. So a blob is never deleted
/// between its upload and its record (the same bytes may be an older job's expired output).
#[derive(Debug, Default)]
pub struct OutputGate(RwLock<()>);

impl OutputGate {
    /// Waits until no deletion is in progress; deletions wait while the guard lives.
    pub async fn upload(&self) -> RwLockReadGuard<'_, ()> {
        self.0.read().await
    }
}

/// Why a sweep stopped.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// The journal failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// A journal call's blocking task failed.
    #[error("journal task failed: {0}")]
    Task(#[from] JoinError),
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Outputs deleted.
    pub deleted: usize,
    /// Outputs outside this daemon's store, left alone (and not looked at again).
    pub foreign: usize,
    /// Deletions that failed; tried again on the next sweep.
    pub failed: usize,
}

async fn journal<T: Send + 'static>(
    db: &Arc<StateDb>,
    f: impl FnOnce(&StateDb) -> Result<T, StateError> + Send + 'static,
) -> Result<T, RetentionError> {
    let db = db.clone();
    Ok(blocking(move || f(&db)).await??)
}

/// Deletes from `store` every output due at `now` (unix seconds): those whose jobs all finished
/// more than `retention` before `now`.
pub async fn sweep(
    db: &Arc<StateDb>,
    store: &BlobStore,
    gate: &OutputGate,
    retention: Duration,
    now: i64,
) -> Result<Swept, RetentionError> {
    let cutoff = now.saturating_sub(i64::try_from(retention.as_secs()).unwrap_or(i64::MAX));
    let mut swept = Swept::default();
    for uri in journal(db, move |db| db.expired_outputs(cutoff)).await? {
        let _deleting = gate.0.write().await;
        // A runner may have recorded the same bytes for a new job since the listing.
        let key = uri.clone();
        if !journal(db, move |db| db.output_expired(&key, cutoff)).await? {
            continue;
        }
        match store.delete(&uri).await {
            Ok(()) => swept.deleted += 1,
            Err(StoreError::InvalidUri { .. }) => {
                tracing::info!(%uri, store = store.base(), "expired output is not in this store; left alone");
                swept.foreign += 1;
            }
            Err(e) => {
                tracing::warn!(%uri, error = %e, "cannot delete an expired output; trying again later");
                swept.failed += 1;
                continue;
            }
        }
        journal(db, move |db| db.mark_output_expired(&uri, now)).await?;
    }
    Ok(swept)
}

/// The housekeeping task's settings and handles.
#[derive(Debug)]
pub struct Housekeeping {
    /// The journal.
    pub db: Arc<StateDb>,
    /// Where outputs are deleted from, when they expire (`None`: outputs are kept).
    pub outputs: Option<(BlobStore, Duration)>,
    /// Shared with the runners.
    pub gate: Arc<OutputGate>,
    /// How long finished records stay in the journal.
    pub journal_retention: Duration,
}

impl Housekeeping {
    /// One pass at `now` (unix seconds): expired outputs deleted, then old finished records
    /// forgotten. Failures are logged; the next pass tries again.
    pub async fn once(&self, now: i64) {
        if let Some((store, retention)) = &self.outputs {
            match sweep(&self.db, store, &self.gate, *retention, now).await {
                Ok(swept) if swept == Swept::default() => {}
                Ok(swept) => tracing::info!(
                    deleted = swept.deleted,
                    foreign = swept.foreign,
                    failed = swept.failed,
                    "swept expired outputs"
                ),
                Err(e) => tracing::warn!(error = %e, "cannot sweep expired outputs"),
            }
        }
        let before =
            now.saturating_sub(i64::try_from(self.journal_retention.as_secs()).unwrap_or(i64::MAX));
        let outputs_expire = self.outputs.is_some();
        match journal(&self.db, move |db| {
            db.forget_finished(before, outputs_expire)
        })
        .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(records = n, "forgot finished journal records"),
            Err(e) => tracing::warn!(error = %e, "cannot prune the journal"),
        }
    }

    /// Runs a pass now and every [`SWEEP_INTERVAL`] until `stop` is cancelled (a pass in
    /// progress stops too).
    pub async fn run(self, stop: CancellationToken) {
        let mut ticker = tokio::time::interval(SWEEP_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                () = stop.cancelled() => return,
                _ = ticker.tick() => {}
            }
            if stop
                .run_until_cancelled(self.once(unix_now()))
                .await
                .is_none()
            {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use compute_market_sdk::Pubkey;

    use super::*;
    use crate::state::{JobRecord, Phase, RecordUpdate};

    const RETENTION: Duration = Duration::from_secs(60);

    struct Fixture {
        _dir: tempfile::TempDir,
        store: BlobStore,
        db: Arc<StateDb>,
        gate: OutputGate,
    }

    impl Fixture {
        async fn new() -> Self {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = BlobStore::open(&format!("file://{}", dir.path().display()))
                .await
                .expect("store");
            Fixture {
                _dir: dir,
                store,
                db: Arc::new(StateDb::open_in_memory().expect("journal")),
                gate: OutputGate::default(),
            }
        }

        /// Job `n` computed `output` (uploaded and journaled as a runner does), then reached
        /// `phase`; its output URI.
        async fn job(&self, n: u8, output: &[u8], phase: Phase) -> String {
            let uri = self.store.put(output).await.expect("upload");
            let key = Pubkey::new_from_array([n; 32]);
            self.db
                .insert_new(&JobRecord::new(key, 1, [n; 32], 10))
                .expect("insert");
            let update = RecordUpdate {
                output_uri: Some(uri.clone()),
                ..RecordUpdate::default()
            };
            self.db
                .advance(&key, Phase::Computed, update)
                .expect("computed");
            self.db
                .advance(&key, phase, RecordUpdate::default())
                .expect("phase");
            uri
        }

        async fn sweep(&self, now: i64) -> Swept {
            sweep(&self.db, &self.store, &self.gate, RETENTION, now)
                .await
                .expect("sweep")
        }

        async fn exists(&self, uri: &str) -> bool {
            match self.store.fetch_unverified(uri, 1 << 20).await {
                Ok(_) => true,
                Err(StoreError::NotFound { .. }) => false,
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[tokio::test]
    async fn a_finished_jobs_output_is_deleted_after_the_retention_and_a_running_ones_kept() {
        let f = Fixture::new().await;
        let settled = f.job(1, b"settled", Phase::Done).await;
        let given_up = f.job(2, b"given up", Phase::Abandoned).await;
        let running = f.job(3, b"running", Phase::Committed).await;
        let now = unix_now();

        assert_eq!(f.sweep(now).await, Swept::default(), "not yet");
        assert!(f.exists(&settled).await && f.exists(&given_up).await);

        // The clock moves past the retention.
        let later = now + 61;
        let swept = f.sweep(later).await;
        assert_eq!(swept.deleted, 2, "{swept:?}");
        assert!(!f.exists(&settled).await && !f.exists(&given_up).await);
        assert!(f.exists(&running).await, "a job in flight keeps its output");
        assert_eq!(
            f.sweep(later + 3600).await,
            Swept::default(),
            "deleted once"
        );

        // Once the last job finishes, its output goes too, a retention later.
        f.db.advance(
            &Pubkey::new_from_array([3; 32]),
            Phase::Done,
            RecordUpdate::default(),
        )
        .expect("done");
        assert_eq!(f.sweep(unix_now()).await, Swept::default());
        assert_eq!(f.sweep(unix_now() + 61).await.deleted, 1);
        assert!(!f.exists(&running).await);
    }

    #[tokio::test]
    async fn an_output_shared_with_a_running_job_is_kept() {
        let f = Fixture::new().await;
        let old = f.job(1, b"same bytes", Phase::Done).await;
        let new = f.job(2, b"same bytes", Phase::Revealed).await;
        assert_eq!(old, new, "content-addressed");
        assert_eq!(f.sweep(unix_now() + 3600).await, Swept::default());
        assert!(f.exists(&old).await);
    }

    #[tokio::test]
    async fn an_upload_in_progress_holds_off_the_deletion_of_the_same_blob() {
        let f = Arc::new(Fixture::new().await);
        let old = f.job(1, b"output", Phase::Done).await;
        // A runner is uploading the same bytes for a new job: the sweep waits for its record,
        // then sees the URI is needed again.
        let uploading = f.gate.upload().await;
        let sweeping = tokio::spawn({
            let f = f.clone();
            async move { f.sweep(unix_now() + 3600).await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!sweeping.is_finished(), "the sweep waits for the upload");
        let new = f.job(2, b"output", Phase::Claimed).await;
        drop(uploading);
        assert_eq!(sweeping.await.expect("sweep task"), Swept::default());
        assert_eq!(old, new);
        assert!(f.exists(&new).await, "the new job's output is there");
    }

    #[tokio::test]
    async fn an_output_outside_the_store_is_left_alone_and_not_looked_at_again() {
        let f = Fixture::new().await;
        let key = Pubkey::new_from_array([9; 32]);
        f.db.insert_new(&JobRecord::new(key, 1, [9; 32], 10))
            .expect("insert");
        let elsewhere = format!("file:///elsewhere/{}", "ab".repeat(32));
        let update = RecordUpdate {
            output_uri: Some(elsewhere),
            ..RecordUpdate::default()
        };
        f.db.advance(&key, Phase::Done, update).expect("done");
        let later = unix_now() + 3600;
        assert_eq!(f.sweep(later).await.foreign, 1);
        assert_eq!(f.sweep(later).await, Swept::default());
    }

    #[tokio::test]
    async fn housekeeping_forgets_a_record_once_its_output_is_gone() {
        let f = Fixture::new().await;
        let uri = f.job(1, b"output", Phase::Done).await;
        let housekeeping = Housekeeping {
            db: f.db.clone(),
            outputs: Some((f.store.clone(), RETENTION)),
            gate: Arc::new(OutputGate::default()),
            journal_retention: Duration::ZERO,
        };
        let key = Pubkey::new_from_array([1; 32]);
        // Past the journal's retention but not the output's: the record is kept for its output.
        housekeeping.once(unix_now() + 30).await;
        assert!(
            f.db.get(&key).expect("get").is_some(),
            "kept for its output"
        );
        assert!(f.exists(&uri).await);
        housekeeping.once(unix_now() + 61).await;
        assert!(!f.exists(&uri).await);
        assert!(f.db.get(&key).expect("get").is_none(), "then forgotten");
    }
}
