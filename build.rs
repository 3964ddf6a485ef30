//! Link settings for a fast start: a cache hit is mostly process start-up (BENCHMARKS.md).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DOCKER_CREDENTIAL_ECR_PIE");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "linux" {
        return;
    }
    // A non-PIE executable needs none of the ~16 000 relocations the loader would apply at
    // every start (0.1-0.2 ms and 0.3-0.5 MiB a hit). The image loses ASLR (libraries, heap and
    // stack keep it; full RELRO stays). Distributions whose policy requires PIE build with
    // DOCKER_CREDENTIAL_ECR_PIE=1.
    if var("DOCKER_CREDENTIAL_ECR_PIE").is_empty() {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    // The unwinder linked in statically, so libgcc_s is not loaded: its constructor probes the
    // CPU (~10 CPUID traps in a VM, 0.15 ms a hit).
    if var("CARGO_CFG_TARGET_ENV") == "gnu" {
        println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
    }
}
