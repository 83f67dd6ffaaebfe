//! `deploy` and `idl` on a real node.
//!
//! The upgradeable BPF loader path with a real program: our own program is 1.6 MB, which takes
//! minutes of loader writes on Surfpool (it copies the buffer account on every write), so this
//! deploys the SPL Memo program's binary, read from the node itself, at a fresh address, and
//! then runs it. The IDL is published with our program's own IDL instructions.

use std::sync::Mutex;

use anchor_lang::solana_program::instruction::Instruction;
use compute_market_sdk::deploy::{self, Deployed};
use compute_market_sdk::{Client, ClientConfig, Keypair, Pubkey, SdkError, Signer};

/// SPL Memo v3, which every cluster (and the local node) carries.
const MEMO: &str = "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr";

async fn client(node: &compute_market_localnet::Surfnet, wallet: Keypair) -> Client {
    let mut config = ClientConfig::new(node.rpc_url(), Pubkey::default());
    config.ws_url = Some(node.ws_url().to_string());
    Client::connect(config, wallet).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bpf_loader_deploys_a_program_that_then_runs() {
    let node = compute_market_localnet::start_bare_node().await.unwrap();
    let payer = client(&node, node.payer().insecure_clone()).await;
    let rpc = payer.rpc();
    let memo: Pubkey = MEMO.parse().unwrap();
    let account = rpc.get_account(&memo).await.unwrap();
    // Loader v2 keeps the ELF in the program account itself.
    assert_eq!(
        account.owner.to_string(),
        "BPFLoader2111111111111111111111111111111111"
    );
    let elf = account.data;
    let program = Keypair::new();
    assert_eq!(
        deploy::inspect(rpc, &program.pubkey(), &elf).await.unwrap(),
        Deployed::Absent
    );

    // A wallet that cannot pay the rent gets a clear error before anything is sent.
    let poor = Keypair::new();
    let transfer =
        solana_system_interface::instruction::transfer(&payer.wallet(), &poor.pubkey(), 1_000_000);
    payer
        .send("fund", vec![transfer], &[], 1_000)
        .await
        .unwrap();
    let poor = client(&node, poor).await;
    let err = deploy::deploy_program(&poor, &program, &elf, &|_, _| {})
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SdkError::Config(m) if m.contains("deploying needs")),
        "{err}"
    );
    assert_eq!(rpc.get_balance(&poor.wallet()).await.unwrap(), 1_000_000);

    // The deploy: one buffer, the writes, the deploy; progress reaches the end.
    let seen = Mutex::new(Vec::new());
    let sent = deploy::deploy_program(&payer, &program, &elf, &|done, total| {
        seen.lock().unwrap().push((done, total))
    })
    .await
    .unwrap();
    let writes = elf.len().div_ceil(deploy::WRITE_CHUNK);
    assert_eq!(sent, writes + 2);
    assert_eq!(seen.lock().unwrap().last(), Some(&(writes, writes)));
    assert_eq!(
        deploy::inspect(rpc, &program.pubkey(), &elf).await.unwrap(),
        Deployed::Same {
            authority: Some(payer.wallet())
        }
    );
    let mut other = elf.clone();
    other[elf.len() / 2] ^= 0xff;
    assert_eq!(
        deploy::inspect(rpc, &program.pubkey(), &other)
            .await
            .unwrap(),
        Deployed::Different {
            authority: Some(payer.wallet())
        }
    );

    // It runs: a memo to the new address succeeds and logs its text.
    let ix = Instruction {
        program_id: program.pubkey(),
        accounts: vec![],
        data: b"deployed by the loader".to_vec(),
    };
    let signature = payer.send("memo", vec![ix], &[], 50_000).await.unwrap();
    let tx = rpc
        .get_transaction(
            &signature,
            solana_transaction_status_client_types::UiTransactionEncoding::Json,
        )
        .await
        .unwrap();
    let logs: Vec<String> =
        Option::from(tx.transaction.meta.unwrap().log_messages).unwrap_or_default();
    assert!(
        logs.iter()
            .any(|l| l == "Program log: deployed by the loader"),
        "{logs:?}"
    );

    // An address that holds no program is refused.
    let err = deploy::inspect(rpc, &payer.wallet(), &elf)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not the upgradeable BPF loader"),
        "{err}"
    );
}

/// Publishing the IDL with the program's own (Anchor) IDL instructions: created, left alone
/// when identical, replaced by a bigger one (the account is re-created) and by a smaller one
/// (written to a buffer and swapped in), refused to anyone but its authority.
#[tokio::test(flavor = "multi_thread")]
async fn the_idl_is_published_replaced_and_guarded() {
    use compute_market_sdk::idl::{self, Published};
    let net = compute_market_localnet::LocalNet::start(Default::default())
        .await
        .unwrap();
    let authority = net
        .client(net.funded_wallet(0).await.unwrap())
        .await
        .unwrap();
    let stranger = net
        .client(net.funded_wallet(0).await.unwrap())
        .await
        .unwrap();
    let committed = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../idl/compute_market.json"
    ))
    .unwrap();
    assert_eq!(idl::fetch(authority.rpc()).await.unwrap(), None);

    let created = idl::publish(&authority, &committed).await.unwrap();
    let compressed = idl::compress(&committed).len();
    // Create, a resize per further 10,000 bytes, the writes.
    let expected =
        1 + (idl::HEADER_LEN + compressed - 1) / 10_000 + compressed.div_ceil(idl::WRITE_CHUNK);
    assert_eq!(
        created,
        Published::Created {
            transactions: expected
        }
    );
    let on_chain = idl::fetch(authority.rpc()).await.unwrap().unwrap();
    assert_eq!(on_chain.json, committed);
    assert_eq!(on_chain.authority, authority.wallet());
    assert_eq!(on_chain.space, idl::HEADER_LEN + compressed);
    assert_eq!(
        idl::publish(&authority, &committed).await.unwrap(),
        Published::UpToDate
    );

    let mut bigger: serde_json::Value = serde_json::from_slice(&committed).unwrap();
    // Incompressible text, so the compressed IDL outgrows the account.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let noise: String = (0..30_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect();
    bigger["metadata"]["description"] = serde_json::Value::String(noise);
    let bigger = serde_json::to_vec_pretty(&bigger).unwrap();
    let err = idl::publish(&stranger, &bigger).await.unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("belongs to {}", authority.wallet())),
        "{err}"
    );
    assert!(matches!(
        idl::publish(&authority, &bigger).await.unwrap(),
        Published::Replaced { .. }
    ));
    let on_chain = idl::fetch(authority.rpc()).await.unwrap().unwrap();
    assert_eq!(on_chain.json, bigger);
    assert_eq!(
        on_chain.space,
        idl::HEADER_LEN + idl::compress(&bigger).len()
    );
    // Back to the committed one: it fits, so the account keeps its size.
    assert!(matches!(
        idl::publish(&authority, &committed).await.unwrap(),
        Published::Replaced { .. }
    ));
    let on_chain = idl::fetch(authority.rpc()).await.unwrap().unwrap();
    assert_eq!(on_chain.json, committed);
    assert_eq!(
        on_chain.space,
        idl::HEADER_LEN + idl::compress(&bigger).len()
    );

    // An IDL for another program is refused before anything is sent.
    let mut foreign: serde_json::Value = serde_json::from_slice(&committed).unwrap();
    foreign["address"] = serde_json::Value::String(Pubkey::new_unique().to_string());
    let err = idl::publish(&authority, &serde_json::to_vec(&foreign).unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("the IDL is for program"), "{err}");
    let err = idl::publish(&authority, b"not json").await.unwrap_err();
    assert!(err.to_string().contains("the IDL is not JSON"), "{err}");
}
