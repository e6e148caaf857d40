//! Ctrl-C (SIGINT, and SIGTERM): a command that can stop cleanly (`walk`, `map`) polls
//! `requested()` between blocks of work, saves a checkpoint and says how to resume; any other
//! command, or a second Ctrl-C, stops at once, removing its unfinished output directory.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);
static POLLERS: AtomicUsize = AtomicUsize::new(0);
static STAGING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Installs the handler (once, from `main`). Without it, Ctrl-C kills the process as usual.
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        let again = REQUESTED.swap(true, Ordering::SeqCst);
        if again || POLLERS.load(Ordering::SeqCst) == 0 {
            remove_staging();
            eprintln!("\ninterrupted");
            std::process::exit(130);
        }
        eprintln!(
            "\ninterrupted: finishing the current block of walkers and saving a checkpoint \
             (Ctrl-C again stops at once)"
        );
    });
}

/// Whether Ctrl-C was pressed.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// While alive, Ctrl-C only sets `requested()`: the holder stops cleanly by itself.
pub struct Polling(());

impl Polling {
    /// Starts polling.
    pub fn start() -> Polling {
        POLLERS.fetch_add(1, Ordering::SeqCst);
        Polling(())
    }
}

impl Drop for Polling {
    fn drop(&mut self) {
        POLLERS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Records an unfinished output directory, removed if the process is stopped at once.
pub fn register_staging(path: PathBuf) {
    if let Ok(mut v) = STAGING.lock() {
        v.push(path);
    }
}

/// Forgets `path` (moved into place, or removed by its owner).
pub fn unregister_staging(path: &std::path::Path) {
    if let Ok(mut v) = STAGING.lock() {
        v.retain(|p| p != path);
    }
}

fn remove_staging() {
    if let Ok(v) = STAGING.lock() {
        for p in v.iter() {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}
