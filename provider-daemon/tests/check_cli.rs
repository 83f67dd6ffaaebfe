//! `provider-daemon check` end to end, and the message when no adapter exists.

use std::process::Command;

fn daemon() -> Command {
    Command::new(env!("CARGO_BIN_EXE_provider-daemon"))
}

#[test]
fn check_lists_adapters_self_tests_and_benchmarks() {
    let out = daemon().args(["check", "--allow-cpu"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "check failed (GPU tests need an adapter):\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("Adapters (Vulkan/Metal/DX12):"), "{stdout}");
    assert!(stdout.contains("Selected: [0]"), "{stdout}");
    assert!(stdout.contains("Self-test: PASS"), "{stdout}");
    assert!(
        stdout.contains("GB/s") && stdout.contains("ops/s"),
        "{stdout}"
    );
    // The self-test's exact result hash is the same on every correct device.
    assert!(
        stdout.contains("9b861b144ead6b92b354652b24bcbb64842b7c7c3743f1b5171642b7bda029f0"),
        "{stdout}"
    );
}

#[test]
fn no_adapter_names_the_packages_to_install() {
    // Point the Vulkan loader at no driver at all.
    let out = daemon()
        .arg("check")
        .env("VK_ICD_FILENAMES", "/nonexistent/icd.json")
        .env("VK_DRIVER_FILES", "/nonexistent/icd.json")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("mesa-vulkan-drivers") && stderr.contains("libvulkan1"),
        "{stderr}"
    );
}

#[test]
fn unknown_adapter_is_a_clear_error() {
    let out = daemon()
        .args(["check", "--adapter", "no-such-gpu"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("no adapter matches `no-such-gpu`"),
        "{stderr}"
    );
}
