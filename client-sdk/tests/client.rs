//! The SDK against a real local node (embedded Surfpool: JSON-RPC + websocket) running the
//! program's SBF binary. Providers are simulated through the SDK's own provider calls: they
//! download and verify the blobs, compute the output on the CPU, upload it and submit or
//! commit/reveal its hash.

use std::time::Duration;

use compute_market_localnet::LocalNet;
use compute_market_sdk::store::{self, BlobStore};
use compute_market_sdk::{
    pda, Capabilities, Capacity, Client, Job, JobFilter, JobSpec, JobStatus, Keypair, Pubkey,
    SdkError, ValidatedJob,
};

const DOUBLE: &str = include_str!("../../tests/fixtures/double_u32.wgsl");

const REWARD: u64 = 100_000;
const FUNDS: u64 = 10_000_000;

/// A lavapipe provider (Mesa's vendor id).
fn caps() -> Capabilities {
    Capabilities {
        vendor_id: 0x10005,
        ..compute_market_localnet::CPU_PROVIDER
    }
}

fn input() -> Vec<u8> {
    (0u32..64).flat_map(|v| v.to_le_bytes()).collect()
}

/// What an honest provider computes for `DOUBLE`.
fn cpu_double(input: &[u8]) -> Vec<u8> {
    input
        .as_chunks::<4>()
        .0
        .iter()
        .flat_map(|w| (u32::from_le_bytes(*w) * 2).to_le_bytes())
        .collect()
}

fn spec(n: u8, k: u8) -> ValidatedJob {
    JobSpec::builder()
        .shader_wgsl(DOUBLE)
        .input(input())
        .output_len(256)
        .workgroups([1, 1, 1])
        .reward(REWARD)
        .replicas(n, k)
        .build()
        .unwrap()
}

async fn provider(net: &LocalNet) -> Client {
    let wallet = net.funded_wallet(2_000_000).await.unwrap();
    let client = net.client(wallet).await.unwrap();
    client
        .register_provider(
            1_000_000,
            caps(),
            Capacity {
                devices: 1,
                max_concurrent_jobs: 1,
            },
        )
        .await
        .unwrap();
    client
}

/// A provider's work: fetch and verify the blobs, compute, upload; returns (result hash, URI).
async fn compute(provider: &Client, job: &Job, lie: bool) -> ([u8; 32], String) {
    let shader = store::fetch_verified(job.shader_uri(), &job.spec.shader_hash, 1 << 20)
        .await
        .unwrap();
    assert_eq!(shader, DOUBLE.as_bytes());
    let input = store::fetch_verified(
        job.input_uri(),
        &job.spec.input_hash,
        u64::from(job.spec.input_len),
    )
    .await
    .unwrap();
    let mut output = cpu_double(&input);
    if lie {
        output[0] ^= 1;
    }
    let uri = provider.store().unwrap().put(&output).await.unwrap();
    (compute_market_job::result_hash(&output), uri)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn submit_single_replica_wait_and_fetch_a_verified_result() {
    let net = LocalNet::start(Default::default()).await.unwrap();
    let client = net
        .client(net.funded_wallet(FUNDS).await.unwrap())
        .await
        .unwrap();
    let worker = provider(&net).await;
    let market = client.market().await.unwrap();

    let handle = client.submit(&spec(1, 1)).await.unwrap();
    let job = handle.job().await.unwrap();
    assert_eq!(job.status(), JobStatus::Open);
    assert_eq!(job.client, client.wallet());
    let fee = REWARD * u64::from(market.fee_bps) / 10_000;
    let client_token = pda::token_account(&client.wallet(), &net.mint);
    assert_eq!(
        client.token_balance(&client_token).await.unwrap(),
        FUNDS - REWARD - fee
    );

    // The provider works while the client waits on the websocket.
    let waiter = {
        let handle = handle.clone();
        tokio::spawn(async move {
            let mut seen = vec![];
            let job = handle
                .wait(Duration::from_secs(60), |j| seen.push(j.status()))
                .await;
            (job, seen)
        })
    };
    worker.claim(&handle.address).await.unwrap();
    let (hash, uri) = compute(&worker, &job, false).await;
    worker
        .submit_result(&handle.address, hash, &uri)
        .await
        .unwrap();

    let (settled, seen) = waiter.await.unwrap();
    let settled = settled.unwrap();
    assert_eq!(settled.status(), JobStatus::Completed);
    assert_eq!(settled.result_hash, hash);
    assert_eq!(seen.last(), Some(&JobStatus::Completed));
    assert_eq!(handle.result().await.unwrap(), cpu_double(&input()));
    // Settlement credited the reward to the provider's account; its owner withdraws it.
    let record = worker.provider().await.unwrap();
    assert_eq!((record.earnings, record.fees_due), (REWARD, fee));
    assert_eq!(worker.withdraw_earnings().await.unwrap().0, REWARD);
    let payout = pda::token_account(&worker.wallet(), &net.mint);
    // Funded with 2,000,000, staked 1,000,000, then withdrew the reward.
    assert_eq!(
        worker.token_balance(&payout).await.unwrap(),
        1_000_000 + REWARD
    );
    // The fee reaches the treasury when anyone sweeps the provider.
    assert_eq!(client.token_balance(&net.treasury).await.unwrap(), 0);
    client.sweep(&worker.provider_address()).await.unwrap();
    assert_eq!(client.token_balance(&net.treasury).await.unwrap(), fee);
    assert_eq!(worker.provider().await.unwrap().fees_due, 0);

    // A tampered copy of the output is refused, never returned.
    let path = uri.strip_prefix("file://").unwrap();
    std::fs::write(path, vec![0u8; 256]).unwrap();
    let err = handle.result().await.unwrap_err();
    assert!(matches!(err, SdkError::ResultMismatch { .. }), "{err}");

    // Closing returns most of the rent; a tombstone keeps the address, so the same job id can
    // never be posted again (no job is ever mistaken for an older one at its address).
    let lamports = |c: &compute_market_sdk::Client, a| {
        let c = c.clone();
        async move { c.rpc().get_balance(&a).await.unwrap() }
    };
    let rent_before = lamports(&client, handle.address).await;
    client.close(&handle.address).await.unwrap();
    let err = client.job(&handle.address).await.unwrap_err();
    assert!(
        matches!(&err, SdkError::NoResult { status, .. } if status.contains("closed")),
        "{err}"
    );
    // The tombstone keeps exactly its own rent; the rest went back to the client.
    let tombstone_rent = client
        .rpc()
        .get_minimum_balance_for_rent_exemption(compute_market_sdk::JobTombstone::LEN)
        .await
        .unwrap();
    assert_eq!(lamports(&client, handle.address).await, tombstone_rent);
    assert!(
        tombstone_rent < rent_before / 10,
        "{tombstone_rent} of {rent_before}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_commit_reveal_and_a_liar_is_slashed() {
    let net = LocalNet::start(Default::default()).await.unwrap();
    let client = net
        .client(net.funded_wallet(FUNDS).await.unwrap())
        .await
        .unwrap();
    let providers = [
        provider(&net).await,
        provider(&net).await,
        provider(&net).await,
    ];
    let handle = client.submit(&spec(3, 2)).await.unwrap();
    let job = handle.job().await.unwrap();
    let mut results = vec![];
    for (i, p) in providers.iter().enumerate() {
        p.claim(&handle.address).await.unwrap();
        let (hash, uri) = compute(p, &job, i == 1).await;
        let salt: [u8; 32] = rand_salt(i as u8);
        p.commit(&handle.address, &hash, &salt).await.unwrap();
        results.push((hash, salt, uri));
    }
    // A claim after all slots are taken names the program's error.
    let late = provider(&net).await;
    let err = late.claim(&handle.address).await.unwrap_err();
    assert_eq!(err.program_error_name(), Some("JobNotOpen"), "{err}");
    assert!(!err.logs().is_empty());
    for (p, (hash, salt, uri)) in providers.iter().zip(&results) {
        p.reveal(&handle.address, *hash, *salt, uri).await.unwrap();
    }
    // Anyone cranks the settlement.
    late.finalize(&handle.address).await.unwrap();
    let settled = handle.job().await.unwrap();
    assert_eq!(settled.status(), JobStatus::Completed);
    assert_eq!(settled.result_hash, results[0].0);
    assert_eq!(handle.result().await.unwrap(), cpu_double(&input()));
    let liar = providers[1].provider().await.unwrap();
    assert_eq!((liar.jobs_slashed, liar.staked), (1, 1_000_000 - 200_000));
    let honest = providers[0].provider().await.unwrap();
    assert_eq!((honest.jobs_completed, honest.total_earned), (1, REWARD));
}

fn rand_salt(seed: u8) -> [u8; 32] {
    let mut salt = [seed; 32];
    salt[0] = 0xa5;
    salt
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_list_expire_and_errors() {
    let net = LocalNet::start(Default::default()).await.unwrap();
    let wallet = net.funded_wallet(FUNDS).await.unwrap();
    let client = net.client(wallet).await.unwrap();
    let token = pda::token_account(&client.wallet(), &net.mint);

    // Cancel: full refund.
    let cancelled = client.submit(&spec(1, 1)).await.unwrap();
    client.cancel(&cancelled.address).await.unwrap();
    assert_eq!(client.token_balance(&token).await.unwrap(), FUNDS);
    let err = client.job(&cancelled.address).await.unwrap_err();
    assert!(
        err.to_string().contains(&cancelled.address.to_string()),
        "{err}"
    );

    // List by client, status and provider.
    let a = client.submit(&spec(1, 1)).await.unwrap();
    let b = client.submit(&spec(3, 2)).await.unwrap();
    let worker = provider(&net).await;
    worker.claim(&a.address).await.unwrap();
    let mine = client
        .list(JobFilter {
            client: Some(client.wallet()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut expected = vec![a.address, b.address];
    expected.sort();
    assert_eq!(mine.iter().map(|(k, _)| *k).collect::<Vec<_>>(), expected);
    let open = client
        .list(JobFilter {
            status: Some(JobStatus::Open),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        open.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
        vec![b.address]
    );
    let claimed_by_worker = client
        .list(JobFilter {
            provider: Some(worker.provider_address()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        claimed_by_worker
            .iter()
            .map(|(k, _)| *k)
            .collect::<Vec<_>>(),
        vec![a.address]
    );

    // Expire after the claim deadline (the node's clock moves forward): refund, nobody slashed.
    let deadline = b.job().await.unwrap().claim_deadline;
    net.time_travel_to(deadline + 5).await.unwrap();
    client.expire(&b.address).await.unwrap();
    assert_eq!(b.job().await.unwrap().status(), JobStatus::Expired);

    // Errors: unknown job, unknown market, too little money (nothing sent).
    let nowhere = Pubkey::new_unique();
    let err = client.job(&nowhere).await.unwrap_err();
    assert_eq!(err.to_string(), format!("account {nowhere} not found"));
    let mut config = net.client_config();
    config.market = Pubkey::new_unique();
    let stranger = Client::connect(config, Keypair::new()).await.unwrap();
    let err = stranger.market().await.unwrap_err();
    assert!(err.to_string().contains("unknown market"), "{err}");
    let poor = net
        .client(net.funded_wallet(10).await.unwrap())
        .await
        .unwrap();
    let err = poor.submit(&spec(1, 1)).await.unwrap_err();
    assert!(err.to_string().contains("insufficient funds"), "{err}");
    // A blob store that cannot be opened is a configuration error before anything is sent.
    let err = BlobStore::open("ftp://nowhere/x").await.unwrap_err();
    assert!(err.to_string().contains("ftp"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_rpc_endpoint_is_passed_over_and_every_request_is_counted() {
    let net = LocalNet::start(Default::default()).await.unwrap();
    let counted = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = counted.clone();
    let mut config = compute_market_sdk::ClientConfig::new("http://127.0.0.1:9", net.market);
    config.fallback_rpc_urls = vec![net.rpc_url().to_string()];
    config.on_rpc_request = Some(compute_market_sdk::rpc::RequestObserver(
        std::sync::Arc::new(move |method: &str| seen.lock().unwrap().push(method.to_string())),
    ));
    let client = Client::connect(config, Keypair::new()).await.unwrap();
    let market = client.market().await.unwrap();
    assert_eq!(market.payment_mint, net.mint);
    // The dead endpoint was tried once, then the live one; the live one stays current.
    assert_eq!(
        *counted.lock().unwrap(),
        ["getAccountInfo", "getAccountInfo"]
    );
    client.market().await.unwrap();
    assert_eq!(counted.lock().unwrap().len(), 3);
    assert_eq!(client.rpc().url(), net.rpc_url());
}

/// The same intent twice at once (staking 10, twice) lands twice: the second transaction would
/// be byte for byte the first (same instructions, same recent blockhash) and be dropped by the
/// node as a duplicate, so the SDK signs it again with a newer blockhash.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_instruction_sent_twice_at_once_lands_twice() {
    let net = LocalNet::start(Default::default()).await.unwrap();
    let p = provider(&net).await;
    let before = p.provider().await.unwrap().staked;
    let (a, b) = tokio::join!(p.stake(10), p.stake(10));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a, b, "two transactions, not one sent twice");
    assert_eq!(p.provider().await.unwrap().staked, before + 20);
    // One after the other, within the time a blockhash is reused: both land too.
    p.stake(10).await.unwrap();
    p.stake(10).await.unwrap();
    assert_eq!(p.provider().await.unwrap().staked, before + 40);
}
