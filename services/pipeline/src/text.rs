//! Text normalisation shared by classifier training and scoring, and token counting.
//!
//! fastText (Joulin et al. 2017, as used by DeepSeekMath, arXiv 2402.03300 §2.1) splits its input
//! on ASCII whitespace and treats a newline as the end of an example, so one document must become
//! one line of space-separated tokens. [`normalize`] is that one transformation; training
//! ([`crate::classify::train`]) and scoring ([`crate::classify::Classifier::score`]) both call it,
//! so the two never drift apart.
//!
//! Token counts for budgets and histograms: [`TokenCounter`], whitespace-separated words of the
//! extracted text ([`count_tokens`]) unless a Hugging Face `tokenizer.json` is given.

/// Version of [`normalize`]'s output (with [`MAX_TOKENS`]), stored with every trained model
/// (the scoring sidecar, [`crate::classify::ScoringSidecar`]) and checked when a model is loaded.
///
/// A model learnt its vocabulary, n-grams and threshold on texts normalised one way; scoring
/// pages normalised another way gives scores its threshold does not fit. Bump this whenever
/// `normalize` returns a different string for any input (a rule, the token cap, a Unicode
/// table it relies on): models trained before the bump are then refused with a clear error
/// instead of being scored silently wrong. The test `normalization_version_pins_the_output`
/// fails when the output changes without a bump.
///
/// History: 1: the rules below, 4,096 tokens. 2: Chinese and Japanese runs segmented into words
/// ([`crate::segment`]); identical to 1 on text without Han or kana. A model's sidecar records
/// the version it was trained with and [`normalize_as`] still normalises the old way, so a model
/// trained at 1 scores as it was trained.
pub const NORMALIZATION_VERSION: u32 = 2;

/// The oldest [`NORMALIZATION_VERSION`] that [`normalize_as`] still reproduces.
pub const OLDEST_NORMALIZATION_VERSION: u32 = 1;

/// Most tokens [`normalize`] keeps from one document: the first 4,096 tokens after punctuation
/// splitting (about 2,500 English words, or the first 15-25 KB of a page's main text).
///
/// fastText's document vector is the mean of its token (and word n-gram) vectors, so the head of a
/// long page decides its class as well as the whole does, and the cap bounds scoring time per page
/// (O(tokens x word_ngrams x dim)) on pathological multi-megabyte pages.
pub const MAX_TOKENS: usize = 4096;

/// Normalises `text` into one line of space-separated tokens, capped at [`MAX_TOKENS`].
///
/// Rules, applied in one pass over the `char`s:
/// - lowercase (Unicode `to_lowercase`);
/// - any whitespace or control character (newline, tab, NBSP, NUL, ...) separates tokens; the
///   output uses single ASCII spaces only, with no leading or trailing space and no newline;
/// - a run of alphanumeric characters (Unicode letters and digits) is one token: `x2`, `2024`,
///   `équation`;
/// - a backslash followed by ASCII letters is one token, the LaTeX control word: `\frac`,
///   `\alpha`; a backslash followed by anything else is a token of its own;
/// - a run of Han or kana characters is cut into words by [`crate::segment::segment_run`] (jieba
///   for Chinese, character bigrams for Japanese), each word one token: `求函数的值` gives
///   `求 函数 的 值` (version 2; version 1 kept the run as one token);
/// - every other character (punctuation, operators, braces, `$`, `^`, `_`, symbols such as `≤`)
///   is a token of its own, so `x^2+1` gives `x ^ 2 + 1` and `\frac{a}{b}` gives
///   `\frac { a } { b }`. Splitting `_` also means no document can forge fastText's
///   `__label__` prefix.
///
/// Idempotent up to Unicode case-folding corner cases: `normalize(&normalize(s)) == normalize(s)`.
pub fn normalize(text: &str) -> String {
    normalize_as(text, NORMALIZATION_VERSION)
}

/// [`normalize`] as normalisation version `version` did it (see [`NORMALIZATION_VERSION`]'s
/// history): 1 without segmentation, 2 (and anything newer this build does not know, which
/// [`crate::classify::configure`] refuses before scoring) with it.
pub fn normalize_as(text: &str, version: u32) -> String {
    let segment = version >= 2;
    let mut out = String::with_capacity(text.len().min(MAX_TOKENS * 8));
    let mut tokens = 0usize;
    // True while `out` ends inside a token that the next character may extend.
    let mut in_word = false; // alphanumeric run
    let mut in_control = false; // `\letters` run
    let mut chars = text.char_indices().peekable();

    // Starts a new token in `out`; returns false when the cap is reached.
    fn start(out: &mut String, tokens: &mut usize) -> bool {
        if *tokens >= MAX_TOKENS {
            return false;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        *tokens += 1;
        true
    }

    while let Some((i, c)) = chars.next() {
        if segment && crate::segment::is_cjk(c) {
            in_word = false;
            in_control = false;
            let end = text[i..].char_indices().find(|(_, c)| !crate::segment::is_cjk(*c)).map_or(text.len(), |(j, _)| i + j);
            let mut capped = false;
            crate::segment::segment_run(&text[i..end], |w| {
                if !capped && start(&mut out, &mut tokens) {
                    out.push_str(w);
                } else {
                    capped = true;
                }
            });
            if capped {
                break;
            }
            while chars.peek().is_some_and(|(j, _)| *j < end) {
                chars.next();
            }
            continue;
        }
        if c.is_whitespace() || c.is_control() {
            in_word = false;
            in_control = false;
            continue;
        }
        if c.is_alphanumeric() {
            if in_control && c.is_ascii_alphabetic() {
                out.push(c.to_ascii_lowercase());
                continue;
            }
            in_control = false;
            if !in_word {
                if !start(&mut out, &mut tokens) {
                    break;
                }
                in_word = true;
            }
            out.extend(c.to_lowercase());
            continue;
        }
        in_word = false;
        in_control = false;
        if !start(&mut out, &mut tokens) {
            break;
        }
        out.push(c);
        if c == '\\' && chars.peek().is_some_and(|(_, n)| n.is_ascii_alphabetic()) {
            in_control = true;
        }
    }
    out
}

/// Number of words in `text`: the default token unit of token budgets and score histograms
/// ([`TokenCounter::Whitespace`]). Words are whitespace-separated (Unicode whitespace), and each
/// Chinese or Japanese run counts its segmented words ([`crate::segment`]), so a token budget
/// means about as much text in both languages: `共有3个苹果` is 5 words (共有 3 个 苹果 and the
/// digit between), where splitting on spaces alone would count 1.
pub fn count_tokens(text: &str) -> u64 {
    if !crate::segment::has_cjk(text) {
        return count_words(text);
    }
    let mut n = 0u64;
    crate::segment::split_cjk(text, |p| match p {
        crate::segment::Piece::Other(s) => n += count_words(s),
        crate::segment::Piece::Word(_) => n += 1,
    });
    n
}

/// Number of whitespace-separated words (Unicode whitespace), with no segmentation: the token
/// count of a text that is already [`normalize`]d (its tokens are space-separated).
pub fn count_words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// Splits a [`normalize`]d text into consecutive windows of at most `size` tokens (the last one
/// may be shorter), as slices of `normalized`. `size` 0 yields the whole text as one window; an
/// empty text yields nothing.
pub fn windows(normalized: &str, size: usize) -> impl Iterator<Item = &str> {
    let mut rest = normalized;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let cut = if size == 0 {
            None
        } else {
            rest.match_indices(' ').nth(size - 1).map(|(i, _)| i)
        };
        match cut {
            Some(i) => {
                let (w, r) = rest.split_at(i);
                rest = &r[1..];
                Some(w)
            }
            None => Some(std::mem::take(&mut rest)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_math_punctuation_and_keeps_control_words() {
        assert_eq!(normalize("x^2+1"), "x ^ 2 + 1");
        assert_eq!(normalize(r"\frac{a}{b}"), r"\frac { a } { b }");
        assert_eq!(
            normalize(r"$\Alpha_1\le \beta$"),
            r"$ \alpha _ 1 \le \beta $"
        );
        assert_eq!(normalize(r"a \\ b \{c\}"), r"a \ \ b \ { c \ }");
        assert_eq!(normalize("__label__math"), "_ _ label _ _ math");
    }

    #[test]
    fn collapses_whitespace_and_lowercases() {
        assert_eq!(
            normalize("  Hello,\n\n\tWorld!\u{a0}Ünïcode\r\n"),
            "hello , world ! ünïcode"
        );
        assert_eq!(normalize(""), "");
        assert_eq!(normalize(" \n\t "), "");
        assert!(!normalize("a\nb\rc\u{0}d").contains(['\n', '\r', '\0']));
    }

    #[test]
    fn idempotent_on_real_seed_text() {
        let Some(dir) = crate::testdata::shared_data_dir() else {
            return;
        };
        let raw =
            std::fs::read_to_string(dir.join("math/stackmathqa100k-shards32-127.jsonl")).unwrap();
        for line in raw.lines().take(200) {
            let once = normalize(line);
            assert_eq!(normalize(&once), once);
            assert!(count_tokens(&once) as usize <= MAX_TOKENS);
        }
        assert!(normalize(&raw).contains(r"\frac"));
    }

    #[test]
    fn windows_cover_every_token_once() {
        let n = normalize("a b c d e f g");
        assert_eq!(windows(&n, 3).collect::<Vec<_>>(), ["a b c", "d e f", "g"]);
        assert_eq!(windows(&n, 7).collect::<Vec<_>>(), ["a b c d e f g"]);
        assert_eq!(windows(&n, 0).collect::<Vec<_>>(), ["a b c d e f g"]);
        assert_eq!(windows("", 3).count(), 0);
    }

    /// A change detector, not a specification: the digest of `normalize` over inputs that
    /// exercise every rule and the cap. When it fails, the output changed: bump
    /// [`NORMALIZATION_VERSION`] (models trained before are then scored by the old rules) and
    /// update the digest. Version 1 must keep its digest: models trained at 1 rely on it.
    #[test]
    fn normalization_version_pins_the_output() {
        use sha2::{Digest, Sha256};
        let cap = "word, ".repeat(MAX_TOKENS);
        let inputs = [
            r"Let $\Alpha_1\le \beta$ and x^2+1 = \frac{a}{b}.",
            "  Hello,\n\n\tWorld!\u{a0}Ünïcode\r\n 2024 équation ≤ ∑",
            r"a \\ b \{c\} \1 __label__math",
            &cap,
        ];
        let digest = |version: u32, inputs: &[&str]| {
            let mut h = Sha256::new();
            for i in inputs {
                h.update(normalize_as(i, version).as_bytes());
                h.update(b"\n");
            }
            hex::encode(h.finalize())
        };
        assert_eq!(digest(1, &inputs), "ab9231f078134e90823e9fae0e425a8ec5c05a22cfc79c8c9356029534d1bf16");
        let chinese = ["已知函数$f(x)=x^2$，求f(3)的值。香港新聞", "ひらがなとカタカナの問題", &"数学".repeat(MAX_TOKENS)];
        let all: Vec<&str> = inputs.iter().chain(chinese.iter()).copied().collect();
        assert_eq!((NORMALIZATION_VERSION, digest(2, &all).as_str()), (2, "01ec82f2826aac526af4184bd2c698565c28eabf53316520e61093d4d757a52b"));
        assert_eq!(normalize(chinese[0]), "已知 函数 $ f ( x ) = x ^ 2 $ ， 求 f ( 3 ) 的 值 。 香港 新 聞");
        assert_eq!(normalize_as(chinese[0], 1), "已知函数 $ f ( x ) = x ^ 2 $ ， 求f ( 3 ) 的值 。 香港新聞");
        assert_eq!(count_tokens(&normalize(&chinese[2])) as usize, MAX_TOKENS, "the cap counts segmented words");
    }

    #[test]
    fn caps_tokens() {
        let long = "a+".repeat(MAX_TOKENS);
        let n = normalize(&long);
        assert_eq!(count_tokens(&n) as usize, MAX_TOKENS);
        assert_eq!(count_tokens("one two\nthree\u{a0}four"), 4);
    }
}

/// What a token is, for token budgets, histograms and corpus counts: whitespace-separated words
/// by default, or the tokens of a Hugging Face `tokenizer.json` (the tokenizer of the model the
/// corpus will train, so a token budget means what the trainer will see).
#[derive(Clone, Default)]
pub enum TokenCounter {
    /// [`count_tokens`]: whitespace-separated words.
    #[default]
    Whitespace,
    /// Tokens of a `tokenizers` tokenizer (special tokens not added).
    HuggingFace(std::sync::Arc<tokenizers::Tokenizer>),
}

impl std::fmt::Debug for TokenCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenCounter::Whitespace => f.write_str("Whitespace"),
            TokenCounter::HuggingFace(_) => f.write_str("HuggingFace(tokenizer.json)"),
        }
    }
}

/// A `tokenizer.json` that could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("loading tokenizer: {0}")]
pub struct TokenizerError(String);

impl TokenCounter {
    /// Loads a Hugging Face `tokenizer.json` from its bytes.
    pub fn from_tokenizer_json(bytes: &[u8]) -> Result<Self, TokenizerError> {
        let t = tokenizers::Tokenizer::from_bytes(bytes).map_err(|e| TokenizerError(e.to_string()))?;
        Ok(TokenCounter::HuggingFace(std::sync::Arc::new(t)))
    }

    /// Tokens in `text`. A text the tokenizer rejects counts as whitespace words (never fails).
    pub fn count(&self, text: &str) -> u64 {
        match self {
            TokenCounter::Whitespace => count_tokens(text),
            TokenCounter::HuggingFace(t) => match t.encode(text, false) {
                Ok(enc) => enc.len() as u64,
                Err(_) => count_tokens(text),
            },
        }
    }
}

#[cfg(test)]
mod token_counter_tests {
    use super::*;

    /// A real, minimal tokenizer.json: a word-level model behind the `Whitespace` pre-tokenizer
    /// (`\w+|[^\w\s]+`), written here so the test needs no download.
    const WORD_LEVEL: &str = r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],
        "normalizer":null,"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":null,
        "model":{"type":"WordLevel","vocab":{"[UNK]":0,"x":1,"+":2,"1":3},"unk_token":"[UNK]"}}"#;

    #[test]
    fn tokenizer_json_counts_its_own_tokens() {
        let hf = TokenCounter::from_tokenizer_json(WORD_LEVEL.as_bytes()).unwrap();
        assert_eq!(TokenCounter::Whitespace.count("x^2+1 is odd"), 3);
        // x ^ 2 + 1 is odd: the pre-tokenizer splits punctuation from words.
        assert_eq!(hf.count("x^2+1 is odd"), 7);
        assert!(TokenCounter::from_tokenizer_json(b"{not json").is_err());
    }
}
