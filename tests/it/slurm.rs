//! Sharded runs on a real one-node Slurm cluster (scripts/slurm): a job array of shards and
//! their merge, submitted by submit.sh, give exactly the run made whole. Needs root and Slurm
//! (Debian: munge slurmctld slurmd slurm-client); skipped without them, unless
//! LANDSCAPE_REQUIRE_SLURM=1 makes that a failure.

use crate::common::{landscape, ok, run_json, scratch};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const WALK: [&str; 13] = [
    "walk",
    "--model",
    "2-3-1",
    "--data",
    "xor:pm",
    "--walkers",
    "2000",
    "--steps",
    "300",
    "--backend",
    "cpu",
    "--seed",
    "5",
];

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts/slurm")
        .join(name)
}

/// Why a cluster cannot run here, if it cannot.
fn missing() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok();
    if uid.is_none_or(|o| String::from_utf8_lossy(&o.stdout).trim() != "0") {
        return Some("not root".into());
    }
    let path = std::env::var("PATH").unwrap_or_default();
    let dirs: Vec<&str> = path.split(':').chain(["/usr/sbin", "/sbin"]).collect();
    [
        "sbatch",
        "squeue",
        "scontrol",
        "srun",
        "slurmctld",
        "slurmd",
        "munged",
    ]
    .into_iter()
    .find(|p| !dirs.iter().any(|d| Path::new(d).join(p).is_file()))
    .map(|p| format!("{p} not found"))
}

/// A cluster started by local-cluster.sh; dropped, it stops, also when an assertion fails.
struct Cluster {
    dir: PathBuf,
}

impl Cluster {
    fn start(dir: PathBuf) -> Cluster {
        let cluster = Cluster { dir }; // first, so that a failed start stops what it started
        let out = Command::new(script("local-cluster.sh"))
            .arg("start")
            .arg(&cluster.dir)
            .output()
            .expect("local-cluster.sh runs");
        ok(&out);
        cluster
    }

    /// A Slurm command, pointed at this cluster.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", self.dir.join("slurm.conf"));
        c
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(script("local-cluster.sh"))
            .arg("stop")
            .arg(&self.dir)
            .status();
    }
}

/// Every log in `dirs` (the daemons', the jobs'), for a failure message.
fn logs(dirs: &[&Path]) -> String {
    let mut text = String::new();
    for dir in dirs {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".log") || name.ends_with(".out") {
                let body = std::fs::read_to_string(e.path()).unwrap_or_default();
                text += &format!("== {}\n{body}\n", e.path().display());
            }
        }
    }
    text
}

#[test]
fn sharded_walk_on_a_real_slurm_cluster_merges_to_the_unsharded_run() {
    if let Some(why) = missing() {
        if std::env::var("LANDSCAPE_REQUIRE_SLURM").is_ok_and(|v| v == "1") {
            panic!("LANDSCAPE_REQUIRE_SLURM=1 but no Slurm cluster can run: {why}");
        }
        eprintln!("skipping the Slurm test: {why}");
        return;
    }
    // Daemons that an interrupted earlier run of this test left behind go first.
    let _ = Command::new(script("local-cluster.sh"))
        .arg("stop")
        .arg(Path::new(env!("CARGO_TARGET_TMPDIR")).join("slurm/cluster"))
        .status();
    let cluster = Cluster::start(scratch("slurm", "cluster"));
    let (sweep, merged) = (scratch("slurm", "sweep"), scratch("slurm", "merged"));
    let daemon_logs = cluster.dir.join("log");
    let all_logs = || logs(&[daemon_logs.as_path(), sweep.as_path()]);

    let out = cluster
        .command(script("submit.sh"))
        .args(["--shards", "4", "--dir"])
        .arg(&sweep)
        .arg("--out")
        .arg(&merged)
        .args(["--landscape", env!("CARGO_BIN_EXE_landscape"), "--"])
        .args(WALK)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("submit.sh runs");
    ok(&out);
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    let (array, merge) = match printed.split_whitespace().collect::<Vec<_>>()[..] {
        ["array", array, "merge", merge] => (array.to_string(), merge.to_string()),
        _ => panic!("submit.sh printed {printed:?}, not `array ID merge ID`"),
    };

    // Until both jobs are gone: finished jobs leave squeue's default listing (pending, running,
    // completing), and once purged (MinJobAge) squeue rejects their ids. --jobs takes its list
    // only after '=' (its argument is optional).
    let jobs = format!("--jobs={array},{merge}");
    let t0 = Instant::now();
    loop {
        let q = cluster
            .command("squeue")
            .args(["-h", "-o", "%i %T %r", jobs.as_str()])
            .output()
            .expect("squeue runs");
        let (listed, err) = (
            String::from_utf8_lossy(&q.stdout),
            String::from_utf8_lossy(&q.stderr),
        );
        if listed.trim().is_empty() && (q.status.success() || err.contains("Invalid job id")) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(180),
            "the jobs did not finish in 180 s:\n{listed}{err}\n{}",
            all_logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "the sweep and its merge took {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    // Every task and the merge completed with status 0 (a merge cancelled for a failed shard
    // shows ExitCode=0:0 too), where Slurm still has their records.
    for id in [&array, &merge] {
        let show = cluster
            .command("scontrol")
            .args(["show", "job", id.as_str()])
            .output()
            .expect("scontrol runs");
        let text = String::from_utf8_lossy(&show.stdout);
        for word in text.split_whitespace() {
            let bad = word
                .strip_prefix("JobState=")
                .is_some_and(|s| s != "COMPLETED")
                || word.strip_prefix("ExitCode=").is_some_and(|c| c != "0:0");
            assert!(!bad, "job {id}: {word}\n{text}\n{}", all_logs());
        }
    }
    assert!(
        merged.join("run.json").is_file(),
        "no merged run in {}\n{}",
        merged.display(),
        all_logs()
    );
    for i in 0..4u64 {
        let shard = run_json(&sweep.join(format!("shard-{i}")));
        assert_eq!(shard["shard"]["index"].as_u64(), Some(i), "shard-{i}");
        assert_eq!(shard["shard"]["count"].as_u64(), Some(4), "shard-{i}");
    }

    // The same walk made whole, here.
    let whole = scratch("slurm", "whole");
    let whole_s = whole.to_str().expect("utf-8");
    ok(&landscape(
        &[&WALK[..], &["--out", whole_s, "--quiet"]].concat(),
    ));
    // Every file byte for byte, run.json but for timings and the merge's record.
    crate::shard::assert_same_run(&whole, &merged);
}

/// Runs sweep.sbatch as Slurm would run array task `id` of `count` (no cluster needed: the
/// script reads the array's variables), for the walk `args`.
fn sweep_task(sweep: &Path, id: u32, count: u32, args: &[&str]) -> std::process::Output {
    let out = Command::new("bash")
        .arg(script("sweep.sbatch"))
        .args(args)
        .env("SWEEP_DIR", sweep)
        .env("LANDSCAPE", env!("CARGO_BIN_EXE_landscape"))
        .env("SLURM_ARRAY_TASK_ID", id.to_string())
        .env("SLURM_ARRAY_TASK_MIN", "0")
        .env("SLURM_ARRAY_TASK_MAX", (count - 1).to_string())
        .env("SLURM_ARRAY_TASK_COUNT", count.to_string())
        .env("SLURM_ARRAY_TASK_STEP", "1")
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .expect("bash runs sweep.sbatch");
    ok(&out);
    out
}

#[test]
fn a_requeued_task_resumes_its_shard_whether_it_was_stopped_or_killed() {
    // What a requeued task finds: its shard stopped in place by SIGTERM (preemption, time limit;
    // Ctrl-C's path), or an unfinished directory beside it after SIGKILL. sweep.sbatch resumes
    // either, and the shards merge to the whole run.
    use crate::resume::{spawn, wait_for_checkpoint};
    let root = scratch("slurm", "requeue");
    let sweep = root.join("sweep");
    std::fs::create_dir_all(&sweep).expect("sweep dir");
    let walk = [
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
    ];
    for (id, signal) in [(1u32, "-TERM"), (0, "-KILL")] {
        let target = sweep.join(format!("shard-{id}"));
        let shard = format!("{id}/2");
        let t = target.to_str().expect("utf-8");
        let mut child = spawn(&[&walk[..], &["--shard", &shard, "--quiet", "--out", t]].concat());
        wait_for_checkpoint(&target, &mut child);
        let sent = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        child.wait().expect("exit");
        let stopped_in_place = target.join("checkpoint.json").is_file();
        assert_eq!(stopped_in_place, signal == "-TERM", "{signal}");
        let out = sweep_task(&sweep, id, 2, &walk);
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.contains("resuming"),
            "task {id} did not resume: {said}"
        );
        let record = run_json(&target);
        assert_eq!(record["shard"]["index"].as_u64(), Some(u64::from(id)));
    }
    let (whole, merged) = (root.join("whole"), root.join("merged"));
    let w = whole.to_str().expect("utf-8");
    ok(&landscape(&[&walk[..], &["--quiet", "--out", w]].concat()));
    let s = |i: u32| sweep.join(format!("shard-{i}")).display().to_string();
    ok(&landscape(&[
        "merge",
        &s(0),
        &s(1),
        "--quiet",
        "--out",
        merged.to_str().expect("utf-8"),
    ]));
    crate::shard::assert_same_run(&whole, &merged);
}
