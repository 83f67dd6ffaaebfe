//! Account layouts: sizes are fixed per version, and the offsets the SDK filters on point at
//! the fields they name.

use crate::harness::*;
use anchor_lang::Space;
use compute_market::state::*;

#[test]
fn account_sizes_are_fixed_for_version_1() {
    // A change here is a layout change: bump the version and write a migration.
    assert_eq!(8 + Market::INIT_SPACE, 262);
    assert_eq!(8 + Provider::INIT_SPACE, 273);
    assert_eq!(Job::LEN, 2_440);
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
