//! The bytes every choice is measured on: the shared data folder's WARC shards and pages.

use corpusminer_pipeline::extract::charset;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The shared data folder: `--data DIR`, else `$CORPUSMINER_SHARED_DATA`, else the first
/// `shared/data` (holding `PROVENANCE.md`) beside the working directory, this crate, or one of
/// their ancestors.
pub fn data_dir(arg: Option<&Path>) -> Option<PathBuf> {
    if let Some(d) = arg {
        return d.join("PROVENANCE.md").is_file().then(|| d.to_path_buf());
    }
    let from = |start: &Path| corpusminer_pipeline::testdata::shared_data_dir_from(start);
    std::env::current_dir()
        .ok()
        .and_then(|d| from(&d))
        .or_else(|| from(Path::new(env!("CARGO_MANIFEST_DIR"))))
}

/// The minicrawl shards (`minicrawl/*.warc.gz`), sorted; only the first with `quick`.
pub fn minicrawl_shards(data: &Path, quick: bool) -> Vec<PathBuf> {
    let mut v = list(&data.join("minicrawl"), &|p| {
        p.to_string_lossy().ends_with(".warc.gz")
    });
    if quick {
        v.truncate(1);
    }
    v
}

/// Every WARC, WAT and WET file (plain or gzip) under `minicrawl/`, `commoncrawl/`, `warc/` and
/// `warc-edge/`, sorted by path.
pub fn all_warc_files(data: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for sub in ["minicrawl", "commoncrawl", "warc", "warc-edge"] {
        v.extend(list(&data.join(sub), &|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(".warc"))
        }));
    }
    v
}

/// Files below `dir` (recursively) that `keep` accepts, sorted.
fn list(dir: &Path, keep: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(list(&p, keep));
        } else if keep(&p) {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Reads a whole file; panics with the path when it cannot (the bench's inputs must exist).
pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// All gzip members of `gz` decoded (flate2, whatever backend the build selects).
pub fn gunzip(gz: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(gz.len() * 6);
    flate2::read::MultiGzDecoder::new(gz)
        .read_to_end(&mut out)
        .expect("the minicrawl shards are valid gzip");
    out
}

/// The same shards as gzip bytes and as decoded WARC bytes, each the concatenation of the shard
/// files `repeat` times (concatenated gzip members and concatenated WARC files stay valid).
pub struct Shards {
    /// Concatenated gzip files.
    pub gz: Vec<u8>,
    /// The same, decoded.
    pub plain: Vec<u8>,
    /// Shard files read.
    pub files: usize,
    /// Times the files are repeated.
    pub repeat: usize,
}

impl Shards {
    /// Loads `paths` and repeats them.
    pub fn load(paths: &[PathBuf], repeat: usize) -> Shards {
        let mut one = Vec::new();
        for p in paths {
            one.extend(read(p));
        }
        let gz = one.repeat(repeat.max(1));
        let plain = gunzip(&gz);
        Shards {
            gz,
            plain,
            files: paths.len(),
            repeat: repeat.max(1),
        }
    }
}

/// An HTML page of a shard, as the worker sees it, plus its text decoded to UTF-8.
pub struct HtmlPage {
    /// `WARC-Target-URI`.
    pub url: String,
    /// HTTP `Content-Type`, if any.
    pub content_type: Option<String>,
    /// HTTP body bytes (the page's own charset).
    pub body: Vec<u8>,
    /// The body decoded with our charset detection ([`charset::sniff`] + [`charset::decode`]),
    /// so every HTML layer parses the same UTF-8 text.
    pub html: String,
}

/// The HTML pages of `shards`, read with our WARC reader and page filter.
pub fn html_pages(shards: &[PathBuf]) -> Vec<HtmlPage> {
    let mut out = Vec::new();
    for s in shards {
        let file =
            std::fs::File::open(s).unwrap_or_else(|e| panic!("opening {}: {e}", s.display()));
        for page in corpusminer_pipeline::page::pages(std::io::BufReader::new(file)) {
            let html = decode(&page.body, page.content_type.as_deref());
            out.push(HtmlPage {
                url: page.url,
                content_type: page.content_type,
                body: page.body,
                html,
            });
        }
    }
    out
}

/// `body` decoded to UTF-8 as our extractor decodes it.
pub fn decode(body: &[u8], content_type: Option<&str>) -> String {
    let (enc, _) = charset::sniff(body, content_type);
    charset::decode(body, enc).into_owned()
}
