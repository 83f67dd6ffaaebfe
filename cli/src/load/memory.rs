//! Resident memory of this process and of the processes it started (the daemons' GPU workers and
//! shader validators), read from `/proc` (Linux; elsewhere every figure is `None`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A field of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`).
fn status_kib(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// This process's resident memory now, in KiB.
pub fn own_rss_kib() -> Option<u64> {
    status_kib("self", "VmRSS")
}

/// This process's peak resident memory so far (`VmHWM`), in KiB.
pub fn own_peak_kib() -> Option<u64> {
    status_kib("self", "VmHWM")
}

/// Every process descended from this one (children, their children, …).
fn descendants() -> Vec<u32> {
    let me = std::process::id();
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // `pid (comm) state ppid …`: the command may hold spaces and parentheses, so read
        // after the last `)`.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut found = Vec::new();
    let mut next = vec![me];
    while let Some(pid) = next.pop() {
        for &child in children.get(&pid).map(Vec::as_slice).unwrap_or_default() {
            found.push(child);
            next.push(child);
        }
    }
    found
}

/// The processes this one started, and their resident memory in all, in KiB.
pub fn children_rss_kib() -> (usize, u64) {
    let pids = descendants();
    let total = pids
        .iter()
        .filter_map(|pid| status_kib(&pid.to_string(), "VmRSS"))
        .sum();
    (pids.len(), total)
}

/// Samples the child processes' memory every second and keeps the peak.
pub struct Sampler {
    peak: Arc<(AtomicU64, AtomicU64)>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    /// Starts sampling.
    pub fn start() -> Self {
        let peak = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
        let keep = peak.clone();
        let task = tokio::spawn(async move {
            loop {
                let (count, kib) = tokio::task::spawn_blocking(children_rss_kib)
                    .await
                    .unwrap_or_default();
                if kib > keep.1.load(Ordering::Relaxed) {
                    keep.0.store(count as u64, Ordering::Relaxed);
                    keep.1.store(kib, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        Sampler { peak, task }
    }

    /// The most the child processes held at once (KiB), and how many there were then.
    pub fn peak(&self) -> (u64, u64) {
        (
            self.peak.0.load(Ordering::Relaxed),
            self.peak.1.load(Ordering::Relaxed),
        )
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// KiB as MiB, for reports.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
