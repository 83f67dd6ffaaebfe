//! The committed IDL (`idl/compute_market.json`) is what explorers and generic decoders read:
//! it must match the program. Regenerate with
//! `UPDATE_IDL=1 cargo test -p compute-market-tests --test idl`.

use std::path::Path;

#[test]
fn committed_idl_matches_the_program() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let program_dir = root.join("programs/compute-market");
    // rustup sets RUSTUP_TOOLCHAIN for child processes, and anchor-lang-idl would pass it on as
    // a literal `+{toolchain}` argument: remove it so the workspace's rust-toolchain.toml applies.
    let idl = {
        // SAFETY: this test binary runs this one test; no other thread reads the environment.
        unsafe { std::env::remove_var("RUSTUP_TOOLCHAIN") };
        anchor_lang_idl::build::IdlBuilder::new()
            .program_path(program_dir)
            // Its own target dir: the IDL build sets RUSTFLAGS, which would otherwise
            // invalidate the main build's cache. `--lib`: only the unit tests print the IDL.
            .cargo_args(vec![
                "--lib".into(),
                "--target-dir".into(),
                root.join("target/idl").display().to_string(),
            ])
            .build()
            .expect("IDL build (set ANCHOR_LOG=true to see cargo's output)")
    };
    let generated = serde_json::to_string_pretty(&idl).unwrap() + "\n";
    let committed_path = root.join("idl/compute_market.json");
    if std::env::var_os("UPDATE_IDL").is_some() {
        std::fs::write(&committed_path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    assert!(
        committed == generated,
        "idl/compute_market.json is stale: run `UPDATE_IDL=1 cargo test -p compute-market-tests --test idl` and commit it"
    );
}
