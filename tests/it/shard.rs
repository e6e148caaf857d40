//! Sharded runs: `--shard i/N` computes one block of a grid, walk or map, `landscape merge` joins
//! the blocks into exactly the unsharded run (every array, picture and analysis file byte for
//! byte; run.json equal but for timings and the merge's record), refuses shards that do not make
//! one run, and takes an interrupted shard once it is resumed or run again.

use crate::common::{landscape, ok, run_json, scratch};
use crate::resume::{spawn, wait_for_checkpoint};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `args` (split at spaces) with `extra` appended.
fn run(args: &str, extra: &[&str]) -> std::process::Output {
    let argv: Vec<&str> = args.split(' ').chain(extra.iter().copied()).collect();
    landscape(&argv)
}

/// run.json without what may differ between a merged run and the unsharded one: the timings,
/// the rate derived from them, and the merge's own record.
pub fn comparable(dir: &Path) -> serde_json::Value {
    let mut v = run_json(dir);
    let o = v.as_object_mut().expect("object");
    o.remove("timings");
    o.remove("merged");
    if let Some(s) = o.get_mut("summary").and_then(|s| s.as_object_mut()) {
        s.remove("walker_steps_per_s");
    }
    v
}

/// The files of a run directory, by name.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("run dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The merged run holds the same files as the whole one, each byte for byte but run.json, which
/// is equal apart from timings and the merge's record.
pub fn assert_same_run(whole: &Path, merged: &Path) {
    assert_eq!(files(whole), files(merged), "the same files");
    for name in files(whole) {
        if name == "run.json" {
            continue;
        }
        let (a, b) = (
            std::fs::read(whole.join(&name)).expect("whole"),
            std::fs::read(merged.join(&name)).expect("merged"),
        );
        assert!(a == b, "{name} differs from the unsharded run's");
    }
    assert_eq!(comparable(whole), comparable(merged), "run.json");
}

/// Runs `args` whole into DIR/whole and as `n` shards into DIR/shard-i, merges the shards
/// (given in reverse order) into DIR/merged, and checks it is the whole run.
pub(crate) fn whole_and_merged(dir: &Path, args: &str, n: usize) -> (PathBuf, Vec<PathBuf>) {
    let whole = dir.join("whole");
    ok(&run(
        args,
        &["--quiet", "--out", whole.to_str().expect("utf-8")],
    ));
    let shards: Vec<PathBuf> = (0..n).map(|i| dir.join(format!("shard-{i}"))).collect();
    for (i, s) in shards.iter().enumerate() {
        let shard = format!("{i}/{n}");
        ok(&run(
            args,
            &[
                "--shard",
                &shard,
                "--quiet",
                "--out",
                s.to_str().expect("utf-8"),
            ],
        ));
        let record = run_json(s);
        assert_eq!(record["shard"]["index"], i);
        assert_eq!(record["shard"]["count"], n);
    }
    let merged = dir.join("merged");
    let mut argv: Vec<&str> = vec!["merge", "--quiet", "--out", merged.to_str().expect("utf-8")];
    argv.extend(shards.iter().rev().map(|s| s.to_str().expect("utf-8")));
    ok(&landscape(&argv));
    assert_same_run(&whole, &merged);
    let record = run_json(&merged);
    assert_eq!(record["merged"]["shards"], n);
    assert_eq!(
        record["merged"]["fingerprint"],
        run_json(&shards[0])["shard"]["fingerprint"]
    );
    (merged, shards)
}

#[test]
fn sharded_walks_maps_and_grids_merge_into_the_unsharded_runs_byte_for_byte() {
    let root = scratch("shard", "merge-equals-whole");
    // A walk continued by --extend, with its basin analysis (the merge runs it); 1001 walkers in
    // blocks of 334, 334 and 333.
    let walk = "walk --model 2-3-1 --data xor:pm --walkers 1001 --steps 300 --extend 900 --seed 5 --backend cpu";
    let (merged, shards) = whole_and_merged(&root.join("walk"), walk, 3);
    assert!(merged.join("basins.json").is_file() && merged.join("continued.npy").is_file());
    // Merging the same shards again gives the same bytes.
    let again = root.join("walk").join("again");
    let mut argv = vec!["merge", "--quiet", "--out", again.to_str().expect("utf-8")];
    argv.extend(shards.iter().map(|s| s.to_str().expect("utf-8")));
    ok(&landscape(&argv));
    assert_same_run(&merged, &again);
    // A traced walk without the analysis: the trace's rows hold every walker.
    let traced = "walk --model 2-2-1 --data xor --walkers 103 --steps 50 --trace 10 --backend cpu --no-basins";
    whole_and_merged(&root.join("traced"), traced, 2);
    // A basin map (continued by --extend, then finished by the flow, drawn), 37 × 23 pixels in
    // 4 blocks.
    let map = "map --model 2-2-1 --data teacher:n=32,seed=3 --origin teacher --axis w1[0,0]=-4:4:37 --axis w1[1,1]=-4:4:23 --steps 500 --extend 1500 --backend cpu";
    let (merged, _) = whole_and_merged(&root.join("map"), map, 4);
    assert!(merged.join("map.png").is_file() && merged.join("boundary.json").is_file());
    // A grid with its gradient, 31 × 17 points in 5 blocks.
    let grid = "grid --model 2-2-1 --data xor --axis w1[0,0]=-4:4:31 --axis w1[1,1]=-4:4:17 --save-grad --hessian --backend cpu";
    let (merged, _) = whole_and_merged(&root.join("grid"), grid, 5);
    assert!(merged.join("heatmap.png").is_file() && merged.join("grad.npy").is_file());
    assert!(merged.join("index.png").is_file() && merged.join("hessian_min.npy").is_file());
    // One axis (a curve) and three (projections), and a zoomed map.
    let curve = "grid --model 1-1-1 --act linear --no-bias --data point:x=1,y=1 --axis dir:1,1=-1.5:1.5:301 --backend cpu";
    whole_and_merged(&root.join("curve"), curve, 3);
    let cube = "grid --model 2-2-1 --data xor --axis w1[0,0]=-2:2:9 --axis w1[1,1]=-2:2:7 --axis b1[0]=-1:1:5 --save-grad --backend cpu";
    let (merged, _) = whole_and_merged(&root.join("cube"), cube, 4);
    assert!(merged.join("projections.png").is_file());
    let zoom = "map --model 2-2-1 --data teacher:n=32,seed=3 --origin teacher --axis w1[0,0]=-4:4:24 --axis w1[1,1]=-4:4:24 --steps 300 --zoom 3@-1,1 --backend cpu";
    whole_and_merged(&root.join("zoom"), zoom, 2);
}

/// Runs the binary with extra environment variables.
fn with_env(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_landscape"));
    c.args(args).env("XDG_RUNTIME_DIR", std::env::temp_dir());
    for var in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_MIN",
        "SLURM_ARRAY_TASK_MAX",
        "SLURM_ARRAY_TASK_COUNT",
        "SLURM_ARRAY_TASK_STEP",
        "JOB_COMPLETION_INDEX",
        "SLURM_LOCALID",
        "LOCAL_RANK",
    ] {
        c.env_remove(var);
    }
    c.envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

#[test]
fn shard_auto_follows_slurm_arrays_and_kubernetes_indexed_jobs_and_config_repeats_a_run_as_a_shard()
{
    let root = scratch("shard", "auto");
    let walk = [
        "walk",
        "--model",
        "2-2-1",
        "--data",
        "xor",
        "--walkers",
        "10",
        "--steps",
        "20",
        "--backend",
        "cpu",
        "--no-basins",
        "--quiet",
    ];
    let at = |name: &str| root.join(name).display().to_string();
    let slurm = [
        ("SLURM_ARRAY_TASK_ID", "4"),
        ("SLURM_ARRAY_TASK_MIN", "3"),
        ("SLURM_ARRAY_TASK_MAX", "5"),
        ("SLURM_ARRAY_TASK_COUNT", "3"),
        ("SLURM_ARRAY_TASK_STEP", "1"),
    ];
    let out = at("slurm");
    ok(&with_env(
        &[&walk[..], &["--shard", "auto", "--out", &out]].concat(),
        &slurm,
    ));
    let shard = &run_json(&root.join("slurm"))["shard"];
    assert_eq!(
        (shard["index"].as_u64(), shard["count"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(
        (shard["first"].as_u64(), shard["len"].as_u64()),
        (Some(4), Some(3))
    );
    let out = at("k8s");
    ok(&with_env(
        &[&walk[..], &["--shard", "auto/3", "--out", &out]].concat(),
        &[("JOB_COMPLETION_INDEX", "1")],
    ));
    // A recorded run repeated as one of its shards: the same block.
    ok(&landscape(&[&walk[..], &["--out", &at("whole")]].concat()));
    let whole = at("whole");
    ok(&landscape(&[
        "walk",
        "--config",
        &whole,
        "--shard",
        "1/3",
        "--quiet",
        "--out",
        &at("config"),
    ]));
    for dir in ["k8s", "config"] {
        for f in ["starts.npy", "endpoints.npy", "status.npy"] {
            assert_eq!(
                std::fs::read(root.join("slurm").join(f)).ok(),
                std::fs::read(root.join(dir).join(f)).ok(),
                "{dir}/{f}"
            );
        }
    }
    // Without the scheduler's variables, or with an array that has gaps, auto says what it needs.
    let e = with_env(
        &[&walk[..], &["--shard", "auto", "--out", &at("none")]].concat(),
        &[],
    );
    let stderr = String::from_utf8_lossy(&e.stderr);
    assert_eq!(e.status.code(), Some(2));
    assert!(
        stderr.contains("--shard") && stderr.contains("SLURM_ARRAY_TASK_ID"),
        "{stderr}"
    );
    let stepped = [
        ("SLURM_ARRAY_TASK_ID", "2"),
        ("SLURM_ARRAY_TASK_MIN", "0"),
        ("SLURM_ARRAY_TASK_MAX", "4"),
        ("SLURM_ARRAY_TASK_COUNT", "3"),
        ("SLURM_ARRAY_TASK_STEP", "2"),
    ];
    let e = with_env(
        &[&walk[..], &["--shard", "auto", "--out", &at("gaps")]].concat(),
        &stepped,
    );
    assert!(String::from_utf8_lossy(&e.stderr).contains("not contiguous"));
    assert!(!root.join("none").exists() && !root.join("gaps").exists());
}

#[test]
fn adapter_local_rank_takes_the_gpu_of_the_process_rank_on_its_node() {
    let root = scratch("shard", "local-rank");
    let grid = [
        "grid",
        "--model",
        "1-1-1",
        "--data",
        "point:x=1,y=1",
        "--axis",
        "w1[0,0]=-1:1:5",
        "--backend",
        "gpu",
        "--adapter",
        "local-rank",
        "--quiet",
        "--out",
    ];
    let out = |n: &str| root.join(n).display().to_string();
    let e = with_env(&[&grid[..], &[&out("unset")]].concat(), &[]);
    let stderr = String::from_utf8_lossy(&e.stderr);
    assert_eq!(e.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--adapter") && stderr.contains("SLURM_LOCALID"),
        "{stderr}"
    );
    let e = with_env(
        &[&grid[..], &[&out("high")]].concat(),
        &[("SLURM_LOCALID", "64")],
    );
    let stderr = String::from_utf8_lossy(&e.stderr);
    assert_eq!(e.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--adapter") && stderr.contains("64"),
        "{stderr}"
    );
    if crate::common::gpu().is_none() {
        return; // No adapter here (and LANDSCAPE_REQUIRE_GPU unset): nothing to pick.
    }
    let done = with_env(
        &[&grid[..], &[&out("rank0")]].concat(),
        &[("SLURM_LOCALID", "0")],
    );
    ok(&done);
    assert_eq!(run_json(&root.join("rank0"))["backend"]["backend"], "gpu");
}

#[test]
fn an_interrupted_shard_is_refused_until_resumed_or_run_again_and_then_merges_either_way() {
    let root = scratch("shard", "interrupted");
    let walk = "walk --model 2-3-1 --data teacher:n=16,seed=3 --walkers 30000 --steps 1500 --backend cpu --no-basins --quiet";
    let s = |name: &str| root.join(name).display().to_string();
    ok(&run(walk, &["--out", &s("whole")]));
    ok(&run(walk, &["--shard", "0/2", "--out", &s("shard-0")]));
    // Shard 1 killed outright mid-walk: its directory does not exist, its checkpoint lies beside.
    let argv: Vec<String> = walk
        .split(' ')
        .chain(["--shard", "1/2", "--out"])
        .map(String::from)
        .chain([s("shard-1")])
        .collect();
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let mut child = spawn(&argv);
    wait_for_checkpoint(&root.join("shard-1"), &mut child);
    child.kill().expect("kill -9");
    child.wait().expect("exit");
    let merge = |out: &str, shards: &[&str]| {
        landscape(&[&["merge", "--quiet", "--out", &s(out)][..], shards].concat())
    };
    let refused = merge("merged", &[&s("shard-0"), &s("shard-1")]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("shard-1") && stderr.contains("incomplete") && stderr.contains("--resume"),
        "{stderr}"
    );
    assert!(!root.join("merged").exists());
    ok(&landscape(&["walk", "--resume", &s("shard-1"), "--quiet"]));
    ok(&merge("merged", &[&s("shard-1"), &s("shard-0")]));
    assert_same_run(&root.join("whole"), &root.join("merged"));
    // The same shard stopped by Ctrl-C is refused with the command that continues it; run again
    // from the start instead (--force replaces it), it merges to the same run.
    let mut child = spawn(&[&argv[..argv.len() - 1], &[&s("shard-1b")]].concat());
    wait_for_checkpoint(&root.join("shard-1b"), &mut child);
    let sig = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sig.success());
    child.wait().expect("exit");
    let refused = merge("merged-b", &[&s("shard-0"), &s("shard-1b")]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("shard-1b")
            && stderr.contains("walkers are done")
            && stderr.contains("--resume"),
        "{stderr}"
    );
    ok(&run(
        walk,
        &["--shard", "1/2", "--force", "--out", &s("shard-1b")],
    ));
    ok(&merge("merged-b", &[&s("shard-0"), &s("shard-1b")]));
    assert_same_run(&root.join("whole"), &root.join("merged-b"));
}

#[test]
fn shards_that_do_not_make_one_run_are_refused_naming_the_shard() {
    let root = scratch("shard", "refused");
    let walk =
        "walk --model 2-2-1 --data xor --walkers 100 --steps 50 --backend cpu --no-basins --quiet";
    let s = |name: &str| root.join(name).display().to_string();
    for i in 0..3 {
        ok(&run(
            walk,
            &["--shard", &format!("{i}/3"), "--out", &s(&format!("s{i}"))],
        ));
    }
    ok(&run(
        walk,
        &["--seed", "9", "--shard", "1/3", "--out", &s("seed9")],
    ));
    ok(&run(walk, &["--shard", "1/2", "--out", &s("half")]));
    ok(&run(walk, &["--out", &s("whole")]));
    let grid = "grid --model 2-2-1 --data xor --axis w1[0,0]=-1:1:9 --backend cpu --quiet";
    ok(&run(grid, &["--shard", "1/3", "--out", &s("grid1")]));
    // A shard whose endpoints lost their last row.
    ok(&run(walk, &["--shard", "2/3", "--out", &s("cut")]));
    let e = std::fs::read(root.join("cut/endpoints.npy")).expect("endpoints");
    std::fs::write(root.join("cut/endpoints.npy"), &e[..e.len() - 36]).expect("cut");
    // A CSV edited between the shards.
    std::fs::write(root.join("d.csv"), "x1,x2,y\n0,0,0\n1,1,0\n").expect("csv");
    let csv = format!(
        "walk --model 2-2-1 --data csv:{} --walkers 10 --steps 5 --backend cpu --no-basins --quiet",
        s("d.csv")
    );
    ok(&run(&csv, &["--shard", "0/2", "--out", &s("csv0")]));
    std::fs::write(root.join("d.csv"), "x1,x2,y\n0,0,0\n1,1,1\n").expect("csv");
    ok(&run(&csv, &["--shard", "1/2", "--out", &s("csv1")]));
    // Shards whose run.json was edited: a count of 0, an array named outside the shard.
    let edited = |from: &str, to: &str, edit: &dyn Fn(&mut serde_json::Value)| {
        let (a, b) = (root.join(from), root.join(to));
        std::fs::create_dir_all(&b).expect("copy");
        for e in std::fs::read_dir(&a).expect("shard").flatten() {
            std::fs::copy(e.path(), b.join(e.file_name())).expect("copy");
        }
        let mut v = run_json(&b);
        edit(&mut v);
        std::fs::write(b.join("run.json"), v.to_string()).expect("run.json");
    };
    edited("s2", "count0", &|v| v["shard"]["count"] = 0.into());
    edited("s2", "escape", &|v| {
        v["arrays"]["steps"]["file"] = "../steps.npy".into()
    });
    edited("s0", "index9", &|v| v["spec"]["shard"]["index"] = 9.into());
    let config = landscape(&[
        "walk",
        "--config",
        &s("index9"),
        "--out",
        &s("index9-again"),
    ]);
    let stderr = String::from_utf8_lossy(&config.stderr);
    assert_eq!(config.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--shard") && stderr.lines().count() == 1,
        "{stderr}"
    );
    // A shard on another backend rounds otherwise: refused.
    let gpu = crate::common::gpu().is_some();
    if gpu {
        ok(&run(
            &walk.replace("--backend cpu", "--backend gpu"),
            &["--shard", "1/3", "--out", &s("gpu1")],
        ));
    }
    let cases: [(&[&str], &str); 12] = [
        (&["s0", "s1", "count0"], "count0/run.json"),
        (&["s0", "s1", "escape"], "escape/run.json"),
        (&["s0", "s1"], "shard 2/3"),
        (&["s0", "s1", "s1", "s2"], "given twice"),
        (&["s0", "seed9", "s2"], "seed9"),
        (&["s0", "half"], "half"),
        (&["s0", "s1", "s2", "whole"], "whole"),
        (&["s0", "s1", "cut"], "cut/endpoints.npy"),
        (&["s0", "s1", "s2", "nowhere"], "nowhere"),
        (&["s0", "grid1", "s2"], "grid1"),
        (&["csv0", "csv1"], "csv1"),
        (&["s0", "s1", "s2", "--out", "s1", "--force"], "--out"),
    ];
    let mut cases: Vec<(&[&str], &str)> = cases.to_vec();
    if gpu {
        cases.push((&["s0", "gpu1", "s2"], "gpu1"));
    }
    let failures: Vec<String> = cases
        .iter()
        .enumerate()
        .filter_map(|(i, (dirs, names))| {
            let mut args = vec!["merge".to_string()];
            args.extend(dirs.iter().map(|d| {
                if d.starts_with('-') {
                    d.to_string()
                } else {
                    s(d)
                }
            }));
            let out = root.join(format!("out-{i}"));
            if !dirs.contains(&"--out") {
                args.extend(["--out".to_string(), out.display().to_string()]);
            }
            crate::bad_input::check(&args, names, Some(&out))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        root.join("s1/run.json").is_file(),
        "--out never replaces a shard"
    );
    // A shard is no walk to analyse: merge it first.
    let basins = landscape(&["basins", &s("s0")]);
    let stderr = String::from_utf8_lossy(&basins.stderr);
    assert_eq!(basins.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("shard 0/3") && stderr.contains("landscape merge"),
        "{stderr}"
    );
    assert!(!root.join("s0/basins.json").exists());
}

#[test]
fn an_extended_walk_analysed_later_marks_the_walkers_extend_continued() {
    // A walk with --extend and --no-basins records which walkers --extend continued
    // (extended.npy), so that `landscape basins DIR` writes the continued.npy the walk with its
    // analysis writes; sharded and merged, the same.
    let root = scratch("shard", "extended-later");
    let walk = "walk --model 2-3-1 --data xor:pm --walkers 1001 --steps 300 --extend 900 --seed 5 --backend cpu";
    let at = |name: &str| root.join(name).display().to_string();
    ok(&run(walk, &["--quiet", "--out", &at("analysed")]));
    let later = format!("{walk} --no-basins");
    let (merged, _) = whole_and_merged(&root.join("sharded"), &later, 2);
    let whole = root.join("sharded").join("whole");
    for dir in [&whole, &merged] {
        assert!(dir.join("extended.npy").is_file());
        ok(&landscape(&[
            "basins",
            dir.to_str().expect("utf-8"),
            "--quiet",
        ]));
        for f in ["continued.npy", "basin.npy", "placement.npy"] {
            assert_eq!(
                std::fs::read(dir.join(f)).ok(),
                std::fs::read(root.join("analysed").join(f)).ok(),
                "{f} of {}",
                dir.display()
            );
        }
    }
    let (codes, _) =
        landscape::npy::read_exact::<u8>(&merged.join("continued.npy")).expect("continued");
    assert!(
        codes.contains(&1),
        "some walkers were continued by --extend"
    );
}
