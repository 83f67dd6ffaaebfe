//! The books of a sequence and its clock: what each party must hold after every step, and
//! time that never jumps past a deadline before the honest providers have met it.

use compute_market::state::{JobStatus, SlotState};

use super::world::*;
use crate::harness::*;

impl World {
    /// Records the settlements that happened: paid replicas are charged to the client.
    pub fn sync(&mut self) {
        for j in 0..self.jobs.len() {
            if self.jobs[j].fate != Fate::Live {
                continue;
            }
            let job = self
                .job_state(j)
                .unwrap_or_else(|| panic!("j{j} vanished unsettled"));
            if !job.status().is_settled() {
                continue;
            }
            let status = job.status();
            let paid = if status == JobStatus::Completed {
                job.active_slots()
                    .iter()
                    .filter(|s| {
                        s.state() == SlotState::Revealed && s.result_hash == job.result_hash
                    })
                    .count() as u64
            } else {
                0
            };
            let sim = &mut self.jobs[j];
            if status == JobStatus::Completed && sim.replicas > 1 {
                // Liars never agree with each other, so no quorum but the truth's exists.
                assert_eq!(job.result_hash, truth(j), "j{j} completed on a lie");
                assert!(!sim.poison, "poison job j{j} completed");
            }
            sim.fate = Fate::Settled;
            let client = &mut self.clients[sim.client];
            client.paid_rewards += paid * job.reward_per_replica;
            client.paid_fees += paid * job.fee_per_replica;
            self.log
                .push(format!("      j{j} settled {status:?}, {paid} paid"));
            *self.stats.fates.entry(format!("{status:?}")).or_default() += 1;
        }
    }

    /// Every invariant; see the module documentation.
    #[track_caller]
    pub fn check(&self) {
        let h = &self.h;
        h.assert_conserved();
        let (give_back, collateral) = (give_back_cost(), COLLATERAL);
        let (mut earned_total, mut fees_due) = (0, 0);
        let live: Vec<_> = (0..self.jobs.len())
            .filter_map(|j| self.job_state(j))
            .filter(|job| !job.status().is_settled())
            .collect();
        for (i, p) in self.provs.iter().enumerate() {
            let acc = self.provider_state(i);
            let held_slots = live
                .iter()
                .filter(|job| job.slot_of(&p.provider).is_some())
                .count() as u64;
            assert_eq!(
                acc.locked,
                COLLATERAL * held_slots,
                "p{i}: collateral locked for exactly the slots it holds"
            );
            let b = &p.books;
            let role = p.role;
            let slashes = acc.jobs_slashed - b.start_slashed;
            let earned = acc.total_earned - b.start_earned;
            let lost = give_back * b.give_backs + collateral * slashes;
            assert_eq!(
                acc.jobs_given_back - b.start_given_back,
                b.give_backs,
                "p{i} ({role:?}): give-backs"
            );
            assert_eq!(
                acc.staked + b.withdrawn + lost,
                b.start_staked + b.staked_in,
                "p{i} ({role:?}): stake"
            );
            assert_eq!(
                acc.forfeit_due,
                give_back * b.give_backs_since_sweep
                    + collateral * (acc.jobs_slashed - b.slashed_at_sweep),
                "p{i} ({role:?}): forfeit due"
            );
            let held: u64 = p.accounts.iter().map(|a| h.balance(a)).sum();
            assert_eq!(
                held + acc.staked + acc.earnings + lost,
                b.start_wealth + earned,
                "p{i} ({role:?}): wealth"
            );
            if role == Role::Honest {
                assert_eq!(slashes, 0, "honest p{i} was slashed");
                assert!(
                    acc.staked + b.withdrawn + give_back * b.give_backs
                        >= b.start_staked + b.staked_in,
                    "honest p{i} below its starting stake"
                );
            }
            earned_total += earned;
            fees_due += acc.fees_due;
        }
        let (mut rewards, mut fees) = (0, 0);
        for (i, c) in self.clients.iter().enumerate() {
            let escrowed: u64 = self
                .jobs
                .iter()
                .filter(|j| j.client == i && j.fate != Fate::Closed)
                .map(|j| h.balance(&j.escrow))
                .sum();
            let held: u64 = c.accounts.iter().map(|a| h.balance(a)).sum();
            assert_eq!(
                held + escrowed + c.paid_rewards + c.paid_fees,
                c.start,
                "c{i}: a client holds what it started with less what it paid for"
            );
            rewards += c.paid_rewards;
            fees += c.paid_fees;
        }
        assert_eq!(rewards, earned_total, "rewards paid = rewards earned");
        assert_eq!(
            h.balance(&h.treasury) - self.treasury_start + fees_due,
            fees,
            "fees paid = fees due + fees swept"
        );
        let now = h.now();
        for j in 0..self.jobs.len() {
            if let Some(job) = self.job_state(j) {
                if !job.status().is_settled() && now > job.reveal_deadline {
                    assert!(
                        job.can_finalize(now) || job.expiry(now).is_some(),
                        "j{j} is past its deadlines and nothing settles it"
                    );
                }
            }
        }
    }

    // ----- the clock -----

    /// Moves the clock `seconds` forward, stopping at every deadline of a live job on the way so
    /// that honest providers meet it first (see [`World::honest_duties`]).
    pub fn advance(&mut self, seconds: i64) {
        let target = self.h.now() + seconds;
        loop {
            let now = self.h.now();
            let next = self
                .jobs
                .iter()
                .enumerate()
                .filter(|(_, j)| j.fate == Fate::Live)
                .filter_map(|(j, _)| self.job_state(j))
                .flat_map(|job| [job.claim_deadline + 1, job.commit_deadline + 1])
                .filter(|&t| t > now && t < target)
                .min()
                .unwrap_or(target);
            self.honest_duties(next);
            self.h.warp(next - now);
            if next >= target {
                return;
            }
        }
    }

    /// What the honest providers must do before the clock reaches `until`: commit (or submit,
    /// or give back a poison job) before the commit deadline, reveal before the reveal
    /// deadline. Each must succeed.
    fn honest_duties(&mut self, until: i64) {
        for j in 0..self.jobs.len() {
            if self.jobs[j].fate != Fate::Live {
                continue;
            }
            for p in 0..self.provs.len() {
                if self.provs[p].role != Role::Honest {
                    continue;
                }
                let Some(job) = self.job_state(j) else { break };
                if job.status().is_settled() {
                    break;
                }
                let Some(slot) = job.slot_of(&self.provs[p].provider) else {
                    continue;
                };
                let state = job.slots[slot].state();
                let done = if state == SlotState::Claimed && job.commit_deadline < until {
                    self.log
                        .push(format!("      honest p{p} meets j{j}'s commit deadline"));
                    if self.jobs[j].poison {
                        self.give_back(p, j);
                        SlotState::Empty
                    } else if job.replicas == 1 {
                        self.submit(p, j, truth(j));
                        SlotState::Revealed
                    } else {
                        self.commit(p, j, truth(j));
                        SlotState::Committed
                    }
                } else if state == SlotState::Committed && job.reveal_deadline < until {
                    self.log
                        .push(format!("      honest p{p} meets j{j}'s reveal deadline"));
                    self.reveal(p, j, truth(j), false);
                    SlotState::Revealed
                } else {
                    continue;
                };
                let after = self.slot_state(p, j).expect("a job");
                assert!(
                    after.1 == done || after.0.status().is_settled(),
                    "honest p{p} could not meet j{j}'s deadline: {:?}",
                    after.1
                );
            }
        }
    }
}
