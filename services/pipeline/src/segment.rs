//! Word segmentation of text written without spaces: Chinese and Japanese.
//!
//! Everything that counts words (fastText features in [`crate::text::normalize`], token counts in
//! [`crate::text::count_tokens`], decontamination n-grams, MinHash shingles) splits English on
//! spaces and punctuation. A Chinese sentence has neither between its words, so without this
//! module a whole Chinese paragraph would be one "word": no n-gram of a Chinese benchmark could
//! ever match, every Chinese page would be a handful of tokens, and fastText would see one
//! unknown token per sentence. The rules, applied to each maximal *CJK run* (consecutive
//! [`is_cjk`] characters):
//!
//! - a run with no kana is Chinese (Han characters only): split into words by `jieba-rs`
//!   (the jieba dictionary, about 350,000 words, maximum-probability path over the prefix
//!   dictionary, no HMM for unknown words: deterministic and dictionary-only);
//! - a run with kana is Japanese: overlapping character bigrams (`日本語` = `日本 本語`), the
//!   classic dictionary-free choice of CJK search engines (Lucene's CJKAnalyzer); a run of one
//!   character is that character. A Japanese morphological analyser (lindera with IPADIC) would
//!   add a 50 MB dictionary for a language the corpus does not select by default;
//! - Korean (Hangul) is written with spaces between words and needs nothing here.
//!
//! [`SEGMENTATION`] names these rules; a trained model's sidecar records it, so a model always
//! scores text cut as it was trained ([`crate::text::NORMALIZATION_VERSION`] 2).

use std::sync::OnceLock;

/// The name of the segmentation rules of this module, as recorded in a model's sidecar:
/// jieba-rs's default dictionary without HMM for Han runs, character bigrams for kana runs.
pub const SEGMENTATION: &str = "jieba-rs-0.8-dict/kana-bigrams";

/// True for a Han character (CJK Unified Ideographs, extensions A to H, compatibility
/// ideographs) or the iteration mark `々`/`〇`.
#[inline]
pub fn is_han(c: char) -> bool {
    matches!(c,
        '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{323AF}' | '\u{3005}' | '\u{3007}')
}

/// True for a Japanese kana character: hiragana, katakana (with the prolonged sound mark `ー`),
/// katakana phonetic extensions, half-width katakana.
#[inline]
pub fn is_kana(c: char) -> bool {
    matches!(c, '\u{3041}'..='\u{309F}' | '\u{30A0}'..='\u{30FF}' | '\u{31F0}'..='\u{31FF}' | '\u{FF66}'..='\u{FF9F}')
}

/// True for a character of a CJK run: [`is_han`] or [`is_kana`].
#[inline]
pub fn is_cjk(c: char) -> bool {
    // Every CJK character is at or above U+3005: one compare keeps Latin text on the fast path.
    c >= '\u{3005}' && (is_han(c) || is_kana(c))
}

/// True when `text` holds at least one [`is_cjk`] character. Scans bytes first: a text whose
/// bytes are all below 0xE3 (every UTF-8 sequence of a CJK character starts with 0xE3 to 0xF0)
/// has none.
pub fn has_cjk(text: &str) -> bool {
    // A branch-free maximum per 64-byte block vectorises; `any` over single bytes does not.
    let high = text.as_bytes().chunks(64).any(|block| block.iter().fold(0u8, |m, &b| m.max(b)) >= 0xE3);
    high && text.chars().any(is_cjk)
}

fn jieba() -> &'static jieba_rs::Jieba {
    static JIEBA: OnceLock<jieba_rs::Jieba> = OnceLock::new();
    // Loading the embedded dictionary takes about 0.2 s, once per process, on the first Han run.
    JIEBA.get_or_init(jieba_rs::Jieba::new)
}

/// Calls `word` with each word of `run`, a string of [`is_cjk`] characters only (as
/// [`split_cjk`] yields them), in order, by the module's rules. The words are slices of `run`.
pub fn segment_run<'a>(run: &'a str, mut word: impl FnMut(&'a str)) {
    if run.chars().any(is_kana) {
        let starts: Vec<usize> = run.char_indices().map(|(i, _)| i).chain([run.len()]).collect();
        if starts.len() <= 2 {
            word(run);
            return;
        }
        for w in starts.windows(3) {
            word(&run[w[0]..w[2]]);
        }
    } else {
        for w in jieba().cut(run, false) {
            word(w);
        }
    }
}

/// A piece of a text as [`split_cjk`] cuts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Text with no CJK character, as it stands (spaces and punctuation included).
    Other(&'a str),
    /// One word of a CJK run ([`segment_run`]).
    Word(&'a str),
}

/// Calls `piece` with the text between CJK runs ([`Piece::Other`], never empty) and the
/// segmented words of each CJK run ([`Piece::Word`]), in text order. A text with no CJK
/// character is one `Other` piece (the common, fast case: one byte scan).
pub fn split_cjk<'a>(text: &'a str, mut piece: impl FnMut(Piece<'a>)) {
    if !has_cjk(text) {
        if !text.is_empty() {
            piece(Piece::Other(text));
        }
        return;
    }
    let mut other_start = 0;
    let mut run_start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        match (is_cjk(c), run_start) {
            (true, None) => {
                if i > other_start {
                    piece(Piece::Other(&text[other_start..i]));
                }
                run_start = Some(i);
            }
            (false, Some(s)) => {
                segment_run(&text[s..i], |w| piece(Piece::Word(w)));
                run_start = None;
                other_start = i;
            }
            _ => {}
        }
    }
    match run_start {
        Some(s) => segment_run(&text[s..], |w| piece(Piece::Word(w))),
        None if other_start < text.len() => piece(Piece::Other(&text[other_start..])),
        None => {}
    }
}

/// `text` with a space between the words of every CJK run and around each run, everything else
/// unchanged: the form the word splitters of the decontamination index and of MinHash see.
/// A text with no CJK character is returned as it is, without a copy.
pub fn spaced(text: &str) -> std::borrow::Cow<'_, str> {
    if !has_cjk(text) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + text.len() / 3);
    split_cjk(text, |p| match p {
        Piece::Other(s) => out.push_str(s),
        Piece::Word(w) => {
            out.push(' ');
            out.push_str(w);
            out.push(' ');
        }
    });
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        let mut v = Vec::new();
        split_cjk(text, |p| match p {
            Piece::Other(s) => v.extend(s.split_whitespace().map(|w| format!("<{w}>"))),
            Piece::Word(w) => v.push(w.to_string()),
        });
        v
    }

    #[test]
    fn chinese_is_cut_into_dictionary_words_and_latin_left_alone() {
        assert_eq!(words("我们学习数学"), ["我们", "学习", "数学"]);
        // Pieces cover the text exactly, in order; Latin text between runs is one piece.
        let text = "解方程 x+1=2，得x=1。";
        let mut pieces = Vec::new();
        split_cjk(text, |p| pieces.push(p));
        let joined: String = pieces.iter().map(|p| match p { Piece::Other(s) | Piece::Word(s) => *s }).collect();
        assert_eq!(joined, text);
        assert!(pieces.contains(&Piece::Other(" x+1=2，")) && pieces.contains(&Piece::Other("x=1。")));
        assert_eq!(words("The answer is 42."), ["<The>", "<answer>", "<is>", "<42.>"]);
        // Traditional characters are Han too.
        assert!(words("香港新聞報道").len() >= 2);
        assert!(words("").is_empty());
    }

    #[test]
    fn kana_runs_are_character_bigrams_and_hangul_is_not_cjk() {
        assert_eq!(words("ひらがな"), ["ひら", "らが", "がな"]);
        assert_eq!(words("の"), ["の"]);
        assert_eq!(words("한국어 문장"), ["<한국어>", "<문장>"]);
        assert!(!has_cjk("plain ASCII, café, Ελληνικά"));
        assert!(has_cjk("数") && has_cjk("カ") && !has_cjk("。，"));
    }

    #[test]
    fn spaced_inserts_spaces_only_around_cjk_words() {
        assert_eq!(spaced("x^2 + 1"), "x^2 + 1");
        assert!(matches!(spaced("no cjk"), std::borrow::Cow::Borrowed(_)));
        let s = spaced("求x的值");
        assert_eq!(s.split_whitespace().collect::<Vec<_>>(), ["求", "x", "的", "值"]);
    }

    #[test]
    fn real_chinese_news_segments_into_short_words() {
        let Some(dir) = crate::testdata::shared_data_dir() else { return };
        let text = std::fs::read_to_string(dir.join("zh/negatives/sighan2005-pku-test.utf8")).unwrap();
        let para: String = text.lines().take(50).collect();
        let (mut words, mut chars) = (0usize, 0usize);
        split_cjk(&para, |p| {
            if let Piece::Word(w) = p {
                words += 1;
                chars += w.chars().count();
            }
        });
        let mean = chars as f64 / words as f64;
        // Chinese words average about 1.5 characters (SIGHAN's gold segmentation of this text).
        assert!((1.2..2.2).contains(&mean), "mean word length {mean:.2} chars over {words} words");
    }
}
