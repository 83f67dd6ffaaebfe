//! The jobs the load test posts: the mix ([`plan`]), honest jobs with their expected result,
//! hostile ones posted raw, untakeable padding, and the clients that post them ([`Posting`]).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use compute_market_sdk::{
    accounts, instructions, pda, ClaimRules, Client, Deadlines, Determinism, Job, JobPostArgs,
    JobSpec, MinCapabilities, OnChainJobSpec, Pubkey, SdkError, ValidatedJob,
};
use provider_daemon::gpu::kernels;

use super::tarpit::Tarpit;
use crate::demo::REWARD;

/// Claim window of every job the load test posts: long enough that no job expires unclaimed
/// however far behind the fleet falls.
const CLAIM_WINDOW: Duration = Duration::from_secs(3_600);
/// Commit (submit) window after the claim window.
const COMMIT_WINDOW: Duration = Duration::from_secs(600);
/// An infinite loop (provider-daemon's `runaway` test shader): 16.7 M invocations looping
/// forever, which lavapipe's per-loop iteration cap does not end.
pub(super) const LOOP_WGSL: &[u8] = b"@group(0) @binding(1) var<storage, read_write> o: array<u32>;\n@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) id: vec3<u32>) { var x = id.x; loop { x = x * 1664525u + 1013904223u; o[x % 16u] = x; } }";
const LOOP_WORKGROUPS: [u32; 3] = [65_535, 1, 1];

/// A URI the daemons' `[fetch]` settings refuse, or where nothing answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// `file:///etc/passwd`: outside `fetch.file_roots` (refused before it is opened).
    OutsideRoots,
    /// `gopher://…`: a scheme the store does not know (unusable, final).
    UnknownScheme,
    /// `http://127.0.0.1:<port>` where nothing listens: connection refused (a failed download,
    /// tried again after 30 s, doubling).
    ClosedPort,
}

/// What a posted job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// A small one-replica `vector_transform`: must complete with the right result.
    Honest,
    /// Its shader is on the tarpit.
    Tarpit { trickle: bool },
    /// Its shader is at a refused or unreachable URI.
    Refused(Refusal),
    /// An infinite loop: claimed, killed at `job_timeout`, given back; each daemon once.
    Loop,
    /// Open but nobody in the fleet may take it (its allowlist names somebody else).
    Untakeable,
}

impl Kind {
    pub(super) fn is_hostile(self) -> bool {
        !matches!(self, Kind::Honest | Kind::Untakeable)
    }
}

/// A posted job.
pub(super) struct Posted {
    pub(super) kind: Kind,
    pub(super) address: Pubkey,
    /// The CPU reference's result hash (honest jobs).
    pub(super) expected: Option<[u8; 32]>,
}

/// The jobs of the load phase: `hostile_percent` of them hostile, spread evenly through the
/// sequence; of those, `loop_percent` of all jobs infinite loops (at least one unless either
/// is 0), the rest half tarpits (silent and trickling in turn), half refused URIs (the three
/// kinds in turn).
pub(super) fn plan(jobs: usize, hostile_percent: u32, loop_percent: u32) -> Vec<Kind> {
    let share = |percent: u32| (jobs * percent as usize + 50) / 100;
    let hostile = share(hostile_percent).min(jobs);
    let loops = if hostile == 0 || loop_percent == 0 {
        0
    } else {
        share(loop_percent).clamp(1, hostile)
    };
    let tarpits = (hostile - loops).div_ceil(2);
    let refused = hostile - loops - tarpits;
    let refusals = [
        Refusal::OutsideRoots,
        Refusal::UnknownScheme,
        Refusal::ClosedPort,
    ];
    // Each group spread over the hostile positions by its own evenly spaced fractions.
    let mut hostile_kinds: Vec<(f64, Kind)> = Vec::with_capacity(hostile);
    let mut group = |count: usize, kind: &dyn Fn(usize) -> Kind| {
        for j in 0..count {
            hostile_kinds.push(((j as f64 + 0.5) / count as f64, kind(j)));
        }
    };
    group(loops, &|_| Kind::Loop);
    group(tarpits, &|j| Kind::Tarpit {
        trickle: j % 2 == 1,
    });
    group(refused, &|j| Kind::Refused(refusals[j % refusals.len()]));
    hostile_kinds.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut kinds = vec![Kind::Honest; jobs];
    for (k, (_, kind)) in hostile_kinds.into_iter().enumerate() {
        kinds[(2 * k + 1) * jobs / (2 * hostile)] = kind;
    }
    kinds
}

/// The `index`th honest job (offset `index`) and its CPU reference's result hash.
pub(super) fn honest_job(index: usize) -> Result<(ValidatedJob, [u8; 32])> {
    let input: Vec<u32> = (0..64).collect();
    let offset = index as u32;
    let d = kernels::vector_transform_job(&input, 3, offset);
    let expected: Vec<u8> = kernels::cpu::vector_transform(&input, 3, offset)
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let job = JobSpec::from_descriptor(&d)
        .reward(REWARD)
        .deadlines(windows())
        .build()?;
    Ok((job, compute_market_job::result_hash(&expected)))
}

/// A job nobody may claim: its allowlist names a provider that does not exist.
fn untakeable_job() -> Result<ValidatedJob> {
    let d = kernels::vector_transform_job(&(0..64).collect::<Vec<u32>>(), 3, 0);
    Ok(JobSpec::from_descriptor(&d)
        .reward(REWARD)
        .deadlines(windows())
        .claim_rules(ClaimRules {
            allowlist: vec![Pubkey::new_unique()],
            ..Default::default()
        })
        .build()?)
}

fn windows() -> Deadlines {
    Deadlines::Windows {
        claim: CLAIM_WINDOW,
        commit: COMMIT_WINDOW,
        reveal: COMMIT_WINDOW,
    }
}

/// What posting needs, shared by the clients' tasks.
pub(super) struct Posting {
    pub(super) clients: Vec<Client>,
    pub(super) mint: Pubkey,
    /// Chain time when posting began (hostile jobs' deadlines count from it).
    pub(super) now: i64,
    /// The honest jobs' shader and input (the same for all; the offset is a parameter).
    pub(super) honest_uris: (String, String),
    pub(super) loop_uri: String,
    pub(super) tarpit: Tarpit,
    pub(super) closed: SocketAddr,
    pub(super) next_id: AtomicU64,
    pub(super) in_flight: usize,
}

impl Posting {
    /// Posts `jobs` (index, kind), each by client `index % clients`, every client with up to
    /// `in_flight` posts at once; returns them in `jobs`' order.
    pub(super) async fn post(self: &Arc<Self>, jobs: Vec<(usize, Kind)>) -> Result<Vec<Posted>> {
        let mut tasks = tokio::task::JoinSet::new();
        let limits: Vec<_> = (0..self.clients.len())
            .map(|_| Arc::new(tokio::sync::Semaphore::new(self.in_flight)))
            .collect();
        for (order, (index, kind)) in jobs.into_iter().enumerate() {
            let client = index % self.clients.len();
            let limit = limits[client].clone();
            let posting = self.clone();
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                (order, posting.post_one(client, index, kind).await)
            });
        }
        let mut posted: Vec<(usize, Posted)> = Vec::with_capacity(tasks.len());
        while let Some(done) = tasks.join_next().await {
            let (order, result) = done.context("a posting task failed")?;
            posted.push((order, result?));
        }
        posted.sort_by_key(|(order, _)| *order);
        Ok(posted.into_iter().map(|(_, p)| p).collect())
    }

    /// Posts the `index`th job, a `kind`, as client `client`.
    async fn post_one(&self, client: usize, index: usize, kind: Kind) -> Result<Posted> {
        let client = &self.clients[client];
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (shader_uri, input_uri) = &self.honest_uris;
        let (address, expected) = match kind {
            Kind::Honest | Kind::Untakeable => {
                let (job, expected) = match kind {
                    Kind::Honest => {
                        let (job, expected) = honest_job(index)?;
                        (job, Some(expected))
                    }
                    _ => (untakeable_job()?, None),
                };
                let handle =
                    retry_expired(|| client.submit_uploaded(&job, shader_uri, input_uri, id))
                        .await
                        .with_context(|| format!("posting job {index} ({kind:?})"))?;
                (handle.address, expected)
            }
            Kind::Loop => (
                self.post_raw(
                    client,
                    id,
                    LOOP_WGSL,
                    self.loop_uri.clone(),
                    LOOP_WORKGROUPS,
                )
                .await?,
                None,
            ),
            Kind::Tarpit { trickle } => {
                let uri = self.tarpit.uri(index, trickle);
                (
                    self.post_raw(client, id, b"// never served", uri, [1, 1, 1])
                        .await?,
                    None,
                )
            }
            Kind::Refused(refusal) => {
                let uri = match refusal {
                    Refusal::OutsideRoots => "file:///etc/passwd".to_string(),
                    Refusal::UnknownScheme => format!("gopher://127.0.0.1/0/{index}.wgsl"),
                    Refusal::ClosedPort => format!("http://{}/{index}.wgsl", self.closed),
                };
                (
                    self.post_raw(client, id, b"// never fetched", uri, [1, 1, 1])
                        .await?,
                    None,
                )
            }
        };
        Ok(Posted {
            kind,
            address,
            expected,
        })
    }

    /// Posts a one-replica job straight through the instruction builder, skipping the SDK's
    /// validation and upload (as a hostile client can).
    async fn post_raw(
        &self,
        client: &Client,
        job_id: u64,
        wgsl: &[u8],
        shader_uri: String,
        workgroups: [u32; 3],
    ) -> Result<Pubkey> {
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        let claim_deadline = self.now + secs(CLAIM_WINDOW);
        let args = JobPostArgs {
            job_id,
            spec: OnChainJobSpec {
                min_capabilities: MinCapabilities::default(),
                shader_hash: compute_market_job::sha256(wgsl),
                input_hash: compute_market_job::sha256(&[]),
                input_len: 0,
                output_len: 64,
                workgroups,
                params: [0; compute_market_sdk::PARAMS_LEN],
                determinism: Determinism::Exact as u8,
                padding: [0; 3],
            },
            entry_point: "main".into(),
            shader_uri,
            input_uri: String::new(),
            reward_per_replica: REWARD,
            replicas: 1,
            quorum: 1,
            claim_deadline,
            commit_deadline: claim_deadline + secs(COMMIT_WINDOW),
            reveal_deadline: 0,
            rules: ClaimRules::default(),
        };
        let ix =
            instructions::job_post(&client.market_address(), &self.mint, &client.wallet(), args);
        retry_expired(|| {
            client.send(
                "job_post",
                vec![ix.clone()],
                &[],
                compute_market_sdk::client::cu::JOB_POST,
            )
        })
        .await
        .context("posting a hostile job")?;
        Ok(pda::job(&client.market_address(), &client.wallet(), job_id))
    }
}

/// Runs `attempt` again (at most three times in all) while its transaction expired unsent,
/// which is safe to repeat; any other outcome is returned.
async fn retry_expired<T, F: Future<Output = Result<T, SdkError>>>(
    mut attempt: impl FnMut() -> F,
) -> Result<T, SdkError> {
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Err(SdkError::Expired { .. }) if tries < 3 => continue,
            other => return other,
        }
    }
}

/// The jobs at `addresses`, read in batches (`None`: missing or not a job).
pub(super) async fn fetch_jobs(client: &Client, addresses: &[Pubkey]) -> Result<Vec<Option<Job>>> {
    let mut jobs = Vec::with_capacity(addresses.len());
    for chunk in addresses.chunks(100) {
        let found = client.rpc().get_multiple_accounts(chunk).await?;
        for (address, account) in chunk.iter().zip(found) {
            jobs.push(account.and_then(|a| accounts::decode_job(address, &a.data).ok()));
        }
    }
    Ok(jobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_spreads_every_hostile_kind() {
        let kinds = plan(1_000, 10, 1);
        let count = |f: &dyn Fn(&Kind) -> bool| kinds.iter().filter(|k| f(k)).count();
        assert_eq!(count(&|k| *k == Kind::Honest), 900);
        assert_eq!(count(&|k| *k == Kind::Loop), 10);
        assert_eq!(count(&|k| matches!(k, Kind::Tarpit { .. })), 45);
        assert_eq!(count(&|k| matches!(k, Kind::Refused(_))), 45);
        // Spread: every tenth job is hostile.
        assert!(kinds
            .chunks(10)
            .all(|c| c.iter().filter(|k| k.is_hostile()).count() == 1));

        let small = plan(20, 20, 1);
        assert_eq!(small.iter().filter(|k| k.is_hostile()).count(), 4);
        assert_eq!(small.iter().filter(|k| **k == Kind::Loop).count(), 1);
        assert!(plan(10, 0, 0).iter().all(|k| *k == Kind::Honest));
        assert!(plan(3, 100, 100).iter().all(|k| *k == Kind::Loop));
    }
}
