//! Language identification of a page's main text, as an ISO 639-1 code (`en`, `zh`, `ja`, ...).
//!
//! DeepSeekMath's corpus is English and Chinese (arXiv 2402.03300 §2.1); a run keeps the languages
//! asked for (`--languages`) and counts every page under its language. Identification works on
//! the *prose* of the text: mathematics and markup are language-neutral, and a Chinese page heavy
//! with `$\frac{a}{b}$` would read as English by letter count. So [`identify`]:
//!
//! 1. takes a bounded sample of prose from the head of the text ([`SAMPLE_CHARS`] characters out
//!    of at most [`SCAN_CHARS`]), skipping `$…$` / `$$…$$` / `\(…\)` / `\[…\]` spans and
//!    `\command` words;
//! 2. counts *words* per writing system: a run of two or more letters of an alphabet is a word,
//!    a Han or kana character is 1/1.5 of a word (Chinese words average about 1.5 characters),
//!    a run of Hangul is a word;
//! 3. when Han and kana words outnumber the rest, answers `ja` if kana makes at least a tenth of
//!    those characters (Japanese prose is a third to a half kana; Chinese has none) and `zh`
//!    otherwise; when Hangul words do, `ko`; else it asks `whatlang` (trigram profiles of 70
//!    languages) about the first [`TRIGRAM_CHARS`] characters of the sample. Fewer than [`MIN_WORDS`] words: [`UNDETERMINED`].
//!
//! Measured on the 79 labelled Chinese pages and the 229 labelled minicrawl pages against
//! `lingua` (see `corpusminer bench --langid` and the issue note): whatlang alone misread most
//! Chinese math pages as English; the prose sample fixes that at a fraction of lingua's cost.

use crate::segment::{is_han, is_kana};

/// The code of a text whose language could not be told (too little prose): ISO 639-2's `und`.
pub const UNDETERMINED: &str = "und";

/// Prose characters sampled from the head of a text (about 400 English words, or 1,000 Chinese
/// characters: enough for trigram profiles, and it bounds the cost on long pages).
pub const SAMPLE_CHARS: usize = 2048;

/// Prose characters given to whatlang's trigram model (about 90 English words).
pub const TRIGRAM_CHARS: usize = 512;

/// Characters of the text scanned at most while sampling (a page of mostly formulas stops here).
pub const SCAN_CHARS: usize = 16 * 1024;

/// Words of prose needed to name a language; fewer gives [`UNDETERMINED`].
pub const MIN_WORDS: f64 = 3.0;

/// Word counts of a prose sample per writing system, and the sample itself.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Sample {
    /// The prose sample (math spans and `\commands` dropped), for the trigram model.
    pub prose: String,
    /// Han characters.
    pub han: usize,
    /// Kana characters.
    pub kana: usize,
    /// Runs of Hangul.
    pub hangul_words: usize,
    /// Runs of two or more letters of any other alphabet (Latin, Cyrillic, Greek, ...).
    pub other_words: usize,
}

impl Sample {
    /// The prose sample of `text` and its word counts (steps 1 and 2 of the module doc).
    pub fn of(text: &str) -> Sample {
        let mut s = Sample::default();
        let mut chars = text.chars().take(SCAN_CHARS).peekable();
        let mut sampled = 0usize;
        let mut run = 0usize; // letters in the current alphabetic run
        let mut hangul_run = false;
        let end_word = |s: &mut Sample, run: &mut usize, hangul_run: &mut bool| {
            if *run >= 2 {
                s.other_words += 1;
            }
            if *hangul_run {
                s.hangul_words += 1;
            }
            *run = 0;
            *hangul_run = false;
        };
        while let Some(c) = chars.next() {
            if sampled >= SAMPLE_CHARS {
                break;
            }
            // Math spans: skipped whole (a `$` price with no closing `$` ends at the line's end).
            let close: Option<&[char]> = match c {
                '$' => Some(if chars.peek() == Some(&'$') { &['$', '$'] } else { &['$'] }),
                '\\' if chars.peek() == Some(&'(') => Some(&['\\', ')']),
                '\\' if chars.peek() == Some(&'[') => Some(&['\\', ']']),
                _ => None,
            };
            if let Some(close) = close {
                end_word(&mut s, &mut run, &mut hangul_run);
                if close.len() == 2 {
                    chars.next();
                }
                let mut prev = '\0';
                for m in chars.by_ref() {
                    if m == '\n' && close == ['$'] {
                        break;
                    }
                    let done = if close.len() == 1 { m == close[0] } else { prev == close[0] && m == close[1] };
                    if done {
                        break;
                    }
                    prev = m;
                }
                s.prose.push(' ');
                continue;
            }
            if c == '\\' {
                // A control word: `\frac`, `\alpha`.
                end_word(&mut s, &mut run, &mut hangul_run);
                while chars.peek().is_some_and(|n| n.is_ascii_alphabetic()) {
                    chars.next();
                }
                continue;
            }
            sampled += 1;
            s.prose.push(c);
            if is_han(c) {
                end_word(&mut s, &mut run, &mut hangul_run);
                s.han += 1;
            } else if is_kana(c) {
                end_word(&mut s, &mut run, &mut hangul_run);
                s.kana += 1;
            } else if matches!(c, '\u{AC00}'..='\u{D7A3}' | '\u{1100}'..='\u{11FF}' | '\u{3130}'..='\u{318F}') {
                if run > 0 {
                    end_word(&mut s, &mut run, &mut hangul_run);
                }
                hangul_run = true;
            } else if c.is_alphabetic() {
                if hangul_run {
                    end_word(&mut s, &mut run, &mut hangul_run);
                }
                run += 1;
            } else {
                end_word(&mut s, &mut run, &mut hangul_run);
            }
        }
        end_word(&mut s, &mut run, &mut hangul_run);
        s
    }

    /// Han and kana characters as words (1.5 characters per word).
    pub fn cjk_words(&self) -> f64 {
        (self.han + self.kana) as f64 / 1.5
    }
}

/// The language of `text` (a page's main text) as an ISO 639-1 code, or [`UNDETERMINED`]; see
/// the module doc for the rules. Cost: one pass over at most [`SCAN_CHARS`] characters, plus
/// whatlang's trigram scoring of at most [`SAMPLE_CHARS`] characters for alphabetic text.
pub fn identify(text: &str) -> &'static str {
    identify_sample(&Sample::of(text))
}

/// [`identify`] of a sample already taken.
pub fn identify_sample(s: &Sample) -> &'static str {
    let cjk = s.cjk_words();
    let hangul = s.hangul_words as f64;
    let other = s.other_words as f64;
    if cjk + hangul + other < MIN_WORDS {
        return UNDETERMINED;
    }
    if cjk >= hangul && cjk > other {
        return if s.kana * 10 >= s.han + s.kana { "ja" } else { "zh" };
    }
    if hangul > other {
        return "ko";
    }
    // Trigram scoring costs about linearly in the text: the head of the prose is enough to tell
    // alphabetic languages apart (measured by the `language` bench and `bench/choices`).
    let head = match s.prose.char_indices().nth(TRIGRAM_CHARS) {
        Some((i, _)) => &s.prose[..i],
        None => &s.prose,
    };
    match whatlang::detect_lang(head) {
        Some(l) => iso639_1(l),
        None => UNDETERMINED,
    }
}

/// The ISO 639-1 code of a whatlang language (its ISO 639-3 code where 639-1 has none).
pub fn iso639_1(lang: whatlang::Lang) -> &'static str {
    use whatlang::Lang::*;
    match lang {
        Epo => "eo", Eng => "en", Rus => "ru", Cmn => "zh", Spa => "es", Por => "pt", Ita => "it",
        Ben => "bn", Fra => "fr", Deu => "de", Ukr => "uk", Kat => "ka", Ara => "ar", Hin => "hi",
        Jpn => "ja", Heb => "he", Yid => "yi", Pol => "pl", Amh => "am", Jav => "jv", Kor => "ko",
        Nob => "nb", Dan => "da", Swe => "sv", Fin => "fi", Tur => "tr", Nld => "nl", Hun => "hu",
        Ces => "cs", Ell => "el", Bul => "bg", Bel => "be", Mar => "mr", Kan => "kn", Ron => "ro",
        Slv => "sl", Hrv => "hr", Srp => "sr", Mkd => "mk", Lit => "lt", Lav => "lv", Est => "et",
        Tam => "ta", Vie => "vi", Urd => "ur", Tha => "th", Guj => "gu", Uzb => "uz", Pan => "pa",
        Aze => "az", Ind => "id", Tel => "te", Pes => "fa", Mal => "ml", Ori => "or", Mya => "my",
        Nep => "ne", Sin => "si", Khm => "km", Tuk => "tk", Aka => "ak", Zul => "zu", Sna => "sn",
        Afr => "af", Lat => "la", Slk => "sk", Cat => "ca", Tgl => "tl", Hye => "hy", Cym => "cy",
    }
}

/// Every code [`identify`] can return: the ISO 639-1 codes of whatlang's 70 languages and
/// [`UNDETERMINED`].
pub fn known_codes() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = whatlang::Lang::all().iter().map(|l| iso639_1(*l)).collect();
    v.push(UNDETERMINED);
    v.sort_unstable();
    v.dedup();
    v
}

/// Parses a `--languages` list (`en,zh`): comma-separated codes, trimmed, lowercased, each one
/// [`identify`] can return. An empty list is an error (it would keep nothing).
///
/// Errors: the unknown code and the known ones, as a message.
pub fn parse_languages(list: &str) -> Result<Vec<String>, String> {
    let known = known_codes();
    let mut out = Vec::new();
    for code in list.split(',').map(|c| c.trim().to_ascii_lowercase()).filter(|c| !c.is_empty()) {
        if !known.contains(&code.as_str()) {
            return Err(format!("unknown language code {code:?}: use ISO 639-1 codes such as en, zh, ja, ko, fr, de, or {UNDETERMINED} (pages with too little prose); known: {}", known.join(",")));
        }
        if !out.contains(&code) {
            out.push(code);
        }
    }
    if out.is_empty() {
        return Err("an empty language list would keep no page: name at least one code, e.g. en,zh".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_english_chinese_japanese_korean_and_others() {
        assert_eq!(identify("The derivative of a polynomial is found term by term, and the result is again a polynomial."), "en");
        assert_eq!(identify("设函数在区间上连续，证明它在该区间上有界。这是数学分析中的基本定理。"), "zh");
        assert_eq!(identify("香港特別行政區政府今日公佈新的教育政策。"), "zh");
        assert_eq!(identify("この問題では、二次方程式の解の公式を使って答えを求めます。"), "ja");
        assert_eq!(identify("이 문제는 이차방정식의 근의 공식을 사용하여 답을 구합니다."), "ko");
        assert_eq!(identify("La dérivée d'un polynôme se calcule terme à terme, et le résultat est encore un polynôme."), "fr");
        assert_eq!(identify(""), UNDETERMINED);
        assert_eq!(identify("$x^2+1$ 42"), UNDETERMINED);
    }

    #[test]
    fn math_markup_does_not_outvote_chinese_prose() {
        // A Chinese solution whose formulas hold far more Latin letters than its prose has Han.
        let text = r"解：由 $\frac{\sin\alpha + \cos\alpha}{\sin\alpha - \cos\alpha} = \frac{\tan\alpha+1}{\tan\alpha-1}$ 得 \(\tan\alpha = 3\)，所以 $$\cos 2\alpha = \frac{1-\tan^2\alpha}{1+\tan^2\alpha} = -\frac{4}{5}$$ 故答案为负五分之四。";
        assert_eq!(identify(text), "zh");
        let s = Sample::of(text);
        assert_eq!(s.other_words, 0, "{:?}", s.prose);
        assert!(!s.prose.contains("frac") && !s.prose.contains("tan"));
    }

    #[test]
    fn language_lists_parse_and_unknown_codes_are_refused() {
        assert_eq!(parse_languages("en, ZH,en").unwrap(), ["en", "zh"]);
        assert_eq!(parse_languages("und").unwrap(), ["und"]);
        let e = parse_languages("en,xx").unwrap_err();
        assert!(e.contains("\"xx\"") && e.contains("zh"), "{e}");
        assert!(parse_languages(" , ").is_err());
        assert!(known_codes().contains(&"en") && known_codes().len() >= 70);
    }

    #[test]
    fn labelled_chinese_pages_read_as_chinese() {
        let Some(dir) = crate::testdata::shared_data_dir() else { return };
        let index = std::fs::read_to_string(dir.join("zh/html/INDEX.tsv")).unwrap();
        let (mut zh, mut total) = (0, 0);
        for line in index.lines().skip(1) {
            let file = line.split('\t').next().unwrap();
            let gz = std::fs::read(dir.join("zh/html").join(file)).unwrap();
            let mut html = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut html).unwrap();
            let Ok(page) = crate::extract::extract(&html, Some("text/html")) else { continue };
            total += 1;
            zh += (identify(&page.text) == "zh") as usize;
        }
        println!("{zh} of {total} labelled Chinese pages identified as zh");
        assert!(total >= 70, "{total} pages extracted");
        // Some pages are mostly English (Project Euler's originals beside the translation).
        assert!(zh as f64 >= 0.9 * total as f64, "{zh} of {total} Chinese pages identified as zh");
    }
}
