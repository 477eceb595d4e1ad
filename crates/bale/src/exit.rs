//! Exit codes: 0 success, 1 the user's input or the operation failed, 2 internal error.
//!
//! The code comes from the error's type: each library error the commands see
//! converts into a [`Failure`] here, and its variant says whether bale itself
//! failed (I/O on its own state, a bug) or the input or operation was refused.
//! Commands just use `?`.

use std::error::Error as StdError;
use std::fmt;

/// The user's input or the requested operation failed.
pub const USER: u8 = 1;
/// bale itself failed.
pub const INTERNAL: u8 = 2;

/// Why a command did not succeed, and which exit code that means.
pub struct Failure {
    error: anyhow::Error,
    code: u8,
    /// Already shown to the user in full (e.g. manifest diagnostics).
    reported: bool,
}

impl Failure {
    /// bale could not do its own work (I/O on its own state, a bug).
    pub fn internal(error: anyhow::Error) -> Self {
        Self {
            error,
            code: INTERNAL,
            reported: false,
        }
    }

    /// A refusal whose details were already printed.
    pub fn reported(error: anyhow::Error) -> Self {
        Self {
            error,
            code: USER,
            reported: true,
        }
    }

    /// The process exit code.
    pub fn code(&self) -> u8 {
        self.code
    }

    /// Whether the details were already printed.
    pub fn is_reported(&self) -> bool {
        self.reported
    }

    /// The underlying error.
    pub fn error(&self) -> &anyhow::Error {
        &self.error
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.error)
    }
}

/// Refuses the command with a message of bale's own: `refuse!("… run `bale init`")`.
macro_rules! refuse {
    ($($arg:tt)*) => {
        return Err($crate::exit::Failure::from(anyhow::anyhow!($($arg)*)))
    };
}
pub(crate) use refuse;

/// An error (or context around one): the class of the first library error in
/// its chain decides, and an error of bale's own making is the user's.
impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        let internal = error.chain().find_map(class).unwrap_or(false);
        Self {
            error,
            code: if internal { INTERNAL } else { USER },
            reported: false,
        }
    }
}

/// Whether `error` is bale's own failure (`Some(true)`), the user's
/// (`Some(false)`), or of a type this table does not know (`None`).
fn class(error: &(dyn StdError + 'static)) -> Option<bool> {
    macro_rules! table {
        ($($ty:ty => $internal:expr),* $(,)?) => {
            $(if let Some(e) = error.downcast_ref::<$ty>() {
                let internal: fn(&$ty) -> bool = $internal;
                return Some(internal(e));
            })*
        };
    }
    table! {
        bale_coordinate::CoordinateError => |_| false,
        bale_home::HomeError => |_| false,
        bale_manifest::ManifestError => |_| false,
        bale_archive::ArchiveError => |_| false,
        bale_sign::SignError => bale_sign::SignError::is_internal,
        bale_stack::StackError => bale_stack::StackError::is_internal,
        bale_build::BuildError => bale_build::BuildError::is_internal,
        bale_store::StoreError => bale_store::StoreError::is_internal,
        bale_app::DeployError => bale_app::DeployError::is_internal,
        bale_repo::RepoError => bale_repo::RepoError::is_internal,
        bale_db::DbError => bale_db::DbError::is_internal,
        bale_service::ServiceError => bale_service::ServiceError::is_internal,
        bale_remote::RemoteError => |_| false,
        bale_trigger::TriggerError => |_| false,
        bale_export::ExportError => bale_export::ExportError::is_internal,
        bale_sbom::SbomError => |_| false,
        // Printing JSON of bale's own values cannot fail on good input.
        serde_json::Error => |_| true,
    }
    None
}

/// `?` on a library result: one impl per error type a command sees.
macro_rules! failure_from {
    ($($ty:ty),* $(,)?) => {
        $(impl From<$ty> for Failure {
            fn from(error: $ty) -> Self {
                Failure::from(anyhow::Error::from(error))
            }
        })*
    };
}

failure_from!(
    bale_coordinate::CoordinateError,
    bale_home::HomeError,
    bale_manifest::ManifestError,
    bale_archive::ArchiveError,
    bale_sign::SignError,
    bale_stack::StackError,
    bale_build::BuildError,
    bale_store::StoreError,
    bale_app::DeployError,
    bale_repo::RepoError,
    bale_db::DbError,
    bale_service::ServiceError,
    bale_remote::RemoteError,
    bale_trigger::TriggerError,
    bale_export::ExportError,
    bale_sbom::SbomError,
    serde_json::Error,
);

/// Marks a result's error as internal (bale's own state or a bug).
pub trait Internal<T> {
    /// Turns the error into an internal failure.
    fn internal(self) -> Result<T, Failure>;
}

impl<T, E: Into<anyhow::Error>> Internal<T> for Result<T, E> {
    fn internal(self) -> Result<T, Failure> {
        self.map_err(|e| Failure::internal(e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_on_the_deployers_own_state_is_internal() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let failure = Failure::from(bale_app::DeployError::Io {
            path: "/var/lib/bale/apps/shop".into(),
            source: io,
        });
        assert_eq!(failure.code(), INTERNAL);
    }

    #[test]
    fn a_refused_input_is_the_users() {
        let failure = Failure::from(bale_app::DeployError::NotDeployed("shop".into()));
        assert_eq!(failure.code(), USER);
    }

    #[test]
    fn context_keeps_the_class_of_the_error_inside() {
        let io = std::io::Error::other("disk on fire");
        let error = anyhow::Error::from(bale_stack::StackError::Io {
            path: "/var/lib/bale/stacks".into(),
            source: io,
        })
        .context("listing the stacks");
        assert_eq!(Failure::from(error).code(), INTERNAL);
        let error = anyhow::Error::from(bale_stack::StackError::NotCreated {
            name: "bookworm".into(),
            arch: None,
        })
        .context("building");
        assert_eq!(Failure::from(error).code(), USER);
    }

    #[test]
    fn an_error_of_bales_own_making_is_the_users() {
        assert_eq!(Failure::from(anyhow::anyhow!("no bale.toml")).code(), USER);
    }
}
