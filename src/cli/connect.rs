//! `landscape connect`: the minimum-energy path between two minima, its transition states
//! refined with the exact Hessian and confirmed by push-offs (`analysis::path`).

use super::basins::{Walked, load_walk};
use super::common::{flagged, open_backend};
use super::grid::write_data;
use crate::analysis::path::{
    BandSettings, Group, LISTED_ORDER, Search, SearchSettings, generators, same, search,
};
use crate::analysis::stationary::{Kind, Stationary, analyse};
use crate::analysis::symmetry::{GroupElement, align, elements, group_order, stabilizer_order};
use crate::backend::{Backend, BackendChoice, BackendInfo};
use crate::error::{Error, Result};
use crate::npy;
use crate::output::plot::{self, AxisInfo, Overlay};
use crate::output::run_dir::RunDir;
use crate::record::{self, ArrayRecord, FORMAT, LOSS_DEFINITION, write_json};
use crate::reference;
use crate::run::ProblemRequest;
use crate::spec::data::Dataset;
use crate::spec::model::{Activation, Model};
use anyhow::Context;
use clap::Args;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Flags of `landscape connect`.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// A walk's run directory: --from and --to then name its classes and copies. Without it,
    /// --from and --to are points (.npy files) and --model and --data say the problem.
    run: Option<PathBuf>,
    /// The first minimum: CLASS[:COPY] of RUN (copy 0 when left out), or A.npy.
    #[arg(long)]
    from: String,
    /// The second minimum: CLASS[:COPY] of RUN, or B.npy.
    #[arg(long, required_unless_present_any = ["all_copies", "generators"])]
    to: Option<String>,
    /// Connect --from to every other copy of itself under the symmetry group.
    #[arg(long = "all-copies", conflicts_with_all = ["to", "generators"])]
    all_copies: bool,
    /// Connect --from to its copy under each generator of the group (each transposition of two
    /// units, each sign flip).
    #[arg(long, conflicts_with = "to")]
    generators: bool,
    /// Layer widths (without RUN), e.g. 2-3-1.
    #[arg(long, allow_hyphen_values = true)]
    model: Option<String>,
    /// Activation of the hidden layers (without RUN).
    #[arg(long)]
    act: Option<Activation>,
    /// Activation of the output layer (without RUN).
    #[arg(long = "out-act")]
    out_act: Option<Activation>,
    /// Leave out every bias vector (without RUN).
    #[arg(long = "no-bias")]
    no_bias: bool,
    /// Data (without RUN), as `grid` takes it.
    #[arg(long)]
    data: Option<String>,
    /// Images per string, its two ends included.
    #[arg(long, default_value_t = 33)]
    images: usize,
    /// Iterations of each string.
    #[arg(long, default_value_t = 500)]
    steps: usize,
    /// Most rounds of strings (each round relaxes one string per minimum not yet reached).
    #[arg(long, default_value_t = 4)]
    rounds: usize,
    /// auto, gpu or cpu: where the strings' images are evaluated.
    #[arg(long, value_enum, default_value = "auto")]
    backend: BackendChoice,
    /// Pick an adapter by index or by part of its name (see `landscape adapters`).
    #[arg(long)]
    adapter: Option<String>,
    /// Output directory (default runs/connect-<time>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing run directory.
    #[arg(long)]
    force: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

/// What was asked for, as run.json records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectSpec {
    /// The walk whose classes name the ends, if any.
    pub run: Option<PathBuf>,
    /// The problem.
    pub problem: ProblemRequest,
    /// --from.
    pub from: String,
    /// --to.
    pub to: Option<String>,
    /// --all-copies.
    pub all_copies: bool,
    /// --generators.
    pub generators: bool,
    /// Images per string.
    pub images: usize,
    /// Iterations per string.
    pub steps: usize,
    /// Most rounds.
    pub rounds: usize,
    /// The backend asked for.
    pub backend: BackendChoice,
}

/// A minimum as the outputs name it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinimumRecord {
    /// Index among the search's minima (0: --from; then the targets; then minima met).
    pub id: usize,
    /// Its class: the run's class id where it is one of the run's classes, else numbered after
    /// them in the order met.
    pub class: usize,
    /// Its copy as numbered in the run's basin.npy, where walkers found it.
    pub copy: Option<usize>,
    /// The element g of G with θ = g·(the class's representative): perm and signs per layer.
    pub element: String,
    /// Its kind.
    pub kind: Kind,
    /// L.
    pub loss: f64,
    /// ‖∇L‖ after polishing.
    pub grad_norm: f64,
    /// Zero Hessian eigenvalues.
    pub nullity: usize,
    /// |G| / |Stab|: its copies under the symmetry group (none on a manifold of minima).
    #[serde(default)]
    pub copies: Option<f64>,
    /// θ.
    pub point: Vec<f64>,
}

/// One end of a transition state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct End {
    /// Index into `minima`.
    pub minimum: usize,
    /// Its class.
    pub class: usize,
    /// Its copy, where the run numbers it.
    pub copy: Option<usize>,
}

/// A transition state, as transition_states.json lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionRecord {
    /// Index in this list.
    pub id: usize,
    /// L.
    pub loss: f64,
    /// ‖∇L‖ after refinement.
    pub grad_norm: f64,
    /// Negative Hessian eigenvalues: 1.
    pub index: usize,
    /// Zero Hessian eigenvalues.
    pub nullity: usize,
    /// The Hessian's eigenvalues, ascending.
    pub eigenvalues: Vec<f64>,
    /// θ.
    pub point: Vec<f64>,
    /// The two minima its push-offs reach.
    pub joins: [End; 2],
    /// Its loss minus each one's.
    pub barrier: [f64; 2],
    /// |Stab|: elements of G that leave it in place (2 or more: fixed by a symmetry).
    pub stabilizer_order: f64,
}

/// One transition state crossed on a connection's path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Crossing {
    /// Which transition state of the list, moved by `element`.
    pub transition_state: usize,
    /// The element of G applied to it.
    pub element: String,
    /// Crossed from its first minimum to its second.
    pub forward: bool,
    /// L there.
    pub loss: f64,
    /// Where it is, after the element.
    pub point: Vec<f64>,
}

/// The connection to one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionRecord {
    /// The target, as a minimum of the list.
    pub to: End,
    /// The element of G with target = g·(--from), when it is a copy of it.
    pub symmetry: Option<String>,
    /// Whether a chain of transition states reached it.
    pub connected: bool,
    /// The transition states crossed, in order.
    pub crossings: Vec<Crossing>,
    /// L at the minima along the chain, from --from to the target.
    pub minima_loss: Vec<f64>,
    /// The highest crossing's L minus --from's L.
    pub barrier: Option<f64>,
    /// The .npy file of its path (images × P) and of L along it.
    pub path: Option<[String; 2]>,
}

/// transition_states.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionStatesFile {
    /// [`FORMAT`].
    pub format: u32,
    /// The loss.
    pub loss_definition: String,
    /// The minima met.
    pub minima: Vec<MinimumRecord>,
    /// The transition states found, distinct up to the symmetry group.
    pub transition_states: Vec<TransitionRecord>,
    /// One per target.
    pub connections: Vec<ConnectionRecord>,
    /// Strings relaxed.
    pub strings: usize,
    /// Rounds of strings.
    pub rounds: usize,
}

/// Seconds spent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectTimings {
    /// Polishing the ends, the strings, refinements and push-offs.
    pub search_s: f64,
    /// Paths, pictures and files.
    pub write_s: f64,
}

/// run.json of `connect`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectRecord {
    /// [`FORMAT`].
    pub format: u32,
    /// The version of landscape that wrote it.
    pub landscape_version: String,
    /// Always `connect`.
    pub command: String,
    /// Always true.
    pub complete: bool,
    /// What was asked for.
    pub spec: ConnectSpec,
    /// The method, in words.
    pub algorithm: String,
    /// The loss.
    pub loss_definition: String,
    /// The parameter names, in θ's order.
    pub parameters: Vec<String>,
    /// Where the strings were evaluated.
    pub backend: BackendInfo,
    /// Seconds spent.
    pub timings: ConnectTimings,
    /// The arrays, by name.
    pub arrays: BTreeMap<String, ArrayRecord>,
    /// Targets reached of those asked.
    pub connected: usize,
    /// Targets asked.
    pub targets: usize,
}

const ALGORITHM: &str = "string method (images relaxed at once on the backend, float32), local maxima refined to stationary points with the exact float64 Hessian, index-1 points confirmed by push-offs of 1e-3 along ± the negative eigenvector followed down by the gradient flow; chains closed through images of transition states under the symmetry group";

/// `g` in words: per hidden layer the permutation (new unit i is old unit perm[i]) and signs.
pub fn element_name(g: &GroupElement) -> String {
    let layers: Vec<String> = g
        .perms
        .iter()
        .zip(&g.flips)
        .map(|(p, f)| {
            let perm: Vec<String> = p.iter().map(usize::to_string).collect();
            let signs: String = f.iter().map(|&x| if x { '-' } else { '+' }).collect();
            format!("perm [{}] signs {signs}", perm.join(" "))
        })
        .collect();
    layers.join("; ")
}

/// Gives the search's minima classes and copies: the run's where they are the run's.
struct Labels<'a> {
    model: &'a Model,
    group: Group<'a>,
    /// (representative, loss, class id) of every class known.
    classes: Vec<(Vec<f64>, f64, usize)>,
    /// Per run class: its copies' points (index = copy), where walkers found them.
    copies: BTreeMap<usize, Vec<Option<Vec<f64>>>>,
    next: usize,
}

impl<'a> Labels<'a> {
    fn label(&mut self, m: &Stationary) -> (usize, Option<usize>, String) {
        for (rep, loss, id) in &self.classes {
            let close = (loss - m.loss).abs() <= 1e-10 + 1e-7 * loss.abs().max(m.loss.abs());
            if !close {
                continue;
            }
            if let Some(g) = self.group.maps(rep, &m.theta).into_iter().next() {
                let copy = self.copies.get(id).and_then(|copies| {
                    copies.iter().position(|c| {
                        c.as_ref()
                            .is_some_and(|c| same(self.model, (c, *loss), (&m.theta, m.loss)))
                    })
                });
                return (*id, copy, element_name(&g));
            }
        }
        let id = self.next;
        self.next += 1;
        self.classes.push((m.theta.clone(), m.loss, id));
        let identity = GroupElement::identity(self.model);
        (id, None, element_name(&identity))
    }
}

/// The point of copy `copy` of class `class` of a walk: the first walker labelled so, polished,
/// and replaced by the exact image of the class's representative that it is.
fn copy_point(
    walked: &Walked,
    labels: &[i32],
    class: &crate::analysis::basins::Class,
    copy: usize,
) -> Option<Vec<f64>> {
    let model = &walked.problem.model;
    let p = model.parameter_count();
    let w = (0..labels.len() / 2)
        .find(|&w| labels[2 * w] == class.id as i32 && labels[2 * w + 1] == copy as i32)?;
    let end = analyse(
        model,
        walked.problem.dataset(),
        &walked.endpoints[w * p..(w + 1) * p],
    );
    let (g, d) = align(model, &class.point, &end.theta);
    Some(
        if d <= 1e-4 * end.theta.iter().fold(1.0f64, |m, v| m.max(v.abs())) {
            g.apply(model, &class.point)
        } else {
            end.theta
        },
    )
}

/// An end as typed: CLASS[:COPY] of the run, or a file.
fn parse_end(flag: &str, s: &str, has_run: bool) -> Result<EndSpec> {
    if s.ends_with(".npy") {
        return Ok(EndSpec::File(PathBuf::from(s)));
    }
    let parse = |t: &str| t.trim().parse::<usize>().ok();
    let (class, copy) = match s.split_once(':') {
        Some((c, k)) => (parse(c), parse(k).map(Some)),
        None => (parse(s), Some(None)),
    };
    match (class, copy, has_run) {
        (Some(c), Some(k), true) => Ok(EndSpec::Class(c, k.unwrap_or(0))),
        (Some(_), Some(_), false) => Err(Error::spec(
            flag,
            format!(
                "'{s}' names a class, but no run directory was given; expected FILE.npy, or RUN before the flags"
            ),
        )),
        _ => Err(Error::spec(
            flag,
            format!("'{s}' is neither CLASS[:COPY] (such as 0 or 0:3) nor FILE.npy"),
        )),
    }
}

enum EndSpec {
    Class(usize, usize),
    File(PathBuf),
}

/// Runs `landscape connect`.
pub fn run(args: ConnectArgs) -> anyhow::Result<()> {
    for (flag, v, lo, hi) in [
        ("--images", args.images, 5, 1000),
        ("--steps", args.steps, 1, 1_000_000),
        ("--rounds", args.rounds, 1, 100),
    ] {
        if v < lo || v > hi {
            return Err(
                Error::spec(flag, format!("{v} is out of range; expected {lo} to {hi}")).into(),
            );
        }
    }
    let walked = match &args.run {
        Some(dir) => {
            for (flag, given) in [
                ("--model", args.model.is_some()),
                ("--data", args.data.is_some()),
                ("--act", args.act.is_some()),
                ("--out-act", args.out_act.is_some()),
                ("--no-bias", args.no_bias),
            ] {
                if given {
                    return Err(Error::spec(
                        flag,
                        format!(
                            "the problem comes from {}'s run.json; leave {flag} out",
                            dir.display()
                        ),
                    )
                    .into());
                }
            }
            Some(load_walk(dir)?)
        }
        None => None,
    };
    let (problem, request) = match &walked {
        Some(w) => (w.problem.clone(), w.record.spec.problem.clone()),
        None => {
            let missing = |flag: &str| {
                Error::spec(
                    flag,
                    "missing; expected it, or a walk's run directory before the flags",
                )
            };
            let request = ProblemRequest {
                model: args.model.clone().ok_or_else(|| missing("--model"))?,
                act: args.act.unwrap_or(Activation::Tanh),
                out_act: args.out_act.unwrap_or(Activation::Linear),
                bias: !args.no_bias,
                data: args.data.clone().ok_or_else(|| missing("--data"))?,
                arrays: None,
            };
            (request.validate()?, request)
        }
    };
    let model = &problem.model;
    let data = problem.dataset();
    let p = model.parameter_count();
    let has_run = walked.is_some();
    let from = parse_end("--from", &args.from, has_run)?;
    let to = args
        .to
        .as_deref()
        .map(|t| parse_end("--to", t, has_run))
        .transpose()?;
    // The run's classes and labels, read once.
    let basins = match &args.run {
        Some(dir) => {
            let record = record::BasinsRecord::read(&dir.join("basins.json"))?;
            let file = dir.join(&record.labels.file);
            let (labels, shape) = npy::read_i32(&file)?;
            if labels.len() != 2 * walked.as_ref().map_or(0, |w| w.status.len()) {
                return Err(Error::file(
                    &file,
                    format!("shape {shape:?} does not match the walk's walkers (M × 2)"),
                )
                .into());
            }
            Some((record, labels))
        }
        None => None,
    };
    let mut labels = Labels {
        model,
        group: Group::new(model),
        classes: Vec::new(),
        copies: BTreeMap::new(),
        next: 0,
    };
    if let Some((record, _)) = &basins {
        for c in &record.classes {
            labels.classes.push((c.point.clone(), c.loss, c.id));
        }
        labels.next = record.classes.len();
    }
    let resolve = |flag: &str, end: &EndSpec, labels: &mut Labels<'_>| -> Result<Stationary> {
        match end {
            EndSpec::File(path) => {
                let theta =
                    npy::read_vector(&crate::spec::input_path(&path.to_string_lossy()), p, flag)?;
                let s = analyse(model, data, &theta);
                if !matches!(s.kind, Kind::Minimum | Kind::DegenerateMinimum) {
                    return Err(Error::spec(
                        flag,
                        format!(
                            "{} polishes to a {} (index {}, L = {:.6e}, ‖∇L‖ = {:.1e}); expected a minimum",
                            path.display(),
                            s.kind,
                            s.index,
                            s.loss,
                            s.grad_norm
                        ),
                    ));
                }
                Ok(s)
            }
            EndSpec::Class(c, k) => {
                let (record, run_labels) = basins.as_ref().expect("a run");
                let w = walked.as_ref().expect("a run");
                let Some(class) = record.classes.iter().find(|x| x.id == *c) else {
                    return Err(Error::spec(
                        flag,
                        format!(
                            "class {c} does not exist; the run has classes 0 to {}",
                            record.classes.len().saturating_sub(1)
                        ),
                    ));
                };
                if !matches!(class.kind, Kind::Minimum | Kind::DegenerateMinimum) {
                    return Err(Error::spec(
                        flag,
                        format!(
                            "class {c} is a {} (L = {:.6e}); expected a minimum",
                            class.kind, class.loss
                        ),
                    ));
                }
                if *k >= class.copies_found.max(1) {
                    return Err(Error::spec(
                        flag,
                        format!(
                            "class {c} has {} copies found by the walkers; expected a copy from 0 to {}",
                            class.copies_found,
                            class.copies_found.saturating_sub(1)
                        ),
                    ));
                }
                let copies = labels.copies.entry(*c).or_insert_with(|| {
                    (0..class.copies_found)
                        .map(|k| copy_point(w, run_labels, class, k))
                        .collect()
                });
                let theta = copies
                    .get(*k)
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| class.point.clone());
                Ok(analyse(model, data, &theta))
            }
        }
    };
    let start = resolve("--from", &from, &mut labels)?;
    let targets: Vec<Vec<f64>> = match &to {
        Some(end) => vec![resolve("--to", end, &mut labels)?.theta],
        None => {
            let flag = if args.all_copies {
                "--all-copies"
            } else {
                "--generators"
            };
            if group_order(model) > LISTED_ORDER {
                return Err(Error::spec(
                    flag,
                    format!("the group of {} has {} elements, more than the {LISTED_ORDER} this lists; connect chosen copies with --to", model.widths_string(), group_order(model)),
                )
                .into());
            }
            let images: Vec<GroupElement> = if args.all_copies {
                elements(model)
            } else {
                generators(model)
            };
            let mut out: Vec<Vec<f64>> = Vec::new();
            for g in images {
                let y = g.apply(model, &start.theta);
                let known = same(model, (&y, start.loss), (&start.theta, start.loss))
                    || out
                        .iter()
                        .any(|x| same(model, (x, start.loss), (&y, start.loss)));
                if !known {
                    out.push(y);
                }
            }
            if out.is_empty() {
                return Err(Error::spec(
                    flag,
                    "--from is fixed by every element asked for; it has no other copies",
                )
                .into());
            }
            out
        }
    };
    let mut backend = open_backend(args.backend, args.adapter.as_deref(), args.quiet)?;
    let info = backend.info();
    let dir = RunDir::create(args.out.as_deref(), "connect", args.force).map_err(flagged)?;
    if !args.quiet {
        eprintln!(
            "connect: {} target{} from L = {:.6e}, strings of {} images on the {} backend",
            targets.len(),
            if targets.len() == 1 { "" } else { "s" },
            start.loss,
            args.images,
            info.backend
        );
    }
    let settings = SearchSettings {
        band: BandSettings {
            images: args.images,
            max_steps: args.steps,
            tol: 1e-4,
            ..BandSettings::default()
        },
        max_rounds: args.rounds,
    };
    let t = Instant::now();
    let found = connect_on(
        backend.as_mut(),
        model,
        data,
        &start.theta,
        &targets,
        &settings,
    )?;
    let search_s = t.elapsed().as_secs_f64();
    let spec = ConnectSpec {
        run: args.run.clone(),
        problem: request,
        from: args.from.clone(),
        to: args.to.clone(),
        all_copies: args.all_copies,
        generators: args.generators,
        images: args.images,
        steps: args.steps,
        rounds: args.rounds,
        backend: args.backend,
    };
    let file = write_run(&dir, spec, model, data, &found, &mut labels, info, search_s)
        .context("writing the connection")?;
    let connected = found.chains.iter().filter(|c| c.is_some()).count();
    let out = dir.finish()?;
    if !args.quiet {
        print!("{}", file.table);
        println!(
            "{connected} of {} connected with {} strings in {} rounds ({search_s:.2} s); {}",
            targets.len(),
            found.strings,
            found.rounds,
            out.display()
        );
    }
    Ok(())
}

/// Writes a connection's run directory: transition_states.json, paths, pictures, the data and
/// run.json. `labels` names the minima (a walk's classes, when the ends came from one).
#[expect(
    clippy::too_many_arguments,
    reason = "one flat call per run directory keeps call sites readable"
)]
fn write_run(
    dir: &RunDir,
    spec: ConnectSpec,
    model: &Model,
    data: &Dataset,
    found: &Search,
    labels: &mut Labels<'_>,
    info: BackendInfo,
    search_s: f64,
) -> Result<Written> {
    let t = Instant::now();
    let group = Group::new(model);
    let written = write_outputs(dir, model, data, found, &group, labels)?;
    let mut arrays: BTreeMap<String, ArrayRecord> = write_data(dir, data)?.into_iter().collect();
    arrays.extend(written.arrays.clone());
    let record = ConnectRecord {
        format: FORMAT,
        landscape_version: record::version(),
        command: "connect".into(),
        complete: true,
        spec,
        algorithm: ALGORITHM.into(),
        loss_definition: LOSS_DEFINITION.into(),
        parameters: model.parameter_names(),
        backend: info,
        timings: ConnectTimings {
            search_s,
            write_s: t.elapsed().as_secs_f64(),
        },
        arrays,
        connected: found.chains.iter().filter(|c| c.is_some()).count(),
        targets: found.chains.len(),
    };
    write_json(&dir.file("run.json"), &record)?;
    Ok(written)
}

/// Connects the minimum `start` of `problem` to each of `targets` on `backend` and writes the run
/// into `dir` (the demo's step): the search, and what transition_states.json holds.
pub fn connect_into(
    dir: &Path,
    backend: &mut dyn Backend,
    choice: BackendChoice,
    request: ProblemRequest,
    problem: &crate::run::Problem,
    start: &[f64],
    targets: &[Vec<f64>],
) -> Result<(Search, TransitionStatesFile)> {
    let model = &problem.model;
    let data = problem.dataset();
    let settings = SearchSettings {
        band: BandSettings {
            max_steps: 500,
            tol: 1e-4,
            ..BandSettings::default()
        },
        ..SearchSettings::default()
    };
    let t = Instant::now();
    let found = connect_on(backend, model, data, start, targets, &settings)?;
    let search_s = t.elapsed().as_secs_f64();
    let out = RunDir::create(Some(dir), "connect", false)?;
    let spec = ConnectSpec {
        run: None,
        problem: request,
        from: "(the demo's point)".into(),
        to: Some("(its copies)".into()),
        all_copies: false,
        generators: false,
        images: settings.band.images,
        steps: settings.band.max_steps,
        rounds: settings.max_rounds,
        backend: choice,
    };
    let mut labels = Labels {
        model,
        group: Group::new(model),
        classes: Vec::new(),
        copies: BTreeMap::new(),
        next: 0,
    };
    let written = write_run(
        &out,
        spec,
        model,
        data,
        &found,
        &mut labels,
        backend.info(),
        search_s,
    )?;
    out.finish()?;
    Ok((found, written.file))
}

/// The search with the strings evaluated on `backend`.
pub fn connect_on(
    backend: &mut dyn Backend,
    model: &Model,
    data: &Dataset,
    start: &[f64],
    targets: &[Vec<f64>],
    settings: &SearchSettings,
) -> Result<Search> {
    let mut failure: Option<Error> = None;
    let mut grads = |points: &[f64]| -> Vec<f64> {
        if failure.is_some() {
            return vec![0.0; points.len()];
        }
        match backend.evaluate_points(model, data, points, true) {
            Ok(e) => e
                .grad
                .map(|g| g.into_iter().map(f64::from).collect())
                .unwrap_or_else(|| vec![0.0; points.len()]),
            Err(e) => {
                failure = Some(e);
                vec![0.0; points.len()]
            }
        }
    };
    let found = search(model, data, start, targets, settings, &mut grads);
    match failure {
        Some(e) => Err(e),
        None => Ok(found),
    }
}

/// What `write_outputs` wrote.
pub struct Written {
    /// The arrays, for run.json.
    pub arrays: BTreeMap<String, ArrayRecord>,
    /// The printed table.
    pub table: String,
    /// transition_states.json.
    pub file: TransitionStatesFile,
}

/// L along a path, in float64.
fn losses(model: &Model, data: &Dataset, path: &[Vec<f64>]) -> Vec<f64> {
    path.par_iter()
        .map(|t| reference::loss(model, data, t))
        .collect()
}

/// Cumulative Euclidean arc length.
fn arc(path: &[Vec<f64>]) -> Vec<f64> {
    let mut s = vec![0.0];
    for w in path.windows(2) {
        let d: f64 = w[0].iter().zip(&w[1]).map(|(a, b)| (a - b) * (a - b)).sum();
        s.push(s[s.len() - 1] + d.sqrt());
    }
    s
}

fn write_outputs(
    dir: &RunDir,
    model: &Model,
    data: &Dataset,
    found: &Search,
    group: &Group<'_>,
    labels: &mut Labels<'_>,
) -> Result<Written> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e: std::io::Error| Error::Io { path, source: e }
    };
    let minima: Vec<MinimumRecord> = found
        .minima
        .iter()
        .enumerate()
        .map(|(id, m)| {
            let (class, copy, element) = labels.label(m);
            MinimumRecord {
                id,
                class,
                copy,
                element,
                kind: m.kind,
                loss: m.loss,
                grad_norm: m.grad_norm,
                nullity: m.nullity,
                copies: (m.kind == Kind::Minimum).then(|| {
                    let tol = 1e-6 * m.theta.iter().fold(1.0f64, |a, v| a.max(v.abs()));
                    group_order(model) / stabilizer_order(model, &m.theta, tol)
                }),
                point: m.theta.clone(),
            }
        })
        .collect();
    let end_of = |k: usize| End {
        minimum: k,
        class: minima[k].class,
        copy: minima[k].copy,
    };
    let transition_states: Vec<TransitionRecord> = found
        .transition_states
        .iter()
        .enumerate()
        .map(|(id, t)| TransitionRecord {
            id,
            loss: t.point.loss,
            grad_norm: t.point.grad_norm,
            index: t.point.index,
            nullity: t.point.nullity,
            eigenvalues: t.point.eigenvalues.clone(),
            point: t.point.theta.clone(),
            joins: [end_of(t.joins.0), end_of(t.joins.1)],
            barrier: [
                t.point.loss - found.minima[t.joins.0].loss,
                t.point.loss - found.minima[t.joins.1].loss,
            ],
            stabilizer_order: t.stabilizer_order,
        })
        .collect();
    let mut arrays = BTreeMap::new();
    let mut connections = Vec::new();
    let several = found.chains.len() > 1;
    if several {
        std::fs::create_dir_all(dir.file("paths")).map_err(io(&dir.file("paths")))?;
    }
    let mut first_drawn = false;
    let mut table = String::from("target  class:copy  connected  crossings  barrier\n");
    for (j, chain) in found.chains.iter().enumerate() {
        let target = &found.minima[j + 1];
        let symmetry = group
            .maps(&found.minima[0].theta, &target.theta)
            .into_iter()
            .next()
            .map(|g| element_name(&g));
        let mut record = ConnectionRecord {
            to: end_of(j + 1),
            symmetry,
            connected: chain.is_some(),
            crossings: Vec::new(),
            minima_loss: Vec::new(),
            barrier: None,
            path: None,
        };
        if let (Some(chain), Some(points)) = (chain, found.path(model, j)) {
            let (path, marks, lows) = (points.images, points.transition_states, points.minima);
            record.crossings = chain
                .links
                .iter()
                .map(|l| {
                    let t = &found.transition_states[l.ts];
                    Crossing {
                        transition_state: l.ts,
                        element: element_name(&l.element),
                        forward: l.forward,
                        loss: t.point.loss,
                        point: l.element.apply(model, &t.point.theta),
                    }
                })
                .collect();
            record.minima_loss = chain.loss.clone();
            record.barrier = record
                .crossings
                .iter()
                .map(|c| c.loss)
                .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
                .map(|top| top - found.minima[0].loss);
            let loss = losses(model, data, &path);
            let (pf, lf) = if several {
                (
                    format!("paths/path_{}.npy", j),
                    format!("paths/path_{}_loss.npy", j),
                )
            } else {
                ("path.npy".to_string(), "path_loss.npy".to_string())
            };
            let flat: Vec<f64> = path.iter().flatten().copied().collect();
            npy::write(
                &dir.file(&pf),
                &[path.len(), model.parameter_count()],
                &flat,
            )?;
            npy::write(&dir.file(&lf), &[path.len()], &loss)?;
            let key = |f: &str| f.trim_end_matches(".npy").replace('/', "_");
            arrays.insert(
                key(&pf),
                ArrayRecord::new(&pf, &[path.len(), model.parameter_count()], "float64"),
            );
            arrays.insert(key(&lf), ArrayRecord::new(&lf, &[path.len()], "float64"));
            if !first_drawn {
                first_drawn = true;
                if several {
                    // The first connection's path also as path.npy, as with one target.
                    npy::write(
                        &dir.file("path.npy"),
                        &[path.len(), model.parameter_count()],
                        &flat,
                    )?;
                    npy::write(&dir.file("path_loss.npy"), &[path.len()], &loss)?;
                    arrays.insert(
                        "path".into(),
                        ArrayRecord::new(
                            "path.npy",
                            &[path.len(), model.parameter_count()],
                            "float64",
                        ),
                    );
                    arrays.insert(
                        "path_loss".into(),
                        ArrayRecord::new("path_loss.npy", &[path.len()], "float64"),
                    );
                }
                let profile = dir.file("profile.png");
                draw_profile(&profile, &path, &loss, &marks, &lows, record.barrier)?;
                plane(dir, model, data, &path, &marks, &lows, &loss)?;
            }
            if several && found.chains.len() <= MAX_PROFILES {
                let profile = dir.file(&format!("paths/profile_{j}.png"));
                draw_profile(&profile, &path, &loss, &marks, &lows, record.barrier)?;
            }
            record.path = Some([pf, lf]);
        }
        table.push_str(&format!(
            "{:>6}  {:>10}  {:>9}  {:>9}  {}\n",
            j + 1,
            format!(
                "{}:{}",
                record.to.class,
                record.to.copy.map_or("-".to_string(), |c| c.to_string())
            ),
            if record.connected { "yes" } else { "no" },
            record.crossings.len(),
            record
                .barrier
                .map_or("-".to_string(), |b| format!("{b:.6e}"))
        ));
        connections.push(record);
    }
    let file = TransitionStatesFile {
        format: FORMAT,
        loss_definition: LOSS_DEFINITION.into(),
        minima,
        transition_states,
        connections,
        strings: found.strings,
        rounds: found.rounds,
    };
    write_json(&dir.file("transition_states.json"), &file)?;
    Ok(Written {
        arrays,
        table,
        file,
    })
}

/// Most targets for which each path's profile is drawn (paths/profile_J.png).
const MAX_PROFILES: usize = 8;

/// A profile: L along a path against arc length, minima and transition states marked.
fn draw_profile(
    file: &Path,
    path: &[Vec<f64>],
    loss: &[f64],
    marks: &[usize],
    lows: &[usize],
    barrier: Option<f64>,
) -> Result<()> {
    let x = AxisInfo {
        label: "arc length along the path, ‖Δθ‖₂".into(),
        values: arc(path),
    };
    let title = format!(
        "L along the path: {} transition state{}, barrier {:.4e}",
        marks.len(),
        if marks.len() == 1 { "" } else { "s" },
        barrier.unwrap_or(0.0)
    );
    plot::curve_png(file, &x, loss, "L", &title, false, lows, marks).map_err(|e| Error::Io {
        path: file.to_path_buf(),
        source: e,
    })
}

/// plane.png: L in the plane through the path's two ends and its highest transition state, the
/// path projected onto it.
fn plane(
    dir: &RunDir,
    model: &Model,
    data: &Dataset,
    path: &[Vec<f64>],
    marks: &[usize],
    lows: &[usize],
    loss: &[f64],
) -> Result<()> {
    let a = &path[0];
    let b = &path[path.len() - 1];
    let sub = |x: &[f64], y: &[f64]| -> Vec<f64> { x.iter().zip(y).map(|(u, v)| u - v).collect() };
    let dot = |x: &[f64], y: &[f64]| -> f64 { x.iter().zip(y).map(|(u, v)| u * v).sum() };
    let e1 = sub(b, a);
    let n1 = dot(&e1, &e1).sqrt();
    if n1 < 1e-12 {
        return Ok(());
    }
    let e1: Vec<f64> = e1.iter().map(|v| v / n1).collect();
    // Toward the highest transition state, or the point of the path farthest off the line.
    let top = marks
        .iter()
        .copied()
        .max_by(|&i, &j| loss[i].total_cmp(&loss[j]))
        .unwrap_or(path.len() / 2);
    let off = |x: &[f64]| {
        let r = sub(x, a);
        let along = dot(&r, &e1);
        r.iter()
            .zip(&e1)
            .map(|(u, v)| u - along * v)
            .collect::<Vec<f64>>()
    };
    let mut e2 = off(&path[top]);
    if dot(&e2, &e2).sqrt() < 1e-9 * n1 {
        e2 = path
            .iter()
            .map(|x| off(x))
            .max_by(|u, v| dot(u, u).total_cmp(&dot(v, v)))
            .unwrap_or_default();
    }
    if dot(&e2, &e2).sqrt() < 1e-9 * n1 {
        // A straight path: any direction across it (in two dimensions, the other axis).
        let q = (0..a.len())
            .min_by(|&i, &j| e1[i].abs().total_cmp(&e1[j].abs()))
            .unwrap_or(0);
        let mut unit = vec![0.0; a.len()];
        unit[q] = 1.0;
        let along = dot(&unit, &e1);
        e2 = unit.iter().zip(&e1).map(|(u, v)| u - along * v).collect();
    }
    let n2 = dot(&e2, &e2).sqrt();
    if n2 < 1e-12 {
        return Ok(());
    }
    let e2: Vec<f64> = e2.iter().map(|v| v / n2).collect();
    let uv: Vec<(f64, f64)> = path
        .iter()
        .map(|x| {
            let r = sub(x, a);
            (dot(&r, &e1), dot(&r, &e2))
        })
        .collect();
    let span = |k: usize| {
        let vals = uv.iter().map(|q| if k == 0 { q.0 } else { q.1 });
        let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
        let w = (hi - lo).max(0.25 * n1);
        let mid = 0.5 * (lo + hi);
        (mid - 0.65 * w, mid + 0.65 * w)
    };
    const N: usize = 161;
    let axis = |(lo, hi): (f64, f64), label: &str| AxisInfo {
        label: label.into(),
        values: (0..N)
            .map(|k| lo + (hi - lo) * k as f64 / (N - 1) as f64)
            .collect(),
    };
    let x = axis(span(0), "along B − A");
    let y = axis(span(1), "toward the transition state");
    let values: Vec<f64> = (0..N * N)
        .into_par_iter()
        .map(|k| {
            let (i, j) = (k / N, k % N);
            let theta: Vec<f64> = (0..a.len())
                .map(|q| a[q] + x.values[i] * e1[q] + y.values[j] * e2[q])
                .collect();
            reference::loss(model, data, &theta)
        })
        .collect();
    let overlay = Overlay {
        curve: uv.clone(),
        discs: lows.iter().map(|&i| uv[i]).collect(),
        rings: marks.iter().map(|&i| uv[i]).collect(),
    };
    let file = dir.file("plane.png");
    plot::heatmap_overlay_png(
        &file,
        &x,
        &y,
        &values,
        "L",
        "L in the plane through A, B and the highest transition state (path projected)",
        true,
        &[],
        Some(&overlay),
    )
    .map_err(|e| Error::Io {
        path: file,
        source: e,
    })
}
