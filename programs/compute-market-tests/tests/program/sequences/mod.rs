//! Random instruction sequences (property 10): a seeded generator drives several clients,
//! providers and jobs through random instructions, with hostile actors (clients that close their
//! token accounts, a mint freeze authority freezing wallets, sybil providers of a client, poison
//! jobs nobody can run, no-shows, liars, give-backers) and clock jumps. After every step:
//!
//! - money is conserved: every token of the mint sits in a token account, the supply is what was
//!   minted less what sweeps burnt, every escrow and stake vault agrees with its books
//!   (`Harness::assert_conserved`);
//! - each provider holds exactly what it started with, plus what it earned, less its give-back
//!   costs and slashes, and has exactly one collateral locked per slot it holds; an honest
//!   provider is never slashed, so its stake only ever drops by the give-back costs of the
//!   poison jobs it handed back;
//! - each client holds exactly what it started with less what it paid for replicas that reached
//!   quorum: nobody profits from a failure, a slash or a give-back; fees paid are fees due or
//!   swept, rewards paid are rewards earned;
//! - no replicated job completes on anything but the right result (liars never agree), and no
//!   live job past its last deadline is stuck: finalize or expire accepts it.
//!
//! Every transaction either succeeds or fails with an error that is legitimate for that action
//! at that moment; where the state decides the outcome (a sybil claiming its owner's job, a claim
//! in the posting slot, a crank, a close...), exactly that outcome. Anything else (an invariant
//! violation, an overflow, a token error inside settlement, a runtime error) fails the test. At
//! the end of each sequence the clock passes every deadline, a random third party cranks every
//! unsettled job, every job is closed, every earning withdrawn and every provider swept, and
//! nothing is left in an escrow, a lock or a forfeit.
//!
//! Honest providers are online: the clock never jumps past a deadline of a job they hold before
//! they have met it (`World::advance`); everyone else acts only when a random step says so.
//!
//! `SEQUENCES` (default 1,000) sets how many sequences run, `SEQUENCES_SEED` the seed of the
//! first (sequence `i` uses seed `SEQUENCES_SEED + i`). A failing sequence prints its seed and
//! its steps; `SEQUENCES_SEED=<seed> SEQUENCES=1` replays it alone (`SEQUENCES_VERBOSE=1`
//! prints the steps of sequences that pass too).
//!
//! Speed: loading the program costs ~250 ms in a debug build, so each worker thread sets up two
//! scenes once (a plain market and one on a freezable mint, with every actor funded and
//! registered) and forks the SVM for each sequence (~0.1 ms). Transactions are sent without
//! signatures, with LiteSVM's signature verification off: signer checks still apply (they read
//! the message's signer flags, which are unchanged), and ed25519 in a debug build would cost
//! ~20 ms a transaction.

mod actions;
mod books;
mod finish;
mod steps;
mod world;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use world::{Templates, World};

/// Seed of the first sequence unless `SEQUENCES_SEED` says otherwise.
const DEFAULT_SEED: u64 = 20_261_201;
/// Sequences run unless `SEQUENCES` says otherwise (CI).
const DEFAULT_SEQUENCES: u64 = 1_000;

/// SplitMix64: small, seedable, and good enough to pick test actions.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent` %.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// An index drawn with the given weights (not all zero).
    pub fn weighted(&mut self, weights: &[u64]) -> usize {
        let mut roll = self.below(weights.iter().sum());
        for (i, w) in weights.iter().enumerate() {
            if roll < *w {
                return i;
            }
            roll -= w;
        }
        unreachable!("roll below the sum of the weights")
    }

    /// A random element of `items`, if any.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        (!items.is_empty()).then(|| items[self.below(items.len() as u64) as usize])
    }
}

/// What the sequences did, to show that the generator reaches every path.
#[derive(Default)]
pub struct Stats {
    pub sequences: u64,
    pub steps: u64,
    pub transactions: u64,
    /// `action: outcome` (an error name, or `ok`) → how often.
    pub outcomes: BTreeMap<String, u64>,
    /// How jobs ended (Completed, Failed, Expired, Cancelled) → how often.
    pub fates: BTreeMap<String, u64>,
}

impl Stats {
    fn merge(&mut self, other: Stats) {
        self.sequences += other.sequences;
        self.steps += other.steps;
        self.transactions += other.transactions;
        for (k, v) in other.outcomes {
            *self.outcomes.entry(k).or_default() += v;
        }
        for (k, v) in other.fates {
            *self.fates.entry(k).or_default() += v;
        }
    }

    fn count(&self, key: &str) -> u64 {
        self.outcomes.get(key).copied().unwrap_or(0)
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    let value = value.trim();
    let parsed = match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => value.parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name}={value} is not a number")))
}

/// Tells the other workers to stop when this one panics.
struct StopOnPanic<'a>(&'a AtomicBool);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::Relaxed);
        }
    }
}

#[test]
fn random_sequences_conserve_money_spare_honest_providers_and_settle_every_job() {
    let base = env_u64("SEQUENCES_SEED").unwrap_or(DEFAULT_SEED);
    let count = env_u64("SEQUENCES").unwrap_or(DEFAULT_SEQUENCES);
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(count.max(1) as usize);
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let mut stats = Stats::default();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let _stop = StopOnPanic(&stop);
                    let templates = Templates::new();
                    let mut stats = Stats::default();
                    while !stop.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= count {
                            break;
                        }
                        World::new(&templates, base.wrapping_add(i)).run(&mut stats);
                    }
                    stats
                })
            })
            .collect();
        for worker in workers {
            match worker.join() {
                Ok(s) => stats.merge(s),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    println!(
        "{} sequences (seeds {base}..{}), {} steps, {} transactions, {threads} threads, {:.1} s",
        stats.sequences,
        base.wrapping_add(count),
        stats.steps,
        stats.transactions,
        started.elapsed().as_secs_f64()
    );
    println!("job fates: {:?}", stats.fates);
    for (outcome, n) in &stats.outcomes {
        println!("{n:>8}  {outcome}");
    }
    assert_eq!(stats.sequences, count);
    if count >= DEFAULT_SEQUENCES {
        // The generator reaches every path it exists for.
        for fate in ["Completed", "Failed", "Expired", "Cancelled"] {
            assert!(stats.fates.contains_key(fate), "no job ended {fate}");
        }
        for key in [
            "claim: ClientCannotClaim",
            "claim: ClaimTooEarly",
            "post: TokenAccountFrozen",
            "reveal: CommitmentMismatch",
            "give back: ok",
            "freeze: ok",
            "close account: ok",
            "finalize: ok",
            "expire: ok",
            "submit: ok",
            "close: ok",
            "withdraw: ok",
            "sweep: ok",
            "~ slashed: Liar",
            "~ slashed: NoShow",
            "~ gave back: Honest",
            "~ paid replicas: Honest",
        ] {
            assert!(stats.count(key) > 0, "no step came to `{key}`");
        }
    }
}
