//! The journal's side of output retention ([`crate::jobs::retention`]): which uploaded outputs
//! are due for deletion, and which were deleted.
//!
//! Outputs are content-addressed, so one URI may be recorded by several jobs (the same bytes
//! computed twice). A URI is due only once **every** job that recorded it finished before the
//! cutoff: an output another job still needs, or may still need, is never due.

use rusqlite::params;

use super::{StateDb, StateError};

impl StateDb {
    /// Output URIs due for deletion at `cutoff` (unix seconds): every job that recorded the URI
    /// finished before `cutoff`, and it was not deleted yet. Oldest first.
    pub fn expired_outputs(&self, cutoff: i64) -> Result<Vec<String>, StateError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT output_uri FROM jobs
                 WHERE output_uri IS NOT NULL AND output_expired_at IS NULL
                 GROUP BY output_uri
                 HAVING count(*) = count(finished_at) AND max(finished_at) < ?1
                 ORDER BY max(finished_at), output_uri",
            )
            .map_err(self.err("listing expired outputs"))?;
        let uris = stmt
            .query_map([cutoff], |row| row.get(0))
            .map_err(self.err("listing expired outputs"))?
            .collect::<Result<Vec<String>, _>>()
            .map_err(self.err("listing expired outputs"))?;
        Ok(uris)
    }

    /// Whether `uri` is still due for deletion at `cutoff` (see [`StateDb::expired_outputs`]):
    /// asked again right before deleting it.
    pub fn output_expired(&self, uri: &str, cutoff: i64) -> Result<bool, StateError> {
        let conn = self.lock();
        conn.query_row(
            "SELECT count(*) > 0 AND count(*) = count(finished_at)
                    AND coalesce(max(finished_at) < ?2, 0)
             FROM jobs WHERE output_uri = ?1 AND output_expired_at IS NULL",
            params![uri, cutoff],
            |row| row.get(0),
        )
        .map_err(self.err("checking an expired output"))
    }

    /// Records that `uri` was deleted (or will never be: it is not in this daemon's store) at
    /// `at`, in every job that recorded it; returns how many.
    pub fn mark_output_expired(&self, uri: &str, at: i64) -> Result<usize, StateError> {
        let conn = self.lock();
        conn.execute(
            "UPDATE jobs SET output_expired_at = ?2
             WHERE output_uri = ?1 AND output_expired_at IS NULL",
            params![uri, at],
        )
        .map_err(self.err("marking an expired output"))
    }
}

#[cfg(test)]
mod tests {
    use compute_market_sdk::Pubkey;
    use rusqlite::Connection;

    use crate::state::{unix_now, JobRecord, Phase, RecordUpdate, StateDb, SCHEMA_VERSION};

    fn key(n: u8) -> Pubkey {
        Pubkey::new_from_array([n; 32])
    }

    /// Journals job `n` with output `uri`, then moves it to `phase`.
    fn job(db: &StateDb, n: u8, uri: &str, phase: Phase) {
        assert!(db
            .insert_new(&JobRecord::new(key(n), 1, [n; 32], 10))
            .expect("insert"));
        let update = RecordUpdate {
            result_hash: Some([n; 32]),
            output_uri: Some(uri.into()),
            ..RecordUpdate::default()
        };
        db.advance(&key(n), Phase::Computed, update)
            .expect("computed");
        db.advance(&key(n), phase, RecordUpdate::default())
            .expect("phase");
    }

    #[test]
    fn outputs_are_due_once_every_job_recording_them_finished_before_the_cutoff() {
        let db = StateDb::open_in_memory().expect("open");
        let now = unix_now();
        job(&db, 1, "file:///b/done", Phase::Done);
        job(&db, 2, "file:///b/abandoned", Phase::Abandoned);
        job(&db, 3, "file:///b/running", Phase::Committed);
        // The same bytes computed by a finished job and by one still running.
        job(&db, 4, "file:///b/shared", Phase::Done);
        job(&db, 5, "file:///b/shared", Phase::Revealed);

        assert!(
            db.expired_outputs(now - 60).expect("list").is_empty(),
            "too recent"
        );
        let due = db.expired_outputs(now + 1).expect("list");
        assert_eq!(due, ["file:///b/abandoned", "file:///b/done"]);
        assert!(db.output_expired("file:///b/done", now + 1).expect("check"));
        for kept in ["file:///b/running", "file:///b/shared", "file:///b/none"] {
            assert!(!db.output_expired(kept, now + 1).expect("check"), "{kept}");
        }

        assert_eq!(
            db.mark_output_expired("file:///b/done", now).expect("mark"),
            1
        );
        assert_eq!(
            db.expired_outputs(now + 1).expect("list"),
            ["file:///b/abandoned"]
        );
        assert!(!db.output_expired("file:///b/done", now + 1).expect("check"));

        // Once the other job with the shared output finishes, it is due too.
        db.advance(&key(5), Phase::Done, RecordUpdate::default())
            .expect("done");
        assert!(db
            .output_expired("file:///b/shared", now + 1)
            .expect("check"));
    }

    #[test]
    fn finished_at_is_set_once_on_the_first_terminal_phase() {
        let db = StateDb::open_in_memory().expect("open");
        job(&db, 1, "file:///b/x", Phase::Done);
        let finished = |db: &StateDb| -> Option<i64> {
            db.lock()
                .query_row("SELECT finished_at FROM jobs", [], |r| r.get(0))
                .expect("finished_at")
        };
        let at = finished(&db).expect("set");
        assert!((unix_now() - at).abs() <= 1);
        db.lock()
            .execute("UPDATE jobs SET finished_at = 5", [])
            .expect("backdate");
        db.advance(
            &key(1),
            Phase::Done,
            RecordUpdate {
                note: Some("amended".into()),
                ..RecordUpdate::default()
            },
        )
        .expect("amend");
        assert_eq!(finished(&db), Some(5), "amending a note does not move it");
    }

    #[test]
    fn records_with_outputs_to_delete_are_not_forgotten_while_retention_is_on() {
        let db = StateDb::open_in_memory().expect("open");
        job(&db, 1, "file:///b/x", Phase::Done);
        let later = unix_now() + 1;
        assert_eq!(db.forget_finished(later, true).expect("forget"), 0);
        db.mark_output_expired("file:///b/x", later).expect("mark");
        assert_eq!(db.forget_finished(later, true).expect("forget"), 1);
        job(&db, 2, "file:///b/y", Phase::Done);
        assert_eq!(db.forget_finished(later, false).expect("forget"), 1);
    }

    #[test]
    fn a_version_1_journal_is_migrated_and_its_finished_jobs_dated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("v1.sqlite");
        {
            let conn = Connection::open(&path).expect("raw open");
            conn.execute_batch(super::super::SCHEMA_V1)
                .expect("v1 schema");
            conn.pragma_update(None, "user_version", 1)
                .expect("version");
            for (n, phase) in [(1u8, "done"), (2, "committed")] {
                conn.execute(
                    "INSERT INTO jobs (job, phase, replicas, salt, output_uri, posted_at, updated_at)
                     VALUES (?1, ?2, 1, ?3, ?4, 10, 1000)",
                    rusqlite::params![
                        key(n).to_string(),
                        phase,
                        &[n; 32][..],
                        format!("file:///b/{n}")
                    ],
                )
                .expect("v1 row");
            }
        }
        let db = StateDb::open(&path).expect("migrates");
        let version: i64 = db
            .lock()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .expect("version");
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(db.expired_outputs(1001).expect("list"), ["file:///b/1"]);
        assert_eq!(
            db.get(&key(2)).expect("get").expect("kept").phase,
            Phase::Committed
        );
        drop(db);
        StateDb::open(&path).expect("reopens at the current version");
    }
}
