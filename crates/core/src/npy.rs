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

/// What the header of an `.npy` file says, and where its data start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The numpy `descr`, e.g. `<f4`.
    pub descr: String,
    /// The C-order shape.
    pub shape: Vec<usize>,
    /// The byte offset of the data.
    pub offset: u64,
}

impl Header {
    /// Elements in the array.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the array holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reads the header of the C-order `.npy` file at `path` (versions 1 to 3) and checks that the
/// file holds all the data the header announces, for elements of `item` bytes.
pub fn read_header(path: &Path, item: usize) -> Result<Header> {
    use std::io::Read;
    let bad = |why: &str| {
        Error::file(
            path,
            format!("{why}; expected a .npy file written by landscape"),
        )
    };
    let mut f = std::fs::File::open(path)
        .map_err(|e| Error::file(path, format!("cannot read .npy file: {e}")))?;
    let size = f
        .metadata()
        .map_err(|e| Error::file(path, format!("cannot read .npy file: {e}")))?
        .len();
    let mut lead = [0u8; 12];
    f.read_exact(&mut lead[..10])
        .map_err(|_| bad("too short for a .npy header"))?;
    if &lead[..6] != b"\x93NUMPY" {
        return Err(bad("no .npy magic string"));
    }
    let (len, start) = match lead[6] {
        1 => (u64::from(u16::from_le_bytes([lead[8], lead[9]])), 10),
        2 | 3 => {
            f.read_exact(&mut lead[10..12])
                .map_err(|_| bad("too short for a .npy header"))?;
            (
                u64::from(u32::from_le_bytes([lead[8], lead[9], lead[10], lead[11]])),
                12,
            )
        }
        v => return Err(bad(&format!(".npy version {v}"))),
    };
    if len > 1 << 20 {
        return Err(bad("a header of over 1 MiB"));
    }
    let mut dict = vec![0u8; len as usize];
    f.read_exact(&mut dict)
        .map_err(|_| bad("the header is cut short"))?;
    let dict = String::from_utf8_lossy(&dict);
    let field = |key: &str| -> Option<&str> {
        let at = dict.find(&format!("'{key}':"))? + key.len() + 3;
        Some(dict[at..].trim_start())
    };
    let descr = field("descr")
        .and_then(|v| v.strip_prefix('\''))
        .and_then(|v| v.split('\'').next())
        .ok_or_else(|| bad("no descr in the header"))?
        .to_string();
    if field("fortran_order").is_none_or(|v| !v.starts_with("False")) {
        return Err(bad("not a C-order array"));
    }
    let dims = field("shape")
        .and_then(|v| v.strip_prefix('('))
        .and_then(|v| v.split(')').next())
        .ok_or_else(|| bad("no shape in the header"))?;
    let shape = dims
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.parse::<usize>())
        .collect::<std::result::Result<Vec<usize>, _>>()
        .map_err(|_| bad("a malformed shape"))?;
    let header = Header {
        descr,
        shape,
        offset: start + len,
    };
    let data = (header.len() as u64).saturating_mul(item as u64);
    if size < header.offset.saturating_add(data) {
        return Err(Error::file(
            path,
            format!(
                "its header says shape {:?}, more data than the file's {size} bytes hold; the file is truncated",
                header.shape
            ),
        ));
    }
    Ok(header)
}

/// Reads an array of `T` exactly as stored (no conversion), with its shape; refuses another
/// dtype.
pub fn read_exact<T: NpyElement>(path: &Path) -> Result<(Vec<T>, Vec<usize>)> {
    use std::io::{Read, Seek};
    let size = std::mem::size_of::<T>();
    let header = read_header(path, size)?;
    if header.descr != T::DESCR {
        return Err(Error::file(
            path,
            format!("dtype {} is not the expected {}", header.descr, T::DESCR),
        ));
    }
    let mut f = std::fs::File::open(path)
        .map_err(|e| Error::file(path, format!("cannot read .npy file: {e}")))?;
    let io = |e: std::io::Error| Error::file(path, format!("cannot read .npy file: {e}"));
    f.seek(std::io::SeekFrom::Start(header.offset))
        .map_err(io)?;
    let mut data = vec![T::zeroed(); header.len()];
    f.read_exact(bytemuck::cast_slice_mut(&mut data))
        .map_err(io)?;
    Ok((data, header.shape))
}

/// An `.npy` file written piece by piece: the header first, then the data in order, so that an
/// array larger than memory can be written (checked against the header's size at the end).
pub struct Writer {
    path: std::path::PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    left: u64,
}

impl Writer {
    /// Creates `path` for an array of `shape` with numpy `descr` and `item`-byte elements.
    pub fn create(path: &Path, descr: &str, shape: &[usize], item: usize) -> Result<Writer> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file =
            std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).map_err(io)?);
        file.write_all(&header(descr, shape)).map_err(io)?;
        Ok(Writer {
            path: path.to_path_buf(),
            file,
            left: shape.iter().product::<usize>() as u64 * item as u64,
        })
    }

    /// Copies `bytes` bytes of `source`, starting at byte `at`, into the array.
    pub fn copy_from(&mut self, source: &Path, at: u64, bytes: u64) -> Result<()> {
        use std::io::{Read, Seek};
        let read = |e: std::io::Error| Error::file(source, format!("cannot read .npy file: {e}"));
        let mut f = std::fs::File::open(source).map_err(read)?;
        f.seek(std::io::SeekFrom::Start(at)).map_err(read)?;
        if bytes > self.left {
            return Err(Error::file(
                &self.path,
                "more data than its header announces",
            ));
        }
        let copied =
            std::io::copy(&mut f.take(bytes), &mut self.file).map_err(|source| Error::Io {
                path: self.path.clone(),
                source,
            })?;
        if copied != bytes {
            return Err(Error::file(
                source,
                format!("holds {copied} bytes from {at}; expected {bytes}: the file is truncated"),
            ));
        }
        self.left -= bytes;
        Ok(())
    }

    /// Flushes the file, checking that all the data the header announces were written.
    pub fn finish(mut self) -> Result<()> {
        if self.left != 0 {
            return Err(Error::file(
                &self.path,
                format!("{} bytes short of what its header announces", self.left),
            ));
        }
        self.file.flush().map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })
    }
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
    fn headers_read_back_and_arrays_copy_piece_by_piece() {
        let dir = std::env::temp_dir().join(format!("landscape-npy-w-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (a, b, c) = (dir.join("a.npy"), dir.join("b.npy"), dir.join("c.npy"));
        write(&a, &[2, 3], &[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).expect("a");
        write(&b, &[1, 3], &[7.0f32, 8.0, 9.0]).expect("b");
        let (ha, hb) = (
            read_header(&a, 4).expect("header"),
            read_header(&b, 4).expect("header"),
        );
        assert_eq!((ha.descr.as_str(), ha.shape.clone()), ("<f4", vec![2, 3]));
        assert_eq!(ha.offset % 64, 0);
        let mut w = Writer::create(&c, "<f4", &[3, 3], 4).expect("create");
        w.copy_from(&a, ha.offset, 24).expect("a's rows");
        w.copy_from(&b, hb.offset, 12).expect("b's row");
        w.finish().expect("complete");
        let (back, shape) = read_exact::<f32>(&c).expect("read");
        assert_eq!(shape, vec![3, 3]);
        assert_eq!(back, (1..=9).map(|v| v as f32).collect::<Vec<_>>());
        let whole = dir.join("whole.npy");
        write(&whole, &[3, 3], &back).expect("whole");
        assert_eq!(
            std::fs::read(&whole).ok(),
            std::fs::read(&c).ok(),
            "byte for byte"
        );
        assert!(read_exact::<u32>(&c).is_err(), "another dtype");
        let mut short = Writer::create(&c, "<f4", &[3, 3], 4).expect("create");
        short.copy_from(&a, ha.offset, 24).expect("rows");
        assert!(short.finish().is_err(), "a row short");
        let bytes = std::fs::read(&a).expect("a");
        std::fs::write(&b, &bytes[..bytes.len() - 4]).expect("truncate");
        let e = read_header(&b, 4).expect_err("truncated").to_string();
        assert!(e.contains("truncated"), "{e}");
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
