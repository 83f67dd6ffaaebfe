//! No write lock shared by every job: the job path (post, claim, commit, reveal, submit,
//! finalize, expire, give back) never writes the market, its treasury or the payment mint, so
//! jobs never contend with each other. Checked on the SDK's instructions and on the committed
//! IDL (what explorers and other clients build from).

use crate::harness::*;
use compute_market::JobRevealArgs;
use serde_json::Value;

/// The instructions of the job path.
const JOB_PATH: [&str; 8] = [
    "job_post",
    "job_claim",
    "job_commit",
    "job_reveal",
    "job_submit",
    "job_finalize",
    "job_expire",
    "job_give_back",
];

/// Accounts every job shares.
const SHARED: [&str; 3] = ["market", "treasury", "payment_mint"];

/// Every job-path instruction, built by the SDK for real jobs.
fn job_path_instructions(h: &mut Harness) -> Vec<(&'static str, Instruction)> {
    let client = h.wallet(10_000_000);
    let ps = h.providers(3);
    let single = h.claimed_job(&client, &ps[..1], 1, 1);
    let replicated = h.claimed_job(&client, &ps, 3, 2);
    let args = h.job_args(1, 1);
    let (post, _) = h.post_ix(&client, &args);
    let (p, cranker) = (&ps[0], h.payer.pubkey());
    let reveal = JobRevealArgs {
        result_hash: [1; 32],
        salt: [2; 32],
        result_uri: "file:///r".into(),
    };
    vec![
        ("job_post", post),
        ("job_claim", h.claim_ix(&ps[1], &single)),
        ("job_commit", h.commit_ix(p, &replicated, [0; 32])),
        ("job_reveal", h.reveal_ix(p, &replicated, reveal)),
        ("job_submit", h.submit_ix(p, &single, [1; 32])),
        ("job_finalize", h.finalize_ix(&replicated, &cranker)),
        ("job_expire", h.expire_ix(&replicated, &cranker)),
        ("job_give_back", h.give_back_ix(p, &single)),
    ]
}

#[test]
fn the_sdk_never_write_locks_the_market_the_treasury_or_the_mint() {
    let mut h = Harness::new();
    let shared = [h.market, h.treasury, h.mint];
    let ixs = job_path_instructions(&mut h);
    assert_eq!(ixs.iter().map(|(n, _)| *n).collect::<Vec<_>>(), JOB_PATH);
    for (name, ix) in &ixs {
        for meta in &ix.accounts {
            assert!(
                !(shared.contains(&meta.pubkey) && meta.is_writable),
                "{name} write-locks {}",
                meta.pubkey
            );
        }
    }
}

/// The committed IDL's instructions, by name.
fn idl_instructions() -> Vec<Value> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../idl/compute_market.json");
    let text = std::fs::read_to_string(&path).expect("idl/compute_market.json");
    let idl: Value = serde_json::from_str(&text).expect("the IDL is JSON");
    idl["instructions"]
        .as_array()
        .expect("instructions")
        .clone()
}

/// Names of the writable accounts of an IDL instruction (composite account groups included).
fn writable_accounts(accounts: &Value, out: &mut Vec<String>) {
    for account in accounts.as_array().into_iter().flatten() {
        if let Some(nested) = account.get("accounts") {
            writable_accounts(nested, out);
        } else if account["writable"].as_bool() == Some(true) {
            out.push(account["name"].as_str().unwrap_or_default().to_string());
        }
    }
}

#[test]
fn the_idl_never_write_locks_the_market_the_treasury_or_the_mint() {
    for ix in idl_instructions() {
        let name = ix["name"].as_str().unwrap_or_default();
        if !JOB_PATH.contains(&name) {
            continue;
        }
        let mut writable = vec![];
        writable_accounts(&ix["accounts"], &mut writable);
        for shared in SHARED {
            assert!(
                !writable.iter().any(|w| w == shared),
                "the IDL makes {shared} writable in {name}"
            );
        }
    }
}

#[test]
fn the_idl_lists_every_job_path_instruction() {
    let names: Vec<String> = idl_instructions()
        .iter()
        .filter_map(|ix| ix["name"].as_str().map(str::to_string))
        .collect();
    let missing: Vec<&str> = JOB_PATH
        .into_iter()
        .filter(|n| !names.iter().any(|m| m == n))
        .collect();
    assert!(
        missing.is_empty(),
        "idl/compute_market.json lacks {missing:?}: regenerate it with \
         `UPDATE_IDL=1 cargo test -p compute-market-tests --test idl`"
    );
}
