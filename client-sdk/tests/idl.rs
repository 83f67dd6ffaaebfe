//! `idl` on a real node: the program's IDL published in Anchor's IDL account with the program's
//! own IDL instructions.

use compute_market_sdk::Pubkey;

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
