//! The run directory: files are written into a hidden staging directory beside the target and
//! moved into place only when the run is complete, so a failed run leaves nothing half-written.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// A run directory being written.
pub struct RunDir {
    target: PathBuf,
    staging: PathBuf,
    force: bool,
    finished: bool,
}

/// `YYYYMMDD-HHMMSS` in UTC, for default run directory names.
pub fn timestamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Files by which a directory is known as a run (a command's run.json, an interrupted run's
/// checkpoint, the demo's report): `--force` replaces only such directories.
const RUN_MARKERS: [&str; 3] = ["run.json", "checkpoint.json", "REPORT.md"];

/// `runs/<command>-<time>`, with `-2`, `-3`, … after it when runs started in the same second
/// already took the name.
fn default_target(command: &str) -> PathBuf {
    let base = PathBuf::from("runs").join(format!("{command}-{}", timestamp()));
    // Taken by a finished run, or by one still writing into its staging directory.
    let staging: Vec<String> = std::fs::read_dir("runs")
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    let taken = |p: &Path| {
        let name = p
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned());
        p.exists()
            || staging
                .iter()
                .any(|s| s.starts_with(&format!(".{name}.partial-")))
    };
    if !taken(&base) {
        return base;
    }
    (2u32..)
        .map(|k| PathBuf::from(format!("{}-{k}", base.display())))
        .find(|p| !taken(p))
        .unwrap_or(base)
}

impl RunDir {
    /// Prepares `out` (or `runs/<command>-<time>`): refuses an existing non-empty directory
    /// unless `force`, and creates the staging directory.
    pub fn create(out: Option<&Path>, command: &str, force: bool) -> Result<RunDir> {
        let target = match out {
            Some(p) => p.to_path_buf(),
            None => default_target(command),
        };
        if target.exists() && !target.is_dir() {
            return Err(Error::spec(
                "--out",
                format!(
                    "{} exists and is not a directory; expected a directory to write the run into",
                    target.display()
                ),
            ));
        }
        if let Ok(entries) = std::fs::read_dir(&target) {
            let names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            if !names.is_empty() && !force {
                return Err(Error::spec(
                    "--out",
                    format!(
                        "{} exists and is not empty; pass --force to replace it, or choose another directory",
                        target.display()
                    ),
                ));
            }
            // --force replaces runs, never a directory of other files.
            if !names.is_empty() && !names.iter().any(|n| RUN_MARKERS.contains(&n.as_str())) {
                return Err(Error::spec(
                    "--out",
                    format!(
                        "{} holds files but no run (no {}); --force replaces only run directories",
                        target.display(),
                        RUN_MARKERS.join(", ")
                    ),
                ));
            }
        }
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| n != "..")
            .ok_or_else(|| {
                Error::spec(
                    "--out",
                    format!("'{}' does not name a directory", target.display()),
                )
            })?;
        let parent = target.parent().map(Path::to_path_buf).unwrap_or_default();
        let parent = if parent.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            parent
        };
        // A parent that cannot be made (a file in the way, no permission) is a bad --out.
        if let Some(file) = parent.ancestors().find(|a| a.exists() && !a.is_dir()) {
            return Err(Error::spec(
                "--out",
                format!(
                    "{} is a file, so {} cannot be made inside it; expected a path of directories",
                    file.display(),
                    target.display()
                ),
            ));
        }
        std::fs::create_dir_all(&parent).map_err(|e| {
            Error::spec(
                "--out",
                format!(
                    "cannot create {} ({e}); expected a path where a directory can be made",
                    parent.display()
                ),
            )
        })?;
        let staging = parent.join(format!(".{name}.partial-{}", std::process::id()));
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(|source| Error::Io {
                path: staging.clone(),
                source,
            })?;
        }
        std::fs::create_dir(&staging).map_err(|e| {
            Error::spec(
                "--out",
                format!(
                    "cannot create a directory in {} ({e}); expected a writable place",
                    parent.display()
                ),
            )
        })?;
        crate::interrupt::register_staging(staging.clone());
        Ok(RunDir {
            target,
            staging,
            force,
            finished: false,
        })
    }

    /// Where a file of this run is written now (inside the staging directory).
    pub fn file(&self, name: &str) -> PathBuf {
        self.staging.join(name)
    }

    /// The staging directory itself.
    pub fn staging(&self) -> &Path {
        &self.staging
    }

    /// The directory the run ends up in.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Moves the complete run into place and returns its path.
    pub fn finish(mut self) -> Result<PathBuf> {
        if self.force && self.target.exists() {
            std::fs::remove_dir_all(&self.target).map_err(|source| Error::Io {
                path: self.target.clone(),
                source,
            })?;
        } else if self.target.exists() {
            // An empty directory (checked in `create`): rename cannot replace it on every platform.
            std::fs::remove_dir(&self.target).map_err(|source| Error::Io {
                path: self.target.clone(),
                source,
            })?;
        }
        std::fs::rename(&self.staging, &self.target).map_err(|source| Error::Io {
            path: self.target.clone(),
            source,
        })?;
        self.finished = true;
        crate::interrupt::unregister_staging(&self.staging);
        Ok(self.target.clone())
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_dir_all(&self.staging);
            crate::interrupt::unregister_staging(&self.staging);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfinished_runs_leave_nothing_and_finished_runs_land() {
        let base = std::env::temp_dir().join(format!("landscape-rundir-{}", std::process::id()));
        let out = base.join("run");
        {
            let run = RunDir::create(Some(&out), "grid", false).expect("create");
            std::fs::write(run.file("run.json"), "{}").expect("write");
        }
        assert!(!out.exists());
        assert_eq!(
            std::fs::read_dir(&base).expect("base").count(),
            0,
            "staging removed"
        );
        let run = RunDir::create(Some(&out), "grid", false).expect("create");
        std::fs::write(run.file("run.json"), "{}").expect("write");
        assert_eq!(run.finish().expect("finish"), out);
        assert!(out.join("run.json").exists());
        assert!(
            RunDir::create(Some(&out), "grid", false).is_err(),
            "non-empty refused"
        );
        let run = RunDir::create(Some(&out), "grid", true).expect("forced");
        run.finish().expect("replace");
        assert!(!out.join("run.json").exists());
        std::fs::remove_dir_all(&base).ok();
        assert_eq!(timestamp().len(), 15);
    }

    #[test]
    fn force_replaces_runs_only_and_out_must_be_a_directory() {
        let base = std::env::temp_dir().join(format!("landscape-force-{}", std::process::id()));
        let other = base.join("papers");
        std::fs::create_dir_all(&other).expect("dir");
        std::fs::write(other.join("draft.tex"), "x").expect("write");
        let err = RunDir::create(Some(&other), "grid", true)
            .err()
            .expect("refused");
        assert!(
            err.to_string().starts_with("--out") && err.to_string().contains("no run"),
            "{err}"
        );
        assert!(other.join("draft.tex").exists(), "left alone");
        let file = base.join("a-file");
        std::fs::write(&file, "x").expect("write");
        for out in [
            file.clone(),
            file.join("sub"),
            file.join("sub").join("deeper"),
        ] {
            let err = RunDir::create(Some(&out), "grid", true)
                .err()
                .expect("refused");
            assert!(
                err.to_string().starts_with("--out"),
                "{}: {err}",
                out.display()
            );
        }
        #[cfg(unix)]
        {
            let err = RunDir::create(Some(Path::new("/dev/null")), "grid", false)
                .err()
                .expect("refused");
            assert!(err.to_string().contains("not a directory"), "{err}");
        }
        std::fs::remove_dir_all(&base).ok();
    }
}
