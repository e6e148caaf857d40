//! Ctrl-C (SIGINT, and SIGTERM): a command that can stop cleanly (`walk`, `map`) polls
//! `requested()` between blocks of work, saves a checkpoint and says how to resume; any other
//! command, or a second Ctrl-C, stops at once: a run with a landing plan (a walk whose walkers are
//! all done, during the basin analysis) lands as interrupted, any other unfinished output
//! directory is removed.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);
static POLLERS: AtomicUsize = AtomicUsize::new(0);
static STAGING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static LANDING: Mutex<Option<Landing>> = Mutex::new(None);

/// How to land an unfinished run when Ctrl-C stops the process at once: its record written into
/// the unfinished directory, which then replaces the target.
pub struct Landing {
    /// The unfinished directory.
    pub staging: PathBuf,
    /// Where it lands.
    pub target: PathBuf,
    /// run.json of the interrupted run.
    pub record: String,
    /// What to tell the user.
    pub message: String,
}

/// Sets how the current run lands if stopped at once (replacing any earlier plan).
pub fn land_on_interrupt(landing: Landing) {
    if let Ok(mut slot) = LANDING.lock() {
        *slot = Some(landing);
    }
}

/// Forgets the landing plan (the run landed by itself).
pub fn clear_landing() {
    if let Ok(mut slot) = LANDING.lock() {
        *slot = None;
    }
}

/// Lands the run as planned; false if there is no plan or it failed.
fn land() -> bool {
    let Some(l) = LANDING.lock().ok().and_then(|mut s| s.take()) else {
        return false;
    };
    if !l.staging.is_dir() || std::fs::write(l.staging.join("run.json"), &l.record).is_err() {
        return false;
    }
    if l.target.exists() && std::fs::remove_dir_all(&l.target).is_err() {
        return false;
    }
    if std::fs::rename(&l.staging, &l.target).is_err() {
        return false;
    }
    unregister_staging(&l.staging);
    eprintln!("\n{}", l.message);
    true
}

/// Installs the handler (once, from `main`). Without it, Ctrl-C kills the process as usual.
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        let again = REQUESTED.swap(true, Ordering::SeqCst);
        if again || POLLERS.load(Ordering::SeqCst) == 0 {
            if !land() {
                eprintln!("\ninterrupted");
            }
            remove_staging();
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

/// Asks the walks in blocks to stop, as Ctrl-C does where `install` handles it (the Python
/// module calls this when Python sees Ctrl-C).
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Forgets a request to stop, so that the next run of this process walks (the Python module's
/// next call).
pub fn clear() {
    REQUESTED.store(false, Ordering::SeqCst);
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
