//! Choice 3: the inflate backend, decoding member-per-record WARC gzip (RFC 1952) of the same
//! shards. Every backend runs under one driver: our gzip header parser, raw deflate through the
//! backend, CRC-32 (crc32fast) and ISIZE checked on every member, one state reset per member.

use crate::input::Shards;
use crate::measure::{best_of, f, mb, Table};
use std::io::Read;

/// A raw-deflate (RFC 1951) decoder that can be reset between gzip members.
trait Inflate {
    /// Starts a new deflate stream.
    fn reset(&mut self);
    /// Decodes from `input` into `output`: (bytes consumed, bytes written, stream ended).
    fn inflate(&mut self, input: &[u8], output: &mut [u8]) -> Result<(usize, usize, bool), String>;
}

/// zlib-rs through flate2's `Decompress` (what our WARC reader uses).
struct Flate2(flate2::Decompress);

impl Inflate for Flate2 {
    fn reset(&mut self) {
        self.0.reset(false);
    }
    fn inflate(&mut self, input: &[u8], output: &mut [u8]) -> Result<(usize, usize, bool), String> {
        let (i0, o0) = (self.0.total_in(), self.0.total_out());
        let st = self
            .0
            .decompress(input, output, flate2::FlushDecompress::None)
            .map_err(|e| e.to_string())?;
        Ok((
            (self.0.total_in() - i0) as usize,
            (self.0.total_out() - o0) as usize,
            st == flate2::Status::StreamEnd,
        ))
    }
}

/// miniz_oxide (pure Rust, flate2's default `rust_backend`), called directly.
struct Miniz(Box<miniz_oxide::inflate::stream::InflateState>);

impl Inflate for Miniz {
    fn reset(&mut self) {
        self.0.reset(miniz_oxide::DataFormat::Raw);
    }
    fn inflate(&mut self, input: &[u8], output: &mut [u8]) -> Result<(usize, usize, bool), String> {
        let r = miniz_oxide::inflate::stream::inflate(
            &mut self.0,
            input,
            output,
            miniz_oxide::MZFlush::None,
        );
        match r.status {
            Ok(st) => Ok((
                r.bytes_consumed,
                r.bytes_written,
                st == miniz_oxide::MZStatus::StreamEnd,
            )),
            Err(miniz_oxide::MZError::Buf) => Ok((r.bytes_consumed, r.bytes_written, false)),
            Err(e) => Err(format!("{e:?}")),
        }
    }
}

#[cfg(feature = "zlib-ng")]
mod ng {
    //! zlib-ng (C, native `zng_` API) through `libz-ng-sys`.
    use libz_ng_sys as z;
    use std::os::raw::{c_int, c_void};

    extern "C" {
        fn calloc(n: usize, size: usize) -> *mut c_void;
        fn free(p: *mut c_void);
    }
    unsafe extern "C" fn zalloc(_: z::voidpf, items: z::uInt, size: z::uInt) -> z::voidpf {
        calloc(items as usize, size as usize)
    }
    unsafe extern "C" fn zfree(_: z::voidpf, p: z::voidpf) {
        free(p)
    }

    /// A raw-deflate zlib-ng stream; boxed because zlib-ng keeps a pointer back to it.
    pub struct ZlibNg(Box<z::z_stream>);

    impl ZlibNg {
        /// A stream ready for raw deflate (window bits -15).
        pub fn new() -> Self {
            let mut s = Box::new(z::z_stream {
                next_in: std::ptr::null_mut(),
                avail_in: 0,
                total_in: 0,
                next_out: std::ptr::null_mut(),
                avail_out: 0,
                total_out: 0,
                msg: std::ptr::null_mut(),
                state: std::ptr::null_mut(),
                zalloc,
                zfree,
                opaque: std::ptr::null_mut(),
                data_type: 0,
                adler: 0,
                reserved: 0,
            });
            // SAFETY: `s` is a fully initialised z_stream at a stable (boxed) address.
            let rc = unsafe {
                z::inflateInit2_(
                    &mut *s,
                    -15,
                    z::zlibVersion(),
                    std::mem::size_of::<z::z_stream>() as c_int,
                )
            };
            assert_eq!(rc, 0, "zlib-ng inflateInit2 failed");
            ZlibNg(s)
        }
    }

    impl Drop for ZlibNg {
        fn drop(&mut self) {
            // SAFETY: initialised in `new`, ended once.
            unsafe { z::inflateEnd(&mut *self.0) };
        }
    }

    impl super::Inflate for ZlibNg {
        fn reset(&mut self) {
            // SAFETY: the stream was initialised in `new`.
            unsafe { z::inflateReset(&mut *self.0) };
        }
        fn inflate(
            &mut self,
            input: &[u8],
            output: &mut [u8],
        ) -> Result<(usize, usize, bool), String> {
            let (ni, no) = (
                input.len().min(u32::MAX as usize),
                output.len().min(u32::MAX as usize),
            );
            let s = &mut *self.0;
            s.next_in = input.as_ptr() as *mut u8;
            s.avail_in = ni as u32;
            s.next_out = output.as_mut_ptr();
            s.avail_out = no as u32;
            // SAFETY: next_in/next_out point into live slices of at least avail_in/avail_out bytes;
            // zlib-ng only reads the input and writes the output within those bounds.
            let rc = unsafe { z::inflate(s, 0) };
            let (used, written) = (ni - s.avail_in as usize, no - s.avail_out as usize);
            s.next_in = std::ptr::null_mut();
            s.next_out = std::ptr::null_mut();
            match rc {
                1 => Ok((used, written, true)),
                0 | -5 => Ok((used, written, false)),
                e => Err(format!("zlib-ng inflate returned {e}")),
            }
        }
    }
}

/// Length of the gzip member header at the start of `b` (RFC 1952 §2.3: FEXTRA, FNAME,
/// FCOMMENT, FHCRC), or an error when it is not one.
fn gzip_header_len(b: &[u8]) -> Result<usize, String> {
    if b.len() < 10 || b[0] != 0x1f || b[1] != 0x8b || b[2] != 8 {
        return Err("not a gzip member".into());
    }
    let flg = b[3];
    let mut p = 10;
    if flg & 4 != 0 {
        let x = *b.get(p).ok_or("short FEXTRA")? as usize
            | (*b.get(p + 1).ok_or("short FEXTRA")? as usize) << 8;
        p += 2 + x;
    }
    for bit in [8u8, 16] {
        if flg & bit != 0 {
            p += b
                .get(p..)
                .and_then(memchr_zero)
                .ok_or("unterminated FNAME/FCOMMENT")?
                + 1;
        }
    }
    if flg & 2 != 0 {
        p += 2;
    }
    if p > b.len() {
        return Err("short header".into());
    }
    Ok(p)
}

fn memchr_zero(b: &[u8]) -> Option<usize> {
    b.iter().position(|&c| c == 0)
}

/// Decodes every member of `gz` with `inf`, checking CRC-32 and ISIZE: (decoded bytes, members).
fn decode_members(gz: &[u8], inf: &mut dyn Inflate, out: &mut [u8]) -> Result<(u64, u64), String> {
    let (mut pos, mut total, mut members) = (0usize, 0u64, 0u64);
    while pos < gz.len() {
        pos += gzip_header_len(&gz[pos..])?;
        inf.reset();
        let mut crc = crc32fast::Hasher::new();
        let mut size = 0u64;
        loop {
            let (used, written, end) = inf.inflate(&gz[pos..], out)?;
            pos += used;
            crc.update(&out[..written]);
            size += written as u64;
            if end {
                break;
            }
            if used == 0 && written == 0 {
                return Err(format!("no progress at byte {pos}"));
            }
        }
        let tr = gz.get(pos..pos + 8).ok_or("truncated trailer")?;
        let (want_crc, want_size) = (
            u32::from_le_bytes(tr[..4].try_into().unwrap()),
            u32::from_le_bytes(tr[4..].try_into().unwrap()),
        );
        if crc.finalize() != want_crc || size as u32 != want_size {
            return Err(format!("CRC or ISIZE mismatch in member {members}"));
        }
        pos += 8;
        total += size;
        members += 1;
    }
    Ok((total, members))
}

/// The gzip table: compressed and decoded MB/s per CPU-second, best of `runs`.
pub fn table(shards: &Shards, runs: usize) -> Table {
    let mut t = Table::new(
        "3. gzip: inflating member-per-record WARC gzip, one thread (minicrawl shards)",
        &[
            "backend",
            "driver",
            "members",
            "decoded MB",
            "gzip MB/s",
            "decoded MB/s",
            "check",
        ],
    );
    let gz = &shards.gz;
    let want = shards.plain.len() as u64;
    let mut out = vec![0u8; 256 << 10];
    let mut backends: Vec<(&str, Option<Box<dyn Inflate>>)> = vec![
        (
            "zlib-rs 0.6 (flate2 1.1 Decompress; our reader's)",
            Some(Box::new(Flate2(flate2::Decompress::new(false)))),
        ),
        (
            "miniz_oxide 0.8 (flate2's default rust_backend)",
            Some(Box::new(Miniz(
                miniz_oxide::inflate::stream::InflateState::new_boxed(miniz_oxide::DataFormat::Raw),
            ))),
        ),
    ];
    #[cfg(feature = "zlib-ng")]
    backends.push((
        "zlib-ng 2.x (C, libz-ng-sys 1.1)",
        Some(Box::new(ng::ZlibNg::new())),
    ));
    #[cfg(not(feature = "zlib-ng"))]
    backends.push(("zlib-ng (C, libz-ng-sys)", None));
    for (name, inf) in backends.iter_mut() {
        let Some(inf) = inf else {
            t.row(vec![
                name.to_string(),
                "-".into(),
                "-".into(),
                "-".into(),
                "not built".into(),
                "not built".into(),
                "built without feature zlib-ng (needs cmake)".into(),
            ]);
            continue;
        };
        let (r, tm) = best_of(runs, || decode_members(gz, inf.as_mut(), &mut out));
        push_row(
            &mut t,
            name,
            "member loop, 256 KiB out",
            r,
            tm,
            gz.len(),
            want,
        );
    }
    // Streaming readers as libraries use them.
    type Decode<'a> = Box<dyn Fn() -> Result<(u64, u64), String> + 'a>;
    #[cfg_attr(not(feature = "fastwarc"), allow(unused_mut))]
    let mut stream_rows: Vec<(&str, &str, Decode)> = vec![
        (
            "zlib-rs (flate2 MultiGzDecoder)",
            "io::Read, 256 KiB reads",
            Box::new(|| read_all(flate2::read::MultiGzDecoder::new(&gz[..]))),
        ),
        (
            "libflate 1.x (what warc 0.4 uses)",
            "io::Read, 256 KiB reads",
            Box::new(|| {
                read_all(libflate::gzip::MultiDecoder::new(&gz[..]).map_err(|e| e.to_string())?)
            }),
        ),
    ];
    #[cfg(feature = "fastwarc")]
    {
        let gz_arc: std::sync::Arc<[u8]> = std::sync::Arc::from(&gz[..]);
        stream_rows.push((
            "zlib-rs (fastwarc 2.0 GzipReader)",
            "io::Read, 256 KiB reads",
            Box::new(move || {
                read_all(fastwarc::stream_io::gzip::GzipReader::new(
                    std::io::Cursor::new(gz_arc.clone()),
                ))
            }),
        ));
    }
    for (name, driver, run) in stream_rows {
        let (r, tm) = best_of(runs, run);
        push_row(&mut t, name, driver, r, tm, gz.len(), want);
    }
    t.note(format!(
        "Input: {:.1} MB gzip ({} file(s) x {}), {:.1} MB decoded. Per CPU-second, best of {runs}. The member loop is the \
         same code for every backend (header parse, raw inflate, CRC-32 with crc32fast, ISIZE check).",
        mb(gz.len() as u64),
        shards.files,
        shards.repeat,
        mb(want)
    ));
    t
}

fn push_row(
    t: &mut Table,
    name: &str,
    driver: &str,
    r: Result<(u64, u64), String>,
    tm: crate::measure::Timing,
    gz: usize,
    want: u64,
) {
    match r {
        Ok((bytes, members)) => t.row(vec![
            name.into(),
            driver.into(),
            if members > 0 {
                members.to_string()
            } else {
                "-".into()
            },
            f(mb(bytes), 1),
            f(tm.per_cpu_s(mb(gz as u64)), 1),
            f(tm.per_cpu_s(mb(bytes)), 1),
            if bytes == want {
                "ok".into()
            } else {
                format!("decoded {bytes} != {want}")
            },
        ]),
        Err(e) => t.row(vec![
            name.into(),
            driver.into(),
            "-".into(),
            "-".into(),
            "-".into(),
            "-".into(),
            format!("error: {e}"),
        ]),
    }
}

/// Reads `r` to its end in 256 KiB reads: (decoded bytes, 0 members counted).
fn read_all(mut r: impl Read) -> Result<(u64, u64), String> {
    let mut buf = vec![0u8; 256 << 10];
    let mut total = 0u64;
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok((total, 0)),
            Ok(k) => total += k as u64,
            Err(e) => return Err(e.to_string()),
        }
    }
}
