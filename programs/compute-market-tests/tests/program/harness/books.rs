//! Conservation of money: what the token program holds agrees with the mint's supply and with
//! the books of every program account.

use anchor_lang::AccountDeserialize;

use super::*;

impl Harness {
    /// Conservation of money, for the payment mint:
    /// - the supply is what was minted less what sweeps burnt, and every token of it sits in a
    ///   token account (escrows, stake vaults, the treasury, wallets);
    /// - a live job's escrow holds exactly its escrowed total; a settled job's escrow holds at
    ///   least the client's refund (its total less the paid replicas' shares); a closed job's
    ///   escrow is gone;
    /// - a stake vault holds exactly `staked + earnings + fees_due + forfeit_due`, and
    ///   `locked + unbonding <= staked`;
    /// - the market's treasury is a token account owned by the market.
    #[track_caller]
    pub fn assert_conserved(&self) {
        let supply = self.supply();
        assert_eq!(
            supply,
            self.minted - self.burnt,
            "tokens were created or burnt outside a sweep"
        );
        let total: u64 = self.token_accounts().iter().map(|(_, t)| t.amount).sum();
        assert_eq!(total, supply, "token accounts do not add up to the supply");
        for (key, acc) in self.svm.get_program_accounts(&compute_market::ID) {
            let data = &acc.data[..];
            if let Some(job) = decode_job(data) {
                self.check_escrow(&key, &job);
            } else if is_tombstone(data) {
                assert!(
                    !self.exists(&escrow_pda(&key)),
                    "escrow of closed job {key} still open"
                );
            } else if let Ok(provider) = Provider::try_deserialize(&mut &data[..]) {
                self.check_vault(&key, &provider);
            } else if let Ok(market) = Market::try_deserialize(&mut &data[..]) {
                if market.payment_mint == self.mint {
                    assert_eq!(self.token(&market.treasury).owner, key, "treasury owner");
                }
            }
        }
    }

    #[track_caller]
    fn check_escrow(&self, key: &Pubkey, job: &Job) {
        let total = job.escrow_total().unwrap();
        let held = self.balance(&job.escrow);
        if !job.status().is_settled() {
            assert_eq!(
                held, total,
                "escrow of live job {key} does not hold its total"
            );
            return;
        }
        let paid = if job.status() == JobStatus::Completed {
            job.active_slots()
                .iter()
                .filter(|s| s.state() == SlotState::Revealed && s.result_hash == job.result_hash)
                .count() as u64
        } else {
            0
        };
        let refund = total - paid * (job.reward_per_replica + job.fee_per_replica);
        // More only when somebody sent tokens to the escrow: refunded too.
        assert!(
            held >= refund,
            "escrow of settled job {key} holds {held}, less than the refund {refund}"
        );
    }

    #[track_caller]
    fn check_vault(&self, key: &Pubkey, p: &Provider) {
        let books = p.staked + p.earnings + p.fees_due + p.forfeit_due;
        assert_eq!(
            self.balance(&p.stake_vault),
            books,
            "stake vault of {key} differs from its books"
        );
        assert!(
            p.locked + p.unbonding <= p.staked,
            "provider {key} over-committed"
        );
    }
}
