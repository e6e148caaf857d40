//! `landscape boundary DIR`: the boundary statistics of a finished map, from its labels.npy and
//! status.npy (a map writes them itself; this recomputes them, with another box for the entropy).

use crate::analysis::boundary::ENTROPY_BOX;
use crate::error::Error;
use crate::npy;
use crate::record::RunRecord;
use clap::Args;
use std::path::PathBuf;

/// Flags of `landscape boundary`.
#[derive(Debug, Clone, Args)]
pub struct BoundaryArgs {
    /// A run directory written by `landscape map` (or `landscape merge` of a map's shards).
    dir: PathBuf,
    /// The side, in pixels, of the basin entropy's boxes.
    #[arg(long = "box", value_name = "PIXELS", default_value_t = ENTROPY_BOX, allow_negative_numbers = true)]
    box_pixels: usize,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

/// Runs `landscape boundary`.
pub fn run(args: BoundaryArgs) -> anyhow::Result<()> {
    let run_json = args.dir.join("run.json");
    let mut record = match RunRecord::read(&run_json)? {
        RunRecord::Map(r) => r,
        RunRecord::Shard(s) => {
            return Err(Error::file(
                &run_json,
                format!(
                    "records shard {}/{} of a `{}`; join the shards with `landscape merge` first (the merged map has its boundary.json)",
                    s.shard.index, s.shard.count, s.command
                ),
            )
            .into());
        }
        other => {
            return Err(Error::file(
                &run_json,
                format!(
                    "records a `{}` run{}; expected a finished `map`",
                    other.command(),
                    if other.complete() {
                        ""
                    } else {
                        " that did not finish"
                    }
                ),
            )
            .into());
        }
    };
    let [rows, cols] = [record.axes[0].n, record.axes[1].n];
    if args.box_pixels == 0 || args.box_pixels > rows.min(cols) {
        return Err(Error::spec(
            "--box",
            format!(
                "{}; expected 1 to {} pixels (the map is {rows} × {cols})",
                args.box_pixels,
                rows.min(cols)
            ),
        )
        .into());
    }
    let labels_path = args.dir.join("labels.npy");
    let (labels, shape) = npy::read_exact::<i32>(&labels_path)?;
    if shape != [rows, cols, 2] {
        return Err(Error::file(
            &labels_path,
            format!("shape {shape:?}; expected [{rows}, {cols}, 2] as run.json's axes say"),
        )
        .into());
    }
    let status_path = args.dir.join("status.npy");
    let (status, shape) = npy::read_exact::<u8>(&status_path)?;
    if shape != [rows, cols] {
        return Err(Error::file(
            &status_path,
            format!("shape {shape:?}; expected [{rows}, {cols}] as run.json's axes say"),
        )
        .into());
    }
    let status: Vec<u32> = status.into_iter().map(u32::from).collect();
    let (_, summary) = crate::output::boundary::write_with_box(
        &args.dir,
        [rows, cols],
        &labels,
        &status,
        args.box_pixels,
    )?;
    if !args.quiet {
        println!("{}", crate::output::boundary::line(&summary));
    }
    record.summary.boundary = Some(summary);
    RunRecord::Map(record).write(&run_json)?;
    Ok(())
}
