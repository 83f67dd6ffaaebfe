//! `compute-market market ...`: creating a market from a parameters file, the two-step
//! authority transfer, and withdrawing collected fees.

use std::path::Path;

use anyhow::{Context, Result};
use compute_market_sdk::{pda, MarketInitArgs, MarketUpdateArgs, Pubkey, Windows};

use crate::config::Resolved;
use crate::parse_pubkey;

/// Market parameters, as migrations/market.example.toml writes them.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketParams {
    fee_bps: u16,
    give_back_bps: u16,
    min_provider_stake: u64,
    collateral_per_replica: u64,
    unbonding_period_seconds: i64,
    claim_window_seconds: i64,
    commit_window_seconds: i64,
    reveal_window_seconds: i64,
    #[serde(default)]
    allow_freeze_authority: bool,
}

impl MarketParams {
    /// Reads and parses a parameters file; one line says what is wrong.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read market parameters {}", path.display()))?;
        toml::from_str(&text).map_err(|e| {
            // toml's own Display is a multi-line snippet; one line says what to fix.
            anyhow::anyhow!(
                "{} is not valid market parameters: {}",
                path.display(),
                e.message()
            )
        })
    }

    /// The program's `market_init` arguments.
    pub fn args(&self) -> MarketInitArgs {
        MarketInitArgs {
            fee_bps: self.fee_bps,
            give_back_bps: self.give_back_bps,
            min_provider_stake: self.min_provider_stake,
            collateral_per_replica: self.collateral_per_replica,
            unbonding_period: self.unbonding_period_seconds,
            windows: Windows {
                claim: self.claim_window_seconds,
                commit: self.commit_window_seconds,
                reveal: self.reveal_window_seconds,
            },
            allow_freeze_authority: self.allow_freeze_authority,
        }
    }
}

/// `market init`: this wallet creates its market of `mint` (the address names the creator, so
/// nobody can squat a mint's market) with a treasury vault the program owns.
pub async fn init(cfg: &Resolved, params: &Path, mint: &str) -> Result<()> {
    let p = MarketParams::read(params)?;
    let mint = parse_pubkey("--mint", mint)?;
    let wallet = crate::config::read_keypair(&cfg.keypair_path)?;
    let market = pda::market(&mint, &compute_market_sdk::Signer::pubkey(&wallet));
    let client = cfg.client_for(market).await?;
    let sig = client.init_market(&mint, p.args()).await?;
    println!("market    {market}");
    println!("mint      {mint}");
    println!("authority {}", client.wallet());
    println!("treasury  {} (fees collect here)", pda::treasury(&market));
    println!("tx        {}", cfg.explorer_tx(&sig));
    println!("use it with --market {market}");
    Ok(())
}

/// `market transfer-authority`: proposes a new authority (it takes over once it accepts).
pub async fn propose_authority(cfg: &Resolved, new_authority: &str) -> Result<()> {
    let new_authority = parse_pubkey("new authority", new_authority)?;
    let client = cfg.client().await?;
    let sig = client
        .update_market(MarketUpdateArgs {
            new_authority: Some(new_authority),
            ..Default::default()
        })
        .await?;
    println!(
        "proposed {new_authority} as the market's authority: {}",
        cfg.explorer_tx(&sig)
    );
    println!(
        "it takes over once it runs: compute-market --market {} market accept-authority",
        client.market_address()
    );
    Ok(())
}

/// `market accept-authority`: this wallet, the proposed authority, takes the market.
pub async fn accept_authority(cfg: &Resolved) -> Result<()> {
    let client = cfg.client().await?;
    let sig = client.accept_market_authority().await?;
    println!(
        "{} is now the market's authority: {}",
        client.wallet(),
        cfg.explorer_tx(&sig)
    );
    Ok(())
}

/// `market withdraw-fees`: moves collected fees from the treasury (all of them by default) to
/// `to` (default: this wallet's associated token account, created if needed).
pub async fn withdraw_fees(cfg: &Resolved, amount: Option<u64>, to: Option<&str>) -> Result<()> {
    let client = cfg.client().await?;
    let market = client.market().await?;
    let amount = match amount {
        Some(a) => a,
        None => client.token_balance(&market.treasury).await?,
    };
    if amount == 0 {
        println!(
            "the treasury holds no fees (sweep providers first: compute-market provider sweep)"
        );
        return Ok(());
    }
    let destination: Pubkey = match to {
        Some(t) => parse_pubkey("--to", t)?,
        None => {
            let wallet = client.wallet();
            let create = compute_market_sdk::instructions::create_token_account(
                &wallet,
                &wallet,
                &market.payment_mint,
            );
            client
                .send(
                    "create token account",
                    vec![create],
                    &[],
                    compute_market_sdk::client::cu::CREATE_TOKEN_ACCOUNT,
                )
                .await?;
            pda::token_account(&wallet, &market.payment_mint)
        }
    };
    let sig = client.withdraw_fees(amount, &destination).await?;
    println!(
        "withdrew {amount} in fees to {destination}: {}",
        cfg.explorer_tx(&sig)
    );
    Ok(())
}
