//! Starts a bare embedded node (nothing of ours deployed) and waits: for trying
//! `compute-market market deploy` and `compute-market demo --url` by hand.
//! Writes the node's funded payer to `bare-node-payer.json`.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let node = compute_market_localnet::start_bare_node().await?;
    let key: Vec<u8> = node.payer().to_bytes().to_vec();
    std::fs::write("bare-node-payer.json", format!("{key:?}").replace(' ', ""))?;
    println!(
        "RPC {}  WS {}  payer in bare-node-payer.json",
        node.rpc_url(),
        node.ws_url()
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
