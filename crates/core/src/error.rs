//! The library's error type: every failure a caller can act on, with the reason in its message.

use std::path::PathBuf;

/// Everything that can go wrong in the library. Messages name the flag or file at fault and what
/// was expected, so the binary can print them as they are.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A user-supplied specification (a flag value or a field of a config) is malformed.
    #[error("{flag}: {}", one_line(message))]
    Spec {
        /// The flag or field the value came from, e.g. `--model`.
        flag: String,
        /// What was wrong and what is expected.
        message: String,
    },
    /// An input file could not be read or does not hold what was expected.
    #[error("{}: {}", one_line(&path.display().to_string()), one_line(message))]
    File {
        /// The file at fault.
        path: PathBuf,
        /// What was wrong and what is expected.
        message: String,
    },
    /// A setting of a backend call does not fit this machine or this call: an adapter that is
    /// not there, a workgroup size beyond the adapter's limits, a range outside the lattice.
    /// `setting` names it in the library's terms (the command line names its flag instead,
    /// `Error::for_flag`).
    #[error("{setting}: {}", one_line(message))]
    Setting {
        /// The setting, e.g. `adapter`.
        setting: &'static str,
        /// What was wrong and what is expected.
        message: String,
    },
    /// No GPU adapter matched the request; callers may fall back to the CPU backend.
    #[error("no GPU adapter found{0}")]
    NoAdapter(String),
    /// The GPU reported an error (shader compilation, allocation, lost device, ...).
    #[error("GPU error: {0}")]
    Gpu(String),
    /// Reading or writing a file failed. The message is the path; the reason is the `source`
    /// (printed after it by `anyhow`'s `{:#}`), so that it is not printed twice.
    #[error("{}", one_line(&path.display().to_string()))]
    Io {
        /// The file or directory being written.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
}

/// `s` with line breaks and other control characters escaped (`\n`, `\u{1b}`), so that an
/// error message echoing a user's value or a parser's report stays on one line.
pub fn one_line(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
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

    /// A bad value of the backend setting `setting`.
    pub fn setting(setting: &'static str, message: impl Into<String>) -> Self {
        Error::Setting {
            setting,
            message: message.into(),
        }
    }

    /// The error with a bad value of the backend setting `setting` told as one of the flag
    /// `flag` that set it; other errors as they are.
    pub fn for_flag(self, setting: &str, flag: &str) -> Self {
        match self {
            Error::Setting {
                setting: s,
                message,
            } if s == setting => Error::spec(flag, message),
            e => e,
        }
    }

    /// Whether the error is the user's input (exit code 2) rather than the environment's.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Error::Spec { .. } | Error::File { .. } | Error::Setting { .. }
        )
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_stay_on_one_line() {
        let e = Error::spec("--axis", "'w1[0,0]=-1:1:3\nx': bad\r\tvalue");
        assert_eq!(
            e.to_string(),
            "--axis: 'w1[0,0]=-1:1:3\\nx': bad\\r\\tvalue"
        );
        let e = Error::file("a\nb.npy", "no");
        assert_eq!(e.to_string(), "a\\nb.npy: no");
        let io = Error::Io {
            path: "out".into(),
            source: std::io::Error::other("disk full"),
        };
        assert_eq!(format!("{:#}", anyhow::Error::from(io)), "out: disk full");
    }
}
