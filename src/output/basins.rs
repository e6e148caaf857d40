//! basins.json, basins.csv and basin.npy.

use crate::analysis::basins::{Continued, Report};
use crate::error::{Error, Result};
use crate::npy;
use crate::output::write_atomically;
use crate::record::BasinsRecord;
use crate::spec::model::Model;
use std::path::Path;

/// Writes the outputs of a basin analysis into `dir`: basins.json, basins.csv and the labels
/// (class and copy per walker) as `labels_file` with the given leading shape (M for a walk,
/// N₁ × N₂ for a map), a trailing axis of 2 added.
pub fn write(
    dir: &Path,
    model: &Model,
    report: &Report,
    labels_file: &str,
    shape: &[usize],
    extended: Option<&[bool]>,
) -> Result<()> {
    let record = BasinsRecord::of(report, model.parameter_names(), labels_file);
    crate::record::write_json(&dir.join("basins.json"), &record)?;
    let mut csv = String::from(
        "id,kind,loss,grad_norm,index,nullity,walkers,fraction,stabilizer_order,copies_expected,copies_found,uniformity_p,min_eigenvalue\n",
    );
    for c in &report.classes {
        let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
        csv.push_str(&format!(
            "{},{},{:e},{:e},{},{},{},{},{},{},{},{},{}\n",
            c.id,
            c.kind,
            c.loss,
            c.grad_norm,
            c.index,
            c.nullity,
            c.walkers,
            c.fraction,
            c.stabilizer_order,
            opt(c.copies_expected),
            c.copies_found,
            opt(c.uniformity_p),
            c.eigenvalues
                .first()
                .map_or(String::new(), |v| format!("{v:e}"))
        ));
    }
    write_atomically(&dir.join("basins.csv"), csv.as_bytes())?;
    let continued = continued_codes(report, extended);
    for (file, values) in [
        ("placement.npy", &report.placements),
        ("continued.npy", &continued),
    ] {
        let tmp = dir.join(format!("{file}.tmp-{}", std::process::id()));
        npy::write(&tmp, shape, values)?;
        std::fs::rename(&tmp, dir.join(file)).map_err(|source| Error::Io {
            path: dir.join(file),
            source,
        })?;
    }
    let tmp = dir.join(format!("{labels_file}.tmp-{}", std::process::id()));
    let mut full = shape.to_vec();
    full.push(2);
    npy::write(&tmp, &full, &report.labels)?;
    std::fs::rename(&tmp, dir.join(labels_file)).map_err(|source| Error::Io {
        path: dir.join(labels_file),
        source,
    })
}

/// Per walker, how it was continued (continued.npy): the analysis's code, or 1 (by gradient
/// descent, `--extend`) where the analysis did not continue it further.
pub fn continued_codes(report: &Report, extended: Option<&[bool]>) -> Vec<u8> {
    report
        .continued
        .iter()
        .enumerate()
        .map(|(w, &c)| {
            if c == Continued::No as u8 && extended.is_some_and(|e| e[w]) {
                Continued::Descent as u8
            } else {
                c
            }
        })
        .collect()
}
