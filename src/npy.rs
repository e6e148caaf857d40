//! `.npy` files: a fast little-endian writer for the run directory's arrays, and a reader for
//! user-supplied vectors (origins, directions, points) in float32 or float64.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

/// Element types the writer supports, with their numpy type strings.
pub trait NpyElement: bytemuck::Pod {
    /// The numpy `descr`, e.g. `<f4`.
    const DESCR: &'static str;
}

impl NpyElement for f32 {
    const DESCR: &'static str = "<f4";
}
impl NpyElement for f64 {
    const DESCR: &'static str = "<f8";
}
impl NpyElement for u8 {
    const DESCR: &'static str = "|u1";
}
impl NpyElement for u32 {
    const DESCR: &'static str = "<u4";
}
impl NpyElement for i32 {
    const DESCR: &'static str = "<i4";
}

/// The header of an npy version 1.0 file, padded so the data starts on a 64-byte boundary.
fn header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    let unpadded = 10 + dict.len() + 1;
    dict.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Writes `data` with the given C-order `shape` to `path`.
pub fn write<T: NpyElement>(path: &Path, shape: &[usize], data: &[T]) -> Result<()> {
    debug_assert_eq!(shape.iter().product::<usize>(), data.len());
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    f.write_all(&header(T::DESCR, shape)).map_err(io)?;
    // The machine is little-endian on every platform wgpu targets; checked at compile time.
    const _: () = assert!(cfg!(target_endian = "little"));
    f.write_all(bytemuck::cast_slice(data)).map_err(io)?;
    f.flush().map_err(io)
}

/// Reads a float32 or float64 array from `path` as float64, with its shape.
pub fn read_f64(path: &Path) -> Result<(Vec<f64>, Vec<usize>)> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::file(path, format!("cannot read .npy file: {e}")))?;
    let npy = npyz::NpyFile::new(&bytes[..])
        .map_err(|e| Error::file(path, format!("not a valid .npy file: {e}")))?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    if npy.order() == npyz::Order::Fortran && shape.iter().filter(|&&d| d > 1).count() > 1 {
        return Err(Error::file(
            path,
            "Fortran-ordered arrays are not supported; save with numpy's default C order",
        ));
    }
    let descr = match npy.dtype() {
        npyz::DType::Plain(t) => t.to_string(),
        other => other.descr().to_string(),
    };
    let data = match descr.as_str() {
        "<f8" => npy.into_vec::<f64>(),
        "<f4" => npy
            .into_vec::<f32>()
            .map(|v| v.into_iter().map(f64::from).collect()),
        _ => {
            return Err(Error::file(
                path,
                format!("dtype {descr} is not supported; expected float32 or float64"),
            ));
        }
    }
    .map_err(|e| Error::file(path, format!("cannot read the array: {e}")))?;
    Ok((data, shape))
}

/// Reads an unsigned 8-bit array (such as status.npy) with its shape.
pub fn read_u8(path: &Path) -> Result<(Vec<u8>, Vec<usize>)> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::file(path, format!("cannot read .npy file: {e}")))?;
    let npy = npyz::NpyFile::new(&bytes[..])
        .map_err(|e| Error::file(path, format!("not a valid .npy file: {e}")))?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let data = npy
        .into_vec::<u8>()
        .map_err(|e| Error::file(path, format!("expected an array of uint8: {e}")))?;
    Ok((data, shape))
}

/// Reads a parameter-space vector of length `len` (any shape with that many elements).
pub fn read_vector(path: &Path, len: usize, what: &str) -> Result<Vec<f64>> {
    let (data, shape) = read_f64(path)?;
    if data.len() != len {
        return Err(Error::file(
            path,
            format!(
                "{what} has {} values (shape {shape:?}), but the model has P = {len} parameters",
                data.len()
            ),
        ));
    }
    if let Some(v) = data.iter().find(|v| !v.is_finite()) {
        return Err(Error::file(
            path,
            format!("{what} holds a non-finite value ({v})"),
        ));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_arrays_read_back_with_shape() {
        let dir = std::env::temp_dir().join(format!("landscape-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let p = dir.join("a.npy");
        let data: Vec<f32> = (0..24).map(|i| i as f32 * 0.5).collect();
        write(&p, &[2, 3, 4], &data).expect("write");
        let (back, shape) = read_f64(&p).expect("read");
        assert_eq!(shape, vec![2, 3, 4]);
        assert_eq!(back, data.iter().map(|&v| f64::from(v)).collect::<Vec<_>>());
        let bytes = std::fs::read(&p).expect("bytes");
        assert_eq!(
            (10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize) % 64,
            0
        );
        assert!(read_vector(&p, 5, "--origin").is_err());
        write(&p, &[3], &[1u8, 2, 3]).expect("write u8");
        assert!(read_f64(&p).is_err(), "integer arrays are refused");
        std::fs::remove_dir_all(&dir).ok();
    }
}
