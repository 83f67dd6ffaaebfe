//! # Compute Market SDK
//!
//! What dapp developers call to run a WGSL compute shader on somebody else's GPU and get back a
//! result whose hash the chain recorded.
//!
//! Layers, from pure to I/O (use the lowest one that does the job):
//!
//! | module | I/O | what |
//! |---|---|---|
//! | [`pda`] | none | every program address, from the program's own seeds |
//! | [`instructions`] | none | a builder for every instruction, from the program's own types |
//! | [`job_spec`] | none | [`JobSpec::builder`]: validates a job against the job ABI and the market rules before anything is paid |
//! | [`accounts`] | RPC | typed fetch/decode of markets, providers, jobs; job listing by market, client, provider, status |
//! | [`store`] | files, HTTP, S3 | content-addressed blobs (`file://`, `http(s)://`, `s3://`), size-capped, hash-verified downloads |
//! | [`deploy`] | RPC | deploying a program with the upgradeable BPF loader (operators) |
//! | [`idl`] | RPC | the program's IDL in Anchor's on-chain IDL account: fetch, decode, publish |
//! | [`client`] | RPC + websocket | [`Client`]: submit, wait, verified results, cancel/close/list, provider and market operations |
//!
//! Everything fails with one [`SdkError`]; a refused transaction names the program's error and
//! carries its logs.
//!
//! ```no_run
//! use std::time::Duration;
//! use compute_market_sdk::{Client, ClientConfig, JobSpec, Keypair, Pubkey};
//!
//! # async fn run(market: Pubkey, wallet: Keypair) -> Result<(), compute_market_sdk::SdkError> {
//! let mut config = ClientConfig::new("http://127.0.0.1:8899", market);
//! config.store = Some("file:///tmp/compute-market-blobs".into());
//! let client = Client::connect(config, wallet).await?;
//! let job = JobSpec::builder()
//!     .shader_wgsl(std::fs::read("examples/shaders/vector_transform.wgsl").unwrap())
//!     .input(vec![0u8; 4096])
//!     .output_len(4096)
//!     .workgroups([16, 1, 1])
//!     .reward(1_000_000)
//!     .replicas(3, 2)
//!     .build()?; // validated: nothing sent yet
//! let handle = client.submit(&job).await?;
//! let settled = handle.wait(Duration::from_secs(120), |j| println!("{:?}", j.status())).await?;
//! let output = handle.result().await?; // checked against the on-chain result hash
//! # let _ = (settled, output);
//! # Ok(()) }
//! ```

pub mod accounts;
pub mod client;
pub mod deploy;
pub mod error;
pub mod idl;
pub mod image;
pub mod instructions;
pub mod job_spec;
pub mod pda;
pub mod rpc;
mod send;
pub mod shard;
pub mod store;
pub mod types;

pub use accounts::JobFilter;
pub use client::{Client, ClientConfig, JobHandle};
pub use error::{Result, SdkError};
pub use job_spec::{Deadlines, JobSpec, JobSpecBuilder, ValidatedJob};
pub use types::*;

/// Solana types users need, at the versions the SDK was built with.
pub use anchor_lang::prelude::Pubkey;
/// The job ABI (validation, result hash, determinism class).
pub use compute_market_job as job_abi;
pub use solana_keypair::Keypair;
pub use solana_signature::Signature;
pub use solana_signer::Signer;
