use crate::harness::*;
#[test]
fn dbg_register() {
    let mut h = Harness::new();
    let wallet = h.wallet(MIN_STAKE);
    println!("wallet bal {}", h.balance(&wallet.token));
    let provider = provider_pda(&h.market, &wallet.pubkey());
    let actor = ProviderActor {
        vault: stake_pda(&provider),
        provider,
        wallet,
    };
    let meta = h.provider_register(&actor, MIN_STAKE, caps()).unwrap();
    for l in &meta.logs {
        println!("{l}");
    }
    let acc = h.svm.get_account(&actor.vault);
    println!(
        "vault {:?}",
        acc.map(|a| (a.owner, a.data.len(), a.lamports))
    );
    println!("wallet bal {}", h.balance(&actor.wallet.token));
}
