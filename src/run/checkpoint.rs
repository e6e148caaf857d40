//! The checkpoint of a walk in blocks: checkpoint.bin holds the walkers done, checkpoint.json
//! (a [`CheckpointRecord`]) describes it and records the run's request, so that `--resume` can
//! continue the run to the same result.

use super::{Command, Request};
use crate::backend::WalkOutput;
use crate::error::{Error, Result};
use crate::record::{self, CheckpointRecord, FORMAT, RunRecord};
use std::path::{Path, PathBuf};

/// Name of the checkpoint's description (written last).
pub const CHECKPOINT_JSON: &str = "checkpoint.json";
/// Name of the checkpoint's arrays.
pub const CHECKPOINT_BIN: &str = "checkpoint.bin";

const LAYOUT: &str =
    "little-endian: endpoints f32 (done × P), loss f32, grad_norm f32, steps u32, status u32";

/// Writes the checkpoint of the first `done.status.len()` of `walkers` walkers into `dir`: the
/// arrays, then the description with the request and the seconds spent walking them, each
/// replaced atomically.
pub fn write_checkpoint(
    dir: &Path,
    request: &Request,
    walkers: usize,
    done: &WalkOutput,
    walk_s: f64,
) -> Result<()> {
    let k = done.status.len();
    let mut bytes: Vec<u8> = Vec::with_capacity(k * 16 + done.endpoints.len() * 4);
    bytes.extend_from_slice(bytemuck::cast_slice(&done.endpoints));
    bytes.extend_from_slice(bytemuck::cast_slice(&done.loss));
    bytes.extend_from_slice(bytemuck::cast_slice(&done.grad_norm));
    bytes.extend_from_slice(bytemuck::cast_slice(&done.steps));
    bytes.extend_from_slice(bytemuck::cast_slice(&done.status));
    let description = CheckpointRecord {
        format: FORMAT,
        landscape_version: record::version(),
        command: request.command(),
        walkers,
        done: k,
        parameters: done.endpoints.len().checked_div(k).unwrap_or(0),
        bytes: bytes.len(),
        walk_s,
        layout: LAYOUT.to_string(),
        spec: request,
    };
    crate::output::write_atomically(&dir.join(CHECKPOINT_BIN), &bytes)?;
    record::write_json(&dir.join(CHECKPOINT_JSON), &description)
}

/// A checkpoint read back.
#[derive(Debug)]
pub struct Checkpoint {
    /// The directory it was read from.
    pub dir: PathBuf,
    /// What the run was asked for.
    pub request: Request,
    /// Walkers in the run.
    pub walkers: usize,
    /// The walkers done.
    pub done: WalkOutput,
    /// Seconds spent walking them, over every process that worked on the run.
    pub walk_s: f64,
}

/// Reads the checkpoint in `dir`, checking it is one of `command`.
pub fn read_checkpoint(dir: &Path, command: Command) -> Result<Checkpoint> {
    let json = dir.join(CHECKPOINT_JSON);
    let description = CheckpointRecord::read(&json)?;
    if description.command != command {
        return Err(Error::file(
            &json,
            format!(
                "is a checkpoint of `{}`, not of `{command}`",
                description.command
            ),
        ));
    }
    let (k, p, n) = (description.done, description.parameters, description.bytes);
    let bin = dir.join(CHECKPOINT_BIN);
    let bytes = std::fs::read(&bin).map_err(|source| Error::Io {
        path: bin.clone(),
        source,
    })?;
    if bytes.len() != n || n != k * (p + 4) * 4 || k > description.walkers {
        return Err(Error::file(
            bin,
            format!(
                "holds {} bytes; expected {n} for {k} walkers of {p} parameters",
                bytes.len()
            ),
        ));
    }
    let f32s = |range: std::ops::Range<usize>| -> Vec<f32> {
        bytes[range.start * 4..range.end * 4]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let u32s = |range: std::ops::Range<usize>| -> Vec<u32> {
        bytes[range.start * 4..range.end * 4]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let e = k * p;
    let done = WalkOutput {
        endpoints: f32s(0..e),
        loss: f32s(e..e + k),
        grad_norm: f32s(e + k..e + 2 * k),
        steps: u32s(e + 2 * k..e + 3 * k),
        status: u32s(e + 3 * k..e + 4 * k),
        trace: None,
    };
    let walk_s = Some(description.walk_s)
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(0.0);
    Ok(Checkpoint {
        dir: dir.to_path_buf(),
        request: description.spec,
        walkers: description.walkers,
        done,
        walk_s,
    })
}

/// The checkpoint to resume `target` from: the directory itself (a run stopped with Ctrl-C), or
/// the unfinished directory a killed run left beside it (the newest, if several).
pub fn find_checkpoint(target: &Path, command: Command) -> Result<Checkpoint> {
    if target.join(CHECKPOINT_JSON).is_file() {
        return read_checkpoint(target, command);
    }
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let prefix = format!(".{name}.partial-");
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&parent)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .filter(|p| p.join(CHECKPOINT_JSON).is_file())
        .map(|p| {
            let t = std::fs::metadata(p.join(CHECKPOINT_JSON))
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            (t, p)
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, dir)) => read_checkpoint(&dir, command),
        None => {
            // A run that finished says so: there is nothing left to resume.
            let finished = RunRecord::read(&target.join("run.json"))
                .is_ok_and(|r| r.complete() && r.command() == command);
            let why = if finished {
                format!(
                    "{} holds a finished `{command}` run; nothing is left to resume",
                    target.display()
                )
            } else {
                format!(
                    "{} holds no checkpoint (and no unfinished run was left beside it); expected the \
                     directory of an interrupted `{command}`",
                    target.display()
                )
            };
            Err(Error::spec("--resume", why))
        }
    }
}

/// Removes the checkpoint from a run that completed.
pub fn remove_checkpoint(dir: &Path) -> Result<()> {
    for name in [CHECKPOINT_JSON, CHECKPOINT_BIN] {
        let path = dir.join(name);
        if path.exists() {
            std::fs::remove_file(&path).map_err(|source| Error::Io { path, source })?;
        }
    }
    Ok(())
}
