//! The steps of a sequence, and what the generator may draw next.

use compute_market::state::{JobStatus, SlotState};

use super::world::*;
use crate::harness::*;

/// One random action. Indices name clients (`c0`...), providers (`p0`...) and jobs (`j0`...) of
/// the sequence.
#[derive(Clone, Copy, Debug)]
pub enum Step {
    Post {
        client: usize,
        replicas: u8,
        quorum: u8,
        poison: bool,
    },
    /// `same_slot`: do not wait for the slot after the job's posting slot.
    Claim {
        provider: usize,
        job: usize,
        same_slot: bool,
    },
    /// What the provider's role does next on the job: commit, reveal, submit, give back or
    /// nothing.
    Work {
        provider: usize,
        job: usize,
    },
    GiveBack {
        provider: usize,
        job: usize,
    },
    Warp {
        seconds: i64,
    },
    /// `job_finalize` or `job_expire`, by a client, a provider or the fee payer.
    Crank {
        job: usize,
        expire: bool,
        cranker: usize,
    },
    /// `job_close` to a fresh account of the client, or to its paying account.
    Close {
        job: usize,
        to_source: bool,
    },
    Cancel {
        job: usize,
    },
    WithdrawEarnings {
        provider: usize,
        to_wallet: bool,
    },
    Sweep {
        provider: usize,
    },
    Unstake {
        provider: usize,
        amount: u64,
    },
    Withdraw {
        provider: usize,
    },
    Stake {
        provider: usize,
        amount: u64,
    },
    /// The mint's freeze authority freezes a holder's token account.
    Freeze {
        holder: Holder,
    },
    /// A closer moves its balance to a new account and closes the old one.
    CloseAccount {
        holder: Holder,
    },
}

impl World {
    /// Draws the next step (among the actions that have a target now). Winding down, nobody
    /// posts: the jobs in flight get their chance to finish before the end.
    pub fn next_step(&mut self, winding_down: bool) -> Step {
        let post = if winding_down { 0 } else { 6 };
        let freeze = if self.freezable { 2 } else { 0 };
        let close_account = if self.closers().is_empty() { 0 } else { 2 };
        #[rustfmt::skip]
        let weights = [
            // post, claim, work, give back, warp, crank, close, cancel,
            post, 26, 26, 4, 14, 8, 4, 2,
            // withdraw earnings, sweep, unstake, withdraw, stake, freeze, close account
            3, 2, 2, 2, 1, freeze, close_account,
        ];
        loop {
            let kind = self.rng.weighted(&weights);
            if let Some(step) = self.propose(kind) {
                return step;
            }
        }
    }

    fn jobs_where(&self, keep: impl Fn(&JobSim) -> bool) -> Vec<usize> {
        (0..self.jobs.len())
            .filter(|&j| keep(&self.jobs[j]))
            .collect()
    }

    /// (provider, job) for every slot held in a live job.
    fn holders(&self) -> Vec<(usize, usize)> {
        let mut out = vec![];
        for j in self.jobs_where(|j| j.fate == Fate::Live) {
            if let Some(job) = self.job_state(j) {
                for slot in job.active_slots() {
                    if slot.state() != SlotState::Empty {
                        out.extend(self.provider_index(&slot.provider).map(|p| (p, j)));
                    }
                }
            }
        }
        out
    }

    /// Live jobs `p` may claim now (open, in time, not yet claimed by `p`).
    fn claimable(&self, p: usize) -> Vec<usize> {
        let now = self.h.now();
        let provider = self.provs[p].provider;
        self.jobs_where(|j| j.fate == Fate::Live)
            .into_iter()
            .filter(|&j| {
                self.job_state(j).is_some_and(|job| {
                    job.status() == JobStatus::Open
                        && now <= job.claim_deadline
                        && job.slot_of(&provider).is_none()
                })
            })
            .collect()
    }

    /// Holders with something to do now: commit or submit before the commit deadline, or
    /// reveal once reveals are open.
    fn due(&self) -> Vec<(usize, usize)> {
        let now = self.h.now();
        self.holders()
            .into_iter()
            .filter(|&(p, j)| {
                let Some((job, state)) = self.slot_state(p, j) else {
                    return false;
                };
                match state {
                    SlotState::Claimed => now <= job.commit_deadline,
                    SlotState::Committed => job.reveal_open(now) && now <= job.reveal_deadline,
                    _ => false,
                }
            })
            .collect()
    }

    /// Live jobs that finalize or expire accepts now.
    fn settleable(&self) -> Vec<usize> {
        let now = self.h.now();
        self.jobs_where(|j| j.fate == Fate::Live)
            .into_iter()
            .filter(|&j| {
                self.job_state(j).is_some_and(|job| {
                    !job.status().is_settled()
                        && (job.can_finalize(now) || job.expiry(now).is_some())
                })
            })
            .collect()
    }

    /// Holders whose token account may still be closed.
    fn closers(&self) -> Vec<Holder> {
        let clients = (0..self.clients.len())
            .filter(|&c| self.clients[c].closer)
            .map(Holder::Client);
        let provs = (0..self.provs.len())
            .filter(|&p| self.provs[p].closer)
            .map(Holder::Provider);
        clients
            .chain(provs)
            .filter(|&h| !self.is_frozen(&self.account_of(h)))
            .collect()
    }

    fn propose(&mut self, kind: usize) -> Option<Step> {
        let live = self.jobs_where(|j| j.fate == Fate::Live);
        let unclosed = self.jobs_where(|j| j.fate != Fate::Closed);
        let all = self.jobs_where(|_| true);
        let (n_clients, n_provs) = (self.clients.len() as u64, self.provs.len() as u64);
        let provider = self.rng.below(n_provs) as usize;
        Some(match kind {
            0 => {
                let rng = &mut self.rng;
                let replicas = [1, 3, 5, 7][rng.weighted(&[30, 35, 20, 15])];
                Step::Post {
                    client: rng.below(n_clients) as usize,
                    replicas,
                    quorum: if rng.chance(70) {
                        replicas / 2 + 1
                    } else {
                        rng.range(replicas as u64 / 2 + 1, replicas as u64) as u8
                    },
                    poison: rng.chance(12),
                }
            }
            1 => self.propose_claim(provider, &live, &all)?,
            2 => {
                let (due, holders) = (self.due(), self.holders());
                let rng = &mut self.rng;
                let (provider, job) = if rng.chance(70) {
                    rng.pick(&due)?
                } else if rng.chance(70) {
                    rng.pick(&holders)?
                } else {
                    (provider, rng.pick(&live)?)
                };
                Step::Work { provider, job }
            }
            3 => {
                let holders: Vec<(usize, usize)> = self
                    .holders()
                    .into_iter()
                    .filter(|&(p, j)| self.provs[p].role != Role::Honest || self.jobs[j].poison)
                    .collect();
                let rng = &mut self.rng;
                let (provider, job) = if rng.chance(80) {
                    rng.pick(&holders)?
                } else {
                    (provider, rng.pick(&all)?)
                };
                if self.provs[provider].role == Role::Honest && !self.jobs[job].poison {
                    return None; // honest providers give back only what they cannot run
                }
                Step::GiveBack { provider, job }
            }
            4 => {
                let rng = &mut self.rng;
                let seconds = match rng.weighted(&[55, 25, 16, 4]) {
                    0 => rng.range(1, 15),
                    1 => rng.range(15, 90),
                    2 => rng.range(90, 400),
                    _ => UNBONDING as u64 + 1,
                };
                Step::Warp {
                    seconds: seconds as i64,
                }
            }
            5 => {
                let settleable = self.settleable();
                let rng = &mut self.rng;
                Step::Crank {
                    job: if rng.chance(60) {
                        rng.pick(&settleable)?
                    } else {
                        rng.pick(&unclosed)?
                    },
                    expire: rng.chance(50),
                    cranker: rng.below(n_clients + n_provs + 1) as usize,
                }
            }
            6 => Step::Close {
                job: self.rng.pick(&unclosed)?,
                to_source: self.rng.chance(20),
            },
            7 => Step::Cancel {
                job: self.rng.pick(&live)?,
            },
            8 => Step::WithdrawEarnings {
                provider,
                to_wallet: self.rng.chance(20),
            },
            9 => Step::Sweep { provider },
            10 => {
                let staked = self.provider_state(provider).staked;
                Step::Unstake {
                    provider,
                    amount: self.rng.range(1, staked.max(3) / 3),
                }
            }
            11 => Step::Withdraw { provider },
            12 => Step::Stake {
                provider,
                amount: self.rng.range(1, 2 * MIN_STAKE),
            },
            13 => {
                let holders: Vec<Holder> = (0..n_clients as usize)
                    .map(Holder::Client)
                    .chain((0..n_provs as usize).map(Holder::Provider))
                    .filter(|&h| !self.is_frozen(&self.account_of(h)))
                    .collect();
                Step::Freeze {
                    holder: self.rng.pick(&holders)?,
                }
            }
            _ => {
                let closers = self.closers();
                Step::CloseAccount {
                    holder: self.rng.pick(&closers)?,
                }
            }
        })
    }

    /// Mostly a job `provider` may claim now; a sybil also tries its owner's jobs; now and
    /// then any job, closed ones included.
    fn propose_claim(&mut self, provider: usize, live: &[usize], all: &[usize]) -> Option<Step> {
        let claimable = self.claimable(provider);
        let role = self.provs[provider].role;
        let own: Vec<usize> = match role {
            Role::Sybil(c) => live
                .iter()
                .copied()
                .filter(|&j| self.jobs[j].client == c)
                .collect(),
            _ => vec![],
        };
        let rng = &mut self.rng;
        let job = if rng.chance(8) {
            rng.pick(all)?
        } else if matches!(role, Role::Sybil(_)) && rng.chance(50) {
            rng.pick(&own)?
        } else if rng.chance(75) {
            rng.pick(&claimable)?
        } else {
            rng.pick(live)?
        };
        let same_slot = rng.chance(10);
        if role == Role::Honest && self.jobs[job].gave_back.contains(&provider) {
            return None; // it knows it cannot run this one
        }
        Some(Step::Claim {
            provider,
            job,
            same_slot,
        })
    }
}
