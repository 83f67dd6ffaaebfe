use anchor_lang::prelude::*;
use anchor_spl::token::{Mint, Token, TokenAccount};

use crate::constants::*;
use crate::errors::MarketError;
use crate::events::JobPosted;
use crate::state::{check_replication, store_text, ClaimMode, Job, JobSpec, JobStatus, Market};
use crate::token::{Authority, Tokens};

/// Who may claim a job's replicas, beyond the market's rules. The default lets any active
/// provider with enough stake and capabilities claim.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct ClaimRules {
    /// Provider PDAs allowed to claim (at most [`MAX_ALLOWLIST`]; empty: anyone).
    pub allowlist: Vec<Pubkey>,
    /// Least paid replicas a claimer must have on record.
    pub min_completed_jobs: u32,
    /// Least bonded stake a claimer must hold, in base units (the market's minimum applies
    /// too).
    pub min_stake: u64,
    /// Least age of a claimer's registration at claim time, in seconds.
    pub min_provider_age: i64,
    /// First come, first served, or drawn stake-weighted among applicants.
    pub selection: ClaimMode,
}

/// A new job. Deadlines are Unix times; 0 takes the market's default window.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Debug, PartialEq, Eq)]
pub struct JobPostArgs {
    /// Client-chosen id, unique per client and market (part of the job PDA seeds).
    pub job_id: u64,
    /// What to compute.
    pub spec: JobSpec,
    /// WGSL entry point.
    pub entry_point: String,
    /// Where the shader can be downloaded.
    pub shader_uri: String,
    /// Where the input can be downloaded (may be empty when `spec.input_len` is 0).
    pub input_uri: String,
    /// Paid to each agreeing replica, in base units.
    pub reward_per_replica: u64,
    /// Replicas (`n`: 1, or 3..=[`MAX_REPLICAS`]; see `check_replication`).
    pub replicas: u8,
    /// Agreeing results needed (`k`): 1 when `n` is 1, a strict majority otherwise.
    pub quorum: u8,
    /// Last moment to claim (0: now + market claim window).
    pub claim_deadline: i64,
    /// Last moment to commit or submit (0: claim deadline + market commit window).
    pub commit_deadline: i64,
    /// Last moment to reveal (0: commit deadline + market reveal window; ignored when `n` is 1).
    pub reveal_deadline: i64,
    /// Who may claim.
    pub rules: ClaimRules,
}

#[derive(Accounts)]
#[instruction(args: JobPostArgs)]
pub struct JobPost<'info> {
    /// Pays the escrow and the rent.
    #[account(mut)]
    pub client: Signer<'info>,
    /// Read-only: posting never takes a market-wide write lock.
    #[account(constraint = market.version == MARKET_VERSION @ MarketError::UnsupportedVersion)]
    pub market: Account<'info, Market>,
    #[account(address = market.payment_mint @ MarketError::WrongMint)]
    pub payment_mint: Account<'info, Mint>,
    #[account(
        init,
        payer = client,
        space = Job::LEN,
        seeds = [
            SEED_JOB,
            market.key().as_ref(),
            client.key().as_ref(),
            &args.job_id.to_le_bytes(),
        ],
        bump,
    )]
    pub job: AccountLoader<'info, Job>,
    /// Holds the payment until settlement; owned by the job PDA.
    #[account(
        init,
        payer = client,
        seeds = [SEED_ESCROW, job.key().as_ref()],
        bump,
        token::mint = payment_mint,
        token::authority = job,
    )]
    pub escrow: Account<'info, TokenAccount>,
    /// The client's token account the payment comes from (not recorded: refunds are withdrawn
    /// to an account of the client's choosing when it closes the job).
    #[account(
        mut,
        constraint = client_token.mint == payment_mint.key() @ MarketError::WrongMint,
        constraint = client_token.owner == client.key() @ MarketError::WrongTokenOwner,
    )]
    pub client_token: Account<'info, TokenAccount>,
    pub token_program: Program<'info, Token>,
    pub system_program: Program<'info, System>,
}

fn valid_uri(uri: &str) -> bool {
    !uri.is_empty() && uri.len() <= MAX_URI_LEN
}

/// The job's deadlines (claim, commit, reveal) after defaults, checked against `now`.
pub fn resolve_deadlines(args: &JobPostArgs, market: &Market, now: i64) -> Result<[i64; 3]> {
    let or_default = |value: i64, base: i64, window: i64| -> Result<i64> {
        if value != 0 {
            return Ok(value);
        }
        base.checked_add(window)
            .ok_or_else(|| error!(MarketError::InvalidDeadlines))
    };
    let claim = or_default(args.claim_deadline, now, market.claim_window)?;
    let commit = or_default(args.commit_deadline, claim, market.commit_window)?;
    let reveal = if args.replicas == 1 {
        commit
    } else {
        or_default(args.reveal_deadline, commit, market.reveal_window)?
    };
    let ordered = now < claim && claim < commit && (args.replicas == 1 || commit < reveal);
    require!(
        ordered && reveal.saturating_sub(now) <= MAX_DEADLINE_HORIZON,
        MarketError::InvalidDeadlines
    );
    Ok([claim, commit, reveal])
}

impl JobPost<'_> {
    pub fn validate(&self, args: &JobPostArgs) -> Result<()> {
        require!(!self.market.paused, MarketError::MarketPaused);
        check_replication(args.replicas, args.quorum, args.spec.determinism())?;
        require!(
            args.rules.allowlist.len() <= MAX_ALLOWLIST,
            MarketError::AllowlistTooLong
        );
        require!(args.reward_per_replica > 0, MarketError::ZeroReward);
        require!(
            !args.entry_point.is_empty() && args.entry_point.len() <= MAX_ENTRY_POINT_LEN,
            MarketError::InvalidEntryPoint
        );
        require!(valid_uri(&args.shader_uri), MarketError::InvalidUri);
        require!(
            valid_uri(&args.input_uri) || (args.spec.input_len == 0 && args.input_uri.is_empty()),
            MarketError::InvalidUri
        );
        require!(
            (1..=MAX_OUTPUT_LEN).contains(&args.spec.output_len),
            MarketError::InvalidOutputLen
        );
        require!(
            args.spec.input_len <= MAX_INPUT_LEN,
            MarketError::InvalidInputLen
        );
        require!(
            args.spec.workgroups.iter().all(|&w| w >= 1),
            MarketError::InvalidWorkgroups
        );
        Ok(())
    }
}

impl JobPost<'_> {
    pub fn handle(ctx: Context<JobPost>, args: JobPostArgs) -> Result<()> {
        let accs = ctx.accounts;
        let now = Clock::get()?.unix_timestamp;
        let [claim_deadline, commit_deadline, reveal_deadline] =
            resolve_deadlines(&args, &accs.market, now)?;
        // A drawn job's replicas are known only after its claim window: they need time.
        require!(
            args.rules.selection == ClaimMode::FirstCome
                || commit_deadline.saturating_sub(claim_deadline) >= MIN_DRAWN_COMMIT_WINDOW,
            MarketError::InvalidDeadlines
        );
        let fee_per_replica = accs.market.fee_for(args.reward_per_replica)?;
        let give_back_cost = accs.market.give_back_cost()?;
        let posted_slot = Clock::get()?.slot;
        let escrowed = {
            // Fields are written in place: the 3.4 KB job never sits on the 4 KiB SBF stack.
            let mut job = accs.job.load_init()?;
            job.version = JOB_VERSION;
            job.bump = ctx.bumps.job;
            job.escrow_bump = ctx.bumps.escrow;
            job.status = JobStatus::Open as u8;
            job.market = accs.market.key();
            job.client = accs.client.key();
            job.job_id = args.job_id;
            job.escrow = accs.escrow.key();
            job.spec = args.spec;
            job.reward_per_replica = args.reward_per_replica;
            job.fee_per_replica = fee_per_replica;
            job.collateral_per_replica = accs.market.collateral_per_replica;
            job.replicas = args.replicas;
            job.quorum = args.quorum;
            job.posted_at = now;
            job.posted_slot = posted_slot;
            job.give_back_cost = give_back_cost;
            // The market's minimum at posting is part of the job: a later market update does
            // not change who may serve a job already posted.
            job.min_stake = args.rules.min_stake.max(accs.market.min_provider_stake);
            job.min_provider_age = args.rules.min_provider_age;
            job.min_completed_jobs = args.rules.min_completed_jobs;
            job.allowlist_len = args.rules.allowlist.len() as u8;
            job.selection = args.rules.selection as u8;
            for (stored, key) in job.allowlist.iter_mut().zip(&args.rules.allowlist) {
                *stored = *key;
            }
            job.claim_deadline = claim_deadline;
            job.commit_deadline = commit_deadline;
            job.reveal_deadline = reveal_deadline;
            job.entry_point_len = store_text(&mut job.entry_point, &args.entry_point)
                .ok_or(MarketError::InvalidEntryPoint)?;
            job.shader_uri_len =
                store_text(&mut job.shader_uri, &args.shader_uri).ok_or(MarketError::InvalidUri)?;
            job.input_uri_len =
                store_text(&mut job.input_uri, &args.input_uri).ok_or(MarketError::InvalidUri)?;
            job.escrow_total()?
        };
        Tokens {
            program: &accs.token_program.to_account_info(),
            mint: &accs.payment_mint.to_account_info(),
            decimals: accs.payment_mint.decimals,
        }
        .transfer(
            &accs.client_token.to_account_info(),
            &accs.escrow.to_account_info(),
            &Authority {
                info: &accs.client.to_account_info(),
                seeds: &[],
            },
            escrowed,
        )?;
        emit!(JobPosted {
            market: accs.market.key(),
            job: accs.job.key(),
            client: accs.client.key(),
            job_id: args.job_id,
            reward_per_replica: args.reward_per_replica,
            fee_per_replica,
            escrowed,
            replicas: args.replicas,
            quorum: args.quorum,
            determinism: args.spec.determinism(),
            shader_hash: args.spec.shader_hash,
            input_hash: args.spec.input_hash,
            claim_deadline,
            commit_deadline,
            reveal_deadline,
        });
        Ok(())
    }
}
