//! Untrusted shaders are parsed outside the daemon: a shader that crashes the parser costs one
//! skipped job, and the daemon keeps serving (real local node, the daemon as a child process).

mod common;

use common::node::*;
use compute_market_localnet::LocalNet;
use compute_market_sdk::JobStatus;

/// `let x = 1 + 1 + … + 1;` with `terms` terms: a left-deep expression tree that naga lowers
/// and validates recursively (its parser limits nesting of parentheses, calls and blocks, not
/// this), so a few thousand terms overflow a thread's stack.
pub fn deep_expression_shader(terms: usize) -> Vec<u8> {
    format!(
        "@group(0) @binding(1) var<storage, read_write> o: array<u32>;\n\
         @compute @workgroup_size(1) fn main() {{ let x = 1u{}; o[0] = x; }}\n",
        " + 1u".repeat(terms - 1)
    )
    .into_bytes()
}

#[test]
fn a_shader_that_crashes_the_parser_is_skipped_and_the_daemon_keeps_serving() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    rt.block_on(async {
        let net = LocalNet::start(Default::default()).await.unwrap();
        let p = provider(&net, dir.path(), "p", "").await;
        let daemon = start(&p, dir.path(), "p");
        let client = client(&net).await;

        let crasher = post_raw(&client, &deep_expression_shader(100_000), 64, [1, 1, 1]).await;
        let (job, expected) = vector_job(1, 1);
        let handle = client.submit(&job).await.unwrap();
        let settled = wait_settled(&handle, &[&daemon]).await;
        assert_eq!(settled.status(), JobStatus::Completed);
        assert_eq!(handle.result().await.unwrap(), expected);

        let j = client.job(&crasher).await.unwrap();
        assert_eq!(
            (j.status(), j.claimed),
            (JobStatus::Open, 0),
            "never claimed"
        );
        let log = daemon.log();
        assert!(log.contains(&crasher.to_string()), "{log}");
        assert!(
            log.contains("shader validation crashed the validator process"),
            "{log}"
        );
    });
}
