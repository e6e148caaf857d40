//! Walking in blocks of walkers, with a checkpoint after each block, so that a long `walk` or
//! `map` can stop cleanly on Ctrl-C and be resumed with `--resume` to the same result: every
//! walker's start and trajectory depend on nothing but its own index, so the blocks a run is cut
//! into do not change any result.

use super::common::Replay;
use crate::backend::{Backend, WalkOutput};
use crate::error::{Error, Result};
use crate::interrupt;
use crate::output::progress::Progress;
use crate::output::run_dir::RunDir;
use crate::spec::data::Dataset;
use crate::spec::model::Model;
use crate::spec::walk::WalkSettings;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Name of the checkpoint's description (written last).
pub const CHECKPOINT_JSON: &str = "checkpoint.json";
/// Name of the checkpoint's arrays.
const CHECKPOINT_BIN: &str = "checkpoint.bin";
/// Aim for blocks of about this long, so that Ctrl-C is answered soon and checkpoints are fresh.
const BLOCK_TIME: Duration = Duration::from_secs(5);

/// How a walk in blocks ended.
pub enum Walked {
    /// Every walker is done.
    Complete(WalkOutput),
    /// Ctrl-C: the first `done` walkers are done and saved in the checkpoint.
    Interrupted {
        /// Walkers done.
        done: usize,
    },
}

fn empty() -> WalkOutput {
    WalkOutput {
        endpoints: Vec::new(),
        loss: Vec::new(),
        grad_norm: Vec::new(),
        steps: Vec::new(),
        status: Vec::new(),
        trace: None,
    }
}

fn append(all: &mut WalkOutput, part: WalkOutput) {
    all.endpoints.extend(part.endpoints);
    all.loss.extend(part.loss);
    all.grad_norm.extend(part.grad_norm);
    all.steps.extend(part.steps);
    all.status.extend(part.status);
}

/// Writes the checkpoint of the first `done.status.len()` walkers into `dir`: the arrays, then
/// the description naming the command and its arguments and the seconds spent walking them,
/// each replaced atomically.
pub fn write_checkpoint(
    dir: &Path,
    command: &str,
    args: &Value,
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
    let description = json!({
        "landscape_version": env!("CARGO_PKG_VERSION"),
        "command": command,
        "walkers": walkers,
        "done": k,
        "parameters": done.endpoints.len().checked_div(k).unwrap_or(0),
        "bytes": bytes.len(),
        "walk_s": walk_s,
        "layout": "little-endian: endpoints f32 (done × P), loss f32, grad_norm f32, steps u32, status u32",
        "args": args,
    });
    let put = |name: &str, data: &[u8]| -> Result<()> {
        let tmp = dir.join(format!("{name}.tmp"));
        let path = dir.join(name);
        std::fs::write(&tmp, data)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|source| Error::Io { path, source })
    };
    put(CHECKPOINT_BIN, &bytes)?;
    let text = serde_json::to_string_pretty(&description).unwrap_or_default();
    put(CHECKPOINT_JSON, text.as_bytes())
}

/// A checkpoint read back: its description and the walkers it holds.
pub struct Checkpoint {
    /// The directory it was read from.
    pub dir: PathBuf,
    /// checkpoint.json.
    pub description: Value,
    /// The walkers done.
    pub done: WalkOutput,
    /// Seconds spent walking them, over every process that worked on the run.
    pub walk_s: f64,
}

/// Reads the checkpoint in `dir`, checking it is one of `command` with `parameters` per walker.
pub fn read_checkpoint(dir: &Path, command: &str) -> Result<Checkpoint> {
    let bad = |m: String| Error::file(dir.join(CHECKPOINT_JSON), m);
    let text = std::fs::read_to_string(dir.join(CHECKPOINT_JSON)).map_err(|e| {
        bad(format!(
            "cannot be read ({e}); expected a checkpoint of an interrupted run"
        ))
    })?;
    let description: Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("is not valid JSON ({e})")))?;
    if description["command"] != command {
        return Err(bad(format!(
            "is a checkpoint of `{}`, not of `{command}`",
            description["command"]
        )));
    }
    let field = |name: &str| {
        description[name]
            .as_u64()
            .map(|v| v as usize)
            .ok_or_else(|| bad(format!("has no number '{name}'")))
    };
    let (k, p, n) = (field("done")?, field("parameters")?, field("bytes")?);
    let bin = dir.join(CHECKPOINT_BIN);
    let bytes = std::fs::read(&bin).map_err(|source| Error::Io {
        path: bin.clone(),
        source,
    })?;
    if bytes.len() != n || n != k * (p + 4) * 4 {
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
    // Checkpoints written before the time was kept count as none.
    let walk_s = description["walk_s"]
        .as_f64()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(0.0);
    Ok(Checkpoint {
        dir: dir.to_path_buf(),
        description,
        done,
        walk_s,
    })
}

/// The checkpoint to resume `target` from: the directory itself (a run stopped with Ctrl-C), or
/// the unfinished directory a killed run left beside it (the newest, if several).
pub fn find_checkpoint(target: &Path, command: &str) -> Result<Checkpoint> {
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
            let finished = std::fs::read_to_string(target.join("run.json"))
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .is_some_and(|r| r["complete"] == true && r["command"] == command);
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

/// What a block walk needs besides the backend.
pub struct BlockWalk<'a> {
    /// The model.
    pub model: &'a Model,
    /// Its data.
    pub data: &'a Dataset,
    /// All starts (M × P).
    pub starts: &'a [f32],
    /// Optimiser settings.
    pub settings: &'a WalkSettings,
    /// Where checkpoints go (the run's unfinished directory).
    pub dir: &'a Path,
    /// The command, for the checkpoint.
    pub command: &'a str,
    /// The command's arguments, for the checkpoint.
    pub args: &'a Value,
    /// Seconds spent walking before this process (a resumed run's earlier processes).
    pub before_s: f64,
}

/// Walks every start not yet in `done`, block after block, saving a checkpoint after each and
/// stopping after the current block when Ctrl-C is pressed.
pub fn walk(
    backend: &mut dyn Backend,
    w: &BlockWalk<'_>,
    done: Option<WalkOutput>,
    progress: &Progress,
) -> Result<Walked> {
    let _polling = interrupt::Polling::start();
    let started = Instant::now();
    let walk_s = || w.before_s + started.elapsed().as_secs_f64();
    let p = w.model.parameter_count();
    let m = w.starts.len() / p;
    let mut all = done.unwrap_or_else(empty);
    let mut block = 2048usize;
    let per_walker = u64::from(w.settings.steps);
    progress.add(all.status.len() as u64 * per_walker);
    while all.status.len() < m {
        if interrupt::requested() {
            write_checkpoint(w.dir, w.command, w.args, m, &all, walk_s())?;
            return Ok(Walked::Interrupted {
                done: all.status.len(),
            });
        }
        let first = all.status.len();
        let count = block.min(m - first);
        let t = Instant::now();
        let part = backend.walk(
            w.model,
            w.data,
            &w.starts[first * p..(first + count) * p],
            w.settings,
            None,
            &|n| progress.add(n),
        )?;
        append(&mut all, part);
        // The next block takes about BLOCK_TIME at this block's pace.
        let per = t.elapsed().as_secs_f64() / count as f64;
        let target = (BLOCK_TIME.as_secs_f64() / per.max(1e-12)) as usize;
        block = target.clamp(1024, 1 << 22).next_multiple_of(1024);
        if all.status.len() < m {
            write_checkpoint(w.dir, w.command, w.args, m, &all, walk_s())?;
        }
    }
    if interrupt::requested() {
        // Ctrl-C during the last block: the walk is complete, but the user asked to stop.
        write_checkpoint(w.dir, w.command, w.args, m, &all, walk_s())?;
        return Ok(Walked::Interrupted { done: m });
    }
    Ok(Walked::Complete(all))
}

/// The walkers an interrupted run had done (`--resume`), checked against this run's size, the
/// directory its checkpoint was read from and the seconds already spent walking.
pub fn take_resume(
    replay: Replay,
    parameters: usize,
    walkers: u64,
) -> Result<(Option<WalkOutput>, Option<PathBuf>, f64)> {
    match replay {
        Replay::Resume(c) => {
            let k = c.done.status.len();
            if k as u64 > walkers || c.done.endpoints.len() != k * parameters {
                return Err(Error::file(
                    c.dir.join(CHECKPOINT_JSON),
                    format!(
                        "holds {k} walkers of {} parameters; expected at most {walkers} of {parameters}",
                        c.done.endpoints.len().checked_div(k).unwrap_or(0)
                    ),
                ));
            }
            Ok((Some(c.done), Some(c.dir), c.walk_s))
        }
        Replay::Fresh | Replay::Config => Ok((None, None, 0.0)),
    }
}

/// After a resumed run landed in `dir`: removes the unfinished directory a killed run left,
/// which the checkpoint came from (a run stopped by Ctrl-C was `dir` itself, now replaced).
pub fn finish_replay(checkpoint_dir: Option<&Path>, dir: &Path) {
    if let Some(c) = checkpoint_dir
        && c != dir
        && c.exists()
    {
        let _ = std::fs::remove_dir_all(c);
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

/// run.json of a run stopped with `done` of `walkers` walkers in its checkpoint, and the command
/// that continues it.
fn incomplete_record(
    target: &Path,
    command: &str,
    args: &Value,
    done: usize,
    walkers: usize,
) -> (String, String) {
    let resume = format!("landscape {command} --resume {}", target.display());
    let record = json!({
        "landscape_version": env!("CARGO_PKG_VERSION"),
        "command": command,
        "complete": false,
        "walkers": walkers,
        "done": done,
        "checkpoint": CHECKPOINT_JSON,
        "resume": resume,
        "args": args,
    });
    (
        serde_json::to_string_pretty(&record).unwrap_or_default(),
        resume,
    )
}

/// Lands an interrupted run: run.json marked incomplete beside the checkpoint, the directory
/// moved into place, and the way to continue printed.
pub fn interrupted(
    out: RunDir,
    command: &str,
    args: &Value,
    done: usize,
    walkers: usize,
) -> anyhow::Result<()> {
    let target = out.target().to_path_buf();
    let (text, resume) = incomplete_record(&target, command, args, done, walkers);
    std::fs::write(out.file("run.json"), text).map_err(|source| Error::Io {
        path: target.join("run.json"),
        source,
    })?;
    let dir = out.finish()?;
    // Said even with --quiet: the run did not complete, like an error.
    eprintln!(
        "stopped: {done} of {walkers} walkers done and saved in {}; continue with: {resume}",
        dir.display()
    );
    Ok(())
}

/// From here until the run lands, Ctrl-C lands it at once as an interrupted run whose walk is
/// complete: the checkpoint holds every walker, and `--resume` redoes only what follows the walk
/// (the basin analysis, the outputs).
pub fn land_walk_on_interrupt(
    out: &RunDir,
    command: &str,
    args: &Value,
    walked: &WalkOutput,
    walk_s: f64,
) -> Result<()> {
    let m = walked.status.len();
    write_checkpoint(out.staging(), command, args, m, walked, walk_s)?;
    let target = out.target().to_path_buf();
    let (record, resume) = incomplete_record(&target, command, args, m, m);
    interrupt::land_on_interrupt(interrupt::Landing {
        staging: out.staging().to_path_buf(),
        target: target.clone(),
        record,
        message: format!(
            "stopped: the walk of {m} walkers is complete and saved in {}, what follows it is not; \
             continue with: {resume}",
            target.display()
        ),
    });
    Ok(())
}
