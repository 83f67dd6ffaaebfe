//! Drawn jobs: applying, producing the draw's seed slot in the SlotHashes sysvar, drawing.

use compute_market::state::ClaimMode;
use compute_market_sdk::instructions as sdk_ix;

use super::*;

/// Funds of the client of a drawn job posted by [`Harness::post_drawn`].
const CLIENT_FUNDS: u64 = 10_000_000;

/// The SlotHashes sysvar's address.
fn slot_hashes_id() -> Pubkey {
    use anchor_lang::solana_program::sysvar::SysvarId;
    anchor_lang::prelude::SlotHashes::id()
}

impl Harness {
    /// Posts a drawn job of `replicas`/`quorum` for a fresh client; returns (client, job).
    pub fn post_drawn(&mut self, replicas: u8, quorum: u8) -> (Wallet, Pubkey) {
        let client = self.wallet(CLIENT_FUNDS);
        let mut args = self.job_args(replicas, quorum);
        args.rules.selection = ClaimMode::Drawn;
        let job = self.post(&client, &args).unwrap();
        (client, job)
    }

    /// Applies to `job`, locking exactly its collateral.
    pub fn apply(&mut self, p: &ProviderActor, job: &Pubkey, contribution: u8) -> TxResult {
        let stake = self.job(job).collateral_per_replica;
        self.apply_with(p, job, contribution, stake)
    }

    /// Applies to `job`, locking `stake`.
    pub fn apply_with(
        &mut self,
        p: &ProviderActor,
        job: &Pubkey,
        contribution: u8,
        stake: u64,
    ) -> TxResult {
        let j = self.job(job);
        let ix = sdk_ix::job_apply(&p.wallet.pubkey(), job, &j, [contribution; 32], stake);
        self.send(&[ix], &[&p.wallet.key])
    }

    /// Writes the SlotHashes sysvar: `(slot, hash)` entries, newest first.
    pub fn set_slot_hashes(&mut self, entries: &[(u64, [u8; 32])]) {
        let mut data = vec![0u8; 8 + 512 * 40];
        data[..8].copy_from_slice(&(entries.len() as u64).to_le_bytes());
        for (i, (slot, hash)) in entries.iter().enumerate() {
            let at = 8 + i * 40;
            data[at..at + 8].copy_from_slice(&slot.to_le_bytes());
            data[at + 8..at + 40].copy_from_slice(hash);
        }
        let mut account = self.svm.get_account(&slot_hashes_id()).expect("sysvar");
        account.data = data;
        self.svm.set_account(slot_hashes_id(), account).unwrap();
    }

    /// Closes the claim window and produces the job's seed slot with `hash`.
    pub fn reach_draw(&mut self, job: &Pubkey, hash: [u8; 32]) {
        let j = self.job(job);
        self.warp_to(j.claim_deadline + 1);
        let slot = j.draw_slot + 1;
        self.svm.warp_to_slot(slot);
        self.set_slot_hashes(&[
            (slot, [1; 32]),
            (j.draw_slot, hash),
            (j.draw_slot - 1, [2; 32]),
        ]);
    }

    pub fn draw_ix(&self, job: &Pubkey) -> Instruction {
        sdk_ix::job_draw(&self.payer.pubkey(), job, &self.job(job))
    }

    pub fn draw(&mut self, job: &Pubkey) -> TxResult {
        let ix = self.draw_ix(job);
        self.send(&[ix], &[])
    }
}
