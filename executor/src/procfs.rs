//! What the pool reads about its children from `/proc` (Linux; elsewhere nothing is known and
//! the answers are the harmless ones).

use std::io;
use std::time::Duration;

/// CPU time (user + system, all threads) process `pid` has used so far.
#[cfg(target_os = "linux")]
pub fn cpu_time_used(pid: u32) -> io::Result<Duration> {
    let fields = stat(pid)?;
    let ticks = |i: usize| -> io::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::other("malformed /proc/<pid>/stat"))
    };
    let (utime, stime) = (ticks(UTIME)?, ticks(STIME)?);
    let per_second = rustix::param::clock_ticks_per_second().max(1);
    Ok(Duration::from_secs_f64(
        (utime + stime) as f64 / per_second as f64,
    ))
}

/// CPU time process `pid` has used so far (not measured on this platform).
#[cfg(not(target_os = "linux"))]
pub fn cpu_time_used(_pid: u32) -> io::Result<Duration> {
    Ok(Duration::ZERO)
}

/// Whether process `pid` has exited or is exiting. A killed multi-threaded process shows its
/// main thread as a zombie while its other threads still unwind; `waitpid` reports nothing
/// until the last is gone, but the process will never answer again.
#[cfg(target_os = "linux")]
pub fn has_exited(pid: u32) -> bool {
    match stat(pid) {
        Ok(fields) => fields
            .get(STATE)
            .is_some_and(|state| matches!(state.as_str(), "Z" | "X" | "x")),
        Err(_) => true,
    }
}

/// Whether process `pid` has exited (unknown on this platform: `waitpid` decides).
#[cfg(not(target_os = "linux"))]
pub fn has_exited(_pid: u32) -> bool {
    false
}

/// Indices into [`stat`]'s fields (`man 5 proc`: fields 3, 14 and 15).
#[cfg(target_os = "linux")]
const STATE: usize = 0;
#[cfg(target_os = "linux")]
const UTIME: usize = 11;
#[cfg(target_os = "linux")]
const STIME: usize = 12;

/// The fields of `/proc/<pid>/stat` after the command name (which may hold spaces and
/// parentheses, so the split is after its last `)`).
#[cfg(target_os = "linux")]
fn stat(pid: u32) -> io::Result<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let (_, after) = stat
        .rsplit_once(')')
        .ok_or_else(|| io::Error::other("malformed /proc/<pid>/stat"))?;
    Ok(after.split_whitespace().map(str::to_string).collect())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn this_process_runs_and_uses_cpu() {
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let used = cpu_time_used(std::process::id()).unwrap();
        assert!(
            used > Duration::ZERO && used < Duration::from_secs(3600),
            "{used:?}"
        );
        assert!(!has_exited(std::process::id()));
        assert!(has_exited(u32::MAX));
    }
}
