//! The SDK's one error type. Failed transactions carry the program's named error and its logs,
//! never a bare "custom program error 0x1771".

use anchor_lang::prelude::Pubkey;
use solana_rpc_client_api::client_error::{Error as ClientError, ErrorKind};
use solana_rpc_client_api::request::{RpcError, RpcResponseErrorData};

use crate::store::StoreError;

/// Everything the SDK can fail with.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    /// The program refused the transaction with one of its named errors.
    #[error("{instruction}: program error {name} ({code}): {message}")]
    Program {
        /// The instruction that failed (e.g. `job_claim`).
        instruction: String,
        /// Error number (6000 + variant index for `MarketError`).
        code: u32,
        /// Error name, e.g. `InsufficientFreeStake`.
        name: String,
        /// The program's message.
        message: String,
        /// Program logs of the failed transaction.
        logs: Vec<String>,
    },
    /// The transaction failed outside our program (token program, system program, runtime).
    #[error("{instruction}: transaction failed: {message}")]
    Transaction {
        /// The instruction that failed.
        instruction: String,
        /// What went wrong, as specific as the node said.
        message: String,
        /// Program logs, when the node returned them.
        logs: Vec<String>,
    },
    /// The transaction was not confirmed before its blockhash expired, so it can never land:
    /// nothing happened, and building and sending it again is safe.
    #[error("{instruction}: transaction {signature} expired before it was confirmed (not landed; safe to retry)")]
    Expired {
        /// The instruction that was sent.
        instruction: String,
        /// The expired transaction's signature.
        signature: solana_signature::Signature,
    },
    /// An RPC or websocket call failed (node unreachable, bad response).
    #[error("RPC {context}: {message}")]
    Rpc {
        /// What the SDK was doing.
        context: String,
        /// The client's error.
        message: String,
    },
    /// No account at this address.
    #[error("account {address} not found")]
    AccountNotFound {
        /// The address.
        address: Pubkey,
    },
    /// The account exists but is not what was expected.
    #[error("account {address} is not a valid {expected}: {reason}")]
    AccountDecode {
        /// The address.
        address: Pubkey,
        /// The type expected there.
        expected: &'static str,
        /// Why decoding failed.
        reason: String,
    },
    /// A job spec broke the job ABI or the market's rules; nothing was sent or paid.
    #[error("invalid job: {0}")]
    InvalidJob(String),
    /// A shader failed validation against the job ABI; nothing was sent or paid.
    #[error("invalid shader: {0}")]
    InvalidShader(compute_market_job::AbiError),
    /// Uploading or downloading a blob failed, or its hash did not match the chain.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A job's output did not hash to the result recorded on-chain.
    #[error("job {job}: output hashes to {actual}, but the chain recorded {expected}")]
    ResultMismatch {
        /// The job.
        job: Pubkey,
        /// Result hash on-chain (hex).
        expected: String,
        /// Hash of the downloaded output (hex).
        actual: String,
    },
    /// The job settled without a result (Failed, Expired) or has not settled yet.
    #[error("job {job} has no result: it is {status}")]
    NoResult {
        /// The job.
        job: Pubkey,
        /// Its status.
        status: String,
    },
    /// The job is not in a state that allows the operation; nothing was sent.
    #[error("job {job}: {message}")]
    WrongState {
        /// The job.
        job: Pubkey,
        /// What is wrong.
        message: String,
    },
    /// A sharded job could not be completed. Shard jobs nobody had claimed were cancelled
    /// (refunded) and failed ones closed; those still running are listed: they complete or
    /// expire on their own, and their client closes them then.
    #[error("sharded job incomplete: {reason}{}", if left_open.is_empty() { String::new() } else { format!("; shard jobs still running: {}", left_open.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")) })]
    ShardsIncomplete {
        /// Why.
        reason: String,
        /// Shard jobs still running.
        left_open: Vec<Pubkey>,
    },
    /// Waiting took longer than allowed.
    #[error("timed out after {seconds} s waiting for {what}")]
    Timeout {
        /// What the SDK waited for.
        what: String,
        /// How long it waited.
        seconds: u64,
    },
    /// Bad configuration (URL, keypair file, market).
    #[error("configuration: {0}")]
    Config(String),
}

impl From<compute_market_job::AbiError> for SdkError {
    fn from(err: compute_market_job::AbiError) -> Self {
        // Not a `#[source]`: the message already includes it (line and column), and reporters
        // that print source chains would repeat it.
        Self::InvalidShader(err)
    }
}

/// Result alias of the SDK.
pub type Result<T, E = SdkError> = std::result::Result<T, E>;

impl SdkError {
    /// Wraps an RPC client error, keeping what the SDK was doing.
    pub fn rpc(context: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Self::Rpc {
            context: context.into(),
            message: err.to_string(),
        }
    }

    /// The program error name, when the program refused the transaction.
    pub fn program_error_name(&self) -> Option<&str> {
        match self {
            Self::Program { name, .. } => Some(name),
            _ => None,
        }
    }

    /// Logs of the failed transaction, if any.
    pub fn logs(&self) -> &[String] {
        match self {
            Self::Program { logs, .. } | Self::Transaction { logs, .. } => logs,
            _ => &[],
        }
    }

    /// Turns a failed send into the most specific error: the program's named error (parsed from
    /// Anchor's `AnchorError ... Error Code: X. Error Number: N. Error Message: M.` log line),
    /// else a token-program error by name, else the runtime's message.
    pub fn from_send(instruction: &str, err: ClientError) -> Self {
        let (logs, tx_err) = match err.kind() {
            ErrorKind::RpcError(RpcError::RpcResponseError {
                data: RpcResponseErrorData::SendTransactionPreflightFailure(sim),
                message,
                ..
            }) => (
                sim.logs.clone().unwrap_or_default(),
                sim.err
                    .clone()
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| message.clone()),
            ),
            ErrorKind::TransactionError(e) => (vec![], e.to_string()),
            other => return Self::rpc(format!("sending {instruction}"), other),
        };
        Self::from_logs(instruction, logs, tx_err)
    }

    /// Builds the error of a failed transaction from its logs and runtime error text.
    pub fn from_logs(instruction: &str, logs: Vec<String>, runtime_error: String) -> Self {
        if let Some((code, name, message)) = logs.iter().find_map(|l| parse_anchor_error(l)) {
            return Self::Program {
                instruction: instruction.to_string(),
                code,
                name,
                message,
                logs,
            };
        }
        // A transaction that passed preflight but failed on-chain (e.g. a claim race lost in
        // the block) comes back without logs: name the program's error from its code.
        if let Some((code, name, message)) = program_error_by_code(&runtime_error) {
            return Self::Program {
                instruction: instruction.to_string(),
                code,
                name,
                message,
                logs,
            };
        }
        let message = match token_error(&logs, &runtime_error) {
            Some(token) => format!("{runtime_error} ({token})"),
            None => runtime_error,
        };
        Self::Transaction {
            instruction: instruction.to_string(),
            message,
            logs,
        }
    }
}

/// Parses `... Error Code: NAME. Error Number: N. Error Message: MSG.` from an Anchor log line.
fn parse_anchor_error(line: &str) -> Option<(u32, String, String)> {
    let rest = &line[line.find("Error Code: ")? + "Error Code: ".len()..];
    let (name, rest) = rest.split_once(". Error Number: ")?;
    let (number, message) = rest.split_once(". Error Message: ")?;
    Some((
        number.trim().parse().ok()?,
        name.trim().to_string(),
        message.trim().trim_end_matches('.').to_string(),
    ))
}

/// The program's errors as its IDL lists them: (code, name, message).
fn program_errors() -> &'static [(u32, String, String)] {
    static ERRORS: std::sync::OnceLock<Vec<(u32, String, String)>> = std::sync::OnceLock::new();
    ERRORS.get_or_init(|| {
        let idl: serde_json::Value =
            serde_json::from_str(include_str!("../../idl/compute_market.json")).unwrap_or_default();
        idl["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| {
                        Some((
                            u32::try_from(e["code"].as_u64()?).ok()?,
                            e["name"].as_str()?.to_string(),
                            e["msg"].as_str().unwrap_or_default().to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default()
    })
}

/// The program error behind a runtime error text ending in `custom program error: 0x..`, when
/// the code is one of the program's own (6000 and up; the token program's are small numbers).
fn program_error_by_code(runtime_error: &str) -> Option<(u32, String, String)> {
    let code = runtime_error
        .rsplit("custom program error: 0x")
        .next()
        .filter(|_| runtime_error.contains("custom program error: 0x"))
        .and_then(|hex| u32::from_str_radix(hex.trim(), 16).ok())?;
    if code < anchor_lang::error::ERROR_CODE_OFFSET {
        return None;
    }
    program_errors()
        .iter()
        .find(|(c, _, _)| *c == code)
        .cloned()
}

/// Names the SPL Token error behind a `custom program error` from the token program.
fn token_error(logs: &[String], runtime_error: &str) -> Option<&'static str> {
    let from_token = logs
        .iter()
        .any(|l| l.contains("Tokenkeg") && l.contains("failed"));
    if !from_token {
        return None;
    }
    let code = runtime_error
        .rsplit("custom program error: 0x")
        .next()
        .and_then(|hex| u32::from_str_radix(hex.trim(), 16).ok())?;
    Some(match code {
        0 => "token: lamport balance below rent-exempt threshold",
        1 => "token: insufficient funds",
        3 => "token: mint mismatch",
        4 => "token: owner does not match",
        17 => "token: account is frozen",
        _ => "token program error",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_transaction_without_logs_is_named_from_its_code() {
        use compute_market::errors::MarketError;
        let code = u32::from(MarketError::NoFreeSlot);
        let err = SdkError::from_logs(
            "job_claim",
            vec![],
            format!("Error processing Instruction 1: custom program error: {code:#x}"),
        );
        assert_eq!(err.program_error_name(), Some("NoFreeSlot"), "{err}");
        assert!(
            err.to_string().contains("All replica slots are taken"),
            "{err}"
        );
        // A token program error keeps its own description.
        let err = SdkError::from_logs(
            "job_post",
            vec![],
            "Error processing Instruction 1: custom program error: 0x1".into(),
        );
        assert_eq!(err.program_error_name(), None);
    }

    #[test]
    fn anchor_error_lines_are_parsed() {
        let line = "Program log: AnchorError thrown in programs/compute-market/src/instructions/job_claim.rs:45. Error Code: InsufficientFreeStake. Error Number: 6018. Error Message: Not enough free stake (staked minus locked minus unbonding).";
        let (code, name, message) = parse_anchor_error(line).unwrap();
        assert_eq!(code, 6018);
        assert_eq!(name, "InsufficientFreeStake");
        assert_eq!(
            message,
            "Not enough free stake (staked minus locked minus unbonding)"
        );
        let err = SdkError::from_logs("job_claim", vec![line.into()], "x".into());
        assert_eq!(err.program_error_name(), Some("InsufficientFreeStake"));
        assert!(err.to_string().contains("InsufficientFreeStake (6018)"));
    }

    #[test]
    fn token_errors_are_named() {
        let logs = vec![
            "Program TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA failed: custom program error: 0x1"
                .to_string(),
        ];
        let err = SdkError::from_logs(
            "job_post",
            logs,
            "Error processing Instruction 0: custom program error: 0x1".into(),
        );
        assert!(err.to_string().contains("insufficient funds"), "{err}");
    }
}
