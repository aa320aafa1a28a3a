//! 6. Language identification: `whatlang` on the whole text, `lingua` on the whole text and on
//!    our prose sample, and ours (`corpusminer_pipeline::lang::identify`: a prose sample with math
//!    and `\commands` dropped, words counted per writing system, whatlang for alphabetic text).
//!
//! Pages whose language is known: the 79 labelled Chinese pages of `zh/html` and the 56 Chinese
//! article and forum pages of `zh/html-extraction` (all `zh`), the English article pages of
//! `html-extraction` (all `en`). Each page is extracted once with our extractor; the rate is
//! pages per CPU-second of identification alone.

use crate::input;
use crate::measure::{best_of, f, Table};
use corpusminer_pipeline::lang;
use std::path::Path;

/// Main texts with their expected language.
fn pages(data: &Path) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mut add = |dir: &Path, lang: &'static str| {
        let mut files: Vec<_> = std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.to_string_lossy().ends_with(".html.gz")).collect();
        files.sort();
        for p in files {
            let html = input::gunzip(&input::read(&p));
            if let Ok(x) = corpusminer_pipeline::extract::extract(&html, Some("text/html")) {
                out.push((lang, x.text));
            }
        }
    };
    for sub in ["math", "nonmath"] {
        add(&data.join("zh/html").join(sub), "zh");
    }
    add(&data.join("zh/html-extraction/html"), "zh");
    add(&data.join("html-extraction/html"), "en");
    out
}

fn lingua_code(l: lingua::Language) -> &'static str {
    use lingua::Language::*;
    match l {
        English => "en",
        Chinese => "zh",
        Japanese => "ja",
        Korean => "ko",
        French => "fr",
        German => "de",
        Spanish => "es",
        Russian => "ru",
        Portuguese => "pt",
        Italian => "it",
        _ => "other",
    }
}

/// The language-ID table.
pub fn table(data: &Path, runs: usize) -> Table {
    let pages = pages(data);
    let lingua = lingua::LanguageDetectorBuilder::from_languages(&[
        lingua::Language::English,
        lingua::Language::Chinese,
        lingua::Language::Japanese,
        lingua::Language::Korean,
        lingua::Language::French,
        lingua::Language::German,
        lingua::Language::Spanish,
        lingua::Language::Russian,
        lingua::Language::Portuguese,
        lingua::Language::Italian,
    ])
    .build();
    type Method<'a> = (&'a str, Box<dyn Fn(&str) -> &'static str + 'a>);
    let methods: Vec<Method> = vec![
        ("whatlang, whole text", Box::new(|t: &str| whatlang::detect_lang(t).map_or(lang::UNDETERMINED, lang::iso639_1))),
        ("lingua (10 languages), whole text", Box::new(|t: &str| lingua.detect_language_of(t).map_or(lang::UNDETERMINED, lingua_code))),
        ("lingua (10 languages), prose sample", Box::new(|t: &str| lingua.detect_language_of(lang::Sample::of(t).prose).map_or(lang::UNDETERMINED, lingua_code))),
        ("ours: prose sample, script words, whatlang", Box::new(lang::identify)),
    ];
    let zh_total = pages.iter().filter(|(l, _)| *l == "zh").count();
    let en_total = pages.len() - zh_total;
    let mut t = Table::new(
        "6. Language identification on pages of known language",
        &["method", "zh right", "en right", "accuracy", "pages / CPU-s"],
    );
    for (name, m) in &methods {
        let (right, timing) = best_of(runs, || pages.iter().map(|(want, text)| (*want, m(text) == *want)).collect::<Vec<_>>());
        let zh = right.iter().filter(|(w, ok)| *w == "zh" && *ok).count();
        let en = right.iter().filter(|(w, ok)| *w == "en" && *ok).count();
        t.row(vec![
            name.to_string(),
            format!("{zh} / {zh_total}"),
            format!("{en} / {en_total}"),
            f((zh + en) as f64 / pages.len().max(1) as f64, 3),
            f(timing.per_cpu_s(pages.len() as f64), 0),
        ]);
    }
    t.note("Every Chinese page counts as zh, Project Euler's English originals beside their translations included.");
    t
}
