//! Link settings for a hardened executable that still starts fast (BENCHMARKS.md, "Start-up
//! anatomy"). This file ships in the crate, so a build from crates.io links the same way as the
//! tested one; `scripts/check-hardening` checks both.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "linux" {
        return;
    }
    // rustc already links a PIE with full RELRO (`-z relro -z now`) and a non-executable stack;
    // they are asked for again so that no toolchain default or object file (ring's assembly,
    // for one) can take them away. Packed relative relocations (DT_RELR, binutils
    // 2.38+, glibc 2.36+) shrink the ~16 000 relative relocations a PIE needs at every start
    // from 380 KiB of records to a few KiB: the price of ASLR for the executable falls to a
    // fraction of what it was. The binary then requires the version GLIBC_ABI_DT_RELR, so a glibc
    // older than 2.36 refuses to start it with a clear message instead of misloading it.
    for arg in [
        "-pie",
        "-Wl,-z,relro,-z,now",
        "-Wl,-z,noexecstack",
        "-Wl,-z,pack-relative-relocs",
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
    // The unwinder linked in statically, so libgcc_s is not loaded: its constructor probes the
    // CPU (~10 CPUID traps in a VM, 0.15 ms a hit).
    if var("CARGO_CFG_TARGET_ENV") == "gnu" {
        println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
    }
}
