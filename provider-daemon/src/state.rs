//! The daemon's write-ahead journal: one SQLite row per job the provider touched.
//!
//! Before a transaction that commits the provider to something is sent (a claim, a commit with a
//! salted hash, a reveal, a result submission), the daemon records the phase it is entering and
//! everything it needs to finish or recover the job after a crash, above all the commit **salt**:
//! a reveal without the salt used for the commit is impossible, so a salt is written once, before
//! the commit, and never changed ([`StateDb::insert_new`] refuses to overwrite a record, and
//! [`StateDb::advance`] cannot touch the salt; a trigger in the schema enforces the same).
//!
//! The database is opened in WAL journal mode with `synchronous=FULL`: once a call returns `Ok`,
//! the write survives a process crash or power loss. The schema is versioned with
//! `PRAGMA user_version` and brought up to date on open, one migration per version
//! ([`MIGRATIONS`]); a database written by a newer daemon is refused rather than guessed at.
//!
//! Besides the records, the journal keeps what output retention needs ([`outputs`]): when each
//! job finished, and whether its uploaded output was deleted.
//!
//! All calls are synchronous and take a mutex around the connection; from async code call them
//! inside `tokio::task::spawn_blocking` (the struct is `Send + Sync`; share it in an `Arc`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use compute_market_sdk::Pubkey;
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, TransactionBehavior};

pub mod outputs;

/// The schema migrations, in order: entry `i` takes a database from version `i` to `i + 1`.
pub const MIGRATIONS: [&str; 2] = [SCHEMA_V1, MIGRATION_V2];

/// The schema version this build writes and understands (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How long a call waits for another connection's lock on the file before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA_V1: &str = "
CREATE TABLE jobs (
    job         TEXT    PRIMARY KEY NOT NULL,
    phase       TEXT    NOT NULL,
    replicas    INTEGER NOT NULL CHECK (replicas BETWEEN 0 AND 255),
    salt        BLOB    NOT NULL CHECK (length(salt) = 32),
    result_hash BLOB    CHECK (result_hash IS NULL OR length(result_hash) = 32),
    output_uri  TEXT,
    signature   TEXT,
    posted_at   INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    note        TEXT
) STRICT;
CREATE INDEX jobs_by_phase ON jobs (phase, posted_at);
CREATE TRIGGER jobs_salt_is_immutable BEFORE UPDATE OF salt ON jobs
WHEN NEW.salt IS NOT OLD.salt
BEGIN
    SELECT RAISE(ABORT, 'the commit salt of a job is never changed');
END;
";

/// Version 2: when each job finished (`finished_at`, unix seconds; filled in for the finished
/// records already there) and when its output was deleted (`output_expired_at`), for output
/// retention.
const MIGRATION_V2: &str = "
ALTER TABLE jobs ADD COLUMN finished_at INTEGER;
ALTER TABLE jobs ADD COLUMN output_expired_at INTEGER;
UPDATE jobs SET finished_at = updated_at WHERE phase IN ('done', 'abandoned');
CREATE INDEX jobs_by_output ON jobs (output_uri) WHERE output_uri IS NOT NULL;
";

/// Where a job stands for this provider. Stored as its snake_case name.
///
/// `…ing` phases are written *before* the matching transaction is sent (so a crash leaves a
/// record saying the transaction may or may not have landed), the past-tense phases after it
/// was confirmed. [`Phase::Done`] and [`Phase::Abandoned`] are terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// The claim transaction is about to be / was sent, not yet confirmed.
    Claiming,
    /// The claim is confirmed on chain.
    Claimed,
    /// The job ran; its result hash (and output URI) are recorded.
    Computed,
    /// The commit transaction is about to be / was sent.
    Committing,
    /// The commit is confirmed.
    Committed,
    /// The reveal transaction is about to be / was sent.
    Revealing,
    /// The reveal is confirmed.
    Revealed,
    /// The result submission (or settlement) transaction is about to be / was sent.
    Submitting,
    /// Finished: nothing left to do for this job.
    Done,
    /// Given up (lost the claim race, deadline passed, job cancelled, …); see the record's note.
    Abandoned,
}

impl Phase {
    /// Every phase, in the order a job goes through them.
    pub const ALL: [Phase; 10] = [
        Phase::Claiming,
        Phase::Claimed,
        Phase::Computed,
        Phase::Committing,
        Phase::Committed,
        Phase::Revealing,
        Phase::Revealed,
        Phase::Submitting,
        Phase::Done,
        Phase::Abandoned,
    ];

    /// The stored name (`claiming`, `committed`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Claiming => "claiming",
            Phase::Claimed => "claimed",
            Phase::Computed => "computed",
            Phase::Committing => "committing",
            Phase::Committed => "committed",
            Phase::Revealing => "revealing",
            Phase::Revealed => "revealed",
            Phase::Submitting => "submitting",
            Phase::Done => "done",
            Phase::Abandoned => "abandoned",
        }
    }

    /// Whether the job is finished for this provider ([`Phase::Done`] or [`Phase::Abandoned`]).
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Done | Phase::Abandoned)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not the name of a [`Phase`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown job phase {0:?}")]
pub struct ParsePhaseError(pub String);

impl FromStr for Phase {
    type Err = ParsePhaseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phase::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| ParsePhaseError(s.to_string()))
    }
}

/// Everything the daemon keeps about one job's progress (the retention bookkeeping is read and
/// written through [`outputs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    /// The job account.
    pub job: Pubkey,
    /// Where the job stands.
    pub phase: Phase,
    /// The job's replica count when it was claimed.
    pub replicas: u8,
    /// The commit salt: random, written once before the commit, never changed.
    pub salt: [u8; 32],
    /// The canonical hash of the output, once computed.
    pub result_hash: Option<[u8; 32]>,
    /// Where the output was uploaded, once it was.
    pub output_uri: Option<String>,
    /// Signature of the last transaction sent for this job (base58).
    pub signature: Option<String>,
    /// When the job was posted on chain (unix seconds).
    pub posted_at: i64,
    /// When this record last changed (unix seconds).
    pub updated_at: i64,
    /// Free text for operators: why a job was abandoned, the last error, …
    pub note: Option<String>,
}

impl JobRecord {
    /// A new record in [`Phase::Claiming`] with no result yet, `updated_at` = now.
    pub fn new(job: Pubkey, replicas: u8, salt: [u8; 32], posted_at: i64) -> Self {
        JobRecord {
            job,
            phase: Phase::Claiming,
            replicas,
            salt,
            result_hash: None,
            output_uri: None,
            signature: None,
            posted_at,
            updated_at: unix_now(),
            note: None,
        }
    }
}

/// The fields [`StateDb::advance`] may change: `Some` fields are written, `None` fields keep
/// their stored value. The salt is deliberately absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordUpdate {
    /// New result hash.
    pub result_hash: Option<[u8; 32]>,
    /// New output URI.
    pub output_uri: Option<String>,
    /// New last-transaction signature.
    pub signature: Option<String>,
    /// New note.
    pub note: Option<String>,
}

/// A state-database failure; every variant names the database file.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The directory for the database could not be created.
    #[error("cannot create the directory for state database {}: {source}", path.display())]
    CreateDir {
        /// The database path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// SQLite could not open or create the file.
    #[error(
        "cannot open state database {}: {source} (check `state_path` and the directory's \
         permissions)",
        path.display()
    )]
    Open {
        /// The database path.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file exists but is not a SQLite database.
    #[error(
        "state database {} is not a SQLite database (corrupt, or some other file): move it aside \
         or point `state_path` at a new file",
        path.display()
    )]
    NotADatabase {
        /// The database path.
        path: PathBuf,
    },
    /// The file is a SQLite database of some other program (tables, but no schema version).
    #[error(
        "state database {} is a SQLite database of some other program (it has tables but no \
         provider-daemon schema version): point `state_path` at a new file",
        path.display()
    )]
    Foreign {
        /// The database path.
        path: PathBuf,
    },
    /// The database was written by a newer daemon.
    #[error(
        "state database {} has schema version {found}, newer than this daemon supports \
         ({supported}): upgrade provider-daemon, or point `state_path` at a new file",
        path.display()
    )]
    UnsupportedVersion {
        /// The database path.
        path: PathBuf,
        /// The version found (`PRAGMA user_version`).
        found: i64,
        /// The newest version this build understands.
        supported: i64,
    },
    /// SQLite refused WAL journal mode (e.g. on a network filesystem).
    #[error(
        "state database {} cannot use WAL journal mode (got {mode:?}): put it on a local filesystem",
        path.display()
    )]
    JournalMode {
        /// The database path.
        path: PathBuf,
        /// The journal mode SQLite reported.
        mode: String,
    },
    /// A query failed.
    #[error("state database {}: {op} failed: {source}", path.display())]
    Sqlite {
        /// The database path.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// A stored value does not decode (the file was edited by hand or damaged).
    #[error("state database {}: job {job}: stored {column} is invalid: {detail}", path.display())]
    Corrupt {
        /// The database path.
        path: PathBuf,
        /// The job key as stored.
        job: String,
        /// The column.
        column: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// [`StateDb::advance`] on a job with no record.
    #[error("state database {}: no record for job {job}", path.display())]
    NotFound {
        /// The database path.
        path: PathBuf,
        /// The job.
        job: Pubkey,
    },
    /// [`StateDb::advance`] out of a terminal phase.
    #[error(
        "state database {}: job {job} is {from}, which is final; it cannot move to {to}",
        path.display()
    )]
    Terminal {
        /// The database path.
        path: PathBuf,
        /// The job.
        job: Pubkey,
        /// Its stored (terminal) phase.
        from: Phase,
        /// The phase asked for.
        to: Phase,
    },
}

/// The journal: a SQLite connection behind a mutex. See the [module docs](self).
#[derive(Debug)]
pub struct StateDb {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl StateDb {
    /// Opens (creating if needed, with its parent directory) the database at `path`, switches it
    /// to WAL with `synchronous=FULL`, and creates or checks the schema.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StateError::CreateDir {
                path: path.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(|source| StateError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Self::init(conn, path.to_path_buf(), true)
    }

    /// A fresh database in memory (tests): same schema, nothing durable.
    pub fn open_in_memory() -> Result<Self, StateError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|source| StateError::Open {
            path: path.clone(),
            source,
        })?;
        Self::init(conn, path, false)
    }

    /// The database file (`:memory:` for an in-memory one).
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn init(mut conn: Connection, path: PathBuf, want_wal: bool) -> Result<Self, StateError> {
        let sql_err = |op: &'static str| {
            let path = path.clone();
            move |source: rusqlite::Error| classify(&path, op, source)
        };
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(sql_err("setting the busy timeout"))?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(sql_err("setting journal_mode=WAL"))?;
        if want_wal && !mode.eq_ignore_ascii_case("wal") {
            return Err(StateError::JournalMode { path, mode });
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql_err("setting synchronous=FULL"))?;

        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err("starting the schema transaction"))?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(sql_err("reading user_version"))?;
        if version == 0 {
            let tables: i64 = tx
                .query_row(
                    "SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'",
                    [],
                    |row| row.get(0),
                )
                .map_err(sql_err("inspecting the schema"))?;
            if tables > 0 {
                return Err(StateError::Foreign { path });
            }
        }
        let applied = match usize::try_from(version) {
            Ok(applied) if applied <= MIGRATIONS.len() => applied,
            _ => {
                return Err(StateError::UnsupportedVersion {
                    path,
                    found: version,
                    supported: SCHEMA_VERSION,
                })
            }
        };
        for migration in &MIGRATIONS[applied..] {
            tx.execute_batch(migration)
                .map_err(sql_err("migrating the schema"))?;
        }
        if version != SCHEMA_VERSION {
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(sql_err("writing user_version"))?;
        }
        tx.commit().map_err(sql_err("committing the schema"))?;
        Ok(StateDb {
            conn: Mutex::new(conn),
            path,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-applied write behind: every write is
        // one statement or one transaction, rolled back if it did not commit.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn err(&self, op: &'static str) -> impl Fn(rusqlite::Error) -> StateError + '_ {
        move |source| classify(&self.path, op, source)
    }

    /// The record of `job`, if there is one.
    pub fn get(&self, job: &Pubkey) -> Result<Option<JobRecord>, StateError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(&format!("SELECT {COLUMNS} FROM jobs WHERE job = ?1"))
            .map_err(self.err("reading a job"))?;
        let raw = stmt
            .query_row([job.to_string()], RawRecord::from_row)
            .optional()
            .map_err(self.err("reading a job"))?;
        raw.map(|r| r.decode(&self.path)).transpose()
    }

    /// Inserts a new record. Returns `false`, changing nothing, if `rec.job` already has one:
    /// a stored salt is never overwritten. A record inserted finished counts as finished at its
    /// `updated_at`.
    pub fn insert_new(&self, rec: &JobRecord) -> Result<bool, StateError> {
        let conn = self.lock();
        let inserted = conn
            .execute(
                "INSERT INTO jobs (job, phase, replicas, salt, result_hash, output_uri, signature,
                                   posted_at, updated_at, note, finished_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,
                         CASE WHEN ?2 IN ('done', 'abandoned') THEN ?9 END)
                 ON CONFLICT (job) DO NOTHING",
                params![
                    rec.job.to_string(),
                    rec.phase.as_str(),
                    rec.replicas,
                    &rec.salt[..],
                    rec.result_hash.as_ref().map(|h| &h[..]),
                    rec.output_uri,
                    rec.signature,
                    rec.posted_at,
                    rec.updated_at,
                    rec.note,
                ],
            )
            .map_err(self.err("inserting a job"))?;
        Ok(inserted == 1)
    }

    /// Moves `job` to `phase` (the same phase is allowed: it just applies `update`), writes the
    /// `Some` fields of `update` and sets `updated_at` to now (and the time it finished, when
    /// `phase` is the first terminal one). The salt is never changed.
    ///
    /// Fails with [`StateError::NotFound`] if the job has no record, and with
    /// [`StateError::Terminal`] if it is [`Phase::Done`] or [`Phase::Abandoned`] and `phase` is
    /// another phase.
    pub fn advance(
        &self,
        job: &Pubkey,
        phase: Phase,
        update: RecordUpdate,
    ) -> Result<(), StateError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err("starting an update"))?;
        let key = job.to_string();
        let current: Option<String> = tx
            .query_row("SELECT phase FROM jobs WHERE job = ?1", [&key], |row| {
                row.get(0)
            })
            .optional()
            .map_err(self.err("reading a job's phase"))?;
        let Some(current) = current else {
            return Err(StateError::NotFound {
                path: self.path.clone(),
                job: *job,
            });
        };
        let current = Phase::from_str(&current).map_err(|e| StateError::Corrupt {
            path: self.path.clone(),
            job: key.clone(),
            column: "phase",
            detail: e.to_string(),
        })?;
        if current.is_terminal() && current != phase {
            return Err(StateError::Terminal {
                path: self.path.clone(),
                job: *job,
                from: current,
                to: phase,
            });
        }
        tx.execute(
            "UPDATE jobs SET phase = ?2,
                             result_hash = coalesce(?3, result_hash),
                             output_uri = coalesce(?4, output_uri),
                             signature = coalesce(?5, signature),
                             note = coalesce(?6, note),
                             updated_at = ?7,
                             finished_at = CASE WHEN ?2 IN ('done', 'abandoned')
                                                THEN coalesce(finished_at, ?7) END
             WHERE job = ?1",
            params![
                key,
                phase.as_str(),
                update.result_hash.as_ref().map(|h| &h[..]),
                update.output_uri,
                update.signature,
                update.note,
                unix_now(),
            ],
        )
        .map_err(self.err("updating a job"))?;
        tx.commit().map_err(self.err("committing an update"))
    }

    /// Every job not yet [`Phase::Done`] or [`Phase::Abandoned`], oldest (`posted_at`) first:
    /// what the daemon resumes after a restart.
    pub fn pending(&self) -> Result<Vec<JobRecord>, StateError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM jobs WHERE phase NOT IN ('done', 'abandoned')
                 ORDER BY posted_at, rowid"
            ))
            .map_err(self.err("listing pending jobs"))?;
        let raws = stmt
            .query_map([], RawRecord::from_row)
            .map_err(self.err("listing pending jobs"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err("listing pending jobs"))?;
        raws.into_iter().map(|r| r.decode(&self.path)).collect()
    }

    /// Deletes finished records ([`Phase::Done`], [`Phase::Abandoned`]) last changed before
    /// `before` (unix seconds), so the journal does not grow without bound; returns how many.
    /// Unfinished records are never deleted; with `outputs_expire` (output retention is on),
    /// neither is a record whose uploaded output was not deleted yet: the retention sweep needs
    /// its URI.
    pub fn forget_finished(&self, before: i64, outputs_expire: bool) -> Result<usize, StateError> {
        let conn = self.lock();
        conn.execute(
            "DELETE FROM jobs WHERE phase IN ('done', 'abandoned') AND updated_at < ?1
             AND (NOT ?2 OR output_uri IS NULL OR output_expired_at IS NOT NULL)",
            params![before, outputs_expire],
        )
        .map_err(self.err("forgetting finished jobs"))
    }

    /// How many jobs are in each phase; every phase is present, with 0 where there are none.
    pub fn counts(&self) -> Result<BTreeMap<Phase, u64>, StateError> {
        let conn = self.lock();
        let mut counts: BTreeMap<Phase, u64> = Phase::ALL.into_iter().map(|p| (p, 0)).collect();
        let mut stmt = conn
            .prepare("SELECT phase, count(*) FROM jobs GROUP BY phase")
            .map_err(self.err("counting jobs"))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
            })
            .map_err(self.err("counting jobs"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err("counting jobs"))?;
        for (phase, n) in rows {
            let phase = Phase::from_str(&phase).map_err(|e| StateError::Corrupt {
                path: self.path.clone(),
                job: "(any)".to_string(),
                column: "phase",
                detail: e.to_string(),
            })?;
            counts.insert(phase, u64::try_from(n).unwrap_or(0));
        }
        Ok(counts)
    }
}

const COLUMNS: &str =
    "job, phase, replicas, salt, result_hash, output_uri, signature, posted_at, updated_at, note";

/// One row as stored, before decoding into a [`JobRecord`].
struct RawRecord {
    job: String,
    phase: String,
    replicas: i64,
    salt: Vec<u8>,
    result_hash: Option<Vec<u8>>,
    output_uri: Option<String>,
    signature: Option<String>,
    posted_at: i64,
    updated_at: i64,
    note: Option<String>,
}

impl RawRecord {
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawRecord {
            job: row.get(0)?,
            phase: row.get(1)?,
            replicas: row.get(2)?,
            salt: row.get(3)?,
            result_hash: row.get(4)?,
            output_uri: row.get(5)?,
            signature: row.get(6)?,
            posted_at: row.get(7)?,
            updated_at: row.get(8)?,
            note: row.get(9)?,
        })
    }

    fn decode(self, path: &Path) -> Result<JobRecord, StateError> {
        let corrupt = |column: &'static str, detail: String| StateError::Corrupt {
            path: path.to_path_buf(),
            job: self.job.clone(),
            column,
            detail,
        };
        let job = Pubkey::from_str(&self.job).map_err(|e| corrupt("job", e.to_string()))?;
        let phase = Phase::from_str(&self.phase).map_err(|e| corrupt("phase", e.to_string()))?;
        let replicas = u8::try_from(self.replicas)
            .map_err(|_| corrupt("replicas", format!("{} is out of range", self.replicas)))?;
        let salt = hash32(&self.salt).map_err(|d| corrupt("salt", d))?;
        let result_hash = self
            .result_hash
            .as_deref()
            .map(hash32)
            .transpose()
            .map_err(|d| corrupt("result_hash", d))?;
        Ok(JobRecord {
            job,
            phase,
            replicas,
            salt,
            result_hash,
            output_uri: self.output_uri,
            signature: self.signature,
            posted_at: self.posted_at,
            updated_at: self.updated_at,
            note: self.note,
        })
    }
}

fn hash32(bytes: &[u8]) -> Result<[u8; 32], String> {
    <[u8; 32]>::try_from(bytes).map_err(|_| format!("{} bytes, expected 32", bytes.len()))
}

/// Maps SQLite's "file is not a database" to [`StateError::NotADatabase`], anything else to
/// [`StateError::Sqlite`].
fn classify(path: &Path, op: &'static str, source: rusqlite::Error) -> StateError {
    match source.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StateError::NotADatabase {
            path: path.to_path_buf(),
        },
        _ => StateError::Sqlite {
            path: path.to_path_buf(),
            op,
            source,
        },
    }
}

pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> Pubkey {
        Pubkey::new_from_array([n; 32])
    }

    fn record(n: u8, posted_at: i64) -> JobRecord {
        JobRecord {
            job: key(n),
            phase: Phase::Claiming,
            replicas: 3,
            salt: [n.wrapping_add(100); 32],
            result_hash: None,
            output_uri: None,
            signature: None,
            posted_at,
            updated_at: posted_at + 1,
            note: None,
        }
    }

    #[test]
    fn state_db_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<StateDb>();
    }

    #[test]
    fn finished_records_are_forgotten_and_unfinished_ones_kept() {
        let db = StateDb::open_in_memory().expect("open");
        for n in 1..=3 {
            assert!(db.insert_new(&record(n, 10)).expect("insert"));
        }
        db.advance(&key(1), Phase::Done, RecordUpdate::default())
            .expect("done");
        db.advance(&key(2), Phase::Abandoned, RecordUpdate::default())
            .expect("abandoned");
        assert_eq!(
            db.forget_finished(unix_now() - 60, false).expect("forget"),
            0,
            "too recent"
        );
        assert_eq!(
            db.forget_finished(unix_now() + 1, false).expect("forget"),
            2
        );
        assert_eq!(db.get(&key(1)).expect("get"), None);
        assert!(db.get(&key(3)).expect("get").is_some(), "pending kept");
    }

    #[test]
    fn round_trip_every_field() {
        let db = StateDb::open_in_memory().expect("open");
        assert_eq!(db.get(&key(1)).expect("get"), None);
        let full = JobRecord {
            job: key(1),
            phase: Phase::Revealing,
            replicas: 255,
            salt: [7; 32],
            result_hash: Some([9; 32]),
            output_uri: Some("file:///tmp/blobs/ab".into()),
            signature: Some("5sig".into()),
            posted_at: -5,
            updated_at: 1_700_000_000,
            note: Some("note ✓".into()),
        };
        assert!(db.insert_new(&full).expect("insert"));
        assert_eq!(db.get(&key(1)).expect("get"), Some(full));
        let bare = record(2, 10);
        assert!(db.insert_new(&bare).expect("insert"));
        assert_eq!(db.get(&key(2)).expect("get"), Some(bare));
        for phase in Phase::ALL {
            assert_eq!(phase.as_str().parse::<Phase>(), Ok(phase));
        }
        assert!("finished".parse::<Phase>().is_err());
    }

    #[test]
    fn insert_new_never_overwrites_and_salt_survives_advance() {
        let db = StateDb::open_in_memory().expect("open");
        let first = record(1, 10);
        assert!(db.insert_new(&first).expect("insert"));
        let mut second = record(1, 20);
        second.salt = [0xEE; 32];
        second.phase = Phase::Done;
        assert!(!db.insert_new(&second).expect("second insert"));
        assert_eq!(db.get(&key(1)).expect("get"), Some(first.clone()));

        db.advance(
            &key(1),
            Phase::Computed,
            RecordUpdate {
                result_hash: Some([4; 32]),
                output_uri: Some("s3://b/k".into()),
                ..RecordUpdate::default()
            },
        )
        .expect("advance");
        db.advance(
            &key(1),
            Phase::Committing,
            RecordUpdate {
                signature: Some("sig1".into()),
                ..RecordUpdate::default()
            },
        )
        .expect("advance");
        let got = db.get(&key(1)).expect("get").expect("record");
        assert_eq!(got.salt, first.salt);
        assert_eq!(got.phase, Phase::Committing);
        assert_eq!(got.result_hash, Some([4; 32]));
        assert_eq!(got.output_uri.as_deref(), Some("s3://b/k"));
        assert_eq!(got.signature.as_deref(), Some("sig1"));
        assert_eq!(got.posted_at, first.posted_at);
        assert!(got.updated_at >= first.updated_at);

        // The schema itself refuses a salt change.
        let conn = db.lock();
        let err = conn
            .execute("UPDATE jobs SET salt = zeroblob(32)", [])
            .expect_err("salt is immutable");
        assert!(err.to_string().contains("salt"), "{err}");
    }

    #[test]
    fn advance_unknown_and_terminal() {
        let db = StateDb::open_in_memory().expect("open");
        let err = db
            .advance(&key(9), Phase::Claimed, RecordUpdate::default())
            .expect_err("no record");
        assert!(matches!(err, StateError::NotFound { .. }), "{err}");
        db.insert_new(&record(1, 1)).expect("insert");
        db.advance(
            &key(1),
            Phase::Abandoned,
            RecordUpdate {
                note: Some("lost the claim race".into()),
                ..RecordUpdate::default()
            },
        )
        .expect("abandon");
        let err = db
            .advance(&key(1), Phase::Claimed, RecordUpdate::default())
            .expect_err("terminal");
        assert!(matches!(err, StateError::Terminal { .. }), "{err}");
        // Staying in a terminal phase (e.g. to amend the note) is fine.
        db.advance(
            &key(1),
            Phase::Abandoned,
            RecordUpdate {
                note: Some("deadline passed".into()),
                ..RecordUpdate::default()
            },
        )
        .expect("same phase");
        let got = db.get(&key(1)).expect("get").expect("record");
        assert_eq!(got.note.as_deref(), Some("deadline passed"));
    }

    #[test]
    fn pending_excludes_finished_oldest_first_and_counts() {
        let db = StateDb::open_in_memory().expect("open");
        for (n, posted) in [(1, 300), (2, 100), (3, 200), (4, 50), (5, 400)] {
            db.insert_new(&record(n, posted)).expect("insert");
        }
        db.advance(&key(4), Phase::Done, RecordUpdate::default())
            .expect("done");
        db.advance(&key(5), Phase::Abandoned, RecordUpdate::default())
            .expect("abandoned");
        db.advance(&key(3), Phase::Committed, RecordUpdate::default())
            .expect("committed");
        let pending: Vec<Pubkey> = db
            .pending()
            .expect("pending")
            .into_iter()
            .map(|r| r.job)
            .collect();
        assert_eq!(pending, vec![key(2), key(3), key(1)]);
        let counts = db.counts().expect("counts");
        assert_eq!(counts.len(), Phase::ALL.len());
        assert_eq!(counts[&Phase::Claiming], 2);
        assert_eq!(counts[&Phase::Committed], 1);
        assert_eq!(counts[&Phase::Done], 1);
        assert_eq!(counts[&Phase::Abandoned], 1);
        assert_eq!(counts[&Phase::Revealed], 0);
    }

    #[test]
    fn file_database_is_durable_across_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/state.sqlite");
        {
            let db = StateDb::open(&path).expect("open");
            db.insert_new(&record(1, 10)).expect("insert");
            db.advance(
                &key(1),
                Phase::Computed,
                RecordUpdate {
                    result_hash: Some([3; 32]),
                    ..RecordUpdate::default()
                },
            )
            .expect("advance");
            let conn = db.lock();
            let mode: String = conn
                .pragma_query_value(None, "journal_mode", |r| r.get(0))
                .expect("journal_mode");
            assert_eq!(mode, "wal");
            let sync: i64 = conn
                .pragma_query_value(None, "synchronous", |r| r.get(0))
                .expect("synchronous");
            assert_eq!(sync, 2, "synchronous=FULL");
        }
        let db = StateDb::open(&path).expect("reopen");
        let got = db.get(&key(1)).expect("get").expect("record");
        assert_eq!(got.phase, Phase::Computed);
        assert_eq!(got.result_hash, Some([3; 32]));
        assert_eq!(got.salt, record(1, 10).salt);
        assert_eq!(db.path(), path);
    }

    #[test]
    fn non_sqlite_file_is_refused_clearly() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, contents) in [
            ("text.sqlite", "this is not a database\n".repeat(200)),
            ("short.sqlite", "garbage".to_string()),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, &contents).expect("write");
            let err = StateDb::open(&path).expect_err("not a database");
            assert!(
                matches!(err, StateError::NotADatabase { .. }),
                "{name}: {err}"
            );
            assert!(err.to_string().contains(name), "{err}");
            // Nothing was overwritten.
            assert_eq!(std::fs::read_to_string(&path).expect("read"), contents);
        }
    }

    #[test]
    fn newer_schema_version_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.sqlite");
        drop(StateDb::open(&path).expect("create"));
        {
            let conn = Connection::open(&path).expect("raw open");
            conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
                .expect("bump");
        }
        let err = StateDb::open(&path).expect_err("too new");
        assert!(
            matches!(err, StateError::UnsupportedVersion { found, .. } if found == SCHEMA_VERSION + 1),
            "{err}"
        );
        assert!(err.to_string().contains("state.sqlite"), "{err}");
    }

    #[test]
    fn foreign_sqlite_database_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("other.sqlite");
        {
            let conn = Connection::open(&path).expect("raw open");
            conn.execute_batch("CREATE TABLE accounts (id INTEGER)")
                .expect("create");
        }
        let err = StateDb::open(&path).expect_err("foreign");
        assert!(matches!(err, StateError::Foreign { .. }), "{err}");
    }

    #[test]
    fn concurrent_use_from_threads() {
        let db = std::sync::Arc::new(StateDb::open_in_memory().expect("open"));
        let handles: Vec<_> = (0..4u8)
            .map(|t| {
                let db = db.clone();
                std::thread::spawn(move || {
                    for i in 0..25u8 {
                        let n = t * 25 + i;
                        assert!(db.insert_new(&record(n, i64::from(n))).expect("insert"));
                        db.advance(&key(n), Phase::Claimed, RecordUpdate::default())
                            .expect("advance");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("thread");
        }
        assert_eq!(db.counts().expect("counts")[&Phase::Claimed], 100);
    }
}
