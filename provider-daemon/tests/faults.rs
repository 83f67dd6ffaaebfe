//! A daemon behind a misbehaving RPC endpoint never gets itself slashed: confirmations that go
//! missing, 429s, and a node that serves a state from before the daemon's own claim.

mod common;

use std::time::{Duration, Instant};

use common::node::*;
use common::rpc_faults::{Faults, RpcFaults, Stale};
use compute_market_localnet::LocalNet;
use compute_market_sdk::{accounts, JobStatus, Signer};

#[test]
fn stale_reads_lost_confirmations_and_429s_never_get_a_daemon_slashed() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let net = LocalNet::start(Default::default()).await.unwrap();
        let proxy = RpcFaults::start(net.rpc_url()).await;
        let setups = [
            provider(&net, dir.path(), "a", "").await,
            provider(&net, dir.path(), "b", "").await,
            provider(&net, dir.path(), "flaky", "").await,
        ];
        setups[2].edit_config(&[(
            &format!("rpc_urls = [\"{}\"]", net.rpc_url()),
            &format!("rpc_urls = [\"{}\"]", proxy.url()),
        )]);
        let daemons = [
            start(&setups[0], dir.path(), "a"),
            start(&setups[1], dir.path(), "b"),
            start(&setups[2], dir.path(), "flaky"),
        ];
        let client = client(&net).await;
        let (job, expected) = vector_job(3, 2);
        let store = client.store().unwrap();
        let shader = store.put(&job.descriptor.wgsl).await.unwrap();
        let input = store.put(&job.descriptor.input).await.unwrap();
        let job_id = 7;
        let address = compute_market_sdk::pda::job(&net.market, &client.wallet(), job_id);
        // Every confirmation missing at first, every 7th request refused with 429, and a node
        // that keeps serving the first state of the job it saw (before the flaky daemon's claim:
        // the daemon reads the job before it claims) for 12 s.
        proxy.set(Faults {
            hide_each_status: 8,
            rate_limit_every: Some(7),
            stale: Some(Stale {
                address: address.to_string(),
                until: Instant::now() + Duration::from_secs(12),
                snapshot: None,
            }),
        });
        let handle = client
            .submit_uploaded(&job, &shader, &input, job_id)
            .await
            .unwrap();
        let settled = wait_settled(&handle, &daemons.iter().collect::<Vec<_>>()).await;
        assert_eq!(settled.status(), JobStatus::Completed);
        assert_eq!(handle.result().await.unwrap(), expected);
        let flaky = compute_market_sdk::pda::provider(&net.market, &setups[2].wallet.pubkey());
        let (_, snapshot) = proxy
            .stale_snapshot()
            .expect("the job was read through the proxy");
        let account: solana_account_decoder_client_types::UiAccount =
            serde_json::from_value(snapshot["value"].clone()).unwrap();
        let stale = accounts::decode_job(&address, &account.data.decode().unwrap()).unwrap();
        assert!(
            stale.slot_of(&flaky).is_none(),
            "the stale state predates the flaky claim"
        );
        // Every fault was met; the lagging node was asked for the job (and either served its
        // stale copy, or was asked for a newer state than it had).
        let counts = proxy.counts();
        let met = |fault: &str| counts.get(fault).copied().unwrap_or(0);
        assert!(met("hidden status") > 0 && met("429") > 0, "{counts:?}");
        assert!(met("stale") + met("behind") > 0, "{counts:?}");
        for (setup, daemon) in setups.iter().zip(&daemons) {
            let owner = net.client(setup.wallet.insecure_clone()).await.unwrap();
            let record = accounts::fetch_provider(owner.rpc(), &owner.provider_address(), 0)
                .await
                .unwrap();
            assert_eq!(
                (record.jobs_completed, record.jobs_slashed, record.locked),
                (1, 0, 0),
                "{}",
                daemon.log()
            );
        }
    });
}
