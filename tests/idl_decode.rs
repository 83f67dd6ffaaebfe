//! An independent decode check: every account of a finished job, read with the generic IDL
//! decoder and only the committed IDL, agrees with the SDK's typed view. The IDL is read back
//! the way explorers read it: from Anchor's IDL account on the chain, found and inflated here
//! without the SDK.

#[path = "common.rs"]
mod common;

use common::*;
use compute_market_sdk::{pda, Pubkey};
use idl_decoder::{bytes, decode_account};
use serde_json::Value;

fn idl() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../idl/compute_market.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn raw(client: &compute_market_sdk::Client, address: &Pubkey) -> Vec<u8> {
    client.rpc().get_account_data(address).await.unwrap()
}

/// The IDL in Anchor's IDL account: at `create_with_seed(find_program_address([]),
/// "anchor:idl")`, holding `discriminator ‖ authority ‖ u32 length ‖ zlib(JSON)`.
async fn on_chain_idl(client: &compute_market_sdk::Client) -> Value {
    use std::io::Read;
    let (base, _) = Pubkey::find_program_address(&[], &pda::PROGRAM_ID);
    let address = Pubkey::create_with_seed(&base, "anchor:idl", &pda::PROGRAM_ID).unwrap();
    let data = raw(client, &address).await;
    let len = u32::from_le_bytes(data[40..44].try_into().unwrap()) as usize;
    let mut json = String::new();
    flate2::read::ZlibDecoder::new(&data[44..44 + len])
        .read_to_string(&mut json)
        .unwrap();
    serde_json::from_str(&json).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_generic_idl_decoder_reads_what_the_sdk_reads() {
    let committed = idl();
    assert_eq!(committed["address"], pda::PROGRAM_ID.to_string());
    let net = net().await;
    let client = client(&net).await;
    // The embedded node gets the program alone; a deployment (`market deploy`, `demo --url`)
    // publishes the IDL with the program on an attached one.
    if net.is_embedded() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../idl/compute_market.json");
        compute_market_sdk::idl::publish(
            &net.authority().await.unwrap(),
            &std::fs::read(path).unwrap(),
        )
        .await
        .unwrap();
    }
    let idl = on_chain_idl(&client).await;
    assert_eq!(idl, committed);
    let worker = provider(&net).await;
    let handle = client.submit(&spec(1, 1)).await.unwrap();
    worker.claim(&handle.address).await.unwrap();
    let (hash, uri) = deliver(&worker, &handle.address).await;

    // Job (zero-copy, bytemuck layout).
    let sdk = handle.job().await.unwrap();
    let (name, j) = decode_account(&idl, &raw(&client, &handle.address).await).unwrap();
    assert_eq!(name, "Job");
    assert_eq!(j["status"], sdk.status as u64);
    assert_eq!(j["market"], sdk.market.to_string());
    assert_eq!(j["client"], client.wallet().to_string());
    assert_eq!(j["job_id"], sdk.job_id);
    assert_eq!(j["reward_per_replica"], REWARD);
    assert_eq!(j["posted_at"], sdk.posted_at);
    assert_eq!(bytes(&j["result_hash"]), hash.to_vec());
    assert_eq!(
        bytes(&j["spec"]["shader_hash"]),
        sdk.spec.shader_hash.to_vec()
    );
    assert_eq!(j["spec"]["output_len"], 256);
    assert_eq!(
        j["slots"][0]["provider"],
        worker.provider_address().to_string()
    );
    assert_eq!(j["slots"][0]["state"], sdk.slots[0].state as u64);
    let uri_len = j["result_uri_lens"][0].as_u64().unwrap() as usize;
    let uri_bytes = bytes(&j["result_uris"][0]);
    assert_eq!(std::str::from_utf8(&uri_bytes[..uri_len]).unwrap(), uri);

    // Market (Borsh).
    let market = client.market().await.unwrap();
    let (name, m) = decode_account(&idl, &raw(&client, &net.market).await).unwrap();
    assert_eq!(name, "Market");
    assert_eq!(m["payment_mint"], net.mint.to_string());
    assert_eq!(m["fee_bps"], u64::from(market.fee_bps));
    assert_eq!(m["creator"], market.creator.to_string());
    assert_eq!(m["treasury"], market.treasury.to_string());
    assert_eq!(m["give_back_bps"], u64::from(market.give_back_bps));
    assert_eq!(m["claim_window"], market.claim_window);

    // Provider (Borsh, with enums).
    let p = worker.provider().await.unwrap();
    let (name, decoded) =
        decode_account(&idl, &raw(&client, &worker.provider_address()).await).unwrap();
    assert_eq!(name, "Provider");
    assert_eq!(decoded["owner"], worker.wallet().to_string());
    assert_eq!(decoded["status"], "Active");
    assert_eq!(decoded["capabilities"]["device_class"], "Cpu");
    assert_eq!(decoded["staked"], p.staked);
    assert_eq!(decoded["total_earned"], REWARD);
    assert_eq!(decoded["earnings"], p.earnings);
    assert_eq!(decoded["fees_due"], p.fees_due);
    assert_eq!(decoded["jobs_completed"], 1);

    // Not an account of this program.
    assert!(decode_account(&idl, &[0u8; 64]).is_err());
}
