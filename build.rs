//! Link settings for a hardened executable that still starts fast (BENCHMARKS.md, "Start-up
//! anatomy"). This file ships in the crate, so a build from crates.io links the same way as the
//! tested one; `scripts/check-hardening` checks both.

use std::process::Command;

/// The oldest glibc whose loader applies packed relative relocations (DT_RELR).
const RELR_GLIBC: (u32, u32) = (2, 36);

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "linux" {
        return;
    }
    // rustc already links a PIE with full RELRO (`-z relro -z now`) and a non-executable stack;
    // they are asked for again so that no toolchain default or object file (ring's assembly,
    // for one) can take them away.
    // A static build (`+crt-static`) is linked by rustc as a static PIE (`-static-pie`), which
    // a `-pie` here would turn back into a dynamic executable with no libraries.
    let static_crt = var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static");
    let pie = if static_crt { None } else { Some("-pie") };
    for arg in pie
        .into_iter()
        .chain(["-Wl,-z,relro,-z,now", "-Wl,-z,noexecstack"])
    {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
    // Packed relative relocations (DT_RELR, binutils 2.38+, glibc 2.36+) shrink the ~16 000
    // relative relocations a PIE needs at every start from 380 KiB of records to a few KiB: the
    // price of ASLR for the executable falls to a fraction of what it was. The binary then
    // requires the version GLIBC_ABI_DT_RELR, which no older glibc has, so they are asked for
    // only when the glibc linked against has it: a `cargo install` on a new system gets them,
    // the release artefacts (linked for glibc 2.17 by cargo-zigbuild, docs/install.md) do not.
    let zig = zig_glibc(&var("TARGET"));
    let glibc = match &zig {
        Some(version) => *version,
        None if var("HOST") == var("TARGET") => host_glibc(),
        None => None,
    };
    if glibc.is_some_and(|v| v >= RELR_GLIBC) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    // The unwinder linked in statically, so libgcc_s is not loaded: its constructor probes the
    // CPU (~10 CPUID traps in a VM, 0.15 ms a hit). zig's linker links its own unwinder and
    // never loads libgcc_s.
    if var("CARGO_CFG_TARGET_ENV") == "gnu" && zig.is_none() {
        println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
    }
}

/// Under cargo-zigbuild, the glibc its target names (`x86_64-linux-gnu.2.17`); `Some(None)` for
/// a zig target that names none (zig's default, which this script does not guess).
fn zig_glibc(target: &str) -> Option<Option<(u32, u32)>> {
    let name = format!("CARGO_ZIGBUILD_TARGET_{}", target.replace(['-', '.'], "_"));
    println!("cargo:rerun-if-env-changed={name}");
    let zig_target = std::env::var(name).ok()?;
    let version = zig_target.rsplit_once("gnu.").map(|(_, v)| v).unwrap_or("");
    Some(parse_version(version))
}

/// The build machine's glibc, as `getconf` reports it ("glibc 2.36").
fn host_glibc() -> Option<(u32, u32)> {
    let out = Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    parse_version(text.trim().strip_prefix("glibc ")?)
}

fn parse_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}
