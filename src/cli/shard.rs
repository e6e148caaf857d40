//! What a shard (`--shard i/N`) writes: the block's rows of the run's arrays and a run.json that
//! says where the block lies and which specification it belongs to (its fingerprint).

use crate::backend::BackendInfo;
use crate::error::Result;
use crate::npy;
use crate::output::run_dir::RunDir;
use crate::record::{self, ArrayRecord, FORMAT, RunRecord, ShardPlace, ShardRecord, ShardTimings};
use crate::run::checkpoint::remove_checkpoint;
use crate::run::shard::{Shard, fingerprint};
use crate::run::{Request, Walk};
use crate::spec::data::Dataset;
use crate::spec::model::Model;
use crate::spec::slice::Slice;
use std::collections::BTreeMap;
use std::path::Path;

/// The per-walker flags of `--extend` (1: continued by gradient descent past `--steps`), which
/// the merge's analysis needs to mark the walkers it did not continue further.
pub const EXTENDED_MEANING: &str = "1: the walker was still moving at --steps and continued by gradient descent (--extend); 0: not";

/// The fingerprint of `request` (any command) with its resolved data and slice.
pub fn fingerprint_of(request: &Request, data: &Dataset, slice: Option<&Slice>) -> String {
    // A request always serialises (plain fields, no maps with non-string keys).
    let value = serde_json::to_value(request).unwrap_or_default();
    fingerprint(&value, data, slice)
}

/// Where `shard` lies among `total` `items`, with the specification's fingerprint.
pub fn place(shard: Shard, total: u64, items: &str, fingerprint: String) -> ShardPlace {
    let block = shard.block(total);
    ShardPlace {
        index: shard.index,
        count: shard.count,
        first: block.start,
        len: block.end - block.start,
        total,
        items: items.to_string(),
        fingerprint,
    }
}

/// Writes extended.npy (per walker of the block, whether `--extend` continued it) when the walk
/// was extended.
pub fn write_extended(
    out: &RunDir,
    walk: &Walk,
    shape: &[usize],
) -> Result<Option<(String, ArrayRecord)>> {
    let Some(e) = &walk.extension else {
        return Ok(None);
    };
    let flags: Vec<u8> = e.continued.iter().map(|&c| u8::from(c)).collect();
    npy::write(&out.file("extended.npy"), shape, &flags)?;
    let mut a = ArrayRecord::new("extended.npy", shape, "uint8");
    a.meaning = Some(EXTENDED_MEANING.to_string());
    Ok(Some(("extended".to_string(), a)))
}

/// Writes a shard's run.json.
pub fn write_record(
    out: &RunDir,
    request: &Request,
    place: ShardPlace,
    model: &Model,
    backend: BackendInfo,
    timings: ShardTimings,
    arrays: BTreeMap<String, ArrayRecord>,
) -> Result<()> {
    RunRecord::Shard(Box::new(ShardRecord {
        format: FORMAT,
        landscape_version: record::version(),
        command: request.command(),
        complete: true,
        shard: place,
        spec: request.clone(),
        loss_definition: record::LOSS_DEFINITION.to_string(),
        parameters: model.parameter_names(),
        backend,
        timings,
        arrays,
    }))
    .write(&out.file("run.json"))
}

/// Writes the run.json of a walk's or map's shard and lands it: its checkpoint removed, the
/// unfinished directory of an interrupted run it resumed cleaned up, its counts printed.
pub fn land_walked(
    out: RunDir,
    request: &Request,
    model: &Model,
    backend: BackendInfo,
    walk: &Walk,
    (place, arrays): (ShardPlace, BTreeMap<String, ArrayRecord>),
    (checkpoint_dir, quiet): (Option<&Path>, bool),
) -> Result<()> {
    let timings = ShardTimings {
        compute_s: walk.walk_s,
        extend_s: walk.extension.as_ref().map(|e| e.seconds),
    };
    write_record(
        &out,
        request,
        place.clone(),
        model,
        backend,
        timings,
        arrays,
    )?;
    remove_checkpoint(out.staging())?;
    let dir = out.finish()?;
    crate::interrupt::clear_landing();
    super::stopped::finish_replay(checkpoint_dir, &dir);
    if !quiet {
        super::common::print_counts(&walk.counts());
    }
    announce(&place, &dir, quiet);
    Ok(())
}

/// What a finished shard prints: where its block lies and how to join it with the others.
pub fn announce(place: &ShardPlace, dir: &Path, quiet: bool) {
    if !quiet {
        eprintln!(
            "shard {}/{}: {} {}..{} of {} done; join the shards with `landscape merge DIR... --out DIR`",
            place.index,
            place.count,
            place.items,
            place.first,
            place.first + place.len,
            place.total
        );
        println!("{}", dir.display());
    }
}
