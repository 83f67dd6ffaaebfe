//! Compute units of every instruction, and the size and cost of settlements of every size,
//! measured on the SBF binary in LiteSVM.
//!
//!     scripts/build-sbf.sh && cargo run -p compute-market-tests --example cu_bench [-- --write]
//!
//! Prints two Markdown tables; `--write` replaces them in BENCHMARKS.md.

#![allow(
    clippy::result_large_err,
    reason = "the harness returns LiteSVM's own result type, errors and logs intact"
)]

#[allow(dead_code, reason = "the harness serves the tests too")]
#[path = "../tests/program/harness/mod.rs"]
mod harness;

use harness::*;
use litesvm::types::TransactionMetadata;

struct Row {
    instruction: &'static str,
    case: &'static str,
    cu: u64,
}

#[derive(Default)]
struct Rows(Vec<Row>);

impl Rows {
    fn add(&mut self, instruction: &'static str, case: &'static str, meta: TransactionMetadata) {
        self.0.push(Row {
            instruction,
            case,
            cu: meta.compute_units_consumed,
        });
    }
}

fn market(rows: &mut Rows) {
    let mut h = Harness::bare();
    h.mint = h.create_mint();
    rows.add("market_init", "", h.open_market(&market_args()).unwrap());
    let auth = h.authority.insecure_clone();
    let fee = compute_market::MarketUpdateArgs {
        fee_bps: Some(400),
        ..Default::default()
    };
    rows.add(
        "market_update",
        "fee change",
        h.market_update(&auth, fee).unwrap(),
    );
    let next = h.wallet(0);
    let propose = compute_market::MarketUpdateArgs {
        new_authority: Some(next.pubkey()),
        ..Default::default()
    };
    h.market_update(&auth, propose).unwrap();
    rows.add(
        "market_accept_authority",
        "",
        h.accept_authority(&next.key).unwrap(),
    );
    // Fees to withdraw: one paid job, swept.
    let ClaimedJob {
        provider: p, job, ..
    } = h.claimed_single_job();
    h.submit(&p, &job, [1; 32]).unwrap();
    h.sweep(&p.provider).unwrap();
    let dest = h.create_token_account(&next.pubkey());
    let meta = h.withdraw_fees(&next.key, &dest, 1).unwrap();
    rows.add("market_withdraw_fees", "", meta);
}

fn provider(rows: &mut Rows) -> (Harness, ProviderActor) {
    let mut h = Harness::new();
    let wallet = h.wallet(2 * MIN_STAKE);
    let p = ProviderActor::of(&h.market, wallet);
    let meta = h.provider_register(&p, MIN_STAKE, caps()).unwrap();
    rows.add("provider_register", "with stake", meta);
    let ix = h.stake_ix(&p, MIN_STAKE);
    rows.add(
        "provider_stake",
        "",
        h.send(&[ix], &[&p.wallet.key]).unwrap(),
    );
    let ix = h.unstake_ix(&p, 10);
    rows.add(
        "provider_unstake",
        "",
        h.send(&[ix], &[&p.wallet.key]).unwrap(),
    );
    h.warp(UNBONDING);
    let ix = h.withdraw_ix(&p);
    rows.add(
        "provider_withdraw",
        "",
        h.send(&[ix], &[&p.wallet.key]).unwrap(),
    );
    let update = compute_market::ProviderUpdateArgs {
        capabilities: Some(caps()),
        capacity: Some(compute_market::state::Capacity {
            devices: 4,
            max_concurrent_jobs: 8,
        }),
        status: None,
    };
    let ix = h.provider_update_ix(&p, update);
    let meta = h.send(&[ix], &[&p.wallet.key]).unwrap();
    rows.add("provider_update", "capabilities", meta);
    (h, p)
}

/// One replica: post + claim + submit, withdrawals, close; cancel, give-back and expiry.
/// Returns the lifecycle's total.
fn single(rows: &mut Rows, h: &mut Harness, p: &ProviderActor) -> u64 {
    let client = h.wallet(100_000_000);
    let args = h.job_args(1, 1);
    let (ix, job) = h.post_ix(&client, &args);
    let post = h.send(&[ix], &[&client.key]).unwrap();
    let claim = h.claim(p, &job).unwrap();
    let submit = h.submit(p, &job, [1; 32]).unwrap();
    let total = [&post, &claim, &submit]
        .iter()
        .map(|m| m.compute_units_consumed)
        .sum();
    rows.add("job_post", "n = 1", post);
    rows.add("job_claim", "n = 1", claim);
    rows.add("job_submit", "n = 1, credits and settles", submit);
    let dest = p.wallet.token;
    rows.add(
        "provider_withdraw_earnings",
        "",
        h.withdraw_earnings(p, &dest).unwrap(),
    );
    rows.add("provider_sweep", "fees only", h.sweep(&p.provider).unwrap());
    let meta = h.close(&client, &job, &client.token).unwrap();
    rows.add("job_close", "nothing to refund, tombstone", meta);
    let args = h.job_args(1, 1);
    let job = h.post(&client, &args).unwrap();
    let meta = h.cancel(&client, &job, &client.token).unwrap();
    rows.add("job_cancel", "full refund, tombstone", meta);
    let args = h.job_args(1, 1);
    let job = h.post(&client, &args).unwrap();
    h.claim(p, &job).unwrap();
    rows.add("job_give_back", "", h.give_back(p, &job).unwrap());
    h.claim(p, &job).unwrap();
    let deadline = h.job(&job).commit_deadline;
    h.warp_to(deadline + 1);
    rows.add(
        "job_expire",
        "n = 1, claimer slashed",
        h.expire(&job).unwrap(),
    );
    rows.add("provider_sweep", "burn only", h.sweep(&p.provider).unwrap());
    total
}

/// Three replicas, quorum two: post + 3 claims + 3 commits + 3 reveals + finalize, then a
/// finalize with a liar. Returns the lifecycle's total.
fn replicated(rows: &mut Rows) -> u64 {
    let mut h = Harness::new();
    let client = h.wallet(100_000_000);
    let ps = h.providers(3);
    let args = h.job_args(3, 2);
    let (ix, job) = h.post_ix(&client, &args);
    let post = h.send(&[ix], &[&client.key]).unwrap();
    let mut total = post.compute_units_consumed;
    rows.add("job_post", "n = 3", post);
    let mut last = None;
    for p in &ps {
        let meta = h.claim(p, &job).unwrap();
        total += meta.compute_units_consumed;
        last = Some(meta);
    }
    rows.add("job_claim", "n = 3, last slot", last.take().unwrap());
    for (i, p) in ps.iter().enumerate() {
        let meta = h.commit(p, &job, [9; 32], [i as u8; 32]).unwrap();
        total += meta.compute_units_consumed;
        last = Some(meta);
    }
    rows.add("job_commit", "n = 3, last commit", last.take().unwrap());
    for (i, p) in ps.iter().enumerate() {
        let meta = h.reveal(p, &job, [9; 32], [i as u8; 32]).unwrap();
        total += meta.compute_units_consumed;
        last = Some(meta);
    }
    rows.add("job_reveal", "n = 3, last reveal", last.take().unwrap());
    let finalize = h.finalize(&job).unwrap();
    total += finalize.compute_units_consumed;
    rows.add("job_finalize", "n = 3, all agree (3 paid)", finalize);

    // Provider 0 reveals [0; 32], providers 1 and 2 reveal [1; 32].
    let job = h.claimed_job(&client, &ps, 3, 2);
    for (i, p) in ps.iter().enumerate() {
        h.commit(p, &job, [i.min(1) as u8; 32], [i as u8; 32])
            .unwrap();
    }
    for (i, p) in ps.iter().enumerate() {
        h.reveal(p, &job, [i.min(1) as u8; 32], [i as u8; 32])
            .unwrap();
    }
    rows.add(
        "job_finalize",
        "n = 3, one liar slashed",
        h.finalize(&job).unwrap(),
    );
    total
}

/// A drawn job with the most applicants: the last application and the draw.
fn drawn(rows: &mut Rows) {
    let mut h = Harness::new();
    let (_, job) = h.post_drawn(3, 2);
    let ps = h.providers(compute_market::constants::MAX_APPLICANTS);
    let mut last = None;
    for (i, p) in ps.iter().enumerate() {
        last = Some(h.apply(p, &job, i as u8).unwrap());
    }
    rows.add("job_apply", "16th applicant", last.unwrap());
    h.reach_draw(&job, [7; 32]);
    rows.add("job_draw", "3 of 16 applicants", h.draw(&job).unwrap());
}

fn cu_table(rows: &Rows, total1: u64, total3: u64) -> String {
    let mut table = String::from("| instruction | case | compute units |\n|---|---|---:|\n");
    for r in &rows.0 {
        table += &format!("| `{}` | {} | {} |\n", r.instruction, r.case, r.cu);
    }
    table += &format!("| **n = 1 lifecycle** | post + claim + submit | **{total1}** |\n");
    table += &format!(
        "| **n = 3 lifecycle** | post + 3 claims + 3 commits + 3 reveals + finalize | **{total3}** |\n"
    );
    table
}

/// One row of the settlement table.
fn settlement_row(case: &str, cost: SettleCost) -> String {
    format!(
        "| {} | {case} | {} | {} |\n",
        cost.replicas, cost.bytes, cost.cu
    )
}

/// Settlement size: one legacy transaction (compute-unit limit + settle instruction), every
/// slot paid and every slot slashed, for n = 1, 3, 5, 7.
fn settlement_table() -> String {
    let mut table = String::from("| n | case | tx bytes | CU |\n|---:|---|---:|---:|\n");
    for n in [1, 3, 5, 7] {
        table += &settlement_row("all paid", Harness::new().settle_all_paid(n));
        table += &settlement_row("all slashed", Harness::new().settle_all_slashed(n));
    }
    table
}

fn write_section(text: &str, name: &str, table: &str) -> String {
    let (begin, end) = (
        format!("<!-- {name}:begin -->"),
        format!("<!-- {name}:end -->"),
    );
    match (text.find(&begin), text.find(&end)) {
        (Some(b), Some(e)) => format!("{}{begin}\n{table}{}", &text[..b], &text[e..]),
        _ => format!("{text}\n{begin}\n{table}{end}\n"),
    }
}

fn main() {
    let mut rows = Rows::default();
    market(&mut rows);
    let (mut h, p) = provider(&mut rows);
    let total1 = single(&mut rows, &mut h, &p);
    let total3 = replicated(&mut rows);
    drawn(&mut rows);
    let cu = cu_table(&rows, total1, total3);
    let settlement = settlement_table();
    print!("{cu}\nsettlement size: n, tx bytes, CU\n\n{settlement}");

    if std::env::args().any(|a| a == "--write") {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../BENCHMARKS.md");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let text = write_section(&text, "cu-table", &cu);
        let text = write_section(&text, "settlement-table", &settlement);
        std::fs::write(&path, text).unwrap();
        eprintln!("updated {}", path.display());
    }
}
