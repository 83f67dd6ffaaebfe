//! Work split across providers: one job in shards, each posted as a job of its own (with its own
//! replicas), followed concurrently, verified against its own on-chain result hash, re-posted when
//! it fails or expires, and assembled into the whole output.
//!
//! A shard is an ordinary [`ValidatedJob`] plus where its output goes in the whole
//! ([`Shard::output_offset`]). Make them yourself (an image split into tiles: one job per tile,
//! the tile's position in its parameters), or let [`split_by_workgroups`] split a one-pass job's
//! X workgroups into contiguous ranges:
//!
//! ```text
//! whole job:   workgroups [X, Y, Z], output = X × B bytes (B bytes per X workgroup)
//! shard i:     workgroups [x1 − x0, Y, Z], output = (x1 − x0) × B bytes,
//!              params word `offset_word` = x0 (u32, little-endian)
//! ```
//!
//! so the shader adds `params[offset_word]` to `workgroup_id.x` to know which part of the whole
//! it computes, and writes its part from byte 0 of its own output. The parts, laid end to end,
//! are the whole output.
//!
//! ```no_run
//! # async fn run(client: compute_market_sdk::Client, job: compute_market_sdk::ValidatedJob) -> compute_market_sdk::Result<()> {
//! use std::time::Duration;
//! use compute_market_sdk::shard::{split_by_workgroups, ShardOptions};
//!
//! let shards = split_by_workgroups(&job, 3, 7)?;
//! let sharded = client.submit_sharded(shards).await?;
//! let result = sharded.wait(ShardOptions::new(Duration::from_secs(600)), |_| {}).await?;
//! assert_eq!(result.output.len() as u64, job.descriptor.output_len);
//! # Ok(()) }
//! ```

use std::sync::Mutex;
use std::time::Duration;

use futures::future::{join_all, try_join_all};

use crate::client::{Client, JobHandle};
use crate::error::{Result, SdkError};
use crate::job_spec::ValidatedJob;
use crate::types::{Job, JobStatus, PARAMS_LEN};
use crate::Pubkey;

/// One part of a sharded job.
#[derive(Clone, Debug)]
pub struct Shard {
    /// The part, as a job of its own.
    pub job: ValidatedJob,
    /// Where its output starts in the whole output, in bytes.
    pub output_offset: u64,
}

/// Splits a one-pass job's X workgroups into `n` contiguous ranges (see the module
/// documentation): shard `i` gets its first workgroup's index in params word `offset_word`
/// (0..8, which must be zero in `job`), and an equal share of the output per workgroup.
pub fn split_by_workgroups(job: &ValidatedJob, n: u32, offset_word: usize) -> Result<Vec<Shard>> {
    let d = &job.descriptor;
    let invalid = |m: String| Err(SdkError::InvalidJob(m));
    if d.is_manifest() {
        return invalid(
            "split_by_workgroups splits one-pass jobs; shard a multi-pass job by building each \
             shard's job (e.g. one tile each)"
                .into(),
        );
    }
    let x = d.workgroups[0];
    if n == 0 || n > x {
        return invalid(format!(
            "cannot split {x} workgroups along X into {n} shards (1..={x})"
        ));
    }
    if offset_word >= PARAMS_LEN / 4 {
        return invalid(format!(
            "the shard offset goes in a params word, 0..{}; got {offset_word}",
            PARAMS_LEN / 4
        ));
    }
    let at = offset_word * 4;
    if d.params[at..at + 4] != [0; 4] {
        return invalid(format!(
            "params word {offset_word} is where each shard's first workgroup goes: leave it zero"
        ));
    }
    if !d.output_len.is_multiple_of(u64::from(x)) {
        return invalid(format!(
            "an output of {} bytes does not split evenly over {x} workgroups",
            d.output_len
        ));
    }
    let per_workgroup = d.output_len / u64::from(x);
    (0..n)
        .map(|i| {
            let x0 = (u64::from(x) * u64::from(i) / u64::from(n)) as u32;
            let x1 = (u64::from(x) * u64::from(i + 1) / u64::from(n)) as u32;
            let mut part = d.clone();
            part.workgroups[0] = x1 - x0;
            part.output_len = u64::from(x1 - x0) * per_workgroup;
            part.params[at..at + 4].copy_from_slice(&x0.to_le_bytes());
            Ok(Shard {
                job: job.with_descriptor(part)?,
                output_offset: u64::from(x0) * per_workgroup,
            })
        })
        .collect()
}

/// Lays shards' outputs end to end at their offsets; refuses gaps, overlaps and wrong sizes.
pub fn assemble(parts: &[(u64, Vec<u8>)]) -> Result<Vec<u8>> {
    let mut sorted: Vec<&(u64, Vec<u8>)> = parts.iter().collect();
    sorted.sort_by_key(|(offset, _)| *offset);
    let mut whole = Vec::new();
    for (offset, bytes) in sorted {
        if *offset != whole.len() as u64 {
            return Err(SdkError::InvalidJob(format!(
                "shard outputs leave a gap or overlap at byte {} (next shard starts at {offset})",
                whole.len()
            )));
        }
        whole.extend_from_slice(bytes);
    }
    Ok(whole)
}

/// How [`ShardedJob::wait`] follows the shards.
#[derive(Clone, Copy, Debug)]
pub struct ShardOptions {
    /// How long to wait for every shard, re-posts included.
    pub timeout: Duration,
    /// Posts per shard at most (the first included): a shard that fails or expires this many
    /// times fails the whole job.
    pub max_attempts: u32,
    /// Close a failed or expired attempt at once (its refund returns to the wallet before the
    /// re-post pays again).
    pub close_failed: bool,
}

impl ShardOptions {
    /// Three attempts per shard, failed attempts closed.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            max_attempts: 3,
            close_failed: true,
        }
    }
}

/// What happened to a shard, as it happens.
#[derive(Clone, Debug)]
pub enum ShardEvent {
    /// The shard's job changed (claims, commits, reveals, settlement).
    Progress {
        /// Shard index.
        shard: usize,
        /// The job now.
        job: Box<Job>,
    },
    /// The shard's job failed or expired and the shard was posted again.
    Reposted {
        /// Shard index.
        shard: usize,
        /// The attempt that ended.
        old: Pubkey,
        /// How it ended.
        status: JobStatus,
        /// The new attempt.
        new: Pubkey,
    },
    /// The shard's output was downloaded and verified against its result hash.
    Verified {
        /// Shard index.
        shard: usize,
    },
}

/// A sharded job, posted: every shard's current attempt.
#[derive(Debug)]
pub struct ShardedJob {
    client: Client,
    shards: Vec<(Shard, JobHandle)>,
}

/// How one shard was computed.
#[derive(Clone, Debug)]
pub struct ShardReport {
    /// Shard index.
    pub shard: usize,
    /// The job that completed it.
    pub job: Pubkey,
    /// The provider accounts whose results agreed (and were paid).
    pub providers: Vec<Pubkey>,
    /// Posts it took.
    pub attempts: u32,
    /// Its verified result hash.
    pub result_hash: [u8; 32],
}

/// The assembled output and how each shard got there.
#[derive(Clone, Debug)]
pub struct ShardedResult {
    /// Every shard's verified output at its offset.
    pub output: Vec<u8>,
    /// One report per shard, in shard order.
    pub shards: Vec<ShardReport>,
}

impl Client {
    /// Posts every shard as a job of its own, concurrently (blobs shared between shards are
    /// uploaded once: the store is content-addressed). The wallet must hold every shard's escrow
    /// before anything is posted; if a post fails anyway, the shards already posted are
    /// cancelled (refunded) and the error names any that could not be.
    pub async fn submit_sharded(&self, shards: Vec<Shard>) -> Result<ShardedJob> {
        if shards.is_empty() {
            return Err(SdkError::InvalidJob("a sharded job needs a shard".into()));
        }
        let market = self.market().await?;
        let escrow = shards.iter().try_fold(0u64, |total, s| {
            s.job
                .escrow_total(market.fee_bps)
                .and_then(|e| total.checked_add(e))
        });
        let escrow =
            escrow.ok_or_else(|| SdkError::InvalidJob("the shards' escrow overflows".into()))?;
        let token = crate::pda::token_account(&self.wallet(), &market.payment_mint);
        let balance = self.token_balance(&token).await?;
        if balance < escrow {
            return Err(SdkError::InvalidJob(format!(
                "insufficient funds: the {} shards escrow {escrow} base units together but {token} holds {balance}",
                shards.len()
            )));
        }
        let posts = join_all(shards.iter().map(|s| self.submit(&s.job))).await;
        if let Some(index) = posts.iter().position(|p| p.is_err()) {
            let posted: Vec<Pubkey> = posts
                .iter()
                .filter_map(|p| p.as_ref().ok().map(|h| h.address))
                .collect();
            let reason = match posts.into_iter().nth(index) {
                Some(Err(e)) => format!("shard {index} could not be posted: {e}"),
                _ => format!("shard {index} could not be posted"),
            };
            return Err(SdkError::ShardsIncomplete {
                reason,
                left_open: self.wind_down(&posted).await,
            });
        }
        let handles = posts.into_iter().filter_map(|p| p.ok());
        Ok(ShardedJob {
            client: self.clone(),
            shards: shards.into_iter().zip(handles).collect(),
        })
    }

    /// Best effort for shard jobs that will not be used: cancels those nobody claimed (a full
    /// refund) and closes those that settled; returns those still running.
    async fn wind_down(&self, jobs: &[Pubkey]) -> Vec<Pubkey> {
        let mut left_open = Vec::new();
        for address in jobs {
            let outcome = match self.job(address).await {
                Ok(job) if job.status() == JobStatus::Open && job.claimed == 0 => {
                    self.cancel(address).await.map(|_| ())
                }
                Ok(job) if job.status().is_settled() => self.close(address).await.map(|_| ()),
                Ok(_) => {
                    left_open.push(*address);
                    Ok(())
                }
                Err(e) => Err(e),
            };
            if let Err(e) = outcome {
                tracing::warn!(job = %address, error = %e, "could not wind a shard job down");
                left_open.push(*address);
            }
        }
        left_open
    }
}

impl ShardedJob {
    /// Each shard's current job.
    pub fn addresses(&self) -> Vec<Pubkey> {
        self.shards.iter().map(|(_, h)| h.address).collect()
    }

    /// Follows every shard until it completes (re-posting one that fails or expires, expiring
    /// one stuck past a deadline), verifies each output against its own on-chain result hash,
    /// and assembles the whole output. If a shard cannot be completed (out of attempts or of
    /// time), the other shards' jobs are wound down: cancelled when nobody claimed them, closed
    /// when settled, and named in [`SdkError::ShardsIncomplete`] when still running.
    pub async fn wait(
        self,
        options: ShardOptions,
        on_event: impl FnMut(ShardEvent) + Send,
    ) -> Result<ShardedResult> {
        let deadline = tokio::time::Instant::now() + options.timeout;
        let on_event = Mutex::new(on_event);
        let events = |event: ShardEvent| {
            let mut f = on_event.lock().unwrap_or_else(|p| p.into_inner());
            f(event);
        };
        let current = Mutex::new(self.addresses());
        let client = &self.client;
        let followers = self
            .shards
            .into_iter()
            .enumerate()
            .map(|(index, (shard, handle))| {
                let follower = Follower {
                    client,
                    index,
                    deadline,
                    options,
                    events: &events,
                    current: &current,
                };
                follower.run(shard, handle)
            });
        let finished = match try_join_all(followers).await {
            Ok(finished) => finished,
            Err(e) => {
                let jobs = current.lock().unwrap_or_else(|p| p.into_inner()).clone();
                return Err(SdkError::ShardsIncomplete {
                    reason: e.to_string(),
                    left_open: client.wind_down(&jobs).await,
                });
            }
        };
        let (parts, shards): (Vec<(u64, Vec<u8>)>, Vec<ShardReport>) = finished
            .into_iter()
            .map(|(offset, bytes, report)| ((offset, bytes), report))
            .unzip();
        Ok(ShardedResult {
            output: assemble(&parts)?,
            shards,
        })
    }
}

/// What one shard's follower shares with the others.
struct Follower<'a> {
    client: &'a Client,
    index: usize,
    deadline: tokio::time::Instant,
    options: ShardOptions,
    events: &'a (dyn Fn(ShardEvent) + Sync),
    /// Every shard's current job, for winding down.
    current: &'a Mutex<Vec<Pubkey>>,
}

impl Follower<'_> {
    /// One shard until it is verified (or out of attempts or time).
    async fn run(self, shard: Shard, mut handle: JobHandle) -> Result<(u64, Vec<u8>, ShardReport)> {
        let index = self.index;
        let mut attempts = 1;
        loop {
            let job = self.settle(&handle).await?;
            if job.status() == JobStatus::Completed {
                match handle.result().await {
                    Ok(bytes) => {
                        (self.events)(ShardEvent::Verified { shard: index });
                        let providers = job
                            .active_slots()
                            .iter()
                            .filter(|s| s.result_hash == job.result_hash)
                            .map(|s| s.provider)
                            .collect();
                        let report = ShardReport {
                            shard: index,
                            job: handle.address,
                            providers,
                            attempts,
                            result_hash: job.result_hash,
                        };
                        return Ok((shard.output_offset, bytes, report));
                    }
                    // No usable copy of an agreed result (withheld or lost): computing it again
                    // is the way out, bounded by `max_attempts`.
                    Err(e) => tracing::warn!(shard = index, error = %e, "shard result unusable"),
                }
            }
            // Failed, expired, or completed without a usable result: its refund comes back.
            if self.options.close_failed {
                if let Err(e) = self.client.close(&handle.address).await {
                    tracing::warn!(shard = index, error = %e, "could not close a shard job");
                }
            }
            if attempts >= self.options.max_attempts {
                return Err(SdkError::InvalidJob(format!(
                    "shard {index} did not complete in {attempts} attempts (last: {} {:?})",
                    handle.address,
                    job.status()
                )));
            }
            attempts += 1;
            let old = handle.address;
            handle = self.repost(&shard).await?;
            if let Some(slot) = self
                .current
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_mut(index)
            {
                *slot = handle.address;
            }
            (self.events)(ShardEvent::Reposted {
                shard: index,
                old,
                status: job.status(),
                new: handle.address,
            });
        }
    }

    /// Posts the shard again, retrying a failed post until the deadline.
    async fn repost(&self, shard: &Shard) -> Result<JobHandle> {
        loop {
            match self.client.submit(&shard.job).await {
                Ok(handle) => return Ok(handle),
                Err(e) if tokio::time::Instant::now() + RETRY < self.deadline => {
                    tracing::warn!(shard = self.index, error = %e, "re-post failed; retrying");
                    tokio::time::sleep(RETRY).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits for one attempt to settle, expiring it once a deadline has passed with too few
    /// replicas (anyone may; nobody else has to). Read errors are waited out until the
    /// deadline: one lost request does not fail the job.
    async fn settle(&self, handle: &JobHandle) -> Result<Job> {
        let index = self.index;
        loop {
            let now = tokio::time::Instant::now();
            if now >= self.deadline {
                return Err(SdkError::Timeout {
                    what: format!("shard {index} ({}) to complete", handle.address),
                    seconds: self.options.timeout.as_secs(),
                });
            }
            let progress = |job: &Job| {
                (self.events)(ShardEvent::Progress {
                    shard: index,
                    job: Box::new(*job),
                })
            };
            match handle
                .wait((self.deadline - now).min(CHECK), progress)
                .await
            {
                Ok(job) => return Ok(job),
                Err(SdkError::Timeout { .. }) => {}
                Err(e) => {
                    tracing::debug!(shard = index, error = %e, "waiting failed; retrying");
                    tokio::time::sleep(RETRY).await;
                }
            }
            match self.client.job_and_time(&handle.address).await {
                Ok((job, _)) if job.status().is_settled() => return Ok(job),
                Ok((job, chain_now)) if job.expiry(chain_now).is_some() => {
                    if let Err(e) = self.client.expire(&handle.address).await {
                        tracing::debug!(shard = index, error = %e, "expire failed; waiting on");
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(shard = index, error = %e, "read failed; waiting on"),
            }
        }
    }
}

/// How long one wait lasts before the job is looked at for expiry.
const CHECK: Duration = Duration::from_secs(10);
/// Pause before retrying a failed read or post.
const RETRY: Duration = Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::JobSpec;

    const SHADER: &str = r#"
        struct Params { scale: u32, pad0: u32, pad1: u32, pad2: u32, pad3: u32, pad4: u32, pad5: u32, first: u32 }
        @group(0) @binding(1) var<storage, read_write> output: array<u32>;
        @group(0) @binding(2) var<uniform> params: Params;
        @compute @workgroup_size(64)
        fn main(@builtin(global_invocation_id) id: vec3<u32>) {
            output[id.x] = (id.x + params.first * 64u) * params.scale;
        }"#;

    fn whole(x: u32) -> ValidatedJob {
        let mut params = [0u8; PARAMS_LEN];
        params[..4].copy_from_slice(&3u32.to_le_bytes());
        JobSpec::builder()
            .shader_wgsl(SHADER)
            .workgroups([x, 1, 1])
            .output_len(u64::from(x) * 256)
            .params(params)
            .reward(10)
            .replicas(3, 2)
            .build()
            .unwrap()
    }

    #[test]
    fn workgroup_ranges_cover_the_job_once_with_their_offsets() {
        let shards = split_by_workgroups(&whole(10), 3, 7).unwrap();
        let ranges: Vec<(u32, u64, u64)> = shards
            .iter()
            .map(|s| {
                let d = &s.job.descriptor;
                let first = u32::from_le_bytes(d.params[28..32].try_into().unwrap());
                assert_eq!(
                    d.params[..4],
                    3u32.to_le_bytes(),
                    "the job's own params stay"
                );
                assert_eq!((s.job.replicas, s.job.quorum), (3, 2));
                assert_eq!(u64::from(first) * 256, s.output_offset);
                (d.workgroups[0], d.output_len, s.output_offset)
            })
            .collect();
        assert_eq!(ranges, [(3, 768, 0), (3, 768, 768), (4, 1024, 1536)]);
        let parts: Vec<(u64, Vec<u8>)> = shards
            .iter()
            .map(|s| {
                (
                    s.output_offset,
                    vec![1; s.job.descriptor.output_len as usize],
                )
            })
            .collect();
        assert_eq!(assemble(&parts).unwrap().len(), 2560);
    }

    #[test]
    fn bad_splits_and_bad_assemblies_are_refused() {
        for (n, word) in [(0, 7), (11, 7), (2, 8), (2, 0)] {
            assert!(
                split_by_workgroups(&whole(10), n, word).is_err(),
                "{n} shards, word {word}"
            );
        }
        assert!(
            assemble(&[(0, vec![0; 4]), (8, vec![0; 4])]).is_err(),
            "gap"
        );
        assert!(
            assemble(&[(0, vec![0; 8]), (4, vec![0; 4])]).is_err(),
            "overlap"
        );
    }
}
