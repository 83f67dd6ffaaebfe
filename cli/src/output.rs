//! Human and JSON renderings of jobs, providers and markets.

use compute_market_sdk::{Job, JobStatus, Market, Provider, Pubkey, SlotState};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

use crate::config::Resolved;

/// A spinner on stderr (hidden when stderr is not a terminal).
pub fn spinner(message: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed}]") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar.set_message(message.to_string());
    bar
}

/// `Completed · 3/3 claimed · 3 committed · 3 revealed`.
pub fn progress_line(job: &Job) -> String {
    format!(
        "{:?} · {}/{} claimed · {} committed · {} revealed · quorum {}",
        job.status(),
        job.claimed,
        job.replicas,
        job.committed,
        job.revealed,
        job.quorum
    )
}

fn determinism_note(job: &Job) -> &'static str {
    match job.spec.determinism() {
        compute_market_sdk::Determinism::Exact => "exact (replicas verifiable by hash)",
        compute_market_sdk::Determinism::Float => {
            "float (NOT verifiable by comparing hashes between GPUs)"
        }
    }
}

/// Every field, for people.
pub fn job_text(address: &Pubkey, job: &Job, cfg: &Resolved) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<18} {v}\n"));
    line("job", address.to_string());
    line("explorer", cfg.explorer_address(address));
    line("status", format!("{:?}", job.status()));
    line("market", job.market.to_string());
    line("client", job.client.to_string());
    line("job id", job.job_id.to_string());
    line("escrow", job.escrow.to_string());
    line(
        "shader",
        format!(
            "{} (sha256 {})",
            job.shader_uri(),
            hex::encode(job.spec.shader_hash)
        ),
    );
    line(
        "input",
        format!(
            "{} ({} bytes, sha256 {})",
            if job.input_uri().is_empty() {
                "(empty)"
            } else {
                job.input_uri()
            },
            job.spec.input_len,
            hex::encode(job.spec.input_hash)
        ),
    );
    line("entry point", job.entry_point().to_string());
    line("workgroups", format!("{:?}", job.spec.workgroups));
    line("output", format!("{} bytes", job.spec.output_len));
    line("params", hex::encode(job.spec.params));
    line("determinism", determinism_note(job).to_string());
    line(
        "replicas",
        format!(
            "{} (quorum {}), {} claimed",
            job.replicas, job.quorum, job.claimed
        ),
    );
    line(
        "per replica",
        format!(
            "reward {} + fee {}, collateral {}",
            job.reward_per_replica, job.fee_per_replica, job.collateral_per_replica
        ),
    );
    line("posted at", job.posted_at.to_string());
    line("claim deadline", job.claim_deadline.to_string());
    line("commit deadline", job.commit_deadline.to_string());
    if job.replicas > 1 {
        line("reveal deadline", job.reveal_deadline.to_string());
    }
    if job.status().is_settled() {
        line("settled at", job.settled_at.to_string());
    }
    if job.status() == JobStatus::Completed {
        line("result hash", hex::encode(job.result_hash));
    }
    for (i, slot) in job.active_slots().iter().enumerate() {
        if slot.state() == SlotState::Empty {
            line(&format!("slot {i}"), "empty".into());
            continue;
        }
        let mut v = format!("{:?} by {}", slot.state(), slot.provider);
        if slot.state() == SlotState::Revealed {
            v.push_str(&format!(
                ", result {} at {}",
                hex::encode(slot.result_hash),
                job.result_uri(i)
            ));
        }
        line(&format!("slot {i}"), v);
    }
    out
}

/// Every field, for machines.
pub fn job_value(address: &Pubkey, job: &Job, cfg: &Resolved) -> Value {
    let slots: Vec<Value> = job
        .active_slots()
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({
                "state": format!("{:?}", s.state()),
                "provider": s.provider.to_string(),
                "claimed_at": s.claimed_at,
                "commitment": hex::encode(s.commitment),
                "result_hash": hex::encode(s.result_hash),
                "result_uri": job.result_uri(i),
            })
        })
        .collect();
    json!({
        "address": address.to_string(),
        "explorer": cfg.explorer_address(address),
        "status": format!("{:?}", job.status()),
        "market": job.market.to_string(),
        "client": job.client.to_string(),
        "job_id": job.job_id,
        "escrow": job.escrow.to_string(),
        "shader_uri": job.shader_uri(),
        "shader_sha256": hex::encode(job.spec.shader_hash),
        "input_uri": job.input_uri(),
        "input_sha256": hex::encode(job.spec.input_hash),
        "input_len": job.spec.input_len,
        "output_len": job.spec.output_len,
        "entry_point": job.entry_point(),
        "workgroups": job.spec.workgroups,
        "params": hex::encode(job.spec.params),
        "determinism": format!("{:?}", job.spec.determinism()),
        "replicas": job.replicas,
        "quorum": job.quorum,
        "claimed": job.claimed,
        "committed": job.committed,
        "revealed": job.revealed,
        "reward_per_replica": job.reward_per_replica,
        "fee_per_replica": job.fee_per_replica,
        "collateral_per_replica": job.collateral_per_replica,
        "posted_at": job.posted_at,
        "claim_deadline": job.claim_deadline,
        "commit_deadline": job.commit_deadline,
        "reveal_deadline": job.reveal_deadline,
        "settled_at": job.settled_at,
        "result_hash": hex::encode(job.result_hash),
        "slots": slots,
    })
}

/// [`job_value`] as pretty JSON text.
pub fn job_json(address: &Pubkey, job: &Job, cfg: &Resolved) -> String {
    serde_json::to_string_pretty(&job_value(address, job, cfg)).unwrap_or_default()
}

/// Prints a provider.
pub fn print_provider(address: &Pubkey, p: &Provider, json: bool) {
    if json {
        let v = json!({
            "address": address.to_string(),
            "owner": p.owner.to_string(),
            "status": format!("{:?}", p.status),
            "staked": p.staked,
            "locked": p.locked,
            "unbonding": p.unbonding,
            "unbonding_ends_at": p.unbonding_ends_at,
            "earnings": p.earnings,
            "fees_due": p.fees_due,
            "forfeit_due": p.forfeit_due,
            "capabilities": format!("{:?}", p.capabilities),
            "devices": p.capacity.devices,
            "max_concurrent_jobs": p.capacity.max_concurrent_jobs,
            "jobs_completed": p.jobs_completed,
            "jobs_failed": p.jobs_failed,
            "jobs_slashed": p.jobs_slashed,
            "jobs_given_back": p.jobs_given_back,
            "total_earned": p.total_earned,
        });
        println!("{v:#}");
        return;
    }
    println!("provider  {address} ({:?})", p.status);
    println!("owner     {}", p.owner);
    println!(
        "stake     {} staked, {} locked, {} unbonding (until {})",
        p.staked, p.locked, p.unbonding, p.unbonding_ends_at
    );
    println!("caps      {:?}", p.capabilities);
    if p.capacity == Default::default() {
        println!("capacity  not published");
    } else {
        println!(
            "capacity  {} device(s), {} job(s) at once",
            p.capacity.devices, p.capacity.max_concurrent_jobs
        );
    }
    println!(
        "earnings  {} to withdraw; {} fees and {} forfeited awaiting a sweep",
        p.earnings, p.fees_due, p.forfeit_due
    );
    println!(
        "record    {} completed, {} failed, {} slashed, {} given back, {} earned",
        p.jobs_completed, p.jobs_failed, p.jobs_slashed, p.jobs_given_back, p.total_earned
    );
}

/// Prints a market.
pub fn print_market(address: &Pubkey, m: &Market, json: bool) {
    if json {
        let v = json!({
            "address": address.to_string(),
            "creator": m.creator.to_string(),
            "authority": m.authority.to_string(),
            "pending_authority": (m.pending_authority != Pubkey::default())
                .then(|| m.pending_authority.to_string()),
            "payment_mint": m.payment_mint.to_string(),
            "mint_freezable": m.mint_freezable,
            "treasury": m.treasury.to_string(),
            "fee_bps": m.fee_bps,
            "give_back_bps": m.give_back_bps,
            "min_provider_stake": m.min_provider_stake,
            "collateral_per_replica": m.collateral_per_replica,
            "unbonding_period": m.unbonding_period,
            "claim_window": m.claim_window,
            "commit_window": m.commit_window,
            "reveal_window": m.reveal_window,
            "paused": m.paused,
        });
        println!("{v:#}");
        return;
    }
    println!(
        "market     {address}{}",
        if m.paused { " (PAUSED)" } else { "" }
    );
    println!(
        "mint       {} ({} decimals)",
        m.payment_mint, m.mint_decimals
    );
    if m.mint_freezable {
        println!("           the mint has a freeze authority (accepted at creation)");
    }
    println!("authority  {}", m.authority);
    if m.pending_authority != Pubkey::default() {
        println!("proposed   {} (not yet accepted)", m.pending_authority);
    }
    println!("treasury   {}", m.treasury);
    println!(
        "fee        {} bps; give-back cost {} bps of the collateral",
        m.fee_bps, m.give_back_bps
    );
    println!(
        "providers  min stake {}, collateral {} per replica, unbonding {} s",
        m.min_provider_stake, m.collateral_per_replica, m.unbonding_period
    );
    println!(
        "windows    claim {} s, commit {} s, reveal {} s",
        m.claim_window, m.commit_window, m.reveal_window
    );
}
