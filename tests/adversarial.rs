//! Adversarial scenarios across crates (SDK + program + local node): a no-show, a provider that
//! tries to copy another's revealed result, a client racing a provider (cancel vs claim), and a
//! third party cranking an expiry. Money is conserved in each, and no slash ever pays the
//! client: slashed collateral is burnt.

#[path = "common.rs"]
mod common;

use common::*;
use compute_market_sdk::{pda, JobStatus};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_no_show_is_slashed_and_the_others_paid() {
    let net = net().await;
    let ClaimedByThree {
        client,
        providers: [a, b, no_show],
        handle,
        job,
    } = claimed_by_three(&net).await;
    let mut revealed = vec![];
    for (i, p) in [&a, &b].into_iter().enumerate() {
        let (hash, uri) = compute(p, &job).await;
        let salt = [i as u8 + 1; 32];
        p.commit(&handle.address, &hash, &salt).await.unwrap();
        revealed.push((hash, salt, uri));
    }
    // The third never commits: after the commit deadline, reveals open for the other two.
    net.time_travel_to(job.commit_deadline + 2).await.unwrap();
    for (p, (hash, salt, uri)) in [&a, &b].into_iter().zip(&revealed) {
        p.reveal(&handle.address, *hash, *salt, uri).await.unwrap();
    }
    client.finalize(&handle.address).await.unwrap();
    let settled = handle.job().await.unwrap();
    assert_eq!(settled.status(), JobStatus::Completed);
    let absent = no_show.provider().await.unwrap();
    assert_eq!(
        (
            absent.jobs_slashed,
            absent.staked,
            absent.locked,
            absent.forfeit_due
        ),
        (1, STAKE - 200_000, 0, 200_000)
    );
    for p in [&a, &b] {
        let record = p.provider().await.unwrap();
        assert_eq!(
            (record.jobs_completed, record.total_earned, record.earnings),
            (1, REWARD, REWARD)
        );
    }
    // The client paid two rewards + fees and gets the third share back when it closes the job;
    // the no-show's collateral goes to nobody (burnt by the next sweep).
    let fee = REWARD * 500 / 10_000;
    let token = pda::token_account(&client.wallet(), &net.mint);
    assert_eq!(
        client.token_balance(&token).await.unwrap(),
        FUNDS - 3 * (REWARD + fee)
    );
    client.close(&handle.address).await.unwrap();
    assert_eq!(
        client.token_balance(&token).await.unwrap(),
        FUNDS - 2 * (REWARD + fee)
    );
    let supply = |c: &compute_market_sdk::Client| {
        let c = c.clone();
        let mint = net.mint;
        async move { c.rpc().get_token_supply(&mint).await.unwrap().amount }
    };
    let before: u64 = supply(&client).await.parse().unwrap();
    client.sweep(&no_show.provider_address()).await.unwrap();
    let after: u64 = supply(&client).await.parse().unwrap();
    assert_eq!(before - after, 200_000, "the slashed collateral is burnt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn copying_a_revealed_result_is_impossible() {
    let net = net().await;
    let ClaimedByThree {
        client,
        providers: [honest, copier, third],
        handle,
        job,
    } = claimed_by_three(&net).await;
    let (hash, uri) = compute(&honest, &job).await;
    let salt = [9; 32];
    honest.commit(&handle.address, &hash, &salt).await.unwrap();
    // The copier must commit before any reveal, so it commits to something it does not know.
    copier
        .commit(&handle.address, &[0; 32], &[1; 32])
        .await
        .unwrap();
    let (third_hash, third_uri) = compute(&third, &job).await;
    third
        .commit(&handle.address, &third_hash, &[3; 32])
        .await
        .unwrap();
    honest
        .reveal(&handle.address, hash, salt, &uri)
        .await
        .unwrap();
    // Now the honest hash and salt are public; replaying them does not open the copier's
    // commitment (it binds the provider and the committed hash).
    let err = copier
        .reveal(&handle.address, hash, salt, &uri)
        .await
        .unwrap_err();
    assert_eq!(
        err.program_error_name(),
        Some("CommitmentMismatch"),
        "{err}"
    );
    let err = copier
        .reveal(&handle.address, hash, [1; 32], &uri)
        .await
        .unwrap_err();
    assert_eq!(
        err.program_error_name(),
        Some("CommitmentMismatch"),
        "{err}"
    );
    third
        .reveal(&handle.address, third_hash, [3; 32], &third_uri)
        .await
        .unwrap();
    net.time_travel_to(job.reveal_deadline + 2).await.unwrap();
    client.finalize(&handle.address).await.unwrap();
    let copied = copier.provider().await.unwrap();
    assert_eq!((copied.jobs_slashed, copied.total_earned), (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_racing_a_claim_has_exactly_one_winner() {
    let net = net().await;
    let client = client(&net).await;
    let token = pda::token_account(&client.wallet(), &net.mint);
    for round in 0..3 {
        let worker = provider(&net).await;
        let handle = client.submit(&spec(1, 1)).await.unwrap();
        let (cancel, claim) = tokio::join!(
            client.cancel(&handle.address),
            worker.claim(&handle.address)
        );
        assert!(
            cancel.is_ok() != claim.is_ok(),
            "round {round}: exactly one wins (cancel {cancel:?}, claim {claim:?})"
        );
        let vault = pda::stake_vault(&worker.provider_address());
        if cancel.is_ok() {
            let err = claim.unwrap_err();
            assert!(
                err.to_string().contains(&handle.address.to_string())
                    || err.program_error_name().is_some(),
                "{err}"
            );
            assert!(client.job(&handle.address).await.is_err(), "job closed");
            assert_eq!(worker.provider().await.unwrap().locked, 0);
            assert_eq!(client.token_balance(&token).await.unwrap(), FUNDS);
        } else {
            let err = cancel.unwrap_err();
            assert_eq!(err.program_error_name(), Some("JobNotOpen"), "{err}");
            assert_eq!(worker.provider().await.unwrap().locked, 200_000);
            let escrow = handle.job().await.unwrap().escrow;
            // Money is where it should be: the escrow holds the payment, the client the rest.
            assert_eq!(
                client.token_balance(&token).await.unwrap()
                    + client.token_balance(&escrow).await.unwrap(),
                FUNDS
            );
            // Release the escrow for the next round: the provider delivers.
            deliver(&worker, &handle.address).await;
            let fee = REWARD * 500 / 10_000;
            assert_eq!(
                client.token_balance(&token).await.unwrap(),
                FUNDS - REWARD - fee
            );
            // Top the client back up for the next round.
            net.mint_to(&client.wallet(), REWARD + fee).await.unwrap();
        }
        // The stake is untouched; the vault also holds what settlement credited (reward + fee).
        let record = worker.provider().await.unwrap();
        assert_eq!(record.staked, STAKE, "stake untouched");
        assert_eq!(
            client.token_balance(&vault).await.unwrap(),
            STAKE + record.earnings + record.fees_due
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn anyone_can_crank_an_expiry() {
    let net = net().await;
    let client = client(&net).await;
    let sleeper = provider(&net).await;
    let stranger = net
        .client(net.funded_wallet(0).await.unwrap())
        .await
        .unwrap();
    let handle = client.submit(&spec(1, 1)).await.unwrap();
    sleeper.claim(&handle.address).await.unwrap();
    let job = handle.job().await.unwrap();
    let err = stranger.expire(&handle.address).await.unwrap_err();
    assert_eq!(err.program_error_name(), Some("ExpireTooEarly"), "{err}");
    net.time_travel_to(job.commit_deadline + 2).await.unwrap();
    stranger.expire(&handle.address).await.unwrap();
    assert_eq!(handle.job().await.unwrap().status(), JobStatus::Expired);
    // The client gets everything back when it closes the job, and not a token more: the
    // sleeper's collateral is forfeited (burnt), never paid to the client. The stranger got
    // nothing.
    let token = pda::token_account(&client.wallet(), &net.mint);
    client.close(&handle.address).await.unwrap();
    assert_eq!(client.token_balance(&token).await.unwrap(), FUNDS);
    let stranger_token = pda::token_account(&stranger.wallet(), &net.mint);
    assert_eq!(client.token_balance(&stranger_token).await.unwrap(), 0);
    let s = sleeper.provider().await.unwrap();
    assert_eq!((s.jobs_slashed, s.locked, s.forfeit_due), (1, 0, 200_000));
}
