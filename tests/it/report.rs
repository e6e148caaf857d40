//! Basin maps, pictures and the demo's report.

use crate::common::{cpu, landscape, run_json};
use landscape::analysis::basins::analyse_walk;
use landscape::backend::Backend;
use landscape::record::{BasinsRecord, RunRecord};
use landscape::run::Command;
use landscape::spec::data::DataSource;
use landscape::spec::model::{Activation, Model};
use landscape::spec::slice::build_slice;
use landscape::spec::walk::{Status, WalkSettings};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    crate::common::scratch("report", name)
}

/// Distinct colours of a PNG: a blank or one-colour picture has very few.
fn colours(path: &Path) -> (u32, u32, usize) {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    let set: HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    (img.width(), img.height(), set.len())
}

fn int32s(path: &Path) -> Vec<i32> {
    let bytes = std::fs::read(path).expect("npy");
    let header = 10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    bytes[header..]
        .chunks(4)
        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[test]
fn map_labels_agree_with_walk_and_basins_on_the_same_starts() {
    let dir = scratch("map");
    let axes = ["w1[0,0]=-4:4:14", "w1[1,1]=-4:4:11"];
    let out = landscape(&[
        "map",
        "--model",
        "2-2-1",
        "--data",
        "teacher:n=32,seed=3",
        "--origin",
        "teacher",
        "--axis",
        axes[0],
        "--axis",
        axes[1],
        "--lr",
        "0.1",
        "--momentum",
        "0.9",
        "--steps",
        "2000",
        "--tol",
        "1e-6",
        "--backend",
        "cpu",
        "--out",
        dir.to_str().expect("utf-8"),
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let labels = int32s(&dir.join("labels.npy"));
    assert_eq!(labels.len(), 14 * 11 * 2);
    // The same starts through the library: lattice points rounded to float32.
    let m = Model::new("2-2-1", Activation::Tanh, Activation::Linear, true).expect("model");
    let src = DataSource::parse("teacher:n=32,seed=3", &m).expect("data");
    let slice = build_slice(
        &m,
        src.teacher.as_ref(),
        Some("teacher"),
        &axes.map(String::from),
        None,
    )
    .expect("slice");
    let starts: Vec<f32> = (0..slice.len())
        .flat_map(|g| slice.point(g))
        .map(|v| v as f32)
        .collect();
    let s = WalkSettings {
        lr: 0.1,
        momentum: 0.9,
        steps: 2000,
        tol: 1e-6,
        diverge: 1e4,
    };
    let walked = cpu(0)
        .walk(&m, &src.data, &starts, &s, None, &|_| {})
        .expect("walk");
    let report = analyse_walk(&m, &src.data, &walked.endpoints, &walked.status);
    assert_eq!(labels, report.labels);
    // run.json counts the walkers by status, as walk's does.
    let counts = &run_json(&dir)["summary"]["counts"];
    for s in Status::ALL {
        let want = walked.status.iter().filter(|&&c| c == s as u32).count();
        assert_eq!(counts[s.name()], want, "{}", s.name());
    }
    let (w, h, n) = colours(&dir.join("map.png"));
    assert!(w >= 600 && h >= 400, "{w}×{h}");
    assert!(
        n >= 4,
        "a map whose basins differ has several colours, found {n}"
    );
    for f in [
        "steps.npy",
        "status.npy",
        "loss.npy",
        "basins.json",
        "basins.csv",
        "run.json",
    ] {
        assert!(dir.join(f).exists(), "{f}");
    }
    for color in ["class", "loss", "steps", "status"] {
        let d = scratch(&format!("map-{color}"));
        let out = landscape(&[
            "map",
            "--model",
            "2-2-1",
            "--data",
            "xor:pm",
            "--origin",
            "random:3",
            "--axis",
            "w1[0,0]=-3:3:9",
            "--axis",
            "b1[1]=-3:3:7",
            "--steps",
            "300",
            "--color",
            color,
            "--backend",
            "cpu",
            "--out",
            d.to_str().expect("utf-8"),
            "--quiet",
        ]);
        assert!(
            out.status.success(),
            "--color {color}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(colours(&d.join("map.png")).2 >= 3, "--color {color}");
    }
    let bad = landscape(&[
        "map",
        "--model",
        "2-2-1",
        "--data",
        "xor",
        "--axis",
        "w1[0,0]=-3:3:9",
        "--out",
        dir.join("x").to_str().expect("utf-8"),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("exactly 2 axes"));
}

#[test]
fn quick_demo_writes_a_report_whose_pictures_exist() {
    let dir = scratch("demo");
    let out = landscape(&[
        "demo",
        "--quick",
        "--backend",
        "cpu",
        "--out",
        dir.to_str().expect("utf-8"),
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        dir.join("REPORT.md").to_str().expect("utf-8")
    );
    let md = std::fs::read_to_string(dir.join("REPORT.md")).expect("REPORT.md");
    let pictures: Vec<&str> = md
        .split("](")
        .skip(1)
        .filter_map(|s| s.split(')').next())
        .collect();
    assert!(pictures.len() >= 4, "{pictures:?}");
    for p in &pictures {
        let (w, h, n) = colours(&dir.join(p));
        assert!(w > 300 && h > 300 && n > 20, "{p}: {w}×{h}, {n} colours");
    }
    for claim in [
        "t = -1.00",
        "t = +1.00",
        "t = +0.00",
        "1 class",
        "of 48 copies",
        "least-squares",
    ] {
        assert!(md.contains(claim), "the report states {claim}");
    }
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert_eq!(
        html.matches("data:image/png;base64,").count(),
        pictures.len(),
        "pictures embedded"
    );
    // Each step is a run directory whose records read through their types, as any command's.
    for (step, command) in [
        ("seed", Command::Grid),
        ("seed-plane", Command::Grid),
        ("prediction", Command::Grid),
        ("regression", Command::Walk),
        ("teacher", Command::Walk),
        ("map", Command::Map),
    ] {
        let record =
            RunRecord::read(&dir.join(step).join("run.json")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(record.command(), command, "{step}");
        assert!(record.complete(), "{step}");
        if command != Command::Grid {
            let basins = BasinsRecord::read(&dir.join(step).join("basins.json"))
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(!basins.classes.is_empty(), "{step}");
        }
    }
    // The record holds all a step was asked for: `--config` repeats it exactly.
    let again = scratch("demo-teacher-again");
    let out = landscape(&[
        "walk",
        "--config",
        dir.join("teacher").to_str().expect("utf-8"),
        "--out",
        again.to_str().expect("utf-8"),
        "--force",
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in ["starts.npy", "endpoints.npy", "basin.npy"] {
        assert_eq!(
            std::fs::read(dir.join("teacher").join(f)).expect("demo's"),
            std::fs::read(again.join(f)).expect("repeat's"),
            "{f}"
        );
    }
}
