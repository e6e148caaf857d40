//! basins.json, basins.csv and basin.npy.

use crate::analysis::basins::Report;
use crate::error::{Error, Result};
use crate::npy;
use crate::spec::model::Model;
use std::path::Path;

/// Writes a file through a temporary name beside it, so that a reader never sees half of it.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|source| Error::Io {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes the outputs of a basin analysis into `dir`: basins.json, basins.csv and the labels
/// (class and copy per walker) as `labels_file` with the given leading shape (M for a walk,
/// N₁ × N₂ for a map), a trailing axis of 2 added.
pub fn write(
    dir: &Path,
    model: &Model,
    report: &Report,
    labels_file: &str,
    shape: &[usize],
) -> Result<()> {
    let json = serde_json::json!({
        "group_order": report.group_order,
        "group_order_log10": report.group_order_log10,
        "cluster_cap": report.cluster_cap,
        "walkers": report.walkers,
        "parameters": model.parameter_names(),
        "classes": report.classes,
        "unassigned": report.unassigned,
        "kinds": {
            "minimum": "index 0, no zero eigenvalues beyond one per hidden ReLU unit (its rescaling)",
            "degenerate-minimum": "index 0 with further zero eigenvalues: a manifold of minima (copies not counted)",
            "saddle": "index k: k negative eigenvalues",
            "maximum": "every eigenvalue negative",
        },
        "labels": {"file": labels_file, "meaning": "int32, last axis (class id, copy id) of each walker, -1 where none"},
    });
    let text = serde_json::to_string_pretty(&json).map_err(|e| Error::Io {
        path: dir.join("basins.json"),
        source: e.into(),
    })?;
    write_atomically(&dir.join("basins.json"), text.as_bytes())?;
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
    let tmp = dir.join(format!("{labels_file}.tmp-{}", std::process::id()));
    let mut full = shape.to_vec();
    full.push(2);
    npy::write(&tmp, &full, &report.labels)?;
    std::fs::rename(&tmp, dir.join(labels_file)).map_err(|source| Error::Io {
        path: dir.join(labels_file),
        source,
    })
}
