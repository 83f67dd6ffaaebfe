//! Every rule a transaction can break, with the exact error it gets.

use crate::harness::*;
use compute_market::errors::MarketError;
use compute_market::state::*;
use compute_market::JobRevealArgs;

fn post_err(
    h: &mut Harness,
    client: &Wallet,
    args: &compute_market::JobPostArgs,
    err: MarketError,
) {
    let (ix, _) = h.post_ix(client, args);
    assert_market_err(h.send(&[ix], &[&client.key]), err);
}

#[test]
fn job_specs_are_validated_before_any_money_moves() {
    let mut h = Harness::new();
    let client = h.wallet(1_000_000);
    let now = h.now();
    type Mutation = Box<dyn Fn(&mut compute_market::JobPostArgs)>;
    let cases: Vec<(Mutation, MarketError)> = vec![
        (Box::new(|a| a.replicas = 0), MarketError::InvalidReplicas),
        (
            Box::new(|a| {
                a.replicas = 8;
                a.quorum = 5
            }),
            MarketError::InvalidReplicas,
        ),
        (
            Box::new(|a| {
                a.replicas = 3;
                a.quorum = 1
            }),
            MarketError::InvalidQuorum,
        ),
        (
            Box::new(|a| {
                a.replicas = 4;
                a.quorum = 2
            }),
            MarketError::InvalidQuorum,
        ),
        (
            Box::new(|a| {
                a.replicas = 3;
                a.quorum = 4
            }),
            MarketError::InvalidQuorum,
        ),
        (Box::new(|a| a.quorum = 0), MarketError::InvalidQuorum),
        (
            Box::new(|a| a.reward_per_replica = 0),
            MarketError::ZeroReward,
        ),
        (
            Box::new(|a| a.entry_point = String::new()),
            MarketError::InvalidEntryPoint,
        ),
        (
            Box::new(|a| a.entry_point = "x".repeat(33)),
            MarketError::InvalidEntryPoint,
        ),
        (
            Box::new(|a| a.shader_uri = String::new()),
            MarketError::InvalidUri,
        ),
        (
            Box::new(|a| a.shader_uri = "f".repeat(129)),
            MarketError::InvalidUri,
        ),
        (
            Box::new(|a| a.input_uri = String::new()),
            MarketError::InvalidUri,
        ),
        (
            Box::new(|a| a.spec.output_len = 0),
            MarketError::InvalidOutputLen,
        ),
        (
            Box::new(|a| a.spec.output_len = 128 * 1024 * 1024 + 1),
            MarketError::InvalidOutputLen,
        ),
        (
            Box::new(|a| a.spec.input_len = u32::MAX),
            MarketError::InvalidInputLen,
        ),
        (
            Box::new(|a| a.spec.workgroups = [1, 0, 1]),
            MarketError::InvalidWorkgroups,
        ),
        (
            Box::new(move |a| a.claim_deadline = now),
            MarketError::InvalidDeadlines,
        ),
        (
            Box::new(move |a| a.claim_deadline = now - 10),
            MarketError::InvalidDeadlines,
        ),
        (
            Box::new(|a| a.claim_deadline = i64::MAX),
            MarketError::InvalidDeadlines,
        ),
    ];
    for (mutate, err) in cases {
        let mut args = h.job_args(1, 1);
        mutate(&mut args);
        post_err(&mut h, &client, &args, err);
    }
    // Ordered deadlines are required: commit after claim, reveal after commit.
    let now = h.now();
    let mut args = h.job_args(3, 2);
    args.claim_deadline = now + 100;
    args.commit_deadline = now + 100;
    post_err(&mut h, &client, &args, MarketError::InvalidDeadlines);
    let mut args = h.job_args(3, 2);
    args.claim_deadline = now + 100;
    args.commit_deadline = now + 200;
    args.reveal_deadline = now + 150;
    post_err(&mut h, &client, &args, MarketError::InvalidDeadlines);
    assert_eq!(h.balance(&client.token), 1_000_000, "nothing was escrowed");
    h.assert_conserved();
}

#[test]
fn huge_rewards_overflow_cleanly() {
    let mut h = Harness::new();
    let client = h.wallet(1_000_000);
    let mut args = h.job_args(3, 2);
    args.reward_per_replica = u64::MAX / 2;
    post_err(&mut h, &client, &args, MarketError::Overflow);
    let mut args = h.job_args(1, 1);
    args.reward_per_replica = u64::MAX; // reward + fee overflows
    post_err(&mut h, &client, &args, MarketError::Overflow);
    h.assert_conserved();
}

#[test]
fn a_client_without_the_funds_is_refused_by_the_token_program() {
    let mut h = Harness::new();
    let client = h.wallet(REWARD); // not enough for reward + fee
    let args = h.job_args(1, 1);
    let (ix, job) = h.post_ix(&client, &args);
    // SPL Token's InsufficientFunds is custom error 1.
    assert_custom_err(h.send(&[ix], &[&client.key]), 1, "InsufficientFunds");
    assert!(!h.exists(&job));
    h.assert_conserved();
}

#[test]
fn wrong_mint_and_wrong_token_owner_are_refused() {
    let mut h = Harness::new();
    let client = h.wallet(1_000_000);
    let other_mint = h.create_mint();
    let foreign_token = h.create_token_account_of(&other_mint, &client.pubkey());
    let args = h.job_args(1, 1);
    let (mut ix, _) = h.post_ix(&client, &args);
    ix.accounts[5].pubkey = foreign_token; // client_token
    assert_market_err(h.send(&[ix], &[&client.key]), MarketError::WrongMint);
    // Paying from someone else's token account.
    let victim = h.wallet(1_000_000);
    let (mut ix, _) = h.post_ix(&client, &args);
    ix.accounts[5].pubkey = victim.token;
    assert_market_err(h.send(&[ix], &[&client.key]), MarketError::WrongTokenOwner);
    // Naming another mint as the payment mint.
    let (mut ix, _) = h.post_ix(&client, &args);
    ix.accounts[2].pubkey = other_mint;
    assert_market_err(h.send(&[ix], &[&client.key]), MarketError::WrongMint);
    h.assert_conserved();
}

#[test]
fn wrong_vault_and_wrong_client_are_refused() {
    let mut h = Harness::new();
    let client = h.wallet(1_000_000);
    let args = h.job_args(1, 1);
    let job_a = h.post(&client, &args).unwrap();
    let args = h.job_args(1, 1);
    let job_b = h.post(&client, &args).unwrap();
    let mut ix = h.cancel_ix(&job_a, &client.token);
    ix.accounts[4].pubkey = escrow_pda(&job_b);
    assert_market_err(h.send(&[ix], &[&client.key]), MarketError::WrongVault);
    let stranger = h.wallet(0);
    let mut ix = h.cancel_ix(&job_a, &stranger.token);
    ix.accounts[0].pubkey = stranger.pubkey();
    assert_market_err(h.send(&[ix], &[&stranger.key]), MarketError::NotJobClient);
    let mut ix = h.close_ix(&job_a, &stranger.token);
    ix.accounts[0].pubkey = stranger.pubkey();
    assert_market_err(h.send(&[ix], &[&stranger.key]), MarketError::NotJobClient);
    // A refund destination of another mint.
    let other_mint = h.create_mint();
    let foreign = h.create_token_account_of(&other_mint, &client.pubkey());
    let ix = h.cancel_ix(&job_a, &foreign);
    assert_market_err(h.send(&[ix], &[&client.key]), MarketError::WrongMint);
    h.assert_conserved();
}

#[test]
fn a_job_of_another_market_cannot_be_claimed() {
    let mut h = Harness::new();
    let p = h.new_provider();
    let (market2, foreign_job) = h.foreign_market_job();
    // p belongs to market 1; the job to market 2.
    assert_market_err(h.claim(&p, &foreign_job), MarketError::WrongMarket);
    let mut ix = h.claim_ix(&p, &foreign_job);
    ix.accounts[1].pubkey = market2;
    assert_market_err(h.send(&[ix], &[&p.wallet.key]), MarketError::WrongMarket);
    h.assert_conserved();
}

#[test]
fn claim_rules() {
    let mut h = Harness::new();
    let client = h.wallet(10_000_000);
    let p = h.new_provider();
    let args = h.job_args(3, 2);
    let job = h.post(&client, &args).unwrap();
    h.claim(&p, &job).unwrap();
    assert_market_err(h.claim(&p, &job), MarketError::AlreadyClaimed);

    // MIN_STAKE covers two collaterals, not three.
    let args = h.job_args(1, 1);
    let job2 = h.post(&client, &args).unwrap();
    h.claim(&p, &job2).unwrap();
    let args = h.job_args(1, 1);
    let job3 = h.post(&client, &args).unwrap();
    assert_market_err(h.claim(&p, &job3), MarketError::InsufficientFreeStake);

    // Capabilities below the job's minimum.
    let mut weak = caps();
    weak.device_class = DeviceClass::Cpu;
    let cpu = h.provider_with(MIN_STAKE, weak);
    let mut args = h.job_args(1, 1);
    args.spec.min_capabilities.hardware_only = 1;
    let gpu_job = h.post(&client, &args).unwrap();
    assert_market_err(h.claim(&cpu, &gpu_job), MarketError::CapabilitiesTooLow);
    let mut args = h.job_args(1, 1);
    args.spec.min_capabilities.memory_mib = caps().memory_mib + 1;
    let big_job = h.post(&client, &args).unwrap();
    assert_market_err(h.claim(&cpu, &big_job), MarketError::CapabilitiesTooLow);

    // All slots taken, and late claims.
    let q = h.new_provider();
    let r = h.new_provider();
    h.claim(&q, &job2).unwrap_err();
    h.claim(&q, &job).unwrap();
    h.claim(&r, &job).unwrap();
    let s = h.new_provider();
    assert_market_err(h.claim(&s, &job), MarketError::JobNotOpen);
    let args = h.job_args(1, 1);
    let late = h.post(&client, &args).unwrap();
    let deadline = h.job(&late).claim_deadline;
    h.warp_to(deadline + 1);
    assert_market_err(h.claim(&s, &late), MarketError::ClaimDeadlinePassed);
    h.assert_conserved();
}

#[test]
fn commit_and_reveal_rules() {
    let mut h = Harness::new();
    let client = h.wallet(10_000_000);
    let p = h.new_provider();
    let q = h.new_provider();
    let outsider = h.new_provider();
    let args = h.job_args(1, 1);
    let single = h.post(&client, &args).unwrap();
    h.claim(&p, &single).unwrap();
    // Single replica: commit/reveal are the wrong mode, and n > 1 cannot submit.
    assert_market_err(
        h.commit(&p, &single, [1; 32], [2; 32]),
        MarketError::WrongVerificationMode,
    );
    let args = h.job_args(3, 2);
    let job = h.post(&client, &args).unwrap();
    h.claim(&p, &job).unwrap();
    h.claim(&q, &job).unwrap();
    assert_market_err(
        h.submit(&p, &job, [1; 32]),
        MarketError::WrongVerificationMode,
    );
    assert_market_err(
        h.commit(&outsider, &job, [1; 32], [2; 32]),
        MarketError::NotAReplica,
    );
    assert_market_err(
        h.reveal(&p, &job, [1; 32], [2; 32]),
        MarketError::WrongSlotState,
    );
    h.commit(&p, &job, [1; 32], [2; 32]).unwrap();
    assert_market_err(
        h.commit(&p, &job, [1; 32], [2; 32]),
        MarketError::WrongSlotState,
    );
    // Another provider signing for p's provider account.
    let mut ix = h.commit_ix(&p, &job, [0; 32]);
    ix.accounts[0].pubkey = q.wallet.pubkey();
    assert_market_err(
        h.send(&[ix], &[&q.wallet.key]),
        MarketError::NotProviderOwner,
    );

    let deadline = h.job(&job).commit_deadline;
    h.warp_to(deadline + 1);
    assert_market_err(
        h.commit(&q, &job, [1; 32], [3; 32]),
        MarketError::CommitDeadlinePassed,
    );
    // Wrong salt, wrong hash: the commitment does not open.
    assert_market_err(
        h.reveal(&p, &job, [1; 32], [9; 32]),
        MarketError::CommitmentMismatch,
    );
    assert_market_err(
        h.reveal(&p, &job, [9; 32], [2; 32]),
        MarketError::CommitmentMismatch,
    );
    let long_uri = JobRevealArgs {
        result_hash: [1; 32],
        salt: [2; 32],
        result_uri: "u".repeat(129),
    };
    let ix = h.reveal_ix(&p, &job, long_uri);
    assert_market_err(h.send(&[ix], &[&p.wallet.key]), MarketError::InvalidUri);
    h.reveal(&p, &job, [1; 32], [2; 32]).unwrap();
    assert_market_err(
        h.reveal(&p, &job, [1; 32], [2; 32]),
        MarketError::WrongSlotState,
    );
    h.assert_conserved();
}

#[test]
fn a_commitment_cannot_be_copied_by_another_provider() {
    let mut h = Harness::new();
    let client = h.wallet(10_000_000);
    let honest = h.new_provider();
    let copier = h.new_provider();
    let args = h.job_args(3, 2);
    let job = h.post(&client, &args).unwrap();
    h.claim(&honest, &job).unwrap();
    h.claim(&copier, &job).unwrap();
    let result = [0x42; 32];
    let salt = [0x17; 32];
    let honest_commitment = commitment_hash(&job, &honest.provider, &result, &salt);
    h.commit(&honest, &job, result, salt).unwrap();
    // The copier replays the honest commitment bytes verbatim...
    let ix = h.commit_ix(&copier, &job, honest_commitment);
    h.send(&[ix], &[&copier.wallet.key]).unwrap();
    let deadline = h.job(&job).commit_deadline;
    h.warp_to(deadline + 1);
    h.reveal(&honest, &job, result, salt).unwrap();
    // ...but even knowing the revealed hash and salt it cannot open it: the commitment binds
    // the provider.
    assert_market_err(
        h.reveal(&copier, &job, result, salt),
        MarketError::CommitmentMismatch,
    );
    h.assert_conserved();
}

#[test]
fn settlement_accounts_are_checked() {
    let mut h = Harness::new();
    let ClaimedJob {
        client,
        provider: p,
        job,
    } = h.claimed_single_job();
    let other = h.new_provider();
    // Crediting another provider's stake vault, or paying from another job's escrow.
    let mut ix = h.submit_ix(&p, &job, [5; 32]);
    ix.accounts[4].pubkey = other.vault;
    assert_market_err(h.send(&[ix], &[&p.wallet.key]), MarketError::WrongVault);
    let args = h.job_args(1, 1);
    let job_b = h.post(&client, &args).unwrap();
    let mut ix = h.submit_ix(&p, &job, [5; 32]);
    ix.accounts[6].pubkey = escrow_pda(&job_b);
    assert_market_err(h.send(&[ix], &[&p.wallet.key]), MarketError::WrongVault);

    let deadline = h.job(&job).commit_deadline;
    h.warp_to(deadline + 1);
    // Expiry without the claimed slot's accounts, or with another provider's accounts.
    let cranker = h.payer.pubkey();
    let mut ix = h.expire_ix(&job, &cranker);
    ix.accounts.truncate(ix.accounts.len() - 2);
    assert_market_err(h.send(&[ix], &[]), MarketError::WrongRemainingAccounts);
    let mut ix = h.expire_ix(&job, &cranker);
    let n = ix.accounts.len();
    ix.accounts[n - 2].pubkey = other.provider;
    assert_market_err(h.send(&[ix], &[]), MarketError::WrongProvider);
    let mut ix = h.expire_ix(&job, &cranker);
    ix.accounts[n - 1].pubkey = other.vault;
    assert_market_err(h.send(&[ix], &[]), MarketError::WrongVault);
    h.expire(&job).unwrap();
    h.assert_conserved();
}
