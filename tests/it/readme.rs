//! README's `landscape` examples, run as written and in order (into a scratch directory).

use std::path::Path;
use std::process::Command;

/// The shell commands of README.md's code blocks that start with `landscape <command>`, with
/// line continuations joined.
fn readme_commands(command: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let joined = text.replace("\\\n", " ");
    // An empty `command` takes every command.
    let prefix = format!("landscape {command}");
    joined
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with(&prefix) && l.len() > "landscape ".len())
        .filter(|l| command.is_empty() || l[prefix.len()..].starts_with(' '))
        .map(|l| {
            // Drop a trailing comment; strip the single quotes the shell would remove.
            let l = l.split(" #").next().unwrap_or(l);
            l.split_whitespace()
                .skip(1)
                .map(|w| w.trim_matches('\'').to_string())
                .collect()
        })
        .collect()
}

/// The flags a README example gets in a test: the CPU backend (unless the example names a
/// backend or repeats a recorded run, which keeps its own) and `--quiet`, where the command
/// takes them.
fn test_flags(args: &[String]) -> Vec<&'static str> {
    let has = |flag: &str| args.iter().any(|a| a == flag);
    let mut extra = Vec::new();
    let computes = matches!(
        args[0].as_str(),
        "grid" | "walk" | "map" | "demo" | "bench" | "connect"
    );
    if computes && !has("--backend") && !has("--config") && !has("--resume") {
        extra.extend(["--backend", "cpu"]);
    }
    if matches!(
        args[0].as_str(),
        "grid" | "walk" | "map" | "demo" | "basins" | "connect" | "graph" | "merge" | "boundary"
    ) {
        extra.push("--quiet");
    }
    extra
}

#[test]
fn readme_examples_run_as_written_in_order() {
    let grids = readme_commands("grid");
    assert!(grids.len() >= 3, "README shows grid examples: {grids:?}");
    // Every example, in the README's order: later ones read what earlier ones wrote
    // (`basins runs/teacher-walk`, `walk --config runs/teacher-walk`).
    let commands = readme_commands("");
    for command in [
        "grid", "walk", "basins", "connect", "graph", "map", "demo", "bench", "adapters", "merge",
        "boundary",
    ] {
        assert!(
            commands.iter().any(|c| c[0] == command),
            "README shows `landscape {command}`"
        );
    }
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("readme");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).expect("scratch");
    for args in commands {
        // Each example names its own --out under runs/; run it inside the scratch directory.
        let out = Command::new(env!("CARGO_BIN_EXE_landscape"))
            .args(&args)
            .args(test_flags(&args))
            .current_dir(&scratch)
            .env("XDG_RUNTIME_DIR", std::env::temp_dir())
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "landscape {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // `basins` on the walk finds the teacher's minimum in all its copies, as the README says.
    let basins =
        landscape::record::BasinsRecord::read(&scratch.join("runs/teacher-walk/basins.json"))
            .unwrap_or_else(|e| panic!("{e}"));
    let first = &basins.classes[0];
    assert_eq!(
        (first.copies_found, first.copies_expected),
        (48, Some(48.0)),
        "the README's walk finds the minimum in all 48 copies"
    );
}
