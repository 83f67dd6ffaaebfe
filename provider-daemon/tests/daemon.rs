//! The daemon end to end: real local node (embedded Surfpool), real executor on the local
//! adapter (lavapipe here), the daemon as a child process driven by its settings file.

mod common;

use std::process::Command;
use std::time::Duration;

use common::node::*;
use compute_market_localnet::LocalNet;
use compute_market_sdk::{pda, JobSpec, JobStatus, Keypair, Signer};
use provider_daemon::gpu::kernels;

#[test]
fn one_daemon_completes_a_single_replica_job() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let net = LocalNet::start(Default::default()).await.unwrap();
        let p = provider(&net, dir.path(), "solo", "").await;
        // Registered with 2 jobs at once; this daemon runs 3 and publishes that at start.
        p.edit_config(&[("job_timeout", "max_concurrent_jobs = 3\njob_timeout")]);
        let daemon = start(&p, dir.path(), "solo");
        let client = client(&net).await;
        let (job, expected) = vector_job(1, 1);
        let handle = client.submit(&job).await.unwrap();
        let settled = wait_settled(&handle, &[&daemon]).await;
        assert_eq!(settled.status(), JobStatus::Completed);
        assert_eq!(
            settled.result_hash,
            compute_market_job::result_hash(&expected)
        );
        assert_eq!(handle.result().await.unwrap(), expected);
        // The runner logs inside the job's span: its lines name the job (and its phase). A
        // one-replica job is settled by the submission itself; the daemon logs that once it
        // landed.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while !daemon.log().contains(": job settled ") {
            assert!(tokio::time::Instant::now() < deadline, "{}", daemon.log());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let log = daemon.log();
        let span = format!("job{{job={}", handle.address);
        for line in ["taking job", "claimed", "result submitted", "job settled"] {
            let logged = log.lines().find(|l| l.contains(&format!(": {line} ")));
            assert!(logged.is_some_and(|l| l.contains(&span)), "{line}: {log}");
        }
        // The reward is credited to the provider's account; its owner withdraws it.
        let owner = net.client(p.wallet.insecure_clone()).await.unwrap();
        let record = owner.provider().await.unwrap();
        assert_eq!(
            (record.jobs_completed, record.locked, record.earnings),
            (1, 0, REWARD)
        );
        assert_eq!(
            record.capacity,
            compute_market_sdk::Capacity {
                devices: 1,
                max_concurrent_jobs: 3
            }
        );
        assert_eq!(owner.withdraw_earnings().await.unwrap().0, REWARD);
        let payout = pda::token_account(&p.wallet.pubkey(), &net.mint);
        assert_eq!(client.token_balance(&payout).await.unwrap(), STAKE + REWARD);
    });
}

#[test]
fn three_daemons_verify_each_other_and_the_liar_is_slashed() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let net = LocalNet::start(Default::default()).await.unwrap();
        let honest_a = provider(&net, dir.path(), "a", "").await;
        let honest_b = provider(&net, dir.path(), "b", "").await;
        let liar = provider(&net, dir.path(), "liar", "[fault]\nlie = true\n").await;
        let daemons = [
            start(&honest_a, dir.path(), "a"),
            start(&honest_b, dir.path(), "b"),
            start(&liar, dir.path(), "liar"),
        ];
        let client = client(&net).await;
        let (job, expected) = vector_job(3, 2);
        let handle = client.submit(&job).await.unwrap();
        let settled = wait_settled(&handle, &daemons.iter().collect::<Vec<_>>()).await;
        assert_eq!(settled.status(), JobStatus::Completed);
        assert_eq!(
            settled.result_hash,
            compute_market_job::result_hash(&expected)
        );
        assert_eq!(handle.result().await.unwrap(), expected);
        let account = |w: &Keypair| {
            let w = w.insecure_clone();
            let net = &net;
            async move { net.client(w).await.unwrap().provider().await.unwrap() }
        };
        let l = account(&liar.wallet).await;
        assert_eq!(
            (l.jobs_slashed, l.staked, l.locked),
            (1, STAKE - 200_000, 0)
        );
        for honest in [&honest_a, &honest_b] {
            let h = account(&honest.wallet).await;
            assert_eq!((h.jobs_completed, h.total_earned, h.locked), (1, REWARD, 0));
        }
    });
}

/// A seven-replica job, the largest there is: one slot held by a daemon, six by providers
/// driven through the SDK. The daemon settles it once every replica revealed: one transaction,
/// seven providers paid.
#[test]
fn a_daemon_settles_a_seven_replica_job() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let net = LocalNet::start(Default::default()).await.unwrap();
        let setup = provider(&net, dir.path(), "d", "").await;
        let daemon = start(&setup, dir.path(), "d");
        let client = client(&net).await;
        let mut others = Vec::new();
        for _ in 0..6 {
            let wallet = net.funded_wallet(STAKE).await.unwrap();
            let c = net.client(wallet).await.unwrap();
            c.register_provider(
                STAKE,
                compute_market_localnet::CPU_PROVIDER,
                compute_market_localnet::CPU_PROVIDER_CAPACITY,
            )
            .await
            .unwrap();
            others.push(c);
        }
        let (job, expected) = vector_job(7, 4);
        let handle = client.submit(&job).await.unwrap();
        for c in &others {
            c.claim(&handle.address).await.unwrap();
        }
        let hash = compute_market_job::result_hash(&expected);
        let mut uris = Vec::new();
        for (i, c) in others.iter().enumerate() {
            uris.push(c.store().unwrap().put(&expected).await.unwrap());
            c.commit(&handle.address, &hash, &[i as u8 + 1; 32])
                .await
                .unwrap();
        }
        // Reveals open once the daemon committed too.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while handle.job().await.unwrap().committed < 7 {
            assert!(tokio::time::Instant::now() < deadline, "{}", daemon.log());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for (i, (c, uri)) in others.iter().zip(&uris).enumerate() {
            c.reveal(&handle.address, hash, [i as u8 + 1; 32], uri)
                .await
                .unwrap();
        }
        let settled = wait_settled(&handle, &[&daemon]).await;
        assert_eq!(settled.status(), JobStatus::Completed);
        assert_eq!(settled.result_hash, hash);
        // The job is settled as soon as the finalize lands; the daemon logs it once its own
        // confirmation arrives.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while !daemon.log().contains("finalized") {
            assert!(tokio::time::Instant::now() < deadline, "{}", daemon.log());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for c in &others {
            assert_eq!(c.provider().await.unwrap().earnings, REWARD);
        }
        let record = net
            .client(setup.wallet.insecure_clone())
            .await
            .unwrap()
            .provider()
            .await
            .unwrap();
        assert_eq!((record.jobs_completed, record.earnings), (1, REWARD));
    });
}

/// Three daemons meet a drawn job: each applies during the claim window, one of them cranks the
/// stake-weighted draw once the window closes and the seed slot is produced (slots on a clock,
/// like a cluster), and the three drawn replicas run it to completion.
#[test]
fn three_daemons_apply_to_a_drawn_job_draw_it_and_complete_it() {
    use compute_market_sdk::{ClaimMode, ClaimRules, Deadlines};
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let options = compute_market_localnet::LocalNetOptions {
            slot_time_ms: Some(100),
            ..Default::default()
        };
        let net = LocalNet::start(options).await.unwrap();
        let names = ["a", "b", "c"];
        let mut setups = Vec::new();
        for name in names {
            setups.push(provider(&net, dir.path(), name, "").await);
        }
        let daemons: Vec<Daemon> = setups
            .iter()
            .zip(names)
            .map(|(p, name)| start(p, dir.path(), name))
            .collect();
        let client = client(&net).await;
        let input: Vec<u32> = (0..256).collect();
        let d = kernels::vector_transform_job(&input, 3, 7);
        let expected: Vec<u8> = kernels::cpu::vector_transform(&input, 3, 7)
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let job = JobSpec::from_descriptor(&d)
            .reward(REWARD)
            .replicas(3, 2)
            .claim_rules(ClaimRules {
                selection: ClaimMode::Drawn,
                ..Default::default()
            })
            .deadlines(Deadlines::Windows {
                claim: Duration::from_secs(5),
                commit: Duration::from_secs(60),
                reveal: Duration::from_secs(60),
            })
            .build()
            .unwrap();
        let handle = client.submit(&job).await.unwrap();
        let settled = wait_settled(&handle, &daemons.iter().collect::<Vec<_>>()).await;
        assert_eq!(settled.status(), JobStatus::Completed);
        assert_eq!(
            (settled.applicants_len, settled.drawn, settled.claimed),
            (3, 1, 3)
        );
        assert_eq!(handle.result().await.unwrap(), expected);
        for (daemon, setup) in daemons.iter().zip(&setups) {
            assert!(
                daemon.log().contains("applied to a drawn job"),
                "{}",
                daemon.log()
            );
            let record = net
                .client(setup.wallet.insecure_clone())
                .await
                .unwrap()
                .provider()
                .await
                .unwrap();
            assert_eq!((record.jobs_completed, record.locked), (1, 0));
        }
        assert!(
            daemons
                .iter()
                .any(|d| d.log().contains("drew the job's replicas")),
            "somebody cranked the draw"
        );
    });
}

/// A daemon crashes (abort, as SIGKILL would) right after sending the transaction of `point`,
/// before journaling its confirmation; restarted without the fault, it resumes from its journal
/// and the chain, and the job completes with nobody slashed and no double claim.
fn crash_and_resume(point: &str, lose_journal: bool) {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let net = LocalNet::start(Default::default()).await.unwrap();
        let a = provider(&net, dir.path(), "a", "").await;
        let b = provider(&net, dir.path(), "b", "").await;
        let fault = format!("[fault]\ncrash_after = \"{point}\"\n");
        let crashy = provider(&net, dir.path(), "crashy", &fault).await;
        let mut daemons = vec![
            start(&a, dir.path(), "a"),
            start(&b, dir.path(), "b"),
            start(&crashy, dir.path(), "crashy"),
        ];
        let client = client(&net).await;
        // Quorum 3 of 3: the job cannot complete without the crashed provider.
        let (job, expected) = vector_job(3, 3);
        let handle = client.submit(&job).await.unwrap();
        let status = tokio::task::spawn_blocking({
            let mut child =
                std::mem::replace(&mut daemons[2].child, Command::new("true").spawn().unwrap());
            move || child.wait().unwrap()
        })
        .await
        .unwrap();
        assert!(!status.success(), "the fault-injected daemon crashed");
        assert!(daemons[2].log().contains("fault injection: crashing now"));
        crashy.edit_config(&[(&fault, "")]);
        if lose_journal {
            for file in ["crashy.sqlite", "crashy.sqlite-wal", "crashy.sqlite-shm"] {
                let _ = std::fs::remove_file(dir.path().join(file));
            }
        }
        daemons.push(start(&crashy, dir.path(), "crashy"));
        let settled = wait_settled(&handle, &daemons.iter().collect::<Vec<_>>()).await;
        assert_eq!(
            settled.status(),
            JobStatus::Completed,
            "after a crash at {point}"
        );
        assert_eq!(
            settled.result_hash,
            compute_market_job::result_hash(&expected)
        );
        assert_eq!(settled.claimed, 3, "no double claim");
        for p in [&a, &b, &crashy] {
            let record = net
                .client(p.wallet.insecure_clone())
                .await
                .unwrap()
                .provider()
                .await
                .unwrap();
            assert_eq!(
                (
                    record.jobs_completed,
                    record.jobs_slashed,
                    record.staked,
                    record.locked
                ),
                (1, 0, STAKE, 0),
                "after a crash at {point}"
            );
        }
        // The job may settle (others crank it) before the restarted daemon is up: give it time.
        let resumed = if lose_journal {
            "resuming a job found on-chain but not in the journal"
        } else {
            "resuming journaled job"
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !daemons[3].log().contains(resumed) && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(daemons[3].log().contains(resumed), "{}", daemons[3].log());
    });
}

#[test]
fn a_daemon_that_lost_its_journal_after_claiming_finishes_the_job() {
    crash_and_resume("claim_sent", true);
}

#[test]
fn a_daemon_killed_after_claiming_resumes() {
    crash_and_resume("claim_sent", false);
}

#[test]
fn a_daemon_killed_after_committing_resumes_and_is_not_slashed() {
    crash_and_resume("commit_sent", false);
}

#[test]
fn a_daemon_killed_after_revealing_resumes() {
    crash_and_resume("reveal_sent", false);
}

#[test]
fn configuration_errors_exit_with_a_clear_message() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let net = rt.block_on(LocalNet::start(Default::default())).unwrap();
    let p = rt.block_on(provider(&net, dir.path(), "p", ""));
    let run = |config: &str| {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, config).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_provider-daemon"))
            .args(["run", "--config", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let good = std::fs::read_to_string(&p.config).unwrap();
    let missing_key = good.replace(
        &format!(
            "keypair_path = \"{}\"",
            dir.path().join("p-key.json").display()
        ),
        "keypair_path = \"/nonexistent/id.json\"",
    );
    assert!(run(&missing_key).contains("cannot read keypair /nonexistent/id.json"));
    let bad_url = good.replace(net.rpc_url(), "ftp://nowhere");
    assert!(run(&bad_url).to_lowercase().contains("ftp://nowhere"));
    let unknown_market = good.replace(
        &net.market.to_string(),
        &Keypair::new().pubkey().to_string(),
    );
    assert!(run(&unknown_market).contains("unknown market"));
    let no_adapter = good.replace(
        "allow_cpu = true",
        "allow_cpu = true\nadapters = [\"no-such-gpu\"]",
    );
    assert!(run(&no_adapter).contains("no-such-gpu"));
    let twice = good.replace(
        "allow_cpu = true",
        "allow_cpu = true\nadapters = [\"0\", \"0\"]",
    );
    assert!(run(&twice).contains("listed twice"), "{}", run(&twice));
    if provider_daemon::gpu::context::enumerate_adapters()
        .iter()
        .all(|a| a.is_cpu)
    {
        // Only a software adapter here: it is not used unless allowed (it used to be, silently).
        let software = good.replace("allow_cpu = true", "allow_cpu = false");
        let message = run(&software);
        assert!(
            message.contains("CPU (software) adapter") && message.contains("allow_cpu"),
            "{message}"
        );
    }
    let out = Command::new(env!("CARGO_BIN_EXE_provider-daemon"))
        .args(["run", "--config", "/nonexistent.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.toml"));
}

#[test]
fn hostile_jobs_are_refused_or_contained_and_the_daemon_keeps_serving() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let net = LocalNet::start(Default::default()).await.unwrap();
        // A short wall-clock limit so the runaway shader is killed quickly.
        let p = provider(&net, dir.path(), "p", "").await;
        p.edit_config(&[("job_timeout = \"20s\"", "job_timeout = \"3s\"")]);
        let daemon = start(&p, dir.path(), "p");
        let client = client(&net).await;

        // Detectable before claiming: a parse error, and a dispatch beyond any device.
        let broken = post_raw(&client, b"@compute fn main( {", 64, [1, 1, 1]).await;
        let too_many = post_raw(
            &client,
            b"@group(0) @binding(1) var<storage, read_write> o: array<u32>;\n@compute @workgroup_size(1) fn main() { o[0] = 1u; }",
            64,
            [65_536, 1, 1],
        )
        .await;
        // Declared exact, with three replicas, but written in floating point: replicas on
        // different GPUs may disagree and an honest one be slashed for rounding.
        let mislabelled = post_raw_with(
            &client,
            b"@group(0) @binding(1) var<storage, read_write> o: array<f32>;\n@compute @workgroup_size(1) fn main() { o[0] = sqrt(2.0); }",
            64,
            [1, 1, 1],
            "main",
            3,
            true,
        )
        .await;
        // A manifest whose first pass is not what the job names on chain.
        let manifest = compute_market_job::Manifest::new(
            "@group(0) @binding(1) var<storage, read_write> o: array<u32>;\n@compute @workgroup_size(1) fn a() { o[0] = 1u; }",
            Vec::new(),
            vec![compute_market_job::Pass::new("a", [1, 1, 1])],
        );
        let mismatched =
            post_raw_with(&client, &manifest.to_blob(), 64, [2, 1, 1], "a", 1, true).await;
        // Only detectable by running it: an infinite loop.
        // (16.7 M invocations looping forever: lavapipe's 65,535-iteration cap still leaves
        // ~10^12 iterations.)
        let runaway = post_raw(
            &client,
            b"@group(0) @binding(1) var<storage, read_write> o: array<u32>;\n@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) id: vec3<u32>) { var x = id.x; loop { x = x * 1664525u + 1013904223u; o[x % 16u] = x; } }",
            64,
            [65_535, 1, 1],
        )
        .await;
        // And then an honest job, which must still be served.
        let (job, expected) = vector_job(1, 1);
        let handle = client.submit(&job).await.unwrap();
        let settled = wait_settled(&handle, &[&daemon]).await;
        assert_eq!(settled.status(), JobStatus::Completed);
        assert_eq!(handle.result().await.unwrap(), expected);

        for hostile in [broken, too_many, mislabelled, mismatched] {
            let j = client.job(&hostile).await.unwrap();
            assert_eq!((j.status(), j.claimed), (JobStatus::Open, 0), "{hostile} was never claimed");
        }
        let log = daemon.log();
        assert!(log.contains("invalid job"), "{log}");
        assert!(log.contains(&broken.to_string()), "{log}");
        assert!(log.contains("declared exact but uses floating point"), "{log}");
        assert!(log.contains("its manifest starts with `a`"), "{log}");
        // The runaway job was claimed, killed at its limit, and given back before its commit
        // deadline without harming the daemon: the provider pays the small give-back cost
        // instead of the slash that letting it expire would cost, and never claims it again.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !daemon.log().contains("gave the job back") {
            assert!(tokio::time::Instant::now() < deadline, "{}", daemon.log());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(daemon.log().contains("wall-clock limit"), "{}", daemon.log());
        let given_back = client.job(&runaway).await.unwrap();
        assert_eq!((given_back.status(), given_back.claimed), (JobStatus::Open, 0));
        let market = client.market().await.unwrap();
        let cost = market.collateral_per_replica * u64::from(market.give_back_bps) / 10_000;
        assert!(cost > 0 && cost < market.collateral_per_replica);
        let owner = net.client(p.wallet.insecure_clone()).await.unwrap();
        let record = owner.provider().await.unwrap();
        assert_eq!(
            (record.jobs_given_back, record.jobs_slashed, record.locked, record.forfeit_due),
            (1, 0, 0, cost)
        );
        assert_eq!(record.staked, STAKE - cost);
    });
}

#[test]
fn without_a_websocket_the_resync_still_finds_jobs() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let net = LocalNet::start(Default::default()).await.unwrap();
        let p = provider(&net, dir.path(), "p", "").await;
        // Point the websocket at a port nothing listens on.
        p.edit_config(&[(net.ws_url(), "ws://127.0.0.1:9")]);
        let daemon = start(&p, dir.path(), "p");
        let client = client(&net).await;
        let (job, expected) = vector_job(1, 1);
        let handle = client.submit(&job).await.unwrap();
        let settled = wait_settled(&handle, &[&daemon]).await;
        assert_eq!(settled.status(), JobStatus::Completed);
        assert_eq!(handle.result().await.unwrap(), expected);
        let log = daemon.log();
        assert!(log.contains("websocket unavailable"), "{log}");
        assert!(
            log.contains("source=\"resync\"") || log.contains("source=resync"),
            "{log}"
        );
    });
}

/// A TCP proxy in front of the node that can be taken down (dropping every connection and
/// refusing new ones) and brought back, to cut the daemon off from RPC and websocket.
struct Proxy {
    addr: std::net::SocketAddr,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    generation: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
}

impl Proxy {
    async fn start(upstream: &str) -> Proxy {
        let upstream: std::net::SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_start_matches("ws://")
            .trim_end_matches('/')
            .parse()
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (tx, _) = tokio::sync::watch::channel(0u64);
        let generation = std::sync::Arc::new(tx);
        let (d, g) = (down.clone(), generation.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if d.load(std::sync::atomic::Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let mut cut = g.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Proxy {
            addr,
            down,
            generation,
        }
    }

    fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
        if down {
            self.generation.send_modify(|g| *g += 1);
        }
    }
}

#[test]
fn rpc_and_websocket_outages_are_survived() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let net = LocalNet::start(Default::default()).await.unwrap();
        let rpc = Proxy::start(net.rpc_url()).await;
        let ws = Proxy::start(net.ws_url()).await;
        let p = provider(&net, dir.path(), "p", "").await;
        p.edit_config(&[
            (net.rpc_url(), &format!("http://{}", rpc.addr)),
            (net.ws_url(), &format!("ws://{}", ws.addr)),
        ]);
        let daemon = start(&p, dir.path(), "p");
        let client = client(&net).await;
        // Let the daemon start, then cut it off and post a job it cannot see.
        tokio::time::sleep(Duration::from_secs(2)).await;
        rpc.set_down(true);
        ws.set_down(true);
        let (job, expected) = vector_job(1, 1);
        let first = client.submit(&job).await.unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            first.job().await.unwrap().claimed,
            0,
            "cut off, it cannot claim"
        );
        rpc.set_down(false);
        ws.set_down(false);
        let settled = wait_settled(&first, &[&daemon]).await;
        assert_eq!(settled.status(), JobStatus::Completed);
        assert_eq!(first.result().await.unwrap(), expected);

        // Mid-job: cut both right after the claim; the runner retries and completes.
        let second = client.submit(&job).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while second.job().await.unwrap().claimed == 0 {
            assert!(tokio::time::Instant::now() < deadline, "{}", daemon.log());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        rpc.set_down(true);
        ws.set_down(true);
        tokio::time::sleep(Duration::from_secs(3)).await;
        rpc.set_down(false);
        ws.set_down(false);
        let settled = wait_settled(&second, &[&daemon]).await;
        assert_eq!(settled.status(), JobStatus::Completed);
        let log = daemon.log();
        assert!(log.contains("websocket"), "{log}");
        let record = net
            .client(p.wallet.insecure_clone())
            .await
            .unwrap()
            .provider()
            .await
            .unwrap();
        assert_eq!((record.jobs_completed, record.jobs_slashed), (2, 0));
    });
}
