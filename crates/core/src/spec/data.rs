//! Data sets: `--data xor | xor:pm | teacher:n=…,seed=…[,width=…][,noise=…] | point:x=…,y=… | csv:PATH`.

use crate::count;
use crate::error::{Error, Result};
use crate::reference;
use crate::rng::{Stream, normal};
use crate::spec::model::{MAX_PARAMETERS, Model};
use std::path::Path;

/// Most values (N × (inputs + outputs)) of a generated teacher data set: 800 MB in float64.
pub const MAX_TEACHER_VALUES: usize = 100_000_000;

/// N samples of inputs (N × in) and targets (N × out), row-major, in float64.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    inputs: usize,
    outputs: usize,
    x: Vec<f64>,
    y: Vec<f64>,
}

impl Dataset {
    /// A data set from row-major inputs and targets; all values must be finite.
    pub fn new(inputs: usize, outputs: usize, x: Vec<f64>, y: Vec<f64>) -> Result<Dataset> {
        let n = x.len().checked_div(inputs).unwrap_or(0);
        if inputs == 0 || outputs == 0 || n == 0 || x.len() != n * inputs || y.len() != n * outputs
        {
            return Err(Error::spec(
                "--data",
                format!(
                    "inconsistent data: {} input values for width {inputs}, {} targets for width {outputs}",
                    x.len(),
                    y.len()
                ),
            ));
        }
        if let Some(v) = x.iter().chain(&y).find(|v| !v.is_finite()) {
            return Err(Error::spec(
                "--data",
                format!("data holds a non-finite value ({v}); expected finite numbers"),
            ));
        }
        if let Some(v) = x.iter().chain(&y).find(|v| v.abs() > f64::from(f32::MAX)) {
            return Err(Error::spec(
                "--data",
                format!(
                    "data holds {v:e}, beyond float32's range (±3.4e38), in which the backends compute"
                ),
            ));
        }
        Ok(Dataset {
            inputs,
            outputs,
            x,
            y,
        })
    }

    /// Number of samples N.
    pub fn len(&self) -> usize {
        self.x.len() / self.inputs
    }

    /// Whether there are no samples (never true for a constructed data set).
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// Input width.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// Target width.
    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// Input of sample `s`.
    pub fn input(&self, s: usize) -> &[f64] {
        &self.x[s * self.inputs..(s + 1) * self.inputs]
    }

    /// Target of sample `s`.
    pub fn target(&self, s: usize) -> &[f64] {
        &self.y[s * self.outputs..(s + 1) * self.outputs]
    }

    /// All inputs, row-major N × in.
    pub fn x(&self) -> &[f64] {
        &self.x
    }

    /// All targets, row-major N × out.
    pub fn y(&self) -> &[f64] {
        &self.y
    }

    /// Checks that the data's widths match the model's, naming `--data` if not.
    pub fn check_fits(&self, model: &Model) -> Result<()> {
        if self.inputs != model.inputs() || self.outputs != model.outputs() {
            return Err(Error::spec(
                "--data",
                format!(
                    "the data has {} and {}, but --model {} expects {} and {}",
                    count(self.inputs as u64, "input", "inputs"),
                    count(self.outputs as u64, "output", "outputs"),
                    model.widths_string(),
                    model.inputs(),
                    model.outputs()
                ),
            ));
        }
        Ok(())
    }
}

/// A teacher network that generated a data set: its model and parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Teacher {
    /// The teacher's architecture (the student's, with the hidden width replaced by `width=`).
    pub model: Model,
    /// The teacher's parameters θ*.
    pub theta: Vec<f64>,
}

/// A resolved `--data` value: the samples and, for `teacher:`, the teacher.
#[derive(Debug, Clone)]
pub struct DataSource {
    /// The value as the user gave it.
    pub spec: String,
    /// The samples.
    pub data: Dataset,
    /// The teacher network, for `teacher:` data.
    pub teacher: Option<Teacher>,
}

fn bad(message: impl Into<String>) -> Error {
    Error::spec("--data", message)
}

/// A `--data` error that is really about the file `path`: the same message, naming the file.
fn in_file(path: &Path, e: Error) -> Error {
    match e {
        Error::Spec { message, .. } => Error::file(path, message),
        other => other,
    }
}

/// Splits `k=v,k=v` into pairs; entries without `=` continue the previous value, so `x=1,2,y=3`
/// gives x = "1,2". `kind` and `example` are for the messages; a key given twice is refused.
fn key_values(s: &str, kind: &str, example: &str) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    if s.trim().is_empty() {
        return Err(bad(format!(
            "{kind}: needs key=value settings, e.g. {example}"
        )));
    }
    for part in s.split(',') {
        match part.split_once('=') {
            Some((k, v)) => {
                let k = k.trim().to_string();
                if out.iter().any(|(seen, _)| *seen == k) {
                    return Err(bad(format!(
                        "{kind}: '{k}' is given twice; expected each key once, e.g. {example}"
                    )));
                }
                out.push((k, v.trim().to_string()));
            }
            None => match out.last_mut() {
                Some((_, v)) => {
                    v.push(',');
                    v.push_str(part.trim());
                }
                None => {
                    return Err(bad(format!(
                        "{kind}:{s} is not a list of key=value pairs; expected e.g. {example}"
                    )));
                }
            },
        }
    }
    Ok(out)
}

fn parse_number(key: &str, v: &str) -> Result<f64> {
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        _ => Err(bad(format!("{key}='{v}' is not a finite number"))),
    }
}

fn parse_list(key: &str, v: &str) -> Result<Vec<f64>> {
    v.split(',').map(|t| parse_number(key, t.trim())).collect()
}

impl DataSource {
    /// Resolves a `--data` value for `model`.
    pub fn parse(spec: &str, model: &Model) -> Result<DataSource> {
        let (kind, args) = spec.split_once(':').unwrap_or((spec, ""));
        let mut teacher = None;
        let data = match kind {
            "xor" if args.is_empty() => xor(model, false)?,
            "xor" if args == "pm" => xor(model, true)?,
            "xor" => {
                return Err(bad(format!(
                    "unknown xor encoding '{args}'; expected xor or xor:pm"
                )));
            }
            "teacher" => {
                let (d, t) = teacher_data(args, model)?;
                teacher = Some(t);
                d
            }
            "point" => point(args)?,
            "csv" => {
                if args.is_empty() {
                    return Err(bad("csv: needs a path, e.g. csv:data.csv"));
                }
                let path = super::input_path(args);
                let data = csv(&path, model.outputs())?;
                // Name the file when its columns do not fit the model.
                data.check_fits(model).map_err(|e| in_file(&path, e))?;
                data
            }
            _ => {
                return Err(bad(format!(
                    "unknown data '{spec}'; expected xor, xor:pm, teacher:n=…,seed=…, point:x=…,y=… or csv:PATH"
                )));
            }
        };
        data.check_fits(model)?;
        Ok(DataSource {
            spec: spec.to_string(),
            data,
            teacher,
        })
    }
}

/// XOR on {0,1}² with 0/1 targets, or on {−1,1}² with ±1 targets.
fn xor(model: &Model, pm: bool) -> Result<Dataset> {
    if model.inputs() != 2 || model.outputs() != 1 {
        return Err(bad(format!(
            "xor has 2 inputs and 1 output, but --model {} has {} and {}",
            model.widths_string(),
            model.inputs(),
            model.outputs()
        )));
    }
    let (lo, hi) = if pm { (-1.0, 1.0) } else { (0.0, 1.0) };
    let x = vec![lo, lo, lo, hi, hi, lo, hi, hi];
    let y = vec![lo, hi, hi, lo];
    Dataset::new(2, 1, x, y)
}

fn teacher_data(args: &str, model: &Model) -> Result<(Dataset, Teacher)> {
    let (mut n, mut seed, mut width, mut noise) = (None, None, None, 0.0);
    for (k, v) in key_values(args, "teacher", "teacher:n=256,seed=7")? {
        match k.as_str() {
            "n" => {
                n = Some(
                    v.parse::<usize>()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| bad(format!("teacher n='{v}' is not a positive integer")))?,
                )
            }
            "seed" => {
                seed = Some(v.parse::<u64>().map_err(|_| {
                    bad(format!("teacher seed='{v}' is not a non-negative integer"))
                })?)
            }
            "width" => {
                width =
                    Some(v.parse::<usize>().ok().filter(|&w| w > 0).ok_or_else(|| {
                        bad(format!("teacher width='{v}' is not a positive integer"))
                    })?)
            }
            "noise" => {
                noise = parse_number("noise", &v)?;
                if noise < 0.0 {
                    return Err(bad(format!("teacher noise={v} is negative; expected ≥ 0")));
                }
            }
            _ => {
                return Err(bad(format!(
                    "teacher: unknown key '{k}'; expected n, seed, width, noise"
                )));
            }
        }
    }
    let n = n.ok_or_else(|| bad("teacher: needs n=, e.g. teacher:n=256,seed=7"))?;
    let seed = seed.ok_or_else(|| bad("teacher: needs seed=, e.g. teacher:n=256,seed=7"))?;
    if n > 10_000_000 {
        return Err(bad(format!(
            "teacher n={n} is too large; at most 10000000 samples"
        )));
    }
    let values = n.saturating_mul(model.inputs() + model.outputs());
    if values > MAX_TEACHER_VALUES {
        return Err(bad(format!(
            "teacher n={n} with {} inputs and {} outputs is {values} values; at most {MAX_TEACHER_VALUES}",
            model.inputs(),
            model.outputs()
        )));
    }
    let mut tmodel = model.clone();
    if let Some(w) = width {
        if model.hidden().is_empty() {
            return Err(bad("teacher width= needs a model with a hidden layer"));
        }
        let last = tmodel.widths.len() - 1;
        for h in &mut tmodel.widths[1..last] {
            *h = w;
        }
        if tmodel.parameter_count() > MAX_PARAMETERS {
            return Err(bad(format!(
                "teacher width={w} gives a teacher with {} parameters; at most {MAX_PARAMETERS} are supported",
                tmodel.parameter_count()
            )));
        }
    }
    let theta: Vec<f64> = (0..tmodel.parameter_count())
        .map(|i| normal(seed, Stream::Teacher, i as u64))
        .collect();
    let (ni, no) = (model.inputs(), model.outputs());
    let x: Vec<f64> = (0..n * ni)
        .map(|i| normal(seed, Stream::DataInputs, i as u64))
        .collect();
    let mut y = Vec::with_capacity(n * no);
    for s in 0..n {
        let f = reference::predict(&tmodel, &theta, &x[s * ni..(s + 1) * ni]);
        for (k, v) in f.into_iter().enumerate() {
            y.push(v + noise * normal(seed, Stream::Noise, (s * no + k) as u64));
        }
    }
    Ok((
        Dataset::new(ni, no, x, y)?,
        Teacher {
            model: tmodel,
            theta,
        },
    ))
}

fn point(args: &str) -> Result<Dataset> {
    let (mut x, mut y) = (None, None);
    for (k, v) in key_values(args, "point", "point:x=1,y=1")? {
        match k.as_str() {
            "x" => x = Some(parse_list("x", &v)?),
            "y" => y = Some(parse_list("y", &v)?),
            _ => {
                return Err(bad(format!(
                    "point: unknown key '{k}'; expected x and y, e.g. point:x=1,y=1"
                )));
            }
        }
    }
    let x = x.ok_or_else(|| bad("point: needs x=, e.g. point:x=1,y=1"))?;
    let y = y.ok_or_else(|| bad("point: needs y=, e.g. point:x=1,y=1"))?;
    Dataset::new(x.len(), y.len(), x, y)
}

/// Reads a numeric CSV whose last `outputs` columns are targets; a first line with no number in
/// it is taken as a header (one with some numbers is a mistyped row, and refused).
pub fn csv(path: &Path, outputs: usize) -> Result<Dataset> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::InvalidData {
            "is not UTF-8 text; expected a CSV file saved as UTF-8".to_string()
        } else {
            format!("cannot read CSV: {e}")
        };
        Error::file(path, why)
    })?;
    parse_csv(path, &text, outputs)
}

/// Parses the text of a CSV file as [`csv`] does; `path` is for the messages.
pub fn parse_csv(path: &Path, text: &str, outputs: usize) -> Result<Dataset> {
    // Spreadsheets often start a UTF-8 file with a byte-order mark; it is not part of a cell.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let parsed: std::result::Result<Vec<f64>, _> =
            cells.iter().map(|c| c.parse::<f64>()).collect();
        match parsed {
            Ok(row) => {
                if let Some((j, v)) = row
                    .iter()
                    .enumerate()
                    .find(|(_, v)| !v.is_finite() || v.abs() > f64::from(f32::MAX))
                {
                    return Err(Error::file(
                        path,
                        format!(
                            "line {}, column {}: {v:e} is not a finite number within float32's range (±3.4e38), in which the backends compute",
                            i + 1,
                            j + 1
                        ),
                    ));
                }
                if let Some(first) = rows.first()
                    && first.len() != row.len()
                {
                    return Err(Error::file(
                        path,
                        format!(
                            "line {}: {}, but earlier lines have {}",
                            i + 1,
                            count(row.len() as u64, "column", "columns"),
                            first.len()
                        ),
                    ));
                }
                rows.push(row);
            }
            // A header has no numbers; a first line with some is a data row with a typo in it.
            Err(_) if i == 0 && cells.iter().all(|c| c.parse::<f64>().is_err()) => {}
            Err(_) => {
                let (column, cell) = cells
                    .iter()
                    .enumerate()
                    .find(|(_, c)| c.parse::<f64>().is_err())
                    .map_or((0, ""), |(j, c)| (j + 1, *c));
                let what = if cell.is_empty() {
                    format!("column {column} is empty")
                } else {
                    format!("column {column}: '{cell}' is not a number")
                };
                let hint = if i == 0 {
                    "a header line has no numbers in it"
                } else {
                    "a header only on the first line"
                };
                return Err(Error::file(
                    path,
                    format!(
                        "line {}, {what}; expected comma-separated numbers ({hint})",
                        i + 1
                    ),
                ));
            }
        }
    }
    let cols = rows.first().map_or(0, Vec::len);
    if rows.is_empty() {
        return Err(Error::file(
            path,
            "no data rows; expected numeric rows with inputs then targets",
        ));
    }
    if cols <= outputs {
        return Err(Error::file(
            path,
            format!(
                "{}, but the model needs at least one input column plus {}",
                count(cols as u64, "column", "columns"),
                count(outputs as u64, "target column", "target columns")
            ),
        ));
    }
    let inputs = cols - outputs;
    let mut x = Vec::with_capacity(rows.len() * inputs);
    let mut y = Vec::with_capacity(rows.len() * outputs);
    for r in rows {
        x.extend_from_slice(&r[..inputs]);
        y.extend_from_slice(&r[inputs..]);
    }
    Dataset::new(inputs, outputs, x, y).map_err(|e| in_file(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::model::Activation;

    fn model(w: &str) -> Model {
        Model::new(w, Activation::Tanh, Activation::Linear, true).expect("valid")
    }

    #[test]
    fn xor_encodings_are_as_documented() {
        let d = DataSource::parse("xor", &model("2-3-1")).expect("xor").data;
        assert_eq!(d.x(), &[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]);
        assert_eq!(d.y(), &[0.0, 1.0, 1.0, 0.0]);
        let d = DataSource::parse("xor:pm", &model("2-3-1"))
            .expect("xor:pm")
            .data;
        assert_eq!(d.y(), &[-1.0, 1.0, 1.0, -1.0]);
    }

    #[test]
    fn teacher_targets_are_the_teachers_predictions() {
        let m = model("2-3-1");
        let src = DataSource::parse("teacher:n=50,seed=7", &m).expect("teacher");
        let t = src.teacher.expect("teacher kept");
        assert_eq!(src.data.len(), 50);
        assert!(reference::loss(&m, &src.data, &t.theta) < 1e-30);
        let wide =
            DataSource::parse("teacher:n=5,seed=7,width=5,noise=0.1", &m).expect("wide teacher");
        assert_eq!(wide.teacher.expect("kept").model.widths, vec![2, 5, 1]);
    }

    #[test]
    fn point_data_takes_vectors() {
        let d = DataSource::parse("point:x=1,2,y=3", &model("2-1"))
            .expect("point")
            .data;
        assert_eq!((d.x(), d.y()), (&[1.0, 2.0][..], &[3.0][..]));
    }

    #[test]
    fn bad_data_specs_name_the_flag() {
        let m = model("2-3-1");
        for bad in [
            "",
            "xor:01",
            "teacher:n=0,seed=1",
            "teacher:seed=1",
            "teacher:n=5,seed=-1",
            "teacher:n=5,seed=1,foo=2",
            "point:x=1,y=1",
            "point:x=a,y=1,2",
            "csv:",
            "moons",
            "teacher:",
            "teacher:n=5,n=6,seed=1",
            "teacher:n=5,seed=1,width=1000000000",
            "teacher:n=5,seed=1,noise=1e308",
            "point:",
            "point:1,y=1",
        ] {
            let err = DataSource::parse(bad, &m).expect_err(bad);
            assert!(err.to_string().starts_with("--data"), "{bad}: {err}");
        }
    }

    #[test]
    fn csv_files_are_checked_row_by_row() {
        let dir = std::env::temp_dir().join(format!("landscape-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let cases = [
            ("header.csv", "a,b,y\n1,2,3\n4,5,6\n", true),
            ("plain.csv", "1,2,3\n4,5,6\n", true),
            ("empty.csv", "", false),
            ("header-only.csv", "a,b,y\n", false),
            ("ragged.csv", "1,2,3\n4,5\n", false),
            ("text.csv", "1,2,3\n4,x,6\n", false),
            ("nan.csv", "1,2,3\n4,NaN,6\n", false),
            ("narrow.csv", "1\n2\n", false),
            ("bom.csv", "\u{feff}1,2,3\n4,5,6\n", true),
            ("trailing-comma.csv", "a,b,y\n1,2,3,\n", false),
            // Mistyped first rows are not headers: a letter O for a zero, a trailing comma.
            ("typo-first-row.csv", "0,O,0\n0,1,1\n1,0,1\n", false),
            ("comma-first-row.csv", "0,0,0,\n0,1,1\n", false),
        ];
        for (name, text, ok) in cases {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("write csv");
            let got = csv(&path, 1);
            assert_eq!(got.is_ok(), ok, "{name}: {got:?}");
            if let Err(e) = got {
                assert!(e.to_string().contains(name), "{e}");
            }
        }
        let d = csv(&dir.join("header.csv"), 1).expect("header csv");
        assert_eq!((d.len(), d.inputs()), (2, 2));
        let d = csv(&dir.join("bom.csv"), 1).expect("a byte-order mark is not a header");
        assert_eq!(d.len(), 2);
        assert!(csv(&dir.join("missing.csv"), 1).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
