//! Bad input on every command, as a table run through the real binary: each case must exit with
//! code 2, print exactly one line on stderr that names the flag or file at fault, never panic,
//! and leave no output directory (or, for `basins`, no analysis files) behind.

use crate::common::{landscape, scratch};
use landscape::backend::cpu::Isa;
use landscape::npy;
use std::path::{Path, PathBuf};

/// The scratch directory holding this test's input files, with `{dir}` in a case standing for it.
struct Inputs {
    dir: PathBuf,
}

impl Inputs {
    /// The input files, written once per test process: the tests that use them run in parallel,
    /// and rewriting the directory under a running case would make it fail for the wrong reason.
    fn get() -> &'static Inputs {
        static INPUTS: std::sync::OnceLock<Inputs> = std::sync::OnceLock::new();
        INPUTS.get_or_init(Inputs::create)
    }

    fn create() -> Inputs {
        let dir = scratch("bad-input", "inputs");
        std::fs::create_dir_all(&dir).expect("inputs dir");
        let text = |name: &str, body: &[u8]| std::fs::write(dir.join(name), body).expect(name);
        // CSV files for --data csv:PATH with a 2-3-1 model (2 input columns, 1 target column).
        text("ok.csv", b"x1,x2,y\n0,0,0\n0,1,1\n");
        text("empty.csv", b"");
        text("blank.csv", b"\n  \n\n");
        text("header-only.csv", b"x1,x2,y\n");
        text("ragged.csv", b"1,2,3\n4,5\n");
        text("text.csv", b"1,2,3\n4,x,6\n");
        text("nan.csv", b"1,2,3\n4,NaN,6\n");
        text("inf.csv", b"1,2,3\n4,inf,6\n");
        text("beyond-f32.csv", b"1,2,3\n4,1e39,6\n");
        text("narrow.csv", b"1\n2\n");
        text("wide.csv", b"1,2,3,4\n5,6,7,8\n");
        text("trailing-comma.csv", b"x1,x2,y\n1,2,3,\n");
        text("semicolons.csv", b"1;2;3\n4;5;6\n");
        text("latin1.csv", b"x\xe9,x2,y\n1,2,3\n");
        // Vectors for --origin, --axis toward:/dir: and --plane (P = 13 for 2-3-1).
        let vector = |name: &str, v: &[f64]| {
            npy::write(&dir.join(name), &[v.len()], v).expect(name);
        };
        vector("zeros.npy", &[0.0; 13]);
        vector("ones.npy", &[1.0; 13]);
        vector("short.npy", &[1.0; 3]);
        vector("empty.npy", &[]);
        let mut nan = [1.0; 13];
        nan[4] = f64::NAN;
        vector("nan.npy", &nan);
        let mut huge = [1.0; 13];
        huge[2] = 1e300;
        vector("huge.npy", &huge);
        npy::write(&dir.join("int.npy"), &[13], &[1i32; 13]).expect("int.npy");
        npy::write(&dir.join("matrix.npy"), &[13, 13], &[0.5f32; 169]).expect("matrix.npy");
        let ones = std::fs::read(dir.join("ones.npy")).expect("ones.npy");
        text("truncated.npy", &ones[..ones.len() - 8]);
        text("header-cut.npy", &ones[..40]);
        text("not-npy.npy", b"this is text, not an array\n");
        text("garbage.npy", b"\x93NUMPY\x01\x00\xff\xff{{{{{{{{{{{{{{{{");
        // Headers edited in place (same length, so the data offset stays valid).
        let edit = |from: &str, to: &str| {
            let at = ones
                .windows(from.len())
                .position(|w| w == from.as_bytes())
                .expect("the header holds the text");
            let mut b = ones.clone();
            b.splice(at..at + from.len(), to.bytes());
            b
        };
        text("lying-shape.npy", &edit("(13,)", "(99,)"));
        text("broken-header.npy", &edit("(13,)", "(13, "));
        text("big-endian-int.npy", &edit("<f8", ">i8"));
        // A file where a directory is expected, and a directory where a file is expected.
        text("a-file", b"not a directory\n");
        std::fs::create_dir_all(dir.join("a-dir")).expect("a-dir");
        Inputs { dir }
    }

    /// `case` split at single spaces, with `{dir}` replaced and `{empty}` an empty argument.
    fn args(&self, case: &str) -> Vec<String> {
        let dir = self.dir.to_str().expect("utf-8 scratch path");
        case.split(' ')
            .map(|a| {
                if a == "{empty}" {
                    String::new()
                } else {
                    a.replace("{dir}", dir)
                }
            })
            .collect()
    }
}

/// Writes a small but complete walk directory that `landscape basins` accepts; `defect` then
/// spoils one of its files.
fn fake_walk(dir: &Path, defect: impl FnOnce(&Path)) {
    std::fs::create_dir_all(dir).expect("walk dir");
    std::fs::write(dir.join("run.json"), walk_record().to_string()).expect("run.json");
    let x = [-1.0f64, -1.0, -1.0, 1.0, 1.0, -1.0, 1.0, 1.0];
    npy::write(&dir.join("data_x.npy"), &[4, 2], &x).expect("data_x");
    npy::write(&dir.join("data_y.npy"), &[4, 1], &[-1.0f64, 1.0, 1.0, -1.0]).expect("data_y");
    npy::write(&dir.join("endpoints.npy"), &[5, 13], &[0.25f32; 65]).expect("endpoints");
    npy::write(&dir.join("status.npy"), &[5], &[1u8; 5]).expect("status");
    defect(dir);
}

/// The run.json of a real walk of five 2-3-1 walkers on xor:pm (made once per test process).
fn walk_record() -> serde_json::Value {
    static RECORD: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    RECORD
        .get_or_init(|| {
            let dir = scratch("bad-input", "walk-record");
            let _ = std::fs::remove_dir_all(&dir);
            let out = dir.display().to_string();
            let args = "walk --model 2-3-1 --data xor:pm --walkers 5 --no-basins --backend cpu --quiet --out";
            let mut argv: Vec<&str> = args.split(' ').collect();
            argv.push(&out);
            crate::common::ok(&landscape(&argv));
            let text = std::fs::read_to_string(dir.join("run.json")).expect("run.json");
            serde_json::from_str(&text).expect("JSON")
        })
        .clone()
}

/// A defect: run.json replaced by the walk's record changed by `edit`.
fn edited_record(edit: fn(&mut serde_json::Value)) -> impl Fn(&Path) {
    move |d: &Path| {
        let mut record = walk_record();
        edit(&mut record);
        std::fs::write(d.join("run.json"), record.to_string()).expect("run.json")
    }
}

/// What went wrong with one case, or nothing.
pub(crate) fn check(args: &[String], names: &str, out_dir: Option<&Path>) -> Option<String> {
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = landscape(&argv);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut wrong = Vec::new();
    if out.status.code() != Some(2) {
        wrong.push(format!("exit code {:?}, expected 2", out.status.code()));
    }
    if stderr.trim_end().lines().count() != 1 {
        wrong.push("stderr is not exactly one line".to_string());
    }
    if !stderr.contains(names) {
        wrong.push(format!("stderr does not name {names}"));
    }
    if stderr.contains("panicked") {
        wrong.push("it panicked".to_string());
    }
    if let Some(d) = out_dir
        && d.exists()
    {
        wrong.push(format!("it left {}", d.display()));
    }
    (!wrong.is_empty()).then(|| format!("{argv:?}: {}\n  stderr: {stderr}", wrong.join("; ")))
}

/// Runs every case (a command line and the flag or file its message must name), appending
/// `--out` to a fresh directory unless the case names its own, and asserts that all pass.
fn run_table(group: &str, cases: &[(&str, &str)]) {
    let inputs = Inputs::get();
    let outs = scratch("bad-input", group);
    std::fs::create_dir_all(&outs).expect("outs");
    let failures: Vec<String> = cases
        .iter()
        .enumerate()
        .filter_map(|(i, (case, names))| {
            let mut args = inputs.args(case);
            let out_dir = outs.join(format!("out-{i}"));
            let own_out = args.iter().any(|a| a == "--out");
            if !own_out {
                args.extend(["--out".to_string(), out_dir.display().to_string()]);
            }
            check(&args, names, (!own_out).then_some(out_dir.as_path()))
        })
        .collect();
    let left: Vec<_> = std::fs::read_dir(&outs)
        .expect("outs")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(
        left.is_empty(),
        "left behind in {}: {left:?}",
        outs.display()
    );
}

/// A 2-3-1 grid with one valid axis, to which a case adds or replaces one thing.
const G: &str = "grid --model 2-3-1 --data xor";
const AX: &str = "--axis w1[0,0]=-1:1:5";

#[test]
fn bad_models_and_activations_are_refused_by_every_command() {
    let mut cases = Vec::new();
    for cmd in ["grid", "walk", "map"] {
        let tail = match cmd {
            "grid" => AX,
            "walk" => "",
            _ => "--axis w1[0,0]=-1:1:4 --axis w1[1,1]=-1:1:4",
        };
        for model in [
            "2",
            "2-0-1",
            "2-x-1",
            "{empty}",
            "2--1",
            "2-3-1-",
            "1.5-3-1",
            "2-99999999999999999999999-1",
            "1-9223372036854775808-1-1",
            "4294967296-4294967296-1",
            "64-64-1",
            "2-5000-1",
        ] {
            cases.push((
                format!("{cmd} --model {model} --data xor {tail}"),
                "--model",
            ));
        }
        for (flag, value) in [
            ("--act", "swish"),
            ("--act", "{empty}"),
            ("--act", "TANH"),
            ("--out-act", "relu"),
            ("--out-act", "softplus"),
            ("--out-act", "cubic"),
        ] {
            cases.push((
                format!("{cmd} --model 2-3-1 --data xor {flag} {value} {tail}"),
                flag,
            ));
        }
    }
    let cases: Vec<(&str, &str)> = cases.iter().map(|(c, n)| (c.trim_end(), *n)).collect();
    run_table("models", &cases);
}

#[test]
fn bad_data_specs_and_csv_files_are_refused_naming_the_flag_or_file() {
    let cases: Vec<(String, &str)> = [
        ("moons", "--data"),
        ("{empty}", "--data"),
        ("xor:01", "--data"),
        ("xor:pm:x", "--data"),
        ("teacher", "--data"),
        ("teacher:", "--data"),
        ("teacher:n=0,seed=1", "--data"),
        ("teacher:n=-1,seed=1", "--data"),
        ("teacher:n=abc,seed=1", "--data"),
        ("teacher:n=2.5,seed=1", "--data"),
        ("teacher:seed=1", "--data"),
        ("teacher:n=5", "--data"),
        ("teacher:n=5,seed=-1", "--data"),
        ("teacher:n=5,seed=1.5", "--data"),
        ("teacher:n=5,seed=99999999999999999999999", "--data"),
        ("teacher:n=5,seed=1,foo=2", "--data"),
        ("teacher:n=5,n=6,seed=1", "--data"),
        ("teacher:n=5,seed=1,width=0", "--data"),
        ("teacher:n=5,seed=1,width=-2", "--data"),
        ("teacher:n=5,seed=1,width=1000000000", "--data"),
        ("teacher:n=5,seed=1,noise=-1", "--data"),
        ("teacher:n=5,seed=1,noise=nan", "--data"),
        ("teacher:n=5,seed=1,noise=inf", "--data"),
        ("teacher:n=5,seed=1,noise=1e308", "--data"),
        ("teacher:n=99999999999,seed=1", "--data"),
        ("teacher:n=5;seed=1", "--data"),
        ("point:", "--data"),
        ("point:x=1", "--data"),
        ("point:y=1", "--data"),
        ("point:x=1,2,3,y=1", "--data"),
        ("point:x=1,y=1", "--data"),
        ("point:x=a,b,y=1", "--data"),
        ("point:x=1,2,y=nan", "--data"),
        ("point:x=1,1e39,y=1", "--data"),
        ("point:x=1,2,y=1,z=3", "--data"),
        ("point:1,y=1", "--data"),
        ("csv:", "--data"),
        ("csv:{dir}/missing.csv", "missing.csv"),
        ("csv:{dir}/a-dir", "a-dir"),
        ("csv:{dir}/empty.csv", "empty.csv"),
        ("csv:{dir}/blank.csv", "blank.csv"),
        ("csv:{dir}/header-only.csv", "header-only.csv"),
        ("csv:{dir}/ragged.csv", "ragged.csv"),
        ("csv:{dir}/text.csv", "text.csv"),
        ("csv:{dir}/nan.csv", "nan.csv"),
        ("csv:{dir}/inf.csv", "inf.csv"),
        ("csv:{dir}/beyond-f32.csv", "beyond-f32.csv"),
        ("csv:{dir}/narrow.csv", "narrow.csv"),
        ("csv:{dir}/wide.csv", "wide.csv"),
        ("csv:{dir}/trailing-comma.csv", "trailing-comma.csv"),
        ("csv:{dir}/semicolons.csv", "semicolons.csv"),
        ("csv:{dir}/latin1.csv", "latin1.csv"),
    ]
    .into_iter()
    .map(|(data, names)| (format!("grid --model 2-3-1 --data {data} {AX}"), names))
    .chain([
        (format!("grid --model 3-3-1 --data xor {AX}"), "--data"),
        (format!("grid --model 2-3-2 --data xor:pm {AX}"), "--data"),
        (
            "grid --model 2-1 --data teacher:n=5,seed=1,width=3 --axis w1[0,0]=-1:1:5".to_string(),
            "--data",
        ),
        (
            "walk --model 2-3-1 --data teacher:n=5".to_string(),
            "--data",
        ),
        (
            "walk --model 2-3-1 --data csv:{dir}/ragged.csv".to_string(),
            "ragged.csv",
        ),
        (
            "map --model 2-3-1 --data point:x=1,y=1 --axis w1[0,0]=-1:1:4 --axis w1[1,1]=-1:1:4"
                .to_string(),
            "--data",
        ),
    ])
    .collect();
    let cases: Vec<(&str, &str)> = cases.iter().map(|(c, n)| (c.as_str(), *n)).collect();
    // The valid CSV really is accepted, so the failures above are the files' faults.
    let inputs = Inputs::get();
    let out = scratch("bad-input", "ok-csv");
    let ok_args = inputs.args(&format!(
        "grid --model 2-3-1 --data csv:{{dir}}/ok.csv {AX} --backend cpu --quiet --out {}",
        out.display()
    ));
    crate::common::ok(&landscape(
        &ok_args.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    run_table("data", &cases);
}

#[test]
fn bad_axes_origins_and_planes_are_refused_naming_the_flag_or_file() {
    let axes: Vec<(String, &str)> = [
        ("w1[0,0]", "--axis"),
        ("w1[0,0]=", "--axis"),
        ("w1[0,0]=-1:1", "--axis"),
        ("w1[0,0]=-1:1:5:7", "--axis"),
        ("w1[0,0]=1:-1:5", "--axis"),
        ("w1[0,0]=1:1:5", "--axis"),
        ("w1[0,0]=-1:1:0", "--axis"),
        ("w1[0,0]=-1:1:1", "--axis"),
        ("w1[0,0]=-1:1:-5", "--axis"),
        ("w1[0,0]=-1:1:2.5", "--axis"),
        ("w1[0,0]=-1:1:99999999", "--axis"),
        ("w1[0,0]=a:1:5", "--axis"),
        ("w1[0,0]=-1:b:5", "--axis"),
        ("w1[0,0]=nan:1:5", "--axis"),
        ("w1[0,0]=-inf:1:5", "--axis"),
        ("w1[0,0]=-1e308:1e308:5", "--axis"),
        ("w1[0,0]=0:1e39:5", "--axis"),
        // Five values, only two (three) of them distinct in float32.
        ("w1[0,0]=1:1.0000001:5", "--axis"),
        ("random:3=1e6:1000000.1:5", "--axis"),
        ("w7[0,0]=-1:1:5", "--axis"),
        ("w0[0,0]=-1:1:5", "--axis"),
        ("w1[3,0]=-1:1:5", "--axis"),
        ("w1[0,2]=-1:1:5", "--axis"),
        ("w1[0]=-1:1:5", "--axis"),
        ("w1[0,0,0]=-1:1:5", "--axis"),
        ("b1[0,0]=-1:1:5", "--axis"),
        ("b1[3]=-1:1:5", "--axis"),
        ("q1[0]=-1:1:5", "--axis"),
        ("w1[a,b]=-1:1:5", "--axis"),
        ("w1[0,0=-1:1:5", "--axis"),
        ("w[0,0]=-1:1:5", "--axis"),
        ("W1[0,0]=-1:1:5", "--axis"),
        ("=-1:1:5", "--axis"),
        ("{empty}", "--axis"),
        ("random:x=-1:1:5", "--axis"),
        ("random:-1=-1:1:5", "--axis"),
        ("random:=-1:1:5", "--axis"),
        ("toward:=0:1:5", "--axis"),
        ("toward:{dir}/missing.npy=0:1:5", "missing.npy"),
        ("toward:{dir}/short.npy=0:1:5", "short.npy"),
        ("toward:{dir}/zeros.npy=0:1:5", "--axis"),
        ("toward:{dir}/not-npy.npy=0:1:5", "not-npy.npy"),
        ("dir:1,2=-1:1:5", "--axis"),
        ("dir:0,0,0,0,0,0,0,0,0,0,0,0,0=-1:1:5", "--axis"),
        ("dir:1,1,1,1,1,nan,1,1,1,1,1,1,1=-1:1:5", "--axis"),
        ("dir:a=-1:1:5", "--axis"),
        ("dir:=-1:1:5", "--axis"),
        ("dir:{dir}/nan.npy=-1:1:5", "nan.npy"),
        ("dir:{dir}/huge.npy=-1:1:5", "huge.npy"),
        ("dir:{dir}/garbage.npy=-1:1:5", "garbage.npy"),
        ("dir:{dir}/zeros.npy=-1:1:5", "--axis"),
        ("dir:{dir}/empty.npy=-1:1:5", "empty.npy"),
    ]
    .into_iter()
    .map(|(axis, names)| (format!("{G} --axis {axis}"), names))
    .collect();
    let origins: Vec<(String, &str)> = [
        ("ones", "--origin"),
        ("{empty}", "--origin"),
        ("teacher", "--origin"),
        ("random:x", "--origin"),
        ("random:-1", "--origin"),
        ("random:", "--origin"),
        ("{dir}/missing.npy", "missing.npy"),
        ("{dir}/a-dir.npy", "a-dir.npy"),
        ("{dir}/short.npy", "short.npy"),
        ("{dir}/empty.npy", "empty.npy"),
        ("{dir}/matrix.npy", "matrix.npy"),
        ("{dir}/nan.npy", "nan.npy"),
        ("{dir}/huge.npy", "huge.npy"),
        ("{dir}/int.npy", "int.npy"),
        ("{dir}/truncated.npy", "truncated.npy"),
        ("{dir}/header-cut.npy", "header-cut.npy"),
        ("{dir}/not-npy.npy", "not-npy.npy"),
        ("{dir}/garbage.npy", "garbage.npy"),
        ("{dir}/lying-shape.npy", "lying-shape.npy"),
        ("{dir}/broken-header.npy", "broken-header.npy"),
        ("{dir}/big-endian-int.npy", "big-endian-int.npy"),
    ]
    .into_iter()
    .map(|(origin, names)| (format!("{G} --origin {origin} {AX}"), names))
    .collect();
    let others: Vec<(String, &str)> = vec![
        (G.to_string(), "--axis"),
        (
            format!(
                "{G} {AX} --axis w1[0,1]=-1:1:5 --axis w1[1,0]=-1:1:5 --axis w1[1,1]=-1:1:5 --axis w1[2,0]=-1:1:5"
            ),
            "--axis",
        ),
        (format!("{G} {AX} {AX}"), "--axis"),
        (
            format!("{G} --axis w1[0,0]=-1:1:100000 --axis w1[0,1]=-1:1:100000"),
            "--axis",
        ),
        (
            format!("grid --model 2-3-1 --data teacher:n=5,seed=1,width=4 --origin teacher {AX}"),
            "--origin",
        ),
        (
            "grid --model 1-1-1 --no-bias --data point:x=1,y=1 --axis b1[0]=-1:1:5".to_string(),
            "--axis",
        ),
        (format!("{G} --plane {{dir}}/ones.npy"), "--plane"),
        // B = C: both axes along one line.
        (
            format!("{G} --plane {{dir}}/zeros.npy,{{dir}}/ones.npy,{{dir}}/ones.npy"),
            "--plane",
        ),
        (
            format!("{G} --axis dir:{{dir}}/ones.npy=-1:1:5 --axis dir:{{dir}}/ones.npy=0:2:5"),
            "--axis",
        ),
        (format!("{G} --plane ,,"), "--plane"),
        (
            format!("{G} --plane {{dir}}/ones.npy,{{dir}}/zeros.npy,{{dir}}/ones.npy"),
            "--plane",
        ),
        (
            format!("{G} --plane {{dir}}/zeros.npy,{{dir}}/ones.npy,{{dir}}/short.npy"),
            "short.npy",
        ),
        (
            format!("{G} --plane {{dir}}/missing.npy,{{dir}}/ones.npy,{{dir}}/ones.npy"),
            "missing.npy",
        ),
        (
            format!("{G} --plane {{dir}}/zeros.npy,{{dir}}/ones.npy,{{dir}}/huge.npy"),
            "huge.npy",
        ),
        (
            format!("{G} {AX} --plane {{dir}}/zeros.npy,{{dir}}/ones.npy,{{dir}}/ones.npy"),
            "--plane",
        ),
        (
            format!(
                "{G} --origin zeros --plane {{dir}}/zeros.npy,{{dir}}/ones.npy,{{dir}}/ones.npy"
            ),
            "--plane",
        ),
        (
            format!(
                "{G} --axis w1[0,0]=-1:1:1024 --axis w1[0,1]=-1:1:1024 --axis w1[1,0]=-1:1:1024 --save-grad"
            ),
            "--save-grad",
        ),
        (format!("{G} {AX} --backend tpu"), "--backend"),
        (format!("{G} {AX} --frobnicate"), "--frobnicate"),
        (format!("{G} {AX} --lr 0.1"), "--lr"),
        (format!("{G} {AX} --out {{dir}}/a-file"), "--out"),
        (format!("{G} {AX} --out {{dir}}/a-file/run"), "--out"),
        (
            format!("{G} --axis w1[0,0]=-1:1:3\nw1[0,1]=-1:1:3"),
            "--axis",
        ),
    ];
    let cases: Vec<(&str, &str)> = axes
        .iter()
        .chain(&origins)
        .chain(&others)
        .map(|(c, n)| (c.as_str(), *n))
        .collect();
    run_table("slices", &cases);
}

#[test]
fn bad_walker_and_optimiser_settings_are_refused_by_walk_and_map() {
    let mut cases: Vec<(String, &str)> = Vec::new();
    let map = "map --model 2-3-1 --data xor --axis w1[0,0]=-1:1:4 --axis w1[1,1]=-1:1:4";
    for base in ["walk --model 2-3-1 --data xor", map] {
        for (flag, values) in [
            // 1e-50 and 1e39 are finite but leave float32 (0 and ∞); 0.99999999 rounds to 1.
            (
                "--lr",
                &["nan", "inf", "-1", "0", "abc", "{empty}", "1e-50", "1e39"][..],
            ),
            (
                "--momentum",
                &["1", "-0.1", "nan", "1.5", "inf", "0.99999999"],
            ),
            ("--steps", &["0", "-1", "1.5", "99999999999", "x"]),
            ("--tol", &["-1e-9", "-1", "nan", "inf", "1e-50", "1e39"]),
            ("--diverge", &["0", "-5", "nan", "inf", "1e39", "1e-50"]),
        ] {
            for v in values {
                cases.push((format!("{base} {flag} {v}"), flag));
            }
        }
        cases.push((format!("{base} --lr=-inf"), "--lr"));
        // The continuations: more steps in all than --steps, plain gradient descent only, a
        // tolerance to stop at.
        for v in ["1000", "10", "0", "-5", "x", "99999999999"] {
            cases.push((format!("{base} --steps 1000 --extend {v}"), "--extend"));
        }
        cases.extend([
            (format!("{base} --finish newton"), "--finish"),
            (format!("{base} --cap 0"), "--cap"),
            (format!("{base} --cap -1"), "--cap"),
            (format!("{base} --finish flow --tol 0"), "--finish"),
            (format!("{base} --finish flow --momentum 0.9"), "--finish"),
            (format!("{base} --extend 5000 --momentum 0.5"), "--extend"),
        ]);
    }
    let walk = "walk --model 2-3-1 --data xor";
    for (flag, values) in [
        ("--walkers", &["0", "-3", "5000000000", "abc", "1e3"][..]),
        (
            "--init",
            &[
                "gauss:1",
                "normal",
                "normal:",
                "normal:0",
                "normal:-1",
                "normal:nan",
                "normal:inf",
                "uniform:0",
                "uniform:abc",
                "xavier:2",
                "{empty}",
            ],
        ),
        ("--seed", &["-1", "abc", "1.5", "99999999999999999999999"]),
        ("--trace", &["0", "-1", "x"]),
    ] {
        for v in values {
            cases.push((format!("{walk} {flag} {v}"), flag));
        }
    }
    cases.extend([
        (
            format!("{walk} --walkers 100000000 --steps 1000 --trace 1"),
            "--trace",
        ),
        (format!("{walk} {AX}"), "--axis"),
        (format!("{walk} --trace 10 --extend 5000"), "--extend"),
        (format!("{walk} --backend tpu"), "--backend"),
        (format!("{walk} --no-basins=yes"), "--no-basins"),
        (format!("{walk} --out {{dir}}/a-file"), "--out"),
        (
            "map --model 2-3-1 --data xor --axis w1[0,0]=-1:1:4".to_string(),
            "--axis",
        ),
        ("map --model 2-3-1 --data xor".to_string(), "--axis"),
        (format!("{map} --axis w1[2,1]=-1:1:4"), "--axis"),
        (format!("{map} --color rainbow"), "--color"),
        (format!("{map} --walkers 5"), "--walkers"),
        (format!("{map} --origin ones"), "--origin"),
        (format!("{map} --out {{dir}}/a-file/run"), "--out"),
    ]);
    let cases: Vec<(&str, &str)> = cases.iter().map(|(c, n)| (c.as_str(), *n)).collect();
    run_table("walkers", &cases);
}

#[test]
fn bad_shards_and_zooms_are_refused() {
    let map = "map --model 2-3-1 --data xor --axis w1[0,0]=-1:1:4 --axis w1[1,1]=-1:1:4";
    let grid = format!("{G} {AX}");
    let mut cases: Vec<(String, &str)> = Vec::new();
    for base in ["walk --model 2-3-1 --data xor --walkers 10", map, &grid] {
        for v in [
            "3/3", "x", "1", "1/0", "-1/3", "1/x", "auto/0", "{empty}", "0/17",
        ] {
            cases.push((format!("{base} --shard {v}"), "--shard"));
        }
    }
    for v in [
        "0", "-2", "x", "inf", "nan", "2@1", "2@a,b", "2@1,2,3", "2@inf,0", "1e300", "{empty}",
    ] {
        cases.push((format!("{map} --zoom {v}"), "--zoom"));
    }
    // Directions from an origin far from 0: t stays distinct, the float32 starts do not.
    cases.push((
        "map --model 2-3-1 --data xor --origin random:1 --axis random:2=-1:1:8 --axis random:3=-1:1:8 --zoom 1e8".into(),
        "--zoom",
    ));
    // --resume takes nothing but --quiet.
    cases.push(("walk --resume {dir} --shard 0/2".into(), "--resume"));
    cases.push((
        "walk --model 2-3-1 --data xor --backend gpu --adapter local-rank --shard 0/2".into(),
        "--adapter",
    ));
    let cases: Vec<(&str, &str)> = cases.iter().map(|(c, n)| (c.as_str(), *n)).collect();
    run_table("shards", &cases);
}

#[test]
fn bad_hyper_parameter_axes_are_refused() {
    let map = "map --model 2-3-1 --data xor --backend cpu";
    let a = "--axis w1[0,0]=-1:1:4";
    let cases: Vec<(String, &str)> = vec![
        (format!("{G} --axis lr=0.1:1:4"), "--axis"),
        (
            format!("{G} --axis scale=0.5:2:4 --origin random:1"),
            "--axis",
        ),
        (format!("{map} {a} --axis lr3=0.1:1:4"), "--axis"),
        (format!("{map} {a} --axis lr0=0.1:1:4"), "--axis"),
        (format!("{map} {a} --axis lr=0:1:4"), "--axis"),
        (format!("{map} {a} --axis lr=-1:1:4"), "--axis"),
        (format!("{map} {a} --axis lr=log:-1:1:4"), "--axis"),
        (format!("{map} {a} --axis lr=log:0:1:4"), "--axis"),
        (format!("{map} {a} --axis lr=log:1:x:4"), "--axis"),
        (
            format!("{map} --axis w1[0,0]=log:1:2:4 --axis lr=0.1:1:4"),
            "--axis",
        ),
        (
            format!("{map} --axis lr=0.1:1:4 --axis lr1=0.1:1:4"),
            "--axis",
        ),
        (
            format!("{map} --axis lr2=0.1:1:4 --axis lr2=0.2:1:4"),
            "--axis",
        ),
        (format!("{map} {a} --axis scale=0.5:2:4"), "--axis"),
        (
            format!("{map} --origin random:1 --axis scale=1:2:4 --axis scale=2:3:4"),
            "--axis",
        ),
        (
            format!("{map} {a} --axis lr=0.1:1:4 --no-basins"),
            "--color",
        ),
        (
            format!("{map} {a} --axis lr=0.1:1:4 --no-basins --color status --shade"),
            "--color",
        ),
        (
            format!("{map} {a} --axis lr=0.1:1:4 --color speed"),
            "--color",
        ),
        (
            format!("{map} {a} --axis lr=log:0.1:1:4 --zoom 2@0,-1"),
            "--zoom",
        ),
        (
            format!("{map} --axis lr=0.001:1:4 {a} --zoom 0.5"),
            "--zoom",
        ),
    ];
    let cases: Vec<(&str, &str)> = cases.iter().map(|(c, n)| (c.as_str(), *n)).collect();
    run_table("hyper-parameter axes", &cases);
}

#[test]
fn bad_bench_flags_are_refused() {
    let failures: Vec<String> = [
        ("--repeats -1", "--repeats"),
        ("--repeats 0", "--repeats"),
        ("--repeats many", "--repeats"),
        ("--workload W9", "--workload"),
        ("--backend tpu", "--backend"),
        ("--workgroup-size 0", "--workgroup-size"),
        ("--workgroup-size 64,0", "--workgroup-size"),
        ("--workgroup-size -64", "--workgroup-size"),
        ("--workgroup-size big", "--workgroup-size"),
        ("--staging maybe", "--staging"),
        ("--row-sharing 1", "--row-sharing"),
        ("--unroll yes", "--unroll"),
        ("--isa avx3", "--isa"),
        ("--isa avx2,", "--isa"),
    ]
    .iter()
    .copied()
    .chain(
        // An instruction set this processor lacks (none is lacking on an AVX-512 machine).
        [("--isa avx512 --workload W1", "--isa")]
            .into_iter()
            .filter(|_| !Isa::available().contains(&Isa::Avx512)),
    )
    .filter_map(|(case, names)| {
        let mut args = vec!["bench".to_string()];
        args.extend(case.split(' ').map(str::to_string));
        check(&args, names, None)
    })
    .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn bad_demo_flags_are_refused() {
    run_table(
        "demo",
        &[
            ("demo --backend tpu", "--backend"),
            ("demo --frobnicate", "--frobnicate"),
            ("demo --quick=3", "--quick"),
            ("demo --out {dir}/a-file", "--out"),
            ("demo --out {dir}/a-file/report", "--out"),
            ("demo --model 2-3-1", "--model"),
        ],
    );
}

#[test]
fn a_non_empty_output_directory_is_kept_and_refused_by_every_command() {
    let inputs = Inputs::get();
    let dir = scratch("bad-input", "non-empty");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("keep.txt"), "precious").expect("file");
    let d = dir.display().to_string();
    for case in [
        format!("{G} {AX} --out {d}"),
        format!("walk --model 2-3-1 --data xor --walkers 4 --out {d}"),
        format!(
            "map --model 2-3-1 --data xor --axis w1[0,0]=-1:1:4 --axis w1[1,1]=-1:1:4 --out {d}"
        ),
        format!("demo --quick --out {d}"),
        format!("graph --minima {{dir}}/ones.npy --out {d}"),
    ] {
        let args = inputs.args(&case);
        if let Some(wrong) = check(&args, "--out", None) {
            panic!("{wrong}");
        }
        assert_eq!(
            std::fs::read_dir(&dir).expect("dir").count(),
            1,
            "{case}: the directory is untouched"
        );
    }
}

#[test]
fn bad_walk_directories_are_refused_by_basins_naming_the_file() {
    let base = scratch("bad-input", "basins");
    std::fs::create_dir_all(&base).expect("base");
    // The unspoilt walk is analysed, so each failure below is its defect's doing.
    let good = base.join("good");
    fake_walk(&good, |_| {});
    crate::common::ok(&landscape(&[
        "basins",
        good.to_str().expect("utf-8"),
        "--quiet",
    ]));
    assert!(good.join("basins.json").exists());

    let json = |body: &'static str| {
        move |d: &Path| std::fs::write(d.join("run.json"), body).expect("run.json")
    };
    let remove =
        |name: &'static str| move |d: &Path| std::fs::remove_file(d.join(name)).expect("remove");
    type Defect = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Defect, &str)> = vec![
        ("no-run-json", Box::new(remove("run.json")), "run.json"),
        ("bad-json", Box::new(json("[1, 2")), "run.json"),
        (
            "grid-run",
            Box::new(edited_record(|r| r["command"] = "grid".into())),
            "run.json",
        ),
        (
            "no-format",
            Box::new(edited_record(|r| {
                r.as_object_mut().map(|o| o.remove("format"));
            })),
            "run.json",
        ),
        (
            "format-2",
            Box::new(edited_record(|r| r["format"] = 2.into())),
            "run.json",
        ),
        (
            "unknown-field",
            Box::new(edited_record(|r| {
                r["spec"]["problem"]["dropout"] = 0.5.into()
            })),
            "run.json",
        ),
        (
            "stopped-walk",
            Box::new(edited_record(|r| r["complete"] = false.into())),
            "run.json",
        ),
        (
            "no-model",
            Box::new(edited_record(|r| {
                r["spec"]["problem"]
                    .as_object_mut()
                    .map(|o| o.remove("model"));
            })),
            "run.json",
        ),
        (
            "bad-model",
            Box::new(edited_record(|r| {
                r["spec"]["problem"]["model"] = "2-x-1".into()
            })),
            "run.json",
        ),
        (
            "huge-model",
            Box::new(edited_record(|r| {
                r["spec"]["problem"]["model"] = "2-9999999-1".into()
            })),
            "run.json",
        ),
        (
            "bad-act",
            Box::new(edited_record(|r| {
                r["spec"]["problem"]["act"] = "swish".into()
            })),
            "run.json",
        ),
        (
            "no-bias-field",
            Box::new(edited_record(|r| {
                r["spec"]["problem"]
                    .as_object_mut()
                    .map(|o| o.remove("bias"));
            })),
            "run.json",
        ),
        ("no-data-x", Box::new(remove("data_x.npy")), "data_x.npy"),
        ("no-data-y", Box::new(remove("data_y.npy")), "data_y.npy"),
        (
            "no-endpoints",
            Box::new(remove("endpoints.npy")),
            "endpoints.npy",
        ),
        ("no-status", Box::new(remove("status.npy")), "status.npy"),
        (
            "wide-data-x",
            Box::new(|d: &Path| {
                npy::write(&d.join("data_x.npy"), &[4, 3], &[0.0f64; 12]).expect("x")
            }),
            "data_x.npy",
        ),
        (
            "flat-data-x",
            Box::new(|d: &Path| npy::write(&d.join("data_x.npy"), &[8], &[0.0f64; 8]).expect("x")),
            "data_x.npy",
        ),
        (
            "short-data-y",
            Box::new(|d: &Path| {
                npy::write(&d.join("data_y.npy"), &[3, 1], &[0.0f64; 3]).expect("y")
            }),
            "data_y.npy",
        ),
        (
            "nan-data",
            Box::new(|d: &Path| {
                npy::write(&d.join("data_y.npy"), &[4, 1], &[0.0, f64::NAN, 0.0, 0.0]).expect("y")
            }),
            "data_",
        ),
        (
            "int-data",
            Box::new(|d: &Path| npy::write(&d.join("data_x.npy"), &[4, 2], &[0i32; 8]).expect("x")),
            "data_x.npy",
        ),
        (
            "wrong-p",
            Box::new(|d: &Path| {
                npy::write(&d.join("endpoints.npy"), &[5, 12], &[0.0f32; 60]).expect("e")
            }),
            "endpoints.npy",
        ),
        (
            "garbage-endpoints",
            Box::new(|d: &Path| {
                std::fs::write(d.join("endpoints.npy"), b"\x93NUMPY junk").expect("e")
            }),
            "endpoints.npy",
        ),
        (
            "u32-status",
            Box::new(|d: &Path| npy::write(&d.join("status.npy"), &[5], &[0u32; 5]).expect("s")),
            "status.npy",
        ),
        (
            "short-status",
            Box::new(|d: &Path| npy::write(&d.join("status.npy"), &[4], &[0u8; 4]).expect("s")),
            "status.npy",
        ),
        (
            "unknown-status",
            Box::new(|d: &Path| {
                npy::write(&d.join("status.npy"), &[5], &[0u8, 1, 7, 0, 0]).expect("s")
            }),
            "status.npy",
        ),
    ];
    let mut failures = Vec::new();
    for (name, defect, names) in &cases {
        let dir = base.join(name);
        fake_walk(&dir, defect);
        let args = vec!["basins".to_string(), dir.display().to_string()];
        if let Some(wrong) = check(&args, names, Some(&dir.join("basins.json"))) {
            failures.push(wrong);
        }
        for f in ["basins.csv", "basin.npy"] {
            if dir.join(f).exists() {
                failures.push(format!("{name}: left {f}"));
            }
        }
    }
    let missing = base.join("missing");
    if let Some(wrong) = check(
        &["basins".to_string(), missing.display().to_string()],
        "run.json",
        Some(&missing),
    ) {
        failures.push(wrong);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A missing required argument is named (clap puts it on the line after the first, which the
/// binary joins into one), and a value that starts with '-' but is no plain number (`-2-3-1`,
/// `-inf`) is taken as the flag's value, not as a flag.
#[test]
fn missing_required_arguments_are_named() {
    run_table(
        "missing",
        &[
            ("grid --data xor --axis w1[0,0]=-1:1:5", "--model"),
            ("grid --model 2-3-1 --axis w1[0,0]=-1:1:5", "--data"),
            ("walk --model 2-3-1", "--data"),
            (
                "grid --model -2-3-1 --data xor --axis w1[0,0]=-1:1:5",
                "--model",
            ),
            ("walk --model 2-3-1 --data xor --lr -inf", "--lr"),
        ],
    );
}

#[test]
fn bad_connect_and_graph_input_is_refused_naming_the_flag_or_file() {
    let inputs = Inputs::get();
    // A walk without its analysis, and one with it.
    let bare = inputs.dir.join("connect-walk");
    let analysed = inputs.dir.join("connect-walk-analysed");
    for dir in [&bare, &analysed] {
        if !dir.join("run.json").exists() {
            fake_walk(dir, |_| {});
        }
    }
    crate::common::ok(&landscape(&[
        "basins",
        analysed.to_str().expect("utf-8"),
        "--quiet",
    ]));
    const C: &str = "connect --backend cpu";
    const P: &str = "--from {dir}/zeros.npy --to {dir}/ones.npy --model 2-3-1 --data xor";
    let cases = [
        (
            format!("{C} --from {{dir}}/zeros.npy --to {{dir}}/ones.npy --model 2-3-1"),
            "--data",
        ),
        (
            format!("{C} --from {{dir}}/zeros.npy --to {{dir}}/ones.npy --data xor"),
            "--model",
        ),
        (
            format!("{C} --from 0 --to 1 --model 2-3-1 --data xor"),
            "--from",
        ),
        (
            format!("{C} --from x --to {{dir}}/ones.npy --model 2-3-1 --data xor"),
            "--from",
        ),
        (
            format!("{C} --from {{dir}}/zeros.npy --to 1:x --model 2-3-1 --data xor"),
            "--to",
        ),
        (
            format!("{C} --from {{dir}}/short.npy --to {{dir}}/ones.npy --model 2-3-1 --data xor"),
            "short.npy",
        ),
        (
            format!("{C} --from {{dir}}/zeros.npy --to {{dir}}/nan.npy --model 2-3-1 --data xor"),
            "nan.npy",
        ),
        (
            format!(
                "{C} --from {{dir}}/zeros.npy --to {{dir}}/absent.npy --model 2-3-1 --data xor"
            ),
            "absent.npy",
        ),
        (format!("{C} {P} --images 2"), "--images"),
        (format!("{C} {P} --steps 0"), "--steps"),
        (format!("{C} {P} --rounds 0"), "--rounds"),
        (format!("{C} {P} --rounds many"), "--rounds"),
        (format!("{C} {P} --all-copies"), "--all-copies"),
        (
            format!("{C} --from {{dir}}/zeros.npy --model 2-3-1 --data xor"),
            "--to",
        ),
        (format!("{C} {{dir}}/a-dir --from 0 --to 1"), "run.json"),
        (
            format!("{C} {{dir}}/connect-walk --from 0 --to 1"),
            "basins.json",
        ),
        (
            format!("{C} {{dir}}/connect-walk-analysed --from 0 --to 1 --model 2-3-1"),
            "--model",
        ),
        (
            format!("{C} {{dir}}/connect-walk-analysed --from 99 --to 0"),
            "--from",
        ),
        (
            format!("{C} {{dir}}/connect-walk-analysed --from 0:0 --to 0"),
            "saddle",
        ),
        ("graph".to_string(), "RUN"),
        ("graph {dir}/a-dir".to_string(), "a-dir"),
        ("graph {dir}/connect-walk".to_string(), "connect-walk"),
        ("graph --copies {dir}/ones.npy".to_string(), "--minima"),
        ("graph --minima {dir}/matrix.npy".to_string(), "matrix.npy"),
        ("graph --minima {dir}/empty.npy".to_string(), "empty.npy"),
        ("graph --minima {dir}/nan.npy".to_string(), "nan.npy"),
        (
            "graph --minima {dir}/ones.npy --copies {dir}/short.npy".to_string(),
            "short.npy",
        ),
        (
            "graph --minima {dir}/ones.npy --transition-states {dir}/zeros.npy".to_string(),
            "zeros.npy",
        ),
        (
            "graph --minima {dir}/ones.npy --transition-states {dir}/int.npy".to_string(),
            "int.npy",
        ),
    ];
    let cases: Vec<(&str, &str)> = cases.iter().map(|(c, n)| (c.as_str(), *n)).collect();
    run_table("connect", &cases);
}
