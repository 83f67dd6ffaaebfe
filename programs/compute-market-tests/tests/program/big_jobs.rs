//! The largest jobs settle in one transaction: with n = 7 (k = 4) every slot paid, or every
//! slot slashed, the settlement the SDK client sends (a compute-unit limit instruction and the
//! settle instruction, one legacy transaction) fits a packet and its compute-unit limit.

use crate::harness::*;
use compute_market_sdk::client::cu;

/// Checks a settlement's cost against the packet size and the SDK's compute-unit limit.
#[track_caller]
fn assert_fits(cost: SettleCost) {
    assert!(cost.bytes <= PACKET_DATA_SIZE, "{cost:?}");
    let limit = if cost.replicas == 1 {
        cu::JOB_SUBMIT
    } else {
        cu::settle(cost.replicas)
    };
    assert!(
        cost.cu <= u64::from(limit + cu::BUDGET_OVERHEAD),
        "{cost:?}"
    );
}

#[test]
fn seven_replicas_all_paid_settle_in_one_transaction() {
    let mut h = Harness::new();
    let cost = h.settle_all_paid(7);
    assert_fits(cost);
    h.assert_conserved();
}

#[test]
fn seven_replicas_all_slashed_settle_in_one_transaction() {
    let mut h = Harness::new();
    let cost = h.settle_all_slashed(7);
    assert_fits(cost);
    h.assert_conserved();
}

#[test]
fn settlement_size_and_compute_units_for_every_size() {
    println!("settlement size: n, case, tx bytes, CU");
    for n in [1, 3, 5, 7] {
        let mut h = Harness::new();
        let paid = h.settle_all_paid(n);
        let slashed = h.settle_all_slashed(n);
        h.assert_conserved();
        for (case, cost) in [("all paid", paid), ("all slashed", slashed)] {
            println!("{n}, {case}, {}, {}", cost.bytes, cost.cu);
            assert_fits(cost);
        }
    }
}
