//! Every `compute-market` subcommand once against a real local node, with its error paths:
//! bad input gets a one-line error, a non-zero exit code, and nothing is sent.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use compute_market_localnet::LocalNet;
use compute_market_sdk::{pda, Keypair, Pubkey, Signer};

const DOUBLE: &str = include_str!("../../tests/fixtures/double_u32.wgsl");

struct Env {
    rt: tokio::runtime::Runtime,
    net: LocalNet,
    dir: tempfile::TempDir,
}

impl Env {
    fn keypair_file(&self, name: &str, wallet: &Keypair) -> PathBuf {
        let path = self.dir.path().join(format!("{name}.json"));
        let bytes: Vec<u8> = wallet.to_bytes().to_vec();
        std::fs::write(&path, serde_json::to_string(&bytes).unwrap()).unwrap();
        path
    }

    /// Runs the CLI against the node as the wallet in `keypair`.
    fn cli(&self, keypair: &Path, args: &[&str]) -> Output {
        let market = self.net.market.to_string();
        let store = self.net.blob_store_uri();
        let mut full = vec![
            "--url",
            self.net.rpc_url(),
            "--ws-url",
            self.net.ws_url(),
            "--market",
            &market,
            "--store",
            &store,
            "--keypair",
            keypair.to_str().unwrap(),
        ];
        full.extend_from_slice(args);
        self.raw(&full)
    }

    /// Runs the CLI with exactly `args` (home directory: the test's).
    fn raw(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_compute-market"))
            .args(args)
            .env("HOME", self.dir.path())
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    }
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "command failed\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A failure: non-zero exit and a single `error: ...` line on stderr containing `needle`.
#[track_caller]
fn fails(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "expected failure, got success: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
}

fn job_address(stdout: &str) -> Pubkey {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("job "))
        .expect("a `job <address>` line")
        .trim()
        .parse()
        .unwrap()
}

fn setup() -> Env {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let net = rt.block_on(LocalNet::start(Default::default())).unwrap();
    Env {
        rt,
        net,
        dir: tempfile::tempdir().unwrap(),
    }
}

#[test]
fn every_subcommand_against_a_local_node() {
    let env = setup();
    let client_wallet = env.rt.block_on(env.net.funded_wallet(10_000_000)).unwrap();
    let provider_wallet = env.rt.block_on(env.net.funded_wallet(3_000_000)).unwrap();
    let client_key = env.keypair_file("client", &client_wallet);
    let provider_key = env.keypair_file("provider", &provider_wallet);
    let shader = env.dir.path().join("double.wgsl");
    std::fs::write(&shader, DOUBLE).unwrap();
    let input = env.dir.path().join("input.bin");
    std::fs::write(
        &input,
        (0u32..64)
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    let shader_s = shader.to_str().unwrap();
    let input_s = input.to_str().unwrap();

    // market
    let out = ok(&env.cli(&client_key, &["market", "show"]));
    assert!(out.contains("fee        500 bps"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&env.cli(&client_key, &["market", "show", "--json"]))).unwrap();
    assert_eq!(json["fee_bps"], 500);

    // provider
    let out = ok(&env.cli(
        &provider_key,
        &[
            "provider",
            "register",
            "--stake",
            "1000000",
            "--device-class",
            "cpu",
            "--memory-mib",
            "1024",
        ],
    ));
    assert!(out.contains("registered provider"), "{out}");
    ok(&env.cli(&provider_key, &["provider", "stake", "500000"]));
    let out = ok(&env.cli(&provider_key, &["provider", "unstake", "100000"]));
    assert!(out.contains("unbonding 100000"), "{out}");
    fails(
        &env.cli(&provider_key, &["provider", "withdraw"]),
        "StillUnbonding",
    );
    ok(&env.cli(&provider_key, &["provider", "pause"]));
    let out = ok(&env.cli(&provider_key, &["provider", "show", "--json"]));
    let p: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (p["staked"].as_u64(), p["status"].as_str()),
        (Some(1_500_000), Some("Paused"))
    );
    ok(&env.cli(&provider_key, &["provider", "resume"]));
    let out = ok(&env.cli(
        &client_key,
        &["provider", "show", &provider_wallet.pubkey().to_string()],
    ));
    assert!(out.contains("(Active)"), "{out}");

    // job submit / status / inspect / list / cancel
    let submit = |extra: &[&str]| {
        let mut args = vec![
            "job",
            "submit",
            "--shader",
            shader_s,
            "--input",
            input_s,
            "--output-len",
            "256",
            "--reward",
            "100000",
            "--no-wait",
        ];
        args.extend_from_slice(extra);
        env.cli(&client_key, &args)
    };
    let out = ok(&submit(&[]));
    let first = job_address(&out);
    assert!(out.contains("explorer.solana.com/tx/"), "{out}");
    let status = ok(&env.cli(&client_key, &["job", "status", &first.to_string()]));
    assert!(status.starts_with("Open · 0/1 claimed"), "{status}");
    let inspect = ok(&env.cli(&client_key, &["job", "inspect", &first.to_string()]));
    assert!(
        inspect.contains("exact (replicas verifiable by hash)"),
        "{inspect}"
    );
    assert!(
        inspect.contains("explorer.solana.com/address/"),
        "{inspect}"
    );
    let json: serde_json::Value = serde_json::from_str(&ok(&env.cli(
        &client_key,
        &["job", "inspect", &first.to_string(), "--json"],
    )))
    .unwrap();
    assert_eq!(json["output_len"], 256);
    assert_eq!(json["client"], client_wallet.pubkey().to_string());
    let list = ok(&env.cli(&client_key, &["job", "list", "--mine", "--status", "open"]));
    assert!(list.contains(&first.to_string()), "{list}");
    let out = ok(&env.cli(&client_key, &["job", "cancel", &first.to_string()]));
    assert!(out.contains("refunded"), "{out}");
    assert_eq!(
        ok(&env.cli(&client_key, &["job", "list", "--mine"])).trim(),
        "no jobs"
    );

    // A job done by the provider (simulated through the SDK), then result / close.
    let second = job_address(&ok(&submit(&[])));
    env.rt.block_on(async {
        let provider = env
            .net
            .client(provider_wallet.insecure_clone())
            .await
            .unwrap();
        provider.claim(&second).await.unwrap();
        let output: Vec<u8> = (0u32..64).flat_map(|v| (v * 2).to_le_bytes()).collect();
        let uri = provider.store().unwrap().put(&output).await.unwrap();
        provider
            .submit_result(&second, compute_market_job::result_hash(&output), &uri)
            .await
            .unwrap();
    });
    let result = env.dir.path().join("result.bin");
    let out = ok(&env.cli(
        &client_key,
        &[
            "job",
            "result",
            &second.to_string(),
            "--out",
            result.to_str().unwrap(),
        ],
    ));
    assert!(out.contains("verified"), "{out}");
    assert_eq!(std::fs::read(&result).unwrap()[4..8], 2u32.to_le_bytes());
    let png = env.dir.path().join("result.png");
    ok(&env.cli(
        &client_key,
        &[
            "job",
            "result",
            &second.to_string(),
            "--out",
            png.to_str().unwrap(),
            "--image",
            "8x8",
        ],
    ));
    assert_eq!(&std::fs::read(&png).unwrap()[1..4], b"PNG");
    fails(
        &env.cli(
            &client_key,
            &[
                "job",
                "result",
                &second.to_string(),
                "--out",
                png.to_str().unwrap(),
                "--image",
                "9x9",
            ],
        ),
        "needs 324 bytes",
    );
    fails(
        &env.cli(&client_key, &["job", "finalize", &second.to_string()]),
        "already settled (Completed)",
    );
    ok(&env.cli(&client_key, &["job", "close", &second.to_string()]));

    // Crank errors name the program's error.
    let third = job_address(&ok(&submit(&["--replicas", "3"])));
    fails(
        &env.cli(&provider_key, &["job", "expire", &third.to_string()]),
        "ExpireTooEarly",
    );
    fails(
        &env.cli(&provider_key, &["job", "finalize", &third.to_string()]),
        "FinalizeTooEarly",
    );

    // Bad input: one line, non-zero exit, nothing sent (balance unchanged).
    let token = pda::token_account(&client_wallet.pubkey(), &env.net.mint);
    let balance = || {
        env.rt.block_on(async {
            let c = env.net.client(Keypair::new()).await.unwrap();
            c.token_balance(&token).await.unwrap()
        })
    };
    let before = balance();
    fails(
        &env.cli(
            &client_key,
            &[
                "job",
                "submit",
                "--shader",
                "/nope.wgsl",
                "--output-len",
                "4",
                "--reward",
                "1",
            ],
        ),
        "cannot read shader /nope.wgsl",
    );
    let broken = env.dir.path().join("broken.wgsl");
    std::fs::write(
        &broken,
        "@compute @workgroup_size(1)\nfn main() {\n  let x = ;\n}\n",
    )
    .unwrap();
    fails(
        &env.cli(
            &client_key,
            &[
                "job",
                "submit",
                "--shader",
                broken.to_str().unwrap(),
                "--output-len",
                "4",
                "--reward",
                "1",
            ],
        ),
        "parse error at 3:11",
    );
    fails(&submit(&["--workgroups", "1,x"]), "--workgroups");
    fails(
        &submit(&["--replicas", "4", "--quorum", "2"]),
        "strict majority",
    );
    let poor = env.keypair_file("poor", &env.rt.block_on(env.net.funded_wallet(5)).unwrap());
    fails(
        &env.cli(
            &poor,
            &[
                "job",
                "submit",
                "--shader",
                shader_s,
                "--input",
                input_s,
                "--output-len",
                "256",
                "--reward",
                "100000",
                "--no-wait",
            ],
        ),
        "insufficient funds",
    );
    fails(
        &env.cli(&client_key, &["job", "status", "not-an-address"]),
        "not a valid base58 address",
    );
    fails(
        &env.cli(
            &client_key,
            &["job", "status", &Pubkey::new_unique().to_string()],
        ),
        "not found",
    );
    assert_eq!(balance(), before, "nothing was paid by the failed commands");

    // Connection and identity errors.
    let missing = env.dir.path().join("missing.json");
    fails(
        &env.cli(&missing, &["market", "show"]),
        "cannot read keypair",
    );
    let out = env.raw(&[
        "--url",
        "ftp://x",
        "--market",
        &env.net.market.to_string(),
        "market",
        "show",
    ]);
    fails(&out, "must be an http(s) URL");
    let out = env.raw(&[
        "--url",
        env.net.rpc_url(),
        "--keypair",
        client_key.to_str().unwrap(),
        "--market",
        &Pubkey::new_unique().to_string(),
        "market",
        "show",
    ]);
    fails(&out, "unknown market");
    let out = env.raw(&[
        "--url",
        env.net.rpc_url(),
        "--keypair",
        client_key.to_str().unwrap(),
        "market",
        "show",
    ]);
    fails(&out, "no market: pass --market");
}

/// The README's demo, as a test: the whole marketplace in one process tree, results verified.
#[test]
fn the_demo_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("mandelbrot.png");
    let render = dir.path().join("render.png");
    let out = Command::new(env!("CARGO_BIN_EXE_compute-market"))
        .args([
            "demo",
            "--out",
            png.to_str().unwrap(),
            "--render-out",
            render.to_str().unwrap(),
        ])
        .env("HOME", dir.path())
        .output()
        .unwrap();
    let stdout = ok(&out);
    assert!(
        stdout.contains("output equals the CPU reference, byte for byte"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "verified against the on-chain hash {}",
            matmul_hash()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("Completed · 3/3 replicas agreed (quorum 2)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Completed · 1/1 replicas agreed (quorum 1)"),
        "{stdout}"
    );
    assert_compute_units_reported(&stdout);
    // The classifier: three replicas agreed with the CPU int8 reference; its accuracy.
    assert!(
        stdout.contains("accuracy 99.28 % on 1797 images (the float model: 99.33 %); 3/3 replicas agreed bit for bit with the CPU int8 reference"),
        "{stdout}"
    );
    // The ray-traced image: one tile per daemon, assembled, the CPU reference's pixels.
    for (tile, rows, who) in [
        (0, "  0..64 ", "alpha"),
        (1, " 64..128", "beta "),
        (2, "128..192", "gamma"),
    ] {
        let line = format!("tile {tile} rows {rows} rendered by {who}");
        assert!(stdout.contains(&line), "{line:?} in {stdout}");
    }
    assert!(
        stdout.contains("3 tiles assembled") && stdout.contains("byte for byte the CPU reference"),
        "{stdout}"
    );
    // Who was paid what: the client paid 3 + 1 + 3 + 3 × 1 rewards plus 5 % fees; the treasury
    // got the fees.
    assert!(
        stdout.contains("client                           -2625000"),
        "{stdout}"
    );
    assert!(
        stdout.contains("treasury                          +125000"),
        "{stdout}"
    );
    let image = std::fs::read(&png).unwrap();
    let decoder = png_header(&image);
    assert_eq!(decoder, (256, 256));
    assert_eq!(png_header(&std::fs::read(&render).unwrap()), (256, 192));
}

/// The exact job's result hash, from the CPU reference: what every honest GPU must produce.
fn matmul_hash() -> String {
    use provider_daemon::gpu::kernels;
    let n = 64;
    let a = kernels::test_words(n * n, 7);
    let b = kernels::test_words(n * n, 11);
    let output: Vec<u8> = kernels::cpu::matmul(&a, &b, n)
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    hex::encode(compute_market_job::result_hash(&output))
}

/// Width and height from a PNG's IHDR chunk.
fn png_header(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[1..4], b"PNG");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (w, h)
}

/// The operator's path: print the deploy commands, create a market from a parameters file.
#[test]
fn market_init_from_a_parameters_file() {
    let env = setup();
    let authority = env.rt.block_on(env.net.funded_wallet(0)).unwrap();
    let key = env.keypair_file("authority", &authority);
    let mint = env.rt.block_on(env.net.create_mint()).unwrap();
    let params = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../migrations/market.example.toml"
    );
    let base = |extra: &[&str]| {
        let mut args = vec![
            "--url",
            env.net.rpc_url(),
            "--ws-url",
            env.net.ws_url(),
            "--keypair",
            key.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        env.raw(&args)
    };
    let out = ok(&base(&["market", "deploy", "--print-only"]));
    assert!(out.contains("solana program deploy --url"), "{out}");
    assert!(out.contains("compute_market-keypair.json"), "{out}");
    assert!(out.contains("anchor idl init"), "{out}");

    let mint_s = mint.to_string();
    let out = ok(&base(&[
        "market", "init", "--params", params, "--mint", &mint_s,
    ]));
    let market = pda::market(&mint, &authority.pubkey());
    assert!(out.contains(&format!("market    {market}")), "{out}");
    let shown: serde_json::Value = serde_json::from_str(&ok(&base(&[
        "--market",
        &market.to_string(),
        "market",
        "show",
        "--json",
    ])))
    .unwrap();
    assert_eq!(shown["fee_bps"], 500);
    assert_eq!(shown["claim_window"], 300);
    assert_eq!(shown["unbonding_period"], 86_400);
    assert_eq!(shown["authority"], authority.pubkey().to_string());

    // Again: the market exists; a bad file is refused before anything is sent.
    fails(
        &base(&["market", "init", "--params", params, "--mint", &mint_s]),
        "market_init",
    );
    let bad = env.dir.path().join("bad.toml");
    std::fs::write(&bad, "fee_bps = 500\n").unwrap();
    fails(
        &base(&[
            "market",
            "init",
            "--params",
            bad.to_str().unwrap(),
            "--mint",
            &mint_s,
        ]),
        "is not valid market parameters",
    );
}

/// A node that has nothing of ours, as `surfpool start` or `solana-test-validator` would be:
/// `demo --url` deploys the program and its IDL there and runs the whole marketplace on it;
/// then the operator's `market deploy` finds both in place; only the IDL's authority may
/// replace the IDL. (The BPF-loader deploy and IDL replacement are tested in
/// client-sdk/tests/deploy.rs and idl.rs.)
#[test]
fn the_demo_and_market_deploy_on_a_bare_node() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let node = rt
        .block_on(compute_market_localnet::start_bare_node())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write_key = |name: &str, k: &Keypair| {
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(
            &path,
            serde_json::to_string(&k.to_bytes().to_vec()).unwrap(),
        )
        .unwrap();
        path
    };
    let payer = node.payer().insecure_clone();
    let payer_key = write_key("payer", &payer);
    let stranger_key = write_key("stranger", &Keypair::new());
    let cli = |key: Option<&Path>, extra: &[&str]| {
        let mut args = vec!["--url", node.rpc_url(), "--ws-url", node.ws_url()];
        if let Some(key) = key {
            args.extend(["--keypair", key.to_str().unwrap()]);
        }
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_compute-market"))
            .args(&args)
            .env("HOME", dir.path())
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    };
    let rpc = solana_rpc_client::nonblocking::rpc_client::RpcClient::new_with_commitment(
        node.rpc_url().to_string(),
        solana_commitment_config::CommitmentConfig::confirmed(),
    );
    let on_chain_idl = || {
        rt.block_on(compute_market_sdk::idl::fetch(&rpc))
            .unwrap()
            .expect("an IDL account")
    };
    let idl_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../idl/compute_market.json");
    let committed = std::fs::read(idl_path).unwrap();
    let idl_address = compute_market_sdk::idl::address().to_string();

    // Bad input is refused before anything is sent: a keypair that is not the program's, a
    // missing binary.
    let wrong = write_key("wrong-program", &Keypair::new());
    fails(
        &cli(
            Some(&payer_key),
            &[
                "market",
                "deploy",
                "--program-keypair",
                wrong.to_str().unwrap(),
            ],
        ),
        "but the program was built with id",
    );
    fails(
        &cli(
            Some(&payer_key),
            &["market", "deploy", "--program", "/nonexistent.so"],
        ),
        "cannot read the program /nonexistent.so",
    );
    fails(
        &cli(
            Some(&payer_key),
            &["market", "deploy", "--idl", "/nonexistent.json"],
        ),
        "cannot read the IDL /nonexistent.json",
    );
    assert!(rt.block_on(rpc.get_account(&pda::PROGRAM_ID)).is_err());
    // A node that is not there is named as such.
    let out = Command::new(env!("CARGO_BIN_EXE_compute-market"))
        .args(["--url", "http://127.0.0.1:9", "demo"])
        .env("HOME", dir.path())
        .output()
        .unwrap();
    fails(&out, "cannot reach a Solana node at http://127.0.0.1:9");

    // The demo, paying from an airdrop to a new wallet: it deploys the program and the IDL.
    let png = dir.path().join("mandelbrot.png");
    let render = dir.path().join("render.png");
    let stdout = ok(&cli(
        None,
        &[
            "demo",
            "--out",
            png.to_str().unwrap(),
            "--render-out",
            render.to_str().unwrap(),
        ],
    ));
    for expected in [
        format!("▶ using the node at {}", node.rpc_url()),
        "funded with 50 SOL by airdrop".to_string(),
        format!("▶ deploying the program {} and its IDL", pda::PROGRAM_ID),
        format!("IDL published at {idl_address} (Created"),
        "output equals the CPU reference, byte for byte".to_string(),
        format!("verified against the on-chain hash {}", matmul_hash()),
        "client                           -2625000".to_string(),
        "3/3 replicas agreed bit for bit with the CPU int8 reference".to_string(),
        "3 tiles assembled".to_string(),
    ] {
        assert!(stdout.contains(&expected), "{expected:?} in {stdout}");
    }
    assert_compute_units_reported(&stdout);
    assert_eq!(png_header(&std::fs::read(&png).unwrap()), (256, 256));
    let program = rt.block_on(rpc.get_account(&pda::PROGRAM_ID)).unwrap();
    assert!(program.executable);
    let idl = on_chain_idl();
    assert_eq!(idl.json, committed);

    // The operator's `market deploy` afterwards: both are in place, nothing is sent.
    let idl_authority = idl.authority;
    let out = ok(&cli(Some(&payer_key), &["market", "deploy"]));
    assert!(
        out.contains(&format!(
            "program     {}  already deployed, identical",
            pda::PROGRAM_ID
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "idl         {idl_address}  already published, identical"
        )),
        "{out}"
    );
    assert_eq!(on_chain_idl().authority, idl_authority);

    // Only the IDL's authority (the demo's payer) may replace it; others are told who can.
    // (Replacing it is tested in client-sdk/tests/idl.rs.)
    let mut bigger: serde_json::Value = serde_json::from_slice(&committed).unwrap();
    bigger["metadata"]["description"] = serde_json::Value::String("x".repeat(20_000));
    let bigger_path = dir.path().join("bigger.json");
    std::fs::write(&bigger_path, serde_json::to_vec_pretty(&bigger).unwrap()).unwrap();
    fails(
        &cli(
            Some(&stranger_key),
            &["market", "deploy", "--idl", bigger_path.to_str().unwrap()],
        ),
        &format!("belongs to {idl_authority}"),
    );
}

/// `compute-market localnet` runs a node until Ctrl-C; `--url localnet` finds it.
#[test]
fn localnet_serves_other_invocations_until_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    let wallet = Keypair::new();
    let key = dir.path().join("id.json");
    std::fs::write(
        &key,
        serde_json::to_string(&wallet.to_bytes().to_vec()).unwrap(),
    )
    .unwrap();
    // Output to files, not pipes: nobody reads a pipe while the node runs, and a full pipe
    // would block it.
    let stdout_path = dir.path().join("localnet.out");
    let stderr_path = dir.path().join("localnet.err");
    let mut node = Command::new(env!("CARGO_BIN_EXE_compute-market"))
        .args([
            "--keypair",
            key.to_str().unwrap(),
            "localnet",
            "--fund",
            "5000",
        ])
        .env("HOME", dir.path())
        .stdout(std::fs::File::create(&stdout_path).unwrap())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let output = || {
        format!(
            "stdout: {}\nstderr: {}",
            std::fs::read_to_string(&stdout_path).unwrap_or_default(),
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        )
    };
    let state = dir.path().join(".config/compute-market/localnet.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    // The wallet is funded after the state file appears: wait for both.
    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_compute-market"))
            .args(["--url", "localnet", "--keypair", key.to_str().unwrap()])
            .args(args)
            .env("HOME", dir.path())
            .output()
            .unwrap()
    };
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "localnet did not come up\n{}",
            output()
        );
        if state.exists() {
            let out = cli(&["market", "show", "--json"]);
            if out.status.success() {
                let market: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                assert_eq!(market["fee_bps"], 500);
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // Ctrl-C stops it and removes the state file.
    let pid = node.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let status = node.wait().unwrap();
    assert!(
        status.success(),
        "localnet exits cleanly on Ctrl-C\n{}",
        output()
    );
    assert!(!state.exists(), "state file removed");
    let stdout = std::fs::read_to_string(&stdout_path).unwrap();
    assert!(
        stdout.contains("funded with SOL and 5000 tokens"),
        "{}",
        output()
    );
    assert!(stdout.contains("stopped"), "{}", output());
}

/// The demo's summary gives each job's compute units, read back from the node's transaction
/// history at `confirmed` commitment: a positive figure, never "0 CU".
#[track_caller]
fn assert_compute_units_reported(stdout: &str) {
    let figures: Vec<u64> = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("compute"))
        .filter_map(|l| l.trim().strip_suffix(" CU across its transactions"))
        .map(|n| n.trim().parse().unwrap())
        .collect();
    assert_eq!(figures.len(), 3, "{stdout}");
    assert!(figures.iter().all(|cu| *cu > 10_000), "{figures:?}");
}

/// `job submit --shards` posts one job per range of workgroups, each with its first workgroup in
/// the chosen params word; a manifest is posted as its canonical blob, its first pass on chain.
#[test]
fn sharded_and_multi_pass_jobs_are_posted_from_the_cli() {
    let env = setup();
    let wallet = env.rt.block_on(env.net.funded_wallet(10_000_000)).unwrap();
    let key = env.keypair_file("client", &wallet);
    let client = env.rt.block_on(env.net.client(wallet)).unwrap();
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let hash_shards = format!("{repo}/examples/shaders/hash_shards.wgsl");
    let submit = |extra: &[&str]| {
        let mut args = vec!["job", "submit", "--reward", "100000", "--no-wait"];
        args.extend_from_slice(extra);
        env.cli(&key, &args)
    };
    let sharded = [
        "--shader",
        &hash_shards,
        "--workgroups",
        "64",
        "--params",
        "1000,7",
        "--output-len",
        "65536",
        "--shards",
        "3",
    ];
    let out = ok(&submit(&sharded));
    let addresses: Vec<Pubkey> = out
        .lines()
        .filter_map(|l| {
            l.split_once(": job ")
                .map(|(_, a)| a.trim().parse().unwrap())
        })
        .collect();
    assert_eq!(addresses.len(), 3, "{out}");
    let wgsl = std::fs::read(&hash_shards).unwrap();
    let mut parts = Vec::new();
    for address in &addresses {
        let job = env.rt.block_on(client.job(address)).unwrap();
        let first = u32::from_le_bytes(job.spec.params[28..32].try_into().unwrap());
        assert_eq!(job.spec.params[..8], [232, 3, 0, 0, 7, 0, 0, 0]);
        assert_eq!(job.spec.shader_hash, compute_market_job::sha256(&wgsl));
        parts.push((first, job.spec.workgroups, job.spec.output_len));
    }
    assert_eq!(
        parts,
        [
            (0, [21, 1, 1], 21 * 1024),
            (21, [21, 1, 1], 21 * 1024),
            (42, [22, 1, 1], 22 * 1024)
        ]
    );
    // The shard word must be free; output must split evenly.
    fails(
        &submit(&[&sharded[..], &["--shard-word", "1"]].concat()),
        "params word 1 is where each shard's first workgroup goes",
    );

    // A manifest: the canonical blob is stored and hashed; the first pass goes on chain.
    let heat = format!("{repo}/examples/jobs/heat.json");
    let grid = format!("{repo}/examples/jobs/heat-grid.bin");
    let manifest_job = [
        "--shader",
        &heat,
        "--input",
        &grid,
        "--output-len",
        "16384",
        "--params",
        "64,64",
    ];
    let out = ok(&submit(&manifest_job));
    let job = env.rt.block_on(client.job(&job_address(&out))).unwrap();
    let expected =
        compute_market_workloads::sim::job(&compute_market_workloads::sim::Grid::demo(64, 64), 500)
            .unwrap();
    assert_eq!(
        job.spec.shader_hash,
        compute_market_job::sha256(&expected.shader_blob())
    );
    assert_eq!(
        (job.entry_point(), job.spec.workgroups),
        ("init", [8, 8, 1])
    );
    let blob = env
        .rt
        .block_on(compute_market_sdk::store::fetch_unverified(
            job.shader_uri(),
            1 << 20,
        ))
        .unwrap();
    assert!(compute_market_job::is_manifest(&blob));
    fails(
        &submit(&[&manifest_job[..], &["--shards", "2"]].concat()),
        "split_by_workgroups splits one-pass jobs",
    );
}
