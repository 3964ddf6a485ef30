//! docker-credential-ecr: a docker credential helper for Amazon ECR and ECR Public.
//!
//! The library behind two thin binaries. Its public surface is what they, the fuzz targets
//! and the tests need:
//! - [`front`]: the small binary clients run (`front::main`): answers cached tokens, hands
//!   the rest to the engine;
//! - [`cli`]: the engine's command line (`cli::main`): the protocol verbs and the commands
//!   `configure`, `doctor` and `kubelet`;
//! - [`startup`]: what both binaries do around their entry point, in place of std's runtime;
//! - [`protocol`]: the docker-credential-helper wire protocol: its verbs, requests and answers;
//! - [`registry`]: which hosts are ECR registries (pure);
//! - [`secret`]: a password type that cannot be printed by accident;
//! - `testing` (hidden): the internals the fuzz targets and the integration tests drive.
//!
//! Everything else is private to the crate, one idea per module:
//! - `program`: the program's name, version and helper name, which the commands also show;
//! - `config`: per-registry profiles, roles, regions, endpoints and aliases;
//! - `env`: the one view of the process environment (empty is unset; an unusable HOME is none);
//! - `dirs`: where every file lives, derived from that view;
//! - `profiles`: the shared AWS config files, parsed by aws-config's own parser;
//! - `endpoint`: which API endpoint a fetch calls, and why;
//! - `credentials`: which credentials a fetch signs with, in the AWS CLI's order;
//! - `identity`: the cache key, from local facts only;
//! - `keymemo`: what a hit's key needs from the AWS files, remembered while they are unchanged;
//! - `resolve`: a host resolved once, whole (registry, region, endpoint, entry, profile, key),
//!   from AWS files parsed once per request;
//! - `authorization`: an ECR token and how long it may be used (the one refresh-margin rule);
//! - `cache`: the locked, atomically replaced on-disk token cache;
//! - `clock`: the wall clock that decides a token's freshness, which tests move;
//! - `fsutil`: the one non-blocking, size-limited way any file is read;
//! - `lookup`: cache first, then one token fetch per herd;
//! - `fallback`: the helper that keeps credentials for hosts that are not ECR;
//! - `store`: the seam between the protocol and a store (get, store, erase, list), which the
//!   ECR token store and the fallback helper implement and `cli`'s router chooses between;
//! - `platform`: every call only a unix system answers (modes, owners, signals, `/proc`);
//! - `deadline`: the hard bound on a whole request: its setting and its value;
//! - `watchdog`: what keeps that bound where no timer can (an abandoned runtime, the watchdog);
//! - `request`: one request's value (environment, answer form, deadline, watchdog handle),
//!   which each entry point builds and passes down, and the process's part that `main` owns;
//! - `token`: GetAuthorizationToken through the AWS SDK (the only async, networked part);
//! - `https`: the HTTPS client (rustls on ring) every AWS call uses, and its CA bundle;
//! - `log`: `DOCKER_CREDENTIAL_ECR_LOG`, the `tracing` subscriber for our events and the SDK's;
//! - `text`: one-line messages, and futures that need no runtime;
//! - `configure`: the `configure` command, which edits the clients' config files;
//! - `doctor`: the `doctor` command, which explains why a registry does or does not get a token;
//! - `kubelet`: the kubelet's image credential provider plugin (`kubelet`, `ecr-credential-provider`).

/// The integration tests' skip rule, for the unit tests that need root or a tool.
#[cfg(test)]
#[path = "../tests/support/skip.rs"]
mod skip;

mod authorization;
mod cache;
pub mod cli;
mod clock;
mod config;
mod configure;
mod credentials;
mod deadline;
mod dirs;
mod doctor;
mod endpoint;
mod env;
mod fallback;
pub mod front;
mod fsutil;
mod https;
mod identity;
mod keymemo;
mod kubelet;
mod log;
mod lookup;
mod platform;
mod profiles;
mod program;
pub mod protocol;
pub mod registry;
mod request;
mod resolve;
pub mod secret;
pub mod startup;
mod store;
mod text;
mod token;
mod watchdog;

pub(crate) use log::debug;

/// What the fuzz targets (`fuzz/checks.rs`) and the integration tests drive directly, and
/// nothing else: not an API, and free to change with the internals it re-exports.
#[doc(hidden)]
pub mod testing {
    pub mod authorization {
        pub use crate::authorization::{Token, USERNAME, Validity};
    }
    pub mod cache {
        pub use crate::cache::{Cache, Entry, SCHEMA};
    }
    pub mod cli {
        pub use crate::cli::run;
    }
    pub mod clock {
        pub use crate::clock::{System, now_ms};
    }
    pub mod config {
        pub use crate::config::Config;
    }
    pub mod deadline {
        pub use crate::deadline::Deadline;
    }
    pub mod env {
        pub use crate::env::MapEnv;
    }
    pub mod resolve {
        pub use crate::resolve::{AwsFiles, Resolved, complete};
    }
    pub mod request {
        pub use crate::request::Request;
    }
    pub mod lookup {
        pub use crate::lookup::{Lookup, LookupError};
    }
    pub mod token {
        pub use crate::token::{TokenError, TokenSource};
    }
}
