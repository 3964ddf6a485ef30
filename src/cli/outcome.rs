//! How a protocol verb ends when it has no answer ([`ProtocolError`]): its cause kept typed from
//! the lookup, the fallback store, the config file and the request, up to the one place that
//! writes it ([`crate::cli`]). Whether an outcome is the protocol's "not found" is decided here,
//! by variant.

use crate::config::ConfigError;
use crate::fallback::FallbackError;
use crate::lookup::LookupError;
use crate::protocol::{InputError, NOT_FOUND, Verb};

/// Why a protocol verb (or a command line that names none) has no answer, with its cause kept
/// typed up to [`crate::cli`], the one place that writes it: its `Display` is the line on
/// stdout, [`ProtocolError::note`] the line on stderr.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// No credentials here: the client goes on anonymously, and nothing more is said.
    #[error("{NOT_FOUND}")]
    NotFound,
    /// "Not found" for the client, so that it goes on anonymously, with the reason as a note
    /// (ECR Public without a usable AWS identity, [`LookupError::PublicAnonymous`]).
    #[error("{NOT_FOUND}")]
    NotFoundBecause(#[source] LookupError),
    /// Not one protocol verb: the reference helpers' usage line.
    #[error("{}", Verb::usage(.program))]
    Usage { program: String },
    /// A first word that names no command.
    #[error("unknown action {word:?}; expected one of {} (see {program} --help)", .commands.join(", "))]
    UnknownAction {
        program: String,
        word: String,
        commands: Vec<String>,
    },
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Lookup(LookupError),
    #[error(transparent)]
    Fallback(FallbackError),
    /// `docker login` to a host that is not ECR, with nowhere to keep its password. Only the
    /// host is shown (if the URL has one): whatever else a client put in it may be a password.
    #[error(
        "{} is not an ECR registry and no fallback store is configured to keep its password: set fallback_store = \"pass\" (or another docker-credential-* helper) in {config}, or route only ECR hosts here with credHelpers",
        host.as_ref().map_or_else(|| "this server URL".to_string(), |h| format!("{h:?}"))
    )]
    NoFallbackStore {
        host: Option<String>,
        config: String,
    },
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

impl ProtocolError {
    /// The line for stderr, if any. docker shows a helper's stderr and drops its stdout, so
    /// without it a docker user would see only the registry's "no basic auth credentials";
    /// clients hide a "not found" answer, so its reason, if it has one, goes there too.
    pub fn note(&self) -> Option<String> {
        match self {
            ProtocolError::NotFound
            | ProtocolError::Usage { .. }
            | ProtocolError::UnknownAction { .. } => None,
            ProtocolError::NotFoundBecause(reason) => Some(reason.to_string()),
            other => Some(other.to_string()),
        }
    }
}

/// Where a lookup's "not found" answers are told apart from its errors.
impl From<LookupError> for ProtocolError {
    fn from(e: LookupError) -> Self {
        match e {
            LookupError::NotEcr => ProtocolError::NotFound,
            LookupError::PublicAnonymous { .. } => ProtocolError::NotFoundBecause(e),
            other => ProtocolError::Lookup(other),
        }
    }
}

/// The fallback store's "not found" is this helper's.
impl From<FallbackError> for ProtocolError {
    fn from(e: FallbackError) -> Self {
        match e {
            FallbackError::NotFound => ProtocolError::NotFound,
            other => ProtocolError::Fallback(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::NO_SERVER_URL;

    /// "Not found" is a variant, whoever said it; only its reasons and real errors get a note.
    #[test]
    fn not_found_is_decided_by_variant_and_noted_only_with_a_reason() {
        let answer = |e: ProtocolError| (e.to_string(), e.note());
        for quiet in [
            ProtocolError::from(LookupError::NotEcr),
            ProtocolError::from(FallbackError::NotFound),
        ] {
            assert!(matches!(quiet, ProtocolError::NotFound), "{quiet:?}");
            assert_eq!(answer(quiet), (NOT_FOUND.to_string(), None));
        }
        let public = ProtocolError::from(LookupError::PublicAnonymous {
            host: "public.ecr.aws".into(),
            reason: "no AWS credentials found".into(),
        });
        let (stdout, note) = answer(public);
        assert_eq!(stdout, NOT_FOUND);
        assert!(
            note.as_deref().is_some_and(
                |n| n.starts_with("public.ecr.aws: no token, so the client pulls anonymously")
            ),
            "{note:?}"
        );
        // A fallback store's own failure is handed on as it is, on stdout and in the note.
        assert_eq!(
            answer(FallbackError::Failed("locked".into()).into()),
            ("locked".to_string(), Some("locked".to_string()))
        );
        assert_eq!(
            answer(ProtocolError::Usage {
                program: "docker-credential-ecr".into()
            }),
            (
                "Usage: docker-credential-ecr <get|store|erase|list|version>".to_string(),
                None
            )
        );
        assert_eq!(
            answer(InputError::Empty.into()),
            (NO_SERVER_URL.to_string(), Some(NO_SERVER_URL.to_string()))
        );
    }
}
