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

/// The first line of a reader's error: npyz reports header syntax errors with a multi-line
/// source excerpt, and an error message is one line.
fn first_line(e: impl std::fmt::Display) -> String {
    let text = e.to_string();
    text.lines()
        .next()
        .unwrap_or_default()
        .trim_end()
        .to_string()
}

/// Opens an npy file from `bytes`, naming `path` in errors.
fn open<'a>(path: &Path, bytes: &'a [u8]) -> Result<npyz::NpyFile<&'a [u8]>> {
    npyz::NpyFile::new(bytes).map_err(|e| {
        Error::file(
            path,
            format!(
                "not a valid .npy file ({}); expected one written by numpy.save",
                first_line(e)
            ),
        )
    })
}

/// The array's `descr`, e.g. `<f8`.
fn descr<R: std::io::Read>(npy: &npyz::NpyFile<R>) -> String {
    match npy.dtype() {
        npyz::DType::Plain(t) => t.to_string(),
        other => other.descr().to_string(),
    }
}

/// Checks that `bytes` can hold the data of an array of `shape` with `item`-byte elements, so
/// that a header claiming more than the file holds is refused before anything is allocated.
fn check_size(path: &Path, shape: &[usize], item: usize, bytes: usize) -> Result<()> {
    let needed = shape
        .iter()
        .try_fold(item, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= bytes);
    if needed.is_none() {
        return Err(Error::file(
            path,
            format!(
                "its header says shape {shape:?}, more data than the file's {bytes} bytes hold; the file may be truncated"
            ),
        ));
    }
    Ok(())
}

/// Reads a float32 or float64 array (either byte order) from `path` as float64, with its shape.
pub fn read_f64(path: &Path) -> Result<(Vec<f64>, Vec<usize>)> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::file(path, format!("cannot read .npy file: {e}")))?;
    parse_f64(path, &bytes)
}

/// Parses the bytes of a float32 or float64 `.npy` file; `path` is for the messages.
pub fn parse_f64(path: &Path, bytes: &[u8]) -> Result<(Vec<f64>, Vec<usize>)> {
    let npy = open(path, bytes)?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    if npy.order() == npyz::Order::Fortran && shape.iter().filter(|&&d| d > 1).count() > 1 {
        return Err(Error::file(
            path,
            "Fortran-ordered arrays are not supported; save with numpy's default C order",
        ));
    }
    let descr = descr(&npy);
    let data = match descr.as_str() {
        "<f8" | ">f8" => {
            check_size(path, &shape, 8, bytes.len())?;
            npy.into_vec::<f64>()
        }
        "<f4" | ">f4" => {
            check_size(path, &shape, 4, bytes.len())?;
            npy.into_vec::<f32>()
                .map(|v| v.into_iter().map(f64::from).collect())
        }
        _ => {
            return Err(Error::file(
                path,
                format!("dtype {descr} is not supported; expected float32 or float64"),
            ));
        }
    }
    .map_err(|e| {
        Error::file(
            path,
            format!(
                "cannot read the array of shape {shape:?} ({}); the file may be truncated",
                first_line(e)
            ),
        )
    })?;
    Ok((data, shape))
}

/// Reads an unsigned 8-bit array (such as status.npy) with its shape.
pub fn read_u8(path: &Path) -> Result<(Vec<u8>, Vec<usize>)> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::file(path, format!("cannot read .npy file: {e}")))?;
    parse_u8(path, &bytes)
}

/// Parses the bytes of a uint8 `.npy` file; `path` is for the messages.
pub fn parse_u8(path: &Path, bytes: &[u8]) -> Result<(Vec<u8>, Vec<usize>)> {
    let npy = open(path, bytes)?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let descr = descr(&npy);
    if !matches!(descr.as_str(), "|u1" | "<u1" | ">u1") {
        return Err(Error::file(
            path,
            format!("dtype {descr} is not supported; expected uint8"),
        ));
    }
    check_size(path, &shape, 1, bytes.len())?;
    let data = npy.into_vec::<u8>().map_err(|e| {
        Error::file(
            path,
            format!(
                "cannot read an array of uint8 of shape {shape:?} ({})",
                first_line(e)
            ),
        )
    })?;
    Ok((data, shape))
}

/// Reads a signed 32-bit integer array (such as basin.npy) with its shape.
pub fn read_i32(path: &Path) -> Result<(Vec<i32>, Vec<usize>)> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::file(path, format!("cannot read .npy file: {e}")))?;
    let npy = open(path, &bytes)?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let descr = descr(&npy);
    if !matches!(descr.as_str(), "<i4" | ">i4") {
        return Err(Error::file(
            path,
            format!("dtype {descr} is not supported; expected int32"),
        ));
    }
    check_size(path, &shape, 4, bytes.len())?;
    let data = npy.into_vec::<i32>().map_err(|e| {
        Error::file(
            path,
            format!(
                "cannot read an array of int32 of shape {shape:?} ({})",
                first_line(e)
            ),
        )
    })?;
    Ok((data, shape))
}

/// Reads a parameter-space vector of length `len` (any shape with that many elements).
pub fn read_vector(path: &Path, len: usize, what: &str) -> Result<Vec<f64>> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::file(path, format!("cannot read .npy file: {e}")))?;
    parse_vector(path, &bytes, len, what)
}

/// Parses the bytes of a parameter-space vector of length `len`; `path` is for the messages.
pub fn parse_vector(path: &Path, bytes: &[u8], len: usize, what: &str) -> Result<Vec<f64>> {
    // Compare the header's shape first, so a wrong file is named as such, not as truncated.
    let shape: Vec<u64> = open(path, bytes)?.shape().to_vec();
    // A vector, perhaps with axes of length 1 around it ((1, P) from a row of a matrix), but
    // not a matrix that happens to hold P values.
    if shape.iter().filter(|&&d| d != 1).count() > 1 {
        return Err(Error::file(
            path,
            format!("{what} is an array of shape {shape:?}; expected a vector of P = {len} values"),
        ));
    }
    let count = shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d));
    if count != Some(len as u64) {
        let count = count.map_or("more than 2⁶⁴".to_string(), |n| n.to_string());
        return Err(Error::file(
            path,
            format!(
                "{what} has {count} values (shape {shape:?}), but the model has P = {len} parameters"
            ),
        ));
    }
    let (data, _) = parse_f64(path, bytes)?;
    if let Some(v) = data.iter().find(|v| !v.is_finite()) {
        return Err(Error::file(
            path,
            format!("{what} holds a non-finite value ({v}); expected finite numbers"),
        ));
    }
    if let Some(v) = data.iter().find(|v| v.abs() > f64::from(f32::MAX)) {
        return Err(Error::file(
            path,
            format!(
                "{what} holds {v:e}, beyond float32's range (±3.4e38), in which the backends compute"
            ),
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
        // 24 values, but a 2 × 3 × 4 array is no vector of 24 parameters; a (1, 24) row is.
        let err = read_vector(&p, 24, "--origin").expect_err("a matrix");
        assert!(err.to_string().contains("shape [2, 3, 4]"), "{err}");
        write(&p, &[1, 24], &data).expect("write row");
        assert_eq!(read_vector(&p, 24, "--origin").expect("a row").len(), 24);
        write(&p, &[3], &[1u8, 2, 3]).expect("write u8");
        assert!(read_f64(&p).is_err(), "integer arrays are refused");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn big_endian_floats_are_read_and_short_files_refused_before_allocating() {
        let path = Path::new("x.npy");
        let mut bytes = header(">f8", &[2]);
        bytes.extend(1.5f64.to_be_bytes());
        bytes.extend((-2.0f64).to_be_bytes());
        assert_eq!(
            parse_f64(path, &bytes).expect("big-endian float64"),
            (vec![1.5, -2.0], vec![2])
        );
        let mut huge = header("<f8", &[1 << 40]);
        huge.extend([0u8; 16]);
        let err = parse_f64(path, &huge)
            .expect_err("claims 8 TiB")
            .to_string();
        assert!(err.contains("truncated"), "{err}");
        let broken = header("<f8", &[2])
            .into_iter()
            .map(|b| if b == b')' { b' ' } else { b });
        let err = parse_f64(path, &broken.collect::<Vec<_>>()).expect_err("bad header");
        assert_eq!(err.to_string().lines().count(), 1, "{err}");
    }
}
