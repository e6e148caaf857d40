//! Memory needed by a run, estimated before it starts, so that a request that cannot fit is
//! refused at once with the estimate and a way out instead of failing (or swapping) hours in.

use crate::error::{Error, Result};

/// Bytes of memory available to a new allocation: `MemAvailable` of /proc/meminfo, or None where
/// that cannot be read (the check is then skipped).
pub fn available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

/// Refuses a run that needs `needed` bytes when less is available (with a tenth kept for the
/// rest of the system), naming `flag` and `way_out`.
pub fn check(flag: &str, what: &str, needed: u64, way_out: &str) -> Result<()> {
    check_against(available(), flag, what, needed, way_out)
}

/// `check` against a given amount of available memory.
pub fn check_against(
    available: Option<u64>,
    flag: &str,
    what: &str,
    needed: u64,
    way_out: &str,
) -> Result<()> {
    match available {
        Some(avail) if needed > avail / 10 * 9 => Err(Error::spec(
            flag,
            format!(
                "{what} needs about {:.1} GiB of memory and {:.1} GiB is available; {way_out}",
                gib(needed),
                gib(avail)
            ),
        )),
        _ => Ok(()),
    }
}

/// Bytes a walk of `walkers` walkers of `p` parameters holds at its peak: the float32 starts,
/// ends and per-walker results, the checkpoint copy, and the basin analysis's float64 ends.
pub fn walk_bytes(walkers: u64, p: u64, trace_bytes: u64, basins: bool) -> u64 {
    let per_walker = 4 * (3 * p + 8) + if basins { 8 * p + 16 } else { 0 };
    walkers
        .saturating_mul(per_walker)
        .saturating_add(trace_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_beyond_the_memory_available_is_refused_with_the_estimate() {
        let need = walk_bytes(1 << 30, 13, 0, true);
        let e = check_against(
            Some(8 << 30),
            "--walkers",
            "a walk of 2^30 walkers",
            need,
            "use fewer walkers",
        )
        .expect_err("refused");
        let text = e.to_string();
        assert!(
            text.starts_with("--walkers: a walk of 2^30 walkers needs about"),
            "{text}"
        );
        assert!(
            text.contains("8.0 GiB is available; use fewer walkers"),
            "{text}"
        );
        assert!(check_against(Some(8 << 30), "--walkers", "x", 1 << 20, "").is_ok());
        assert!(check_against(None, "--walkers", "x", u64::MAX, "").is_ok());
        assert!(available().is_none_or(|a| a > 0));
    }
}
