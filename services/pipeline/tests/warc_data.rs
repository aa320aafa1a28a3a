//! WARC reading, HTTP decoding and page selection on the real files of `../shared/data`
//! (see its PROVENANCE.md: the expected counts below are that file's table, and where our
//! reader goes further than warcio did, the difference is said next to the row).

use corpusminer_pipeline::http::{note, parse_response, parse_response_with, HttpLimits};
use corpusminer_pipeline::page::{pages, Pages};
use corpusminer_pipeline::stats::Counters;
use corpusminer_pipeline::testdata::shared_data_dir;
use corpusminer_pipeline::warc::{skip, ReadEvent, Record, WarcReader};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn data() -> Option<PathBuf> {
    shared_data_dir()
}

/// All records of a byte stream, and the skip reasons counted.
fn read_bytes(bytes: &[u8]) -> (Vec<Record>, Counters) {
    let mut recs = Vec::new();
    let mut skips = Counters::default();
    for ev in WarcReader::new(bytes) {
        match ev {
            ReadEvent::Record(r) => recs.push(r),
            ReadEvent::Skip { reason, .. } => skips.incr(reason),
        }
    }
    (recs, skips)
}

fn read_file(path: &Path) -> (Vec<Record>, Counters) {
    read_bytes(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

fn by_type(recs: &[Record]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in recs {
        *m.entry(r.warc_type().unwrap_or("-").to_string())
            .or_insert(0) += 1;
    }
    m
}

struct Expect {
    file: &'static str,
    records: usize,
    types: &'static [(&'static str, usize)],
    /// Pages (HTTP 200 HTML responses) we yield.
    pages: u64,
    /// Skip reasons (reader) and page counters that must be present, with counts.
    counted: &'static [(&'static str, u64)],
}

const TABLE: &[Expect] = &[
    Expect { file: "commoncrawl/jwarc-cc-2019-12-commoncrawl.org.warc.gz", records: 1, types: &[("response", 1)], pages: 1, counted: &[] },
    Expect { file: "commoncrawl/npm-warc-CC-MAIN-2014-35/CC-MAIN-20140820021334-00006-ip-10-180-136-8.ec2.internal.warc", records: 13, types: &[("warcinfo", 1), ("request", 4), ("response", 4), ("metadata", 4)], pages: 3, counted: &[(note::CONTENT_ENCODING_NOT_APPLIED, 1), ("not_html", 1)] },
    Expect { file: "commoncrawl/npm-warc-CC-MAIN-2014-35/CC-MAIN-20140820021334-00006-ip-10-180-136-8.ec2.internal.warc.wat", records: 9, types: &[("warcinfo", 1), ("metadata", 8)], pages: 0, counted: &[] },
    Expect { file: "commoncrawl/npm-warc-CC-MAIN-2014-35/CC-MAIN-20140820021334-00006-ip-10-180-136-8.ec2.internal.warc.wet", records: 4, types: &[("warcinfo", 1), ("conversion", 3)], pages: 0, counted: &[] },
    Expect { file: "commoncrawl/resiliparse-CC-MAIN-2020-34-warcfile.warc.gz", records: 50, types: &[("warcinfo", 1), ("request", 17), ("response", 16), ("metadata", 16)], pages: 16, counted: &[] },
    Expect { file: "commoncrawl/whirlwind-CC-MAIN-2024-22/whirlwind.warc.gz", records: 4, types: &[("warcinfo", 1), ("request", 1), ("response", 1), ("metadata", 1)], pages: 1, counted: &[] },
    Expect { file: "commoncrawl/whirlwind-CC-MAIN-2024-22/whirlwind.warc.wat.gz", records: 2, types: &[("warcinfo", 1), ("metadata", 1)], pages: 0, counted: &[] },
    Expect { file: "commoncrawl/whirlwind-CC-MAIN-2024-22/whirlwind.warc.wet.gz", records: 2, types: &[("warcinfo", 1), ("conversion", 1)], pages: 0, counted: &[] },
    Expect { file: "warc-edge/jwarc-gzip_extra_sl.warc.gz", records: 1, types: &[("warcinfo", 1)], pages: 0, counted: &[] },
    Expect { file: "warc-edge/pywb-dupes.warc.gz", records: 25, types: &[("warcinfo", 1), ("response", 3), ("request", 12), ("revisit", 9)], pages: 1, counted: &[("http_status_non_200", 1)] },
    Expect { file: "warc-edge/pywb-example-url-agnostic-revisit.warc.gz", records: 2, types: &[("warcinfo", 1), ("revisit", 1)], pages: 0, counted: &[] },
    // Lines end CR CR LF and Content-Length counts CRLF lines: 6 stray bytes at the end.
    Expect { file: "warc-edge/pywb-missing-status-text.warc", records: 1, types: &[("response", 1)], pages: 0, counted: &[(skip::BAD_RECORD_TERMINATOR, 1), ("http_status_non_200", 1)] },
    Expect { file: "warc-edge/resiliparse-block-sized-records.warc.gz", records: 3, types: &[("unknown", 3)], pages: 0, counted: &[("record_other", 3)] },
    // warcio yields the clipped record with an incomplete block; we count and skip it.
    Expect { file: "warc-edge/resiliparse-clipped.warc.gz", records: 0, types: &[], pages: 0, counted: &[(skip::TRUNCATED_GZIP_MEMBER, 1), (skip::TRUNCATED_RECORD, 1)] },
    Expect { file: "warc-edge/resiliparse-clueweb-quirk.warc.gz", records: 30, types: &[("warcinfo", 1), ("response", 29)], pages: 29, counted: &[(note::CONTENT_ENCODING_NOT_APPLIED, 29)] },
    Expect { file: "warc-edge/ukwa-IAH-20080430204825-00000-blackbook-truncated.warc.gz", records: 23, types: &[("warcinfo", 1), ("response", 8), ("request", 7), ("metadata", 7)], pages: 2, counted: &[("not_http_response", 1)] },
    Expect { file: "warc-edge/warcat-bad_http_chunked_content.warc", records: 1, types: &[("response", 1)], pages: 0, counted: &[("not_html", 1)] },
    Expect { file: "warc-edge/warcat-not_utf8_http_header.warc", records: 1, types: &[("response", 1)], pages: 0, counted: &[("not_html", 1)] },
    // warcio stops after the first record ("non-chunked gzip file"); the one member holds 6.
    Expect { file: "warc-edge/warcio-example-bad-non-chunked.warc.gz", records: 6, types: &[("warcinfo", 2), ("response", 1), ("request", 2), ("revisit", 1)], pages: 1, counted: &[] },
    Expect { file: "warc-edge/warcio-example-iana.org-chunked.warc", records: 3, types: &[("warcinfo", 1), ("response", 1), ("request", 1)], pages: 1, counted: &[] },
    Expect { file: "warc-edge/warcio-example-space-in-target-uri.warc.gz", records: 2, types: &[("warcinfo", 1), ("resource", 1)], pages: 0, counted: &[] },
    Expect { file: "warc-edge/warcio-example-trunc.warc", records: 4, types: &[("warcinfo", 2), ("response", 1), ("request", 1)], pages: 1, counted: &[(skip::BAD_RECORD_TERMINATOR, 1)] },
    Expect { file: "warc-edge/warcio-example-wget-bad-target-uri.warc.gz", records: 6, types: &[("warcinfo", 1), ("request", 1), ("response", 1), ("metadata", 1), ("resource", 2)], pages: 1, counted: &[] },
    // warcio stops at member 2 ("Unknown archive format"); the record's trailer member also
    // holds the request record, so we read 2. The response block is 5 bytes short of its end.
    Expect { file: "warc-edge/warcio-example-wrong-chunks.warc.gz", records: 2, types: &[("response", 1), ("request", 1)], pages: 1, counted: &[(skip::BAD_RECORD_TERMINATOR, 1)] },
    Expect { file: "warc-edge/warcio-standard-torture-validate-field.warc", records: 3, types: &[("does-not-exist", 1), ("invalid", 1), ("request", 1)], pages: 0, counted: &[(skip::INVALID_VERSION_LINE, 1), ("record_other", 2)] },
    Expect { file: "warc-edge/warcio-standard-torture-validate-record.warc", records: 17, types: &[("warcinfo", 3), ("response", 1), ("resource", 3), ("request", 2), ("metadata", 2), ("revisit", 3), ("conversion", 1), ("continuation", 2)], pages: 0, counted: &[("not_http_response", 1)] },
    Expect { file: "warc/dolma-sample-0000.warc.gz", records: 48, types: &[("warcinfo", 1), ("request", 22), ("response", 22), ("metadata", 1), ("resource", 2)], pages: 22, counted: &[] },
    Expect { file: "warc/dolma-sample-0001.warc.gz", records: 34, types: &[("warcinfo", 1), ("request", 15), ("response", 15), ("metadata", 1), ("resource", 2)], pages: 15, counted: &[] },
    // pywb stored the 25 chunked bodies de-chunked; 16 of them are HTML pages.
    Expect { file: "warc/pywb-iana.warc.gz", records: 343, types: &[("warcinfo", 1), ("response", 48), ("request", 171), ("revisit", 123)], pages: 16, counted: &[("http_status_non_200", 4), (note::CHUNKED_ENCODING_NOT_APPLIED, 16)] },
    Expect { file: "warc/ukwa-IAH-urls-wget.warc.gz", records: 36, types: &[("warcinfo", 1), ("request", 16), ("response", 16), ("resource", 3)], pages: 2, counted: &[("http_status_non_200", 9)] },
];

/// Reader skip reasons allowed to appear at all: a clean file must have none.
const READER_SKIPS: &[&str] = &[
    skip::TRUNCATED_GZIP_MEMBER,
    skip::CORRUPT_GZIP_MEMBER,
    skip::GZIP_GARBAGE,
    skip::TRUNCATED_RECORD,
    skip::RECORD_CUT_BY_GZIP_ERROR,
    skip::BAD_RECORD_TERMINATOR,
    skip::INVALID_VERSION_LINE,
    skip::GARBAGE_BEFORE_RECORD,
    skip::BAD_CONTENT_LENGTH,
    skip::HEADER_TOO_LONG,
    skip::RECORD_TOO_LARGE,
    skip::READ_ERROR,
];

#[test]
fn every_file_matches_the_provenance_table() {
    let Some(d) = data() else { return };
    // Every WARC/WET/WAT file of those folders is in the table (so a new file is not missed).
    let mut listed: Vec<&str> = TABLE.iter().map(|e| e.file).collect();
    listed.sort();
    let mut found = Vec::new();
    for dir in ["warc-edge", "warc", "commoncrawl"] {
        let mut stack = vec![d.join(dir)];
        while let Some(p) = stack.pop() {
            for e in std::fs::read_dir(&p).unwrap() {
                let e = e.unwrap().path();
                if e.is_dir() {
                    stack.push(e);
                } else {
                    found.push(e.strip_prefix(&d).unwrap().to_string_lossy().into_owned());
                }
            }
        }
    }
    found.sort();
    assert_eq!(found, listed, "files on disk vs the table in this test");

    for e in TABLE {
        let path = d.join(e.file);
        let (recs, skips) = read_file(&path);
        assert_eq!(recs.len(), e.records, "{}: records", e.file);
        let want: BTreeMap<String, usize> =
            e.types.iter().map(|(t, n)| (t.to_string(), *n)).collect();
        assert_eq!(by_type(&recs), want, "{}: records by type", e.file);

        let mut p = pages(std::fs::File::open(&path).unwrap());
        let n = p.by_ref().count() as u64;
        let c = p.into_counters();
        assert_eq!(n, e.pages, "{}: pages ({c:?})", e.file);
        assert_eq!(c.get("page"), n);
        for (name, count) in e.counted {
            assert_eq!(c.get(name), *count, "{}: counter {name} in {c:?}", e.file);
        }
        // Reader skips appear exactly where the table says the file is broken.
        for r in READER_SKIPS {
            let want = e.counted.iter().find(|(n, _)| n == r).map_or(0, |x| x.1);
            assert_eq!(skips.get(r), want, "{}: skip {r}", e.file);
            assert_eq!(c.get(r), want, "{}: skip {r} in page counters", e.file);
        }
        // Every record counted by type in the page counters.
        let typed: u64 =
            c.0.iter()
                .filter(|(k, _)| k.starts_with("record_"))
                .map(|(_, v)| v)
                .sum();
        assert_eq!(typed, e.records as u64, "{}", e.file);
    }
}

/// Per-record gzip: `[offset, offset + length)` of the file, read as its own gzip stream,
/// yields exactly that record (how pages are read back later, as with Common Crawl's index).
#[test]
fn offsets_reread_exactly_one_record() {
    let Some(d) = data() else { return };
    let per_record = [
        "commoncrawl/jwarc-cc-2019-12-commoncrawl.org.warc.gz",
        "commoncrawl/resiliparse-CC-MAIN-2020-34-warcfile.warc.gz",
        "commoncrawl/whirlwind-CC-MAIN-2024-22/whirlwind.warc.gz",
        "commoncrawl/whirlwind-CC-MAIN-2024-22/whirlwind.warc.wat.gz",
        "commoncrawl/whirlwind-CC-MAIN-2024-22/whirlwind.warc.wet.gz",
        "warc-edge/jwarc-gzip_extra_sl.warc.gz",
        "warc-edge/pywb-dupes.warc.gz",
        "warc-edge/pywb-example-url-agnostic-revisit.warc.gz",
        "warc-edge/resiliparse-block-sized-records.warc.gz",
        "warc-edge/resiliparse-clueweb-quirk.warc.gz",
        "warc-edge/ukwa-IAH-20080430204825-00000-blackbook-truncated.warc.gz",
        "warc-edge/warcio-example-space-in-target-uri.warc.gz",
        "warc-edge/warcio-example-wget-bad-target-uri.warc.gz",
        "warc/dolma-sample-0000.warc.gz",
        "warc/dolma-sample-0001.warc.gz",
        "warc/pywb-iana.warc.gz",
        "warc/ukwa-IAH-urls-wget.warc.gz",
        "minicrawl/MINICRAWL-dev-00000.warc.gz",
        // Plain files: the span is the record's own bytes.
        "commoncrawl/npm-warc-CC-MAIN-2014-35/CC-MAIN-20140820021334-00006-ip-10-180-136-8.ec2.internal.warc",
        "warc-edge/warcio-standard-torture-validate-record.warc",
    ];
    for f in per_record {
        let bytes = std::fs::read(d.join(f)).unwrap();
        let (recs, _) = read_bytes(&bytes);
        assert!(!recs.is_empty(), "{f}");
        let mut next = recs[0].offset;
        for r in &recs {
            assert!(
                r.whole_members,
                "{f}: record at {} not whole members",
                r.offset
            );
            assert_eq!(r.offset, next, "{f}: records tile the file");
            next = r.offset + r.length;
            let span = &bytes[r.offset as usize..(r.offset + r.length) as usize];
            let (again, skips) = read_bytes(span);
            assert!(skips.is_empty(), "{f}: {skips:?}");
            assert_eq!(again.len(), 1, "{f} at {}", r.offset);
            assert_eq!(again[0].headers, r.headers);
            assert_eq!(again[0].block(), r.block());
            assert_eq!(again[0].offset, 0);
            assert_eq!(again[0].length, r.length);
        }
        if f.ends_with(".gz") {
            assert_eq!(next, bytes.len() as u64, "{f}: last member ends the file");
        }
    }
}

#[test]
fn records_spanning_or_sharing_members_are_placed_by_member() {
    let Some(d) = data() else { return };
    // One record split over 3 members; the 3rd also holds a request record.
    let (recs, _) = read_file(&d.join("warc-edge/warcio-example-wrong-chunks.warc.gz"));
    // Its block (by Content-Length) ends in member 2, 5 bytes before the CRLF CRLF in member 3.
    assert_eq!(
        (recs[0].offset, recs[0].length, recs[0].whole_members),
        (0, 1130, false)
    );
    assert_eq!(
        (recs[1].offset, recs[1].length, recs[1].whole_members),
        (1130, 445, false)
    );
    assert!(recs[0].block().windows(15).any(|w| w == b"<!doctype html>"));
    // A whole file in one member: all records start at member 0.
    let (recs, _) = read_file(&d.join("warc-edge/warcio-example-bad-non-chunked.warc.gz"));
    assert!(recs.iter().all(|r| r.offset == 0 && !r.whole_members));
    assert_eq!(recs.last().unwrap().length, 2113);
}

#[test]
fn versions_and_target_uris() {
    let Some(d) = data() else { return };
    let (recs, _) = read_file(&d.join("warc-edge/resiliparse-clueweb-quirk.warc.gz"));
    assert!(recs.iter().all(|r| r.version == "0.18"));
    let (recs, _) = read_file(&d.join("warc-edge/resiliparse-block-sized-records.warc.gz"));
    assert!(recs
        .iter()
        .all(|r| r.version == "1.1" && r.block().len() > 16_000));
    let (recs, _) =
        read_file(&d.join("warc-edge/ukwa-IAH-20080430204825-00000-blackbook-truncated.warc.gz"));
    assert_eq!(recs[0].version, "0.17");

    let (recs, _) = read_file(&d.join("warc-edge/warcio-example-wget-bad-target-uri.warc.gz"));
    let uris: Vec<String> = recs.iter().filter_map(|r| r.target_uri()).collect();
    assert!(!uris.is_empty());
    assert!(
        uris.iter()
            .all(|u| !u.starts_with('<') && !u.ends_with('>')),
        "{uris:?}"
    );
    assert!(
        uris.iter().any(|u| u.starts_with("http://example.com/")),
        "{uris:?}"
    );
    let raw = recs
        .iter()
        .find_map(|r| r.header("warc-target-uri"))
        .unwrap();
    assert!(
        raw.starts_with('<'),
        "case-insensitive lookup of the raw field: {raw}"
    );

    let (recs, _) = read_file(&d.join("warc-edge/warcio-example-space-in-target-uri.warc.gz"));
    let u = recs[1].target_uri().unwrap();
    assert!(u.contains(' ') && u.starts_with("file:///"), "{u}");

    // Torture file: the first of repeated fields wins, invalid UTF-8 is decoded lossily.
    let (recs, _) = read_file(&d.join("warc-edge/warcio-standard-torture-validate-field.warc"));
    assert_eq!(recs[0].warc_type(), Some("does-not-exist"));
    assert_eq!(recs[0].target_uri().as_deref(), Some("http://example.com/"));
    assert_eq!(
        recs[0]
            .headers
            .iter()
            .filter(|(n, _)| n == "WARC-Type")
            .count(),
        2
    );
}

#[test]
fn minicrawl_has_229_pages_with_the_labelled_urls() {
    let Some(d) = data() else { return };
    let labels = std::fs::read_to_string(d.join("minicrawl/LABELS.tsv")).unwrap();
    let mut want: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in labels.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        want.entry(cols[0].to_string())
            .or_default()
            .push(cols[1].to_string());
    }
    let mut total = 0;
    for (shard, urls) in &mut want {
        let mut p = pages(std::fs::File::open(d.join("minicrawl").join(shard)).unwrap());
        let mut got: Vec<String> = Vec::new();
        for page in p.by_ref() {
            assert_eq!(page.status, 200);
            assert!(page.body.len() > 500, "{}", page.url);
            assert!(page.warc_length > 0 && page.record_id.starts_with("<urn:"));
            got.push(page.url);
        }
        let c = p.into_counters();
        assert_eq!(c.get("record_response"), got.len() as u64, "{shard}: {c:?}");
        urls.sort();
        got.sort();
        assert_eq!(&got, urls, "{shard}");
        total += got.len();
    }
    assert_eq!(total, 229);
}

#[test]
fn common_crawl_excerpt_pages_keep_charsets_and_chunked_originals() {
    let Some(d) = data() else { return };
    let path = d.join("commoncrawl/resiliparse-CC-MAIN-2020-34-warcfile.warc.gz");
    let (recs, _) = read_file(&path);
    let crawler_chunked: Vec<&Record> = recs
        .iter()
        .filter(|r| r.warc_type() == Some("response"))
        .filter(|r| {
            let resp = parse_response(r.block()).unwrap();
            resp.header("X-Crawler-Transfer-Encoding")
                .is_some_and(|v| v.contains("chunked"))
        })
        .collect();
    assert_eq!(crawler_chunked.len(), 7);
    let ps: Vec<_> = pages(std::fs::File::open(&path).unwrap()).collect();
    assert_eq!(ps.len(), 16);
    for r in crawler_chunked {
        let uri = r.target_uri().unwrap();
        let p = ps
            .iter()
            .find(|p| p.url == uri)
            .expect("chunked original is a page");
        // The crawler already de-chunked: the body is the record's payload, untouched.
        let resp = parse_response(r.block()).unwrap();
        assert!(resp.notes.is_empty(), "{:?}", resp.notes);
        assert_eq!(p.body, resp.body);
        assert!(r.block().ends_with(&p.body));
    }
    let declares = |cs: &str| {
        ps.iter().any(|p| {
            p.content_type
                .as_deref()
                .is_some_and(|t| t.to_ascii_lowercase().contains(cs))
                || p.body
                    .to_ascii_lowercase()
                    .windows(cs.len())
                    .any(|w| w == cs.as_bytes())
        })
    };
    assert!(declares("windows-1251"));
    assert!(declares("gb2312"));
    // Offsets of pages point at their own members.
    let bytes = std::fs::read(&path).unwrap();
    for p in &ps {
        let span = &bytes[p.warc_offset as usize..(p.warc_offset + p.warc_length) as usize];
        let again: Vec<_> = pages(span).collect();
        assert_eq!(again.len(), 1);
        assert_eq!(
            (&again[0].url, again[0].warc_length),
            (&p.url, p.warc_length)
        );
        assert!(again[0].body == p.body, "{}", p.url);
    }
}

#[test]
fn http_edge_cases_on_real_records() {
    let Some(d) = data() else { return };
    let first_response = |f: &str| -> Record {
        let (recs, _) = read_file(&d.join(f));
        recs.into_iter()
            .find(|r| r.warc_type() == Some("response"))
            .unwrap()
    };
    // Chunk "3" with 2 bytes: framing broken, raw body kept and noted.
    let r = first_response("warc-edge/warcat-bad_http_chunked_content.warc");
    let h = parse_response(r.block()).unwrap();
    assert_eq!(h.status, 200);
    assert_eq!(h.notes, vec![note::BAD_CHUNKED_ENCODING]);
    assert_eq!(
        h.body, b"3\r\naa\r\n0",
        "the block is 73 bytes: it ends after the \"0\""
    );
    // 0xFF in a header value: decoded lossily, the rest parsed.
    let r = first_response("warc-edge/warcat-not_utf8_http_header.warc");
    let h = parse_response(r.block()).unwrap();
    assert!(
        h.headers.iter().any(|(_, v)| v.contains('\u{FFFD}')),
        "{:?}",
        h.headers
    );
    // Empty reason phrase, CR CR LF line ends.
    let r = first_response("warc-edge/pywb-missing-status-text.warc");
    let h = parse_response(r.block()).unwrap();
    assert_eq!(h.status, 302);
    assert_eq!(h.header("Location"), Some("http://www.iana.org/badst"));
    // Real chunked body: undone.
    let r = first_response("warc-edge/warcio-example-iana.org-chunked.warc");
    let h = parse_response(r.block()).unwrap();
    assert!(h.notes.is_empty(), "{:?}", h.notes);
    assert!(
        h.body.starts_with(b"<!doctype html>"),
        "{:?}",
        String::from_utf8_lossy(&h.body[..40])
    );
    assert!(h.body.trim_ascii_end().ends_with(b"</html>"));
    // gzip Content-Encoding body (its record is 2 bytes longer than Content-Length): decoded.
    let r = first_response("warc-edge/warcio-example-trunc.warc");
    let h = parse_response(r.block()).unwrap();
    assert!(
        h.body.starts_with(b"<!doctype html>"),
        "{:?}",
        &h.body[..20.min(h.body.len())]
    );
    // ClueWeb09: header says gzip, body already decoded: kept, noted.
    let r = first_response("warc-edge/resiliparse-clueweb-quirk.warc.gz");
    let h = parse_response(r.block()).unwrap();
    assert_eq!(h.notes, vec![note::CONTENT_ENCODING_NOT_APPLIED]);
    assert!(r.block().ends_with(&h.body));
    // Common Crawl: X-Crawler-* encodings already removed, nothing undone again.
    let r = first_response("commoncrawl/jwarc-cc-2019-12-commoncrawl.org.warc.gz");
    let h = parse_response(r.block()).unwrap();
    assert!(h.header("X-Crawler-Content-Encoding").is_some());
    assert!(h.notes.is_empty());
    assert!(r.block().ends_with(&h.body) && h.body.len() > 1000);
}

#[test]
fn decoded_size_is_capped() {
    use flate2::write::GzEncoder;
    use std::io::Write;
    let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&vec![b'a'; 8 << 20]).unwrap();
    let gz = enc.finish().unwrap();
    let mut msg =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n\r\n".to_vec();
    msg.extend_from_slice(&gz);
    let h = parse_response_with(&msg, HttpLimits { max_body: 1 << 20 }).unwrap();
    assert_eq!(h.body.len(), 1 << 20);
    assert_eq!(h.notes, vec![note::DECODED_BODY_CAPPED]);
    let h = parse_response(&msg).unwrap();
    assert_eq!(h.body.len(), 8 << 20);
    assert!(h.notes.is_empty());
    assert!(parse_response(b"<html>not http").is_err());
}

/// Member spans `(offset, length)` of a per-record gzip file, from the reader itself.
fn spans(bytes: &[u8]) -> Vec<(usize, usize)> {
    read_bytes(bytes)
        .0
        .iter()
        .map(|r| (r.offset as usize, r.length as usize))
        .collect()
}

#[test]
fn corrupt_member_costs_only_its_record() {
    let Some(d) = data() else { return };
    let bytes = std::fs::read(d.join("warc/pywb-iana.warc.gz")).unwrap();
    let sp = spans(&bytes);
    assert_eq!(sp.len(), 343);
    // Overwrite the middle of the largest member's deflate data with garbage.
    let (k, &(off, len)) = sp.iter().enumerate().max_by_key(|(_, s)| s.1).unwrap();
    let mut bad = bytes.clone();
    for b in &mut bad[off + 20..off + len / 2] {
        *b = 0xA5;
    }
    let (recs, skips) = read_bytes(&bad);
    assert_eq!(skips.get(skip::CORRUPT_GZIP_MEMBER), 1, "{skips:?}");
    assert_eq!(recs.len(), 342, "{skips:?}");
    assert!(recs.iter().all(|r| r.offset != off as u64));
    assert_eq!(
        recs[k].offset,
        sp[k + 1].0 as u64,
        "next member read in full"
    );
    assert!(recs.iter().all(|r| r.whole_members));
}

#[test]
fn garbage_between_members_is_skipped_and_counted() {
    let Some(d) = data() else { return };
    let bytes = std::fs::read(d.join("warc/dolma-sample-0000.warc.gz")).unwrap();
    let sp = spans(&bytes);
    let cut = sp[10].0;
    let mut bad = bytes[..cut].to_vec();
    bad.extend_from_slice(b"garbage \x1f\x8b not a member\r\nWARC/1.0\r\n");
    bad.extend_from_slice(&bytes[cut..]);
    let (recs, skips) = read_bytes(&bad);
    assert_eq!(recs.len(), 48, "{skips:?}");
    assert!(skips.get(skip::GZIP_GARBAGE) >= 1, "{skips:?}");
    let shift = bad.len() - bytes.len();
    assert_eq!(recs[10].offset as usize, cut + shift);
}

#[test]
fn truncated_shard_keeps_every_complete_record() {
    let Some(d) = data() else { return };
    let bytes = std::fs::read(d.join("warc/dolma-sample-0001.warc.gz")).unwrap();
    let sp = spans(&bytes);
    for (k, &(off, len)) in sp.iter().enumerate().step_by(5) {
        let (recs, skips) = read_bytes(&bytes[..off + len / 2]);
        assert_eq!(recs.len(), k, "cut inside member {k}");
        assert_eq!(skips.get(skip::TRUNCATED_GZIP_MEMBER), 1, "{skips:?}");
        assert!(skips.total() <= 2, "{skips:?}");
    }
    // A plain file cut inside a block.
    let plain = std::fs::read(d.join("warc-edge/warcio-example-iana.org-chunked.warc")).unwrap();
    let (recs, skips) = read_bytes(&plain[..plain.len() - 100]);
    assert_eq!(recs.len(), 2);
    assert_eq!(skips.get(skip::TRUNCATED_RECORD), 1);
}

/// Damage at many places of a real file: never a panic or a hang, and the records in members
/// the damage did not touch are all read.
#[test]
fn damage_anywhere_never_loses_untouched_members() {
    let Some(d) = data() else { return };
    let bytes = std::fs::read(d.join("warc-edge/pywb-dupes.warc.gz")).unwrap();
    let sp = spans(&bytes);
    let mut state = 0x2545_f491_u64;
    for _ in 0..300 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let at = (state % bytes.len() as u64) as usize;
        let n = 1 + (state >> 40) as usize % 64;
        let mut bad = bytes.clone();
        for b in &mut bad[at..(at + n).min(bytes.len())] {
            *b ^= 0x5a;
        }
        let (recs, _) = read_bytes(&bad);
        let touched = |&(o, l): &(usize, usize)| at < o + l && o < at + n;
        let untouched = sp.iter().filter(|s| !touched(s)).count();
        assert!(
            recs.len() >= untouched,
            "damage at {at}+{n}: {} < {untouched}",
            recs.len()
        );
    }
    // Other layouts: a whole file in one member, a record over 3 members, a truncated member.
    for f in [
        "warc-edge/warcio-example-bad-non-chunked.warc.gz",
        "warc-edge/warcio-example-wrong-chunks.warc.gz",
        "warc-edge/resiliparse-clipped.warc.gz",
    ] {
        let bytes = std::fs::read(d.join(f)).unwrap();
        for i in 0..60 {
            let at = (i * 7919) % bytes.len();
            let mut bad = bytes.clone();
            for b in &mut bad[at..(at + 1 + i % 40).min(bytes.len())] {
                *b = b.wrapping_mul(31).wrapping_add(7);
            }
            let _ = read_bytes(&bad);
            let _ = read_bytes(&bytes[..at]);
        }
    }
    // Plain file: damaged version lines and lengths.
    let plain =
        std::fs::read(d.join("warc-edge/warcio-standard-torture-validate-record.warc")).unwrap();
    for at in (0..plain.len()).step_by(7) {
        let mut bad = plain.clone();
        bad[at] = b'#';
        let _ = read_bytes(&bad);
        let _ = read_bytes(&plain[..at]);
    }
}

#[test]
fn bad_content_length_and_non_utf8_fields_on_real_records() {
    let Some(d) = data() else { return };
    let plain = std::fs::read(d.join("warc-edge/warcio-example-iana.org-chunked.warc")).unwrap();
    let (good, _) = read_bytes(&plain);
    assert_eq!(good.len(), 3);
    let find = |hay: &[u8], pat: &[u8]| hay.windows(pat.len()).position(|w| w == pat).unwrap();
    // The response record's Content-Length made unparseable: that record is skipped, counted,
    // and the request after it is still read.
    let resp_at = find(&plain, b"WARC-Type: response");
    let cl = resp_at + find(&plain[resp_at..], b"Content-Length: ") + 16;
    let mut bad = plain.clone();
    bad[cl] = b'x';
    let (recs, skips) = read_bytes(&bad);
    assert_eq!(skips.get(skip::BAD_CONTENT_LENGTH), 1, "{skips:?}");
    let types: Vec<_> = recs
        .iter()
        .map(|r| r.warc_type().unwrap().to_string())
        .collect();
    assert_eq!(types, ["warcinfo", "request"]);
    // The field removed altogether: same.
    let mut bad = plain.clone();
    bad[cl - 16..cl - 1].copy_from_slice(b"X-Not-A-Length:");
    let (recs, skips) = read_bytes(&bad);
    assert_eq!((recs.len(), skips.get(skip::BAD_CONTENT_LENGTH)), (2, 1));
    // Non-UTF-8 bytes in a header value: decoded lossily, the record intact.
    let uri = find(&plain, b"WARC-Target-URI: ") + 20;
    let mut bad = plain.clone();
    bad[uri] = 0xff;
    let (recs, skips) = read_bytes(&bad);
    assert!(skips.is_empty());
    assert_eq!(recs.len(), 3);
    assert!(recs
        .iter()
        .any(|r| r.target_uri().is_some_and(|u| u.contains('\u{FFFD}'))));
    assert_eq!(recs[1].block(), good[1].block());
}

/// Re-gzips member `k` of a per-record gzip file after `edit` on its decoded record.
fn edit_member(bytes: &[u8], k: usize, edit: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    use std::io::{Read, Write};
    let sp = spans(bytes);
    let (off, len) = sp[k];
    let mut rec = Vec::new();
    flate2::read::GzDecoder::new(&bytes[off..off + len])
        .read_to_end(&mut rec)
        .unwrap();
    edit(&mut rec);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&rec).unwrap();
    let mut out = bytes[..off].to_vec();
    out.extend_from_slice(&enc.finish().unwrap());
    out.extend_from_slice(&bytes[off + len..]);
    out
}

#[test]
fn wrong_content_length_costs_only_its_record() {
    let Some(d) = data() else { return };
    let bytes = std::fs::read(d.join("warc/dolma-sample-0000.warc.gz")).unwrap();
    let (good, _) = read_bytes(&bytes);
    let k = 5;
    let clen = good[k].header("Content-Length").unwrap().to_string();
    let replace = |by: String| {
        let clen = clen.clone();
        move |rec: &mut Vec<u8>| {
            let s = String::from_utf8_lossy(rec).into_owned();
            let at = s.find("Content-Length: ").unwrap() + 16;
            let mut out = rec[..at].to_vec();
            out.extend_from_slice(by.as_bytes());
            out.extend_from_slice(&rec[at + clen.len()..]);
            *rec = out;
        }
    };
    // Too large: the block would swallow the following members.
    let big: u64 = clen.parse::<u64>().unwrap() + 5000;
    let (recs, skips) = read_bytes(&edit_member(&bytes, k, replace(big.to_string())));
    assert_eq!(skips.get(skip::BAD_CONTENT_LENGTH), 1, "{skips:?}");
    assert_eq!(skips.total(), 1, "{skips:?}");
    assert_eq!(recs.len(), good.len() - 1);
    assert_eq!(recs[k].block(), good[k + 1].block());
    // Too small: the record is kept as its Content-Length says, the rest counted.
    let small: u64 = clen.parse::<u64>().unwrap() - 10;
    let (recs, skips) = read_bytes(&edit_member(&bytes, k, replace(small.to_string())));
    assert_eq!(skips.get(skip::BAD_RECORD_TERMINATOR), 1, "{skips:?}");
    assert_eq!(recs.len(), good.len());
    assert_eq!(recs[k].block(), &good[k].block()[..small as usize]);
    assert_eq!(recs[k + 1].block(), good[k + 1].block());
}

/// A reader that fails with an I/O error after `ok` bytes.
struct FailAfter<'a> {
    bytes: &'a [u8],
    ok: usize,
}

impl std::io::Read for FailAfter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.ok == 0 {
            return Err(std::io::Error::other("connection reset"));
        }
        let n = buf.len().min(self.ok).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        self.ok -= n;
        Ok(n)
    }
}

#[test]
fn read_error_keeps_the_records_before_it() {
    let Some(d) = data() else { return };
    let bytes = std::fs::read(d.join("warc/dolma-sample-0001.warc.gz")).unwrap();
    let sp = spans(&bytes);
    let (off, len) = sp[20];
    let mut recs = 0;
    let mut reasons = Vec::new();
    for ev in WarcReader::new(FailAfter {
        bytes: &bytes,
        ok: off + len / 2,
    }) {
        match ev {
            ReadEvent::Record(_) => recs += 1,
            ReadEvent::Skip { reason, .. } => reasons.push(reason),
        }
    }
    assert_eq!(recs, 20);
    assert!(reasons.contains(&skip::READ_ERROR), "{reasons:?}");
}

#[test]
fn oversized_records_are_skipped_without_buffering() {
    let Some(d) = data() else { return };
    let bytes = std::fs::read(d.join("warc/dolma-sample-0000.warc.gz")).unwrap();
    let (all, _) = read_bytes(&bytes);
    let limit = 2000;
    let mut kept = Vec::new();
    let mut skipped = 0;
    for ev in WarcReader::new(&bytes[..]).with_max_block(limit) {
        match ev {
            ReadEvent::Record(r) => kept.push(r),
            ReadEvent::Skip { reason, .. } => {
                assert_eq!(reason, skip::RECORD_TOO_LARGE);
                skipped += 1;
            }
        }
    }
    let small: Vec<_> = all
        .iter()
        .filter(|r| r.block().len() as u64 <= limit)
        .collect();
    assert!(skipped > 0 && !small.is_empty());
    assert_eq!(kept.len() + skipped, all.len());
    for (a, b) in kept.iter().zip(small) {
        assert_eq!(
            (a.offset, a.length, a.block()),
            (b.offset, b.length, b.block())
        );
    }
}

#[test]
fn identified_payload_type_decides_when_the_server_type_is_generic() {
    let Some(d) = data() else { return };
    let (recs, _) = read_file(&d.join("commoncrawl/whirlwind-CC-MAIN-2024-22/whirlwind.warc.gz"));
    let resp = recs
        .iter()
        .find(|r| r.warc_type() == Some("response"))
        .unwrap();
    assert!(resp.header("WARC-Identified-Payload-Type").is_some());
    // Same record, the server's type made generic and the body made unsniffable.
    let block = resp.block();
    let h = parse_response(block).unwrap();
    let head_len = block.len() - h.body.len();
    let head = String::from_utf8_lossy(&block[..head_len]).into_owned();
    let ct = h.header("Content-Type").unwrap();
    let head = head.replace(ct, "application/octet-stream");
    let with = |identified: &str| {
        let mut b = head.clone().into_bytes();
        b.extend_from_slice(b"\x00");
        b.extend_from_slice(&h.body);
        let mut headers = resp.headers.clone();
        for (n, v) in &mut headers {
            if n.eq_ignore_ascii_case("WARC-Identified-Payload-Type") {
                *v = identified.to_string();
            }
        }
        let r = Record::new(resp.version.clone(), headers, b, 0, 0, false);
        let mut p = Pages::new(std::iter::once(ReadEvent::Record(r)));
        (p.by_ref().count(), p.into_counters().get("not_html"))
    };
    assert_eq!(with("text/html"), (1, 0));
    assert_eq!(with("image/png"), (0, 1));
    assert_eq!(
        with(""),
        (0, 1),
        "no identified type: sniffing fails on the NUL byte"
    );
}

#[test]
fn pages_adapter_counts_reader_skips_and_is_swappable() {
    let Some(d) = data() else { return };
    let bytes = std::fs::read(d.join("warc-edge/resiliparse-clipped.warc.gz")).unwrap();
    let mut p = Pages::new(WarcReader::new(&bytes[..]));
    assert_eq!(p.by_ref().count(), 0);
    assert_eq!(p.counters().get(skip::TRUNCATED_RECORD), 1);
    // Any iterator of events is a RecordReader.
    let (recs, _) = read_file(&d.join("commoncrawl/whirlwind-CC-MAIN-2024-22/whirlwind.warc.gz"));
    let events = recs
        .into_iter()
        .map(ReadEvent::Record)
        .chain([ReadEvent::Skip {
            reason: "made_up",
            offset: 0,
            detail: String::new(),
        }]);
    let mut p = Pages::new(events);
    let got: Vec<_> = p.by_ref().collect();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].url, "https://an.wikipedia.org/wiki/Escopete");
    assert_eq!(p.counters().get("made_up"), 1);
}

/// Throughput of reading every minicrawl shard (records, HTTP parse, page selection).
/// `cargo test --release -p corpusminer-pipeline --test warc_data -- --ignored --nocapture`
#[test]
#[ignore]
fn measure_minicrawl_read_rate() {
    let Some(d) = data() else { return };
    let shards: Vec<Vec<u8>> = (0..4)
        .map(|i| std::fs::read(d.join(format!("minicrawl/MINICRAWL-dev-0000{i}.warc.gz"))).unwrap())
        .collect();
    let gz: usize = shards.iter().map(Vec::len).sum();
    let reps = 10;
    let t = std::time::Instant::now();
    let (mut n, mut body) = (0usize, 0usize);
    for _ in 0..reps {
        for s in &shards {
            for p in pages(&s[..]) {
                n += 1;
                body += p.body.len();
            }
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let t2 = std::time::Instant::now();
    let mut recs = 0usize;
    for _ in 0..reps {
        for s in &shards {
            recs += WarcReader::new(&s[..]).count();
        }
    }
    let secs2 = t2.elapsed().as_secs_f64();
    // CPU seconds of this thread (the machine may be shared: wall time then overstates).
    let cpu = std::fs::read_to_string("/proc/thread-self/stat")
        .ok()
        .and_then(|s| {
            let f: Vec<&str> = s.rsplit(')').next()?.split_whitespace().collect();
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / 100.0)
        });
    if let Some(cpu) = cpu {
        println!(
            "cpu: {cpu:.2}s for both passes: {:.1} gzip MB per CPU-second",
            (2 * gz * reps) as f64 / 1e6 / cpu
        );
    }
    println!(
        "pages: {n} pages in {secs:.2}s: {:.0} pages/s, {:.1} gzip MB/s, {:.1} decoded MB/s; records only: {:.1} gzip MB/s ({recs} events)",
        n as f64 / secs,
        (gz * reps) as f64 / 1e6 / secs,
        body as f64 / 1e6 / secs,
        (gz * reps) as f64 / 1e6 / secs2,
    );
}
