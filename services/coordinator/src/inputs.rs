//! Shard sources: what `--input` and `--crawl` name, expanded into shard URIs.

use corpusminer_storage::{redact_uri, resolve, StorageConfig, StorageError, StorageErrorKind};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::io::Read;

/// Common Crawl's public HTTPS host, the default base of `--crawl`.
pub const COMMON_CRAWL_BASE: &str = "https://data.commoncrawl.org/";

/// Errors finding shards.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// A local path or glob matched no file.
    #[error("--input {0}: no file matches it (a shard is a WARC file, plain or gzip: a path, a glob such as 'DIR/*.warc.gz', s3://bucket/key or https://…)")]
    NoMatch(String),
    /// A local `--input` is a directory, not a shard.
    #[error("--input {0} is a directory, not a WARC file: give the shards in it, e.g. --input '{glob}'", glob = dir_glob(.0))]
    Directory(String),
    /// A glob pattern is malformed.
    #[error("bad glob {pattern:?}: {message}")]
    BadGlob {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        message: String,
    },
    /// The crawl id is not of the form `CC-MAIN-YYYY-WW`.
    #[error("crawl id {0:?} is not of the form CC-MAIN-YYYY-WW")]
    BadCrawlId(String),
    /// The listing could not be read.
    #[error("reading the crawl listing: {message}")]
    Listing {
        /// The listing's URI.
        uri: String,
        /// What failed on which URI and why (the store's error with its causes), and what to do.
        message: String,
    },
}

/// `DIR/*.warc.gz` for a directory given as a shard (quoted by the caller, so the shell
/// leaves the glob to corpusminer).
fn dir_glob(dir: &str) -> String {
    format!("{}/*.warc.gz", dir.trim_end_matches('/'))
}

/// Expands `--input` values: `s3://` and `http(s)://` URIs are taken as they are; anything
/// else is a local path or glob, expanded and sorted. Every pattern must match at least one file.
pub fn expand_inputs(inputs: &[String]) -> Result<Vec<String>, InputError> {
    let mut out = Vec::new();
    for input in inputs {
        if input.starts_with("s3://") || input.starts_with("http://") || input.starts_with("https://") {
            out.push(input.clone());
            continue;
        }
        let path = input.strip_prefix("file://").unwrap_or(input);
        let matches = glob::glob(path).map_err(|e| InputError::BadGlob { pattern: input.clone(), message: e.to_string() })?;
        let mut found: Vec<String> = matches
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .map(|p| std::fs::canonicalize(&p).unwrap_or(p).to_string_lossy().into_owned())
            .collect();
        if found.is_empty() {
            if std::path::Path::new(path).is_dir() {
                return Err(InputError::Directory(input.clone()));
            }
            return Err(InputError::NoMatch(input.clone()));
        }
        found.sort();
        out.extend(found);
    }
    out.dedup();
    Ok(out)
}

/// Checks that `crawl` is a Common Crawl id, `CC-MAIN-YYYY-WW` (ASCII digits; any other text,
/// multi-byte characters included, is `BadCrawlId`).
pub fn check_crawl_id(crawl: &str) -> Result<(), InputError> {
    let b = crawl.as_bytes();
    let digits = |r: &[u8]| r.iter().all(u8::is_ascii_digit);
    let ok = b.len() == "CC-MAIN-2024-10".len() && b.starts_with(b"CC-MAIN-") && digits(&b[8..12]) && b[12] == b'-' && digits(&b[13..]);
    if ok {
        Ok(())
    } else {
        Err(InputError::BadCrawlId(crawl.to_string()))
    }
}

/// The shard URIs of crawl `crawl` (`CC-MAIN-2024-10`) read from
/// `{base}/crawl-data/{crawl}/warc.paths.gz`, where `base` is Common Crawl's HTTPS host or any
/// mirror (`s3://commoncrawl/`, a local folder). With `sample = Some(n)`, `n` shards drawn at
/// random with `seed` (sorted, so the listing order does not matter).
pub async fn crawl_shards(
    crawl: &str,
    base: &str,
    sample: Option<usize>,
    seed: u64,
    storage: &StorageConfig,
) -> Result<Vec<String>, InputError> {
    check_crawl_id(crawl)?;
    let base = if base.ends_with('/') { base.to_string() } else { format!("{base}/") };
    let listing = format!("{base}crawl-data/{crawl}/warc.paths.gz");
    let err = |message: String| InputError::Listing { uri: listing.clone(), message };
    // The store's error names the operation and the URL; the listing's URL leads the message.
    let from_store = |e: StorageError| {
        let mut message = corpusminer_storage::error_chain(&e);
        if let Some(rest) = message.strip_prefix(&format!("{}: ", e.kind())) {
            message = rest.to_string();
        }
        if !message.contains(&redact_uri(&listing)) {
            message = format!("{}: {message}", redact_uri(&listing));
        }
        if listing.starts_with("http") && matches!(e.kind(), StorageErrorKind::Io | StorageErrorKind::Timeout) {
            message.push_str(&format!(
                " (no network? --crawl-base takes a mirror: s3://commoncrawl/, or a local folder holding crawl-data/{crawl}/warc.paths.gz and the shards; --input takes local shards)"
            ));
        } else if e.kind() == StorageErrorKind::NotFound {
            message.push_str(&format!(" (is {crawl} a crawl of {base}? Common Crawl lists its crawls at https://index.commoncrawl.org/)"));
        }
        err(message)
    };
    let (store, key) = resolve(&listing, storage).map_err(from_store)?;
    let gz = store.get(&key).await.map_err(from_store)?;
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(&gz[..]).read_to_string(&mut text).map_err(|e| err(format!("{}: not a gzip text listing: {e}", redact_uri(&listing))))?;
    let mut paths: Vec<String> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(|l| format!("{base}{l}")).collect();
    if paths.is_empty() {
        return Err(err(format!("{} is empty", redact_uri(&listing))));
    }
    if let Some(n) = sample {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        paths.shuffle(&mut rng);
        paths.truncate(n);
        paths.sort();
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn globs_expand_sorted_and_empty_matches_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.warc.gz", "a.warc.gz", "c.txt"] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let pattern = format!("{}/*.warc.gz", dir.path().display());
        let got = expand_inputs(&[pattern, "s3://bucket/key.warc.gz".into()]).unwrap();
        assert_eq!(got.len(), 3);
        assert!(got[0].ends_with("a.warc.gz") && got[1].ends_with("b.warc.gz"));
        assert_eq!(got[2], "s3://bucket/key.warc.gz");
        let missing = format!("{}/*.nothing", dir.path().display());
        assert!(matches!(expand_inputs(&[missing]), Err(InputError::NoMatch(_))));
    }

    #[test]
    fn crawl_ids_are_checked_without_panicking_on_any_text() {
        check_crawl_id("CC-MAIN-2024-10").unwrap();
        // Same byte length as a valid id, with a two-byte character where a digit goes.
        for bad in ["CC-MAIN-202é10", "CC-MAIN-2024-1é", "CC-MAIN-2024_10", "CC-MAIN-24-10", "", "é", "CC-MAIN-2024-100"] {
            assert!(matches!(check_crawl_id(bad), Err(InputError::BadCrawlId(_))), "{bad}");
        }
    }

    #[tokio::test]
    async fn crawl_listing_from_a_local_mirror_with_seeded_sample() {
        let dir = tempfile::tempdir().unwrap();
        let listing_dir = dir.path().join("crawl-data/CC-MAIN-2024-10");
        std::fs::create_dir_all(&listing_dir).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        for i in 0..20 {
            writeln!(gz, "crawl-data/CC-MAIN-2024-10/segments/1/warc/CC-MAIN-{i:05}.warc.gz").unwrap();
        }
        std::fs::write(listing_dir.join("warc.paths.gz"), gz.finish().unwrap()).unwrap();
        let base = dir.path().to_string_lossy().into_owned();
        let cfg = StorageConfig::default();
        let all = crawl_shards("CC-MAIN-2024-10", &base, None, 0, &cfg).await.unwrap();
        assert_eq!(all.len(), 20);
        assert!(all[0].starts_with(&base) && all[0].ends_with("CC-MAIN-00000.warc.gz"));
        let a = crawl_shards("CC-MAIN-2024-10", &base, Some(5), 7, &cfg).await.unwrap();
        let b = crawl_shards("CC-MAIN-2024-10", &base, Some(5), 7, &cfg).await.unwrap();
        let c = crawl_shards("CC-MAIN-2024-10", &base, Some(5), 8, &cfg).await.unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 5);
        assert_ne!(a, c);
        assert!(matches!(crawl_shards("CC-2024", &base, None, 0, &cfg).await, Err(InputError::BadCrawlId(_))));
        assert!(crawl_shards("CC-MAIN-2023-50", &base, None, 0, &cfg).await.is_err());
    }
}
