//! The integration tests: one test binary (`cargo test --test it`), one module per area. They
//! run the real helper binary against the ECR emulator (`common`), and real clients through the
//! end-to-end rig (`e2e_support`).

mod common;
mod e2e_support;
mod process;
mod require;

// The fuzz targets' own checks (`fuzz_corpus` replays the committed corpus through them). Declared
// here because a `#[path]` inside a module file would be resolved below that module's directory.
#[path = "../../fuzz/checks.rs"]
mod fuzz_checks;

mod bad_input;
mod botocore_identity;
mod ca_bundle;
mod code_shape;
mod configure;
mod doctor;
mod e2e_clients;
mod emulator_harness;
mod endpoints;
mod environment;
mod fallback_store;
mod faults;
mod front;
mod fuzz_corpus;
mod get;
mod hostile_state;
mod identity;
mod kubelet;
mod logging;
mod man_and_completions;
mod messages;
mod protocol;
mod resolve_once;
mod secrets;
mod shared_machine;
mod torture;
