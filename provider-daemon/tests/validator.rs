//! The daemon on Agave's own `solana-test-validator`, which crashes and restarts under it.
//!
//! Needs the validator binary, which takes ~25 min to build: `scripts/e2e-validator.sh` builds
//! it (once), names it in `$COMPUTE_MARKET_VALIDATOR` and runs this test with `--ignored`.

mod common;

use std::time::Duration;

use common::node::*;
use compute_market_localnet::{LocalNet, LocalNetOptions, TestValidator};
use compute_market_sdk::{JobHandle, JobStatus, Windows};

/// Waits until the daemon's claim on `job` is visible.
async fn claimed(job: &JobHandle, daemon: &Daemon) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while job.job().await.map(|j| j.claimed).unwrap_or(0) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not claimed within 60 s\n{}",
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
#[ignore = "needs solana-test-validator: scripts/e2e-validator.sh builds it and runs this test"]
fn a_daemon_survives_its_validator_crashing_and_restarting() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let binary = TestValidator::binary_from_env().unwrap();
        let options = LocalNetOptions {
            market: compute_market_sdk::MarketInitArgs {
                windows: Windows {
                    claim: 30,
                    commit: 60,
                    reveal: 60,
                },
                ..LocalNetOptions::default().market
            },
            ..LocalNetOptions::default()
        };
        let mut validator = TestValidator::start(&binary, dir.path(), &options.program_so)
            .await
            .unwrap();
        let payer = compute_market_localnet::airdropped_payer(
            &validator.rpc_url(),
            compute_market_localnet::E2E_PAYER_AIRDROP,
        )
        .await
        .unwrap();
        let net = LocalNet::attach(&validator.rpc_url(), &validator.ws_url(), payer, options)
            .await
            .unwrap();
        let p = provider(&net, dir.path(), "p", "").await;
        let daemon = start(&p, dir.path(), "p");
        let client = client(&net).await;
        let (job, expected) = vector_job(1, 1);

        // Before: an ordinary job.
        let first = client.submit(&job).await.unwrap();
        let settled = wait_settled(&first, &[&daemon]).await;
        assert_eq!(settled.status(), JobStatus::Completed);

        // During: the validator dies right after the daemon's claim, and comes back from its
        // ledger a few seconds later. The job is finished, not abandoned.
        let second = client.submit(&job).await.unwrap();
        claimed(&second, &daemon).await;
        let slot = validator.slot().await.unwrap();
        validator.kill();
        tokio::time::sleep(Duration::from_secs(3)).await;
        validator.restart(slot).await.unwrap();
        let settled = wait_settled(&second, &[&daemon]).await;
        assert_eq!(settled.status(), JobStatus::Completed, "{}", daemon.log());
        assert_eq!(second.result().await.unwrap(), expected);

        // After: a job posted to the restarted validator is found and done.
        let third = client.submit(&job).await.unwrap();
        let settled = wait_settled(&third, &[&daemon]).await;
        assert_eq!(settled.status(), JobStatus::Completed);

        let record = net
            .client(p.wallet.insecure_clone())
            .await
            .unwrap()
            .provider()
            .await
            .unwrap();
        assert_eq!(
            (record.jobs_completed, record.jobs_slashed, record.locked),
            (3, 0, 0),
            "{}",
            daemon.log()
        );
    });
}
