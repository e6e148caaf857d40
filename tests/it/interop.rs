//! Interoperability: README's "Loading a run in Python" runs as written, and numpy reads every
//! array and summary of a real grid (with `--save-grad`), walk (with basins) and map with the
//! shapes, dtypes and values that run.json, basins.json and the Rust side state.
//!
//! Needs `python3` with numpy. Without it the test is skipped with a note, unless
//! LANDSCAPE_REQUIRE_NUMPY=1 (as in CI) makes that a failure.

use crate::common::scratch;
use landscape::npy;
use serde_json::json;
use std::path::Path;
use std::process::{Command, Output};

/// Whether `python3` can import numpy; panics if it cannot and LANDSCAPE_REQUIRE_NUMPY=1.
fn numpy_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("LANDSCAPE_REQUIRE_NUMPY").is_ok_and(|v| v == "1") {
            panic!("LANDSCAPE_REQUIRE_NUMPY=1 but `python3 -c 'import numpy'` fails");
        }
        eprintln!("skipping the numpy interoperability test: python3 with numpy is not available");
    }
    ok
}

/// The text of README's section `## {heading}`, up to the next section.
fn readme_section(heading: &str) -> String {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let start = text
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("README has a section '{heading}'"));
    let rest = &text[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |e| e + 3);
    rest[..end].to_string()
}

/// The contents of the section's code blocks in `lang`.
fn code_blocks(section: &str, lang: &str) -> Vec<String> {
    let fence = format!("```{lang}\n");
    let mut out = Vec::new();
    let mut rest = section;
    while let Some(start) = rest.find(&fence) {
        let body = &rest[start + fence.len()..];
        let end = body.find("```").expect("a closed code block");
        out.push(body[..end].to_string());
        rest = &body[end + 3..];
    }
    out
}

/// The `landscape` command lines of shell blocks, continuations joined, quotes stripped.
fn commands(blocks: &[String]) -> Vec<Vec<String>> {
    blocks
        .iter()
        .flat_map(|b| {
            b.replace("\\\n", " ")
                .lines()
                .map(str::trim)
                .filter(|l| l.starts_with("landscape "))
                .map(|l| {
                    l.split_whitespace()
                        .skip(1)
                        .map(|w| w.trim_matches('\'').to_string())
                        .collect()
                })
                .collect::<Vec<Vec<String>>>()
        })
        .collect()
}

/// Runs `python3` on `script` with `args` in `dir`.
fn python(dir: &Path, script: &str, args: &[&str]) -> Output {
    Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("python3 runs")
}

#[track_caller]
fn python_ok(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What the Rust side reads from the runs, for numpy to agree with.
fn rust_facts(root: &Path) -> serde_json::Value {
    let f64s = |run: &str, file: &str| {
        npy::read_f64(&root.join("runs").join(run).join(file))
            .unwrap_or_else(|e| panic!("{run}/{file}: {e}"))
    };
    let (loss, loss_shape) = f64s("seed-grad", "loss.npy");
    let (grad, grad_shape) = f64s("seed-grad", "grad.npy");
    let (endpoints, endpoints_shape) = f64s("small-walk", "endpoints.npy");
    let (status, _) = npy::read_u8(&root.join("runs/small-walk/status.npy")).expect("status");
    let (map_loss, map_shape) = f64s("small-map", "loss.npy");
    json!({
        "grid": {
            "loss_shape": loss_shape, "loss_sum": loss.iter().sum::<f64>(),
            "loss_at": {"150": loss[150], "250": loss[250]},
            "grad_shape": grad_shape, "grad_sum": grad.iter().sum::<f64>(),
        },
        "walk": {
            "endpoints_shape": endpoints_shape, "endpoints_sum": endpoints.iter().sum::<f64>(),
            "endpoint_0": &endpoints[..endpoints_shape[1]],
            "status_counts": (0..4u8).map(|s| status.iter().filter(|&&c| c == s).count()).collect::<Vec<_>>(),
            // |G| of a 2-2-1 tanh net: 2! permutations × 2² sign flips.
            "group_order": 8,
        },
        "map": {"loss_shape": map_shape, "loss_sum": map_loss.iter().sum::<f64>()},
    })
}

/// The checks numpy makes; argv[1] is the Rust side's facts as JSON.
const CHECKS: &str = r#"
import csv, json, sys
import numpy as np

facts = json.loads(sys.argv[1])
failures = []

def check(ok, what):
    if not ok:
        failures.append(what)

def close(a, b, rtol, atol):
    return np.allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rtol=rtol, atol=atol)

def load_run(d):
    """run.json, after checking that every array it lists loads with its stated shape and dtype."""
    run = json.load(open(f"{d}/run.json"))
    check(run["complete"] is True, f"{d}: run.json says complete")
    for name, a in run["arrays"].items():
        x = np.load(f"{d}/{a['file']}")
        check(x.shape == tuple(a["shape"]), f"{d}/{a['file']}: shape {x.shape}, run.json says {a['shape']}")
        check(x.dtype == np.dtype(a["dtype"]), f"{d}/{a['file']}: dtype {x.dtype}, run.json says {a['dtype']}")
        check(x.dtype.byteorder in "=<|", f"{d}/{a['file']}: byte order {x.dtype.byteorder}")
    return run

ACT = {"tanh": np.tanh, "linear": lambda z: z, "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
       "relu": lambda z: np.maximum(z, 0), "softplus": lambda z: np.logaddexp(0, z)}

def loss_of(run, d, theta):
    """L(θ) in float64 for θ of shape (..., P), in the documented parameter order."""
    spec = run["spec"]["problem"]
    widths = [int(w) for w in spec["model"].split("-")]
    x, y = np.load(f"{d}/data_x.npy"), np.load(f"{d}/data_y.npy")
    theta = np.asarray(theta, dtype=np.float64)
    h, k = x, 0
    for l in range(len(widths) - 1):
        i, o = widths[l], widths[l + 1]
        w = theta[..., k:k + o * i].reshape(theta.shape[:-1] + (o, i)); k += o * i
        z = np.einsum("...ni,...oi->...no", h, w)
        if spec["bias"]:
            z = z + theta[..., None, k:k + o]; k += o
        h = ACT[spec["act"] if l + 2 < len(widths) else spec["out_act"]](z)
    check(k == theta.shape[-1], f"{d}: P = {theta.shape[-1]}, the layout uses {k}")
    return ((h - y) ** 2).sum(-1).mean(-1)

def check_basins(d, labels, m, group_order):
    b = json.load(open(f"{d}/basins.json"))
    labels = labels.reshape(-1, 2)
    check(b["walkers"] == m and len(labels) == m, f"{d}: {b['walkers']} walkers, {len(labels)} labels, expected {m}")
    check(b["group_order"] == group_order, f"{d}: |G| = {b['group_order']}, expected {group_order}")
    classes = b["classes"]
    check([c["id"] for c in classes] == list(range(len(classes))), f"{d}: class ids in order")
    check(all(a["loss"] <= c["loss"] for a, c in zip(classes, classes[1:])), f"{d}: classes lowest loss first")
    run = json.load(open(f"{d}/run.json"))
    p = len(run["parameters"])
    for c in classes:
        mine = labels[:, 0] == c["id"]
        check(mine.sum() == c["walkers"], f"{d}: class {c['id']} has {mine.sum()} labels, basins.json says {c['walkers']}")
        check(abs(c["fraction"] - c["walkers"] / m) < 1e-12, f"{d}: class {c['id']} fraction")
        check(len(c["point"]) == p and len(c["eigenvalues"]) == p, f"{d}: class {c['id']} point and eigenvalues of length P")
        check(close(loss_of(run, d, np.array(c["point"])), c["loss"], 1e-6, 1e-12),
              f"{d}: class {c['id']}: L(point) = {loss_of(run, d, np.array(c['point']))}, basins.json says {c['loss']}")
        if c["kind"] == "minimum":
            check(min(c["eigenvalues"]) > 0, f"{d}: class {c['id']} is a minimum with eigenvalues {c['eigenvalues']}")
        if c["copies_expected"] is not None:
            copies = np.bincount(labels[mine, 1], minlength=1) if mine.any() else np.array([])
            check(copies.tolist() == c["walkers_per_copy"], f"{d}: class {c['id']} walkers per copy {copies.tolist()} vs {c['walkers_per_copy']}")
            check(c["copies_found"] == (copies > 0).sum() <= c["copies_expected"], f"{d}: class {c['id']} copies found")
    unassigned = (labels[:, 0] == -1).sum()
    # "unconverged" counts max-steps walkers among the others, not a reason of its own.
    reasons = sum(v for k, v in b["unassigned"].items() if k != "unconverged")
    check(unassigned == reasons, f"{d}: {unassigned} unassigned labels, basins.json says {b['unassigned']}")
    rows = list(csv.DictReader(open(f"{d}/basins.csv")))
    check(len(rows) == len(classes), f"{d}: basins.csv has {len(rows)} rows for {len(classes)} classes")
    for r, c in zip(rows, classes):
        check(int(r["id"]) == c["id"] and r["kind"] == c["kind"] and int(r["walkers"]) == c["walkers"]
              and close(float(r["loss"]), c["loss"], 1e-12, 0), f"{d}: basins.csv row {r} vs class {c['id']}")
    return b

# grid --save-grad: the seed example, L(t) = (1 − t²)² along w1 = w2 = t
d = "runs/seed-grad"
run = load_run(d)
g = facts["grid"]
t = np.array(run["axes"][0]["values"])
t32 = t.astype(np.float32).astype(np.float64)
loss, grad, grad_norm = np.load(f"{d}/loss.npy"), np.load(f"{d}/grad.npy"), np.load(f"{d}/grad_norm.npy")
check(list(loss.shape) == g["loss_shape"] == [301], f"grid loss shape {loss.shape}, Rust read {g['loss_shape']}")
check(list(grad.shape) == g["grad_shape"] == [301, 2], f"grid grad shape {grad.shape}, Rust read {g['grad_shape']}")
check(close(loss.astype(np.float64).sum(), g["loss_sum"], 1e-12, 0), "grid loss sum agrees with Rust")
check(close(grad.astype(np.float64).sum(), g["grad_sum"], 1e-9, 1e-9), "grid grad sum agrees with Rust")
check(t[150] == 0 and t[250] == 1, f"grid axis values t[150] = {t[150]}, t[250] = {t[250]}")
check(loss[150] == 1 and loss[250] == 0, f"L(0) = {loss[150]}, L(1) = {loss[250]}")
check(float(loss[250]) == g["loss_at"]["250"] and float(loss[150]) == g["loss_at"]["150"], "grid values agree with Rust")
check(close(loss, (1 - t32 ** 2) ** 2, 1e-6, 1e-6), "grid loss is (1 − t²)²")
expected = -2 * t32 * (1 - t32 ** 2)
check(close(grad[:, 0], expected, 1e-5, 1e-5) and close(grad[:, 1], expected, 1e-5, 1e-5), "grid grad is −2t(1 − t²) in both parameters")
check(close(grad_norm, np.linalg.norm(grad.astype(np.float64), axis=1), 1e-5, 1e-6), "grid grad_norm is ‖grad‖")
check(run["parameters"] == ["w1[0,0]", "w2[0,0]"], f"grid parameters {run['parameters']}")
check(run["summary"]["argmin"]["index"][0] in (50, 250), f"grid argmin {run['summary']['argmin']}")
check(np.load(f"{d}/data_x.npy").tolist() == [[1.0]] and np.load(f"{d}/data_y.npy").tolist() == [[1.0]], "grid data")
check(np.load(f"{d}/origin.npy").tolist() == [0.0, 0.0], "grid origin")

# walk with basins
d = "runs/small-walk"
run = load_run(d)
w = facts["walk"]
endpoints, starts = np.load(f"{d}/endpoints.npy"), np.load(f"{d}/starts.npy")
m, p = endpoints.shape
check([m, p] == w["endpoints_shape"] == [run["spec"]["walkers"], len(run["parameters"])], f"walk endpoints shape {endpoints.shape}")
check(close(endpoints.astype(np.float64).sum(), w["endpoints_sum"], 1e-12, 1e-9), "walk endpoints sum agrees with Rust")
check(endpoints[0].astype(np.float64).tolist() == w["endpoint_0"], "walk endpoint 0 agrees with Rust")
status, steps = np.load(f"{d}/status.npy"), np.load(f"{d}/steps.npy")
check(np.bincount(status, minlength=4).tolist() == w["status_counts"], f"walk status counts {np.bincount(status)} vs Rust {w['status_counts']}")
legend = run["status_legend"]
check({name: int((status == code).sum()) for name, code in legend.items()} == run["summary"]["counts"], "walk status counts match run.json")
check(steps.max() <= run["spec"]["descent"]["steps"] and steps.min() >= 1, f"walk steps from {steps.min()} to {steps.max()}")
check(close(np.load(f"{d}/loss.npy"), loss_of(run, d, endpoints), 1e-3, 1e-6), "walk loss.npy is L(endpoints)")
check(not np.array_equal(starts, endpoints), "walkers moved")
check_basins(d, np.load(f"{d}/basin.npy"), m, w["group_order"])

# map
d = "runs/small-map"
run = load_run(d)
labels, endpoints = np.load(f"{d}/labels.npy"), np.load(f"{d}/endpoints.npy")
n1, n2 = (len(a["values"]) for a in run["axes"])
check(labels.shape == (n1, n2, 2) == (24, 24, 2), f"map labels shape {labels.shape}")
check(list(np.load(f"{d}/loss.npy").shape) == facts["map"]["loss_shape"] == [n1, n2], "map loss shape agrees with Rust")
check(close(np.load(f"{d}/loss.npy").astype(np.float64).sum(), facts["map"]["loss_sum"], 1e-12, 1e-9), "map loss sum agrees with Rust")
check(run["axes"][0]["values"][0] == -4 and run["axes"][0]["values"][-1] == 4, "map axis values")
check(close(np.load(f"{d}/loss.npy"), loss_of(run, d, endpoints), 1e-3, 1e-6), "map loss.npy is L(endpoints)")
check(set(np.unique(np.load(f"{d}/status.npy"))) <= set(run["status_legend"].values()), "map status codes")
check_basins(d, labels, n1 * n2, facts["walk"]["group_order"])

if failures:
    print("\n".join(failures))
    sys.exit(1)
print("numpy agrees")
"#;

#[test]
fn runs_load_in_numpy_as_readme_shows_with_the_stated_shapes_dtypes_and_values() {
    if !numpy_available() {
        return;
    }
    let root = scratch("interop", "python");
    std::fs::create_dir_all(&root).expect("scratch");
    let section = readme_section("Loading a run in Python");
    let cmds = commands(&code_blocks(&section, "sh"));
    assert_eq!(
        cmds.len(),
        3,
        "README's Python section shows grid, walk and map"
    );
    for args in cmds {
        let out = Command::new(env!("CARGO_BIN_EXE_landscape"))
            .args(&args)
            .args(["--backend", "cpu", "--quiet"])
            .current_dir(&root)
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .output()
            .expect("runs");
        crate::common::ok(&out);
    }
    let snippets = code_blocks(&section, "python");
    assert_eq!(snippets.len(), 1, "one Python snippet");
    python_ok("README's Python snippet", &python(&root, &snippets[0], &[]));
    let facts = rust_facts(&root).to_string();
    python_ok("the numpy checks", &python(&root, CHECKS, &[&facts]));
}
