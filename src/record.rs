//! The records a run leaves beside its arrays: run.json, basins.json and an interrupted run's
//! checkpoint.json, one type each, versioned by `"format"`. Every file is read back through the
//! same type it was written with, and a missing or unknown field is an error that names the file.
//!
//! Format 1 is the first versioned format. Records written before it have no `"format"` field
//! and are refused with that reason: their run is repeated by running the command again.

use crate::analysis::basins::{Class, FlowSummary, PlacementCounts, Report, Unassigned};
use crate::backend::BackendInfo;
use crate::error::{Error, Result};
use crate::run::{Command, GridRequest, MapRequest, Request, WalkRequest};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The format of the records this version writes and reads.
pub const FORMAT: u32 = 1;

/// This crate's version, as records name it.
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// The definition of the loss every record refers to.
pub const LOSS_DEFINITION: &str = "L(θ) = (1/N) Σ_i ‖f(x_i; θ) − y_i‖²";

/// One array of a run directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArrayRecord {
    /// The .npy file, relative to the run directory.
    pub file: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its numpy dtype (`float32`, `float64`, `uint32`, `uint8`, `int32`).
    pub dtype: String,
    /// What its values mean, where the name does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meaning: Option<String>,
    /// For a trace: the steps between two rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<u32>,
}

impl ArrayRecord {
    /// `file` of `shape` and `dtype`.
    pub fn new(file: &str, shape: &[usize], dtype: &str) -> ArrayRecord {
        ArrayRecord {
            file: file.to_string(),
            shape: shape.to_vec(),
            dtype: dtype.to_string(),
            meaning: None,
            every: None,
        }
    }
}

/// One axis of a lattice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AxisRecord {
    /// The axis as typed.
    pub spec: String,
    /// Its label in pictures.
    pub label: String,
    /// `set` (one parameter set to each value), `offset` (the origin plus t times a
    /// direction), `rate` (the walkers' learning rate) or `scale` (the start times the value).
    pub kind: String,
    /// The weight layer (from 1) whose learning rate a `rate` axis sets; none for every layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<usize>,
    /// `log` where the values are spaced evenly in log(value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spacing: Option<String>,
    /// The parameter a `set` axis sets.
    pub parameter: Option<String>,
    /// The direction of an `offset` axis (length P).
    pub direction: Option<Vec<f64>>,
    /// First value.
    pub lo: f64,
    /// Last value.
    pub hi: f64,
    /// Number of values.
    pub n: usize,
    /// Every value, in order.
    pub values: Vec<f64>,
}

/// The lowest point of a grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgminRecord {
    /// Its lattice index, one per axis.
    pub index: Vec<usize>,
    /// Its θ.
    pub theta: Vec<f64>,
}

/// Seconds spent by a grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridTimings {
    /// Evaluating the lattice.
    pub evaluate_s: f64,
    /// Writing arrays and pictures.
    pub write_s: f64,
    /// The exact Hessians (`--hessian`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hessian_s: Option<f64>,
}

/// The curvature of a grid (`--hessian`) at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurvatureSummary {
    /// Points where no eigenvalue is negative (index 0: L convex there, to second order).
    pub convex_points: usize,
    /// The largest index on the lattice.
    pub max_index: u32,
    /// Points whose Hessian is not finite (index 4294967295, NaN extremes).
    pub non_finite_points: usize,
    /// When an eigenvalue counts as negative.
    pub negative: String,
}

/// A grid's numbers at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridSummary {
    /// Lattice points.
    pub points: u64,
    /// The lowest finite L.
    pub loss_min: Option<f32>,
    /// Where it is.
    pub argmin: Option<ArgminRecord>,
    /// The highest finite L.
    pub loss_max: Option<f32>,
    /// Points lower than all their lattice neighbours (ties included).
    pub lattice_local_minima: usize,
    /// Of those, the lowest few marked in the picture (1-D and 2-D lattices).
    pub marked_minima: usize,
    /// Points where L is not finite.
    pub non_finite_points: usize,
    /// The exact Hessian's index and extreme eigenvalues (`--hessian`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curvature: Option<CurvatureSummary>,
}

/// run.json of a `grid`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridRecord {
    /// [`FORMAT`].
    pub format: u32,
    /// The version of landscape that wrote it.
    pub landscape_version: String,
    /// Always `grid`.
    pub command: Command,
    /// Always true.
    pub complete: bool,
    /// What was asked for: enough to repeat the run (`--config`).
    pub spec: GridRequest,
    /// The loss.
    pub loss_definition: String,
    /// The parameter names, in θ's order.
    pub parameters: Vec<String>,
    /// The backend that ran it.
    pub backend: BackendInfo,
    /// Seconds spent.
    pub timings: GridTimings,
    /// The lattice's axes.
    pub axes: Vec<AxisRecord>,
    /// The arrays, by name.
    pub arrays: BTreeMap<String, ArrayRecord>,
    /// The pictures drawn.
    pub pictures: Vec<String>,
    /// The numbers at a glance.
    pub summary: GridSummary,
    /// The shards this run was merged from (`landscape merge`); none for a run made whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<MergedRecord>,
}

/// Seconds spent by a walk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalkTimings {
    /// Walking (over every process, for a resumed run).
    pub walk_s: f64,
    /// Continuing still-moving walkers by gradient descent (`--extend`).
    #[serde(default)]
    pub extend_s: Option<f64>,
    /// The basin analysis, when it ran.
    pub basins_s: Option<f64>,
}

/// Quantiles of the walkers' final losses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quantiles {
    /// The quantiles taken.
    pub q: Vec<f64>,
    /// L at each (nearest rank over finite losses; none when no loss is finite).
    pub loss: Vec<Option<f32>>,
}

/// The basin analysis, as a walk's summary records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasinsSummary {
    /// The analysis itself.
    pub file: String,
    /// Classes found.
    pub classes: usize,
    /// |G| (none beyond float64's range).
    pub group_order: Option<f64>,
    /// log₁₀ |G|.
    pub group_order_log10: f64,
    /// L of the lowest class.
    pub lowest_loss: Option<f64>,
}

impl BasinsSummary {
    /// The summary of `report`, written into `file`.
    pub fn of(report: &Report, file: &str) -> BasinsSummary {
        BasinsSummary {
            file: file.to_string(),
            classes: report.classes.len(),
            group_order: finite(report.group_order),
            group_order_log10: report.group_order_log10,
            lowest_loss: report.classes.first().map(|c| c.loss),
        }
    }
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// A walk's numbers at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalkSummary {
    /// Walkers.
    pub walkers: u64,
    /// Walkers by status.
    pub counts: BTreeMap<String, usize>,
    /// Quantiles of the final losses.
    pub loss_quantiles: Quantiles,
    /// Steps taken, summed over the walkers.
    pub walker_steps: u64,
    /// Of those, per second of walking.
    pub walker_steps_per_s: f64,
    /// The basin analysis, when it ran.
    pub basins: Option<BasinsSummary>,
}

/// run.json of a `walk`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalkRecord {
    /// [`FORMAT`].
    pub format: u32,
    /// The version of landscape that wrote it.
    pub landscape_version: String,
    /// Always `walk`.
    pub command: Command,
    /// Always true.
    pub complete: bool,
    /// What was asked for: enough to repeat the run (`--config`).
    pub spec: WalkRequest,
    /// The walker's algorithm, in words.
    pub algorithm: String,
    /// The loss.
    pub loss_definition: String,
    /// The parameter names, in θ's order.
    pub parameters: Vec<String>,
    /// The backend that ran it.
    pub backend: BackendInfo,
    /// Seconds spent.
    pub timings: WalkTimings,
    /// The codes of status.npy, by name.
    pub status_legend: BTreeMap<String, u32>,
    /// The arrays, by name.
    pub arrays: BTreeMap<String, ArrayRecord>,
    /// The numbers at a glance.
    pub summary: WalkSummary,
    /// The shards this run was merged from (`landscape merge`); none for a run made whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<MergedRecord>,
}

/// Seconds spent by a map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapTimings {
    /// Walking (over every process, for a resumed run).
    pub walk_s: f64,
    /// Continuing still-moving walkers by gradient descent (`--extend`).
    #[serde(default)]
    pub extend_s: Option<f64>,
    /// Of the analysis, continuing still-moving ends by gradient flow (`--finish flow`).
    #[serde(default)]
    pub flow_s: Option<f64>,
    /// The basin analysis.
    pub basins_s: f64,
}

/// A map's numbers at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapSummary {
    /// Walkers (pixels).
    pub walkers: u64,
    /// Walkers by status.
    pub counts: BTreeMap<String, usize>,
    /// The basin analysis (none with `--no-basins`).
    pub basins: Option<BasinsSummary>,
    /// How the basins meet (boundary.json).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boundary: Option<crate::output::boundary::BoundarySummary>,
}

/// run.json of a `map`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapRecord {
    /// [`FORMAT`].
    pub format: u32,
    /// The version of landscape that wrote it.
    pub landscape_version: String,
    /// Always `map`.
    pub command: Command,
    /// Always true.
    pub complete: bool,
    /// What was asked for: enough to repeat the run (`--config`).
    pub spec: MapRequest,
    /// The loss.
    pub loss_definition: String,
    /// The parameter names, in θ's order.
    pub parameters: Vec<String>,
    /// The backend that ran it.
    pub backend: BackendInfo,
    /// Seconds spent.
    pub timings: MapTimings,
    /// The plane's two axes.
    pub axes: Vec<AxisRecord>,
    /// The codes of status.npy, by name.
    pub status_legend: BTreeMap<String, u32>,
    /// The arrays, by name.
    pub arrays: BTreeMap<String, ArrayRecord>,
    /// The pictures drawn.
    pub pictures: Vec<String>,
    /// The numbers at a glance.
    pub summary: MapSummary,
    /// The shards this run was merged from (`landscape merge`); none for a run made whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<MergedRecord>,
}

/// Where a shard lies in its run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardPlace {
    /// The block, from 0.
    pub index: u64,
    /// Blocks in the run.
    pub count: u64,
    /// The run's first item (walker, pixel or lattice point) in this block.
    pub first: u64,
    /// Items in this block.
    pub len: u64,
    /// Items in the run.
    pub total: u64,
    /// What the items are: `walkers`, `pixels` or `lattice points`.
    pub items: String,
    /// The fingerprint of the resolved specification, equal for every shard of one run.
    pub fingerprint: String,
}

/// Seconds spent by a shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardTimings {
    /// Walking (walk, map) or evaluating (grid), over every process for a resumed shard.
    pub compute_s: f64,
    /// Continuing still-moving walkers by gradient descent (`--extend`).
    #[serde(default)]
    pub extend_s: Option<f64>,
}

/// run.json of a shard: one block of a grid, walk or map (`--shard`), its arrays the block's
/// rows of the run's, the analysis and pictures left to `landscape merge`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardRecord<R> {
    /// [`FORMAT`].
    pub format: u32,
    /// The version of landscape that wrote it.
    pub landscape_version: String,
    /// `grid`, `walk` or `map`.
    pub command: Command,
    /// Always true: the block is done.
    pub complete: bool,
    /// Where the block lies in the run.
    pub shard: ShardPlace,
    /// What was asked for (with `shard`): enough to repeat the shard (`--config`).
    pub spec: R,
    /// The loss.
    pub loss_definition: String,
    /// The parameter names, in θ's order.
    pub parameters: Vec<String>,
    /// The backend that ran it.
    pub backend: BackendInfo,
    /// Seconds spent.
    pub timings: ShardTimings,
    /// The block's arrays, by name (the run's arrays, their first axis the block's items).
    pub arrays: BTreeMap<String, ArrayRecord>,
}

impl<R> ShardRecord<R> {
    /// The same record with its request mapped.
    pub fn map<S>(self, f: impl FnOnce(R) -> S) -> ShardRecord<S> {
        ShardRecord {
            format: self.format,
            landscape_version: self.landscape_version,
            command: self.command,
            complete: self.complete,
            shard: self.shard,
            spec: f(self.spec),
            loss_definition: self.loss_definition,
            parameters: self.parameters,
            backend: self.backend,
            timings: self.timings,
            arrays: self.arrays,
        }
    }
}

/// How a run was merged from its shards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergedRecord {
    /// Shards joined.
    pub shards: u64,
    /// Their common fingerprint.
    pub fingerprint: String,
    /// The backends that ran them, each once (the record's `backend` is the first shard's).
    pub backends: Vec<BackendInfo>,
    /// Seconds the shards spent computing, summed (the record's timings sum them too).
    pub shards_compute_s: f64,
    /// Seconds the merge took: joining the arrays, then what follows (the analysis, pictures).
    pub merge_s: f64,
}

/// run.json of a walk or map stopped before it finished (Ctrl-C), beside its checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoppedRecord<R> {
    /// [`FORMAT`].
    pub format: u32,
    /// The version of landscape that wrote it.
    pub landscape_version: String,
    /// `walk` or `map`.
    pub command: Command,
    /// Always false.
    pub complete: bool,
    /// Walkers in the run.
    pub walkers: usize,
    /// Walkers done and saved in the checkpoint.
    pub done: usize,
    /// The checkpoint's description.
    pub checkpoint: String,
    /// The command that continues the run.
    pub resume: String,
    /// What was asked for.
    pub spec: R,
}

/// Any run.json.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum RunRecord {
    /// A finished grid.
    Grid(GridRecord),
    /// A finished walk.
    Walk(WalkRecord),
    /// A finished map.
    Map(MapRecord),
    /// A walk or map stopped before it finished.
    Stopped(StoppedRecord<Request>),
    /// One block of a run (`--shard`).
    Shard(Box<ShardRecord<Request>>),
}

/// The fields by which a record is recognised, read before the rest.
#[derive(Deserialize)]
struct Header {
    format: Option<serde_json::Value>,
    command: Option<serde_json::Value>,
    complete: Option<bool>,
    shard: Option<serde_json::Value>,
}

/// Reads `path` as JSON and checks its format; `what` names the file's kind in messages.
fn read_json(path: &Path, what: &str) -> Result<(serde_json::Value, Header)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::file(path, format!("cannot be read ({e}); expected {what}")))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::file(path, format!("is not valid JSON ({e}); expected {what}")))?;
    if !value.is_object() {
        return Err(Error::file(
            path,
            format!("is not a JSON object; expected {what}"),
        ));
    }
    let header: Header = serde_json::from_value(value.clone())
        .map_err(|e| Error::file(path, format!("is not {what} ({e})")))?;
    match &header.format {
        None => Err(Error::file(
            path,
            format!(
                "has no \"format\" field: it was written by a landscape older than format {FORMAT}, \
                 which this version does not read; run the command again to write it anew"
            ),
        )),
        Some(f) if f.as_u64() == Some(u64::from(FORMAT)) => Ok((value, header)),
        Some(f) => Err(Error::file(
            path,
            format!("has format {f}; this version of landscape reads format {FORMAT}"),
        )),
    }
}

/// The typed form of a record, or an error naming the file and the field at fault.
fn typed<T: DeserializeOwned>(path: &Path, value: serde_json::Value, what: &str) -> Result<T> {
    serde_json::from_value(value).map_err(|e| {
        Error::file(
            path,
            format!("does not match {what} of format {FORMAT}: {e}"),
        )
    })
}

fn command_of(path: &Path, header: &Header, what: &str) -> Result<Command> {
    let value = header
        .command
        .clone()
        .ok_or_else(|| Error::file(path, format!("has no \"command\"; expected {what}")))?;
    serde_json::from_value(value.clone()).map_err(|_| {
        Error::file(
            path,
            format!("records the command {value}; expected grid, walk or map"),
        )
    })
}

impl RunRecord {
    /// Reads a run.json.
    pub fn read(path: &Path) -> Result<RunRecord> {
        let what = "the run.json of a landscape run";
        let (value, header) = read_json(path, what)?;
        let command = command_of(path, &header, what)?;
        if header.complete == Some(false) {
            let stopped = match command {
                Command::Grid => {
                    return Err(Error::file(
                        path,
                        "records an unfinished grid, which cannot be",
                    ));
                }
                Command::Walk => {
                    typed::<StoppedRecord<WalkRequest>>(path, value, "a stopped walk's run.json")?
                        .map(Request::Walk)
                }
                Command::Map => {
                    typed::<StoppedRecord<MapRequest>>(path, value, "a stopped map's run.json")?
                        .map(Request::Map)
                }
            };
            return Ok(RunRecord::Stopped(stopped));
        }
        if header.shard.is_some() {
            let what = "a shard's run.json";
            let shard = match command {
                Command::Grid => {
                    typed::<ShardRecord<GridRequest>>(path, value, what)?.map(Request::Grid)
                }
                Command::Walk => {
                    typed::<ShardRecord<WalkRequest>>(path, value, what)?.map(Request::Walk)
                }
                Command::Map => {
                    typed::<ShardRecord<MapRequest>>(path, value, what)?.map(Request::Map)
                }
            };
            return Ok(RunRecord::Shard(Box::new(shard)));
        }
        Ok(match command {
            Command::Grid => RunRecord::Grid(typed(path, value, "a grid's run.json")?),
            Command::Walk => RunRecord::Walk(typed(path, value, "a walk's run.json")?),
            Command::Map => RunRecord::Map(typed(path, value, "a map's run.json")?),
        })
    }

    /// The command that wrote it.
    pub fn command(&self) -> Command {
        match self {
            RunRecord::Grid(_) => Command::Grid,
            RunRecord::Walk(_) => Command::Walk,
            RunRecord::Map(_) => Command::Map,
            RunRecord::Stopped(s) => s.command,
            RunRecord::Shard(s) => s.command,
        }
    }

    /// What the run was asked for.
    pub fn request(&self) -> Request {
        match self {
            RunRecord::Grid(r) => Request::Grid(r.spec.clone()),
            RunRecord::Walk(r) => Request::Walk(r.spec.clone()),
            RunRecord::Map(r) => Request::Map(r.spec.clone()),
            RunRecord::Stopped(s) => s.spec.clone(),
            RunRecord::Shard(s) => s.spec.clone(),
        }
    }

    /// The backend that ran it (none for a stopped run).
    pub fn backend(&self) -> Option<&BackendInfo> {
        match self {
            RunRecord::Grid(r) => Some(&r.backend),
            RunRecord::Walk(r) => Some(&r.backend),
            RunRecord::Map(r) => Some(&r.backend),
            RunRecord::Shard(r) => Some(&r.backend),
            RunRecord::Stopped(_) => None,
        }
    }

    /// Whether the run finished.
    pub fn complete(&self) -> bool {
        !matches!(self, RunRecord::Stopped(_))
    }

    /// Writes it to `path` (through a temporary file beside it, so that no reader sees half).
    pub fn write(&self, path: &Path) -> Result<()> {
        write_json(path, self)
    }
}

impl<R> StoppedRecord<R> {
    /// The same record with its request mapped.
    pub fn map<S>(self, f: impl FnOnce(R) -> S) -> StoppedRecord<S> {
        StoppedRecord {
            format: self.format,
            landscape_version: self.landscape_version,
            command: self.command,
            complete: self.complete,
            walkers: self.walkers,
            done: self.done,
            checkpoint: self.checkpoint,
            resume: self.resume,
            spec: f(self.spec),
        }
    }
}

/// Writes `value` as pretty JSON to `path` through a temporary file beside it.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e.into(),
    })?;
    crate::output::write_atomically(path, text.as_bytes())
}

/// The labels array named by basins.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelsRecord {
    /// The .npy file, relative to the run directory.
    pub file: String,
    /// What it holds.
    pub meaning: String,
}

/// basins.json: a basin analysis.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasinsRecord {
    /// [`FORMAT`].
    pub format: u32,
    /// The version of landscape that wrote it.
    pub landscape_version: String,
    /// |G| (none beyond float64's range).
    pub group_order: Option<f64>,
    /// log₁₀ |G|.
    pub group_order_log10: f64,
    /// Most representatives analysed.
    pub cluster_cap: usize,
    /// Walkers analysed.
    pub walkers: u64,
    /// The parameter names, in θ's order.
    pub parameters: Vec<String>,
    /// Classes, lowest loss first.
    pub classes: Vec<Class>,
    /// Walkers in no class, by reason.
    pub unassigned: Unassigned,
    /// What each kind of class means.
    pub kinds: BTreeMap<String, String>,
    /// Each walker's class and copy.
    pub labels: LabelsRecord,
    /// The placement distance: a walker not analysed itself takes the class of the nearest
    /// analysed end of its status within it (∞-distance relative to max(1, ‖θ‖∞)).
    #[serde(default)]
    pub place_tol: Option<f64>,
    /// How the walkers got their classes.
    #[serde(default)]
    pub placement: Option<PlacementCounts>,
    /// Each walker's placement code.
    #[serde(default)]
    pub placements: Option<LabelsRecord>,
    /// What the continuation by gradient flow did.
    #[serde(default)]
    pub flow: Option<FlowSummary>,
    /// Each walker's continuation code.
    #[serde(default)]
    pub continued: Option<LabelsRecord>,
}

/// placement.npy's codes.
pub const PLACEMENT_MEANING: &str = "uint8 per walker: 0 its own end analysed, 1 placed by the nearest analysed end of its status within place_tol, 2 converged and joined the class at its loss level, 3 unplaced (no analysed end near, no class at its level), 4 not analysed (diverged or non-finite)";

/// continued.npy's codes.
pub const CONTINUED_MEANING: &str = "uint8 per walker: 0 not continued, 1 continued by gradient descent on the backend (--extend; steps.npy counts its steps), 2 continued by gradient flow with adaptive steps (--finish flow), 3 placed by an end continued by gradient flow";

impl BasinsRecord {
    /// The record of `report` on a model with these parameter names, its labels in `labels_file`.
    pub fn of(report: &Report, parameters: Vec<String>, labels_file: &str) -> BasinsRecord {
        let kinds = [
            (
                "minimum",
                "index 0, no zero eigenvalues beyond one per hidden ReLU unit (its rescaling)",
            ),
            (
                "degenerate-minimum",
                "index 0 with further zero eigenvalues, and nothing lower found probing them: a manifold of minima (copies not counted)",
            ),
            (
                "higher-order-saddle",
                "index 0 with zero eigenvalues along which a probe of the null space (radii 1e-3 to 1e-1, both signs) finds lower loss: not a minimum",
            ),
            (
                "saturated",
                "hidden units saturated on every sample (derivative below float64's resolution): a plateau that continues to infinity, not a finite minimum",
            ),
            ("saddle", "index k: k negative eigenvalues"),
            ("maximum", "every eigenvalue negative"),
            (
                "plateau",
                "not a stationary point: where gradient descent stops (‖∇L‖ < tol) but polishing reaches no zero of ∇L; ends within 5% in loss grouped, copies not counted",
            ),
        ];
        BasinsRecord {
            format: FORMAT,
            landscape_version: version(),
            group_order: finite(report.group_order),
            group_order_log10: report.group_order_log10,
            cluster_cap: report.cluster_cap,
            walkers: report.walkers,
            parameters,
            classes: report.classes.clone(),
            unassigned: report.unassigned.clone(),
            kinds: kinds
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            labels: LabelsRecord {
                file: labels_file.to_string(),
                meaning: "int32, last axis (class id, copy id) of each walker, -1 where none"
                    .to_string(),
            },
            place_tol: Some(report.place_tol),
            placement: Some(report.placement.clone()),
            placements: Some(LabelsRecord {
                file: "placement.npy".to_string(),
                meaning: PLACEMENT_MEANING.to_string(),
            }),
            flow: report.flow.clone(),
            continued: Some(LabelsRecord {
                file: "continued.npy".to_string(),
                meaning: CONTINUED_MEANING.to_string(),
            }),
        }
    }

    /// Reads a basins.json.
    pub fn read(path: &Path) -> Result<BasinsRecord> {
        let what = "the basins.json of a basin analysis";
        let (value, _) = read_json(path, what)?;
        typed(path, value, "basins.json")
    }
}

/// checkpoint.json: the description of an interrupted run's checkpoint.bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointRecord<R> {
    /// [`FORMAT`].
    pub format: u32,
    /// The version of landscape that wrote it.
    pub landscape_version: String,
    /// `walk` or `map`.
    pub command: Command,
    /// Walkers in the run.
    pub walkers: usize,
    /// Walkers done, whose results checkpoint.bin holds.
    pub done: usize,
    /// Parameters per walker.
    pub parameters: usize,
    /// checkpoint.bin's size.
    pub bytes: usize,
    /// Seconds spent walking the walkers done, over every process.
    pub walk_s: f64,
    /// checkpoint.bin's layout, in words.
    pub layout: String,
    /// What the run was asked for.
    pub spec: R,
}

impl CheckpointRecord<Request> {
    /// Reads a checkpoint.json.
    pub fn read(path: &Path) -> Result<CheckpointRecord<Request>> {
        let what = "the checkpoint of an interrupted run";
        let (value, header) = read_json(path, what)?;
        Ok(match command_of(path, &header, what)? {
            Command::Grid => {
                return Err(Error::file(path, "names a grid, which is not checkpointed"));
            }
            Command::Walk => {
                typed::<CheckpointRecord<WalkRequest>>(path, value, what)?.map(Request::Walk)
            }
            Command::Map => {
                typed::<CheckpointRecord<MapRequest>>(path, value, what)?.map(Request::Map)
            }
        })
    }
}

impl<R> CheckpointRecord<R> {
    /// The same record with its request mapped.
    pub fn map<S>(self, f: impl FnOnce(R) -> S) -> CheckpointRecord<S> {
        CheckpointRecord {
            format: self.format,
            landscape_version: self.landscape_version,
            command: self.command,
            walkers: self.walkers,
            done: self.done,
            parameters: self.parameters,
            bytes: self.bytes,
            walk_s: self.walk_s,
            layout: self.layout,
            spec: f(self.spec),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("landscape-record-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch");
        dir
    }

    #[test]
    fn records_without_a_format_or_with_unknown_fields_are_refused_naming_the_file() {
        let dir = scratch("refused");
        let path = dir.join("run.json");
        std::fs::write(&path, r#"{"command": "walk", "complete": true}"#).expect("write");
        let e = RunRecord::read(&path).expect_err("no format").to_string();
        assert!(e.contains("run.json") && e.contains("no \"format\""), "{e}");
        std::fs::write(&path, r#"{"format": 7, "command": "walk"}"#).expect("write");
        let e = RunRecord::read(&path).expect_err("format 7").to_string();
        assert!(e.contains("has format 7"), "{e}");
        std::fs::write(&path, r#"{"format": 1, "command": "sweep"}"#).expect("write");
        let e = RunRecord::read(&path).expect_err("sweep").to_string();
        assert!(e.contains("\"sweep\"; expected grid, walk or map"), "{e}");
        std::fs::write(
            &path,
            r#"{"format": 1, "command": "grid", "complete": true}"#,
        )
        .expect("write");
        let e = RunRecord::read(&path)
            .expect_err("fields missing")
            .to_string();
        assert!(e.contains("missing field"), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
