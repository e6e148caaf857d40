//! The library's error type: every failure a caller can act on, with the reason in its message.

use std::path::PathBuf;

/// Everything that can go wrong in the library. Messages name the flag or file at fault and what
/// was expected, so the binary can print them as they are.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A user-supplied specification (a flag value or a field of a config) is malformed.
    #[error("{flag}: {message}")]
    Spec {
        /// The flag or field the value came from, e.g. `--model`.
        flag: String,
        /// What was wrong and what is expected.
        message: String,
    },
    /// An input file could not be read or does not hold what was expected.
    #[error("{}: {message}", path.display())]
    File {
        /// The file at fault.
        path: PathBuf,
        /// What was wrong and what is expected.
        message: String,
    },
    /// No GPU adapter matched the request; callers may fall back to the CPU backend.
    #[error("no GPU adapter found{0}")]
    NoAdapter(String),
    /// The GPU reported an error (shader compilation, allocation, lost device, ...).
    #[error("GPU error: {0}")]
    Gpu(String),
    /// Writing an output failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory being written.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
}

impl Error {
    /// A malformed value of `flag`.
    pub fn spec(flag: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Spec {
            flag: flag.into(),
            message: message.into(),
        }
    }

    /// A problem with the input file `path`.
    pub fn file(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::File {
            path: path.into(),
            message: message.into(),
        }
    }

    /// Whether the error is the user's input (exit code 2) rather than the environment's.
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::Spec { .. } | Error::File { .. })
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
