//! The Python module (python/): built with maturin into a virtual environment under target/,
//! then its pytest suite, which compares it with this build's command line. Skipped where
//! python3 cannot make a virtual environment or pip cannot install maturin, numpy, pytest and
//! matplotlib (for the example's picture),
//! unless LANDSCAPE_REQUIRE_PYTHON=1 (as in CI) makes that a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `cmd`, returning its combined output on failure.
fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?}: exit {:?}\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The virtual environment with maturin, numpy and pytest, made once.
fn venv(dir: &Path) -> Result<PathBuf, String> {
    let python = dir.join("bin").join("python");
    if !python.exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(dir))?;
    }
    run(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "maturin>=1.7,<2",
        "numpy",
        "pytest",
        "matplotlib",
    ]))?;
    Ok(python)
}

fn skip_or_fail(why: String) {
    if std::env::var("LANDSCAPE_REQUIRE_PYTHON").is_ok_and(|v| v == "1") {
        panic!("LANDSCAPE_REQUIRE_PYTHON=1 but the Python module's environment failed: {why}");
    }
    eprintln!("skipping the Python module's tests: {why}");
}

#[test]
fn the_python_module_builds_and_passes_its_tests() {
    let root = root();
    let target = root.join("target");
    let env_dir = target.join("python-venv");
    let python = match venv(&env_dir) {
        Ok(p) => p,
        Err(why) => return skip_or_fail(why),
    };
    // maturin builds into the workspace's target directory, reusing its compiled crates.
    let built = run(Command::new(env_dir.join("bin").join("maturin"))
        .args(["develop", "--release", "--quiet", "-m"])
        .arg(root.join("python").join("Cargo.toml"))
        .env("VIRTUAL_ENV", &env_dir)
        .env("CARGO_TARGET_DIR", &target));
    if let Err(why) = built {
        panic!("maturin could not build the module: {why}");
    }
    let tests = run(Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(root.join("python").join("tests"))
        .env("LANDSCAPE_BIN", env!("CARGO_BIN_EXE_landscape"))
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .current_dir(&target));
    if let Err(why) = tests {
        panic!("the Python module's tests failed: {why}");
    }
}
