//! The daemon as a child process, driven by its settings file, for the end-to-end tests: a
//! registered provider with its settings, the process and its log, and the usual job.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use compute_market_localnet::LocalNet;
use compute_market_sdk::{pda, Client, JobSpec, Keypair, Pubkey, ValidatedJob};
use provider_daemon::gpu::kernels;

pub const REWARD: u64 = 100_000;
pub const STAKE: u64 = 1_000_000;

pub struct Daemon {
    pub child: Child,
    pub log: PathBuf,
}

impl Daemon {
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

pub struct ProviderSetup {
    pub wallet: Keypair,
    pub config: PathBuf,
}

impl ProviderSetup {
    /// Rewrites the settings file, replacing each `(from, to)` in turn.
    pub fn edit_config(&self, edits: &[(&str, &str)]) {
        let mut config = std::fs::read_to_string(&self.config).unwrap();
        for (from, to) in edits {
            assert!(config.contains(from), "{from:?} not in {config}");
            config = config.replace(from, to);
        }
        std::fs::write(&self.config, config).unwrap();
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The local node's blob directory, where clients upload and providers read `file://` blobs.
pub fn blob_dir(net: &LocalNet) -> PathBuf {
    url::Url::parse(&net.blob_store_uri())
        .unwrap()
        .to_file_path()
        .unwrap()
}

/// A registered provider with a settings file (`extra` is appended to it). Jobs' `file://` blobs
/// in the node's blob directory are allowed (`[fetch]`), as on a one-machine market.
pub async fn provider(net: &LocalNet, dir: &Path, name: &str, extra: &str) -> ProviderSetup {
    let wallet = net.funded_wallet(2 * STAKE).await.unwrap();
    let client = net.client(wallet.insecure_clone()).await.unwrap();
    client
        .register_provider(
            STAKE,
            compute_market_localnet::CPU_PROVIDER,
            compute_market_localnet::CPU_PROVIDER_CAPACITY,
        )
        .await
        .unwrap();
    let keypair = dir.join(format!("{name}-key.json"));
    std::fs::write(
        &keypair,
        serde_json::to_string(&wallet.to_bytes().to_vec()).unwrap(),
    )
    .unwrap();
    let config = dir.join(format!("{name}.toml"));
    let toml = format!(
        r#"
rpc_urls = ["{rpc}"]
ws_urls = ["{ws}"]
keypair_path = "{key}"
market = "{market}"
store = "{store}"
state_path = "{state}"
job_timeout = "20s"
resync_interval = "1s"
poll_interval = "200ms"
log_format = "text"

[fetch]
schemes = ["https", "s3", "file"]
file_roots = ["{blobs}"]

[gpu]
allow_cpu = true
{extra}
"#,
        rpc = net.rpc_url(),
        ws = net.ws_url(),
        key = keypair.display(),
        market = net.market,
        store = net.blob_store_uri(),
        state = dir.join(format!("{name}.sqlite")).display(),
        blobs = blob_dir(net).display(),
    );
    std::fs::write(&config, toml).unwrap();
    ProviderSetup { wallet, config }
}

pub fn start(setup: &ProviderSetup, dir: &Path, name: &str) -> Daemon {
    let log = dir.join(format!("{name}.log"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_provider-daemon"))
        .args(["run", "--config", setup.config.to_str().unwrap()])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .unwrap();
    Daemon { child, log }
}

pub fn vector_job(n: u8, k: u8) -> (ValidatedJob, Vec<u8>) {
    let input: Vec<u32> = (0..256).collect();
    let d = kernels::vector_transform_job(&input, 3, 7);
    let expected: Vec<u8> = kernels::cpu::vector_transform(&input, 3, 7)
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let job = JobSpec::from_descriptor(&d)
        .reward(REWARD)
        .replicas(n, k)
        .build()
        .unwrap();
    (job, expected)
}

pub async fn client(net: &LocalNet) -> Client {
    net.client(net.funded_wallet(10_000_000).await.unwrap())
        .await
        .unwrap()
}

pub async fn wait_settled(
    handle: &compute_market_sdk::JobHandle,
    logs: &[&Daemon],
) -> compute_market_sdk::Job {
    match handle.wait(Duration::from_secs(90), |_| {}).await {
        Ok(job) => job,
        Err(e) => {
            for d in logs {
                eprintln!("--- daemon log ---\n{}", d.log());
            }
            panic!("job did not settle: {e}");
        }
    }
}

/// Posts a one-replica job with an empty input straight through the instruction builder,
/// skipping the SDK's validation (as a hostile client could).
pub async fn post_raw(
    client: &Client,
    wgsl: &[u8],
    output_len: u32,
    workgroups: [u32; 3],
) -> Pubkey {
    post_raw_with(client, wgsl, output_len, workgroups, "main", 1, true).await
}

/// [`post_raw`] with the on-chain entry point, `n` replicas (a majority quorum) and declared
/// class (`exact`) of the hostile client's choice.
pub async fn post_raw_with(
    client: &Client,
    wgsl: &[u8],
    output_len: u32,
    workgroups: [u32; 3],
    entry_point: &str,
    replicas: u8,
    exact: bool,
) -> Pubkey {
    use compute_market_sdk::{instructions, Determinism, JobPostArgs, MinCapabilities};
    let store = client.store().unwrap();
    let shader_uri = store.put(wgsl).await.unwrap();
    let market = client.market().await.unwrap();
    let job_id = rand::random();
    let args = JobPostArgs {
        job_id,
        spec: compute_market_sdk::OnChainJobSpec {
            min_capabilities: MinCapabilities::default(),
            shader_hash: compute_market_job::sha256(wgsl),
            input_hash: compute_market_job::sha256(&[]),
            input_len: 0,
            output_len,
            workgroups,
            params: [0; 32],
            determinism: if exact {
                Determinism::Exact as u8
            } else {
                Determinism::Float as u8
            },
            padding: [0; 3],
        },
        entry_point: entry_point.into(),
        shader_uri,
        input_uri: String::new(),
        reward_per_replica: REWARD,
        replicas,
        quorum: replicas / 2 + 1,
        claim_deadline: 0,
        commit_deadline: 0,
        reveal_deadline: 0,
        rules: Default::default(),
    };
    let ix = instructions::job_post(
        &client.market_address(),
        &market.payment_mint,
        &client.wallet(),
        args,
    );
    client
        .send(
            "job_post",
            vec![ix],
            &[],
            compute_market_sdk::client::cu::JOB_POST,
        )
        .await
        .unwrap();
    pda::job(&client.market_address(), &client.wallet(), job_id)
}
