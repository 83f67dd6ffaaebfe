//! The embedded node makes blocks on a clock, like a cluster: chain time follows the wall clock
//! while nothing happens, so deadlines pass by waiting, without time travel.

#[path = "common.rs"]
mod common;

use std::time::Duration;

use common::*;
use compute_market_localnet::{LocalNet, LocalNetOptions};
use compute_market_sdk::{Deadlines, JobSpec, JobStatus};

/// A one-replica job with a five-second claim window, posted by a fresh client (a shorter one
/// can be over before the post lands on a validator under load).
async fn short_job(net: &LocalNet) -> (compute_market_sdk::Client, compute_market_sdk::JobHandle) {
    let client = client(net).await;
    let job = JobSpec::builder()
        .shader_wgsl(DOUBLE)
        .input(vec![0u8; 256])
        .output_len(256)
        .reward(REWARD)
        .deadlines(Deadlines::Windows {
            claim: Duration::from_secs(5),
            commit: Duration::from_secs(60),
            reveal: Duration::from_secs(60),
        })
        .build()
        .unwrap();
    let handle = client.submit(&job).await.unwrap();
    (client, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_nobody_claims_expires_by_waiting() {
    let net = net().await;
    let (client, handle) = short_job(&net).await;
    let slot = client.rpc().get_slot().await.unwrap();
    // Nobody sends anything: the clock moves on by itself (this only waits).
    let deadline = handle.job().await.unwrap().claim_deadline;
    net.wait_for_clock(deadline + 1).await.unwrap();
    assert!(
        client.rpc().get_slot().await.unwrap() > slot + 3,
        "slots advance while idle"
    );
    client.expire(&handle.address).await.unwrap();
    assert_eq!(handle.job().await.unwrap().status(), JobStatus::Expired);
    client.close(&handle.address).await.unwrap();
    let token = compute_market_sdk::pda::token_account(&client.wallet(), &net.mint);
    assert_eq!(client.token_balance(&token).await.unwrap(), FUNDS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_a_block_per_transaction_chain_time_stands_still() {
    // What the node did before it made blocks on a clock: the same wait passes no deadline.
    let options = LocalNetOptions {
        slot_time_ms: None,
        ..Default::default()
    };
    let net = LocalNet::start(options).await.unwrap();
    let (client, handle) = short_job(&net).await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    let err = client.expire(&handle.address).await.unwrap_err();
    assert_eq!(err.program_error_name(), Some("ExpireTooEarly"), "{err}");
}
