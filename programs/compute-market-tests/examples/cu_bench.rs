//! Compute units of every instruction, measured on the SBF binary in LiteSVM.
//!
//!     scripts/build-sbf.sh && cargo run -p compute-market-tests --example cu_bench [-- --write]
//!
//! Prints a Markdown table; `--write` replaces the table in BENCHMARKS.md.

#![allow(
    clippy::result_large_err,
    reason = "the harness returns LiteSVM's own result type, errors and logs intact"
)]

#[allow(dead_code, reason = "the harness serves the tests too")]
#[path = "../tests/program/harness.rs"]
mod harness;

use harness::*;
use litesvm::types::TransactionMetadata;

struct Row {
    instruction: &'static str,
    case: &'static str,
    cu: u64,
}

fn cu(meta: TransactionMetadata) -> u64 {
    meta.compute_units_consumed
}

fn main() {
    let mut rows: Vec<Row> = vec![];
    let mut row = |instruction, case, cu| {
        rows.push(Row {
            instruction,
            case,
            cu,
        })
    };

    // Market.
    let mut h = Harness::new();
    let mint = h.create_mint();
    h.mint = mint;
    h.market = market_pda(&mint);
    h.treasury = h.create_token_account(&h.payer.pubkey());
    row(
        "market_init",
        "",
        cu(h.market_init(&market_args()).unwrap()),
    );
    let auth = h.authority.insecure_clone();
    let pause = compute_market::MarketUpdateArgs {
        fee_bps: Some(400),
        ..Default::default()
    };
    row(
        "market_update",
        "fee change",
        cu(h.market_update(&auth, pause, None).unwrap()),
    );

    // Provider.
    let mut h = Harness::new();
    let wallet = h.wallet(2 * MIN_STAKE);
    let provider = provider_pda(&h.market, &wallet.pubkey());
    let p = ProviderActor {
        vault: stake_pda(&provider),
        provider,
        wallet,
    };
    row(
        "provider_register",
        "with stake",
        cu(h.provider_register(&p, MIN_STAKE, caps()).unwrap()),
    );
    let ix = h.stake_ix(&p, MIN_STAKE);
    row(
        "provider_stake",
        "",
        cu(h.send(&[ix], &[&p.wallet.key]).unwrap()),
    );
    let ix = h.unstake_ix(&p, 10);
    row(
        "provider_unstake",
        "",
        cu(h.send(&[ix], &[&p.wallet.key]).unwrap()),
    );
    h.warp(UNBONDING);
    let ix = h.withdraw_ix(&p);
    row(
        "provider_withdraw",
        "",
        cu(h.send(&[ix], &[&p.wallet.key]).unwrap()),
    );
    let ix = h.provider_update_ix(
        &p,
        compute_market::ProviderUpdateArgs {
            capabilities: Some(caps()),
            status: None,
        },
    );
    row(
        "provider_update",
        "capabilities",
        cu(h.send(&[ix], &[&p.wallet.key]).unwrap()),
    );

    // One replica: post + claim + submit, then close; cancel and expiry.
    let client = h.wallet(100_000_000);
    let args = h.job_args(1, 1);
    let (ix, job) = h.post_ix(&client, &args);
    let post1 = cu(h.send(&[ix], &[&client.key]).unwrap());
    let claim1 = cu(h.claim(&p, &job).unwrap());
    let submit = cu(h.submit(&p, &job, [1; 32]).unwrap());
    row("job_post", "n = 1", post1);
    row("job_claim", "n = 1", claim1);
    row("job_submit", "n = 1, pays and settles", submit);
    let ix = h.close_ix(&client.pubkey(), &job);
    row("job_close", "", cu(h.send(&[ix], &[&client.key]).unwrap()));
    let args = h.job_args(1, 1);
    let job = h.post(&client, &args).unwrap();
    let ix = h.cancel_ix(&client, &job);
    row("job_cancel", "", cu(h.send(&[ix], &[&client.key]).unwrap()));
    let args = h.job_args(1, 1);
    let job = h.post(&client, &args).unwrap();
    h.claim(&p, &job).unwrap();
    let deadline = h.job(&job).commit_deadline;
    h.warp_to(deadline + 1);
    row(
        "job_expire",
        "n = 1, claimer slashed",
        cu(h.expire(&job).unwrap()),
    );

    // Three replicas, quorum two: post + 3 claims + 3 commits + 3 reveals + finalize.
    let mut h = Harness::new();
    let client = h.wallet(100_000_000);
    let ps: Vec<_> = (0..3).map(|_| h.new_provider()).collect();
    let args = h.job_args(3, 2);
    let (ix, job) = h.post_ix(&client, &args);
    let post3 = cu(h.send(&[ix], &[&client.key]).unwrap());
    let mut total3 = post3;
    let (mut claim, mut commit, mut reveal) = (0, 0, 0);
    for p in &ps {
        claim = cu(h.claim(p, &job).unwrap());
        total3 += claim;
    }
    for (i, p) in ps.iter().enumerate() {
        commit = cu(h.commit(p, &job, [9; 32], [i as u8; 32]).unwrap());
        total3 += commit;
    }
    for (i, p) in ps.iter().enumerate() {
        reveal = cu(h.reveal(p, &job, [9; 32], [i as u8; 32]).unwrap());
        total3 += reveal;
    }
    let finalize = cu(h.finalize(&job).unwrap());
    total3 += finalize;
    row("job_post", "n = 3", post3);
    row("job_claim", "n = 3, last slot", claim);
    row("job_commit", "n = 3, last commit", commit);
    row("job_reveal", "n = 3, last reveal", reveal);
    row("job_finalize", "n = 3, all agree (3 paid)", finalize);

    // Finalize with a liar (2 paid, 1 slashed).
    let args = h.job_args(3, 2);
    let job = h.post(&client, &args).unwrap();
    for p in &ps {
        h.claim(p, &job).unwrap();
    }
    for (i, p) in ps.iter().enumerate() {
        h.commit(p, &job, [i.min(1) as u8; 32], [i as u8; 32])
            .unwrap();
    }
    for (i, p) in ps.iter().enumerate() {
        let _ = h.reveal(p, &job, [i.min(1) as u8; 32], [i as u8; 32]);
    }
    // Hashes: provider 0 reveals [0;32], providers 1 and 2 reveal [1;32].
    row(
        "job_finalize",
        "n = 3, one liar slashed",
        cu(h.finalize(&job).unwrap()),
    );

    let total1 = post1 + claim1 + submit;
    let mut table = String::from("| instruction | case | compute units |\n|---|---|---:|\n");
    for r in &rows {
        table += &format!("| `{}` | {} | {} |\n", r.instruction, r.case, r.cu);
    }
    table += &format!("| **n = 1 lifecycle** | post + claim + submit | **{total1}** |\n");
    table += &format!(
        "| **n = 3 lifecycle** | post + 3 claims + 3 commits + 3 reveals + finalize | **{total3}** |\n"
    );
    print!("{table}");

    if std::env::args().any(|a| a == "--write") {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../BENCHMARKS.md");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let (begin, end) = ("<!-- cu-table:begin -->", "<!-- cu-table:end -->");
        let updated = match (text.find(begin), text.find(end)) {
            (Some(b), Some(e)) => format!("{}{begin}\n{table}{}", &text[..b], &text[e..]),
            _ => format!("{text}\n{begin}\n{table}{end}\n"),
        };
        std::fs::write(&path, updated).unwrap();
        eprintln!("updated {}", path.display());
    }
}
