//! `compute-market market deploy`: puts the program on a cluster with the upgradeable BPF
//! loader (buffer, parallel writes, `DeployWithMaxDataLen`) and publishes its IDL in Anchor's
//! IDL account, so explorers decode everything. Safe to re-run: what is already there and
//! identical is left alone.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use compute_market_sdk::deploy::{self, Deployed};
use compute_market_sdk::idl::{self, Published};
use compute_market_sdk::{pda, Client, Keypair, Pubkey, Signer};

/// A file of this workspace: relative to the current directory when it exists there, else to
/// the workspace this binary was built from.
pub fn workspace_file(relative: &str) -> PathBuf {
    let here = PathBuf::from(relative);
    if here.exists() {
        here
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(relative)
    }
}

/// Where `market deploy` takes its inputs from.
#[derive(Clone, Debug)]
pub struct Inputs {
    /// The program binary.
    pub program_so: PathBuf,
    /// The program's keypair (its address must be the id the program was built with).
    pub program_keypair: PathBuf,
    /// The IDL JSON.
    pub idl: PathBuf,
}

impl Default for Inputs {
    fn default() -> Self {
        Self {
            program_so: workspace_file("target/deploy/compute_market.so"),
            program_keypair: workspace_file("migrations/keys/compute_market-keypair.json"),
            idl: workspace_file("idl/compute_market.json"),
        }
    }
}

/// Reads the program binary.
pub fn read_program(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| {
        format!(
            "cannot read the program {} (build it with scripts/build-sbf.sh)",
            path.display()
        )
    })
}

/// Reads a keypair file whose public key must be the program id.
pub fn read_program_keypair(path: &Path) -> Result<Keypair> {
    let keypair = crate::config::read_keypair(path)?;
    if keypair.pubkey() != pda::PROGRAM_ID {
        bail!(
            "{} holds the keypair of {}, but the program was built with id {} (declare_id!)",
            path.display(),
            keypair.pubkey(),
            pda::PROGRAM_ID
        );
    }
    Ok(keypair)
}

/// What `market deploy` did.
pub struct Report {
    /// The program: "deployed (N transactions)" or "already deployed, identical".
    pub program: String,
    /// Its upgrade authority.
    pub authority: Option<Pubkey>,
    /// What happened to the IDL.
    pub idl: Published,
}

/// Deploys the program unless the identical binary is already there, then publishes the IDL.
/// A different binary already deployed is an error that names the upgrade command.
pub async fn run(
    client: &Client,
    inputs: &Inputs,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Report> {
    let elf = read_program(&inputs.program_so)?;
    let idl_json = std::fs::read(&inputs.idl)
        .with_context(|| format!("cannot read the IDL {}", inputs.idl.display()))?;
    let (program, authority) = match deploy::inspect(client.rpc(), &pda::PROGRAM_ID, &elf).await? {
        Deployed::Absent => {
            let keypair = read_program_keypair(&inputs.program_keypair)?;
            let sent = deploy::deploy_program(client, &keypair, &elf, progress).await?;
            (
                format!("deployed ({sent} transactions)"),
                Some(client.wallet()),
            )
        }
        Deployed::Same { authority } => ("already deployed, identical".to_string(), authority),
        Deployed::Different { authority } => bail!(
            "{} runs another binary than {} (upgrade authority {}). Upgrade it with: solana program deploy --url {} --program-id {} {}",
            pda::PROGRAM_ID,
            inputs.program_so.display(),
            authority.map_or("none: immutable".into(), |a| a.to_string()),
            client.rpc().url(),
            pda::PROGRAM_ID,
            inputs.program_so.display()
        ),
    };
    let idl = idl::publish(client, &idl_json).await?;
    Ok(Report {
        program,
        authority,
        idl,
    })
}
