//! `deploy` on a real node: the upgradeable BPF loader path with a real program. Our own
//! program is 1.6 MB, which takes minutes of loader writes on Surfpool (it copies the buffer
//! account on every write), so this deploys the SPL Memo program's binary, read from the node
//! itself, at a fresh address, and then runs it.
//!
//! (One test per file: a second embedded node in the same process, started and dropped
//! alongside, has been seen to stop this node's slots from advancing.)

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

    // Deploying again at the same address fails at the last step (the program account exists);
    // the error names the buffer that holds the rent, and the buffer is there.
    let err = deploy::deploy_program(&payer, &program, &elf, &|_, _| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("solana program close"), "{err}");
    let buffer: Pubkey = err
        .split("the buffer ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    let buffer = rpc.get_account(&buffer).await.unwrap();
    assert_eq!(
        buffer.owner.to_string(),
        "BPFLoaderUpgradeab1e11111111111111111111111"
    );
    assert_eq!(buffer.data.len(), 37 + elf.len());

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
