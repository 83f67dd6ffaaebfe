//! Deploying a program with the upgradeable BPF loader, as `solana program deploy` does: a
//! buffer account, the binary written into it in parallel `Write` transactions (re-sent until
//! confirmed: writes are idempotent), then `DeployWithMaxDataLen`. The client's wallet pays and
//! becomes the upgrade authority. [`inspect`] tells whether a cluster already runs a binary.

use std::time::{Duration, Instant};

use futures::StreamExt;
use solana_keypair::Keypair;
use solana_loader_v3_interface::{instruction as loader, state::UpgradeableLoaderState};
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::config::RpcSendTransactionConfig;
use solana_signature::Signature;
use solana_signer::Signer;

use anchor_lang::prelude::Pubkey;
use anchor_lang::solana_program::instruction::Instruction;

use crate::{Client, Result, SdkError};

/// Program bytes per loader `Write` (a transaction is at most 1,232 bytes; this leaves room
/// for the compute-budget instructions and a priority fee).
pub const WRITE_CHUNK: usize = 900;
/// Write transactions in flight at once.
const IN_FLIGHT: usize = 64;
/// How long to wait for a round of writes before re-sending the missing ones.
const ROUND_TIMEOUT: Duration = Duration::from_secs(30);
/// Rounds before giving up.
const ROUNDS: usize = 5;
/// Compute units of one loader instruction (builtins cost a fixed amount).
const LOADER_CU: u32 = 10_000;

/// The state of the program on the cluster, compared with a local binary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Deployed {
    /// No program at the address.
    Absent,
    /// The program runs exactly the local binary.
    Same {
        /// Who may upgrade it (`None`: immutable).
        authority: Option<Pubkey>,
    },
    /// The program runs another binary.
    Different {
        /// Who may upgrade it (`None`: immutable).
        authority: Option<Pubkey>,
    },
}

/// Compares the program at `program` with `elf`.
pub async fn inspect(rpc: &RpcClient, program: &Pubkey, elf: &[u8]) -> Result<Deployed> {
    let Some(account) = rpc
        .get_account_with_commitment(program, rpc.commitment())
        .await
        .map_err(|e| SdkError::rpc(format!("getAccountInfo {program}"), e))?
        .value
    else {
        return Ok(Deployed::Absent);
    };
    if account.owner != anchor_lang::solana_program::bpf_loader_upgradeable::ID {
        return Err(SdkError::Config(format!(
            "{program} exists but belongs to {}, not the upgradeable BPF loader",
            account.owner
        )));
    }
    let programdata = solana_loader_v3_interface::get_program_data_address(program);
    let data = rpc
        .get_account_data(&programdata)
        .await
        .map_err(|e| SdkError::rpc(format!("getAccountInfo {programdata}"), e))?;
    let meta = UpgradeableLoaderState::size_of_programdata_metadata();
    let not_programdata = || SdkError::AccountDecode {
        address: programdata,
        expected: "program data account",
        reason: "wrong length or tag".into(),
    };
    if data.len() < meta || data[0..4] != 3u32.to_le_bytes() {
        return Err(not_programdata());
    }
    let authority = match data[12] {
        1 => Some(Pubkey::try_from(&data[13..45]).map_err(|_| not_programdata())?),
        _ => None,
    };
    let code = &data[meta..];
    let same = code.len() >= elf.len()
        && &code[..elf.len()] == elf
        && code[elf.len()..].iter().all(|b| *b == 0);
    Ok(if same {
        Deployed::Same { authority }
    } else {
        Deployed::Different { authority }
    })
}

/// Deploys `elf` at `program`'s address: writes it to a buffer in parallel, then deploys it
/// with the client's wallet as upgrade authority. `progress(done, total)` follows the writes.
/// Returns the transactions sent.
pub async fn deploy_program(
    client: &Client,
    program: &Keypair,
    elf: &[u8],
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<usize> {
    let rpc = client.rpc();
    let wallet = client.wallet();
    let buffer = Keypair::new();
    let buffer_len = UpgradeableLoaderState::size_of_buffer(elf.len());
    let rent = |len: usize| async move {
        rpc.get_minimum_balance_for_rent_exemption(len)
            .await
            .map_err(|e| SdkError::rpc("getMinimumBalanceForRentExemption", e))
    };
    let buffer_rent = rent(buffer_len).await?;
    let programdata_rent = rent(UpgradeableLoaderState::size_of_programdata(elf.len())).await?;
    let program_rent = rent(UpgradeableLoaderState::size_of_program()).await?;
    let balance = rpc
        .get_balance(&wallet)
        .await
        .map_err(|e| SdkError::rpc("getBalance", e))?;
    let needed = buffer_rent + programdata_rent + program_rent;
    if balance < needed {
        return Err(SdkError::Config(format!(
            "deploying needs {:.3} SOL of rent but {wallet} holds {:.3} SOL: fund it (e.g. `solana airdrop` on a local node)",
            needed as f64 / 1e9,
            balance as f64 / 1e9
        )));
    }
    let create = loader::create_buffer(&wallet, &buffer.pubkey(), &wallet, buffer_rent, elf.len())
        .map_err(|e| SdkError::Config(format!("building the buffer instructions: {e}")))?;
    client
        .send("create program buffer", create, &[&buffer], LOADER_CU)
        .await?;
    let writes: Vec<_> = elf
        .chunks(WRITE_CHUNK)
        .enumerate()
        .map(|(i, chunk)| {
            loader::write(
                &buffer.pubkey(),
                &wallet,
                (i * WRITE_CHUNK) as u32,
                chunk.to_vec(),
            )
        })
        .collect();
    let written = writes.len();
    let deployed = async {
        send_all(client, "write program buffer", writes, progress).await?;
        let deploy = loader::deploy_with_max_program_len(
            &wallet,
            &program.pubkey(),
            &buffer.pubkey(),
            &wallet,
            program_rent,
            elf.len(),
            true,
        )
        .map_err(|e| SdkError::Config(format!("building the deploy instructions: {e}")))?;
        client
            .send("deploy program", deploy, &[program], LOADER_CU)
            .await
    };
    // The buffer's rent stays with the buffer until it is deployed or closed: say where it is.
    deployed.await.map_err(|e| SdkError::Transaction {
        instruction: "deploy program".into(),
        message: format!(
            "{e}; the buffer {} still holds {buffer_rent} lamports: retry, or get them back with `solana program close {}`",
            buffer.pubkey(),
            buffer.pubkey()
        ),
        logs: vec![],
    })?;
    // A program deployed in a slot can be invoked from the next one on: wait for a block after
    // the one the deploy landed in. A node that makes blocks only when transactions arrive
    // (Surfpool's default) never makes one by itself; there the next transaction lands in a
    // later slot anyway, so after a short wait the deploy is done.
    let landed = client.min_context_slot();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let slot = rpc
            .get_slot_with_commitment(solana_commitment_config::CommitmentConfig::processed())
            .await
            .map_err(|e| SdkError::rpc("getSlot", e))?;
        if slot > landed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(written + 2)
}

/// Sends one transaction per instruction, `IN_FLIGHT` at a time, and waits until all are
/// confirmed, re-sending the missing ones with a fresh blockhash each round (loader writes are
/// idempotent). Any transaction error stops it.
async fn send_all(
    client: &Client,
    name: &str,
    ixs: Vec<Instruction>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<()> {
    let rpc = client.rpc();
    let total = ixs.len();
    let mut pending: Vec<_> = ixs.into_iter().map(Some).collect();
    let config = RpcSendTransactionConfig {
        skip_preflight: true,
        ..Default::default()
    };
    for _round in 0..ROUNDS {
        let blockhash = rpc
            .get_latest_blockhash()
            .await
            .map_err(|e| SdkError::rpc("getLatestBlockhash", e))?;
        let mut sent: Vec<(usize, Signature)> = Vec::new();
        let txs = pending
            .iter()
            .enumerate()
            .filter_map(|(i, ix)| ix.as_ref().map(|ix| (i, ix.clone())))
            .map(|(i, ix)| Ok((i, client.sign(name, vec![ix], &[], LOADER_CU, blockhash)?)))
            .collect::<Result<Vec<_>>>()?;
        let mut sends = futures::stream::iter(txs)
            .map(|(i, tx)| async move {
                let signature = tx.signatures[0];
                // A failed send is retried next round; only confirmation counts.
                let _ = rpc.send_transaction_with_config(&tx, config).await;
                (i, signature)
            })
            .buffer_unordered(IN_FLIGHT);
        while let Some(s) = sends.next().await {
            sent.push(s);
        }
        let deadline = Instant::now() + ROUND_TIMEOUT;
        while !sent.is_empty() && Instant::now() < deadline {
            let mut still = Vec::new();
            for batch in sent.chunks(256) {
                let signatures: Vec<Signature> = batch.iter().map(|(_, s)| *s).collect();
                let statuses = rpc
                    .get_signature_statuses(&signatures)
                    .await
                    .map_err(|e| SdkError::rpc("getSignatureStatuses", e))?
                    .value;
                for ((i, signature), status) in batch.iter().zip(statuses) {
                    match status {
                        Some(s) if s.err.is_some() => {
                            return Err(SdkError::Transaction {
                                instruction: name.to_string(),
                                message: format!("{signature} failed: {:?}", s.err),
                                logs: vec![],
                            })
                        }
                        Some(s) if s.satisfies_commitment(rpc.commitment()) => {
                            pending[*i] = None;
                        }
                        _ => still.push((*i, *signature)),
                    }
                }
            }
            sent = still;
            progress(
                total - pending.iter().filter(|p| p.is_some()).count(),
                total,
            );
            if !sent.is_empty() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        if pending.iter().all(Option::is_none) {
            return Ok(());
        }
    }
    Err(SdkError::Transaction {
        instruction: name.to_string(),
        message: format!(
            "{} of {total} transactions still unconfirmed after {ROUNDS} rounds",
            pending.iter().filter(|p| p.is_some()).count()
        ),
        logs: vec![],
    })
}
