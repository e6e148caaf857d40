//! Shards: block i of N of a run's walkers or lattice points. A walker's start and a lattice
//! point are pure functions of (specification, seed, global index), and no walker or point
//! depends on another, so N processes that each compute one contiguous block compute, together,
//! exactly the numbers of one process computing all of them; `landscape merge` joins their run
//! directories into the unsharded one.
//!
//! The shard is taken from the command line (`--shard i/N`) or from the scheduler that started
//! the process (`--shard auto`): a Slurm job array or a Kubernetes indexed job.

use crate::error::{Error, Result};
use crate::spec::data::Dataset;
use crate::spec::slice::{AxisKind, Slice};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// Which block of a run one process computes: block `index` (from 0) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    /// The block, from 0.
    pub index: u64,
    /// Blocks in all.
    pub count: u64,
}

/// The flag shards are given with, for messages.
pub const FLAG: &str = "--shard";

impl Shard {
    /// Parses `--shard i/N`, `--shard auto` or `--shard auto/N`, reading the scheduler's
    /// variables through `env`.
    pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Shard> {
        let text = text.trim();
        let (i, n) = text.split_once('/').unwrap_or((text, ""));
        let count = |n: &str| -> Result<u64> {
            match n.trim().parse::<u64>() {
                Ok(c) if c >= 1 => Ok(c),
                _ => Err(Error::spec(
                    FLAG,
                    format!(
                        "'{text}': the shard count N must be a whole number from 1; expected i/N (e.g. 0/4), auto or auto/N"
                    ),
                )),
            }
        };
        if i.trim() == "auto" {
            let given = if text.contains('/') {
                Some(count(n)?)
            } else {
                None
            };
            return from_scheduler(given, env);
        }
        if !text.contains('/') {
            return Err(Error::spec(
                FLAG,
                format!(
                    "'{text}'; expected i/N (block i, from 0, of N), auto (a Slurm job array) or auto/N (a Kubernetes indexed job of N completions)"
                ),
            ));
        }
        let n = count(n)?;
        let i = i.trim().parse::<u64>().map_err(|_| {
            Error::spec(
                FLAG,
                format!("'{text}': the shard index i must be a whole number from 0; expected i/N"),
            )
        })?;
        let shard = Shard { index: i, count: n };
        shard.check_index(&format!("'{text}'"))?;
        Ok(shard)
    }

    fn check_index(&self, source: &str) -> Result<()> {
        if self.index >= self.count {
            return Err(Error::spec(
                FLAG,
                format!(
                    "{source} names shard {} of {}; expected an index from 0 to {} (shards count from 0)",
                    self.index,
                    self.count,
                    self.count - 1
                ),
            ));
        }
        Ok(())
    }

    /// The block of `total` items this shard computes.
    pub fn block(&self, total: u64) -> Range<u64> {
        block(self.index, self.count, total)
    }

    /// Refuses more shards than `total` items (`what`: "walkers", "pixels", "lattice points"):
    /// every shard must have something to compute.
    pub fn check(&self, total: u64, what: &str) -> Result<()> {
        // A recorded request (--config, --resume) is checked as the flag is.
        if self.count == 0 {
            return Err(Error::spec(
                FLAG,
                format!("{}/0: the shard count must be at least 1", self.index),
            ));
        }
        self.check_index("the request")?;
        if self.count > total {
            return Err(Error::spec(
                FLAG,
                format!(
                    "{}/{}: {} shards of {total} {what}; expected at most one shard per item",
                    self.index, self.count, self.count
                ),
            ));
        }
        Ok(())
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Block `index` of `count` of `total` items: contiguous, in order, the first `total % count`
/// blocks one item longer than the others.
pub fn block(index: u64, count: u64, total: u64) -> Range<u64> {
    let (base, extra) = (total / count, total % count);
    let first = index * base + index.min(extra);
    first..first + base + u64::from(index < extra)
}

/// The shard the scheduler started this process as: a Slurm job array's task, or a
/// Kubernetes indexed job's completion (whose count, which the pod is not told, is `given`).
fn from_scheduler(given: Option<u64>, env: &dyn Fn(&str) -> Option<String>) -> Result<Shard> {
    let number = |name: &str| -> Result<Option<u64>> {
        match env(name) {
            None => Ok(None),
            Some(v) => v.trim().parse::<u64>().map(Some).map_err(|_| {
                Error::spec(
                    FLAG,
                    format!("auto: {name} is '{v}'; expected a whole number"),
                )
            }),
        }
    };
    if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
        let need = |name: &str| -> Result<u64> {
            number(name)?.ok_or_else(|| {
                Error::spec(
                    FLAG,
                    format!("auto: SLURM_ARRAY_TASK_ID is set but {name} is not; expected a Slurm job array (sbatch --array)"),
                )
            })
        };
        let (min, count) = (
            need("SLURM_ARRAY_TASK_MIN")?,
            need("SLURM_ARRAY_TASK_COUNT")?,
        );
        let step = number("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1);
        let max = number("SLURM_ARRAY_TASK_MAX")?;
        if step != 1 || max.is_some_and(|max| max + 1 != min + count) || count == 0 {
            return Err(Error::spec(
                FLAG,
                format!(
                    "auto: the job array's task ids are not contiguous (min {min}, max {}, step {step}, {count} tasks); submit it with a range such as --array=0-{}",
                    max.map_or("?".to_string(), |m| m.to_string()),
                    count.saturating_sub(1)
                ),
            ));
        }
        if count == 1 && id != 0 {
            // `sbatch --array=2` re-running task 2 of a larger array: auto would take it for the
            // whole run (shard 0 of 1).
            return Err(Error::spec(
                FLAG,
                format!(
                    "auto: the job array has one task (id {id}), so auto would compute the whole run as shard 0 of 1; to re-run one task of a larger array, give the shard as {id}/N"
                ),
            ));
        }
        let index = id.checked_sub(min).ok_or_else(|| {
            Error::spec(
                FLAG,
                format!("auto: SLURM_ARRAY_TASK_ID {id} is below SLURM_ARRAY_TASK_MIN {min}"),
            )
        })?;
        if let Some(n) = given
            && n != count
        {
            return Err(Error::spec(
                FLAG,
                format!("auto/{n}: the Slurm job array has {count} tasks, not {n}"),
            ));
        }
        let shard = Shard { index, count };
        shard.check_index("the Slurm job array")?;
        return Ok(shard);
    }
    if let Some(index) = number("JOB_COMPLETION_INDEX")? {
        let count = given.ok_or_else(|| {
            Error::spec(
                FLAG,
                "auto: JOB_COMPLETION_INDEX is set (a Kubernetes indexed job) but the pod is not told the number of completions; give it as --shard auto/N",
            )
        })?;
        let shard = Shard { index, count };
        shard.check_index("JOB_COMPLETION_INDEX")?;
        return Ok(shard);
    }
    Err(Error::spec(
        FLAG,
        "auto: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX (a Kubernetes indexed job) is set; give the shard as i/N",
    ))
}

/// The process's environment, for [`Shard::parse`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// FNV-1a over 128 bits: a stable hash that tells specifications apart (not a cryptographic one).
struct Fnv(u128);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0x6c62_272e_07bb_0142_62b8_2175_6295_c58d)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u128::from(b);
            self.0 = self
                .0
                .wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
        }
    }

    fn f64s(&mut self, values: &[f64]) {
        self.bytes(&(values.len() as u64).to_le_bytes());
        for v in values {
            self.bytes(&v.to_bits().to_le_bytes());
        }
    }
}

/// The fields of a request that say where or how it ran, not what it computes: left out of the
/// fingerprint.
pub const NOT_FINGERPRINTED: [&str; 4] = ["shard", "backend", "adapter", "cwd"];

/// The request as the fingerprint reads it: its JSON without [`NOT_FINGERPRINTED`].
pub fn fingerprinted(request: &serde_json::Value) -> serde_json::Value {
    let mut value = request.clone();
    if let Some(map) = value.as_object_mut() {
        for key in NOT_FINGERPRINTED {
            map.remove(key);
        }
    }
    value
}

/// The fingerprint of a resolved specification: its request (what was asked, without where it
/// ran, see [`NOT_FINGERPRINTED`]) and what the request's names resolved to — the data's
/// samples and, for a grid or map, the slice's origin and axes (read from files, perhaps) — as
/// 32 hex digits. Shards of one run have equal fingerprints.
pub fn fingerprint(request: &serde_json::Value, data: &Dataset, slice: Option<&Slice>) -> String {
    let mut h = Fnv::new();
    h.bytes(fingerprinted(request).to_string().as_bytes());
    h.f64s(data.x());
    h.f64s(data.y());
    if let Some(s) = slice {
        h.f64s(&s.origin);
        for a in &s.axes {
            match &a.kind {
                AxisKind::Set(p) => h.bytes(&(*p as u64).to_le_bytes()),
                AxisKind::Offset(d) => h.f64s(d),
                AxisKind::Rate(l) => h.bytes(format!("rate {l:?}").as_bytes()),
                AxisKind::Scale => h.bytes(b"scale"),
            }
            h.f64s(&[a.lo, a.hi, a.n as f64, f64::from(u8::from(a.log))]);
        }
    }
    format!("{:032x}", h.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn blocks_tile_the_items_in_order_with_sizes_differing_by_one_at_most() {
        for total in [1u64, 2, 7, 64, 1000, 1001] {
            for count in 1..=total.min(13) {
                let blocks: Vec<Range<u64>> = (0..count).map(|i| block(i, count, total)).collect();
                assert_eq!(blocks[0].start, 0);
                assert_eq!(blocks.last().expect("a block").end, total);
                for w in blocks.windows(2) {
                    assert_eq!(w[0].end, w[1].start);
                }
                let sizes: Vec<u64> = blocks.iter().map(|b| b.end - b.start).collect();
                let (lo, hi) = (sizes.iter().min(), sizes.iter().max());
                assert!(hi.zip(lo).is_some_and(|(h, l)| h - l <= 1 && *l >= 1));
            }
        }
        assert_eq!(block(1, 3, 10), 4..7);
    }

    #[test]
    fn shards_parse_from_the_flag_slurm_and_kubernetes() {
        let none = env(&[]);
        assert_eq!(
            Shard::parse("2/4", &none).expect("i/N"),
            Shard { index: 2, count: 4 }
        );
        for bad in ["4/4", "2", "-1/4", "a/4", "1/0", "1/", "auto/0", "auto"] {
            let e = Shard::parse(bad, &none).expect_err(bad).to_string();
            assert!(e.starts_with("--shard") && e.lines().count() == 1, "{e}");
        }
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "7"),
            ("SLURM_ARRAY_TASK_MIN", "5"),
            ("SLURM_ARRAY_TASK_MAX", "8"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_STEP", "1"),
        ]);
        assert_eq!(
            Shard::parse("auto", &slurm).expect("slurm"),
            Shard { index: 2, count: 4 }
        );
        assert!(Shard::parse("auto/4", &slurm).is_ok());
        assert!(Shard::parse("auto/5", &slurm).is_err());
        let stepped = env(&[
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "6"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
        ]);
        let e = Shard::parse("auto", &stepped)
            .expect_err("gaps")
            .to_string();
        assert!(e.contains("not contiguous"), "{e}");
        let single = env(&[
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_MIN", "2"),
            ("SLURM_ARRAY_TASK_MAX", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "1"),
        ]);
        let e = Shard::parse("auto", &single)
            .expect_err("one task")
            .to_string();
        assert!(e.contains("2/N"), "{e}");
        let k8s = env(&[("JOB_COMPLETION_INDEX", "3")]);
        assert_eq!(
            Shard::parse("auto/8", &k8s).expect("k8s"),
            Shard { index: 3, count: 8 }
        );
        let e = Shard::parse("auto", &k8s).expect_err("no N").to_string();
        assert!(e.contains("auto/N"), "{e}");
        assert!(Shard::parse("auto/3", &k8s).is_err(), "index 3 of 3");
    }

    #[test]
    fn the_fingerprint_ignores_where_a_run_ran_but_not_what_it_computes() {
        let data = Dataset::new(1, 1, vec![1.0], vec![2.0]).expect("data");
        let a = serde_json::json!({"model": "1-1-1", "seed": 1, "backend": "cpu", "cwd": "/a",
            "shard": {"index": 0, "count": 2}});
        let b = serde_json::json!({"model": "1-1-1", "seed": 1, "backend": "gpu", "cwd": "/b",
            "adapter": "0", "shard": {"index": 1, "count": 2}});
        let c = serde_json::json!({"model": "1-1-1", "seed": 2});
        assert_eq!(fingerprint(&a, &data, None), fingerprint(&b, &data, None));
        assert_ne!(fingerprint(&a, &data, None), fingerprint(&c, &data, None));
        let other = Dataset::new(1, 1, vec![1.0], vec![2.5]).expect("data");
        assert_ne!(fingerprint(&a, &data, None), fingerprint(&a, &other, None));
        assert_eq!(fingerprint(&a, &data, None).len(), 32);
    }
}
