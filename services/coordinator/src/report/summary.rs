//! The summary a person reads at the end of `run`, `iterate` and `resume`, and in `status N`:
//! every number grouped by thousands and said in words, the record funnel that adds up to the
//! records read, the threshold with its share of pages and tokens, and the proposed hosts
//! that have enough pages to judge.

use super::{FailedShard, Report};
use crate::filters::FilterReport;
use crate::seed::AnnotationEffect;
use crate::selection::HostStat;
use std::fmt::{self, Write as _};

/// Proposed hosts with fewer scored pages than this are left out of the summary (they stay in
/// the report and in `domains list`): one or two pages say little about a host.
pub const DEFAULT_MIN_HOST_PAGES: u64 = 3;
/// Proposed hosts listed at most.
const LISTED_PROPOSALS: usize = 15;
/// Hosts not proposed, with the most kept pages, listed.
const LISTED_TOP_HOSTS: usize = 5;
/// Annotation effects listed at most (all are in `seed_manifest.json`).
const LISTED_EFFECTS: usize = 20;

/// `n` with its thousands grouped: `15,225,300` (the worker's [`corpusminer_worker::grouped`],
/// so progress and summaries write numbers alike).
pub fn group(n: u64) -> String {
    corpusminer_worker::grouped(n)
}

fn pct(n: u64, d: u64) -> f64 {
    if d == 0 {
        0.0
    } else {
        100.0 * n as f64 / d as f64
    }
}

/// A [`Report`] as the readable summary; `Display` writes it.
#[derive(Debug, Clone, Copy)]
pub struct Summary<'a> {
    /// The report.
    pub report: &'a Report,
    /// Proposed hosts with fewer scored pages are not listed (a display filter: the
    /// proposals and the kept-ratio rule do not change).
    pub min_host_pages: u64,
}

impl Report {
    /// The summary, listing proposed hosts with at least `min_host_pages` scored pages.
    pub fn summary(&self, min_host_pages: u64) -> Summary<'_> {
        Summary { report: self, min_host_pages }
    }
}

impl fmt::Display for Report {
    /// The summary with [`DEFAULT_MIN_HOST_PAGES`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.summary(DEFAULT_MIN_HOST_PAGES).fmt(f)
    }
}

/// `  label            1,234  words`: a summary line, the number right-aligned.
fn line(f: &mut fmt::Formatter<'_>, label: &str, n: u64, words: &str) -> fmt::Result {
    if words.is_empty() {
        writeln!(f, "  {label:<22}{:>14}", group(n))
    } else {
        writeln!(f, "  {label:<22}{:>14}  {words}", group(n))
    }
}

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.report;
        writeln!(f, "iteration {} of {}: {} shards scored, {} failed", r.iteration, r.crawl, group(r.shards_done), group(r.shards_failed))?;
        failed_shards(f, &r.failed_shards)?;
        seed(f, r)?;
        funnel(f, r)?;
        languages(f, r)?;
        selection(f, r)?;
        corpus(f, r)?;
        validation(f, r)?;
        hosts(f, r, self.min_host_pages)?;
        let runs = match r.scoring_runs {
            0 | 1 => String::new(),
            n => format!(" over {n} runs"),
        };
        writeln!(
            f,
            "  speed                 {:>14}  pages/s scored, {:.2} MB/s compressed ({} pages and {:.1} MB in {:.1} s of scoring{runs}, {} workers)",
            format!("{:.1}", r.pages_per_second),
            r.mb_per_second,
            group(r.pages),
            r.bytes_in as f64 / 1e6,
            r.scoring_seconds,
            r.workers
        )?;
        if let Some(l) = &r.label_scores {
            writeln!(
                f,
                "  labels                {:>14}  labelled pages scored ({} math): precision {:.3} (kept labelled pages that are math), recall {:.3} (math pages kept)",
                group(l.labelled_pages as u64),
                group(l.math_pages as u64),
                l.precision,
                l.recall
            )?;
            if l.by_language.len() > 1 {
                for (lang, s) in &l.by_language {
                    writeln!(
                        f,
                        "  {:<22}{:>14}  {lang}: {} math, precision {:.3}, recall {:.3}",
                        "",
                        group(s.labelled_pages as u64),
                        group(s.math_pages as u64),
                        s.precision,
                        s.recall
                    )?;
                }
            }
        }
        Ok(())
    }
}

/// `  languages   …  pages with text: en 1,234 (kept 56), zh 789 (kept 12), …`: the six largest,
/// the rest summed; and which ones `--languages` scored.
fn languages(f: &mut fmt::Formatter<'_>, r: &Report) -> fmt::Result {
    if r.languages.is_empty() {
        return Ok(());
    }
    let total: u64 = r.languages.iter().map(|l| l.pages).sum();
    let mut parts: Vec<String> = r
        .languages
        .iter()
        .take(6)
        .map(|l| {
            let kept = if l.scored_pages == 0 { "not scored".to_string() } else { format!("{} kept", group(l.kept_pages)) };
            format!("{} {} ({kept})", l.lang, group(l.pages))
        })
        .collect();
    if r.languages.len() > 6 {
        let rest: u64 = r.languages[6..].iter().map(|l| l.pages).sum();
        parts.push(format!("{} more languages {}", r.languages.len() - 6, group(rest)));
    }
    let scored = match &r.languages_selected {
        Some(l) => format!("; --languages {} scored", l.join(",")),
        None => String::new(),
    };
    line(f, "languages", total, &format!("pages with text: {}{scored}", parts.join(", ")))
}

/// `    -      1,234  words`: a difference in the funnel, aligned under the totals.
fn minus(f: &mut fmt::Formatter<'_>, count: u64, words: &str) -> fmt::Result {
    writeln!(f, "  {:<22}{:>14}  {words}", "", format!("- {}", group(count)))
}

fn failed_shards(f: &mut fmt::Formatter<'_>, shards: &[FailedShard]) -> fmt::Result {
    for s in shards {
        writeln!(f, "  failed shard          {} ({}, {} attempts): {}", s.uri, s.reason, s.attempts, s.error)?;
    }
    Ok(())
}

fn seed(f: &mut fmt::Formatter<'_>, r: &Report) -> fmt::Result {
    match r.parent {
        Some(parent) => {
            let carried = r.seed_documents.saturating_sub(r.seed_added);
            line(
                f,
                "seed",
                r.seed_documents as u64,
                &format!(
                    "documents: {} carried from iteration {parent} (after removing {} under not-math prefixes), {} added under math prefixes",
                    group(carried as u64),
                    group(r.seed_removed as u64),
                    group(r.seed_added as u64)
                ),
            )?;
            effects(f, r)
        }
        None if r.seed_documents > 0 => line(f, "seed", r.seed_documents as u64, "documents"),
        None => Ok(()),
    }
}

fn effects(f: &mut fmt::Formatter<'_>, r: &Report) -> fmt::Result {
    if r.annotation_effects.is_empty() {
        return writeln!(f, "    no annotation yet: the seed is the parent's (label hosts with `corpusminer annotate import`)");
    }
    let unchanged = r.seed_added == 0 && r.seed_removed == 0;
    writeln!(f, "    {} current annotations{}:", r.annotation_effects.len(), if unchanged { ", none of which changed the seed" } else { "" })?;
    for e in r.annotation_effects.iter().take(LISTED_EFFECTS) {
        writeln!(f, "      {}", effect_text(e))?;
    }
    if r.annotation_effects.len() > LISTED_EFFECTS {
        writeln!(f, "      … {} more in iterations/{}/seed_manifest.json", r.annotation_effects.len() - LISTED_EFFECTS, r.iteration)?;
    }
    Ok(())
}

/// One annotation's effect in words: `math  a.com/q  +12 pages (covers 40 scored pages, 28 kept)`.
pub fn effect_text(e: &AnnotationEffect) -> String {
    let change = match e.label {
        corpusminer_storage::metastore::Label::Math => format!("+{}", group(e.added as u64)),
        corpusminer_storage::metastore::Label::Nonmath => format!("-{}", group(e.removed as u64)),
    };
    let mut s = format!("{:<8} {:<40} {:>6}", e.label.as_str(), e.prefix, change);
    let _ = write!(s, "  covers {}, {} kept", pages(e.pages_covered), group(e.pages_kept));
    if e.pages_covered > e.pages_decided && e.pages_decided > 0 {
        let _ = write!(s, " ({} decided by longer prefixes)", group(e.pages_covered - e.pages_decided));
    }
    if let Some(why) = e.no_effect {
        let _ = write!(s, ": {}", why.explain());
    }
    s
}

/// `1 scored page`, `12 scored pages`.
fn pages(n: u64) -> String {
    format!("{} scored page{}", group(n), if n == 1 { "" } else { "s" })
}

fn funnel(f: &mut fmt::Formatter<'_>, r: &Report) -> fmt::Result {
    let n = &r.funnel;
    let types: Vec<String> = n.by_type.iter().map(|t| format!("{} {}", t.meaning, group(t.count))).collect();
    line(f, "WARC records read", n.records, &types.join(", "))?;
    minus(f, n.not_responses, "not response records")?;
    line(f, "= responses", n.responses, "")?;
    for s in &n.response_skips {
        minus(f, s.count, &s.meaning)?;
    }
    line(f, "= HTML pages", n.html_pages, "status 200")?;
    for s in &n.page_skips {
        minus(f, s.count, &s.meaning)?;
    }
    line(f, "= pages scored", n.pages_scored, &format!("{} tokens", group(r.tokens)))?;
    if n.unaccounted != 0 {
        writeln!(f, "    ({} records the counters do not account for: a report of an older version)", n.unaccounted)?;
    }
    if !n.damaged.is_empty() {
        let d: Vec<String> = n.damaged.iter().map(|s| format!("{} {}", group(s.count), s.meaning)).collect();
        writeln!(f, "  damaged input skipped (never a record, not counted above): {}", d.join("; "))?;
    }
    if !n.repaired.is_empty() {
        let d: Vec<String> = n.repaired.iter().map(|s| format!("{} {}", group(s.count), s.meaning)).collect();
        writeln!(f, "  HTTP bodies repaired, pages scored anyway: {}", d.join("; "))?;
    }
    for s in &n.other {
        writeln!(f, "  counted: {} {}", group(s.count), s.meaning)?;
    }
    Ok(())
}

fn selection(f: &mut fmt::Formatter<'_>, r: &Report) -> fmt::Result {
    let how = match (r.selector.as_str(), r.token_budget) {
        ("token_budget", Some(b)) => format!("the lowest score whose pages fit --token-budget {} tokens", group(b)),
        ("token_budget", None) => "the lowest score whose pages fit --token-budget".to_string(),
        ("threshold", _) => "given by --threshold".to_string(),
        _ => "the threshold with the best F1 on the classifier's validation split (no flag given)".to_string(),
    };
    writeln!(f, "  threshold             {:>14.4}  P(math) a page needs to be kept: {how}", r.selection.threshold)?;
    if let Some(asked) = r.requested_threshold.filter(|t| (t - r.selection.threshold).abs() > 5e-5) {
        writeln!(f, "  {:<22}{:>14}  ({asked:.4} asked: pages are counted in narrow score steps, and the step holding it starts here)", "", "")?;
    }
    line(
        f,
        "kept",
        r.selection.kept_pages,
        &format!(
            "pages ({:.1}% of pages scored), {} tokens ({:.1}% of tokens scored)",
            pct(r.selection.kept_pages, r.pages),
            group(r.selection.kept_tokens),
            pct(r.selection.kept_tokens, r.tokens)
        ),
    )?;
    if let Some(c) = &r.convergence {
        writeln!(
            f,
            "  retention             {:>13.1}%  of these pages iteration {} kept too ({:.1}% of tokens); {} new pages ({} tokens), {} it kept are no longer kept",
            100.0 * c.retention_pages,
            c.parent,
            100.0 * c.retention_tokens,
            group(c.new_pages),
            group(c.new_tokens),
            group(c.dropped_pages)
        )?;
    }
    Ok(())
}

fn corpus(f: &mut fmt::Formatter<'_>, r: &Report) -> fmt::Result {
    write!(f, "{}", FiltersShown { filters: &r.filters, tokens: r.corpus_tokens })
}

/// The corpus filters as summary lines: kept pages, less each filter's removals, equals the
/// documents written (`tokens`: the corpus's tokens).
#[derive(Debug, Clone, Copy)]
pub struct FiltersShown<'a> {
    /// What the filters removed.
    pub filters: &'a FilterReport,
    /// Tokens written to the corpus.
    pub tokens: u64,
}

impl fmt::Display for FiltersShown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.filters;
        line(f, "corpus", x.documents, &format!("documents, {} tokens, from the {} kept pages:", group(self.tokens), group(x.kept_pages)))?;
        minus(f, x.url_duplicates_removed, "same URL as a kept page of another shard")?;
        minus(f, x.exact_duplicates_removed, "same text as another kept page")?;
        match &x.near_dup {
            None => minus(f, 0, "near-duplicates (off)")?,
            Some(n) => minus(
                f,
                x.near_duplicates_removed,
                &format!(
                    "near-duplicates: {} clusters, estimated Jaccard >= {:.2} (MinHash, {} bands x {} rows), listed in corpus/{}",
                    group(n.clusters),
                    n.settings.threshold,
                    n.settings.bands,
                    n.settings.rows,
                    n.file
                ),
            )?,
        }
        let d = &x.decontam;
        if d.benchmarks.is_empty() {
            minus(f, 0, "decontamination (off: no benchmark)")?;
        } else {
            minus(
                f,
                d.documents_dropped,
                &format!(
                    "dropped by decontamination (more than {:.0}% of their text matched a benchmark); {} more trimmed, {} paragraphs removed in all",
                    100.0 * d.drop_fraction,
                    group(d.documents_trimmed),
                    group(d.segments_removed)
                ),
            )?;
            let per: Vec<String> = d.benchmarks.iter().map(|b| format!("{} {} paragraphs in {} documents", b.benchmark.name, group(b.segments), group(b.documents))).collect();
            writeln!(f, "  {:<22}{:>14}  by benchmark (a paragraph matching two counts in both): {}", "", "", per.join(", "))?;
        }
        line(f, "= documents", x.documents, "")
    }
}

fn validation(f: &mut fmt::Formatter<'_>, r: &Report) -> fmt::Result {
    let Some(v) = &r.validation else { return Ok(()) };
    let g = |a: &str, k: &str| v.get(a).and_then(|p| p.get(k)).and_then(|x| x.as_f64()).map(|x| format!("{x:.3}")).unwrap_or("-".into());
    writeln!(
        f,
        "  classifier            held-out seed and negative chunks at P(math) 0.5: precision {} recall {} F1 {}; synthetic pages at {}: precision {} recall {}",
        g("at_half", "precision"),
        g("at_half", "recall"),
        g("at_half", "f1"),
        g("page", "threshold"),
        g("page", "precision"),
        g("page", "recall")
    )
}

fn host_line(f: &mut fmt::Formatter<'_>, h: &HostStat) -> fmt::Result {
    writeln!(f, "      {:<44} {:>8} of {:>8} pages kept ({:.0}%)", h.host, group(h.kept_pages), group(h.pages), 100.0 * h.ratio)
}

fn hosts(f: &mut fmt::Formatter<'_>, r: &Report, min_pages: u64) -> fmt::Result {
    line(
        f,
        "hosts",
        r.hosts as u64,
        &format!("distinct hosts among the pages scored; {} proposed for annotation (more than {:.0}% of their pages kept)", group(r.proposed_hosts.len() as u64), 100.0 * r.domain_ratio),
    )?;
    let shown: Vec<&HostStat> = r.proposed_hosts.iter().filter(|h| h.pages >= min_pages).collect();
    let hidden = r.proposed_hosts.len() - shown.len();
    if !shown.is_empty() {
        writeln!(f, "    proposed, with at least {min_pages} pages scored ({} hosts):", group(shown.len() as u64))?;
        for h in shown.iter().take(LISTED_PROPOSALS) {
            host_line(f, h)?;
        }
        if shown.len() > LISTED_PROPOSALS {
            writeln!(f, "      … {} more", group((shown.len() - LISTED_PROPOSALS) as u64))?;
        }
    }
    if hidden > 0 {
        writeln!(f, "    {} proposed hosts with fewer than {min_pages} pages are not listed (--min-host-pages); `corpusminer domains list` lists every proposal", group(hidden as u64))?;
    }
    // The hosts with most kept pages that the ratio rule did not propose (large hosts with a
    // small kept share): the proposals above already list the others.
    let big: Vec<&HostStat> = r.top_hosts.iter().filter(|h| h.ratio <= r.domain_ratio && h.kept_pages > 0).take(LISTED_TOP_HOSTS).collect();
    if !big.is_empty() {
        writeln!(f, "    not proposed, most kept pages:")?;
        for h in big {
            host_line(f, h)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!((group(0), group(999), group(1000), group(15_225_300)), ("0".into(), "999".into(), "1,000".into(), "15,225,300".into()));
    }
}
