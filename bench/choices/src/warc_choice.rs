//! Choice 1: our WARC reader (`corpusminer_pipeline::warc`) against the `fastwarc` crate 2.0 and
//! the `warc` crate 0.4, on the same decoded and gzip bytes (throughput) and on every shared WARC
//! file (correctness).

use crate::input::{read, Shards};
use crate::measure::{best_of, f, mb, n, Table};
use corpusminer_pipeline::warc::{ReadEvent, WarcReader};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a reader made of some bytes: the block length of every record read, and what went wrong.
#[derive(Debug, Default)]
struct Outcome {
    /// Content-Length of each record read, in order.
    lengths: Vec<u64>,
    /// Our reader: skip reasons; the `warc` crate: error kinds (it stops after an I/O error).
    problems: Vec<String>,
}

/// Every record of `bytes` (plain or gzip) through our reader.
fn ours(bytes: &[u8]) -> Outcome {
    let mut o = Outcome::default();
    for ev in WarcReader::new(bytes) {
        match ev {
            ReadEvent::Record(r) => o.lengths.push(r.block().len() as u64),
            ReadEvent::Skip { reason, .. } => o.problems.push(reason.to_string()),
        }
    }
    o
}

/// A short name for a `warc` crate error (its `ParseHeaders` variant carries the whole input).
fn error_kind(e: &warc::Error) -> String {
    match e {
        warc::Error::ParseHeaders(_) => "parse_headers".into(),
        warc::Error::MissingHeader(h) => format!("missing_header {h:?}"),
        warc::Error::MalformedHeader(h, _) => format!("malformed_header {h:?}"),
        warc::Error::ReadData(io) => format!("read_data ({io})"),
        warc::Error::ReadOverflow => "read_overflow".into(),
        warc::Error::UnexpectedEOB => "unexpected_eob".into(),
    }
}

/// The most errors collected from the `warc` crate before giving up on a file (it has no
/// resynchronisation, so later "records" are reads from wherever the parser stopped).
const MAX_WARC_ERRORS: usize = 20;

/// Every record through the `warc` crate's validating iterator (`iter_records`), or its raw one
/// (`iter_raw_records`, well-formedness only), over a buffered reader of the decoded bytes.
fn theirs<R: BufRead>(r: R, raw: bool) -> Outcome {
    let mut o = Outcome::default();
    let reader = warc::WarcReader::new(r);
    let note = |e: &warc::Error, o: &mut Outcome| {
        o.problems.push(error_kind(e));
        matches!(e, warc::Error::ReadData(_)) || o.problems.len() >= MAX_WARC_ERRORS
    };
    if raw {
        for item in reader.iter_raw_records() {
            match item {
                Ok((_, body)) => o.lengths.push(body.len() as u64),
                Err(e) if note(&e, &mut o) => break,
                Err(_) => {}
            }
        }
    } else {
        for item in reader.iter_records() {
            match item {
                Ok(rec) => o.lengths.push(rec.body().len() as u64),
                Err(e) if note(&e, &mut o) => break,
                Err(_) => {}
            }
        }
    }
    o
}

/// Every record through fastwarc 2's `ArchiveIterator` (compression detected from the bytes,
/// HTTP parsing off so that, like ours, it hands out the whole block), each block read into a
/// reused buffer. Stopped at its first error: after one it has no reader left ("No reader set").
#[cfg(feature = "fastwarc")]
fn fastwarc(bytes: &Arc<[u8]>) -> Outcome {
    use fastwarc::warc::record::SharedWarcRecord;
    use std::io::{Cursor, Read};
    let mut o = Outcome::default();
    let mut buf = Vec::new();
    let it = fastwarc::warc::iter::ArchiveIterator::new(Cursor::new(Arc::clone(bytes)))
        .with_parse_http(false);
    for item in it {
        let read = item.and_then(|rec| {
            rec.with_mut(|r| {
                buf.clear();
                r.reader_mut().map_or(Ok(0), |rd| rd.read_to_end(&mut buf))
            })
        });
        match read {
            Ok(k) => o.lengths.push(k as u64),
            Err(e) => {
                o.problems.push(format!("io ({e})"));
                break;
            }
        }
    }
    o
}

/// Built without the `fastwarc` feature: no records, one problem saying so.
#[cfg(not(feature = "fastwarc"))]
fn fastwarc(_bytes: &Arc<[u8]>) -> Outcome {
    Outcome {
        lengths: vec![],
        problems: vec!["not built (feature fastwarc off)".into()],
    }
}

/// The `warc` crate on `bytes`: gzip through libflate's multi-member decoder, as its
/// `from_path_gzip` does (or through flate2's `MultiGzDecoder` with `flate2`), plain bytes as
/// they are.
fn theirs_auto(bytes: &[u8], raw: bool, flate2: bool) -> Outcome {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return theirs(bytes, raw);
    }
    if flate2 {
        return theirs(
            BufReader::new(flate2::read::MultiGzDecoder::new(bytes)),
            raw,
        );
    }
    match libflate::gzip::MultiDecoder::new(bytes) {
        Ok(d) => theirs(BufReader::new(d), raw),
        Err(e) => Outcome {
            lengths: vec![],
            problems: vec![format!("gzip header ({e})")],
        },
    }
}

/// Throughput table: records/s and MB/s per CPU-second of one thread, best of `runs`.
pub fn throughput(shards: &Shards, runs: usize) -> Table {
    let mut t = Table::new(
        "1a. WARC reading, one thread (minicrawl shards)",
        &[
            "reader",
            "input",
            "records",
            "input MB/s",
            "decoded MB/s",
            "records/s",
            "payload bytes",
        ],
    );
    let plain_mb = mb(shards.plain.len() as u64);
    let (plain_arc, gz_arc): (Arc<[u8]>, Arc<[u8]>) =
        (Arc::from(&shards.plain[..]), Arc::from(&shards.gz[..]));
    type Case<'a> = (&'a str, &'a str, &'a [u8], Box<dyn Fn() -> Outcome + 'a>);
    let cases: Vec<Case> = vec![
        (
            "ours (corpusminer_pipeline::warc)",
            "decoded",
            &shards.plain,
            Box::new(|| ours(&shards.plain)),
        ),
        (
            "fastwarc 2.0 ArchiveIterator",
            "decoded",
            &shards.plain,
            Box::new(|| fastwarc(&plain_arc)),
        ),
        (
            "warc 0.4 iter_records",
            "decoded",
            &shards.plain,
            Box::new(|| theirs(&shards.plain[..], false)),
        ),
        (
            "warc 0.4 iter_raw_records",
            "decoded",
            &shards.plain,
            Box::new(|| theirs(&shards.plain[..], true)),
        ),
        (
            "ours (gzip: zlib-rs via flate2)",
            "gzip",
            &shards.gz,
            Box::new(|| ours(&shards.gz)),
        ),
        (
            "fastwarc 2.0 ArchiveIterator (gzip: zlib-rs)",
            "gzip",
            &shards.gz,
            Box::new(|| fastwarc(&gz_arc)),
        ),
        (
            "warc 0.4 iter_records over libflate (its from_path_gzip)",
            "gzip",
            &shards.gz,
            Box::new(|| {
                theirs(
                    BufReader::new(
                        libflate::gzip::MultiDecoder::new(&shards.gz[..]).expect("gzip"),
                    ),
                    false,
                )
            }),
        ),
        (
            "warc 0.4 iter_records over flate2 MultiGzDecoder (zlib-rs)",
            "gzip",
            &shards.gz,
            Box::new(|| {
                theirs(
                    BufReader::with_capacity(
                        1 << 20,
                        flate2::read::MultiGzDecoder::new(&shards.gz[..]),
                    ),
                    false,
                )
            }),
        ),
    ];
    for (name, kind, input, run) in cases {
        if name.starts_with("fastwarc") && !cfg!(feature = "fastwarc") {
            continue;
        }
        let (o, tm) = best_of(runs, run);
        let payload: u64 = o.lengths.iter().sum();
        let problems = if o.problems.is_empty() {
            String::new()
        } else {
            format!(" ({} problems)", o.problems.len())
        };
        t.row(vec![
            name.into(),
            kind.into(),
            format!("{}{problems}", n(o.lengths.len() as u64)),
            f(tm.per_cpu_s(mb(input.len() as u64)), 1),
            f(tm.per_cpu_s(plain_mb), 1),
            n(tm.per_cpu_s(o.lengths.len() as f64) as u64),
            n(payload),
        ]);
    }
    t.note(format!(
        "Input: {} minicrawl shard file(s) x {} = {:.1} MB gzip, {:.1} MB decoded, in memory. Rates per CPU-second of \
         the reading thread (best of {runs}); \"decoded MB/s\" is decoded WARC bytes per second for both inputs.",
        shards.files,
        shards.repeat,
        mb(shards.gz.len() as u64),
        plain_mb
    ));
    t
}

/// Correctness table: every shared WARC file through both readers.
pub fn correctness(data: &Path, files: &[PathBuf]) -> Table {
    let mut t = Table::new(
        "1b. WARC reading: every shared file, our reader vs fastwarc 2.0 and the warc crate 0.4",
        &[
            "file",
            "ours: records",
            "ours: skips",
            "fastwarc: records",
            "fastwarc: errors",
            "warc 0.4: records",
            "raw",
            "over flate2",
            "warc 0.4: errors",
            "same as ours: fastwarc / warc",
        ],
    );
    let (mut agree_fw, mut agree_warc) = (0, 0);
    for p in files {
        let bytes = read(p);
        let a = ours(&bytes);
        let fw = fastwarc(&Arc::from(&bytes[..]));
        let b = theirs_auto(&bytes, false, false);
        let raw = theirs_auto(&bytes, true, false);
        let fl = theirs_auto(&bytes, false, true);
        let (same_fw, same_warc) = (a.lengths == fw.lengths, a.lengths == b.lengths);
        agree_fw += same_fw as usize;
        agree_warc += same_warc as usize;
        let name = p.strip_prefix(data).unwrap_or(p).display().to_string();
        let yes = |x: bool| if x { "yes" } else { "NO" };
        t.row(vec![
            name,
            a.lengths.len().to_string(),
            summarize(&a.problems),
            fw.lengths.len().to_string(),
            errors(&fw, &a),
            b.lengths.len().to_string(),
            raw.lengths.len().to_string(),
            fl.lengths.len().to_string(),
            errors(&b, &a),
            format!("{} / {}", yes(same_fw), yes(same_warc)),
        ]);
    }
    t.note(format!(
        "Same records with the same block lengths as ours: fastwarc on {agree_fw} of {n} files, the warc crate on \
         {agree_warc} of {n}. fastwarc: ArchiveIterator, HTTP parsing off. \"warc 0.4\" is its validating iter_records \
         over libflate (as its from_path_gzip reads gzip); \"raw\" its iter_raw_records (well-formedness only); \"over \
         flate2\" iter_records over flate2's MultiGzDecoder; its errors are those of iter_records, and it is stopped after \
         {MAX_WARC_ERRORS} errors; fastwarc is stopped at its first (it cannot go on). Neither resynchronises.",
        n = files.len()
    ));
    t
}

/// A reader's errors on a file, or a note that it stopped early without one (fewer records than
/// ours and no error).
fn errors(o: &Outcome, ours: &Outcome) -> String {
    if o.problems.is_empty() && o.lengths.len() < ours.lengths.len() {
        "none: stops early, silently".into()
    } else {
        summarize(&o.problems)
    }
}

/// `a x2, b` style summary of repeated reasons.
fn summarize(items: &[String]) -> String {
    let mut out: Vec<(String, usize)> = Vec::new();
    for it in items {
        match out.iter_mut().find(|(k, _)| k == it) {
            Some((_, c)) => *c += 1,
            None => out.push((it.clone(), 1)),
        }
    }
    out.iter()
        .map(|(k, c)| {
            if *c > 1 {
                format!("{k} x{c}")
            } else {
                k.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `warc` crate's known traps, checked: a missing path opened for reading, and its per-record
/// buffers (from its source: `Vec::with_capacity` of 64 KiB for the header and 1 MiB for the body
/// of every record, then the body copied again into the record).
pub fn traps() -> Table {
    let mut t = Table::new("1c. warc 0.4 traps", &["check", "result"]);
    let dir = tempfile::tempdir().expect("temporary directory");
    let missing = dir.path().join("no-such-shard.warc");
    let opened = warc::WarcReader::from_path(&missing);
    let records = opened.map(|r| r.iter_records().count());
    t.row(vec![
        "WarcReader::from_path on a missing file".into(),
        format!(
            "{}; file exists afterwards: {} ({} bytes)",
            match &records {
                Ok(k) => format!("Ok, {k} records (no error)"),
                Err(e) => format!("Err({e})"),
            },
            missing.exists(),
            std::fs::metadata(&missing).map_or(0, |m| m.len())
        ),
    ]);
    let ours_missing = std::fs::File::open(dir.path().join("also-missing.warc")).is_err();
    t.row(vec![
        "ours on a missing file (File::open, then WarcReader::new)".into(),
        format!("open fails: {ours_missing}; nothing is created"),
    ]);
    t
}
