//! The settings' tests: layering (defaults, file, environment), errors, validation, the example.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use compute_market_sdk::store::{FetchPolicy, FileRoots, Scheme};

use super::load::expand_home;
use super::*;

const MARKET: &str = "11111111111111111111111111111112";

fn minimal() -> String {
    format!(
        "rpc_urls = [\"http://127.0.0.1:8899\"]\nmarket = \"{MARKET}\"\nstore = \"file:///tmp/blobs\"\n"
    )
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("temp file");
    f.write_all(text.as_bytes()).expect("write");
    f
}

fn env(vars: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
    vars.iter()
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .collect()
}

fn load(text: &str, vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
    let f = file(text);
    Settings::load_from(Some(f.path()), env(vars))
}

#[test]
fn minimal_file_gets_defaults() {
    let s = load(&minimal(), &[]).expect("loads");
    assert_eq!(s.rpc_urls, vec!["http://127.0.0.1:8899".to_string()]);
    assert!(s.ws_urls.is_empty());
    assert_eq!(
        s.effective_ws_urls().expect("ws"),
        vec!["ws://127.0.0.1:8900/".to_string()]
    );
    assert_eq!(s.market_pubkey().expect("pubkey").to_string(), MARKET);
    assert_eq!(s.state_path, PathBuf::from(DEFAULT_STATE_PATH));
    assert_eq!(s.min_reward, 0);
    assert_eq!(s.max_concurrent_jobs, 2);
    assert_eq!(s.job_timeout, Duration::from_secs(60));
    assert_eq!(s.resync_interval, Duration::from_secs(10));
    assert_eq!(s.poll_interval, Duration::from_secs(1));
    assert_eq!(s.metrics_addr, None);
    assert_eq!(s.log_format, LogFormat::Auto);
    assert_eq!(s.priority_fee_micro_lamports, None);
    assert_eq!(s.gpu, GpuSettings::default());
    assert_eq!(s.gpu.max_input_bytes, 128 * 1024 * 1024);
    assert_eq!(s.fetch, FetchSettings::default());
    assert_eq!(s.fetch.schemes, vec![Scheme::Https, Scheme::S3]);
    assert_eq!(s.fetch.policy(), FetchPolicy::default());
    assert_eq!(s.fault, FaultSettings::default());
    assert!(s.source.is_some());
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        assert_eq!(
            s.keypair_path,
            PathBuf::from(home).join(".config/solana/id.json")
        );
    }
}

#[test]
fn full_file_parses_every_type() {
    let text = format!(
        "{}ws_urls = [\"wss://example.org\"]\nkeypair_path = \"/k.json\"\nstate_path = \"/s.sqlite\"\n\
         min_reward = 5\nmax_concurrent_jobs = 4\njob_timeout = \"2m\"\nresync_interval = \"30s\"\n\
         poll_interval = \"250ms\"\nmetrics_addr = \"127.0.0.1:9464\"\nlog_format = \"json\"\n\
         priority_fee_micro_lamports = 1000\n[gpu]\nadapters = [\"RTX\", \"1\"]\nallow_cpu = true\nworkers = 3\n\
         max_input_bytes = 10\nmax_output_bytes = 20\n[fetch]\nschemes = [\"https\", \"http\", \"file\"]\n\
         file_roots = [\"/srv/blobs\"]\nallow_private_addresses = true\nmax_redirects = 2\n\
         s3_credentials = true\nconnect_timeout = \"3s\"\ntotal_timeout = \"1m\"\nmax_per_host = 4\n",
        minimal()
    );
    let s = load(&text, &[]).expect("loads");
    assert_eq!(s.ws_urls, vec!["wss://example.org".to_string()]);
    assert_eq!(s.keypair_path, PathBuf::from("/k.json"));
    assert_eq!(s.state_path, PathBuf::from("/s.sqlite"));
    assert_eq!(s.min_reward, 5);
    assert_eq!(s.max_concurrent_jobs, 4);
    assert_eq!(s.job_timeout, Duration::from_secs(120));
    assert_eq!(s.resync_interval, Duration::from_secs(30));
    assert_eq!(s.poll_interval, Duration::from_millis(250));
    assert_eq!(
        s.metrics_addr,
        Some("127.0.0.1:9464".parse().expect("addr"))
    );
    assert_eq!(s.log_format, LogFormat::Json);
    assert_eq!(s.priority_fee_micro_lamports, Some(1000));
    assert_eq!(
        s.gpu,
        GpuSettings {
            adapters: vec!["RTX".into(), "1".into()],
            allow_cpu: true,
            workers: 3,
            max_input_bytes: 10,
            max_output_bytes: 20,
            ..GpuSettings::default()
        }
    );
    assert_eq!(
        s.fetch,
        FetchSettings {
            schemes: vec![Scheme::Https, Scheme::Http, Scheme::File],
            file_roots: vec![PathBuf::from("/srv/blobs")],
            allow_private_addresses: true,
            max_redirects: 2,
            s3_credentials: true,
            connect_timeout: Duration::from_secs(3),
            total_timeout: Duration::from_secs(60),
            max_per_host: 4,
        }
    );
    let policy = s.fetch.policy();
    assert_eq!(
        policy.file_roots,
        FileRoots::Under(vec![PathBuf::from("/srv/blobs")])
    );
    assert_eq!(policy.timeouts.total, Duration::from_secs(60));
    assert_eq!(policy.max_per_host.map(|n| n.get()), Some(4));
}

#[test]
fn environment_overrides_file() {
    // Environment over file over defaults.
    let s = load(
        &format!(
            "{}ws_urls = [\"ws://x\"]\nmin_reward = 3\nmax_jobs_per_client = 4\n\
             [gpu]\nworkers = 2\nadapters = [\"X\"]\n",
            minimal()
        ),
        &[
            ("COMPUTE_MARKET__GPU__ALLOW_CPU", "true"),
            ("COMPUTE_MARKET__GPU__WORKERS", "5"),
            ("COMPUTE_MARKET__GPU__ADAPTERS", ""),
            (
                "COMPUTE_MARKET__RPC_URLS",
                "https://a.example, https://b.example",
            ),
            ("COMPUTE_MARKET__JOB_TIMEOUT", "90s"),
            ("COMPUTE_MARKET__METRICS_ADDR", "0.0.0.0:9000"),
            ("COMPUTE_MARKET__LOG_FORMAT", "text"),
            ("COMPUTE_MARKET__WS_URLS", ""),
            ("COMPUTE_MARKET__MIN_REWARD", "77"),
            ("COMPUTE_MARKET__FETCH__SCHEMES", "https, file"),
            ("COMPUTE_MARKET__FETCH__FILE_ROOTS", "/srv/a,/srv/b"),
            ("COMPUTE_MARKET__FETCH__ALLOW_PRIVATE_ADDRESSES", "yes"),
            ("COMPUTE_MARKET__FETCH__TOTAL_TIMEOUT", "5s"),
            ("UNRELATED", "x"),
        ],
    )
    .expect("loads");
    assert!(s.gpu.allow_cpu);
    assert_eq!(s.gpu.workers, 5);
    assert!(
        s.gpu.adapters.is_empty(),
        "an empty variable empties the list"
    );
    assert_eq!(s.rpc_urls, vec!["https://a.example", "https://b.example"]);
    assert_eq!(s.job_timeout, Duration::from_secs(90));
    assert_eq!(s.metrics_addr, Some("0.0.0.0:9000".parse().expect("addr")));
    assert_eq!(s.log_format, LogFormat::Text);
    assert_eq!(s.min_reward, 77);
    assert!(s.ws_urls.is_empty(), "an empty variable empties a list");
    assert_eq!(s.max_jobs_per_client, 4, "from the file");
    assert_eq!(s.max_concurrent_jobs, 2, "the default");
    assert_eq!(s.fetch.schemes, vec![Scheme::Https, Scheme::File]);
    assert_eq!(
        s.fetch.file_roots,
        vec![PathBuf::from("/srv/a"), PathBuf::from("/srv/b")]
    );
    assert!(s.fetch.allow_private_addresses);
    assert_eq!(s.fetch.total_timeout, Duration::from_secs(5));
}

#[test]
fn environment_alone_without_file() {
    let s = Settings::load_from(
        None,
        env(&[
            ("COMPUTE_MARKET__MARKET", MARKET),
            ("COMPUTE_MARKET__RPC_URLS", "http://localhost:8899"),
            ("COMPUTE_MARKET__STORE", "s3://bucket/prefix"),
        ]),
    )
    .expect("loads");
    assert_eq!(s.market, MARKET);
    assert_eq!(s.source, None);
    assert_eq!(s.max_concurrent_jobs, 2);
}

#[test]
fn missing_file() {
    let err = Settings::load_from(Some(Path::new("/nonexistent/provider.toml")), env(&[]))
        .expect_err("missing");
    assert!(matches!(err, SettingsError::FileNotFound { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/provider.toml"));
}

#[test]
fn syntax_error_names_line() {
    let err = load(&format!("{}\n\nmin_reward = = 3\n", minimal()), &[]).expect_err("syntax");
    match &err {
        SettingsError::Syntax { line, .. } => assert_eq!(*line, 6, "{err}"),
        other => panic!("wrong error: {other}"),
    }
    assert!(err.to_string().contains("line 6"), "{err}");
}

#[test]
fn unknown_keys_refused() {
    let err = load(&format!("{}max_jobs = 3\n", minimal()), &[]).expect_err("unknown");
    assert!(
        matches!(&err, SettingsError::UnknownKey { key, .. } if key == "max_jobs"),
        "{err}"
    );
    assert!(err.to_string().contains("max_jobs"));
    // The message lists the keys accepted where the unknown one was found.
    assert!(err.to_string().contains("max_jobs_per_client"), "{err}");
    assert!(err.to_string().contains("settings file"), "{err}");
    let err = load(&format!("{}[gpu]\nthreads = 3\n", minimal()), &[]).expect_err("unknown");
    assert!(
        matches!(&err, SettingsError::UnknownKey { key, .. } if key == "gpu.threads"),
        "{err}"
    );
    assert!(err.to_string().contains("known keys in [gpu]"), "{err}");
    assert!(err.to_string().contains("allow_cpu"), "{err}");
    let err = load(&format!("{}[gpux]\nworkers = 3\n", minimal()), &[]).expect_err("unknown");
    assert!(
        matches!(&err, SettingsError::UnknownKey { key, .. } if key == "gpux"),
        "{err}"
    );
    let err = load(&minimal(), &[("COMPUTE_MARKET__GPU__THREADS", "3")]).expect_err("env");
    assert!(
        matches!(&err, SettingsError::UnknownKey { key, origin, .. } if key == "gpu.threads" && origin.contains("COMPUTE_MARKET__GPU__THREADS")),
        "{err}"
    );
    assert!(err.to_string().contains("workers"), "{err}");
    for var in ["COMPUTE_MARKET__GPUX", "COMPUTE_MARKET__GPU__THREADS__MAX"] {
        let err = load(&minimal(), &[(var, "3")]).expect_err(var);
        assert!(
            matches!(&err, SettingsError::UnknownKey { origin, .. } if origin.contains(var)),
            "{var}: {err}"
        );
    }
    // A key below a key that is not a section.
    let var = "COMPUTE_MARKET__GPU__WORKERS__MAX";
    let err = load(&minimal(), &[(var, "3")]).expect_err(var);
    assert!(err.to_string().contains(var), "{err}");
}

#[test]
fn wrong_types_are_reported_with_the_key() {
    let err = load(&format!("{}job_timeout = \"soon\"\n", minimal()), &[]).expect_err("type");
    assert!(matches!(err, SettingsError::InvalidValue { .. }), "{err}");
    assert!(err.to_string().contains("job_timeout"), "{err}");
    let err = load(&format!("{}log_format = \"xml\"\n", minimal()), &[]).expect_err("enum");
    assert!(err.to_string().contains("log_format"), "{err}");
    let err = load(&minimal(), &[("COMPUTE_MARKET__GPU__WORKERS", "many")]).expect_err("env type");
    assert!(
        matches!(&err, SettingsError::InvalidValue { origin, key, .. } if origin == "environment variable COMPUTE_MARKET__GPU__WORKERS" && key == "gpu.workers"),
        "{err}"
    );
    assert!(err.to_string().contains("many"), "{err}");
    let err = load(&minimal(), &[("COMPUTE_MARKET__POLL_INTERVAL", "often")]).expect_err("dur");
    assert!(
        matches!(&err, SettingsError::InvalidValue { key, .. } if key == "poll_interval"),
        "{err}"
    );
    let err = load(&minimal(), &[("COMPUTE_MARKET__GPU__ALLOW_CPU", "maybe")]).expect_err("bool");
    assert!(matches!(err, SettingsError::InvalidValue { .. }), "{err}");
    // Only optional keys and lists can be emptied.
    let err = load(&minimal(), &[("COMPUTE_MARKET__GPU__WORKERS", "")]).expect_err("empty");
    assert!(
        matches!(&err, SettingsError::InvalidValue { origin, .. } if origin.contains("COMPUTE_MARKET__GPU__WORKERS")),
        "{err}"
    );
    assert!(err.to_string().contains("empty value"), "{err}");
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        let vars = vec![(
            OsString::from("COMPUTE_MARKET__STORE"),
            OsString::from_vec(vec![0x66, 0xff]),
        )];
        let f = file(&minimal());
        let err = Settings::load_from(Some(f.path()), vars).expect_err("not UTF-8");
        assert!(
            matches!(&err, SettingsError::InvalidValue { origin, key, .. } if origin.contains("COMPUTE_MARKET__STORE") && key == "store"),
            "{err}"
        );
    }
}

#[test]
fn missing_market() {
    let err = load(
        "rpc_urls = [\"http://x\"]\nstore = \"file:///tmp/b\"\n",
        &[],
    )
    .expect_err("no market");
    assert!(matches!(err, SettingsError::MissingMarket { .. }), "{err}");
    assert!(err.to_string().contains("market"));
}

#[test]
fn bad_market_address() {
    for bad in [
        "not-base58-0OIl",
        "abc",
        "1111111111111111111111111111111111111111111111",
    ] {
        let err = load(&minimal(), &[("COMPUTE_MARKET__MARKET", bad)]).expect_err(bad);
        assert!(
            matches!(err, SettingsError::InvalidMarket { .. }),
            "{bad}: {err}"
        );
    }
}

#[test]
fn empty_rpc_urls() {
    let text = format!("market = \"{MARKET}\"\nstore = \"file:///tmp/b\"\nrpc_urls = []\n");
    let err = load(&text, &[]).expect_err("empty");
    assert!(matches!(err, SettingsError::EmptyRpcUrls { .. }), "{err}");
}

#[test]
fn non_http_rpc_url() {
    for bad in ["ws://127.0.0.1:8900", "127.0.0.1:8899", "ftp://x"] {
        let err = load(&minimal(), &[("COMPUTE_MARKET__RPC_URLS", bad)]).expect_err(bad);
        assert!(
            matches!(err, SettingsError::InvalidRpcUrl { .. }),
            "{bad}: {err}"
        );
    }
    let err = load(&minimal(), &[("COMPUTE_MARKET__WS_URLS", "http://x")]).expect_err("ws");
    assert!(matches!(err, SettingsError::InvalidWsUrl { .. }), "{err}");
}

#[test]
fn store_is_required_and_checked() {
    let text = format!("rpc_urls = [\"http://x\"]\nmarket = \"{MARKET}\"\n");
    let err = load(&text, &[]).expect_err("no store");
    assert!(matches!(err, SettingsError::MissingStore { .. }), "{err}");
    // An empty variable does not unset a required key: it is refused, naming the variable.
    let err = load(&minimal(), &[("COMPUTE_MARKET__STORE", "")]).expect_err("empty store");
    assert!(
        matches!(&err, SettingsError::InvalidValue { origin, .. } if origin.contains("COMPUTE_MARKET__STORE")),
        "{err}"
    );
    let err = load(&minimal(), &[("COMPUTE_MARKET__STORE", "gopher://x/y")]).expect_err("bad");
    assert!(matches!(err, SettingsError::InvalidStore { .. }), "{err}");
}

#[test]
fn zero_limits() {
    let err = load(&format!("{}max_concurrent_jobs = 0\n", minimal()), &[]).expect_err("0");
    assert!(
        matches!(err, SettingsError::ZeroMaxConcurrentJobs { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("max_concurrent_jobs"));
    let err = load(&format!("{}[gpu]\nworkers = 0\n", minimal()), &[]).expect_err("0");
    assert!(matches!(err, SettingsError::ZeroWorkers { .. }), "{err}");
    assert!(err.to_string().contains("gpu.workers"));
    for (line, key) in [
        ("max_dispatches = 0", "gpu.max_dispatches"),
        ("max_dispatches = 16385", "gpu.max_dispatches"),
        ("max_job_memory_bytes = 2", "gpu.max_job_memory_bytes"),
        (
            "max_job_memory_bytes = 1073741825",
            "gpu.max_job_memory_bytes",
        ),
    ] {
        let err = load(&format!("{}[gpu]\n{line}\n", minimal()), &[]).expect_err(line);
        assert!(
            matches!(&err, SettingsError::InvalidValue { key: k, .. } if k == key),
            "{err}"
        );
    }
    let err = load(&format!("{}poll_interval = \"0s\"\n", minimal()), &[]).expect_err("0");
    assert!(
        matches!(
            err,
            SettingsError::ZeroDuration {
                key: "poll_interval",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn fetch_settings_are_checked() {
    let err = load(
        &format!("{}[fetch]\nschemes = [\"file\"]\n", minimal()),
        &[],
    )
    .expect_err("no roots");
    assert!(
        matches!(err, SettingsError::MissingFileRoots { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("fetch.file_roots"), "{err}");
    let err = load(
        &minimal(),
        &[
            ("COMPUTE_MARKET__FETCH__SCHEMES", "https,file"),
            ("COMPUTE_MARKET__FETCH__FILE_ROOTS", "blobs"),
        ],
    )
    .expect_err("relative root");
    assert!(
        matches!(&err, SettingsError::RelativeFileRoot { path, .. } if path == Path::new("blobs")),
        "{err}"
    );
    let err = load(&format!("{}[fetch]\nmax_per_host = 0\n", minimal()), &[]).expect_err("0");
    assert!(matches!(err, SettingsError::ZeroMaxPerHost { .. }), "{err}");
    let err = load(
        &format!("{}[fetch]\ntotal_timeout = \"0s\"\n", minimal()),
        &[],
    )
    .expect_err("0s");
    assert!(
        matches!(
            err,
            SettingsError::ZeroDuration {
                key: "fetch.total_timeout",
                ..
            }
        ),
        "{err}"
    );
    let err = load(&format!("{}[fetch]\nschemes = [\"ftp\"]\n", minimal()), &[]).expect_err("ftp");
    assert!(matches!(err, SettingsError::InvalidValue { .. }), "{err}");
    assert!(err.to_string().contains("ftp"), "{err}");
    let err =
        load(&minimal(), &[("COMPUTE_MARKET__FETCH__SCHEMES", "gopher")]).expect_err("env ftp");
    assert!(err.to_string().contains("gopher"), "{err}");
    // `~/` in a root is expanded like the other paths.
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        let s = load(
            &format!(
                "{}[fetch]\nschemes = [\"file\"]\nfile_roots = [\"~/blobs\"]\n",
                minimal()
            ),
            &[],
        )
        .expect("loads");
        assert_eq!(s.fetch.file_roots, vec![PathBuf::from(home).join("blobs")]);
    }
}

#[test]
fn sandbox_section_parses_overrides_and_converts() {
    let text = format!(
        "{}[sandbox]\npass_env = [\"__NV_*\"]\nmax_address_space_bytes = 0\n\
         max_open_files = 4096\nmax_cpu_time = \"2h\"\nisolate_network = true\n",
        minimal()
    );
    let s = load(
        &text,
        &[
            (
                "COMPUTE_MARKET__SANDBOX__PASS_ENV",
                "CUDA_CACHE_PATH, __NV_*",
            ),
            ("COMPUTE_MARKET__SANDBOX__ISOLATE_NETWORK", "false"),
        ],
    )
    .expect("loads");
    assert_eq!(
        s.sandbox,
        SandboxSettings {
            pass_env: vec!["CUDA_CACHE_PATH".into(), "__NV_*".into()],
            max_address_space_bytes: 0,
            max_open_files: 4096,
            max_cpu_time: Duration::from_secs(7200),
            isolate_network: false,
        }
    );
    let config = crate::gpu::SandboxConfig::from(&s.sandbox);
    assert_eq!(config.max_address_space, None);
    assert!(config.passes("__NV_PRIME_RENDER_OFFLOAD".as_ref()));
    let defaults = crate::gpu::SandboxConfig::from(&SandboxSettings::default());
    assert_eq!(defaults, crate::gpu::SandboxConfig::default());
}

#[test]
fn sandbox_limits_a_worker_cannot_live_with_are_refused() {
    for (edit, key) in [
        ("max_open_files = 10", "sandbox.max_open_files"),
        (
            "max_address_space_bytes = 1000",
            "sandbox.max_address_space_bytes",
        ),
        ("max_cpu_time = \"10s\"", "sandbox.max_cpu_time"),
    ] {
        let err = load(&format!("{}[sandbox]\n{edit}\n", minimal()), &[]).expect_err(edit);
        assert!(
            matches!(&err, SettingsError::SandboxLimitTooLow { key: k, .. } if *k == key),
            "{edit}: {err}"
        );
        assert!(err.to_string().contains(key), "{err}");
    }
    for entry in ["*", "A-B", "", "X*Y"] {
        let err = load(
            &format!("{}[sandbox]\npass_env = [\"{entry}\"]\n", minimal()),
            &[],
        )
        .expect_err(entry);
        assert!(
            matches!(&err, SettingsError::InvalidPassEnv { entry: e, .. } if e == entry),
            "{entry}: {err}"
        );
    }
}

#[test]
fn fault_section_parses_but_needs_the_feature() {
    let text = format!(
        "{}[fault]\nlie = true\ncrash_after = \"commit_sent\"\n",
        minimal()
    );
    let parsed = Settings::from_toml_str(&text, Path::new("t.toml")).expect("parses");
    assert!(parsed.fault.lie);
    assert_eq!(parsed.fault.crash_after, Some(CrashPoint::CommitSent));
    let result = load(&text, &[]);
    if cfg!(feature = "fault-injection") {
        assert!(result.is_ok());
    } else {
        let err = result.expect_err("refused");
        assert!(
            matches!(
                err,
                SettingsError::FaultInjectionDisabled {
                    key: "fault.lie",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("fault-injection"));
    }
    let err = Settings::from_toml_str(
        &format!("{}[fault]\ncrash_after = \"never\"\n", minimal()),
        Path::new("t.toml"),
    )
    .expect_err("bad crash point");
    assert!(matches!(err, SettingsError::InvalidValue { .. }), "{err}");
    // Disabled faults are fine in any build.
    load(&format!("{}[fault]\nlie = false\n", minimal()), &[]).expect("disabled fault");
}

#[test]
fn every_key_round_trips() {
    // Every key the structs write, read back through the same layering, gives the same
    // settings: serialization and deserialization (list keys included) agree.
    let mut settings = Settings {
        rpc_urls: vec!["http://a".into(), "http://b".into()],
        metrics_addr: Some("127.0.0.1:1".parse().expect("addr")),
        priority_fee_micro_lamports: Some(1),
        max_priority_fee_micro_lamports: Some(2),
        log_format: LogFormat::Json,
        ..Settings::default()
    };
    settings.gpu.adapters = vec!["y".into()];
    settings.fetch.schemes = vec![Scheme::File];
    settings.fetch.file_roots = vec![PathBuf::from("/p")];
    settings.fault.crash_after = Some(CrashPoint::RevealSent);
    let figment = figment::Figment::from(figment::providers::Serialized::defaults(&settings));
    let back: Settings = figment.extract().expect("round trip");
    assert_eq!(back, settings);
    assert_eq!(known_keys().len(), 43, "{:?}", known_keys());
}

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml")
}

#[test]
fn example_config_parses_and_validates() {
    let s = Settings::load_from(Some(&example_path()), env(&[])).expect("example loads");
    // The example shows the defaults, so apart from the required keys it equals them.
    let defaults = Settings {
        rpc_urls: s.rpc_urls.clone(),
        market: s.market.clone(),
        store: s.store.clone(),
        keypair_path: s.keypair_path.clone(),
        source: s.source.clone(),
        ..Settings::default()
    };
    assert_eq!(s, defaults);
}

#[test]
fn example_documents_every_key() {
    let text = std::fs::read_to_string(example_path()).expect("read example");
    let keys = known_keys();
    let mut sections = std::collections::BTreeSet::new();
    for dotted in &keys {
        let (section, key) = dotted.split_once('.').unwrap_or(("", dotted));
        // Optional keys are shown commented out, so look for `key =` anywhere.
        assert!(
            text.contains(&format!("{key} =")),
            "config.example.toml does not document `{dotted}`"
        );
        if !section.is_empty() {
            sections.insert(section);
        }
    }
    assert_eq!(sections.len(), 4, "{sections:?}");
    for section in sections {
        assert!(
            text.contains(&format!("[{section}]")),
            "missing [{section}]"
        );
    }
}

#[test]
fn tilde_expansion() {
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        assert_eq!(
            expand_home(Path::new("~/a/b")),
            PathBuf::from(&home).join("a/b")
        );
        assert_eq!(expand_home(Path::new("~")), PathBuf::from(&home));
    }
    assert_eq!(expand_home(Path::new("/abs/~")), PathBuf::from("/abs/~"));
    assert_eq!(expand_home(Path::new("rel")), PathBuf::from("rel"));
}

#[test]
fn known_keys_lists_sections() {
    let keys = known_keys();
    assert!(keys.contains("gpu.allow_cpu"));
    assert!(keys.contains("fault.crash_after"));
    assert!(keys.contains("fetch.file_roots"));
    assert!(keys.contains("market"));
    // The names `as_str` gives are those the settings accept.
    for point in CrashPoint::ALL {
        let text = format!("[fault]\ncrash_after = \"{point}\"\n");
        let s = Settings::from_toml_str(&text, Path::new("t.toml")).expect("crash point");
        assert_eq!(s.fault.crash_after, Some(point));
    }
    for format in [LogFormat::Auto, LogFormat::Json, LogFormat::Text] {
        let text = format!("log_format = \"{format}\"\n");
        let s = Settings::from_toml_str(&text, Path::new("t.toml")).expect("log format");
        assert_eq!(s.log_format, format);
    }
}
