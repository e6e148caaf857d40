//! `landscape graph`: the disconnectivity graph of the classes and transition states of one or
//! more runs, or of plain arrays.

use super::common::flagged;
use super::connect::TransitionStatesFile;
use crate::analysis::graph::{Edge, Graph, Leaf, NodeRef, build};
use crate::analysis::stationary::Kind;
use crate::error::{Error, Result};
use crate::npy;
use crate::output::plot::{self, TreeNode};
use crate::output::run_dir::RunDir;
use crate::record::{self, FORMAT, write_json};
use clap::Args;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Flags of `landscape graph`.
#[derive(Debug, Clone, Args)]
pub struct GraphArgs {
    /// Run directories: walks or maps (their classes of minima) and connections (their minima
    /// and transition states).
    runs: Vec<PathBuf>,
    /// Minima as a plain array: their losses, shape (n,).
    #[arg(long)]
    minima: Option<PathBuf>,
    /// With --minima: each one's copy count, shape (n,).
    #[arg(long, requires = "minima")]
    copies: Option<PathBuf>,
    /// With --minima: transition states, shape (k, 3), rows (loss, i, j) joining minima i and j.
    #[arg(long = "transition-states", requires = "minima")]
    transition_states: Option<PathBuf>,
    /// Output directory (default runs/graph-<time>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing run directory.
    #[arg(long)]
    force: bool,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

/// graph.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphFile {
    /// [`FORMAT`].
    pub format: u32,
    /// The graph: leaves (minima), edges (transition states), junctions, roots, layout.
    pub graph: Graph,
    /// What is missing, when something is.
    pub note: Option<String>,
}

/// run.json of `graph`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphRecord {
    /// [`FORMAT`].
    pub format: u32,
    /// The version of landscape that wrote it.
    pub landscape_version: String,
    /// Always `graph`.
    pub command: String,
    /// Always true.
    pub complete: bool,
    /// The run directories read.
    pub runs: Vec<PathBuf>,
    /// --minima, --copies, --transition-states.
    pub arrays: Vec<PathBuf>,
    /// Minima, transition states and junctions drawn.
    pub leaves: usize,
    /// Transition states.
    pub edges: usize,
}

/// Collects leaves (merging minima of equal loss) and edges.
#[derive(Default)]
struct Collect {
    leaves: Vec<Leaf>,
    edges: Vec<Edge>,
}

impl Collect {
    fn leaf(&mut self, loss: f64, copies: Option<f64>, label: String) -> usize {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 + 1e-7 * a.abs().max(b.abs());
        if let Some(k) = self.leaves.iter().position(|l| close(l.loss, loss)) {
            if self.leaves[k].copies.is_none() {
                self.leaves[k].copies = copies;
            }
            return k;
        }
        self.leaves.push(Leaf {
            loss,
            copies,
            label,
        });
        self.leaves.len() - 1
    }
}

fn read_run(dir: &Path, into: &mut Collect) -> Result<()> {
    let name = dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let ts = dir.join("transition_states.json");
    if ts.exists() {
        let text = std::fs::read_to_string(&ts)
            .map_err(|e| Error::file(&ts, format!("cannot be read ({e})")))?;
        let file: TransitionStatesFile = serde_json::from_str(&text).map_err(|e| {
            Error::file(
                &ts,
                format!("is not a transition_states.json of format {FORMAT} ({e})"),
            )
        })?;
        let ids: Vec<usize> = file
            .minima
            .iter()
            .map(|m| into.leaf(m.loss, m.copies, format!("{name}: minimum {}", m.id)))
            .collect();
        for t in &file.transition_states {
            let (i, j) = (t.joins[0].minimum, t.joins[1].minimum);
            if i >= ids.len() || j >= ids.len() {
                return Err(Error::file(
                    &ts,
                    format!(
                        "transition state {} joins minimum {} of {}",
                        t.id,
                        i.max(j),
                        ids.len()
                    ),
                ));
            }
            into.edges.push(Edge {
                loss: t.loss,
                joins: (ids[i], ids[j]),
            });
        }
        return Ok(());
    }
    let basins = dir.join("basins.json");
    if basins.exists() {
        let record = record::BasinsRecord::read(&basins)?;
        for c in record
            .classes
            .iter()
            .filter(|c| matches!(c.kind, Kind::Minimum | Kind::DegenerateMinimum))
        {
            into.leaf(c.loss, c.copies_expected, format!("{name}: class {}", c.id));
        }
        return Ok(());
    }
    Err(Error::spec(
        "RUN",
        format!(
            "{} holds neither transition_states.json (from `connect`) nor basins.json (from `walk`, `map` or `basins`)",
            dir.display()
        ),
    ))
}

fn read_arrays(args: &GraphArgs, into: &mut Collect) -> Result<()> {
    let Some(path) = &args.minima else {
        return Ok(());
    };
    let (loss, shape) = npy::read_f64(path)?;
    if shape.len() != 1 || loss.is_empty() {
        return Err(Error::file(
            path,
            format!("shape {shape:?}; expected (n,) losses of minima"),
        ));
    }
    if let Some(v) = loss.iter().find(|v| !v.is_finite()) {
        return Err(Error::file(
            path,
            format!("holds {v}; expected finite losses"),
        ));
    }
    let copies = match &args.copies {
        Some(c) => {
            let (v, s) = npy::read_f64(c)?;
            if s != shape {
                return Err(Error::file(
                    c,
                    format!("shape {s:?}; expected {shape:?} as --minima"),
                ));
            }
            if let Some(bad) = v.iter().find(|v| !(v.is_finite() && **v >= 1.0)) {
                return Err(Error::file(
                    c,
                    format!("holds {bad}; expected copy counts ≥ 1"),
                ));
            }
            v.into_iter().map(Some).collect()
        }
        None => vec![None; loss.len()],
    };
    let base = into.leaves.len();
    // Each row is a leaf of its own (equal losses in an array are distinct minima).
    for (k, (&l, c)) in loss.iter().zip(copies).enumerate() {
        into.leaves.push(Leaf {
            loss: l,
            copies: c,
            label: format!("minimum {k}"),
        });
    }
    if let Some(t) = &args.transition_states {
        let (v, s) = npy::read_f64(t)?;
        if s.len() != 2 || s[1] != 3 {
            return Err(Error::file(
                t,
                format!("shape {s:?}; expected (k, 3) rows (loss, i, j)"),
            ));
        }
        for row in v.chunks(3) {
            let n = loss.len();
            let index =
                |x: f64| (x >= 0.0 && x.fract() == 0.0 && x < n as f64).then_some(x as usize);
            let (Some(i), Some(j)) = (index(row[1]), index(row[2])) else {
                return Err(Error::file(
                    t,
                    format!(
                        "row ({}, {}, {}) names no minimum; expected i and j from 0 to {}",
                        row[0],
                        row[1],
                        row[2],
                        n - 1
                    ),
                ));
            };
            if !row[0].is_finite() {
                return Err(Error::file(
                    t,
                    format!("holds loss {}; expected finite losses", row[0]),
                ));
            }
            into.edges.push(Edge {
                loss: row[0],
                joins: (base + i, base + j),
            });
        }
    }
    Ok(())
}

/// Runs `landscape graph`.
pub fn run(args: GraphArgs) -> anyhow::Result<()> {
    if args.runs.is_empty() && args.minima.is_none() {
        return Err(Error::spec(
            "RUN",
            "missing; expected run directories or --minima FILE.npy",
        )
        .into());
    }
    let mut c = Collect::default();
    for dir in &args.runs {
        read_run(dir, &mut c)?;
    }
    read_arrays(&args, &mut c)?;
    if c.leaves.is_empty() {
        return Err(Error::spec(
            "RUN",
            "the runs hold no minima; expected classes of kind minimum or a connection",
        )
        .into());
    }
    // A transition state below one of the minima it joins is not one: refuse the input.
    for e in &c.edges {
        let (i, j) = e.joins;
        let low = c.leaves[i].loss.max(c.leaves[j].loss);
        if e.loss < low - 1e-12 - 1e-9 * low.abs() {
            return Err(Error::spec(
                "RUN",
                format!("a transition state at L = {:e} lies below a minimum it joins (L = {low:e}); expected it above both", e.loss),
            )
            .into());
        }
    }
    let dir = RunDir::create(args.out.as_deref(), "graph", args.force).map_err(flagged)?;
    let mut arrays = Vec::new();
    arrays.extend(args.minima.clone());
    arrays.extend(args.copies.clone());
    arrays.extend(args.transition_states.clone());
    let (graph, note) = write(&dir, c, args.runs.clone(), arrays)?;
    let out = dir.finish()?;
    if !args.quiet {
        if let Some(n) = &note {
            eprintln!("note: {n}");
        }
        println!(
            "{} minima, {} transition states, {} junctions; {}",
            graph.leaves.len(),
            graph.edges.len(),
            graph.junctions.len(),
            out.display()
        );
    }
    Ok(())
}

/// Builds the graph of what `c` collected and writes graph.png, graph.json and run.json into
/// `dir`; the graph and the note on what is missing.
fn write(
    dir: &RunDir,
    c: Collect,
    runs: Vec<PathBuf>,
    arrays: Vec<PathBuf>,
) -> Result<(Graph, Option<String>)> {
    let note = c.edges.is_empty().then(|| {
        "no transition states given: the minima stand apart (join them with `landscape connect`)"
            .to_string()
    });
    let graph = build(c.leaves, c.edges);
    draw(&dir.file("graph.png"), &graph, note.as_deref())?;
    write_json(
        &dir.file("graph.json"),
        &GraphFile {
            format: FORMAT,
            graph: graph.clone(),
            note: note.clone(),
        },
    )?;
    write_json(
        &dir.file("run.json"),
        &GraphRecord {
            format: FORMAT,
            landscape_version: record::version(),
            command: "graph".into(),
            complete: true,
            runs,
            arrays,
            leaves: graph.leaves.len(),
            edges: graph.edges.len(),
        },
    )?;
    Ok((graph, note))
}

/// The graph of the run directories `runs`, written into `out` (the demo's step).
pub fn graph_into(out: &Path, runs: &[PathBuf]) -> Result<Graph> {
    let mut c = Collect::default();
    for dir in runs {
        read_run(dir, &mut c)?;
    }
    let dir = RunDir::create(Some(out), "graph", false)?;
    let (graph, _) = write(&dir, c, runs.to_vec(), Vec::new())?;
    dir.finish()?;
    Ok(graph)
}

fn copies_text(c: Option<f64>) -> String {
    match c {
        Some(c) if c < 1e6 => format!("×{c:.0}"),
        Some(c) => format!("×{c:.2e}"),
        None => "×?".into(),
    }
}

fn draw(path: &Path, g: &Graph, note: Option<&str>) -> Result<()> {
    // Parent levels, and the global minimum's branch.
    let nl = g.leaves.len();
    let mut parent_of: Vec<Option<usize>> = vec![None; nl + g.junctions.len()];
    let slot = |r: NodeRef| match r {
        NodeRef::Leaf(i) => i,
        NodeRef::Junction(q) => nl + q,
    };
    for (q, j) in g.junctions.iter().enumerate() {
        for &c in &j.children {
            parent_of[slot(c)] = Some(q);
        }
    }
    let lowest = (0..nl)
        .min_by(|&a, &b| g.leaves[a].loss.total_cmp(&g.leaves[b].loss))
        .unwrap_or(0);
    let mut highlight = vec![false; nl + g.junctions.len()];
    let mut at = Some(lowest);
    highlight[lowest] = true;
    while let Some(k) = at {
        at = parent_of[k].map(|q| {
            highlight[nl + q] = true;
            nl + q
        });
    }
    let few = nl <= 12;
    let mut nodes: Vec<TreeNode> = (0..nl)
        .map(|i| TreeNode {
            level: g.leaves[i].loss,
            x: g.leaf_x[i],
            parent_level: parent_of[i].map(|q| g.junctions[q].level),
            span: None,
            label: Some(if few {
                format!(
                    "{}\n{:.3e}",
                    copies_text(g.leaves[i].copies),
                    g.leaves[i].loss
                )
            } else {
                copies_text(g.leaves[i].copies)
            }),
            highlight: highlight[i],
        })
        .collect();
    for (q, j) in g.junctions.iter().enumerate() {
        let xs: Vec<f64> = j
            .children
            .iter()
            .map(|&c| match c {
                NodeRef::Leaf(i) => g.leaf_x[i],
                NodeRef::Junction(r) => g.junctions[r].x,
            })
            .collect();
        let (lo, hi) = xs
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
                (l.min(v), h.max(v))
            });
        nodes.push(TreeNode {
            level: j.level,
            x: j.x,
            parent_level: parent_of[nl + q].map(|p| g.junctions[p].level),
            span: Some((lo, hi)),
            label: None,
            highlight: highlight[nl + q],
        });
    }
    let high = g
        .junctions
        .iter()
        .map(|j| j.level)
        .chain(g.leaves.iter().map(|l| l.loss))
        .fold(f64::NEG_INFINITY, f64::max);
    let low = g
        .leaves
        .iter()
        .map(|l| l.loss)
        .fold(f64::INFINITY, f64::min);
    let top = high + 0.12 * (high - low).max(high.abs() * 0.1).max(1e-12);
    let mut notes: Vec<String> = Vec::new();
    if let Some(n) = note {
        notes.push(n.to_string());
    }
    let own: Vec<String> = g
        .self_barriers
        .iter()
        .enumerate()
        .filter_map(|(i, b)| {
            b.map(|b| {
                format!(
                    "copies of the minimum at {:.3e} joined at L = {b:.4e}",
                    g.leaves[i].loss
                )
            })
        })
        .collect();
    notes.extend(own.into_iter().take(3));
    plot::tree_png(
        path,
        &nodes,
        top,
        "L",
        &format!(
            "Disconnectivity graph: {} minima, {} transition states (leaves: copies under the symmetry group)",
            g.leaves.len(),
            g.edges.len()
        ),
        &notes,
    )
    .map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })
}
