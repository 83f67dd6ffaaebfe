//! The world of one sequence: its actors and what they started with, the scenes they are forked
//! from, and how transactions are sent and judged.

use compute_market::state::{Job, Provider, SlotState};
use solana_transaction::Transaction;

use super::{Rng, Stats};
use crate::harness::*;

/// Tokens each client starts with (four 7-replica jobs, or twenty-eight single ones).
pub const CLIENT_FUNDS: u64 = 3_000_000;
/// Stake of each sybil provider (owned by a client's wallet).
const SYBIL_STAKE: u64 = 2 * MIN_STAKE;
/// Stakes of the regular providers of a scene.
const STAKES: [u64; 6] = [
    3 * MIN_STAKE,
    2 * MIN_STAKE,
    3 * MIN_STAKE,
    3 * MIN_STAKE / 2,
    2 * MIN_STAKE,
    3 * MIN_STAKE,
];
/// Tokens each provider keeps in its wallet, to stake more.
const SPARE: u64 = MIN_STAKE;

/// Token-program error codes legitimate for some actions (a client's own account closed or
/// frozen, or too poor), and Anchor's for an account that is no longer a job.
pub const TOKEN_FUNDS: u32 = 1;
pub const TOKEN_FROZEN: u32 = 17;
pub const NOT_A_JOB: u32 = 3002;

/// How a provider behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Computes the right result, commits, reveals or submits it before every deadline, and
    /// gives back the poison jobs it claimed.
    Honest,
    /// Commits and reveals (or submits) a wrong result of its own.
    Liar,
    /// Claims and never commits.
    NoShow,
    /// Claims, then gives the slot back.
    GiveBacker,
    /// A provider owned by client `.0`'s wallet: works like an honest one, without deadlines,
    /// and tries to claim its owner's jobs.
    Sybil(usize),
}

/// The token account a holder uses as its own: a client's source of payments, a provider's
/// wallet.
#[derive(Clone, Copy, Debug)]
pub enum Holder {
    Client(usize),
    Provider(usize),
}

pub struct ClientSim {
    pub key: Keypair,
    /// The token account it pays from (its associated account until it closes it).
    pub source: Pubkey,
    /// Every token account it ever received client money in: its wealth.
    pub accounts: Vec<Pubkey>,
    pub start: u64,
    /// Rewards and fees of the replicas it paid for.
    pub paid_rewards: u64,
    pub paid_fees: u64,
    /// Closes its own token accounts.
    pub closer: bool,
}

/// What a provider must hold, from its start and what happened to it since.
#[derive(Default, Debug)]
pub struct Books {
    pub start_staked: u64,
    pub start_earned: u64,
    pub start_slashed: u64,
    pub start_completed: u64,
    pub start_given_back: u64,
    /// Wallet balance plus stake at the start.
    pub start_wealth: u64,
    pub staked_in: u64,
    pub withdrawn: u64,
    pub give_backs: u64,
    pub give_backs_since_sweep: u64,
    pub slashed_at_sweep: u64,
}

pub struct ProviderSim {
    pub key: Keypair,
    pub provider: Pubkey,
    pub vault: Pubkey,
    /// The token account it stakes from and withdraws stake to.
    pub wallet: Pubkey,
    /// Its wallets and every account it withdrew earnings to: its wealth (with its stake).
    pub accounts: Vec<Pubkey>,
    pub role: Role,
    pub closer: bool,
    pub books: Books,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Live,
    Settled,
    Closed,
}

pub struct JobSim {
    pub key: Pubkey,
    pub escrow: Pubkey,
    pub client: usize,
    pub replicas: u8,
    pub poison: bool,
    /// Providers that gave a slot of it back.
    pub gave_back: Vec<usize>,
    pub fate: Fate,
}

/// A scene set up once per worker: the program, a market, three funded clients (each with a
/// sybil provider on its wallet) and six registered providers.
struct Template {
    h: Harness,
    clients: Vec<Keypair>,
    /// Wallet token account of client `i`'s sybil provider.
    sybil_wallets: Vec<Pubkey>,
    providers: Vec<Keypair>,
}

impl Template {
    fn new(freezable: bool) -> Self {
        let mut h = if freezable {
            Harness::with_freezable_mint()
        } else {
            Harness::new()
        };
        h.svm = std::mem::take(&mut h.svm)
            .with_sigverify(false)
            .with_transaction_history(0);
        let (mut clients, mut sybil_wallets) = (vec![], vec![]);
        for _ in 0..3 {
            let wallet = h.wallet(CLIENT_FUNDS + SYBIL_STAKE);
            let key = wallet.key.insecure_clone();
            let sybil = ProviderActor::of(&h.market, wallet);
            h.provider_register(&sybil, SYBIL_STAKE, caps())
                .expect("sybil registers");
            let sybil_wallet = h.create_token_account(&key.pubkey());
            h.mint_to(&sybil_wallet, SPARE);
            clients.push(key);
            sybil_wallets.push(sybil_wallet);
        }
        let providers = STAKES
            .iter()
            .map(|&stake| {
                let wallet = h.wallet(stake + SPARE);
                let key = wallet.key.insecure_clone();
                let p = ProviderActor::of(&h.market, wallet);
                h.provider_register(&p, stake, caps())
                    .expect("provider registers");
                key
            })
            .collect();
        Self {
            h,
            clients,
            sybil_wallets,
            providers,
        }
    }
}

/// The two scenes of a worker.
pub struct Templates {
    plain: Template,
    freezable: Template,
}

impl Templates {
    pub fn new() -> Self {
        Self {
            plain: Template::new(false),
            freezable: Template::new(true),
        }
    }
}

pub struct World {
    pub h: Harness,
    pub rng: Rng,
    pub seed: u64,
    /// The mint has a freeze authority, and it freezes wallets.
    pub freezable: bool,
    pub clients: Vec<ClientSim>,
    pub provs: Vec<ProviderSim>,
    pub jobs: Vec<JobSim>,
    pub frozen: Vec<Pubkey>,
    pub treasury_start: u64,
    /// Every step and transaction outcome, printed when the sequence fails.
    pub log: Vec<String>,
    pub stats: Stats,
    fresh_accounts: u64,
}

impl Drop for World {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "\nsequence with seed {} failed; replay it with\n  SEQUENCES_SEED={} SEQUENCES=1 \
                 cargo test -p compute-market-tests --test program sequences -- --nocapture\n{}\n",
                self.seed,
                self.seed,
                self.log.join("\n")
            );
        }
    }
}

fn associated(owner: &Pubkey, mint: &Pubkey) -> Pubkey {
    compute_market_sdk::pda::token_account(owner, mint)
}

impl World {
    /// A sequence's world: 2-3 clients, 3-6 providers with random roles, on a fork of a scene.
    pub fn new(templates: &Templates, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let freezable = rng.chance(30);
        let t = if freezable {
            &templates.freezable
        } else {
            &templates.plain
        };
        let h = t.h.fork();
        let n_clients = rng.range(2, 3) as usize;
        let closer = rng.chance(50).then(|| rng.below(n_clients as u64) as usize);
        let clients = (0..n_clients)
            .map(|i| {
                let key = t.clients[i].insecure_clone();
                let source = associated(&key.pubkey(), &h.mint);
                ClientSim {
                    key,
                    source,
                    accounts: vec![source],
                    start: h.balance(&source),
                    paid_rewards: 0,
                    paid_fees: 0,
                    closer: closer == Some(i),
                }
            })
            .collect();
        let total = rng.range(3, 6) as usize;
        let mut provs = vec![];
        for c in 0..n_clients {
            if provs.len() + 2 < total && rng.chance(40) {
                let key = t.clients[c].insecure_clone();
                provs.push(ProviderSim::new(
                    &h,
                    key,
                    t.sybil_wallets[c],
                    Role::Sybil(c),
                ));
            }
        }
        for key in &t.providers[..total - provs.len()] {
            let role = match rng.weighted(&[45, 20, 15, 20]) {
                0 => Role::Honest,
                1 => Role::Liar,
                2 => Role::NoShow,
                _ => Role::GiveBacker,
            };
            let wallet = associated(&key.pubkey(), &h.mint);
            provs.push(ProviderSim::new(&h, key.insecure_clone(), wallet, role));
        }
        for p in &mut provs {
            p.closer = rng.chance(15);
        }
        let treasury_start = h.balance(&h.treasury);
        let mut world = Self {
            h,
            rng,
            seed,
            freezable,
            clients,
            provs,
            jobs: vec![],
            frozen: vec![],
            treasury_start,
            log: vec![],
            stats: Stats::default(),
            fresh_accounts: 0,
        };
        world.log.push(world.describe());
        world
    }

    fn describe(&self) -> String {
        let clients: Vec<String> = self
            .clients
            .iter()
            .enumerate()
            .map(|(i, c)| format!("c{i}{}", if c.closer { " (closer)" } else { "" }))
            .collect();
        let provs: Vec<String> = self
            .provs
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let closer = if p.closer { ", closer" } else { "" };
                format!("p{i} {:?}{closer}", p.role)
            })
            .collect();
        let market = if self.freezable {
            "freezable mint, wallets may be frozen"
        } else {
            "plain mint"
        };
        format!(
            "seed {}: {market}; clients {}; providers {}",
            self.seed,
            clients.join(", "),
            provs.join(", ")
        )
    }

    /// Runs the whole sequence: random steps, then the end (see `finish`).
    pub fn run(mut self, stats: &mut Stats) {
        let (steps, wind_down) = (self.rng.range(30, 80), self.rng.range(5, 30));
        for i in 0..steps + wind_down {
            let step = self.next_step(i >= steps);
            self.log.push(format!("{i:>3} {step:?}"));
            self.stats.steps += 1;
            self.execute(step);
            self.sync();
            self.check();
        }
        self.finish();
        if std::env::var_os("SEQUENCES_VERBOSE").is_some() {
            println!("{}\n", self.log.join("\n"));
        }
        self.stats.sequences += 1;
        stats.merge(std::mem::take(&mut self.stats));
    }

    // ----- sending and judging -----

    /// Sends `ixs` in one transaction paid by the harness payer. Unsigned: signature
    /// verification is off (see the module documentation); the message still marks every
    /// signer, which is what the program checks.
    pub fn send(&mut self, ixs: &[Instruction]) -> TxResult {
        let mut tx = Transaction::new_with_payer(ixs, Some(&self.h.payer.pubkey()));
        tx.message.recent_blockhash = self.h.svm.latest_blockhash();
        self.stats.transactions += 1;
        self.h.send_tx(tx)
    }

    /// Judges the result of action `what`: success, or a failure with one of the `allowed`
    /// error codes; `must`, where the state decides, is the only acceptable outcome. Any other
    /// failure fails the test. Returns whether it succeeded.
    #[track_caller]
    pub fn judge(
        &mut self,
        what: &str,
        res: TxResult,
        allowed: &[u32],
        must: Option<Result<(), u32>>,
    ) -> bool {
        let got = match &res {
            Ok(_) => Ok(()),
            Err(failed) => {
                let err = format!("{:?}", failed.err);
                let code = err
                    .split("Custom(")
                    .nth(1)
                    .and_then(|rest| rest.split(')').next())
                    .and_then(|digits| digits.parse::<u32>().ok());
                // The token program's own codes are small numbers other programs use too.
                let token = format!("Program {} failed", token_program());
                let by_token = failed.meta.logs.iter().any(|l| l.starts_with(&token));
                match code {
                    Some(TOKEN_FUNDS | TOKEN_FROZEN) if !by_token => panic!(
                        "{what}: {err} not from the token program\nlogs: {:#?}",
                        failed.meta.logs
                    ),
                    Some(code) if allowed.contains(&code) => Err(code),
                    _ => panic!(
                        "{what}: illegitimate failure {err}\nlogs: {:#?}",
                        failed.meta.logs
                    ),
                }
            }
        };
        let name = match &res {
            Ok(_) => "ok".to_string(),
            Err(failed) => error_name(&failed.meta.logs, got.unwrap_err()),
        };
        self.log.push(format!("      {what}: {name}"));
        *self
            .stats
            .outcomes
            .entry(format!("{what}: {name}"))
            .or_default() += 1;
        if let Some(must) = must {
            let want = match must {
                Ok(()) => "ok".to_string(),
                Err(code) => format!("error {code}"),
            };
            assert_eq!(
                got,
                must,
                "{what}: the state allows only {want}, got {name}\nlogs: {:#?}",
                res.as_ref().map_or_else(|f| &f.meta.logs, |m| &m.logs)
            );
        }
        got.is_ok()
    }

    // ----- accounts -----

    /// A new, empty token account of the mint owned by `owner`, written directly (the state
    /// `InitializeAccount3` leaves): a destination of the owner's choosing.
    pub fn fresh_account(&mut self, owner: &Pubkey) -> Pubkey {
        self.fresh_accounts += 1;
        let mut bytes = [0xee; 32];
        bytes[..8].copy_from_slice(&self.seed.to_le_bytes());
        bytes[8..16].copy_from_slice(&self.fresh_accounts.to_le_bytes());
        let key = Pubkey::new_from_array(bytes);
        let mut account = self
            .h
            .svm
            .get_account(&self.h.treasury)
            .expect("a token account to copy");
        account.data.fill(0);
        account.data[..32].copy_from_slice(self.h.mint.as_ref());
        account.data[32..64].copy_from_slice(owner.as_ref());
        account.data[108] = 1; // AccountState::Initialized
        self.h.svm.set_account(key, account).unwrap();
        let token = self.h.token(&key);
        assert!(token.owner == *owner && token.amount == 0 && !token.is_frozen());
        key
    }

    pub fn is_frozen(&self, account: &Pubkey) -> bool {
        self.frozen.contains(account)
    }

    /// The token account `holder` uses as its own.
    pub fn account_of(&self, holder: Holder) -> Pubkey {
        match holder {
            Holder::Client(c) => self.clients[c].source,
            Holder::Provider(p) => self.provs[p].wallet,
        }
    }

    pub fn owner_of(&self, holder: Holder) -> Pubkey {
        match holder {
            Holder::Client(c) => self.clients[c].key.pubkey(),
            Holder::Provider(p) => self.provs[p].key.pubkey(),
        }
    }

    /// The job of `j`, while it is one (not closed).
    pub fn job_state(&self, j: usize) -> Option<Job> {
        self.h
            .svm
            .get_account(&self.jobs[j].key)
            .and_then(|a| decode_job(&a.data))
    }

    /// The job and the state of the provider's slot in it (`Empty`: none), unless it is closed.
    pub fn slot_state(&self, p: usize, j: usize) -> Option<(Job, SlotState)> {
        let job = self.job_state(j)?;
        let state = job
            .slot_of(&self.provs[p].provider)
            .map_or(SlotState::Empty, |i| job.slots[i].state());
        Some((job, state))
    }

    pub fn provider_state(&self, p: usize) -> Provider {
        self.h.provider(&self.provs[p].provider)
    }

    /// The provider index of the provider account `key`.
    pub fn provider_index(&self, key: &Pubkey) -> Option<usize> {
        self.provs.iter().position(|p| p.provider == *key)
    }
}

impl ProviderSim {
    fn new(h: &Harness, key: Keypair, wallet: Pubkey, role: Role) -> Self {
        let provider = provider_pda(&h.market, &key.pubkey());
        let acc = h.provider(&provider);
        assert_eq!((acc.earnings, acc.fees_due, acc.forfeit_due), (0, 0, 0));
        let books = Books {
            start_staked: acc.staked,
            start_earned: acc.total_earned,
            start_slashed: acc.jobs_slashed,
            start_completed: acc.jobs_completed,
            start_given_back: acc.jobs_given_back,
            start_wealth: h.balance(&wallet) + acc.staked,
            slashed_at_sweep: acc.jobs_slashed,
            ..Books::default()
        };
        Self {
            key,
            provider,
            vault: stake_pda(&provider),
            wallet,
            accounts: vec![wallet],
            role,
            closer: false,
            books,
        }
    }
}

/// The correct result of job `j`.
pub fn truth(j: usize) -> [u8; 32] {
    let mut hash = [0x11; 32];
    hash[..8].copy_from_slice(&(j as u64).to_le_bytes());
    hash
}

/// Provider `p`'s wrong result for job `j` (no two liars agree).
pub fn lie(j: usize, p: usize) -> [u8; 32] {
    let mut hash = [0xba; 32];
    hash[..8].copy_from_slice(&(j as u64).to_le_bytes());
    hash[8..16].copy_from_slice(&(p as u64).to_le_bytes());
    hash
}

/// Provider `p`'s commitment salt for job `j`.
pub fn salt(j: usize, p: usize) -> [u8; 32] {
    let mut salt = [0x5a; 32];
    salt[..8].copy_from_slice(&(j as u64).to_le_bytes());
    salt[8..16].copy_from_slice(&(p as u64).to_le_bytes());
    salt
}

/// A short name for a failure: Anchor's error name from the logs, or the token program's.
fn error_name(logs: &[String], code: u32) -> String {
    match code {
        TOKEN_FUNDS => return "TokenInsufficientFunds".into(),
        TOKEN_FROZEN => return "TokenAccountFrozen".into(),
        _ => {}
    }
    logs.iter()
        .find_map(|l| l.split("Error Code: ").nth(1))
        .and_then(|rest| rest.split('.').next())
        .map_or_else(|| format!("custom error {code}"), str::to_string)
}
