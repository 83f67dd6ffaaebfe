//! The largest jobs settle through the SDK on the local node: seven replicas all paid, and
//! seven replicas all slashed. Settlement takes two program-owned accounts per replica and
//! creates nothing, so one transaction always fits (sizes and compute units: BENCHMARKS.md).

#[path = "common.rs"]
mod common;

use common::*;
use compute_market_localnet::LocalNet;
use compute_market_sdk::{Client, JobStatus};

/// Seven new providers, each claiming a slot of a fresh seven-replica (quorum four) job.
async fn claimed_by_seven(net: &LocalNet) -> (Client, Vec<Client>, compute_market_sdk::JobHandle) {
    let client = client(net).await;
    let mut providers = Vec::new();
    for _ in 0..7 {
        providers.push(provider(net).await);
    }
    let handle = client.submit(&spec(7, 4)).await.unwrap();
    for p in &providers {
        p.claim(&handle.address).await.unwrap();
    }
    (client, providers, handle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seven_replicas_all_paid_settle_through_the_sdk() {
    let net = net().await;
    let (client, providers, handle) = claimed_by_seven(&net).await;
    let job = handle.job().await.unwrap();
    let mut revealed = Vec::new();
    for (i, p) in providers.iter().enumerate() {
        let (hash, uri) = compute(p, &job).await;
        let salt = [i as u8 + 1; 32];
        p.commit(&handle.address, &hash, &salt).await.unwrap();
        revealed.push((hash, salt, uri));
    }
    for (p, (hash, salt, uri)) in providers.iter().zip(&revealed) {
        p.reveal(&handle.address, *hash, *salt, uri).await.unwrap();
    }
    // A stranger cranks it, as anyone may.
    let stranger = net
        .client(net.funded_wallet(0).await.unwrap())
        .await
        .unwrap();
    stranger.finalize(&handle.address).await.unwrap();
    let settled = handle.job().await.unwrap();
    assert_eq!(settled.status(), JobStatus::Completed);
    for p in &providers {
        let record = p.provider().await.unwrap();
        assert_eq!(
            (record.jobs_completed, record.earnings, record.locked),
            (1, REWARD, 0)
        );
    }
    assert_eq!(handle.result().await.unwrap().len(), 256);
    client.close(&handle.address).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seven_replicas_all_slashed_settle_through_the_sdk() {
    let net = net().await;
    let (client, providers, handle) = claimed_by_seven(&net).await;
    let job = handle.job().await.unwrap();
    // Nobody commits.
    net.time_travel_to(job.commit_deadline + 2).await.unwrap();
    client.expire(&handle.address).await.unwrap();
    let settled = handle.job().await.unwrap();
    assert_eq!(settled.status(), JobStatus::Expired);
    let collateral = job.collateral_per_replica;
    for p in &providers {
        let record = p.provider().await.unwrap();
        assert_eq!(
            (record.jobs_slashed, record.forfeit_due, record.locked),
            (1, collateral, 0)
        );
        assert_eq!(record.staked, STAKE - collateral);
    }
    // The client gets its whole payment back, and nothing more.
    client.close(&handle.address).await.unwrap();
    let token = compute_market_sdk::pda::token_account(&client.wallet(), &net.mint);
    assert_eq!(client.token_balance(&token).await.unwrap(), FUNDS);
}
