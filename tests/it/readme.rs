//! README's `landscape grid` examples, run as written (into a scratch directory).

use std::path::Path;
use std::process::Command;

/// The shell commands of README.md's code blocks that start with `landscape <command>`, with
/// line continuations joined.
fn readme_commands(command: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let joined = text.replace("\\\n", " ");
    let prefix = format!("landscape {command} ");
    joined
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with(&prefix))
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

#[test]
fn readme_grid_examples_run_as_written() {
    let commands = readme_commands("grid");
    assert!(
        commands.len() >= 3,
        "README shows grid examples: {commands:?}"
    );
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("readme");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).expect("scratch");
    for args in commands {
        // Each example names its own --out under runs/; run it inside the scratch directory.
        let out = Command::new(env!("CARGO_BIN_EXE_landscape"))
            .args(&args)
            .args(["--backend", "cpu", "--quiet"])
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
}
