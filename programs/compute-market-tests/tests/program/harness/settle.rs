//! Settlements of every size, sent the way the SDK client sends them (a compute-unit limit
//! instruction, then the settling instruction, in one legacy transaction), with their size and
//! compute units.

use compute_market_sdk::client::cu;
use solana_compute_budget_interface::ComputeBudgetInstruction;
use solana_transaction::Transaction;

use super::*;

/// Largest serialized transaction the network accepts (`PACKET_DATA_SIZE`).
pub const PACKET_DATA_SIZE: usize = 1_232;

/// What one settlement transaction costs.
#[derive(Debug, Clone, Copy)]
pub struct SettleCost {
    /// Replicas of the job.
    pub replicas: u8,
    /// Serialized size of the legacy transaction, in bytes.
    pub bytes: usize,
    /// Compute units it consumed (the compute-budget instruction included).
    pub cu: u64,
}

/// Serialized size of a legacy transaction: signature count (a one-byte short vector below
/// 128), the signatures, the message.
pub fn wire_size(tx: &Transaction) -> usize {
    assert!(tx.signatures.len() < 128);
    1 + 64 * tx.signatures.len() + tx.message_data().len()
}

/// The same result from every provider.
const AGREED: [u8; 32] = [0x5a; 32];

/// A strict-majority quorum of `n` (1 for one replica).
pub fn majority(n: u8) -> u8 {
    n / 2 + 1
}

impl Harness {
    /// The transaction the SDK client sends for `ix` with the compute-unit limit `limit`.
    pub fn sdk_tx(&self, ix: Instruction, limit: u32, signers: &[&Keypair]) -> Transaction {
        let budget = ComputeBudgetInstruction::set_compute_unit_limit(limit + cu::BUDGET_OVERHEAD);
        self.transaction(&[budget, ix], signers)
    }

    /// Sends `tx`, which must fit a packet, and returns its cost.
    fn settle_with(&mut self, replicas: u8, tx: Transaction) -> SettleCost {
        let bytes = wire_size(&tx);
        assert!(bytes <= PACKET_DATA_SIZE, "n = {replicas}: {bytes} bytes");
        let meta = self.send_tx(tx).expect("settlement in one transaction");
        SettleCost {
            replicas,
            bytes,
            cu: meta.compute_units_consumed,
        }
    }

    /// A job of `n` replicas where every provider agrees and is paid (n = 1: `job_submit`;
    /// otherwise commits and reveals, then `job_finalize`).
    pub fn settle_all_paid(&mut self, n: u8) -> SettleCost {
        let client = self.wallet(10_000_000);
        let ps = self.providers(n as usize);
        let job = self.claimed_job(&client, &ps, n, majority(n));
        let tx = if n == 1 {
            let ix = self.submit_ix(&ps[0], &job, AGREED);
            self.sdk_tx(ix, cu::JOB_SUBMIT, &[&ps[0].wallet.key])
        } else {
            for (i, p) in ps.iter().enumerate() {
                self.commit(p, &job, AGREED, [i as u8; 32]).unwrap();
            }
            for (i, p) in ps.iter().enumerate() {
                self.reveal(p, &job, AGREED, [i as u8; 32]).unwrap();
            }
            let ix = self.finalize_ix(&job, &self.payer.pubkey());
            self.sdk_tx(ix, cu::settle(n), &[])
        };
        let cost = self.settle_with(n, tx);
        let j = self.job(&job);
        assert_eq!((j.status(), j.result_hash), (JobStatus::Completed, AGREED));
        for p in &ps {
            assert_eq!(self.provider(&p.provider).earnings, REWARD);
        }
        cost
    }

    /// A job of `n` replicas whose every claimer misses the commit deadline: `job_expire`
    /// slashes them all.
    pub fn settle_all_slashed(&mut self, n: u8) -> SettleCost {
        let client = self.wallet(10_000_000);
        let ps = self.providers(n as usize);
        let job = self.claimed_job(&client, &ps, n, majority(n));
        let deadline = self.job(&job).commit_deadline;
        self.warp_to(deadline + 1);
        let ix = self.expire_ix(&job, &self.payer.pubkey());
        let tx = self.sdk_tx(ix, cu::settle(n), &[]);
        let cost = self.settle_with(n, tx);
        assert_eq!(self.job(&job).status(), JobStatus::Expired);
        for p in &ps {
            assert_eq!(self.provider(&p.provider).forfeit_due, COLLATERAL);
        }
        cost
    }
}
