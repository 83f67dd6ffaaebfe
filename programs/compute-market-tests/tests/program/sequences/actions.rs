//! How each step is sent and judged: what is legitimate for it, and what the state demands.

use compute_market::errors::MarketError as E;
use compute_market::events::ProviderSwept;
use compute_market::state::{JobStatus, SlotState};
use compute_market::{JobRevealArgs, JobSubmitArgs};
use compute_market_sdk::instructions as sdk_ix;
use spl_token_interface::instruction as token_ix;

use super::steps::Step;
use super::world::*;
use crate::harness::*;

fn m(err: E) -> u32 {
    code(err)
}

impl World {
    pub fn execute(&mut self, step: Step) {
        match step {
            Step::Post {
                client,
                replicas,
                quorum,
                poison,
            } => self.post(client, replicas, quorum, poison),
            Step::Claim {
                provider,
                job,
                same_slot,
            } => self.claim(provider, job, same_slot),
            Step::Work { provider, job } => self.work(provider, job),
            Step::GiveBack { provider, job } => self.give_back(provider, job),
            Step::Warp { seconds } => self.advance(seconds),
            Step::Crank {
                job,
                expire,
                cranker,
            } => {
                let cranker = self.cranker(cranker);
                self.crank(job, expire, &cranker);
            }
            Step::Close { job, to_source } => self.close(job, to_source),
            Step::Cancel { job } => self.cancel(job),
            Step::WithdrawEarnings {
                provider,
                to_wallet,
            } => self.withdraw_earnings(provider, to_wallet),
            Step::Sweep { provider } => self.sweep(provider),
            Step::Unstake { provider, amount } => self.unstake(provider, amount),
            Step::Withdraw { provider } => self.withdraw(provider),
            Step::Stake { provider, amount } => self.stake(provider, amount),
            Step::Freeze { holder } => self.freeze(holder),
            Step::CloseAccount { holder } => self.close_account(holder),
        }
    }

    /// Client `i`, provider `i - clients`, or the fee payer.
    pub fn cranker(&self, i: usize) -> Pubkey {
        let n = self.clients.len();
        match i {
            i if i < n => self.clients[i].key.pubkey(),
            i if i < n + self.provs.len() => self.provs[i - n].key.pubkey(),
            _ => self.h.payer.pubkey(),
        }
    }

    // ----- clients -----

    fn post(&mut self, c: usize, replicas: u8, quorum: u8, poison: bool) {
        let mut args = self.h.job_args(replicas, quorum);
        if poison {
            args.shader_uri = "file:///blobs/runs-forever.wgsl".into();
        }
        let client = self.clients[c].key.pubkey();
        let job = job_pda(&self.h.market, &client, args.job_id);
        let mut ix = sdk_ix::job_post(&self.h.market, &self.h.mint, &client, args);
        let source = self.clients[c].source;
        retarget(&mut ix, &source, &client, &self.h.mint);
        let total = replicas as u64 * (REWARD + fee());
        let must = (!self.is_frozen(&source) && self.h.balance(&source) >= total).then_some(Ok(()));
        let res = self.send(&[ix]);
        if self.judge("post", res, &[TOKEN_FUNDS, TOKEN_FROZEN], must) {
            self.log.push(format!("      = j{}", self.jobs.len()));
            self.jobs.push(JobSim {
                key: job,
                escrow: escrow_pda(&job),
                client: c,
                replicas,
                poison,
                gave_back: vec![],
                fate: Fate::Live,
            });
        }
    }

    pub fn close(&mut self, j: usize, to_source: bool) {
        let job = self.job_state(j).expect("an unclosed job");
        let c = self.jobs[j].client;
        let dest = if to_source {
            self.clients[c].source
        } else {
            self.fresh_account(&self.clients[c].key.pubkey())
        };
        let (escrow, before) = (self.jobs[j].escrow, self.h.balance(&dest));
        let refund = self.h.balance(&escrow);
        // Nothing moves when nothing is refunded (a fully paid job): a frozen account is fine.
        let must = if !job.status().is_settled() {
            Err(m(E::JobNotSettled))
        } else if self.is_frozen(&dest) && refund > 0 {
            Err(TOKEN_FROZEN)
        } else {
            Ok(())
        };
        let ix = sdk_ix::job_close(&self.jobs[j].key, &job, &self.h.market_account(), &dest);
        let res = self.send(&[ix]);
        let allowed = [m(E::JobNotSettled), TOKEN_FROZEN];
        if self.judge("close", res, &allowed, Some(must)) {
            self.closed(j, dest, before + refund);
        }
    }

    fn cancel(&mut self, j: usize) {
        let job = self.job_state(j).expect("a live job");
        let c = self.jobs[j].client;
        let dest = self.fresh_account(&self.clients[c].key.pubkey());
        let must = if job.status() != JobStatus::Open {
            Err(m(E::JobNotOpen))
        } else if job.claimed > 0 {
            Err(m(E::JobAlreadyClaimed))
        } else {
            Ok(())
        };
        let total = job.escrow_total().unwrap();
        let ix = sdk_ix::job_cancel(&self.jobs[j].key, &job, &self.h.market_account(), &dest);
        let res = self.send(&[ix]);
        let allowed = [m(E::JobNotOpen), m(E::JobAlreadyClaimed)];
        if self.judge("cancel", res, &allowed, Some(must)) {
            *self.stats.fates.entry("Cancelled".into()).or_default() += 1;
            self.closed(j, dest, total);
        }
    }

    /// Books a closed (or cancelled) job whose refund went to `dest`, which now holds `expect`.
    fn closed(&mut self, j: usize, dest: Pubkey, expect: u64) {
        let sim = &mut self.jobs[j];
        sim.fate = Fate::Closed;
        let (key, escrow, c) = (sim.key, sim.escrow, sim.client);
        assert_eq!(self.h.balance(&dest), expect, "j{j}'s refund");
        assert!(!self.h.exists(&escrow), "j{j}'s escrow is closed");
        self.h.tombstone(&key);
        let accounts = &mut self.clients[c].accounts;
        if !accounts.contains(&dest) {
            accounts.push(dest);
        }
    }

    // ----- providers on jobs -----

    fn owner(&self, p: usize) -> Pubkey {
        self.provs[p].key.pubkey()
    }

    fn claim(&mut self, p: usize, j: usize, same_slot: bool) {
        let key = self.jobs[j].key;
        if !same_slot {
            self.h.leave_posting_slot(&key);
        }
        let owner = self.owner(p);
        let mut allowed = vec![
            m(E::JobNotOpen),
            m(E::ClaimDeadlinePassed),
            m(E::NoFreeSlot),
            m(E::AlreadyClaimed),
            m(E::StakeBelowJobMinimum),
            m(E::InsufficientFreeStake),
        ];
        let must = match self.job_state(j) {
            None => Err(NOT_A_JOB),
            Some(job) => {
                let (now, slot) = (self.h.now(), self.h.clock().slot);
                let own = job.client == owner;
                if own {
                    allowed.push(m(E::ClientCannotClaim));
                }
                if slot <= job.posted_slot {
                    allowed.push(m(E::ClaimTooEarly));
                }
                let prov = self.provider_state(p);
                if job.status() != JobStatus::Open {
                    Err(m(E::JobNotOpen))
                } else if now > job.claim_deadline {
                    Err(m(E::ClaimDeadlinePassed))
                } else if slot <= job.posted_slot {
                    Err(m(E::ClaimTooEarly))
                } else if job.slot_of(&self.provs[p].provider).is_some() {
                    Err(m(E::AlreadyClaimed))
                } else if own {
                    Err(m(E::ClientCannotClaim))
                } else if prov.bonded_stake() < MIN_STAKE {
                    Err(m(E::StakeBelowJobMinimum))
                } else if prov.free_stake().unwrap() < job.collateral_per_replica {
                    Err(m(E::InsufficientFreeStake))
                } else {
                    Ok(())
                }
            }
        };
        allowed.push(NOT_A_JOB);
        let ix = sdk_ix::job_claim(&self.h.market, &owner, &key);
        let res = self.send(&[ix]);
        self.judge("claim", res, &allowed, Some(must));
    }

    /// The provider's role decides what it does next.
    fn work(&mut self, p: usize, j: usize) {
        let Some(job) = self.job_state(j) else {
            self.log.push("      (closed)".into());
            return;
        };
        let role = self.provs[p].role;
        let poison = self.jobs[j].poison;
        let state = job
            .slot_of(&self.provs[p].provider)
            .map(|i| job.slots[i].state());
        match role {
            Role::NoShow => self.log.push("      (no-show idles)".into()),
            Role::GiveBacker => self.give_back(p, j),
            Role::Honest if poison => self.give_back(p, j),
            Role::Sybil(_) if poison => {
                if self.rng.chance(50) {
                    self.give_back(p, j);
                } else {
                    self.log.push("      (sybil idles)".into());
                }
            }
            _ => {
                let hash = if role == Role::Liar {
                    lie(j, p)
                } else {
                    truth(j)
                };
                if job.replicas == 1 {
                    self.submit(p, j, hash);
                } else if state == Some(SlotState::Committed) {
                    let mismatch = role == Role::Liar && self.rng.chance(20);
                    self.reveal(p, j, hash, mismatch);
                } else {
                    self.commit(p, j, hash);
                }
            }
        }
    }

    pub fn commit(&mut self, p: usize, j: usize, hash: [u8; 32]) {
        let (job, state) = self.slot_state(p, j).expect("a live job");
        let now = self.h.now();
        let ok =
            !job.status().is_settled() && state == SlotState::Claimed && now <= job.commit_deadline;
        let (owner, key) = (self.owner(p), self.jobs[j].key);
        let commitment = sdk_ix::commitment(&self.h.market, &owner, &key, &hash, &salt(j, p));
        let ix = sdk_ix::job_commit(&self.h.market, &owner, &key, commitment);
        let res = self.send(&[ix]);
        let allowed = [
            m(E::JobNotOpen),
            m(E::NotAReplica),
            m(E::WrongSlotState),
            m(E::CommitDeadlinePassed),
        ];
        self.judge("commit", res, &allowed, ok.then_some(Ok(())));
    }

    /// Reveals `hash` (or, with `mismatch`, a result other than the one committed to).
    pub fn reveal(&mut self, p: usize, j: usize, hash: [u8; 32], mismatch: bool) {
        let (job, state) = self.slot_state(p, j).expect("a live job");
        let now = self.h.now();
        let open = !job.status().is_settled()
            && state == SlotState::Committed
            && job.reveal_open(now)
            && now <= job.reveal_deadline;
        let must = match (open, mismatch) {
            (false, _) => None,
            (true, false) => Some(Ok(())),
            (true, true) => Some(Err(m(E::CommitmentMismatch))),
        };
        let args = JobRevealArgs {
            result_hash: if mismatch { truth(j) } else { hash },
            salt: salt(j, p),
            result_uri: format!("file:///results/{j}/{p}"),
        };
        let ix = sdk_ix::job_reveal(&self.h.market, &self.owner(p), &self.jobs[j].key, args);
        let res = self.send(&[ix]);
        let mut allowed = vec![
            m(E::JobNotOpen),
            m(E::NotAReplica),
            m(E::WrongSlotState),
            m(E::RevealNotOpen),
            m(E::RevealDeadlinePassed),
        ];
        if mismatch {
            allowed.push(m(E::CommitmentMismatch));
        }
        self.judge("reveal", res, &allowed, must);
    }

    pub fn submit(&mut self, p: usize, j: usize, hash: [u8; 32]) {
        let (job, state) = self.slot_state(p, j).expect("a live job");
        let now = self.h.now();
        let ok =
            !job.status().is_settled() && state == SlotState::Claimed && now <= job.commit_deadline;
        let args = JobSubmitArgs {
            result_hash: hash,
            result_uri: format!("file:///results/{j}/{p}"),
        };
        let market = self.h.market_account();
        let ix = sdk_ix::job_submit(&self.jobs[j].key, &job, &market, &self.owner(p), args);
        let res = self.send(&[ix]);
        let allowed = [
            m(E::JobNotOpen),
            m(E::NotAReplica),
            m(E::WrongSlotState),
            m(E::CommitDeadlinePassed),
        ];
        self.judge("submit", res, &allowed, ok.then_some(Ok(())));
    }

    pub fn give_back(&mut self, p: usize, j: usize) {
        let must = match self.slot_state(p, j) {
            None => Some(Err(NOT_A_JOB)),
            Some((job, state)) => (!job.status().is_settled()
                && state == SlotState::Claimed
                && self.h.now() <= job.commit_deadline)
                .then_some(Ok(())),
        };
        let ix = sdk_ix::job_give_back(&self.h.market, &self.owner(p), &self.jobs[j].key);
        let res = self.send(&[ix]);
        let allowed = [
            m(E::JobNotOpen),
            m(E::NotAReplica),
            m(E::WrongSlotState),
            m(E::CommitDeadlinePassed),
            NOT_A_JOB,
        ];
        if self.judge("give back", res, &allowed, must) {
            let b = &mut self.provs[p].books;
            b.give_backs += 1;
            b.give_backs_since_sweep += 1;
            self.jobs[j].gave_back.push(p);
        }
    }

    /// `job_expire` (or `job_finalize`) of job `j` by `cranker`: exactly what the job's state
    /// allows.
    pub fn crank(&mut self, j: usize, expire: bool, cranker: &Pubkey) {
        let job = self.job_state(j).expect("an unclosed job");
        let now = self.h.now();
        let settled = job.status().is_settled();
        let must = if settled {
            Err(m(E::JobAlreadySettled))
        } else if expire {
            job.expiry(now).map(|_| ()).ok_or(m(E::ExpireTooEarly))
        } else if job.replicas == 1 {
            Err(m(E::WrongVerificationMode))
        } else if job.can_finalize(now) {
            Ok(())
        } else {
            Err(m(E::FinalizeTooEarly))
        };
        let market = self.h.market_account();
        let key = self.jobs[j].key;
        let (ix, what, allowed) = if expire {
            let ix = sdk_ix::job_expire(cranker, &key, &job, &market);
            (
                ix,
                "expire",
                vec![m(E::JobAlreadySettled), m(E::ExpireTooEarly)],
            )
        } else {
            let ix = sdk_ix::job_finalize(cranker, &key, &job, &market);
            let allowed = vec![
                m(E::JobAlreadySettled),
                m(E::WrongVerificationMode),
                m(E::FinalizeTooEarly),
            ];
            (ix, "finalize", allowed)
        };
        let res = self.send(&[ix]);
        self.judge(what, res, &allowed, Some(must));
    }

    // ----- providers' money -----

    pub fn withdraw_earnings(&mut self, p: usize, to_wallet: bool) {
        let owner = self.owner(p);
        let dest = if to_wallet {
            self.provs[p].wallet
        } else {
            self.fresh_account(&owner)
        };
        let earnings = self.provider_state(p).earnings;
        let must = if earnings == 0 {
            Err(m(E::NoEarnings))
        } else if self.is_frozen(&dest) {
            Err(TOKEN_FROZEN)
        } else {
            Ok(())
        };
        let ix = sdk_ix::provider_withdraw_earnings(&self.h.market, &self.h.mint, &owner, &dest);
        let res = self.send(&[ix]);
        let allowed = [m(E::NoEarnings), TOKEN_FROZEN];
        if self.judge("withdraw earnings", res, &allowed, Some(must)) {
            let accounts = &mut self.provs[p].accounts;
            if !accounts.contains(&dest) {
                accounts.push(dest);
            }
        }
    }

    pub fn sweep(&mut self, p: usize) {
        let ix = self.h.sweep_ix(&self.provs[p].provider);
        let res = self.send(&[ix]);
        if let Ok(meta) = &res {
            let swept: ProviderSwept = event(meta);
            self.h.burnt += swept.burnt;
        }
        self.judge("sweep", res, &[], Some(Ok(())));
        let slashed = self.provider_state(p).jobs_slashed;
        let b = &mut self.provs[p].books;
        b.give_backs_since_sweep = 0;
        b.slashed_at_sweep = slashed;
    }

    fn unstake(&mut self, p: usize, amount: u64) {
        let free = self.provider_state(p).free_stake().unwrap();
        let must = if free >= amount {
            Ok(())
        } else {
            Err(m(E::InsufficientFreeStake))
        };
        let ix = sdk_ix::provider_unstake(&self.h.market, &self.owner(p), amount);
        let res = self.send(&[ix]);
        self.judge("unstake", res, &[m(E::InsufficientFreeStake)], Some(must));
    }

    fn withdraw(&mut self, p: usize) {
        let acc = self.provider_state(p);
        let (owner, wallet) = (self.owner(p), self.provs[p].wallet);
        let must = if acc.unbonding == 0 {
            Err(m(E::NothingUnbonding))
        } else if self.h.now() < acc.unbonding_ends_at {
            Err(m(E::StillUnbonding))
        } else if self.is_frozen(&wallet) {
            Err(TOKEN_FROZEN)
        } else {
            Ok(())
        };
        let mut ix = sdk_ix::provider_withdraw(&self.h.market, &self.h.mint, &owner);
        retarget(&mut ix, &wallet, &owner, &self.h.mint);
        let res = self.send(&[ix]);
        let allowed = [m(E::NothingUnbonding), m(E::StillUnbonding), TOKEN_FROZEN];
        if self.judge("withdraw", res, &allowed, Some(must)) {
            self.provs[p].books.withdrawn += acc.unbonding;
        }
    }

    fn stake(&mut self, p: usize, amount: u64) {
        let (owner, wallet) = (self.owner(p), self.provs[p].wallet);
        let ok = !self.is_frozen(&wallet) && self.h.balance(&wallet) >= amount;
        let mut ix = sdk_ix::provider_stake(&self.h.market, &self.h.mint, &owner, amount);
        retarget(&mut ix, &wallet, &owner, &self.h.mint);
        let res = self.send(&[ix]);
        let allowed = [TOKEN_FUNDS, TOKEN_FROZEN];
        if self.judge("stake", res, &allowed, ok.then_some(Ok(()))) {
            self.provs[p].books.staked_in += amount;
        }
    }

    // ----- hostile holders -----

    fn freeze(&mut self, holder: Holder) {
        let account = self.account_of(holder);
        self.h.freeze(&account);
        self.frozen.push(account);
        *self.stats.outcomes.entry("freeze: ok".into()).or_default() += 1;
    }

    fn close_account(&mut self, holder: Holder) {
        let (old, owner) = (self.account_of(holder), self.owner_of(holder));
        let new = self.fresh_account(&owner);
        let amount = self.h.balance(&old);
        let token = token_program();
        let ixs = [
            token_ix::transfer(&token, &old, &new, &owner, &[], amount).unwrap(),
            token_ix::close_account(&token, &old, &owner, &owner, &[]).unwrap(),
        ];
        let res = self.send(&ixs);
        self.judge("close account", res, &[], Some(Ok(())));
        assert!(!self.h.exists(&old));
        match holder {
            Holder::Client(c) => {
                self.clients[c].source = new;
                self.clients[c].accounts.push(new);
            }
            Holder::Provider(p) => {
                self.provs[p].wallet = new;
                self.provs[p].accounts.push(new);
            }
        }
    }
}

/// Points an SDK instruction that names `owner`'s associated token account at `account`
/// instead (a holder that closed its associated account pays from, or is paid to, another).
fn retarget(ix: &mut Instruction, account: &Pubkey, owner: &Pubkey, mint: &Pubkey) {
    let associated = compute_market_sdk::pda::token_account(owner, mint);
    for meta in &mut ix.accounts {
        if meta.pubkey == associated {
            meta.pubkey = *account;
        }
    }
}
