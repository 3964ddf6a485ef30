//! The router: one [`Store`] that chooses, per host, the store that keeps it, as
//! docker-credential-helpers' `Serve` hands every request to one helper. An ECR registry, or an
//! alias of one in the config file, goes to the ECR token store; any other host to the
//! fallback store if the config file names one, else it has no credential here. Its answers
//! and errors are the protocol's outcome ([`ProtocolError`]), which `cli` writes.

use super::outcome::ProtocolError;
use crate::config::ConfigError;
use crate::env::Env;
use crate::fallback::Fallback;
use crate::lookup::{Lookup, TokenStore};
use crate::protocol::{Answer, Listing, Request};
use crate::request;
use crate::store::Store;
use crate::token::TokenSource;

/// Which store keeps a host.
enum Route<'r> {
    Ecr,
    Fallback(&'r Fallback),
    /// Not ECR, and no fallback store is configured.
    Nowhere,
}

pub(crate) struct Router<'a> {
    ecr: TokenStore<'a>,
    fallback: Option<Fallback>,
    env: &'a dyn Env,
}

impl<'a> Router<'a> {
    /// The stores the config file and environment make, for one request: tokens fetched with
    /// `source`, and everything done within `request`'s deadline.
    pub(crate) fn new(
        request: &request::Request<'a>,
        source: &'a dyn TokenSource,
    ) -> Result<Router<'a>, ConfigError> {
        let lookup = Lookup::new(request)?;
        let fallback = Fallback::from_config(&lookup.config, request);
        Ok(Router {
            ecr: TokenStore { lookup, source },
            fallback,
            env: request.env,
        })
    }

    /// The store that keeps the request's host. A config entry that contradicts the host is an
    /// error, not another store's host.
    fn route(&self, request: &Request) -> Result<Route<'_>, ConfigError> {
        if self.ecr.lookup.registry(request.server_url())?.is_some() {
            return Ok(Route::Ecr);
        }
        Ok(self
            .fallback
            .as_ref()
            .map_or(Route::Nowhere, Route::Fallback))
    }

    /// `docker login` to a host that is not ECR, with nowhere to keep its password: failing is
    /// the only way not to lose it silently.
    fn no_fallback_store(&self, request: &Request) -> ProtocolError {
        let config = crate::config::path(self.env)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| format!("the config file ${}", crate::config::ENV_VAR));
        ProtocolError::NoFallbackStore {
            host: crate::registry::normalize_host(request.server_url()),
            config,
        }
    }
}

impl Store for Router<'_> {
    type Error = ProtocolError;

    fn get(&self, request: &Request) -> Result<Answer, ProtocolError> {
        match self.route(request)? {
            Route::Ecr => Ok(self.ecr.get(request)?),
            Route::Fallback(fallback) => Ok(fallback.get(request)?),
            Route::Nowhere => Err(ProtocolError::NotFound),
        }
    }

    fn store(&self, request: &Request) -> Result<Answer, ProtocolError> {
        match self.route(request)? {
            Route::Ecr => Ok(self.ecr.store(request)?),
            Route::Fallback(fallback) => Ok(fallback.store(request)?),
            Route::Nowhere => Err(self.no_fallback_store(request)),
        }
    }

    fn erase(&self, request: &Request) -> Result<Answer, ProtocolError> {
        match self.route(request)? {
            Route::Ecr => Ok(self.ecr.erase(request)?),
            Route::Fallback(fallback) => Ok(fallback.erase(request)?),
            // Nothing of that host is kept here: forgetting it is done.
            Route::Nowhere => Ok(Answer::default()),
        }
    }

    /// Both stores' listings in one.
    fn list(&self) -> Result<Listing, ProtocolError> {
        let mut listing = self.ecr.list()?;
        if let Some(fallback) = &self.fallback {
            for (url, user) in fallback.list()? {
                // An ECR host is answered by this helper, so its own entry is the true one.
                listing.entry(url).or_insert(user);
            }
        }
        Ok(listing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorization::Token;
    use crate::deadline::Deadline;
    use crate::env::MapEnv;
    use crate::fallback::FallbackError;
    use crate::protocol::Verb;
    use crate::token::TokenError;
    use std::cell::Cell;
    use std::time::Duration;

    const ECR: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";

    /// Counts its fetches, so that a test sees which store answered.
    #[derive(Default)]
    struct Fake {
        calls: Cell<u32>,
    }

    impl TokenSource for Fake {
        fn fetch(&self, _: &crate::resolve::Resolved) -> Result<Token, TokenError> {
            self.calls.set(self.calls.get() + 1);
            Ok(Token::for_test("minted", crate::clock::now_ms(), 3_600_000))
        }
    }

    /// A router over `config` (the config file's text), with no cache and no AWS files, and
    /// `extra` in its environment.
    fn with_router<T>(
        config: &str,
        extra: &[(&str, &str)],
        test: impl FnOnce(&Router, &Fake) -> T,
    ) -> T {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, config).unwrap();
        let path = path.to_str().unwrap();
        let mut vars = vec![
            ("DOCKER_CREDENTIAL_ECR_CONFIG", path),
            ("AWS_ECR_DISABLE_CACHE", "1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ];
        vars.extend_from_slice(extra);
        let env = MapEnv::new(&vars);
        let fake = Fake::default();
        let request = request::Request::unwatched(&env, Deadline::after(Duration::from_secs(5)));
        let router = Router::new(&request, &fake).unwrap();
        test(&router, &fake)
    }

    fn request(verb: Verb, input: &str) -> Request<'_> {
        Request::read(verb, input.as_bytes()).unwrap()
    }

    fn credential(host: &str) -> String {
        format!(r#"{{"ServerURL":"{host}","Username":"AWS","Secret":"x"}}"#)
    }

    const ALIAS: &str = "[[registry]]\nmatch = \"registry.example.com\"\naccount = \"123456789012\"\nregion = \"us-east-1\"\n";

    /// ECR hosts and aliases go to the token store; with no fallback store, any other host has
    /// no credential, cannot be stored, and is forgotten at once.
    #[test]
    fn ecr_and_aliases_go_to_the_token_store_and_other_hosts_nowhere() {
        with_router(ALIAS, &[], |router, fake| {
            for host in [ECR, "https://registry.example.com/v2/"] {
                let answer = router.get(&request(Verb::Get, host)).unwrap().into_text();
                let answer = answer.as_str();
                assert!(
                    answer.starts_with(&format!(r#"{{"ServerURL":"{host}""#)),
                    "{answer}"
                );
                assert!(answer.contains(r#""Secret":"minted""#), "{answer}");
            }
            assert_eq!(fake.calls.get(), 2);
            let stored = router
                .store(&request(Verb::Store, &credential(ECR)))
                .unwrap();
            assert_eq!(stored.into_text().as_str(), "");
            assert_eq!(
                fake.calls.get(),
                2,
                "a login to ECR is dropped, not fetched"
            );
            let get = router.get(&request(Verb::Get, "ghcr.io"));
            assert!(matches!(get, Err(ProtocolError::NotFound)), "{get:?}");
            let store = router.store(&request(Verb::Store, &credential("ghcr.io")));
            assert!(
                matches!(&store, Err(ProtocolError::NoFallbackStore { host: Some(h), .. }) if h == "ghcr.io"),
                "{store:?}"
            );
            let erase = router.erase(&request(Verb::Erase, "ghcr.io")).unwrap();
            assert_eq!(erase.into_text().as_str(), "");
            assert_eq!(router.list().unwrap(), Listing::new());
        });
    }

    /// With a fallback store, every other host (and `list`) is forwarded to it; ECR hosts never
    /// are. A fallback that leads back here refuses without starting a process, so the test
    /// sees where each request went.
    #[test]
    fn other_hosts_and_list_go_to_the_fallback_store() {
        let config = format!("fallback_store = \"pass\"\n{ALIAS}");
        with_router(
            &config,
            &[(crate::fallback::FORWARDED_VAR, "1")],
            |router, _| {
                let forwarded = |r: Result<Answer, ProtocolError>| {
                    matches!(r, Err(ProtocolError::Fallback(FallbackError::Loop { .. })))
                };
                assert!(forwarded(router.get(&request(Verb::Get, "ghcr.io"))));
                assert!(forwarded(
                    router.store(&request(Verb::Store, &credential("ghcr.io")))
                ));
                assert!(forwarded(router.erase(&request(Verb::Erase, "ghcr.io"))));
                assert!(matches!(
                    router.list(),
                    Err(ProtocolError::Fallback(FallbackError::Loop { .. }))
                ));
                assert!(router.get(&request(Verb::Get, ECR)).is_ok());
                assert!(
                    router
                        .store(&request(Verb::Store, &credential(ECR)))
                        .is_ok()
                );
                assert!(router.erase(&request(Verb::Erase, ECR)).is_ok());
            },
        );
    }

    /// A config entry that contradicts a host is an error, never a reason to hand the host to
    /// another store.
    #[test]
    fn a_contradicting_entry_is_an_error_for_every_verb() {
        let config = "fallback_store = \"pass\"\n[[registry]]\nmatch = \"123456789012\"\nregion = \"eu-west-1\"\n";
        with_router(config, &[], |router, fake| {
            for result in [
                router.get(&request(Verb::Get, ECR)),
                router.store(&request(Verb::Store, &credential(ECR))),
                router.erase(&request(Verb::Erase, ECR)),
            ] {
                assert!(
                    matches!(result, Err(ProtocolError::Config(_))),
                    "{result:?}"
                );
            }
            assert_eq!(fake.calls.get(), 0);
        });
    }
}
