//! Runs that stop before they finish: a walk or map stopped by Ctrl-C lands with its checkpoint
//! and a run.json that says how to continue it, and `--resume` picks it up.

use super::common::Replay;
use crate::backend::WalkOutput;
use crate::error::{Error, Result};
use crate::interrupt;
use crate::output::progress::Progress;
use crate::output::run_dir::RunDir;
use crate::record::{self, FORMAT, RunRecord, StoppedRecord};
use crate::run::checkpoint::{CHECKPOINT_JSON, Checkpoint, remove_checkpoint, write_checkpoint};
use crate::run::{Checkpointing, Control, Request, Walk, Walked};
use anyhow::Context;
use std::path::Path;

/// The checkpoint an interrupted run is resumed from (`--resume`), checked against this run's
/// size: at most `walkers` walkers of `parameters` parameters.
pub fn take_resume(replay: Replay, parameters: usize, walkers: u64) -> Result<Option<Checkpoint>> {
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
            Ok(Some(*c))
        }
        Replay::Fresh | Replay::Config => Ok(None),
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

/// run.json of a run stopped with `done` of `walkers` walkers in its checkpoint, and the command
/// that continues it.
fn stopped_record(
    target: &Path,
    request: &Request,
    done: usize,
    walkers: usize,
) -> (RunRecord, String) {
    let command = request.command();
    let resume = format!("landscape {command} --resume {}", target.display());
    let record = RunRecord::Stopped(StoppedRecord {
        format: FORMAT,
        landscape_version: record::version(),
        command,
        complete: false,
        walkers,
        done,
        checkpoint: CHECKPOINT_JSON.to_string(),
        resume: resume.clone(),
        spec: request.clone(),
    });
    (record, resume)
}

/// Lands an interrupted run: run.json marked incomplete beside the checkpoint, the directory
/// moved into place, and the way to continue printed.
pub fn interrupted(out: RunDir, request: &Request, done: usize, walkers: usize) -> Result<()> {
    let target = out.target().to_path_buf();
    let (record, resume) = stopped_record(&target, request, done, walkers);
    record.write(&out.file("run.json"))?;
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
    request: &Request,
    walked: &WalkOutput,
    walk_s: f64,
) -> Result<()> {
    let m = walked.status.len();
    write_checkpoint(out.staging(), request, m, walked, walk_s)?;
    let target = out.target().to_path_buf();
    let (record, resume) = stopped_record(&target, request, m, m);
    let record = serde_json::to_string_pretty(&record).map_err(|e| Error::Io {
        path: target.join("run.json"),
        source: e.into(),
    })?;
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

/// Runs `walk` (a library walk given its progress and checkpoint controls) with checkpoints in
/// `out` and a progress bar over `walker_steps`. On Ctrl-C the run lands as interrupted and
/// `None` is returned. Otherwise the walk is returned with `out`, and from then on Ctrl-C lands
/// the run with the whole walk saved (`land`: false for a walk with a trace, which is not
/// checkpointed).
pub fn walk_with_checkpoints(
    out: RunDir,
    request: &Request,
    resumed: Option<Checkpoint>,
    (walker_steps, quiet, land): (u64, bool, bool),
    walk: impl FnOnce(Control<'_>) -> Result<Walked>,
) -> anyhow::Result<Option<(RunDir, Walk)>> {
    let progress = Progress::new(walker_steps, "walker-steps", quiet);
    let add = |n: u64| progress.add(n);
    let walked = walk(Control {
        progress: Some(&add),
        checkpoint: Some(Checkpointing {
            dir: out.staging(),
            request,
            resumed,
        }),
        stoppable: false,
    })
    .context("walking");
    progress.finish();
    let walk = match walked? {
        Walked::Complete(w) => w,
        Walked::Interrupted { done, walkers } => {
            interrupted(out, request, done, walkers)?;
            return Ok(None);
        }
    };
    remove_checkpoint(out.staging())?;
    if land {
        land_walk_on_interrupt(&out, request, &walk.output, walk.walk_s)?;
    }
    Ok(Some((out, walk)))
}

/// `--extend`: continues the walkers of `walk` still moving at `--steps` by gradient descent on
/// the backend, with a progress bar over the walker-steps of its rounds.
pub fn extend(
    backend: &mut dyn crate::backend::Backend,
    problem: &crate::run::Problem,
    walk: &mut Walk,
    descent: &crate::spec::walk::WalkSettings,
    total: Option<u32>,
    quiet: bool,
) -> Result<()> {
    let Some(total) = total else {
        return Ok(());
    };
    let moving = walk
        .output
        .status
        .iter()
        .filter(|&&s| s == crate::spec::walk::Status::MaxSteps as u32)
        .count() as u64;
    let progress = Progress::new(
        moving * u64::from(total.saturating_sub(descent.steps)),
        "walker-steps (--extend)",
        quiet,
    );
    crate::run::extend(backend, problem, walk, descent, Some(total), &|n| {
        progress.add(n)
    })?;
    progress.finish();
    if !quiet && let Some(e) = &walk.extension {
        eprintln!(
            "extend: {} walkers still moving at {} steps continued in {} rounds up to {} steps ({} walker-steps, {:.2} s); {} still moving",
            e.walkers, descent.steps, e.rounds, e.steps, e.walker_steps, e.seconds, e.still_moving
        );
    }
    Ok(())
}

/// Where a run's seconds went: the walk, its continuation by gradient descent, and the analysis,
/// with the gradient flow's share of it apart.
pub fn timings(walk: &Walk, report: &crate::analysis::basins::Report, basins_s: f64) -> String {
    let mut s = format!("walk {:.2} s", walk.walk_s);
    if let Some(e) = &walk.extension {
        s.push_str(&format!(", --extend {:.2} s", e.seconds));
    }
    match &report.flow {
        Some(f) => s.push_str(&format!(
            ", gradient flow {:.2} s, analysis {:.2} s",
            f.seconds,
            (basins_s - f.seconds).max(0.0)
        )),
        None => s.push_str(&format!(", analysis {basins_s:.2} s")),
    }
    s
}
