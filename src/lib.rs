//! docker-credential-ecr: a docker credential helper for Amazon ECR and ECR Public.
//!
//! Modules, one idea each:
//! - [`front`]: the small binary clients run: answers cached tokens, hands the rest to the engine;
//! - [`startup`]: what both binaries do around their entry point, in place of std's runtime;
//! - [`cli`]: the command line (one clap definition: parsing, help, man page, completions),
//!   its dispatch, exit codes and the typed outcome of a protocol verb (`cli::outcome`); it
//!   depends on the commands, never the reverse;
//! - [`program`]: the program's name, version and helper name, which the commands also show;
//! - [`protocol`]: the docker-credential-helper wire protocol: its verbs, requests and answers;
//! - [`registry`]: which hosts are ECR registries (pure);
//! - [`config`]: per-registry profiles, roles, regions, endpoints and aliases;
//! - [`env`](mod@env): the one view of the process environment (empty is unset; an unusable HOME is none);
//! - [`dirs`]: where every file lives, derived from that view;
//! - [`profiles`]: the shared AWS config files, parsed by aws-config's own parser;
//! - [`endpoint`]: which API endpoint a fetch calls, and why;
//! - `credentials`: which credentials a fetch signs with, in the AWS CLI's order;
//! - [`identity`]: the cache key, from local facts only;
//! - `keymemo`: what a hit's key needs from the AWS files, remembered while they are unchanged;
//! - [`authorization`]: an ECR token and how long it may be used (the one refresh-margin rule);
//! - [`cache`]: the locked, atomically replaced on-disk token cache;
//! - [`clock`]: the wall clock that decides a token's freshness, which tests move;
//! - [`fsutil`]: the one non-blocking, size-limited way any file is read;
//! - [`lookup`]: cache first, then one token fetch per herd;
//! - [`fallback`]: the helper that keeps credentials for hosts that are not ECR;
//! - `store`: the seam between the protocol and a store (get, store, erase, list), which the
//!   ECR token store and the fallback helper implement and `cli`'s router chooses between;
//! - [`platform`]: every call only a unix system answers (modes, owners, signals, `/proc`);
//! - [`deadline`]: the hard bound on a whole request, and the watchdog that keeps it;
//! - [`token`]: GetAuthorizationToken through the AWS SDK (the only async, networked part);
//! - `https`: the HTTPS client (rustls on ring) every AWS call uses;
//! - [`log`]: `DOCKER_CREDENTIAL_ECR_LOG`, the `tracing` subscriber for our events and the SDK's;
//! - [`text`]: one-line messages, and futures that need no runtime;
//! - [`secret`]: a password type that cannot be printed by accident;
//! - [`configure`]: the `configure` command, which edits the clients' config files;
//! - [`doctor`]: the `doctor` command, which explains why a registry does or does not get a token;
//! - [`kubelet`]: the kubelet's image credential provider plugin (`kubelet`, `ecr-credential-provider`).

pub mod authorization;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod config;
pub mod configure;
mod credentials;
pub mod deadline;
pub mod dirs;
pub mod doctor;
pub mod endpoint;
pub mod env;
pub mod fallback;
pub mod front;
pub mod fsutil;
mod https;
pub mod identity;
mod keymemo;
pub mod kubelet;
pub mod log;
pub mod lookup;
pub mod platform;
pub mod profiles;
pub mod program;
pub mod protocol;
pub mod registry;
pub mod secret;
pub mod startup;
mod store;
pub mod text;
pub mod token;
