//! Work split across providers, end to end: a job in shards posted through the SDK, computed by
//! several daemons on the local node, each shard verified against its own on-chain hash and the
//! whole assembled, byte for byte the CPU reference. A shard whose claimer never delivers
//! expires and is posted again.

mod common;

use std::time::Duration;

use common::node::*;
use compute_market_localnet::LocalNet;
use compute_market_sdk::shard::{split_by_workgroups, ShardEvent, ShardOptions};
use compute_market_sdk::{Deadlines, JobSpec, JobStatus, ValidatedJob, PARAMS_LEN};

/// Each invocation mixes its global index (its shard's first workgroup from params word 7).
const SHADER: &str = r#"
struct Params { rounds: u32, p1: u32, p2: u32, p3: u32, p4: u32, p5: u32, p6: u32, first: u32 }
@group(0) @binding(1) var<storage, read_write> output: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    var h = id.x + params.first * 64u;
    for (var i = 0u; i < params.rounds; i++) { h = (h ^ (h >> 16u)) * 0x45d9f3bu; }
    output[id.x] = h;
}
"#;

const WORKGROUPS: u32 = 12;
const ROUNDS: u32 = 5;

fn cpu_reference() -> Vec<u8> {
    (0..WORKGROUPS * 64)
        .flat_map(|i| {
            (0..ROUNDS)
                .fold(i, |h, _| (h ^ (h >> 16)).wrapping_mul(0x45d9f3b))
                .to_le_bytes()
        })
        .collect()
}

fn whole_job() -> ValidatedJob {
    let mut params = [0u8; PARAMS_LEN];
    params[..4].copy_from_slice(&ROUNDS.to_le_bytes());
    JobSpec::builder()
        .shader_wgsl(SHADER)
        .workgroups([WORKGROUPS, 1, 1])
        .output_len(u64::from(WORKGROUPS) * 64 * 4)
        .params(params)
        .reward(REWARD)
        .deadlines(Deadlines::Windows {
            claim: Duration::from_secs(6),
            commit: Duration::from_secs(12),
            reveal: Duration::from_secs(10),
        })
        .build()
        .unwrap()
}

#[test]
fn a_sharded_job_is_split_over_three_daemons_verified_and_assembled() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let net = LocalNet::start(Default::default()).await.unwrap();
        let mut setups = Vec::new();
        for name in ["a", "b", "c"] {
            let p = provider(&net, dir.path(), name, "").await;
            p.edit_config(&[("job_timeout = \"20s\"", "job_timeout = \"4s\"")]);
            setups.push(p);
        }
        // A provider that claims shard 0's first post and never delivers it.
        let lazy = provider(&net, dir.path(), "lazy", "").await;
        let lazy = net.client(lazy.wallet.insecure_clone()).await.unwrap();

        let client = client(&net).await;
        let shards = split_by_workgroups(&whole_job(), 3, 7).unwrap();
        let sharded = client.submit_sharded(shards).await.unwrap();
        let first_posts = sharded.addresses();
        lazy.claim(&first_posts[0]).await.unwrap();

        let daemons: Vec<Daemon> = setups
            .iter()
            .zip(["a", "b", "c"])
            .map(|(p, name)| start(p, dir.path(), name))
            .collect();
        let mut events = Vec::new();
        let result = sharded
            .wait(ShardOptions::new(Duration::from_secs(180)), |e| {
                events.push(e)
            })
            .await;
        let result = match result {
            Ok(result) => result,
            Err(e) => {
                for d in &daemons {
                    eprintln!("--- daemon log ---\n{}", d.log());
                }
                panic!("the sharded job did not complete: {e}");
            }
        };
        assert!(
            result.output == cpu_reference(),
            "the assembled output differs from the CPU reference"
        );
        // Shard 0 expired with the lazy claimer and was posted again; the others took one post.
        let reposts: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                ShardEvent::Reposted {
                    shard, old, status, ..
                } => Some((*shard, *old, *status)),
                _ => None,
            })
            .collect();
        assert_eq!(reposts, [(0, first_posts[0], JobStatus::Expired)]);
        let attempts: Vec<u32> = result.shards.iter().map(|r| r.attempts).collect();
        assert_eq!(attempts, [2, 1, 1]);
        for report in &result.shards {
            let job = client.job(&report.job).await.unwrap();
            assert_eq!(job.status(), JobStatus::Completed);
            assert_eq!(report.result_hash, job.result_hash);
            assert_eq!(report.providers.len(), 1);
        }
        // The lazy claimer lost its collateral; the client got shard 0's first escrow back
        // (the failed post was closed).
        let lazy_record = lazy.provider().await.unwrap();
        assert_eq!(lazy_record.jobs_completed, 0);
        assert!(lazy_record.staked < STAKE, "{lazy_record:?}");
        assert!(
            client.job(&first_posts[0]).await.is_err(),
            "the expired post is closed"
        );
    });
}

/// The client's open shard jobs (tombstones of closed ones are not jobs).
async fn open_jobs(client: &compute_market_sdk::Client) -> Vec<compute_market_sdk::Pubkey> {
    client
        .list(compute_market_sdk::JobFilter {
            client: Some(client.wallet()),
            status: Some(JobStatus::Open),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|(address, _)| address)
        .collect()
}

#[test]
fn a_sharded_job_the_wallet_cannot_pay_in_full_posts_nothing() {
    let rt = runtime();
    rt.block_on(async {
        let net = LocalNet::start(Default::default()).await.unwrap();
        // Each shard escrows 105,000 (reward and a 5 % fee): enough for two shards, not three.
        let wallet = net.funded_wallet(250_000).await.unwrap();
        let client = net.client(wallet).await.unwrap();
        let shards = split_by_workgroups(&whole_job(), 3, 7).unwrap();
        let err = client.submit_sharded(shards).await.unwrap_err();
        assert!(err.to_string().contains("insufficient funds"), "{err}");
        assert_eq!(
            open_jobs(&client).await,
            [],
            "no shard was left open and paid for"
        );
    });
}

#[test]
fn a_sharded_job_that_runs_out_of_time_leaves_no_unclaimed_shard_open() {
    let rt = runtime();
    rt.block_on(async {
        let net = LocalNet::start(Default::default()).await.unwrap();
        let client = client(&net).await;
        // No provider at all: the shards are never claimed.
        let shards = split_by_workgroups(&whole_job(), 2, 7).unwrap();
        let sharded = client.submit_sharded(shards).await.unwrap();
        let posted = sharded.addresses();
        let err = sharded
            .wait(ShardOptions::new(Duration::from_secs(3)), |_| {})
            .await
            .unwrap_err();
        assert!(
            matches!(
                &err,
                compute_market_sdk::SdkError::ShardsIncomplete { left_open, .. } if left_open.is_empty()
            ),
            "{err}"
        );
        // Both were cancelled: their escrow is back, nothing is open.
        assert_eq!(open_jobs(&client).await, []);
        for address in posted {
            assert!(client.job(&address).await.is_err(), "{address} was closed");
        }
    });
}
