//! Progress bars for long runs: shown on a terminal once a run has taken a second, never with
//! `--quiet` or when standard error is not a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A progress bar counting `unit`s of work.
pub struct Progress {
    bar: ProgressBar,
    start: Instant,
    enabled: bool,
    shown: AtomicBool,
}

impl Progress {
    /// A bar for `total` units, drawn only if not `quiet` and standard error is a terminal.
    pub fn new(total: u64, unit: &str, quiet: bool) -> Progress {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        let template = format!(
            "{{elapsed_precise}} {{wide_bar}} {{percent}}% {{human_pos}}/{{human_len}} {unit} ({{per_sec}}, {{eta}} left)"
        );
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style);
        }
        Progress {
            bar,
            start: Instant::now(),
            enabled: !quiet && std::io::stderr().is_terminal(),
            shown: AtomicBool::new(false),
        }
    }

    /// Sets the number of units to `total`, for work whose size is known only once it starts.
    pub fn set_total(&self, total: u64) {
        self.bar.set_length(total);
    }

    /// Records `n` more units done.
    pub fn add(&self, n: u64) {
        self.bar.inc(n);
        if self.enabled
            && self.start.elapsed() > Duration::from_secs(1)
            && !self.shown.swap(true, Ordering::Relaxed)
        {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    /// Removes the bar from the screen.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
