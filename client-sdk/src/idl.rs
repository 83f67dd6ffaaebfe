//! The program's IDL on-chain, in Anchor's IDL account: what Solana explorers and
//! `anchor idl fetch` read to decode Compute Market's accounts, instructions and events.
//!
//! The account lives at [`address`] (`create_with_seed(find_program_address([]), "anchor:idl")`,
//! owned by the program) and holds `discriminator ‖ authority ‖ u32 length ‖ zlib(IDL JSON)`.
//! [`publish`] creates it, or replaces its contents when the IDL changed, with the program's
//! own IDL instructions (`#[program(legacy_idl)]`, the ones `anchor idl init/upgrade` send).
//! [`fetch`] reads it back.

use std::io::{Read, Write};

use anchor_lang::idl::{IdlAccount, IdlInstruction, IDL_IX_TAG_LE};
use anchor_lang::prelude::{AccountMeta, Pubkey};
use anchor_lang::solana_program::instruction::Instruction;
use anchor_lang::{AnchorSerialize, Discriminator};
use solana_keypair::Keypair;
use solana_signer::Signer;

use crate::client::cu;
use crate::{pda, Client, Result, SdkError};

/// Bytes before the compressed IDL: discriminator (8), authority (32), length (4).
pub const HEADER_LEN: usize = 44;
/// Bytes of compressed IDL per write transaction (a transaction is at most 1,232 bytes).
pub const WRITE_CHUNK: usize = 900;
/// The most the program grows the IDL account by in one instruction.
const MAX_GROWTH: usize = 10_000;
/// The largest IDL JSON [`fetch`] inflates (ours is under 100 KiB).
pub const MAX_IDL_JSON: u64 = 16 * 1024 * 1024;

/// The IDL account of the program.
pub fn address() -> Pubkey {
    IdlAccount::address(&pda::PROGRAM_ID)
}

/// An IDL as stored on-chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnChainIdl {
    /// Who may change it.
    pub authority: Pubkey,
    /// The IDL JSON, inflated.
    pub json: Vec<u8>,
    /// The account's data length (header included).
    pub space: usize,
}

/// What [`publish`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Published {
    /// The IDL account was created and written.
    Created {
        /// Transactions sent.
        transactions: usize,
    },
    /// The account held another IDL and now holds this one.
    Replaced {
        /// Transactions sent.
        transactions: usize,
    },
    /// The account already held exactly this IDL: nothing was sent.
    UpToDate,
}

/// zlib-compresses an IDL JSON, as Anchor stores it.
pub fn compress(json: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(json);
    encoder.finish().unwrap_or_default()
}

/// Decodes an IDL account's data (`address` names it in errors).
pub fn decode(address: &Pubkey, data: &[u8]) -> Result<OnChainIdl> {
    let bad = |reason: String| SdkError::AccountDecode {
        address: *address,
        expected: "Anchor IDL account",
        reason,
    };
    if data.len() < HEADER_LEN {
        return Err(bad(format!(
            "{} bytes, shorter than its header",
            data.len()
        )));
    }
    if &data[..8] != IdlAccount::DISCRIMINATOR {
        return Err(bad("wrong discriminator".into()));
    }
    let authority = Pubkey::try_from(&data[8..40]).map_err(|e| bad(e.to_string()))?;
    let len = u32::from_le_bytes([data[40], data[41], data[42], data[43]]) as usize;
    let compressed = data
        .get(HEADER_LEN..HEADER_LEN + len)
        .ok_or_else(|| bad(format!("length {len} runs past the account's end")))?;
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(MAX_IDL_JSON)
        .read_to_end(&mut json)
        .map_err(|e| bad(format!("not zlib data: {e}")))?;
    Ok(OnChainIdl {
        authority,
        json,
        space: data.len(),
    })
}

/// Reads the program's IDL account (`None` when there is none).
pub async fn fetch(
    rpc: &solana_rpc_client::nonblocking::rpc_client::RpcClient,
) -> Result<Option<OnChainIdl>> {
    let address = address();
    let account = rpc
        .get_account_with_commitment(&address, rpc.commitment())
        .await
        .map_err(|e| SdkError::rpc(format!("getAccountInfo {address}"), e))?
        .value;
    match account {
        Some(a) if a.owner == pda::PROGRAM_ID && !a.data.is_empty() => {
            decode(&address, &a.data).map(Some)
        }
        _ => Ok(None),
    }
}

fn idl_ix(ix: IdlInstruction, accounts: Vec<AccountMeta>) -> Instruction {
    let mut data = IDL_IX_TAG_LE.to_vec();
    // Borsh into a Vec cannot fail.
    let _ = ix.serialize(&mut data);
    Instruction {
        program_id: pda::PROGRAM_ID,
        accounts,
        data,
    }
}

/// Creates the IDL account with room for `data_len` compressed bytes (at most 10,000 at
/// first); `authority` pays and becomes its authority.
pub fn create(authority: &Pubkey, data_len: u64) -> Instruction {
    let (base, _) = Pubkey::find_program_address(&[], &pda::PROGRAM_ID);
    idl_ix(
        IdlInstruction::Create { data_len },
        vec![
            AccountMeta::new(*authority, true),
            AccountMeta::new(address(), false),
            AccountMeta::new_readonly(base, false),
            AccountMeta::new_readonly(anchor_lang::system_program::ID, false),
            AccountMeta::new_readonly(pda::PROGRAM_ID, false),
        ],
    )
}

/// Grows the (still empty) IDL account towards `space` bytes, 10,000 at most per instruction.
pub fn resize(authority: &Pubkey, space: u64) -> Instruction {
    idl_ix(
        IdlInstruction::Resize { data_len: space },
        vec![
            AccountMeta::new(address(), false),
            AccountMeta::new(*authority, true),
            AccountMeta::new_readonly(anchor_lang::system_program::ID, false),
        ],
    )
}

/// Appends `chunk` to the IDL data of `account` (the IDL account or a buffer).
pub fn write(account: &Pubkey, authority: &Pubkey, chunk: Vec<u8>) -> Instruction {
    idl_ix(
        IdlInstruction::Write { data: chunk },
        vec![
            AccountMeta::new(*account, false),
            AccountMeta::new_readonly(*authority, true),
        ],
    )
}

/// Initialises `buffer` (already allocated, owned by the program) as an IDL buffer.
pub fn create_buffer(buffer: &Pubkey, authority: &Pubkey) -> Instruction {
    idl_ix(
        IdlInstruction::CreateBuffer,
        vec![
            AccountMeta::new(*buffer, false),
            AccountMeta::new_readonly(*authority, true),
        ],
    )
}

/// Copies `buffer`'s IDL into the IDL account.
pub fn set_buffer(buffer: &Pubkey, authority: &Pubkey) -> Instruction {
    idl_ix(
        IdlInstruction::SetBuffer,
        vec![
            AccountMeta::new(*buffer, false),
            AccountMeta::new(address(), false),
            AccountMeta::new_readonly(*authority, true),
        ],
    )
}

/// Closes `account` (the IDL account or a buffer), its lamports to `destination`.
pub fn close(account: &Pubkey, authority: &Pubkey, destination: &Pubkey) -> Instruction {
    idl_ix(
        IdlInstruction::Close,
        vec![
            AccountMeta::new(*account, false),
            AccountMeta::new_readonly(*authority, true),
            AccountMeta::new(*destination, false),
        ],
    )
}

/// Publishes `json` as the program's IDL, signed by the client's wallet.
///
/// - no IDL account yet: creates it (the wallet becomes its authority) and writes the IDL;
/// - the same IDL already there: sends nothing;
/// - another IDL there, owned by the wallet: writes the new one to a buffer and swaps it in,
///   or, when the account is too small for it, closes and re-creates the account;
/// - an IDL owned by someone else: refuses with a clear error.
pub async fn publish(client: &Client, json: &[u8]) -> Result<Published> {
    let parsed: serde_json::Value = serde_json::from_slice(json)
        .map_err(|e| SdkError::Config(format!("the IDL is not JSON: {e}")))?;
    let declared = parsed.get("address").and_then(|a| a.as_str());
    if declared != Some(pda::PROGRAM_ID.to_string().as_str()) {
        return Err(SdkError::Config(format!(
            "the IDL is for program {declared:?}, not {}",
            pda::PROGRAM_ID
        )));
    }
    let wallet = client.wallet();
    let compressed = compress(json);
    let existing = fetch(client.rpc()).await?;
    let mut sent = 0;
    match existing {
        Some(idl) if idl.json == json => return Ok(Published::UpToDate),
        Some(idl) if idl.authority != wallet => {
            return Err(SdkError::Config(format!(
                "the IDL account {} belongs to {}, not to this wallet {wallet}: sign with its authority",
                address(),
                idl.authority
            )))
        }
        Some(idl) if idl.space >= HEADER_LEN + compressed.len() => {
            sent += write_via_buffer(client, &compressed).await?;
            return Ok(Published::Replaced { transactions: sent });
        }
        Some(_) => {
            client
                .send(
                    "idl close",
                    vec![close(&address(), &wallet, &wallet)],
                    &[],
                    cu::IDL_SMALL,
                )
                .await?;
            sent += 1;
        }
        None => {}
    }
    let replaced = sent > 0;
    // Create (up to 10,000 bytes), grow to the full size, then write in chunks.
    let space = (HEADER_LEN + compressed.len()) as u64;
    client
        .send(
            "idl create",
            vec![create(&wallet, compressed.len() as u64)],
            &[],
            cu::IDL_CREATE,
        )
        .await?;
    sent += 1;
    let mut allocated = space.min(MAX_GROWTH as u64);
    while allocated < space {
        client
            .send(
                "idl resize",
                vec![resize(&wallet, space)],
                &[],
                cu::IDL_SMALL,
            )
            .await?;
        allocated = (allocated + MAX_GROWTH as u64).min(space);
        sent += 1;
    }
    sent += write_chunks(client, &address(), &compressed).await?;
    Ok(if replaced {
        Published::Replaced { transactions: sent }
    } else {
        Published::Created { transactions: sent }
    })
}

async fn write_chunks(client: &Client, account: &Pubkey, compressed: &[u8]) -> Result<usize> {
    let wallet = client.wallet();
    let mut sent = 0;
    for chunk in compressed.chunks(WRITE_CHUNK) {
        client
            .send(
                "idl write",
                vec![write(account, &wallet, chunk.to_vec())],
                &[],
                cu::IDL_SMALL,
            )
            .await?;
        sent += 1;
    }
    Ok(sent)
}

/// Writes `compressed` into a fresh buffer account, copies it into the IDL account and closes
/// the buffer; returns the transactions sent.
async fn write_via_buffer(client: &Client, compressed: &[u8]) -> Result<usize> {
    let wallet = client.wallet();
    let buffer = Keypair::new();
    let space = HEADER_LEN + compressed.len();
    let rent = client
        .rpc()
        .get_minimum_balance_for_rent_exemption(space)
        .await
        .map_err(|e| SdkError::rpc("getMinimumBalanceForRentExemption", e))?;
    let allocate = solana_system_interface::instruction::create_account(
        &wallet,
        &buffer.pubkey(),
        rent,
        space as u64,
        &pda::PROGRAM_ID,
    );
    client
        .send(
            "idl create buffer",
            vec![allocate, create_buffer(&buffer.pubkey(), &wallet)],
            &[&buffer],
            cu::IDL_SMALL,
        )
        .await?;
    let mut sent = 1 + write_chunks(client, &buffer.pubkey(), compressed).await?;
    client
        .send(
            "idl set buffer",
            vec![
                set_buffer(&buffer.pubkey(), &wallet),
                close(&buffer.pubkey(), &wallet, &wallet),
            ],
            &[],
            cu::IDL_SET_BUFFER,
        )
        .await?;
    sent += 1;
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_is_anchors() {
        let (base, _) = Pubkey::find_program_address(&[], &pda::PROGRAM_ID);
        let expected = Pubkey::create_with_seed(&base, "anchor:idl", &pda::PROGRAM_ID).unwrap();
        assert_eq!(address(), expected);
    }

    #[test]
    fn decode_round_trips_and_rejects_garbage() {
        let json = br#"{"address":"x","metadata":{}}"#;
        let compressed = compress(json);
        let authority = Pubkey::new_unique();
        let mut data = IdlAccount::DISCRIMINATOR.to_vec();
        data.extend_from_slice(authority.as_ref());
        data.extend_from_slice(&(compressed.len() as u32).to_le_bytes());
        data.extend_from_slice(&compressed);
        data.extend_from_slice(&[0; 17]); // slack at the end, as after a shrinking upgrade
        let idl = decode(&address(), &data).unwrap();
        assert_eq!(idl.authority, authority);
        assert_eq!(idl.json, json);
        assert_eq!(idl.space, data.len());

        let short = decode(&address(), &data[..20]).unwrap_err();
        assert!(
            short.to_string().contains("shorter than its header"),
            "{short}"
        );
        let mut wrong = data.clone();
        wrong[0] ^= 1;
        let err = decode(&address(), &wrong).unwrap_err();
        assert!(err.to_string().contains("wrong discriminator"), "{err}");
        let mut long = data.clone();
        long[40..44].copy_from_slice(&u32::MAX.to_le_bytes());
        let err = decode(&address(), &long).unwrap_err();
        assert!(err.to_string().contains("runs past"), "{err}");
        let mut corrupt = data;
        corrupt[HEADER_LEN] ^= 0xff;
        let err = decode(&address(), &corrupt).unwrap_err();
        assert!(err.to_string().contains("not zlib data"), "{err}");
    }

    #[test]
    fn instructions_carry_anchors_idl_tag() {
        let authority = Pubkey::new_unique();
        let ix = write(&address(), &authority, vec![1, 2, 3]);
        assert_eq!(&ix.data[..8], IDL_IX_TAG_LE);
        // Borsh: variant 2 (Write), u32 length 3, the bytes.
        assert_eq!(&ix.data[8..], &[2, 3, 0, 0, 0, 1, 2, 3]);
        assert_eq!(create(&authority, 7).data[8..], [0, 7, 0, 0, 0, 0, 0, 0, 0]);
    }
}
