//! Account layouts: sizes are fixed per version, and the offsets the SDK filters on point at
//! the fields they name.

use crate::harness::*;
use anchor_lang::Space;
use compute_market::state::*;

/// Shipped sizes of version 2.
const MARKET_LEN: usize = 290;
const PROVIDER_LEN: usize = 305;
const JOB_LEN: usize = 3_384;
const TOMBSTONE_LEN: usize = 42;

#[test]
fn account_sizes_are_fixed_for_version_2() {
    // A change here is a layout change: bump the version and write a migration.
    use compute_market::constants::*;
    assert_eq!(
        (
            MARKET_VERSION,
            PROVIDER_VERSION,
            JOB_VERSION,
            TOMBSTONE_VERSION
        ),
        (2, 2, 2, 1)
    );
    assert_eq!(8 + Market::INIT_SPACE, MARKET_LEN);
    assert_eq!(8 + Provider::INIT_SPACE, PROVIDER_LEN);
    assert_eq!(Job::LEN, JOB_LEN);
    assert_eq!(8 + JobTombstone::INIT_SPACE, TOMBSTONE_LEN);
}

#[test]
fn created_accounts_have_the_shipped_sizes_and_versions() {
    let mut h = Harness::new();
    let ClaimedJob {
        provider: p, job, ..
    } = h.claimed_single_job();
    let len = |h: &Harness, key: &Pubkey| h.svm.get_account(key).unwrap().data.len();
    assert_eq!(len(&h, &h.market), MARKET_LEN);
    assert_eq!(len(&h, &p.provider), PROVIDER_LEN);
    assert_eq!(len(&h, &job), JOB_LEN);
    assert_eq!(h.market_account().version, 2);
    assert_eq!(h.provider(&p.provider).version, 2);
    assert_eq!(h.job(&job).version, 2);
    // The published capacity took the first 4 of the 64 reserved bytes at the end: every earlier
    // field keeps its offset, and an account registered before reads a zero capacity.
    let data = h.svm.get_account(&p.provider).unwrap().data;
    let at = PROVIDER_LEN - 64;
    assert_eq!(&data[at..at + 4], &[2, 0, 4, 0], "devices 2, jobs 4 (LE)");
    assert!(data[at + 4..].iter().all(|b| *b == 0));
}

#[test]
fn filter_offsets_point_at_their_fields() {
    let mut h = Harness::new();
    let client = h.wallet(10_000_000);
    let ps: Vec<_> = (0..3).map(|_| h.new_provider()).collect();
    let args = h.job_args(3, 2);
    let job = h.post(&client, &args).unwrap();
    for p in &ps {
        h.claim(p, &job).unwrap();
    }
    let data = h.svm.get_account(&job).unwrap().data;
    assert_eq!(data[Job::STATUS_OFFSET], JobStatus::Running as u8);
    assert_eq!(
        Job::STATUS_OFFSET,
        11,
        "status stays at byte 11 across versions"
    );
    assert_eq!(
        &data[Job::MARKET_OFFSET..Job::MARKET_OFFSET + 32],
        h.market.as_ref()
    );
    assert_eq!(
        &data[Job::CLIENT_OFFSET..Job::CLIENT_OFFSET + 32],
        client.pubkey().as_ref()
    );
    for (i, p) in ps.iter().enumerate() {
        let o = Job::slot_provider_offset(i);
        assert_eq!(&data[o..o + 32], p.provider.as_ref());
    }
    assert_eq!(data.len(), Job::LEN);
}

#[test]
fn the_params_block_has_the_job_abi_size() {
    // The on-chain spec stores the uniform block the executor binds: one size for both.
    assert_eq!(
        compute_market::constants::PARAMS_LEN,
        compute_market_job::PARAMS_LEN
    );
}
