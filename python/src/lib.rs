//! The compiled part of the Python module `landscape` (`landscape._landscape`): a thin layer over
//! the library's entry points (`landscape::run`).
//!
//! A call names a command and its flags as the command line takes them; the command line's own
//! parser turns them into the command's request, so that defaults, checks and messages are the
//! CLI's. The run is computed with the Python interpreter released, and the result keeps the
//! library's values: its arrays reach numpy as views of them (no copy), under the names of the
//! run directory's files, and `save` writes that directory with the CLI's own writers.

use clap::Parser;
use landscape::analysis::basins::Report;
use landscape::backend::{BackendInfo, WalkOutput};
use landscape::cli::Cli;
use landscape::output::basins::continued_codes;
use landscape::output::run_dir::RunDir;
use landscape::output::score::map_scores;
use landscape::run::{self, GridSpec, MapSpec, Request, WalkSpec};
use landscape::spec::data::Dataset;
use numpy::ndarray::{ArrayView, IxDyn};
use numpy::{Element, PyArray, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;
use std::time::Instant;

/// What a run computed, with the specification it was computed from.
enum Computed {
    Grid {
        spec: Box<GridSpec>,
        grid: run::Grid,
    },
    Walk {
        spec: Box<WalkSpec>,
        walk: run::Walk,
        basins: Option<(Report, f64)>,
    },
    Map {
        spec: Box<MapSpec>,
        map: run::Map,
    },
}

/// One computed run: `grid`, `walk` or `map`.
#[pyclass(frozen, module = "landscape._landscape", name = "Run")]
struct Run {
    request: Request,
    computed: Computed,
    backend: BackendInfo,
    /// The status codes as status.npy holds them (uint8; the library keeps them as u32).
    status: Vec<u8>,
    /// continued.npy, where the ends were analysed.
    continued: Vec<u8>,
    /// score.npy, for a map coloured by it.
    score: Option<Vec<f32>>,
}

/// A library error as a Python exception: `ValueError` for bad input (a flag's value, a file,
/// a setting), `RuntimeError` for the rest; the message is the library's one line.
fn py_error(e: landscape::Error) -> PyErr {
    use landscape::Error as E;
    match e {
        E::Spec { .. } | E::File { .. } | E::Setting { .. } => PyValueError::new_err(e.to_string()),
        other => PyRuntimeError::new_err(other.to_string()),
    }
}

/// An error of the command line's writers.
fn write_error(e: anyhow::Error) -> PyErr {
    PyRuntimeError::new_err(format!("{e:#}"))
}

/// The request of `command` with `flags`, parsed as the command line parses them.
fn parse(command: &str, flags: &[String]) -> PyResult<Request> {
    let argv = ["landscape", command]
        .into_iter()
        .map(str::to_string)
        .chain(flags.iter().cloned());
    let cli = Cli::try_parse_from(argv).map_err(|e| {
        // clap's first line, without its "error: " and usage.
        let text = e.to_string();
        let line = text.lines().next().unwrap_or("invalid arguments");
        PyValueError::new_err(line.trim_start_matches("error: ").to_string())
    })?;
    use landscape::cli::Command as C;
    let request = match cli.command {
        C::Grid(a) => a.request(),
        C::Walk(a) => a.request(),
        C::Map(a) => a.request(),
        _ => {
            return Err(PyValueError::new_err(format!(
                "{command}: the Python module runs grid, walk and map"
            )));
        }
    };
    request.map_err(py_error)
}

/// The problem of a request, to give it samples as arrays.
fn problem_of(request: &mut Request) -> &mut run::ProblemRequest {
    match request {
        Request::Grid(r) => &mut r.problem,
        Request::Walk(r) => &mut r.problem,
        Request::Map(r) => &mut r.problem,
    }
}

/// Computes a run: `command` (`grid`, `walk` or `map`) with the command line's `flags`, on the
/// samples `x` (N × inputs) and `y` (N × outputs) when given (in place of `--data`).
#[pyfunction]
#[pyo3(signature = (command, flags, x=None, y=None))]
fn compute(
    py: Python<'_>,
    command: &str,
    flags: Vec<String>,
    x: Option<PyReadonlyArray2<'_, f64>>,
    y: Option<PyReadonlyArray2<'_, f64>>,
) -> PyResult<Run> {
    let mut request = parse(command, &flags)?;
    match (x, y) {
        (Some(x), Some(y)) => {
            let (n, inputs) = (x.shape()[0], x.shape()[1]);
            let (m, outputs) = (y.shape()[0], y.shape()[1]);
            if n != m {
                return Err(PyValueError::new_err(format!(
                    "x has {n} samples and y {m}; expected one target row a sample"
                )));
            }
            let data = Dataset::new(
                inputs,
                outputs,
                x.as_array().iter().copied().collect(),
                y.as_array().iter().copied().collect(),
            )
            .map_err(py_error)?;
            let problem = problem_of(&mut request);
            problem.data = "arrays".to_string();
            problem.arrays = Some(data);
        }
        (None, None) => {}
        _ => return Err(PyValueError::new_err("x and y: give both, or neither")),
    }
    // The run goes on a thread of its own. This one waits for it, detached from the
    // interpreter but attached every 100 ms so that Python sees Ctrl-C, which asks the walk to
    // stop after its current block (a few seconds at most); Python then raises KeyboardInterrupt.
    landscape::interrupt::clear();
    let (tx, rx) = std::sync::mpsc::channel();
    // Shared with the detached closure, which must be Sync.
    let rx = std::sync::Mutex::new(rx);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let _ = tx.send(run_request(request));
        });
        let mut stopped: Option<PyErr> = None;
        loop {
            use std::sync::mpsc::RecvTimeoutError;
            let waited = py.detach(|| match rx.lock() {
                Ok(r) => r.recv_timeout(std::time::Duration::from_millis(100)),
                Err(_) => Err(RecvTimeoutError::Disconnected),
            });
            match waited {
                Ok(result) => {
                    landscape::interrupt::clear();
                    return match (stopped, result) {
                        (Some(e), _) => Err(e),
                        (None, Ok(Some(run))) => Ok(run),
                        (None, Ok(None)) => Err(pyo3::exceptions::PyKeyboardInterrupt::new_err(
                            "the walk was stopped",
                        )),
                        (None, Err(e)) => Err(py_error(e)),
                    };
                }
                Err(RecvTimeoutError::Timeout) => {
                    if stopped.is_none()
                        && let Err(e) = py.check_signals()
                    {
                        landscape::interrupt::request();
                        stopped = Some(e);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(PyRuntimeError::new_err(
                        "the run's thread ended without a result",
                    ));
                }
            }
        }
    })
}

/// Walks in blocks that stop once Ctrl-C asks them to (none: stopped).
fn stoppable() -> run::Control<'static> {
    run::Control {
        progress: None,
        checkpoint: None,
        stoppable: true,
    }
}

/// Validates and computes `request` on the backend it asks for; none where Ctrl-C stopped it.
fn run_request(request: Request) -> landscape::Result<Option<Run>> {
    let (choice, adapter) = match &request {
        Request::Grid(r) => (r.backend, r.adapter.clone()),
        Request::Walk(r) => (r.backend, r.adapter.clone()),
        Request::Map(r) => (r.backend, r.adapter.clone()),
    };
    if request.shard().is_some() {
        return Err(landscape::Error::spec(
            "shard",
            "the Python module computes whole runs; use the command line for shards",
        ));
    }
    let computed = match &request {
        Request::Grid(r) => {
            let spec = r.validate()?;
            let mut backend =
                landscape::cli::common::open_backend(choice, adapter.as_deref(), true)?;
            let grid = run::grid(backend.as_mut(), &spec)?;
            (
                Computed::Grid {
                    spec: Box::new(spec),
                    grid,
                },
                backend.info(),
            )
        }
        Request::Walk(r) => {
            let spec = r.validate()?;
            let mut backend =
                landscape::cli::common::open_backend(choice, adapter.as_deref(), true)?;
            let run::Walked::Complete(mut walk) =
                run::walk_with(backend.as_mut(), &spec, stoppable())?
            else {
                return Ok(None);
            };
            let finish = spec.finish.extend;
            run::extend(
                backend.as_mut(),
                &spec.problem,
                &mut walk,
                &spec.descent,
                finish,
                &|_| {},
            )?;
            let basins = r.basins.then(|| analyse(&spec, &walk.output));
            (
                Computed::Walk {
                    spec: Box::new(spec),
                    walk,
                    basins,
                },
                backend.info(),
            )
        }
        Request::Map(r) => {
            let spec = r.validate()?;
            let mut backend =
                landscape::cli::common::open_backend(choice, adapter.as_deref(), true)?;
            let run::Walked::Complete(mut walk) =
                run::map_walk_with(backend.as_mut(), &spec, stoppable())?
            else {
                return Ok(None);
            };
            let finish = spec.finish.extend;
            run::extend(
                backend.as_mut(),
                &spec.problem,
                &mut walk,
                &spec.descent,
                finish,
                &|_| {},
            )?;
            let t = Instant::now();
            let report = if spec.basins {
                let options = spec
                    .finish
                    .analysis(spec.problem.model.parameter_count(), &spec.descent);
                run::basins_observed(&spec.problem, &walk.output, &options, &|_| {})
            } else {
                run::unanalysed(walk.output.status.len())
            };
            let map = run::Map {
                walk,
                report,
                basins_s: t.elapsed().as_secs_f64(),
            };
            (
                Computed::Map {
                    spec: Box::new(spec),
                    map,
                },
                backend.info(),
            )
        }
    };
    let (computed, backend) = computed;
    Ok(Some(Run::new(request, computed, backend)))
}

/// The basin analysis of a walk, as `landscape walk` runs it, with the seconds it took.
fn analyse(spec: &WalkSpec, output: &WalkOutput) -> (Report, f64) {
    let t = Instant::now();
    let options = spec
        .finish
        .analysis(spec.problem.model.parameter_count(), &spec.descent);
    let report = run::basins_observed(&spec.problem, output, &options, &|_| {});
    (report, t.elapsed().as_secs_f64())
}

fn codes(output: &WalkOutput) -> Vec<u8> {
    output.status.iter().map(|&s| s as u8).collect()
}

/// A numpy array of `shape` viewing `data`, which `owner` keeps alive: no copy.
#[expect(
    unsafe_code,
    reason = "numpy views the run's own memory; the run is frozen, so it is never moved or freed while a view lives"
)]
fn view<'py, T: Element>(
    owner: &Bound<'py, Run>,
    data: &[T],
    shape: &[usize],
) -> PyResult<Bound<'py, PyArray<T, IxDyn>>> {
    let array = ArrayView::from_shape(IxDyn(shape), data)
        .map_err(|e| PyRuntimeError::new_err(format!("array shape {shape:?}: {e}")))?;
    // SAFETY: `data` lies in the frozen `Run` that `owner` holds and the view keeps alive; no
    // method of `Run` changes it.
    Ok(unsafe { PyArray::borrow_from_array(&array, owner.clone().into_any()) })
}

#[pymethods]
impl Run {
    /// The command that made this run: "grid", "walk" or "map".
    #[getter]
    fn command(&self) -> String {
        self.request.command().to_string()
    }

    /// The run's request as run.json's "spec" records it (a dict).
    #[getter]
    fn spec<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        json(py, &self.request)
    }

    /// The backend that computed it, as printed by the command line.
    #[getter]
    fn backend(&self) -> String {
        self.backend.to_string()
    }

    /// Seconds by phase: `walk` (or `evaluate` for a grid), `extend` and `basins` where run.
    #[getter]
    fn timings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        match &self.computed {
            Computed::Grid { grid, .. } => d.set_item("evaluate", grid.evaluate_s)?,
            Computed::Walk { walk, basins, .. } => {
                d.set_item("walk", walk.walk_s)?;
                if let Some(e) = &walk.extension {
                    d.set_item("extend", e.seconds)?;
                }
                if let Some((_, s)) = basins {
                    d.set_item("basins", *s)?;
                }
            }
            Computed::Map { map, .. } => {
                d.set_item("walk", map.walk.walk_s)?;
                if let Some(e) = &map.walk.extension {
                    d.set_item("extend", e.seconds)?;
                }
                d.set_item("basins", map.basins_s)?;
            }
        }
        Ok(d)
    }

    /// The basin analysis (basins.json's content, a dict), or None where the run has none.
    #[getter]
    fn basins<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let report = match &self.computed {
            Computed::Walk {
                basins: Some((r, _)),
                ..
            } => r,
            Computed::Map { spec, map } if spec.basins => &map.report,
            _ => return Ok(None),
        };
        json(py, report).map(Some)
    }

    /// The arrays, by the names of the run directory's files (without `.npy`): numpy views of
    /// the run's memory (status is converted to uint8, and a walk's labels are the analysis's).
    #[getter]
    fn arrays<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        let py = slf.py();
        let this = slf.get();
        let d = PyDict::new(py);
        match &this.computed {
            Computed::Grid { spec, grid } => {
                let shape = spec.slice.shape();
                let e = &grid.evaluation;
                d.set_item("loss", view(slf, &e.loss, &shape)?)?;
                d.set_item("grad_norm", view(slf, &e.grad_norm, &shape)?)?;
                if let Some(g) = &e.grad {
                    let mut s = shape.clone();
                    s.push(spec.problem.model.parameter_count());
                    d.set_item("grad", view(slf, g, &s)?)?;
                }
                if let Some(c) = &grid.curvature {
                    d.set_item("hessian_min", view(slf, &c.min, &shape)?)?;
                    d.set_item("hessian_max", view(slf, &c.max, &shape)?)?;
                    d.set_item("index", view(slf, &c.index, &shape)?)?;
                }
            }
            Computed::Walk { spec, walk, basins } => {
                let o = &walk.output;
                let (m, p) = (o.status.len(), spec.problem.model.parameter_count());
                d.set_item("starts", view(slf, &walk.starts, &[m, p])?)?;
                d.set_item("endpoints", view(slf, &o.endpoints, &[m, p])?)?;
                d.set_item("loss", view(slf, &o.loss, &[m])?)?;
                d.set_item("grad_norm", view(slf, &o.grad_norm, &[m])?)?;
                d.set_item("steps", view(slf, &o.steps, &[m])?)?;
                d.set_item("status", view(slf, &this.status, &[m])?)?;
                if let (Some(t), Some(rows)) = (&o.trace, spec.trace_rows()) {
                    d.set_item("trace", view(slf, t, &[rows, m, p])?)?;
                }
                if let Some((r, _)) = basins {
                    d.set_item("basin", view(slf, &r.labels, &[m, 2])?)?;
                    d.set_item("placement", view(slf, &r.placements, &[m])?)?;
                    d.set_item("continued", view(slf, &this.continued, &[m])?)?;
                }
            }
            Computed::Map { spec, map } => {
                let shape = spec.slice.shape();
                let o = &map.walk.output;
                let p = spec.problem.model.parameter_count();
                d.set_item("steps", view(slf, &o.steps, &shape)?)?;
                d.set_item("status", view(slf, &this.status, &shape)?)?;
                d.set_item("loss", view(slf, &o.loss, &shape)?)?;
                d.set_item(
                    "endpoints",
                    view(slf, &o.endpoints, &[shape[0], shape[1], p])?,
                )?;
                if spec.basins {
                    d.set_item(
                        "labels",
                        view(slf, &map.report.labels, &[shape[0], shape[1], 2])?,
                    )?;
                    d.set_item("placement", view(slf, &map.report.placements, &shape)?)?;
                    d.set_item("continued", view(slf, &this.continued, &shape)?)?;
                }
                if let Some(s) = &this.score {
                    d.set_item("score", view(slf, s, &shape)?)?;
                }
            }
        }
        Ok(d)
    }

    /// Writes the run directory the command line writes for this run into `dir` (which must
    /// not exist or be empty, unless `force`); returns its path.
    #[pyo3(signature = (dir, force=false))]
    fn save(&self, py: Python<'_>, dir: PathBuf, force: bool) -> PyResult<String> {
        py.detach(|| self.write(&dir, force))
    }

    /// An array by name: `run.loss` is `run.arrays["loss"]`.
    fn __getattr__<'py>(slf: &Bound<'py, Self>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        match Self::arrays(slf)?.get_item(name)? {
            Some(a) => Ok(a),
            None => Err(pyo3::exceptions::PyAttributeError::new_err(
                name.to_string(),
            )),
        }
    }

    fn __repr__(&self) -> String {
        let what = match &self.computed {
            Computed::Grid { spec, .. } => format!("{} lattice points", spec.slice.len()),
            Computed::Walk { walk, .. } => format!("{} walkers", walk.output.status.len()),
            Computed::Map { spec, .. } => format!("{:?} pixels", spec.slice.shape()),
        };
        format!(
            "<landscape.Run {}: {what} on {}>",
            self.request.command(),
            self.backend
        )
    }
}

impl Run {
    /// The run, with the arrays the library does not keep in the files' form.
    fn new(request: Request, computed: Computed, backend: BackendInfo) -> Run {
        let extended = |w: &run::Walk| w.extension.as_ref().map(|e| e.continued.clone());
        let (status, continued, score) = match &computed {
            Computed::Grid { .. } => (Vec::new(), Vec::new(), None),
            Computed::Walk { walk, basins, .. } => (
                codes(&walk.output),
                basins.as_ref().map_or_else(Vec::new, |(r, _)| {
                    continued_codes(r, extended(walk).as_deref())
                }),
                None,
            ),
            Computed::Map { spec, map } => (
                codes(&map.walk.output),
                if spec.basins {
                    continued_codes(&map.report, extended(&map.walk).as_deref())
                } else {
                    Vec::new()
                },
                (spec.color == run::ColorBy::Score).then(|| map_scores(spec, &map.walk.output)),
            ),
        };
        Run {
            request,
            computed,
            backend,
            status,
            continued,
            score,
        }
    }

    fn write(&self, dir: &std::path::Path, force: bool) -> PyResult<String> {
        let command = self.request.command().to_string();
        let out = RunDir::create(Some(dir), &command, force).map_err(py_error)?;
        let backend = self.backend.clone();
        match (&self.request, &self.computed) {
            (Request::Grid(r), Computed::Grid { spec, grid }) => {
                landscape::cli::grid::write(&out, r, spec, grid, backend, None)
                    .map_err(write_error)?;
            }
            (Request::Walk(r), Computed::Walk { spec, walk, basins }) => {
                landscape::cli::walk::write(
                    &out,
                    r,
                    spec,
                    walk,
                    basins.as_ref().map(|(b, s)| (b, *s)),
                    backend,
                )
                .map_err(py_error)?;
            }
            (Request::Map(r), Computed::Map { spec, map }) => {
                landscape::cli::map::write(&out, r, spec, map, backend, None)
                    .map_err(write_error)?;
            }
            _ => {
                return Err(PyRuntimeError::new_err(
                    "a run whose result is not its command's",
                ));
            }
        }
        let landed = out.finish().map_err(py_error)?;
        Ok(landed.display().to_string())
    }
}

/// `value` as Python objects, through JSON.
fn json<'py, T: serde::Serialize>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value)
        .map_err(|e| PyRuntimeError::new_err(format!("to JSON: {e}")))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// The basin analysis of a walk computed without it (`basins=False`), as a new run.
#[pyfunction]
fn basins(py: Python<'_>, run: &Bound<'_, Run>) -> PyResult<Run> {
    let this = run.get();
    let (Request::Walk(r), Computed::Walk { spec, walk, .. }) = (&this.request, &this.computed)
    else {
        return Err(PyValueError::new_err(
            "run: expected a walk (a map's analysis is asked for with basins=True)",
        ));
    };
    let (report, seconds) = py.detach(|| analyse(spec, &walk.output));
    let mut request = r.clone();
    request.basins = true;
    let spec = WalkSpec::clone(spec);
    Ok(Run::new(
        Request::Walk(request),
        Computed::Walk {
            spec: Box::new(spec),
            walk: walk.clone(),
            basins: Some((report, seconds)),
        },
        this.backend.clone(),
    ))
}

/// `landscape connect` with the command line's `flags` (its run directory and `--out` among
/// them), run in this process with the interpreter released; returns the run directory.
#[pyfunction]
fn connect(py: Python<'_>, flags: Vec<String>) -> PyResult<String> {
    let argv = ["landscape", "connect"]
        .into_iter()
        .map(str::to_string)
        .chain(flags);
    let cli = Cli::try_parse_from(argv).map_err(|e| {
        let text = e.to_string();
        let line = text.lines().next().unwrap_or("invalid arguments");
        PyValueError::new_err(line.trim_start_matches("error: ").to_string())
    })?;
    let landscape::cli::Command::Connect(args) = cli.command else {
        return Err(PyRuntimeError::new_err("not a connect command"));
    };
    py.detach(|| landscape::cli::connect::run(args))
        .map_err(|e| match e.downcast_ref::<landscape::Error>() {
            Some(landscape::Error::Spec { .. } | landscape::Error::File { .. }) => {
                PyValueError::new_err(format!("{e:#}"))
            }
            _ => PyRuntimeError::new_err(format!("{e:#}")),
        })?;
    Ok(String::new())
}

/// The library's version.
#[pyfunction]
fn version() -> String {
    landscape::record::version()
}

/// `landscape._landscape`.
#[pymodule]
fn _landscape(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Run>()?;
    m.add_function(wrap_pyfunction!(compute, m)?)?;
    m.add_function(wrap_pyfunction!(basins, m)?)?;
    m.add_function(wrap_pyfunction!(connect, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    Ok(())
}
