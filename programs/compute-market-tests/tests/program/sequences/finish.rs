//! The end of a sequence: the clock passes every deadline, anyone cranks, and every party takes
//! out what is its own; then nothing is left behind.

use super::world::*;

impl World {
    pub fn finish(&mut self) {
        self.log
            .push("end: past every deadline, crank, close, withdraw, sweep".into());
        let last = (0..self.jobs.len())
            .filter(|&j| self.jobs[j].fate == Fate::Live)
            .filter_map(|j| self.job_state(j))
            .map(|job| job.reveal_deadline)
            .max();
        if let Some(last) = last {
            let now = self.h.now();
            self.advance((last + 1 - now).max(1));
        }
        self.sync();

        // Every job settles once its deadlines have passed and anyone cranks.
        for j in 0..self.jobs.len() {
            if self.jobs[j].fate != Fate::Live {
                continue;
            }
            let job = self.job_state(j).expect("a live job");
            let now = self.h.now();
            assert!(now > job.reveal_deadline);
            let expire = !job.can_finalize(now);
            let who = self
                .rng
                .below((self.clients.len() + self.provs.len() + 1) as u64);
            let cranker = self.cranker(who as usize);
            self.crank(j, expire, &cranker);
            self.sync();
            assert_eq!(self.jobs[j].fate, Fate::Settled, "j{j} settles");
        }
        self.check();

        for j in 0..self.jobs.len() {
            if self.jobs[j].fate == Fate::Settled {
                self.close(j, false);
            }
        }
        for p in 0..self.provs.len() {
            let acc = self.provider_state(p);
            if acc.earnings > 0 {
                self.withdraw_earnings(p, false);
            }
            if acc.fees_due + acc.forfeit_due > 0 {
                self.sweep(p);
            }
        }
        self.check();

        // Nothing is left behind: no job, escrow, lock, earning, fee or forfeit.
        for (j, sim) in self.jobs.iter().enumerate() {
            assert_eq!(sim.fate, Fate::Closed, "j{j} closed");
            assert!(!self.h.exists(&sim.escrow), "j{j}'s escrow is gone");
        }
        for (i, p) in self.provs.iter().enumerate() {
            let acc = self.provider_state(i);
            assert_eq!(
                (acc.locked, acc.earnings, acc.fees_due, acc.forfeit_due),
                (0, 0, 0, 0),
                "p{i} holds nothing but its stake"
            );
            assert_eq!(self.h.balance(&p.vault), acc.staked, "p{i}'s vault");
        }
        let fees: u64 = self.clients.iter().map(|c| c.paid_fees).sum();
        assert_eq!(self.h.balance(&self.h.treasury), self.treasury_start + fees);
        for (i, c) in self.clients.iter().enumerate() {
            let held: u64 = c.accounts.iter().map(|a| self.h.balance(a)).sum();
            assert!(held <= c.start, "c{i} ends richer than it started");
        }
        // Who paid for what, for the summary.
        for i in 0..self.provs.len() {
            let acc = self.provider_state(i);
            let p = &self.provs[i];
            let role = match p.role {
                Role::Sybil(_) => "Sybil".to_string(),
                role => format!("{role:?}"),
            };
            let outcomes = &mut self.stats.outcomes;
            for (what, n) in [
                (
                    "paid replicas",
                    acc.jobs_completed - p.books.start_completed,
                ),
                ("slashed", acc.jobs_slashed - p.books.start_slashed),
                ("gave back", p.books.give_backs),
            ] {
                *outcomes.entry(format!("~ {what}: {role}")).or_default() += n;
            }
        }
    }
}
