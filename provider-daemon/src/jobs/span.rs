//! Where a job's log lines come from. Every job task runs in a `job` span ([`job_span`]) that
//! names the job account (`job = <address>`) and, as the runner advances, its journal phase
//! (`phase = claimed`, …; `prepare` while its blobs are fetched and validated): every line a job
//! logs carries them, also from the blocking work it hands to threads ([`blocking`]).

use compute_market_sdk::Pubkey;
use tokio::task::JoinError;

/// The span a job's task runs in. Its `phase` is filled in later (`span.record("phase", …)`).
pub fn job_span(address: &Pubkey) -> tracing::Span {
    tracing::info_span!("job", job = %address, phase = tracing::field::Empty)
}

/// Runs blocking `f` on tokio's blocking threads, inside the caller's span and with the
/// caller's subscriber: what `f` logs is attributed to the same job.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, JoinError> {
    let span = tracing::Span::current();
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    tokio::task::spawn_blocking(move || {
        tracing::dispatcher::with_default(&dispatch, || span.in_scope(f))
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use tracing::Instrument;

    use super::*;

    /// Log lines written as text into a shared buffer.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_logged_by_a_job_and_its_blocking_work_name_the_job_and_phase() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let address = Pubkey::new_unique();
        tracing::subscriber::with_default(subscriber, || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime");
            let span = job_span(&address);
            rt.block_on(
                async {
                    tracing::Span::current().record("phase", "claimed");
                    tracing::info!("on the task");
                    blocking(|| tracing::info!("on a blocking thread"))
                        .await
                        .expect("blocking task");
                }
                .instrument(span),
            );
            tracing::info!("outside any job");
        });
        let text = String::from_utf8(captured.0.lock().expect("buffer").clone()).expect("utf-8");
        let prefix = format!("job{{job={address} phase=\"claimed\"}}: ");
        for message in ["on the task", "on a blocking thread"] {
            let line = text
                .lines()
                .find(|l| l.ends_with(message))
                .unwrap_or_else(|| panic!("{message:?} not logged:\n{text}"));
            assert!(line.contains(&prefix), "{line}");
        }
        let outside = text
            .lines()
            .find(|l| l.ends_with("outside any job"))
            .expect("logged");
        assert!(!outside.contains("job{"), "{outside}");
    }
}
