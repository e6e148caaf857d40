//! `landscape merge DIR... --out DIR`: joins the shards of a grid, walk or map (`--shard i/N`)
//! into exactly the run directory the unsharded run writes, then does what the run does after
//! its computation: the basin analysis, the pictures, run.json.
//!
//! The merge streams: each array of the run is written block after block straight from the
//! shards' files, so its memory does not grow with the number of shards; what it then holds is
//! what the analysis and the pictures need (a walk's endpoints, a map's pixels, a grid's L).
//! Before it writes anything it checks that the shards are of one specification (their
//! fingerprints), that each is complete and lies where its index says, and that together they
//! cover the run once.

use super::common::print_counts;
use crate::backend::{BackendInfo, Evaluation, WalkOutput};
use crate::error::{Error, Result};
use crate::npy::{self, Header, NpyElement, Writer};
use crate::output::run_dir::RunDir;
use crate::record::{
    ArrayRecord, CheckpointRecord, MergedRecord, RunRecord, ShardPlace, ShardRecord, ShardTimings,
};
use crate::run::checkpoint::CHECKPOINT_JSON;
use crate::run::shard::{block, fingerprinted};
use crate::run::{self, Command, Extension, Request, Walk};
use crate::spec::walk::Status;
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Flags of `landscape merge`.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The shards' run directories, in any order, each shard once.
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
    /// Output directory (default runs/<command>-<time>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing run directory.
    #[arg(long)]
    force: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

/// One shard, as the merge keeps it: where it lies and what it says of itself.
struct Part {
    dir: PathBuf,
    place: ShardPlace,
    backend: BackendInfo,
    timings: ShardTimings,
}

impl Part {
    fn name(&self) -> String {
        format!(
            "shard {}/{} ({})",
            self.place.index,
            self.place.count,
            self.dir.display()
        )
    }

    fn items(&self) -> String {
        let p = &self.place;
        format!("{} {}..{}", p.items, p.first, p.first + p.len)
    }
}

/// Reads the shard in `dir`, or says why it is not a complete shard.
fn read_shard(dir: &Path) -> Result<ShardRecord<Request>> {
    let run_json = dir.join("run.json");
    if !run_json.is_file() {
        if let Some((partial, command)) = unfinished_beside(dir) {
            return Err(Error::file(
                dir,
                format!(
                    "is an incomplete shard: its run was killed before it finished, leaving its checkpoint in {}; continue it with `landscape {command} --resume {}`, or run it again",
                    partial.display(),
                    dir.display()
                ),
            ));
        }
        let what = if dir.is_dir() {
            "holds no run.json"
        } else {
            "does not exist"
        };
        return Err(Error::file(
            dir,
            format!("{what}; expected the run directory of a shard (written with --shard i/N)"),
        ));
    }
    match RunRecord::read(&run_json)? {
        RunRecord::Shard(s) => Ok(*s),
        RunRecord::Stopped(s) => Err(Error::file(
            dir,
            format!(
                "is an incomplete shard: {} of its {} walkers are done; continue it with `{}`",
                s.done, s.walkers, s.resume
            ),
        )),
        other => Err(Error::file(
            dir,
            format!(
                "holds a whole `{}` run, not a shard; expected runs made with --shard i/N",
                other.command()
            ),
        )),
    }
}

/// The unfinished directory a killed run into `dir` left beside it, with its command.
fn unfinished_beside(dir: &Path) -> Option<(PathBuf, Command)> {
    let name = dir.file_name()?.to_string_lossy().into_owned();
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let prefix = format!(".{name}.partial-");
    std::fs::read_dir(&parent)
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .find_map(|p| {
            let c = CheckpointRecord::read(&p.join(CHECKPOINT_JSON)).ok()?;
            Some((p, c.command))
        })
}

/// The first field in which two requests differ, as a path such as `spec.seed`.
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, path: &str) -> Option<String> {
    match (a, b) {
        (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                let null = serde_json::Value::Null;
                first_difference(
                    x.get(k).unwrap_or(&null),
                    y.get(k).unwrap_or(&null),
                    &format!("{path}.{k}"),
                )
            })
        }
        _ if a != b => Some(path.to_string()),
        _ => None,
    }
}

/// The numpy descr and element size of a record's dtype.
fn dtype(path: &Path, name: &str) -> Result<(&'static str, usize)> {
    Ok(match name {
        "float32" => ("<f4", 4),
        "float64" => ("<f8", 8),
        "uint32" => ("<u4", 4),
        "uint8" => ("|u1", 1),
        "int32" => ("<i4", 4),
        other => {
            return Err(Error::file(
                path,
                format!("records an array of dtype {other}, which a shard never holds"),
            ));
        }
    })
}

/// The axis of an array along which the shards' blocks follow each other: 1 for a trace (rows
/// of steps, then walkers), 0 for the others; `None` for the arrays every shard holds whole.
fn item_axis(name: &str) -> Option<usize> {
    match name {
        "origin" | "data_x" | "data_y" => None,
        "trace" => Some(1),
        _ => Some(0),
    }
}

/// Checks that `part`'s arrays are those of the first shard, with its block's length, and that
/// every file holds all its data.
fn check_arrays(
    part: &Part,
    arrays: &std::collections::BTreeMap<String, ArrayRecord>,
    first: &std::collections::BTreeMap<String, ArrayRecord>,
) -> Result<()> {
    let names = |m: &std::collections::BTreeMap<String, ArrayRecord>| {
        m.keys().cloned().collect::<Vec<_>>().join(", ")
    };
    if arrays.keys().ne(first.keys()) {
        return Err(Error::file(
            &part.dir,
            format!(
                "{} holds the arrays [{}]; the first shard holds [{}]",
                part.name(),
                names(arrays),
                names(first)
            ),
        ));
    }
    for (name, a) in arrays {
        let f = &first[name];
        // The shard's own files, nowhere else.
        if a.file != format!("{name}.npy") || a.shape.is_empty() {
            return Err(Error::file(
                part.dir.join("run.json"),
                format!(
                    "{} records the array {name} as {} of shape {:?}; expected {name}.npy with a shape",
                    part.name(),
                    a.file,
                    a.shape
                ),
            ));
        }
        if name == "trace" && a.shape.len() != 3 {
            return Err(Error::file(
                part.dir.join("run.json"),
                format!(
                    "{} records a trace of shape {:?}; expected (rows, walkers, P)",
                    part.name(),
                    a.shape
                ),
            ));
        }
        let path = part.dir.join(&a.file);
        let mut expected = f.shape.clone();
        if let Some(axis) = item_axis(name)
            && axis < expected.len()
        {
            expected[axis] = part.place.len as usize;
        }
        if a.shape != expected || a.dtype != f.dtype || a.file != f.file {
            return Err(Error::file(
                &path,
                format!(
                    "{} records {} of shape {:?} ({}); expected {expected:?} ({}) for its {}",
                    part.name(),
                    a.file,
                    a.shape,
                    a.dtype,
                    f.dtype,
                    part.items()
                ),
            ));
        }
        let (descr, item) = dtype(&path, &a.dtype)?;
        let header = npy::read_header(&path, item).map_err(|e| {
            Error::file(
                &path,
                format!("{} is incomplete: {}", part.name(), one_line(&e)),
            )
        })?;
        if header.shape != a.shape || header.descr != descr {
            return Err(Error::file(
                &path,
                format!(
                    "{} is incomplete: the file holds shape {:?} ({}); its run.json records {:?} ({descr})",
                    part.name(),
                    header.shape,
                    header.descr,
                    a.shape
                ),
            ));
        }
    }
    Ok(())
}

/// An error's message without the path it names (the caller names the file itself).
fn one_line(e: &Error) -> String {
    let text = match e {
        Error::File { message, .. } => message.clone(),
        other => other.to_string(),
    };
    text.lines().next().unwrap_or_default().to_string()
}

/// Why two backends compute other numbers (float32 results that differ in their last bits),
/// if they do: another backend, another GPU or driver, or another CPU instruction set; the CPU's
/// thread count changes nothing.
fn other_numbers(a: &BackendInfo, b: &BackendInfo) -> Option<&'static str> {
    let isa = |i: &BackendInfo| i.adapter.split(", ").nth(1).map(str::to_string);
    if a.backend != b.backend {
        Some("the CPU and GPU backends agree only to float32 rounding")
    } else if a.backend == "cpu" && isa(a) != isa(b) {
        Some("other instruction sets may round differently")
    } else if a.backend != "cpu" && (a.adapter != b.adapter || a.api != b.api) {
        Some("other adapters may round differently")
    } else {
        None
    }
}

/// The shards in order of their blocks, checked: one specification, complete, each block where
/// its index puts it, every block present once. Returns the first shard's record and the parts.
fn survey(dirs: &[PathBuf]) -> Result<(ShardRecord<Request>, Vec<Part>)> {
    let mut first: Option<(ShardRecord<Request>, serde_json::Value)> = None;
    let mut parts: Vec<Part> = Vec::with_capacity(dirs.len());
    for dir in dirs {
        let record = read_shard(dir)?;
        let part = Part {
            dir: dir.clone(),
            place: record.shard.clone(),
            backend: record.backend.clone(),
            timings: record.timings.clone(),
        };
        let p = &part.place;
        if p.count == 0 || p.index >= p.count || p.count > p.total {
            return Err(Error::file(
                dir.join("run.json"),
                format!(
                    "records shard {}/{} of {} {}; expected an index below a count from 1 to the items",
                    p.index, p.count, p.total, p.items
                ),
            ));
        }
        let own = block(p.index, p.count, p.total);
        if (p.first, p.first.saturating_add(p.len)) != (own.start, own.end) {
            return Err(Error::file(
                dir,
                format!(
                    "{} records {}, but block {}/{} of {} {} is {}..{}",
                    part.name(),
                    part.items(),
                    p.index,
                    p.count,
                    p.total,
                    p.items,
                    own.start,
                    own.end
                ),
            ));
        }
        match &first {
            None => {
                let spec = fingerprinted(&serde_json::to_value(&record.spec).unwrap_or_default());
                check_arrays(&part, &record.arrays, &record.arrays)?;
                first = Some((record, spec));
            }
            Some((f, f_spec)) => {
                let head = format!(
                    "shard {}/{} ({})",
                    f.shard.index,
                    f.shard.count,
                    parts[0].dir.display()
                );
                if record.command != f.command {
                    return Err(Error::file(
                        dir,
                        format!(
                            "{} is a shard of a `{}`; {head} is of a `{}`",
                            part.name(),
                            record.command,
                            f.command
                        ),
                    ));
                }
                if record.landscape_version != f.landscape_version {
                    return Err(Error::file(
                        dir,
                        format!(
                            "{} was written by landscape {}, {head} by {}; run all shards with one version",
                            part.name(),
                            record.landscape_version,
                            f.landscape_version
                        ),
                    ));
                }
                if p.fingerprint != f.shard.fingerprint {
                    let spec =
                        fingerprinted(&serde_json::to_value(&record.spec).unwrap_or_default());
                    let why = first_difference(&spec, f_spec, "spec").map_or(
                        "their requests agree, so the files they read (data, origin, directions) differ".to_string(),
                        |field| format!("{field} differs"),
                    );
                    return Err(Error::file(
                        dir,
                        format!(
                            "{} is of another specification than {head}: fingerprints {} and {} ({why})",
                            part.name(),
                            p.fingerprint,
                            f.shard.fingerprint
                        ),
                    ));
                }
                if p.count != f.shard.count || p.total != f.shard.total {
                    let fb = block(f.shard.index, f.shard.count, f.shard.total);
                    let overlap = own.start < fb.end && fb.start < own.end;
                    return Err(Error::file(
                        dir,
                        format!(
                            "{} is one of {} shards, {head} one of {}{}; merge the shards of one split",
                            part.name(),
                            p.count,
                            f.shard.count,
                            if overlap {
                                format!(
                                    ": their blocks ({} and {}..{}) overlap",
                                    part.items(),
                                    fb.start,
                                    fb.end
                                )
                            } else {
                                String::new()
                            }
                        ),
                    ));
                }
                if let Some(why) = other_numbers(&part.backend, &f.backend) {
                    return Err(Error::file(
                        dir,
                        format!(
                            "{} ran on {}, {head} on {}: {why}, so the merge would match no single run; run every shard on one kind of backend",
                            part.name(),
                            part.backend,
                            f.backend
                        ),
                    ));
                }
                check_arrays(&part, &record.arrays, &f.arrays)?;
            }
        }
        parts.push(part);
    }
    let Some((first, _)) = first else {
        return Err(Error::spec(
            "DIR",
            "no shard given; expected the run directories of a run's shards",
        ));
    };
    let required: &[&str] = match first.command {
        Command::Walk => &[
            "starts",
            "endpoints",
            "loss",
            "grad_norm",
            "steps",
            "status",
        ],
        Command::Map => &["endpoints", "loss", "steps", "status"],
        Command::Grid => &["loss", "grad_norm", "origin"],
    };
    if let Some(name) = required.iter().find(|n| !first.arrays.contains_key(**n)) {
        return Err(Error::file(
            parts[0].dir.join("run.json"),
            format!(
                "{} records no array {name}; a shard of a `{}` holds [{}]",
                parts[0].name(),
                first.command,
                required.join(", ")
            ),
        ));
    }
    parts.sort_by_key(|p| p.place.index);
    for w in parts.windows(2) {
        if w[0].place.index == w[1].place.index {
            let same = |d: &Path| d.canonicalize().unwrap_or_else(|_| d.to_path_buf());
            if same(&w[0].dir) == same(&w[1].dir) {
                return Err(Error::file(
                    &w[1].dir,
                    format!("{} is given twice; give each shard once", w[1].name()),
                ));
            }
            return Err(Error::file(
                &w[1].dir,
                format!(
                    "duplicates shard {}/{} ({}): each shard must be given once",
                    w[0].place.index,
                    w[0].place.count,
                    w[0].dir.display()
                ),
            ));
        }
        if w[1].place.first < w[0].place.first + w[0].place.len {
            return Err(Error::file(
                &w[1].dir,
                format!(
                    "{} overlaps {} ({})",
                    w[1].name(),
                    w[0].name(),
                    w[0].items()
                ),
            ));
        }
    }
    let (count, total) = (first.shard.count, first.shard.total);
    let present: Vec<u64> = parts.iter().map(|p| p.place.index).collect();
    // The shards are sorted and distinct, each below the count: as many as the count, or some
    // are missing (named, the first few, without listing a huge count).
    let missing = count - parts.len() as u64;
    if missing > 0 {
        let shown = (0..count)
            .filter(|i| present.binary_search(i).is_err())
            .take(8)
            .map(|i| {
                let b = block(i, count, total);
                format!("{i}/{count} ({} {}..{})", first.shard.items, b.start, b.end)
            })
            .collect::<Vec<_>>()
            .join(", ");
        let more = if missing > 8 {
            format!(" and {} more", missing - 8)
        } else {
            String::new()
        };
        let one = missing == 1;
        return Err(Error::spec(
            "DIR",
            format!(
                "{} missing: shard{} {shown}{more}; none of the {} directories given holds {}",
                if one { "a shard is" } else { "shards are" },
                if one { "" } else { "s" },
                parts.len(),
                if one { "it" } else { "them" }
            ),
        ));
    }
    Ok((first, parts))
}

/// Writes the whole run's array of `record` into `out` from the shards' blocks, in order, and
/// returns the path written: of the shards' shape with `total` items along axis 0.
fn join(out: &RunDir, parts: &[Part], record: &ArrayRecord, total: u64) -> Result<PathBuf> {
    let mut shape = record.shape.clone();
    shape[0] = total as usize;
    join_as(out, parts, record, &shape, 0)
}

/// [`join`] into an array of `shape`, the blocks following each other along `axis` of the
/// shards' arrays (1 for a trace: its rows of steps each hold every walker).
fn join_as(
    out: &RunDir,
    parts: &[Part],
    record: &ArrayRecord,
    shape: &[usize],
    axis: usize,
) -> Result<PathBuf> {
    let path = out.file(&record.file);
    let (descr, item) = dtype(&path, &record.dtype)?;
    // Bytes of one item along the axis, and how many runs of items precede it (trace rows).
    let row: u64 = record.shape[axis + 1..].iter().product::<usize>() as u64 * item as u64;
    let outer: u64 = record.shape[..axis].iter().product::<usize>() as u64;
    let mut writer = Writer::create(&path, descr, shape, item)?;
    // Where each shard's data start (a few bytes a shard, read once).
    let offsets: Vec<u64> = parts
        .iter()
        .map(|part| npy::read_header(&part.dir.join(&record.file), item).map(|h: Header| h.offset))
        .collect::<Result<_>>()?;
    for r in 0..outer {
        for (part, offset) in parts.iter().zip(&offsets) {
            let len = part.place.len;
            writer.copy_from(
                &part.dir.join(&record.file),
                offset + r * len * row,
                len * row,
            )?;
        }
    }
    writer.finish()?;
    Ok(path)
}

/// Reads the whole run's `name` array, block after block, into memory.
fn gather<T: NpyElement>(parts: &[Part], file: &str) -> Result<Vec<T>> {
    let mut all: Vec<T> = Vec::new();
    for part in parts {
        let (v, _) = npy::read_exact::<T>(&part.dir.join(file))?;
        all.extend_from_slice(&v);
    }
    Ok(all)
}

/// The `--extend` flags of every walker, when the run was extended.
fn extension(
    parts: &[Part],
    first: &ShardRecord<Request>,
    status: &[u32],
    extend: Option<u32>,
) -> Result<Option<Box<Extension>>> {
    let (Some(a), Some(steps)) = (first.arrays.get("extended"), extend) else {
        return Ok(None);
    };
    let flags: Vec<u8> = gather(parts, &a.file)?;
    let continued: Vec<bool> = flags.iter().map(|&f| f != 0).collect();
    Ok(Some(Box::new(Extension {
        steps,
        rounds: 0,
        walkers: continued.iter().filter(|&&c| c).count() as u64,
        still_moving: status
            .iter()
            .filter(|&&s| s == Status::MaxSteps as u32)
            .count() as u64,
        walker_steps: 0,
        seconds: parts.iter().filter_map(|p| p.timings.extend_s).sum(),
        continued,
    })))
}

/// The merge as run.json records it.
fn merged_record(first: &ShardRecord<Request>, parts: &[Part], started: Instant) -> MergedRecord {
    let mut backends: Vec<BackendInfo> = Vec::new();
    for p in parts {
        if !backends.contains(&p.backend) {
            backends.push(p.backend.clone());
        }
    }
    MergedRecord {
        shards: parts.len() as u64,
        fingerprint: first.shard.fingerprint.clone(),
        backends,
        shards_compute_s: parts.iter().map(|p| p.timings.compute_s).sum(),
        merge_s: started.elapsed().as_secs_f64(),
    }
}

/// Refuses an output directory that is one of the shards (`--force` would replace it).
fn check_out(out: Option<&Path>, dirs: &[PathBuf]) -> Result<()> {
    let Some(out) = out else { return Ok(()) };
    let Ok(o) = out.canonicalize() else {
        return Ok(());
    };
    if let Some(d) = dirs.iter().find(|d| d.canonicalize().is_ok_and(|d| d == o)) {
        return Err(Error::spec(
            "--out",
            format!(
                "{} is one of the shards being merged; expected another directory",
                d.display()
            ),
        ));
    }
    Ok(())
}

/// Runs `landscape merge`.
pub fn run(args: MergeArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    check_out(args.out.as_deref(), &args.dirs)?;
    let (first, parts) = survey(&args.dirs)?;
    let quiet = args.quiet;
    let command = first.command;
    // The run's own request; relative input paths are read from where the first shard ran.
    let request = first.spec.clone().with_shard(None);
    let cwd = match &request {
        Request::Grid(r) => r.cwd.clone(),
        Request::Walk(r) => r.cwd.clone(),
        Request::Map(r) => r.cwd.clone(),
    };
    crate::spec::set_input_base(cwd);
    let unresolved = |e: Error| {
        Error::spec(
            "DIR",
            format!(
                "the shards' specification cannot be resolved here ({}); merge where the run's input files are",
                one_line(&e)
            ),
        )
    };
    if !quiet {
        eprintln!(
            "merge: {} shards of a `{command}` of {} {} (fingerprint {})",
            parts.len(),
            first.shard.total,
            first.shard.items,
            first.shard.fingerprint
        );
    }
    let out = RunDir::create(args.out.as_deref(), command.name(), args.force)?;
    let backend = parts[0].backend.clone();
    let total = first.shard.total;
    let check_fingerprint = |data: &crate::spec::data::Dataset,
                             slice: Option<&crate::spec::slice::Slice>|
     -> Result<()> {
        let here = super::shard::fingerprint_of(&request, data, slice);
        if here != first.shard.fingerprint {
            return Err(Error::spec(
                "DIR",
                format!(
                    "the shards' inputs changed since they ran: their fingerprint is {}, the specification resolved here {here} (a data, origin or direction file was edited or replaced)",
                    first.shard.fingerprint
                ),
            ));
        }
        Ok(())
    };
    // What the merge holds in memory: the summary's loss, steps and status (and the endpoints,
    // labels and the analysis's own, ~136 B a walker of 13 parameters measured, when it
    // analyses); a grid's L and ‖∇L‖ (and the curvature).
    let fits = |total_here: u64, p: usize, analyses: bool| -> Result<()> {
        if total_here != total {
            return Err(Error::spec(
                "DIR",
                format!(
                    "the shards record {total} {}, but their specification resolves to {total_here}",
                    first.shard.items
                ),
            ));
        }
        let per = 16 + if analyses { 8 * p as u64 + 96 } else { 0 };
        crate::run::memory::check(
            "DIR",
            &format!("merging {total} {}", first.shard.items),
            total.saturating_mul(per),
            "merge on a machine with more memory (or run the walk with --no-basins and analyse a sample)",
        )
    };
    let dir = match &request {
        Request::Walk(r) => {
            let spec = r.resolve().map_err(unresolved)?;
            check_fingerprint(spec.problem.dataset(), None)?;
            fits(spec.walkers, spec.problem.model.parameter_count(), r.basins)?;
            for name in [
                "starts",
                "endpoints",
                "loss",
                "grad_norm",
                "steps",
                "status",
            ] {
                join(&out, &parts, &first.arrays[name], total)?;
            }
            if let Some(t) = first.arrays.get("trace") {
                let mut shape = t.shape.clone();
                shape[1] = total as usize;
                join_as(&out, &parts, t, &shape, 1)?;
            }
            let staged = |f: &str| out.file(f);
            let (status, _) = npy::read_exact::<u8>(&staged("status.npy"))?;
            let status: Vec<u32> = status.into_iter().map(u32::from).collect();
            let (loss, _) = npy::read_exact::<f32>(&staged("loss.npy"))?;
            let (steps, _) = npy::read_exact::<u32>(&staged("steps.npy"))?;
            let endpoints = if r.basins {
                npy::read_exact::<f32>(&staged("endpoints.npy"))?.0
            } else {
                Vec::new()
            };
            let ext = extension(&parts, &first, &status, spec.finish.extend)?;
            let walk = Walk {
                starts: Vec::new(),
                rates: None,
                output: WalkOutput {
                    endpoints,
                    loss,
                    grad_norm: Vec::new(),
                    steps,
                    status,
                    trace: None,
                },
                walk_s: parts.iter().map(|p| p.timings.compute_s).sum(),
                extension: ext,
            };
            let basins = r.basins.then(|| {
                let t = Instant::now();
                let options = spec
                    .finish
                    .analysis(spec.problem.model.parameter_count(), &spec.descent);
                let report =
                    super::basins::analyse(&spec.problem, &walk.output, &options, quiet, "");
                (report, t.elapsed().as_secs_f64())
            });
            super::walk::write_rest(
                &out,
                r,
                &spec,
                &walk,
                basins.as_ref().map(|(r, s)| (r, *s)),
                backend,
                Some(merged_record(&first, &parts, started)),
            )?;
            let dir = out.finish()?;
            if !quiet {
                print_counts(&walk.counts());
                if let Some((report, _)) = &basins {
                    eprint!("{}", report.table());
                }
            }
            dir
        }
        Request::Map(r) => {
            let spec = r.resolve().map_err(unresolved)?;
            check_fingerprint(spec.problem.dataset(), Some(&spec.slice))?;
            fits(spec.slice.len(), spec.problem.model.parameter_count(), true)?;
            let status: Vec<u32> = gather::<u8>(&parts, "status.npy")?
                .into_iter()
                .map(u32::from)
                .collect();
            let ext = extension(&parts, &first, &status, spec.finish.extend)?;
            let walk = Walk {
                starts: Vec::new(),
                rates: None,
                output: WalkOutput {
                    endpoints: gather(&parts, "endpoints.npy")?,
                    loss: gather(&parts, "loss.npy")?,
                    grad_norm: Vec::new(),
                    steps: gather(&parts, "steps.npy")?,
                    status,
                    trace: None,
                },
                walk_s: parts.iter().map(|p| p.timings.compute_s).sum(),
                extension: ext,
            };
            let t = Instant::now();
            let options = spec
                .finish
                .analysis(spec.problem.model.parameter_count(), &spec.descent);
            let report = if spec.basins {
                super::basins::analyse(&spec.problem, &walk.output, &options, quiet, "")
            } else {
                run::unanalysed(walk.output.status.len())
            };
            let map = run::Map {
                walk,
                report,
                basins_s: t.elapsed().as_secs_f64(),
            };
            let record = super::map::write(
                &out,
                r,
                &spec,
                &map,
                backend,
                Some(merged_record(&first, &parts, started)),
            )?;
            let dir = out.finish()?;
            if !quiet {
                print_counts(&map.walk.counts());
                if spec.basins {
                    eprint!("{}", map.report.table());
                }
                if let Some(b) = &record.summary.boundary {
                    eprintln!("  {}", crate::output::boundary::line(b));
                }
            }
            dir
        }
        Request::Grid(r) => {
            let spec = r.resolve().map_err(unresolved)?;
            check_fingerprint(spec.problem.dataset(), Some(&spec.slice))?;
            fits(spec.slice.len(), 0, false)?;
            if let Some(g) = first.arrays.get("grad") {
                // grad.npy of the lattice's shape, P last: the blocks' rows in order.
                let mut shape = spec.slice.shape();
                shape.push(spec.problem.model.parameter_count());
                join_as(&out, &parts, g, &shape, 0)?;
            }
            let grid = run::Grid {
                evaluation: Evaluation {
                    loss: gather(&parts, "loss.npy")?,
                    grad_norm: gather(&parts, "grad_norm.npy")?,
                    grad: None,
                },
                evaluate_s: parts.iter().map(|p| p.timings.compute_s).sum(),
                curvature: match first.arrays.get("index") {
                    Some(_) => Some(run::Curvature {
                        min: gather(&parts, "hessian_min.npy")?,
                        max: gather(&parts, "hessian_max.npy")?,
                        index: gather(&parts, "index.npy")?,
                        seconds: 0.0,
                    }),
                    None => None,
                },
            };
            super::grid::write(
                &out,
                r,
                &spec,
                &grid,
                backend,
                Some(merged_record(&first, &parts, started)),
            )
            .context("writing the merged grid")?;
            out.finish()?
        }
    };
    if !quiet {
        eprintln!(
            "merged {} shards ({} {}) in {:.2} s",
            parts.len(),
            total,
            first.shard.items,
            started.elapsed().as_secs_f64()
        );
        println!("{}", dir.display());
    }
    Ok(())
}
