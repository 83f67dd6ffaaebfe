//! Sending transactions so that they land, and knowing when they did.
//!
//! [`Client::send`] signs once (again only if the node does not know the blockhash), sends with
//! preflight (a program error comes back at once, with
//! its logs), then polls the signature's status, **rebroadcasting the same signed transaction**
//! every [`REBROADCAST_EVERY`] until it is confirmed or its blockhash has expired. Transient RPC
//! failures while waiting (a dropped connection, a 429, a node restarting) are waited out, not
//! reported as a failed send: the transaction may well have landed. The slot it landed in is
//! remembered ([`Client::min_context_slot`]) and every later account read of this client asks
//! for state at least that new (`minContextSlot`), so a lagging or load-balanced node can never
//! show a state from before our own transaction.
//!
//! A recent blockhash is reused for new transactions for [`BLOCKHASH_TTL`] (it stays valid for
//! ~150 blocks, about a minute), so a busy provider asks for one every few seconds rather than
//! once per transaction. A transaction identical to one this client sent before (the same
//! instructions with the same blockhash: a retry, or the same intent twice, like staking 100
//! twice) would be dropped as a duplicate, so it is signed again with a newer blockhash.
//!
//! The priority fee is either fixed (`ClientConfig::priority_fee_micro_lamports`) or, when a cap
//! is set (`ClientConfig::priority_fee_cap_micro_lamports`), follows
//! `getRecentPrioritizationFees` for the transaction's writable accounts (the 75th percentile of
//! the recent slots' fees), never below the fixed fee nor above the cap.

use std::time::{Duration, Instant};

use anchor_lang::solana_program::instruction::Instruction;
use solana_commitment_config::CommitmentConfig;
use solana_compute_budget_interface::ComputeBudgetInstruction;
use solana_keypair::Keypair;
use solana_rpc_client_api::client_error::ErrorKind;
use solana_rpc_client_api::config::{RpcSendTransactionConfig, RpcTransactionConfig};
use solana_signature::Signature;
use solana_signer::Signer;
use solana_transaction::Transaction;
use solana_transaction_error::TransactionError::BlockhashNotFound;

use crate::client::{cu, Client};
use crate::error::{Result, SdkError};

/// How often an unconfirmed transaction is sent again.
pub const REBROADCAST_EVERY: Duration = Duration::from_secs(2);
/// How often its status is polled.
const STATUS_EVERY: Duration = Duration::from_millis(400);
/// How long recent prioritization fees are reused before they are read again.
const FEE_TTL: Duration = Duration::from_secs(10);
/// How long a blockhash is reused for new transactions before a fresh one is read.
pub const BLOCKHASH_TTL: Duration = Duration::from_secs(10);

/// A recent blockhash, its last valid block height, and when it was read.
pub(crate) type CachedBlockhash = (Instant, solana_message::Hash, u64);
/// Longer than a blockhash stays valid (150 blocks: ~60 s on a cluster): a transaction sent
/// longer ago can no longer be a duplicate.
const BLOCKHASH_LIFETIME: Duration = Duration::from_secs(120);
/// Most signatures remembered to catch duplicates (the oldest are forgotten first).
const MAX_REMEMBERED_SENDS: usize = 8192;
/// How many newer blockhashes a repeated transaction waits for (one per status interval).
const DUPLICATE_TRIES: u32 = 30;

impl Client {
    /// Signs (payer + `signers`) and sends `ixs` with a compute-unit limit; returns once the
    /// transaction is confirmed (see the module documentation for rebroadcasts and waits).
    /// Failures name the program error and carry the logs; a transaction whose blockhash
    /// expired before it landed is [`SdkError::Expired`] (safe to build and send again).
    pub async fn send(
        &self,
        name: &str,
        ixs: Vec<Instruction>,
        signers: &[&Keypair],
        cu_limit: u32,
    ) -> Result<Signature> {
        let price = self.priority_fee_for(&ixs).await;
        let preflight = RpcSendTransactionConfig {
            preflight_commitment: Some(CommitmentConfig::confirmed().commitment),
            ..Default::default()
        };
        let mut fresh = false;
        let (tx, last_valid) = loop {
            let (tx, last_valid) = self
                .signed_once(name, &ixs, signers, cu_limit, price, fresh)
                .await?;
            let signature = tx.signatures[0];
            match self
                .rpc()
                .send_transaction_with_config(&tx, preflight)
                .await
            {
                Ok(_) => break (tx, last_valid),
                // The node may have taken it before the connection broke: wait and rebroadcast.
                Err(e) if is_transport(&e) => {
                    tracing::debug!(%signature, error = %e, "send failed in transport; rebroadcasting");
                    break (tx, last_valid);
                }
                // A reused blockhash this node does not know (another node of a rotation, or
                // one that restarted): once more with a fresh one.
                Err(e) if !fresh && e.get_transaction_error() == Some(BlockhashNotFound) => {
                    tracing::debug!(%signature, "blockhash not found; signing with a fresh one");
                    fresh = true;
                }
                Err(e) => return Err(SdkError::from_send(name, e)),
            }
        };
        let signature = tx.signatures[0];
        let rebroadcast = RpcSendTransactionConfig {
            skip_preflight: true,
            max_retries: Some(0),
            ..Default::default()
        };
        let mut sent = Instant::now();
        loop {
            tokio::time::sleep(STATUS_EVERY).await;
            if let Some(status) = self.status_of(&signature).await {
                if status.satisfies_commitment(CommitmentConfig::confirmed()) {
                    self.observe_slot(status.slot);
                    return match &status.err {
                        None => Ok(signature),
                        Some(runtime) => {
                            let logs = self.transaction_logs(&signature).await;
                            Err(SdkError::from_logs(name, logs, runtime.to_string()))
                        }
                    };
                }
            }
            if sent.elapsed() < REBROADCAST_EVERY {
                continue;
            }
            // Not confirmed yet: still valid? Then send the same transaction again.
            match self
                .rpc()
                .get_block_height_with_commitment(CommitmentConfig::confirmed())
                .await
            {
                Ok(height) if height > last_valid => {
                    // One last look: landed in a block before the blockhash expired, it may
                    // still be confirmed; wait for that (a dropped fork makes it unknown again).
                    if self.status_of(&signature).await.is_some() {
                        continue;
                    }
                    return Err(SdkError::Expired {
                        instruction: name.to_string(),
                        signature,
                    });
                }
                Ok(_) => {
                    if let Err(e) = self
                        .rpc()
                        .send_transaction_with_config(&tx, rebroadcast)
                        .await
                    {
                        tracing::debug!(%signature, error = %e, "rebroadcast failed");
                    }
                }
                Err(e) => tracing::debug!(error = %e, "getBlockHeight failed; waiting on"),
            }
            sent = Instant::now();
        }
    }

    /// `ixs` signed with a recent blockhash (a fresh one if `fresh`), never the very same
    /// transaction as one sent before; with the blockhash's last valid block height.
    async fn signed_once(
        &self,
        name: &str,
        ixs: &[Instruction],
        signers: &[&Keypair],
        cu_limit: u32,
        price: Option<u64>,
        fresh: bool,
    ) -> Result<(Transaction, u64)> {
        let (mut blockhash, mut last_valid) = self.recent_blockhash(fresh).await?;
        let mut tx =
            self.sign_with_price(name, ixs.to_vec(), signers, cu_limit, blockhash, price)?;
        let mut tries = 0;
        while !self.first_send(&tx.signatures[0]) {
            // The very same transaction went out before: wait for a newer blockhash.
            tries += 1;
            if tries > DUPLICATE_TRIES {
                return Err(SdkError::rpc(
                    "getLatestBlockhash",
                    "no new blockhash to send a repeated transaction with",
                ));
            }
            if tries > 1 {
                tokio::time::sleep(STATUS_EVERY).await;
            }
            (blockhash, last_valid) = self.recent_blockhash(true).await?;
            tx = self.sign_with_price(name, ixs.to_vec(), signers, cu_limit, blockhash, price)?;
        }
        Ok((tx, last_valid))
    }

    fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        mutex.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A blockhash read less than [`BLOCKHASH_TTL`] ago (unless `fresh`), or a new one read at
    /// confirmed commitment.
    async fn recent_blockhash(&self, fresh: bool) -> Result<(solana_message::Hash, u64)> {
        if let Some((at, hash, last_valid)) = *Self::lock(&self.inner().blockhash) {
            if !fresh && at.elapsed() < BLOCKHASH_TTL {
                return Ok((hash, last_valid));
            }
        }
        let (hash, last_valid) = self
            .rpc()
            .get_latest_blockhash_with_commitment(CommitmentConfig::confirmed())
            .await
            .map_err(|e| SdkError::rpc("getLatestBlockhash", e))?;
        *Self::lock(&self.inner().blockhash) = Some((Instant::now(), hash, last_valid));
        Ok((hash, last_valid))
    }

    /// Records `signature` as sent; false if this client already sent that very transaction
    /// while its blockhash could still be valid.
    fn first_send(&self, signature: &Signature) -> bool {
        let mut sent = Self::lock(&self.inner().sent);
        while sent
            .front()
            .is_some_and(|(at, _)| at.elapsed() > BLOCKHASH_LIFETIME)
            || sent.len() >= MAX_REMEMBERED_SENDS
        {
            sent.pop_front();
        }
        if sent.iter().any(|(_, s)| s == signature) {
            return false;
        }
        sent.push_back((Instant::now(), *signature));
        true
    }

    /// The node's status of `signature`, at any commitment (`None`: unknown to it, or the node
    /// could not be asked now).
    async fn status_of(
        &self,
        signature: &Signature,
    ) -> Option<solana_transaction_status_client_types::TransactionStatus> {
        match self.rpc().get_signature_statuses(&[*signature]).await {
            Ok(response) => response.value.into_iter().next().flatten(),
            Err(e) => {
                tracing::debug!(%signature, error = %e, "status poll failed; waiting on");
                None
            }
        }
    }

    /// Builds and signs (payer + `signers`) a transaction of `ixs` with a compute-unit limit
    /// (and the configured fixed priority fee), for callers that send many at once.
    pub fn sign(
        &self,
        name: &str,
        ixs: Vec<Instruction>,
        signers: &[&Keypair],
        cu_limit: u32,
        blockhash: solana_message::Hash,
    ) -> Result<Transaction> {
        let price = self.inner().priority_fee;
        self.sign_with_price(name, ixs, signers, cu_limit, blockhash, price)
    }

    fn sign_with_price(
        &self,
        name: &str,
        ixs: Vec<Instruction>,
        signers: &[&Keypair],
        cu_limit: u32,
        blockhash: solana_message::Hash,
        price: Option<u64>,
    ) -> Result<Transaction> {
        let mut all = Vec::with_capacity(ixs.len() + 2);
        all.push(ComputeBudgetInstruction::set_compute_unit_limit(
            cu_limit.saturating_add(cu::BUDGET_OVERHEAD),
        ));
        if let Some(price) = price.filter(|p| *p > 0) {
            all.push(ComputeBudgetInstruction::set_compute_unit_price(price));
        }
        all.extend(ixs);
        let payer = &self.inner().payer;
        let mut keys: Vec<&Keypair> = vec![payer];
        keys.extend(signers.iter().copied());
        let mut tx = Transaction::new_with_payer(&all, Some(&payer.pubkey()));
        // `try_sign`, not `new_signed_with_payer`: a wrong signer set is an error, not a panic.
        tx.try_sign(&keys, blockhash)
            .map_err(|e| SdkError::Transaction {
                instruction: name.to_string(),
                message: format!("cannot sign: {e}"),
                logs: vec![],
            })?;
        Ok(tx)
    }

    /// The priority fee for a transaction of `ixs`: fixed, or following recent fees up to the cap.
    async fn priority_fee_for(&self, ixs: &[Instruction]) -> Option<u64> {
        let fixed = self.inner().priority_fee;
        let Some(cap) = self.inner().priority_fee_cap else {
            return fixed;
        };
        let mut writable: Vec<_> = ixs
            .iter()
            .flat_map(|ix| ix.accounts.iter())
            .filter(|a| a.is_writable)
            .map(|a| a.pubkey)
            .collect();
        writable.sort();
        writable.dedup();
        writable.truncate(128);
        {
            let cached = self.inner().recent_fee.lock().expect("fee cache lock");
            if let Some((at, fee)) = *cached {
                if at.elapsed() < FEE_TTL {
                    return Some(fee.max(fixed.unwrap_or(0)).min(cap));
                }
            }
        }
        let recent = match self.rpc().get_recent_prioritization_fees(&writable).await {
            Ok(fees) => {
                let mut fees: Vec<u64> = fees.iter().map(|f| f.prioritization_fee).collect();
                fees.sort_unstable();
                fees.get(fees.len().saturating_mul(3) / 4)
                    .copied()
                    .unwrap_or(0)
            }
            Err(e) => {
                tracing::debug!(error = %e, "getRecentPrioritizationFees failed; fixed fee");
                return fixed.map(|f| f.min(cap));
            }
        };
        *self.inner().recent_fee.lock().expect("fee cache lock") = Some((Instant::now(), recent));
        Some(recent.max(fixed.unwrap_or(0)).min(cap))
    }

    /// The log messages of a landed transaction (empty when the node cannot say), read at
    /// confirmed commitment, retried briefly as a node may index it a moment after confirming.
    pub(crate) async fn transaction_logs(&self, signature: &Signature) -> Vec<String> {
        let config = RpcTransactionConfig {
            encoding: Some(solana_transaction_status_client_types::UiTransactionEncoding::Base64),
            commitment: Some(CommitmentConfig::confirmed()),
            max_supported_transaction_version: Some(0),
        };
        for _ in 0..5 {
            if let Ok(tx) = self
                .rpc()
                .get_transaction_with_config(signature, config)
                .await
            {
                let logs: Option<Vec<String>> =
                    tx.transaction.meta.and_then(|m| m.log_messages.into());
                return logs.unwrap_or_default();
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        vec![]
    }
}

/// Whether `e` is a transport failure (the request may or may not have reached the node), as
/// opposed to an answer.
pub(crate) fn is_transport(e: &solana_rpc_client_api::client_error::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Io(_) | ErrorKind::Reqwest(_) | ErrorKind::Middleware(_)
    )
}
