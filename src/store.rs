//! The seam where the protocol meets what keeps credentials, as docker-credential-helpers has
//! it (`Helper`, served by `Serve`): a [`Store`] answers the protocol's requests for the hosts
//! it keeps, and knows nothing of stdin, stdout or exit codes. The ECR token store
//! (`lookup::TokenStore`) and the fallback helper (`fallback::Fallback`) implement it; the
//! router in `cli::router` chooses one per host, and is a store itself.
//!
//! The protocol module knows nothing of the stores: the request and answer types are its own.

use crate::protocol::{Answer, Listing, Request};

/// A credential store, in the protocol's four verbs. Each store keeps its own error type, typed
/// up to the router, which maps them onto the protocol's outcome.
pub(crate) trait Store {
    type Error;

    /// The credential for the request's server URL.
    fn get(&self, request: &Request) -> Result<Answer, Self::Error>;

    /// Keeps the credential of a `docker login`.
    fn store(&self, request: &Request) -> Result<Answer, Self::Error>;

    /// Forgets the credential of the request's server URL (`docker logout`).
    fn erase(&self, request: &Request) -> Result<Answer, Self::Error>;

    /// Every server URL this store has a credential for, with its user name.
    fn list(&self) -> Result<Listing, Self::Error>;
}
