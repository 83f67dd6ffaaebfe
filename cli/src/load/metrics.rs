//! The daemons' Prometheus counters, read from their `/metrics` endpoints and compared between
//! two moments.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::bench::scrape;

/// Each daemon's metrics (`name{labels}` → value).
pub(super) type Snapshot = Vec<BTreeMap<String, f64>>;

pub(super) async fn snapshot(endpoints: &[SocketAddr]) -> Result<Snapshot> {
    let mut all = Vec::with_capacity(endpoints.len());
    for addr in endpoints {
        all.push(
            scrape(*addr)
                .await
                .with_context(|| format!("reading the metrics at {addr}"))?,
        );
    }
    Ok(all)
}

/// A counter's growth from `before` to `after`, summed over the daemons, by the value of its
/// one label (`""` for a counter without labels), largest first.
pub(super) fn growth(before: &Snapshot, after: &Snapshot, metric: &str) -> Vec<(String, f64)> {
    let mut by_label: BTreeMap<String, f64> = BTreeMap::new();
    for (b, a) in before.iter().zip(after) {
        for (series, value) in a {
            let label = if series == metric {
                String::new()
            } else if let Some(labels) = series
                .strip_prefix(metric)
                .and_then(|rest| rest.strip_prefix('{'))
            {
                labels
                    .split_once('"')
                    .and_then(|(_, rest)| rest.rsplit_once('"'))
                    .map_or(labels, |(value, _)| value)
                    .to_string()
            } else {
                continue;
            };
            *by_label.entry(label).or_default() += value - b.get(series).copied().unwrap_or(0.0);
        }
    }
    let mut sorted: Vec<(String, f64)> = by_label.into_iter().filter(|(_, v)| *v > 0.0).collect();
    sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
    sorted
}

pub(super) fn total(rows: &[(String, f64)]) -> f64 {
    // A fold from +0.0: an empty `sum()` of floats is -0.0.
    rows.iter().fold(0.0, |sum, (_, v)| sum + v)
}

/// The RPC methods of `rows`, per `per` (e.g. per completed job), largest first.
pub(super) fn print_methods(rows: &[(String, f64)], per: f64, unit: &str) {
    for (method, n) in rows {
        println!(
            "    {method:<32} {n:>9.0}   {:>7.2} {unit}",
            n / per.max(f64::MIN_POSITIVE)
        );
    }
}

/// Requests of all daemons over `window`, with `open` jobs open: (per-method growth, requests
/// per minute for the fleet).
pub(super) async fn idle_count(
    endpoints: &[SocketAddr],
    window: Duration,
) -> Result<(Vec<(String, f64)>, f64)> {
    let before = snapshot(endpoints).await?;
    tokio::time::sleep(window).await;
    let after = snapshot(endpoints).await?;
    let rows = growth(&before, &after, "rpc_requests_total");
    let per_minute = total(&rows) * 60.0 / window.as_secs_f64();
    Ok((rows, per_minute))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_sums_daemons_by_label() {
        let snap = |n: f64| {
            vec![BTreeMap::from([
                ("rpc_requests_total{method=\"getSlot\"}".to_string(), n),
                (
                    "rpc_requests_total{method=\"getAccountInfo\"}".to_string(),
                    2.0 * n,
                ),
                ("jobs_given_back_total".to_string(), n),
            ])]
        };
        let rows = growth(&snap(1.0), &snap(4.0), "rpc_requests_total");
        assert_eq!(
            rows,
            vec![
                ("getAccountInfo".to_string(), 6.0),
                ("getSlot".to_string(), 3.0)
            ]
        );
        assert_eq!(
            total(&growth(&snap(1.0), &snap(4.0), "jobs_given_back_total")),
            3.0
        );
    }
}
