//! Long runs: Ctrl-C stops `walk` and `map` cleanly with a checkpoint, `--resume` continues to
//! the same files as an uninterrupted run (also after `kill -9`), and `--config` repeats a run.

use crate::common::{landscape, ok, run_json, scratch};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A fresh directory, with no unfinished runs of earlier test runs beside it.
fn dir(name: &str) -> PathBuf {
    let d = scratch("resume", name);
    let parent = d.parent().expect("parent");
    for e in std::fs::read_dir(parent).expect("parent").flatten() {
        if e.file_name()
            .to_string_lossy()
            .starts_with(&format!(".{name}.partial-"))
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    d
}

pub(crate) fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_landscape"))
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

/// Waits until the unfinished directory of the run into `target` holds a checkpoint.
pub(crate) fn wait_for_checkpoint(target: &Path, child: &mut Child) -> PathBuf {
    let parent = target.parent().expect("parent");
    // This child's unfinished directory (an earlier run's may be left beside it).
    let prefix = format!(
        ".{}.partial-{}",
        target.file_name().expect("name").to_string_lossy(),
        child.id()
    );
    let t0 = Instant::now();
    loop {
        if let Some(found) = std::fs::read_dir(parent)
            .expect("parent")
            .flatten()
            .find(|e| {
                e.file_name().to_string_lossy() == prefix
                    && e.path().join("checkpoint.json").is_file()
            })
        {
            return found.path();
        }
        assert!(
            child.try_wait().expect("child").is_none(),
            "the run ended before its first checkpoint"
        );
        assert!(t0.elapsed() < Duration::from_secs(120), "no checkpoint");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// The files of two runs are identical, byte for byte.
fn same_files(a: &Path, b: &Path, names: &[&str]) {
    for name in names {
        let (x, y) = (
            std::fs::read(a.join(name)).expect("file a"),
            std::fs::read(b.join(name)).expect("file b"),
        );
        assert!(
            x == y,
            "{name} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

const WALK: [&str; 14] = [
    "walk",
    "--model",
    "2-3-1",
    "--data",
    "teacher:n=16,seed=3",
    "--walkers",
    "30000",
    "--steps",
    "1500",
    "--backend",
    "cpu",
    "--no-basins",
    "--quiet",
    "--out",
];
const WALK_FILES: [&str; 6] = [
    "starts.npy",
    "endpoints.npy",
    "loss.npy",
    "grad_norm.npy",
    "steps.npy",
    "status.npy",
];

#[test]
fn walk_interrupted_by_ctrl_c_resumes_to_the_same_result() {
    let (stopped, full) = (dir("walk-stopped"), dir("walk-full"));
    let stopped_s = stopped.to_str().expect("utf-8");
    let mut child = spawn(&[&WALK[..], &[stopped_s]].concat());
    wait_for_checkpoint(&stopped, &mut child);
    signal(&child, "-INT");
    let out = child.wait_with_output().expect("exit");
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("landscape walk --resume {stopped_s}")),
        "{stderr}"
    );
    let record = run_json(&stopped);
    assert_eq!(record["complete"], false);
    let done = record["done"].as_u64().expect("done");
    assert!(done > 0 && done <= 30_000, "{done} walkers done");
    assert!(!stopped.join("endpoints.npy").exists());
    let checkpoint: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(stopped.join("checkpoint.json")).expect("checkpoint"),
    )
    .expect("json");
    let before_s = checkpoint["walk_s"].as_f64().expect("walk_s");
    assert!(before_s > 0.0, "{checkpoint}");

    ok(&landscape(&["walk", "--resume", stopped_s, "--quiet"]));
    // The resumed run's time and rate count the first process's walking too.
    let record = run_json(&stopped);
    let walk_s = record["timings"]["walk_s"].as_f64().expect("walk_s");
    assert!(walk_s >= before_s, "{walk_s} s against {before_s} s before");
    ok(&landscape(
        &[&WALK[..], &[full.to_str().expect("utf-8")]].concat(),
    ));
    same_files(&stopped, &full, &WALK_FILES);
    assert_eq!(run_json(&stopped)["complete"], true);
    assert!(!stopped.join("checkpoint.json").exists());

    // --resume takes nothing but --quiet; a finished run has no checkpoint.
    let again = landscape(&["walk", "--resume", stopped_s, "--steps", "3"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--steps"));
    let again = landscape(&["walk", "--resume", stopped_s]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("finished"),
        "{again:?}"
    );
}

#[test]
fn walk_killed_outright_resumes_from_the_directory_it_left() {
    let (killed, full) = (dir("walk-killed"), dir("walk-killed-full"));
    let killed_s = killed.to_str().expect("utf-8");
    let mut child = spawn(&[&WALK[..], &[killed_s]].concat());
    let leftover = wait_for_checkpoint(&killed, &mut child);
    signal(&child, "-KILL");
    child.wait().expect("exit");
    assert!(!killed.exists() && leftover.exists());
    ok(&landscape(&["walk", "--resume", killed_s, "--quiet"]));
    assert!(!leftover.exists(), "the unfinished directory is cleaned up");
    ok(&landscape(
        &[&WALK[..], &[full.to_str().expect("utf-8")]].concat(),
    ));
    same_files(&killed, &full, &WALK_FILES);
}

#[test]
fn map_interrupted_by_ctrl_c_resumes_to_the_same_map() {
    let (stopped, full) = (dir("map-stopped"), dir("map-full"));
    let args = |out: &Path| -> Vec<String> {
        [
            "map",
            "--model",
            "2-2-1",
            "--data",
            "teacher:n=16,seed=5",
            "--origin",
            "teacher",
            "--axis",
            "w1[0,0]=-3:3:150",
            "--axis",
            "w1[1,1]=-3:3:150",
            "--steps",
            "2500",
            "--backend",
            "cpu",
            "--quiet",
            "--out",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([out.to_string_lossy().into_owned()])
        .collect()
    };
    let a = args(&stopped);
    let mut child = spawn(&a.iter().map(String::as_str).collect::<Vec<_>>());
    wait_for_checkpoint(&stopped, &mut child);
    signal(&child, "-INT");
    let out = child.wait_with_output().expect("exit");
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    ok(&landscape(&[
        "map",
        "--resume",
        stopped.to_str().expect("utf-8"),
        "-q",
    ]));
    let b = args(&full);
    ok(&landscape(
        &b.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    same_files(
        &stopped,
        &full,
        &[
            "labels.npy",
            "steps.npy",
            "status.npy",
            "loss.npy",
            "endpoints.npy",
            "basins.json",
        ],
    );
}

#[test]
fn config_repeats_a_run_exactly_and_takes_only_output_flags() {
    let (first, again) = (dir("config-first"), dir("config-again"));
    ok(&landscape(&[
        "walk",
        "--model",
        "2-2-1",
        "--data",
        "xor:pm",
        "--walkers",
        "500",
        "--steps",
        "300",
        "--lr",
        "0.1",
        "--seed",
        "7",
        "--init",
        "uniform:2",
        "--backend",
        "cpu",
        "--quiet",
        "--out",
        first.to_str().expect("utf-8"),
    ]));
    let record = run_json(&first);
    assert_eq!(record["landscape_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(record["spec"]["seed"], 7);
    assert!(record["backend"]["adapter"].is_string());
    assert_eq!(record["spec"]["descent"]["lr"], 0.1);
    ok(&landscape(&[
        "walk",
        "--config",
        first.join("run.json").to_str().expect("utf-8"),
        "--quiet",
        "--out",
        again.to_str().expect("utf-8"),
    ]));
    same_files(
        &first,
        &again,
        &[
            "starts.npy",
            "endpoints.npy",
            "loss.npy",
            "status.npy",
            "basins.json",
        ],
    );
    let mixed = landscape(&[
        "walk",
        "--config",
        first.to_str().expect("utf-8"),
        "--walkers",
        "3",
        "--out",
        dir("config-mixed").to_str().expect("utf-8"),
    ]);
    assert_eq!(mixed.status.code(), Some(2));
    let err = String::from_utf8_lossy(&mixed.stderr);
    assert!(
        err.contains("--config") && err.contains("--walkers"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // A map's record is not a walk's.
    let wrong = landscape(&["map", "--config", first.to_str().expect("utf-8")]);
    assert_eq!(wrong.status.code(), Some(2));
}

#[test]
fn config_reads_relative_inputs_from_where_the_run_started_and_keeps_its_backend() {
    let base = dir("config-cwd");
    let (start, elsewhere) = (base.join("start"), base.join("elsewhere"));
    std::fs::create_dir_all(&start).expect("dir");
    std::fs::create_dir_all(&elsewhere).expect("dir");
    std::fs::write(start.join("data.csv"), "x,y\n0,1\n1,3\n2,5\n").expect("csv");
    // A different file of the same name where the repeat is run: it must not be read.
    std::fs::write(elsewhere.join("data.csv"), "x,y\n0,0\n1,0\n").expect("csv");
    let run_in = |cwd: &Path, args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_landscape"))
            .args(args)
            .current_dir(cwd)
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .output()
            .expect("the binary runs");
        ok(&out);
    };
    let (first, again) = (base.join("first"), base.join("again"));
    run_in(
        &start,
        &[
            "grid",
            "--model",
            "1-1",
            "--act",
            "linear",
            "--data",
            "csv:data.csv",
            "--axis",
            "w1[0,0]=-1:3:9",
            "--quiet",
            "--out",
            first.to_str().expect("utf-8"),
        ],
    );
    run_in(
        &elsewhere,
        &[
            "grid",
            "--config",
            first.to_str().expect("utf-8"),
            "--quiet",
            "--out",
            again.to_str().expect("utf-8"),
        ],
    );
    same_files(&first, &again, &["loss.npy", "data_x.npy", "data_y.npy"]);
    // `auto` became whichever backend ran; the repeat names it.
    let (a, b) = (run_json(&first), run_json(&again));
    assert_eq!(a["spec"]["backend"], "auto");
    assert_eq!(b["spec"]["backend"], a["backend"]["backend"]);
    assert_eq!(b["backend"], a["backend"]);
}

#[test]
fn requests_beyond_the_memory_available_are_refused_before_any_output() {
    let split = |s: &str| s.split(' ').map(str::to_string).collect::<Vec<_>>();
    let cases = [
        (
            split("walk --model 2-3-1 --data xor --walkers 4000000000"),
            "--walkers",
        ),
        (
            split(
                "map --model 2-3-1 --data xor --axis w1[0,0]=-1:1:60000 --axis w1[0,1]=-1:1:60000",
            ),
            "--axis",
        ),
        // 3.6e9 points need ~58 GiB: refused on machines with less (the largest lattice, 2³² − 1
        // points, fits in 69 GiB, so a bigger machine would compute it).
        (
            split(
                "grid --model 2-3-1 --data xor --axis w1[0,0]=-1:1:60000 --axis w1[0,1]=-1:1:60000",
            ),
            "--axis",
        ),
    ];
    for (args, flag) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        if args[0] == "grid" && landscape::run::memory::available().is_none_or(|a| a >= 55 << 30) {
            continue;
        }
        let out_dir = dir(&format!("huge-{}", args[0]));
        let out_s = out_dir.to_str().expect("utf-8");
        let run = landscape(&[&args[..], &["--out", out_s]].concat());
        assert_eq!(run.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(
            err.starts_with(&format!("error: {flag}:"))
                && err.contains("GiB")
                && err.trim().lines().count() == 1,
            "{err}"
        );
        assert!(!out_dir.exists());
    }
}
