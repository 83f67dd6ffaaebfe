//! Shared set-up of the end-to-end tests: a local node, funded wallets, a provider simulated
//! through the SDK's own provider calls.

#![allow(dead_code, reason = "each test file uses a different subset")]

use compute_market_localnet::{LocalNet, LocalNetOptions, E2E_RPC_URL_ENV};
use compute_market_sdk::{store, Client, Job, JobHandle, JobSpec, ValidatedJob, Windows};

pub const REWARD: u64 = 100_000;
pub const STAKE: u64 = 1_000_000;
pub const FUNDS: u64 = 10_000_000;

/// output[i] = 2 × input[i]; [`compute`] is its CPU reference.
pub const DOUBLE: &str = include_str!("fixtures/double_u32.wgsl");

pub fn spec(n: u8, k: u8) -> ValidatedJob {
    JobSpec::builder()
        .shader_wgsl(DOUBLE)
        .input(
            (0u32..64)
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>(),
        )
        .output_len(256)
        .reward(REWARD)
        .replicas(n, k)
        .build()
        .unwrap()
}

/// Whether the tests run on a node somebody else runs (`scripts/e2e-validator.sh` points
/// `$COMPUTE_MARKET_E2E_RPC_URL` at Agave's `solana-test-validator`).
pub fn attached() -> bool {
    std::env::var_os(E2E_RPC_URL_ENV).is_some_and(|u| !u.is_empty())
}

/// The test's node and market: a new embedded node, or the attached node. There time passes
/// only by waiting (no time travel), so the market's windows are shorter: 20 s to claim, 30 s
/// each to commit and reveal.
pub async fn net() -> LocalNet {
    let mut options = LocalNetOptions::default();
    if attached() {
        options.market.windows = Windows {
            claim: 20,
            commit: 30,
            reveal: 30,
        };
    }
    LocalNet::start_or_attach(options).await.unwrap()
}

pub async fn client(net: &LocalNet) -> Client {
    net.client(net.funded_wallet(FUNDS).await.unwrap())
        .await
        .unwrap()
}

pub async fn provider(net: &LocalNet) -> Client {
    let c = net
        .client(net.funded_wallet(STAKE).await.unwrap())
        .await
        .unwrap();
    c.register_provider(
        STAKE,
        compute_market_localnet::CPU_PROVIDER,
        compute_market_localnet::CPU_PROVIDER_CAPACITY,
    )
    .await
    .unwrap();
    c
}

/// An honest provider's work on `job`: (result hash, output URI).
pub async fn compute(provider: &Client, job: &Job) -> ([u8; 32], String) {
    let input = store::fetch_verified(job.input_uri(), &job.spec.input_hash, 1 << 20)
        .await
        .unwrap();
    let output: Vec<u8> = input
        .as_chunks::<4>()
        .0
        .iter()
        .flat_map(|w| (u32::from_le_bytes(*w) * 2).to_le_bytes())
        .collect();
    let uri = provider.store().unwrap().put(&output).await.unwrap();
    (compute_market_job::result_hash(&output), uri)
}

/// A three-replica, quorum-two job claimed by three new providers.
pub struct ClaimedByThree {
    pub client: Client,
    pub providers: [Client; 3],
    pub handle: JobHandle,
    pub job: Job,
}

pub async fn claimed_by_three(net: &LocalNet) -> ClaimedByThree {
    let client = client(net).await;
    let providers = [
        provider(net).await,
        provider(net).await,
        provider(net).await,
    ];
    let handle = client.submit(&spec(3, 2)).await.unwrap();
    let job = handle.job().await.unwrap();
    for p in &providers {
        p.claim(&handle.address).await.unwrap();
    }
    ClaimedByThree {
        client,
        providers,
        handle,
        job,
    }
}

/// An honest provider's delivery of the claimed one-replica job at `address`: computes and
/// submits; returns (result hash, output URI).
pub async fn deliver(
    provider: &Client,
    address: &compute_market_sdk::Pubkey,
) -> ([u8; 32], String) {
    let job = provider.job(address).await.unwrap();
    let (hash, uri) = compute(provider, &job).await;
    provider.submit_result(address, hash, &uri).await.unwrap();
    (hash, uri)
}
