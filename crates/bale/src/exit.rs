//! Exit codes: 0 success, 1 the user's input or the operation failed, 2 internal error.

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
    /// The input or the operation was refused or failed.
    pub fn user(error: anyhow::Error) -> Self {
        Self {
            error,
            code: USER,
            reported: false,
        }
    }

    /// bale could not do its own work (I/O on its own state, a bug).
    pub fn internal(error: anyhow::Error) -> Self {
        Self {
            error,
            code: INTERNAL,
            reported: false,
        }
    }

    /// A failure whose details were already printed.
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
