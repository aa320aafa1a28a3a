//! Extraction quality on the shared labelled pages (the `corpusminer eval-extraction` command).
//!
//! - Token F1 (as the peer baselines measure it): the bag of lowercased whitespace tokens of our
//!   text against `articleBody` of `html-extraction/ground-truth.json`, per page, averaged.
//! - Formula recall: for each `html-math` page labelled `math`, the TeX formulas found in the
//!   page's source by an independent, simple scanner ([`source_formulas`]) and the share of them
//!   present in our text (whitespace collapsed), averaged over pages with at least one formula.
//! - Short-article token F1: the same article pages made into pages whose article is short beside
//!   their full boilerplate ([`short_article_variant`]: the article cut to its first paragraph or
//!   two, page and reference cut alike), so a main-content choice that drifts to a footer or a
//!   share bar when the article no longer dominates the page shows.
//! - Chinese character F1 ([`char_f1`]): on the Chinese article and forum pages of
//!   `zh/html-extraction/` (magic-html's benchmark), our text against the reference `content` as
//!   multisets of units ([`char_units`]: every non-whitespace character, except that a run of ASCII
//!   letters and digits is one lowercased unit, so a CJK character weighs what an English word
//!   weighs; whitespace tokens mean nothing in Chinese, which has no spaces), averaged over all
//!   pages and over article and forum pages separately. Absent when that folder is.
//! - Throughput of [`extract`](super::extract) over all English and formula pages read (pages/s,
//!   MB/s of HTML); the short-article variants are not timed, the Chinese pages are timed apart.

use super::extract;
use super::math::{collapse_ws, strip_style_wrapper};
use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Errors reading the evaluation data.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A file could not be read or decompressed.
    #[error("reading {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// `ground-truth.json` or `INDEX.tsv` is malformed.
    #[error("malformed {path}: {why}")]
    Format { path: PathBuf, why: String },
}

/// One page's figures.
#[derive(Debug, Clone)]
pub struct PageScore {
    /// File name (ground-truth key or `INDEX.tsv` path).
    pub page: String,
    /// Token F1 (article pages), 0..1.
    pub f1: Option<f64>,
    /// Token F1 of the page's short-article variant (article pages), 0..1.
    pub short_f1: Option<f64>,
    /// (formulas found in our text, formulas in the source) on math pages.
    pub formulas: Option<(usize, usize)>,
    /// Character F1 ([`char_f1`]) on Chinese pages, 0..1.
    pub char_f1: Option<f64>,
    /// `article` or `forum` on Chinese pages (`zh/html-extraction/INDEX.tsv`).
    pub zh_type: Option<String>,
    /// Extraction error reason, if extraction failed.
    pub error: Option<&'static str>,
}

/// The evaluation's result.
#[derive(Debug, Clone)]
pub struct EvalReport {
    /// Per-page figures: article pages, then math pages, then Chinese pages.
    pub pages: Vec<PageScore>,
    /// Mean token F1 over article pages (0..1).
    pub mean_f1: f64,
    /// Mean token F1 over the article pages' short-article variants (0..1).
    pub short_f1: f64,
    /// Mean formula recall over math pages with at least one source formula (0..1).
    pub formula_recall: f64,
    /// Math pages counted in `formula_recall`.
    pub math_pages: usize,
    /// Pages extracted in the throughput measurement (every page read).
    pub timed_pages: usize,
    /// Total uncompressed HTML bytes of those pages.
    pub timed_bytes: u64,
    /// Time spent inside `extract` for them.
    pub extract_time: Duration,
    /// The Chinese pages' figures; `None` when the data folder has no `zh/html-extraction/`.
    pub zh: Option<ZhReport>,
}

/// Character F1 on the Chinese pages of `zh/html-extraction/` (see the module doc).
#[derive(Debug, Clone)]
pub struct ZhReport {
    /// Mean [`char_f1`] over every Chinese page (0..1).
    pub char_f1: f64,
    /// Mean over the `article` pages.
    pub article_f1: f64,
    /// Mean over the `forum` pages.
    pub forum_f1: f64,
    /// Pages counted: (article, forum).
    pub pages: (usize, usize),
    /// Time spent inside `extract` on them (one thread).
    pub extract_time: Duration,
}

impl EvalReport {
    /// Pages per second of `extract` (one thread).
    pub fn pages_per_sec(&self) -> f64 {
        self.timed_pages as f64 / self.extract_time.as_secs_f64().max(1e-9)
    }
    /// Megabytes (10^6 bytes) of HTML per second of `extract`.
    pub fn mb_per_sec(&self) -> f64 {
        self.timed_bytes as f64 / 1e6 / self.extract_time.as_secs_f64().max(1e-9)
    }
}

impl EvalReport {
    /// The summary lines (means, recall, throughput) without the per-page table.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        self.write_summary(&mut s).expect("writing to a String");
        s
    }

    fn write_summary(&self, f: &mut impl fmt::Write) -> fmt::Result {
        let articles = self.pages.iter().filter(|p| p.f1.is_some()).count();
        writeln!(f, "mean token F1 {:.4} over {} article pages", self.mean_f1, articles)?;
        writeln!(f, "mean token F1 {:.4} over their short-article variants (article cut to its first paragraph or two)", self.short_f1)?;
        writeln!(f, "mean formula recall {:.4} over {} math pages with TeX in the source", self.formula_recall, self.math_pages)?;
        write!(
            f,
            "extract: {} pages, {:.1} MB in {:.3} s = {:.0} pages/s, {:.1} MB/s",
            self.timed_pages,
            self.timed_bytes as f64 / 1e6,
            self.extract_time.as_secs_f64(),
            self.pages_per_sec(),
            self.mb_per_sec()
        )?;
        match &self.zh {
            Some(z) => write!(
                f,
                "\nChinese pages (zh/html-extraction, char F1: non-whitespace characters, ASCII words as one): mean char F1 {:.4} over {} pages; article {:.4} over {}; forum {:.4} over {}; extract {:.0} pages/s",
                z.char_f1,
                z.pages.0 + z.pages.1,
                z.article_f1,
                z.pages.0,
                z.forum_f1,
                z.pages.1,
                (z.pages.0 + z.pages.1) as f64 / z.extract_time.as_secs_f64().max(1e-9)
            ),
            None => write!(f, "\nChinese pages: none (the data folder has no zh/html-extraction/)"),
        }
    }
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<72} {:>6} {:>6} {:>10} {:>7}", "page", "F1", "short", "formulas", "char F1")?;
        let num = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
        for p in &self.pages {
            let fm = p.formulas.map_or("-".to_string(), |(a, b)| format!("{a}/{b}"));
            let err = p.error.map_or(String::new(), |e| format!("  [{e}]"));
            let name = match &p.zh_type {
                Some(t) => format!("zh/{} ({t})", p.page),
                None => p.page.clone(),
            };
            writeln!(f, "{:<72} {:>6} {:>6} {:>10} {:>7}{}", name, num(p.f1), num(p.short_f1), fm, num(p.char_f1), err)?;
        }
        self.write_summary(f)
    }
}

fn read_gz(path: &Path) -> Result<Vec<u8>, EvalError> {
    let f = std::fs::File::open(path).map_err(|source| EvalError::Io { path: path.into(), source })?;
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(f).read_to_end(&mut out).map_err(|source| EvalError::Io { path: path.into(), source })?;
    Ok(out)
}

/// Token F1 of `ours` against `truth`: bags of lowercased whitespace tokens. 1.0 when both are
/// empty.
pub fn token_f1(ours: &str, truth: &str) -> f64 {
    bag_f1(ours.split_whitespace().map(str::to_lowercase), truth.split_whitespace().map(str::to_lowercase))
}

/// F1 of two multisets of units: 1.0 when both are empty, 0.0 when they share none.
fn bag_f1<T: std::hash::Hash + Eq>(ours: impl Iterator<Item = T>, truth: impl Iterator<Item = T>) -> f64 {
    fn bag<T: std::hash::Hash + Eq>(units: impl Iterator<Item = T>) -> HashMap<T, i64> {
        let mut m = HashMap::new();
        for u in units {
            *m.entry(u).or_default() += 1;
        }
        m
    }
    let (a, b) = (bag(ours), bag(truth));
    let (na, nb): (i64, i64) = (a.values().sum(), b.values().sum());
    if na == 0 && nb == 0 {
        return 1.0;
    }
    let common: i64 = a.iter().map(|(k, v)| (*v).min(*b.get(k).unwrap_or(&0))).sum();
    if common == 0 {
        return 0.0;
    }
    let p = common as f64 / na as f64;
    let r = common as f64 / nb as f64;
    2.0 * p * r / (p + r)
}

/// The units [`char_f1`] counts: every non-whitespace character of `s` on its own, except that a
/// maximal run of ASCII letters and digits is one unit, lowercased. A CJK character thus weighs
/// about what an English word does (Chinese has no spaces; whitespace tokens of a Chinese text
/// are whole sentences).
pub fn char_units(s: &str) -> Vec<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    let mut out = Vec::new();
    let mut word: Option<usize> = None;
    for (i, c) in s.char_indices() {
        if c.is_ascii_alphanumeric() {
            word.get_or_insert(i);
            continue;
        }
        if let Some(w) = word.take() {
            out.push(Cow::Owned(s[w..i].to_ascii_lowercase()));
        }
        if !c.is_whitespace() {
            out.push(Cow::Borrowed(&s[i..i + c.len_utf8()]));
        }
    }
    if let Some(w) = word {
        out.push(Cow::Owned(s[w..].to_ascii_lowercase()));
    }
    out
}

/// Character F1 of `ours` against `truth`: the F1 of the multisets of their [`char_units`]. 1.0
/// when both are empty, 0.0 when they share no unit.
pub fn char_f1(ours: &str, truth: &str) -> f64 {
    bag_f1(char_units(ours).into_iter(), char_units(truth).into_iter())
}

/// Evaluates [`extract`] on the Chinese pages of `root` (`zh/html-extraction/`): `None` when it
/// has no `ground-truth.json`.
fn evaluate_zh(root: &Path, pages: &mut Vec<PageScore>) -> Result<Option<ZhReport>, EvalError> {
    let gt_path = root.join("ground-truth.json");
    if !gt_path.is_file() {
        return Ok(None);
    }
    let gt = read_ground_truth(&gt_path)?;
    let idx_path = root.join("INDEX.tsv");
    let idx = std::fs::read_to_string(&idx_path).map_err(|source| EvalError::Io { path: idx_path.clone(), source })?;
    let mut kinds: HashMap<String, String> = HashMap::new();
    for line in idx.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 2 {
            return Err(EvalError::Format { path: idx_path.clone(), why: format!("short row {line:?}") });
        }
        let key = cols[0].rsplit('/').next().unwrap_or(cols[0]).trim_end_matches(".html.gz");
        kinds.insert(key.to_string(), cols[1].to_string());
    }
    let mut keys: Vec<&String> = gt.keys().collect();
    keys.sort();
    let (mut article, mut forum) = (Vec::new(), Vec::new());
    let mut extract_time = Duration::ZERO;
    for key in keys {
        let truth = gt[key.as_str()]["content"].as_str().unwrap_or("");
        let kind = kinds.get(key.as_str()).ok_or_else(|| EvalError::Format { path: idx_path.clone(), why: format!("no row for {key}") })?;
        let body = read_gz(&root.join("html").join(format!("{key}.html.gz")))?;
        let t0 = Instant::now();
        let r = extract(&body, None);
        extract_time += t0.elapsed();
        let (f1, error) = match &r {
            Ok(x) => (char_f1(&x.text, truth), None),
            Err(e) => (char_f1("", truth), Some(e.reason())),
        };
        if kind == "forum" { &mut forum } else { &mut article }.push(f1);
        pages.push(PageScore { page: key.clone(), f1: None, short_f1: None, formulas: None, char_f1: Some(f1), zh_type: Some(kind.clone()), error });
    }
    let all: Vec<f64> = article.iter().chain(&forum).copied().collect();
    Ok(Some(ZhReport { char_f1: mean(&all), article_f1: mean(&article), forum_f1: mean(&forum), pages: (article.len(), forum.len()), extract_time }))
}

/// A `ground-truth.json`: an object of page key to reference fields.
fn read_ground_truth(path: &Path) -> Result<serde_json::Map<String, serde_json::Value>, EvalError> {
    let bytes = std::fs::read(path).map_err(|source| EvalError::Io { path: path.to_path_buf(), source })?;
    match serde_json::from_slice(&bytes).map_err(|e| EvalError::Format { path: path.to_path_buf(), why: e.to_string() })? {
        serde_json::Value::Object(m) => Ok(m),
        _ => Err(EvalError::Format { path: path.to_path_buf(), why: "not an object".into() }),
    }
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Evaluates [`extract`] on `data_dir` (the shared data folder holding `html-extraction/` and
/// `html-math/`, and `zh/html-extraction/` when present). Reads files; the extraction itself is
/// timed separately from the reading.
pub fn evaluate(data_dir: &Path) -> Result<EvalReport, EvalError> {
    let mut pages = Vec::new();
    let mut timed_pages = 0usize;
    let mut timed_bytes = 0u64;
    let mut extract_time = Duration::ZERO;
    let mut run = |body: &[u8]| {
        let t0 = Instant::now();
        let r = extract(body, None);
        extract_time += t0.elapsed();
        timed_pages += 1;
        timed_bytes += body.len() as u64;
        r
    };

    let gt_path = data_dir.join("html-extraction/ground-truth.json");
    let gt = read_ground_truth(&gt_path)?;
    let mut keys: Vec<&String> = gt.keys().collect();
    keys.sort();
    let mut f1s = Vec::new();
    let mut short_f1s = Vec::new();
    let f1_of = |r: &Result<super::Extracted, super::ExtractError>, truth: &str| match r {
        Ok(x) => (token_f1(&x.text, truth), None),
        Err(e) => (token_f1("", truth), Some(e.reason())),
    };
    for key in keys {
        let truth = gt[key.as_str()]["articleBody"].as_str().unwrap_or("");
        let body = read_gz(&data_dir.join("html-extraction/html").join(format!("{key}.html.gz")))?;
        let (f1, error) = f1_of(&run(&body), truth);
        f1s.push(f1);
        let (page, short_truth) = short_article_variant(&body, truth);
        let (short_f1, _) = f1_of(&extract(page.as_bytes(), Some("text/html; charset=utf-8")), &short_truth);
        short_f1s.push(short_f1);
        pages.push(PageScore { page: key.clone(), f1: Some(f1), short_f1: Some(short_f1), formulas: None, char_f1: None, zh_type: None, error });
    }

    let idx_path = data_dir.join("html-math/INDEX.tsv");
    let idx = std::fs::read_to_string(&idx_path).map_err(|source| EvalError::Io { path: idx_path.clone(), source })?;
    let mut recalls = Vec::new();
    for line in idx.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 2 {
            return Err(EvalError::Format { path: idx_path.clone(), why: format!("short row {line:?}") });
        }
        let body = read_gz(&data_dir.join("html-math").join(cols[0]))?;
        let res = run(&body);
        if cols[1] != "math" {
            continue;
        }
        let source = source_formulas(&String::from_utf8_lossy(&body));
        let (found, error) = match &res {
            Ok(x) => {
                let ours = collapse_ws(&x.text);
                (source.iter().filter(|f| ours.contains(f.as_str())).count(), None)
            }
            Err(e) => (0, Some(e.reason())),
        };
        if !source.is_empty() {
            recalls.push(found as f64 / source.len() as f64);
        }
        pages.push(PageScore { page: cols[0].to_string(), f1: None, short_f1: None, formulas: Some((found, source.len())), char_f1: None, zh_type: None, error });
    }
    let zh = evaluate_zh(&data_dir.join("zh/html-extraction"), &mut pages)?;
    Ok(EvalReport {
        pages,
        mean_f1: mean(&f1s),
        short_f1: mean(&short_f1s),
        formula_recall: mean(&recalls),
        math_pages: recalls.len(),
        timed_pages,
        timed_bytes,
        extract_time,
        zh,
    })
}

/// A short-article page made from a real one: the article cut to its first paragraph or two,
/// everything else (menus, archive lists, share bars, footers) kept. Returns the page (UTF-8,
/// decoded with its own charset) and the reference text cut the same way.
///
/// The rule, the same for every page:
/// 1. The reference's paragraphs are its non-blank lines. It keeps its first paragraph, and the
///    second too when the first has under 200 characters; the rest is the cut text `D`.
/// 2. The page's text runs are the text between tags (comments, scripts and styles skipped),
///    character references decoded and whitespace collapsed. A run whose text occurs in `D`
///    belongs to the cut article.
/// 3. The article span runs from the first to the last such run of 25 characters or more;
///    every such run inside the span (links and emphasis inside cut paragraphs included) is
///    deleted from the page. Nothing outside the span is touched, so boilerplate that happens to
///    repeat a few words of the article stays.
///
/// A reference of one paragraph (or two short ones) is left whole, and so is its page.
pub fn short_article_variant(body: &[u8], truth: &str) -> (String, String) {
    let (enc, _) = super::charset::sniff(body, None);
    let html = super::charset::decode(body, enc).into_owned();
    let paras: Vec<&str> = truth.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let keep = if paras.first().is_some_and(|p| p.chars().count() < 200) { 2 } else { 1 };
    if paras.len() <= keep {
        return (html, paras.join("\n"));
    }
    let cut = collapse_ws(&paras[keep..].join(" "));
    let finder = |t: &str| memchr::memmem::find(cut.as_bytes(), t.as_bytes()).is_some();
    // (start, end, long) of every run found in the cut text.
    let runs: Vec<(usize, usize, bool)> = text_runs(&html)
        .into_iter()
        .filter_map(|(s, e)| {
            let t = collapse_ws(&super::entities::decode(&html[s..e], false));
            (!t.is_empty() && finder(&t)).then(|| (s, e, t.chars().count() >= 25))
        })
        .collect();
    let first = runs.iter().position(|r| r.2);
    let last = runs.iter().rposition(|r| r.2);
    let mut out = String::with_capacity(html.len());
    let mut at = 0;
    if let (Some(a), Some(b)) = (first, last) {
        for &(s, e, _) in &runs[a..=b] {
            out.push_str(&html[at..s]);
            at = e;
        }
    }
    out.push_str(&html[at..]);
    (out, paras[..keep].join("\n"))
}

/// Byte ranges of the text between tags of `html`: comments, `<script>` and `<style>` contents
/// and the tags themselves excluded.
fn text_runs(html: &str) -> Vec<(usize, usize)> {
    let b = html.as_bytes();
    let lower = html.to_ascii_lowercase();
    let l = lower.as_bytes();
    let find = |from: usize, pat: &[u8]| memchr::memmem::find(&l[from..], pat).map(|p| from + p);
    let end_of_tag = |from: usize| memchr::memchr(b'>', &b[from..]).map_or(b.len(), |p| from + p + 1);
    let mut runs = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let lt = memchr::memchr(b'<', &b[i..]).map_or(b.len(), |p| i + p);
        if lt > i {
            runs.push((i, lt));
        }
        if lt == b.len() {
            break;
        }
        let at = &l[lt..];
        i = if at.starts_with(b"<!--") {
            find(lt + 4, b"-->").map_or(b.len(), |e| e + 3)
        } else if at.starts_with(b"<script") {
            find(lt + 1, b"</script").map_or(b.len(), end_of_tag)
        } else if at.starts_with(b"<style") {
            find(lt + 1, b"</style").map_or(b.len(), end_of_tag)
        } else {
            end_of_tag(lt + 1)
        };
    }
    runs
}

/// The distinct TeX formulas in raw HTML, found without a parser: contents of
/// `<script type="math/tex...">`, `<annotation encoding="application/x-tex">`, MathML `alttext`,
/// `alt` of `<img>` whose `src`/`class` name a TeX renderer, and `\(..\)`, `\[..\]`, `$$..$$`,
/// `$..$` in the text outside tags, scripts and styles. Entities `&lt; &gt; &amp; &quot; &#39;`
/// and numeric ones are decoded; `{\displaystyle ..}` wrappers dropped; whitespace collapsed.
/// Formulas shorter than 1 character are ignored.
pub fn source_formulas(html: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut add = |s: &str| {
        let f = collapse_ws(strip_style_wrapper(&decode_entities(s)));
        let macro_def = ["\\newcommand", "\\renewcommand", "\\def\\", "\\DeclareMathOperator"].iter().any(|m| f.starts_with(m));
        if !f.is_empty() && !macro_def && !found.contains(&f) {
            found.push(f);
        }
    };
    let lower = html.to_ascii_lowercase();
    // math/tex scripts
    let mut i = 0;
    while let Some(p) = lower[i..].find("<script") {
        let s = i + p;
        let Some(gt) = lower[s..].find('>') else { break };
        let open = &lower[s..s + gt];
        let cs = s + gt + 1;
        let Some(ce) = lower[cs..].find("</script") else { break };
        if open.contains("math/tex") {
            add(&html[cs..cs + ce]);
        }
        i = cs + ce;
    }
    // x-tex annotations
    let mut i = 0;
    while let Some(p) = lower[i..].find("<annotation") {
        let s = i + p;
        let Some(gt) = lower[s..].find('>') else { break };
        let open = &lower[s..s + gt];
        let cs = s + gt + 1;
        let Some(ce) = lower[cs..].find("</annotation") else { break };
        let enc = open.split("encoding=").nth(1).unwrap_or("").trim_start_matches(['"', '\'']);
        if enc.starts_with("application/x-tex") || enc.starts_with("tex") || enc.starts_with("text/x-latex") || enc.starts_with("latex") {
            add(&html[cs..cs + ce]);
        }
        i = cs + ce;
    }
    // alttext
    for (p, _) in lower.match_indices("alttext=\"") {
        let vs = p + 9;
        if let Some(ve) = html[vs..].find('"') {
            add(&html[vs..vs + ve]);
        }
    }
    // formula images
    for (p, _) in lower.match_indices("<img") {
        let Some(gt) = lower[p..].find('>') else { continue };
        let tag = &html[p..p + gt];
        let tl = &lower[p..p + gt];
        let is_formula = ["latex", "codecogs", "mimetex", "mathtex", "mwe-math-fallback"].iter().any(|k| tl.contains(k));
        if !is_formula {
            continue;
        }
        if let Some(a) = tl.find(" alt=\"") {
            let vs = a + 6;
            if let Some(ve) = tag[vs..].find('"') {
                let alt = &tag[vs..vs + ve];
                // A sentence describing a figure is not TeX.
                if alt.len() <= 24 || alt.contains(['\\', '^', '_', '{', '=']) {
                    add(alt);
                }
            }
        }
    }
    // TeX delimiters in the text outside tags/scripts/styles/comments.
    let text = strip_markup(html, &lower);
    let text = decode_entities(&text);
    for (open, close) in [("\\(", "\\)"), ("\\[", "\\]"), ("$$", "$$")] {
        let mut i = 0;
        while let Some(p) = text[i..].find(open) {
            let s = i + p + open.len();
            let Some(e) = text[s..].find(close) else { break };
            let inner = &text[s..s + e];
            if !inner.trim().is_empty() && inner.len() < 2000 {
                add(inner);
            }
            i = s + e + close.len();
        }
    }
    // single-dollar inline math: $..$ on one line, non-space at both ends, not money.
    let t2 = text.replace("$$", "\u{1}\u{1}");
    let b = t2.as_bytes();
    let mut i = 0;
    while let Some(p) = memchr::memchr(b'$', &b[i..]) {
        let s = i + p + 1;
        let Some(e) = memchr::memchr2(b'$', b'\n', &b[s..]) else { break };
        if b[s + e] == b'\n' {
            i = s + e;
            continue;
        }
        let inner = &t2[s..s + e];
        let ok = !inner.is_empty()
            && inner.len() <= 300
            && !inner.starts_with(char::is_whitespace)
            && !inner.ends_with(char::is_whitespace)
            && !inner.chars().next().is_some_and(|c| c.is_ascii_digit() && inner.contains(' '));
        if ok && (i == 0 || b[i + p - 1] != b'\\') {
            add(inner);
            i = s + e + 1;
        } else {
            i = s + e;
        }
    }
    found
}

fn strip_markup(html: &str, lower: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let b = html.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'<' {
            let rest = &lower[i..];
            let skip_to = if rest.starts_with("<!--") {
                rest.find("-->").map(|e| i + e + 3)
            } else if rest.starts_with("<script") {
                rest.find("</script").map(|e| i + e + 8)
            } else if rest.starts_with("<style") {
                rest.find("</style").map(|e| i + e + 7)
            } else {
                None
            };
            let next = match skip_to {
                Some(n) => n,
                None => rest.find('>').map_or(b.len(), |e| i + e + 1),
            };
            out.push(' ');
            i = next;
        } else {
            let n = lower[i..].find('<').map_or(b.len(), |e| i + e);
            out.push_str(&html[i..n]);
            i = n;
        }
    }
    out
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        rest = &rest[p..];
        let end = rest.as_bytes()[..rest.len().min(12)].iter().position(|&b| b == b';');
        let decoded = end.and_then(|e| {
            let ent = &rest[1..e];
            let c = match ent {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ if ent.starts_with("#x") || ent.starts_with("#X") => u32::from_str_radix(&ent[2..], 16).ok().and_then(char::from_u32),
                _ if ent.starts_with('#') => ent[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            };
            c.map(|c| (c, e + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
